//! Session extractors: who is signed in, and what they may reach (SECURITY S4-S6).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AppState, WebError};
use crate::auth::sessions::ActiveSession;

/// Where a restricted session (expired password) is sent from every other page.
pub const FORCED_CHANGE: &str = "/password/expired";

/// The session looked up once per request by [`restrict`].
#[derive(Clone)]
struct Resolved(Option<ActiveSession>);

async fn lookup(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Option<ActiveSession>, WebError> {
    match state.session_cookie.get(headers) {
        Some(id) => Ok(state.auth.session(&id).await?),
        None => Ok(None),
    }
}

async fn current(parts: &Parts, state: &AppState) -> Result<Option<ActiveSession>, WebError> {
    match parts.extensions.get::<Resolved>() {
        Some(Resolved(session)) => Ok(session.clone()),
        None => lookup(&parts.headers, state).await,
    }
}

/// Paths a restricted session may still use (CONTRACT section 4, `/password/expired`).
/// The OpenID Connect and forward-auth endpoints answer a restricted session
/// themselves (`login_required` to the app, or the forced change and back).
fn open_to_restricted(path: &str) -> bool {
    matches!(path, "/help" | "/logout" | FORCED_CHANGE | "/healthz")
        || path.starts_with("/static/")
        || path.starts_with("/oauth2/")
        || path.starts_with("/.well-known/")
        || path.starts_with("/api/authz/")
}

/// Middleware: resolves the session once, and sends a restricted session from
/// every page but its own to the forced change (SECURITY S6).
pub async fn restrict(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.uri().path().starts_with("/static/") || req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let session = match lookup(req.headers(), &state).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if session.as_ref().is_some_and(|s| s.restricted) && !open_to_restricted(req.uri().path()) {
        return Redirect::to(FORCED_CHANGE).into_response();
    }
    req.extensions_mut().insert(Resolved(session));
    next.run(req).await
}

/// A full session; otherwise a 303 to `/login` (or to the forced change page).
/// A signed-out GET comes back to the page it asked for after sign-in.
pub struct SignedIn(pub ActiveSession);

/// Where a request without a session is sent to sign in.
fn sign_in_first(parts: &Parts) -> Response {
    let back = matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    )
    .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
    .flatten();
    Redirect::to(&super::return_to::login_url(back.unwrap_or("/"))).into_response()
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current(parts, state).await {
            Ok(Some(s)) if s.restricted => Err(Redirect::to(FORCED_CHANGE).into_response()),
            Ok(Some(s)) => Ok(SignedIn(s)),
            Ok(None) => Err(sign_in_first(parts)),
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
