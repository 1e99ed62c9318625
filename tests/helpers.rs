//! Test fixtures: a real server on 127.0.0.1:0 with a temporary data directory,
//! cookie-keeping HTTP clients that do not follow redirects, and the built binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use latchkey::auth::Auth;
use latchkey::config::{Config, Dur, Smtp, SmtpSecurity};
use latchkey::control::ops::Ops;
use latchkey::control::protocol::{NewUser, Request, Response, UserView};
use latchkey::domain::clock::{Clock, ClockHand};
use latchkey::domain::secret::Secret;
use latchkey::mail::worker::{Outcome, Worker};
use latchkey::server::{self, Running};
use latchkey::store::audit::Origin;

pub use crate::smtp::SmtpSink;

/// A password that meets the default policy.
pub const PASSWORD: &str = "Kettle-Blue-42x";

pub struct TestApp {
    #[allow(dead_code)]
    pub addr: SocketAddr,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub auth: Arc<Auth>,
    pub setup_link: Option<String>,
    /// The server's clock, and the hand that moves it ([`TestApp::advance`]).
    clock: Clock,
    hand: ClockHand,
    mail: Arc<Worker>,
    running: Option<Running>,
}

/// Starts a server that delivers mail to a fresh SMTP sink.
pub async fn spawn_with_smtp(adjust: impl FnOnce(&mut Config)) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = spawn_with(|c| {
        point_at_sink(c, port);
        adjust(c);
    })
    .await;
    (app, sink)
}

/// Sends mail to 127.0.0.1:`port` in plain SMTP.
pub fn point_at_sink(config: &mut Config, port: u16) {
    config.mail.smtp = Some(Smtp {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// Starts a server whose config `adjust` may change first.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    adjust(&mut config);
    let (clock, hand) = Clock::adjustable();
    start_in(dir, config, clock, hand).await
}

async fn start_in(
    dir: tempfile::TempDir,
    config: Config,
    clock: Clock,
    hand: ClockHand,
) -> TestApp {
    config.clone().validate().expect("test config is valid");
    // After a restart, a store call the old server's aborted tasks had handed
    // to the blocking pool may still hold the file for a few milliseconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    let running = loop {
        match server::start_with_clock(config.clone(), clock.clone()).await {
            Ok(running) => break running,
            Err(e) if e.to_string().contains("already serving") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("server starts: {e:#}"),
        }
    };
    TestApp {
        addr: running.addr,
        base: format!("http://{}", running.addr),
        auth: running.auth.clone(),
        setup_link: running.setup_link.clone(),
        clock,
        hand,
        mail: running.mail.clone(),
        dir,
        config,
        running: Some(running),
    }
}

/// Defaults, with a private data directory and an ephemeral port.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config {
        data_dir: data_dir.join("data"),
        ..Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics.listen = "127.0.0.1:0".parse().unwrap();
    config.session.idle_timeout = Dur::minutes(30);
    config
}

impl TestApp {
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Moves the server's clock forward by `by`: expiry, timeouts, lockout
    /// and password age all follow it, without the test sleeping.
    pub fn advance(&self, by: Duration) {
        self.hand.advance(by);
    }

    /// Delivers every message that is due now, one after another through the
    /// server's own mail worker, and returns how many the SMTP server accepted.
    /// A failed delivery stops the drain (the message waits for its backoff).
    pub async fn deliver_mail(&self) -> usize {
        let mut sent = 0;
        loop {
            match self.mail.try_send_next().await.expect("outbox readable") {
                Outcome::Sent => sent += 1,
                Outcome::Dropped => {}
                Outcome::Idle | Outcome::Retry => return sent,
            }
        }
    }

    /// Delivers what is due (see [`TestApp::deliver_mail`]) and returns
    /// everything `sink` has received.
    pub async fn mail_in(&self, sink: &SmtpSink) -> Vec<crate::smtp::Received> {
        self.deliver_mail().await;
        sink.messages()
    }

    /// A browser: its own cookie jar, redirects not followed.
    pub fn client(&self) -> reqwest::Client {
        browser()
    }

    /// Runs an admin request in-process, as the CLI would with the server stopped.
    pub async fn admin(&self, request: Request) -> Result<Response, String> {
        let auth = self.auth.clone();
        tokio::task::spawn_blocking(move || {
            let ops = Ops {
                store: &auth.store,
                config: &auth.config,
                mailer: &auth.mailer,
                keys: &auth.keys,
                origin: Origin::operator("test"),
                acting: latchkey::control::ops::Acting::Operator,
            };
            ops.execute(request).map_err(|e| e.to_string())
        })
        .await
        .unwrap()
    }

