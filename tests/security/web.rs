//! CSRF, headers and input (SECURITY C1-C3, I1-I5), mostly over raw sockets.

use std::time::{Duration, Instant};

use latchkey::control::protocol::{Request, UserChanges};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    PASSWORD, TestApp, form_token, login, new_user, request_reset, spawn_with, spawn_with_smtp,
    submit,
};
use crate::security::support::{Anon, Raw, anon, post_bytes, raw};

async fn signed_in(app: &TestApp, user: &str) -> (reqwest::Client, String) {
    let client = app.client();
    assert_eq!(login(&client, app, user, PASSWORD).await.status(), 303);
    let token = form_token(&client, &app.url("/profile")).await;
    (client, token)
}

async fn still_signed_in(client: &reqwest::Client, app: &TestApp) -> bool {
    client
        .get(app.url("/profile"))
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

/// C1: GET never mutates (GET /logout is 405 and the session lives); Origin
/// `null`, a look-alike host or `Sec-Fetch-Site: cross-site` are refused even
/// with the right token; a token in the query string does not count.
#[tokio::test(flavor = "multi_thread")]
async fn c1_cross_site_and_get_requests_change_nothing() {
    let app = spawn_with(|_| {}).await;
    app.add_user("cleo", PASSWORD).await;
    let (client, token) = signed_in(&app, "cleo").await;
    for path in ["/logout", "/profile/password", "/profile/contact"] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "GET {path}");
    }
    assert!(still_signed_in(&client, &app).await, "a GET signed out");
    let form = [("csrf_token", token.as_str())];
    for (name, value) in [
        ("origin", "null"),
        ("origin", "http://127.0.0.1.evil.example"),
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = client
            .post(app.url("/logout"))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{name}: {value}");
        assert!(
            still_signed_in(&client, &app).await,
            "{name}: {value} signed out"
        );
    }
    let res = client
        .post(app.url(&format!("/logout?csrf_token={token}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a token in the query string");
    assert!(still_signed_in(&client, &app).await);
    let csrf = app
        .audit_events(None)
        .await
        .into_iter()
        .filter(|e| e.event == "csrf_rejected")
        .count();
    assert!(csrf >= 5, "{csrf} csrf_rejected events");
}

fn assert_c2(res: &Raw, what: &str) {
    let csp = res
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    for part in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{what}: CSP lacks {part}");
    }
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.contains("charset=")),
        "{what}: no charset"
    );
    if let Some(server) = res.header("server") {
        assert!(
            !server.chars().any(|c| c.is_ascii_digit()),
            "{what}: Server: {server}"
        );
    }
    assert!(
        !res.body.contains("panicked") && !res.body.contains("src/"),
        "{what}: internals shown"
    );
}

/// C2: every error over a raw socket (400, 403, 404, 405, 410, 413, 422, 429)
/// carries the security headers, a charset and no server version.
#[tokio::test(flavor = "multi_thread")]
async fn c2_every_error_answer_on_the_wire_carries_the_headers() {
    let app = spawn_with(|c| c.rate_limit.per_ip_per_minute = 3).await;
    let a = anon(&app).await;
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
    };
    let post = |path: &str, body: &str| post_bytes(path, &a.cookie, "", body.as_bytes());
    let t = &a.token;
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (200, get("/login")),
        (200, get("/healthz")),
        (400, post("/login", "username=%zz")),
        (
            403,
            post("/login", "username=x&password=y&csrf_token=forged"),
        ),
        (404, get("/no/such/page")),
        (405, get("/logout")),
        (
            410,
            get("/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        (413, post("/login", &"a".repeat(17 * 1024))),
        (422, post("/setup/AAAA", &format!("csrf_token={t}"))),
        (
            401,
            post("/login", &format!("username=x&password=y&csrf_token={t}")),
        ),
        (
            401,
            post("/login", &format!("username=x&password=y&csrf_token={t}")),
        ),
        (
            401,
            post("/login", &format!("username=x&password=y&csrf_token={t}")),
        ),
        (
            429,
            post("/login", &format!("username=x&password=y&csrf_token={t}")),
        ),
    ];
    for (want, request) in cases {
        let res = raw(app.addr, &request).await;
        let line = String::from_utf8_lossy(&request[..30.min(request.len())]).to_string();
        if want == 422 {
            // A setup POST to a dead link: 410 or 422 are both fine here.
            assert!(
                res.status == 410 || res.status == 422,
                "{line}: {}",
                res.status
            );
        } else if want == 401 {
            assert!(
                [401, 403, 429].contains(&res.status),
                "{line}: {}",
                res.status
            );
        } else {
            assert_eq!(res.status, want, "{line}");
        }
        assert_c2(&res, &line);
    }
}

