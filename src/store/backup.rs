//! Online backups (SECURITY D3): a consistent snapshot of every table, taken in
//! one read transaction while the server keeps serving, written atomically
//! (temporary file, fsync, rename) with mode 0600.
//!
//! A backup file is a small container: a magic line, the SHA-256 of the
//! payload, and the payload itself, a complete redb database. `verify` and
//! `restore` recompute the digest first, so any change to the file is caught
//! before redb ever reads it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use redb::{
    Database, Key, MultimapTableDefinition, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTableMetadata, TableDefinition, Value, WriteTransaction,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::tables::{self, AUDIT, AnyTable, META, OUTBOX, SCHEMA_VERSION, SESSIONS, TOKENS, USERS};
use super::{Store, StoreError, decode};

/// First bytes of every backup file.
const MAGIC: &[u8; 16] = b"LATCHKEY-BACKUP1";
const HEADER_LEN: usize = MAGIC.len() + 32;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a latchkey backup (wrong or missing header)")]
    NotABackup(PathBuf),
    #[error("{0} is damaged or was changed: its digest does not match its content")]
    DigestMismatch(PathBuf),
    #[error("{path}: the database inside is unusable: {detail}")]
    Unusable { path: PathBuf, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a backup holds, as `backup verify` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub schema_version: u32,
    pub users: u64,
    pub sessions: u64,
    pub tokens: u64,
    pub audit_events: u64,
    pub queued_mail: u64,
    pub bytes: u64,
}

impl Store {
    /// Writes a consistent copy of every table to `dest` (atomically, mode 0600).
    pub fn backup_to(&self, dest: &Path) -> Result<Counts, BackupError> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let scratch = tempfile::Builder::new()
            .prefix(".latchkey-backup-")
            .tempdir_in(dir)
            .map_err(io(dir))?;
        let copy_path = scratch.path().join("snapshot.redb");
        {
            let copy = Database::builder()
                .create(&copy_path)
                .map_err(StoreError::from)?;
            let dst = copy.begin_write().map_err(StoreError::from)?;
            self.read(|src| copy_all(&src.tx, &dst))?;
            dst.commit().map_err(StoreError::from)?;
        }
        let bytes = write_container(&copy_path, dest)?;
        count(&copy_path, bytes, dest)
    }
}

/// Prefix and suffix of scheduled backup files; their names sort by time.
const SCHEDULED_PREFIX: &str = "latchkey-";
const SCHEDULED_SUFFIX: &str = ".lkbackup";

/// One scheduled backup into `dir` (created 0700 if missing), audited, then
/// all but the newest `keep` scheduled backups there are deleted.
pub fn scheduled(store: &Store, dir: &Path, keep: usize) -> Result<PathBuf, BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let stamp = store.now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let path = dir.join(format!("{SCHEDULED_PREFIX}{stamp}{SCHEDULED_SUFFIX}"));
    let counts = store.backup_to(&path)?;
    store.write(|tx| {
        tx.record(
            super::audit::Event::BackupCreated,
            None,
            &super::audit::Origin::system(),
            Some(format!(
                "scheduled: {} ({} accounts)",
                path.display(),
                counts.users
            )),
        )
    })?;
    let mut existing: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(SCHEDULED_SUFFIX))
        })
        .collect();
    existing.sort();
    let excess = existing.len().saturating_sub(keep);
    for old in &existing[..excess] {
        std::fs::remove_file(old).map_err(io(old))?;
    }
    Ok(path)
}

/// Every table of the current schema, copied entry by entry.
fn copy_all(src: &ReadTransaction, dst: &WriteTransaction) -> Result<(), StoreError> {
    for info in tables::ALL {
        match info.table {
            AnyTable::Str(def) => copy(src, dst, def)?,
            AnyTable::Hash(def) => copy(src, dst, def)?,
            AnyTable::Seq(def) => copy(src, dst, def)?,
            AnyTable::StrMulti(def) => copy_multimap(src, dst, def)?,
        }
    }
    Ok(())
}

