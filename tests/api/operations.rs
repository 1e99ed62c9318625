//! Operating the service: online backups, verify and restore, scheduled and
//! pre-migration backups, HTTPS and `/metrics` (CONTRACT sections 2 and 3;
//! SECURITY D3, S1, X3).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey::config::{BaseUrl, Config, Dur};
use latchkey::control::protocol::Request;
use latchkey::server::Running;

use crate::helpers::*;

fn assert_ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// Asserts exit 1 with a one-line reason on stderr, and returns that line.
fn assert_refused(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    assert_eq!(err.trim().lines().count(), 1, "one line expected: {err}");
    err.trim().to_owned()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs the binary off the async runtime, so servers in this process keep serving.
async fn run_blocking(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let data = data.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&data, &args, stdin.as_deref())
    })
    .await
    .unwrap()
}

/// `backup verify FILE --json` parsed; panics unless it exits 0.
fn verify_json(data: &Path, file: &Path) -> serde_json::Value {
    let out = run_binary(data, &["backup", "verify", path_str(file), "--json"], None);
    assert_ok(&out);
    serde_json::from_str(stdout(&out).trim()).expect("verify --json prints one object")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// One JSON object per line of a `--json` list.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    assert_ok(o);
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// User names as `user list --json` prints them (the server may be running or not).
async fn user_names(data: &Path) -> Vec<String> {
    let out = run_blocking(data, &["user", "list", "--json"], None).await;
    let mut names: Vec<String> = json_lines(&out)
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Event names of `audit --json`, oldest first.
fn audit_events_of(data: &Path) -> Vec<String> {
    let out = run_binary(data, &["audit", "--limit", "10000", "--json"], None);
    json_lines(&out)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Files in `dir` whose names start with `prefix` and end with `suffix`.
fn files_like(dir: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found
}

/// Starts a server in this process on `data` (no other data of its own).
async fn start_on(data: &Path, adjust: impl FnOnce(&mut Config)) -> Running {
    let mut config = test_config(data);
    config.data_dir = data.to_owned();
    config.rate_limit.per_ip_per_minute = 100_000;
    adjust(&mut config);
    config.validate().expect("valid config");
    latchkey::server::start(config)
        .await
        .expect("server starts")
}

/// Stops `app` and lets go of its store; the temp dir and the data directory stay.
async fn stop_and_release(mut app: TestApp) -> (tempfile::TempDir, PathBuf) {
    app.stop().await;
    let TestApp {
        dir, config, auth, ..
    } = app;
    drop(auth);
    (dir, config.data_dir)
}

/// The status of a sign-in from a new browser.
async fn sign_in_status(base: &str, user: &str, password: &str) -> u16 {
    let fields = [("username", user), ("password", password)];
    post_form(&browser(), base, "/login", "/login", &fields)
        .await
        .status()
        .as_u16()
}

async fn link_status(base: &str, token: &str) -> u16 {
    let url = format!("{base}/reset/{token}");
    browser().get(url).send().await.unwrap().status().as_u16()
}

/// The value of cookie `name` set by `res`.
fn set_cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    res.headers().get_all("set-cookie").iter().find_map(|v| {
        let text = v.to_str().ok()?;
        let rest = text.strip_prefix(&prefix)?;
        Some(rest.split(';').next().unwrap_or("").to_owned())
    })
}

/// SECURITY D3; CONTRACT 3 `backup`, `backup verify`, `restore`: a backup taken
/// over the control socket while accounts are being created holds every account
/// created before it began, is a consistent prefix of the writes, and restores
/// into an empty data directory where those accounts sign in.
#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_during_writes_restores_every_committed_account() {
    let app = Arc::new(spawn_app().await);
    let committed = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (app, committed, stop) = (app.clone(), committed.clone(), stop.clone());
        async move {
            for i in 0..40 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("writer{i:02}");
                app.admin(Request::UserAdd(new_user(&name, Some(PASSWORD))))
                    .await
                    .expect("user added");
                committed.lock().unwrap().push(name);
            }
        }
    });
    while committed.lock().unwrap().len() < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("during-writes.lkbackup");

    let before: Vec<String> = committed.lock().unwrap().clone();
    let out = run_blocking(app.data_dir(), &["backup", path_str(&file)], None).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();

    assert_ok(&out);
    assert_eq!(mode_of(&file), 0o600, "backup file mode");
    let text = run_binary(app.data_dir(), &["backup", "verify", path_str(&file)], None);
    assert_ok(&text);
    let counts = &verify_json(app.data_dir(), &file)["counts"];
    let users = counts["users"].as_u64().unwrap() as usize;
    let all = committed.lock().unwrap().clone();
    assert!(
        stdout(&text).contains(&format!("{users} accounts")),
        "{}",
        stdout(&text)
    );
    assert!(
        users >= before.len(),
        "{users} < {} committed",
        before.len()
    );
    assert!(users <= all.len(), "{users} > {} ever written", all.len());

    let fresh_tmp = tempfile::tempdir().unwrap();
    let fresh = fresh_tmp.path().join("data");
    assert_ok(&run_blocking(&fresh, &["restore", path_str(&file)], None).await);
    let running = start_on(&fresh, |_| {}).await;
    let base = format!("http://{}", running.addr);

    let mut expected = all[..users].to_vec();
    expected.sort();
    assert_eq!(user_names(&fresh).await, expected, "a consistent prefix");
    for name in &before {
        assert_eq!(sign_in_status(&base, name, PASSWORD).await, 303, "{name}");
    }
    running.stop().await.unwrap();
}

