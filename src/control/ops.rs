//! The admin commands themselves, executed against the store in one transaction each.
//!
//! Blocking code: the server runs it on the blocking pool, the CLI directly.

use jiff::civil::Date;

use super::import;
use super::protocol::*;
use crate::auth::hasher;
use crate::auth::login::is_locked;
use crate::auth::{links, setup};
use crate::config::Config;
use crate::domain::email::Email;
use crate::domain::group::GroupName;
use crate::domain::license;
use crate::domain::password::NewPassword;
use crate::domain::phone::Phone;
use crate::domain::role::Role;
use crate::domain::username::{Username, canonical_key};
use crate::mail::Mailer;
use crate::store::audit::{Event, Origin};
use crate::store::groups::{GroupRecord, Groups};
use crate::store::sessions::EndReason;
use crate::store::users::{FindUser, UserRecord};
use crate::store::{Store, StoreError, Write};

/// Everything a command needs: the store, the config and who is asking.
pub struct Ops<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub mailer: &'a Mailer,
    /// The OpenID Connect signing keys (`oidc rotate-key`).
    pub keys: &'a crate::store::keys::KeyRing,
    pub origin: Origin,
    /// Whose authority the command runs under.
    pub acting: Acting,
}

/// Who gives a command: the service's OS user (the CLI: anything), or a
/// signed-in member of staff in the console, whose role limits it (SECURITY A1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acting {
    Operator,
    Staff(Role),
}

