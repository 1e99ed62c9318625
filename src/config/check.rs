//! The checks serde cannot express, one short validator per section, and
//! the error that names the key at fault.

use std::net::SocketAddr;

use super::{
    AuditLog, Backup, BaseUrlError, Config, Dur, Helpdesk, License, Lockout, Mail, Metrics, Oidc,
    Organization, Policy, RateLimit, Reset, Server, Session, Smtp,
};
use crate::domain::email::{Email, EmailError};

/// Why a configuration's values cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("server.base_url {0}")]
    BaseUrl(BaseUrlError),
    #[error("{key} {value:?}: {reason}")]
    Email {
        key: &'static str,
        value: String,
        reason: EmailError,
    },
    #[error("{first} and {second} must be set together")]
    NotPaired {
        first: &'static str,
        second: &'static str,
    },
    #[error("{key} must be at least 1")]
    Zero { key: &'static str },
    #[error("{key} must be longer than zero")]
    NoDuration { key: &'static str },
    #[error("{key} must not be below {floor}")]
    Below {
        key: &'static str,
        floor: &'static str,
    },
    #[error("{key} must be at most {max} characters")]
    TooLong { key: &'static str, max: usize },
    #[error("{key} must be at most {max}")]
    TooMany { key: &'static str, max: usize },
    #[error(
        "metrics.listen {0} must be a loopback address (127.0.0.1 or ::1); use a proxy to expose metrics further"
    )]
    MetricsNotLoopback(SocketAddr),
    #[error("{key} must be one line")]
    NotOneLine { key: &'static str },
    #[error("{key} must not be empty")]
    Empty { key: &'static str },
    #[error(
        "oidc.issuer {0:?} must be an https:// address without a query or fragment (http:// only for a loopback address)"
    )]
    Issuer(String),
    #[error(
        "forward_auth.cookie_domain {domain:?} must be a domain name such as agency.lan that contains the host of server.base_url ({host})"
    )]
    CookieDomain { domain: String, host: String },
}

/// Longest password policy.max_length allows.
const MAX_PASSWORD_LENGTH: usize = 256;
/// Most earlier passwords policy.history may remember.
const MAX_HISTORY: usize = 24;

impl Config {
    /// Every section's checks, in the order their keys are reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.policy.validate()?;
        self.lockout.validate()?;
        self.reset.validate()?;
        self.rate_limit.validate()?;
        self.license.validate()?;
        self.backup.validate()?;
        self.metrics.validate()?;
        self.organization.validate()?;
        self.session.validate()?;
        self.mail.validate()?;
        self.helpdesk.validate()?;
        self.oidc.validate()?;
        self.audit.validate()?;
        self.check_cookie_domain()?;
        self.mail.smtp.as_ref().map_or(Ok(()), Smtp::validate)
    }
}

impl Server {
    pub fn validate(&self) -> Result<(), ConfigError> {
        paired(
            self.tls_cert.is_some(),
            self.tls_key.is_some(),
            "server.tls_cert",
            "server.tls_key",
        )?;
        at_least_one(self.hash_queue, "server.hash_queue")
    }
}

impl Policy {
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_one(self.min_length, "policy.min_length")?;
        if self.max_length < self.min_length {
            return Err(ConfigError::Below {
                key: "policy.max_length",
                floor: "policy.min_length",
            });
        }
        if self.max_length > MAX_PASSWORD_LENGTH {
            return Err(ConfigError::TooLong {
                key: "policy.max_length",
                max: MAX_PASSWORD_LENGTH,
            });
        }
        if self.history > MAX_HISTORY {
            return Err(ConfigError::TooMany {
                key: "policy.history",
                max: MAX_HISTORY,
            });
        }
        nonzero(self.max_age, "policy.max_age")
    }
}

impl Lockout {
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_one(self.max_failures, "lockout.max_failures")?;
        match self.auto_unlock_after {
            Some(d) => nonzero(d, "lockout.auto_unlock_after"),
            None => Ok(()),
        }
    }
}

