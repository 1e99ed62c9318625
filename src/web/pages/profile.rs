//! `/profile`: the User Profile page and its two forms (CONTRACT section 4; SECURITY P5).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use crate::auth::password::Change;
use crate::auth::sessions::ActiveSession;
use crate::domain::email::Email;
use crate::domain::phone::Phone;
use crate::store::audit::{Event, Origin};
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::session::SignedIn;
use crate::web::{AppState, WebError};

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("password") => Some("Your password was changed. Every other session was signed out."),
        Some("contact") => Some("Your contact details were saved."),
        Some("email-sent") => Some(
            "We mailed a confirmation link to the new address. It takes effect when you open it.",
        ),
        Some("email") => Some("Your new email address is confirmed."),
        _ => None,
    };
    page(&state, &csrf, &s, StatusCode::OK, notice, &[])
}

fn page(
    state: &AppState,
    csrf: &Csrf,
    s: &ActiveSession,
    status: StatusCode,
    notice: Option<&str>,
    errors: &[String],
) -> Response {
    state.page(
        status,
        "profile.html",
        csrf,
        Some(&s.user),
        context! { notice, errors => errors.to_vec() },
    )
}

const WRONG_CURRENT: &str = "Your current password is not right.";

/// `POST /profile/password`: current, new and confirmation.
pub async fn password(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    if !state
        .auth
        .verify_current(&s.user, form.secret("current_password"), Origin::web(ip))
        .await?
    {
        return Ok(page(
            &state,
            &csrf,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &[WRONG_CURRENT.into()],
        ));
    }
    let change = state
        .auth
        .change_password(
            &s.user,
            form.secret("password"),
            form.secret("confirm"),
            Event::PasswordChanged,
            Origin::web(ip),
        )
        .await?;
    Ok(match change {
        Change::Refused(errors) => page(
            &state,
            &csrf,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &errors,
        ),
        Change::Done { session_id } => {
            state.redirect_with_session("/profile?done=password", &session_id)
        }
    })
}

/// `POST /profile/contact`: the phone changes at once; a new email only once confirmed.
pub async fn contact(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let mut errors = Vec::new();
    let phone = match form.text("phone").trim() {
        "" => None,
        text => match Phone::parse(text) {
            Ok(p) => Some(p.as_str().to_owned()),
            Err(e) => {
                errors.push(format!("Phone: {e}."));
                None
            }
        },
    };
    let current = s.user.email.as_deref().unwrap_or("");
    let email_text = form.text("email").trim();
    let new_email = if email_text.eq_ignore_ascii_case(current) {
        None
    } else {
        match Email::parse(email_text) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(format!("Email: {e}."));
                None
            }
        }
    };
    if !errors.is_empty() {
        return Ok(page(
            &state,
            &csrf,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &errors,
        ));
    }
    let origin = Origin::web(ip);
    if let Some(email) = &new_email
        && !state
            .auth
            .verify_current(&s.user, form.secret("current_password"), origin.clone())
            .await?
    {
        let msg = format!(
            "{WRONG_CURRENT} It is needed to change the email address to {}.",
            email.as_str()
        );
        return Ok(page(
            &state,
            &csrf,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &[msg],
        ));
    }
    if phone != s.user.phone {
        state.auth.set_phone(&s.user, phone, origin.clone()).await?;
    }
    let done = match new_email {
        Some(email) => {
            state
                .auth
                .request_email_change(&s.user, email, origin)
                .await?;
            "email-sent"
        }
        None => "contact",
    };
    Ok(Redirect::to(&format!("/profile?done={done}")).into_response())
}