impl Ops<'_> {
    pub fn execute(&self, request: Request) -> Result<Response, OpError> {
        self.permit(&request)?;
        match request {
            Request::UserAdd(new) => self.user_add(new),
            Request::UserImport { csv, send_invites } => import::run(self, &csv, send_invites),
            Request::UserList { locked_only } => self.user_list(locked_only),
            Request::UserShow { username } => self.read_user(&username).map(|u| Response::User {
                user: self.view(&u),
            }),
            Request::UserSet { username, changes } => self.user_set(&username, changes),
            Request::UserDisable { username } => self.set_disabled(&username, true),
            Request::UserEnable { username } => self.set_disabled(&username, false),
            Request::UserDelete { username } => self.user_delete(&username),
            Request::UserForceChange { username } => self.force_change(username.as_deref()),
            Request::Unlock { username } => self.unlock(&username),
            Request::LicenseSet { username, expires } => self.license_set(&username, &expires),
            Request::LicenseRenew { target, years } => self.license_renew(target, years),
            Request::LicenseList { within } => self.license_list(within.as_deref()),
            Request::Audit { username, limit } => self.audit(username.as_deref(), limit),
            Request::ResetLink { username, send } => self.reset_link(&username, send),
            Request::MailQueue => self.mail_queue(),
            Request::MailRetry { id } => self.mail_retry(id),
            Request::GroupAdd { name } => self.group_add(&name),
            Request::GroupRemove { name } => self.group_remove(&name),
            Request::GroupList => self.group_list(),
            Request::AppAdd(spec) => self.app_add(spec),
            Request::AppList => self.app_list(),
            Request::AppShow { name } => self.app_show(&name),
            Request::AppSet { name, changes } => self.app_set(&name, changes),
            Request::AppRemove { name } => self.app_remove(&name),
            Request::AppRotateSecret { name } => self.app_rotate_secret(&name),
            Request::OidcRotateKey => self.oidc_rotate_key(),
            Request::Backup { path } => self.backup(&path),
        }
    }

    /// Refuses what the acting role may not ask for at all; acting on an
    /// administrator's account is checked against the account itself, in
    /// the transaction that changes it ([`Ops::may_act_on`]).
    fn permit(&self, request: &Request) -> Result<(), OpError> {
        let Acting::Staff(role) = self.acting else {
            return Ok(());
        };
        let refused = |what: &'static str| Err(OpError::NotPermitted(what));
        if role == Role::Admin {
            return Ok(());
        }
        if role != Role::Helpdesk {
            return refused("only helpdesk staff and administrators may use the console");
        }
        match request {
            Request::UserAdd(new) if new.admin => {
                refused("only an administrator can create an administrator account")
            }
            Request::UserSet { changes, .. }
                if changes.role.is_some() || changes.admin.is_some() =>
            {
                refused("only an administrator can change roles")
            }
            Request::UserForceChange { username: None } => {
                refused("only an administrator can force every account to change its password")
            }
            Request::GroupAdd { .. }
            | Request::GroupRemove { .. }
            | Request::AppAdd(_)
            | Request::AppShow { .. }
            | Request::AppSet { .. }
            | Request::AppRemove { .. }
            | Request::AppRotateSecret { .. }
            | Request::OidcRotateKey
            | Request::Backup { .. } => refused("only an administrator can do that"),
            _ => Ok(()),
        }
    }

    /// Helpdesk staff may not act on an administrator's account (SECURITY A1).
    pub(super) fn may_act_on(&self, user: &UserRecord) -> Result<(), OpError> {
        match self.acting {
            Acting::Staff(Role::Admin) | Acting::Operator => Ok(()),
            Acting::Staff(_) if user.is_admin() => Err(OpError::NotPermitted(
                "only an administrator can act on an administrator's account",
            )),
            Acting::Staff(_) => Ok(()),
        }
    }

    /// The public shape of an account.
    pub fn view(&self, u: &UserRecord) -> UserView {
        let now = self.store.now();
        let max_age = self.config.policy.max_age.signed();
        UserView {
            username: u.username.to_string(),
            name: u.name.clone(),
            email: u.email.as_ref().map(ToString::to_string),
            phone: u.phone.as_ref().map(ToString::to_string),
            admin: u.is_admin(),
            role: u.role,
            groups: u.groups.clone(),
            agency: u.agency.clone(),
            disabled: u.disabled,
            locked: is_locked(u, now, self.auto_unlock()),
            failed_attempts: u.failed_attempts,
            license_expires: u.license_expires,
            password_changed_at: u.password_changed_at,
            password_expires_at: u
                .password_changed_at
                .and_then(|at| at.checked_add(max_age).ok()),
            created_at: u.created_at,
            last_sign_in_at: u.last_sign_in,
        }
    }

    fn auto_unlock(&self) -> Option<jiff::SignedDuration> {
        self.config.lockout.auto_unlock_after.map(|d| d.signed())
    }

    fn user_add(&self, new: NewUser) -> Result<Response, OpError> {
        let username = Username::parse(new.username.as_str()).map_err(OpError::Username)?;
        let email = parse_email(&new.email)?;
        let phone = new.phone.as_deref().map(parse_phone).transpose()?;
        let name = given(&new.name, |n| clean_text("name", n))?;
        let agency = given(&new.agency, |a| clean_text("agency", a))?;
        let license_expires = match new.license_expires.as_deref() {
            Some(text) => license::parse_expiry(text).map_err(OpError::Expiry)?,
            None => Some(self.default_expiry()),
        };
        let phc = match &new.password {
            Some(pw) => {
                let pw = NewPassword::parse(pw.expose(), &self.config.policy.rules())
                    .map_err(OpError::Password)?;
                Some(hasher::hash_blocking(&pw))
            }
            None => None,
        };
        let now = self.store.now();
        let mut user = UserRecord {
            name,
            email: Some(email),
            phone,
            role: if new.admin { Role::Admin } else { Role::User },
            agency,
            license_expires,
            ..UserRecord::new(username.clone(), now)
        };
        if let Some(phc) = phc {
            setup::set_password(&mut user, phc, now, 0);
        }
        let token = self.store.write(|tx| {
            let mut users_t = tx.users()?;
            if let Some(existing) = users_t.get(username.key())? {
                return Err(OpError::AlreadyExists(existing.username.into()));
            }
            user.groups = resolve_groups(&tx.groups()?, &new.groups)?;
            users_t.put(&user)?;
            let token = match user.password_hash {
                Some(_) => None,
                None => Some(self.invite(tx, &user)?),
            };
            self.audit_in(tx, Event::UserCreated, user.username.as_str(), None)?;
            Ok(token)
        })?;
        self.mailer.wake();
        Ok(Response::Created {
            user: self.view(&user),
            setup_link: token,
        })
    }

    pub(super) fn default_expiry(&self) -> Date {
        license::default_expiry(
            license::today(self.store.now()),
            self.config.license.default_term.as_duration(),
        )
    }

    fn user_list(&self, locked_only: bool) -> Result<Response, OpError> {
        let all = self.store.read(|tx| tx.users()?.all())?;
        let users = all
            .iter()
            .map(|u| self.view(u))
            .filter(|v| !locked_only || v.locked)
            .collect();
        Ok(Response::Users { users })
    }

    fn read_user(&self, name: &str) -> Result<UserRecord, OpError> {
        self.store.read(|tx| find(&tx.users()?, name))
    }

    /// Loads one account, lets `change` edit it, saves it and audits `event`.
    pub(super) fn update(
        &self,
        name: &str,
        event: Event,
        change: impl FnOnce(&mut UserRecord) -> Result<String, OpError>,
    ) -> Result<Response, OpError> {
        self.update_audited(name, |_, u| Ok(vec![(event, change(u)?)]))
    }

    /// Loads one account, lets `change` edit it (reading other tables of the
    /// same transaction), saves it and audits every event `change` returns,
    /// all in one transaction.
    fn update_audited(
        &self,
        name: &str,
        change: impl FnOnce(&Write, &mut UserRecord) -> Result<Vec<(Event, String)>, OpError>,
    ) -> Result<Response, OpError> {
        let message = self.store.write(|tx| {
            let mut users_t = tx.users()?;
            let mut user = find(&users_t, name)?;
            self.may_act_on(&user)?;
            let email_before = user.email.clone();
            let events = change(tx, &mut user)?;
            users_t.put(&user)?;
            if user.email != email_before {
                // Links mailed to the old address must die with it (SECURITY R5).
                links::void_all(&mut tx.tokens()?, &user.key())?;
            }
            let mut lines = Vec::new();
            for (event, detail) in events {
                lines.push(format!("{}: {detail}", user.username));
                self.audit_in(tx, event, user.username.as_str(), Some(detail))?;
            }
            Ok::<_, OpError>(lines.join("\n"))
        })?;
        Ok(Response::Done { message })
    }

    /// `user set`: every change checked first, then made and audited in one
    /// transaction (`group_changed`, `role_changed`, `user_updated`).
    fn user_set(&self, name: &str, c: UserChanges) -> Result<Response, OpError> {
        if c.is_empty() {
            return Err(OpError::NothingToChange);
        }
        let role = match (c.role, c.admin) {
            (Some(role), _) => Some(role),
            (None, Some(true)) => Some(Role::Admin),
            (None, Some(false)) => Some(Role::User),
            (None, None) => None,
        };
        let email = c.email.as_deref().map(parse_email).transpose()?;
        let phone = c.phone.as_deref().map(parse_optional_phone).transpose()?;
        let display = given(&c.name, |n| optional_text("name", n))?;
        let agency = given(&c.agency, |a| optional_text("agency", a))?;
        self.update_audited(name, |tx, u| {
            let mut events = Vec::new();
            if let Some(names) = &c.groups {
                u.groups = resolve_groups(&tx.groups()?, names)?;
                let detail = match u.groups.as_slice() {
                    [] => "in no group".to_owned(),
                    groups => format!("groups {}", groups.join(", ")),
                };
                events.push((Event::GroupChanged, detail));
            }
            if let Some(role) = role {
                let before = std::mem::replace(&mut u.role, role);
                events.push((Event::RoleChanged, format!("role {before} -> {role}")));
            }
            let mut fields = Vec::new();
            if let Some(e) = email {
                u.email = Some(e);
                fields.push("email");
            }
            if let Some(p) = phone {
                u.phone = p;
                fields.push("phone");
            }
            if let Some(n) = display {
                u.name = n;
                fields.push("name");
            }
            if let Some(a) = agency {
                u.agency = a;
                fields.push("agency");
            }
            if !fields.is_empty() {
                events.push((Event::UserUpdated, format!("changed {}", fields.join(", "))));
            }
            Ok(events)
        })
    }

    fn group_add(&self, name: &str) -> Result<Response, OpError> {
        let group = GroupName::parse(name).map_err(OpError::GroupName)?;
        self.group_change(|tx| {
            let mut groups_t = tx.groups()?;
            if let Some(existing) = groups_t.get(group.key())? {
                return Err(OpError::GroupExists(existing.name.into()));
            }
            groups_t.put(&GroupRecord {
                name: group.clone(),
                created_at: tx.now(),
            })?;
            Ok(format!("group {group} created"))
        })
    }

    /// Removes a group and takes every member out of it, in one transaction.
    fn group_remove(&self, name: &str) -> Result<Response, OpError> {
        let group = GroupName::parse(name).map_err(OpError::GroupName)?;
        self.group_change(|tx| {
            let Some(record) = tx.groups()?.get(group.key())? else {
                return Err(OpError::NoSuchGroup(group.as_str().to_owned()));
            };
            let mut users_t = tx.users()?;
            let in_group = |g: &String| canonical_key(g) == group.key();
            let members = users_t.keys_where(|u| u.groups.iter().any(in_group))?;
            for key in &members {
                if let Some(mut user) = users_t.get(key)? {
                    user.groups.retain(|g| !in_group(g));
                    users_t.put(&user)?;
                }
            }
            drop(users_t);
            tx.groups()?.remove(group.key())?;
            Ok(format!(
                "group {} removed; {} member(s) taken out of it",
                record.name,
                members.len()
            ))
        })
    }

    /// Runs a change to the groups table and audits it as `group_changed`.
    fn group_change(
        &self,
        change: impl FnOnce(&Write) -> Result<String, OpError>,
    ) -> Result<Response, OpError> {
        let message = self.store.write(|tx| {
            let detail = change(tx)?;
            tx.record(
                Event::GroupChanged,
                None,
                &self.origin,
                Some(detail.clone()),
            )?;
            Ok::<_, OpError>(detail)
        })?;
        Ok(Response::Done { message })
    }

    /// Every group with its member count, from one pass over the accounts.
    fn group_list(&self) -> Result<Response, OpError> {
        let (groups, members) = self.store.read(|tx| {
            let mut members: std::collections::HashMap<String, u64> = Default::default();
            tx.users()?.for_each(|_, u| {
                for g in &u.groups {
                    *members.entry(canonical_key(g)).or_default() += 1;
                }
            })?;
            Ok::<_, StoreError>((tx.groups()?.all()?, members))
        })?;
        let groups = groups
            .into_iter()
            .map(|g| GroupView {
                members: members.get(g.name.key()).copied().unwrap_or(0),
                name: g.name.into(),
            })
            .collect();
        Ok(Response::Groups { groups })
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<Response, OpError> {
        let event = if disabled {
            Event::UserDisabled
        } else {
            Event::UserEnabled
        };
        self.update(name, event, |u| {
            u.disabled = disabled;
            Ok(if disabled {
                u.revoke_sessions(EndReason::Disabled);
                "disabled; every session ended".into()
            } else {
                "enabled".into()
            })
        })
    }

    fn user_delete(&self, name: &str) -> Result<Response, OpError> {
        let message = self.store.write(|tx| {
            let mut users_t = tx.users()?;
            let user = find(&users_t, name)?;
            self.may_act_on(&user)?;
            let key = user.key();
            users_t.remove(&key)?;
            links::void_all(&mut tx.tokens()?, &key)?;
            self.audit_in(tx, Event::UserDeleted, user.username.as_str(), None)?;
            Ok::<_, OpError>(format!(
                "{}: deleted; every session and link ended",
                user.username
            ))
        })?;
        Ok(Response::Done { message })
    }

    fn force_change(&self, name: Option<&str>) -> Result<Response, OpError> {
        let Some(name) = name else {
            let count = self.store.write(|tx| {
                let mut users_t = tx.users()?;
                let mut all = users_t.all()?;
                for u in &mut all {
                    u.must_change = true;
                    u.revoke_sessions(EndReason::ForceChange);
                    users_t.put(u)?;
                }
                let detail = format!("all {} accounts", all.len());
                tx.record(Event::ForceChangeSet, None, &self.origin, Some(detail))?;
                Ok::<_, OpError>(all.len())
            })?;
            return Ok(Response::Done {
                message: format!("{count} accounts must choose a new password at next sign-in"),
            });
        };
        self.update(name, Event::ForceChangeSet, |u| {
            u.must_change = true;
            u.revoke_sessions(EndReason::ForceChange);
            Ok("must choose a new password at next sign-in; every session ended".into())
        })
    }

    fn unlock(&self, name: &str) -> Result<Response, OpError> {
        self.update(name, Event::AccountUnlocked, |u| {
            let was = if u.locked_at.is_some() {
                "unlocked"
            } else {
                "was not locked; failure count cleared"
            };
            u.locked_at = None;
            u.locked_from = None;
            u.failed_attempts = 0;
            Ok(was.into())
        })
    }

    fn audit(&self, name: Option<&str>, limit: usize) -> Result<Response, OpError> {
        let key = name.map(canonical_key);
        let events = self.store.read(|tx| {
            tx.audit()?.tail(limit.max(1), |r| match &key {
                Some(k) => r.user.as_deref().map(canonical_key).as_ref() == Some(k),
                None => true,
            })
        })?;
        Ok(Response::Audit {
            events: events.into_iter().map(AuditView::from).collect(),
        })
    }

    pub(super) fn audit_in(
        &self,
        tx: &crate::store::Write,
        event: Event,
        user: &str,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        tx.record(event, Some(user), &self.origin, detail)
    }
}

