//! Every redb table of the data file, its schema version, and the migrations.
//!
//! Values are JSON documents (serde) so a record can gain fields with
//! `#[serde(default)]` without a migration; a migration is needed only when a
//! table's keys or meaning change.

use redb::{MultimapTableDefinition, TableDefinition, WriteTransaction};

use super::StoreError;

/// The schema this build writes. Bump it and add a step to [`MIGRATIONS`].
pub const SCHEMA_VERSION: u32 = 6;

/// Small settings of the file itself: `schema_version`, `csrf_key`.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Accounts, keyed by the canonical user name (NFKC, lower-case).
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Sessions, keyed by the SHA-256 of the session id (the id itself is never stored).
pub const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// Why recently ended sessions ended, keyed like [`SESSIONS`] (shown once on the sign-in page).
pub const ENDED_SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ended_sessions");
/// Setup, reset and email-confirmation tokens, keyed by the SHA-256 of the token.
pub const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
/// Which tokens belong to which account (canonical user name → token hash).
pub const USER_TOKENS: MultimapTableDefinition<&str, &[u8]> =
    MultimapTableDefinition::new("user_tokens");
/// The audit log, keyed by a sequence number (newest last).
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// Mail waiting for delivery, keyed by a sequence number; bodies are sealed.
pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// The outbox by next attempt: key `next_attempt_at` (microseconds, big-endian)
/// then the message id (big-endian), value empty; the first key is due soonest.
pub const OUTBOX_DUE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox_due");
/// Groups, keyed by the canonical group name; accounts list the names of theirs.
pub const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
/// Apps, keyed by the canonical app name (the OpenID Connect `client_id`).
pub const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
/// Authorization codes, keyed by the SHA-256 of the code.
pub const OAUTH_CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("oauth_codes");
/// Grants (refresh-token families), keyed by their random 16-byte id.
pub const OAUTH_GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("oauth_grants");
/// Access and refresh tokens, keyed by the SHA-256 of the token.
pub const OAUTH_TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("oauth_tokens");

