//! The two endpoints asked as a proxy asks them: from 127.0.0.1 (a trusted
//! proxy here), with the browser's cookie and the proxy's own headers.

use std::time::Duration;

use latchkey::config::{BaseUrl, Config};
use latchkey::control::protocol::Request;

use super::{guard, member, urlencode};
use crate::helpers::{self, PASSWORD, TestApp};

const FILES: &str = "files.agency.lan";

/// A server that trusts 127.0.0.1 as its proxy, with `files.agency.lan`
/// guarded for the group `caseworkers`, a member `alice` and an outsider `bob`.
async fn site(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = helpers::spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        adjust(c);
    })
    .await;
    guard(&app, "Files", &[FILES], &["caseworkers"]).await;
    member(&app, "alice", &["caseworkers", "intake"]).await;
    member(&app, "bob", &[]).await;
    app
}

/// The session id of a fresh sign-in of `user`.
async fn session_of(app: &TestApp, user: &str) -> String {
    helpers::signed_in(app, user, PASSWORD).await.1
}

fn proxy() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET /api/authz/forward-auth` as Caddy sends it for `https://{host}{uri}`.
async fn forward_auth(
    app: &TestApp,
    session: Option<&str>,
    host: &str,
    uri: &str,
) -> reqwest::Response {
    let mut req = proxy()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", host)
        .header("X-Forwarded-Uri", uri)
        .header("X-Forwarded-For", "192.0.2.10");
    if let Some(id) = session {
        req = req.header("Cookie", format!("theme=dark; latchkey_session={id}"));
    }
    req.send().await.unwrap()
}

/// `GET /api/authz/auth-request` as nginx sends it.
async fn auth_request(app: &TestApp, session: Option<&str>, url: &str) -> reqwest::Response {
    let mut req = proxy()
        .get(app.url("/api/authz/auth-request"))
        .header("X-Original-Method", "GET")
        .header("X-Original-URL", url)
        .header("X-Forwarded-For", "192.0.2.10");
    if let Some(id) = session {
        req = req.header("Cookie", format!("latchkey_session={id}"));
    }
    req.send().await.unwrap()
}

fn header<'r>(res: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

/// `s` with every byte but the unreserved ones of RFC 3986 percent-encoded.
fn encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The sign-in address a refused request is sent to, for `url`.
fn sign_in_for(app: &TestApp, url: &str) -> String {
    format!("{}/login?rd={}", app.config.server.base_url, encoded(url))
}

/// CONTRACT section 7: a member of the host's group passes, and the app
/// learns who it is; the session id is passed on in no header (F3).
#[tokio::test]
async fn f3_a_member_passes_with_who_they_are_and_never_the_session_id() {
    let app = site(|_| {}).await;
    let id = session_of(&app, "alice").await;
    for res in [
        forward_auth(&app, Some(&id), FILES, "/shared/report.pdf").await,
        auth_request(
            &app,
            Some(&id),
            "https://files.agency.lan/shared/report.pdf",
        )
        .await,
    ] {
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "remote-user"), Some("alice"));
        assert_eq!(header(&res, "remote-name"), Some("alice Example"));
        assert_eq!(header(&res, "remote-email"), Some("alice@agency.example"));
        assert_eq!(header(&res, "remote-groups"), Some("caseworkers,intake"));
        assert!(res.headers().get("set-cookie").is_none());
        for (name, value) in res.headers() {
            let value = value.to_str().unwrap_or_default();
            assert!(!value.contains(&id), "the session id is in {name}");
        }
    }
    // The port and case of the host do not matter; the scheme's default port is the host.
    let res = forward_auth(&app, Some(&id), "FILES.agency.lan:443", "/").await;
    assert_eq!(res.status(), 200);
}

