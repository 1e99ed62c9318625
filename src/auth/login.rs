//! Sign-in: one attempt per user name at a time, lockout, licenses (SECURITY L1-L8).
//!
//! The order of checks is what keeps account state private: a locked name is
//! answered without touching the hash; every other attempt costs exactly one
//! argon2 verify (against a dummy hash for unknown names and accounts without
//! a password), and license or disabled state is told only after a correct
//! password.

use jiff::{SignedDuration, Timestamp};

use super::{Auth, AuthError};
use crate::domain::license;
use crate::domain::password::MAX_INPUT_BYTES;
use crate::domain::password::{NewPassword, PasswordHash};
use crate::domain::secret::Secret;
use crate::domain::username::canonical_key;
use crate::metrics::bump;
use crate::store::audit::{Event, Origin};
use crate::store::sessions::EndReason;
use crate::store::users::UserRecord;
use crate::store::{StoreError, Write};

/// What a sign-in attempt comes to, as the user may be told.
#[derive(Debug)]
pub enum SignIn {
    /// Right password: a new session (its id goes only into the cookie).
    Success {
        session_id: Secret,
        /// The password is past `policy.max_age` or a change was forced (SECURITY P4).
        must_change: bool,
    },
    /// Wrong password or unknown name; `tries_left` before the name locks.
    Failed {
        tries_left: u32,
    },
    Locked,
    LicenseExpired,
    Disabled,
}

impl Auth {
    /// One sign-in attempt; `username` and `password` are as typed in the form.
    pub async fn sign_in(
        &self,
        username: &str,
        password: Secret,
        origin: Origin,
    ) -> Result<SignIn, AuthError> {
        let key = canonical_key(username);
        let typed = username.trim().to_owned();
        let _turn = self.locks.lock(&key).await;
        let lookup = key.clone();
        let user = self
            .store
            .read_blocking(move |tx| tx.users()?.get(&lookup))
            .await?;
        let outcome = match user {
            None => self.sign_in_unknown(&key, typed, password, origin).await,
            Some(user) => self.sign_in_known(user, password, origin).await,
        }?;
        let m = &self.metrics;
        bump(match outcome {
            SignIn::Success { .. } => &m.sign_ins_ok,
            SignIn::Failed { .. } => &m.sign_ins_failed,
            SignIn::Locked => &m.sign_ins_locked,
            SignIn::LicenseExpired | SignIn::Disabled => &m.sign_ins_refused,
        });
        Ok(outcome)
    }

    async fn sign_in_unknown(
        &self,
        key: &str,
        typed: String,
        password: Secret,
        origin: Origin,
    ) -> Result<SignIn, AuthError> {
        let max = self.config.lockout.max_failures;
        let unlock_after = self.config.lockout.auto_unlock_after.map(|d| d.signed());
        let (_, locked) = self.unknown.state(key, unlock_after, self.store.now());
        let outcome = if locked {
            SignIn::Locked
        } else {
            if password.expose().len() <= MAX_INPUT_BYTES {
                self.hasher.verify(password, None).await?;
            }
            let (failures, newly_locked) = self.unknown.record_failure(key, max, self.store.now());
            if newly_locked {
                SignIn::Locked
            } else {
                SignIn::Failed {
                    tries_left: max.saturating_sub(failures),
                }
            }
        };
        let detail = match outcome {
            SignIn::Locked => "unknown user name (answered as locked)",
            _ => "unknown user name",
        };
        self.audit(Event::LoginFailed, typed, origin, detail)
            .await?;
        Ok(outcome)
    }

    async fn sign_in_known(
        &self,
        user: UserRecord,
        password: Secret,
        origin: Origin,
    ) -> Result<SignIn, AuthError> {
        let now = self.store.now();
        if self.is_locked(&user, now) {
            return self
                .refuse(user, SignIn::Locked, "account locked", origin)
                .await;
        }
        let verification = if password.expose().len() > MAX_INPUT_BYTES {
            None
        } else {
            Some(
                self.hasher
                    .verify(password.clone(), user.password_hash.clone())
                    .await?,
            )
        };
        let Some(v) = verification.filter(|v| v.matched) else {
            return self.record_failure(user.key(), origin).await;
        };
        // Told only after the right password, so they reveal nothing to a guesser.
        if user.disabled {
            return self
                .refuse(user, SignIn::Disabled, "account disabled", origin)
                .await;
        }
        if !license::is_active(user.license_expires, license::today(self.store.now())) {
            let why = "license expired";
            return self.refuse(user, SignIn::LicenseExpired, why, origin).await;
        }
        let rehash = if v.needs_rehash {
            // The stored hash is of the NFKC form; so must its successor be.
            Some(self.hasher.hash(NewPassword::verified(&password)).await?)
        } else {
            None
        };
        let max_age = self.config.policy.max_age.signed();
        let key = user.key();
        let started = self
            .store
            .write_blocking(move |tx| start_session(tx, &key, rehash, max_age, &origin))
            .await?;
        let Some((session_id, must_change)) = started else {
            return Err(AuthError::Store(StoreError::Corrupt {
                table: "users",
                detail: "account vanished during sign-in".into(),
            }));
        };
        Ok(SignIn::Success {
            session_id,
            must_change,
        })
    }

