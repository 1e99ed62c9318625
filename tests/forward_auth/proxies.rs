//! Caddy and nginx in front of a guarded app.
//!
//! Each proxy runs as a child process with the configuration of
//! packaging/forward-auth (the file the README shows), changed only where a
//! test machine differs from the agency's: plain HTTP on a free port of
//! 127.0.0.1, `*.agency.localhost` names, and the addresses of the latchkey
//! under test and of a small app that echoes the headers it received. A
//! browser (reqwest, its own cookie jar, redirects followed by hand so each
//! hop is checked) goes through the proxy as a person would.
//!
//! Ignored unless asked for: they need the `caddy` and `nginx` Debian
//! packages (`.ci/run` installs them), and a missing one fails the test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Uri, header};
use axum::response::IntoResponse;
use latchkey::config::BaseUrl;
use latchkey::control::protocol::{AppChanges, Request};

use super::{guard, member, urlencode};
use crate::helpers::{self, PASSWORD, TestApp};

/// The README's Caddy configuration.
const CADDYFILE: &str = include_str!("../../packaging/forward-auth/Caddyfile");
/// The README's nginx configuration (server blocks for inside `http { }`).
const NGINX_CONF: &str = include_str!("../../packaging/forward-auth/nginx.conf");

/// The cookie domain, and the names under it.
const DOMAIN: &str = "agency.localhost";
pub(crate) const AUTH: &str = "auth.agency.localhost";
pub(crate) const REPORTS: &str = "reports.agency.localhost";
/// A name the proxy does not serve; a forged header may claim it.
const OTHER: &str = "other.agency.localhost";

/// How long a proxy may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proxy {
    Caddy,
    Nginx,
}

/// latchkey behind a running proxy, with the echoing app behind it too.
pub(crate) struct Site {
    /// Killed first (fields drop in order), while its directory still exists.
    _proxy: Running,
    pub(crate) app: TestApp,
    /// The proxy's port, on 127.0.0.1.
    port: u16,
    _dir: tempfile::TempDir,
}

impl Site {
    /// Starts latchkey (trusting 127.0.0.1 as its proxy, sharing its cookie
    /// with `*.agency.localhost`), the app, and `proxy` in front of both.
    pub(crate) async fn start(proxy: Proxy) -> Site {
        // base_url names the proxy's port, and the proxy latchkey's address:
        // the port first.
        let port = helpers::free_port();
        let app = helpers::spawn_with(|c| {
            c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            c.forward_auth.cookie_domain = Some(DOMAIN.into());
            c.server.base_url = BaseUrl::parse(&format!("http://{AUTH}:{port}")).unwrap();
        })
        .await;
        let upstream = echo_app().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut running = match proxy {
            Proxy::Caddy => start_caddy(dir.path(), port, app.addr, upstream),
            Proxy::Nginx => start_nginx(dir.path(), port, app.addr, upstream),
        };
        running.wait_until_listening(port).await;
        Site {
            _proxy: running,
            app,
            port,
            _dir: dir,
        }
    }

    /// `name:port`, as an app lists the host (the port is not the default).
    pub(crate) fn host(&self, name: &str) -> String {
        format!("{name}:{}", self.port)
    }

    /// `http://name:port{path}`.
    pub(crate) fn url(&self, name: &str, path: &str) -> String {
        format!("http://{name}:{}{path}", self.port)
    }

    /// A browser whose every name resolves to the proxy.
    fn browser(&self) -> reqwest::Client {
        let proxy = SocketAddr::from(([127, 0, 0, 1], self.port));
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .resolve(AUTH, proxy)
            .resolve(REPORTS, proxy)
            .resolve(OTHER, proxy)
            .build()
            .unwrap()
    }
}

// ---------------------------------------------------------------------------
// The app behind the proxy

