//! Server-side sessions: opaque ids, stored hashed, checked on every request (S2-S5).

use jiff::{SignedDuration, Timestamp};
use redb::Table;

use super::{Auth, token};
use crate::bounded::BoundedMap;
use crate::domain::license;
use crate::domain::secret::Secret;
use crate::store::audit::{self, Event, Origin};
use crate::store::sessions::{self, SessionRecord};
use crate::store::tables::{AUDIT, SESSIONS, USERS};
use crate::store::tokens::Tokens;
use crate::store::users::{self, UserRecord};
use crate::store::{Store, StoreError};

/// A session that passed every check on this request.
#[derive(Clone)]
pub struct ActiveSession {
    pub id_hash: [u8; 32],
    pub user: UserRecord,
    /// Only the forced password change is allowed.
    pub restricted: bool,
}

/// Stores a new session for `user` and returns its id (only its hash is kept).
pub fn create(
    table: &mut Table<&[u8], &[u8]>,
    user: &UserRecord,
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
    };
    sessions::put(table, &token::hash(id.expose()), &record)?;
    Ok(id)
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
        let now = Timestamp::now();
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
            Checked::Dead => {
                self.db(move |s| {
                    s.write(|tx| sessions::remove(&mut tx.open_table(SESSIONS)?, &id_hash))
                })
                .await?;
                Ok(None)
            }
            Checked::Alive { session, touch } => {
                if touch {
                    self.db(move |s| touch_session(s, id_hash, now)).await?;
                }
                Ok(Some(*session))
            }
        }
    }

    /// Ends one session (logout).
    pub async fn end_session(
        &self,
        id_hash: [u8; 32],
        user: String,
        origin: Origin,
    ) -> Result<(), StoreError> {
        self.db(move |s| {
            s.write(|tx| {
                sessions::remove(&mut tx.open_table(SESSIONS)?, &id_hash)?;
                audit::append(
                    &mut tx.open_table(AUDIT)?,
                    Event::SessionRevoked,
                    Some(&user),
                    &origin,
                    Some("signed out".into()),
                )
            })
        })
        .await
    }

    /// Deletes expired sessions and tokens; run periodically by the server.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let limits = Limits::from_config(&self.config);
        self.db(move |s| {
            s.write(|tx| {
                let users_t = tx.open_table(USERS)?;
                let now = Timestamp::now();
                let mut removed = sessions::sweep(&mut tx.open_table(SESSIONS)?, |sess| {
                    limits.expired(sess, now)
                        || !matches!(users::get(&users_t, &sess.user), Ok(Some(u)) if u.session_epoch == sess.epoch)
                })?;
                removed += Tokens::open(tx)?.sweep(now)?;
                Ok(removed)
            })
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

    fn expired(&self, s: &SessionRecord, now: Timestamp) -> bool {
        now.duration_since(s.created_at) >= self.absolute
            || now.duration_since(s.last_seen) >= self.idle
    }
}

enum Checked {
    Missing,
    /// Expired, revoked or of an account that may no longer sign in: delete it.
    Dead,
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
        let Some(session) = sessions::get(&tx.open_table(SESSIONS)?, &id_hash)? else {
            return Ok(None);
        };
        let user = users::get(&tx.open_table(USERS)?, &session.user)?;
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
    let alive = !limits.expired(&session, now)
        && user.as_ref().is_some_and(|u| {
            u.session_epoch == session.epoch
                && !u.disabled
                && !super::login::is_locked(u, now, auto_unlock)
                && license::is_active(u.license_expires, license::today())
        });
    let Some(user) = user.filter(|_| alive) else {
        return Ok(Checked::Dead);
    };
    let restricted = session.restricted
        || user.must_change
        || super::login::password_expired(&user, limits.max_age, now);
    Ok(Checked::Alive {
        session: Box::new(ActiveSession {
            id_hash,
            user,
            restricted,
        }),
        touch: now.duration_since(session.last_seen) >= limits.touch_after,
    })
}

fn touch_session(store: &Store, id_hash: [u8; 32], now: Timestamp) -> Result<(), StoreError> {
    store.write(|tx| {
        let mut t = tx.open_table(SESSIONS)?;
        // Re-read: the session may have been removed since it was checked.
        if let Some(mut s) = sessions::get(&t, &id_hash)? {
            s.last_seen = now;
            sessions::put(&mut t, &id_hash, &s)?;
        }
        Ok(())
    })
}
