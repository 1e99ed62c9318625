//! The account list: search by user name, name, email or agency; the
//! filters locked, disabled, expiring and inactive; pages of 50.

use std::time::Duration;

use latchkey::control::protocol::Request;
use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// The user names `GET /admin/accounts?{query}` lists, in order.
async fn found(client: &reqwest::Client, app: &TestApp, query: &str) -> Vec<String> {
    let (status, body) = page(client, app, &format!("/admin/accounts?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    listed(&body)
}

/// carol, dave and erin, each findable by a different field.
async fn three_accounts(app: &TestApp) {
    let people = [
        (
            "carol",
            "carol@shelter.example",
            "Carol Smith",
            Some("Food Shelf"),
        ),
        (
            "dave",
            "dave@example.org",
            "Dave Jones",
            Some("River House"),
        ),
        ("erin", "erin@example.org", "Erin Smith", None),
    ];
    for (username, email, name, agency) in people {
        add_account(app, described(username, email, name, agency)).await;
    }
}

/// The search matches part of the user name, name, email or agency, in any case.
#[tokio::test]
async fn search_matches_name_email_and_agency_in_any_case() {
    let (app, boss) = boss_console().await;
    three_accounts(&app).await;

    let cases: [(&str, &[&str]); 8] = [
        ("CAR", &["carol"]),
        ("smith", &["carol", "erin"]),
        ("dave%20JONES", &["dave"]),
        ("SHELTER.example", &["carol"]),
        ("%40example.org", &["boss", "dave", "erin"]),
        ("food%20shelf", &["carol"]),
        ("river", &["dave"]),
        ("%20%20erin%20", &["erin"]),
    ];
    for (q, expected) in cases {
        assert_eq!(
            found(&boss, &app, &format!("q={q}")).await,
            *expected,
            "q={q}"
        );
    }

    let (_, none) = page(&boss, &app, "/admin/accounts?q=zzz").await;
    assert!(listed(&none).is_empty());
    assert!(none.contains("0 accounts."), "{none}");
    let (_, all) = page(&boss, &app, "/admin/accounts").await;
    assert_eq!(listed(&all), ["boss", "carol", "dave", "erin"]);
    assert!(all.contains("4 accounts."));
}

/// Each filter keeps only its accounts, and combines with the search.
#[tokio::test]
async fn filters_locked_disabled_and_expiring() {
    let (app, boss) = boss_console().await;
    three_accounts(&app).await;
    app.add_user("frank", PASSWORD).await;
    lock_out(&app, "frank").await;
    app.admin(Request::UserDisable {
        username: "dave".into(),
    })
    .await
    .unwrap();
    set_license(&app, "carol", &day(10).to_string()).await;
    set_license(&app, "erin", &day(45).to_string()).await;
    set_license(&app, "boss", "never").await;

    assert_eq!(found(&boss, &app, "filter=locked").await, ["frank"]);
    assert_eq!(found(&boss, &app, "filter=disabled").await, ["dave"]);
    assert_eq!(found(&boss, &app, "filter=expiring").await, ["carol"]);
    assert_eq!(
        found(&boss, &app, "filter=expiring&q=erin").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&boss, &app, "filter=disabled&q=RIVER").await,
        ["dave"]
    );
    assert_eq!(
        found(&boss, &app, "filter=inactive").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&boss, &app, "filter=bogus").await.len(),
        5,
        "no filter"
    );

    let (_, page_) = page(&boss, &app, "/admin/accounts?filter=expiring").await;
    let rows = table(&page_, "accounts");
    assert!(rows[0][3].contains("license ends in 10 d"), "{rows:?}");
    let (_, locked) = page(&boss, &app, "/admin/accounts?filter=locked").await;
    assert!(table(&locked, "accounts")[0][3].contains("locked"));
    assert!(
        locked.contains("value=\"locked\" selected"),
        "the filter stays chosen"
    );
}

/// Inactive: no sign-in for 30 days (a new account counts from its creation).
#[tokio::test]
async fn filter_inactive_lists_who_has_not_signed_in_for_30_days() {
    let app = spawn_app().await;
    staff(&app, "boss", Role::Admin).await;
    app.add_user("dormant", PASSWORD).await;
    app.add_user("recent", PASSWORD).await;
    add_account(&app, new_user("never", None)).await;

    app.advance(Duration::from_secs(31 * 24 * 3600));
    // Every session ended long ago (12 h at most): sign in afresh.
    let (boss, _) = signed_in(&app, "boss", PASSWORD).await;
    signed_in(&app, "recent", PASSWORD).await;

    assert_eq!(
        found(&boss, &app, "filter=inactive").await,
        ["dormant", "never"]
    );
    let (_, body) = page(&boss, &app, "/admin/accounts?filter=inactive").await;
    assert!(table(&body, "accounts")[0][3].contains("inactive"));
}

/// More than 50 accounts: 50 on the first page, the rest on the second, none twice.
#[tokio::test]
async fn pages_of_fifty() {
    let (app, boss) = boss_console().await;
    for i in 0..60 {
        add_account(&app, new_user(&format!("user{i:02}"), None)).await;
    }

    let (_, first) = page(&boss, &app, "/admin/accounts").await;
    let (_, second) = page(&boss, &app, "/admin/accounts?page=2").await;

    assert!(first.contains("61 accounts."), "{first}");
    let one = listed(&first);
    let two = listed(&second);
    assert_eq!(one.len(), 50);
    assert_eq!(two.len(), 11);
    assert!(first.contains("Page 1 of 2") && second.contains("Page 2 of 2"));
    assert!(
        unescape(&first).contains("page=2\" rel=\"next\""),
        "a link to page 2"
    );
    let mut all: Vec<String> = one.into_iter().chain(two).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 61, "every account once");
    assert!(listed(&page(&boss, &app, "/admin/accounts?page=3").await.1).is_empty());

    let (_, filtered) = page(&boss, &app, "/admin/accounts?q=user5").await;
    assert_eq!(listed(&filtered).len(), 10, "user50..user59");
    assert!(!filtered.contains("Page 1 of"), "one page: no pager");
}