/// An app with no sign-in of its own on 127.0.0.1: it answers every request
/// with what it received (`uri: …`, then one `name: value` line per header)
/// and sets a cookie of its own, which the browser then sends next to
/// latchkey's.
async fn echo_app() -> SocketAddr {
    async fn echo(uri: Uri, headers: HeaderMap) -> axum::response::Response {
        let mut body = format!("uri: {uri}\n");
        for (name, value) in &headers {
            body.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        ([(header::SET_COOKIE, "app_pref=dark; Path=/")], body).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(echo);
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// What the app received, read from its answer.
struct Seen {
    uri: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    async fn from(res: reqwest::Response) -> Seen {
        assert_eq!(res.status(), 200, "the app answered");
        let body = res.text().await.unwrap();
        let mut lines = body.lines();
        let uri = lines
            .next()
            .and_then(|l| l.strip_prefix("uri: "))
            .unwrap_or_else(|| panic!("not the app's answer: {body}"))
            .to_owned();
        let headers = lines
            .map(|l| {
                let (name, value) = l.split_once(": ").unwrap_or((l, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect();
        Seen { uri, headers }
    }

    /// Every value of header `name` (lower case), in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of `name`: the app must see it exactly once.
    fn one(&self, name: &str) -> &str {
        match self.all(name)[..] {
            [value] => value,
            ref values => panic!("the app saw {name} {values:?}, not one value"),
        }
    }

    /// The cookies the app received, as one string.
    fn cookies(&self) -> String {
        self.all("cookie").join("; ")
    }

    /// The identity headers are latchkey's account `user` (see
    /// `forward_auth::member`), and the session cookie is not there (F3).
    fn assert_is(&self, user: &str, groups: &[&str]) {
        assert_eq!(self.one("remote-user"), user);
        assert_eq!(self.one("remote-name"), format!("{user} Example"));
        assert_eq!(self.one("remote-email"), format!("{user}@agency.example"));
        let mut got: Vec<&str> = self.one("remote-groups").split(',').collect();
        got.sort_unstable();
        let mut want = groups.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "Remote-Groups");
        let cookies = self.cookies();
        let names: Vec<&str> = cookies
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, _)| name.trim())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| *n == "latchkey_session" || *n == "__Secure-latchkey_session"),
            "the app saw latchkey's session cookie: {cookies:?}"
        );
    }

    /// No header the app received carries `secret` (F3: the session id).
    fn assert_never_saw(&self, secret: &str) {
        for (name, value) in &self.headers {
            assert!(
                !value.contains(secret),
                "the app saw the session id in {name}: {value:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The proxies

/// A proxy child process, stopped on drop.
struct Running {
    child: Child,
    proxy: Proxy,
    log: PathBuf,
}

impl Running {
    fn spawn(proxy: Proxy, mut command: Command, dir: &Path) -> Running {
        let log = dir.join("proxy.log");
        let out = std::fs::File::create(&log).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{proxy:?} does not start: {e}"));
        Running { child, proxy, log }
    }

    fn log(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(dir) = self.log.parent()
            && let Ok(errors) = std::fs::read_to_string(dir.join("error.log"))
        {
            text.push_str(&errors);
        }
        text
    }

    /// Polls until the proxy accepts connections on `port`.
    async fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{:?} stopped ({status}); its log:\n{}",
                    self.proxy,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{:?} does not listen on {port} within {START_LIMIT:?}; its log:\n{}",
                self.proxy,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.proxy == Proxy::Nginx {
            // SIGKILL would stop the master only and leave its workers
            // running; on SIGTERM the master stops them, then itself.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of the installed program `name`; a missing one fails the test.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (looked in PATH and /usr/sbin): these tests run the \
                 real proxy; install the Debian package `{name}` (.ci/run does)"
            )
        })
}

/// `text` with `from` replaced by `to`; `from` must be there, or the file
/// changed and the test would no longer check what the README shows.
fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "packaging/forward-auth no longer contains {from:?}: update this test"
    );
    text.replace(from, to)
}

/// The README's Caddyfile for this machine.
fn caddyfile(port: u16, latchkey: SocketAddr, upstream: SocketAddr) -> String {
    let mut text = CADDYFILE.to_owned();
    for (from, to) in [
        ("https://auth.agency.lan", format!("http://{AUTH}:{port}")),
        (
            "https://reports.agency.lan",
            format!("http://{REPORTS}:{port}"),
        ),
        ("127.0.0.1:8080", latchkey.to_string()),
        ("127.0.0.1:3000", upstream.to_string()),
    ] {
        text = substitute(&text, from, &to);
    }
    format!("{{\n\tadmin off\n\tauto_https off\n}}\n{text}")
}

/// The README's nginx server blocks for this machine.
fn nginx_site(port: u16, latchkey: SocketAddr, upstream: SocketAddr) -> String {
    assert!(NGINX_CONF.contains("ssl_certificate"));
    let mut text: String = NGINX_CONF
        .lines()
        .filter(|line| !line.contains("ssl_certificate"))
        .map(|line| format!("{line}\n"))
        .collect();
    for (from, to) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{port};")),
        ("auth.agency.lan", AUTH.to_owned()),
        ("reports.agency.lan", REPORTS.to_owned()),
        ("127.0.0.1:8080", latchkey.to_string()),
        ("127.0.0.1:3000", upstream.to_string()),
    ] {
        text = substitute(&text, from, &to);
    }
    text
}

fn start_caddy(dir: &Path, port: u16, latchkey: SocketAddr, upstream: SocketAddr) -> Running {
    let config = dir.join("Caddyfile");
    std::fs::write(&config, caddyfile(port, latchkey, upstream)).unwrap();
    let mut command = Command::new(program("caddy"));
    command
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--adapter")
        .arg("caddyfile")
        .current_dir(dir)
        // Caddy keeps its state under these; nothing is written outside `dir`.
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    Running::spawn(Proxy::Caddy, command, dir)
}

fn start_nginx(dir: &Path, port: u16, latchkey: SocketAddr, upstream: SocketAddr) -> Running {
    let site = dir.join("site.conf");
    std::fs::write(&site, nginx_site(port, latchkey, upstream)).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log;\n\
         events {{}}\n\
         http {{\n\
         \taccess_log off;\n\
         \tclient_body_temp_path {d}/body;\n\
         \tproxy_temp_path {d}/proxy;\n\
         \tfastcgi_temp_path {d}/fastcgi;\n\
         \tuwsgi_temp_path {d}/uwsgi;\n\
         \tscgi_temp_path {d}/scgi;\n\
         \tinclude {d}/site.conf;\n\
         }}\n"
    );
    let config = dir.join("nginx.conf");
    std::fs::write(&config, main).unwrap();
    let mut command = Command::new(program("nginx"));
    command
        .arg("-c")
        .arg(&config)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .current_dir(dir);
    Running::spawn(Proxy::Nginx, command, dir)
}

