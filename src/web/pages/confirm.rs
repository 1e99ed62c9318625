//! `/confirm-email/{token}`: the new address confirms itself (SECURITY P5).
//!
//! GET shows a Confirm button and changes nothing (mail scanners prefetch
//! links, and GET never mutates: C1); the POST applies the change.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

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
    let (user, new_email) = state
        .auth
        .email_change_view(token)
        .await?
        .ok_or(WebError::Gone)?;
    let ctx = context! { username => user.username.as_str(), new_email => new_email.as_str() };
    Ok(state.page(StatusCode::OK, "confirm_email.html", &csrf, None, ctx))
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    _form: Form,
) -> Result<Response, WebError> {
    if state.auth.confirm_email(token, Origin::web(ip)).await? {
        Ok(Redirect::to("/profile?done=email").into_response())
    } else {
        Err(WebError::Gone)
    }
}
