//! Why an admin command could not be done: what went wrong, as data, and the
//! one line the operator reads for it (exit 1).

use std::path::PathBuf;

use crate::domain::email::EmailError;
use crate::domain::password::RuleViolation;
use crate::domain::phone::PhoneError;
use crate::domain::username::UsernameError;
use crate::mail::MailError;
use crate::store::StoreError;
use crate::store::backup::BackupError;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("no such user: {0:?}")]
    NoSuchUser(String),
    #[error("a user named {0:?} already exists")]
    AlreadyExists(String),
    #[error("no accounts belong to agency {0:?}")]
    NoSuchAgency(String),
    #[error("{0} has no email address; give them the link instead")]
    NoEmail(String),
    #[error(
        "nothing to change: give --email, --phone, --name, --agency, --role, --admin or --groups"
    )]
    NothingToChange,
    #[error("no such group: {0:?} (create it with `latchkey group add`)")]
    NoSuchGroup(String),
    #[error("a group named {0:?} already exists")]
    GroupExists(String),
    #[error("group name: {0}")]
    GroupName(UsernameError),
    #[error("no such app: {0:?} (see `latchkey app list`)")]
    NoSuchApp(String),
    #[error("an app named {0:?} already exists")]
    AppExists(String),
    #[error("app name: {0}")]
    AppName(UsernameError),
    /// A redirect URI, logout URI, launcher URL or host that cannot be used.
    #[error("{what} {value:?}: {reason}")]
    AppValue {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{0} is a public app: it has no secret (it proves itself with PKCE)")]
    PublicApp(String),
    #[error(
        "{0} has no redirect URI, so it has no client secret; give it one with `app set --redirect-uri`"
    )]
    NotOidc(String),
    #[error("nothing to change: give --redirect-uri, --logout-uri, --groups, --url or --host")]
    NothingToChangeInApp,
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Role(#[from] crate::domain::role::RoleError),
    #[error("--years must be at least 1")]
    ZeroYears,
    #[error("user name: {0}")]
    Username(UsernameError),
    #[error("email {value:?}: {reason}")]
    Email { value: String, reason: EmailError },
    #[error("phone {value:?}: {reason}")]
    Phone { value: String, reason: PhoneError },
    /// A display name or agency.
    #[error("{field} {reason}")]
    Text {
        field: &'static str,
        reason: TextError,
    },
    #[error("password refused: {}", sentences(.0))]
    Password(Vec<RuleViolation>),
    /// A license end that is neither `YYYY-MM-DD` nor `never`.
    #[error("{0}")]
    Expiry(String),
    /// A span such as `30d` that does not parse.
    #[error("{0}")]
    Span(String),
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Something wrong on one line of an imported file (the header is line 1).
    #[error("line {line}: {error}")]
    AtLine { line: u64, error: Box<OpError> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("{0:#}")]
    MailSetup(anyhow::Error),
    #[error(
        "the data directory {} is held by another latchkey process whose control socket does not answer; is a command still running?",
        .0.display()
    )]
    Busy(PathBuf),
    #[error("talking to the running server failed: {0}")]
    Socket(std::io::Error),
    #[error("{0}")]
    Encode(serde_json::Error),
    #[error("the running server sent an answer this latchkey does not understand")]
    UnreadableAnswer,
    #[error("only the service's own user may use the control socket")]
    NotTheServiceUser,
    #[error("malformed request: {0}")]
    MalformedRequest(serde_json::Error),
    #[error("the command failed inside the server; see its log")]
    ServerFailed,
    #[error("no queued mail has id {0} (see `latchkey mail queue`)")]
    NoSuchMail(u64),
    /// The acting member of staff's role does not allow it (SECURITY A1).
    #[error("{0}")]
    NotPermitted(&'static str),
    /// Every bad line of an imported file; nothing was written.
    #[error("{} of the file {} wrong and nothing was imported: {}", count_lines(.0.len()), if .0.len() == 1 { "is" } else { "are" }, join_lines(.0))]
    BadLines(Vec<OpError>),
    /// What the running server answered, as its message.
    #[error("{0}")]
    Remote(String),
}

fn count_lines(n: usize) -> String {
    match n {
        1 => "1 line".to_owned(),
        n => format!("{n} lines"),
    }
}

fn join_lines(errors: &[OpError]) -> String {
    let shown: Vec<String> = errors.iter().take(20).map(ToString::to_string).collect();
    match errors.len().saturating_sub(shown.len()) {
        0 => shown.join("; "),
        more => format!("{}; and {more} more", shown.join("; ")),
    }
}

/// Why a display name or agency was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must be one line of printable text")]
    NotOneLine,
}

/// What is wrong with a CSV file's header or the shape of one of its rows.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the header row: {0}")]
    Header(csv::Error),
    #[error(
        "unknown column {0:?}; columns are username, email, name, phone, agency, license_expires, admin, groups"
    )]
    UnknownColumn(String),
    #[error("column {0:?} appears twice")]
    RepeatedColumn(String),
    #[error("the header must have a {0:?} column")]
    MissingColumn(&'static str),
    #[error("{0}")]
    Row(csv::Error),
    #[error("user name {name:?} repeats line {first}")]
    RepeatedUser { name: String, first: u64 },
    #[error("admin must be true or false, not {0:?}")]
    Admin(String),
    #[error("the file has no rows below its header")]
    NoRows,
}

impl OpError {
    /// This error, said of line `line` of an imported file.
    pub fn at_line(self, line: u64) -> Self {
        OpError::AtLine {
            line,
            error: Box::new(self),
        }
    }
}

fn sentences(violations: &[RuleViolation]) -> String {
    let rules: Vec<String> = violations.iter().map(ToString::to_string).collect();
    rules.join(" ")
}

macro_rules! op_error_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for OpError {
            fn from(e: $t) -> Self {
                StoreError::from(e).into()
            }
        }
    )*};
}
op_error_from_redb!(redb::TableError, redb::StorageError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_went_wrong() {
        let cases: &[(OpError, &str)] = &[
            (OpError::NoSuchUser("bob".into()), "no such user: \"bob\""),
            (
                OpError::AlreadyExists("Bob".into()),
                "a user named \"Bob\" already exists",
            ),
            (
                OpError::Email {
                    value: "nope".into(),
                    reason: EmailError::Invalid,
                },
                "email \"nope\": enter an email address like name@example.org",
            ),
            (
                OpError::Text {
                    field: "agency",
                    reason: TextError::TooLong(100),
                },
                "agency must be at most 100 characters",
            ),
            (
                OpError::Username(UsernameError::Empty),
                "user name: enter a user name",
            ),
            (
                OpError::Busy(PathBuf::from("/srv/data")),
                "the data directory /srv/data is held by another latchkey process whose control socket does not answer; is a command still running?",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), *message, "{error:?}");
        }
    }

    #[test]
    fn a_line_prefixes_the_reason() {
        let error = OpError::from(ImportError::RepeatedUser {
            name: "ann".into(),
            first: 2,
        })
        .at_line(4);
        assert_eq!(
            error.to_string(),
            "line 4: user name \"ann\" repeats line 2"
        );
        let error = OpError::from(ImportError::MissingColumn("email")).at_line(1);
        assert_eq!(
            error.to_string(),
            "line 1: the header must have a \"email\" column"
        );
    }

    #[test]
    fn a_refused_password_lists_every_rule() {
        let error = OpError::Password(vec![RuleViolation::NeedsDigit, RuleViolation::Common]);
        assert_eq!(
            error.to_string(),
            format!(
                "password refused: {} {}",
                RuleViolation::NeedsDigit,
                RuleViolation::Common
            )
        );
    }
}
