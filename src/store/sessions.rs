//! Sessions: keyed by the SHA-256 of the opaque id, so the file never holds a usable id.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode, get_json};

const NAME: &str = "sessions";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Canonical key of the account.
    pub user: String,
    /// The account's `session_epoch` when the session began; a later epoch revokes it.
    pub epoch: u64,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// A session that may only change an expired password (SECURITY P4, S6).
    #[serde(default)]
    pub restricted: bool,
}

pub fn get(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    id_hash: &[u8; 32],
) -> Result<Option<SessionRecord>, StoreError> {
    get_json(table, NAME, id_hash.as_slice())
}

pub fn put(
    table: &mut Table<&[u8], &[u8]>,
    id_hash: &[u8; 32],
    session: &SessionRecord,
) -> Result<(), StoreError> {
    table.insert(id_hash.as_slice(), encode(session).as_slice())?;
    Ok(())
}

pub fn remove(table: &mut Table<&[u8], &[u8]>, id_hash: &[u8; 32]) -> Result<(), StoreError> {
    table.remove(id_hash.as_slice())?;
    Ok(())
}

/// Deletes sessions for which `dead` is true (expired, or of a removed or revoked account).
pub fn sweep(
    table: &mut Table<&[u8], &[u8]>,
    mut dead: impl FnMut(&SessionRecord) -> bool,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    table.retain(|_, v| match serde_json::from_slice::<SessionRecord>(v) {
        Ok(s) if !dead(&s) => true,
        _ => {
            removed += 1;
            false
        }
    })?;
    Ok(removed)
}
