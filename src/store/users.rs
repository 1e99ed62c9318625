//! Accounts: the user record and its table helpers.

use jiff::Timestamp;
use jiff::civil::Date;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::sessions::EndReason;
use super::{StoreError, encode, get_json};
use crate::domain::email::Email;
use crate::domain::password::PasswordHash;
use crate::domain::phone::Phone;
use crate::domain::role::Role;
use crate::domain::username::Username;

const NAME: &str = "users";

/// One account. Stored as JSON under its canonical user name. Fields added
/// after the first schema take their default when an older record is read.
#[derive(Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user name as typed at creation (NFKC, case kept).
    pub username: Username,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub phone: Option<Phone>,
    /// What the account may do besides signing in (schema 5; before it, an
    /// `admin` flag the migration turned into this).
    #[serde(default)]
    pub role: Role,
    /// Its groups' names as each group was made, in key order; membership
    /// is matched by the canonical key ([`crate::domain::group::GroupName::key`]).
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    /// `None` until the user completes setup.
    #[serde(default)]
    pub password_hash: Option<PasswordHash>,
    #[serde(default)]
    pub password_changed_at: Option<Timestamp>,
    /// Set by `user force-change`: the next sign-in must choose a new password.
    #[serde(default)]
    pub must_change: bool,
    /// Previous password hashes, newest first.
    #[serde(default)]
    pub password_history: Vec<PasswordHash>,
    #[serde(default)]
    pub failed_attempts: u32,
    #[serde(default)]
    pub locked_at: Option<Timestamp>,
    /// Last day the license is valid (server local time); `None` is "never expires".
    #[serde(default)]
    pub license_expires: Option<Date>,
    /// Bumped to revoke every session of the account at once.
    #[serde(default)]
    pub session_epoch: u64,
    /// Why the epoch was last bumped, told to the sessions it ended.
    #[serde(default)]
    pub sessions_ended_because: Option<EndReason>,
    pub created_at: Timestamp,
    /// When reset mails were queued in the last hour (`reset.max_per_hour`).
    #[serde(default)]
    pub reset_mails: Vec<Timestamp>,
    /// The `password_changed_at` the expiry reminder was sent for (one per password).
    #[serde(default)]
    pub expiry_reminded_for: Option<Timestamp>,
    /// The OpenID Connect `sub`: random, given the first time an app asks,
    /// never changed and never given to another account (a deleted and
    /// re-created name gets a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When the account last signed in (the console's "last sign-in").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in: Option<Timestamp>,
    /// The address of the attempt that locked the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_from: Option<String>,
    /// The latest sign-in attempts, newest first, at most [`SIGN_IN_NOTES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sign_ins: Vec<SignInNote>,
    /// The last license reminder sent, so each is sent once per license period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_reminded: Option<LicenseReminded>,
}

/// Which license reminder an account last got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseReminded {
    /// The license's last day it was about; a renewal changes the day, and
    /// so starts the reminders again.
    pub license_expires: Date,
    /// Its stage: 30 or 7 (days before that day).
    pub days_before: u32,
}

/// How many sign-in attempts an account remembers for the console.
pub const SIGN_IN_NOTES: usize = 10;

/// One sign-in attempt as the helpdesk sees it on the account's page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignInNote {
    pub at: Timestamp,
    pub ip: Option<String>,
    /// Whether the attempt signed in.
    pub ok: bool,
    /// What happened, as the audit log says it ("wrong password", …).
    pub detail: String,
}

impl UserRecord {
    /// A new account with nothing set but its name and creation time.
    pub fn new(username: Username, created_at: Timestamp) -> Self {
        Self {
            username,
            name: None,
            email: None,
            phone: None,
            role: Role::User,
            groups: Vec::new(),
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
            created_at,
            reset_mails: Vec::new(),
            expiry_reminded_for: None,
            subject: None,
            last_sign_in: None,
            locked_from: None,
            sign_ins: Vec::new(),
            license_reminded: None,
        }
    }

    /// Remembers one sign-in attempt (the oldest is forgotten past [`SIGN_IN_NOTES`]).
    pub fn note_sign_in(&mut self, at: Timestamp, ip: Option<&str>, ok: bool, detail: &str) {
        if ok {
            self.last_sign_in = Some(at);
        }
        self.sign_ins.insert(
            0,
            SignInNote {
                at,
                ip: ip.map(str::to_owned),
                ok,
                detail: detail.to_owned(),
            },
        );
        self.sign_ins.truncate(SIGN_IN_NOTES);
    }

    /// The lookup key of this record.
    pub fn key(&self) -> String {
        self.username.key().to_owned()
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.username.as_str())
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
    /// In a write transaction: the keys it changes, for [`super::directory`].
    touched: Option<super::directory::Touched>,
}

impl<T> Users<T> {
    pub(super) fn new(table: T) -> Self {
        Self {
            table,
            touched: None,
        }
    }

    pub(super) fn tracked(table: T, touched: super::directory::Touched) -> Self {
        Self {
            table,
            touched: Some(touched),
        }
    }

