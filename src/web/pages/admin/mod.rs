//! `/admin`: the helpdesk console (CONTRACT section 8; SECURITY A1-A3).
//!
//! Every page is for roles `helpdesk` and `admin` only; anyone else signed
//! in gets the same 404 as an unknown path. Every action is a POST with the
//! CSRF token ([`Form`]), runs the very [`Request`] the CLI sends over the
//! control socket (one code path, so the two cannot disagree), is audited
//! with the actor as operator (`web:NAME`), and needs the actor's password
//! entered within the last ten minutes (A2).

mod accounts;
mod add;
mod apps;
mod audit;
mod export;
mod licenses;
mod mail;

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};
use minijinja::{Value, context};

pub use accounts::{account, accounts, act, locked};
pub use add::{add_one, import, show as add_page};
pub use apps::{app_action, apps};
pub use audit::{audit, audit_csv};
pub use licenses::{licenses, licenses_csv, renew_agency};
pub use mail::{mail, retry};

use crate::auth::profile::Current;
use crate::auth::sessions::ActiveSession;
use crate::control::ops::{Acting, Ops};
use crate::control::protocol::{OpError, Request, Response as OpResponse};
use crate::domain::role::Role;
use crate::store::audit::Origin;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::session::SignedIn;
use crate::web::{AppState, WebError};

/// How long an entered password lets the actor act without entering it again (A2).
pub const PASSWORD_FRESH_FOR: SignedDuration = SignedDuration::from_secs(10 * 60);

/// The form field that carries the actor's password when it is asked again.
const ACTOR_PASSWORD: &str = "actor_password";

/// A signed-in member of staff: role `helpdesk` or `admin` (A1).
pub struct Staff(pub ActiveSession);

impl Staff {
    pub fn role(&self) -> Role {
        self.0.user.role
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Role::Admin
    }

    fn name(&self) -> &str {
        self.0.user.username.as_str()
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let SignedIn(session) = SignedIn::from_request_parts(parts, state).await?;
        match session.user.role {
            Role::Helpdesk | Role::Admin => Ok(Staff(session)),
            Role::User => Err(WebError::NotFound.into_response()),
        }
    }
}

/// An administrator (the apps page); helpdesk staff get the 404 too.
pub struct Admin(pub Staff);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let staff = Staff::from_request_parts(parts, state).await?;
        match staff.is_admin() {
            true => Ok(Admin(staff)),
            false => Err(WebError::NotFound.into_response()),
        }
    }
}

/// Runs one admin request as `staff`, as the control socket would run it.
async fn run(
    state: &AppState,
    staff: &Staff,
    ip: IpAddr,
    request: Request,
) -> Result<OpResponse, OpError> {
    let auth = state.auth.clone();
    let origin = Origin::console(staff.name(), ip);
    let acting = Acting::Staff(staff.role());
    tracing::info!(operator = %staff.name(), op = request.name(), "console command");
    let outcome = tokio::task::spawn_blocking(move || {
        let ops = Ops {
            store: &auth.store,
            config: &auth.config,
            mailer: &auth.mailer,
            keys: &auth.keys,
            origin,
            acting,
        };
        ops.execute(request)
    })
    .await;
    outcome.unwrap_or(Err(OpError::ServerFailed))
}

