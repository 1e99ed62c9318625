//! The account directory: a summary of every account in memory, for the
//! console's search and filters (CONTRACT section 8).
//!
//! Searching 100,000 accounts by reading and decoding each record costs a
//! few hundred milliseconds; the summaries answer in a few. They are built
//! from one read transaction the first time they are asked for (a CLI
//! command that never asks pays nothing), and from then on every write
//! transaction that changes an account re-reads that account after its
//! commit: the cost of keeping them is O(changed accounts), never a scan.
//!
//! An ordered index rides along for the license reminders (CONTRACT
//! section 9): accounts by the last day of their license. The reminder scan
//! reads only the days that are due, so its cost follows what is due, not
//! how many accounts exist.
//!
//! Order of commits and updates: each update re-reads the changed keys from
//! a snapshot taken while it holds the directory's lock. Whichever update
//! for a key runs last reads a snapshot that contains every commit that
//! finished before it, so the directory ends at the latest state whatever
//! order the updates of two racing commits run in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jiff::Timestamp;
use jiff::civil::Date;
use redb::ReadableDatabase;

use super::users::{UserRecord, Users};
use super::{StoreError, tables::USERS};
use crate::domain::role::Role;

/// What the console's lists show and filter on, for one account. With
/// 100,000 accounts every byte counts a hundred thousand times, so the text
/// fields share one allocation and the search text another.
#[derive(Clone, Debug)]
pub struct Entry {
    /// User name, display name, email, agency and the locking address, each
    /// followed by [`SEP`] (none of them may hold a control character).
    text: Box<str>,
    /// User name, display name, email and agency in lower case, one per line.
    haystack: Box<str>,
    pub role: Role,
    pub disabled: bool,
    pub locked_at: Option<Timestamp>,
    pub failed_attempts: u32,
    pub license_expires: Option<Date>,
    pub last_sign_in: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Whether a password has been set (setup done).
    pub has_password: bool,
    /// The license day and stage (days before) of the last reminder sent.
    pub license_reminded: Option<super::users::LicenseReminded>,
}

/// Ends each field of [`Entry::text`] (ASCII unit separator).
const SEP: char = '\u{1f}';

impl Entry {
    fn of(user: &UserRecord) -> Self {
        let email = user.email.as_ref().map(ToString::to_string);
        let fields = [
            Some(user.username.as_str()),
            user.name.as_deref(),
            email.as_deref(),
            user.agency.as_deref(),
            user.locked_from.as_deref(),
        ];
        let mut text = String::new();
        for field in fields {
            text.push_str(field.unwrap_or(""));
            text.push(SEP);
        }
        let haystack = fields[..4]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
            .to_lowercase();
        Self {
            text: text.into_boxed_str(),
            haystack: haystack.into_boxed_str(),
            role: user.role,
            disabled: user.disabled,
            locked_at: user.locked_at,
            failed_attempts: user.failed_attempts,
            license_expires: user.license_expires,
            last_sign_in: user.last_sign_in,
            created_at: user.created_at,
            has_password: user.password_hash.is_some(),
            license_reminded: user.license_reminded.clone(),
        }
    }

    /// Text field `i` of [`Entry::text`]; `None` when empty.
    fn field(&self, i: usize) -> Option<&str> {
        self.text.split(SEP).nth(i).filter(|f| !f.is_empty())
    }

    pub fn username(&self) -> &str {
        self.field(0).unwrap_or("")
    }

    pub fn name(&self) -> Option<&str> {
        self.field(1)
    }

    pub fn email(&self) -> Option<&str> {
        self.field(2)
    }

    pub fn agency(&self) -> Option<&str> {
        self.field(3)
    }

    /// The address of the attempt that locked the account.
    pub fn locked_from(&self) -> Option<&str> {
        self.field(4)
    }

    /// Whether `needle` (already in lower case) is part of the user name,
    /// display name, email or agency.
    pub fn matches(&self, needle: &str) -> bool {
        self.haystack.contains(needle)
    }
}

/// Every account's [`Entry`], by canonical key, with the policy indexes.
#[derive(Default)]
pub struct Entries {
    by_key: BTreeMap<String, Arc<Entry>>,
    /// `(last licensed day, key)` of every account whose license ends.
    by_license: BTreeSet<(Date, String)>,
}

impl Entries {
    pub fn get(&self, key: &str) -> Option<&Arc<Entry>> {
        self.by_key.get(key)
    }

