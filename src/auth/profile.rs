//! The User Profile: current-password checks, phone, and email changes confirmed
//! from the new address (SECURITY P5, R5).

use minijinja::context;

use super::links;
use super::login::SignIn;
use super::password::mail_time;
use super::{Auth, AuthError};
use crate::domain::email::Email;
use crate::domain::password::MAX_INPUT_BYTES;
use crate::domain::phone::Phone;
use crate::domain::secret::Secret;
use crate::domain::time_left::human_duration;
use crate::mail::Validity;
use crate::mail::compose::MailKind;
use crate::store::StoreError;
use crate::store::audit::{Event, Origin};
use crate::store::tokens::TokenKind;
use crate::store::users::UserRecord;

/// The answer to a current password typed on a profile form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Current {
    Right,
    /// Wrong; `tries_left` more wrong passwords lock the account.
    Wrong {
        tries_left: u32,
    },
    /// Wrong, and the account is now locked (its sessions have ended).
    Locked,
}

impl Auth {
    /// Checks the current password typed on a profile form; a wrong one counts
    /// toward lockout exactly like a failed sign-in.
    pub async fn verify_current(
        &self,
        user: &UserRecord,
        password: Secret,
        origin: Origin,
    ) -> Result<Current, AuthError> {
        let _turn = self.locks.lock(&user.key()).await;
        let matched = password.expose().len() <= MAX_INPUT_BYTES
            && self
                .hasher
                .verify(password, user.password_hash.clone())
                .await?
                .matched;
        if matched {
            return Ok(Current::Right);
        }
        Ok(match self.record_failure(user.key(), origin).await? {
            SignIn::Failed { tries_left } if tries_left > 0 => Current::Wrong { tries_left },
            _ => Current::Locked,
        })
    }

    /// Changes (or clears) the phone number at once.
    pub async fn set_phone(
        &self,
        user: &UserRecord,
        phone: Option<Phone>,
        origin: Origin,
    ) -> Result<(), AuthError> {
        let key = user.key();
        self.store
            .write_blocking(move |tx| {
                let mut users_t = tx.users()?;
                let Some(mut u) = users_t.get(&key)? else {
                    return Ok(());
                };
                u.phone = phone;
                users_t.put(&u)?;
                tx.record(
                    Event::UserUpdated,
                    Some(u.username.as_str()),
                    &origin,
                    Some("phone changed on the profile page".into()),
                )
            })
            .await?;
        Ok(())
    }

    /// Mails a confirmation link to `new`; the address changes only when it is used.
    pub async fn request_email_change(
        &self,
        user: &UserRecord,
        new: Email,
        origin: Origin,
    ) -> Result<(), AuthError> {
        let key = user.key();
        let ttl = self.config.reset.link_ttl;
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        self.store
            .write_blocking(move |tx| {
                let Some(u) = tx.users()?.get(&key)? else {
                    return Ok(());
                };
                let issued = links::issue(
                    &mut tx.tokens()?,
                    TokenKind::ConfirmEmail,
                    Some(&key),
                    Some(&new),
                    ttl.signed(),
                    tx.now(),
                )?;
                let vars = context! {
                    user => crate::mail::compose::user_ctx(&u),
                    link => links::url(&config.server.base_url, "confirm-email", &issued.token),
                    valid_for => human_duration(ttl.as_duration()),
                };
                mailer.queue(
                    tx,
                    &config,
                    crate::mail::Outgoing {
                        kind: MailKind::ConfirmEmail,
                        to: new.as_str(),
                        user: Some(u.username.as_str()),
                        vars,
                        validity: Validity::Link(issued.mailed()),
                    },
                )?;
                tx.record(
                    Event::EmailChangeRequested,
                    Some(u.username.as_str()),
                    &origin,
                    Some(format!("confirmation link mailed to {}", new.as_str())),
                )?;
                Ok::<_, AuthError>(())
            })
            .await?;
        self.mailer.wake();
        Ok(())
    }

    /// The account and new address behind a live confirmation token.
    pub async fn email_change_view(
        &self,
        token: String,
    ) -> Result<Option<(UserRecord, Email)>, StoreError> {
        self.store
            .read_blocking(move |tx| {
                Ok(match links::live(tx, &token)? {
                    Some((t, user)) if t.kind == TokenKind::ConfirmEmail => user.zip(t.email),
                    _ => None,
                })
            })
            .await
    }

    /// Applies a confirmed email change: spends the token, voids the account's
    /// other links, and tells the old address. False when the token is gone.
    pub async fn confirm_email(&self, token: String, origin: Origin) -> Result<bool, AuthError> {
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        let done = self
            .store
            .write_blocking(move |tx| {
                let spent = links::spend(tx, &token, TokenKind::ConfirmEmail)?;
                let Some((mut tokens_t, t, mut user)) = spent else {
                    return Ok(false);
                };
                let Some(new) = t.email else { return Ok(false) };
                let old = user.clone();
                user.email = Some(new.clone());
                tx.users()?.put(&user)?;
                // A reset link mailed to the old address must not outlive the change.
                links::void_all(&mut tokens_t, &user.key())?;
                let vars = context! { new_email => new.as_str(), when => mail_time(tx.now()) };
                mailer.mail_user(
                    &config,
                    tx,
                    &old,
                    MailKind::EmailChanged,
                    vars,
                    Validity::Notice,
                )?;
                tx.record(
                    Event::EmailChanged,
                    Some(user.username.as_str()),
                    &origin,
                    Some(format!("email changed to {new}")),
                )?;
                Ok::<_, AuthError>(true)
            })
            .await?;
        self.mailer.wake();
        Ok(done)
    }
}
