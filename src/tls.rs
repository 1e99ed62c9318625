//! HTTPS: loading the configured certificate and key, and writing a
//! self-signed pair for a LAN deployment (`latchkey tls self-signed`).

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long a generated certificate is valid (browsers refuse longer ones).
const VALID_DAYS: i64 = 825;

/// A rustls server configuration from PEM files (ring provider, TLS 1.2 and 1.3).
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| {
            format!(
                "reading the certificate {} (server.tls_cert)",
                cert.display()
            )
        })?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "{} is not a PEM certificate (server.tls_cert)",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        bail!("{} holds no certificate (server.tls_cert)", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {} (server.tls_key)", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context(
            "the certificate and key (server.tls_cert, server.tls_key) do not belong together",
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Where `tls self-signed` wrote its files.
pub struct Written {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes `cert.pem` (0644) and `key.pem` (0600) into `dir` for `host` and the `ips`.
pub fn self_signed(dir: &Path, host: &str, ips: &[IpAddr]) -> anyhow::Result<Written> {
    let mut names = vec![host.to_owned()];
    names.extend(ips.iter().map(ToString::to_string));
    let mut params = rcgen::CertificateParams::new(names).context("invalid host name")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, host.to_owned());
    let today = jiff::Zoned::now().date();
    let until = today
        .checked_add(jiff::Span::new().days(VALID_DAYS))
        .context("date out of range")?;
    let (y, m, d) = ymd(today.yesterday().unwrap_or(today))?;
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(until)?;
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let key = rcgen::KeyPair::generate().context("generating a key")?;
    let cert = params
        .self_signed(&key)
        .context("signing the certificate")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let written = Written {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    write_file(&written.key, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&written.cert, cert.pem().as_bytes(), 0o644)?;
    Ok(written)
}

fn ymd(d: jiff::civil::Date) -> anyhow::Result<(i32, u8, u8)> {
    let month = u8::try_from(d.month()).context("month")?;
    let day = u8::try_from(d.day()).context("day")?;
    Ok((i32::from(d.year()), month, day))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
