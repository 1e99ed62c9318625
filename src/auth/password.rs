//! Changing a password: policy, history, and what a change ends (SECURITY P1, P4, R8, S3).

use jiff::Timestamp;

use super::{Auth, AuthError, setup::set_password};
use crate::config::Config;
use crate::domain::password::{NewPassword, PasswordHash};
use crate::domain::secret::Secret;
use crate::mail::Mailer;
use crate::mail::Validity;
use crate::mail::compose::MailKind;
use crate::store::audit::{Event, Origin};
use crate::store::tokens::TokensMut;
use crate::store::users::UserRecord;
use crate::store::{StoreError, Write};
use minijinja::context;

/// The outcome of a password change the user may be told about.
pub enum Change {
    /// Done; every old session is ended and this is the caller's new one.
    Done { session_id: Secret },
    /// The new password breaks a rule or repeats a recent one (422).
    Refused(Vec<String>),
}

impl Auth {
    /// Checks `new` and `confirm` against the policy and the account's history,
    /// then installs it, ends every session and token of the account, and opens
    /// a new session for the caller.
    pub async fn change_password(
        &self,
        user: &UserRecord,
        new: Secret,
        confirm: Secret,
        event: Event,
        origin: Origin,
    ) -> Result<Change, AuthError> {
        let phc = match self.check_new_password(user, new, confirm).await? {
            Ok(phc) => phc,
            Err(errors) => return Ok(Change::Refused(errors)),
        };
        let key = user.key();
        let history = self.config.policy.history;
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        let session_id = self
            .store
            .write_blocking(move |tx| {
                let Some(mut user) = tx.users()?.get(&key)? else {
                    return Err(StoreError::Corrupt {
                        table: "users",
                        detail: "account vanished during a password change".into(),
                    }
                    .into());
                };
                save_password(
                    tx,
                    &mut tx.tokens()?,
                    &config,
                    &mailer,
                    &mut user,
                    phc,
                    history,
                )?;
                let id = tx.sessions()?.create(&user, false, tx.now())?;
                tx.record(
                    event,
                    Some(user.username.as_str()),
                    &origin,
                    Some("every other session ended".into()),
                )?;
                Ok::<_, AuthError>(id)
            })
            .await?;
        self.mailer.wake();
        Ok(Change::Done { session_id })
    }

    /// The policy, the confirmation and the history, in that order; the new
    /// hash when all pass, else one sentence per broken rule.
    pub async fn check_new_password(
        &self,
        user: &UserRecord,
        new: Secret,
        confirm: Secret,
    ) -> Result<Result<PasswordHash, Vec<String>>, AuthError> {
        let parsed = NewPassword::parse(new.expose(), &self.config.policy.rules());
        let mut errors: Vec<String> = match &parsed {
            Ok(_) => Vec::new(),
            Err(violations) => violations.iter().map(ToString::to_string).collect(),
        };
        if new != confirm {
            errors.push("The two passwords differ.".into());
        }
        let (Ok(new), true) = (parsed, errors.is_empty()) else {
            return Ok(Err(errors));
        };
        if self.recently_used(user, &Secret::new(new.expose())).await? {
            let n = self.config.policy.history;
            return Ok(Err(vec![format!(
                "Choose a password you have not used recently (your current one and your last {n} are refused)."
            )]));
        }
        Ok(Ok(self.hasher.hash(new).await?))
    }

    /// Whether `new` matches the current password or one of the remembered ones.
    async fn recently_used(&self, user: &UserRecord, new: &Secret) -> Result<bool, AuthError> {
        let remembered = user.password_hash.iter().chain(
            user.password_history
                .iter()
                .take(self.config.policy.history),
        );
        for phc in remembered {
            if self
                .hasher
                .verify(new.clone(), Some(phc.clone()))
                .await?
                .matched
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Installs `phc` as `user`'s password in `tx`: keeps `history` old hashes,
/// saves the account, voids its links and queues the "password changed" mail.
pub(super) fn save_password(
    tx: &Write,
    tokens: &mut TokensMut<'_>,
    config: &Config,
    mailer: &Mailer,
    user: &mut UserRecord,
    phc: PasswordHash,
    history: usize,
) -> Result<(), AuthError> {
    let now = tx.now();
    set_password(user, phc, now, history);
    tx.users()?.put(user)?;
    super::links::void_all(tokens, &user.key())?;
    let vars = context! { when => mail_time(now) };
    mailer.mail_user(
        config,
        tx,
        user,
        MailKind::PasswordChanged,
        vars,
        Validity::Notice,
    )?;
    Ok(())
}

/// A timestamp as mail shows it: UTC, to the minute.
pub fn mail_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}
