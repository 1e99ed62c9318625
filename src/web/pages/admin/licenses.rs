//! Licenses by agency: what ends within 30, 60 or 90 days, renewing a
//! whole agency, and the CSV export for the agency's contact.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;

use super::accounts::Clock;
use super::{Fresh, Pager, Staff, done_message, fresh_password, page, run};
use crate::control::protocol::{RenewTarget, Request};
use crate::domain::license;
use crate::store::directory::Entry;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

const PER_PAGE: usize = 100;
/// The windows the page offers, in days.
const WINDOWS: [i32; 3] = [30, 60, 90];

#[derive(Deserialize)]
pub struct LicenseQuery {
    within: Option<i32>,
    agency: Option<String>,
    page: Option<usize>,
    done: Option<String>,
}

impl LicenseQuery {
    fn window(&self) -> i32 {
        self.within.filter(|w| WINDOWS.contains(w)).unwrap_or(30)
    }

    fn agency(&self) -> Option<&str> {
        self.agency
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
    }
}

/// Days from today to the license's last day (negative: expired); `None` never ends.
fn days_left(e: &Entry, today: jiff::civil::Date) -> Option<i32> {
    e.license_expires.map(|d| (d - today).get_days())
}

/// The accounts whose license ends within `window` days (expired ones too),
/// soonest first, of one agency or all.
fn ending(
    all: &crate::store::directory::Entries,
    today: jiff::civil::Date,
    window: i32,
    agency: Option<&str>,
) -> Vec<Arc<Entry>> {
    let mut out: Vec<Arc<Entry>> = all
        .values()
        .filter(|e| days_left(e, today).is_some_and(|d| d < window))
        .filter(|e| agency.is_none_or(|a| e.agency().is_some_and(|x| x.eq_ignore_ascii_case(a))))
        .cloned()
        .collect();
    out.sort_by_key(|e| (e.license_expires, e.username().to_lowercase()));
    out
}

/// `GET /admin/licenses`.
pub async fn licenses(
    State(state): State<AppState>,
    staff: Staff,
    csrf: Csrf,
    Query(q): Query<LicenseQuery>,
) -> Result<Response, WebError> {
    let notice = q.done.as_deref().and_then(done_message);
    licenses_page(&state, &staff, &csrf, &q, StatusCode::OK, notice, None)
}

fn licenses_page(
    state: &AppState,
    staff: &Staff,
    csrf: &Csrf,
    q: &LicenseQuery,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let clock = Clock::of(state);
    let today = license::today(state.auth.store.now());
    let window = q.window();
    let pager = Pager::new(q.page, PER_PAGE);
    let (agencies, total, rows) = state.auth.store.accounts(|all| {
        #[derive(Default, serde::Serialize)]
        struct Agency {
            name: String,
            accounts: u64,
            expired: u64,
            within_30: u64,
            within_60: u64,
            within_90: u64,
        }
        let mut agencies: BTreeMap<String, Agency> = BTreeMap::new();
        for e in all.values() {
            let Some(name) = e.agency() else {
                continue;
            };
            let a = agencies
                .entry(name.to_lowercase())
                .or_insert_with(|| Agency {
                    name: name.to_owned(),
                    ..Agency::default()
                });
            a.accounts += 1;
            match days_left(e, today) {
                Some(d) if d < 0 => a.expired += 1,
                Some(d) if d < 30 => a.within_30 += 1,
                Some(d) if d < 60 => a.within_60 += 1,
                Some(d) if d < 90 => a.within_90 += 1,
                _ => {}
            }
        }
        let agencies: Vec<Agency> = agencies.into_values().collect();
        let ending = ending(all, today, window, q.agency());
        let rows: Vec<Value> = ending
            .iter()
            .skip(pager.offset())
            .take(PER_PAGE)
            .map(|e| clock.row(e))
            .collect();
        (agencies, ending.len(), rows)
    })?;
    let ctx = context! {
        agencies => Value::from(minijinja::value::Serde(&agencies)),
        rows,
        window,
        windows => WINDOWS,
        agency => q.agency(),
        pager => pager.ctx(total),
        notice,
        error,
        nav => "licenses",
    };
    Ok(page(state, staff, csrf, status, "admin/licenses.html", ctx))
}

/// `POST /admin/licenses`: renew every license of one agency.
pub async fn renew_agency(
    State(state): State<AppState>,
    staff: Staff,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    if let Fresh::No(answer) =
        fresh_password(&state, &staff, ip, &csrf, &form, "/admin/licenses").await?
    {
        return Ok(answer);
    }
    let q = LicenseQuery {
        within: None,
        agency: None,
        page: None,
        done: None,
    };
    let refuse =
        |status, error: String| licenses_page(&state, &staff, &csrf, &q, status, None, Some(error));
    let years = match form.text("years").trim().parse::<u16>() {
        Ok(y @ 1..=10) => y,
        _ => {
            let error = "Choose how many years to renew by (1 to 10).".to_owned();
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, error);
        }
    };
    let request = Request::LicenseRenew {
        target: RenewTarget::Agency(form.text("agency").trim().to_owned()),
        years,
    };
    match run(&state, &staff, ip, request).await {
        Ok(_) => Ok(Redirect::to("/admin/licenses?done=agency-renewed").into_response()),
        Err(e) => {
            let status = super::refusal_status(&e);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                return Err(WebError::Internal(e.to_string()));
            }
            refuse(status, e.to_string())
        }
    }
}

/// `GET /admin/licenses.csv?within=N[&agency=A]`: the licenses ending within the window.
pub async fn licenses_csv(
    State(state): State<AppState>,
    _staff: Staff,
    Query(q): Query<LicenseQuery>,
) -> Result<Response, WebError> {
    let today = license::today(state.auth.store.now());
    let rows = state
        .auth
        .store
        .accounts(|all| ending(all, today, q.window(), q.agency()))?;
    let mut out = super::export::Csv::new(&[
        "username",
        "name",
        "email",
        "agency",
        "license_expires",
        "expired",
    ]);
    for e in &rows {
        let expired = !license::is_active(e.license_expires, today);
        out.row(&[
            e.username(),
            e.name().unwrap_or(""),
            e.email().unwrap_or(""),
            e.agency().unwrap_or(""),
            &e.license_expires.map(|d| d.to_string()).unwrap_or_default(),
            if expired { "yes" } else { "no" },
        ]);
    }
    Ok(out.into_response(&format!("licenses-within-{}d.csv", q.window())))
}
