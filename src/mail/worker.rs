//! The delivery worker: sends due messages, retries with backoff, drops expired ones.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;

use super::Mailer;
use super::transport::Transport;
use crate::config::Config;
use crate::metrics::{Metrics, bump};
use crate::store::audit::{Event, Origin};
use crate::store::outbox::OutboxRecord;
use crate::store::{Store, StoreError};

/// The longest wait between two attempts at one message.
const MAX_BACKOFF: SignedDuration = SignedDuration::from_mins(5);
/// How often the queue is looked at when nobody wakes the worker.
const POLL: Duration = Duration::from_millis(500);

/// What one call of [`Worker::try_send_next`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was due.
    Idle,
    Sent,
    /// Delivery failed; the message waits for its next attempt.
    Retry,
    /// The message's link expired (or it could not be opened); it was dropped and audited.
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
    sending: tokio::sync::Mutex<()>,
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
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// Delivers the message due soonest, if any.
    pub async fn try_send_next(&self) -> Result<Outcome, StoreError> {
        let _one_at_a_time = self.sending.lock().await;
        let now = self.store.now();
        let due = self
            .store
            .read_blocking(move |tx| tx.outbox()?.next_due(now))
            .await?;
        let Some((id, record)) = due else {
            return Ok(Outcome::Idle);
        };
        if record.expires_at <= now {
            self.drop_message(id, record, "its link expired before it could be delivered")
                .await?;
            return Ok(Outcome::Dropped);
        }
        let Some(bytes) = self.mailer.open(&record) else {
            self.drop_message(
                id,
                record,
                "it cannot be opened with this data directory's outbox key",
            )
            .await?;
            return Ok(Outcome::Dropped);
        };
        match self
            .transport
            .send(self.config.mail.from.as_str(), &record.to, &bytes)
            .await
        {
            Ok(()) => {
                tracing::info!(kind = ?record.kind, attempts = record.attempts + 1, "mail delivered");
                bump(&self.metrics.mail_sent);
                self.store
                    .write_blocking(move |tx| tx.outbox()?.remove(id))
                    .await?;
                Ok(Outcome::Sent)
            }
            Err(error) => {
                tracing::warn!(kind = ?record.kind, attempts = record.attempts + 1, %error, "mail delivery failed; will retry");
                bump(&self.metrics.mail_failed);
                let mut record = record;
                record.attempts += 1;
                record.next_attempt_at = self
                    .store
                    .now()
                    .saturating_add(backoff(record.attempts))
                    .unwrap_or(now);
                record.last_error = Some(error);
                self.store
                    .write_blocking(move |tx| tx.outbox()?.put(id, &record))
                    .await?;
                Ok(Outcome::Retry)
            }
        }
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

    /// Delivers forever; woken early by [`super::Mailer::wake`].
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.try_send_next().await {
                Ok(Outcome::Idle | Outcome::Retry) => {
                    tokio::select! {
                        () = self.mailer.woken().notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
                Ok(Outcome::Sent | Outcome::Dropped) => {}
                Err(e) => {
                    tracing::error!(error = %e, "mail outbox unreadable");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
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
