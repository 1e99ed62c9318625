//! The accounts: the locked queue, search, one account and its actions.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{Fresh, Pager, Staff, done_message, fresh_password, maybe_when, page, run, when};
use crate::auth::login::locked_now;
use crate::control::protocol::{OpError, RenewTarget, Request, UserChanges};
use crate::domain::license;
use crate::domain::role::Role;
use crate::domain::username::canonical_key;
use crate::store::directory::Entry;
use crate::store::users::UserRecord;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

/// Rows per page of the account list.
const PER_PAGE: usize = 50;
/// An account with no sign-in for this long is "inactive" in the filters.
pub const INACTIVE_AFTER: SignedDuration = SignedDuration::from_hours(30 * 24);
/// A license ending within this many days is "expiring" in the filters.
const EXPIRING_DAYS: i32 = 30;
/// The locked queue shows at most this many (oldest lock first).
const QUEUE_LIMIT: usize = 500;

/// The list filters of CONTRACT section 8.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Locked,
    Disabled,
    Expiring,
    Inactive,
}

impl Filter {
    fn parse(text: Option<&str>) -> Filter {
        match text.unwrap_or("") {
            "locked" => Filter::Locked,
            "disabled" => Filter::Disabled,
            "expiring" => Filter::Expiring,
            "inactive" => Filter::Inactive,
            _ => Filter::All,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Filter::All => "",
            Filter::Locked => "locked",
            Filter::Disabled => "disabled",
            Filter::Expiring => "expiring",
            Filter::Inactive => "inactive",
        }
    }
}

/// What the console needs to judge an account's status at one moment.
pub(super) struct Clock {
    now: Timestamp,
    today: jiff::civil::Date,
    auto_unlock: Option<SignedDuration>,
}

impl Clock {
    pub(super) fn of(state: &AppState) -> Self {
        Self {
            now: state.auth.store.now(),
            today: license::today(state.auth.store.now()),
            auto_unlock: state
                .auth
                .config
                .lockout
                .auto_unlock_after
                .map(|d| d.signed()),
        }
    }

    fn locked(&self, e: &Entry) -> bool {
        locked_now(e.locked_at, self.now, self.auto_unlock)
    }

    fn expiring(&self, e: &Entry) -> bool {
        e.license_expires
            .is_some_and(|d| (d - self.today).get_days() < EXPIRING_DAYS)
    }

    fn inactive(&self, e: &Entry) -> bool {
        let last = e.last_sign_in.unwrap_or(e.created_at);
        self.now.duration_since(last) >= INACTIVE_AFTER
    }

    fn keeps(&self, filter: Filter, e: &Entry) -> bool {
        match filter {
            Filter::All => true,
            Filter::Locked => self.locked(e),
            Filter::Disabled => e.disabled,
            Filter::Expiring => self.expiring(e),
            Filter::Inactive => self.inactive(e),
        }
    }

    /// The status badges of one account: `(label, tone)`, the worst first.
    fn badges(&self, e: &Entry) -> Vec<Value> {
        let mut out = Vec::new();
        let mut add = |label: String, tone: &str| out.push(context! { label, tone });
        if e.disabled {
            add("disabled".into(), "bad");
        }
        if self.locked(e) {
            add("locked".into(), "bad");
        }
        match e.license_expires {
            Some(d) if !license::is_active(Some(d), self.today) => {
                add("license expired".into(), "bad");
            }
            Some(d) if self.expiring(e) => {
                let days = (d - self.today).get_days();
                add(format!("license ends in {days} d"), "warn");
            }
            _ => {}
        }
        if !e.has_password {
            add("no password yet".into(), "warn");
        }
        if self.inactive(e) {
            add("inactive".into(), "warn");
        }
        if e.role != Role::User {
            add(e.role.as_str().into(), "info");
        }
        if out.is_empty() {
            out.push(context! { label => "active", tone => "ok" });
        }
        out
    }

