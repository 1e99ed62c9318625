//! The admin command line while `serve` runs: commands reach the live server over
//! its control socket and take effect at once; one server per data directory;
//! the real binary served end to end (CONTRACT section 3; SECURITY L9).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use crate::helpers::*;

fn assert_ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

/// Kills and reaps the child unless it already ended, so a failing test leaves no server behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl ChildGuard {
    fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("child status") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// A config file that listens on an ephemeral port.
fn ephemeral_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("serve.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    path
}

/// Starts `latchkey --data DATA --config CFG serve` with piped output.
fn spawn_serve(data: &Path, config: &Path) -> ChildGuard {
    let child = serve_command(data, config, "info")
        .spawn()
        .expect("binary runs");
    ChildGuard(child)
}

/// CONTRACT 3: `user add` through the socket creates an account that can sign in at once.
#[tokio::test(flavor = "multi_thread")]
async fn user_added_while_serving_signs_in_at_once() {
    let app = spawn_app().await;
    let args = [
        "user",
        "add",
        "alice",
        "--email",
        "a@example.org",
        "--password-stdin",
    ];

    let out = app.cli_with_stdin(&args, Some(&format!("{PASSWORD}\n")));

    assert_ok(&out);
    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
}

/// CONTRACT 7: groups and roles change through the socket while serving.
#[tokio::test(flavor = "multi_thread")]
async fn groups_and_roles_change_while_serving() {
    let app = spawn_app().await;
    app.add_user("gus", PASSWORD).await;
    assert_ok(&app.cli(&["group", "add", "Intake"]));
    assert_ok(&app.cli(&[
        "user", "set", "gus", "--groups", "intake", "--role", "helpdesk",
    ]));
    let user = app.show_user("gus").await;
    assert_eq!(user.groups, ["Intake"]);
    assert_eq!(user.role, latchkey::domain::role::Role::Helpdesk);
    let listed = app.cli(&["group", "list", "--json"]);
    assert_ok(&listed);
    assert_eq!(stdout(&listed).trim(), r#"{"name":"Intake","members":1}"#);
}

/// CONTRACT 3 (`unlock`): the binary unlocks an account on the live server.
#[tokio::test(flavor = "multi_thread")]
async fn unlock_while_serving_restores_sign_in() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    for _ in 0..3 {
        login(&client, &app, "alice", "Wrong-Password-1").await;
    }
    assert_eq!(login(&client, &app, "alice", PASSWORD).await.status(), 403);

    assert_ok(&app.cli(&["unlock", "alice"]));

    let res = login(&client, &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let events = app.audit_events(Some("alice")).await;
    let unlocked = events
        .iter()
        .find(|e| e.event == "account_unlocked")
        .expect("audited");
    assert!(
        unlocked
            .actor
            .as_deref()
            .is_some_and(|a| a.starts_with("os:"))
    );
}

/// CONTRACT 3: disabling revokes sessions at once, even from the binary.
#[tokio::test(flavor = "multi_thread")]
async fn disable_while_serving_ends_a_live_session() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    assert_eq!(login(&client, &app, "alice", PASSWORD).await.status(), 303);
    assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 200);

    assert_ok(&app.cli(&["user", "disable", "alice"]));

    let res = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
}

/// SECURITY L9: the control socket is mode 0600 and goes away with the server.
#[tokio::test(flavor = "multi_thread")]
async fn control_socket_is_private_and_removed_on_stop() {
    let mut app = spawn_app().await;
    let socket = app.data_dir().join("control.sock");
    let mode = std::fs::metadata(&socket)
        .expect("socket exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    app.stop().await;

    assert!(!socket.exists(), "control.sock left behind");
}

/// CONTRACT 3: a second `serve` on the same data directory fails at once with a clear message.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_serve_on_the_same_data_dir_fails() {
    let app = spawn_app().await;
    let config = ephemeral_config(app.dir.path());
    let mut child = spawn_serve(app.data_dir(), &config);

    let status = child
        .wait_for_exit(Duration::from_secs(5))
        .expect("second serve exits instead of serving");

    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("already serving"), "{err}");
    assert!(err.contains(&app.data_dir().display().to_string()), "{err}");
    assert_eq!(
        client_health(&app).await,
        "ok",
        "the first server still serves"
    );
}

async fn client_health(app: &TestApp) -> String {
    let url = format!("http://{}/healthz", app.addr);
    let res = app.client().get(url).send().await.unwrap();
    res.text().await.unwrap()
}

/// CONTRACT 3 and 4 end to end with the real binary: setup link, the pickup
/// warning, health, setup, sign-in, and a clean exit 0 on SIGTERM that removes
/// the control socket.
#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = ephemeral_config(tmp.path());
    let mut child = spawn_serve(&data, &config);
    let out = lines_of(child.0.stdout.take().unwrap());
    let err = lines_of(child.0.stderr.take().unwrap());

    let setup_path = first_match(&out, Duration::from_secs(15), |l| {
        l.find("/setup/").map(|at| l[at..].trim().to_owned())
    });
    // CONTRACT 5: without [mail.smtp], serve says at start where mail goes instead.
    let pickup = first_match(&err, Duration::from_secs(15), |l| {
        (l.contains("WARN") && l.contains("no [mail.smtp] in the config")).then(|| l.to_owned())
    });
    assert!(pickup.contains("mail-pickup"), "{pickup}");
    let port = first_match(&err, Duration::from_secs(15), listening_port);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap().trim(), "ok");

    let setup = [
        ("username", "admin"),
        ("email", "admin@example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let res = post_to_page(&client, &base, &setup_path, &setup).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let signin = [("username", "admin"), ("password", PASSWORD)];
    let res = post_to_page(&client, &base, "/login", &signin).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    assert_eq!(
        client
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(data.join("control.sock").exists());

    let pid = child.0.id().to_string();
    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    let status = child
        .wait_for_exit(Duration::from_secs(10))
        .expect("serve exits after SIGTERM");

    assert_eq!(status.code(), Some(0));
    assert!(
        !data.join("control.sock").exists(),
        "control.sock left behind"
    );
}

/// GETs `path` for its CSRF token, then POSTs `fields` with it to the same path.
async fn post_to_page(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(page.status(), 200, "GET {path}");
    let token = csrf_token(&page.text().await.unwrap());
    post_with_token(client, &format!("{base}{path}"), fields, &token).await
}
