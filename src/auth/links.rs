//! One-time links: issuing the token behind a setup, reset or confirmation link.

use jiff::{SignedDuration, Timestamp};

use crate::config::BaseUrl;
use crate::domain::email::Email;
use crate::domain::secret::Secret;
use crate::domain::token;
use crate::mail::Link;
use crate::store::tokens::{TokenKind, TokenRecord, TokensMut};
use crate::store::users::UserRecord;
use crate::store::{Read, StoreError, Write};

/// A freshly issued token and when it stops working.
pub struct Issued {
    pub token: Secret,
    pub expires_at: Timestamp,
    /// The key of its record in the token table.
    pub hash: [u8; 32],
}

impl Issued {
    /// The link as a queued message carries it: the message is dropped
    /// instead of sent once the link has been replaced, used or revoked.
    pub fn mailed(&self) -> Link {
        Link {
            expires_at: self.expires_at,
            token_hash: self.hash,
        }
    }
}

/// Issues a token of `kind` for `user`, voiding that account's older tokens of
/// the same kind (SECURITY R5). Only the token's hash is stored (R2).
pub fn issue(
    tokens: &mut TokensMut<'_>,
    kind: TokenKind,
    user: Option<&str>,
    email: Option<&Email>,
    ttl: SignedDuration,
    now: Timestamp,
) -> Result<Issued, StoreError> {
    match user {
        Some(u) => tokens.void_user(u, Some(kind))?,
        None => tokens.void_unowned(kind)?,
    };
    let token = token::new_token();
    let expires_at = now.saturating_add(ttl).unwrap_or(Timestamp::MAX);
    let record = TokenRecord {
        kind,
        user: user.map(str::to_owned),
        created_at: now,
        expires_at,
        email: email.cloned(),
    };
    let hash = token::hash(token.expose());
    tokens.put(&hash, &record)?;
    Ok(Issued {
        token,
        expires_at,
        hash,
    })
}

/// `{base_url}/{path}/{token}`: links never come from the request (SECURITY R6).
pub fn url(base_url: &BaseUrl, path: &str, token: &Secret) -> String {
    base_url.join(&format!("/{path}/{}", token.expose()))
}

/// Voids every token of one account (password change, lock, deletion).
/// The live link `token` (of any kind) and the account it was issued for,
/// if it still exists; `None` for a malformed, unknown, spent or expired one.
pub fn live(
    tx: &Read,
    token: &str,
) -> Result<Option<(TokenRecord, Option<UserRecord>)>, StoreError> {
    if !token::looks_valid(token) {
        return Ok(None);
    }
    let Some(t) = tx.tokens()?.get(&token::hash(token))? else {
        return Ok(None);
    };
    if !t.is_live(tx.now()) {
        return Ok(None);
    }
    let user = match &t.user {
        Some(key) => tx.users()?.get(key)?,
        None => None,
    };
    Ok(Some((t, user)))
}

/// Spends the live link `token` of `kind` in `tx` and reads the account it
/// was issued for. `None` when the link is not live (nothing is spent) or
/// its account is gone; the open token table comes back for further voiding.
pub fn spend<'t>(
    tx: &'t Write,
    token: &str,
    kind: TokenKind,
) -> Result<Option<(TokensMut<'t>, TokenRecord, UserRecord)>, StoreError> {
    let mut tokens = tx.tokens()?;
    let Some(t) = tokens.take_live(&token::hash(token), kind, tx.now())? else {
        return Ok(None);
    };
    let user = tx.users()?.get(t.user.as_deref().unwrap_or_default())?;
    Ok(user.map(|u| (tokens, t, u)))
}

pub fn void_all(tokens: &mut TokensMut<'_>, user_key: &str) -> Result<u64, StoreError> {
    tokens.void_user(user_key, None)
}