/// SECURITY D3; CONTRACT 3 `restore`: reset links and sessions live when the
/// backup was taken are void once it is restored.
#[tokio::test(flavor = "multi_thread")]
async fn restore_voids_the_backups_links_and_sessions() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let signed_in = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    let session = set_cookie_value(&signed_in, "latchkey_session").expect("session cookie");
    let token = app.reset_token("alice").await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("live-secrets.lkbackup");
    assert_ok(&run_blocking(app.data_dir(), &["backup", path_str(&file)], None).await);
    let counts = &verify_json(app.data_dir(), &file)["counts"];
    assert!(counts["sessions"].as_u64().unwrap() >= 1, "{counts}");
    assert!(counts["tokens"].as_u64().unwrap() >= 1, "{counts}");

    let fresh = scratch.path().join("restored");
    assert_ok(&run_blocking(&fresh, &["restore", path_str(&file)], None).await);
    let running = start_on(&fresh, |_| {}).await;
    let base = format!("http://{}", running.addr);

    assert_eq!(link_status(&base, &token).await, 410);
    let home = browser()
        .get(format!("{base}/"))
        .header("cookie", format!("latchkey_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(location(&home), "/login");
    assert_eq!(sign_in_status(&base, "alice", PASSWORD).await, 303);
    running.stop().await.unwrap();
}

/// SECURITY D3, R3: a link spent after the backup was taken stays spent when
/// that backup is restored onto the same data directory.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_spent_after_the_backup_stays_dead_after_restore() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let token = app.reset_token("alice").await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("before-spend.lkbackup");
    assert_ok(&run_blocking(app.data_dir(), &["backup", path_str(&file)], None).await);
    let new = "Spent-Link-Kettle-7";
    let fields = [("password", new), ("confirm", new)];
    let action = format!("/reset/{token}");
    let spent = submit(&app.client(), &app, "/forgot", &action, &fields).await;
    assert_eq!(spent.status(), 303);
    let (_tmp, data) = stop_and_release(app).await;

    assert_ok(&run_blocking(&data, &["restore", path_str(&file)], None).await);
    let running = start_on(&data, |_| {}).await;
    let base = format!("http://{}", running.addr);

    assert_eq!(link_status(&base, &token).await, 410);
    assert_eq!(sign_in_status(&base, "alice", PASSWORD).await, 303);
    running.stop().await.unwrap();
}

