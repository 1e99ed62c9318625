//! `/password/expired`: the one page a restricted session may use (SECURITY P4, S6).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::auth::password::Change;
use crate::auth::sessions::ActiveSession;
use crate::store::audit::{Event, Origin};
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::session::MaybeSession;
use crate::web::{AppState, WebError};

pub async fn show(State(state): State<AppState>, session: MaybeSession, csrf: Csrf) -> Response {
    match session.0 {
        None => Redirect::to("/login").into_response(),
        Some(s) if !s.restricted => Redirect::to("/").into_response(),
        Some(s) => page(&state, &csrf, &s, StatusCode::OK, &[]),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let s = match session.0 {
        None => return Ok(Redirect::to("/login").into_response()),
        Some(s) if !s.restricted => return Ok(Redirect::to("/").into_response()),
        Some(s) => s,
    };
    let change = state
        .auth
        .change_password(
            &s.user,
            form.secret("password"),
            form.secret("confirm"),
            Event::PasswordExpiredChange,
            Origin::web(ip),
        )
        .await?;
    match change {
        Change::Refused(errors) => Ok(page(
            &state,
            &csrf,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
        )),
        Change::Done { session_id } => Ok(state.redirect_with_session("/", &session_id)),
    }
}

fn page(
    state: &AppState,
    csrf: &Csrf,
    s: &ActiveSession,
    status: StatusCode,
    errors: &[String],
) -> Response {
    let reason = if s.user.must_change {
        "An administrator asked you to choose a new password."
    } else {
        "Your password has expired."
    };
    let ctx = context! { reason, errors => errors.to_vec() };
    state.page(status, "expired.html", csrf, None, ctx)
}
