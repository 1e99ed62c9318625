//! Server-side sessions: opaque ids, stored hashed, checked on every request (S2-S5).

use jiff::{SignedDuration, Timestamp};

use super::Auth;
use crate::bounded::BoundedMap;
use crate::domain::license;
use crate::domain::token;
use crate::store::audit::{Event, Origin};
use crate::store::sessions::{EndReason, EndedRecord, SessionRecord};
use crate::store::users::UserRecord;
use crate::store::{Store, StoreError};

/// A session that passed every check on this request.
#[derive(Clone)]
pub struct ActiveSession {
    pub id_hash: [u8; 32],
    pub user: UserRecord,
    /// Only the forced password change is allowed.
    pub restricted: bool,
    /// When the account signed in to start it (an ID token's `auth_time`).
    pub signed_in_at: Timestamp,
    /// When the password was last entered in it (SECURITY A2).
    pub password_at: Timestamp,
}

impl Auth {
    /// The live session behind a cookie value, or `None` (expired, revoked, unknown).
    pub async fn session(&self, id: &str) -> Result<Option<ActiveSession>, StoreError> {
        if !token::looks_valid(id) {
            return Ok(None);
        }
        let id_hash = token::hash(id);
        let limits = Limits::from_config(&self.config);
        let lock_check = self.config.lockout.auto_unlock_after.map(|d| d.signed());
        let now = self.store.now();
        // The read is a few microseconds from redb's cache: done here, it saves a
        // hop to the blocking pool on every page view. Writes (fsync) hop.
        match check(
            &self.store,
            &self.sessions,
            id_hash,
            &limits,
            lock_check,
            now,
        )? {
            Checked::Missing => Ok(None),
            Checked::Dead(reason) => {
                let ended = EndedRecord {
                    reason,
                    until: limits.end_shown_until(now),
                };
                self.store
                    .write_blocking(move |tx| tx.sessions()?.end(&id_hash, &ended))
                    .await?;
                Ok(None)
            }
            Checked::Alive { session, touch } => {
                if touch {
                    self.store
                        .blocking(move |s| touch_session(s, id_hash, now))
                        .await?;
                }
                Ok(Some(*session))
            }
        }
    }

    /// Why the session behind a cookie value ended, once: the reason is
    /// forgotten as it is returned. `None` for a live, unknown or signed-out
    /// session, and once the reason is older than the absolute timeout.
    pub async fn take_end_reason(&self, id: &str) -> Result<Option<EndReason>, StoreError> {
        if !token::looks_valid(id) {
            return Ok(None);
        }
        let id_hash = token::hash(id);
        let now = self.store.now();
        let found = self.store.read(|tx| tx.sessions()?.ended(&id_hash))?;
        let Some(ended) = found else {
            return Ok(None);
        };
        self.store
            .write_blocking(move |tx| tx.sessions()?.forget_ended(&id_hash))
            .await?;
        Ok((ended.until > now).then_some(ended.reason))
    }

    /// Records that the password was entered again in this session now.
    pub async fn note_password_entered(&self, id_hash: [u8; 32]) -> Result<(), StoreError> {
        self.store
            .write_blocking(move |tx| {
                let mut t = tx.sessions()?;
                if let Some(mut s) = t.get(&id_hash)? {
                    s.password_at = Some(tx.now());
                    t.put(&id_hash, &s)?;
                }
                Ok(())
            })
            .await
    }

    /// Ends one session (logout).
    pub async fn end_session(
        &self,
        id_hash: [u8; 32],
        user: String,
        origin: Origin,
    ) -> Result<(), StoreError> {
        self.store
            .write_blocking(move |tx| {
                tx.sessions()?.remove(&id_hash)?;
                tx.record(
                    Event::SessionRevoked,
                    Some(&user),
                    &origin,
                    Some("signed out".into()),
                )
            })
            .await
    }

    /// Deletes expired sessions and tokens; run periodically by the server.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let limits = Limits::from_config(&self.config);
        let auto_unlock = self.config.lockout.auto_unlock_after.map(|d| d.signed());
        self.store
            .write_blocking(move |tx| {
                let users = tx.users()?;
                let now = tx.now();
                let mut sessions = tx.sessions()?;
                let mut removed = sessions.sweep_ended(now)?;
                removed += sessions.sweep(
                    |sess| {
                        let user = users.get(&sess.user).ok().flatten();
                        end_reason(sess, user.as_ref(), &limits, auto_unlock, now)
                    },
                    limits.end_shown_until(now),
                )?;
                removed += tx.tokens()?.sweep(now)?;
                removed += tx.oauth()?.sweep(now)?;
                Ok(removed)
            })
            .await
    }
}

/// Session time limits from `[session]`.
struct Limits {
    idle: SignedDuration,
    absolute: SignedDuration,
    max_age: SignedDuration,
    /// How stale `last_seen` may get before it is written again.
    touch_after: SignedDuration,
}

impl Limits {
    fn from_config(config: &crate::config::Config) -> Self {
        let idle = config.session.idle_timeout.signed();
        Self {
            idle,
            absolute: config.session.absolute_timeout.signed(),
            max_age: config.policy.max_age.signed(),
            // Writing on every request would cost an fsync per page view.
            touch_after: (idle / 20).min(SignedDuration::from_secs(30)),
        }
    }

