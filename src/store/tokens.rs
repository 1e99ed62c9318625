//! One-time tokens (setup, reset, email confirmation), keyed by their SHA-256.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode, get_json};

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
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    pub kind: TokenKind,
    /// Canonical key of the account; `None` for [`TokenKind::FirstAdmin`].
    pub user: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl TokenRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

pub fn get(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    hash: &[u8; 32],
) -> Result<Option<TokenRecord>, StoreError> {
    get_json(table, NAME, hash.as_slice())
}

pub fn put(
    table: &mut Table<&[u8], &[u8]>,
    hash: &[u8; 32],
    token: &TokenRecord,
) -> Result<(), StoreError> {
    table.insert(hash.as_slice(), encode(token).as_slice())?;
    Ok(())
}

/// Removes a token; true when it was there (so exactly one caller can spend it).
pub fn take(table: &mut Table<&[u8], &[u8]>, hash: &[u8; 32]) -> Result<bool, StoreError> {
    Ok(table.remove(hash.as_slice())?.is_some())
}

/// Voids every token matching `pred` (e.g. all tokens of one account), returning how many.
pub fn void_where(
    table: &mut Table<&[u8], &[u8]>,
    mut pred: impl FnMut(&TokenRecord) -> bool,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    table.retain(|_, v| match serde_json::from_slice::<TokenRecord>(v) {
        Ok(t) if !pred(&t) => true,
        _ => {
            removed += 1;
            false
        }
    })?;
    Ok(removed)
}