    fn touch(&self, key: &str) {
        if let Some(touched) = &self.touched {
            touched.add(key);
        }
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
        self.for_each(|key, user| {
            if pred(user) {
                keys.push(key.to_owned());
            }
        })?;
        Ok(keys)
    }

    /// Calls `f` with every account and its key, one record in memory at a time.
    pub fn for_each(&self, mut f: impl FnMut(&str, &UserRecord)) -> Result<(), StoreError> {
        for entry in self.table.iter()? {
            let (key, value) = entry?;
            f(key.value(), &super::decode(NAME, value.value())?);
        }
        Ok(())
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.table.len()?)
    }
}

impl Users<Table<'_, &'static str, &'static [u8]>> {
    /// Inserts or replaces the record under its canonical key.
    pub fn put(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let key = user.key();
        self.table.insert(key.as_str(), encode(user).as_slice())?;
        self.touch(&key);
        Ok(())
    }

    /// Removes the account; whether it was there.
    pub fn remove(&mut self, key: &str) -> Result<bool, StoreError> {
        self.touch(key);
        Ok(self.table.remove(key)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::decode;

    /// A record as the release before typed fields wrote it (every field a
    /// plain JSON value) reads back typed, and is written again in the same shape.
    #[test]
    fn a_record_written_before_the_typed_fields_reads_back_alike() {
        let stored = r#"{"username":"Alice","name":"Alice Example","email":"alice@example.org",
            "phone":"+1 612 555 0100","admin":false,"agency":null,"disabled":false,
            "password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            "password_changed_at":"2026-01-02T03:04:05Z","must_change":false,
            "password_history":["$argon2id$v=19$m=19456,t=2,p=1$b2xk$b2xk"],
            "failed_attempts":1,"locked_at":null,"license_expires":"2027-01-31",
            "session_epoch":3,"sessions_ended_because":null,
            "created_at":"2026-01-01T00:00:00Z","reset_mails":[],"expiry_reminded_for":null}"#;
        let user: UserRecord = decode(NAME, stored.as_bytes()).unwrap();
        assert_eq!(user.username.as_str(), "Alice");
        assert_eq!(user.key(), "alice");
        assert_eq!(
            user.email.as_ref().map(Email::as_str),
            Some("alice@example.org")
        );
        assert_eq!(
            user.phone.as_ref().map(Phone::as_str),
            Some("+1 612 555 0100")
        );
        assert_eq!(user.password_history.len(), 1);
        let again: serde_json::Value = serde_json::from_slice(&encode(&user)).unwrap();
        let mut before: serde_json::Value = serde_json::from_str(stored).unwrap();
        // Schema 5 turned `admin` into `role` (the migration rewrites the record).
        let fields = before.as_object_mut().unwrap();
        fields.remove("admin");
        fields.insert("role".into(), "user".into());
        fields.insert("groups".into(), serde_json::json!([]));
        assert_eq!(again, before);
    }

    /// Schema 5: an administrator of a schema 4 file is an `admin` after the
    /// upgrade, everyone else a `user`, and nothing else in the record moves.
    #[test]
    fn the_upgrade_turns_the_admin_flag_into_a_role() {
        use crate::store::tables::{self, USERS};
        use redb::ReadableTable;
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tables::migrate_to(&tx, 4).unwrap();
        {
            let mut users = tx.open_table(USERS).unwrap();
            for (key, admin) in [("ann", true), ("bob", false)] {
                let json = format!(
                    r#"{{"username":"{key}","admin":{admin},"agency":"North","created_at":"2026-01-01T00:00:00Z"}}"#
                );
                users.insert(key, json.as_bytes()).unwrap();
            }
        }
        tables::migrate(&tx, 4).unwrap();
        let users = Users::new(tx.open_table(USERS).unwrap());
        let ann = users.get("ann").unwrap().unwrap();
        let bob = users.get("bob").unwrap().unwrap();
        assert_eq!((ann.role, bob.role), (Role::Admin, Role::User));
        assert_eq!(ann.agency.as_deref(), Some("North"));
        let raw = users.table.get("ann").unwrap().unwrap().value().to_vec();
        assert!(!String::from_utf8(raw).unwrap().contains("\"admin\":"));
    }

    /// Fields added later default; a value that no longer parses is a
    /// corrupt record reported as such, never an unchecked address.
    #[test]
    fn missing_fields_default_and_bad_values_are_refused() {
        let minimal = r#"{"username":"bob","created_at":"2026-01-01T00:00:00Z"}"#;
        let user: UserRecord = decode(NAME, minimal.as_bytes()).unwrap();
        assert!(user.email.is_none() && user.password_hash.is_none());
        let bad =
            r#"{"username":"bob","email":"bob@x\r\nBcc: y","created_at":"2026-01-01T00:00:00Z"}"#;
        assert!(matches!(
            decode::<UserRecord>(NAME, bad.as_bytes()),
            Err(StoreError::Corrupt { table: "users", .. })
        ));
    }
}
