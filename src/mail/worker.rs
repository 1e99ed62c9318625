//! The delivery worker: sends due messages, retries with backoff, drops expired ones.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::Mailer;
use super::transport::{Session, Transport};
use crate::config::Config;
use crate::metrics::{Metrics, bump};
use crate::store::audit::{Event, Origin};
use crate::store::outbox::OutboxRecord;
use crate::store::{Store, StoreError};

/// The longest wait between two attempts at one message.
const MAX_BACKOFF: SignedDuration = SignedDuration::from_mins(5);
/// The longest the worker sleeps without looking at the queue.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Messages sent over one connection, and marked sent in one commit, at most.
const BATCH: usize = 50;

/// What one call of [`Worker::try_send_next`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was due (or the SMTP server is being left alone after a failed connection).
    Idle,
    /// At least one message was delivered, none failed.
    Sent,
    /// A delivery failed; the message waits for its next attempt.
    Retry,
    /// Only messages whose link expired (or that could not be opened) were due;
    /// they were dropped and audited.
    Dropped,
}

/// What delivery needs: the outbox, the sender address, the key that opens
/// sealed messages, and the counters it bumps.
pub struct Worker {
    store: Store,
    config: Arc<Config>,
    mailer: Arc<Mailer>,
    metrics: Arc<Metrics>,
    transport: Transport,
    /// One delivery at a time, whoever calls: the background loop, or a test
    /// draining the queue. Two callers must never pick the same message.
    sending: tokio::sync::Mutex<Circuit>,
}

/// After a failed connection the server is left alone for a while, however
/// much is queued: the queue waits behind it instead of failing message by
/// message (and an outage costs no CPU).
#[derive(Default)]
struct Circuit {
    failures: u32,
    closed_until: Option<Timestamp>,
}

