//! One-time setup links: the first administrator, and new accounts choosing a password.

use jiff::{SignedDuration, Timestamp};

use super::{Auth, AuthError, links};
use crate::domain::email::Email;
use crate::domain::license;
use crate::domain::password::{NewPassword, PasswordHash, PasswordRules};
use crate::domain::secret::Secret;
use crate::domain::token;
use crate::domain::username::Username;
use crate::store::audit::{Event, Origin};
use crate::store::sessions::EndReason;
use crate::store::tokens::TokenKind;
use crate::store::users::UserRecord;
use crate::store::{Store, StoreError, Write};

/// How long the link printed by the first `serve` stays valid.
pub const FIRST_ADMIN_TTL: SignedDuration = SignedDuration::from_hours(1);

/// On an empty data file, a fresh first-administrator token (older ones are voided).
pub fn first_admin_token(store: &Store) -> Result<Option<Secret>, StoreError> {
    // The usual start has accounts: find that out without a write (an fsync).
    if store.read(|tx| tx.users()?.count())? > 0 {
        return Ok(None);
    }
    store.write(|tx| {
        if tx.users()?.count()? > 0 {
            return Ok(None);
        }
        let issued = links::issue(
            &mut tx.tokens()?,
            TokenKind::FirstAdmin,
            None,
            None,
            FIRST_ADMIN_TTL,
            tx.now(),
        )?;
        Ok(Some(issued.token))
    })
}

/// What the setup page shows for a live token.
#[derive(Debug, Clone)]
pub struct SetupView {
    pub first_admin: bool,
    pub username: String,
    pub email: Option<String>,
}

/// The values posted to the setup page.
pub struct SetupForm {
    pub username: String,
    pub email: String,
    pub password: Secret,
    pub confirm: Secret,
}

pub enum SetupOutcome {
    Done {
        username: String,
    },
    /// Rule violations, one sentence each (422).
    Invalid(Vec<String>),
    /// Spent, expired or never issued (410).
    Gone,
}

impl Auth {
    /// The setup page for `token`, or `None` when it is spent or expired.
    pub async fn setup_view(&self, token: String) -> Result<Option<SetupView>, StoreError> {
        self.store
            .read_blocking(move |tx| {
                let Some((t, user)) = links::live(tx, &token)? else {
                    return Ok(None);
                };
                Ok(match (t.kind, user) {
                    (TokenKind::FirstAdmin, _) => Some(SetupView {
                        first_admin: true,
                        username: String::new(),
                        email: None,
                    }),
                    (TokenKind::Setup, Some(u)) => Some(SetupView {
                        first_admin: false,
                        username: u.username.into(),
                        email: u.email.map(String::from),
                    }),
                    _ => None,
                })
            })
            .await
    }

    /// Completes a setup link: validates, then spends the token and saves in one transaction.
    pub async fn complete_setup(
        &self,
        token: String,
        form: SetupForm,
        origin: Origin,
    ) -> Result<SetupOutcome, AuthError> {
        let Some(view) = self.setup_view(token.clone()).await? else {
            return Ok(SetupOutcome::Gone);
        };
        let parsed = match form.parse(view.first_admin, &self.config.policy.rules()) {
            Ok(parsed) => parsed,
            Err(errors) => return Ok(SetupOutcome::Invalid(errors)),
        };
        let phc = self.hasher.hash(parsed.password).await?;
        let chosen = Chosen {
            username: parsed.username,
            email: parsed.email,
            phc,
            license_term: self.config.license.default_term.as_duration(),
        };
        let outcome = self
            .store
            .write_blocking(move |tx| save_setup(tx, &token, chosen, &origin))
            .await?;
        Ok(outcome)
    }
}

impl SetupForm {
    /// Checks every field, reporting every fault at once: the user name (only
    /// the first administrator chooses one), the email, the password rules
    /// and the confirmation.
    fn parse(&self, first_admin: bool, rules: &PasswordRules) -> Result<ParsedSetup, Vec<String>> {
        let mut errors = Vec::new();
        let username = if first_admin {
            Username::parse(self.username.as_str())
                .map_err(|e| errors.push(format!("User name: {e}")))
                .ok()
        } else {
            None
        };
        let email = Email::parse(&self.email)
            .map_err(|e| errors.push(format!("Email: {e}")))
            .ok();
        let password = NewPassword::parse(self.password.expose(), rules)
            .map_err(|violations| errors.extend(violations.iter().map(|v| v.to_string())))
            .ok();
        if self.password != self.confirm {
            errors.push("The two passwords differ.".into());
        }
        match (email, password, errors.is_empty()) {
            (Some(email), Some(password), true) => Ok(ParsedSetup {
                username,
                email,
                password,
            }),
            _ => Err(errors),
        }
    }
}

/// A setup form that passed every check.
struct ParsedSetup {
    username: Option<Username>,
    email: Email,
    password: NewPassword,
}

/// What a completed setup saves.
struct Chosen {
    /// The first administrator's name; `None` for an invited account.
    username: Option<Username>,
    email: Email,
    phc: PasswordHash,
    license_term: std::time::Duration,
}

/// Spends the setup token and saves the account it sets up, in one transaction.
fn save_setup(
    tx: &Write,
    token: &str,
    chosen: Chosen,
    origin: &Origin,
) -> Result<SetupOutcome, StoreError> {
    let mut users_t = tx.users()?;
    if let Some(name) = &chosen.username {
        // Checked before the token is spent, so the link survives a taken name.
        if users_t.get(name.key())?.is_some() {
            return Ok(SetupOutcome::Invalid(vec![
                "That user name is taken.".into(),
            ]));
        }
    }
    let mut tokens_t = tx.tokens()?;
    let hash = token::hash(token);
    let Some(t) = tokens_t.get(&hash)? else {
        return Ok(SetupOutcome::Gone);
    };
    if !t.is_live(tx.now()) || tokens_t.take(&hash)?.is_none() {
        return Ok(SetupOutcome::Gone);
    }
    let now = tx.now();
    let (mut user, event, detail) = match (t.kind, chosen.username, t.user) {
        (TokenKind::FirstAdmin, Some(name), _) => {
            let mut u = UserRecord::new(name, now);
            u.role = crate::domain::role::Role::Admin;
            u.license_expires = Some(license::default_expiry(
                license::today(now),
                chosen.license_term,
            ));
            (u, Event::UserCreated, "first administrator, by setup link")
        }
        (TokenKind::Setup, _, Some(key)) => match users_t.get(&key)? {
            Some(u) => (u, Event::PasswordChanged, "password chosen by setup link"),
            None => return Ok(SetupOutcome::Gone),
        },
        _ => return Ok(SetupOutcome::Gone),
    };
    user.email = Some(chosen.email);
    set_password(&mut user, chosen.phc, now, 0);
    users_t.put(&user)?;
    links::void_all(&mut tokens_t, &user.key())?;
    tx.record(
        event,
        Some(user.username.as_str()),
        origin,
        Some(detail.into()),
    )?;
    Ok(SetupOutcome::Done {
        username: user.username.into(),
    })
}

/// Installs a new password hash: keeps `history` old hashes, clears lockout, ends sessions.
pub fn set_password(user: &mut UserRecord, phc: PasswordHash, now: Timestamp, history: usize) {
    if let Some(old) = user.password_hash.replace(phc) {
        user.password_history.insert(0, old);
    }
    user.password_history.truncate(history);
    user.password_changed_at = Some(now);
    user.must_change = false;
    user.failed_attempts = 0;
    user.locked_at = None;
    user.locked_from = None;
    user.revoke_sessions(EndReason::PasswordChanged);
}
