//! `/login` and `/logout` (CONTRACT section 4).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use crate::auth::AuthError;
use crate::auth::login::SignIn;
use crate::domain::secret::Secret;
use crate::domain::time_left::human_duration;
use crate::store::audit::{Event, Origin};
use crate::store::sessions::EndReason;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::session::{FORCED_CHANGE, MaybeSession};
use crate::web::{AppState, WebError, cookies, errors::RETRY_AFTER_SECS, notice};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
    /// Forward-auth's return address: the guarded app's URL.
    rd: Option<String>,
    /// Set by an app's `prompt=login` or `max_age`: ask for the password
    /// even when a session exists.
    fresh: Option<String>,
    /// An app's `login_hint`: the user name to fill in.
    hint: Option<String>,
}

/// `GET /login`. Says why the browser's last session ended, or that its
/// password was just saved (with the user name filled in); each is shown once.
pub async fn show(
    State(state): State<AppState>,
    session: MaybeSession,
    csrf: Csrf,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Result<Response, WebError> {
    let next = (q.next.as_deref().or(q.rd.as_deref()))
        .and_then(|n| state.return_address(n))
        .unwrap_or("");
    if session.full().is_some() && q.fresh.is_none() {
        return Ok(Redirect::to(if next.is_empty() { "/" } else { next }).into_response());
    }
    let https = state.https();
    let mut clear = Vec::new();
    let mut view = LoginView {
        next,
        ..LoginView::default()
    };
    // Only a page a person sees spends the one-time messages: a script's
    // fetch that was redirected here (the profile pop-up after its session
    // ended) navigates to this page next, and that page must still say why.
    let seen = is_navigation(&headers);
    // The stale session cookie stays: the page's CSRF token is bound to it,
    // and signing in replaces it. The reason is forgotten once read.
    if seen
        && session.0.is_none()
        && let Some(id) = state.session_cookie.get(&headers)
        && let Some(reason) = state.auth.take_end_reason(&id).await?
    {
        view.ended = Some(ended_message(&state, reason));
    }
    let saved = notice::saved_username(&state.csrf_key, &headers, https, state.auth.store.now());
    if seen && cookies::get(&headers, notice::name(https)).is_some() {
        clear.push(cookies::clear(notice::name(https), https));
    }
    if let Some(name) = &saved {
        view.username = name;
        view.saved = true;
    } else if let Some(hint) = q.hint.as_deref() {
        view.username = hint;
    }
    let mut res = login_page(&state, &csrf, StatusCode::OK, &view);
    super::oidc::allow_form_target(&state, next, &mut res).await;
    for cookie in clear {
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
        );
    }
    Ok(res)
}

/// Whether the request loads a page into a browser tab: `Sec-Fetch-Mode:
/// navigate`, or no such header (older browsers, tools).
fn is_navigation(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-mode")
        .is_none_or(|mode| mode.as_bytes() == b"navigate")
}

