//! Authentication: password hashing, sign-in with lockout, sessions and setup links.
//!
//! [`Auth`] is the one object the web layer and the control socket share. It
//! owns the in-memory guards, so everything that must be atomic across
//! concurrent requests (SECURITY L7) happens in this one process.

pub mod guard;
pub mod hasher;
pub mod links;
pub mod login;
pub mod password;
pub mod profile;
pub mod reminders;
pub mod reset;
pub mod sessions;
pub mod setup;


use std::sync::Arc;

use crate::config::Config;
use crate::mail::Mailer;
use crate::store::{Store, StoreError};

use guard::{KeyedLocks, UnknownNames};
use hasher::{Busy, Hasher};

/// How many unknown user names are remembered for lockout at once.
const UNKNOWN_NAME_CAPACITY: usize = 10_000;
/// Live sessions whose records are kept decoded between requests.
const SESSION_CACHE_CAPACITY: usize = 1_024;

/// Failures of the authentication layer that are not answers to the user.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

impl From<redb::TableError> for AuthError {
    fn from(e: redb::TableError) -> Self {
        AuthError::Store(e.into())
    }
}

impl From<redb::StorageError> for AuthError {
    fn from(e: redb::StorageError) -> Self {
        AuthError::Store(e.into())
    }
}

/// Shared authentication state: store, config, hashing pool and guards.
pub struct Auth {
    pub store: Store,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    pub mailer: Arc<Mailer>,
    pub metrics: crate::metrics::Metrics,
    locks: KeyedLocks,
    unknown: UnknownNames,
    sessions: sessions::SessionCache,
}

impl Auth {
    pub fn new(store: Store, config: Arc<Config>, mailer: Arc<Mailer>) -> Self {
        let hasher = Hasher::new(
            config.server.effective_hash_threads(),
            config.server.hash_queue,
        );
        Self {
            store,
            config,
            hasher,
            mailer,
            metrics: crate::metrics::Metrics::default(),
            locks: KeyedLocks::default(),
            unknown: UnknownNames::new(UNKNOWN_NAME_CAPACITY),
            sessions: sessions::SessionCache::new(SESSION_CACHE_CAPACITY),
        }
    }

    /// Runs a store operation on the blocking pool (redb commits fsync).
    pub async fn db<T, E>(
        &self,
        f: impl FnOnce(&Env) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let env = Env {
            store: self.store.clone(),
            config: self.config.clone(),
            mailer: self.mailer.clone(),
        };
        match tokio::task::spawn_blocking(move || f(&env)).await {
            Ok(out) => out,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    /// Appends one audit event in its own transaction.
    pub async fn record(
        &self,
        event: crate::store::audit::Event,
        user: Option<String>,
        origin: crate::store::audit::Origin,
        detail: String,
    ) -> Result<(), StoreError> {
        self.db(move |s| {
            s.write(|tx| {
                crate::store::audit::append(
                    &mut tx.open_table(crate::store::tables::AUDIT)?,
                    event,
                    user.as_deref(),
                    &origin,
                    Some(detail),
                )
            })
        })
        .await
    }

    /// Unknown user names remembered for lockout (bounded).
    pub fn unknown_names(&self) -> usize {
        self.unknown.len()
    }
}

/// What a blocking store operation may use: the store, the config and the mailer.
#[derive(Clone)]
pub struct Env {
    pub store: Store,
    pub config: Arc<Config>,
    pub mailer: Arc<Mailer>,
}

impl std::ops::Deref for Env {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Env {
    /// Queues `kind` to the account's own address, if it has one, in the caller's transaction.
    pub fn mail_user(
        &self,
        tx: &redb::WriteTransaction,
        user: &crate::store::users::UserRecord,
        kind: crate::mail::compose::MailKind,
        extra: minijinja::Value,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<(), AuthError> {
        let Some(to) = user.email.as_deref() else {
            return Ok(());
        };
        let vars = minijinja::context! { user => crate::mail::compose::user_ctx(user), ..extra };
        self.mailer.queue(
            tx,
            &self.config,
            crate::mail::Outgoing {
                kind,
                to,
                user: Some(&user.username),
                vars,
                expires_at,
            },
        )?;
        Ok(())
    }
}
