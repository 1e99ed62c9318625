//! The one reminder mail per password, `policy.expiry_warning` before it expires.

use jiff::Timestamp;
use minijinja::context;

use super::{Auth, AuthError};
use crate::mail::compose::MailKind;
use crate::store::tables::USERS;
use crate::store::users;

impl Auth {
    /// Queues a reminder for every password that entered its warning window and
    /// has not had one yet; returns how many were queued.
    pub async fn send_expiry_reminders(&self) -> Result<usize, AuthError> {
        let max_age = self.config.policy.max_age.signed();
        let warning = self.config.policy.expiry_warning.signed();
        let queued = self
            .db(move |env| {
                env.write(|tx| {
                    let now = Timestamp::now();
                    let mut users_t = tx.open_table(USERS)?;
                    let mut queued = 0;
                    for mut u in users::all(&users_t)? {
                        let Some(changed) = u.password_changed_at else {
                            continue;
                        };
                        let Ok(due) = changed.checked_add(max_age) else {
                            continue;
                        };
                        let left = due.duration_since(now);
                        let fresh = u.expiry_reminded_for != Some(changed);
                        if !fresh || left > warning || left.is_negative() || u.disabled {
                            continue;
                        }
                        let days = (left.as_secs() + 86_399) / 86_400;
                        let link = format!("{}/profile", env.config.server.base_url);
                        env.mail_user(
                            tx,
                            &u,
                            MailKind::ExpiryReminder,
                            context! { days, link },
                            Some(due),
                        )?;
                        u.expiry_reminded_for = Some(changed);
                        users::put(&mut users_t, &u)?;
                        queued += 1;
                    }
                    Ok::<_, AuthError>(queued)
                })
            })
            .await?;
        if queued > 0 {
            self.mailer.wake();
        }
        Ok(queued)
    }
}
