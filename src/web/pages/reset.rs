//! `/reset/{token}`: choosing a new password from an emailed link (SECURITY R3-R9).
//!
//! GET only shows the form (mail scanners prefetch links); the token is spent
//! by a successful POST.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use crate::auth::reset::ResetOutcome;
use crate::store::audit::Origin;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    csrf: Csrf,
) -> Result<Response, WebError> {
    let user = state.auth.reset_view(token).await?.ok_or(WebError::Gone)?;
    Ok(page(
        &state,
        &csrf,
        StatusCode::OK,
        user.username.as_str(),
        &[],
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    state.limit(ip, "POST /reset").await?;
    let user = state
        .auth
        .reset_view(token.clone())
        .await?
        .ok_or(WebError::Gone)?;
    let outcome = state
        .auth
        .complete_reset(
            token,
            &user,
            form.secret("password"),
            form.secret("confirm"),
            Origin::web(ip),
        )
        .await?;
    match outcome {
        ResetOutcome::Done => Ok(super::login::after_password_saved(
            &state,
            user.username.as_str(),
        )),
        ResetOutcome::Gone => Err(WebError::Gone),
        ResetOutcome::Refused(errors) => Ok(page(
            &state,
            &csrf,
            StatusCode::UNPROCESSABLE_ENTITY,
            user.username.as_str(),
            &errors,
        )),
    }
}

fn page(
    state: &AppState,
    csrf: &Csrf,
    status: StatusCode,
    username: &str,
    errors: &[String],
) -> Response {
    state.page(
        status,
        "reset.html",
        csrf,
        None,
        context! { username, errors => errors.to_vec() },
    )
}
