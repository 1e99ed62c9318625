//! Sessions: keyed by the SHA-256 of the opaque id, so the file never holds a usable id.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode, get_json};

const NAME: &str = "sessions";
const ENDED_NAME: &str = "ended_sessions";

/// Why a session ended, so that the next page its browser asks for can say
/// so. Kept on the account (for the sessions a change revokes) and under the
/// ended session's id hash (for a while after it ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    IdleTimeout,
    AbsoluteTimeout,
    /// The password was changed (profile, reset or setup) in another session.
    PasswordChanged,
    /// An administrator asked for a new password (`user force-change`).
    ForceChange,
    Locked,
    Disabled,
    Deleted,
    LicenseExpired,
    /// Revoked for a reason this build did not record.
    Revoked,
}

/// What remains of a session that ended without a sign-out: why, and until
/// when the reason is shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndedRecord {
    pub reason: EndReason,
    pub until: Timestamp,
}

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

/// Deletes the sessions for which `dead` gives a reason (expired, or of a
/// removed or revoked account) and returns their id hashes with it.
pub fn sweep(
    table: &mut Table<&[u8], &[u8]>,
    mut dead: impl FnMut(&SessionRecord) -> Option<EndReason>,
) -> Result<Vec<([u8; 32], EndReason)>, StoreError> {
    let mut removed = Vec::new();
    table.retain(|k, v| {
        let reason = match serde_json::from_slice::<SessionRecord>(v) {
            Ok(s) => dead(&s),
            Err(_) => Some(EndReason::Revoked),
        };
        match (reason, <[u8; 32]>::try_from(k)) {
            (None, _) => true,
            (Some(reason), Ok(id_hash)) => {
                removed.push((id_hash, reason));
                false
            }
            (Some(_), Err(_)) => false,
        }
    })?;
    Ok(removed)
}

pub fn get_ended(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    id_hash: &[u8; 32],
) -> Result<Option<EndedRecord>, StoreError> {
    get_json(table, ENDED_NAME, id_hash.as_slice())
}

pub fn put_ended(
    table: &mut Table<&[u8], &[u8]>,
    id_hash: &[u8; 32],
    ended: &EndedRecord,
) -> Result<(), StoreError> {
    table.insert(id_hash.as_slice(), encode(ended).as_slice())?;
    Ok(())
}

pub fn remove_ended(table: &mut Table<&[u8], &[u8]>, id_hash: &[u8; 32]) -> Result<(), StoreError> {
    table.remove(id_hash.as_slice())?;
    Ok(())
}

/// Deletes the reasons whose time to be shown has passed.
pub fn sweep_ended(table: &mut Table<&[u8], &[u8]>, now: Timestamp) -> Result<u64, StoreError> {
    let mut removed = 0;
    table.retain(|_, v| match serde_json::from_slice::<EndedRecord>(v) {
        Ok(e) if e.until > now => true,
        _ => {
            removed += 1;
            false
        }
    })?;
    Ok(removed)
}
