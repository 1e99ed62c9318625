//! Forward-auth: whether a request a reverse proxy holds may reach the app
//! behind it (CONTRACT section 7, SECURITY F1).
//!
//! The proxy asks on every request of every guarded page, so a check makes
//! no write and reads nothing but the cached app list; the session behind
//! the cookie was already checked (lock, licence, timeouts) by the caller.
//! Refusals are audited, but a browser that keeps reloading a page it may
//! not see must not fill the log: the same refusal is written once per
//! [`DENIAL_WINDOW`], and the next event says how many were left out.

use jiff::{SignedDuration, Timestamp};

use super::Auth;
use crate::bounded::BoundedMap;
use crate::store::StoreError;
use crate::store::apps::AppRecord;
use crate::store::audit::{Event, Origin};
use crate::store::users::UserRecord;

/// Within this long of a written refusal, the same refusal is only counted.
pub const DENIAL_WINDOW: SignedDuration = SignedDuration::from_secs(600);
/// How many distinct refusals are remembered for counting.
pub const DENIAL_CAPACITY: usize = 10_000;

/// What the proxy is told.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The account may use the app: pass the request on.
    Allowed,
    /// Nobody is signed in: send the browser to the sign-in page.
    SignIn,
    Denied(Denial),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Denial {
    /// No app lists the host (default deny).
    UnlistedHost,
    /// The account is in none of the groups of the app (named).
    NotInGroup(String),
    /// The request did not come from a proxy in `server.trusted_proxies`,
    /// so its `X-Forwarded-*` headers say nothing.
    UntrustedPeer,
}

impl Denial {
    fn describe(&self, host: &str) -> String {
        match self {
            Denial::UnlistedHost => format!("{host}: no app lists this host"),
            Denial::NotInGroup(app) => format!("{host}: not in the groups of app {app}"),
            Denial::UntrustedPeer => {
                format!("{host}: asked by a peer not in server.trusted_proxies")
            }
        }
    }
}

/// Who was refused what: the unit of counting.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DenialKey {
    user: Option<String>,
    /// The client address for a refusal without an account.
    origin: String,
    host: String,
    denial: Denial,
}

/// Refusals written recently: when, and how many since were only counted.
#[derive(Clone, Copy)]
pub struct Written {
    at: Timestamp,
    counted: u64,
}

pub type Denials = BoundedMap<DenialKey, Written>;

/// `authority` (`host[:port]`) of a `scheme` URL in the form an app lists
/// it: lower case, without the scheme's default port. `None` for anything
/// that is not a plain host name or address with an optional port.
pub fn normal_authority(scheme: &str, authority: &str) -> Option<String> {
    let ok = !authority.is_empty()
        && authority.len() <= 260
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !ok {
        return None;
    }
    let lower = authority.to_ascii_lowercase();
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    Some(match lower.strip_suffix(default_port) {
        Some(bare) => bare.to_owned(),
        None => lower,
    })
}

/// The app whose `--host` list holds `authority` (normalised).
pub fn guarding<'a>(apps: &'a [AppRecord], authority: &str) -> Option<&'a AppRecord> {
    apps.iter()
        .find(|app| app.hosts.iter().any(|h| h == authority))
}

impl Auth {
    /// Whether `user` (signed in, or not) may reach `authority` (normalised).
    pub fn forward_verdict(
        &self,
        authority: &str,
        user: Option<&UserRecord>,
    ) -> Result<Verdict, StoreError> {
        let apps = self.apps()?;
        let Some(app) = guarding(&apps, authority) else {
            return Ok(Verdict::Denied(Denial::UnlistedHost));
        };
        Ok(match user {
            None => Verdict::SignIn,
            Some(user) if app.admits(&user.groups) => Verdict::Allowed,
            Some(_) => Verdict::Denied(Denial::NotInGroup(app.name.as_str().to_owned())),
        })
    }

    /// Audits a refusal, unless the same one was written less than
    /// [`DENIAL_WINDOW`] ago (then it is counted into the next event).
    pub async fn forward_denied(
        &self,
        denial: &Denial,
        user: Option<&str>,
        host: &str,
        origin: Origin,
    ) -> Result<(), StoreError> {
        let now = self.store.now();
        let key = DenialKey {
            user: user.map(str::to_owned),
            origin: match user {
                None => origin.ip.clone().unwrap_or_default(),
                Some(_) => String::new(),
            },
            host: host.to_owned(),
            denial: denial.clone(),
        };
        let left_out = self.denials.update(key, |seen| match seen {
            Some(w) if now.duration_since(w.at) < DENIAL_WINDOW => (
                Written {
                    counted: w.counted + 1,
                    ..*w
                },
                None,
            ),
            seen => (
                Written {
                    at: now,
                    counted: 0,
                },
                Some(seen.map_or(0, |w| w.counted)),
            ),
        });
        let Some(left_out) = left_out else {
            return Ok(());
        };
        let mut detail = denial.describe(host);
        if left_out > 0 {
            detail.push_str(&format!(
                " (and {left_out} more like it since the last such event)"
            ));
        }
        self.record(
            Event::ForwardAuthDenied,
            user.map(str::to_owned),
            origin,
            detail,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_is_compared_without_case_or_default_port() {
        assert_eq!(
            normal_authority("https", "Files.Agency.LAN:443").as_deref(),
            Some("files.agency.lan")
        );
        assert_eq!(
            normal_authority("http", "files.agency.lan:8080").as_deref(),
            Some("files.agency.lan:8080")
        );
        assert_eq!(
            normal_authority("https", "files.agency.lan:80").as_deref(),
            Some("files.agency.lan:80")
        );
        for bad in [
            "",
            "evil@files.agency.lan",
            "files.agency.lan/x",
            "a b",
            "f%2e",
        ] {
            assert_eq!(normal_authority("https", bad), None, "{bad}");
        }
        assert_eq!(normal_authority("ftp", "files.agency.lan"), None);
    }
}
