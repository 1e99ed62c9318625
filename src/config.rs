//! The TOML configuration: every key of CONTRACT section 2, typed and validated once.
//!
//! Unknown keys are refused (serde `deny_unknown_fields`), durations are strings
//! such as `"15m"`, `server.base_url` and `mail.from` become a [`BaseUrl`] and
//! an [`Email`], and every value is checked at load time so a bad config stops
//! the program with a message naming the key instead of failing later.

use crate::domain::email::Email;
use crate::domain::password::PasswordRules;
use crate::domain::secret::Secret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod base_url;
mod check;
mod file;

pub use base_url::{BaseUrl, BaseUrlError};
pub use check::ConfigError;

/// The whole configuration, defaults as in CONTRACT section 2. The file is
/// read through `file::File`, which has the same keys.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub data_dir: PathBuf,
    pub organization: Organization,
    pub server: Server,
    pub policy: Policy,
    pub lockout: Lockout,
    pub reset: Reset,
    pub rate_limit: RateLimit,
    pub license: License,
    pub backup: Backup,
    pub session: Session,
    pub mail: Mail,
    pub helpdesk: Helpdesk,
    pub metrics: Metrics,
    pub oidc: Oidc,
    pub forward_auth: ForwardAuth,
    pub audit: AuditLog,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./latchkey-data"),
            organization: Organization::default(),
            server: Server::default(),
            policy: Policy::default(),
            lockout: Lockout::default(),
            reset: Reset::default(),
            rate_limit: RateLimit::default(),
            license: License::default(),
            backup: Backup::default(),
            session: Session::default(),
            mail: Mail::default(),
            helpdesk: Helpdesk::default(),
            metrics: Metrics::default(),
            oidc: Oidc::default(),
            forward_auth: ForwardAuth::default(),
            audit: AuditLog::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organization {
    pub name: String,
}

impl Default for Organization {
    fn default() -> Self {
        Self {
            name: "Community Services".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub listen: SocketAddr,
    /// The only source of links in emails.
    pub base_url: BaseUrl,
    pub trusted_proxies: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Password hashes computed at once; 0 means one per CPU core.
    pub hash_threads: usize,
    /// Sign-ins that may wait for a hashing thread before the answer is 503.
    pub hash_queue: usize,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: BaseUrl::parse("http://127.0.0.1:8080").expect("the default base_url parses"),
            trusted_proxies: Vec::new(),
            tls_cert: None,
            tls_key: None,
            hash_threads: 0,
            hash_queue: 64,
        }
    }
}

impl Server {
    /// Hashing threads after resolving `0` to the number of cores.
    pub fn effective_hash_threads(&self) -> usize {
        if self.hash_threads > 0 {
            self.hash_threads
        } else {
            std::thread::available_parallelism().map_or(2, usize::from)
        }
    }

