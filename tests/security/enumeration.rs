//! Enumeration and lockout (SECURITY L1-L9): identical answers and timings,
//! the lockout race, canonical names, and the admin socket.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::control::protocol::{Request, Response};
use latchkey::domain::password::NewPassword;
use latchkey::domain::secret::Secret;

use crate::helpers::{
    PASSWORD, TestApp, csrf_token, login, login_at, page_token, request_reset, spawn_with,
    spawn_with_smtp,
};
use crate::security::support::{QUIET, median};

const WRONG: &str = "Not-The-Password-7";

/// The page with its per-browser CSRF token blanked out.
fn without_token(html: &str) -> String {
    let token = csrf_token(html);
    html.replace(&token, "TOKEN")
}

async fn attempt(
    app: &TestApp,
    user: &str,
    password: &str,
) -> (u16, Vec<(String, String)>, String) {
    let client = app.client();
    let res = login(&client, app, user, password).await;
    let status = res.status().as_u16();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length" | "set-cookie"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    headers.sort();
    let body = without_token(&res.text().await.unwrap()).replace(user, "NAME");
    (status, headers, body)
}

/// L1 from other angles: disabled, license-expired and password-less accounts
/// with a wrong password answer exactly like a name that does not exist, even
/// when the attempts run concurrently from separate browsers.
#[tokio::test(flavor = "multi_thread")]
async fn l1_account_state_is_invisible_without_the_right_password() {
    let app = spawn_with(|_| {}).await;
    for name in ["dora", "lila", "wendy"] {
        app.add_user(name, PASSWORD).await;
    }
    app.admin(Request::UserDisable {
        username: "dora".into(),
    })
    .await
    .unwrap();
    app.admin(Request::LicenseSet {
        username: "lila".into(),
        expires: "2001-01-01".into(),
    })
    .await
    .unwrap();
    app.admin(Request::UserAdd(crate::helpers::new_user("nopass", None)))
        .await
        .unwrap();

    let names = ["dora", "lila", "wendy", "nopass", "nosuchuser"];
    let (a, b, c, d, e) = tokio::join!(
        attempt(&app, names[0], WRONG),
        attempt(&app, names[1], WRONG),
        attempt(&app, names[2], WRONG),
        attempt(&app, names[3], WRONG),
        attempt(&app, names[4], WRONG),
    );
    let answers = [a, b, c, d, e];
    let reference = &answers[4];
    assert_eq!(reference.0, 401);
    assert!(reference.2.contains("Login failed!"));
    for (name, answer) in names.iter().zip(&answers) {
        assert_eq!(
            answer, reference,
            "{name} with a wrong password differs from an unknown name"
        );
    }
    // Only the right password tells the state.
    let (status, _, body) = attempt(&app, "dora", PASSWORD).await;
    assert_eq!(status, 403);
    assert!(body.contains("disabled"), "{body}");
}

/// Median hash time in ms measured here, with the server's own parameters.
async fn hash_ms() -> f64 {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        tokio::task::spawn_blocking(|| {
            latchkey::auth::hasher::hash_blocking(&NewPassword::verified(&Secret::new(
                "Some-Password-1",
            )))
        })
        .await
        .unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    median(&mut samples)
}

async fn timed_post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, f64) {
    let t = Instant::now();
    let res = client.post(url).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let _ = res.bytes().await.unwrap();
    (status, t.elapsed().as_secs_f64() * 1000.0)
}