/// A table of any key type, for code that treats every table alike.
#[derive(Clone, Copy)]
pub enum AnyTable {
    Str(TableDefinition<'static, &'static str, &'static [u8]>),
    /// Keyed by bytes: a hash, or a composite key such as [`OUTBOX_DUE`]'s.
    Hash(TableDefinition<'static, &'static [u8], &'static [u8]>),
    Seq(TableDefinition<'static, u64, &'static [u8]>),
    StrMulti(MultimapTableDefinition<'static, &'static str, &'static [u8]>),
}

/// What backup and restore need to know of a table.
pub struct TableInfo {
    pub table: AnyTable,
    /// The schema version whose migration created it.
    pub since: u32,
    /// Whether it holds live secrets or their traces (sessions, links,
    /// queued mail), which a restore voids: they may have been used since the
    /// backup was taken.
    pub voided_on_restore: bool,
}

/// The schema version that added [`OUTBOX`] (an older backup has no queued mail).
pub const OUTBOX_SINCE: u32 = 2;

/// Every table of [`SCHEMA_VERSION`], once.
pub const ALL: &[TableInfo] = &[
    TableInfo {
        table: AnyTable::Str(META),
        since: 1,
        voided_on_restore: false,
    },
    TableInfo {
        table: AnyTable::Str(USERS),
        since: 1,
        voided_on_restore: false,
    },
    TableInfo {
        table: AnyTable::Hash(SESSIONS),
        since: 1,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Hash(TOKENS),
        since: 1,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Seq(AUDIT),
        since: 1,
        voided_on_restore: false,
    },
    TableInfo {
        table: AnyTable::Seq(OUTBOX),
        since: OUTBOX_SINCE,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::StrMulti(USER_TOKENS),
        since: 2,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Hash(ENDED_SESSIONS),
        since: 3,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Hash(OUTBOX_DUE),
        since: 4,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Str(GROUPS),
        since: 5,
        voided_on_restore: false,
    },
    TableInfo {
        table: AnyTable::Str(APPS),
        since: 6,
        voided_on_restore: false,
    },
    TableInfo {
        table: AnyTable::Hash(OAUTH_CODES),
        since: 6,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Hash(OAUTH_GRANTS),
        since: 6,
        voided_on_restore: true,
    },
    TableInfo {
        table: AnyTable::Hash(OAUTH_TOKENS),
        since: 6,
        voided_on_restore: true,
    },
];

pub const KEY_SCHEMA_VERSION: &str = "schema_version";
pub const KEY_CSRF: &str = "csrf_key";

/// One migration step: brings the file from version `index` to `index + 1`.
type Migration = fn(&WriteTransaction) -> Result<(), StoreError>;

/// Forward-only migrations; `MIGRATIONS[n]` upgrades version n to n + 1.
const MIGRATIONS: &[Migration] = &[
    create_initial_tables,
    create_outbox,
    create_ended_sessions,
    index_outbox_by_due_time,
    add_groups_and_roles,
    add_apps_and_oauth,
];

fn create_initial_tables(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(META)?;
    tx.open_table(USERS)?;
    tx.open_table(SESSIONS)?;
    tx.open_table(TOKENS)?;
    tx.open_table(AUDIT)?;
    Ok(())
}

/// Version 2: the mail outbox, and an index of tokens by account.
fn create_outbox(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(OUTBOX)?;
    tx.open_multimap_table(USER_TOKENS)?;
    // Tokens issued by version 1 are not indexed; void them rather than orphan them.
    tx.delete_table(TOKENS)?;
    tx.open_table(TOKENS)?;
    Ok(())
}

/// Version 3: why recently ended sessions ended.
fn create_ended_sessions(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(ENDED_SESSIONS)?;
    Ok(())
}

/// Version 4: the outbox indexed by next attempt, built from what is queued.
fn index_outbox_by_due_time(tx: &WriteTransaction) -> Result<(), StoreError> {
    use redb::ReadableTable;
    let outbox = tx.open_table(OUTBOX)?;
    let mut due = tx.open_table(OUTBOX_DUE)?;
    for entry in outbox.iter()? {
        let (id, bytes) = entry?;
        let record: super::outbox::OutboxRecord = super::decode("outbox", bytes.value())?;
        due.insert(
            super::outbox::due_key(record.next_attempt_at, id.value()).as_slice(),
            [].as_slice(),
        )?;
    }
    Ok(())
}

/// Version 5: groups, and a role per account in place of the admin flag
/// (`"admin": true` becomes `"role": "admin"`; everyone else is a `user`).
fn add_groups_and_roles(tx: &WriteTransaction) -> Result<(), StoreError> {
    use redb::ReadableTable;
    tx.open_table(GROUPS)?;
    let mut users = tx.open_table(USERS)?;
    // Keys first, then one record at a time: a large file is never all in memory.
    let mut keys = Vec::new();
    for entry in users.iter()? {
        keys.push(entry?.0.value().to_owned());
    }
    for key in keys {
        let Some(bytes) = users.get(key.as_str())?.map(|v| v.value().to_vec()) else {
            continue;
        };
        let mut record: serde_json::Value = super::decode("users", &bytes)?;
        let Some(fields) = record.as_object_mut() else {
            return Err(StoreError::Corrupt {
                table: "users",
                detail: format!("the record of {key:?} is not a JSON object"),
            });
        };
        if let Some(admin) = fields.remove("admin") {
            if admin == serde_json::Value::Bool(true) {
                fields.insert("role".into(), "admin".into());
            }
            users.insert(key.as_str(), super::encode(&record).as_slice())?;
        }
    }
    Ok(())
}

/// Version 6: apps, and what the OpenID Connect provider issues.
fn add_apps_and_oauth(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(APPS)?;
    tx.open_table(OAUTH_CODES)?;
    tx.open_table(OAUTH_GRANTS)?;
    tx.open_table(OAUTH_TOKENS)?;
    Ok(())
}

/// Runs the migrations needed to bring a file at `from` up to [`SCHEMA_VERSION`].
pub fn migrate(tx: &WriteTransaction, from: u32) -> Result<(), StoreError> {
    if from > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: from,
            supported: SCHEMA_VERSION,
        });
    }
    for step in &MIGRATIONS[from as usize..SCHEMA_VERSION as usize] {
        step(tx)?;
    }
    Ok(())
}

const _: () = assert!(MIGRATIONS.len() == SCHEMA_VERSION as usize);

/// Creates a fresh file's tables as schema `version` had them (for tests of an upgrade).
#[cfg(test)]
pub fn migrate_to(tx: &WriteTransaction, version: u32) -> Result<(), StoreError> {
    for step in &MIGRATIONS[..version as usize] {
        step(tx)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{MultimapTableHandle, TableHandle};

    fn name(table: &AnyTable) -> String {
        match table {
            AnyTable::Str(d) => d.name().to_owned(),
            AnyTable::Hash(d) => d.name().to_owned(),
            AnyTable::Seq(d) => d.name().to_owned(),
            AnyTable::StrMulti(d) => d.name().to_owned(),
        }
    }

    /// `ALL` is exactly what the migrations create, each table at the
    /// version `since` says: backup and restore cannot miss a table.
    #[test]
    fn all_lists_every_table_the_migrations_create() {
        for version in 1..=SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
            let tx = db.begin_write().unwrap();
            for step in &MIGRATIONS[..version as usize] {
                step(&tx).unwrap();
            }
            let mut made: Vec<String> = tx
                .list_tables()
                .unwrap()
                .map(|t| t.name().to_owned())
                .chain(
                    tx.list_multimap_tables()
                        .unwrap()
                        .map(|t| t.name().to_owned()),
                )
                .collect();
            made.sort();
            let mut listed: Vec<String> = ALL
                .iter()
                .filter(|t| t.since <= version)
                .map(|t| name(&t.table))
                .collect();
            listed.sort();
            assert_eq!(made, listed, "schema version {version}");
        }
    }
}