// ---------------------------------------------------------------------------
// The browser's steps

fn location(res: &reqwest::Response) -> String {
    helpers::location(res).to_owned()
}

/// The value of `name` in the query of `url`.
fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("{url:?} is not a URL: {e}"))
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The hidden `next` field of the sign-in form (HTML-unescaped), if any.
fn hidden_next(html: &str) -> Option<String> {
    let marker = "name=\"next\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The answer is the proxy sending the browser to latchkey's sign-in page,
/// to come back to `url`; the sign-in page's address.
fn assert_sent_to_sign_in(site: &Site, res: &reqwest::Response, url: &str) -> String {
    assert_eq!(res.status(), 302, "to the sign-in page, for {url}");
    let to = location(res);
    assert!(
        to.starts_with(&site.url(AUTH, "/login?")),
        "the sign-in page at base_url: {to}"
    );
    assert_eq!(param(&to, "rd").as_deref(), Some(url), "rd of {to}");
    to
}

/// POSTs the sign-in form of `page` (its address) as `user` with
/// `password`, with the `next` the page carries (or `next`, when given).
async fn post_sign_in(
    site: &Site,
    browser: &reqwest::Client,
    page: &str,
    user: &str,
    password: &str,
    next: Option<&str>,
) -> reqwest::Response {
    let res = browser.get(page).send().await.unwrap();
    assert_eq!(res.status(), 200, "the sign-in page {page}");
    let html = res.text().await.unwrap();
    let token = helpers::csrf_token(&html);
    let carried = hidden_next(&html);
    let mut form = vec![
        ("username", user),
        ("password", password),
        ("csrf_token", token.as_str()),
    ];
    if let Some(next) = next.or(carried.as_deref()) {
        form.push(("next", next));
    }
    browser
        .post(site.url(AUTH, "/login"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The whole journey of a browser that is not signed in: `url` → the
/// sign-in page → signed in → back to exactly `url` → the app. Returns what
/// the app saw and the session id.
async fn sign_in_through(
    site: &Site,
    browser: &reqwest::Client,
    url: &str,
    user: &str,
) -> (Seen, String) {
    let first = browser.get(url).send().await.unwrap();
    let page = assert_sent_to_sign_in(site, &first, url);
    let html = helpers::text_of(browser, &page).await;
    assert_eq!(
        hidden_next(&html).as_deref(),
        Some(url),
        "the form carries the way back"
    );
    let res = post_sign_in(site, browser, &page, user, PASSWORD, None).await;
    assert_eq!(res.status(), 303, "{user} signs in");
    assert_eq!(location(&res), url, "back to exactly the page asked for");
    let cookie = helpers::set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("latchkey_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains(&format!("Domain={DOMAIN}")),
        "the session cookie reaches the app's host: {cookie}"
    );
    let session = helpers::set_cookie(&res, "latchkey_session").unwrap();
    let seen = Seen::from(browser.get(url).send().await.unwrap()).await;
    (seen, session)
}

/// The answer is a 403 from the proxy, not the app's.
async fn assert_refused(res: reqwest::Response, why: &str) {
    assert_eq!(res.status(), 403, "{why}");
    let body = res.text().await.unwrap();
    assert!(!body.starts_with("uri: "), "the app answered: {body}");
}

/// The `forward_auth_denied` details audited for `user`.
async fn denials(app: &TestApp, user: Option<&str>) -> Vec<String> {
    app.audit_events(user)
        .await
        .into_iter()
        .filter(|e| e.event == "forward_auth_denied")
        .map(|e| e.detail.unwrap_or_default())
        .collect()
}

// ---------------------------------------------------------------------------
// The cases, each run through both proxies

/// A browser that is not signed in is sent to the sign-in page and, once
/// signed in, straight back to the page it asked for; the app receives who
/// the user is in Remote-User, -Name, -Email and -Groups, and never
/// latchkey's session cookie, whichever other cookies sit next to it (F3).
async fn the_app_gets_the_signed_in_user_and_never_the_session_cookie(proxy: Proxy) {
    let site = Site::start(proxy).await;
    guard(&site.app, "Reports", &[&site.host(REPORTS)], &["reporting"]).await;
    member(&site.app, "carol", &["reporting", "intake"]).await;
    let browser = site.browser();
    let url = site.url(REPORTS, "/some/page?x=1");

    let (seen, session) = sign_in_through(&site, &browser, &url, "carol").await;
    assert_eq!(seen.uri, "/some/page?x=1");
    seen.assert_is("carol", &["reporting", "intake"]);
    seen.assert_never_saw(&session);

    // The app's own cookie is in the jar now, next to latchkey's.
    let seen = Seen::from(browser.get(&url).send().await.unwrap()).await;
    seen.assert_is("carol", &["reporting", "intake"]);
    seen.assert_never_saw(&session);
    let cookies = seen.cookies();
    assert!(
        cookies.split(';').any(|c| c.trim() == "app_pref=dark"),
        "the app's own cookie reaches it, only latchkey's is taken out: {cookies:?}"
    );

    // The session cookie between two others: only it is taken out.
    let res = browser
        .get(&url)
        .header(
            "Cookie",
            format!("app_pref=dark; latchkey_session={session}; lang=en"),
        )
        .send()
        .await
        .unwrap();
    let seen = Seen::from(res).await;
    seen.assert_is("carol", &["reporting", "intake"]);
    seen.assert_never_saw(&session);
    let cookies = seen.cookies();
    let mut kept: Vec<&str> = cookies.split(';').map(str::trim).collect();
    kept.retain(|c| !c.is_empty());
    assert_eq!(
        kept,
        ["app_pref=dark", "lang=en"],
        "the app's cookies: {cookies:?}"
    );
}

/// F1: what the browser says about itself is not believed. Forged
/// `X-Forwarded-*` and `X-Original-URL` headers claiming another host are
/// overwritten by the proxy (the way back after sign-in is still the real
/// page; a host the user may not use is not what latchkey judges), and
/// forged `Remote-*` headers never reach the app: it sees latchkey's values.
async fn forged_headers_from_the_browser_are_not_believed(proxy: Proxy) {
    let site = Site::start(proxy).await;
    guard(&site.app, "Reports", &[&site.host(REPORTS)], &["reporting"]).await;
    // Listed, but dave is not in its group: judged on this host, dave is refused.
    guard(&site.app, "Finance", &[&site.host(OTHER)], &["finance"]).await;
    member(&site.app, "dave", &["reporting"]).await;
    let browser = site.browser();
    let url = site.url(REPORTS, "/q3?view=all");
    let other = site.url(OTHER, "/ledger");
    let forge = |req: reqwest::RequestBuilder| {
        req.header("X-Forwarded-Proto", "http")
            .header("X-Forwarded-Host", site.host(OTHER))
            .header("X-Forwarded-Uri", "/ledger")
            .header("X-Forwarded-For", "192.0.2.66")
            .header("X-Original-URL", other.as_str())
            .header("Remote-User", "admin")
            .header("Remote-Name", "Administrator")
            .header("Remote-Email", "admin@evil.example")
            .header("Remote-Groups", "finance,admins")
    };

    // Not signed in: the way back is the page really asked for.
    let res = forge(browser.get(&url)).send().await.unwrap();
    assert_sent_to_sign_in(&site, &res, &url);

    sign_in_through(&site, &browser, &url, "dave").await;
    let res = forge(browser.get(&url)).send().await.unwrap();
    let seen = Seen::from(res).await;
    assert_eq!(seen.uri, "/q3?view=all");
    seen.assert_is("dave", &["reporting"]);
    assert!(
        denials(&site.app, Some("dave")).await.is_empty(),
        "nothing was judged on the forged host"
    );
}

/// A signed-in user outside the groups of the host's app gets 403, not the
/// app's answer; a host no app lists gets 403 too, signed in or not
/// (default deny: not even a sign-in page), and the port is part of the host.
async fn outsiders_and_unlisted_hosts_are_refused(proxy: Proxy) {
    let site = Site::start(proxy).await;
    guard(&site.app, "Reports", &[&site.host(REPORTS)], &["reporting"]).await;
    member(&site.app, "erin", &["intake"]).await;
    let browser = site.browser();
    let url = site.url(REPORTS, "/");

    let first = browser.get(&url).send().await.unwrap();
    let page = assert_sent_to_sign_in(&site, &first, &url);
    let res = post_sign_in(&site, &browser, &page, "erin", PASSWORD, None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), url);
    let res = browser.get(&url).send().await.unwrap();
    assert_refused(res, "erin is not in the group reporting").await;
    let denied = denials(&site.app, Some("erin")).await;
    assert!(
        denied
            .iter()
            .any(|d| d.contains("not in the groups of app Reports")),
        "{denied:?}"
    );

    // The app now lists the host on the default port only: this one is unlisted.
    site.app
        .admin(Request::AppSet {
            name: "Reports".into(),
            changes: AppChanges {
                hosts: Some(vec![REPORTS.into()]),
                ..AppChanges::default()
            },
        })
        .await
        .expect("app set works");
    let res = browser.get(&url).send().await.unwrap();
    assert_refused(res, "a host no app lists, signed in").await;
    let res = site.browser().get(&url).send().await.unwrap();
    assert_refused(res, "a host no app lists, not signed in").await;
    let denied = denials(&site.app, None).await;
    assert!(
        denied.iter().any(|d| d.contains("no app lists this host")),
        "{denied:?}"
    );
}

/// S4: an account locked while its user is in the app loses the app on the
/// very next request: the proxy sends the browser to the sign-in page.
async fn a_locked_account_loses_the_app_on_the_next_request(proxy: Proxy) {
    let site = Site::start(proxy).await;
    guard(&site.app, "Reports", &[&site.host(REPORTS)], &["reporting"]).await;
    member(&site.app, "frank", &["reporting"]).await;
    let browser = site.browser();
    let url = site.url(REPORTS, "/weekly");
    let (seen, _) = sign_in_through(&site, &browser, &url, "frank").await;
    seen.assert_is("frank", &["reporting"]);

    // Someone else guesses frank's password until the account locks.
    let guesser = site.browser();
    let page = site.url(AUTH, "/login");
    for i in 0..site.app.config.lockout.max_failures {
        let wrong = format!("Wrong-Guess-{i}");
        let res = post_sign_in(&site, &guesser, &page, "frank", &wrong, None).await;
        assert_ne!(res.status(), 303, "a wrong password does not sign in");
    }
    assert_eq!(
        site.app.count_events("account_locked", Some("frank")).await,
        1
    );

    let res = browser.get(&url).send().await.unwrap();
    assert_sent_to_sign_in(&site, &res, &url);
}

/// Each case as two tests, `CASE::caddy` and `CASE::nginx`.
macro_rules! through_both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use super::Proxy;

            #[tokio::test]
            #[ignore = "needs caddy (.ci/run installs it)"]
            async fn caddy() {
                super::$case(Proxy::Caddy).await;
            }

            #[tokio::test]
            #[ignore = "needs nginx (.ci/run installs it)"]
            async fn nginx() {
                super::$case(Proxy::Nginx).await;
            }
        }
    )*};
}

