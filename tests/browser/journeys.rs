//! The journeys of issue 7 with JavaScript on: pop-ups, the live rule checklist.

use std::time::Duration;

use latchkey::config::Dur;
use serde_json::json;

use super::*;
use crate::browser::webdriver::{Browser, ENTER, Options, TAB};

/// The `data-rule` ids of the checklist items under `list_css` that are ticked.
async fn met_rules(b: &Browser, list_css: &str) -> Vec<String> {
    let v = b
        .js(
            "return Array.from(document.querySelectorAll(arguments[0] + ' li.rule--met'))\
               .map(li => li.getAttribute('data-rule'));",
            vec![json!(list_css)],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

/// Types `password` one key at a time into `input_css`, checking that the
/// checklist under `list_css` ticks each rule as it becomes true.
pub async fn type_password_watching_rules(b: &Browser, input_css: &str, list_css: &str) {
    let input = b.find(input_css).await;
    assert_eq!(
        met_rules(b, list_css).await,
        Vec::<String>::new(),
        "nothing is met before typing"
    );
    b.type_into(&input, "h").await;
    assert_eq!(met_rules(b, list_css).await, ["lower"]);
    b.type_into(&input, "arbou").await;
    assert_eq!(met_rules(b, list_css).await, ["lower"], "6 characters");
    b.type_into(&input, "G").await;
    assert_eq!(met_rules(b, list_css).await, ["upper", "lower"]);
    b.type_into(&input, "7").await;
    assert_eq!(
        met_rules(b, list_css).await,
        ["length", "upper", "lower", "digit"]
    );
    b.type_into(&input, "-").await;
    assert_eq!(
        met_rules(b, list_css).await,
        ["length", "upper", "lower", "digit", "special"]
    );
    // The screen-reader text follows the ticks.
    let states = b
        .js(
            "return Array.from(document.querySelectorAll(arguments[0] + ' li.rule--met .rule-state'))\
               .map(s => s.textContent.trim());",
            vec![json!(list_css)],
        )
        .await;
    assert_eq!(states, json!(["(met)", "(met)", "(met)", "(met)", "(met)"]));
    b.clear(&input).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn sign_in_lands_on_the_home_page_with_the_name_and_the_gear() {
    let (app, _sink) = site(|_| {}).await;
    let b = Browser::launch(Options::default()).await;

    b.goto(&app.url("/login")).await;
    let focused = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(
        focused,
        json!("username"),
        "the user name field has the focus"
    );
    assert_password_fields_empty(&b).await;
    let name = b.find("#username").await;
    b.type_into(&name, USER).await;
    let password = b.find("#password").await;
    b.type_into(&password, PASSWORD).await;
    press_button(&b, "form[action='/login'] button[type=submit]").await;

    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;
    let gear = b.find("header a.gear").await;
    assert_eq!(
        b.attr(&gear, "aria-label").await.as_deref(),
        Some("User Profile")
    );
    let header = b.find("header").await;
    assert!(b.text(&header).await.contains(USER_NAME));
    // The gear sits at the top right of the header.
    let pos = b
        .js_element(
            "const r = arguments[0].getBoundingClientRect(); \
             return [r.right, r.top, document.documentElement.clientWidth];",
            &gear,
        )
        .await;
    let (right, top, width) = (
        pos[0].as_f64().unwrap(),
        pos[1].as_f64().unwrap(),
        pos[2].as_f64().unwrap(),
    );
    assert!(top < 60.0, "gear near the top: {pos}");
    assert!(right > width * 0.75, "gear on the right: {pos}");
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn three_wrong_passwords_show_the_lock_message_with_the_helpdesk_card() {
    let (app, _sink) = site(|c| c.lockout.max_failures = 3).await;
    let b = Browser::launch(Options::default()).await;

    sign_in(&b, &app, USER, "Wrong-Password-1").await;
    assert_page_says(&b, "Login failed!").await;
    assert_password_fields_empty(&b).await;
    let kept = b.find("#username").await;
    assert_eq!(b.prop(&kept, "value").await, json!(USER));
    assert!(b.try_find(".helpdesk").await.is_none());

    sign_in(&b, &app, USER, "Wrong-Password-2").await;
    assert_page_says(&b, "One try left").await;
    assert_page_says(&b, "Forgot Password").await;
    assert_password_fields_empty(&b).await;

    sign_in(&b, &app, USER, "Wrong-Password-3").await;
    assert_page_says(&b, "Your account is locked").await;
    let alert = b.find("#login-messages [role=alert]").await;
    assert!(b.text(&alert).await.contains("locked"));
    let card = b.find("aside.helpdesk").await;
    let card_text = b.text(&card).await;
    assert!(card_text.contains("Contact the helpdesk"), "{card_text}");
    assert!(card_text.contains(HELPDESK_EMAIL), "{card_text}");
    assert!(card_text.contains("+44 20 7946 0000"), "{card_text}");
    b.find(&format!("aside.helpdesk a[href='mailto:{HELPDESK_EMAIL}']"))
        .await;
    assert_password_fields_empty(&b).await;

    // The right password no longer helps.
    sign_in(&b, &app, USER, PASSWORD).await;
    assert_eq!(b.path().await, "/login");
    assert_page_says(&b, "locked").await;
}

/// Asserts the Forgot Password pop-up is open with the focus in its user name field.
async fn assert_forgot_dialog_open(b: &Browser) {
    let state = b
        .js(
            "const d = document.getElementById('forgot-dialog'); \
             return [d.open, d.matches(':modal'), document.activeElement.id];",
            vec![],
        )
        .await;
    assert_eq!(state, json!([true, true, "forgot-username"]), "{state}");
    assert_eq!(b.path().await, "/login", "a pop-up, not a new page");
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn forgot_password_by_click_and_by_keyboard_then_the_mailed_link_sets_a_new_password() {
    let (app, sink) = site(|_| {}).await;
    let b = Browser::launch(Options::default()).await;

    // By mouse: the link opens the pop-up.
    b.goto(&app.url("/login")).await;
    let link = b.find("a.link-forgot").await;
    b.click(&link).await;
    assert_forgot_dialog_open(&b).await;
    fill(&b, "#forgot-username", USER).await;
    press_button(&b, "#forgot-dialog button[type=submit]").await;
    assert_eq!(b.path().await, "/forgot");
    assert_page_says(&b, "we have sent a link to its email address").await;
    mailed_path(&sink, USER_EMAIL, "/reset/", 0).await;

    // By keyboard alone: Tab to the link, Enter, type, Enter.
    b.goto(&app.url("/login")).await;
    let mut reached = false;
    for _ in 0..12 {
        b.press(&[TAB]).await;
        let at = b
            .js("return document.activeElement.className;", vec![])
            .await;
        if at == json!("link-forgot") {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab reaches the Forgot Password link");
    b.press(&[ENTER]).await;
    assert_forgot_dialog_open(&b).await;
    // Escape closes the pop-up and gives the focus back to the link.
    b.press(&["\u{E00C}"]).await;
    let back = b
        .js(
            "return [document.getElementById('forgot-dialog').open, document.activeElement.className];",
            vec![],
        )
        .await;
    assert_eq!(back, json!([false, "link-forgot"]));
    b.press(&[ENTER]).await;
    assert_forgot_dialog_open(&b).await;
    let keys: Vec<String> = USER.chars().map(String::from).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    b.press(&keys).await;
    enter_and_load(&b).await;
    assert_eq!(b.path().await, "/forgot");
    assert_page_says(&b, "we have sent a link to its email address").await;

    // The second link voids the first; follow it on the server's real address.
    let path = mailed_path(&sink, USER_EMAIL, "/reset/", 1).await;
    b.goto(&app.url(&path)).await;
    assert_page_says(&b, "Choose a new password").await;
    assert_password_fields_empty(&b).await;
    type_password_watching_rules(&b, "#password", "#rules").await;
    fill(&b, "#password", NEW_PASSWORD).await;
    fill(&b, "#confirm", NEW_PASSWORD).await;
    let all = b
        .js(
            "return Array.from(document.querySelectorAll('#rules li[data-rule]:not([data-rule=common])'))\
               .every(li => li.classList.contains('rule--met'));",
            vec![],
        )
        .await;
    assert_eq!(all, json!(true));
    press_button(&b, "form button[type=submit]").await;
    b.wait_for_path("/login").await;
    // Issue 11 point 1: the page says so and fills in the name, neither in the URL.
    assert_page_says(&b, "Your password is saved. Sign in with it now.").await;
    let username = b.find("#username").await;
    assert_eq!(b.prop(&username, "value").await, json!(USER));
    let url = b.current_url().await;
    assert_eq!(url.query(), None, "nothing in the URL: {url}");

    sign_in(&b, &app, USER, NEW_PASSWORD).await;
    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn an_expired_password_forces_a_change_before_the_home_page() {
    let (app, _sink) = site(|c| {
        c.policy.max_age = Dur::secs(2);
        c.policy.expiry_warning = Dur::secs(1);
    })
    .await;
    let b = Browser::launch(Options::default()).await;
    app.advance(Duration::from_millis(2200));

    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/password/expired").await;
    assert_page_says(&b, "Your password has expired.").await;
    assert_password_fields_empty(&b).await;
    // Every other page leads back here.
    b.goto(&app.url("/profile")).await;
    b.wait_for_path("/password/expired").await;

    type_password_watching_rules(&b, "#password", "#rules").await;
    fill(&b, "#password", NEW_PASSWORD).await;
    fill(&b, "#confirm", NEW_PASSWORD).await;
    press_button(&b, "form[action='/password/expired'] button[type=submit]").await;
    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;
}

/// Opens the User Profile pop-up with the gear and checks it is a modal dialog.
/// Submits the pop-up's form for `action` and waits for `expect` inside the
/// pop-up, which must still be open on the same page.
async fn submit_in_pop_up(b: &Browser, action: &str, expect: &str) {
    let before = b.path().await;
    b.js("window.__latchkeyOldPage = true; return true;", vec![])
        .await;
    let button = b
        .find(&format!("#profile-dialog form[action='{action}'] button"))
        .await;
    b.click(&button).await;
    b.wait_until(
        &format!("{expect:?} in the pop-up"),
        &format!(
            "const m = document.getElementById('dlg-messages'); \
             return !!m && m.textContent.includes({});",
            serde_json::to_string(expect).unwrap()
        ),
        Duration::from_secs(20),
    )
    .await;
    let state = b
        .js(
            "return [window.__latchkeyOldPage === true, document.getElementById('profile-dialog').open, location.pathname];",
            vec![],
        )
        .await;
    assert_eq!(state, json!([true, true, before]), "submitted in place");
}

async fn open_profile_dialog(b: &Browser) {
    let before = b.path().await;
    let gear = b.find("header a.gear").await;
    b.click(&gear).await;
    let state = b
        .js(
            "const d = document.getElementById('profile-dialog'); \
             return [d.open, d.matches(':modal'), d.contains(document.activeElement), location.pathname];",
            vec![],
        )
        .await;
    assert_eq!(state[0], json!(true), "the pop-up is open: {state}");
    assert_eq!(state[1], json!(true), "modal: {state}");
    assert_eq!(state[2], json!(true), "the focus is in it: {state}");
    assert_eq!(state[3], json!(before), "a pop-up, not a new page");
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn the_gear_opens_the_profile_pop_up_to_change_password_phone_and_email() {
    let (app, sink) = site(|_| {}).await;
    let b = Browser::launch(Options::default()).await;
    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/").await;

    // The password: the answer shows in the pop-up, which stays open (issue 11 point 6).
    open_profile_dialog(&b).await;
    assert_password_fields_empty(&b).await;
    assert_page_says(&b, "User Profile").await;
    fill(&b, "#dlg-current_password", PASSWORD).await;
    type_password_watching_rules(&b, "#dlg-password", "#dlg-rules").await;
    fill(&b, "#dlg-password", NEW_PASSWORD).await;
    fill(&b, "#dlg-confirm", NEW_PASSWORD).await;
    submit_in_pop_up(&b, "/profile/password", "Your password was changed.").await;
    assert_password_fields_empty(&b).await;

    // The phone, in the same pop-up (the new session's CSRF token was taken over).
    fill(&b, "#dlg-phone", "+44 20 7946 0123").await;
    submit_in_pop_up(&b, "/profile/contact", "Your contact details were saved.").await;
    let summary = b.find("#dlg-summary").await;
    assert!(b.text(&summary).await.contains("+44 20 7946 0123"));

    // The email, with the current (new) password, confirmed from the new address.
    fill(&b, "#dlg-email", "alice.new@example.org").await;
    fill(&b, "#dlg-contact_current", NEW_PASSWORD).await;
    submit_in_pop_up(
        &b,
        "/profile/contact",
        "We mailed a confirmation link to the new address",
    )
    .await;
    let path = mailed_path(&sink, "alice.new@example.org", "/confirm-email/", 0).await;
    b.goto(&app.url(&path)).await;
    assert_page_says(&b, "alice.new@example.org").await;
    press_button(&b, "form button[type=submit]").await;
    b.wait_for_path("/profile").await;
    assert_page_says(&b, "Your new email address is confirmed.").await;
    let details = b.find("dl.details").await;
    assert!(b.text(&details).await.contains("alice.new@example.org"));
    assert!(b.text(&details).await.contains("+44 20 7946 0123"));

    // Sign out, and back in with the new password.
    sign_out(&b).await;
    sign_in(&b, &app, USER, NEW_PASSWORD).await;
    b.wait_for_path("/").await;
    assert_page_says(&b, &format!("Welcome, {USER_NAME}")).await;
}

/// Issue 11 point 6: a refusal shows inside the pop-up, with the fields at
/// fault marked and what was typed kept (never a password); once the session
/// has ended, submitting leads to the sign-in page, which says why.
#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn point6_profile_pop_up_refusals_show_in_place_and_an_ended_session_goes_to_sign_in() {
    let (app, _sink) = site(|_| {}).await;
    let b = Browser::launch(Options::default()).await;
    sign_in(&b, &app, USER, PASSWORD).await;
    b.wait_for_path("/").await;
    open_profile_dialog(&b).await;

    // A wrong current password: in the pop-up, counted toward the lock, field marked.
    fill(&b, "#dlg-current_password", "Not-The-Password-1").await;
    fill(&b, "#dlg-password", NEW_PASSWORD).await;
    fill(&b, "#dlg-confirm", NEW_PASSWORD).await;
    submit_in_pop_up(&b, "/profile/password", "2 tries left").await;
    assert_pop_up_says(&b, "Your current password is not right.").await;
    let marked = b
        .js(
            "return Array.from(document.querySelectorAll('#profile-dialog [aria-invalid=true]')).map(e => e.id);",
            vec![],
        )
        .await;
    assert_eq!(marked, json!(["dlg-current_password"]));
    let focus = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(
        focus,
        json!("dlg-current_password"),
        "the focus is on the field to fix"
    );
    assert_password_fields_empty(&b).await;

    // A bad phone number: kept as typed and marked; the earlier mark is gone.
    fill(&b, "#dlg-phone", "call me maybe").await;
    submit_in_pop_up(&b, "/profile/contact", "Phone:").await;
    let phone = b.find("#dlg-phone").await;
    assert_eq!(b.prop(&phone, "value").await, json!("call me maybe"));
    let marked = b
        .js(
            "return Array.from(document.querySelectorAll('#profile-dialog [aria-invalid=true]')).map(e => e.id);",
            vec![],
        )
        .await;
    assert_eq!(marked, json!(["dlg-phone"]));
    let errors = b.find("#dlg-form-errors").await;
    assert!(
        !b.text(&errors).await.contains("Your current password"),
        "only the new answer shows"
    );

    // The account is disabled meanwhile: the next submit goes to sign-in, which says why.
    app.admin(Request::UserDisable {
        username: USER.into(),
    })
    .await
    .expect("disabled");
    fill(&b, "#dlg-phone", "+44 20 7946 0123").await;
    let button = b
        .find("#profile-dialog form[action='/profile/contact'] button")
        .await;
    click_and_load(&b, &button).await;
    b.wait_for_path("/login").await;
    assert_page_says(&b, "disabled").await;
    assert_page_says(&b, HELPDESK_EMAIL).await;
}

async fn assert_pop_up_says(b: &Browser, needle: &str) {
    let dialog = b.find("#profile-dialog").await;
    let text = b.text(&dialog).await;
    assert!(
        text.contains(needle),
        "expected {needle:?} in the pop-up: {text}"
    );
}