/// C3: every answer that sets a cookie, and every auth and profile page, is no-store.
#[tokio::test(flavor = "multi_thread")]
async fn c3_anything_with_a_cookie_or_a_secret_is_no_store() {
    let app = spawn_with(|_| {}).await;
    app.add_user("cora", PASSWORD).await;
    let client = app.client();
    let mut answers = Vec::new();
    for path in [
        "/login",
        "/forgot",
        "/help",
        "/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        answers.push((
            path.to_owned(),
            client.get(app.url(path)).send().await.unwrap(),
        ));
    }
    answers.push((
        "POST /login".into(),
        login(&client, &app, "cora", PASSWORD).await,
    ));
    for path in ["/", "/profile"] {
        answers.push((
            path.to_owned(),
            client.get(app.url(path)).send().await.unwrap(),
        ));
    }
    answers.push((
        "POST /logout".into(),
        submit(&client, &app, "/profile", "/logout", &[]).await,
    ));
    answers.push((
        "failed sign-in".into(),
        login(&app.client(), &app, "cora", "Wrong-Pass-9x").await,
    ));
    for (what, res) in &answers {
        let cc = res
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(cc.as_deref(), Some("no-store"), "{what}");
    }
    assert!(
        answers
            .iter()
            .any(|(_, r)| r.headers().contains_key("set-cookie"))
    );
}

/// I1: a 10 MB body (declared, and chunked without a length) is refused with
/// 413 without the server reading it all.
#[tokio::test(flavor = "multi_thread")]
async fn i1_ten_megabyte_bodies_are_refused() {
    let app = spawn_with(|_| {}).await;
    let a = anon(&app).await;
    let big = vec![b'a'; 10 * 1024 * 1024];
    let t = Instant::now();
    let res = raw(app.addr, &post_bytes("/login", &a.cookie, "", &big)).await;
    assert_eq!(res.status, 413);
    let mut chunked = format!(
        "POST /forgot HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        a.cookie
    )
    .into_bytes();
    for _ in 0..160 {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend(std::iter::repeat_n(b'b', 0x10000));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let res = raw(app.addr, &chunked).await;
    assert_eq!(res.status, 413);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
}

/// I1: a body promised as 100 bytes that arrives one byte a second is cut off
/// (408 or a closed connection) within about the 10 s body timeout.
#[tokio::test(flavor = "multi_thread")]
async fn i1_a_body_sent_one_byte_a_second_times_out() {
    let app = spawn_with(|_| {}).await;
    let Anon { cookie, .. } = anon(&app).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\nContent-Length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let (mut read, mut write) = stream.into_split();
    let dripper = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut buf = Vec::new();
    let read_all = tokio::time::timeout(Duration::from_secs(14), read.read_to_end(&mut buf)).await;
    let took = start.elapsed();
    dripper.abort();
    assert!(
        read_all.is_ok(),
        "the connection was still open after {took:?}"
    );
    let res = crate::security::support::parse_raw(&buf);
    assert!(
        res.status == 408 || buf.is_empty(),
        "answered {}",
        res.status
    );
    assert!(
        took < Duration::from_secs(13),
        "cut off only after {took:?}"
    );
    assert!(took >= Duration::from_secs(8), "cut off early ({took:?})");
}

/// I2: malformed bodies over a raw socket are a plain 400, never a 500 or a
/// dropped connection, and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn i2_malformed_bodies_on_the_wire_are_plain_400s() {
    let app = spawn_with(|_| {}).await;
    let a = anon(&app).await;
    let t = a.token.clone();
    let bodies: Vec<Vec<u8>> = vec![
        [
            b"username=\xff\xfe&password=x&csrf_token=".as_slice(),
            t.as_bytes(),
        ]
        .concat(),
        format!("username=%C3%28&password=x&csrf_token={t}").into_bytes(),
        format!("username=%zz&password=x&csrf_token={t}").into_bytes(),
        format!("username=%&password=x&csrf_token={t}").into_bytes(),
        format!("username=a&username=b&password=x&csrf_token={t}").into_bytes(),
        format!("username=a&password=x&csrf_token={t}&csrf_token={t}").into_bytes(),
        format!("username=a&%70assword=x&password=y&csrf_token={t}").into_bytes(),
        format!("username=%00%0d%0a&password=%u0041&csrf_token={t}").into_bytes(),
    ];
    for path in ["/login", "/forgot", "/setup/AAAA", "/reset/AAAA"] {
        for body in &bodies {
            let res = raw(app.addr, &post_bytes(path, &a.cookie, "", body)).await;
            assert_eq!(res.status, 400, "{path} {}", String::from_utf8_lossy(body));
            assert!(!res.body.contains("panicked"));
        }
    }
    let res = raw(app.addr, b"POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc").await;
    assert_eq!(res.status, 400, "not a form");
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
}

