//! A small W3C WebDriver client over plain HTTP, and the chromedriver and
//! Chromium processes behind it.
//!
//! Every browser test starts its own chromedriver on a free port, with a fresh
//! Chromium profile directory; [`Browser`]'s `Drop` ends the session and kills
//! the whole process group, so a failing test leaves nothing running.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";

/// What the browser looks like: JavaScript on or off, and its viewport.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub javascript: bool,
    pub width: u32,
    pub height: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            javascript: true,
            width: 1280,
            height: 900,
        }
    }
}

impl Options {
    pub fn no_script() -> Self {
        Self {
            javascript: false,
            ..Self::default()
        }
    }

    /// A phone: 360 CSS pixels wide, emulated through device metrics.
    pub fn phone() -> Self {
        Self {
            width: 360,
            height: 800,
            ..Self::default()
        }
    }
}

/// The programs and files the browser tests need; a missing one fails the test.
pub struct Prerequisites {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    pub axe_js: PathBuf,
}

impl Prerequisites {
    /// Finds Chromium, chromedriver and axe-core, or panics saying what is missing.
    pub fn find() -> Self {
        let mut missing = Vec::new();
        let chromium = find_program(
            "CHROME_BIN",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        if chromium.is_none() {
            missing.push(
                "Chromium (apt-get install chromium, or set CHROME_BIN to the browser binary)",
            );
        }
        let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]);
        if chromedriver.is_none() {
            missing.push(
                "chromedriver (apt-get install chromium-driver, or set CHROMEDRIVER to its path)",
            );
        }
        let axe_js = std::env::var_os("AXE_CORE_JS")
            .map(PathBuf::from)
            .filter(|p| p.is_file());
        if axe_js.is_none() {
            missing.push(
                "axe-core (npm install --prefix /tmp/axe axe-core, then set \
                 AXE_CORE_JS=/tmp/axe/node_modules/axe-core/axe.min.js)",
            );
        }
        if !missing.is_empty() {
            panic!(
                "the browser tests cannot run; missing:\n  - {}\nSee docs/browser-tests.md.",
                missing.join("\n  - ")
            );
        }
        Self {
            chromium: chromium.unwrap(),
            chromedriver: chromedriver.unwrap(),
            axe_js: axe_js.unwrap(),
        }
    }
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// One Chromium session driven through its own chromedriver.
pub struct Browser {
    http: reqwest::Client,
    driver_port: u16,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
    pub axe_js: PathBuf,
}

/// An element found in the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Element {
    fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

impl Browser {
    pub async fn launch(options: Options) -> Self {
        let pre = Prerequisites::find();
        let profile = tempfile::tempdir().expect("profile dir");
        let driver_port = free_port();
        let driver = Command::new(&pre.chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", pre.chromedriver.display()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        let mut browser = Self {
            http,
            driver_port,
            session: String::new(),
            driver,
            _profile: profile,
            axe_js: pre.axe_js.clone(),
        };
        browser.wait_for_driver().await;
        browser.session = browser.new_session(&pre.chromium, options).await;
        browser
            .post(
                "timeouts",
                json!({ "script": 60_000, "pageLoad": 60_000, "implicit": 0 }),
            )
            .await;
        browser
    }

