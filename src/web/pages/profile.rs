//! `/profile`: the User Profile page and its two forms (CONTRACT section 4; SECURITY P5).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use crate::auth::password::Change;
use crate::auth::profile::Current;
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
    let view = View {
        notice,
        ..View::default()
    };
    page(&state, &csrf, &s, StatusCode::OK, view)
}

/// What the profile page shows besides the account.
#[derive(Default)]
struct View<'a> {
    notice: Option<&'a str>,
    errors: Vec<String>,
    /// Names of the fields the errors are about (marked `aria-invalid`).
    invalid: &'a [&'a str],
    /// What was typed into the contact form, shown again on a refusal in
    /// place of the saved values (never a password).
    typed: Option<(&'a str, &'a str)>,
}

fn page(
    state: &AppState,
    csrf: &Csrf,
    s: &ActiveSession,
    status: StatusCode,
    view: View,
) -> Response {
    let typed = view
        .typed
        .map(|(email, phone)| context! { email => email.to_owned(), phone => phone.to_owned() });
    let invalid: Vec<String> = view.invalid.iter().map(|f| (*f).to_owned()).collect();
    state.page(
        status,
        "profile.html",
        csrf,
        Some(&s.user),
        context! {
            notice => view.notice.map(str::to_owned),
            errors => view.errors,
            invalid_fields => invalid,
            typed,
        },
    )
}

const WRONG_CURRENT: &str = "Your current password is not right.";

/// The refusal of a wrong current password, which counts toward the lock as
/// on the sign-in page. When it locked the account, the session has ended
/// with it (the next page is the sign-in page, which says why).
fn wrong_current(state: &AppState, answer: Current) -> Option<String> {
    match answer {
        Current::Right => None,
        Current::Wrong { tries_left: 1 } => Some(format!(
            "{WRONG_CURRENT} It counts toward the lock: one try left before your account is locked. Forgot your password? Sign out and use Forgot Password."
        )),
        Current::Wrong { tries_left } => Some(format!(
            "{WRONG_CURRENT} It counts toward the lock: {tries_left} tries left before your account is locked."
        )),
        Current::Locked => Some(format!(
            "{WRONG_CURRENT} Your account is now locked after too many failed tries, and you are signed out. Contact the helpdesk to unlock it: {}.",
            state.auth.config.helpdesk.email
        )),
    }
}

/// `POST /profile/password`: current, new and confirmation.
pub async fn password(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    let answer = state
        .auth
        .verify_current(&s.user, form.secret("current_password"), Origin::web(ip))
        .await?;
    if let Some(refusal) = wrong_current(&state, answer) {
        let view = View {
            errors: vec![refusal],
            invalid: &["current_password"],
            ..View::default()
        };
        return Ok(page(
            &state,
            &csrf,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            view,
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
        Change::Refused(errors) => {
            let view = View {
                errors,
                invalid: &["password", "confirm"],
                ..View::default()
            };
            page(&state, &csrf, &s, StatusCode::UNPROCESSABLE_ENTITY, view)
        }
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
    let phone_text = form.text("phone").trim();
    let email_text = form.text("email").trim();
    let refuse = |errors, invalid: &[&str]| {
        let view = View {
            errors,
            invalid,
            typed: Some((email_text, phone_text)),
            ..View::default()
        };
        page(&state, &csrf, &s, StatusCode::UNPROCESSABLE_ENTITY, view)
    };
    let change = ContactChange::parse(phone_text, email_text, s.user.email.as_ref());
    let (phone, new_email) = match change {
        Ok(change) => (change.phone, change.new_email),
        Err((errors, invalid)) => return Ok(refuse(errors, &invalid)),
    };
    let origin = Origin::web(ip);
    if let Some(email) = &new_email {
        let answer = state
            .auth
            .verify_current(&s.user, form.secret("current_password"), origin.clone())
            .await?;
        if let Some(refusal) = wrong_current(&state, answer) {
            let msg = format!(
                "{refusal} It is needed to change the email address to {}.",
                email.as_str()
            );
            return Ok(refuse(vec![msg], &["contact_current"]));
        }
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

/// The contact form, checked: the phone as it is to be (`None` clears it) and
/// the new address, if it differs from the current one (case aside).
struct ContactChange {
    phone: Option<Phone>,
    new_email: Option<Email>,
}

impl ContactChange {
    /// Every fault at once, as sentences and the ids of the fields at fault.
    fn parse(
        phone: &str,
        email: &str,
        current: Option<&Email>,
    ) -> Result<Self, (Vec<String>, Vec<&'static str>)> {
        let mut errors = Vec::new();
        let mut invalid = Vec::new();
        let phone = match phone {
            "" => None,
            text => Phone::parse(text)
                .map_err(|e| {
                    errors.push(format!("Phone: {e}."));
                    invalid.push("phone");
                })
                .ok(),
        };
        let current = current.map_or("", Email::as_str);
        let new_email = if email.eq_ignore_ascii_case(current) {
            None
        } else {
            Email::parse(email)
                .map_err(|e| {
                    errors.push(format!("Email: {e}."));
                    invalid.push("email");
                })
                .ok()
        };
        match errors.is_empty() {
            true => Ok(Self { phone, new_email }),
            false => Err((errors, invalid)),
        }
    }
}
