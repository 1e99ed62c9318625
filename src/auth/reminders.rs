//! The one reminder mail per password, `policy.expiry_warning` before it expires.

use jiff::Timestamp;
use minijinja::context;

use super::{Auth, AuthError};
use crate::domain::time_left;
use crate::mail::Validity;
use crate::mail::compose::MailKind;
use crate::store::users::UserRecord;

impl Auth {
    /// Queues a reminder for every password that entered its warning window and
    /// has not had one yet; returns how many were queued.
    pub async fn send_expiry_reminders(&self) -> Result<usize, AuthError> {
        let max_age = self.config.policy.max_age.signed();
        let warning = self.config.policy.expiry_warning.signed();
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        let queued = self
            .store
            .blocking(move |store| {
                let now = store.now();
                // Find the few accounts due a reminder in a read transaction, so the
                // scan neither holds the write lock nor keeps every account in memory.
                let due: Vec<String> = store.read(|tx| {
                    tx.users()?
                        .keys_where(|u| reminder_due(u, now, max_age, warning).is_some())
                })?;
                if due.is_empty() {
                    return Ok(0);
                }
                store.write(|tx| {
                    let mut users_t = tx.users()?;
                    let mut queued = 0;
                    for key in &due {
                        // Re-checked: the account may have changed since the scan.
                        let Some(mut u) = users_t.get(key)? else {
                            continue;
                        };
                        let Some((changed, due_at, left)) = reminder_due(&u, now, max_age, warning)
                        else {
                            continue;
                        };
                        let link = config.server.base_url.join("/profile");
                        mailer.mail_user(
                            &config,
                            tx,
                            &u,
                            MailKind::ExpiryReminder,
                            context! { expires_in => time_left::in_words(left), link },
                            Validity::Until(due_at),
                        )?;
                        u.expiry_reminded_for = Some(changed);
                        users_t.put(&u)?;
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

/// When `u`'s password is inside its warning window and has had no reminder:
/// its change time, its expiry, and the time left.
fn reminder_due(
    u: &UserRecord,
    now: Timestamp,
    max_age: jiff::SignedDuration,
    warning: jiff::SignedDuration,
) -> Option<(Timestamp, Timestamp, jiff::SignedDuration)> {
    let changed = u.password_changed_at?;
    let due = changed.checked_add(max_age).ok()?;
    let left = due.duration_since(now);
    let fresh = u.expiry_reminded_for != Some(changed);
    if !fresh || left > warning || left.is_negative() || u.disabled {
        return None;
    }
    Some((changed, due, left))
}