/// Finds an account by any spelling of its name.
pub(super) fn find(users: &impl FindUser, name: &str) -> Result<UserRecord, OpError> {
    users
        .get(&canonical_key(name))?
        .ok_or_else(|| OpError::NoSuchUser(name.trim().to_owned()))
}

pub(super) fn show_date(d: Option<Date>) -> String {
    d.map_or_else(|| "never".to_owned(), |d| d.to_string())
}

pub(super) fn parse_email(text: &str) -> Result<Email, OpError> {
    Email::parse(text).map_err(|reason| OpError::Email {
        value: text.trim().to_owned(),
        reason,
    })
}

pub(super) fn parse_phone(text: &str) -> Result<Phone, OpError> {
    Phone::parse(text).map_err(|reason| OpError::Phone {
        value: text.trim().to_owned(),
        reason,
    })
}

/// An empty value clears the phone number.
fn parse_optional_phone(text: &str) -> Result<Option<Phone>, OpError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_phone(text).map(Some)
}

/// Longest display name or agency, in characters.
const MAX_TEXT_CHARS: usize = 100;

/// A display name or agency: one line of at most 100 characters.
pub(super) fn clean_text(field: &'static str, text: &str) -> Result<String, OpError> {
    let text = text.trim();
    let refused = |reason| Err(OpError::Text { field, reason });
    if text.is_empty() {
        return refused(TextError::Empty);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return refused(TextError::TooLong(MAX_TEXT_CHARS));
    }
    if text.chars().any(char::is_control) {
        return refused(TextError::NotOneLine);
    }
    Ok(text.to_owned())
}