    /// Audits a refused sign-in of an existing account and answers `outcome`.
    async fn refuse(
        &self,
        user: UserRecord,
        outcome: SignIn,
        why: &str,
        origin: Origin,
    ) -> Result<SignIn, AuthError> {
        let key = user.key();
        let why = why.to_owned();
        self.store
            .write_blocking(move |tx| {
                let mut users_t = tx.users()?;
                let name = match users_t.get(&key)? {
                    Some(mut user) => {
                        user.note_sign_in(tx.now(), origin.ip.as_deref(), false, &why);
                        users_t.put(&user)?;
                        user.username.to_string()
                    }
                    None => user.username.to_string(),
                };
                tx.record(Event::LoginFailed, Some(&name), &origin, Some(why))
            })
            .await?;
        Ok(outcome)
    }

    /// Counts a wrong password; locks the account at `max_failures` (once).
    pub(super) async fn record_failure(
        &self,
        key: String,
        origin: Origin,
    ) -> Result<SignIn, AuthError> {
        let max = self.config.lockout.max_failures;
        let now = self.store.now();
        let outcome = self
            .store
            .write_blocking(move |tx| {
                let mut users_t = tx.users()?;
                let mut audit_t = tx.audit()?;
                let Some(mut user) = users_t.get(&key)? else {
                    return Ok(SignIn::Failed { tries_left: 0 });
                };
                user.failed_attempts = user.failed_attempts.saturating_add(1);
                let locks_now = user.failed_attempts >= max && user.locked_at.is_none();
                user.note_sign_in(now, origin.ip.as_deref(), false, "wrong password");
                let name = user.username.clone();
                audit_t.append(
                    Event::LoginFailed,
                    Some(name.as_str()),
                    &origin,
                    Some("wrong password".into()),
                )?;
                if locks_now {
                    lock_account(&mut user, now);
                    user.locked_from = origin.ip.clone();
                    super::links::void_all(&mut tx.tokens()?, &key)?;
                    let detail = format!("{} consecutive failed sign-ins", user.failed_attempts);
                    audit_t.append(
                        Event::AccountLocked,
                        Some(name.as_str()),
                        &origin,
                        Some(detail),
                    )?;
                }
                let tries_left = max.saturating_sub(user.failed_attempts);
                users_t.put(&user)?;
                Ok::<_, StoreError>(if locks_now {
                    SignIn::Locked
                } else {
                    SignIn::Failed { tries_left }
                })
            })
            .await?;
        if matches!(outcome, SignIn::Locked) {
            bump(&self.metrics.lockouts);
        }
        Ok(outcome)
    }

    /// Locked, unless `lockout.auto_unlock_after` has passed since the lock.
    pub fn is_locked(&self, user: &UserRecord, now: Timestamp) -> bool {
        is_locked(
            user,
            now,
            self.config.lockout.auto_unlock_after.map(|d| d.signed()),
        )
    }

    async fn audit(
        &self,
        event: Event,
        user: String,
        origin: Origin,
        detail: &str,
    ) -> Result<(), AuthError> {
        Ok(self
            .record(event, Some(user), origin, detail.to_owned())
            .await?)
    }
}

/// Marks an account locked and ends its sessions (SECURITY S4).
pub fn lock_account(user: &mut UserRecord, now: Timestamp) {
    user.locked_at = Some(now);
    user.revoke_sessions(EndReason::Locked);
}

/// Whether the password is older than `policy.max_age` (an account with none is not).
/// The right password: clears the failure count (and installs `rehash`),
/// creates the session and audits the sign-in, in one transaction. `None`
/// when the account was deleted while its password was being verified.
fn start_session(
    tx: &Write,
    key: &str,
    rehash: Option<PasswordHash>,
    max_age: SignedDuration,
    origin: &Origin,
) -> Result<Option<(Secret, bool)>, StoreError> {
    let now = tx.now();
    let mut users_t = tx.users()?;
    let Some(mut user) = users_t.get(key)? else {
        return Ok(None);
    };
    user.failed_attempts = 0;
    user.locked_at = None;
    user.locked_from = None;
    if let Some(phc) = rehash {
        user.password_hash = Some(phc);
    }
    let must_change = user.must_change || password_expired(&user, max_age, now);
    let detail = if must_change {
        "signed in; password change required"
    } else {
        "signed in"
    };
    user.note_sign_in(now, origin.ip.as_deref(), true, detail);
    users_t.put(&user)?;
    let id = tx.sessions()?.create(&user, must_change, now)?;
    let detail = must_change.then(|| "password change required".to_owned());
    let name = Some(user.username.as_str());
    tx.record(Event::LoginSucceeded, name, origin, detail)?;
    Ok(Some((id, must_change)))
}

pub fn password_expired(user: &UserRecord, max_age: jiff::SignedDuration, now: Timestamp) -> bool {
    user.password_changed_at
        .is_some_and(|at| at.saturating_add(max_age).is_ok_and(|due| now >= due))
}

/// Locked, unless `auto_unlock` has passed since the lock.
pub fn is_locked(
    user: &UserRecord,
    now: Timestamp,
    auto_unlock: Option<jiff::SignedDuration>,
) -> bool {
    locked_now(user.locked_at, now, auto_unlock)
}

/// Whether a lock taken at `locked_at` still holds at `now`.
pub fn locked_now(
    locked_at: Option<Timestamp>,
    now: Timestamp,
    auto_unlock: Option<jiff::SignedDuration>,
) -> bool {
    match (locked_at, auto_unlock) {
        (None, _) => false,
        (Some(at), Some(after)) => now.duration_since(at) < after,
        (Some(_), None) => true,
    }
}