/// I3: zero-width, bidi, control and full-width/case twins are refused as new
/// user names (CLI and web setup), and HTML in a display name is escaped on
/// every page and in the HTML part of mail.
#[tokio::test(flavor = "multi_thread")]
async fn i3_deceptive_names_are_refused_and_display_names_escaped() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    for bad in [
        "ali\u{200B}ce2",
        "ali\u{202E}ce2",
        "ali\u{2066}ce2",
        "x\nINFO fake",
        "ALICE",
        "ａｌｉｃｅ",
        " Alice ",
        "al\u{0007}ice",
    ] {
        let res = app
            .admin(Request::UserAdd(new_user(bad, Some(PASSWORD))))
            .await;
        assert!(res.is_err(), "{bad:?} was created");
    }
    // The first-administrator form refuses them too, and the link survives.
    let setup = app.setup_link.clone().unwrap();
    let path = format!("/setup/{}", setup.rsplit('/').next().unwrap());
    for bad in ["ad\u{200D}min", "ad\u{202E}min", "ALICE"] {
        let res = submit(
            &app.client(),
            &app,
            &path,
            &path,
            &[
                ("username", bad),
                ("email", "a@example.org"),
                ("password", "Kettle-Red-43x"),
                ("confirm", "Kettle-Red-43x"),
            ],
        )
        .await;
        assert_eq!(res.status(), 422, "{bad:?}");
    }
    assert_eq!(app.status_of(&path).await, 200);

    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    app.admin(Request::UserSet {
        username: "alice".into(),
        changes: UserChanges {
            name: Some(evil.into()),
            ..UserChanges::default()
        },
    })
    .await
    .unwrap();
    let client = app.client();
    login(&client, &app, "alice", PASSWORD).await;
    for p in ["/", "/profile"] {
        let html = client
            .get(app.url(p))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains("<script>alert"), "{p} shows raw HTML");
        assert!(!html.contains("<img src=x"), "{p} shows raw HTML");
    }
    request_reset(&app.client(), &app, "alice").await;
    let mails = app.mail_in(&sink).await;
    let text = mails[0].text();
    let html = text.split("text/html").nth(1).expect("an HTML part");
    assert!(
        !html.contains("<script>alert"),
        "the HTML part of a mail carries raw HTML"
    );
}

