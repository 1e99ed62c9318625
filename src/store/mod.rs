//! The one data file: a redb database with every write durable on commit.
//!
//! Callers run a closure inside a read or write transaction ([`Read`],
//! [`Write`]) and reach the data through its typed handles (`tx.users()?`,
//! `tx.sessions()?`, `tx.tokens()?`, `tx.audit()?`, `tx.outbox()?`, `tx.apps()?`,
//! `tx.oauth()?`); only this
//! module opens redb tables (see [`tables`]). A write closure that returns
//! `Err` aborts the transaction, so nothing is ever half-written.

pub mod apps;
pub mod audit;
pub mod backup;
pub mod directory;
pub mod groups;
pub mod keys;
pub mod oauth;
pub mod outbox;
pub mod sessions;
pub mod tables;
pub mod tokens;
pub mod users;

use jiff::Timestamp;
use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table,
    WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::clock::Clock;

use apps::Apps;
use audit::Audit;
use groups::Groups;
use oauth::OAuth;
use outbox::Outbox;
use sessions::Sessions;
use tables::{
    AUDIT, ENDED_SESSIONS, KEY_CSRF, KEY_SCHEMA_VERSION, META, OUTBOX, OUTBOX_DUE, SCHEMA_VERSION,
    SESSIONS, TOKENS, USER_TOKENS, USERS,
};
use tokens::{Tokens, TokensMut};
use users::Users;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "latchkey.redb";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {0} is in use by another latchkey process (is `latchkey serve` running?)"
    )]
    InUse(PathBuf),
    #[error("cannot prepare the data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data file has schema version {found}; this latchkey understands up to {supported}"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("a record in table {table} is damaged: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<redb::DatabaseError> for StoreError {
    fn from(e: redb::DatabaseError) -> Self {
        StoreError::Db(e.into())
    }
}

/// Memory redb may use to cache pages of the file (its default is 1 GiB).
///
/// Page views are answered from the session cache and a sign-in touches a
/// handful of pages, so a small cache costs little; a large one would keep
/// every page any scan ever read (the hourly expiry-reminder pass reads every
/// account), which with 100,000 accounts held about 45 MiB for good. The
/// operating system's page cache still holds the file.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// A handle on the open data file; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    dir: PathBuf,
    /// Counts write transactions of every clone; see [`Store::generation`].
    generation: Arc<std::sync::atomic::AtomicU64>,
    /// Where every transaction's "now" comes from.
    clock: Clock,
    /// Every account's summary, kept current by [`Store::write`].
    directory: Arc<directory::Directory>,
}

