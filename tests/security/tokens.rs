//! Reset and setup tokens (SECURITY R1-R9): entropy, storage, single use,
//! expiry, voiding, link origin, page headers, the reset form and limits.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use latchkey::config::{BaseUrl, Dur};
use latchkey::control::protocol::{Request, UserChanges};

use crate::helpers::{
    PASSWORD, TestApp, change_password, login, request_reset, spawn_with, spawn_with_smtp, submit,
};
use crate::security::support::{anon, assert_no_secret, post_bytes, raw};

const NEW: &str = "Fresh-Start-99x";

/// GET and POST status of a replayed link, POSTed raw with a valid CSRF token.
async fn replay(app: &TestApp, token: &str) -> (u16, u16) {
    let get = app
        .client()
        .get(app.url(&format!("/reset/{token}")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let a = anon(app).await;
    let body = format!("password={NEW}&confirm={NEW}&csrf_token={}", a.token);
    let post = raw(
        app.addr,
        &post_bytes(&format!("/reset/{token}"), &a.cookie, "", body.as_bytes()),
    )
    .await;
    (get, post.status)
}

async fn choose(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    pw: &str,
    confirm: &str,
) -> u16 {
    let path = format!("/reset/{token}");
    submit(
        client,
        app,
        &path,
        &path,
        &[("password", pw), ("confirm", confirm)],
    )
    .await
    .status()
    .as_u16()
}

/// R1: 64 tokens are distinct, URL-safe, carry >= 128 bits, and no bit
/// position is constant across them.
#[tokio::test(flavor = "multi_thread")]
async fn r1_tokens_are_long_random_and_url_safe() {
    let app = spawn_with(|_| {}).await;
    app.add_user("rita", PASSWORD).await;
    let mut seen = HashSet::new();
    let (mut ones, mut zeros) = (0u128, 0u128);
    for _ in 0..64 {
        let token = app.reset_token("rita").await;
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token} is not URL-safe"
        );
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .expect("base64url");
        assert!(bytes.len() >= 16, "{} bytes", bytes.len());
        let bits = u128::from_le_bytes(bytes[..16].try_into().unwrap());
        ones |= bits;
        zeros |= !bits;
        assert!(seen.insert(token), "a token repeated");
    }
    assert_eq!(
        ones & zeros,
        u128::MAX,
        "some bit never changes across 64 tokens"
    );
    // The first administrator's setup link too.
    let app = spawn_with(|_| {}).await;
    let link = app.setup_link.clone().expect("a first-admin link");
    let token = link.rsplit('/').next().unwrap();
    assert!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap()
            .len()
            >= 16
    );
}

/// R2: neither the redb file nor a backup holds a live or spent token in any
/// encoding (as typed, hex, or its raw bytes).
#[tokio::test(flavor = "multi_thread")]
async fn r2_no_token_in_the_data_file_or_a_backup() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("ruth", PASSWORD).await;
    app.add_user("saul", PASSWORD).await;
    let live = app.reset_token("ruth").await;
    request_reset(&app.client(), &app, "saul").await;
    let mails = app.mail_in(&sink).await;
    let spent = mails[0].token("/reset/").unwrap();
    assert_eq!(choose(&app, &app.client(), &spent, NEW, NEW).await, 303);
    let setup = app.setup_link.clone().unwrap();
    let setup = setup.rsplit('/').next().unwrap().to_owned();
    let backup = app.dir.path().join("r2.backup");
    app.admin(Request::Backup {
        path: backup.clone(),
    })
    .await
    .unwrap();
    let secrets = [
        ("live token", live.as_str()),
        ("spent token", spent.as_str()),
        ("setup token", setup.as_str()),
    ];
    for file in crate::security::support::files_under(app.data_dir()) {
        if file.extension().is_some_and(|e| e == "eml") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert_no_secret(&file.display().to_string(), &bytes, &secrets);
    }
    assert_no_secret("the backup", &std::fs::read(&backup).unwrap(), &secrets);
}

