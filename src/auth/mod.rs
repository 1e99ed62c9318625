//! Authentication: password hashing, sign-in with lockout, sessions and setup links.
//!
//! [`Auth`] is the one object the web layer and the control socket share. It
//! owns the in-memory guards, so everything that must be atomic across
//! concurrent requests (SECURITY L7) happens in this one process.

pub mod forward;
pub mod guard;
pub mod hasher;
pub mod links;
pub mod login;
pub mod password;
pub mod policy;
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

/// Shared authentication state: store, config, hashing pool and guards.
pub struct Auth {
    pub store: Store,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    pub mailer: Arc<Mailer>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The OpenID Connect signing keys of the data directory.
    pub keys: Arc<crate::store::keys::KeyRing>,
    locks: KeyedLocks,
    unknown: UnknownNames,
    sessions: sessions::SessionCache,
    /// The registered apps, read again only after a commit (see [`Auth::apps`]).
    apps: std::sync::Mutex<Option<(u64, Arc<Vec<crate::store::apps::AppRecord>>)>>,
    /// Forward-auth refusals written recently, for counting repeats.
    denials: forward::Denials,
}

impl Auth {
    pub fn new(store: Store, config: Arc<Config>, mailer: Arc<Mailer>) -> Self {
        let hasher = Hasher::new(
            config.server.effective_hash_threads(),
            config.server.hash_queue,
        );
        let keys = Arc::new(crate::store::keys::KeyRing::new(
            store.dir(),
            config.oidc.access_token_ttl.signed(),
        ));
        Self {
            store,
            config,
            hasher,
            mailer,
            metrics: Arc::default(),
            keys,
            locks: KeyedLocks::default(),
            unknown: UnknownNames::new(UNKNOWN_NAME_CAPACITY),
            sessions: sessions::SessionCache::new(SESSION_CACHE_CAPACITY),
            apps: std::sync::Mutex::default(),
            denials: forward::Denials::new(forward::DENIAL_CAPACITY),
        }
    }

    /// Every registered app. Every home page and token request asks, and
    /// apps change rarely: the list is kept until the next commit.
    pub fn apps(&self) -> Result<Arc<Vec<crate::store::apps::AppRecord>>, StoreError> {
        let generation = self.store.generation();
        let mut cached = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, apps)) = cached.as_ref()
            && *at == generation
        {
            return Ok(apps.clone());
        }
        let apps = Arc::new(self.store.read(|tx| tx.apps()?.all())?);
        *cached = Some((generation, apps.clone()));
        Ok(apps)
    }

    /// Appends one audit event in its own transaction.
    pub async fn record(
        &self,
        event: crate::store::audit::Event,
        user: Option<String>,
        origin: crate::store::audit::Origin,
        detail: String,
    ) -> Result<(), StoreError> {
        self.store
            .write_blocking(move |tx| tx.record(event, user.as_deref(), &origin, Some(detail)))
            .await
    }

    /// Unknown user names remembered for lockout (bounded).
    pub fn unknown_names(&self) -> usize {
        self.unknown.len()
    }
}
