//! The admin protocol: typed requests and responses, one JSON line each way.
//!
//! The same [`Request`] is executed in the server (over the control socket)
//! or in the CLI process itself (server stopped), so both paths behave alike.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use super::error::{ImportError, OpError, TextError};
use crate::domain::role::Role;
use crate::domain::secret::Secret;
use crate::store::audit::AuditRecord;

/// One admin command. `Debug` never shows a password (it is a [`Secret`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    UserAdd(NewUser),
    UserImport {
        /// The CSV text itself (the file is read by the CLI, with its permissions).
        csv: String,
        send_invites: bool,
    },
    UserList {
        locked_only: bool,
    },
    UserShow {
        username: String,
    },
    UserSet {
        username: String,
        changes: UserChanges,
    },
    UserDisable {
        username: String,
    },
    UserEnable {
        username: String,
    },
    UserDelete {
        username: String,
    },
    UserForceChange {
        /// `None` means every account.
        username: Option<String>,
    },
    Unlock {
        username: String,
    },
    LicenseSet {
        username: String,
        /// `YYYY-MM-DD` or `never`.
        expires: String,
    },
    LicenseRenew {
        target: RenewTarget,
        years: u16,
    },
    LicenseList {
        /// Licenses ending within this window (a duration such as `30d`), expired ones included.
        within: Option<String>,
    },
    Audit {
        username: Option<String>,
        limit: usize,
    },
    /// Issue a reset link (works on a locked account; using it unlocks).
    ResetLink {
        username: String,
        send: bool,
    },
    MailQueue,
    /// Makes queued mail due now (one message, or every one) and wakes the sender.
    MailRetry {
        id: Option<u64>,
    },
    GroupAdd {
        name: String,
    },
    /// Removes the group and takes every member out of it.
    GroupRemove {
        name: String,
    },
    GroupList,
    AppAdd(AppSpec),
    AppList,
    AppShow {
        name: String,
    },
    AppSet {
        name: String,
        changes: AppChanges,
    },
    /// Removes the app and revokes every token it holds.
    AppRemove {
        name: String,
    },
    AppRotateSecret {
        name: String,
    },
    OidcRotateKey,
    /// Write a consistent backup to this absolute path.
    Backup {
        path: std::path::PathBuf,
    },
}

impl Request {
    /// The command's name, for logs (never its arguments).
    pub fn name(&self) -> &'static str {
        match self {
            Request::UserAdd(_) => "user add",
            Request::UserImport { .. } => "user import",
            Request::UserList { .. } => "user list",
            Request::UserShow { .. } => "user show",
            Request::UserSet { .. } => "user set",
            Request::UserDisable { .. } => "user disable",
            Request::UserEnable { .. } => "user enable",
            Request::UserDelete { .. } => "user delete",
            Request::UserForceChange { .. } => "user force-change",
            Request::Unlock { .. } => "unlock",
            Request::LicenseSet { .. } => "license set",
            Request::LicenseRenew { .. } => "license renew",
            Request::LicenseList { .. } => "license list",
            Request::Audit { .. } => "audit",
            Request::ResetLink { .. } => "reset-link",
            Request::MailQueue => "mail queue",
            Request::MailRetry { .. } => "mail retry",
            Request::GroupAdd { .. } => "group add",
            Request::GroupRemove { .. } => "group remove",
            Request::GroupList => "group list",
            Request::AppAdd(_) => "app add",
            Request::AppList => "app list",
            Request::AppShow { .. } => "app show",
            Request::AppSet { .. } => "app set",
            Request::AppRemove { .. } => "app remove",
            Request::AppRotateSecret { .. } => "app rotate-secret",
            Request::OidcRotateKey => "oidc rotate-key",
            Request::Backup { .. } => "backup",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub admin: bool,
    pub agency: Option<String>,
    /// `YYYY-MM-DD` or `never`; absent means `license.default_term` from today.
    pub license_expires: Option<String>,
    /// From `--password-stdin`; absent means "issue a setup link".
    pub password: Option<Secret>,
    /// Names of existing groups (`--group`).
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserChanges {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub agency: Option<String>,
    /// `--admin true|false`: an alias for `--role admin` / `--role user`.
    pub admin: Option<bool>,
    #[serde(default)]
    pub role: Option<Role>,
    /// `--groups a,b`: the account's whole set of groups (empty: none).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.phone.is_none()
            && self.name.is_none()
            && self.agency.is_none()
            && self.admin.is_none()
            && self.role.is_none()
            && self.groups.is_none()
    }
}

/// `app add`: a new app (CONTRACT section 7).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppSpec {
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub logout_uris: Vec<String>,
    pub public: bool,
    pub groups: Vec<String>,
    pub url: Option<String>,
    pub hosts: Vec<String>,
}

/// `app set`: each given list replaces the app's; `url: ""` removes the link.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppChanges {
    pub redirect_uris: Option<Vec<String>>,
    pub logout_uris: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub url: Option<String>,
    pub hosts: Option<Vec<String>>,
}

