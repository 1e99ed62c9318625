//! The audit page: filtered by user, event and date, newest first; its CSV
//! export, safe to open in a spreadsheet (SECURITY A3).

use jiff::ToSpan;

use super::*;
use crate::helpers::*;

/// carol locked by three wrong passwords and unlocked by boss; dave signed in.
async fn history() -> (TestApp, reqwest::Client) {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.add_user("dave", PASSWORD).await;
    lock_out(&app, "carol").await;
    let res = act(&boss, &app, "carol", &[("action", "unlock")]).await;
    assert_done(&res, "/admin/accounts/carol?done=unlocked");
    signed_in(&app, "dave", PASSWORD).await;
    (app, boss)
}

/// The rows of the audit page for `query`: (event, user, address, actor).
async fn shown(client: &reqwest::Client, app: &TestApp, query: &str) -> Vec<[String; 4]> {
    let (status, body) = page(client, app, &format!("/admin/audit?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    table(&body, "events")
        .into_iter()
        .map(|r| [r[1].clone(), r[2].clone(), r[3].clone(), r[4].clone()])
        .collect()
}

/// The UTC day of the server's clock, `by` days from now.
fn utc_day(by: i64) -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(by.days())
        .unwrap()
        .to_string()
}

/// By user: only that account's events, newest first, the console's action with its actor.
#[tokio::test]
async fn audit_filters_by_user() {
    let (app, boss) = history().await;

    let rows = shown(&boss, &app, "user=CAROL").await;

    assert!(rows.iter().all(|r| r[1] == "carol"), "{rows:?}");
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names[0], "account_unlocked", "newest first: {names:?}");
    assert!(names.contains(&"account_locked") && names.contains(&"login_failed"));
    assert_eq!(rows[0][2], LOOPBACK);
    assert_eq!(rows[0][3], "web:boss");
    let rows = shown(&boss, &app, "user=dave").await;
    assert!(rows.iter().any(|r| r[0] == "login_succeeded"), "{rows:?}");
    assert!(rows.iter().all(|r| r[1] == "dave"));
}

/// By event, alone or with the user.
#[tokio::test]
async fn audit_filters_by_event() {
    let (app, boss) = history().await;

    let failed = shown(&boss, &app, "user=carol&event=login_failed").await;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|r| r[0] == "login_failed" && r[1] == "carol")
    );
    let unlocked = shown(&boss, &app, "event=account_unlocked").await;
    assert_eq!(
        unlocked,
        [[
            "account_unlocked".to_owned(),
            "carol".to_owned(),
            LOOPBACK.to_owned(),
            "web:boss".to_owned()
        ]]
    );
    let signed_in = shown(&boss, &app, "event=login_succeeded").await;
    let users: Vec<&str> = signed_in.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(users, ["dave", "boss"], "newest first");
    assert!(
        shown(&boss, &app, "user=dave&event=login_failed")
            .await
            .is_empty()
    );

    let (status, body) = page(&boss, &app, "/admin/audit?event=no_such_event").await;
    assert_eq!(status, 422);
    assert!(body.contains("Unknown event"), "{body}");
}

/// By date (UTC days, both ends included); a date that is not one is 422.
#[tokio::test]
async fn audit_filters_by_date() {
    let (app, boss) = history().await;
    let (today, tomorrow, yesterday) = (utc_day(0), utc_day(1), utc_day(-1));
    let all = shown(&boss, &app, "").await.len();

    assert_eq!(
        shown(&boss, &app, &format!("since={today}&until={today}"))
            .await
            .len(),
        all
    );
    assert_eq!(
        shown(&boss, &app, &format!("since={yesterday}"))
            .await
            .len(),
        all
    );
    assert!(
        shown(&boss, &app, &format!("since={tomorrow}"))
            .await
            .is_empty()
    );
    assert!(
        shown(&boss, &app, &format!("until={yesterday}"))
            .await
            .is_empty()
    );
    let (_, body) = page(&boss, &app, &format!("/admin/audit?since={tomorrow}")).await;
    assert!(body.contains("No event matches."));
    for bad in [
        "since=yesterday",
        "until=2025-02-30",
        "since=01%2F02%2F2025",
    ] {
        assert_eq!(
            page(&boss, &app, &format!("/admin/audit?{bad}")).await.0,
            422,
            "{bad}"
        );
    }
}

/// The CSV export holds what the page shows for the same filters, as a download.
#[tokio::test]
async fn audit_csv_follows_the_filters() {
    let (app, boss) = history().await;

    let res = get(
        &boss,
        &app,
        "/admin/audit.csv?user=carol&event=login_failed",
    )
    .await;

    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let rows = csv_rows(&res.text().await.unwrap());
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(
            (r["event"].as_str(), r["user"].as_str()),
            ("login_failed", "carol")
        );
        assert_eq!(r["ip"], LOOPBACK);
    }
    let (_, unlocked) = page(&boss, &app, "/admin/audit.csv?event=account_unlocked").await;
    let rows = csv_rows(&unlocked);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["actor"], "web:boss");
    assert_eq!(
        page(&boss, &app, "/admin/audit.csv?since=soon").await.0,
        400
    );
}

/// A3: user names and details that start like a formula are written with a
/// leading apostrophe in audit.csv.
#[tokio::test]
async fn a3_audit_csv_is_formula_safe() {
    let (app, boss) = boss_console().await;
    let evil = described(
        "@SUM",
        "sum@example.org",
        "=HYPERLINK(\"http://evil.example/\",\"open\")",
        Some("=1+1"),
    );
    add_account(&app, evil).await;
    add_account(&app, new_user("-minus", None)).await;
    for name in ["@SUM", "-minus", "=cmd"] {
        login(&app.client(), &app, name, "Wrong-Guess-000").await;
    }

    let (status, text) = page(&boss, &app, "/admin/audit.csv").await;

    assert_eq!(status, 200);
    assert_formula_safe(&text);
    let rows = csv_rows(&text);
    let users: Vec<&str> = rows.iter().map(|r| r["user"].as_str()).collect();
    assert!(users.contains(&"'@SUM"), "{users:?}");
    assert!(users.contains(&"'-minus"), "{users:?}");
    let (_, filtered) = page(&boss, &app, "/admin/audit.csv?user=%40sum").await;
    assert_formula_safe(&filtered);
    assert!(
        csv_rows(&filtered).iter().all(|r| r["user"] == "'@SUM"),
        "{filtered}"
    );
    assert!(!csv_rows(&filtered).is_empty());
}

/// Pages of 100, newest first: the "older" link shows the rest, none twice.
#[tokio::test]
async fn audit_pages_of_a_hundred() {
    let (app, boss) = boss_console().await;
    for i in 0..110 {
        add_account(&app, new_user(&format!("user{i:03}"), None)).await;
    }

    let (_, first) = page(&boss, &app, "/admin/audit?event=user_created").await;

    let one: Vec<String> = table(&first, "events")
        .iter()
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(one.len(), 100);
    assert_eq!(one[0], "user109", "newest first");
    let plain = unescape(&first);
    let at = plain.find("before=").expect("a link to older events") + "before=".len();
    let before: String = plain[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let (_, second) = page(
        &boss,
        &app,
        &format!("/admin/audit?event=user_created&before={before}"),
    )
    .await;
    let two: Vec<String> = table(&second, "events")
        .iter()
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(two.len(), 11, "user000..user009 and boss: {two:?}");
    assert_eq!(two.last().map(String::as_str), Some("boss"));
    assert!(!unescape(&second).contains("before="), "no older page");
    let mut all: Vec<String> = one.into_iter().chain(two).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 111, "every event once");
}
