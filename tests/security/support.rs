//! Tools for attacking the server: raw HTTP over TCP, secret searches, a lock
//! for the tests that measure time or memory, and a `latchkey serve` child.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, binary, csrf_token, serve_command};
pub use crate::helpers::{browser, contains, post_form, set_cookie};

/// Held by the tests that measure timing or memory, so they never overlap.
pub static QUIET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A raw HTTP answer: status, header lines (lower-cased names) and body.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends `request` as is and reads the answer until the server closes (or 15 s pass).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    // The server may answer (413) and close before the whole body is written.
    let _ = stream.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut buf)).await;
    parse_raw(&buf)
}

pub fn parse_raw(buf: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// An anonymous browser identity for raw requests: its cookie header and CSRF token.
pub struct Anon {
    pub cookie: String,
    pub token: String,
}

pub async fn anon(app: &TestApp) -> Anon {
    let res = reqwest::get(app.url("/login")).await.unwrap();
    let set = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("latchkey_anon="))
        .expect("an anonymous cookie");
    let cookie = set.split(';').next().unwrap().to_owned();
    let token = csrf_token(&res.text().await.unwrap());
    Anon { cookie, token }
}

/// A POST with `body` as is, `Connection: close`, and any `extra` header lines.
pub fn post_bytes(path: &str, cookie: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\n\
         {extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The forms in which a secret could leak: as typed, URL-encoded, base64url-decoded, hex.
pub fn leak_forms(secret: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut forms = vec![secret.as_bytes().to_vec()];
    let encoded: String = url_encode(secret);
    if encoded != secret {
        forms.push(encoded.into_bytes());
    }
    if let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret)
        && raw.len() >= 16
    {
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        forms.push(hex.into_bytes());
        forms.push(raw);
    }
    forms
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Panics naming the file and the secret if any form of a secret is in `bytes`.
pub fn assert_no_secret(what: &str, bytes: &[u8], secrets: &[(&str, &str)]) {
    for (label, secret) in secrets {
        for form in leak_forms(secret) {
            assert!(
                !contains(bytes, &form),
                "{what} contains the {label} ({})",
                String::from_utf8_lossy(&form)
            );
        }
    }
}

pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

/// A browser that sends a fixed `Cookie` header and keeps no jar.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `latchkey serve` as a child process with piped, captured output.
pub struct Served {
    pub child: Child,
    pub data: PathBuf,
    pub config: PathBuf,
    pub port: u16,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// Starts the binary on `data` with `config_text` (listen on port 0) and `RUST_LOG`.
    pub fn start(dir: &Path, config_text: &str, rust_log: &str) -> Served {
        let data = dir.join("data");
        let config = dir.join("latchkey.toml");
        std::fs::write(&config, config_text).unwrap();
        Self::start_on(data, config, rust_log)
    }

    pub fn start_on(data: PathBuf, config: PathBuf, rust_log: &str) -> Served {
        let mut child = serve_command(&data, &config, rust_log)
            .spawn()
            .expect("binary runs");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(p) = stderr.lock().unwrap().iter().find_map(|l| port_in(l)) {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("serve exited with {status}: {:?}", stderr.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Served {
            child,
            data,
            config,
            port,
            stdout,
            stderr,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `latchkey --data DATA --config CFG ARGS…` (through the control socket while serving).
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(binary())
            .arg("--data")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// `kill -9`, then waits for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn all_output(&self) -> (String, String) {
        // Give the reader threads a moment to drain the pipes.
        std::thread::sleep(Duration::from_millis(100));
        (
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n"),
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            out.lock().unwrap().push(line);
        }
    });
    lines
}

fn port_in(line: &str) -> Option<u16> {
    if !line.contains("latchkey is serving") {
        return None;
    }
    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
    line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Resident memory figures of process `pid` in KiB: (VmRSS, VmHWM).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The number of threads of process `pid`.
pub fn threads(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
