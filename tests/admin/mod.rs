//! The helpdesk console, `/admin` (CONTRACT section 8; SECURITY A1-A3),
//! through the real router: every page, every action and every refusal,
//! each checked against the store and the audit log afterwards.
//!
//! - `access`: who reaches the console at all, and what helpdesk staff may not do (A1).
//! - `password`: the password asked again after ten minutes (A2).
//! - `csrf`: every console POST needs its page's token (C1).
//! - `actions`, `edit`: every action on one account, audited with the actor.
//! - `search`: the account list's search, filters and pages.
//! - `add`: adding one account, and the CSV upload (A3).
//! - `licenses`, `audit`, `apps`, `mail`: the other pages, and the CSV exports (A3).

mod access;
mod actions;
mod add;
mod apps;
mod audit;
mod csrf;
mod edit;
mod licenses;
mod mail;
mod password;
mod search;
mod smoke;

use std::time::Duration;

use latchkey::control::protocol::{AuditView, NewUser, Request, Response, UserChanges};
use latchkey::domain::role::Role;

use crate::helpers::*;

/// Longer than an entered password lets the actor act without entering it again (A2: 10 minutes).
pub const STALE: Duration = Duration::from_secs(601);

/// The address every test request comes from, as the audit log and the account page show it.
pub const LOOPBACK: &str = "127.0.0.1";

/// Gives `name` the role `role` (as `user set --role` would).
pub async fn set_role(app: &TestApp, name: &str, role: Role) {
    let changes = UserChanges {
        role: Some(role),
        ..UserChanges::default()
    };
    app.admin(Request::UserSet {
        username: name.into(),
        changes,
    })
    .await
    .expect("role set");
}

/// Creates `name` (password [`PASSWORD`]) with `role`, and signs them in on a new browser.
pub async fn staff(app: &TestApp, name: &str, role: Role) -> reqwest::Client {
    app.add_user(name, PASSWORD).await;
    set_role(app, name, role).await;
    signed_in(app, name, PASSWORD).await.0
}

/// A server with the administrator `boss` signed in (the returned browser).
pub async fn boss_console() -> (TestApp, reqwest::Client) {
    let app = spawn_app().await;
    let boss = staff(&app, "boss", Role::Admin).await;
    (app, boss)
}

/// An account described field by field (no password: it gets a setup link).
pub async fn add_account(app: &TestApp, new: NewUser) {
    app.admin(Request::UserAdd(new))
        .await
        .expect("user created");
}

/// A new account with `email`, `name` and `agency` (no password).
pub fn described(username: &str, email: &str, name: &str, agency: Option<&str>) -> NewUser {
    NewUser {
        email: email.to_owned(),
        name: Some(name.to_owned()),
        agency: agency.map(str::to_owned),
        ..new_user(username, None)
    }
}

pub async fn add_group(app: &TestApp, name: &str) {
    app.admin(Request::GroupAdd { name: name.into() })
        .await
        .expect("group created");
}

/// Sets `name`'s license to end on `expires` (`YYYY-MM-DD` or `never`).
pub async fn set_license(app: &TestApp, name: &str, expires: &str) {
    app.admin(Request::LicenseSet {
        username: name.into(),
        expires: expires.into(),
    })
    .await
    .expect("license set");
}

/// Whether an account named `name` exists.
pub async fn exists(app: &TestApp, name: &str) -> bool {
    app.admin(Request::UserShow {
        username: name.into(),
    })
    .await
    .is_ok()
}