/// L2: over 100 interleaved samples, an unknown name and a wrong password cost
/// the same. Without the dummy verify the unknown name would be one whole hash
/// faster; the bound is 30 % of one hash, measured here.
#[tokio::test(flavor = "multi_thread")]
async fn l2_unknown_user_costs_one_verify() {
    let _quiet = QUIET.lock().await;
    let app = spawn_with(|c| {
        c.rate_limit.per_ip_per_minute = 1_000_000;
        c.lockout.max_failures = 1_000_000;
    })
    .await;
    app.add_user("timed", PASSWORD).await;
    let hash = hash_ms().await;
    let (known, unknown) = (app.client(), app.client());
    let known_token = page_token(&known, &app, "/login").await;
    let unknown_token = page_token(&unknown, &app, "/login").await;
    let url = app.url("/login");
    let known_form = [
        ("username", "timed"),
        ("password", WRONG),
        ("csrf_token", &known_token),
    ];
    let unknown_form = [
        ("username", "timed-nobody"),
        ("password", WRONG),
        ("csrf_token", &unknown_token),
    ];
    // Warm up both paths.
    for _ in 0..5 {
        timed_post(&known, &url, &known_form).await;
        timed_post(&unknown, &url, &unknown_form).await;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..100 {
        let pair = if i % 2 == 0 {
            let x = timed_post(&known, &url, &known_form).await;
            (x, timed_post(&unknown, &url, &unknown_form).await)
        } else {
            let y = timed_post(&unknown, &url, &unknown_form).await;
            (timed_post(&known, &url, &known_form).await, y)
        };
        assert_eq!((pair.0.0, pair.1.0), (401, 401));
        a.push(pair.0.1);
        b.push(pair.1.1);
    }
    let (wrong, nobody) = (median(&mut a), median(&mut b));
    eprintln!(
        "L2 timing: hash {hash:.1} ms; median wrong password {wrong:.1} ms, unknown user {nobody:.1} ms"
    );
    assert!(
        (wrong - nobody).abs() < 0.3 * hash,
        "medians differ by more than 30 % of a hash ({hash:.1} ms): wrong {wrong:.1}, unknown {nobody:.1}"
    );
}

/// L3: `/forgot` for an existing, an unknown and a locked name: same page and
/// comparable time over 100 interleaved samples each.
///
/// `/forgot` hashes nothing, so the bound is not a hash: every branch is one
/// write transaction (an fsync) and the existing one also renders a mail into
/// the outbox. Medians must lie within 30 % of the slowest median or within
/// 30 % of one hash time, whichever is larger: SMTP on the request path (tens
/// of ms) or a stray hash would break it, fsync jitter on a busy 2-core
/// machine does not, since the medians of 100 samples absorb it.
#[tokio::test(flavor = "multi_thread")]
async fn l3_forgot_costs_the_same_for_existing_unknown_and_locked_names() {
    let _quiet = QUIET.lock().await;
    let (app, _sink) = spawn_with_smtp(|c| {
        c.rate_limit.per_ip_per_minute = 1_000_000;
        c.reset.max_per_hour = 100_000;
    })
    .await;
    app.add_user("present", PASSWORD).await;
    app.add_user("shut", PASSWORD).await;
    for _ in 0..3 {
        login(&app.client(), &app, "shut", WRONG).await;
    }
    let hash = hash_ms().await;
    let names = ["present", "ghost-name", "shut"];
    let clients: Vec<_> = names.iter().map(|_| app.client()).collect();
    let mut tokens = Vec::new();
    for c in &clients {
        tokens.push(page_token(c, &app, "/forgot").await);
    }
    let url = app.url("/forgot");
    let mut pages: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let res = clients[i]
            .post(&url)
            .form(&[("username", *name), ("csrf_token", &tokens[i])])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        pages.push(without_token(&res.text().await.unwrap()).replace(name, "NAME"));
    }
    assert!(
        pages.iter().all(|p| p == &pages[0]),
        "/forgot pages differ by name"
    );
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..100 {
        for k in 0..3 {
            let i = (round + k) % 3;
            let form = [("username", names[i]), ("csrf_token", tokens[i].as_str())];
            let (status, ms) = timed_post(&clients[i], &url, &form).await;
            assert_eq!(status, 200);
            samples[i].push(ms);
        }
    }
    let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    eprintln!(
        "L3 timing: hash {hash:.1} ms; /forgot medians existing {:.2} ms, unknown {:.2} ms, locked {:.2} ms",
        medians[0], medians[1], medians[2]
    );
    let (lo, hi) = medians
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
    let bound = (0.3 * hi).max(0.3 * hash);
    assert!(
        hi - lo < bound,
        "medians {medians:?} spread more than {bound:.2} ms"
    );
}

/// L3: SMTP is never on the request path. The mail server here accepts the
/// connection and never says a word; `/forgot` still answers at once.
#[tokio::test(flavor = "multi_thread")]
async fn l3_forgot_does_not_wait_for_a_silent_smtp_server() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let app = spawn_with(|c| crate::helpers::point_at_sink(c, port)).await;
    app.add_user("mia", PASSWORD).await;
    let client = app.client();
    let t = Instant::now();
    let res = request_reset(&client, &app, "mia").await;
    assert_eq!(res.status(), 200);
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    match app.admin(Request::MailQueue).await.unwrap() {
        Response::Queue { messages } => assert!(
            messages.iter().any(|m| m.to == "mia@example.org"),
            "the reset mail waits in the outbox: {messages:?}"
        ),
        other => panic!("{other:?}"),
    }
}

