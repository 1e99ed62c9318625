//! Apps: the agency's web applications that sign in through latchkey
//! (CONTRACT section 7), keyed by the canonical app name, which is also the
//! OpenID Connect `client_id`.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode, get_json};
use crate::domain::group::AppName;

const NAME: &str = "apps";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppRecord {
    pub name: AppName,
    /// Random, new at every `app add`: grants name the registration they
    /// came from, so an app removed and added again under the same name
    /// does not bring its old tokens back.
    pub id: String,
    /// A public client (a browser or desktop app) has no secret and must use PKCE.
    pub public: bool,
    /// SHA-256 of the client secret (base64url); `None` for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
    /// Exact redirect URIs (OIDC). None: the app only uses forward-auth.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Exact `post_logout_redirect_uri` values accepted besides `url`.
    #[serde(default)]
    pub logout_uris: Vec<String>,
    /// Names of the groups whose members may use it; empty: every account.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The launcher link on the home page.
    #[serde(default)]
    pub url: Option<String>,
    /// Host names guarded by forward-auth.
    #[serde(default)]
    pub hosts: Vec<String>,
    pub created_at: Timestamp,
}

impl AppRecord {
    /// The OpenID Connect `client_id`.
    pub fn client_id(&self) -> &str {
        self.name.key()
    }

    pub fn speaks_oidc(&self) -> bool {
        !self.redirect_uris.is_empty()
    }

    /// Whether an account in `groups` (names) may use the app.
    pub fn admits(&self, groups: &[String]) -> bool {
        use crate::domain::username::canonical_key;
        self.groups.is_empty()
            || self.groups.iter().any(|need| {
                groups
                    .iter()
                    .any(|g| canonical_key(g) == canonical_key(need))
            })
    }

    /// Whether `uri` is registered for the end of a session (O1: exact match).
    pub fn accepts_logout_uri(&self, uri: &str) -> bool {
        self.logout_uris.iter().any(|u| u == uri) || self.url.as_deref() == Some(uri)
    }
}

/// The apps table, in a read or a write transaction.
pub struct Apps<T> {
    table: T,
}

impl<T> Apps<T> {
    pub(super) fn new(table: T) -> Self {
        Self { table }
    }
}

impl<T: ReadableTable<&'static str, &'static [u8]>> Apps<T> {
    /// The app under its canonical key (its `client_id`).
    pub fn get(&self, key: &str) -> Result<Option<AppRecord>, StoreError> {
        get_json(&self.table, NAME, key)
    }

    /// Every app, in key order.
    pub fn all(&self) -> Result<Vec<AppRecord>, StoreError> {
        self.table
            .iter()?
            .map(|entry| super::decode(NAME, entry?.1.value()))
            .collect()
    }
}

impl Apps<Table<'_, &'static str, &'static [u8]>> {
    pub fn put(&mut self, app: &AppRecord) -> Result<(), StoreError> {
        self.table.insert(app.name.key(), encode(app).as_slice())?;
        Ok(())
    }

    /// Removes the app; whether it was there.
    pub fn remove(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.table.remove(key)?.is_some())
    }
}
