//! CSRF tokens (SECURITY C1).
//!
//! A token is HMAC-SHA256(server key, the browser's session id), or, before
//! sign-in, of a random anonymous cookie set with the form. An attacker can
//! read neither cookie (HttpOnly) nor the key, so cannot forge a token; the
//! server stores nothing per form.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AppState, cookies};
use crate::domain::token;

fn sign(key: &[u8; 32], binding: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"latchkey csrf v1\0");
    mac.update(binding.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `submitted` is the token for one of this browser's cookies.
pub fn verify(state: &AppState, headers: &axum::http::HeaderMap, submitted: &str) -> bool {
    let https = state.https();
    [state.session_cookie.name(), cookies::anon_name(https)]
        .into_iter()
        .filter_map(|name| cookies::get(headers, name))
        .any(|binding| token_matches(&state.csrf_key, &binding, submitted))
}

/// Whether `submitted` is the token for `binding` under `key`, compared in
/// constant time so the comparison leaks nothing about how much matched.
pub fn token_matches(key: &[u8; 32], binding: &str, submitted: &str) -> bool {
    let expected = sign(key, binding);
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), submitted.as_bytes()).into()
}

/// The token for the page being rendered, and the cookie to set if the browser had none.
pub struct Csrf {
    pub token: String,
    pub set_cookie: Option<String>,
}

impl Csrf {
    /// A token bound to `session_id`, for pages rendered right after sign-in.
    pub fn for_session(state: &AppState, session_id: &str) -> Self {
        Self {
            token: sign(&state.csrf_key, session_id),
            set_cookie: None,
        }
    }
}

impl FromRequestParts<AppState> for Csrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let https = state.https();
        if let Some(session) = state.session_cookie.get(&parts.headers) {
            return Ok(Self {
                token: sign(&state.csrf_key, &session),
                set_cookie: None,
            });
        }
        let anon_name = cookies::anon_name(https);
        if let Some(anon) = cookies::get(&parts.headers, anon_name) {
            return Ok(Self {
                token: sign(&state.csrf_key, &anon),
                set_cookie: None,
            });
        }
        let fresh = token::new_token();
        Ok(Self {
            token: sign(&state.csrf_key, fresh.expose()),
            set_cookie: Some(cookies::set(anon_name, fresh.expose(), https)),
        })
    }
}
