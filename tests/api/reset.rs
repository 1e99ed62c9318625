//! The password lifecycle through emailed reset links (CONTRACT sections 2, 4, 5;
//! SECURITY L3, L4, R1-R9, D2).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{QueuedMail, Request, Response};

use crate::helpers::*;
use crate::smtp::Received;

/// Passwords that meet the default policy, all different from [`PASSWORD`].
const NEW_PASSWORD: &str = "Lantern-Green-73q";
const THIRD_PASSWORD: &str = "Harbour-Stone-58w";
const FOURTH_PASSWORD: &str = "Meadow-Copper-91k";

const HELPDESK: &str = "desk@agency.example";
const LINK_PREFIX: &str = "http://127.0.0.1:8080/reset/";

// ---------------------------------------------------------------------------
// Story helpers
// ---------------------------------------------------------------------------

/// `POST /forgot` for `username`; the status and the page.
async fn forgot(app: &TestApp, client: &reqwest::Client, username: &str) -> (u16, String) {
    let res = request_reset(client, app, username).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The same page with its CSRF token and the echoed user name blanked out.
fn normalised(page: &str, username: &str) -> String {
    page.replace(&csrf_token(page), "{CSRF}")
        .replace(username, "{USER}")
}

/// The reset token in the `n`-th message (1-based) the sink receives.
async fn nth_token(app: &TestApp, sink: &SmtpSink, n: usize) -> String {
    let mail = app.mail_in(sink).await;
    assert!(mail.len() >= n, "expected {n} messages, got {}", mail.len());
    let m = &mail[n - 1];
    m.token("/reset/")
        .unwrap_or_else(|| panic!("message {n} has a reset link:\n{}", m.text()))
}

/// Asks for a reset of `username` and returns the token mailed for it.
async fn request_token(app: &TestApp, sink: &SmtpSink, username: &str) -> String {
    let before = sink.messages().len();
    let (status, _) = forgot(app, &app.client(), username).await;
    assert_eq!(status, 200);
    nth_token(app, sink, before + 1).await
}

/// `POST /reset/{token}`; the CSRF token comes from `/forgot`, so this works
/// whether or not the link is still live.
async fn post_reset(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    submit(
        client,
        app,
        "/forgot",
        &format!("/reset/{token}"),
        &[("password", password), ("confirm", confirm)],
    )
    .await
}

/// Sets `password` through the link `token`; the status and the page.
async fn choose(app: &TestApp, token: &str, password: &str) -> (u16, String) {
    let res = post_reset(app, &app.client(), token, password, password).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The error list of a form page (not the rules box, which words rules alike).
fn errors_of(html: &str) -> &str {
    let Some(start) = html.find("id=\"form-errors\"") else {
        return "";
    };
    let end = html[start..]
        .find("</ul>")
        .map_or(html.len(), |i| start + i);
    &html[start..end]
}

/// Whether `page` is the 410 page for a dead link.
fn says_link_is_gone(page: &str) -> bool {
    page.contains("expired") && page.contains("already used")
}

/// Whether a fresh sign-in with `password` succeeds (303 to `/`).
async fn signs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let res = login(&app.client(), app, username, password).await;
    res.status() == 303 && location(&res) == "/"
}

/// Locks `username` with `lockout.max_failures` wrong passwords.
async fn lock(app: &TestApp, username: &str) {
    let client = app.client();
    for i in 0..app.config.lockout.max_failures {
        login(&client, app, username, &format!("Wrong-Guess-{i}!")).await;
    }
    let res = login(&client, app, username, PASSWORD).await;
    assert_eq!(res.status(), 403, "{username} is locked");
}

/// Longer than the worker's longest wait between two attempts at a message.
const PAST_ANY_BACKOFF: Duration = Duration::from_secs(5 * 60 + 1);

/// Delivers everything due through the server's mail worker; then every
/// message the sink will ever get from what was queued so far has arrived.
async fn delivered(app: &TestApp, sink: &SmtpSink) -> Vec<Received> {
    app.deliver_mail().await;
    assert!(app.mail_queue().await.is_empty(), "outbox not emptied");
    sink.messages()
}

/// Attempts the one queued message (the SMTP server is down) and returns it
/// once it has failed at least once.
async fn failed_once(app: &TestApp) -> QueuedMail {
    app.deliver_mail().await;
    let queue = app.mail_queue().await;
    match queue.as_slice() {
        [m] if m.attempts >= 1 => m.clone(),
        _ => panic!("no failed attempt recorded: {queue:?}"),
    }
}

fn redb_bytes(data_dir: &Path) -> Vec<u8> {
    std::fs::read(data_dir.join("latchkey.redb")).expect("the data file exists")
}

// ---------------------------------------------------------------------------
// One link, one use (CONTRACT 4 and 5; R1, R3, R7, R8)
// ---------------------------------------------------------------------------

/// CONTRACT 5, R1, R3, R7, R8: the mailed link shows the form as often as it
/// is opened, sets the password once, and is dead (410) afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn reset_link_is_mailed_and_works_exactly_once_r1_r3_r7() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;

    let (status, _) = forgot(&app, &app.client(), "alice").await;
    assert_eq!(status, 200);
    let mail = app.mail_in(&sink).await;
    let m = &mail[0];
    assert_eq!(m.from, app.config.mail.from.as_str());
    assert!(
        m.header("From")
            .unwrap()
            .contains(app.config.mail.from.as_str())
    );
    assert_eq!(m.to, vec!["alice@example.org".to_string()]);
    assert!(m.raw.contains("multipart/alternative"), "{}", m.raw);
    assert!(m.raw.contains("text/plain") && m.raw.contains("text/html"));
    let link = m.link("/reset/").expect("a reset link");
    let token = m.token("/reset/").unwrap();
    assert_eq!(link, format!("{LINK_PREFIX}{token}"));
    assert_eq!(token.len(), 43, "256 bits, base64url: {token}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let path = format!("/reset/{token}");

    let client = app.client();
    for _ in 0..2 {
        let res = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET does not spend the link (R3)");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let page = res.text().await.unwrap();
        assert!(page.contains("name=\"password\"") && page.contains("name=\"confirm\""));
        assert!(page.contains("Between 8 and 50 characters"), "{page}");
        assert!(page.contains("At least one upper-case letter"), "{page}");
    }

    let res = post_reset(&app, &client, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");

    assert!(signs_in(&app, "alice", NEW_PASSWORD).await);
    assert!(!signs_in(&app, "alice", PASSWORD).await);

    let res = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 410);
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(says_link_is_gone(&res.text().await.unwrap()));
    let res = post_reset(&app, &client, &token, THIRD_PASSWORD, THIRD_PASSWORD).await;
    assert_eq!(res.status(), 410);
    assert!(says_link_is_gone(&res.text().await.unwrap()));
    assert!(signs_in(&app, "alice", NEW_PASSWORD).await, "unchanged");
}

/// R4: past `reset.link_ttl` the link is dead, for GET and POST.
#[tokio::test(flavor = "multi_thread")]
async fn reset_link_expires_after_link_ttl_r4() {
    let (app, sink) = spawn_with_smtp(|c| c.reset.link_ttl = Dur::secs(1)).await;
    app.add_user("alice", PASSWORD).await;
    let token = request_token(&app, &sink, "alice").await;
    let path = format!("/reset/{token}");
    let client = app.client();
    assert_eq!(
        client.get(app.url(&path)).send().await.unwrap().status(),
        200
    );

    app.advance(Duration::from_millis(1200));

    let res = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 410);
    assert!(says_link_is_gone(&res.text().await.unwrap()));
    let res = post_reset(&app, &client, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 410);
    assert!(signs_in(&app, "alice", PASSWORD).await);
}

