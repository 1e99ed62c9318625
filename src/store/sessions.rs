//! Sessions: keyed by the SHA-256 of the opaque id, so the file never holds a usable id.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode, get_json};
use crate::domain::secret::Secret;
use crate::domain::token;

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
    /// When the password was last entered in this session: at sign-in, or
    /// later to confirm a console action (SECURITY A2). `None`: at sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_at: Option<Timestamp>,
}

/// The live sessions and the reasons of recently ended ones, opened together:
/// ending a session moves it from one to the other in the same transaction.
pub struct Sessions<T> {
    live: T,
    ended: T,
}

impl<T> Sessions<T> {
    pub(super) fn new(live: T, ended: T) -> Self {
        Self { live, ended }
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> Sessions<T> {
    pub fn get(&self, id_hash: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        get_json(&self.live, NAME, id_hash.as_slice())
    }

    /// Why the session with this id hash ended, if it ended lately.
    pub fn ended(&self, id_hash: &[u8; 32]) -> Result<Option<EndedRecord>, StoreError> {
        get_json(&self.ended, ENDED_NAME, id_hash.as_slice())
    }

    /// Live sessions, expired ones not yet swept included.
    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.live.len()?)
    }
}

impl Sessions<Table<'_, &'static [u8], &'static [u8]>> {
    /// Stores a new session for `user` and returns its id (only its hash is kept).
    pub fn create(
        &mut self,
        user: &super::users::UserRecord,
        restricted: bool,
        now: Timestamp,
    ) -> Result<Secret, StoreError> {
        let id = token::new_token();
        let record = SessionRecord {
            user: user.key(),
            epoch: user.session_epoch,
            created_at: now,
            last_seen: now,
            restricted,
            password_at: None,
        };
        self.put(&token::hash(id.expose()), &record)?;
        Ok(id)
    }

    pub fn put(&mut self, id_hash: &[u8; 32], session: &SessionRecord) -> Result<(), StoreError> {
        self.live
            .insert(id_hash.as_slice(), encode(session).as_slice())?;
        Ok(())
    }

    /// Removes a live session (sign-out: no reason is kept).
    pub fn remove(&mut self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.live.remove(id_hash.as_slice())?;
        Ok(())
    }

    /// Ends a live session and keeps why, for the sign-in page to say once.
    pub fn end(&mut self, id_hash: &[u8; 32], ended: &EndedRecord) -> Result<(), StoreError> {
        self.remove(id_hash)?;
        self.ended
            .insert(id_hash.as_slice(), encode(ended).as_slice())?;
        Ok(())
    }

    /// Forgets why a session ended (it has been said).
    pub fn forget_ended(&mut self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.ended.remove(id_hash.as_slice())?;
        Ok(())
    }

    /// Ends the sessions for which `dead` gives a reason (expired, or of a
    /// removed or revoked account), keeping each reason until `until(reason)`;
    /// returns how many ended.
    pub fn sweep(
        &mut self,
        mut dead: impl FnMut(&SessionRecord) -> Option<EndReason>,
        until: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut removed = Vec::new();
        self.live.retain(|k, v| {
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
        for (id_hash, reason) in &removed {
            let ended = EndedRecord {
                reason: *reason,
                until,
            };
            self.ended
                .insert(id_hash.as_slice(), encode(&ended).as_slice())?;
        }
        Ok(removed.len() as u64)
    }

    /// Deletes the reasons whose time to be shown has passed.
    pub fn sweep_ended(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let mut removed = 0;
        self.ended
            .retain(|_, v| match serde_json::from_slice::<EndedRecord>(v) {
                Ok(e) if e.until > now => true,
                _ => {
                    removed += 1;
                    false
                }
            })?;
        Ok(removed)
    }
}
