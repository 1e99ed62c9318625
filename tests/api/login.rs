//! Sign-in (CONTRACT section 4, GET and POST /login; SECURITY L1, L8, P3, S3).

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::header::HeaderMap;

use crate::helpers::*;

/// Header names and values, apart from the ones that differ per request by nature.
fn comparable_headers(headers: &HeaderMap) -> BTreeSet<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "set-cookie"))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect()
}

/// A wrong password and its answer: status, comparable headers, and the body
/// with the page's CSRF token and the echoed user name replaced by placeholders.
async fn failed_answer(app: &TestApp, username: &str) -> (u16, BTreeSet<(String, String)>, String) {
    let client = app.client();
    let token = page_token(&client, app, "/login").await;
    let fields = [("username", username), ("password", "Wrong-Guess-77")];
    let res = post_with_token(&client, &app.url("/login"), &fields, &token).await;
    let status = res.status().as_u16();
    let headers = comparable_headers(res.headers());
    let body = res
        .text()
        .await
        .unwrap()
        .replace(&token, "{CSRF}")
        .replace(username, "{USER}");
    (status, headers, body)
}

/// The `<input ...>` tag whose id is `id`.
fn input_tag<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<input id=\"{id}\""))
        .unwrap_or_else(|| panic!("page has an input with id {id}"));
    let end = html[start..].find('>').unwrap() + start;
    &html[start..=end]
}

#[tokio::test]
async fn right_password_signs_in_and_home_shows_the_name() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let res = login(&client, &app, "alice", PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(body.contains("alice"));
    assert!(body.contains("class=\"gear\""));
}

/// CONTRACT 4, POST /login: a wrong password is 401 with "Login failed!".
#[tokio::test]
async fn wrong_password_is_401_login_failed() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let res = login(&client, &app, "alice", "Kettle-Blue-43x").await;

    assert_eq!(res.status(), 401);
    assert!(location(&res).is_empty());
    let body = res.text().await.unwrap();
    assert!(body.contains("Login failed!"));
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 303, "a failed sign-in opens no session");
}

/// L1: an unknown user name and a wrong password give the same status, headers and body.
#[tokio::test]
async fn l1_unknown_user_and_wrong_password_answer_identically() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;

    // Same length as "alice", so even Content-Length must match.
    let (known_status, known_headers, known_body) = failed_answer(&app, "alice").await;
    let (unknown_status, unknown_headers, unknown_body) = failed_answer(&app, "zelda").await;

    assert_eq!(known_status, 401);
    assert_eq!(unknown_status, known_status);
    assert_eq!(unknown_headers, known_headers);
    assert_eq!(unknown_body, known_body);
}

/// CONTRACT 4: after a failure that leaves one try, the page suggests Forgot Password.
#[tokio::test]
async fn the_failure_that_leaves_one_try_suggests_forgot_password() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let first = login(&client, &app, "alice", "Wrong-Guess-1").await;
    let first_body = first.text().await.unwrap();
    let second = login(&client, &app, "alice", "Wrong-Guess-2").await;

    assert_eq!(second.status(), 401);
    let second_body = second.text().await.unwrap();
    assert!(!first_body.contains("One try left"), "two tries were left");
    assert!(second_body.contains("One try left"));
    assert!(second_body.contains("Forgot Password"));
    assert!(second_body.contains("href=\"/forgot\""));
}

/// CONTRACT 4: the login form, its password input and the Forgot Password pop-up.
#[tokio::test]
async fn login_page_has_the_form_the_reminder_and_the_forgot_dialog() {
    let app = spawn_app().await;
    let client = app.client();

    let res = client.get(app.url("/login")).send().await.unwrap();

    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let password = input_tag(&html, "password");
    assert!(password.contains("name=\"password\""));
    assert!(password.contains("type=\"password\""));
    assert!(password.contains("autocomplete=\"off\""));
    assert!(input_tag(&html, "username").contains("name=\"username\""));
    assert!(html.contains("name=\"csrf_token\""));
    assert!(html.contains("user agreement forbids storing passwords in the browser"));
    assert!(html.contains("<dialog"));
    assert!(html.contains("Forgot Password"));
    assert!(html.contains("href=\"/forgot\""));
}

/// CONTRACT 4 / S3: every sign-in issues a new session id.
#[tokio::test]
async fn s3_every_sign_in_issues_a_new_session_id() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;

    let first = login(&app.client(), &app, "alice", PASSWORD).await;
    let second = login(&app.client(), &app, "alice", PASSWORD).await;

    let first =
        set_cookie(&first, "latchkey_session").expect("first sign-in sets a session cookie");
    let second =
        set_cookie(&second, "latchkey_session").expect("second sign-in sets a session cookie");
    assert_ne!(first, second);
}

/// S3: a session id planted before sign-in is never the one the server promotes.
#[tokio::test]
async fn s3_a_planted_session_id_is_not_promoted() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let planted = "PLANTEDplantedPLANTEDplantedPLANTEDplanted0";
    let jar = reqwest::cookie::Jar::default();
    jar.add_cookie_str(
        &format!("latchkey_session={planted}; Path=/"),
        &app.base.parse().unwrap(),
    );
    let victim = reqwest::Client::builder()
        .cookie_provider(Arc::new(jar))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let res = login(&victim, &app, "alice", PASSWORD).await;

    assert_eq!(res.status(), 303);
    let issued = set_cookie(&res, "latchkey_session").expect("sign-in sets a session cookie");
    assert_ne!(issued, planted);
    let attacker = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with_planted = attacker
        .get(app.url("/"))
        .header("cookie", format!("latchkey_session={planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_planted.status(), 303);
    assert_eq!(location(&with_planted), "/login");
}

/// CONTRACT 4: a signed-in browser that opens /login goes home.
#[tokio::test]
async fn signed_in_get_login_redirects_home() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    login(&client, &app, "alice", PASSWORD).await;

    let res = client.get(app.url("/login")).send().await.unwrap();

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
}

/// P3: a password over 1 KiB is refused (401) and the server carries on.
#[tokio::test]
async fn p3_password_over_one_kib_is_refused_without_a_crash() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let huge = format!("{PASSWORD}{}", "x".repeat(2000));

    let res = login(&client, &app, "alice", &huge).await;

    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("Login failed!"));
    let again = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(again.status(), 303, "the server still signs people in");
}

/// L8: user names are matched case-insensitively.
#[tokio::test]
async fn l8_user_names_are_case_insensitive() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let res = login(&client, &app, "ALICE", PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let home = client.get(app.url("/")).send().await.unwrap();
    assert!(home.text().await.unwrap().contains("alice"));
}

/// P4 and CONTRACT 4: a password older than `policy.max_age` signs in to the forced change page.
#[tokio::test]
async fn p4_a_password_past_max_age_signs_in_to_the_change_page() {
    let app = spawn_with(|config| config.policy.max_age = latchkey::config::Dur::secs(1)).await;
    app.add_user("alice", PASSWORD).await;
    app.advance(std::time::Duration::from_millis(1200));
    let client = app.client();

    let res = login(&client, &app, "alice", PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/password/expired");
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&home), "/password/expired");
    let page = client
        .get(app.url("/password/expired"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Your password has expired.")
    );
}
