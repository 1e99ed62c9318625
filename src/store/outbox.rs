//! The mail outbox: messages queued in the same transaction as the change that
//! caused them, delivered later by the worker (STYLE habit 9, SECURITY D2).

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, decode, encode};

const NAME: &str = "outbox";

/// Every kind of message (CONTRACT section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    Reset,
    Setup,
    Locked,
    PasswordChanged,
    ConfirmEmail,
    EmailChanged,
    ExpiryReminder,
    Test,
}

impl MailKind {
    /// Every kind, each with its own pair of templates.
    pub const ALL: [MailKind; 8] = [
        MailKind::Reset,
        MailKind::Setup,
        MailKind::Locked,
        MailKind::PasswordChanged,
        MailKind::ConfirmEmail,
        MailKind::EmailChanged,
        MailKind::ExpiryReminder,
        MailKind::Test,
    ];
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub kind: MailKind,
    /// Recipient address (already validated).
    pub to: String,
    pub subject: String,
    /// The account concerned, as typed, for the audit log.
    pub user: Option<String>,
    pub created_at: Timestamp,
    /// The link inside stops working then, so the message is dropped instead.
    pub expires_at: Timestamp,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    /// The whole message, sealed (see `mail::seal`), base64.
    pub sealed: String,
}

/// Mail waiting for delivery.
pub struct Outbox<T> {
    table: T,
}

impl<T> Outbox<T> {
    pub(super) fn new(table: T) -> Self {
        Self { table }
    }
}

impl<T: ReadableTable<u64, &'static [u8]>> Outbox<T> {
    /// Every queued message, oldest first.
    pub fn all(&self) -> Result<Vec<(u64, OutboxRecord)>, StoreError> {
        self.table
            .iter()?
            .map(|entry| {
                let (k, v) = entry?;
                Ok((k.value(), decode(NAME, v.value())?))
            })
            .collect()
    }

    /// The message due soonest, if any is due at `now`.
    pub fn next_due(&self, now: Timestamp) -> Result<Option<(u64, OutboxRecord)>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|(_, r)| r.next_attempt_at <= now)
            .min_by_key(|(id, r)| (r.next_attempt_at, *id)))
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.table.len()?)
    }
}

impl Outbox<Table<'_, u64, &'static [u8]>> {
    /// Appends a message; returns its id.
    pub fn push(&mut self, record: &OutboxRecord) -> Result<u64, StoreError> {
        let id = self.table.last()?.map_or(1, |(k, _)| k.value() + 1);
        self.table.insert(id, encode(record).as_slice())?;
        Ok(id)
    }

    pub fn put(&mut self, id: u64, record: &OutboxRecord) -> Result<(), StoreError> {
        self.table.insert(id, encode(record).as_slice())?;
        Ok(())
    }

    pub fn remove(&mut self, id: u64) -> Result<bool, StoreError> {
        Ok(self.table.remove(id)?.is_some())
    }
}