impl Store {
    /// Opens (creating if needed) the data directory and its database, exclusively.
    ///
    /// The directory is made 0700 and the file 0600. A second process opening
    /// the same directory gets [`StoreError::InUse`].
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_with_clock(dir, Clock::system())
    }

    /// [`Store::open`], with the clock every transaction reads its time from.
    pub fn open_with_clock(dir: &Path, clock: Clock) -> Result<Store, StoreError> {
        prepare_dir(dir)?;
        let path = dir.join(DB_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        // Create the file with its final mode before redb writes anything to it.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).map_err(io)?;
        let db = match Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse(dir.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let store = Store {
            db: Arc::new(db),
            dir: dir.to_owned(),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            clock,
            directory: Default::default(),
        };
        store.upgrade()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current time by this store's clock (see [`Clock`]).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Read) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = Read {
            tx: self.db.begin_read().map_err(StoreError::from)?,
            now: self.clock.now(),
        };
        f(&tx)
    }

    /// Runs `f` in a write transaction and commits it durably if `f` succeeds.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Write) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = Write {
            tx: self.db.begin_write().map_err(StoreError::from)?,
            now: self.clock.now(),
            touched: Default::default(),
        };
        let value = f(&tx)?; // dropping `tx` on error aborts it
        let touched = tx.touched.take();
        let committed = tx.tx.commit();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        committed.map_err(StoreError::from)?;
        if !touched.is_empty()
            && let Err(e) = self.directory.refresh(&self.db, &touched)
        {
            // The commit stands; the summaries are read whole when next asked for.
            tracing::warn!(error = %e, "cannot refresh the account directory");
            self.directory.forget();
        }
        Ok(value)
    }

    /// Runs `f` on every account's summary (built on first use, then kept
    /// current by every commit; see [`directory`]).
    pub fn accounts<T>(&self, f: impl FnOnce(&directory::Entries) -> T) -> Result<T, StoreError> {
        self.directory.with(&self.db, f)
    }

    /// Runs `f` with this store on the blocking pool: redb reads and commits
    /// (an fsync) must not hold up the async runtime (STYLE habit 6).
    pub async fn blocking<T, E>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(out) => out,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    /// [`Store::read`] on the blocking pool.
    pub async fn read_blocking<T, E>(
        &self,
        f: impl FnOnce(&Read) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(move |s| s.read(f)).await
    }

    /// [`Store::write`] on the blocking pool.
    pub async fn write_blocking<T, E>(
        &self,
        f: impl FnOnce(&Write) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(move |s| s.write(f)).await
    }

    /// Reads the file's own settings table: that the data file answers.
    pub fn check(&self) -> Result<(), StoreError> {
        self.read(|tx| {
            tx.tx.open_table(META)?;
            Ok(())
        })
    }

    /// A number that changes after every commit of this process, so a copy of
    /// records read while it had one value is current as long as it keeps
    /// that value. Take it before the read transaction that fills the copy.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The key that signs CSRF tokens; created with the file.
    pub fn csrf_key(&self) -> Result<[u8; 32], StoreError> {
        self.read(|tx| {
            let meta = tx.tx.open_table(META)?;
            let value = meta.get(KEY_CSRF)?.ok_or(StoreError::Corrupt {
                table: "meta",
                detail: "no csrf_key".into(),
            })?;
            value.value().try_into().map_err(|_| StoreError::Corrupt {
                table: "meta",
                detail: "csrf_key has the wrong length".into(),
            })
        })
    }

    fn upgrade(&self) -> Result<(), StoreError> {
        // Most starts find everything in place: check in a read transaction and
        // write (an fsync) only when something is missing or older.
        let (found, has_key) = self.read(|tx| match tx.tx.open_table(META) {
            Ok(meta) => {
                let found = match meta.get(KEY_SCHEMA_VERSION)? {
                    Some(v) => decode::<u32>("meta", v.value())?,
                    None => 0,
                };
                Ok((found, meta.get(KEY_CSRF)?.is_some()))
            }
            Err(redb::TableError::TableDoesNotExist(_)) => Ok((0, false)),
            Err(e) => Err(StoreError::from(e)),
        })?;
        if found == SCHEMA_VERSION && has_key {
            return Ok(());
        }
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        self.write(|tx| {
            if found != SCHEMA_VERSION {
                if found > 0 {
                    self.backup_before_migration(found)?;
                }
                tables::migrate(&tx.tx, found)?;
            }
            let mut meta = tx.tx.open_table(META)?;
            meta.insert(KEY_SCHEMA_VERSION, encode(&SCHEMA_VERSION).as_slice())?;
            if meta.get(KEY_CSRF)?.is_none() {
                let key: [u8; 32] = crate::domain::token::random_bytes();
                meta.insert(KEY_CSRF, key.as_slice())?;
            }
            Ok(())
        })
    }
}

/// A read transaction: a consistent snapshot of every table, reached through
/// the typed handles below. Nothing outside `store` opens a table.
pub struct Read {
    tx: ReadTransaction,
    now: Timestamp,
}

/// A write transaction: everything done through its handles commits together
/// when the closure given to [`Store::write`] returns `Ok`, or not at all.
pub struct Write {
    tx: WriteTransaction,
    now: Timestamp,
    /// Accounts this transaction changes (see [`directory`]).
    touched: directory::Touched,
}

type ReadTable<K> = ReadOnlyTable<K, &'static [u8]>;
type WriteTable<'t, K> = Table<'t, K, &'static [u8]>;

