//! `/forgot`: the no-script page behind the Forgot Password pop-up (SECURITY L3, R9).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use crate::store::audit::Origin;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

pub async fn show(State(state): State<AppState>, csrf: Csrf) -> Response {
    page(&state, &csrf, false, "")
}

/// Always the same 200 page: an existing, unknown, locked or mail-less name,
/// or an address over its rate limit, all look alike from outside.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let username = form.text("username");
    let allowed = state.limiter.allow(ip);
    state
        .auth
        .forgot(username, Origin::web(ip), allowed)
        .await?;
    Ok(page(&state, &csrf, true, username))
}

fn page(state: &AppState, csrf: &Csrf, sent: bool, username: &str) -> Response {
    state.page(
        StatusCode::OK,
        "forgot.html",
        csrf,
        None,
        context! { sent, username },
    )
}
