//! A real SMTP server for tests: it speaks enough ESMTP for mail-send and
//! keeps every message it receives, raw, for the test to read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA (dot-unstuffed), CRLF line ends.
    pub raw: String,
}

impl Received {
    /// The message with quoted-printable soft breaks removed and base64 parts
    /// decoded, so a test can search it for text and links.
    pub fn text(&self) -> String {
        decode(&self.raw)
    }

    /// The first `{base}{path}/{token}` link in the message.
    pub fn link(&self, path: &str) -> Option<String> {
        let text = self.text();
        let at = text.find(path)?;
        let start = text[..at].rfind("http").unwrap_or(at);
        let end = text[at + path.len()..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(text.len(), |i| at + path.len() + i);
        Some(text[start..end].to_owned())
    }

    /// The token at the end of the first link to `path` (e.g. "/reset/").
    pub fn token(&self, path: &str) -> Option<String> {
        let link = self.link(path)?;
        Some(link.rsplit('/').next()?.to_owned())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next()?;
        head.split("\r\n")
            .find(|l| {
                l.len() > name.len()
                    && l[..name.len()].eq_ignore_ascii_case(name)
                    && l.as_bytes()[name.len()] == b':'
            })
            .map(|l| l[name.len() + 1..].trim().to_owned())
    }
}

fn decode(raw: &str) -> String {
    use base64::Engine;
    let unfolded = raw.replace("=\r\n", "").replace("=3D", "=");
    let mut out = String::new();
    // Decode every base64 body part, keep everything else as is.
    let mut rest = unfolded.as_str();
    while let Some(i) = rest
        .to_ascii_lowercase()
        .find("content-transfer-encoding: base64")
    {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(body_start) = after.find("\r\n\r\n") else {
            break;
        };
        let body = &after[body_start + 4..];
        let body_end = body.find("\r\n--").unwrap_or(body.len());
        let compact: String = body[..body_end].split_whitespace().collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
        rest = &body[body_end..];
    }
    out.push_str(rest);
    out
}

pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Listens on 127.0.0.1:`port` (0: any free port).
    pub async fn start_on(port: u16) -> Self {
        Self::start_slow(port, Duration::ZERO).await
    }

    /// Like [`SmtpSink::start_on`], taking `per_message` to accept each message
    /// (a slow server, so a test can act while a batch is being sent).
    pub async fn start_slow(port: u16, per_message: Duration) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("sink binds");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let _ = session(stream, r, per_message).await;
                });
            }
        });
        Self {
            port,
            received,
            task,
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Messages sent to `to`.
    pub fn to(&self, to: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    per_message: Duration,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n"
        } else if upper.starts_with("HELO")
            || upper.starts_with("RSET")
            || upper.starts_with("NOOP")
        {
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&line);
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&line));
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut raw = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            tokio::time::sleep(per_message).await;
            received.lock().unwrap().push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                raw,
            });
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].trim().to_owned()
}
