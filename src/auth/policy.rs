//! The agency policies that run in the background (CONTRACT section 9):
//! license reminders 30 and 7 days before a license ends, and the audit
//! log's retention (`[audit] keep`).

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use minijinja::context;

use super::{Auth, AuthError};
use crate::domain::license;
use crate::mail::Validity;
use crate::mail::compose::MailKind;
use crate::store::StoreError;
use crate::store::users::{LicenseReminded, UserRecord};

/// The reminder stages, in days before the license's last day, farthest first.
pub const LICENSE_REMINDERS: [u32; 2] = [30, 7];

/// How many audit events one write transaction deletes, so pruning a
/// year of events never holds the write lock for long.
const PRUNE_BATCH: usize = 10_000;

impl Auth {
    /// Queues the license reminder each account is due and has not had;
    /// returns how many were queued. Reads only the licenses ending within
    /// the farthest stage (the directory's index), not every account.
    pub async fn send_license_reminders(&self) -> Result<usize, AuthError> {
        let config = self.config.clone();
        let mailer = self.mailer.clone();
        let queued = self
            .store
            .blocking(move |store| {
                let now = store.now();
                let today = license::today(now);
                let horizon = today
                    .checked_add(i64::from(LICENSE_REMINDERS[0]).days())
                    .unwrap_or(Date::MAX);
                let due: Vec<String> = store.accounts(|all| {
                    all.licenses_ending(today, horizon)
                        .filter(|(_, e)| {
                            !e.disabled
                                && e.license_expires.is_some_and(|day| {
                                    stage_due(day, e.license_reminded.as_ref(), today).is_some()
                                })
                        })
                        .map(|(key, _)| key.to_owned())
                        .collect()
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
                        let Some((day, stage)) = reminder_due(&u, today) else {
                            continue;
                        };
                        let days_left = (day - today).get_days();
                        mailer.mail_user(
                            &config,
                            tx,
                            &u,
                            MailKind::LicenseReminder,
                            context! {
                                ends_in => ends_in(days_left),
                                last_day => day.to_string(),
                                agency => u.agency.clone(),
                            },
                            Validity::Until(end_of(day)),
                        )?;
                        u.license_reminded = Some(LicenseReminded {
                            license_expires: day,
                            days_before: stage,
                        });
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

    /// Deletes the audit events older than `[audit] keep`, a batch per
    /// transaction; returns how many went. Nothing without the key.
    pub async fn prune_audit(&self) -> Result<usize, StoreError> {
        let Some(keep) = self.config.audit.keep else {
            return Ok(0);
        };
        let mut pruned = 0;
        loop {
            let batch = self
                .store
                .write_blocking(move |tx| {
                    let cutoff = tx
                        .now()
                        .saturating_sub(keep.signed())
                        .unwrap_or(Timestamp::MIN);
                    tx.audit()?.prune(cutoff, PRUNE_BATCH)
                })
                .await?;
            pruned += batch;
            if batch < PRUNE_BATCH {
                return Ok(pruned);
            }
        }
    }
}

/// The license day and stage `u` is due a reminder for today, if any.
fn reminder_due(u: &UserRecord, today: Date) -> Option<(Date, u32)> {
    if u.disabled {
        return None;
    }
    let day = u.license_expires?;
    stage_due(day, u.license_reminded.as_ref(), today).map(|stage| (day, stage))
}

/// The stage a license ending on `day` is in today (the nearest one
/// reached), unless its reminder, or a nearer one, was sent for this same
/// day. A license already ended, or farther off than every stage, is due none.
fn stage_due(day: Date, reminded: Option<&LicenseReminded>, today: Date) -> Option<u32> {
    let days_left = (day - today).get_days();
    if days_left < 0 {
        return None;
    }
    let stage = LICENSE_REMINDERS
        .into_iter()
        .filter(|&s| i64::from(s) >= i64::from(days_left))
        .min()?;
    match reminded {
        Some(r) if r.license_expires == day && r.days_before <= stage => None,
        _ => Some(stage),
    }
}

/// "in 30 days", "tomorrow", "today".
fn ends_in(days_left: i32) -> String {
    match days_left {
        ..=0 => "today".into(),
        1 => "tomorrow".into(),
        n => format!("in {n} days"),
    }
}

/// The first moment after `day`, server local time: a reminder still
/// waiting for the mail server then is dropped, not sent late.
fn end_of(day: Date) -> Timestamp {
    day.tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::system()).ok())
        .map_or(Timestamp::MAX, |z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn sent(day: Date, days_before: u32) -> LicenseReminded {
        LicenseReminded {
            license_expires: day,
            days_before,
        }
    }

    #[test]
    fn each_stage_is_due_once_per_license_day() {
        let end = date(2027, 3, 31);
        let on = |days_before: i64| end.checked_sub(days_before.days()).unwrap();
        assert_eq!(stage_due(end, None, on(31)), None, "too early");
        assert_eq!(stage_due(end, None, on(30)), Some(30));
        assert_eq!(stage_due(end, Some(&sent(end, 30)), on(20)), None, "sent");
        assert_eq!(stage_due(end, Some(&sent(end, 30)), on(7)), Some(7));
        assert_eq!(stage_due(end, Some(&sent(end, 7)), on(1)), None, "sent");
        assert_eq!(
            stage_due(end, None, on(3)),
            Some(7),
            "a missed 30 gives just the 7"
        );
        assert_eq!(stage_due(end, None, on(-1)), None, "ended");
        // A renewal moves the day: the reminders start again.
        let renewed = end.checked_add(1.year()).unwrap();
        assert_eq!(
            stage_due(
                renewed,
                Some(&sent(end, 7)),
                renewed.checked_sub(30.days()).unwrap()
            ),
            Some(30)
        );
    }

    #[test]
    fn the_time_left_reads_as_words() {
        assert_eq!(ends_in(30), "in 30 days");
        assert_eq!(ends_in(1), "tomorrow");
        assert_eq!(ends_in(0), "today");
    }
}