    pub(super) fn row(&self, e: &Entry) -> Value {
        context! {
            username => e.username(),
            name => e.name(),
            email => e.email(),
            agency => e.agency(),
            role => e.role.as_str(),
            badges => self.badges(e),
            last_sign_in => maybe_when(e.last_sign_in),
            locked_since => e.locked_at.filter(|_| self.locked(e)).map(when),
            locked_from => e.locked_from(),
            failed_attempts => e.failed_attempts,
            license_expires => e.license_expires.map(|d| d.to_string()),
        }
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin`: the locked accounts, oldest lock first (the helpdesk's morning queue).
pub async fn locked(
    State(state): State<AppState>,
    staff: Staff,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let clock = Clock::of(&state);
    let mut queue: Vec<Arc<Entry>> = state
        .auth
        .store
        .accounts(|all| all.values().filter(|e| clock.locked(e)).cloned().collect())?;
    queue.sort_by_key(|e| e.locked_at);
    let total = queue.len();
    let rows: Vec<Value> = queue
        .iter()
        .take(QUEUE_LIMIT)
        .map(|e| clock.row(e))
        .collect();
    let ctx = context! {
        rows,
        total,
        notice => q.done.as_deref().and_then(done_message),
        nav => "locked",
    };
    Ok(page(
        &state,
        &staff,
        &csrf,
        StatusCode::OK,
        "admin/locked.html",
        ctx,
    ))
}

#[derive(Deserialize)]
pub struct ListQuery {
    done: Option<String>,
    q: Option<String>,
    filter: Option<String>,
    page: Option<usize>,
}

/// `GET /admin/accounts`: search by name, email or agency, and the filters.
pub async fn accounts(
    State(state): State<AppState>,
    staff: Staff,
    csrf: Csrf,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let clock = Clock::of(&state);
    let filter = Filter::parse(q.filter.as_deref());
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let pager = Pager::new(q.page, PER_PAGE);
    let (total, rows) = state.auth.store.accounts(|all| {
        let mut total = 0;
        let mut rows = Vec::new();
        let offset = pager.offset();
        for e in all.values() {
            if !(needle.is_empty() || e.matches(&needle)) || !clock.keeps(filter, e) {
                continue;
            }
            if total >= offset && rows.len() < PER_PAGE {
                rows.push(clock.row(e));
            }
            total += 1;
        }
        (total, rows)
    })?;
    let ctx = context! {
        rows,
        q => q.q.as_deref().unwrap_or("").trim(),
        filter => filter.as_str(),
        pager => pager.ctx(total),
        notice => q.done.as_deref().and_then(done_message),
        nav => "accounts",
    };
    Ok(page(
        &state,
        &staff,
        &csrf,
        StatusCode::OK,
        "admin/accounts.html",
        ctx,
    ))
}

/// One account, read whole.
async fn load(state: &AppState, name: &str) -> Result<Option<UserRecord>, WebError> {
    let key = canonical_key(name);
    Ok(state
        .auth
        .store
        .read_blocking(move |tx| tx.users()?.get(&key))
        .await?)
}

/// `GET /admin/accounts/{name}`.
pub async fn account(
    State(state): State<AppState>,
    staff: Staff,
    csrf: Csrf,
    Path(name): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let notice = q.done.as_deref().and_then(done_message);
    account_page(&state, &staff, &csrf, &name, StatusCode::OK, notice, None).await
}

/// The account page, with a notice or an error.
async fn account_page(
    state: &AppState,
    staff: &Staff,
    csrf: &Csrf,
    name: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let Some(user) = load(state, name).await? else {
        return Err(WebError::NotFound);
    };
    let groups = state
        .auth
        .store
        .read_blocking(|tx| tx.groups()?.all())
        .await?;
    let clock = Clock::of(state);
    let entry = state
        .auth
        .store
        .accounts(|all| all.get(&user.key()).cloned())?;
    let badges = entry.map(|e| clock.badges(&e)).unwrap_or_default();
    let max_age = state.auth.config.policy.max_age.signed();
    let password_age = user.password_changed_at.map(|at| {
        crate::domain::time_left::human_duration(clock.now.duration_since(at).unsigned_abs())
    });
    let all_groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let member = user.groups.iter().any(|m| canonical_key(m) == g.name.key());
            context! { name => g.name.as_str(), member }
        })
        .collect();
    let sign_ins: Vec<Value> = user
        .sign_ins
        .iter()
        .map(|n| context! { at => when(n.at), ip => n.ip.as_deref(), ok => n.ok, detail => n.detail.as_str() })
        .collect();
    let locked = locked_now(user.locked_at, clock.now, clock.auto_unlock);
    let may_act = staff.is_admin() || !user.is_admin();
    let ctx = context! {
        account => context! {
            username => user.username.as_str(),
            name => user.name.as_deref(),
            email => user.email.as_ref().map(|e| e.as_str()),
            phone => user.phone.as_ref().map(|p| p.as_str()),
            agency => user.agency.as_deref(),
            role => user.role.as_str(),
            disabled => user.disabled,
            locked,
            locked_since => user.locked_at.filter(|_| locked).map(when),
            locked_from => user.locked_from.as_deref(),
            failed_attempts => user.failed_attempts,
            license_expires => user.license_expires.map(|d| d.to_string()),
            password_set => user.password_hash.is_some(),
            password_age,
            password_expires => user.password_changed_at.and_then(|at| at.checked_add(max_age).ok()).map(when),
            must_change => user.must_change,
            last_sign_in => maybe_when(user.last_sign_in),
            created_at => when(user.created_at),
            badges,
        },
        sign_ins,
        groups => all_groups,
        may_act,
        notice,
        error,
        nav => "accounts",
    };
    Ok(page(state, staff, csrf, status, "admin/account.html", ctx))
}

/// `POST /admin/accounts/{name}`: one action on the account, chosen by the `action` field.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    Path(name): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    let action_url = format!("/admin/accounts/{}", urlencode(&name));
    if let Fresh::No(answer) = fresh_password(&state, &staff, ip, &csrf, &form, &action_url).await?
    {
        return Ok(answer);
    }
    let Some(user) = load(&state, &name).await? else {
        return Err(WebError::NotFound);
    };
    let username = user.username.to_string();
    let steps = match plan(&form, &user, &username) {
        Ok(steps) => steps,
        Err(error) => {
            return account_page(
                &state,
                &staff,
                &csrf,
                &name,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(error),
            )
            .await;
        }
    };
    let Some((requests, done)) = steps else {
        return Ok(Redirect::to(&format!("{action_url}?done=unchanged")).into_response());
    };
    for request in requests {
        if let Err(e) = run(&state, &staff, ip, request).await {
            if matches!(e, OpError::Store(_) | OpError::ServerFailed) {
                return Err(WebError::Internal(e.to_string()));
            }
            let status = super::refusal_status(&e);
            if status == StatusCode::NOT_FOUND && matches!(e, OpError::NoSuchUser(_)) {
                return Err(WebError::NotFound);
            }
            return account_page(
                &state,
                &staff,
                &csrf,
                &name,
                status,
                None,
                Some(e.to_string()),
            )
            .await;
        }
    }
    let back = match (done, form.text("back")) {
        ("deleted", _) => "/admin/accounts".to_owned(),
        (_, "queue") => "/admin".to_owned(),
        _ => action_url,
    };
    Ok(Redirect::to(&format!("{back}?done={done}")).into_response())
}

/// The admin requests an action stands for, and the `done` code after
/// them; `Ok(None)` when it changes nothing; `Err` is a sentence for the page.
type Plan = Option<(Vec<Request>, &'static str)>;

fn plan(form: &Form, user: &UserRecord, username: &str) -> Result<Plan, String> {
    let name = || username.to_owned();
    Ok(Some(match form.text("action") {
        "unlock" => (vec![Request::Unlock { username: name() }], "unlocked"),
        "unlock_and_reset" => (
            vec![
                Request::Unlock { username: name() },
                Request::ResetLink {
                    username: name(),
                    send: true,
                },
            ],
            "unlocked-mailed",
        ),
        "reset_link" => (
            vec![Request::ResetLink {
                username: name(),
                send: true,
            }],
            "mailed",
        ),
        "renew" => {
            let years = match form.text("years").trim().parse::<u16>() {
                Ok(y @ 1..=10) => y,
                _ => return Err("Choose how many years to renew the license by (1 to 10).".into()),
            };
            (
                vec![Request::LicenseRenew {
                    target: RenewTarget::User(name()),
                    years,
                }],
                "renewed",
            )
        }
        "license" => {
            let expires = match (form.text("never"), form.text("expires").trim()) {
                ("on", _) => "never".to_owned(),
                (_, "") => {
                    return Err("Give the license's last day, or tick \"never expires\".".into());
                }
                (_, date) => date.to_owned(),
            };
            (
                vec![Request::LicenseSet {
                    username: name(),
                    expires,
                }],
                "license",
            )
        }
        "disable" => (vec![Request::UserDisable { username: name() }], "disabled"),
        "enable" => (vec![Request::UserEnable { username: name() }], "enabled"),
        "force_change" => (
            vec![Request::UserForceChange {
                username: Some(name()),
            }],
            "force-change",
        ),
        "edit" => {
            let changes = edits(form, user);
            if changes.is_empty() {
                return Ok(None);
            }
            (
                vec![Request::UserSet {
                    username: name(),
                    changes,
                }],
                "saved",
            )
        }
        "role" => {
            let role = Role::parse(form.text("role")).map_err(|e| format!("{e}."))?;
            if role == user.role {
                return Ok(None);
            }
            let changes = UserChanges {
                role: Some(role),
                ..UserChanges::default()
            };
            (
                vec![Request::UserSet {
                    username: name(),
                    changes,
                }],
                "role",
            )
        }
        "delete" => {
            if form.text("confirm").trim() != username {
                return Err(format!(
                    "To delete the account, type its user name ({username}) in the box."
                ));
            }
            (vec![Request::UserDelete { username: name() }], "deleted")
        }
        _ => return Err("Unknown action.".into()),
    }))
}

/// The edit form's fields that differ from the account as it is.
fn edits(form: &Form, user: &UserRecord) -> UserChanges {
    let differs = |typed: &str, now: Option<&str>| typed.trim() != now.unwrap_or("");
    let text = |field: &str, now: Option<&str>| {
        let typed = form.text(field);
        differs(typed, now).then(|| typed.trim().to_owned())
    };
    // One checkbox per group, named `group:NAME` (a form may not repeat a field).
    let mut groups: Vec<String> = form
        .fields()
        .filter_map(|(field, _)| field.strip_prefix("group:"))
        .map(str::to_owned)
        .collect();
    groups.sort_by_key(|g| canonical_key(g));
    let mut current: Vec<String> = user.groups.iter().map(|g| canonical_key(g)).collect();
    current.sort();
    let chosen: Vec<String> = groups.iter().map(|g| canonical_key(g)).collect();
    UserChanges {
        email: text("email", user.email.as_ref().map(|e| e.as_str())),
        phone: text("phone", user.phone.as_ref().map(|p| p.as_str())),
        name: text("name", user.name.as_deref()),
        agency: text("agency", user.agency.as_deref()),
        groups: (form.text("groups_shown") == "1" && chosen != current).then_some(groups),
        ..UserChanges::default()
    }
}

/// A user name as one path segment.
pub(super) fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