/// R5: a second request voids the link of the first.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_request_voids_the_older_link_r5() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;

    let first = request_token(&app, &sink, "alice").await;
    let second = request_token(&app, &sink, "alice").await;
    assert_ne!(first, second);

    let client = app.client();
    let res = client
        .get(app.url(&format!("/reset/{first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let res = post_reset(&app, &client, &first, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 410);
    let res = post_reset(&app, &client, &second, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert!(signs_in(&app, "alice", NEW_PASSWORD).await);
}

// ---------------------------------------------------------------------------
// The new password (R8; CONTRACT 4 POST /reset)
// ---------------------------------------------------------------------------

/// R8, P1, P2: each broken rule and a differing confirmation give 422 with
/// their own sentence, and the link stays usable.
#[tokio::test(flavor = "multi_thread")]
async fn each_broken_rule_is_named_and_the_link_survives_r8() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let token = app.reset_token("alice").await;
    let cases = [
        ("Ab1!xyz", "Use at least 8 characters."),
        ("kettle-blue-42x", "Include an upper-case letter."),
        ("KETTLE-BLUE-42X", "Include a lower-case letter."),
        ("Kettle-Blue-Fox", "Include a digit."),
        (
            "KettleBlue42x",
            "Include a special character (not a letter or digit).",
        ),
        (
            "Password1!",
            "This password is too common; choose one that is harder to guess.",
        ),
    ];
    let client = app.client();
    for (password, sentence) in cases {
        let res = post_reset(&app, &client, &token, password, password).await;
        assert_eq!(res.status(), 422, "{password}");
        let page = res.text().await.unwrap();
        assert!(
            errors_of(&page).contains(sentence),
            "{password}: expected {sentence:?} in {}",
            errors_of(&page)
        );
    }
    let res = post_reset(&app, &client, &token, NEW_PASSWORD, THIRD_PASSWORD).await;
    assert_eq!(res.status(), 422);
    assert!(errors_of(&res.text().await.unwrap()).contains("differ"));

    assert!(signs_in(&app, "alice", PASSWORD).await, "nothing changed");
    let res = post_reset(&app, &client, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 303, "a 422 does not spend the link");
    assert!(signs_in(&app, "alice", NEW_PASSWORD).await);
}

/// R8, `policy.history`: the current password and the last `history` ones are
/// refused; older ones are allowed again.
#[tokio::test(flavor = "multi_thread")]
async fn recent_passwords_are_refused_r8_history() {
    let app = spawn_with(|c| c.policy.history = 2).await;
    app.add_user("alice", PASSWORD).await;

    let token = app.reset_token("alice").await;
    let (status, page) = choose(&app, &token, PASSWORD).await;
    assert_eq!(status, 422, "the current password");
    assert!(errors_of(&page).contains("not used recently"), "{page}");
    assert_eq!(choose(&app, &token, NEW_PASSWORD).await.0, 303);
    let token = app.reset_token("alice").await;
    assert_eq!(choose(&app, &token, THIRD_PASSWORD).await.0, 303);

    let token = app.reset_token("alice").await;
    for recent in [PASSWORD, NEW_PASSWORD, THIRD_PASSWORD] {
        let (status, page) = choose(&app, &token, recent).await;
        assert_eq!(status, 422, "{recent} is recent");
        assert!(errors_of(&page).contains("not used recently"));
    }
    assert_eq!(choose(&app, &token, FOURTH_PASSWORD).await.0, 303);

    // Current: FOURTH; remembered: THIRD and NEW. The first one has aged out.
    let token = app.reset_token("alice").await;
    assert_eq!(choose(&app, &token, PASSWORD).await.0, 303);
    assert!(signs_in(&app, "alice", PASSWORD).await);
}

/// R8, S4: completing a reset ends every session of the account and mails a notice.
#[tokio::test(flavor = "multi_thread")]
async fn a_reset_revokes_other_sessions_and_mails_a_notice_r8_s4() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let a = app.client();
    assert_eq!(login(&a, &app, "alice", PASSWORD).await.status(), 303);
    assert_eq!(a.get(app.url("/")).send().await.unwrap().status(), 200);

    let token = request_token(&app, &sink, "alice").await;
    let b = app.client();
    let res = post_reset(&app, &b, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 303);

    let res = a.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");

    let mail = app.mail_in(&sink).await;
    let notice = mail
        .iter()
        .find(|m| {
            m.header("Subject")
                .is_some_and(|s| s.to_lowercase().contains("changed"))
        })
        .expect("a password-changed notice");
    assert_eq!(notice.to, vec!["alice@example.org".to_string()]);
    assert!(notice.link("/reset/").is_none());
}

/// R3: twenty parallel POSTs of one link: exactly one succeeds, the rest see 410.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_posts_spend_a_link_once_r3() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let token = request_token(&app, &sink, "alice").await;
    let url = app.url(&format!("/reset/{token}"));

    let mut ready = Vec::new();
    for _ in 0..20 {
        let client = app.client();
        let page = client.get(&url).send().await.unwrap().text().await.unwrap();
        ready.push((client, csrf_token(&page)));
    }
    let start = Arc::new(tokio::sync::Barrier::new(ready.len()));
    let posts: Vec<_> = ready
        .into_iter()
        .map(|(client, csrf)| {
            let (url, start) = (url.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let form = [
                    ("password", NEW_PASSWORD),
                    ("confirm", NEW_PASSWORD),
                    ("csrf_token", csrf.as_str()),
                ];
                let res = client.post(&url).form(&form).send().await.unwrap();
                res.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }

    assert_eq!(
        statuses.iter().filter(|&&s| s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 303 || s == 410),
        "{statuses:?}"
    );
    assert_eq!(app.count_events("reset_completed", Some("alice")).await, 1);
    assert!(signs_in(&app, "alice", NEW_PASSWORD).await);
}

// ---------------------------------------------------------------------------
// Locked accounts (L4)
// ---------------------------------------------------------------------------

/// L4: a locked account's owner gets the locked notice with the helpdesk
/// address and no link, and a link issued before the lock is dead.
#[tokio::test(flavor = "multi_thread")]
async fn a_locked_account_gets_a_notice_instead_of_a_link_l4() {
    let (app, sink) = spawn_with_smtp(|c| c.helpdesk.email = HELPDESK.into()).await;
    app.add_user("alice", PASSWORD).await;
    let before_lock = request_token(&app, &sink, "alice").await;
    let sent_before = delivered(&app, &sink).await.len();

    lock(&app, "alice").await;
    let (status, _) = forgot(&app, &app.client(), "alice").await;
    assert_eq!(status, 200);

    let mail = delivered(&app, &sink).await;
    let after: Vec<_> = mail[sent_before..]
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "alice@example.org"))
        .collect();
    assert_eq!(after.len(), 1, "exactly one message after the lock");
    let text = after[0].text();
    assert!(!text.contains("/reset/"), "{text}");
    assert!(text.contains(HELPDESK), "{text}");
    assert!(text.to_lowercase().contains("locked"), "{text}");

    let client = app.client();
    let res = client
        .get(app.url(&format!("/reset/{before_lock}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410, "links die with the lock");
    let res = post_reset(&app, &client, &before_lock, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 410);
}

/// CONTRACT 3 `reset-link --send`: works on a locked account; completing it unlocks.
#[tokio::test(flavor = "multi_thread")]
async fn admin_reset_link_unlocks_a_locked_account() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    lock(&app, "alice").await;

    let answer = app
        .admin(Request::ResetLink {
            username: "alice".into(),
            send: true,
        })
        .await
        .expect("reset-link works on a locked account");
    let Response::Link { link, mailed_to } = answer else {
        panic!("unexpected {answer:?}");
    };
    assert!(link.starts_with(LINK_PREFIX), "{link}");
    assert_eq!(mailed_to.as_deref(), Some("alice@example.org"));
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail[0].link("/reset/").as_deref(), Some(link.as_str()));

    let token = link.rsplit('/').next().unwrap();
    let (status, _) = choose(&app, token, NEW_PASSWORD).await;
    assert_eq!(status, 303);
    assert!(signs_in(&app, "alice", NEW_PASSWORD).await, "unlocked");
}

// ---------------------------------------------------------------------------
// One answer for every name (L3, R6, R9)
// ---------------------------------------------------------------------------

/// L3: `/forgot` answers alike for an existing, an unknown, a locked and a
/// disabled account. (Accounts cannot be created without an email, so the
/// no-email case cannot be set up from outside.)
#[tokio::test(flavor = "multi_thread")]
async fn forgot_answers_alike_for_every_name_l3() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("amber1", PASSWORD).await;
    app.add_user("lockd1", PASSWORD).await;
    app.add_user("offed1", PASSWORD).await;
    lock(&app, "lockd1").await;
    app.admin(Request::UserDisable {
        username: "offed1".into(),
    })
    .await
    .unwrap();

    let mut answers = Vec::new();
    for name in ["amber1", "ghost1", "lockd1", "offed1"] {
        let (status, page) = forgot(&app, &app.client(), name).await;
        answers.push((name, status, normalised(&page, name)));
    }

    let (_, status, page) = &answers[0];
    assert_eq!(*status, 200);
    for (name, s, p) in &answers[1..] {
        assert_eq!(s, status, "{name}");
        assert_eq!(p, page, "{name} answers differently");
    }
    let mail = delivered(&app, &sink).await;
    assert_eq!(sink.to("amber1@example.org").len(), 1);
    assert_eq!(sink.to("lockd1@example.org").len(), 1);
    assert!(sink.to("offed1@example.org").is_empty());
    assert_eq!(mail.len(), 2);
}

