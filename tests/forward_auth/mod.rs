//! Forward-auth (CONTRACT section 7, SECURITY F1-F3), checked from outside:
//! `checks` asks the endpoints as a proxy would, with the headers a proxy
//! sends; `proxies` puts a real Caddy and a real nginx, configured with the
//! files in packaging/forward-auth (the README's configurations), in front
//! of a small app (ignored unless asked for: they need the Debian packages,
//! which `.ci/run` installs).

mod checks;
pub(crate) mod proxies;

use latchkey::control::protocol::{AppSpec, Request, UserChanges};

use crate::helpers::{PASSWORD, TestApp};

/// `value` encoded for a query string (`/login?rd=...`).
pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Registers an app that guards `hosts`, for members of `groups` (none: everyone).
pub async fn guard(app: &TestApp, name: &str, hosts: &[&str], groups: &[&str]) {
    for group in groups {
        // The group may already exist from an earlier app.
        let _ = app
            .admin(Request::GroupAdd {
                name: (*group).into(),
            })
            .await;
    }
    app.admin(Request::AppAdd(AppSpec {
        name: name.into(),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..AppSpec::default()
    }))
    .await
    .expect("app add works");
}

/// Adds `username` (password [`PASSWORD`]) with a display name, an email
/// address and `groups`.
pub async fn member(app: &TestApp, username: &str, groups: &[&str]) {
    for group in groups {
        let _ = app
            .admin(Request::GroupAdd {
                name: (*group).into(),
            })
            .await;
    }
    app.add_user(username, PASSWORD).await;
    app.admin(Request::UserSet {
        username: username.into(),
        changes: UserChanges {
            name: Some(format!("{username} Example")),
            email: Some(format!("{username}@agency.example")),
            groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
            ..UserChanges::default()
        },
    })
    .await
    .expect("user set works");
}