    /// Which timeout, if any, has ended the session.
    fn timed_out(&self, s: &SessionRecord, now: Timestamp) -> Option<EndReason> {
        if now.duration_since(s.created_at) >= self.absolute {
            Some(EndReason::AbsoluteTimeout)
        } else if now.duration_since(s.last_seen) >= self.idle {
            Some(EndReason::IdleTimeout)
        } else {
            None
        }
    }

    /// How long the reason a session ended is kept for its browser to see:
    /// no longer than a session can last, so an old cookie tells nothing.
    fn end_shown_until(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.absolute).unwrap_or(Timestamp::MAX)
    }
}

/// Why a session may no longer be used, or `None` while it may.
///
/// The account's state comes first: a session that timed out on an account
/// locked since is reported as locked, which is what its owner must act on.
fn end_reason(
    session: &SessionRecord,
    user: Option<&UserRecord>,
    limits: &Limits,
    auto_unlock: Option<SignedDuration>,
    now: Timestamp,
) -> Option<EndReason> {
    let Some(user) = user else {
        return Some(EndReason::Deleted);
    };
    if let Some(barred) = barred(user, now, auto_unlock) {
        Some(barred)
    } else if user.session_epoch != session.epoch {
        Some(user.sessions_ended_because.unwrap_or(EndReason::Revoked))
    } else {
        limits.timed_out(session, now)
    }
}

/// Why the account itself may not be used now, whatever the session or
/// app: disabled, locked or license expired (in that order). Sessions and
/// the OpenID Connect provider (O6) both ask.
pub fn barred(
    user: &UserRecord,
    now: Timestamp,
    auto_unlock: Option<SignedDuration>,
) -> Option<EndReason> {
    if user.disabled {
        Some(EndReason::Disabled)
    } else if super::login::is_locked(user, now, auto_unlock) {
        Some(EndReason::Locked)
    } else if !license::is_active(user.license_expires, license::today(now)) {
        Some(EndReason::LicenseExpired)
    } else {
        None
    }
}

enum Checked {
    Missing,
    /// Expired, revoked or of an account that may no longer sign in: delete it.
    Dead(EndReason),
    /// Valid; `touch` when `last_seen` is stale enough to be written again.
    Alive {
        session: Box<ActiveSession>,
        touch: bool,
    },
}

/// Copies of the session and account records behind recent cookies, each
/// tagged with the [`Store::generation`] it was read at: a copy is used only
/// while no commit has happened since, so it is always what a read would
/// return now. Every check on it (timeouts, epoch, lock, licence, expiry)
/// still runs on every request; only the read and decode are saved.
pub struct SessionCache {
    entries: BoundedMap<[u8; 32], Cached>,
}

#[derive(Clone)]
struct Cached {
    generation: u64,
    session: SessionRecord,
    user: Option<UserRecord>,
}

impl SessionCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BoundedMap::new(capacity),
        }
    }

    fn get(&self, id_hash: &[u8; 32], generation: u64) -> Option<Cached> {
        self.entries
            .get(id_hash)
            .filter(|c| c.generation == generation)
    }

    fn put(&self, id_hash: [u8; 32], entry: Cached) {
        self.entries.insert(id_hash, entry);
    }
}

/// The session and its account, from the cache while no commit has happened.
fn records(
    store: &Store,
    cache: &SessionCache,
    id_hash: [u8; 32],
) -> Result<Option<(SessionRecord, Option<UserRecord>)>, StoreError> {
    let generation = store.generation();
    if let Some(c) = cache.get(&id_hash, generation) {
        return Ok(Some((c.session, c.user)));
    }
    let found = store.read(|tx| {
        let Some(session) = tx.sessions()?.get(&id_hash)? else {
            return Ok(None);
        };
        let user = tx.users()?.get(&session.user)?;
        Ok::<_, StoreError>(Some((session, user)))
    })?;
    if let Some((session, user)) = &found {
        let entry = Cached {
            generation,
            session: session.clone(),
            user: user.clone(),
        };
        cache.put(id_hash, entry);
    }
    Ok(found)
}

fn check(
    store: &Store,
    cache: &SessionCache,
    id_hash: [u8; 32],
    limits: &Limits,
    auto_unlock: Option<SignedDuration>,
    now: Timestamp,
) -> Result<Checked, StoreError> {
    let Some((session, user)) = records(store, cache, id_hash)? else {
        return Ok(Checked::Missing);
    };
    if let Some(reason) = end_reason(&session, user.as_ref(), limits, auto_unlock, now) {
        return Ok(Checked::Dead(reason));
    }
    let Some(user) = user else {
        return Ok(Checked::Dead(EndReason::Deleted));
    };
    let restricted = session.restricted
        || user.must_change
        || super::login::password_expired(&user, limits.max_age, now);
    Ok(Checked::Alive {
        session: Box::new(ActiveSession {
            id_hash,
            user,
            restricted,
            signed_in_at: session.created_at,
            password_at: session.password_at.unwrap_or(session.created_at),
        }),
        touch: now.duration_since(session.last_seen) >= limits.touch_after,
    })
}

fn touch_session(store: &Store, id_hash: [u8; 32], now: Timestamp) -> Result<(), StoreError> {
    store.write(|tx| {
        let mut t = tx.sessions()?;
        // Re-read: the session may have been removed since it was checked.
        if let Some(mut s) = t.get(&id_hash)? {
            s.last_seen = now;
            t.put(&id_hash, &s)?;
        }
        Ok(())
    })
}