/// R6: links come from `server.base_url`, never from Host or X-Forwarded-Host.
#[tokio::test(flavor = "multi_thread")]
async fn links_ignore_a_forged_host_r6() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let page = text_of(&client, &app.url("/forgot")).await;

    let res = client
        .post(app.url("/forgot"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .form(&[("username", "alice"), ("csrf_token", &csrf_token(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1);
    let link = mail[0].link("/reset/").unwrap();
    assert!(link.starts_with(LINK_PREFIX), "{link}");
    assert!(!mail[0].text().contains("evil.example"));
}

/// R9: `reset.max_per_hour` caps the mails per account; the answer does not change.
#[tokio::test(flavor = "multi_thread")]
async fn reset_mails_per_account_are_capped_r9() {
    let (app, sink) = spawn_with_smtp(|c| c.reset.max_per_hour = 1).await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let (s1, p1) = forgot(&app, &client, "alice").await;
    let (s2, p2) = forgot(&app, &client, "alice").await;

    assert_eq!((s1, s2), (200, 200));
    assert_eq!(normalised(&p1, "alice"), normalised(&p2, "alice"));
    let mail = delivered(&app, &sink).await;
    assert_eq!(mail.len(), 1, "one mail per hour");
    assert_eq!(app.count_events("rate_limited", Some("alice")).await, 1);
}

/// R9: past `rate_limit.per_ip_per_minute`, `/forgot` still answers its page but
/// sends nothing (audited), and `POST /reset/*` answers 429.
#[tokio::test(flavor = "multi_thread")]
async fn per_address_limit_silences_forgot_and_refuses_reset_r9() {
    let (app, sink) = spawn_with_smtp(|c| c.rate_limit.per_ip_per_minute = 2).await;
    for name in ["rate_a", "rate_b", "rate_c"] {
        app.add_user(name, PASSWORD).await;
    }
    let client = app.client();

    let (s1, p1) = forgot(&app, &client, "rate_a").await;
    let (s2, _) = forgot(&app, &client, "rate_b").await;
    let (s3, p3) = forgot(&app, &client, "rate_c").await;

    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(normalised(&p1, "rate_a"), normalised(&p3, "rate_c"));
    delivered(&app, &sink).await;
    assert_eq!(sink.to("rate_a@example.org").len(), 1);
    assert_eq!(sink.to("rate_b@example.org").len(), 1);
    assert!(sink.to("rate_c@example.org").is_empty(), "nothing sent");
    assert!(app.count_events("rate_limited", Some("rate_c")).await >= 1);

    let token = sink.to("rate_a@example.org")[0].token("/reset/").unwrap();
    let res = post_reset(&app, &client, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(link_still_shows(&app, &token).await, "a 429 spends nothing");
}

/// Whether `GET /reset/{token}` still shows the form.
async fn link_still_shows(app: &TestApp, token: &str) -> bool {
    let res = app
        .client()
        .get(app.url(&format!("/reset/{token}")))
        .send()
        .await
        .unwrap();
    res.status() == 200
}

// ---------------------------------------------------------------------------
// Delivery (D2, R2; CONTRACT 2 mail pickup)
// ---------------------------------------------------------------------------

/// D2: with the SMTP server down the request still answers at once; the message
/// waits in the queue with its error and is delivered once the server is back.
#[tokio::test(flavor = "multi_thread")]
async fn mail_waits_for_smtp_to_come_back_d2() {
    let port = free_port();
    let app = spawn_with(|c| point_at_sink(c, port)).await;
    app.add_user("alice", PASSWORD).await;

    let started = std::time::Instant::now();
    let (status, _) = forgot(&app, &app.client(), "alice").await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "SMTP is not on the request path"
    );

    let queued = failed_once(&app).await;
    assert_eq!(queued.to, "alice@example.org");
    assert!(queued.last_error.is_some(), "{queued:?}");

    let sink = SmtpSink::start_on(port).await;
    app.advance(PAST_ANY_BACKOFF);
    let mail = delivered(&app, &sink).await;
    assert_eq!(mail.len(), 1, "delivered once the server is back");
    assert!(mail[0].link("/reset/").is_some());
    assert!(app.mail_queue().await.is_empty());
}

/// D2: a queued message survives a restart and its link works on the new server.
#[tokio::test(flavor = "multi_thread")]
async fn queued_mail_survives_a_restart_d2() {
    let port = free_port();
    let mut app = spawn_with(|c| point_at_sink(c, port)).await;
    app.add_user("alice", PASSWORD).await;
    let (status, _) = forgot(&app, &app.client(), "alice").await;
    assert_eq!(status, 200);
    failed_once(&app).await;

    app.stop().await;
    let sink = SmtpSink::start_on(port).await;
    let mut again = app.restart(|_| {}).await;

    again.advance(PAST_ANY_BACKOFF);
    let mail = delivered(&again, &sink).await;
    assert_eq!(mail.len(), 1, "delivered after the restart");
    let token = mail[0].token("/reset/").unwrap();
    let client = browser();
    let url = again.url(&format!("/reset/{token}"));
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_token(&page.text().await.unwrap());
    let res = client
        .post(&url)
        .form(&[
            ("password", NEW_PASSWORD),
            ("confirm", NEW_PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    again.stop().await;
}

/// CONTRACT 2: without `[mail.smtp]`, mail lands in `<data_dir>/mail-pickup/`
/// as `.eml` files readable only by the service.
#[tokio::test(flavor = "multi_thread")]
async fn without_smtp_mail_goes_to_the_pickup_folder() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (status, _) = forgot(&app, &app.client(), "alice").await;
    assert_eq!(status, 200);

    let folder = app.data_dir().join("mail-pickup");
    app.deliver_mail().await;
    let eml = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "eml"))
        .expect("an .eml file in the pickup folder");

    let mode = std::fs::metadata(&eml).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", eml.display());
    let raw = std::fs::read_to_string(&eml).unwrap();
    let message = Received {
        from: String::new(),
        to: Vec::new(),
        raw,
    };
    let link = message.link("/reset/").expect("a reset link in the file");
    assert!(link.starts_with(LINK_PREFIX), "{link}");
}

/// R2: neither a delivered token nor a queued link is in the data file in clear.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_never_stored_in_clear_r2() {
    let (mut app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let token = request_token(&app, &sink, "alice").await;
    delivered(&app, &sink).await;

    drop(sink);
    let (status, _) = forgot(&app, &app.client(), "alice").await;
    assert_eq!(status, 200);
    let queued = app.mail_queue().await;
    assert_eq!(queued.len(), 1, "a link waits in the outbox");

    app.stop().await;
    let bytes = redb_bytes(app.data_dir());
    assert!(
        contains(&bytes, b"alice@example.org"),
        "the right file, readable"
    );
    assert!(
        !contains(&bytes, token.as_bytes()),
        "delivered token in clear"
    );
    assert!(!contains(&bytes, b"/reset/"), "queued link in clear");
    assert!(!contains(&bytes, b"127.0.0.1:8080/reset"));
}
