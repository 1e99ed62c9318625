//! `/password/expired`: the one page a restricted session may use (SECURITY P4, S6).

use axum::extract::{Query, State};
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

#[derive(serde::Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /password/expired[?next=PATH]`: `next` (checked) is where the
/// browser goes once the password is changed, such as an app's sign-in.
pub async fn show(
    State(state): State<AppState>,
    session: MaybeSession,
    csrf: Csrf,
    Query(q): Query<Next>,
) -> Response {
    let next = q
        .next
        .as_deref()
        .and_then(|n| state.return_address(n))
        .unwrap_or("");
    match session.0 {
        None => Redirect::to("/login").into_response(),
        Some(s) if !s.restricted => {
            Redirect::to(if next.is_empty() { "/" } else { next }).into_response()
        }
        Some(s) => {
            let mut res = page(&state, &csrf, &s, StatusCode::OK, &[], next);
            super::oidc::allow_form_target(&state, next, &mut res).await;
            res
        }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let next = state.return_address(form.text("next")).unwrap_or("/");
    let s = match session.0 {
        None => return Ok(Redirect::to("/login").into_response()),
        Some(s) if !s.restricted => return Ok(Redirect::to(next).into_response()),
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
        Change::Refused(errors) => {
            let mut res = page(
                &state,
                &csrf,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
                form.text("next"),
            );
            super::oidc::allow_form_target(&state, next, &mut res).await;
            Ok(res)
        }
        Change::Done { session_id } => Ok(state.redirect_with_session(next, &session_id)),
    }
}

fn page(
    state: &AppState,
    csrf: &Csrf,
    s: &ActiveSession,
    status: StatusCode,
    errors: &[String],
    next: &str,
) -> Response {
    let next = state.return_address(next).unwrap_or("");
    let reason = if s.user.must_change {
        "An administrator asked you to choose a new password."
    } else {
        "Your password has expired."
    };
    let ctx = context! { reason, errors => errors.to_vec(), next };
    state.page(status, "expired.html", csrf, None, ctx)
}
