//! Apps (administrators only): what `app add/list/set/remove/rotate-secret` do.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::{Admin, Fresh, Staff, fresh_password, page, run};
use crate::control::protocol::{AppChanges, AppSpec, OpError, Request, Response as OpResponse};
use crate::domain::username::canonical_key;
use crate::web::csrf::Csrf;
use crate::web::form::Form;
use crate::web::net::ClientIp;
use crate::web::{AppState, WebError};

/// `GET /admin/apps`.
pub async fn apps(
    State(state): State<AppState>,
    Admin(staff): Admin,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
) -> Result<Response, WebError> {
    apps_page(&state, &staff, ip, &csrf, StatusCode::OK, Said::default()).await
}

/// What the page says after an action.
#[derive(Default)]
struct Said {
    notice: Option<String>,
    error: Option<String>,
    /// A new client secret: shown this once, never again.
    secret: Option<(String, String)>,
}

async fn apps_page(
    state: &AppState,
    staff: &Staff,
    ip: std::net::IpAddr,
    csrf: &Csrf,
    status: StatusCode,
    said: Said,
) -> Result<Response, WebError> {
    let apps = match run(state, staff, ip, Request::AppList).await {
        Ok(OpResponse::Apps { apps }) => apps,
        Ok(_) => return Err(WebError::Internal("app list: unexpected answer".into())),
        Err(e) => return Err(WebError::Internal(e.to_string())),
    };
    let groups = state
        .auth
        .store
        .read_blocking(|tx| tx.groups()?.all())
        .await?;
    let rows: Vec<Value> = apps
        .iter()
        .map(|a| {
            let in_group = |g: &str| {
                a.groups
                    .iter()
                    .any(|m| canonical_key(m) == canonical_key(g))
            };
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| context! { name => g.name.as_str(), member => in_group(g.name.as_str()) })
                .collect();
            context! {
                name => a.name.as_str(),
                client_id => a.client_id.as_deref(),
                public => a.public,
                redirect_uris => a.redirect_uris.join("\n"),
                logout_uris => a.logout_uris.join("\n"),
                hosts => a.hosts.join("\n"),
                url => a.url.as_deref(),
                groups,
                group_names => a.groups.join(", "),
            }
        })
        .collect();
    let all_groups: Vec<String> = groups.iter().map(|g| g.name.as_str().to_owned()).collect();
    let ctx = context! {
        apps => rows,
        groups => all_groups,
        notice => said.notice,
        error => said.error,
        secret => said.secret.map(|(app, secret)| context! { app, secret }),
        discovery => state.auth.config.server.base_url.join("/.well-known/openid-configuration"),
        nav => "apps",
    };
    Ok(page(state, staff, csrf, status, "admin/apps.html", ctx))
}

/// Lines or commas of a text box, blanks dropped.
fn list(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn chosen_groups(form: &Form) -> Vec<String> {
    form.fields()
        .filter_map(|(field, _)| field.strip_prefix("group:"))
        .map(str::to_owned)
        .collect()
}

/// `POST /admin/apps`: add, change, rotate the secret of, or remove an app.
pub async fn app_action(
    State(state): State<AppState>,
    Admin(staff): Admin,
    ClientIp(ip): ClientIp,
    csrf: Csrf,
    form: Form,
) -> Result<Response, WebError> {
    if let Fresh::No(answer) =
        fresh_password(&state, &staff, ip, &csrf, &form, "/admin/apps").await?
    {
        return Ok(answer);
    }
    let name = form.text("app").trim().to_owned();
    let url = form.text("url").trim().to_owned();
    let request = match form.text("action") {
        "add" => Request::AppAdd(AppSpec {
            name: name.clone(),
            redirect_uris: list(form.text("redirect_uris")),
            logout_uris: list(form.text("logout_uris")),
            public: form.text("public") == "on",
            groups: chosen_groups(&form),
            url: (!url.is_empty()).then_some(url),
            hosts: list(form.text("hosts")),
        }),
        "set" => Request::AppSet {
            name: name.clone(),
            changes: AppChanges {
                redirect_uris: Some(list(form.text("redirect_uris"))),
                logout_uris: Some(list(form.text("logout_uris"))),
                groups: Some(chosen_groups(&form)),
                url: Some(url),
                hosts: Some(list(form.text("hosts"))),
            },
        },
        "rotate_secret" => Request::AppRotateSecret { name: name.clone() },
        "remove" => {
            if form.text("confirm").trim() != name {
                let said = Said {
                    error: Some(format!(
                        "To remove the app, type its name ({name}) in the box."
                    )),
                    ..Said::default()
                };
                return apps_page(
                    &state,
                    &staff,
                    ip,
                    &csrf,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    said,
                )
                .await;
            }
            Request::AppRemove { name: name.clone() }
        }
        _ => return Err(WebError::BadRequest("unknown action")),
    };
    let said = match run(&state, &staff, ip, request).await {
        Ok(OpResponse::App {
            app,
            client_secret: Some(secret),
            ..
        }) => Said {
            notice: Some(format!("{} is saved.", app.name)),
            secret: Some((app.name, secret)),
            ..Said::default()
        },
        Ok(OpResponse::App { app, .. }) => Said {
            notice: Some(format!("{} is saved.", app.name)),
            ..Said::default()
        },
        Ok(OpResponse::Done { message }) => Said {
            notice: Some(message),
            ..Said::default()
        },
        Ok(_) => Said::default(),
        Err(e @ (OpError::Store(_) | OpError::ServerFailed)) => {
            return Err(WebError::Internal(e.to_string()));
        }
        Err(e) => {
            let status = super::refusal_status(&e);
            let said = Said {
                error: Some(e.to_string()),
                ..Said::default()
            };
            return apps_page(&state, &staff, ip, &csrf, status, said).await;
        }
    };
    // Rendered, not redirected: a new secret is shown once, on this answer.
    apps_page(&state, &staff, ip, &csrf, StatusCode::OK, said).await
}