/// CONTRACT 3 `restore`: refused while `serve` runs, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn restore_is_refused_while_the_server_runs() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("while-serving.lkbackup");
    assert_ok(&run_blocking(app.data_dir(), &["backup", path_str(&file)], None).await);
    app.add_user("bob", PASSWORD).await;
    let before = user_names(app.data_dir()).await;

    let out = run_blocking(app.data_dir(), &["restore", path_str(&file)], None).await;

    let reason = assert_refused(&out);
    assert!(reason.contains("stop"), "{reason}");
    assert_eq!(user_names(app.data_dir()).await, before);
    assert_eq!(before, ["alice", "bob"]);
    assert!(files_like(app.data_dir(), "latchkey.redb.before-restore-", "").is_empty());
    assert_eq!(
        login(&app.client(), &app, "bob", PASSWORD).await.status(),
        303
    );
}

/// CONTRACT 3 `backup verify`, `restore`; SECURITY D3: a changed, truncated or
/// foreign file is refused by both with a clear reason, and the live data stays.
#[tokio::test(flavor = "multi_thread")]
async fn damaged_backups_are_refused_and_leave_the_data_alone() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    app.add_user("bob", PASSWORD).await;
    let scratch = tempfile::tempdir().unwrap();
    let good = scratch.path().join("good.lkbackup");
    assert_ok(&run_blocking(app.data_dir(), &["backup", path_str(&good)], None).await);
    let (_tmp, data) = stop_and_release(app).await;
    let bytes = std::fs::read(&good).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let raw_db = std::fs::read(data.join("latchkey.redb")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("flipped.lkbackup", flipped, "damaged or was changed"),
        (
            "truncated.lkbackup",
            bytes[..100].to_vec(),
            "damaged or was changed",
        ),
        (
            "notes.txt",
            b"meeting notes, not a backup\n".to_vec(),
            "not a latchkey backup",
        ),
        ("raw.redb", raw_db, "not a latchkey backup"),
    ];
    let users_before = user_names(&data).await;

    for (name, content, expected) in cases {
        let file = scratch.path().join(name);
        std::fs::write(&file, content).unwrap();

        let verify = run_binary(&data, &["backup", "verify", path_str(&file)], None);
        let restore = run_binary(&data, &["restore", path_str(&file)], None);

        let reason = assert_refused(&verify);
        assert!(reason.contains(expected), "{name}: {reason}");
        let reason = assert_refused(&restore);
        assert!(reason.contains(expected), "{name}: {reason}");
        assert_eq!(user_names(&data).await, users_before, "{name}");
        let kept = files_like(&data, "latchkey.redb.before-restore-", "");
        assert!(kept.is_empty(), "{name}: {kept:?}");
        assert!(!data.join("latchkey.redb.restoring").exists(), "{name}");
    }
    assert_eq!(users_before, ["alice", "bob"]);
}

/// CONTRACT 3 `backup verify`: opens the backup read-only; the file is unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn verify_never_changes_the_backup() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("checked.lkbackup");
    assert_ok(&run_blocking(app.data_dir(), &["backup", path_str(&file)], None).await);
    let bytes = std::fs::read(&file).unwrap();
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();

    for _ in 0..2 {
        let out = run_blocking(app.data_dir(), &["backup", "verify", path_str(&file)], None).await;
        assert_ok(&out);
    }

    assert!(
        std::fs::read(&file).unwrap() == bytes,
        "backup bytes changed"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(mode_of(&file), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "verify wrote beside the backup");
}

