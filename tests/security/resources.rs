//! Resources, logging and durability (SECURITY X1-X3, D1-D3) with the real
//! binary where the process itself is under test, plus the log-forging half of I3.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::{
    PASSWORD, form_token, login, login_at, request_reset, run_binary, spawn_with, submit,
};
use crate::security::support::{
    QUIET, Served, assert_no_secret, browser, files_under, memory_kib, post_form, set_cookie,
};
use crate::smtp::{Received, SmtpSink};

const MIB: u64 = 1024;
const EPHEMERAL: &str =
    "[server]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n";

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// X1: 300 concurrent sign-ins with fresh names for 15 s against `latchkey
/// serve` with one hashing thread and a queue of 4. Peak RSS of the server
/// process stays under baseline + 1 x 19 MiB (the one running hash) + 64 MiB
/// of slack for 300 connections and their buffers, up to ~300 blocking-pool
/// threads doing store reads (stack and allocator cache, ~0.2 MiB each) and
/// the growing redb cache (hashing on the runtime's blocking threads instead
/// of dedicated ones peaked at 450-800 MiB here); excess requests get 503 with Retry-After; /healthz and GET /login
/// answer all along: every probe within 5 s, half of them within 2 s
/// (typically well under 1 s; the slack is for the rest of the suite and
/// other test binaries sharing 2 cores).
#[tokio::test(flavor = "multi_thread")]
async fn x1_a_sign_in_flood_is_bounded_and_the_server_stays_responsive() {
    let _quiet = QUIET.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let config = "[server]\nlisten = \"127.0.0.1:0\"\nhash_threads = 1\nhash_queue = 4\n\n\
                  [metrics]\nlisten = \"127.0.0.1:0\"\n\n\
                  [rate_limit]\nper_ip_per_minute = 1000000000\n";
    let served = Served::start(dir.path(), config, "info");
    let base = served.base();
    let pid = served.pid();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(400)
        .build()
        .unwrap();
    let token = form_token(&client, &format!("{base}/login")).await;
    for i in 0..3 {
        let form = [
            ("username", format!("warmup{i}")),
            ("password", "Warm-Up-Pass-1".into()),
            ("csrf_token", token.clone()),
        ];
        client
            .post(format!("{base}/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (baseline, _) = memory_kib(pid);

    let deadline = Instant::now() + Duration::from_secs(15);
    let counts: Arc<[AtomicUsize; 4]> = Arc::new(Default::default()); // verified, 503 with Retry-After, 503 without, other
    let flood: Vec<_> = (0..300)
        .map(|task| {
            let (client, token, base, counts) =
                (client.clone(), token.clone(), base.clone(), counts.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let form = [
                        ("username", format!("flood{task}x{n}")),
                        ("password", "Flood-Pass-12".into()),
                        ("csrf_token", token.clone()),
                    ];
                    let Ok(res) = client
                        .post(format!("{base}/login"))
                        .form(&form)
                        .send()
                        .await
                    else {
                        counts[3].fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let slot = match res.status().as_u16() {
                        401 | 403 => 0,
                        503 if res.headers().get("retry-after").is_some() => 1,
                        503 => 2,
                        _ => 3,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                    let _ = res.bytes().await;
                }
            })
        })
        .collect();
    let peak_rss = Arc::new(AtomicU64::new(0));
    let peak_threads = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, threads) = (peak_rss.clone(), peak_threads.clone());
        tokio::spawn(async move {
            while Instant::now() < deadline {
                peak.fetch_max(memory_kib(pid).0, Ordering::Relaxed);
                threads.fetch_max(crate::security::support::threads(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let probe = {
        let base = base.clone();
        tokio::spawn(async move {
            let probe = reqwest::Client::new();
            let mut took = Vec::new();
            let mut failures = Vec::new();
            while Instant::now() < deadline {
                for path in ["/healthz", "/login"] {
                    let t = Instant::now();
                    match tokio::time::timeout(
                        Duration::from_secs(5),
                        probe.get(format!("{base}{path}")).send(),
                    )
                    .await
                    {
                        Ok(Ok(r)) if r.status() == 200 => {}
                        other => failures.push(format!("{path}: {other:?}")),
                    }
                    took.push(t.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            took.sort();
            let median = took[took.len() / 2];
            (median, *took.last().unwrap(), failures)
        })
    };
    for f in flood {
        f.await.unwrap();
    }
    sampler.await.unwrap();
    let (median, worst, failures) = probe.await.unwrap();
    let (_, hwm) = memory_kib(pid);
    let peak = peak_rss.load(Ordering::Relaxed).max(hwm);
    let [verified, busy, busy_bare, other] =
        [0, 1, 2, 3].map(|i| counts[i].load(Ordering::Relaxed));
    let limit = baseline + 19 * MIB + 64 * MIB;
    eprintln!(
        "X1 flood: baseline {} MiB, peak {} MiB (VmHWM {} MiB), limit {} MiB; {verified} verified, {busy} x 503 with Retry-After, {busy_bare} x 503 without, {other} other; probes median {median:?}, worst {worst:?}; up to {} threads",
        baseline / MIB,
        peak / MIB,
        hwm / MIB,
        limit / MIB,
        peak_threads.load(Ordering::Relaxed)
    );
    assert!(peak <= limit, "peak RSS {peak} KiB over {limit} KiB");
    assert!(busy > 0, "no request was turned away with 503");
    assert_eq!(busy_bare, 0, "a 503 without Retry-After");
    assert!(verified > 0);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        median < Duration::from_secs(2),
        "probes took {median:?} (median)"
    );
}

/// X2: every event, from the web and from the CLI, carries a UTC time and
/// either the peer address or the operating-system user.
#[tokio::test(flavor = "multi_thread")]
async fn x2_every_audit_event_has_utc_time_and_an_origin() {
    let app = spawn_with(|_| {}).await;
    let data = app.data_dir().to_owned();
    let cli = |args: &[&str], stdin: Option<&str>| {
        let out = run_binary(&data, args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(
        &[
            "user",
            "add",
            "xavi",
            "--email",
            "xavi@example.org",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    let client = app.client();
    login(&client, &app, "xavi", "Wrong-Guess-1x").await;
    login(&client, &app, "xavi", PASSWORD).await;
    submit(&client, &app, "/profile", "/logout", &[]).await;
    request_reset(&app.client(), &app, "xavi").await;
    app.client()
        .post(app.url("/login"))
        .form(&[("username", "x")])
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        login(&app.client(), &app, "xavi", "Wrong-Guess-1x").await;
    }
    cli(&["unlock", "xavi"], None);
    cli(&["user", "set", "xavi", "--name", "Xavi"], None);
    cli(&["license", "set", "xavi", "--expires", "never"], None);
    cli(&["user", "force-change", "xavi"], None);
    cli(&["user", "disable", "xavi"], None);
    cli(&["user", "enable", "xavi"], None);
    let backup = app.dir.path().join("x2.backup");
    cli(&["backup", backup.to_str().unwrap()], None);
    cli(&["user", "delete", "xavi"], None);
    let out = run_binary(&data, &["audit", "--json", "--limit", "1000"], None);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap_or_default();
    let mut kinds = std::collections::BTreeSet::new();
    for e in &events {
        let time = e["time"].as_str().unwrap();
        assert!(time.ends_with('Z'), "not UTC: {e}");
        let ip = e["ip"].as_str();
        let actor = e.get("actor").and_then(|a| a.as_str());
        let web = ip == Some("127.0.0.1");
        let cli = actor == Some(&format!("os:{me}")) || actor.is_some_and(|a| a.starts_with("os:"));
        assert!(web || cli, "no origin: {e}");
        kinds.insert(e["event"].as_str().unwrap().to_owned());
    }
    for want in [
        "user_created",
        "login_failed",
        "login_succeeded",
        "session_revoked",
        "reset_requested",
        "csrf_rejected",
        "account_locked",
        "account_unlocked",
        "user_updated",
        "license_changed",
        "force_change_set",
        "user_disabled",
        "user_enabled",
        "backup_created",
        "user_deleted",
    ] {
        assert!(kinds.contains(want), "{want} missing from {kinds:?}");
    }
}

/// Every line of both streams, minus the one-time first-administrator link
/// that the contract prints on stdout.
fn logs_without_setup_link(served: &Served) -> (String, String) {
    let (out, err) = served.all_output();
    let link = out
        .lines()
        .find(|l| l.contains("/setup/"))
        .unwrap_or("")
        .to_owned();
    (out.replace(&link, ""), err)
}

/// X3: with `RUST_LOG=debug`, no password, token or session id used in a
/// sign-in and reset reaches stdout, stderr, the redb file, a backup or any
/// other data file (mail in the pickup folder legitimately holds its link);
/// data files are 0600 and the data directory 0700.
#[tokio::test(flavor = "multi_thread")]
async fn x3_no_secret_reaches_logs_data_or_backups() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), EPHEMERAL, "debug");
    let base = served.base();
    let (first_out, _) = served.all_output();
    let setup_link = first_out
        .lines()
        .find(|l| l.contains("/setup/"))
        .expect("a setup link")
        .trim()
        .to_owned();
    let setup_token = setup_link.rsplit('/').next().unwrap().to_owned();
    let (pw, wrong, new) = ("Quartz-Lamp-83x", "Quartz-Lamp-84y", "Velvet-Moss-27q");
    let add = served.cli(
        &[
            "user",
            "add",
            "xena",
            "--email",
            "xena@example.org",
            "--password-stdin",
        ],
        Some(&format!("{pw}\n")),
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let client = browser();
    assert_eq!(login_at(&client, &base, "xena", wrong).await.status(), 401);
    let res = login_at(&client, &base, "xena", pw).await;
    let session1 = set_cookie(&res, "latchkey_session").unwrap();
    post_form(
        &browser(),
        &base,
        "/forgot",
        "/forgot",
        &[("username", "xena")],
    )
    .await;
    let pickup = served.data.join("mail-pickup");
    let deadline = Instant::now() + Duration::from_secs(10);
    let eml = loop {
        let found = files_under(&pickup)
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "eml"));
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < deadline, "no .eml in the pickup folder");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let raw = String::from_utf8_lossy(&std::fs::read(&eml).unwrap())
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let mail = Received {
        from: String::new(),
        to: vec![],
        raw,
    };
    let reset = mail.token("/reset/").expect("a reset link in the .eml");
    let path = format!("/reset/{reset}");
    let res = post_form(
        &browser(),
        &base,
        &path,
        &path,
        &[("password", new), ("confirm", new)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let client = browser();
    let res = login_at(&client, &base, "xena", new).await;
    let session2 = set_cookie(&res, "latchkey_session").unwrap();
    post_form(&client, &base, "/profile", "/logout", &[]).await;
    let backup = dir.path().join("x3.backup");
    let out = served.cli(&["backup", backup.to_str().unwrap()], None);
    assert!(out.status.success());
    served.kill9();

    let secrets = [
        ("password", pw),
        ("wrong password", wrong),
        ("new password", new),
        ("reset token", reset.as_str()),
        ("session id", session1.as_str()),
        ("second session id", session2.as_str()),
        ("setup token", setup_token.as_str()),
    ];
    let (stdout, stderr) = logs_without_setup_link(&served);
    assert!(
        stderr.lines().count() > 5,
        "debug logging produced too little to be a test"
    );
    assert_no_secret("stdout", stdout.as_bytes(), &secrets);
    assert_no_secret("stderr", stderr.as_bytes(), &secrets);
    for o in [&add, &out] {
        assert_no_secret(
            "CLI output",
            &[o.stdout.as_slice(), o.stderr.as_slice()].concat(),
            &secrets,
        );
    }
    for file in files_under(&served.data) {
        if file.extension().is_some_and(|e| e == "eml")
            || file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("sock"))
        {
            continue;
        }
        assert_no_secret(
            &file.display().to_string(),
            &std::fs::read(&file).unwrap_or_default(),
            &secrets,
        );
        assert_eq!(
            mode(&file) & 0o077,
            0,
            "{} is readable by others",
            file.display()
        );
    }
    assert_no_secret("the backup", &std::fs::read(&backup).unwrap(), &secrets);
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&served.data), 0o700);
}

/// I3 (logs): a failed sign-in whose user name holds a newline cannot forge a
/// log line, neither in the server's debug log nor in `latchkey audit`; such a
/// name is refused at creation.
#[tokio::test(flavor = "multi_thread")]
async fn i3_a_newline_in_a_user_name_cannot_forge_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), EPHEMERAL, "debug");
    let base = served.base();
    for name in [
        "x\nINFO fake",
        "x\r\nINFO fake",
        "x\rINFO fake",
        "x\u{2028}INFO fake",
    ] {
        let res = login_at(&browser(), &base, name, "Whatever-1x").await;
        assert_eq!(res.status(), 401);
    }
    let add = served.cli(
        &[
            "user",
            "add",
            "x\nINFO fake",
            "--email",
            "x@example.org",
            "--password-stdin",
        ],
        Some("Kettle-Blue-42x\n"),
    );
    assert_eq!(
        add.status.code(),
        Some(1),
        "a name with a newline was created"
    );
    let audit = served.cli(&["audit"], None);
    let audit_text = String::from_utf8_lossy(&audit.stdout).to_string();
    assert!(
        audit_text.contains("fake"),
        "the attempts are audited: {audit_text}"
    );
    served.kill9();
    let (stdout, stderr) = served.all_output();
    for (what, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("latchkey audit", &audit_text),
    ] {
        for line in text.split(['\n', '\r', '\u{2028}']) {
            assert!(
                !line.trim_start().starts_with("INFO fake"),
                "{what} has a forged line: {line:?}"
            );
        }
    }
}

/// D1: acknowledged changes survive `kill -9` at once: a password change, a
/// lock and a spent reset link, checked after a restart on the same files.
#[tokio::test(flavor = "multi_thread")]
async fn d1_acknowledged_changes_survive_kill_9_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), EPHEMERAL, "info");
    let base = served.base();
    for u in ["dana", "dirk", "dora"] {
        let out = served.cli(
            &[
                "user",
                "add",
                u,
                "--email",
                &format!("{u}@example.org"),
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(out.status.success());
    }
    let link =
        String::from_utf8_lossy(&served.cli(&["reset-link", "dora"], None).stdout).to_string();
    let path = link
        .split_whitespace()
        .find(|w| w.contains("/reset/"))
        .unwrap()
        .rsplit_once("/reset/")
        .map(|(_, t)| format!("/reset/{t}"))
        .unwrap();
    let client = browser();
    login_at(&client, &base, "dana", PASSWORD).await;
    let res = post_form(
        &client,
        &base,
        "/profile",
        "/profile/password",
        &[
            ("current_password", PASSWORD),
            ("password", "Changed-Pass-42x"),
            ("confirm", "Changed-Pass-42x"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    for _ in 0..3 {
        login_at(&browser(), &base, "dirk", "Wrong-Guess-1x").await;
    }
    let res = post_form(
        &browser(),
        &base,
        &path,
        &path,
        &[
            ("password", "Reset-Pass-77x"),
            ("confirm", "Reset-Pass-77x"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    served.kill9();

    let again = Served::start_on(served.data.clone(), served.config.clone(), "info");
    let base = again.base();
    let status = |user: &'static str, pw: &'static str| {
        let base = base.clone();
        async move {
            login_at(&browser(), &base, user, pw)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        status("dana", "Changed-Pass-42x").await,
        303,
        "the password change was lost"
    );
    assert_eq!(status("dirk", PASSWORD).await, 403, "the lock was lost");
    assert_eq!(
        status("dora", "Reset-Pass-77x").await,
        303,
        "the reset was lost"
    );
    assert_eq!(
        browser()
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status(),
        410,
        "the spent link lives again"
    );
}

/// D2: a reset mail that cannot be delivered before its link expires is
/// dropped and audited, never delivered late, even once SMTP is back.
#[tokio::test(flavor = "multi_thread")]
async fn d2_mail_whose_link_expired_during_an_outage_is_dropped_not_sent() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_with(|c| {
        crate::helpers::point_at_sink(c, port);
        c.reset.link_ttl = latchkey::config::Dur::secs(2);
    })
    .await;
    app.add_user("drew", PASSWORD).await;
    request_reset(&app.client(), &app, "drew").await;
    app.deliver_mail().await; // refused: the SMTP server is down
    app.advance(Duration::from_millis(2500)); // past the link's 2 s
    let sink = SmtpSink::start_on(port).await;
    app.deliver_mail().await;
    let dropped = app
        .audit_events(None)
        .await
        .into_iter()
        .any(|e| e.event == "mail_dropped");
    assert!(dropped, "the expired mail was never dropped");
    assert!(
        sink.to("drew@example.org").is_empty(),
        "an expired link was mailed after the outage"
    );
}

/// R5 and D2: a reset link replaced while SMTP was down is not mailed once
/// it is back. Only the newer message goes out, its link works, and the
/// stale one is dropped and audited.
#[tokio::test(flavor = "multi_thread")]
async fn r5_a_link_replaced_during_an_outage_is_dropped_and_only_the_new_one_mailed() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_with(|c| crate::helpers::point_at_sink(c, port)).await;
    app.add_user("rhea", PASSWORD).await;
    request_reset(&app.client(), &app, "rhea").await;
    app.deliver_mail().await; // refused: the SMTP server is down
    request_reset(&app.client(), &app, "rhea").await; // voids the first link
    app.advance(Duration::from_secs(600)); // past every backoff, inside the 15 min link
    let sink = SmtpSink::start_on(port).await;
    app.deliver_mail().await;
    let mails = sink.to("rhea@example.org");
    assert_eq!(mails.len(), 1, "the replaced link was mailed too");
    let link = mails[0].link("/reset/").expect("a reset link");
    let page = browser()
        .get(app.url(&crate::helpers::path_of(&link, "/reset/")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the mailed link is not the live one");
    let dropped: Vec<_> = app
        .audit_events(Some("rhea"))
        .await
        .into_iter()
        .filter(|e| e.event == "mail_dropped")
        .collect();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        app.mail_queue().await.is_empty(),
        "a message was left queued"
    );
}

/// D3: a backup taken under concurrent sign-ins is 0600, verifies, holds no
/// secret, leaves no temporary file, and any flipped byte makes it fail.
#[tokio::test(flavor = "multi_thread")]
async fn d3_backups_under_load_are_private_consistent_and_tamper_evident() {
    let app = spawn_with(|c| c.rate_limit.per_ip_per_minute = 10_000).await;
    app.add_user("bea", PASSWORD).await;
    let load: Vec<_> = (0..8)
        .map(|_| {
            let base = app.base.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..4 {
                    let client = browser();
                    let res = login_at(&client, &base, "bea", PASSWORD).await;
                    ids.extend(set_cookie(&res, "latchkey_session"));
                }
                ids
            })
        })
        .collect();
    let folder = app.dir.path().join("backups");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("d3.backup");
    let out = run_binary(app.data_dir(), &["backup", file.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ids = Vec::new();
    for l in load {
        ids.extend(l.await.unwrap());
    }
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        1,
        "a temporary file was left behind"
    );
    let verify = run_binary(
        app.data_dir(),
        &["backup", "verify", file.to_str().unwrap()],
        None,
    );
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let bytes = std::fs::read(&file).unwrap();
    let mut secrets: Vec<(&str, &str)> = ids.iter().map(|i| ("session id", i.as_str())).collect();
    secrets.push(("password", PASSWORD));
    assert_no_secret("the backup", &bytes, &secrets);
    let mut tampered = bytes.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let bad = app.dir.path().join("tampered.backup");
    std::fs::write(&bad, &tampered).unwrap();
    let verify = run_binary(
        app.data_dir(),
        &["backup", "verify", bad.to_str().unwrap()],
        None,
    );
    assert_eq!(
        verify.status.code(),
        Some(1),
        "a flipped byte went unnoticed"
    );
}