/// The names of every registered app.
pub async fn app_names(app: &TestApp) -> Vec<String> {
    match app.admin(Request::AppList).await.expect("app list") {
        Response::Apps { apps } => apps.into_iter().map(|a| a.name).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

/// Locks `name` the way a guesser would: three wrong passwords from 127.0.0.1.
pub async fn lock_out(app: &TestApp, name: &str) {
    for _ in 0..app.config.lockout.max_failures {
        login(&app.client(), app, name, "Wrong-Guess-000").await;
    }
    assert!(app.show_user(name).await.locked, "{name} is locked");
}

/// `days` from today (the server's license calendar), as `YYYY-MM-DD`.
pub fn day(days: i64) -> jiff::civil::Date {
    use jiff::ToSpan;
    latchkey::domain::license::today(jiff::Timestamp::now())
        .checked_add(days.days())
        .unwrap()
}

/// POSTs `fields` to the account page of `user`, with that page's CSRF token.
pub async fn act(
    client: &reqwest::Client,
    app: &TestApp,
    user: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = format!("/admin/accounts/{user}");
    submit(client, app, &page, &page, fields).await
}

/// GETs `page` for its CSRF token, then POSTs `fields` back to it.
pub async fn post_to(
    client: &reqwest::Client,
    app: &TestApp,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    submit(client, app, page, page, fields).await
}

/// The answer was the redirect of a successful action, to `to`.
pub fn assert_done(res: &reqwest::Response, to: &str) {
    assert_eq!(res.status(), 303, "expected a redirect to {to}");
    assert_eq!(location(res), to);
}

/// Status and body of an answer.
pub async fn read(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Status and body of `GET path`.
pub async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    read(get(client, app, path).await).await
}

/// The answer to a path nothing serves, for this browser (A1 compares against it).
pub async fn unknown_path(client: &reqwest::Client, app: &TestApp) -> (u16, String) {
    page(client, app, "/no-such-page").await
}

/// The audit events named `event` (of `user`, or of anyone), oldest first.
pub async fn events(app: &TestApp, event: &str, user: Option<&str>) -> Vec<AuditView> {
    let mut found: Vec<AuditView> = app
        .audit_events(user)
        .await
        .into_iter()
        .filter(|e| e.event == event)
        .collect();
    found.sort_by_key(|e| e.time);
    found
}

/// The one audit event named `event` of `user`, checked to be the console
/// action of `actor` from 127.0.0.1 (A2, X2).
pub async fn audited_by(app: &TestApp, event: &str, user: Option<&str>, actor: &str) -> AuditView {
    let found = events(app, event, user).await;
    let [e] = found.as_slice() else {
        panic!("one {event} for {user:?}, got {found:#?}");
    };
    assert_console_actor(e, actor);
    e.clone()
}

/// `e` was done in the console by `actor`, from 127.0.0.1.
pub fn assert_console_actor(e: &AuditView, actor: &str) {
    assert_eq!(
        e.actor.as_deref(),
        Some(format!("web:{actor}").as_str()),
        "{e:?}"
    );
    assert_eq!(e.ip.as_deref(), Some(LOOPBACK), "{e:?}");
}

/// The text of every cell of the table `id="table_id"`, row by row (its
/// body only), tags removed and entities decoded.
pub fn table(html: &str, table_id: &str) -> Vec<Vec<String>> {
    let Some(start) = html.find(&format!("id=\"{table_id}\"")) else {
        return Vec::new();
    };
    let rest = &html[start..];
    let rest = &rest[..rest.find("</table>").unwrap_or(rest.len())];
    let body = rest.find("<tbody>").map_or(rest, |at| &rest[at..]);
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let mut cells = Vec::new();
            let mut rest = row;
            while let Some(open) = rest.find("<td").into_iter().chain(rest.find("<th")).min() {
                let after = &rest[open..];
                let content_start = after.find('>').map_or(after.len(), |i| i + 1);
                let content = &after[content_start..];
                let end = ["</td>", "</th>"]
                    .iter()
                    .filter_map(|close| content.find(close))
                    .min()
                    .unwrap_or(content.len());
                cells.push(text_of_html(&content[..end]));
                rest = &content[end..];
            }
            cells
        })
        .collect()
}

/// HTML without its tags (each replaced by a space), entities decoded, spaces collapsed.
pub fn text_of_html(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Undoes minijinja's HTML escaping.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// The user names listed on an accounts page (the first word of each row).
pub fn listed(html: &str) -> Vec<String> {
    table(html, "accounts")
        .iter()
        .filter_map(|row| row.first())
        .filter_map(|cell| cell.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The hidden fields of the first form after `marker` in `html`, as the
/// browser would send them (name, value), the CSRF token included.
pub fn hidden_fields(html: &str, marker: &str) -> Vec<(String, String)> {
    let start = html.find(marker).unwrap_or(0);
    let form = &html[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let at = tag.find(&key)? + key.len();
        let end = tag[at..].find('"')? + at;
        Some(unescape(&tag[at..end]))
    };
    form.split("<input")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default())))
        .collect()
}

/// POSTs `fields` as `multipart/form-data` to `/admin/import`, with the CSV
/// text `csv` as its file (reqwest is built without its multipart feature,
/// so the body is written here, as a browser would).
pub async fn upload_raw(
    client: &reqwest::Client,
    app: &TestApp,
    fields: &[(&str, &str)],
    csv: Option<&str>,
) -> reqwest::Response {
    const BOUNDARY: &str = "----latchkey-test-boundary-7c1f";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    if let Some(csv) = csv {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    client
        .post(app.url("/admin/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads `csv` from the add page with its CSRF token, plus `fields`.
pub async fn upload(
    client: &reqwest::Client,
    app: &TestApp,
    csv: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = page_token(client, app, "/admin/add").await;
    let mut all = fields.to_vec();
    all.push(("csrf_token", &token));
    upload_raw(client, app, &all, Some(csv)).await
}

/// Every cell of a CSV export, header row first.
pub fn csv_cells(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.expect("well-formed CSV")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The rows of a CSV export as maps from its header's names.
pub fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let cells = csv_cells(text);
    let Some((header, rows)) = cells.split_first() else {
        return Vec::new();
    };
    rows.iter()
        .map(|row| header.iter().cloned().zip(row.iter().cloned()).collect())
        .collect()
}

/// SECURITY A3: no cell of a CSV export could be read as a formula.
pub fn assert_formula_safe(text: &str) {
    for row in csv_cells(text) {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet reads as a formula: {cell:?} in\n{text}"
            );
        }
    }
}