impl Reset {
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero(self.link_ttl, "reset.link_ttl")?;
        nonzero(self.setup_link_ttl, "reset.setup_link_ttl")
    }
}

impl RateLimit {
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_one(self.per_ip_per_minute, "rate_limit.per_ip_per_minute")
    }
}

impl License {
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero(self.default_term, "license.default_term")
    }
}

impl AuditLog {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.keep.map_or(Ok(()), |keep| nonzero(keep, "audit.keep"))
    }
}

impl Backup {
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero(self.every, "backup.every")?;
        at_least_one(self.keep, "backup.keep")
    }
}

impl Metrics {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && !self.listen.ip().is_loopback() {
            return Err(ConfigError::MetricsNotLoopback(self.listen));
        }
        Ok(())
    }
}

impl Organization {
    pub fn validate(&self) -> Result<(), ConfigError> {
        one_line(&self.name, "organization.name")
    }
}

impl Session {
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero(self.idle_timeout, "session.idle_timeout")?;
        nonzero(self.absolute_timeout, "session.absolute_timeout")
    }
}

impl Config {
    /// `forward_auth.cookie_domain`: a DNS name of at least two labels (a
    /// browser refuses a cookie for a top-level name) that the sign-in host
    /// lies in, or the cookie would never reach it.
    fn check_cookie_domain(&self) -> Result<(), ConfigError> {
        let Some(domain) = &self.forward_auth.cookie_domain else {
            return Ok(());
        };
        let host = self.server.base_url.host();
        let labels_ok = crate::domain::email::is_domain(domain)
            && domain.contains('.')
            && !domain.bytes().any(|b| b.is_ascii_uppercase());
        let contains_host = host == domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.ends_with('.'));
        if labels_ok && contains_host {
            Ok(())
        } else {
            Err(ConfigError::CookieDomain {
                domain: domain.clone(),
                host: host.to_owned(),
            })
        }
    }
}

impl Oidc {
    pub fn validate(&self) -> Result<(), ConfigError> {
        nonzero(self.access_token_ttl, "oidc.access_token_ttl")?;
        nonzero(self.refresh_token_ttl, "oidc.refresh_token_ttl")?;
        match &self.issuer {
            Some(issuer) if !issuer_is_usable(issuer) => Err(ConfigError::Issuer(issuer.clone())),
            _ => Ok(()),
        }
    }
}

/// OpenID Connect Core 1.0 section 2: the issuer is an https URL with no
/// query or fragment; plain http is allowed for a loopback host (tests, a
/// single machine).
fn issuer_is_usable(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    scheme_ok && url.host().is_some() && url.query().is_none() && url.fragment().is_none()
}

impl Mail {
    /// The sender; `[mail.smtp]` has checks of its own ([`Smtp::validate`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        one_line(&self.from_name, "mail.from_name")
    }
}

impl Smtp {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.host.trim().is_empty() {
            return Err(ConfigError::Empty {
                key: "mail.smtp.host",
            });
        }
        paired(
            self.username.is_some(),
            self.password.is_some(),
            "mail.smtp.username",
            "mail.smtp.password",
        )
    }
}

impl Helpdesk {
    pub fn validate(&self) -> Result<(), ConfigError> {
        email(&self.email, "helpdesk.email").map(drop)
    }
}

/// `text` as the address `key` holds.
pub(super) fn email(text: &str, key: &'static str) -> Result<Email, ConfigError> {
    Email::parse(text).map_err(|reason| ConfigError::Email {
        key,
        value: text.to_owned(),
        reason,
    })
}

fn paired(
    first_set: bool,
    second_set: bool,
    first: &'static str,
    second: &'static str,
) -> Result<(), ConfigError> {
    if first_set == second_set {
        Ok(())
    } else {
        Err(ConfigError::NotPaired { first, second })
    }
}

fn at_least_one<N: PartialEq + From<u8>>(n: N, key: &'static str) -> Result<(), ConfigError> {
    if n == N::from(0) {
        Err(ConfigError::Zero { key })
    } else {
        Ok(())
    }
}

