//! Forward-auth in the real Chromium (issue 15): a guarded app behind the
//! README's Caddy configuration, reached by a person who is not signed in.

use std::time::Duration;

use super::webdriver::{Browser, Options};
use super::{fill, press_button};
use crate::forward_auth::proxies::{AUTH, Proxy, REPORTS, Site};
use crate::forward_auth::{guard, member};
use crate::helpers::PASSWORD;

/// Not signed in → latchkey's sign-in page (on the sign-in host) → signed
/// in → back at the page asked for, where the app names the user; the app
/// never sees the session cookie (F3); a lock ends access on the next
/// load (S4).
#[tokio::test]
#[ignore = "needs Chromium and Caddy (.ci/run installs them)"]
async fn a_guarded_app_sends_the_browser_to_sign_in_and_back() {
    let site = Site::start(Proxy::Caddy).await;
    guard(&site.app, "Reports", &[&site.host(REPORTS)], &["reporting"]).await;
    member(&site.app, "alice", &["reporting"]).await;
    let b = Browser::launch(Options::default()).await;
    let wanted = site.url(REPORTS, "/daily?team=intake");

    b.goto(&wanted).await;
    let at = b.current_url().await;
    assert_eq!(at.host_str(), Some(AUTH), "sent to the sign-in host: {at}");
    assert_eq!(at.path(), "/login");
    fill(&b, "#username", "alice").await;
    fill(&b, "#password", PASSWORD).await;
    press_button(&b, "form[action='/login'] button[type=submit]").await;

    assert_eq!(b.current_url().await.as_str(), wanted);
    let seen = b.body_text().await;
    assert!(seen.contains("uri: /daily?team=intake"), "{seen}");
    assert!(seen.contains("remote-user: alice"), "{seen}");
    assert!(seen.contains("remote-groups: reporting"), "{seen}");
    assert!(
        !seen.contains("latchkey_session"),
        "the app saw the session cookie: {seen}"
    );

    // Three wrong passwords elsewhere lock the account: the next load of the
    // app goes to the sign-in page, which says why.
    for _ in 0..3 {
        crate::helpers::login_at(
            &crate::helpers::browser(),
            &site.app.base,
            "alice",
            "Wrong-Pass-1",
        )
        .await;
    }
    b.goto(&wanted).await;
    b.wait_until(
        "the sign-in page",
        "return location.pathname === '/login' && document.readyState === 'complete';",
        Duration::from_secs(20),
    )
    .await;
    let text = b.body_text().await;
    assert!(text.contains("locked"), "{text}");
}
