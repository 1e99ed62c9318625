//! `/setup/{token}`: the first administrator, or a new user choosing a password.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use crate::auth::setup::{SetupForm, SetupOutcome, SetupView};
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
    let view = state.auth.setup_view(token).await?.ok_or(WebError::Gone)?;
    let email = view.email.clone().unwrap_or_default();
    Ok(setup_page(
        &state,
        &csrf,
        StatusCode::OK,
        &view,
        view.username.as_str(),
        &email,
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
    state.limit(ip, "POST /setup").await?;
    let view = state
        .auth
        .setup_view(token.clone())
        .await?
        .ok_or(WebError::Gone)?;
    let input = SetupForm {
        username: form.text("username").to_owned(),
        email: form.text("email").to_owned(),
        password: form.secret("password"),
        confirm: form.secret("confirm"),
    };
    match state
        .auth
        .complete_setup(token, input, Origin::web(ip))
        .await?
    {
        SetupOutcome::Done { username } => {
            Ok(super::login::after_password_saved(&state, &username))
        }
        SetupOutcome::Gone => Err(WebError::Gone),
        SetupOutcome::Invalid(errors) => {
            let username = if view.first_admin {
                form.text("username")
            } else {
                &view.username
            };
            Ok(setup_page(
                &state,
                &csrf,
                StatusCode::UNPROCESSABLE_ENTITY,
                &view,
                username,
                form.text("email"),
                &errors,
            ))
        }
    }
}

fn setup_page(
    state: &AppState,
    csrf: &Csrf,
    status: StatusCode,
    view: &SetupView,
    username: &str,
    email: &str,
    errors: &[String],
) -> Response {
    let ctx =
        context! { first_admin => view.first_admin, username, email, errors => errors.to_vec() };
    state.page(status, "setup.html", csrf, None, ctx)
}
