//! Commands that send something: setup and reset links, backups, and the mail queue.

use minijinja::context;

use super::ops::{Ops, find};
use super::protocol::*;
use crate::auth::links;
use crate::domain::email::Email;
use crate::domain::time_left::human_duration;
use crate::mail::Outgoing;
use crate::mail::Validity;
use crate::mail::compose::MailKind;
use crate::store::audit::Event;
use crate::store::tokens::TokenKind;
use crate::store::users::UserRecord;

/// What an administrator can issue: the token, its mail, its path and lifetime.
#[derive(Clone, Copy)]
struct OneTimeLink {
    token: TokenKind,
    mail: MailKind,
    path: &'static str,
    ttl: fn(&crate::config::Config) -> crate::config::Dur,
}

impl OneTimeLink {
    const SETUP: Self = Self {
        token: TokenKind::Setup,
        mail: MailKind::Setup,
        path: "setup",
        ttl: |c| c.reset.setup_link_ttl,
    };
    const RESET: Self = Self {
        token: TokenKind::Reset,
        mail: MailKind::Reset,
        path: "reset",
        ttl: |c| c.reset.link_ttl,
    };
}

impl Ops<'_> {
    /// Issues a setup link for `user` and queues it to their address; returns the link.
    pub(super) fn invite(
        &self,
        tx: &crate::store::Write,
        user: &UserRecord,
    ) -> Result<String, OpError> {
        let to = user.email.as_ref().map(Email::as_str);
        self.issue_link(tx, user, OneTimeLink::SETUP, to)
    }

    pub(super) fn reset_link(&self, name: &str, send: bool) -> Result<Response, OpError> {
        let (link, mailed_to) = self.store.write(|tx| {
            let user = find(&tx.users()?, name)?;
            self.may_act_on(&user)?;
            let to = match (send, user.email.as_ref().map(Email::as_str)) {
                (false, _) => None,
                (true, None) => {
                    return Err(OpError::NoEmail(user.username.into()));
                }
                (true, Some(to)) => Some(to),
            };
            let link = self.issue_link(tx, &user, OneTimeLink::RESET, to)?;
            let mailed_to = to.map(str::to_owned);
            let detail = match &mailed_to {
                Some(to) => format!("reset link issued by an administrator and mailed to {to}"),
                None => "reset link issued by an administrator".to_owned(),
            };
            self.audit_in(
                tx,
                Event::ResetRequested,
                user.username.as_str(),
                Some(detail),
            )?;
            Ok::<_, OpError>((link, mailed_to))
        })?;
        self.mailer.wake();
        Ok(Response::Link { link, mailed_to })
    }

    /// Issues a one-time link of `kind` for `user` and, when `to` is given,
    /// queues its mail in the same transaction; returns the link.
    fn issue_link(
        &self,
        tx: &crate::store::Write,
        user: &UserRecord,
        kind: OneTimeLink,
        to: Option<&str>,
    ) -> Result<String, OpError> {
        let ttl = (kind.ttl)(self.config);
        let issued = links::issue(
            &mut tx.tokens()?,
            kind.token,
            Some(&user.key()),
            None,
            ttl.signed(),
            tx.now(),
        )?;
        let link = links::url(&self.config.server.base_url, kind.path, &issued.token);
        if let Some(to) = to {
            let vars = context! {
                user => crate::mail::compose::user_ctx(user),
                link => link.as_str(),
                valid_for => human_duration(ttl.as_duration()),
            };
            let mail = Outgoing {
                kind: kind.mail,
                to,
                user: Some(user.username.as_str()),
                vars,
                validity: Validity::Link(issued.mailed()),
            };
            self.mailer.queue(tx, self.config, mail)?;
        }
        Ok(link)
    }

    pub(super) fn backup(&self, path: &std::path::Path) -> Result<Response, OpError> {
        let counts = self.store.backup_to(path)?;
        let detail = format!(
            "{} ({} accounts, {} bytes)",
            path.display(),
            counts.users,
            counts.bytes
        );
        self.store
            .write(|tx| tx.record(Event::BackupCreated, None, &self.origin, Some(detail)))?;
        Ok(Response::Backup {
            path: path.to_owned(),
            counts,
        })
    }

    pub(super) fn mail_queue(&self) -> Result<Response, OpError> {
        let queued = self.store.read(|tx| tx.outbox()?.all())?;
        let messages = queued
            .into_iter()
            .map(|(id, m)| QueuedMail {
                id,
                kind: serde_json::to_value(m.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                to: m.to,
                subject: m.subject,
                user: m.user,
                created_at: m.created_at,
                attempts: m.attempts,
                next_attempt_at: m.next_attempt_at,
                expires_at: m.expires_at,
                last_error: m.last_error,
            })
            .collect();
        Ok(Response::Queue { messages })
    }

    /// Makes message `id` (or every queued message) due now and wakes the sender.
    pub(super) fn mail_retry(&self, id: Option<u64>) -> Result<Response, OpError> {
        let count = self.store.write(|tx| {
            let mut outbox = tx.outbox()?;
            let ids: Vec<u64> = match id {
                Some(id) => vec![id],
                None => outbox.all()?.into_iter().map(|(id, _)| id).collect(),
            };
            let now = tx.now();
            for id in &ids {
                let Some(mut message) = outbox.get(*id)? else {
                    return Err(OpError::NoSuchMail(*id));
                };
                message.next_attempt_at = now;
                outbox.put(*id, &message)?;
            }
            if !ids.is_empty() {
                let detail = match id {
                    Some(id) => format!("mail {id} to be sent again now"),
                    None => format!("all {} queued messages to be sent again now", ids.len()),
                };
                tx.record(Event::MailRetried, None, &self.origin, Some(detail))?;
            }
            Ok::<_, OpError>(ids.len())
        })?;
        self.mailer.wake();
        Ok(Response::Done {
            message: match count {
                0 => "no mail is waiting".to_owned(),
                1 => "1 message will be sent again now".to_owned(),
                n => format!("{n} messages will be sent again now"),
            },
        })
    }
}
