//! CSRF and cross-site POSTs are refused and change nothing (CONTRACT section 4; SECURITY C1).

use crate::helpers::*;

/// An app where alice has an account, and a new client that has fetched
/// /login (so it holds the anonymous cookie) with that page's token.
async fn alice_at_the_login_page() -> (TestApp, reqwest::Client, String) {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let token = page_token(&client, &app, "/login").await;
    (app, client, token)
}

/// POSTs alice's right credentials to /login with `token` and the extra `headers`.
async fn post_login(
    client: &reqwest::Client,
    app: &TestApp,
    token: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client.post(app.url("/login"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap()
}

/// The sign-in was refused with 403: `client` has no session and nobody signed in.
async fn assert_sign_in_refused(client: &reqwest::Client, app: &TestApp, res: reqwest::Response) {
    assert_eq!(res.status(), 403);
    assert_sent_to_login(&get(client, app, "/").await);
    assert_eq!(app.count_events("login_succeeded", Some("alice")).await, 0);
}

/// C1: POST /login without a token is 403, signs nobody in, and is audited.
#[tokio::test]
async fn c1_login_without_token_is_403_and_changes_nothing() {
    let (app, client, _) = alice_at_the_login_page().await;

    let res = client
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_sign_in_refused(&client, &app, res).await;
    let events = app.audit_events(None).await;
    assert!(events.iter().any(|e| e.event == "csrf_rejected"));
}

/// C1: a wrong token is 403.
#[tokio::test]
async fn c1_login_with_a_wrong_token_is_403() {
    let (app, client, token) = alice_at_the_login_page().await;
    let forged: String = token
        .chars()
        .map(|c| if c == 'A' { 'B' } else { 'A' })
        .collect();

    let res = post_login(&client, &app, &forged, &[]).await;

    assert_sign_in_refused(&client, &app, res).await;
}

/// C1: a token is bound to its own browser; another browser's token is 403.
#[tokio::test]
async fn c1_a_token_from_another_browser_is_403() {
    let (app, _attacker, attackers_token) = alice_at_the_login_page().await;
    let victim = app.client();
    page_token(&victim, &app, "/login").await;

    let res = post_login(&victim, &app, &attackers_token, &[]).await;

    assert_sign_in_refused(&victim, &app, res).await;
}

/// C1: a POST whose Origin names another site is refused even with a valid token.
#[tokio::test]
async fn c1_cross_site_origin_is_403_even_with_a_valid_token() {
    let (app, client, token) = alice_at_the_login_page().await;

    let res = post_login(&client, &app, &token, &[("origin", "https://evil.example")]).await;

    assert_sign_in_refused(&client, &app, res).await;
}

/// C1: the same POST from this site's own origin goes through (the control case).
#[tokio::test]
async fn c1_same_origin_with_a_valid_token_is_accepted() {
    let (app, client, token) = alice_at_the_login_page().await;

    let headers = [
        ("origin", app.base.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let res = post_login(&client, &app, &token, &headers).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
}

/// C1: `Sec-Fetch-Site: cross-site` is refused even with a valid token.
#[tokio::test]
async fn c1_sec_fetch_site_cross_site_is_403() {
    let (app, client, token) = alice_at_the_login_page().await;

    let res = post_login(&client, &app, &token, &[("sec-fetch-site", "cross-site")]).await;

    assert_sign_in_refused(&client, &app, res).await;
}

/// CONTRACT 6: every refused POST is audited as `csrf_rejected`.
#[tokio::test]
async fn c1_refusals_are_audited_as_csrf_rejected() {
    let app = spawn_app().await;
    let client = app.client();
    let token = page_token(&client, &app, "/login").await;

    client
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    post_login(&client, &app, &token, &[("origin", "https://evil.example")]).await;

    assert_eq!(app.count_events("csrf_rejected", None).await, 2);
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
    assert_eq!(
        get(&client, &app, "/").await.status(),
        200,
        "still signed in"
    );
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
    assert_eq!(get(&client, &app, path).await.status(), 200);
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
    let home = get(&client, &app, "/").await;
    assert_eq!(location(&home), "/password/expired", "still restricted");
    let with_new = login(&app.client(), &app, "alice", new_password).await;
    assert_eq!(with_new.status(), 401);
}
