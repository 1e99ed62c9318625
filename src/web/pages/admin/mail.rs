//! The mail queue: what `latchkey mail queue` shows, and "retry now".

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{Fresh, Staff, done_message, fresh_password, page, run, when};
use crate::control::protocol::{Request, Response as OpResponse};
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/mail`.
pub async fn mail(
    State(state): State<AppState>,
    staff: Staff,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let notice = q.done.as_deref().and_then(done_message);
    mail_page(&state, &staff, ip, &csrf, StatusCode::OK, notice, None).await
}

async fn mail_page(
    state: &AppState,
    staff: &Staff,
    ip: std::net::IpAddr,
    csrf: &Csrf,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let messages = match run(state, staff, ip, Request::MailQueue).await {
        Ok(OpResponse::Queue { messages }) => messages,
        Ok(_) => return Err(WebError::Internal("mail queue: unexpected answer".into())),
        Err(e) => return Err(WebError::Internal(e.to_string())),
    };
    let rows: Vec<Value> = messages
        .iter()
        .map(|m| {
            context! {
                id => m.id,
                kind => m.kind.as_str(),
                to => m.to.as_str(),
                subject => m.subject.as_str(),
                user => m.user.as_deref(),
                created_at => when(m.created_at),
                attempts => m.attempts,
                next_attempt_at => when(m.next_attempt_at),
                expires_at => when(m.expires_at),
                last_error => m.last_error.as_deref(),
            }
        })
        .collect();
    let ctx = context! { rows, notice, error, nav => "mail" };
    Ok(page(state, staff, csrf, status, "admin/mail.html", ctx))
}

/// `POST /admin/mail`: send one message (field `id`) or every one again now.
pub async fn retry(
    State(state): State<AppState>,
    staff: Staff,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    if let Fresh::No(answer) =
        fresh_password(&state, &staff, ip, &csrf, &form, "/admin/mail").await?
    {
        return Ok(answer);
    }
    let id = match form.text("id").trim() {
        "" => None,
        text => match text.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => return Err(WebError::BadRequest("mail id")),
        },
    };
    match run(&state, &staff, ip, Request::MailRetry { id }).await {
        Ok(_) => Ok(Redirect::to("/admin/mail?done=retried").into_response()),
        Err(e) => {
            let status = super::refusal_status(&e);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                return Err(WebError::Internal(e.to_string()));
            }
            mail_page(&state, &staff, ip, &csrf, status, None, Some(e.to_string())).await
        }
    }
}