    async fn wait_for_driver(&self) {
        let url = format!("http://127.0.0.1:{}/status", self.driver_port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = self.http.get(&url).send().await
                && let Ok(text) = res.text().await
                && serde_json::from_str::<Value>(&text)
                    .is_ok_and(|v| v["value"]["ready"] == json!(true))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {}",
                self.driver_port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn new_session(&self, chromium: &Path, options: Options) -> String {
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-extensions".into(),
            "--disable-default-apps".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-sync".into(),
            "--password-store=basic".into(),
            "--hide-scrollbars".into(),
            "--lang=en-US".into(),
            format!("--user-data-dir={}", self._profile.path().display()),
            format!(
                "--window-size={},{}",
                options.width.max(800),
                options.height
            ),
        ];
        if options.width < 800 {
            // Headless Chromium keeps windows at least about 500 px wide;
            // a phone is emulated with device metrics instead.
            args.push("--force-device-scale-factor=1".into());
        }
        let mut chrome = json!({
            "binary": chromium,
            "args": args,
            "prefs": {
                "credentials_enable_service": false,
                "profile.password_manager_enabled": false,
                "autofill.profile_enabled": false,
            },
        });
        if !options.javascript {
            chrome["prefs"]["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        if options.width < 800 {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": {
                    "width": options.width,
                    "height": options.height,
                    "pixelRatio": 1.0,
                    "touch": false,
                    "mobile": false,
                },
            });
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": chrome,
                }
            }
        });
        let url = format!("http://127.0.0.1:{}/session", self.driver_port);
        let value = send(self.http.post(url).body(caps.to_string()))
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        value["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned()
    }

    fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/session/{}/{path}",
            self.driver_port, self.session
        )
    }

    async fn try_post(&self, path: &str, body: Value) -> Result<Value, String> {
        send(self.http.post(self.url(path)).body(body.to_string())).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.try_post(path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver POST {path}: {e}"))
    }

    async fn get(&self, path: &str) -> Value {
        send(self.http.get(self.url(path)))
            .await
            .unwrap_or_else(|e| panic!("WebDriver GET {path}: {e}"))
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.post("url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> url::Url {
        let v = self.get("url").await;
        url::Url::parse(v.as_str().expect("a URL")).expect("a valid URL")
    }

    pub async fn path(&self) -> String {
        self.current_url().await.path().to_owned()
    }

    pub async fn back(&self) {
        self.post("back", json!({})).await;
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(el) => el,
            None => panic!("no element {css:?} on {}", self.describe().await),
        }
    }

    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let v = self
            .try_post("element", json!({ "using": "css selector", "value": css }))
            .await
            .ok()?;
        v[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self
            .post("elements", json!({ "using": "css selector", "value": css }))
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn click(&self, el: &Element) {
        self.post(&format!("element/{}/click", el.0), json!({}))
            .await;
    }

    /// Types `text` into `el` (focusing it first).
    pub async fn type_into(&self, el: &Element, text: &str) {
        self.post(&format!("element/{}/value", el.0), json!({ "text": text }))
            .await;
    }

    pub async fn clear(&self, el: &Element) {
        self.post(&format!("element/{}/clear", el.0), json!({}))
            .await;
    }

    pub async fn text(&self, el: &Element) -> String {
        self.get(&format!("element/{}/text", el.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn prop(&self, el: &Element, name: &str) -> Value {
        self.get(&format!("element/{}/property/{name}", el.0)).await
    }

    pub async fn attr(&self, el: &Element, name: &str) -> Option<String> {
        self.get(&format!("element/{}/attribute/{name}", el.0))
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// Presses keys on whatever has the focus, as a keyboard user would.
    pub async fn press(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({ "type": "keyDown", "value": k }));
            actions.push(json!({ "type": "keyUp", "value": k }));
        }
        self.post(
            "actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
        self.post("actions", json!({ "actions": [] })).await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs `script` whose last argument is a callback it must call with the result.
    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("execute/async", json!({ "script": script, "args": args }))
            .await
    }

    pub async fn js_element(&self, script: &str, el: &Element) -> Value {
        self.js(script, vec![el.json()]).await
    }

    /// The visible page text.
    pub async fn body_text(&self) -> String {
        self.js(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// A PNG of the whole page, beyond the viewport (a Chrome DevTools command).
    pub async fn full_page_screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self
            .post(
                "goog/cdp/execute",
                json!({
                    "cmd": "Page.captureScreenshot",
                    "params": { "format": "png", "captureBeyondViewport": true },
                }),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().expect("base64 PNG"))
            .expect("valid base64")
    }

    /// Every cookie of the current page, HttpOnly ones included: (name, value).
    pub async fn cookies(&self) -> Vec<(String, String)> {
        let v = self.get("cookie").await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_owned(),
                            c["value"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Polls `script` (which returns a boolean) until it holds, or panics after `within`.
    pub async fn wait_until(&self, what: &str, script: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(v) = self
                .try_post("execute/sync", json!({ "script": script, "args": [] }))
                .await
                && v == json!(true)
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {within:?} waiting for {what}; now at {}",
                    self.describe().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page at `path` has loaded.
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.path().await == path
                && self
                    .try_post(
                        "execute/sync",
                        json!({ "script": "return document.readyState === 'complete';", "args": [] }),
                    )
                    .await
                    .is_ok_and(|v| v == json!(true))
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!("expected to reach {path}; now at {}", self.describe().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The URL and text of the current page, for failure messages.
    pub async fn describe(&self) -> String {
        let url = self.current_url().await.to_string();
        let text = self.body_text().await;
        format!("{url}\n---\n{text}\n---")
    }

    /// The value of the `latchkey_session` cookie.
    pub async fn session_cookie(&self) -> Option<String> {
        self.cookies()
            .await
            .into_iter()
            .find(|(n, _)| n == "latchkey_session")
            .map(|(_, v)| v)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Closing the session lets chromedriver end Chromium cleanly.
            let _ = raw_delete(self.driver_port, &format!("/session/{}", self.session));
        }
        // chromedriver and every Chromium process it started share one process group.
        let pgid = self.driver.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A blocking DELETE, usable from `Drop`.
fn raw_delete(port: u16, path: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    Ok(())
}

async fn send(req: reqwest::RequestBuilder) -> Result<Value, String> {
    let res = req
        .header("content-type", "application/json; charset=utf-8")
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = res.status();
    let text = res.text().await.map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{status}: {text}: {e}"))?;
    if !status.is_success() || v["value"].get("error").is_some_and(|e| !e.is_null()) {
        return Err(format!(
            "{status}: {} {}",
            v["value"]["error"].as_str().unwrap_or(""),
            v["value"]["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    Ok(v["value"].clone())
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}
