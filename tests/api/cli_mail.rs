//! The built binary and mail: setup invitations, reset links, the outbox and
//! `mail test` (CONTRACT sections 3 and 5; SECURITY D2, R5, X3).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use latchkey::mail::worker::Outcome;
use serde_json::Value;

use crate::helpers::*;
use crate::smtp::Received;

/// Runs the binary off the runtime's workers, so the server and the sink keep running.
async fn cli(data_dir: &Path, args: &[&str]) -> Output {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&data_dir, &args, None)
    })
    .await
    .unwrap()
}

/// Runs a command that must succeed; returns its stdout.
async fn cli_ok(data_dir: &Path, args: &[&str]) -> String {
    let o = cli(data_dir, args).await;
    assert_eq!(o.status.code(), Some(0), "{args:?} failed: {}", stderr(&o));
    stdout(&o)
}

/// The first printed line holding `{base_url}{prefix}`.
fn printed_link(out: &str, prefix: &str) -> String {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("http://127.0.0.1:8080{prefix}")))
        .unwrap_or_else(|| panic!("no {prefix} link printed in {out:?}"))
        .to_owned()
}

/// `mail queue --json`: one object per line.
async fn queue_json(data_dir: &Path) -> (String, Vec<Value>) {
    let out = cli_ok(data_dir, &["mail", "queue", "--json"]).await;
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    (out, lines)
}

/// A config file that sends through 127.0.0.1:`port` in plain SMTP.
fn smtp_config(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("latchkey-test.toml");
    let text = format!("[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n");
    std::fs::write(&path, text).unwrap();
    path
}

/// Chooses `password` on a setup page and signs in with it.
async fn complete_setup(app: &TestApp, path: &str, email: &str, user: &str) {
    let client = app.client();
    let fields = [
        ("email", email),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let res = submit(&client, app, path, path, &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let signed_in = login(&app.client(), app, user, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/");
}

/// CONTRACT 3 `user add` without a password: the setup link is printed and mailed alike.
#[tokio::test(flavor = "multi_thread")]
async fn user_add_prints_and_mails_the_same_setup_link() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;

    let out = cli_ok(
        app.data_dir(),
        &["user", "add", "bob", "--email", "bob@example.org"],
    )
    .await;

    let link = printed_link(&out, "/setup/");
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, vec!["bob@example.org".to_string()]);
    assert_eq!(mail[0].link("/setup/").as_deref(), Some(link.as_str()));
    complete_setup(&app, &path_of(&link, "/setup/"), "bob@example.org", "bob").await;
}

/// CONTRACT 3 `user import --send-invites`: every account gets its own setup link.
#[tokio::test(flavor = "multi_thread")]
async fn import_with_send_invites_mails_each_account_its_own_link() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    let file = app.dir.path().join("users.csv");
    let rows = ["ann", "ben", "cyd"];
    let csv: String = rows.iter().fold("username,email\n".into(), |acc, u| {
        format!("{acc}{u},{u}@example.org\n")
    });
    std::fs::write(&file, csv).unwrap();

    cli_ok(
        app.data_dir(),
        &["user", "import", file.to_str().unwrap(), "--send-invites"],
    )
    .await;

    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 3);
    let mut tokens = Vec::new();
    for user in rows {
        let to = format!("{user}@example.org");
        let theirs = sink.to(&to);
        assert_eq!(theirs.len(), 1, "one invitation to {to}");
        tokens.push(theirs[0].token("/setup/").expect("a setup link"));
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "three different links");
    let ben = sink.to("ben@example.org")[0].link("/setup/").unwrap();
    complete_setup(&app, &path_of(&ben, "/setup/"), "ben@example.org", "ben").await;
}

/// CONTRACT 3 `user import` without `--send-invites` mails nothing.
#[tokio::test(flavor = "multi_thread")]
async fn import_without_send_invites_mails_nothing() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    let file = app.dir.path().join("users.csv");
    std::fs::write(
        &file,
        "username,email\nann,ann@example.org\nben,ben@example.org\ncyd,cyd@example.org\n",
    )
    .unwrap();

    cli_ok(app.data_dir(), &["user", "import", file.to_str().unwrap()]).await;

    assert!(app.mail_queue().await.is_empty(), "nothing queued");
    let mail = app.mail_in(&sink).await;
    assert!(mail.is_empty(), "nothing mailed: {mail:?}");
}

/// CONTRACT 3 `reset-link`: printed only, or printed and mailed with `--send`;
/// the newer link voids the older one (R5) and sets a password.
#[tokio::test(flavor = "multi_thread")]
async fn reset_link_prints_and_with_send_also_mails() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;

    let printed = printed_link(
        &cli_ok(app.data_dir(), &["reset-link", "alice"]).await,
        "/reset/",
    );
    assert!(
        app.mail_queue().await.is_empty(),
        "without --send nothing is queued"
    );
    let sent_out = cli_ok(app.data_dir(), &["reset-link", "alice", "--send"]).await;

    let sent = printed_link(&sent_out, "/reset/");
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1, "only the --send link is mailed");
    assert_eq!(mail[0].to, vec!["alice@example.org".to_string()]);
    assert_eq!(mail[0].link("/reset/").as_deref(), Some(sent.as_str()));
    let client = app.client();
    let older = client
        .get(app.url(&path_of(&printed, "/reset/")))
        .send()
        .await;
    assert_eq!(older.unwrap().status(), 410, "R5: the newer link voids it");
    let path = path_of(&sent, "/reset/");
    let fields = [
        ("password", "Lantern-Red-77q"),
        ("confirm", "Lantern-Red-77q"),
    ];
    let res = submit(&client, &app, &path, &path, &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let signed_in = login(&app.client(), &app, "alice", "Lantern-Red-77q").await;
    assert_eq!(signed_in.status(), 303);
}