impl AppChanges {
    pub fn is_empty(&self) -> bool {
        self.redirect_uris.is_none()
            && self.logout_uris.is_none()
            && self.groups.is_none()
            && self.url.is_none()
            && self.hosts.is_none()
    }
}

/// An app as `app list` and `app show` print it; never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppView {
    pub name: String,
    /// `None` for an app that only uses forward-auth (no redirect URI).
    pub client_id: Option<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub logout_uris: Vec<String>,
    pub groups: Vec<String>,
    pub url: Option<String>,
    pub hosts: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewTarget {
    User(String),
    Agency(String),
}

/// A successful answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// A change was made; `message` says what, for the operator.
    Done {
        message: String,
    },
    /// An account was created; `setup_link` when it has no password yet.
    Created {
        user: UserView,
        setup_link: Option<String>,
    },
    User {
        user: UserView,
    },
    Users {
        users: Vec<UserView>,
    },
    Licenses {
        licenses: Vec<LicenseView>,
    },
    Audit {
        events: Vec<AuditView>,
    },
    /// A reset link for the helpdesk to pass on; `mailed_to` when it was queued too.
    Link {
        link: String,
        mailed_to: Option<String>,
    },
    Queue {
        messages: Vec<QueuedMail>,
    },
    Groups {
        groups: Vec<GroupView>,
    },
    /// An app; `client_secret` only right after it was made (shown once).
    App {
        app: AppView,
        client_secret: Option<String>,
        /// Where the app finds everything else (`/.well-known/openid-configuration`).
        discovery_url: String,
    },
    Apps {
        apps: Vec<AppView>,
    },
    /// A backup was written (or checked, or restored).
    Backup {
        path: std::path::PathBuf,
        counts: crate::store::backup::Counts,
    },
}

/// A message waiting in the outbox (`mail queue`); never its body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedMail {
    pub id: u64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub user: Option<String>,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_error: Option<String>,
}

/// The fields of `user show --json` (CONTRACT section 3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserView {
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `role == admin`, kept for scripts written before roles.
    pub admin: bool,
    pub role: Role,
    /// Group names, as they were typed when each group was made.
    pub groups: Vec<String>,
    pub agency: Option<String>,
    pub disabled: bool,
    pub locked: bool,
    pub failed_attempts: u32,
    pub license_expires: Option<Date>,
    pub password_changed_at: Option<Timestamp>,
    pub password_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The last successful sign-in (CONTRACT section 7).
    #[serde(default)]
    pub last_sign_in_at: Option<Timestamp>,
}

/// A group as `group list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupView {
    pub name: String,
    pub members: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LicenseView {
    pub username: String,
    pub agency: Option<String>,
    /// `None` is a license that never expires.
    pub license_expires: Option<Date>,
    pub expired: bool,
}

/// An audit event as `audit --json` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditView {
    pub time: Timestamp,
    pub event: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub actor: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            time: r.time,
            event: r.event.as_str(),
            user: r.user,
            ip: r.ip,
            actor: r.actor,
            detail: r.detail,
        }
    }
}

/// An [`OpError`] as it crosses the socket: `{"message": "..."}`, the line
/// the operator reads. The client gets it back as [`OpError::Remote`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub message: String,
}

impl From<&OpError> for WireError {
    fn from(e: &OpError) -> Self {
        Self {
            message: e.to_string(),
        }
    }
}

impl From<WireError> for OpError {
    fn from(e: WireError) -> Self {
        OpError::Remote(e.message)
    }
}

/// The line the server sends back.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(Box<Response>),
    Error(WireError),
}

impl From<Result<Response, OpError>> for Reply {
    fn from(result: Result<Response, OpError>) -> Self {
        match result {
            Ok(response) => Reply::Ok(Box::new(response)),
            Err(e) => Reply::Error(WireError::from(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_crosses_the_socket_as_its_message() {
        let error = OpError::NoSuchUser("bob".into());
        let line = serde_json::to_string(&Reply::from(Err(error))).unwrap();
        assert_eq!(line, r#"{"error":{"message":"no such user: \"bob\""}}"#);
        let Reply::Error(wire) = serde_json::from_str::<Reply>(&line).unwrap() else {
            panic!("an error reply: {line}");
        };
        let back = OpError::from(wire);
        assert!(matches!(&back, OpError::Remote(_)), "{back:?}");
        assert_eq!(back.to_string(), "no such user: \"bob\"");
    }

    #[test]
    fn an_error_line_from_an_older_server_reads() {
        let line = r#"{"error":{"message":"--years must be at least 1"}}"#;
        let Ok(Reply::Error(wire)) = serde_json::from_str::<Reply>(line) else {
            panic!("an error reply");
        };
        assert_eq!(
            OpError::from(wire).to_string(),
            "--years must be at least 1"
        );
    }
}
