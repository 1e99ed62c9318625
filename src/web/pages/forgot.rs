//! `/forgot`: the no-script page behind the Forgot Password pop-up.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use crate::web::AppState;
use crate::web::csrf::Csrf;

pub async fn show(State(state): State<AppState>, csrf: Csrf) -> Response {
    state.page(
        StatusCode::OK,
        "forgot.html",
        &csrf,
        None,
        context! { sent => false, username => "" },
    )
}
