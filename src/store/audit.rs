//! The audit log: security events with UTC time, peer address and operator (SECURITY X2).

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode};

const NAME: &str = "audit";

/// Every event kind of CONTRACT section 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    AccountUnlocked,
    ResetRequested,
    ResetCompleted,
    PasswordChanged,
    PasswordExpiredChange,
    SessionRevoked,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    LicenseChanged,
    BackupCreated,
    BackupRestored,
    EmailChangeRequested,
    EmailChanged,
    ForceChangeSet,
    RateLimited,
    CsrfRejected,
    /// A queued message could not be delivered before its link expired.
    MailDropped,
    /// A group was made or removed, or an account's groups were set.
    GroupChanged,
    /// An account's role changed.
    RoleChanged,
    AppCreated,
    /// An app's settings or its client secret changed.
    AppUpdated,
    AppRemoved,
    /// An app got tokens for an account (code redeemed or refresh).
    TokenIssued,
    /// An app was refused tokens; the detail says why.
    TokenRefused,
    /// A new OpenID Connect signing key.
    KeyRotated,
    /// Forward-auth refused a request; repeats of the same refusal are
    /// counted into the next event rather than written one by one.
    ForwardAuthDenied,
    /// Queued mail was made due again now (`mail retry`, the console's mail queue).
    MailRetried,
}

impl Event {
    /// Every kind, in the order above (the console's event filter lists them).
    pub const ALL: &[Event] = &[
        Event::LoginSucceeded,
        Event::LoginFailed,
        Event::AccountLocked,
        Event::AccountUnlocked,
        Event::ResetRequested,
        Event::ResetCompleted,
        Event::PasswordChanged,
        Event::PasswordExpiredChange,
        Event::SessionRevoked,
        Event::UserCreated,
        Event::UserUpdated,
        Event::UserDisabled,
        Event::UserEnabled,
        Event::UserDeleted,
        Event::LicenseChanged,
        Event::BackupCreated,
        Event::BackupRestored,
        Event::EmailChangeRequested,
        Event::EmailChanged,
        Event::ForceChangeSet,
        Event::RateLimited,
        Event::CsrfRejected,
        Event::MailDropped,
        Event::GroupChanged,
        Event::RoleChanged,
        Event::AppCreated,
        Event::AppUpdated,
        Event::AppRemoved,
        Event::TokenIssued,
        Event::TokenRefused,
        Event::KeyRotated,
        Event::ForwardAuthDenied,
        Event::MailRetried,
    ];

    /// The kind named `name` (its audit-log spelling), if there is one.
    pub fn parse(name: &str) -> Option<Event> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }

    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Who caused an event and from where.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Origin {
    /// Peer IP for web requests.
    pub ip: Option<String>,
    /// The operating-system user for CLI commands (`os:alice`).
    pub actor: Option<String>,
}

impl Origin {
    pub fn web(ip: std::net::IpAddr) -> Self {
        Self {
            ip: Some(ip.to_string()),
            actor: None,
        }
    }

    pub fn operator(os_user: &str) -> Self {
        Self {
            ip: None,
            actor: Some(format!("os:{os_user}")),
        }
    }

    /// A helpdesk or admin acting in the console (`web:alice`), from `ip`.
    pub fn console(actor: &str, ip: std::net::IpAddr) -> Self {
        Self {
            ip: Some(ip.to_string()),
            actor: Some(format!("web:{actor}")),
        }
    }

    pub fn system() -> Self {
        Self {
            ip: None,
            actor: Some("latchkey".into()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: Timestamp,
    pub event: Event,
    /// The account concerned, as typed (unknown names too, for failed sign-ins).
    pub user: Option<String>,
    pub ip: Option<String>,
    pub actor: Option<String>,
    pub detail: Option<String>,
}

/// The audit log (append-only).
pub struct Audit<T> {
    table: T,
    /// The time of the transaction, given to every event appended in it.
    now: Timestamp,
}

impl<T> Audit<T> {
    pub(super) fn new(table: T, now: Timestamp) -> Self {
        Self { table, now }
    }
}

impl<T: ReadableTable<u64, &'static [u8]>> Audit<T> {
    /// The newest `limit` events matching `filter`, oldest first.
    pub fn tail(
        &self,
        limit: usize,
        mut filter: impl FnMut(&AuditRecord) -> bool,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self.table.iter()?.rev() {
            let (_, v) = entry?;
            let record: AuditRecord = super::decode(NAME, v.value())?;
            if filter(&record) {
                out.push(record);
                if out.len() >= limit {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }
}

impl<T: ReadableTable<u64, &'static [u8]>> Audit<T> {
    /// Up to `limit` events older than event `before` (or the newest) for
    /// which `filter` holds, newest first, each with its sequence number.
    /// The scan stops at the first event older than `since`.
    pub fn page(
        &self,
        before: Option<u64>,
        since: Option<Timestamp>,
        limit: usize,
        mut filter: impl FnMut(&AuditRecord) -> bool,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        let mut out = Vec::new();
        let range = match before {
            Some(b) => self.table.range(..b)?,
            None => self.table.range::<u64>(..)?,
        };
        for entry in range.rev() {
            let (k, v) = entry?;
            let record: AuditRecord = super::decode(NAME, v.value())?;
            if since.is_some_and(|s| record.time < s) {
                break;
            }
            if filter(&record) {
                out.push((k.value(), record));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl Audit<Table<'_, u64, &'static [u8]>> {
    /// Appends one event in the caller's transaction, so it commits with the change it records.
    pub fn append(
        &mut self,
        event: Event,
        user: Option<&str>,
        origin: &Origin,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        let next = self.table.last()?.map_or(1, |(k, _)| k.value() + 1);
        let record = AuditRecord {
            time: self.now,
            event,
            user: user.map(str::to_owned),
            ip: origin.ip.clone(),
            actor: origin.actor.clone(),
            detail,
        };
        self.table.insert(next, encode(&record).as_slice())?;
        Ok(())
    }

    /// Deletes up to `limit` of the oldest events older than `cutoff`; how
    /// many went. The newest event always stays, so the next one appended
    /// never reuses a sequence number.
    pub fn prune(&mut self, cutoff: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let Some(last) = self.table.last()?.map(|(k, _)| k.value()) else {
            return Ok(0);
        };
        let mut old = Vec::new();
        for entry in self.table.range(..last)? {
            let (k, v) = entry?;
            let record: AuditRecord = super::decode(NAME, v.value())?;
            if record.time >= cutoff || old.len() >= limit {
                break;
            }
            old.push(k.value());
        }
        for key in &old {
            self.table.remove(key)?;
        }
        Ok(old.len())
    }
}
