//! The signed-in pages: home, profile, and the public help page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use minijinja::context;

use crate::domain::role::Role;
use crate::domain::time_left;
use crate::store::users::UserRecord;
use crate::web::csrf::Csrf;
use crate::web::session::{MaybeSession, SignedIn};
use crate::web::{AppState, WebError};

/// `GET /`: the launcher. Lists the apps the account may use that have a
/// `--url` (CONTRACT section 7, "The home page").
pub async fn home(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    csrf: Csrf,
) -> Result<Response, WebError> {
    let expires_in = expires_in(&state, &s.user, state.auth.store.now());
    let apps = state.auth.apps()?;
    let ctx = if apps.is_empty() {
        // Most page views of an agency without apps: the same context as before apps.
        context! { expires_in }
    } else {
        let links: Vec<_> = apps
            .iter()
            .filter(|a| a.admits(&s.user.groups))
            .filter_map(|a| {
                let url = a.url.as_deref()?;
                Some(context! { name => a.name.as_str(), url })
            })
            .collect();
        context! { expires_in, apps => links }
    };
    // Staff get a link to the console (CONTRACT section 8); nobody else's context changes.
    let ctx = match s.user.role {
        Role::User => ctx,
        Role::Helpdesk | Role::Admin => {
            minijinja::value::merge_maps([ctx, context! { console_link => true }])
        }
    };
    Ok(state.page(StatusCode::OK, "home.html", &csrf, Some(&s.user), ctx))
}

/// When the password expires, in words ("in 3 days", "in 5 hours"), once
/// within `policy.expiry_warning` of it.
fn expires_in(state: &AppState, user: &UserRecord, now: Timestamp) -> Option<String> {
    let policy = &state.auth.config.policy;
    let due = user
        .password_changed_at?
        .checked_add(policy.max_age.signed())
        .ok()?;
    let left = due.duration_since(now);
    if left > policy.expiry_warning.signed() || left.is_negative() {
        return None;
    }
    Some(time_left::in_words(left))
}

pub async fn help(State(state): State<AppState>, session: MaybeSession, csrf: Csrf) -> Response {
    let config = &state.auth.config;
    let user = session.full().map(|s| &s.user);
    let ctx = context! { max_failures => config.lockout.max_failures };
    state.page(StatusCode::OK, "help.html", &csrf, user, ctx)
}
