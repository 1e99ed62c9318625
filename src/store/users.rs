//! Accounts: the user record and its table helpers.

use jiff::Timestamp;
use jiff::civil::Date;
use redb::{ReadableTable, ReadableTableMetadata, Table};
use serde::{Deserialize, Serialize};

use super::sessions::EndReason;
use super::{StoreError, encode, get_json};

const NAME: &str = "users";

/// One account. Stored as JSON under its canonical user name.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UserRecord {
    /// The user name as typed at creation (NFKC, case kept).
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub admin: bool,
    pub agency: Option<String>,
    pub disabled: bool,
    /// argon2id PHC string; `None` until the user completes setup.
    pub password_hash: Option<String>,
    pub password_changed_at: Option<Timestamp>,
    /// Set by `user force-change`: the next sign-in must choose a new password.
    pub must_change: bool,
    /// Previous password hashes, newest first (argon2 PHC strings).
    pub password_history: Vec<String>,
    pub failed_attempts: u32,
    pub locked_at: Option<Timestamp>,
    /// Last day the license is valid (server local time); `None` is "never expires".
    pub license_expires: Option<Date>,
    /// Bumped to revoke every session of the account at once.
    pub session_epoch: u64,
    /// Why the epoch was last bumped, told to the sessions it ended.
    pub sessions_ended_because: Option<EndReason>,
    pub created_at: Timestamp,
    /// When reset mails were queued in the last hour (`reset.max_per_hour`).
    pub reset_mails: Vec<Timestamp>,
    /// The `password_changed_at` the expiry reminder was sent for (one per password).
    pub expiry_reminded_for: Option<Timestamp>,
}

impl Default for UserRecord {
    fn default() -> Self {
        Self {
            username: String::new(),
            name: None,
            email: None,
            phone: None,
            admin: false,
            agency: None,
            disabled: false,
            password_hash: None,
            password_changed_at: None,
            must_change: false,
            password_history: Vec::new(),
            failed_attempts: 0,
            locked_at: None,
            license_expires: None,
            session_epoch: 0,
            sessions_ended_because: None,
            created_at: Timestamp::UNIX_EPOCH,
            reset_mails: Vec::new(),
            expiry_reminded_for: None,
        }
    }
}

impl UserRecord {
    /// The lookup key of this record.
    pub fn key(&self) -> String {
        crate::domain::username::canonical_key(&self.username)
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.username)
    }

    /// Ends every session of the account (they check the epoch on each
    /// request); `why` is what their next page says.
    pub fn revoke_sessions(&mut self, why: EndReason) {
        self.session_epoch += 1;
        self.sessions_ended_because = Some(why);
    }
}

pub fn get(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<UserRecord>, StoreError> {
    get_json(table, NAME, key)
}

/// Inserts or replaces the record under its canonical key.
pub fn put(table: &mut Table<&str, &[u8]>, user: &UserRecord) -> Result<(), StoreError> {
    table.insert(user.key().as_str(), encode(user).as_slice())?;
    Ok(())
}

pub fn remove(table: &mut Table<&str, &[u8]>, key: &str) -> Result<bool, StoreError> {
    Ok(table.remove(key)?.is_some())
}

/// Every account, in key order.
pub fn all(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<UserRecord>, StoreError> {
    table
        .iter()?
        .map(|entry| {
            let (_, v) = entry?;
            super::decode(NAME, v.value())
        })
        .collect()
}

pub fn count(table: &impl ReadableTableMetadata) -> Result<u64, StoreError> {
    Ok(table.len()?)
}