/// CONTRACT section 7: not signed in, Caddy's endpoint sends the browser to
/// the sign-in page with the address it asked for; nginx's answers 401 with
/// that `Location` for its `error_page`.
#[tokio::test]
async fn nobody_signed_in_is_sent_to_sign_in_with_the_way_back() {
    let app = site(|_| {}).await;
    let res = forward_auth(&app, None, FILES, "/shared/a%20b.pdf?x=1&y=%2F").await;
    assert_eq!(res.status(), 302);
    let wanted = sign_in_for(&app, "https://files.agency.lan/shared/a%20b.pdf?x=1&y=%2F");
    assert_eq!(helpers::location(&res), wanted);
    let res = auth_request(
        &app,
        None,
        "https://files.agency.lan/shared/a%20b.pdf?x=1&y=%2F",
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(helpers::location(&res), wanted);
    // An unknown or stale cookie is the same as none.
    let res = forward_auth(&app, Some("not-a-session"), FILES, "/").await;
    assert_eq!(res.status(), 302);
}

/// F2: the sign-in page goes back to a guarded host's address after the
/// sign-in (and lets its form end there: CSP form-action), and nowhere else.
#[tokio::test]
async fn f2_sign_in_returns_to_a_guarded_host_only() {
    let app = site(|_| {}).await;
    let back = "https://files.agency.lan/shared/report.pdf?page=2";
    let client = app.client();
    let login = format!("/login?rd={}", urlencode(back));
    let page = helpers::get(&client, &app, &login).await;
    let csp = header(&page, "content-security-policy").unwrap().to_owned();
    assert!(csp.contains("https://files.agency.lan"), "{csp}");
    let html = page.text().await.unwrap();
    // minijinja escapes `/` too.
    let kept = back.replace('&', "&amp;").replace('/', "&#x2f;");
    assert!(
        html.contains(&format!("name=\"next\" value=\"{kept}\"")),
        "{html}"
    );
    let res = helpers::post_with_token(
        &client,
        &app.url("/login"),
        &[
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", back),
        ],
        &helpers::csrf_token(&html),
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(helpers::location(&res), back);
    // Signed in already: the sign-in page sends the browser straight back.
    let res = helpers::get(&client, &app, &login).await;
    assert_eq!(helpers::location(&res), back);

    for evil in [
        "//evil.example/",
        "https:evil.example",
        "https://evil.example/",
        "https://files.agency.lan\\@evil.example/",
        "https://files.agency.lan@evil.example/",
        "https://user@files.agency.lan/",
        "https://evil.example%2f@files.agency.lan/",
        "https://files.agency.lan%2eevil.example/",
        "https://files.agency.lan.evil.example/",
        "https://files.agency.lan:8443/",
        "http%3A%2F%2Fevil.example%2F",
    ] {
        let client = app.client();
        let login = format!("/login?rd={}", urlencode(evil));
        let page = helpers::get(&client, &app, &login).await;
        assert!(header(&page, "content-security-policy").is_some_and(|c| !c.contains("evil")));
        let html = page.text().await.unwrap();
        assert!(!html.contains("name=\"next\""), "{evil} kept in the form");
        let res = helpers::post_with_token(
            &client,
            &app.url("/login"),
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", evil),
            ],
            &helpers::csrf_token(&html),
        )
        .await;
        assert_eq!(res.status(), 303, "{evil}");
        assert_eq!(helpers::location(&res), "/", "{evil}");
    }
}

/// CONTRACT section 7: a signed-in account outside the host's groups gets
/// 403; the refusal is audited, but repeats within ten minutes are only
/// counted, into the next event.
#[tokio::test]
async fn outside_the_group_is_refused_and_repeats_are_counted_not_logged() {
    let app = site(|_| {}).await;
    let id = session_of(&app, "bob").await;
    for _ in 0..5 {
        let res = forward_auth(&app, Some(&id), FILES, "/").await;
        assert_eq!(res.status(), 403);
        assert!(header(&res, "remote-user").is_none());
        let body = res.text().await.unwrap();
        assert!(body.contains("may not use this app"), "{body}");
    }
    let events = denied(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    // CONTRACT section 7: `X-Forwarded-For` from the trusted proxy is the
    // client's address in the audit.
    let ips: Vec<_> = app
        .audit_events(Some("bob"))
        .await
        .into_iter()
        .filter(|e| e.event == "forward_auth_denied")
        .map(|e| e.ip)
        .collect();
    assert_eq!(ips, [Some("192.0.2.10".to_owned())]);
    assert!(events[0].contains("files.agency.lan") && events[0].contains("Files"));
    app.advance(Duration::from_secs(11 * 60));
    let id = session_of(&app, "bob").await;
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        403
    );
    let events = denied(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().any(|d| d.contains("and 4 more")),
        "the next event counts the four left out: {events:?}"
    );
}

/// The details of bob's `forward_auth_denied` events.
async fn denied(app: &TestApp) -> Vec<String> {
    app.audit_events(Some("bob"))
        .await
        .into_iter()
        .filter(|e| e.event == "forward_auth_denied")
        .map(|e| e.detail.unwrap_or_default())
        .collect()
}

/// F1: a host that no app lists is denied, signed in or not.
#[tokio::test]
async fn f1_a_host_no_app_lists_is_denied() {
    let app = site(|_| {}).await;
    let id = session_of(&app, "alice").await;
    for session in [Some(id.as_str()), None] {
        let res = forward_auth(&app, session, "payroll.agency.lan", "/").await;
        assert_eq!(res.status(), 403);
        let res = auth_request(&app, session, "https://payroll.agency.lan/").await;
        assert_eq!(res.status(), 403);
    }
    // Nor is a listed host reached through a missing or garbled header.
    let res = proxy()
        .get(app.url("/api/authz/forward-auth"))
        .header("Cookie", format!("latchkey_session={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = forward_auth(&app, Some(&id), "files.agency.lan/x@evil", "/").await;
    assert_eq!(res.status(), 400);
    assert!(app.count_events("forward_auth_denied", None).await >= 1);
}

/// F1: `X-Forwarded-*` and `X-Original-URL` from a peer that is not in
/// `server.trusted_proxies` are not believed: nothing passes.
#[tokio::test]
async fn f1_forwarded_headers_from_an_untrusted_peer_are_not_believed() {
    let app = site(|c| c.server.trusted_proxies = vec![]).await;
    let id = session_of(&app, "alice").await;
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        403
    );
    let res = auth_request(&app, Some(&id), "https://files.agency.lan/").await;
    assert_eq!(res.status(), 403);
    assert!(header(&res, "remote-user").is_none());
    let events = app.audit_events(Some("alice")).await;
    assert!(
        events.iter().any(|e| e.event == "forward_auth_denied"
            && e.detail
                .as_deref()
                .is_some_and(|d| d.contains("trusted_proxies"))
            // Nor is its `X-Forwarded-For`: the peer is the address.
            && e.ip.as_deref() == Some("127.0.0.1")),
        "{events:?}"
    );
}

/// S4, S5: a lock, a disabled account, an expired licence or a sign-out
/// ends access to the guarded apps on the very next request.
#[tokio::test]
async fn s4_s5_a_lock_or_sign_out_ends_access_on_the_next_request() {
    let app = site(|_| {}).await;
    member(&app, "carol", &["caseworkers"]).await;
    member(&app, "dave", &["caseworkers"]).await;
    member(&app, "erin", &["caseworkers"]).await;

    // Locked by three wrong passwords from somewhere else.
    let id = session_of(&app, "alice").await;
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        200
    );
    for _ in 0..3 {
        helpers::login(&app.client(), &app, "alice", "wrong-Password-1").await;
    }
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        302
    );

    // Disabled by the helpdesk.
    let id = session_of(&app, "carol").await;
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        200
    );
    app.admin(Request::UserDisable {
        username: "carol".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        302
    );

    // The licence ends.
    let id = session_of(&app, "dave").await;
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        200
    );
    app.admin(Request::LicenseSet {
        username: "dave".into(),
        expires: "2000-01-01".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        302
    );

    // Signed out on latchkey's own page.
    let (client, id) = helpers::signed_in(&app, "erin", PASSWORD).await;
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        200
    );
    let res = helpers::submit(&client, &app, "/", "/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/").await.status(),
        302
    );
}

