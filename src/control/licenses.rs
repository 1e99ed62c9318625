//! License commands: set, renew (one account or a whole agency), list.

use super::ops::{Ops, show_date};
use super::protocol::*;
use crate::config::Dur;
use crate::domain::license;
use crate::store::audit::Event;
use crate::store::users::UserRecord;

impl Ops<'_> {
    pub(super) fn license_set(&self, name: &str, expires: &str) -> Result<Response, OpError> {
        let date = license::parse_expiry(expires).map_err(OpError::Expiry)?;
        self.update(name, Event::LicenseChanged, |u| {
            let before = u.license_expires;
            u.license_expires = date;
            Ok(format!(
                "license expires {} (was {})",
                show_date(date),
                show_date(before)
            ))
        })
    }

    pub(super) fn license_renew(
        &self,
        target: RenewTarget,
        years: u16,
    ) -> Result<Response, OpError> {
        if years == 0 {
            return Err(OpError::ZeroYears);
        }
        let today = license::today(self.store.now());
        let agency = match target {
            RenewTarget::User(name) => {
                return self.update(&name, Event::LicenseChanged, |u| {
                    let before = u.license_expires;
                    u.license_expires = license::renew(before, today, years);
                    Ok(format!(
                        "license expires {} (was {})",
                        show_date(u.license_expires),
                        show_date(before)
                    ))
                });
            }
            RenewTarget::Agency(a) => a,
        };
        let count = self.store.write(|tx| {
            let mut users_t = tx.users()?;
            let mut members: Vec<UserRecord> = users_t
                .all()?
                .into_iter()
                .filter(|u| {
                    u.agency
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(agency.trim()))
                })
                .collect();
            if members.is_empty() {
                return Err(OpError::NoSuchAgency(agency.clone()));
            }
            // Helpdesk staff renew the agency's other accounts (SECURITY A1).
            members.retain(|u| self.may_act_on(u).is_ok());
            for u in &mut members {
                let before = u.license_expires;
                u.license_expires = license::renew(before, today, years);
                users_t.put(u)?;
                let detail = format!(
                    "license expires {} (was {}), agency renewal",
                    show_date(u.license_expires),
                    show_date(before)
                );
                self.audit_in(tx, Event::LicenseChanged, u.username.as_str(), Some(detail))?;
            }
            Ok(members.len())
        })?;
        Ok(Response::Done {
            message: format!("renewed {count} licenses of agency {agency:?} by {years} year(s)"),
        })
    }

    pub(super) fn license_list(&self, within: Option<&str>) -> Result<Response, OpError> {
        let today = license::today(self.store.now());
        let horizon = match within {
            Some(text) => {
                let span = Dur::parse(text).map_err(OpError::Span)?;
                Some(license::default_expiry(today, span.as_duration()))
            }
            None => None,
        };
        let all = self.store.read(|tx| tx.users()?.all())?;
        let mut licenses: Vec<LicenseView> = all
            .into_iter()
            .filter(|u| match horizon {
                Some(h) => u.license_expires.is_some_and(|d| d <= h),
                None => true,
            })
            .map(|u| LicenseView {
                expired: !license::is_active(u.license_expires, today),
                username: u.username.into(),
                agency: u.agency,
                license_expires: u.license_expires,
            })
            .collect();
        licenses.sort_by_key(|l| (l.license_expires.is_none(), l.license_expires));
        Ok(Response::Licenses { licenses })
    }
}
