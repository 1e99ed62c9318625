//! Every redb table of the data file, its schema version, and the migrations.
//!
//! Values are JSON documents (serde) so a record can gain fields with
//! `#[serde(default)]` without a migration; a migration is needed only when a
//! table's keys or meaning change.

use redb::{MultimapTableDefinition, TableDefinition, WriteTransaction};

use super::StoreError;

/// The schema this build writes. Bump it and add a step to [`MIGRATIONS`].
pub const SCHEMA_VERSION: u32 = 3;

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

pub const KEY_SCHEMA_VERSION: &str = "schema_version";
pub const KEY_CSRF: &str = "csrf_key";

/// One migration step: brings the file from version `index` to `index + 1`.
type Migration = fn(&WriteTransaction) -> Result<(), StoreError>;

/// Forward-only migrations; `MIGRATIONS[n]` upgrades version n to n + 1.
const MIGRATIONS: &[Migration] = &[create_initial_tables, create_outbox, create_ended_sessions];

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