/// The status a refused request is answered with.
fn refusal_status(e: &OpError) -> StatusCode {
    match e {
        OpError::NotPermitted(_) => StatusCode::FORBIDDEN,
        OpError::NoSuchUser(_)
        | OpError::NoSuchApp(_)
        | OpError::NoSuchAgency(_)
        | OpError::NoSuchMail(_) => StatusCode::NOT_FOUND,
        OpError::Store(_) | OpError::ServerFailed | OpError::Mail(_) | OpError::Backup(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Where a stale password stands after the form was read.
enum Fresh {
    /// Entered within [`PASSWORD_FRESH_FOR`], or just now and right.
    Yes,
    /// The answer to give instead of acting (the password page, or the
    /// sign-in page when a wrong password locked the actor out).
    No(Response),
}

/// SECURITY A2: the actor's password within the last ten minutes, or the
/// page that asks for it again (replaying the form, so nothing typed is lost).
/// A wrong password counts toward the actor's own lockout.
async fn fresh_password(
    state: &AppState,
    staff: &Staff,
    ip: IpAddr,
    csrf: &Csrf,
    form: &Form,
    action: &str,
) -> Result<Fresh, WebError> {
    let now = state.auth.store.now();
    if now.duration_since(staff.0.password_at) < PASSWORD_FRESH_FOR {
        return Ok(Fresh::Yes);
    }
    let typed = form.secret(ACTOR_PASSWORD);
    if typed.expose().is_empty() {
        let message =
            "Enter your password to continue: it was last entered more than 10 minutes ago.";
        return Ok(Fresh::No(confirm_page(
            state, staff, csrf, form, action, message,
        )));
    }
    let answer = state
        .auth
        .verify_current(&staff.0.user, typed, Origin::console(staff.name(), ip))
        .await?;
    let message = match answer {
        Current::Right => {
            state.auth.note_password_entered(staff.0.id_hash).await?;
            return Ok(Fresh::Yes);
        }
        Current::Locked => {
            return Ok(Fresh::No(Redirect::to("/login").into_response()));
        }
        Current::Wrong { tries_left: 1 } => {
            "That password is not right. One try left before your account is locked.".to_owned()
        }
        Current::Wrong { tries_left } => format!(
            "That password is not right. {tries_left} tries left before your account is locked."
        ),
    };
    Ok(Fresh::No(confirm_page(
        state, staff, csrf, form, action, &message,
    )))
}

/// The password page: the form as it was sent, in hidden fields, plus the password.
fn confirm_page(
    state: &AppState,
    staff: &Staff,
    csrf: &Csrf,
    form: &Form,
    action: &str,
    message: &str,
) -> Response {
    let fields: Vec<Value> = form
        .fields()
        .filter(|(name, _)| *name != "csrf_token" && *name != ACTOR_PASSWORD)
        .map(|(name, value)| context! { name, value })
        .collect();
    page(
        state,
        staff,
        csrf,
        StatusCode::FORBIDDEN,
        "admin/confirm.html",
        context! { fields, action, message, nav => "" },
    )
}

/// Renders a console page (never kept in the page cache: it shows live state).
fn page(
    state: &AppState,
    staff: &Staff,
    csrf: &Csrf,
    status: StatusCode,
    template: &str,
    ctx: Value,
) -> Response {
    let now = state.auth.store.now();
    let console = context! {
        is_admin => staff.is_admin(),
        role => staff.role().as_str(),
        password_fresh => now.duration_since(staff.0.password_at) < PASSWORD_FRESH_FOR,
    };
    state.fresh_page(
        status,
        template,
        csrf,
        Some(&staff.0.user),
        minijinja::value::merge_maps([ctx, context! { console }]),
    )
}

/// A time as the console shows it (UTC, to the minute).
fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn maybe_when(t: Option<Timestamp>) -> Option<String> {
    t.map(when)
}

/// `?done=` codes a redirect after an action carries, and what the page says for each.
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "unlocked" => "The account is unlocked.",
        "unlocked-mailed" => "The account is unlocked and a reset link was mailed to its owner.",
        "mailed" => "A reset link was mailed to the account's owner.",
        "renewed" => "The license was renewed.",
        "license" => "The license was set.",
        "disabled" => "The account is disabled; every session of it ended.",
        "enabled" => "The account is enabled.",
        "force-change" => "The owner must choose a new password at the next sign-in.",
        "saved" => "The changes were saved.",
        "unchanged" => "Nothing was changed.",
        "role" => "The role was changed.",
        "deleted" => "The account was deleted.",
        "created" => "The account was created and a setup link was mailed to its owner.",
        "imported" => "The accounts were created.",
        "agency-renewed" => "The agency's licenses were renewed.",
        "retried" => "The mail will be sent again now.",
        _ => return None,
    })
}

/// Pages of a list: which one is shown, and the links around it.
struct Pager {
    /// 1-based.
    page: usize,
    per_page: usize,
}

impl Pager {
    fn new(page: Option<usize>, per_page: usize) -> Self {
        Self {
            page: page.unwrap_or(1).max(1),
            per_page,
        }
    }

    fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }

    fn ctx(&self, total: usize) -> Value {
        let pages = total.div_ceil(self.per_page).max(1);
        context! {
            page => self.page,
            pages,
            total,
            prev => (self.page > 1).then(|| self.page - 1),
            next => (self.page < pages).then(|| self.page + 1),
        }
    }
}