/// I4: CR/LF in a display name, an email or a phone never reaches a mail
/// header (checked in the raw message the SMTP server got); over-long and
/// header-smuggling addresses are refused.
#[tokio::test(flavor = "multi_thread")]
async fn i4_crlf_never_reaches_a_mail_header() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("ivan", PASSWORD).await;
    let name_set = app
        .admin(Request::UserSet {
            username: "ivan".into(),
            changes: UserChanges {
                name: Some("Ivan\r\nBcc: evil@example.net".into()),
                ..UserChanges::default()
            },
        })
        .await;
    for bad in [
        "ivan@example.org\r\nBcc: evil@example.net",
        "ivan@example.org\nBcc: evil@example.net",
        "a@b.org%0d%0aBcc:x@y.org",
    ] {
        let res = app
            .admin(Request::UserSet {
                username: "ivan".into(),
                changes: UserChanges {
                    email: Some(bad.into()),
                    ..UserChanges::default()
                },
            })
            .await;
        assert!(res.is_err(), "{bad:?} accepted");
    }
    let long = format!("{}@{}.org", "a".repeat(64), "b".repeat(187));
    assert!(long.len() > 254);
    assert!(
        app.admin(Request::UserSet {
            username: "ivan".into(),
            changes: UserChanges {
                email: Some(long),
                ..UserChanges::default()
            }
        })
        .await
        .is_err()
    );
    let (client, token) = signed_in(&app, "ivan").await;
    for (email, phone) in [
        ("ivan@example.org", "+1 555\r\nX-Evil: 1"),
        ("ivan@example.org\r\nBcc: evil@example.net", ""),
    ] {
        let res = client
            .post(app.url("/profile/contact"))
            .form(&[
                ("email", email),
                ("phone", phone),
                ("current_password", PASSWORD),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{email:?} / {phone:?}");
    }
    request_reset(&app.client(), &app, "ivan").await;
    let mails = app.mail_in(&sink).await;
    for m in &mails {
        assert!(m.to.iter().all(|t| !t.contains("evil")), "{:?}", m.to);
        let head = m.raw.split("\r\n\r\n").next().unwrap();
        assert!(!head.to_ascii_lowercase().contains("bcc:"), "{head}");
        assert!(!head.contains("X-Evil"), "{head}");
    }
    if name_set.is_ok() {
        eprintln!("I4: a display name with CR/LF was accepted and stayed out of the headers");
    }
}

/// I5: from an untrusted peer, a rotating forged X-Forwarded-For neither
/// changes the audited address nor escapes the per-address limit; from a
/// trusted proxy the rightmost untrusted hop is the client, garbage is not.
#[tokio::test(flavor = "multi_thread")]
async fn i5_forwarded_for_is_believed_only_from_trusted_proxies() {
    let app = spawn_with(|c| c.rate_limit.per_ip_per_minute = 3).await;
    let a = anon(&app).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let body = format!("username=x&password=y&csrf_token={}", a.token);
        let xff = format!("X-Forwarded-For: 203.0.113.{i}\r\nX-Real-IP: 203.0.113.{i}\r\n");
        statuses.push(
            raw(
                app.addr,
                &post_bytes("/login", &a.cookie, &xff, body.as_bytes()),
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses[4], 429, "{statuses:?}");
    let ips: Vec<_> = app
        .audit_events(None)
        .await
        .into_iter()
        .filter_map(|e| e.ip)
        .collect();
    assert!(ips.iter().all(|ip| ip == "127.0.0.1"), "{ips:?}");

    let app = spawn_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let a = anon(&app).await;
    for xff in ["198.51.100.1, 203.0.113.9", "not-an-address"] {
        let body = format!("username=x&password=y&csrf_token={}", a.token);
        raw(
            app.addr,
            &post_bytes(
                "/login",
                &a.cookie,
                &format!("X-Forwarded-For: {xff}\r\n"),
                body.as_bytes(),
            ),
        )
        .await;
    }
    let ips: Vec<_> = app
        .audit_events(None)
        .await
        .into_iter()
        .filter(|e| e.event == "login_failed")
        .filter_map(|e| e.ip)
        .collect();
    assert_eq!(ips, vec!["203.0.113.9".to_owned(), "127.0.0.1".to_owned()]);
}
