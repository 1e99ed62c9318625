//! What the OpenID Connect provider hands out: authorization codes, grants
//! and their access and refresh tokens. Every code and token is kept only as
//! its SHA-256 (SECURITY O4).
//!
//! A *grant* is what one redeemed code starts: one app, one account, one
//! refresh-token family. Its tokens name it, and it names the one refresh
//! token that may be used next; revoking it (a replayed code, a reused
//! refresh token, `app remove`, RFC 7009) ends every token it issued at once.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, decode, encode, get_json};

const CODES: &str = "oauth_codes";
const GRANTS: &str = "oauth_grants";
const TOKENS: &str = "oauth_tokens";

/// A grant's id: 16 random bytes.
pub type GrantId = [u8; 16];

/// An authorization code, from `/oauth2/authorize` to its one redemption.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The app's key (`client_id`) and registration id.
    pub app: String,
    pub app_id: String,
    /// Canonical key of the account, and its subject when the code was issued.
    pub user: String,
    pub subject: String,
    pub redirect_uri: String,
    /// The PKCE S256 challenge, when the request carried one.
    #[serde(default)]
    pub challenge: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    pub scope: String,
    /// When the account signed in (the session's start): `auth_time`.
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
    /// The grant it started, once redeemed; the record is kept until it
    /// expires so that a replay is recognised and revokes that grant (O2).
    #[serde(default)]
    pub redeemed: Option<GrantId>,
}

/// One app's access to one account, from a redeemed code.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantRecord {
    pub app: String,
    pub app_id: String,
    pub user: String,
    pub subject: String,
    /// The account's `session_epoch` at the start: a password change, lock
    /// or other revocation of its sessions ends the grant too.
    pub epoch: u64,
    pub scope: String,
    pub auth_time: Timestamp,
    #[serde(default)]
    pub nonce: Option<String>,
    pub created_at: Timestamp,
    /// The end of every refresh token of the family (`oidc.refresh_token_ttl`).
    pub expires_at: Timestamp,
    /// The hash of the one refresh token that may be used next.
    pub refresh: [u8; 32],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// An access or refresh token: which grant it belongs to, and until when.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    pub kind: TokenKind,
    pub grant: GrantId,
    /// For an access token: the scope it grants (a refresh may narrow it).
    pub scope: String,
    pub expires_at: Timestamp,
}

/// The three tables, opened together.
pub struct OAuth<T> {
    codes: T,
    grants: T,
    tokens: T,
}

impl<T> OAuth<T> {
    pub(super) fn new(codes: T, grants: T, tokens: T) -> Self {
        Self {
            codes,
            grants,
            tokens,
        }
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> OAuth<T> {
    pub fn code(&self, hash: &[u8; 32]) -> Result<Option<CodeRecord>, StoreError> {
        get_json(&self.codes, CODES, hash.as_slice())
    }

    pub fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        get_json(&self.grants, GRANTS, id.as_slice())
    }

    pub fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        get_json(&self.tokens, TOKENS, hash.as_slice())
    }

    /// Live grants (of every app), for the figures in tests and benchmarks.
    pub fn grant_count(&self) -> Result<u64, StoreError> {
        Ok(self.grants.len()?)
    }
}

/// The three tables in a write transaction.
pub type OAuthMut<'t> = OAuth<Table<'t, &'static [u8], &'static [u8]>>;

