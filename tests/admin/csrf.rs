//! Every console action is a POST with its page's CSRF token (SECURITY C1, A2):
//! without it, with another browser's, or from another site it is 403,
//! audited as `csrf_rejected`, and nothing changes.

use super::*;
use crate::helpers::*;

/// The console's POST routes, each with the fields of a real action.
const ACTIONS: [(&str, &[(&str, &str)]); 5] = [
    ("/admin/accounts/carol", &[("action", "disable")]),
    (
        "/admin/add",
        &[("username", "erin"), ("email", "erin@example.org")],
    ),
    (
        "/admin/licenses",
        &[("agency", "Food Shelf"), ("years", "1")],
    ),
    (
        "/admin/apps",
        &[
            ("action", "add"),
            ("app", "Files"),
            ("redirect_uris", "https://files.example.org/cb"),
        ],
    ),
    ("/admin/mail", &[]),
];

/// A console with `carol` (agency Food Shelf) to act on.
async fn console_with_carol() -> (TestApp, reqwest::Client) {
    let (app, boss) = boss_console().await;
    let mut carol = new_user("carol", None);
    carol.agency = Some("Food Shelf".into());
    add_account(&app, carol).await;
    (app, boss)
}

/// Nothing any of [`ACTIONS`] would do has happened.
async fn assert_nothing_done(app: &TestApp, carol_before: &latchkey::control::protocol::UserView) {
    assert_eq!(&app.show_user("carol").await, carol_before);
    assert!(!exists(app, "erin").await);
    assert!(app_names(app).await.is_empty());
    for event in [
        "user_disabled",
        "license_changed",
        "mail_retried",
        "app_created",
    ] {
        assert!(events(app, event, None).await.is_empty(), "{event}");
    }
}

/// C1/A2: a console POST without a token is 403, audited, and changes nothing.
#[tokio::test]
async fn c1_a_console_post_without_a_token_is_403_and_audited() {
    let (app, boss) = console_with_carol().await;
    let before = app.show_user("carol").await;

    for (path, fields) in ACTIONS {
        let res = boss.post(app.url(path)).form(fields).send().await.unwrap();

        assert_eq!(res.status(), 403, "POST {path}");
        let refused = events(&app, "csrf_rejected", None).await;
        let last = refused.last().expect("csrf_rejected audited");
        assert_eq!(last.ip.as_deref(), Some(LOOPBACK));
        let detail = last.detail.as_deref().unwrap_or("");
        assert!(detail.contains(path), "{detail}");
    }

    assert_eq!(
        events(&app, "csrf_rejected", None).await.len(),
        ACTIONS.len()
    );
    assert_nothing_done(&app, &before).await;
}

/// C1: the CSV upload is checked the same way.
#[tokio::test]
async fn c1_a_csv_upload_without_a_token_is_403_and_audited() {
    let (app, boss) = boss_console().await;
    let csv = "username,email\nerin,erin@example.org\n";

    let res = upload_raw(&boss, &app, &[("send_invites", "on")], Some(csv)).await;

    assert_eq!(res.status(), 403);
    let refused = events(&app, "csrf_rejected", None).await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(
        refused[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("/admin/import")
    );
    assert!(!exists(&app, "erin").await);
}

/// C1: a token from another browser, or a made-up one, is 403 too.
#[tokio::test]
async fn c1_a_wrong_token_is_403() {
    let (app, boss) = console_with_carol().await;
    let before = app.show_user("carol").await;
    let other = app.client();
    let foreign = page_token(&other, &app, "/login").await;

    for token in [foreign.as_str(), "forged-token", ""] {
        for (path, fields) in ACTIONS {
            let res = post_with_token(&boss, &app.url(path), fields, token).await;

            assert_eq!(res.status(), 403, "POST {path} with {token:?}");
        }
    }

    assert_eq!(
        events(&app, "csrf_rejected", None).await.len(),
        3 * ACTIONS.len()
    );
    assert_nothing_done(&app, &before).await;
}

/// C1: a POST another site makes the browser send (its own token and all) is refused.
#[tokio::test]
async fn c1_a_cross_site_console_post_is_403() {
    let (app, boss) = console_with_carol().await;
    let before = app.show_user("carol").await;
    let token = page_token(&boss, &app, "/admin/accounts/carol").await;
    let url = app.url("/admin/accounts/carol");
    let form = [("action", "disable"), ("csrf_token", token.as_str())];

    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = boss
            .post(&url)
            .header(header, value)
            .form(&form)
            .send()
            .await
            .unwrap();

        assert_eq!(res.status(), 403, "{header}: {value}");
    }

    assert_nothing_done(&app, &before).await;
    assert_eq!(events(&app, "csrf_rejected", None).await.len(), 2);
    let res = boss.post(&url).form(&form).send().await.unwrap();
    assert_done(&res, "/admin/accounts/carol?done=disabled");
}

/// C1: GET never acts, whatever its query says.
#[tokio::test]
async fn c1_a_get_with_an_action_in_its_query_changes_nothing() {
    let (app, boss) = console_with_carol().await;
    let before = app.show_user("carol").await;

    for path in [
        "/admin/accounts/carol?action=disable",
        "/admin/accounts/carol?action=delete&confirm=carol",
        "/admin/licenses?agency=Food%20Shelf&years=1",
        "/admin/mail?id=1",
    ] {
        assert_eq!(page(&boss, &app, path).await.0, 200, "{path}");
    }

    assert_nothing_done(&app, &before).await;
}
