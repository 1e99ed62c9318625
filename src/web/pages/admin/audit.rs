//! The audit log: filtered by user, event and date, newest first; CSV export.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{Staff, page, when};
use crate::domain::username::canonical_key;
use crate::store::audit::{AuditRecord, Event};
use crate::web::csrf::Csrf;
use crate::web::{AppState, WebError};

const PER_PAGE: usize = 100;
/// The most events one CSV export holds (narrow the filters for older ones).
const EXPORT_LIMIT: usize = 100_000;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    user: Option<String>,
    event: Option<String>,
    /// `YYYY-MM-DD` (UTC), first day shown.
    since: Option<String>,
    /// `YYYY-MM-DD` (UTC), last day shown.
    until: Option<String>,
    /// Events older than this sequence number (the "older" link).
    before: Option<u64>,
}

/// The filters, checked.
struct Filters {
    user: Option<String>,
    event: Option<Event>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl AuditQuery {
    fn given(field: &Option<String>) -> Option<&str> {
        field.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    fn filters(&self) -> Result<Filters, String> {
        let day = |text: &str, label: &str, next: bool| {
            let date: jiff::civil::Date = text
                .parse()
                .map_err(|_| format!("{label}: give a date as YYYY-MM-DD."))?;
            let date = if next {
                date.tomorrow().map_err(|e| e.to_string())?
            } else {
                date
            };
            date.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp())
                .map_err(|e| e.to_string())
        };
        let event = match Self::given(&self.event) {
            Some(name) => {
                Some(Event::parse(name).ok_or_else(|| format!("Unknown event {name:?}."))?)
            }
            None => None,
        };
        Ok(Filters {
            user: Self::given(&self.user).map(canonical_key),
            event,
            since: Self::given(&self.since)
                .map(|d| day(d, "From", false))
                .transpose()?,
            until: Self::given(&self.until)
                .map(|d| day(d, "To", true))
                .transpose()?,
        })
    }
}

impl Filters {
    fn keeps(&self, r: &AuditRecord) -> bool {
        self.event.is_none_or(|e| r.event == e)
            && self.until.is_none_or(|u| r.time < u)
            && self
                .user
                .as_ref()
                .is_none_or(|k| r.user.as_deref().map(canonical_key).as_ref() == Some(k))
    }
}

/// Events newest first, with their sequence numbers.
async fn events(
    state: &AppState,
    filters: Filters,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, AuditRecord)>, WebError> {
    Ok(state
        .auth
        .store
        .read_blocking(move |tx| {
            tx.audit()?
                .page(before, filters.since, limit, |r| filters.keeps(r))
        })
        .await?)
}

/// `GET /admin/audit`.
pub async fn audit(
    State(state): State<AppState>,
    staff: Staff,
    csrf: Csrf,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let (status, error, rows, older) = match q.filters() {
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(error),
            Vec::new(),
            None,
        ),
        Ok(filters) => {
            // One more than shown tells whether there is an older page.
            let mut found = events(&state, filters, q.before, PER_PAGE + 1).await?;
            let older = (found.len() > PER_PAGE).then(|| found[PER_PAGE - 1].0);
            found.truncate(PER_PAGE);
            let rows: Vec<Value> = found
                .iter()
                .map(|(_, r)| {
                    context! {
                        time => when(r.time),
                        event => r.event.as_str(),
                        user => r.user.as_deref(),
                        ip => r.ip.as_deref(),
                        actor => r.actor.as_deref(),
                        detail => r.detail.as_deref(),
                    }
                })
                .collect();
            (StatusCode::OK, None, rows, older)
        }
    };
    let events: Vec<String> = Event::ALL.iter().map(|e| e.as_str()).collect();
    let given = |f: &Option<String>| AuditQuery::given(f).map(str::to_owned);
    let ctx = context! {
        rows,
        older,
        error,
        events,
        query => context! {
            user => given(&q.user),
            event => given(&q.event),
            since => given(&q.since),
            until => given(&q.until),
        },
        nav => "audit",
    };
    Ok(page(&state, &staff, &csrf, status, "admin/audit.html", ctx))
}

/// `GET /admin/audit.csv`: the filtered events, newest first (at most 100,000).
pub async fn audit_csv(
    State(state): State<AppState>,
    _staff: Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let filters = q
        .filters()
        .map_err(|_| WebError::BadRequest("bad audit filter"))?;
    let found = events(&state, filters, q.before, EXPORT_LIMIT).await?;
    let mut out = super::export::Csv::new(&["time", "event", "user", "ip", "actor", "detail"]);
    for (_, r) in &found {
        out.row(&[
            &r.time.to_string(),
            &r.event.as_str(),
            r.user.as_deref().unwrap_or(""),
            r.ip.as_deref().unwrap_or(""),
            r.actor.as_deref().unwrap_or(""),
            r.detail.as_deref().unwrap_or(""),
        ]);
    }
    Ok(out.into_response("audit.csv"))
}
