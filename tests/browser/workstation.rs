//! Shared-workstation care: the idle warning, the server-side end of an idle
//! session, and no personal page coming back from the back/forward cache.

use std::time::Duration;

use latchkey::config::Dur;
use serde_json::json;

use super::*;
use crate::browser::webdriver::{Browser, Options};

/// GET `path` with only the given session cookie; returns (status, Location).
async fn get_with_cookie(app: &TestApp, path: &str, session: &str) -> (u16, String) {
    let res = app
        .client()
        .get(app.url(path))
        .header("cookie", format!("latchkey_session={session}"))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        crate::helpers::location(&res).to_owned(),
    )
}

const WARNING_VISIBLE: &str = "const w = document.querySelector('.idle-warning[role=alert]'); \
     return !!w && w.getBoundingClientRect().height > 0;";

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn the_idle_timeout_warns_first_and_the_session_ends_on_the_server() {
    let (app, _sink) = site(|c| c.session.idle_timeout = Dur::secs(3)).await;
    let b = Browser::launch(Options::default()).await;
    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/").await;
    let body = b.find("body").await;
    assert_eq!(
        b.attr(&body, "data-idle-timeout").await.as_deref(),
        Some("3")
    );
    let session = b.session_cookie().await.expect("a session cookie");

    // The warning comes before the end, as an alert with a button.
    b.wait_until(
        "the idle warning",
        WARNING_VISIBLE,
        Duration::from_millis(2900),
    )
    .await;
    assert_eq!(b.path().await, "/", "still on the page when warned");
    let warning = b.find(".idle-warning").await;
    let text = b.text(&warning).await;
    assert!(text.contains("signed out"), "{text}");
    let stay = b.find(".idle-warning button").await;
    assert_eq!(b.text(&stay).await, "Stay signed in");

    // Staying refreshes the session in the background and hides the warning.
    b.click(&stay).await;
    b.wait_until(
        "the warning to go away",
        "return !document.querySelector('.idle-warning');",
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(b.path().await, "/");

    // Then, left alone: warned again, and sent to the login page at the end.
    b.wait_until(
        "the second warning",
        WARNING_VISIBLE,
        Duration::from_secs(3),
    )
    .await;
    b.wait_until(
        "the login page after the timeout",
        "return location.pathname === '/login' && document.readyState === 'complete';",
        Duration::from_secs(6),
    )
    .await;
    assert_page_says(&b, "Sign in").await;

    // The server ended the session itself: the old cookie no longer works.
    assert_eq!(
        get_with_cookie(&app, "/", &session).await,
        (303, "/login".into())
    );
}

/// Signs in, opens the profile, signs out, goes back: the personal page must not return.
async fn back_after_sign_out(options: Options) {
    let (app, _sink) = site(|_| {}).await;
    let b = Browser::launch(options).await;
    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/").await;
    b.goto(&app.url("/profile")).await;
    assert_page_says(&b, USER_EMAIL).await;

    sign_out(&b).await;
    assert_page_says(&b, "Sign in").await;
    b.js("history.back(); return true;", vec![]).await;
    // Give a restore from the cache the time to show up.
    tokio::time::sleep(Duration::from_millis(800)).await;
    b.wait_for_path("/login").await;
    let text = b.body_text().await;
    assert!(!text.contains("User Profile"), "{text}");
    assert!(!text.contains(USER_EMAIL), "{text}");
    assert!(!text.contains(USER_NAME), "{text}");
    // The page was requested again, not restored.
    let nav = b
        .js(
            "const n = performance.getEntriesByType('navigation')[0]; return n ? n.type : '';",
            vec![],
        )
        .await;
    assert_ne!(nav, json!("back_forward_cache"), "{nav}");
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn after_sign_out_back_does_not_show_the_personal_page() {
    back_after_sign_out(Options::default()).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn after_sign_out_back_does_not_show_the_personal_page_without_script() {
    back_after_sign_out(Options::no_script()).await;
}
