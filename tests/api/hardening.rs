//! Response headers, error pages, malformed input, rate limits, client addresses and
//! escaping (CONTRACT section 4; SECURITY C2, C3, I1, I2, I3, I5).

use latchkey::control::protocol::Request;

use crate::helpers::*;

/// The exact policy SECURITY C2 requires.
const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

/// C2: the headers every response must carry, whatever its status.
fn assert_c2_headers(res: &reqwest::Response, what: &str) {
    let csp = header(res, "content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp:?}");
    assert_eq!(csp, CSP, "{what}");
    assert_eq!(
        header(res, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(res, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    if let Some(server) = header(res, "server") {
        assert!(
            !server.contains('/') && !server.chars().any(|c| c.is_ascii_digit()),
            "{what}: Server header names a version: {server}"
        );
    }
}

/// C2/C3: an HTML page, not cached, with a charset.
fn assert_html_page(res: &reqwest::Response, what: &str) {
    let content_type = header(res, "content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type}"
    );
    assert!(
        content_type.contains("charset=utf-8"),
        "{what}: {content_type}"
    );
    assert_eq!(header(res, "cache-control"), Some("no-store"), "{what}");
}

/// A client that has fetched /login (so it holds the anonymous cookie) and its token.
async fn browser(app: &TestApp) -> (reqwest::Client, String) {
    let client = app.client();
    let token = page_token(&client, app, "/login").await;
    (client, token)
}

async fn post_raw(client: &reqwest::Client, app: &TestApp, body: Vec<u8>) -> reqwest::Response {
    client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A failed sign-in for alice that claims to come from `forwarded_for`.
async fn fail_with_forwarded_for(app: &TestApp, forwarded_for: &str) {
    let (client, token) = browser(app).await;
    let res = client
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("username", "alice"),
            ("password", "Wrong-Guess-1"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn failed_login_ip(app: &TestApp) -> Option<String> {
    app.audit_events(Some("alice"))
        .await
        .into_iter()
        .rev()
        .find(|e| e.event == "login_failed")
        .and_then(|e| e.ip)
}

/// C2: every response, errors and assets included, carries the security headers.
#[tokio::test]
async fn c2_every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, token) = browser(&app).await;
    let anonymous = app.client();
    let mut answers = Vec::new();

    answers.push((200, anonymous.get(app.url("/login")).send().await.unwrap()));
    answers.push((303, anonymous.get(app.url("/")).send().await.unwrap()));
    answers.push((
        404,
        anonymous
            .get(app.url("/no-such-page"))
            .send()
            .await
            .unwrap(),
    ));
    answers.push((
        405,
        anonymous.delete(app.url("/login")).send().await.unwrap(),
    ));
    let too_big = format!("csrf_token={token}&username={}", "a".repeat(17 * 1024));
    answers.push((413, post_raw(&client, &app, too_big.into_bytes()).await));
    answers.push((
        400,
        post_raw(
            &client,
            &app,
            format!("csrf_token={token}&a=%zz").into_bytes(),
        )
        .await,
    ));
    answers.push((401, login(&client, &app, "alice", "Wrong-Guess-1").await));
    answers.push((303, login(&client, &app, "alice", PASSWORD).await));
    let no_token = anonymous.post(app.url("/login")).form(&[("username", "x")]);
    answers.push((403, no_token.send().await.unwrap()));
    let spent_link = anonymous.get(app.url("/setup/garbage"));
    answers.push((410, spent_link.send().await.unwrap()));
    answers.push((
        200,
        anonymous.get(app.url("/healthz")).send().await.unwrap(),
    ));
    answers.push((
        200,
        anonymous
            .get(app.url("/static/style.css"))
            .send()
            .await
            .unwrap(),
    ));

    for (status, res) in &answers {
        let what = format!("{} {}", res.status(), res.url().path());
        assert_eq!(res.status().as_u16(), *status, "{what}");
        assert_c2_headers(res, &what);
    }
}

/// C3: auth and profile pages are not cached and name their charset.
#[tokio::test]
async fn c3_html_pages_are_no_store_with_a_charset() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let login_page = client.get(app.url("/login")).send().await.unwrap();
    assert_html_page(&login_page, "/login");
    let failed = login(&client, &app, "alice", "Wrong-Guess-1").await;
    assert_html_page(&failed, "failed POST /login");
    login(&client, &app, "alice", PASSWORD).await;

    let setup = app.setup_link.clone().expect("a first-admin link");
    let setup = &setup[setup.find("/setup/").unwrap()..];
    for path in ["/", "/profile", "/help", "/forgot", setup] {
        let res = client.get(app.url(path)).send().await.unwrap();

        assert_eq!(res.status(), 200, "{path}");
        assert_html_page(&res, path);
    }
}

/// C3: a response that sets a cookie is never cached.
#[tokio::test]
async fn c3_a_response_setting_a_cookie_is_no_store() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;

    let res = login(&app.client(), &app, "alice", PASSWORD).await;

    assert!(res.headers().contains_key("set-cookie"));
    assert_eq!(header(&res, "cache-control"), Some("no-store"));
}

/// CONTRACT 4: 404 and 405 are HTML error pages.
#[tokio::test]
async fn not_found_and_wrong_method_are_html_error_pages() {
    let app = spawn_app().await;
    let client = app.client();

    let missing = client.get(app.url("/no-such-page")).send().await.unwrap();
    let wrong_method = client.put(app.url("/login")).send().await.unwrap();

    assert_eq!(missing.status(), 404);
    assert_html_page(&missing, "404");
    let body = missing.text().await.unwrap();
    assert!(body.contains("<!doctype html>"));
    assert!(body.contains("Page not found"));
    assert_eq!(wrong_method.status(), 405);
    assert_html_page(&wrong_method, "405");
    let body = wrong_method.text().await.unwrap();
    assert!(body.contains("<!doctype html>"));
    assert!(body.contains("Error 405"));
}

/// I1: a form body over 16 KiB is 413, and the server carries on.
#[tokio::test]
async fn i1_a_body_over_16_kib_is_413() {
    let app = spawn_app().await;
    let (client, token) = browser(&app).await;
    let body = format!("csrf_token={token}&username={}", "a".repeat(17 * 1024));

    let res = post_raw(&client, &app, body.into_bytes()).await;

    assert_eq!(res.status(), 413);
    assert_html_page(&res, "413");
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// I2: malformed form bodies are a plain 400, never a crash.
#[tokio::test]
async fn i2_malformed_form_bodies_are_400() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, token) = browser(&app).await;
    let cases: [(&str, Vec<u8>); 4] = [
        ("invalid percent-encoding", b"a=%zz".to_vec()),
        (
            "invalid UTF-8 bytes",
            b"username=\xff\xfe&password=x".to_vec(),
        ),
        ("invalid UTF-8 after decoding", b"username=%ff%fe".to_vec()),
        ("duplicated field", b"username=a&username=b".to_vec()),
    ];

    for (what, fields) in cases {
        let mut body = format!("csrf_token={token}&").into_bytes();
        body.extend_from_slice(&fields);

        let res = post_raw(&client, &app, body).await;

        assert_eq!(res.status(), 400, "{what}");
        assert_html_page(&res, what);
        let text = res.text().await.unwrap();
        assert!(text.contains("Bad request"), "{what}");
        assert!(
            !text.contains("panicked") && !text.contains("src/"),
            "{what}"
        );
    }
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(login(&client, &app, "alice", PASSWORD).await.status(), 303);
}

/// CONTRACT 2 `rate_limit.per_ip_per_minute`: past it POST /login is 429 and audited.
#[tokio::test]
async fn rate_limit_answers_429_past_the_limit_and_audits_it() {
    let app = spawn_with(|config| config.rate_limit.per_ip_per_minute = 5).await;
    app.add_user("alice", PASSWORD).await;
    let (client, token) = browser(&app).await;
    let form = [
        ("username", "alice"),
        ("password", "Wrong-Guess-1"),
        ("csrf_token", token.as_str()),
    ];
    let mut statuses = Vec::new();

    for _ in 0..6 {
        let res = client
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }

    assert_eq!(statuses[5], 429, "{statuses:?}");
    assert!(statuses[..5].iter().all(|s| *s != 429), "{statuses:?}");
    let events = app.audit_events(None).await;
    assert!(events.iter().any(|e| e.event == "rate_limited"));
}

/// I5: X-Forwarded-For from an untrusted peer is ignored.
#[tokio::test]
async fn i5_forwarded_for_is_ignored_from_untrusted_peers() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;

    fail_with_forwarded_for(&app, "203.0.113.9").await;

    assert_eq!(failed_login_ip(&app).await.as_deref(), Some("127.0.0.1"));
}

/// I5: X-Forwarded-For from a trusted proxy names the client.
#[tokio::test]
async fn i5_forwarded_for_is_believed_from_trusted_proxies() {
    let app = spawn_with(|config| {
        config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.add_user("alice", PASSWORD).await;

    fail_with_forwarded_for(&app, "203.0.113.9").await;

    assert_eq!(failed_login_ip(&app).await.as_deref(), Some("203.0.113.9"));
}

/// I3: HTML in a display name is escaped on the home page.
#[tokio::test]
async fn i3_html_in_a_display_name_is_escaped() {
    let app = spawn_app().await;
    let mut user = new_user("alice", Some(PASSWORD));
    user.name = Some("<script>x</script>".into());
    app.admin(Request::UserAdd(user)).await.unwrap();
    let client = app.client();
    login(&client, &app, "alice", PASSWORD).await;

    let res = client.get(app.url("/")).send().await.unwrap();

    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(!body.contains("<script>x</script>"));
    assert!(body.contains("&lt;script&gt;x&lt;"));
}
