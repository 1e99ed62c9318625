//! Session extractors: who is signed in, and what they may reach (SECURITY S4-S6).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AppState, WebError, cookies};
use crate::auth::sessions::ActiveSession;

/// Where a restricted session (expired password) is sent from every other page.
pub const FORCED_CHANGE: &str = "/password/expired";

async fn current(parts: &Parts, state: &AppState) -> Result<Option<ActiveSession>, WebError> {
    let name = cookies::session_name(state.https());
    match cookies::get(&parts.headers, name) {
        Some(id) => Ok(state.auth.session(&id).await?),
        None => Ok(None),
    }
}

/// A full session; otherwise a 303 to `/login` (or to the forced change page).
pub struct SignedIn(pub ActiveSession);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current(parts, state).await {
            Ok(Some(s)) if s.restricted => Err(Redirect::to(FORCED_CHANGE).into_response()),
            Ok(Some(s)) => Ok(SignedIn(s)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Any live session, restricted or not, or none (pages open to everyone).
pub struct MaybeSession(pub Option<ActiveSession>);

impl MaybeSession {
    /// The session when it may see ordinary pages.
    pub fn full(&self) -> Option<&ActiveSession> {
        self.0.as_ref().filter(|s| !s.restricted)
    }
}

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        current(parts, state)
            .await
            .map(MaybeSession)
            .map_err(IntoResponse::into_response)
    }
}