/// A password that must be changed first: the proxy sends the browser to
/// the forced change, which then goes on to the app.
#[tokio::test]
async fn a_forced_change_comes_first_and_then_the_app() {
    let app = site(|_| {}).await;
    let (client, id) = helpers::signed_in(&app, "alice", PASSWORD).await;
    app.admin(Request::UserForceChange {
        username: Some("alice".into()),
    })
    .await
    .unwrap();
    let (client, id) = match forward_auth(&app, Some(&id), FILES, "/x")
        .await
        .status()
        .as_u16()
    {
        // The forced change ended the session: sign in again, restricted.
        302 => {
            let _ = client;
            let client = app.client();
            let res = helpers::login(&client, &app, "alice", PASSWORD).await;
            let id = helpers::set_cookie(&res, "latchkey_session").unwrap();
            (client, id)
        }
        other => panic!("unexpected {other}"),
    };
    let res = forward_auth(&app, Some(&id), FILES, "/x").await;
    assert_eq!(res.status(), 302);
    let to = helpers::location(&res).to_owned();
    let wanted = format!(
        "{}/password/expired?next={}",
        app.config.server.base_url,
        encoded("https://files.agency.lan/x")
    );
    assert_eq!(to, wanted);
    let path = to
        .strip_prefix(app.config.server.base_url.as_str())
        .unwrap();
    let page = helpers::get(&client, &app, path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let new = "Harbour-Green-73q";
    let res = helpers::post_with_token(
        &client,
        &app.url("/password/expired"),
        &[
            ("password", new),
            ("confirm", new),
            ("next", "https://files.agency.lan/x"),
        ],
        &helpers::csrf_token(&html),
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(helpers::location(&res), "https://files.agency.lan/x");
    let id = helpers::set_cookie(&res, "latchkey_session").expect("a full session");
    assert_eq!(
        forward_auth(&app, Some(&id), FILES, "/x").await.status(),
        200
    );
}

/// Issue 15: a check writes nothing (the store's generation does not move)
/// and is counted in `/metrics` by answer.
#[tokio::test]
async fn a_check_writes_nothing_and_is_counted() {
    let app = site(|_| {}).await;
    let alice = session_of(&app, "alice").await;
    let bob = session_of(&app, "bob").await;
    // The first denial writes its audit event; the counted repeats do not.
    assert_eq!(
        forward_auth(&app, Some(&bob), FILES, "/").await.status(),
        403
    );
    let before = app.auth.store.generation();
    for _ in 0..20 {
        assert_eq!(
            forward_auth(&app, Some(&alice), FILES, "/").await.status(),
            200
        );
        assert_eq!(forward_auth(&app, None, FILES, "/").await.status(), 302);
        assert_eq!(
            forward_auth(&app, Some(&bob), FILES, "/").await.status(),
            403
        );
    }
    assert_eq!(
        app.auth.store.generation(),
        before,
        "a check committed a write"
    );
    let metrics = app.metrics().await;
    for line in [
        "latchkey_forward_auth_total{result=\"allowed\"} 20",
        "latchkey_forward_auth_total{result=\"sign_in\"} 20",
        "latchkey_forward_auth_total{result=\"denied\"} 21",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

/// F3: with `forward_auth.cookie_domain` the session cookie carries that
/// domain (`__Secure-` and Secure under HTTPS: see the unit test); a domain
/// that does not contain `base_url`'s host is refused at start.
#[tokio::test]
async fn f3_the_cookie_domain_reaches_the_guarded_hosts() {
    let app = site(|c| {
        c.server.base_url = BaseUrl::parse("http://auth.agency.lan").unwrap();
        c.forward_auth.cookie_domain = Some("agency.lan".into());
    })
    .await;
    let client = app.client();
    let res = helpers::login(&client, &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookie = helpers::set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("latchkey_session="))
        .unwrap();
    assert!(cookie.contains("Domain=agency.lan"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));

    for (domain, base) in [
        ("elsewhere.lan", "https://auth.agency.lan"),
        ("lan", "https://auth.agency.lan"),
        ("gency.lan", "https://auth.agency.lan"),
        (".agency.lan", "https://auth.agency.lan"),
    ] {
        let mut config = helpers::test_config(app.dir.path());
        config.server.base_url = BaseUrl::parse(base).unwrap();
        config.forward_auth.cookie_domain = Some(domain.into());
        let err = config.validate().expect_err(domain).to_string();
        assert!(err.contains("forward_auth.cookie_domain"), "{err}");
    }
}

/// Issue 15: the README's proxy configurations are the files the proxy
/// tests run, word for word.
#[test]
fn the_readme_carries_the_tested_proxy_configurations() {
    let readme = include_str!("../../README.md");
    for (name, file) in [
        (
            "Caddyfile",
            include_str!("../../packaging/forward-auth/Caddyfile"),
        ),
        (
            "nginx.conf",
            include_str!("../../packaging/forward-auth/nginx.conf"),
        ),
    ] {
        assert!(readme.contains(file), "README.md lacks {name} as it is");
    }
}