    pub fn https(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub min_length: usize,
    pub max_length: usize,
    pub require_upper: bool,
    pub require_lower: bool,
    pub require_digit: bool,
    pub require_special: bool,
    pub max_age: Dur,
    pub expiry_warning: Dur,
    pub history: usize,
    pub reject_common: bool,
}

impl Default for Policy {
    /// The composition rules' defaults live in one place, [`PasswordRules`].
    fn default() -> Self {
        let PasswordRules {
            min_length,
            max_length,
            require_upper,
            require_lower,
            require_digit,
            require_special,
            reject_common,
        } = PasswordRules::default();
        Self {
            min_length,
            max_length,
            require_upper,
            require_lower,
            require_digit,
            require_special,
            reject_common,
            max_age: Dur::days(45),
            expiry_warning: Dur::days(7),
            history: 5,
        }
    }
}

impl Policy {
    pub fn rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.min_length,
            max_length: self.max_length,
            require_upper: self.require_upper,
            require_lower: self.require_lower,
            require_digit: self.require_digit,
            require_special: self.require_special,
            reject_common: self.reject_common,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lockout {
    pub max_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_unlock_after: Option<Dur>,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            max_failures: 3,
            auto_unlock_after: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reset {
    pub link_ttl: Dur,
    pub setup_link_ttl: Dur,
    pub max_per_hour: u32,
}

impl Default for Reset {
    fn default() -> Self {
        Self {
            link_ttl: Dur::minutes(15),
            setup_link_ttl: Dur::hours(72),
            max_per_hour: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    pub per_ip_per_minute: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct License {
    pub default_term: Dur,
}

impl Default for License {
    fn default() -> Self {
        Self {
            default_term: Dur::days(365),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    pub every: Dur,
    pub keep: usize,
}

impl Default for Backup {
    fn default() -> Self {
        Self {
            dir: None,
            every: Dur::hours(24),
            keep: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Session {
    pub idle_timeout: Dur,
    pub absolute_timeout: Dur,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            idle_timeout: Dur::minutes(30),
            absolute_timeout: Dur::hours(12),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mail {
    pub from: Email,
    pub from_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<Smtp>,
}

impl Default for Mail {
    fn default() -> Self {
        Self {
            from: Email::parse("DoNotReply@localhost").expect("the default mail.from parses"),
            from_name: "Community Services".into(),
            smtp: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "Smtp::default_port")]
    pub port: u16,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "mask_secret"
    )]
    pub password: Option<Secret>,
}

impl Smtp {
    fn default_port() -> u16 {
        587
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Helpdesk {
    pub email: String,
    pub hours: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Default for Helpdesk {
    fn default() -> Self {
        Self {
            email: "helpdesk@localhost".into(),
            hours: "Monday to Friday, 8:00 to 17:00".into(),
            phone: None,
        }
    }
}

/// `/metrics` (Prometheus text) on a listener of its own, loopback only.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    pub enabled: bool,
    pub listen: SocketAddr,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9101)),
        }
    }
}

/// The OpenID Connect provider (CONTRACT section 7).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Oidc {
    /// The `iss` of every token; `server.base_url` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub access_token_ttl: Dur,
    /// Capped at `session.absolute_timeout` (see [`Config::refresh_token_ttl`]).
    pub refresh_token_ttl: Dur,
}

impl Default for Oidc {
    fn default() -> Self {
        Self {
            issuer: None,
            access_token_ttl: Dur::minutes(10),
            refresh_token_ttl: Dur::hours(12),
        }
    }
}

/// Forward-auth for apps behind a reverse proxy (CONTRACT section 7).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuth {
    /// Set: the session cookie is sent to every host under this domain, so
    /// the apps behind a proxy see the sign-in. It must contain the host of
    /// `server.base_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
}

/// How long the audit log keeps its events.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditLog {
    /// Set: events older than this are deleted in the background. Unset
    /// (the default): every event is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<Dur>,
}

impl Config {
    /// The issuer identifier: `oidc.issuer`, or `server.base_url`, without a
    /// trailing slash (OpenID Connect Discovery 1.0 section 4.1 appends
    /// `/.well-known/openid-configuration` to it).
    pub fn issuer(&self) -> String {
        match &self.oidc.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => self.server.base_url.as_str().to_owned(),
        }
    }

    /// How long a grant's refresh tokens last: `oidc.refresh_token_ttl`,
    /// never longer than a session may (`session.absolute_timeout`).
    pub fn refresh_token_ttl(&self) -> jiff::SignedDuration {
        self.oidc
            .refresh_token_ttl
            .signed()
            .min(self.session.absolute_timeout.signed())
    }
}

fn mask_secret<S: Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("********"),
        None => s.serialize_none(),
    }
}

/// A duration written as a string: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(n: u64) -> Self {
        Self(Duration::from_secs(n))
    }
    pub const fn minutes(n: u64) -> Self {
        Self::secs(n * 60)
    }
    pub const fn hours(n: u64) -> Self {
        Self::secs(n * 3600)
    }
    pub const fn days(n: u64) -> Self {
        Self::secs(n * 86_400)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("duration {text:?} needs a unit: ms, s, m, h or d"))?;
        let (number, unit) = text.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("duration {text:?} must start with a whole number"))?;
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(format!(
                    "duration {text:?} has unknown unit {unit:?}; use ms, s, m, h or d"
                ));
            }
        };
        n.checked_mul(millis_per_unit)
            .map(|ms| Self(Duration::from_millis(ms)))
            .ok_or_else(|| format!("duration {text:?} is too large"))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }

    /// The same span as a `jiff::SignedDuration`, for arithmetic on timestamps.
    pub fn signed(self) -> jiff::SignedDuration {
        jiff::SignedDuration::try_from(self.0).unwrap_or(jiff::SignedDuration::MAX)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl fmt::Debug for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {0}")]
    Invalid(#[from] ConfigError),
}

/// Where the configuration comes from: `--config FILE`, else `./latchkey.toml`, else defaults.
pub fn load(explicit: Option<&Path>, data_dir: Option<&Path>) -> Result<Config, LoadError> {
    let default_file = Path::new("latchkey.toml");
    let path = match explicit {
        Some(p) => Some(p),
        None if default_file.exists() => Some(default_file),
        None => None,
    };
    let file = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: path.to_owned(),
                source,
            })?;
            parse(&text).map_err(|message| LoadError::Parse {
                path: path.to_owned(),
                message,
            })?
        }
        None => file::File::default(),
    };
    let mut config = file.check()?;
    if let Some(dir) = data_dir {
        config.data_dir = dir.to_owned();
    }
    Ok(config)
}

