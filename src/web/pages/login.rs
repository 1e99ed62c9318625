//! `/login` and `/logout` (CONTRACT section 4).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::auth::AuthError;
use crate::auth::login::SignIn;
use crate::store::audit::{Event, Origin};
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::session::{FORCED_CHANGE, MaybeSession};
use crate::web::{AppState, WebError, cookies, errors::RETRY_AFTER_SECS};

pub async fn show(State(state): State<AppState>, session: MaybeSession, csrf: Csrf) -> Response {
    if session.full().is_some() {
        return Redirect::to("/").into_response();
    }
    login_page(&state, &csrf, StatusCode::OK, "", None, false)
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let username = form.text("username");
    if !state.limiter.allow(ip) {
        state
            .auth
            .record(
                Event::RateLimited,
                None,
                Origin::web(ip),
                "POST /login".into(),
            )
            .await?;
        let msg = "Too many sign-in attempts from your network. Wait a minute and try again.";
        return Ok(login_page(
            &state,
            &csrf,
            StatusCode::TOO_MANY_REQUESTS,
            username,
            Some(("rate_limited", msg)),
            false,
        ));
    }
    let outcome = state
        .auth
        .sign_in(username, form.secret("password"), Origin::web(ip))
        .await;
    let (status, kind, message, one_try_left) = match outcome {
        Ok(SignIn::Success {
            session_id,
            must_change,
        }) => {
            let to = if must_change { FORCED_CHANGE } else { "/" };
            let mut res = Redirect::to(to).into_response();
            let cookie = cookies::set(
                cookies::session_name(state.https()),
                session_id.expose(),
                state.https(),
            );
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
            );
            return Ok(res);
        }
        Ok(SignIn::Failed { tries_left }) => (
            StatusCode::UNAUTHORIZED,
            "failed",
            "Login failed!",
            tries_left == 1,
        ),
        Ok(SignIn::Locked) => (
            StatusCode::FORBIDDEN,
            "locked",
            "Login failed! Your account is locked after too many failed sign-ins. Contact the helpdesk to unlock it.",
            false,
        ),
        Ok(SignIn::LicenseExpired) => (
            StatusCode::FORBIDDEN,
            "license",
            "Login failed! Your license has expired. Contact the helpdesk to renew it.",
            false,
        ),
        Ok(SignIn::Disabled) => (
            StatusCode::FORBIDDEN,
            "disabled",
            "Login failed! Your account is disabled. Contact the helpdesk.",
            false,
        ),
        Err(AuthError::Busy(_)) => {
            let msg = "The service is busy. Please try again in a moment.";
            let mut res = login_page(
                &state,
                &csrf,
                StatusCode::SERVICE_UNAVAILABLE,
                username,
                Some(("busy", msg)),
                false,
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            return Ok(res);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(login_page(
        &state,
        &csrf,
        status,
        username,
        Some((kind, message)),
        one_try_left,
    ))
}

fn login_page(
    state: &AppState,
    csrf: &Csrf,
    status: StatusCode,
    username: &str,
    error: Option<(&str, &str)>,
    one_try_left: bool,
) -> Response {
    let error = error.map(|(kind, message)| context! { kind, message });
    let ctx = context! { username, error, one_try_left };
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
            .end_session(s.id_hash, s.user.username, Origin::web(ip))
            .await?;
    }
    let mut res = Redirect::to("/login").into_response();
    let cookie = cookies::clear(cookies::session_name(state.https()), state.https());
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
    );
    Ok(res)
}