/// CONTRACT 3 `mail queue --json`, 5, D2, X3: an undeliverable message waits with its
/// attempts and error, the listing never holds its link, and it goes out once SMTP is back.
#[tokio::test(flavor = "multi_thread")]
async fn mail_queue_lists_waiting_mail_without_its_link() {
    let port = free_port();
    let app = spawn_with(|config| point_at_sink(config, port)).await;
    app.add_user("alice", PASSWORD).await;
    let res = request_reset(&app.client(), &app, "alice").await;
    assert_eq!(res.status(), 200);
    app.deliver_mail().await; // one attempt, refused

    let (out, lines) = queue_json(app.data_dir()).await;

    assert_eq!(lines.len(), 1, "{out}");
    let m = &lines[0];
    for field in [
        "id",
        "kind",
        "to",
        "subject",
        "attempts",
        "last_error",
        "next_attempt_at",
        "expires_at",
    ] {
        assert!(m.get(field).is_some(), "field {field} in {m}");
    }
    assert_eq!(m["to"], "alice@example.org");
    assert!(m["attempts"].as_u64().unwrap() >= 1, "{m}");
    assert!(m["last_error"].as_str().unwrap().contains("refused"), "{m}");
    assert!(!out.contains("/reset/") && !out.contains("http"), "{out}");
    let sink = SmtpSink::start_on(port).await;
    app.advance(Duration::from_secs(5 * 60 + 1)); // past the longest backoff
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1, "delivered once SMTP is back");
    let token = mail[0].token("/reset/").expect("a reset link");
    assert!(!out.contains(&token), "the queue never shows the token");
}

/// CONTRACT 3 `mail test`: a message goes out now and the outcome is reported.
#[tokio::test(flavor = "multi_thread")]
async fn mail_test_sends_through_the_configured_smtp() {
    let sink = SmtpSink::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = smtp_config(tmp.path(), sink.port);
    let data = tmp.path().join("data");

    let o = cli(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "mail",
            "test",
            "someone@example.org",
        ],
    )
    .await;

    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("accepted"), "{}", stdout(&o));
    let mail = sink.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, vec!["someone@example.org".to_string()]);
    let subject = mail[0].header("Subject").unwrap_or_default();
    assert!(subject.to_lowercase().contains("test"), "{subject}");
}

/// CONTRACT 3 exit codes: a refused connection is exit 1 with one line naming the cause.
#[tokio::test(flavor = "multi_thread")]
async fn mail_test_to_a_closed_port_explains_the_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    let config = smtp_config(tmp.path(), free_port());
    let args = [
        "--config",
        config.to_str().unwrap(),
        "mail",
        "test",
        "someone@example.org",
    ];

    let o = cli(&tmp.path().join("data"), &args).await;

    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(err.contains("port"), "{err}");
}

/// CONTRACT 3 exit codes: an invalid address is exit 1 and nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn mail_test_refuses_an_invalid_address() {
    let sink = SmtpSink::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = smtp_config(tmp.path(), sink.port);
    let args = [
        "--config",
        config.to_str().unwrap(),
        "mail",
        "test",
        "not an address",
    ];

    let o = cli(&tmp.path().join("data"), &args).await;

    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    assert!(sink.messages().is_empty());
}

/// CONTRACT 2 and 5, D2: with the server stopped and no `[mail.smtp]`, `user add`
/// queues its invitation in the outbox; the next `serve` writes it to the pickup folder.
#[tokio::test(flavor = "multi_thread")]
async fn direct_mode_queues_mail_that_the_server_later_delivers() {
    let tmp = tempfile::tempdir().unwrap();
    let config = test_config(tmp.path());
    let data = config.data_dir.clone();
    let out = cli_ok(&data, &["user", "add", "carol", "--email", "c@example.org"]).await;
    let link = printed_link(&out, "/setup/");

    let (listing, lines) = queue_json(&data).await;

    assert_eq!(lines.len(), 1, "{listing}");
    assert_eq!(lines[0]["to"], "c@example.org");
    assert!(!listing.contains(&link));
    let running = latchkey::server::start(config)
        .await
        .expect("server starts");
    let pickup = data.join("mail-pickup");
    while matches!(
        running.mail.try_send_next().await.unwrap(),
        Outcome::Sent | Outcome::Dropped
    ) {}
    let delivered = eml_files(&pickup);
    assert_eq!(delivered.len(), 1, "one .eml in {}", pickup.display());
    let message = Received {
        from: String::new(),
        to: Vec::new(),
        raw: std::fs::read_to_string(&delivered[0]).unwrap(),
    };
    assert!(message.raw.contains("c@example.org"));
    assert_eq!(message.link("/setup/").as_deref(), Some(link.as_str()));
    let after = queue_json(&data).await.0;
    assert!(after.trim().is_empty(), "the outbox is empty: {after}");
    running.stop().await.unwrap();
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect()
}
