//! Adding accounts: one at a time (a setup link is mailed) or a CSV upload,
//! all or nothing, with every bad line shown before anything is written (A3).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use super::{Fresh, Staff, done_message, fresh_password, page, run};
use crate::control::protocol::{NewUser, OpError, Request};
use crate::web::csrf::Csrf;
use crate::web::form::{Form, Upload};
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/add`.
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let notice = q.done.as_deref().and_then(done_message);
    add_page(
        &state,
        &staff,
        &csrf,
        StatusCode::OK,
        View {
            notice,
            ..View::default()
        },
    )
    .await
}

#[derive(Default)]
struct View<'a> {
    notice: Option<&'a str>,
    /// Refusals of the one-account form.
    errors: Vec<String>,
    /// The bad lines of an upload.
    lines: Vec<String>,
    /// What was typed into the one-account form, shown again on a refusal.
    typed: Option<&'a Form>,
}

async fn add_page(
    state: &AppState,
    staff: &Staff,
    csrf: &Csrf,
    status: StatusCode,
    view: View<'_>,
) -> Result<Response, WebError> {
    let groups = state
        .auth
        .store
        .read_blocking(|tx| tx.groups()?.all())
        .await?;
    let groups: Vec<String> = groups.iter().map(|g| g.name.as_str().to_owned()).collect();
    // What was typed, every field present ("" when none) for the template.
    let field = |name: &str| view.typed.map_or("", |f| f.text(name)).to_owned();
    let typed = context! {
        username => field("username"),
        email => field("email"),
        name => field("name"),
        phone => field("phone"),
        agency => field("agency"),
        license_expires => field("license_expires"),
    };
    let checked: Vec<String> = view
        .typed
        .map(|f| {
            f.fields()
                .filter_map(|(k, _)| k.strip_prefix("group:"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let ctx = context! {
        groups,
        notice => view.notice,
        errors => view.errors,
        lines => view.lines,
        typed,
        checked,
        nav => "add",
    };
    Ok(page(state, staff, csrf, status, "admin/add.html", ctx))
}

/// `POST /admin/add`: one account; its owner is mailed a setup link.
pub async fn add_one(
    State(state): State<AppState>,
    staff: Staff,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    if let Fresh::No(answer) =
        fresh_password(&state, &staff, ip, &csrf, &form, "/admin/add").await?
    {
        return Ok(answer);
    }
    let optional = |field: &str| {
        let v = form.text(field).trim();
        (!v.is_empty()).then(|| v.to_owned())
    };
    let groups = form
        .fields()
        .filter_map(|(field, _)| field.strip_prefix("group:"))
        .map(str::to_owned)
        .collect();
    let new = NewUser {
        username: form.text("username").trim().to_owned(),
        email: form.text("email").trim().to_owned(),
        name: optional("name"),
        phone: optional("phone"),
        admin: false,
        agency: optional("agency"),
        license_expires: optional("license_expires"),
        password: None,
        groups,
    };
    match run(&state, &staff, ip, Request::UserAdd(new)).await {
        Ok(_) => Ok(Redirect::to("/admin/add?done=created").into_response()),
        Err(e) => {
            let status = super::refusal_status(&e);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                return Err(WebError::Internal(e.to_string()));
            }
            let view = View {
                errors: vec![sentence(&e)],
                typed: Some(&form),
                ..View::default()
            };
            add_page(&state, &staff, &csrf, status, view).await
        }
    }
}

/// `POST /admin/import`: a CSV file with the columns of `user import`.
pub async fn import(
    State(state): State<AppState>,
    staff: Staff,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    upload: Upload,
) -> Result<Response, WebError> {
    let refuse = |status, lines: Vec<String>| {
        let view = View {
            lines,
            ..View::default()
        };
        add_page(&state, &staff, &csrf, status, view)
    };
    // The file cannot be carried through the password page: the password
    // field is on the upload form whenever it will be needed.
    if let Fresh::No(answer) =
        fresh_password(&state, &staff, ip, &csrf, &upload.form, "/admin/import").await?
    {
        if answer.status().is_redirection() {
            return Ok(answer); // a wrong password locked the actor: the sign-in page
        }
        let line =
            "Enter your password with the file: it was last entered more than 10 minutes ago.";
        return refuse(StatusCode::FORBIDDEN, vec![line.to_owned()]).await;
    }
    let Some(csv) = upload.file else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["Choose a CSV file to upload.".to_owned()],
        )
        .await;
    };
    let request = Request::UserImport {
        csv,
        send_invites: upload.form.text("send_invites") == "on",
    };
    match run(&state, &staff, ip, request).await {
        Ok(_) => Ok(Redirect::to("/admin/add?done=imported").into_response()),
        Err(OpError::BadLines(lines)) => {
            let lines = lines.iter().map(ToString::to_string).collect();
            refuse(StatusCode::UNPROCESSABLE_ENTITY, lines).await
        }
        Err(e) => {
            let status = super::refusal_status(&e);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                return Err(WebError::Internal(e.to_string()));
            }
            refuse(status, vec![sentence(&e)]).await
        }
    }
}

/// An error as a sentence on a page.
fn sentence(e: &OpError) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => text,
    }
}
