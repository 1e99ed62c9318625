//! Accounts: the user record and its table helpers.

use jiff::Timestamp;
use jiff::civil::Date;
use redb::{ReadableTable, Table};
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

/// The accounts table, in a read transaction (`T` = `ReadOnlyTable`) or a
/// write transaction (`T` = `Table`); see [`super::Read::users`] and
/// [`super::Write::users`].
pub struct Users<T> {
    table: T,
}

impl<T> Users<T> {
    pub(super) fn new(table: T) -> Self {
        Self { table }
    }
}

/// Looking an account up, in a read or a write transaction alike.
pub trait FindUser {
    /// The account under its canonical key ([`UserRecord::key`]).
    fn get(&self, key: &str) -> Result<Option<UserRecord>, StoreError>;
}

impl<T: ReadableTable<&'static str, &'static [u8]>> FindUser for Users<T> {
    fn get(&self, key: &str) -> Result<Option<UserRecord>, StoreError> {
        get_json(&self.table, NAME, key)
    }
}

impl<T: ReadableTable<&'static str, &'static [u8]>> Users<T> {
    /// The account under its canonical key ([`UserRecord::key`]).
    pub fn get(&self, key: &str) -> Result<Option<UserRecord>, StoreError> {
        FindUser::get(self, key)
    }

    /// Every account, in key order.
    pub fn all(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.table
            .iter()?
            .map(|entry| {
                let (_, v) = entry?;
                super::decode(NAME, v.value())
            })
            .collect()
    }

    /// The keys of the accounts for which `pred` holds, one record in memory at a time.
    pub fn keys_where(
        &self,
        mut pred: impl FnMut(&UserRecord) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        for entry in self.table.iter()? {
            let (key, value) = entry?;
            let user: UserRecord = super::decode(NAME, value.value())?;
            if pred(&user) {
                keys.push(key.value().to_owned());
            }
        }
        Ok(keys)
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.table.len()?)
    }
}

impl Users<Table<'_, &'static str, &'static [u8]>> {
    /// Inserts or replaces the record under its canonical key.
    pub fn put(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        self.table
            .insert(user.key().as_str(), encode(user).as_slice())?;
        Ok(())
    }

    /// Removes the account; whether it was there.
    pub fn remove(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.table.remove(key)?.is_some())
    }
}
