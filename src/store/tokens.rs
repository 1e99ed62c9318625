//! One-time tokens (setup, reset, email confirmation), keyed by their SHA-256.

use jiff::Timestamp;
use redb::{MultimapTable, ReadableMultimapTable, ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, decode, encode, get_json};
use crate::domain::email::Email;

const NAME: &str = "tokens";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Lets whoever holds it create the first administrator (empty data file only).
    FirstAdmin,
    /// Lets a new account choose its first password.
    Setup,
    /// Lets an account choose a new password (Forgot Password, `reset-link`).
    Reset,
    /// Confirms a new email address (the address is in [`TokenRecord::email`]).
    ConfirmEmail,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    pub kind: TokenKind,
    /// Canonical key of the account; `None` for [`TokenKind::FirstAdmin`].
    pub user: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The new address, for [`TokenKind::ConfirmEmail`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

impl TokenRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The token table and its per-account index, opened together so they can
/// never disagree.
pub struct Tokens<T, M> {
    tokens: T,
    by_user: M,
}

impl<T, M> Tokens<T, M> {
    pub(super) fn new(tokens: T, by_user: M) -> Self {
        Self { tokens, by_user }
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>, M> Tokens<T, M> {
    pub fn get(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        get_json(&self.tokens, NAME, hash.as_slice())
    }
}

/// The tokens in a write transaction.
pub type TokensMut<'t> =
    Tokens<Table<'t, &'static [u8], &'static [u8]>, MultimapTable<'t, &'static str, &'static [u8]>>;

impl TokensMut<'_> {
    pub fn put(&mut self, hash: &[u8; 32], token: &TokenRecord) -> Result<(), StoreError> {
        self.tokens
            .insert(hash.as_slice(), encode(token).as_slice())?;
        if let Some(user) = &token.user {
            self.by_user.insert(user.as_str(), hash.as_slice())?;
        }
        Ok(())
    }

    /// Removes a token and returns it: of many callers, exactly one gets it (SECURITY R3).
    pub fn take(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let Some(bytes) = self.tokens.remove(hash.as_slice())? else {
            return Ok(None);
        };
        let token: TokenRecord = decode(NAME, bytes.value())?;
        drop(bytes);
        if let Some(user) = &token.user {
            self.by_user.remove(user.as_str(), hash.as_slice())?;
        }
        Ok(Some(token))
    }

    /// Spends the token behind `hash` if it is a live one of `kind`; `None`
    /// (and nothing spent) for any other.
    pub fn take_live(
        &mut self,
        hash: &[u8; 32],
        kind: TokenKind,
        now: Timestamp,
    ) -> Result<Option<TokenRecord>, StoreError> {
        match self.get(hash)? {
            Some(t) if t.kind == kind && t.is_live(now) => self.take(hash),
            _ => Ok(None),
        }
    }

    /// Voids one account's tokens (of one kind, or all); returns how many.
    pub fn void_user(&mut self, user: &str, kind: Option<TokenKind>) -> Result<u64, StoreError> {
        let mut hashes = Vec::new();
        for entry in self.by_user.get(user)? {
            let hash: [u8; 32] = entry?.value().try_into().map_err(|_| StoreError::Corrupt {
                table: "user_tokens",
                detail: "a token hash has the wrong length".into(),
            })?;
            hashes.push(hash);
        }
        let mut removed = 0;
        for hash in hashes {
            let matches = match (kind, self.get(&hash)?) {
                (_, None) => true, // a dangling index entry: drop it
                (None, Some(_)) => true,
                (Some(k), Some(t)) => t.kind == k,
            };
            if matches {
                self.tokens.remove(hash.as_slice())?;
                self.by_user.remove(user, hash.as_slice())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Voids tokens that belong to no account (the first-administrator link).
    pub fn void_unowned(&mut self, kind: TokenKind) -> Result<u64, StoreError> {
        let mut removed = 0;
        self.tokens
            .retain(|_, v| match serde_json::from_slice::<TokenRecord>(v) {
                Ok(t) if t.user.is_none() && t.kind == kind => {
                    removed += 1;
                    false
                }
                _ => true,
            })?;
        Ok(removed)
    }

    /// Deletes every token expired at `now`, with its index entry.
    pub fn sweep(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let mut dead = Vec::new();
        for entry in self.tokens.iter()? {
            let (k, v) = entry?;
            let t: TokenRecord = decode(NAME, v.value())?;
            if !t.is_live(now) {
                dead.push(k.value().to_vec());
            }
        }
        for hash in &dead {
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                self.take(&hash)?;
            }
        }
        Ok(dead.len() as u64)
    }
}
