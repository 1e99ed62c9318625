//! One-time links: issuing the token behind a setup, reset or confirmation link.

use jiff::{SignedDuration, Timestamp};

use crate::config::BaseUrl;
use crate::domain::email::Email;
use crate::domain::secret::Secret;
use crate::domain::token;
use crate::store::StoreError;
use crate::store::tokens::{TokenKind, TokenRecord, TokensMut};

/// A freshly issued token and when it stops working.
pub struct Issued {
    pub token: Secret,
    pub expires_at: Timestamp,
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
    tokens.put(&token::hash(token.expose()), &record)?;
    Ok(Issued { token, expires_at })
}

/// `{base_url}/{path}/{token}`: links never come from the request (SECURITY R6).
pub fn url(base_url: &BaseUrl, path: &str, token: &Secret) -> String {
    base_url.join(&format!("/{path}/{}", token.expose()))
}

/// Voids every token of one account (password change, lock, deletion).
pub fn void_all(tokens: &mut TokensMut<'_>, user_key: &str) -> Result<u64, StoreError> {
    tokens.void_user(user_key, None)
}