fn copy<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<(), StoreError> {
    let from = src.open_table(def)?;
    let mut to = dst.open_table(def)?;
    for entry in redb::ReadableTable::iter(&from)? {
        let (k, v) = entry?;
        to.insert(k.value(), v.value())?;
    }
    Ok(())
}

fn copy_multimap<K: Key + 'static, V: Key + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: MultimapTableDefinition<K, V>,
) -> Result<(), StoreError> {
    let from = src.open_multimap_table(def)?;
    let mut to = dst.open_multimap_table(def)?;
    for entry in from.iter()? {
        let (k, values) = entry?;
        for v in values {
            to.insert(k.value(), v?.value())?;
        }
    }
    Ok(())
}

/// Writes `MAGIC ‖ sha256(payload) ‖ payload` to `dest` through a temporary
/// file, streaming the database file at `payload`; returns the payload's size.
pub(crate) fn write_container(payload: &Path, dest: &Path) -> Result<u64, BackupError> {
    let digest = {
        let mut hasher = Sha256::new();
        let mut f = File::open(payload).map_err(io(payload))?;
        std::io::copy(&mut f, &mut hasher).map_err(io(payload))?;
        hasher.finalize()
    };
    let tmp = dest.with_file_name(format!(
        ".{}.tmp",
        dest.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("backup")
    ));
    let write = || -> std::io::Result<u64> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(MAGIC)?;
        f.write_all(&digest)?;
        let copied = std::io::copy(&mut File::open(payload)?, &mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)?;
        if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(copied)
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        BackupError::Io {
            path: dest.to_owned(),
            source,
        }
    })
}

/// Checks the container at `path` while copying its payload to `out` (mode
/// 0600); returns the payload size. `out` is removed if the check fails.
fn extract(path: &Path, out: &Path) -> Result<u64, BackupError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut header = [0u8; HEADER_LEN];
    if f.read_exact(&mut header).is_err() || &header[..MAGIC.len()] != MAGIC {
        return Err(BackupError::NotABackup(path.to_owned()));
    }
    let mut dest = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(io(out))?;
    let mut tee = HashingWriter {
        inner: &mut dest,
        hasher: Sha256::new(),
    };
    let copied = std::io::copy(&mut f, &mut tee).map_err(io(path))?;
    let digest = tee.hasher.finalize();
    dest.sync_all().map_err(io(out))?;
    if digest.as_slice() != &header[MAGIC.len()..] {
        drop(dest);
        let _ = std::fs::remove_file(out);
        return Err(BackupError::DigestMismatch(path.to_owned()));
    }
    Ok(copied)
}

/// Writes through to `inner` while hashing what passes.
struct HashingWriter<'a, W: Write> {
    inner: &'a mut W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a backup read-only: digest, redb integrity, schema version, counts.
/// The backup file itself is never written.
pub fn verify(path: &Path) -> Result<Counts, BackupError> {
    let scratch = tempfile::tempdir().map_err(io(path))?;
    let copy = scratch.path().join("verify.redb");
    let bytes = extract(path, &copy)?;
    count(&copy, bytes, path)
}

/// Integrity-checks the database at `db_path` and counts its records.
fn count(db_path: &Path, bytes: u64, shown_as: &Path) -> Result<Counts, BackupError> {
    let unusable = |detail: String| BackupError::Unusable {
        path: shown_as.to_owned(),
        detail,
    };
    let mut db = Database::builder()
        .open(db_path)
        .map_err(|e| unusable(e.to_string()))?;
    if !db.check_integrity().map_err(|e| unusable(e.to_string()))? {
        return Err(unusable("redb's integrity check failed".into()));
    }
    let tx = db.begin_read().map_err(|e| unusable(e.to_string()))?;
    let schema_version = match tx
        .open_table(META)
        .map_err(|e| unusable(e.to_string()))?
        .get(tables::KEY_SCHEMA_VERSION)
        .map_err(|e| unusable(e.to_string()))?
    {
        Some(v) => decode::<u32>("meta", v.value())?,
        None => return Err(unusable("no schema version".into())),
    };
    if schema_version == 0 || schema_version > SCHEMA_VERSION {
        return Err(unusable(format!(
            "schema version {schema_version}; this latchkey understands 1 to {SCHEMA_VERSION}"
        )));
    }
    let queued_mail = if schema_version >= tables::OUTBOX_SINCE {
        rows(&tx, OUTBOX).map_err(unusable)?
    } else {
        0
    };
    Ok(Counts {
        schema_version,
        users: rows(&tx, USERS).map_err(unusable)?,
        sessions: rows(&tx, SESSIONS).map_err(unusable)?,
        tokens: rows(&tx, TOKENS).map_err(unusable)?,
        audit_events: rows(&tx, AUDIT).map_err(unusable)?,
        queued_mail,
        bytes: bytes + HEADER_LEN as u64,
    })
}