/// R3: prefetching (GET, HEAD) spends nothing; 20 parallel POSTs from separate
/// browsers with different passwords: exactly one wins, and it is its password that works.
#[tokio::test(flavor = "multi_thread")]
async fn r3_prefetch_spends_nothing_and_one_of_twenty_posts_wins() {
    let app = spawn_with(|c| c.rate_limit.per_ip_per_minute = 10_000).await;
    app.add_user("rosa", PASSWORD).await;
    let token = app.reset_token("rosa").await;
    let path = format!("/reset/{token}");
    for _ in 0..5 {
        assert_eq!(app.status_of(&path).await, 200);
        let head = app
            .client()
            .head(app.url(&path))
            .send()
            .await
            .unwrap()
            .status();
        assert!(head == 200 || head == 405, "HEAD answered {head}");
    }
    let mut prepared = Vec::new();
    for i in 0..20 {
        let client = app.client();
        let html = client
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        prepared.push((
            client,
            crate::helpers::csrf_token(&html),
            format!("Winner-{i:02}-Pass!x"),
        ));
    }
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|(client, csrf, pw)| {
            let (url, gate) = (app.url(&path), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                let form = [
                    ("password", pw.as_str()),
                    ("confirm", pw.as_str()),
                    ("csrf_token", csrf.as_str()),
                ];
                (
                    client
                        .post(&url)
                        .form(&form)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16(),
                    pw,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (status, pw) = t.await.unwrap();
        match status {
            303 => winners.push(pw),
            410 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        login(&app.client(), &app, "rosa", &winners[0])
            .await
            .status(),
        303
    );
}

/// R4: a link dies after `reset.link_ttl` by the server's clock, whatever
/// `Date` the client claims.
#[tokio::test(flavor = "multi_thread")]
async fn r4_links_expire_by_the_server_clock() {
    let app = spawn_with(|c| c.reset.link_ttl = Dur(Duration::from_secs(1))).await;
    app.add_user("tess", PASSWORD).await;
    let token = app.reset_token("tess").await;
    app.advance(Duration::from_millis(1500));
    let res = app
        .client()
        .get(app.url(&format!("/reset/{token}")))
        .header("Date", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let a = anon(&app).await;
    let body = format!("password={NEW}&confirm={NEW}&csrf_token={}", a.token);
    let extra = "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\n";
    let post = raw(
        app.addr,
        &post_bytes(
            &format!("/reset/{token}"),
            &a.cookie,
            extra,
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(post.status, 410);
    assert_eq!(login(&app.client(), &app, "tess", NEW).await.status(), 401);
}

/// R5: a link replayed after each voiding event is dead, by GET and by POST:
/// a newer request, a password change, a lock, an email change and a reset.
#[tokio::test(flavor = "multi_thread")]
async fn r5_links_replayed_after_each_voiding_event_are_dead() {
    let app = spawn_with(|_| {}).await;
    for u in ["v1", "v2", "v3", "v4", "v5"] {
        app.add_user(u, PASSWORD).await;
    }
    // A newer request.
    let old = app.reset_token("v1").await;
    request_reset(&app.client(), &app, "v1").await;
    assert_eq!(
        replay(&app, &old).await,
        (410, 410),
        "after a newer request"
    );

    // A password change on the profile.
    let old = app.reset_token("v2").await;
    let client = app.client();
    login(&client, &app, "v2", PASSWORD).await;
    let res = change_password(&client, &app, PASSWORD, NEW).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        replay(&app, &old).await,
        (410, 410),
        "after a password change"
    );

    // A lock.
    let old = app.reset_token("v3").await;
    for _ in 0..3 {
        login(&app.client(), &app, "v3", "Wrong-Guess-11x").await;
    }
    assert_eq!(replay(&app, &old).await, (410, 410), "after a lock");

    // An email change (by the administrator, and requested on the profile).
    let old = app.reset_token("v4").await;
    app.admin(Request::UserSet {
        username: "v4".into(),
        changes: UserChanges {
            email: Some("v4-new@example.org".into()),
            ..UserChanges::default()
        },
    })
    .await
    .unwrap();
    assert_eq!(
        replay(&app, &old).await,
        (410, 410),
        "after an email change"
    );

    // A completed reset voids the user's other links (a setup-kind link here is
    // not issued, so issue two resets: the older is voided by the newer anyway);
    // the completed one cannot be replayed.
    let used = app.reset_token("v5").await;
    assert_eq!(choose(&app, &app.client(), &used, NEW, NEW).await, 303);
    assert_eq!(replay(&app, &used).await, (410, 410), "after its own use");
}

/// R6: links come from `server.base_url`, whatever Host, X-Forwarded-Host,
/// X-Forwarded-Proto or Forwarded say, even from a trusted proxy.
#[tokio::test(flavor = "multi_thread")]
async fn r6_forged_host_headers_never_reach_a_link() {
    let (app, sink) = spawn_with_smtp(|c| {
        c.server.base_url = BaseUrl::parse("https://login.agency.example").unwrap();
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.add_user("hank", PASSWORD).await;
    let a = anon(&app).await;
    let body = format!("username=hank&csrf_token={}", a.token);
    let forged = "Host: evil.example\r\nX-Forwarded-Host: evil.example\r\n\
                  X-Forwarded-Proto: http\r\nForwarded: host=evil.example;proto=http\r\n\
                  X-Forwarded-For: 203.0.113.7\r\n";
    let mut req = post_bytes("/forgot", &a.cookie, forged, body.as_bytes());
    // post_bytes writes its own Host first; the forged one comes later as a duplicate.
    let text = String::from_utf8(req.clone())
        .unwrap()
        .replacen("Host: 127.0.0.1\r\n", "", 1);
    req = text.into_bytes();
    let res = raw(app.addr, &req).await;
    assert!(res.status == 200 || res.status == 400, "{}", res.status);
    // A plain request with only a forged Host, too.
    let res = crate::security::support::raw(
        app.addr,
        &post_bytes(
            "/forgot",
            &a.cookie,
            "X-Forwarded-Host: evil.example\r\n",
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    let mails = app.mail_in(&sink).await;
    assert!(!mails.is_empty());
    for m in &mails {
        let text = m.text();
        assert!(
            !text.contains("evil.example"),
            "a forged host reached a mail"
        );
        assert!(
            m.link("/reset/")
                .unwrap()
                .starts_with("https://login.agency.example/reset/")
        );
    }
}

/// R7: the reset page and its 410 answer: no-referrer, no-store, and nothing
/// loaded from another origin (every src/href is same-origin).
#[tokio::test(flavor = "multi_thread")]
async fn r7_reset_pages_leak_nothing_to_third_parties() {
    let app = spawn_with(|_| {}).await;
    app.add_user("una", PASSWORD).await;
    let token = app.reset_token("una").await;
    for (path, status) in [
        (format!("/reset/{token}"), 200),
        ("/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(), 410),
    ] {
        let res = app.client().get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), status);
        let h = res.headers().clone();
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        let html = res.text().await.unwrap();
        for attr in ["src=\"", "href=\"", "action=\""] {
            for piece in html.split(attr).skip(1) {
                let url = piece.split('"').next().unwrap();
                assert!(
                    url.starts_with('/') && !url.starts_with("//")
                        || url.starts_with('#')
                        || url.starts_with("mailto:"),
                    "{path}: {attr}{url} is not same-origin"
                );
            }
        }
        assert!(!html.contains(&format!("{token}\" ")) || status == 200);
    }
}

/// R8: the server checks both fields and the full policy whatever the browser
/// sends (a missing confirm, a near-miss confirm, the current password, a
/// password over 1 KiB); the link survives each refusal; success ends three
/// live sessions and mails a notice.
#[tokio::test(flavor = "multi_thread")]
async fn r8_reset_form_is_checked_server_side_and_success_ends_every_session() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("vera", PASSWORD).await;
    let sessions: Vec<_> = (0..3).map(|_| app.client()).collect();
    for s in &sessions {
        assert_eq!(login(s, &app, "vera", PASSWORD).await.status(), 303);
    }
    let token = app.reset_token("vera").await;
    let path = format!("/reset/{token}");
    let a = anon(&app).await;
    let huge = "Aa1!".repeat(300);
    for body in [
        format!("password={NEW}&csrf_token={}", a.token),
        format!("password={NEW}&confirm={NEW}x&csrf_token={}", a.token),
        format!(
            "password={PASSWORD}&confirm={PASSWORD}&csrf_token={}",
            a.token
        ),
        format!("password={huge}&confirm={huge}&csrf_token={}", a.token).replace('!', "%21"),
        format!("password=short&confirm=short&csrf_token={}", a.token),
    ] {
        let res = raw(app.addr, &post_bytes(&path, &a.cookie, "", body.as_bytes())).await;
        assert_eq!(res.status, 422, "{}", &body[..40.min(body.len())]);
    }
    assert_eq!(app.status_of(&path).await, 200, "the link survived");
    assert_eq!(choose(&app, &app.client(), &token, NEW, NEW).await, 303);
    for s in &sessions {
        let res = s.get(app.url("/profile")).send().await.unwrap();
        assert_eq!(res.status(), 303, "a session outlived the reset");
    }
    let mails = app.mail_in(&sink).await;
    assert!(
        mails
            .iter()
            .any(|m| m.raw.contains("Your password was changed"))
    );
}

/// R9: token guessing is limited per address, and a forged X-Forwarded-For
/// from an untrusted peer does not buy a fresh allowance; `/forgot` past the
/// limit looks the same but sends nothing; every hit is audited.
#[tokio::test(flavor = "multi_thread")]
async fn r9_guessing_and_forgot_are_limited_and_forged_addresses_do_not_help() {
    let (app, sink) = spawn_with_smtp(|c| c.rate_limit.per_ip_per_minute = 5).await;
    app.add_user("wade", PASSWORD).await;
    let a = anon(&app).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let guess = format!("{:0>43}", i);
        let body = format!("password={NEW}&confirm={NEW}&csrf_token={}", a.token);
        let xff = format!("X-Forwarded-For: 198.51.100.{i}\r\n");
        let res = raw(
            app.addr,
            &post_bytes(&format!("/reset/{guess}"), &a.cookie, &xff, body.as_bytes()),
        )
        .await;
        statuses.push(res.status);
    }
    assert!(statuses[..5].iter().all(|s| *s == 410), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // /forgot is over the limit too: the same page, but no mail.
    let body = format!("username=wade&csrf_token={}", a.token);
    let res = raw(
        app.addr,
        &post_bytes(
            "/forgot",
            &a.cookie,
            "X-Forwarded-For: 192.0.2.1\r\n",
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert!(
        app.mail_in(&sink).await.is_empty(),
        "a mail went out past the limit"
    );
    let limited = app
        .audit_events(None)
        .await
        .into_iter()
        .filter(|e| e.event == "rate_limited")
        .collect::<Vec<_>>();
    assert!(limited.len() >= 4, "{limited:?}");
    assert!(limited.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
}