fn nonzero(d: Dur, key: &'static str) -> Result<(), ConfigError> {
    if d.0.is_zero() {
        Err(ConfigError::NoDuration { key })
    } else {
        Ok(())
    }
}

fn one_line(text: &str, key: &'static str) -> Result<(), ConfigError> {
    if text.contains(['\r', '\n']) {
        Err(ConfigError::NotOneLine { key })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BaseUrl, LoadError, parse};
    use super::*;

    /// The configuration `text` gives, as `load` would check it.
    fn checked(text: &str) -> Result<Config, ConfigError> {
        parse(text).expect("valid TOML").check()
    }

    #[test]
    fn a_bad_base_url_is_a_config_error_naming_the_key() {
        let err = checked("[server]\nbase_url = \"ftp://x\"\n").unwrap_err();
        assert_eq!(
            err,
            ConfigError::BaseUrl(BaseUrlError::NotHttp("ftp://x".into()))
        );
        assert_eq!(
            LoadError::from(err).to_string(),
            "config: server.base_url \"ftp://x\" must be an http:// or https:// address"
        );
        let err = checked("[server]\nbase_url = \"https://x.org/?a=1\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "server.base_url must not have a query or fragment"
        );
    }

    #[test]
    fn a_bad_sender_is_a_config_error_naming_the_key() {
        let err = checked("[mail]\nfrom = \"nope\"\n").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Email {
                key: "mail.from",
                value: "nope".into(),
                reason: crate::domain::email::EmailError::Invalid,
            }
        );
        assert_eq!(
            err.to_string(),
            "mail.from \"nope\": enter an email address like name@example.org"
        );
    }

    #[test]
    fn each_section_names_its_key() {
        let cases: &[(&str, ConfigError, &str)] = &[
            (
                "[server]\ntls_cert = \"/c\"\n",
                ConfigError::NotPaired {
                    first: "server.tls_cert",
                    second: "server.tls_key",
                },
                "server.tls_cert and server.tls_key must be set together",
            ),
            (
                "[policy]\nmin_length = 0\n",
                ConfigError::Zero {
                    key: "policy.min_length",
                },
                "policy.min_length must be at least 1",
            ),
            (
                "[policy]\nmax_length = 257\n",
                ConfigError::TooLong {
                    key: "policy.max_length",
                    max: 256,
                },
                "policy.max_length must be at most 256 characters",
            ),
            (
                "[policy]\nhistory = 25\n",
                ConfigError::TooMany {
                    key: "policy.history",
                    max: 24,
                },
                "policy.history must be at most 24",
            ),
            (
                "[lockout]\nauto_unlock_after = \"0m\"\n",
                ConfigError::NoDuration {
                    key: "lockout.auto_unlock_after",
                },
                "lockout.auto_unlock_after must be longer than zero",
            ),
            (
                "[metrics]\nlisten = \"0.0.0.0:9101\"\n",
                ConfigError::MetricsNotLoopback("0.0.0.0:9101".parse().unwrap()),
                "metrics.listen 0.0.0.0:9101 must be a loopback address (127.0.0.1 or ::1); use a proxy to expose metrics further",
            ),
            (
                "[organization]\nname = \"a\\nb\"\n",
                ConfigError::NotOneLine {
                    key: "organization.name",
                },
                "organization.name must be one line",
            ),
            (
                "[mail.smtp]\nhost = \" \"\n",
                ConfigError::Empty {
                    key: "mail.smtp.host",
                },
                "mail.smtp.host must not be empty",
            ),
        ];
        for (text, variant, message) in cases {
            let err = checked(text).unwrap_err();
            assert_eq!(&err, variant, "{text}");
            assert_eq!(err.to_string(), *message, "{text}");
        }
    }

    #[test]
    fn a_config_built_in_code_is_checked_the_same_way() {
        let mut c = Config::default();
        c.backup.keep = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero { key: "backup.keep" }));
        c.backup.keep = 1;
        c.server.base_url = BaseUrl::parse("https://login.example.org").unwrap();
        c.validate().unwrap();
    }
}
