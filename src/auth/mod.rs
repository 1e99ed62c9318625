//! Authentication: password hashing, sign-in with lockout, sessions and setup links.
//!
//! [`Auth`] is the one object the web layer and the control socket share. It
//! owns the in-memory guards, so everything that must be atomic across
//! concurrent requests (SECURITY L7) happens in this one process.

pub mod guard;
pub mod hasher;
pub mod login;
pub mod password;
pub mod sessions;
pub mod setup;
pub mod token;

use std::sync::Arc;

use crate::config::Config;
use crate::store::{Store, StoreError};

use guard::{KeyedLocks, UnknownNames};
use hasher::{Busy, Hasher};

/// How many unknown user names are remembered for lockout at once.
const UNKNOWN_NAME_CAPACITY: usize = 10_000;

/// Failures of the authentication layer that are not answers to the user.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shared authentication state: store, config, hashing pool and guards.
pub struct Auth {
    pub store: Store,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    locks: KeyedLocks,
    unknown: UnknownNames,
}

impl Auth {
    pub fn new(store: Store, config: Arc<Config>) -> Self {
        let hasher = Hasher::new(
            config.server.effective_hash_threads(),
            config.server.hash_queue,
        );
        Self {
            store,
            config,
            hasher,
            locks: KeyedLocks::default(),
            unknown: UnknownNames::new(UNKNOWN_NAME_CAPACITY),
        }
    }

    /// Runs a store operation on the blocking pool (redb commits fsync).
    pub async fn db<T, E>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
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
