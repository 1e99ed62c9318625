//! Mail: templates, the sealed outbox, transports and the delivery worker.
//!
//! Code that sends mail calls [`Mailer::queue`] inside its own write
//! transaction, so the message commits (or not) with the token it carries;
//! SMTP is never on a request's path.

pub mod compose;
pub mod seal;
pub mod transport;
pub mod worker;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};
use minijinja::Value;
use tokio::sync::Notify;

use crate::config::Config;
use crate::domain::email::Email;
use crate::store::StoreError;
use crate::store::Write;
use crate::store::outbox::OutboxRecord;
use crate::store::users::UserRecord;
use compose::{MailKind, MailTemplates};
use seal::Sealer;

/// How long a message without a link may wait for delivery.
pub const NOTICE_LIFETIME: SignedDuration = SignedDuration::from_hours(72);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail template: {0}")]
    Template(#[from] minijinja::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One message to queue.
pub struct Outgoing<'a> {
    pub kind: MailKind,
    pub to: &'a str,
    /// The account concerned, for the audit log if the message is dropped.
    pub user: Option<&'a str>,
    /// The kind's template variables (`org` and `helpdesk` are added).
    pub vars: Value,
    /// How long the message is worth delivering.
    pub validity: Validity,
}

/// How long a queued message is worth delivering; past that it is dropped
/// (and audited) instead of sent.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// A notice without a link: [`NOTICE_LIFETIME`].
    Notice,
    /// A notice about something that happens then (a password expiry reminder).
    Until(Timestamp),
    /// A message carrying a one-time link: until the link expires, or until
    /// its token is gone (replaced by a newer link, used, or voided by a lock
    /// or a password change), whichever comes first.
    Link(Link),
}

/// A one-time link inside a queued message.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub expires_at: Timestamp,
    /// The key of the link's record in the token table.
    pub token_hash: [u8; 32],
}

/// Renders, seals and queues messages; wakes the worker after a commit.
pub struct Mailer {
    templates: MailTemplates,
    sealer: Sealer,
    wake: Notify,
    queued: std::sync::atomic::AtomicU64,
}

impl Mailer {
    /// Loads the templates and the outbox key of `config.data_dir`.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        use anyhow::Context;
        Ok(Self {
            templates: MailTemplates::load().context("loading the compiled-in mail templates")?,
            sealer: Sealer::load_or_create(&config.data_dir).context("opening the outbox key")?,
            wake: Notify::new(),
            queued: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Queues a message in the caller's transaction.
    /// Queues `kind` to the account's own address, if it has one, in the caller's transaction.
    pub fn mail_user(
        &self,
        config: &Config,
        tx: &Write,
        user: &UserRecord,
        kind: MailKind,
        extra: Value,
        validity: Validity,
    ) -> Result<(), MailError> {
        let Some(to) = user.email.as_ref().map(Email::as_str) else {
            return Ok(());
        };
        let vars = minijinja::context! { user => compose::user_ctx(user), ..extra };
        self.queue(
            tx,
            config,
            Outgoing {
                kind,
                to,
                user: Some(user.username.as_str()),
                vars,
                validity,
            },
        )?;
        Ok(())
    }

    pub fn queue(&self, tx: &Write, config: &Config, mail: Outgoing<'_>) -> Result<u64, MailError> {
        let Outgoing {
            kind,
            to,
            user,
            vars,
            validity,
        } = mail;
        let rendered = self.templates.render(config, kind, to, vars)?;
        let now = tx.now();
        let record = OutboxRecord {
            kind,
            to: rendered.to,
            subject: rendered.subject,
            user: user.map(str::to_owned),
            created_at: now,
            expires_at: match validity {
                Validity::Notice => now.saturating_add(NOTICE_LIFETIME).unwrap_or(now),
                Validity::Until(at) => at,
                Validity::Link(link) => link.expires_at,
            },
            link_token: match validity {
                Validity::Link(link) => Some(STANDARD.encode(link.token_hash)),
                Validity::Notice | Validity::Until(_) => None,
            },
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            sealed: STANDARD.encode(self.sealer.seal(&rendered.bytes)),
        };
        let id = tx.outbox()?.push(&record)?;
        self.queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(id)
    }

    /// Messages queued by this process since it started.
    pub fn queued_total(&self) -> u64 {
        self.queued.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Renders a message for immediate sending (`mail test`).
    pub fn render_now(
        &self,
        config: &Config,
        kind: MailKind,
        to: &str,
        vars: Value,
    ) -> Result<Vec<u8>, MailError> {
        Ok(self.templates.render(config, kind, to, vars)?.bytes)
    }

    /// The message bytes of a queued record, or `None` if it cannot be opened.
    pub fn open(&self, record: &OutboxRecord) -> Option<Vec<u8>> {
        let sealed = STANDARD.decode(&record.sealed).ok()?;
        self.sealer.open(&sealed)
    }

    /// Tells the worker that something was queued (call after the commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn woken(&self) -> &Notify {
        &self.wake
    }
}