impl Worker {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        mailer: Arc<Mailer>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let transport = Transport::from_config(&config);
        Self {
            store,
            config,
            mailer,
            metrics,
            transport,
            sending: tokio::sync::Mutex::new(Circuit::default()),
        }
    }

    /// Delivers up to [`BATCH`] due messages over one connection, soonest
    /// first. A message is removed from the outbox only after the server
    /// accepted it: a crash between the two sends it again, never loses it.
    pub async fn try_send_next(&self) -> Result<Outcome, StoreError> {
        let mut circuit = self.sending.lock().await;
        let now = self.store.now();
        if circuit.closed_until.is_some_and(|until| now < until) {
            return Ok(Outcome::Idle);
        }
        let due = self
            .store
            .read_blocking(move |tx| {
                let tokens = tx.tokens()?;
                let mut due = Vec::new();
                for (id, record) in tx.outbox()?.due(now, BATCH)? {
                    let link_gone = match record.link_token_hash()? {
                        Some(hash) => !tokens.get(&hash)?.is_some_and(|t| t.is_live(now)),
                        None => false,
                    };
                    due.push((id, record, link_gone));
                }
                Ok::<_, StoreError>(due)
            })
            .await?;
        if due.is_empty() {
            return Ok(Outcome::Idle);
        }
        let mut outcome = Outcome::Dropped;
        let mut sent = Vec::new();
        let mut session: Option<Session> = None;
        for (id, record, link_gone) in due {
            if record.expires_at <= now {
                self.drop_message(id, record, "its link expired before it could be delivered")
                    .await?;
                continue;
            }
            if link_gone {
                let why = "its link was replaced, used or revoked before it could be delivered";
                self.drop_message(id, record, why).await?;
                continue;
            }
            let Some(bytes) = self.mailer.open(&record) else {
                let why = "it cannot be opened with this data directory's outbox key";
                self.drop_message(id, record, why).await?;
                continue;
            };
            let open = match session.as_mut() {
                Some(open) => open,
                None => match self.transport.open().await {
                    Ok(opened) => {
                        *circuit = Circuit::default();
                        session.insert(opened)
                    }
                    Err(error) => {
                        circuit.failures += 1;
                        circuit.closed_until = now.checked_add(backoff(circuit.failures)).ok();
                        outcome = Outcome::Retry;
                        self.failed(id, record, error).await?;
                        break;
                    }
                },
            };
            match open
                .send(self.config.mail.from.as_str(), &record.to, &bytes)
                .await
            {
                Ok(()) => {
                    tracing::info!(kind = ?record.kind, attempts = record.attempts + 1, "mail delivered");
                    bump(&self.metrics.mail_sent);
                    sent.push(id);
                    if outcome == Outcome::Dropped {
                        outcome = Outcome::Sent;
                    }
                }
                Err(error) => {
                    outcome = Outcome::Retry;
                    if let Some(broken) = session.take() {
                        broken.close().await;
                    }
                    self.failed(id, record, error).await?;
                }
            }
        }
        if let Some(open) = session {
            open.close().await;
        }
        if !sent.is_empty() {
            self.store
                .write_blocking(move |tx| {
                    let mut outbox = tx.outbox()?;
                    sent.iter().try_for_each(|id| outbox.remove(*id).map(drop))
                })
                .await?;
        }
        Ok(outcome)
    }

    /// Counts a failed attempt and moves the message's next one back.
    async fn failed(&self, id: u64, record: OutboxRecord, error: String) -> Result<(), StoreError> {
        tracing::warn!(kind = ?record.kind, attempts = record.attempts + 1, %error, "mail delivery failed; will retry");
        bump(&self.metrics.mail_failed);
        let mut record = record;
        record.attempts += 1;
        let now = self.store.now();
        record.next_attempt_at = now.saturating_add(backoff(record.attempts)).unwrap_or(now);
        record.last_error = Some(error);
        self.store
            .write_blocking(move |tx| tx.outbox()?.put(id, &record))
            .await
    }

    async fn drop_message(
        &self,
        id: u64,
        record: OutboxRecord,
        why: &'static str,
    ) -> Result<(), StoreError> {
        tracing::warn!(kind = ?record.kind, why, "mail dropped");
        bump(&self.metrics.mail_dropped);
        self.store
            .write_blocking(move |tx| {
                tx.outbox()?.remove(id)?;
                let detail = format!(
                    "{:?} message to {} dropped after {} attempts: {why}",
                    record.kind, record.to, record.attempts
                );
                tx.record(
                    Event::MailDropped,
                    record.user.as_deref(),
                    &Origin::system(),
                    Some(detail),
                )
            })
            .await
    }

    /// How long the queue can be left alone: until its first message is due
    /// or the SMTP server may be tried again, whichever is later.
    async fn rest(&self) -> Result<Duration, StoreError> {
        let closed_until = self.sending.lock().await.closed_until;
        let next = self
            .store
            .read_blocking(|tx| tx.outbox()?.next_attempt_at())
            .await?;
        let Some(next) = next else {
            return Ok(MAX_SLEEP);
        };
        let at = closed_until.map_or(next, |until| until.max(next));
        let wait = at.duration_since(self.store.now());
        Ok(Duration::try_from(wait)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP))
    }

    /// Delivers forever; woken early by [`super::Mailer::wake`].
    pub async fn run(self: Arc<Self>) {
        loop {
            let rest = match self.try_send_next().await {
                Ok(Outcome::Sent | Outcome::Dropped) => continue,
                Ok(Outcome::Idle | Outcome::Retry) => self.rest().await,
                Err(e) => Err(e),
            };
            let rest = rest.unwrap_or_else(|e| {
                tracing::error!(error = %e, "mail outbox unreadable");
                Duration::from_secs(1)
            });
            tokio::select! {
                () = self.mailer.woken().notified() => {}
                () = tokio::time::sleep(rest) => {}
            }
        }
    }
}

/// 1 s, 2 s, 4 s, … up to five minutes.
fn backoff(attempts: u32) -> SignedDuration {
    let secs = 1i64 << attempts.saturating_sub(1).min(16);
    SignedDuration::from_secs(secs).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), SignedDuration::from_secs(1));
        assert_eq!(backoff(2), SignedDuration::from_secs(2));
        assert_eq!(backoff(4), SignedDuration::from_secs(8));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