/// Like [`clean_text`], but an empty value clears the field.
/// `check` applied to a field the request gave; `None` for one it left out.
fn given<T>(
    field: &Option<String>,
    check: impl FnOnce(&str) -> Result<T, OpError>,
) -> Result<Option<T>, OpError> {
    field.as_deref().map(check).transpose()
}

fn optional_text(field: &'static str, text: &str) -> Result<Option<String>, OpError> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        clean_text(field, text).map(Some)
    }
}

/// Group names from `--groups a,b`, `--group` or a CSV cell: each checked,
/// blanks skipped, repeats (by key) dropped, in key order.
pub(super) fn group_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<GroupName>, OpError> {
    let mut groups: Vec<GroupName> = names
        .into_iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| GroupName::parse(n).map_err(OpError::GroupName))
        .collect::<Result<_, _>>()?;
    groups.sort_by(|a, b| a.key().cmp(b.key()));
    groups.dedup_by(|a, b| a.key() == b.key());
    Ok(groups)
}

/// The names of existing groups as each was made, for `names` (any case),
/// in key order; the first unknown one is an error.
pub(super) fn resolve_groups<T: redb::ReadableTable<&'static str, &'static [u8]>>(
    groups_t: &Groups<T>,
    names: &[String],
) -> Result<Vec<String>, OpError> {
    group_names(names.iter().map(String::as_str))?
        .iter()
        .map(|g| match groups_t.get(g.key())? {
            Some(record) => Ok(record.name.as_str().to_owned()),
            None => Err(OpError::NoSuchGroup(g.as_str().to_owned())),
        })
        .collect()
}
