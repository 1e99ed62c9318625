//! One module per page.

pub mod admin;
pub mod confirm;
pub mod expired;
pub mod forgot;
pub mod forward_auth;
pub mod home;
pub mod login;
pub mod oidc;
pub mod profile;
pub mod reset;
pub mod setup;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::{AppState, WebError};

/// `GET /healthz`: 200 `ok` when the store answers.
pub async fn health(State(state): State<AppState>) -> Result<impl IntoResponse, WebError> {
    state.auth.store.blocking(|store| store.check()).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok",
    ))
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}
