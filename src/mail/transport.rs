//! Where messages go: an SMTP server (mail-send), or the pickup folder when
//! `[mail.smtp]` is absent.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsConnector;

use mail_send::smtp::message::{Address, Message};
use mail_send::{SmtpClient, SmtpClientBuilder};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::{Config, Smtp, SmtpSecurity};

/// Folder under the data directory that receives `.eml` files without SMTP.
pub const PICKUP_DIR: &str = "mail-pickup";

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Transport {
    Smtp(Smtp),
    Pickup(PathBuf),
}

/// An open way out for one message after another: one SMTP connection, or
/// the pickup folder. Messages sent through one session share its connection.
pub enum Session {
    Plain(SmtpClient<TcpStream>, Smtp),
    Tls(Box<SmtpClient<TlsStream<TcpStream>>>, Smtp),
    Pickup(PathBuf),
}

impl Transport {
    pub fn from_config(config: &Config) -> Self {
        match &config.mail.smtp {
            Some(smtp) => Transport::Smtp(smtp.clone()),
            None => Transport::Pickup(config.data_dir.join(PICKUP_DIR)),
        }
    }

    /// Connects (and signs in, when configured); the error is a sentence for the operator.
    pub async fn open(&self) -> Result<Session, String> {
        let smtp = match self {
            Transport::Pickup(dir) => return Ok(Session::Pickup(dir.clone())),
            Transport::Smtp(smtp) => smtp,
        };
        let connector = match smtp.security {
            SmtpSecurity::None => unused_tls_connector()?,
            SmtpSecurity::Starttls | SmtpSecurity::Tls => verifying_tls_connector()?,
        };
        let mut builder =
            SmtpClientBuilder::new_with_tls_connector(smtp.host.as_str(), smtp.port, connector)
                .implicit_tls(smtp.security == SmtpSecurity::Tls)
                .timeout(SMTP_TIMEOUT);
        if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials((user.as_str(), pass.expose()));
        }
        let explained = |e| explain(smtp, &e);
        // mail-send writes a message and its closing dot in separate writes;
        // with Nagle's algorithm the dot waits for the server's delayed ACK
        // (40 ms on Linux), which would cap a batch at ~25 messages/s.
        let no_delay = |tcp: &TcpStream| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set on the SMTP connection");
            }
        };
        Ok(match smtp.security {
            SmtpSecurity::None => {
                let client = builder.connect_plain().await.map_err(explained)?;
                no_delay(&client.stream);
                Session::Plain(client, smtp.clone())
            }
            SmtpSecurity::Starttls | SmtpSecurity::Tls => {
                let client = builder.connect().await.map_err(explained)?;
                no_delay(client.stream.get_ref().0);
                Session::Tls(Box::new(client), smtp.clone())
            }
        })
    }

    /// Delivers one message over a connection of its own.
    pub async fn send(&self, from: &str, to: &str, bytes: &[u8]) -> Result<(), String> {
        let mut session = self.open().await?;
        let sent = session.send(from, to, bytes).await;
        session.close().await;
        sent
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(s) => {
                format!("SMTP {}:{} ({:?})", s.host, s.port, s.security).to_lowercase()
            }
            Transport::Pickup(dir) => format!("the pickup folder {}", dir.display()),
        }
    }
}

impl Session {
    /// Hands one message over; `Ok` once the server accepted it (or the file
    /// is on disk). After an error the session should not be used again.
    pub async fn send(&mut self, from: &str, to: &str, bytes: &[u8]) -> Result<(), String> {
        let message = || Message {
            mail_from: Address {
                email: from.into(),
                ..Default::default()
            },
            rcpt_to: vec![Address {
                email: to.into(),
                ..Default::default()
            }],
            body: bytes.into(),
        };
        match self {
            Session::Plain(client, smtp) => client
                .send(message())
                .await
                .map(|_| ())
                .map_err(|e| explain(smtp, &e)),
            Session::Tls(client, smtp) => client
                .send(message())
                .await
                .map(|_| ())
                .map_err(|e| explain(smtp, &e)),
            Session::Pickup(dir) => {
                let dir = dir.clone();
                let bytes = bytes.to_vec();
                tokio::task::spawn_blocking(move || write_pickup(&dir, &bytes))
                    .await
                    .map_err(|e| e.to_string())?
            }
        }
    }

    /// Says goodbye to the server; a failure here loses nothing.
    pub async fn close(self) {
        match self {
            Session::Plain(client, _) => {
                let _ = client.quit().await;
            }
            Session::Tls(client, _) => {
                let _ = client.quit().await;
            }
            Session::Pickup(_) => {}
        }
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Verifies the server against the system's CA certificates (package ca-certificates).
fn verifying_tls_connector() -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(
            "no CA certificates found on this machine (install the ca-certificates package)".into(),
        );
    }
    let config = rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// `security = "none"` never starts TLS, but mail-send wants a connector anyway;
/// this one trusts nothing, so it needs no CA store.
fn unused_tls_connector() -> Result<TlsConnector, String> {
    let config = rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Plain words, with a hint where the usual mistake is a port/security mismatch.
fn explain(smtp: &Smtp, e: &mail_send::Error) -> String {
    let at = format!("{}:{}", smtp.host, smtp.port);
    match e {
        mail_send::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!(
                "connection to {at} refused: is the SMTP server running, and is the port right?"
            )
        }
        mail_send::Error::Io(io) => format!("network error talking to {at}: {io}"),
        mail_send::Error::Timeout => {
            format!("{at} did not answer within {} s", SMTP_TIMEOUT.as_secs())
        }
        mail_send::Error::MissingStartTls => format!(
            "{at} does not offer STARTTLS: use security = \"tls\" for port 465, or \"none\" only on a trusted network"
        ),
        mail_send::Error::Tls(t) => format!(
            "TLS with {at} failed ({t}); port 465 usually wants security = \"tls\", 587 \"starttls\""
        ),
        mail_send::Error::AuthenticationFailed(r) => {
            format!("{at} refused the user name or password ({r})")
        }
        mail_send::Error::UnexpectedReply(r) => format!("{at} refused the message: {r}"),
        other => format!("sending through {at} failed: {other}"),
    }
}

/// Writes `<dir>/<time>-<random>.eml` (0600) through a temporary file.
fn write_pickup(dir: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = crate::domain::clock::Clock::system()
        .now()
        .strftime("%Y%m%dT%H%M%S%.6fZ")
        .to_string();
    let suffix: [u8; 4] = crate::domain::token::random_bytes();
    let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{stamp}-{name}.tmp"));
    let path = dir.join(format!("{stamp}-{name}.eml"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}
