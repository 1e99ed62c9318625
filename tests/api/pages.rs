//! The plain pages: help, health, profile, home, forgot, static assets (CONTRACT section 4).

use latchkey::control::protocol::Request;

use crate::helpers::*;

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> reqwest::Response {
    client.get(app.url(path)).send().await.unwrap()
}

/// CONTRACT 4 /help: helpdesk email, phone and hours from config, and the rules in words.
#[tokio::test]
async fn help_shows_the_helpdesk_and_the_password_rules() {
    let app = spawn_with(|config| {
        config.helpdesk.email = "desk@agency.example".into();
        config.helpdesk.phone = Some("+1 555 010 0200".into());
        config.helpdesk.hours = "Weekdays, 9:00 to 16:30".into();
    })
    .await;

    let res = get(&app.client(), &app, "/help").await;

    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("desk@agency.example"));
    assert!(html.contains("+1 555 010 0200"));
    assert!(html.contains("Weekdays, 9:00 to 16:30"));
    for rule in [
        "Between 8 and 50 characters",
        "At least one upper-case letter",
        "At least one lower-case letter",
        "At least one digit",
        "At least one special character",
        "Not a common or easily guessed password",
    ] {
        assert!(html.contains(rule), "missing {rule:?}");
    }
}

/// CONTRACT 4 /help: the rules follow the configured policy.
#[tokio::test]
async fn help_rules_follow_the_configured_policy() {
    let app = spawn_with(|config| {
        config.policy.min_length = 15;
        config.policy.max_length = 64;
        config.policy.require_special = false;
    })
    .await;

    let html = get(&app.client(), &app, "/help")
        .await
        .text()
        .await
        .unwrap();

    assert!(html.contains("Between 15 and 64 characters"));
    assert!(!html.contains("At least one special character"));
}

/// CONTRACT 4 /healthz: 200 `ok`.
#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;

    let res = get(&app.client(), &app, "/healthz").await;

    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

/// CONTRACT 4 /profile: the signed-in user's name, email and phone.
#[tokio::test]
async fn profile_shows_name_email_and_phone_when_signed_in() {
    let app = spawn_app().await;
    let mut user = new_user("alice", Some(PASSWORD));
    user.name = Some("Alice Example".into());
    user.phone = Some("+1 555 010 0199".into());
    app.admin(Request::UserAdd(user)).await.unwrap();
    let client = app.client();
    login(&client, &app, "alice", PASSWORD).await;

    let res = get(&client, &app, "/profile").await;

    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("User Profile"));
    assert!(html.contains("Alice Example"));
    assert!(html.contains("alice@example.org"));
    assert!(html.contains("+1 555 010 0199"));
}

/// CONTRACT 4 /profile and /: signed out, both send the browser to /login
/// (from /profile with the way back, issue 11 point 10).
#[tokio::test]
async fn profile_and_home_redirect_to_login_when_signed_out() {
    let app = spawn_app().await;
    let client = app.client();

    for (path, to) in [("/", "/login"), ("/profile", "/login?next=%2Fprofile")] {
        let res = get(&client, &app, path).await;

        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), to, "{path}");
    }
}

/// CONTRACT 4 /: the home page names the user and has the profile gear.
#[tokio::test]
async fn home_shows_the_name_and_the_gear_when_signed_in() {
    let app = spawn_app().await;
    let mut user = new_user("alice", Some(PASSWORD));
    user.name = Some("Alice Example".into());
    app.admin(Request::UserAdd(user)).await.unwrap();
    let client = app.client();
    login(&client, &app, "alice", PASSWORD).await;

    let res = get(&client, &app, "/").await;

    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Alice Example"));
    assert!(html.contains("class=\"gear\""));
    assert!(html.contains("User Profile"));
}

/// CONTRACT 4 /forgot: a 200 page with a form asking for the user name.
#[tokio::test]
async fn forgot_shows_a_form() {
    let app = spawn_app().await;

    let res = get(&app.client(), &app, "/forgot").await;

    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("<form"));
    assert!(html.contains("action=\"/forgot\""));
    assert!(html.contains("name=\"username\""));
    assert!(html.contains("name=\"csrf_token\""));
}

/// STYLE shape: static assets are compiled in and served with their type.
#[tokio::test]
async fn static_stylesheet_is_served_as_css() {
    let app = spawn_app().await;

    let res = get(&app.client(), &app, "/static/style.css").await;

    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/css"), "{content_type}");
    assert!(!res.text().await.unwrap().is_empty());
}
