//! The config file as written: the shape of [`Config`] with `server.base_url`
//! and `mail.from` still text. Parsing them after TOML, not inside it, keeps
//! their faults reported like every other value's (`config: server.base_url
//! …`), not as TOML syntax.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use super::check::{ConfigError, email};
use super::{
    AuditLog, Backup, BaseUrl, Config, ForwardAuth, Helpdesk, License, Lockout, Mail, Metrics,
    Oidc, Organization, Policy, RateLimit, Reset, Server, Session, Smtp,
};

#[derive(Deserialize)]
#[serde(expecting = "struct Config", deny_unknown_fields, default)]
pub(super) struct File {
    data_dir: PathBuf,
    organization: Organization,
    server: ServerFile,
    policy: Policy,
    lockout: Lockout,
    reset: Reset,
    rate_limit: RateLimit,
    license: License,
    backup: Backup,
    session: Session,
    mail: MailFile,
    helpdesk: Helpdesk,
    metrics: Metrics,
    oidc: Oidc,
    forward_auth: ForwardAuth,
    audit: AuditLog,
}

#[derive(Deserialize)]
#[serde(expecting = "struct Server", deny_unknown_fields, default)]
struct ServerFile {
    listen: SocketAddr,
    base_url: String,
    trusted_proxies: Vec<IpAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    hash_threads: usize,
    hash_queue: usize,
}

#[derive(Deserialize)]
#[serde(expecting = "struct Mail", deny_unknown_fields, default)]
struct MailFile {
    from: String,
    from_name: String,
    smtp: Option<Smtp>,
}

impl File {
    /// Parses the text values and runs every check: the configuration to use.
    pub(super) fn check(self) -> Result<Config, ConfigError> {
        let config = Config {
            data_dir: self.data_dir,
            organization: self.organization,
            server: self.server.parse()?,
            policy: self.policy,
            lockout: self.lockout,
            reset: self.reset,
            rate_limit: self.rate_limit,
            license: self.license,
            backup: self.backup,
            session: self.session,
            mail: self.mail.parse()?,
            helpdesk: self.helpdesk,
            metrics: self.metrics,
            oidc: self.oidc,
            forward_auth: self.forward_auth,
            audit: self.audit,
        };
        config.validate()?;
        Ok(config)
    }
}

impl ServerFile {
    fn parse(self) -> Result<Server, ConfigError> {
        Ok(Server {
            listen: self.listen,
            base_url: BaseUrl::parse(&self.base_url).map_err(ConfigError::BaseUrl)?,
            trusted_proxies: self.trusted_proxies,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            hash_threads: self.hash_threads,
            hash_queue: self.hash_queue,
        })
    }
}

impl MailFile {
    fn parse(self) -> Result<Mail, ConfigError> {
        Ok(Mail {
            from: email(&self.from, "mail.from")?,
            from_name: self.from_name,
            smtp: self.smtp,
        })
    }
}

/// A key left out of the file takes its value from [`Config::default`].
impl Default for File {
    fn default() -> Self {
        let c = Config::default();
        Self {
            data_dir: c.data_dir,
            organization: c.organization,
            server: c.server.into(),
            policy: c.policy,
            lockout: c.lockout,
            reset: c.reset,
            rate_limit: c.rate_limit,
            license: c.license,
            backup: c.backup,
            session: c.session,
            mail: c.mail.into(),
            helpdesk: c.helpdesk,
            metrics: c.metrics,
            oidc: c.oidc,
            forward_auth: c.forward_auth,
            audit: c.audit,
        }
    }
}

impl Default for ServerFile {
    fn default() -> Self {
        Server::default().into()
    }
}

impl From<Server> for ServerFile {
    fn from(s: Server) -> Self {
        Self {
            listen: s.listen,
            base_url: s.base_url.to_string(),
            trusted_proxies: s.trusted_proxies,
            tls_cert: s.tls_cert,
            tls_key: s.tls_key,
            hash_threads: s.hash_threads,
            hash_queue: s.hash_queue,
        }
    }
}

impl Default for MailFile {
    fn default() -> Self {
        Mail::default().into()
    }
}

impl From<Mail> for MailFile {
    fn from(m: Mail) -> Self {
        Self {
            from: m.from.to_string(),
            from_name: m.from_name,
            smtp: m.smtp,
        }
    }
}
