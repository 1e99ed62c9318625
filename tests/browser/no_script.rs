//! The same journeys with JavaScript disabled: the fallback pages do the work.

use std::time::Duration;

use latchkey::config::Dur;
use serde_json::json;

use super::*;
use crate::browser::webdriver::{Browser, Options};

/// Proves that scripts really are off in this browser: app.js never ran.
async fn assert_scripts_off(b: &Browser) {
    let ran = b
        .js(
            "return document.querySelectorAll('.rules--live').length;",
            vec![],
        )
        .await;
    assert_eq!(ran, json!(0), "app.js must not have run");
    // A script element added now does not run either.
    let probe = b
        .js(
            "const s = document.createElement('script'); s.src = '/static/app.js'; \
             document.head.appendChild(s); return true;",
            vec![],
        )
        .await;
    assert_eq!(probe, json!(true));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let live = b
        .js(
            "return document.querySelectorAll('.rules--live').length;",
            vec![],
        )
        .await;
    assert_eq!(live, json!(0), "scripts are disabled");
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn without_script_forgot_password_uses_the_fallback_page_and_the_link_works() {
    let (app, sink) = site(|_| {}).await;
    let b = Browser::launch(Options::no_script()).await;

    b.goto(&app.url("/login")).await;
    press_button(&b, "a.link-forgot").await;
    b.wait_for_path("/forgot").await;
    assert_page_says(&b, "Enter your user name").await;
    fill(&b, "#forgot-username", USER).await;
    press_button(&b, "form[action='/forgot'] button[type=submit]").await;
    assert_eq!(b.path().await, "/forgot");
    assert_page_says(&b, "we have sent a link to its email address").await;

    let path = mailed_path(&sink, USER_EMAIL, "/reset/", 0).await;
    b.goto(&app.url(&path)).await;
    assert_page_says(&b, "Choose a new password").await;
    assert_scripts_off(&b).await;
    // Without scripts the rules are a plain list, and all are still shown.
    let rules = b.find_all("#rules li").await;
    assert_eq!(rules.len(), 6);

    // A broken rule is reported by the server, the fields come back empty.
    fill(&b, "#password", "short").await;
    fill(&b, "#confirm", "short").await;
    press_button(&b, "form button[type=submit]").await;
    assert_page_says(&b, "Please fix the following").await;
    assert_password_fields_empty(&b).await;

    fill(&b, "#password", NEW_PASSWORD).await;
    fill(&b, "#confirm", NEW_PASSWORD).await;
    press_button(&b, "form button[type=submit]").await;
    b.wait_for_path("/login").await;

    sign_in(&b, &app, USER, NEW_PASSWORD).await;
    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn without_script_the_gear_leads_to_the_profile_page_whose_forms_work() {
    let (app, sink) = site(|_| {}).await;
    let b = Browser::launch(Options::no_script()).await;
    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;

    press_button(&b, "header a.gear").await;
    b.wait_for_path("/profile").await;
    assert_page_says(&b, "User Profile").await;
    assert_password_fields_empty(&b).await;
    assert_scripts_off(&b).await;

    fill(&b, "#current_password", PASSWORD).await;
    fill(&b, "#password", NEW_PASSWORD).await;
    fill(&b, "#confirm", NEW_PASSWORD).await;
    press_button(&b, "main form[action='/profile/password'] button").await;
    assert_page_says(&b, "Your password was changed.").await;

    fill(&b, "#phone", "+44 20 7946 0123").await;
    press_button(&b, "main form[action='/profile/contact'] button").await;
    assert_page_says(&b, "Your contact details were saved.").await;
    assert_page_says(&b, "+44 20 7946 0123").await;

    fill(&b, "#email", "alice.new@example.org").await;
    fill(&b, "#contact_current", NEW_PASSWORD).await;
    press_button(&b, "main form[action='/profile/contact'] button").await;
    assert_page_says(&b, "We mailed a confirmation link to the new address").await;
    let path = mailed_path(&sink, "alice.new@example.org", "/confirm-email/", 0).await;
    b.goto(&app.url(&path)).await;
    press_button(&b, "main form button[type=submit]").await;
    b.wait_for_path("/profile").await;
    assert_page_says(&b, "Your new email address is confirmed.").await;

    sign_out(&b).await;
    assert_page_says(&b, "Sign in").await;
    b.back().await;
    b.wait_for_path("/login").await;
    let text = b.body_text().await;
    assert!(!text.contains("User Profile"), "{text}");
    assert!(!text.contains("alice.new@example.org"), "{text}");

    sign_in(&b, &app, USER, NEW_PASSWORD).await;
    b.wait_for_path("/").await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn without_script_sign_in_lock_and_forced_change_work() {
    let (app, _sink) = site(|c| {
        c.policy.max_age = Dur::secs(2);
        c.policy.expiry_warning = Dur::secs(1);
        c.lockout.max_failures = 3;
    })
    .await;
    add_user(&app, "bob", "Bob Example").await;
    let b = Browser::launch(Options::no_script()).await;

    for n in 1..=3 {
        sign_in(&b, &app, "bob", &format!("Wrong-Password-{n}")).await;
        assert_page_says(&b, "Login failed!").await;
        assert_password_fields_empty(&b).await;
    }
    assert_page_says(&b, "Your account is locked").await;
    b.find("aside.helpdesk").await;

    app.advance(Duration::from_millis(2200));
    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/password/expired").await;
    fill(&b, "#password", NEW_PASSWORD).await;
    fill(&b, "#confirm", NEW_PASSWORD).await;
    press_button(&b, "form[action='/password/expired'] button[type=submit]").await;
    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;
}