fn rows<K: Key + 'static, V: Value + 'static>(
    tx: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, String> {
    let table = tx.open_table(def).map_err(|e| e.to_string())?;
    table.len().map_err(|e| e.to_string())
}

/// Replaces the database in `data_dir` with the backup at `path`.
///
/// The backup is verified first; the current database is kept beside the new
/// one as `latchkey.redb.before-restore-<time>`; sessions, links and queued
/// mail from the backup are voided (they may have been used since). The
/// caller must hold no [`Store`] on `data_dir`. The restore is audited as
/// done by `origin`.
pub fn restore(
    path: &Path,
    data_dir: &Path,
    origin: &super::audit::Origin,
) -> Result<(Counts, Option<PathBuf>), BackupError> {
    let live = data_dir.join(super::DB_FILE);
    let incoming = data_dir.join(format!("{}.restoring", super::DB_FILE));
    let bytes = extract(path, &incoming)?;
    let checked = count(&incoming, bytes, path).and_then(|counts| {
        void_live_secrets(&incoming, counts.schema_version)?;
        Ok(counts)
    });
    let counts = match checked {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
    };
    let kept = if live.exists() {
        // A restore runs with the server stopped: the system clock is the clock.
        let stamp = crate::domain::clock::Clock::system()
            .now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let kept = data_dir.join(format!("{}.before-restore-{stamp}", super::DB_FILE));
        std::fs::rename(&live, &kept).map_err(io(&live))?;
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, &live).map_err(io(&live))?;
    File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io(data_dir))?;
    // Opening it also brings an older backup up to this build's schema.
    let store = Store::open(data_dir)?;
    let detail = format!(
        "restored from {} ({} accounts); sessions, links and queued mail voided",
        path.display(),
        counts.users
    );
    store.write(|tx| {
        tx.record(
            super::audit::Event::BackupRestored,
            None,
            origin,
            Some(detail),
        )
    })?;
    Ok((counts, kept))
}

fn empty<K: Key + 'static, V: Value + 'static>(
    tx: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<(), StoreError> {
    tx.delete_table(def)?;
    tx.open_table(def)?;
    Ok(())
}

/// Clears sessions, tokens and queued mail in a database file about to go live.
/// Tables a migration to a later version creates are left to that migration.
fn void_live_secrets(db_path: &Path, schema_version: u32) -> Result<(), BackupError> {
    let db = Database::builder()
        .open(db_path)
        .map_err(StoreError::from)?;
    let tx = db.begin_write().map_err(StoreError::from)?;
    let recreate = |tx: &WriteTransaction| -> Result<(), StoreError> {
        let voided = tables::ALL
            .iter()
            .filter(|t| t.voided_on_restore && t.since <= schema_version);
        for info in voided {
            match info.table {
                AnyTable::Str(def) => empty(tx, def)?,
                AnyTable::Hash(def) => empty(tx, def)?,
                AnyTable::Seq(def) => empty(tx, def)?,
                AnyTable::StrMulti(def) => {
                    tx.delete_multimap_table(def)?;
                    tx.open_multimap_table(def)?;
                }
            }
        }
        Ok(())
    };
    recreate(&tx)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(())
}