impl Read {
    /// The time this snapshot was taken, by the store's clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn users(&self) -> Result<Users<ReadTable<&'static str>>, StoreError> {
        Ok(Users::new(self.tx.open_table(USERS)?))
    }

    pub fn groups(&self) -> Result<Groups<ReadTable<&'static str>>, StoreError> {
        Ok(Groups::new(self.tx.open_table(tables::GROUPS)?))
    }

    pub fn apps(&self) -> Result<Apps<ReadTable<&'static str>>, StoreError> {
        Ok(Apps::new(self.tx.open_table(tables::APPS)?))
    }

    pub fn oauth(&self) -> Result<OAuth<ReadTable<&'static [u8]>>, StoreError> {
        Ok(OAuth::new(
            self.tx.open_table(tables::OAUTH_CODES)?,
            self.tx.open_table(tables::OAUTH_GRANTS)?,
            self.tx.open_table(tables::OAUTH_TOKENS)?,
        ))
    }

    pub fn sessions(&self) -> Result<Sessions<ReadTable<&'static [u8]>>, StoreError> {
        Ok(Sessions::new(
            self.tx.open_table(SESSIONS)?,
            self.tx.open_table(ENDED_SESSIONS)?,
        ))
    }

    pub fn tokens(&self) -> Result<Tokens<ReadTable<&'static [u8]>, ()>, StoreError> {
        Ok(Tokens::new(self.tx.open_table(TOKENS)?, ()))
    }

    pub fn audit(&self) -> Result<Audit<ReadTable<u64>>, StoreError> {
        Ok(Audit::new(self.tx.open_table(AUDIT)?, self.now))
    }

    pub fn outbox(&self) -> Result<Outbox<ReadTable<u64>, ReadTable<&'static [u8]>>, StoreError> {
        Ok(Outbox::new(
            self.tx.open_table(OUTBOX)?,
            self.tx.open_table(OUTBOX_DUE)?,
        ))
    }
}

impl Write {
    /// The time this transaction began, by the store's clock: every record
    /// it writes carries the same "now".
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn users(&self) -> Result<Users<WriteTable<'_, &'static str>>, StoreError> {
        Ok(Users::tracked(
            self.tx.open_table(USERS)?,
            self.touched.clone(),
        ))
    }

    pub fn groups(&self) -> Result<Groups<WriteTable<'_, &'static str>>, StoreError> {
        Ok(Groups::new(self.tx.open_table(tables::GROUPS)?))
    }

    pub fn apps(&self) -> Result<Apps<WriteTable<'_, &'static str>>, StoreError> {
        Ok(Apps::new(self.tx.open_table(tables::APPS)?))
    }

    pub fn oauth(&self) -> Result<OAuth<WriteTable<'_, &'static [u8]>>, StoreError> {
        Ok(OAuth::new(
            self.tx.open_table(tables::OAUTH_CODES)?,
            self.tx.open_table(tables::OAUTH_GRANTS)?,
            self.tx.open_table(tables::OAUTH_TOKENS)?,
        ))
    }

    pub fn sessions(&self) -> Result<Sessions<WriteTable<'_, &'static [u8]>>, StoreError> {
        Ok(Sessions::new(
            self.tx.open_table(SESSIONS)?,
            self.tx.open_table(ENDED_SESSIONS)?,
        ))
    }

    pub fn tokens(&self) -> Result<TokensMut<'_>, StoreError> {
        Ok(Tokens::new(
            self.tx.open_table(TOKENS)?,
            self.tx.open_multimap_table(USER_TOKENS)?,
        ))
    }

    pub fn audit(&self) -> Result<Audit<WriteTable<'_, u64>>, StoreError> {
        Ok(Audit::new(self.tx.open_table(AUDIT)?, self.now))
    }

    pub fn outbox(
        &self,
    ) -> Result<Outbox<WriteTable<'_, u64>, WriteTable<'_, &'static [u8]>>, StoreError> {
        Ok(Outbox::new(
            self.tx.open_table(OUTBOX)?,
            self.tx.open_table(OUTBOX_DUE)?,
        ))
    }

    /// Appends one audit event in this transaction (a shorthand for the
    /// common case of one event beside the change it records).
    pub fn record(
        &self,
        event: audit::Event,
        user: Option<&str>,
        origin: &audit::Origin,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        self.audit()?.append(event, user, origin, detail)
    }
}

impl Store {
    /// Before a migration changes the file, keep a copy of it as a backup.
    /// Nothing else writes while the store is being opened, so the raw file is consistent.
    fn backup_before_migration(&self, from: u32) -> Result<(), StoreError> {
        let path = self.dir.join(DB_FILE);
        let stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ").to_string();
        let dest = self
            .dir
            .join(format!("pre-migration-v{from}-{stamp}.lkbackup"));
        backup::write_container(&path, &dest).map_err(|e| StoreError::Io {
            path: dest.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        tracing::info!(backup = %dest.display(), from, to = SCHEMA_VERSION, "data file backed up before its schema migration");
        Ok(())
    }
}

fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(io)
}

/// Encodes a record as JSON. Records are plain data, so this cannot fail.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialise to JSON")
}

pub(crate) fn decode<T: DeserializeOwned>(
    table: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

/// Reads and decodes one JSON record from any readable table.
pub(crate) fn get_json<'k, K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    name: &'static str,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key)? {
        Some(v) => decode(name, v.value()).map(Some),
        None => Ok(None),
    }
}