/// CONTRACT 3 `restore`, section 6: the previous data is kept beside the restored
/// file; `backup_created` and `backup_restored` are audited.
#[tokio::test(flavor = "multi_thread")]
async fn restore_keeps_the_previous_data_and_both_steps_are_audited() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("audited.lkbackup");
    assert_ok(&run_blocking(app.data_dir(), &["backup", path_str(&file)], None).await);
    let events = app.audit_events(None).await;
    let created = events
        .iter()
        .find(|e| e.event == "backup_created")
        .expect("backup_created audited");
    assert!(
        created
            .actor
            .as_deref()
            .is_some_and(|a| a.starts_with("os:")),
        "{created:?}"
    );
    app.add_user("bob", PASSWORD).await;
    let (_tmp, data) = stop_and_release(app).await;

    let out = run_binary(&data, &["restore", path_str(&file)], None);

    assert_ok(&out);
    let kept = files_like(&data, "latchkey.redb.before-restore-", "");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(mode_of(&kept[0]), 0o600);
    assert!(
        stdout(&out).contains(path_str(&kept[0])),
        "{}",
        stdout(&out)
    );
    assert_eq!(user_names(&data).await, ["alice"]);
    let events = audit_events_of(&data);
    assert_eq!(
        events.last().map(String::as_str),
        Some("backup_restored"),
        "{events:?}"
    );
    // The log is the backup's (taken before `backup_created` was written) plus the restore.
    assert_eq!(events, ["user_created", "backup_restored"]);
}

/// CONTRACT 2 `[backup]`, SECURITY D3: scheduled backups every `every`, only
/// the newest `keep` kept, each one a verifiable backup.
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_backups_rotate_and_verify() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().join("scheduled");
    let started = Instant::now();
    let app = spawn_with(|c| {
        c.backup.dir = Some(dir.clone());
        c.backup.every = Dur::secs(1);
        c.backup.keep = 2;
    })
    .await;
    app.add_user("alice", PASSWORD).await;

    let deadline = started + Duration::from_secs(10);
    let files = loop {
        let files = files_like(&dir, "latchkey-", ".lkbackup");
        let made = app
            .audit_events(None)
            .await
            .iter()
            .filter(|e| e.event == "backup_created")
            .count();
        if started.elapsed() >= Duration::from_millis(3500) && made >= 3 && files.len() == 2 {
            break files;
        }
        assert!(
            Instant::now() < deadline,
            "{made} backups made, files {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    assert_eq!(mode_of(&dir), 0o700);
    for file in &files {
        assert_eq!(mode_of(file), 0o600, "{}", file.display());
        let counts = &verify_json(app.data_dir(), file)["counts"];
        assert!(counts["users"].as_u64().unwrap() <= 1, "{counts}");
    }
}

/// A version-1 data file, written with redb as the first release laid it out.
fn write_version_1_file(data: &Path) {
    use redb::TableDefinition;
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
    const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
    const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
    const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
    std::fs::create_dir_all(data).unwrap();
    let db = redb::Database::create(data.join("latchkey.redb")).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut meta = tx.open_table(META).unwrap();
        meta.insert("schema_version", b"1".as_slice()).unwrap();
        meta.insert("csrf_key", [7u8; 32].as_slice()).unwrap();
        tx.open_table(USERS).unwrap();
        tx.open_table(SESSIONS).unwrap();
        tx.open_table(TOKENS).unwrap();
        tx.open_table(AUDIT).unwrap();
    }
    tx.commit().unwrap();
}

/// SECURITY D3: before migrating an older data file, latchkey keeps a verified
/// copy of it (`pre-migration-v1-*.lkbackup`).
#[test]
fn an_older_data_file_is_backed_up_before_its_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_version_1_file(&data);

    let out = run_binary(&data, &["user", "list", "--json"], None);

    assert_ok(&out);
    let kept = files_like(&data, "pre-migration-v1-", ".lkbackup");
    assert_eq!(
        kept.len(),
        1,
        "{:?}",
        std::fs::read_dir(&data).unwrap().collect::<Vec<_>>()
    );
    assert_eq!(mode_of(&kept[0]), 0o600);
    let counts = &verify_json(&data, &kept[0])["counts"];
    assert_eq!(counts["schema_version"], 1, "{counts}");
    let again = run_binary(&data, &["user", "list", "--json"], None);
    assert_ok(&again);
    assert_eq!(
        files_like(&data, "pre-migration-", ".lkbackup").len(),
        1,
        "only once"
    );
}

