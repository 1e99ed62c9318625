//! Browser tests: a real headless Chromium, driven over WebDriver by its own
//! chromedriver, against the real server on 127.0.0.1 with a real SMTP sink.
//!
//! Every test is ignored by default so that `cargo test` passes on a machine
//! without Chromium; run them with `cargo test --test suite -- --ignored browser::`
//! (docs/browser-tests.md). Once asked to run, a test fails when Chromium,
//! chromedriver or axe-core (`AXE_CORE_JS`) is missing.

mod webdriver;

mod accessibility;
mod console;
mod forward_auth;
mod journeys;
mod no_script;
mod pages;
mod workstation;

use std::time::{Duration, Instant};

use latchkey::config::Config;
use latchkey::control::protocol::{Request, UserChanges};

use crate::helpers::{PASSWORD, SmtpSink, TestApp};
use webdriver::{Browser, Element};

/// The user most journeys sign in as.
const USER: &str = "alice";
const USER_NAME: &str = "Alice Example";
const USER_EMAIL: &str = "alice@example.org";
/// A password that meets the default policy and differs from [`PASSWORD`].
const NEW_PASSWORD: &str = "Harbour-Green-73q";
const HELPDESK_EMAIL: &str = "helpdesk@agency.example";

/// A server with a real SMTP sink and the account `alice`.
async fn site(adjust: impl FnOnce(&mut Config)) -> (TestApp, SmtpSink) {
    let (app, sink) = crate::helpers::spawn_with_smtp(|c| {
        c.organization.name = "Harbour Agency".into();
        c.helpdesk.email = HELPDESK_EMAIL.into();
        c.helpdesk.phone = Some("+44 20 7946 0000".into());
        adjust(c);
    })
    .await;
    add_user(&app, USER, USER_NAME).await;
    (app, sink)
}

/// Adds an account with [`PASSWORD`] and a display name.
async fn add_user(app: &TestApp, username: &str, name: &str) {
    app.add_user(username, PASSWORD).await;
    app.admin(Request::UserSet {
        username: username.into(),
        changes: UserChanges {
            name: Some(name.into()),
            ..UserChanges::default()
        },
    })
    .await
    .expect("name set");
}

/// Clicks `el` and waits until the page it leads to has loaded.
async fn click_and_load(b: &Browser, el: &Element) {
    b.js("window.__latchkeyOldPage = true; return true;", vec![])
        .await;
    b.click(el).await;
    wait_for_new_page(b).await;
}

/// Presses Enter on whatever has the focus and waits for the next page.
async fn enter_and_load(b: &Browser) {
    b.js("window.__latchkeyOldPage = true; return true;", vec![])
        .await;
    b.press(&[webdriver::ENTER]).await;
    wait_for_new_page(b).await;
}

async fn wait_for_new_page(b: &Browser) {
    b.wait_until(
        "the next page to load",
        "return !window.__latchkeyOldPage && document.readyState === 'complete';",
        Duration::from_secs(20),
    )
    .await;
}

/// Types into the field `css` after clearing it.
async fn fill(b: &Browser, css: &str, text: &str) {
    let el = b.find(css).await;
    b.clear(&el).await;
    b.type_into(&el, text).await;
}

/// Submits the form that `button_css` belongs to by clicking that button.
async fn press_button(b: &Browser, button_css: &str) {
    let button = b.find(button_css).await;
    click_and_load(b, &button).await;
}

/// Signs in through the login page, as a person would.
async fn sign_in(b: &Browser, app: &TestApp, username: &str, password: &str) {
    b.goto(&app.url("/login")).await;
    fill(b, "#username", username).await;
    fill(b, "#password", password).await;
    press_button(b, "form[action='/login'] button[type=submit]").await;
}

/// Signs out with the header's Sign out button.
async fn sign_out(b: &Browser) {
    press_button(b, "form.signout button[type=submit]").await;
    b.wait_for_path("/login").await;
}

/// The path (`/reset/...`) of the `nth` (0-based) mailed link to `path` sent to `to`.
async fn mailed_path(sink: &SmtpSink, to: &str, path: &str, nth: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let links: Vec<String> = sink.to(to).iter().filter_map(|m| m.link(path)).collect();
        if let Some(link) = links.get(nth) {
            let at = link.find(path).expect("the link has the path");
            return link[at..].to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no mail #{nth} with a {path} link to {to}; mail so far: {:#?}",
            sink.messages()
                .iter()
                .map(|m| (m.to.clone(), m.header("Subject")))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that the visible page text contains `needle`.
async fn assert_page_says(b: &Browser, needle: &str) {
    let text = b.body_text().await;
    assert!(
        text.contains(needle),
        "expected {needle:?} on {}\n---\n{text}\n---",
        b.current_url().await
    );
}

/// Every password field on the page is empty (never prefilled).
async fn assert_password_fields_empty(b: &Browser) {
    let filled = b
        .js(
            "return Array.from(document.querySelectorAll('input[type=password]'))\
               .filter(i => i.value !== '').map(i => i.id);",
            vec![],
        )
        .await;
    assert_eq!(
        filled,
        serde_json::json!([]),
        "prefilled password fields on {}",
        b.current_url().await
    );
}