/// What the sign-in page says about a session that ended without a sign-out:
/// the kind (which decides whether the helpdesk card shows) and one sentence.
/// Only the browser that held the session sees it (the reason is filed under
/// the hash of its cookie), and it names no account.
fn ended_message(state: &AppState, reason: EndReason) -> (&'static str, String) {
    let session = &state.auth.config.session;
    match reason {
        EndReason::LicenseExpired => (
            "license",
            "You were signed out because your license has expired. Contact the helpdesk to renew it.".into(),
        ),
        EndReason::Locked => (
            "locked",
            "You were signed out because your account was locked. Contact the helpdesk to unlock it.".into(),
        ),
        EndReason::Disabled => (
            "disabled",
            "You were signed out because your account was disabled. Contact the helpdesk.".into(),
        ),
        EndReason::Deleted => (
            "deleted",
            "You were signed out because your account was removed.".into(),
        ),
        EndReason::PasswordChanged => (
            "password_changed",
            "You were signed out because your password was changed. Sign in with the new password.".into(),
        ),
        EndReason::ForceChange => (
            "force_change",
            "You were signed out because an administrator asked you to choose a new password. Sign in to choose it.".into(),
        ),
        EndReason::IdleTimeout => (
            "idle",
            format!(
                "You were signed out after {} without activity. Sign in again to go on.",
                human_duration(session.idle_timeout.as_duration())
            ),
        ),
        EndReason::AbsoluteTimeout => (
            "absolute",
            format!(
                "You were signed out because a session lasts at most {}. Sign in again to go on.",
                human_duration(session.absolute_timeout.as_duration())
            ),
        ),
        EndReason::Revoked => (
            "revoked",
            "You were signed out because your session was ended. Sign in again to go on.".into(),
        ),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let username = form.text("username");
    let next = state.return_address(form.text("next")).unwrap_or("");
    let refused = |r: Refusal| {
        let view = LoginView {
            username,
            next,
            error: Some((r.kind, r.message)),
            one_try_left: r.one_try_left,
            ..LoginView::default()
        };
        login_page(&state, &csrf, r.status, &view)
    };
    if !state.limiter.allow(ip) {
        let origin = Origin::web(ip);
        let detail = "POST /login".to_owned();
        state
            .auth
            .record(Event::RateLimited, None, origin, detail)
            .await?;
        return Ok(refused(Refusal::RATE_LIMITED));
    }
    let outcome = state
        .auth
        .sign_in(username, form.secret("password"), Origin::web(ip))
        .await;
    let refusal = match outcome {
        Ok(SignIn::Success {
            session_id,
            must_change,
        }) => {
            let to = match (must_change, next) {
                (true, "") => FORCED_CHANGE.to_owned(),
                // After the change the browser goes on to the app that sent it.
                (true, next) => format!(
                    "{FORCED_CHANGE}?next={}",
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                ),
                (false, "") => "/".to_owned(),
                (false, next) => next.to_owned(),
            };
            return session_started(&state, &session_id, &to);
        }
        Ok(SignIn::Failed { tries_left }) => Refusal::failed(tries_left),
        Ok(SignIn::Locked) => Refusal::LOCKED,
        Ok(SignIn::LicenseExpired) => Refusal::LICENSE_EXPIRED,
        Ok(SignIn::Disabled) => Refusal::DISABLED,
        Err(AuthError::Busy(_)) => {
            let mut res = refused(Refusal::BUSY);
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            return Ok(res);
        }
        Err(e) => return Err(e.into()),
    };
    let mut res = refused(refusal);
    super::oidc::allow_form_target(&state, next, &mut res).await;
    Ok(res)
}

/// How a sign-in that did not start a session is answered.
struct Refusal {
    status: StatusCode,
    /// Names the error for the page (`login.html`).
    kind: &'static str,
    message: &'static str,
    one_try_left: bool,
}

impl Refusal {
    const RATE_LIMITED: Refusal = Refusal::told(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many sign-in attempts from your network. Wait a minute and try again.",
    );
    const LOCKED: Refusal = Refusal::told(
        StatusCode::FORBIDDEN,
        "locked",
        "Login failed! Your account is locked after too many failed sign-ins. Contact the helpdesk to unlock it.",
    );
    const LICENSE_EXPIRED: Refusal = Refusal::told(
        StatusCode::FORBIDDEN,
        "license",
        "Login failed! Your license has expired. Contact the helpdesk to renew it.",
    );
    const DISABLED: Refusal = Refusal::told(
        StatusCode::FORBIDDEN,
        "disabled",
        "Login failed! Your account is disabled. Contact the helpdesk.",
    );
    const BUSY: Refusal = Refusal::told(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "The service is busy. Please try again in a moment.",
    );

    /// A refusal that is the same for every attempt.
    const fn told(status: StatusCode, kind: &'static str, message: &'static str) -> Refusal {
        Refusal {
            status,
            kind,
            message,
            one_try_left: false,
        }
    }

    fn failed(tries_left: u32) -> Refusal {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            kind: "failed",
            message: "Login failed!",
            one_try_left: tries_left == 1,
        }
    }
}

/// The 303 to `to` that hands the browser its new session cookie.
fn session_started(state: &AppState, session_id: &Secret, to: &str) -> Result<Response, WebError> {
    let cookie = state.session_cookie.set(session_id.expose());
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
    );
    Ok(res)
}

/// The 303 to `/login` after a password was saved through a setup or reset
/// link: the sign-in page then says so and fills in the user name.
pub fn after_password_saved(state: &AppState, username: &str) -> Response {
    let mut res = Redirect::to("/login").into_response();
    let cookie = notice::password_saved(
        &state.csrf_key,
        username,
        state.https(),
        state.auth.store.now(),
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// What the sign-in page shows besides its form.
#[derive(Default)]
struct LoginView<'a> {
    username: &'a str,
    /// The checked return path, carried through the form.
    next: &'a str,
    error: Option<(&'a str, &'a str)>,
    one_try_left: bool,
    /// Why this browser's last session ended.
    ended: Option<(&'static str, String)>,
    /// The password of `username` was just saved.
    saved: bool,
}

fn login_page(state: &AppState, csrf: &Csrf, status: StatusCode, view: &LoginView) -> Response {
    let error = view.error.map(|(kind, message)| context! { kind, message });
    let ended = view
        .ended
        .as_ref()
        .map(|(kind, message)| context! { kind => *kind, message });
    let ctx = context! {
        username => view.username,
        next => view.next,
        error,
        ended,
        saved => view.saved,
        one_try_left => view.one_try_left,
    };
    state.page(status, "login.html", csrf, None, ctx)
}

/// `POST /logout`: ends the session server-side and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    _form: Form,
) -> Result<Response, WebError> {
    if let Some(s) = session.0 {
        state
            .auth
            .end_session(s.id_hash, s.user.username.into(), Origin::web(ip))
            .await?;
    }
    let mut res = Redirect::to("/login").into_response();
    let cookie = state.session_cookie.clear();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
    );
    Ok(res)
}