/// A client that trusts only the certificate in `cert`.
fn https_client(cert: &Path, cookies: bool) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .cookie_store(cookies)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// CONTRACT 2 `tls_cert`/`tls_key`, 3 `tls self-signed`; SECURITY S1: HTTPS with
/// a generated certificate, HSTS, `__Host-` cookies marked Secure, no plain HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_self_signed_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let tls = tmp.path().join("tls");
    let args = [
        "tls",
        "self-signed",
        "--host",
        "localhost",
        "--ip",
        "127.0.0.1",
    ];
    let mut args = args.to_vec();
    args.extend(["--out", path_str(&tls)]);
    let out = run_blocking(&tmp.path().join("data"), &args, None).await;
    assert_ok(&out);
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    assert_eq!(mode_of(&key), 0o600);
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let said = stdout(&out);
    assert!(
        said.contains("trust") && said.contains("tls_cert"),
        "{said}"
    );

    let app = spawn_with(|c| {
        c.server.tls_cert = Some(cert.clone());
        c.server.tls_key = Some(key.clone());
        c.server.base_url = BaseUrl::parse("https://localhost").unwrap();
    })
    .await;
    app.add_user("alice", PASSWORD).await;
    let base = format!("https://127.0.0.1:{}", app.addr.port());

    let page = https_client(&cert, false)
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("HTTPS answers");
    assert_eq!(page.status(), 200);
    assert!(page.headers().contains_key("strict-transport-security"));
    let anon = set_cookies(&page);
    assert!(
        anon.iter()
            .any(|c| c.starts_with("__Host-latchkey_anon=") && c.contains("Secure")),
        "{anon:?}"
    );

    let client = https_client(&cert, true);
    let fields = [("username", "alice"), ("password", PASSWORD)];
    let res = post_form(&client, &base, "/login", "/login", &fields).await;
    assert_eq!(res.status(), 303);
    let session = set_cookies(&res);
    assert!(
        session
            .iter()
            .any(|c| c.starts_with("__Host-latchkey_session=")
                && c.contains("Secure")
                && c.contains("HttpOnly")),
        "{session:?}"
    );
    let home = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);

    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/login", app.addr.port()))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP answered: {:?}",
        plain.map(|r| r.status())
    );
}

/// `/metrics` on its own loopback listener counts sign-ins by result and shows
/// hashing and session gauges.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_sign_ins() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let running = start_on(&data, |_| {}).await;
    let base = format!("http://{}", running.addr);
    let add = [
        "user",
        "add",
        "alice",
        "--email",
        "a@example.org",
        "--password-stdin",
    ];
    assert_ok(&run_blocking(&data, &add, Some(&format!("{PASSWORD}\n"))).await);
    assert_eq!(sign_in_status(&base, "alice", PASSWORD).await, 303);
    assert_eq!(sign_in_status(&base, "alice", "Wrong-Kettle-99").await, 401);
    let metrics_addr = running.metrics_addr.expect("metrics enabled by default");
    assert!(metrics_addr.ip().is_loopback());

    let res = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();

    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    let text = res.text().await.unwrap();
    assert!(
        text.contains("latchkey_sign_ins_total{result=\"ok\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_sign_ins_total{result=\"failed\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("latchkey_hash_in_use "), "{text}");
    assert!(text.contains("latchkey_sessions_live 1\n"), "{text}");
    let web = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(web.status(), 404, "metrics stay off the public listener");
    running.stop().await.unwrap();
}

/// `[metrics] enabled = false`: no metrics listener at all.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_can_be_switched_off() {
    let tmp = tempfile::tempdir().unwrap();
    let running = start_on(&tmp.path().join("data"), |c| c.metrics.enabled = false).await;

    assert!(running.metrics_addr.is_none());
    running.stop().await.unwrap();
}

/// CONTRACT 2: `config check` refuses a metrics listener beyond loopback, naming the key.
#[test]
fn config_check_refuses_metrics_beyond_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("open-metrics.toml");
    std::fs::write(&config, "[metrics]\nlisten = \"0.0.0.0:9999\"\n").unwrap();
    let data = tmp.path().join("data");

    let out = run_binary(
        &data,
        &["--config", path_str(&config), "config", "check"],
        None,
    );

    let reason = assert_refused(&out);
    assert!(reason.contains("metrics.listen"), "{reason}");
}
