//! SECURITY D1 with the real binary: whatever a client saw succeed survives a
//! `kill -9` of `latchkey serve` under write load: password changes, locks,
//! spent reset links.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::*;

const BOB_PASSWORD: &str = "Bob-Kettle-Green-7";

/// `latchkey serve` as a child process; killed (SIGKILL) and reaped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// Starts the binary on `data` and waits until `/healthz` answers.
    async fn start(data: &Path, config: &Path) -> Server {
        let mut child = serve_command(data, config, "info")
            .stdout(Stdio::null())
            .spawn()
            .expect("binary runs");
        let stderr = child.stderr.take().unwrap();
        let mut server = Server {
            child,
            base: String::new(),
        };
        let port = first_match(&lines_of(stderr), Duration::from_secs(15), listening_port);
        server.base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let health = reqwest::get(format!("{}/healthz", server.base)).await;
            if health.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            assert!(Instant::now() < deadline, "/healthz never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`, then waits for the process to be gone.
    fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL sent");
        let status = self.child.wait().expect("child reaped");
        assert!(!status.success(), "killed, not exited: {status:?}");
    }
}

/// GETs `page` for a CSRF token, then POSTs `fields` with it to `action`.
async fn try_post_form(
    client: &reqwest::Client,
    base: &str,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    let html = client
        .get(format!("{base}{page}"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf_token(&html);
    let mut form = fields.to_vec();
    form.push(("csrf_token", &token));
    client
        .post(format!("{base}{action}"))
        .form(&form)
        .send()
        .await
}

async fn try_sign_in(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> reqwest::Result<reqwest::Response> {
    let fields = [("username", user), ("password", password)];
    try_post_form(client, base, "/login", "/login", &fields).await
}

async fn sign_in(client: &reqwest::Client, base: &str, user: &str, password: &str) -> u16 {
    try_sign_in(client, base, user, password)
        .await
        .expect("sign-in answered")
        .status()
        .as_u16()
}

/// Wrong-password sign-ins for bob from a few browsers until told to stop or
/// the server goes away; counts answers and acknowledged locks (403).
struct Flood {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    locked: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Flood {
    fn start(base: &str) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let locked = Arc::new(AtomicUsize::new(0));
        let tasks = (0..3)
            .map(|_| {
                let (base, stop) = (base.to_owned(), stop.clone());
                let (answered, locked) = (answered.clone(), locked.clone());
                tokio::spawn(async move {
                    let client = browser();
                    let fields = [("username", "bob"), ("password", "Not-Bobs-Kettle-1")];
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(res) =
                            try_post_form(&client, &base, "/login", "/login", &fields).await
                        else {
                            break; // the server was killed
                        };
                        match res.status().as_u16() {
                            401 => {}
                            403 => {
                                locked.fetch_add(1, Ordering::SeqCst);
                            }
                            other => panic!("wrong password for bob answered {other}"),
                        }
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Flood {
            stop,
            answered,
            locked,
            tasks,
        }
    }

    /// Waits until at least `n` answers (and, if `lock`, one 403) have come back.
    async fn until(&self, n: usize, lock: bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.answered.load(Ordering::SeqCst) < n
            || (lock && self.locked.load(Ordering::SeqCst) == 0)
        {
            assert!(Instant::now() < deadline, "the flood got no answers");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.expect("flood task did not panic");
        }
    }
}

/// Config for the child: ephemeral ports, and no per-IP limit in the way of the flood.
fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("crash.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:0\"\n\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n\n\
         [rate_limit]\nper_ip_per_minute = 1000000\n",
    )
    .unwrap();
    path
}

fn add_user(data: &Path, name: &str, password: &str) {
    let email = format!("{name}@example.org");
    let args = ["user", "add", name, "--email", &email, "--password-stdin"];
    let out = run_binary(data, &args, Some(&format!("{password}\n")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

async fn reset_link_token(data: &Path) -> String {
    let data = data.to_owned();
    let out =
        tokio::task::spawn_blocking(move || run_binary(&data, &["reset-link", "alice"], None))
            .await
            .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let at = text.find("/reset/").expect("a reset link") + "/reset/".len();
    text[at..].split_whitespace().next().unwrap().to_owned()
}

/// SECURITY D1, L6: five rounds of change-then-`kill -9` under write load; each
/// acknowledged password change, bob's acknowledged lock, and a reset link
/// spent just before the kill all survive the restart.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_changes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = write_config(tmp.path());
    add_user(&data, "alice", PASSWORD);
    add_user(&data, "bob", BOB_PASSWORD);
    let mut current = PASSWORD.to_owned();

    for round in 0..5 {
        let server = Server::start(&data, &config).await;
        let base = server.base.clone();
        let flood = Flood::start(&base);
        flood.until(3, round == 0).await;
        let alice = browser();
        assert_eq!(
            sign_in(&alice, &base, "alice", &current).await,
            303,
            "round {round}"
        );
        let new = format!("Round-{round}-Kettle!x");
        let fields = [
            ("current_password", current.as_str()),
            ("password", new.as_str()),
            ("confirm", new.as_str()),
        ];
        let changed = try_post_form(&alice, &base, "/profile", "/profile/password", &fields)
            .await
            .unwrap();
        assert_eq!(changed.status(), 303, "round {round}");

        server.kill_hard();
        flood.finish().await;

        let server = Server::start(&data, &config).await;
        let base = server.base.clone();
        assert_eq!(
            sign_in(&browser(), &base, "alice", &current).await,
            401,
            "round {round}: old"
        );
        assert_eq!(
            sign_in(&browser(), &base, "alice", &new).await,
            303,
            "round {round}: new"
        );
        assert_eq!(
            sign_in(&browser(), &base, "bob", BOB_PASSWORD).await,
            403,
            "round {round}: bob's lock held"
        );
        current = new;
        server.kill_hard();
    }

    let server = Server::start(&data, &config).await;
    let base = server.base.clone();
    let token = reset_link_token(&data).await;
    let flood = Flood::start(&base);
    flood.until(3, false).await;
    let chosen = "Reset-Last-Kettle!9";
    let fields = [("password", chosen), ("confirm", chosen)];
    let action = format!("/reset/{token}");
    let spent = try_post_form(&browser(), &base, "/forgot", &action, &fields)
        .await
        .unwrap();
    assert_eq!(spent.status(), 303);
    server.kill_hard();
    flood.finish().await;

    let server = Server::start(&data, &config).await;
    let base = server.base.clone();
    let link = browser()
        .get(format!("{base}/reset/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), 410, "a spent link stays spent");
    assert_eq!(sign_in(&browser(), &base, "alice", chosen).await, 303);
    assert_eq!(sign_in(&browser(), &base, "alice", &current).await, 401);
    let bob = browser();
    let res = try_sign_in(&bob, &base, "bob", BOB_PASSWORD).await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("locked"));
    server.kill_hard();
}

/// Issue 13, SECURITY D2: `kill -9` while a batch is going out over one SMTP
/// connection loses nothing. Every queued invitation reaches its recipient
/// after the restart, at least once (one accepted just before the kill may
/// come twice), and the outbox ends empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_9_mid_batch_loses_no_queued_mail() {
    const INVITES: usize = 40;
    let sink = crate::smtp::SmtpSink::start_slow(0, Duration::from_millis(40)).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = write_config(tmp.path());
    let smtp = format!(
        "\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
        sink.port
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&smtp);
    std::fs::write(&config, text).unwrap();
    // Queued with the server stopped, so the whole batch is waiting at start.
    let csv: String = std::iter::once("username,email\n".to_owned())
        .chain((0..INVITES).map(|i| format!("invitee{i},invitee{i}@example.org\n")))
        .collect();
    let file = tmp.path().join("invitees.csv");
    std::fs::write(&file, csv).unwrap();
    let out = run_binary(
        &data,
        &["user", "import", file.to_str().unwrap(), "--send-invites"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let server = Server::start(&data, &config).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.messages().len() < 5 {
        assert!(Instant::now() < deadline, "no delivery started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill_hard();
    let before_restart = sink.messages().len();
    assert!(
        before_restart < INVITES,
        "killed mid-batch ({before_restart})"
    );

    let server = Server::start(&data, &config).await;
    let missing = |sink: &crate::smtp::SmtpSink| -> Vec<usize> {
        (0..INVITES)
            .filter(|i| sink.to(&format!("invitee{i}@example.org")).is_empty())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !missing(&sink).is_empty() {
        assert!(
            Instant::now() < deadline,
            "never delivered: {:?}",
            missing(&sink)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let queue = run_binary(&data, &["mail", "queue", "--json"], None);
        if stdout(&queue).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "outbox not emptied: {}",
            stdout(&queue)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill_hard();
}
