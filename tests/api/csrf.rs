//! CSRF and cross-site POSTs are refused and change nothing (CONTRACT section 4; SECURITY C1).

use crate::helpers::*;

/// GETs /login on `client` (setting its anonymous cookie) and returns the page's token.
async fn login_token(client: &reqwest::Client, app: &TestApp) -> String {
    let html = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_token(&html)
}

fn credentials(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
        ("csrf_token", token.to_owned()),
    ]
}

async fn succeeded_sign_ins(app: &TestApp) -> usize {
    app.audit_events(Some("alice"))
        .await
        .iter()
        .filter(|e| e.event == "login_succeeded")
        .count()
}

async fn assert_signed_out(client: &reqwest::Client, app: &TestApp) {
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(location(&home), "/login");
}

/// C1: POST /login without a token is 403, signs nobody in, and is audited.
#[tokio::test]
async fn c1_login_without_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    login_token(&client, &app).await;

    let res = client
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    assert_signed_out(&client, &app).await;
    assert_eq!(succeeded_sign_ins(&app).await, 0);
    let events = app.audit_events(None).await;
    assert!(events.iter().any(|e| e.event == "csrf_rejected"));
}

/// C1: a wrong token is 403.
#[tokio::test]
async fn c1_login_with_a_wrong_token_is_403() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let token = login_token(&client, &app).await;
    let forged: String = token
        .chars()
        .map(|c| if c == 'A' { 'B' } else { 'A' })
        .collect();

    let res = client
        .post(app.url("/login"))
        .form(&credentials(&forged))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    assert_signed_out(&client, &app).await;
    assert_eq!(succeeded_sign_ins(&app).await, 0);
}

/// C1: a token is bound to its own browser; another browser's token is 403.
#[tokio::test]
async fn c1_a_token_from_another_browser_is_403() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let attacker = app.client();
    let attackers_token = login_token(&attacker, &app).await;
    let victim = app.client();
    login_token(&victim, &app).await;

    let res = victim
        .post(app.url("/login"))
        .form(&credentials(&attackers_token))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    assert_eq!(succeeded_sign_ins(&app).await, 0);
}

/// C1: a POST whose Origin names another site is refused even with a valid token.
#[tokio::test]
async fn c1_cross_site_origin_is_403_even_with_a_valid_token() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let token = login_token(&client, &app).await;

    let res = client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&credentials(&token))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    assert_signed_out(&client, &app).await;
    assert_eq!(succeeded_sign_ins(&app).await, 0);
}

/// C1: the same POST from this site's own origin goes through (the control case).
#[tokio::test]
async fn c1_same_origin_with_a_valid_token_is_accepted() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let token = login_token(&client, &app).await;

    let res = client
        .post(app.url("/login"))
        .header("origin", app.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&credentials(&token))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
}

/// C1: `Sec-Fetch-Site: cross-site` is refused even with a valid token.
#[tokio::test]
async fn c1_sec_fetch_site_cross_site_is_403() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let token = login_token(&client, &app).await;

    let res = client
        .post(app.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&credentials(&token))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    assert_eq!(succeeded_sign_ins(&app).await, 0);
}

/// CONTRACT 6: every refused POST is audited as `csrf_rejected`.
#[tokio::test]
async fn c1_refusals_are_audited_as_csrf_rejected() {
    let app = spawn_app().await;
    let client = app.client();
    let token = login_token(&client, &app).await;

    client
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&credentials(&token))
        .send()
        .await
        .unwrap();

    let rejected = app
        .audit_events(None)
        .await
        .into_iter()
        .filter(|e| e.event == "csrf_rejected")
        .count();
    assert_eq!(rejected, 2);
}

/// C1: POST /logout without a token is 403 and the session lives on.
#[tokio::test]
async fn c1_logout_without_token_is_403_and_the_session_survives() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    assert_eq!(login(&client, &app, "alice", PASSWORD).await.status(), 303);

    let res = client
        .post(app.url("/logout"))
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200, "still signed in");
}

/// C1: the setup form without a token is 403 and leaves the link unspent.
#[tokio::test]
async fn c1_setup_without_token_is_403_and_the_link_stays_live() {
    let app = spawn_app().await;
    let link = app.setup_link.clone().expect("a first-admin link");
    let path = &link[link.find("/setup/").unwrap()..];
    let client = app.client();
    client.get(app.url(path)).send().await.unwrap();

    let res = client
        .post(app.url(path))
        .form(&[
            ("username", "root-admin"),
            ("email", "admin@example.org"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    assert_eq!(
        client.get(app.url(path)).send().await.unwrap().status(),
        200
    );
    let refused = login(&app.client(), &app, "root-admin", PASSWORD).await;
    assert_eq!(refused.status(), 401, "no account was created");
}

/// C1: the forced password change without a token is 403 and changes nothing.
#[tokio::test]
async fn c1_forced_change_without_token_is_403() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    app.admin(latchkey::control::protocol::Request::UserForceChange {
        username: Some("alice".into()),
    })
    .await
    .unwrap();
    let client = app.client();
    login(&client, &app, "alice", PASSWORD).await;
    let new_password = "Copper-Lamp-58z";

    let res = client
        .post(app.url("/password/expired"))
        .form(&[("password", new_password), ("confirm", new_password)])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 403);
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&home), "/password/expired", "still restricted");
    let with_new = login(&app.client(), &app, "alice", new_password).await;
    assert_eq!(with_new.status(), 401);
}