    /// Every entry, in key order.
    pub fn values(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.by_key.values()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The accounts whose license ends from `from` to `to` (both included).
    pub fn licenses_ending(
        &self,
        from: Date,
        to: Date,
    ) -> impl Iterator<Item = (&str, &Arc<Entry>)> {
        let after = to.tomorrow().unwrap_or(Date::MAX);
        self.by_license
            .range((from, String::new())..(after, String::new()))
            .filter_map(|(_, key)| Some((key.as_str(), self.by_key.get(key)?)))
    }

    fn insert(&mut self, key: String, entry: Entry) {
        self.remove(&key);
        if let Some(day) = entry.license_expires {
            self.by_license.insert((day, key.clone()));
        }
        self.by_key.insert(key, Arc::new(entry));
    }

    fn remove(&mut self, key: &str) {
        let Some(old) = self.by_key.remove(key) else {
            return;
        };
        if let Some(day) = old.license_expires {
            self.by_license.remove(&(day, key.to_owned()));
        }
    }
}

/// The summaries, or `None` until first asked for.
#[derive(Default)]
pub struct Directory {
    entries: RwLock<Option<Entries>>,
}

impl Directory {
    /// Runs `f` on the summaries, building them first if needed.
    pub(super) fn with<T>(
        &self,
        db: &redb::Database,
        f: impl FnOnce(&Entries) -> T,
    ) -> Result<T, StoreError> {
        {
            let guard = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = guard.as_ref() {
                return Ok(f(entries));
            }
        }
        let mut guard = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            let tx = db.begin_read()?;
            let users = Users::new(tx.open_table(USERS)?);
            let mut entries = Entries::default();
            users.for_each(|key, user| {
                entries.insert(key.to_owned(), Entry::of(user));
            })?;
            *guard = Some(entries);
        }
        Ok(f(guard.as_ref().expect("built just above")))
    }

    /// After a commit: re-reads the accounts it changed (see the module docs).
    pub(super) fn refresh(&self, db: &redb::Database, keys: &[String]) -> Result<(), StoreError> {
        let mut guard = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let Some(entries) = guard.as_mut() else {
            return Ok(()); // not built yet: it will be read whole when it is
        };
        let tx = db.begin_read()?;
        let users = Users::new(tx.open_table(USERS)?);
        for key in keys {
            match users.get(key)? {
                Some(user) => entries.insert(key.clone(), Entry::of(&user)),
                None => entries.remove(key),
            };
        }
        Ok(())
    }

    /// Forgets every summary (they are read whole again when next asked for).
    pub(super) fn forget(&self) {
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The keys of the accounts one write transaction changes.
#[derive(Clone, Default)]
pub struct Touched(Arc<Mutex<Vec<String>>>);

impl Touched {
    pub(super) fn add(&self, key: &str) {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.push(key.to_owned());
    }

    /// The changed keys, each once.
    pub(super) fn take(&self) -> Vec<String> {
        let mut keys = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::username::Username;
    use crate::store::Store;
    use crate::store::users::UserRecord;

    fn user(name: &str, agency: Option<&str>) -> UserRecord {
        let mut u = UserRecord::new(Username::parse(name).unwrap(), jiff::Timestamp::UNIX_EPOCH);
        u.agency = agency.map(str::to_owned);
        u.name = Some(format!("{name} Example"));
        u
    }

    fn names(store: &Store, needle: &str) -> Vec<String> {
        store
            .accounts(|all| {
                all.values()
                    .filter(|e| e.matches(needle))
                    .map(|e| e.username().to_owned())
                    .collect()
            })
            .unwrap()
    }

    #[test]
    fn the_directory_follows_every_commit_and_no_aborted_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| tx.users()?.put(&user("Ann", Some("North Food Shelf"))))
            .unwrap();
        // Built on first use, from the file.
        assert_eq!(names(&store, "food"), ["Ann"]);
        store
            .write(|tx| {
                let mut users = tx.users()?;
                users.put(&user("Bob", Some("Food Shelf")))?;
                users.put(&user("Cy", None))
            })
            .unwrap();
        assert_eq!(names(&store, "food"), ["Ann", "Bob"]);
        assert_eq!(names(&store, "cy example"), ["Cy"]);
        // A transaction that fails changes nothing, in the file or here.
        let failed: Result<(), crate::store::StoreError> = store.write(|tx| {
            tx.users()?.remove("ann")?;
            Err(crate::store::StoreError::Corrupt {
                table: "users",
                detail: "test".into(),
            })
        });
        assert!(failed.is_err());
        assert_eq!(names(&store, "food"), ["Ann", "Bob"]);
        store
            .write(|tx| tx.users()?.remove("ann").map(|_| ()))
            .unwrap();
        assert_eq!(names(&store, "food"), ["Bob"]);
        let bob = store
            .accounts(|all| all.get("bob").cloned())
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                bob.username(),
                bob.name(),
                bob.email(),
                bob.agency(),
                bob.locked_from()
            ),
            ("Bob", Some("Bob Example"), None, Some("Food Shelf"), None)
        );
    }
}