/// Parse TOML text; the message names the offending key and line.
fn parse(text: &str) -> Result<file::File, String> {
    toml::from_str::<file::File>(text).map_err(|e| e.to_string().trim_end().replace('\n', " "))
}

impl Config {
    /// Settings that are valid one by one but contradict each other: the
    /// server runs, but not as whoever wrote them meant. `config check` prints
    /// each and `serve` logs each at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let p = &self.policy;
        if p.expiry_warning.as_duration() >= p.max_age.as_duration() {
            warnings.push(format!(
                "policy.expiry_warning ({}) is not shorter than policy.max_age ({}): every password is shown as expiring from the day it is chosen",
                p.expiry_warning, p.max_age
            ));
        }
        let s = &self.session;
        if s.idle_timeout.as_duration() >= s.absolute_timeout.as_duration() {
            warnings.push(format!(
                "session.idle_timeout ({}) is not shorter than session.absolute_timeout ({}): the idle timeout never ends a session",
                s.idle_timeout, s.absolute_timeout
            ));
        }
        if self.reset.max_per_hour == 0 {
            warnings.push(
                "reset.max_per_hour is 0: Forgot Password never sends a link; only an administrator's reset-link works".into(),
            );
        }
        if let Some(after) = self.lockout.auto_unlock_after
            && after.as_duration() < std::time::Duration::from_secs(60)
        {
            warnings.push(format!(
                "lockout.auto_unlock_after ({after}) is under a minute: a locked account opens again before a person could reach the helpdesk, so the lock hardly slows a guesser"
            ));
        }
        if let Some(smtp) = &self.mail.smtp
            && smtp.security == SmtpSecurity::None
            && smtp.password.is_some()
        {
            warnings.push(
                "mail.smtp.security is \"none\" with a password set: the SMTP password and every reset link cross the network unencrypted".into(),
            );
        }
        warnings
    }

    /// The effective configuration as TOML, with secrets masked (`config check`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration `text` gives, as `load` would check it.
    fn checked(text: &str) -> Result<Config, ConfigError> {
        parse(text).expect("valid TOML").check()
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = checked("").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.base_url.as_str(), "http://127.0.0.1:8080");
        assert_eq!(c.policy.max_age, Dur::days(45));
        assert_eq!(c.reset.link_ttl, Dur::minutes(15));
        assert_eq!(c.lockout.max_failures, 3);
        assert_eq!(c.session.absolute_timeout, Dur::hours(12));
        assert_eq!(c.mail.from.as_str(), "DoNotReply@localhost");
        assert!(c.lockout.auto_unlock_after.is_none());
        Config::default().validate().unwrap();
    }

    /// CONTRACT section 2, `[oidc]`: the defaults, the issuer rule, and a
    /// refresh token that never outlives a session.
    #[test]
    fn the_oidc_section_has_its_defaults_and_checks() {
        let c = checked("").unwrap();
        assert_eq!(c.oidc.access_token_ttl, Dur::minutes(10));
        assert_eq!(c.oidc.refresh_token_ttl, Dur::hours(12));
        assert_eq!(c.issuer(), "http://127.0.0.1:8080");
        let c = checked("[oidc]\nissuer = \"https://id.agency.lan/\"\n").unwrap();
        assert_eq!(c.issuer(), "https://id.agency.lan");
        checked("[oidc]\nissuer = \"http://localhost:9000\"\n").unwrap();
        for bad in [
            "http://id.agency.lan",
            "https://id.agency.lan/?x=1",
            "https://id.agency.lan/#f",
            "id.agency.lan",
        ] {
            let err = checked(&format!("[oidc]\nissuer = \"{bad}\"\n")).unwrap_err();
            assert!(err.to_string().starts_with("oidc.issuer"), "{bad}: {err}");
        }
        let c = checked("[session]\nabsolute_timeout = \"8h\"\n").unwrap();
        assert_eq!(c.refresh_token_ttl(), jiff::SignedDuration::from_hours(8));
        assert!(checked("[oidc]\naccess_token_ttl = \"0s\"\n").is_err());
    }

    /// CONTRACT section 2, `[audit] keep`: unset keeps everything; a
    /// period must be longer than zero.
    #[test]
    fn the_audit_section_keeps_everything_unless_told() {
        assert!(checked("").unwrap().audit.keep.is_none());
        let c = checked("[audit]\nkeep = \"400d\"\n").unwrap();
        assert_eq!(c.audit.keep, Some(Dur::days(400)));
        let err = checked("[audit]\nkeep = \"0d\"\n").unwrap_err();
        assert_eq!(err.to_string(), "audit.keep must be longer than zero");
        assert!(parse("[audit]\nkeep_for = \"1d\"\n").is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("[policy]\nmin_lenght = 9\n").err().unwrap();
        assert!(err.contains("min_lenght"), "{err}");
        let err = parse("colour = 1\n").err().unwrap();
        assert!(err.contains("colour"), "{err}");
        let err = parse("[server]\nbaseurl = \"x\"\n").err().unwrap();
        assert!(err.contains("baseurl"), "{err}");
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(Dur::parse("2s").unwrap(), Dur::secs(2));
        assert_eq!(Dur::parse("15m").unwrap(), Dur::minutes(15));
        assert_eq!(Dur::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(Dur::days(45).to_string(), "45d");
        assert!(Dur::parse("15").is_err());
        assert!(Dur::parse("m").is_err());
        assert!(Dur::parse("3 weeks").is_err());
        assert!(parse("[reset]\nlink_ttl = \"soon\"\n").is_err());
    }

    #[test]
    fn cross_field_rules() {
        let err = checked("[policy]\nmin_length = 10\nmax_length = 9\n").unwrap_err();
        assert!(err.to_string().contains("max_length"));
        let err = checked("[server]\nbase_url = \"ftp://x\"\n").unwrap_err();
        assert!(err.to_string().contains("base_url"));
        let c = checked("[server]\nbase_url = \"https://id.example.org/\"\n").unwrap();
        assert_eq!(c.server.base_url.as_str(), "https://id.example.org");
    }

    #[test]
    fn smtp_password_is_masked() {
        let c = checked(
            "[mail.smtp]\nhost = \"smtp.example.org\"\nusername = \"u\"\npassword = \"hunter2\"\n",
        )
        .unwrap();
        let text = c.to_masked_toml();
        assert!(!text.contains("hunter2"));
        assert!(text.contains("********"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn the_masked_toml_reads_back_as_the_same_config() {
        let c = checked(
            "[server]\nbase_url = \"https://id.example.org/app/\"\n[mail]\nfrom = \"it@example.org\"\n",
        )
        .unwrap();
        let text = c.to_masked_toml();
        assert!(
            text.contains("base_url = \"https://id.example.org/app\"\n"),
            "{text}"
        );
        assert!(text.contains("from = \"it@example.org\"\n"), "{text}");
        let again = checked(&text).unwrap();
        assert_eq!(again.server.base_url, c.server.base_url);
        assert_eq!(again.mail.from, c.mail.from);
    }
}