impl OAuthMut<'_> {
    pub fn put_code(&mut self, hash: &[u8; 32], code: &CodeRecord) -> Result<(), StoreError> {
        self.codes
            .insert(hash.as_slice(), encode(code).as_slice())?;
        Ok(())
    }

    pub fn put_grant(&mut self, id: &GrantId, grant: &GrantRecord) -> Result<(), StoreError> {
        self.grants
            .insert(id.as_slice(), encode(grant).as_slice())?;
        Ok(())
    }

    pub fn put_token(&mut self, hash: &[u8; 32], token: &TokenRecord) -> Result<(), StoreError> {
        self.tokens
            .insert(hash.as_slice(), encode(token).as_slice())?;
        Ok(())
    }

    pub fn remove_token(&mut self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.tokens.remove(hash.as_slice())?.is_some())
    }

    /// Ends a grant and with it every token that names it (their records go
    /// when they expire; none is honoured without its grant).
    pub fn revoke_grant(&mut self, id: &GrantId) -> Result<bool, StoreError> {
        Ok(self.grants.remove(id.as_slice())?.is_some())
    }

    /// Ends every grant and code of one app registration; how many grants.
    pub fn revoke_app(&mut self, app_id: &str) -> Result<u64, StoreError> {
        let mut revoked = 0;
        self.grants.retain(|_, v| {
            let of_app = decode::<GrantRecord>(GRANTS, v).is_ok_and(|g| g.app_id == app_id);
            revoked += u64::from(of_app);
            !of_app
        })?;
        self.codes
            .retain(|_, v| !decode::<CodeRecord>(CODES, v).is_ok_and(|c| c.app_id == app_id))?;
        Ok(revoked)
    }

    /// Deletes expired codes, grants and tokens, and tokens whose grant is
    /// gone; how many records.
    pub fn sweep(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let mut removed = 0;
        self.codes.retain(|_, v| {
            let live = decode::<CodeRecord>(CODES, v).is_ok_and(|c| now < c.expires_at);
            removed += u64::from(!live);
            live
        })?;
        self.grants.retain(|_, v| {
            let live = decode::<GrantRecord>(GRANTS, v).is_ok_and(|g| now < g.expires_at);
            removed += u64::from(!live);
            live
        })?;
        let mut dead = Vec::new();
        for entry in self.tokens.iter()? {
            let (k, v) = entry?;
            let t: TokenRecord = decode(TOKENS, v.value())?;
            if now >= t.expires_at || self.grants.get(t.grant.as_slice())?.is_none() {
                dead.push(k.value().to_vec());
            }
        }
        for hash in &dead {
            self.tokens.remove(hash.as_slice())?;
        }
        Ok(removed + dead.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use jiff::SignedDuration;

    fn grant(app_id: &str, expires_at: Timestamp) -> GrantRecord {
        GrantRecord {
            app: "wiki".into(),
            app_id: app_id.into(),
            user: "maria".into(),
            subject: "s".into(),
            epoch: 0,
            scope: "openid".into(),
            auth_time: expires_at,
            nonce: None,
            created_at: expires_at,
            expires_at,
            refresh: [1; 32],
        }
    }

    fn code(app_id: &str, expires_at: Timestamp) -> CodeRecord {
        CodeRecord {
            app: "wiki".into(),
            app_id: app_id.into(),
            user: "maria".into(),
            subject: "s".into(),
            redirect_uri: "https://wiki.agency.lan/cb".into(),
            challenge: None,
            nonce: None,
            scope: "openid".into(),
            auth_time: expires_at,
            expires_at,
            redeemed: None,
        }
    }

    fn token(grant: GrantId, expires_at: Timestamp) -> TokenRecord {
        TokenRecord {
            kind: TokenKind::Access,
            grant,
            scope: "openid".into(),
            expires_at,
        }
    }

    /// The sweep deletes what has expired and every token whose grant is
    /// gone (revoked), and keeps the rest; `revoke_app` ends one
    /// registration's grants and codes only.
    #[test]
    fn expired_and_orphaned_records_are_swept_and_apps_revoked_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = store.now();
        let later = now + SignedDuration::from_hours(1);
        let earlier = now - SignedDuration::from_secs(1);
        store
            .write(|tx| {
                let mut o = tx.oauth()?;
                o.put_grant(&[1; 16], &grant("a", later))?;
                o.put_grant(&[2; 16], &grant("a", earlier))?;
                o.put_grant(&[3; 16], &grant("b", later))?;
                o.put_code(&[1; 32], &code("a", later))?;
                o.put_code(&[2; 32], &code("a", earlier))?;
                o.put_code(&[3; 32], &code("b", later))?;
                o.put_token(&[1; 32], &token([1; 16], later))?;
                o.put_token(&[2; 32], &token([1; 16], earlier))?;
                o.put_token(&[3; 32], &token([9; 16], later))?; // no such grant
                o.put_token(&[4; 32], &token([3; 16], later))?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        // An expired grant, an expired code, an expired token and an orphan.
        let removed = store.write(|tx| tx.oauth()?.sweep(now)).unwrap();
        assert_eq!(removed, 4);
        let revoked = store.write(|tx| tx.oauth()?.revoke_app("a")).unwrap();
        assert_eq!(revoked, 1);
        store
            .read(|tx| {
                let o = tx.oauth()?;
                assert!(o.grant(&[1; 16])?.is_none());
                assert!(o.grant(&[3; 16])?.is_some());
                assert!(o.code(&[1; 32])?.is_none());
                assert!(o.code(&[3; 32])?.is_some());
                assert!(o.token(&[3; 32])?.is_none());
                assert!(o.token(&[4; 32])?.is_some());
                assert_eq!(o.grant_count()?, 1);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}