through_both!(
    the_app_gets_the_signed_in_user_and_never_the_session_cookie,
    forged_headers_from_the_browser_are_not_believed,
    outsiders_and_unlisted_hosts_are_refused,
    a_locked_account_loses_the_app_on_the_next_request,
);

/// F2: the way back after sign-in is only base_url or a host an app lists.
/// For each open-redirect trick, through Caddy: the sign-in page does not
/// carry it, a form that carries it anyway signs in to `/`, and a browser
/// already signed in is sent to `/` as well, never to the other host.
#[tokio::test]
#[ignore = "needs caddy (.ci/run installs it)"]
async fn f2_after_sign_in_the_browser_goes_only_to_listed_hosts() {
    let site = Site::start(Proxy::Caddy).await;
    guard(&site.app, "Reports", &[&site.host(REPORTS)], &["reporting"]).await;
    member(&site.app, "gina", &["reporting"]).await;
    let port = site.port;
    let tricks = [
        "//evil.example".to_owned(),
        "https:evil.example".to_owned(),
        "http://evil.example/".to_owned(),
        format!("http://{REPORTS}:{port}\\@evil.example/"),
        "http://user@evil.example/".to_owned(),
        format!("http://evil.example%2f@{REPORTS}:{port}/"),
        format!("http://{REPORTS}:{port}.evil.example/"),
    ];
    let mut signed_in = None;
    for rd in &tricks {
        let browser = site.browser();
        let page = site.url(AUTH, &format!("/login?rd={}", urlencode(rd)));
        let html = browser
            .get(&page)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            hidden_next(&html),
            None,
            "the page carries no way back for {rd:?}"
        );
        let res = post_sign_in(&site, &browser, &page, "gina", PASSWORD, Some(rd)).await;
        assert_eq!(res.status(), 303, "gina signs in ({rd:?})");
        assert_eq!(location(&res), "/", "not to {rd:?}");
        signed_in = Some(browser);
    }

    let browser = signed_in.unwrap();
    for rd in &tricks {
        let page = site.url(AUTH, &format!("/login?rd={}", urlencode(rd)));
        let res = browser.get(&page).send().await.unwrap();
        assert_eq!(res.status(), 303, "signed in already ({rd:?})");
        assert_eq!(location(&res), "/", "not to {rd:?}");
    }
    // The listed host and base_url's own are ways back.
    for rd in [site.url(REPORTS, "/a?b=c"), site.url(AUTH, "/profile")] {
        let page = site.url(AUTH, &format!("/login?rd={}", urlencode(&rd)));
        let res = browser.get(&page).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), rd);
    }
}