/// L4: a link mailed before the lock dies with the lock (GET and POST), and
/// asking again mails the locked notice, whose raw text holds no link.
#[tokio::test(flavor = "multi_thread")]
async fn l4_lock_voids_earlier_links_and_mails_only_the_notice() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("lena", PASSWORD).await;
    request_reset(&app.client(), &app, "lena").await;
    let first = app.mail_in(&sink).await;
    let token = first[0].token("/reset/").expect("a reset link");

    // Lock by concurrent guesses from separate browsers.
    let guesses: Vec<_> = (0..5)
        .map(|_| {
            let (c, base) = (app.client(), app.base.clone());
            tokio::spawn(async move { login_at(&c, &base, "lena", WRONG).await.status().as_u16() })
        })
        .collect();
    for g in guesses {
        g.await.unwrap();
    }
    let client = app.client();
    let get = client
        .get(app.url(&format!("/reset/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 410, "the pre-lock link still shows its form");
    let anon = crate::security::support::anon(&app).await;
    let body = format!(
        "password=Fresh-Start-99x&confirm=Fresh-Start-99x&csrf_token={}",
        anon.token
    );
    let post = crate::security::support::raw(
        app.addr,
        &crate::security::support::post_bytes(
            &format!("/reset/{token}"),
            &anon.cookie,
            "",
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(post.status, 410, "the pre-lock link still spends");

    request_reset(&app.client(), &app, "lena").await;
    let all = app.mail_in(&sink).await;
    let notice = all.last().unwrap();
    assert!(notice.raw.contains("locked"), "{}", notice.raw);
    assert!(
        !notice.text().contains("/reset/"),
        "the locked notice carries a link"
    );
    assert_eq!(
        login(&app.client(), &app, "lena", PASSWORD).await.status(),
        403
    );
}

/// L6: the failure count spans browsers and is reset by a success in another one.
#[tokio::test(flavor = "multi_thread")]
async fn l6_failures_across_browsers_lock_and_a_success_resets_them() {
    let app = spawn_with(|_| {}).await;
    app.add_user("olga", PASSWORD).await;
    for _ in 0..2 {
        assert_eq!(
            login(&app.client(), &app, "olga", WRONG).await.status(),
            401
        );
    }
    assert_eq!(
        login(&app.client(), &app, "olga", PASSWORD).await.status(),
        303
    );
    for _ in 0..2 {
        assert_eq!(
            login(&app.client(), &app, "olga", WRONG).await.status(),
            401
        );
    }
    assert_eq!(
        login(&app.client(), &app, "olga", PASSWORD).await.status(),
        303,
        "the count was reset"
    );
    for _ in 0..2 {
        login(&app.client(), &app, "olga", WRONG).await;
    }
    assert_eq!(
        login(&app.client(), &app, "olga", WRONG).await.status(),
        403,
        "the third locks"
    );
    assert_eq!(
        login(&app.client(), &app, "olga", PASSWORD).await.status(),
        403
    );
}

/// L7: 50 rounds of 10-30 concurrent wrong guesses from separate browsers on a
/// fresh account: the audit log shows at most `max_failures` real
/// verifications and exactly one lock per round.
#[tokio::test(flavor = "multi_thread")]
async fn l7_fifty_rounds_of_concurrent_guesses_verify_at_most_max_failures() {
    let app = spawn_with(|c| c.rate_limit.per_ip_per_minute = 1_000_000).await;
    let max = app.config.lockout.max_failures as usize;
    let browsers: Vec<reqwest::Client> = (0..30).map(|_| app.client()).collect();
    let mut tokens = Vec::new();
    for b in &browsers {
        tokens.push(page_token(b, &app, "/login").await);
    }
    let url = app.url("/login");
    for round in 0..50 {
        let user = format!("race{round}");
        app.add_user(&user, PASSWORD).await;
        let n = 10 + (round * 7) % 21;
        let gate = Arc::new(tokio::sync::Barrier::new(n));
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (b, t, u, url, gate) = (
                    browsers[i].clone(),
                    tokens[i].clone(),
                    user.clone(),
                    url.clone(),
                    gate.clone(),
                );
                tokio::spawn(async move {
                    gate.wait().await;
                    let form = [
                        ("username", u.as_str()),
                        ("password", WRONG),
                        ("csrf_token", &t),
                    ];
                    b.post(&url)
                        .form(&form)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut failed = 0;
        for t in tasks {
            match t.await.unwrap() {
                401 => failed += 1,
                403 => {}
                other => panic!("round {round}: unexpected status {other}"),
            }
        }
        assert!(
            failed < max,
            "round {round}: {failed} answers were 'wrong password'"
        );
    }
    let events = app.audit_events(None).await;
    for round in 0..50 {
        let user = format!("race{round}");
        let mine: Vec<_> = events
            .iter()
            .filter(|e| e.user.as_deref() == Some(&user))
            .collect();
        let verified = mine
            .iter()
            .filter(|e| e.event == "login_failed" && e.detail.as_deref() == Some("wrong password"))
            .count();
        let locks = mine.iter().filter(|e| e.event == "account_locked").count();
        assert!(
            verified <= max,
            "round {round}: {verified} real verifications"
        );
        assert_eq!(locks, 1, "round {round}: {locks} account_locked events");
    }
}

/// L8: case, width and space twins of one name share one failure count, for
/// real and unknown names alike; unknown names leave nothing behind a restart.
#[tokio::test(flavor = "multi_thread")]
async fn l8_twins_share_a_count_and_unknown_names_leave_no_lasting_state() {
    let app = spawn_with(|_| {}).await;
    app.add_user("Petra", PASSWORD).await;
    for twin in ["PETRA", "ｐｅｔｒａ"] {
        assert_eq!(login(&app.client(), &app, twin, WRONG).await.status(), 401);
    }
    assert_eq!(
        login(&app.client(), &app, "  petra ", WRONG).await.status(),
        403
    );

    for twin in ["ghost.user", "GHOST.USER"] {
        assert_eq!(login(&app.client(), &app, twin, WRONG).await.status(), 401);
    }
    assert_eq!(
        login(&app.client(), &app, "ｇｈｏｓｔ．ｕｓｅｒ", WRONG)
            .await
            .status(),
        403
    );
    let remembered = app.auth.unknown_names();
    assert_eq!(remembered, 1, "one canonical entry for three spellings");
    match app
        .admin(Request::UserList { locked_only: false })
        .await
        .unwrap()
    {
        Response::Users { users } => {
            assert_eq!(users.len(), 1, "an unknown name became an account")
        }
        other => panic!("{other:?}"),
    }

    let mut app = app.restart(|_| {}).await;
    let base = app.base.clone();
    let client = crate::security::support::browser();
    let after = login_at(&client, &base, "ghost.user", WRONG).await;
    assert_eq!(
        after.status(),
        401,
        "an unknown name's lock outlived a restart"
    );
    let petra = crate::security::support::post_form(
        &crate::security::support::browser(),
        &base,
        "/login",
        "/login",
        &[("username", "petra"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(petra.status(), 403, "a real account's lock must persist");
    app.stop().await;
}

/// L9: the control socket is 0600 in a 0700 directory; a process of another
/// OS user that can reach it anyway (permissions opened on purpose) is refused
/// by the peer-uid check; and the CLI takes no password in argv or env.
#[tokio::test(flavor = "multi_thread")]
async fn l9_admin_socket_refuses_other_users_and_cli_takes_no_password_argument() {
    let app = spawn_with(|_| {}).await;
    let socket = latchkey::control::socket_path(app.data_dir());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(app.data_dir()), 0o700);

    let help = crate::helpers::run_binary(app.data_dir(), &["user", "add", "--help"], None);
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    assert!(help.contains("--password-stdin"), "{help}");
    // Only the config file's path may come from the environment
    // (LATCHKEY_CONFIG); nothing secret does.
    let from_env: Vec<&str> = help
        .match_indices("[env: ")
        .map(|(at, _)| {
            let rest = &help[at + "[env: ".len()..];
            &rest[..rest.find(['=', ']']).unwrap()]
        })
        .collect();
    assert_eq!(
        from_env,
        ["LATCHKEY_CONFIG"],
        "options read from the environment: {help}"
    );
    let argv = crate::helpers::run_binary(
        app.data_dir(),
        &[
            "user",
            "add",
            "eve",
            "--email",
            "eve@example.org",
            "--password",
            PASSWORD,
        ],
        None,
    );
    assert_eq!(
        argv.status.code(),
        Some(2),
        "a password in argv must be a usage error"
    );

    if nix::unistd::getuid().is_root() {
        use std::os::unix::process::CommandExt;
        let open = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        open(app.data_dir(), 0o755);
        open(app.dir.path(), 0o755);
        open(&socket, 0o666);
        let out = std::process::Command::new(crate::helpers::binary())
            .arg("--data")
            .arg(app.data_dir())
            .args(["user", "add", "intruder", "--email", "i@example.org"])
            .current_dir("/")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        open(&socket, 0o600);
        open(app.data_dir(), 0o700);
        assert_ne!(
            out.status.code(),
            Some(0),
            "another OS user ran an admin command"
        );
        let shown = app
            .admin(Request::UserShow {
                username: "intruder".into(),
            })
            .await;
        assert!(shown.is_err(), "the intruder's account exists");
    } else {
        eprintln!("L9: not root; the cross-user part of this test is skipped");
    }
}