    /// `/metrics` of this server (enabled by default, on its own loopback port).
    pub async fn metrics(&self) -> String {
        let addr = self
            .running
            .as_ref()
            .and_then(|r| r.metrics_addr)
            .expect("metrics enabled");
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The token of a reset link issued by an administrator (no mail sent).
    pub async fn reset_token(&self, username: &str) -> String {
        let request = Request::ResetLink {
            username: username.into(),
            send: false,
        };
        match self.admin(request).await.expect("reset-link works") {
            Response::Link { link, .. } => link.rsplit('/').next().unwrap().to_owned(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Creates an account with `password` (default policy applies).
    pub async fn add_user(&self, username: &str, password: &str) {
        self.admin(Request::UserAdd(new_user(username, Some(password))))
            .await
            .expect("user created");
    }

    /// Stops the server (graceful), keeping the data directory.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("server stops");
        }
    }

    /// Stops the server and starts a new one on the same data directory and
    /// clock (time moved forward stays moved), with `adjust` applied to the config.
    pub async fn restart(mut self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.stop().await;
        let TestApp {
            dir,
            mut config,
            clock,
            hand,
            auth,
            mail,
            ..
        } = self;
        // The old server's handles keep its store open; let go of them first.
        drop((auth, mail));
        adjust(&mut config);
        start_in(dir, config, clock, hand).await
    }

    /// Runs the built binary against this app's data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, None)
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_binary(&self.config.data_dir, args, stdin)
    }

    /// The audit log as `audit --json` would print it.
    pub async fn audit_events(
        &self,
        user: Option<&str>,
    ) -> Vec<latchkey::control::protocol::AuditView> {
        match self
            .admin(Request::Audit {
                username: user.map(str::to_owned),
                limit: 10_000,
            })
            .await
            .unwrap()
        {
            Response::Audit { events } => events,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// How many audit events named `event` there are (for `user`, or for anyone).
    pub async fn count_events(&self, event: &str, user: Option<&str>) -> usize {
        self.audit_events(user)
            .await
            .iter()
            .filter(|e| e.event == event)
            .count()
    }

    /// The account as `user show` reports it.
    pub async fn show_user(&self, username: &str) -> UserView {
        match self
            .admin(Request::UserShow {
                username: username.into(),
            })
            .await
            .unwrap()
        {
            Response::User { user } => user,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The mail waiting in the outbox, as `mail queue` reports it.
    pub async fn mail_queue(&self) -> Vec<latchkey::control::protocol::QueuedMail> {
        match self.admin(Request::MailQueue).await.unwrap() {
            Response::Queue { messages } => messages,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The status of `GET path` from a fresh browser.
    pub async fn status_of(&self, path: &str) -> u16 {
        get(&self.client(), self, path).await.status().as_u16()
    }
}

pub fn new_user(username: &str, password: Option<&str>) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: format!("{}@example.org", username.to_lowercase()),
        name: None,
        phone: None,
        admin: false,
        agency: None,
        license_expires: None,
        password: password.map(Secret::new),
        groups: Vec::new(),
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_latchkey"))
}

/// Runs `latchkey --data DIR ARGS…` from an empty working directory.
pub fn run_binary(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(binary());
    cmd.env_remove("LATCHKEY_CONFIG")
        .arg("--data")
        .arg(data_dir)
        .args(args)
        .current_dir(data_dir.parent().unwrap_or(data_dir))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("binary runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `latchkey --data DATA --config CONFIG serve`, run from the config's folder
/// with `RUST_LOG`, no colour, no stdin and piped output (not yet spawned).
pub fn serve_command(data: &Path, config: &Path, rust_log: &str) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("--data")
        .arg(data)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", rust_log)
        .current_dir(config.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The hidden CSRF token in a page.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf_token") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// GETs the page at `url` and returns its CSRF token (the browser's cookie is set by then).
pub async fn form_token(client: &reqwest::Client, url: &str) -> String {
    csrf_token(&text_of(client, url).await)
}

/// [`form_token`] for a page of `app`.
pub async fn page_token(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    form_token(client, &app.url(path)).await
}

/// The body of `GET url`.
pub async fn text_of(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// `GET path` of `app` on `client`.
pub async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> reqwest::Response {
    client.get(app.url(path)).send().await.unwrap()
}

/// POSTs `fields` plus `token` as the CSRF token to `url`.
pub async fn post_with_token(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
    token: &str,
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", token));
    client.post(url).form(&form).send().await.unwrap()
}

/// A browser for any server: its own cookie jar, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GETs `page` (to receive a CSRF token) and POSTs `fields` plus the token to `action`.
pub async fn submit(
    client: &reqwest::Client,
    app: &TestApp,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    post_form(client, &app.base, page, action, fields).await
}

/// [`submit`] for a server known only by its base URL (e.g. a `latchkey serve` child).
pub async fn post_form(
    client: &reqwest::Client,
    base: &str,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = form_token(client, &format!("{base}{page}")).await;
    post_with_token(client, &format!("{base}{action}"), fields, &token).await
}

/// Signs `client` in; returns the response to `POST /login`.
pub async fn login(
    client: &reqwest::Client,
    app: &TestApp,
    user: &str,
    password: &str,
) -> reqwest::Response {
    login_at(client, &app.base, user, password).await
}

/// [`login`] for a server known only by its base URL.
pub async fn login_at(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let fields = [("username", user), ("password", password)];
    post_form(client, base, "/login", "/login", &fields).await
}

/// Chooses `new` (typed twice) on the forced change page `/password/expired`.
pub async fn change_expired_password(
    client: &reqwest::Client,
    app: &TestApp,
    new: &str,
) -> reqwest::Response {
    let fields = [("password", new), ("confirm", new)];
    submit(
        client,
        app,
        "/password/expired",
        "/password/expired",
        &fields,
    )
    .await
}

/// The path part of a link (from `prefix` on; its host is base_url, not this app).
pub fn path_of(link: &str, prefix: &str) -> String {
    link[link.find(prefix).expect(prefix)..].to_owned()
}

/// A port nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asks for a reset link for `username` through `/forgot`.
pub async fn request_reset(
    client: &reqwest::Client,
    app: &TestApp,
    username: &str,
) -> reqwest::Response {
    submit(client, app, "/forgot", "/forgot", &[("username", username)]).await
}

/// Changes the password on `/profile/password` (the new one typed twice).
pub async fn change_password(
    client: &reqwest::Client,
    app: &TestApp,
    current: &str,
    new: &str,
) -> reqwest::Response {
    let fields = [
        ("current_password", current),
        ("password", new),
        ("confirm", new),
    ];
    submit(client, app, "/profile", "/profile/password", &fields).await
}

/// Signs `user` in on a fresh client; returns it and its session id.
pub async fn signed_in(app: &TestApp, user: &str, password: &str) -> (reqwest::Client, String) {
    let client = app.client();
    let res = login(&client, app, user, password).await;
    assert_eq!(res.status(), 303, "{user} signs in");
    assert_eq!(location(&res), "/");
    let id = set_cookie(&res, "latchkey_session").expect("sign-in sets a session cookie");
    (client, id)
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A cookie value from a response's `Set-Cookie` headers.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c[name.len() + 1..].split(';').next().unwrap().to_owned())
}

/// The answer sends the browser to the sign-in page.
pub fn assert_sent_to_login(res: &reqwest::Response) {
    assert_eq!(res.status(), 303);
    assert_eq!(location(res), "/login");
}

pub fn location(res: &reqwest::Response) -> &str {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[allow(dead_code)]
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Forwards each line of `reader` (a child's output) to a channel, from a
/// background thread that reads to the end even once nobody listens, so the
/// child never blocks on a full pipe.
pub fn lines_of(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The first line on `rx` for which `pick` returns something, within `limit`.
pub fn first_match<T>(
    rx: &mpsc::Receiver<String>,
    limit: Duration,
    pick: impl Fn(&str) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => match pick(&line) {
                Some(found) => return found,
                None => seen.push(line),
            },
            Err(_) => panic!("expected line not seen; got {seen:#?}"),
        }
    }
}

/// The port in a log line such as `... addr=127.0.0.1:PORT ...`, colour codes or not.
pub fn listening_port(line: &str) -> Option<u16> {
    let at = line.find("addr=")?;
    let rest = &line[at..];
    let after = rest.find("127.0.0.1:")? + "127.0.0.1:".len();
    let digits: String = rest[after..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
