//! Forgot Password and reset links (SECURITY L3, L4, R1-R9).
//!
//! `/forgot` answers the same page for every name; behind it each branch does
//! one write transaction (an audit record at least), so the work, and the
//! time, is comparable. Mail is only queued here; SMTP is never on the request
//! path.

use jiff::SignedDuration;
use minijinja::context;

use super::links;
use super::password::save_password;
use super::{Auth, AuthError};
use crate::domain::time_left::human_duration;
use crate::domain::username::canonical_key;
use crate::mail::Validity;
use crate::mail::compose::MailKind;
use crate::metrics::bump;
use crate::store::StoreError;
use crate::store::audit::{Event, Origin};
use crate::store::tokens::TokenKind;
use crate::store::users::UserRecord;

const HOUR: SignedDuration = SignedDuration::from_hours(1);
const LINK_MAILED: &str = "reset link mailed";

/// What completing a reset link came to.
pub enum ResetOutcome {
    Done,
    /// The new password breaks a rule, differs from its confirmation or repeats a recent one (422).
    Refused(Vec<String>),
    /// Spent, expired or voided (410).
    Gone,
}

impl Auth {
    /// `POST /forgot`. Whatever happens, the caller shows the same page.
    /// `ip_allowed` is false when the client address is over its rate limit:
    /// then nothing is sent, and that is audited.
    pub async fn forgot(
        &self,
        username: &str,
        origin: Origin,
        ip_allowed: bool,
    ) -> Result<(), AuthError> {
        let key = canonical_key(username);
        let typed = username.trim().chars().take(64).collect::<String>();
        let ttl = self.config.reset.link_ttl;
        let max_per_hour = self.config.reset.max_per_hour as usize;
        let auto_unlock = self.config.lockout.auto_unlock_after.map(|d| d.signed());
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        let mailed = self.store.write_blocking(move |tx| {
                let now = tx.now();
                let mut users_t = tx.users()?;
                let user = users_t.get(&key)?;
                let (event, detail) = match user {
                    _ if !ip_allowed => (Event::RateLimited, "POST /forgot over the per-address limit; nothing sent"),
                    None => (Event::ResetRequested, "unknown user name; nothing sent"),
                    Some(u) if u.disabled => (Event::ResetRequested, "account disabled; nothing sent"),
                    Some(u) if u.email.is_none() => (Event::ResetRequested, "account has no email; nothing sent"),
                    Some(mut u) => {
                        u.reset_mails.retain(|t| now.duration_since(*t) < HOUR);
                        if u.reset_mails.len() >= max_per_hour {
                            (Event::RateLimited, "reset.max_per_hour reached for this account; nothing sent")
                        } else {
                            u.reset_mails.push(now);
                            let locked = super::login::is_locked(&u, now, auto_unlock);
                            let detail = if locked {
                                // SECURITY L4: a locked account gets no link, only the notice.
                                mailer.mail_user(&config, tx, &u, MailKind::Locked, context! {}, Validity::Notice)?;
                                "account locked; lockout notice mailed"
                            } else {
                                let issued = links::issue(
                                    &mut tx.tokens()?,
                                    TokenKind::Reset,
                                    Some(&key),
                                    None,
                                    ttl.signed(),
                                    now,
                                )?;
                                let vars = context! {
                                    link => links::url(&config.server.base_url, "reset", &issued.token),
                                    valid_for => human_duration(ttl.as_duration()),
                                };
                                mailer.mail_user(&config, tx, &u, MailKind::Reset, vars, Validity::Link(issued.mailed()))?;
                                LINK_MAILED
                            };
                            users_t.put(&u)?;
                            (Event::ResetRequested, detail)
                        }
                    }
                };
                tx.record(event, Some(&typed), &origin, Some(detail.into()))?;
                Ok::<_, AuthError>(detail == LINK_MAILED)
        })
        .await?;
        if mailed {
            bump(&self.metrics.resets_requested);
        }
        self.mailer.wake();
        Ok(())
    }

    /// The account behind a live reset token, or `None` (expired, spent, unknown).
    pub async fn reset_view(&self, token: String) -> Result<Option<UserRecord>, StoreError> {
        self.store
            .read_blocking(move |tx| {
                Ok(match links::live(tx, &token)? {
                    Some((t, user)) if t.kind == TokenKind::Reset => user,
                    _ => None,
                })
            })
            .await
    }

    /// Completes a reset: checks the new password, then spends the token and
    /// installs it in one transaction (exactly one of many parallel posts wins,
    /// SECURITY R3). Unlocks the account, ends its sessions and voids its other
    /// links (R5, R8), and mails a notice.
    pub async fn complete_reset(
        &self,
        token: String,
        user: &UserRecord,
        password: crate::domain::secret::Secret,
        confirm: crate::domain::secret::Secret,
        origin: Origin,
    ) -> Result<ResetOutcome, AuthError> {
        let phc = match self.check_new_password(user, password, confirm).await? {
            Ok(phc) => phc,
            Err(errors) => return Ok(ResetOutcome::Refused(errors)),
        };
        let history = self.config.policy.history;
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        let done = self
            .store
            .write_blocking(move |tx| {
                let spent = links::spend(tx, &token, TokenKind::Reset)?;
                let Some((mut tokens_t, _, mut user)) = spent else {
                    return Ok(false);
                };
                save_password(tx, &mut tokens_t, &config, &mailer, &mut user, phc, history)?;
                tx.record(
                    Event::ResetCompleted,
                    Some(user.username.as_str()),
                    &origin,
                    Some(
                        "password set by reset link; account unlocked; every session ended".into(),
                    ),
                )?;
                Ok::<_, AuthError>(true)
            })
            .await?;
        self.mailer.wake();
        Ok(if done {
            ResetOutcome::Done
        } else {
            ResetOutcome::Gone
        })
    }
}
