//! The mail outbox: messages queued in the same transaction as the change that
//! caused them, delivered later by the worker (STYLE habit 9, SECURITY D2).

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, decode, encode};

const NAME: &str = "outbox";

/// Every kind of message (CONTRACT section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    Reset,
    Setup,
    Locked,
    PasswordChanged,
    ConfirmEmail,
    EmailChanged,
    ExpiryReminder,
    Test,
    /// The license ends in 30 or 7 days (CONTRACT section 9).
    LicenseReminder,
}

impl MailKind {
    /// Every kind, each with its own pair of templates.
    pub const ALL: [MailKind; 9] = [
        MailKind::Reset,
        MailKind::Setup,
        MailKind::Locked,
        MailKind::PasswordChanged,
        MailKind::ConfirmEmail,
        MailKind::EmailChanged,
        MailKind::ExpiryReminder,
        MailKind::Test,
        MailKind::LicenseReminder,
    ];
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub kind: MailKind,
    /// Recipient address (already validated).
    pub to: String,
    pub subject: String,
    /// The account concerned, as typed, for the audit log.
    pub user: Option<String>,
    pub created_at: Timestamp,
    /// The link inside stops working then, so the message is dropped instead.
    pub expires_at: Timestamp,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    /// The whole message, sealed (see `mail::seal`), base64.
    pub sealed: String,
    /// The token-table key of the one-time link inside, base64; the worker
    /// drops the message once that token is gone. Absent for notices, and
    /// for messages queued before this field existed (sent as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_token: Option<String>,
}

impl OutboxRecord {
    /// The token-table key of the link inside, if the message carries one.
    pub fn link_token_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        use base64::Engine;
        let Some(text) = &self.link_token else {
            return Ok(None);
        };
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt {
                table: NAME,
                detail: "a queued message's link token is not a 32-byte hash".into(),
            })
    }
}

/// The [`super::tables::OUTBOX_DUE`] key of message `id` due at `at`: sorts
/// by time, then id. Times before 1970 sort first.
pub fn due_key(at: Timestamp, id: u64) -> [u8; 16] {
    let micros = u64::try_from(at.as_microsecond()).unwrap_or(0);
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&micros.to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

fn id_of(key: &[u8]) -> u64 {
    let mut id = [0u8; 8];
    id.copy_from_slice(&key[8..16]);
    u64::from_be_bytes(id)
}

/// Mail waiting for delivery, with its index by next attempt: finding what
/// is due reads only the messages that are, in order.
pub struct Outbox<T, D> {
    table: T,
    due: D,
}

impl<T, D> Outbox<T, D> {
    pub(super) fn new(table: T, due: D) -> Self {
        Self { table, due }
    }
}

impl<T, D> Outbox<T, D>
where
    T: ReadableTable<u64, &'static [u8]>,
    D: ReadableTable<&'static [u8], &'static [u8]>,
{
    /// Every queued message, oldest first.
    pub fn all(&self) -> Result<Vec<(u64, OutboxRecord)>, StoreError> {
        self.table
            .iter()?
            .map(|entry| {
                let (k, v) = entry?;
                Ok((k.value(), decode(NAME, v.value())?))
            })
            .collect()
    }

    pub fn get(&self, id: u64) -> Result<Option<OutboxRecord>, StoreError> {
        super::get_json(&self.table, NAME, id)
    }

    /// Up to `limit` messages due at `now`, soonest first.
    pub fn due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(u64, OutboxRecord)>, StoreError> {
        let end = due_key(now, u64::MAX);
        let mut out = Vec::new();
        for entry in self.due.range(..=end.as_slice())? {
            if out.len() >= limit {
                break;
            }
            let id = id_of(entry?.0.value());
            match self.get(id)? {
                Some(record) => out.push((id, record)),
                None => {
                    return Err(StoreError::Corrupt {
                        table: NAME,
                        detail: format!("the due index names message {id}, which is not queued"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The message due soonest, if any is due at `now`.
    pub fn next_due(&self, now: Timestamp) -> Result<Option<(u64, OutboxRecord)>, StoreError> {
        Ok(self.due(now, 1)?.pop())
    }

    /// When the message due soonest is due, whether or not that is past.
    pub fn next_attempt_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let Some(entry) = self.due.first()? else {
            return Ok(None);
        };
        let id = id_of(entry.0.value());
        Ok(self.get(id)?.map(|r| r.next_attempt_at))
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.table.len()?)
    }
}

impl Outbox<Table<'_, u64, &'static [u8]>, Table<'_, &'static [u8], &'static [u8]>> {
    /// Appends a message; returns its id.
    pub fn push(&mut self, record: &OutboxRecord) -> Result<u64, StoreError> {
        let id = self.table.last()?.map_or(1, |(k, _)| k.value() + 1);
        self.insert(id, record)?;
        Ok(id)
    }

    /// Replaces message `id` (after a failed attempt: its next attempt moves).
    pub fn put(&mut self, id: u64, record: &OutboxRecord) -> Result<(), StoreError> {
        self.remove(id)?;
        self.insert(id, record)
    }

    pub fn remove(&mut self, id: u64) -> Result<bool, StoreError> {
        let Some(old) = self.table.remove(id)? else {
            return Ok(false);
        };
        let old: OutboxRecord = decode(NAME, old.value())?;
        self.due
            .remove(due_key(old.next_attempt_at, id).as_slice())?;
        Ok(true)
    }

    fn insert(&mut self, id: u64, record: &OutboxRecord) -> Result<(), StoreError> {
        self.table.insert(id, encode(record).as_slice())?;
        self.due.insert(
            due_key(record.next_attempt_at, id).as_slice(),
            [].as_slice(),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::tables::{self, OUTBOX};
    use jiff::SignedDuration;
    use redb::ReadableDatabase;

    fn record(to: &str, due: Timestamp) -> OutboxRecord {
        OutboxRecord {
            kind: MailKind::Test,
            to: to.into(),
            subject: "s".into(),
            user: None,
            created_at: due,
            expires_at: due.checked_add(SignedDuration::from_hours(1)).unwrap(),
            attempts: 0,
            next_attempt_at: due,
            last_error: None,
            sealed: String::new(),
            link_token: None,
        }
    }

    /// A message queued before `link_token` existed reads back without one
    /// (and is sent as before); the field is written only when there is a link.
    #[test]
    fn the_link_token_is_optional_and_checked() {
        let old = record("a@example.org", at(0));
        let json = String::from_utf8(encode(&old)).unwrap();
        assert!(!json.contains("link_token"), "{json}");
        let back: OutboxRecord = decode(NAME, json.as_bytes()).unwrap();
        assert_eq!(back.link_token_hash().unwrap(), None);

        let mut linked = old.clone();
        use base64::Engine;
        linked.link_token = Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        assert_eq!(linked.link_token_hash().unwrap(), Some([7u8; 32]));
        linked.link_token = Some("bm90IDMyIGJ5dGVz".into());
        assert!(matches!(
            linked.link_token_hash(),
            Err(StoreError::Corrupt { .. })
        ));
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn due_to(store: &Store, now: Timestamp) -> Vec<String> {
        store
            .read(|tx| tx.outbox()?.due(now, 100))
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.to)
            .collect()
    }

    /// Issue 13: the index gives what is due, soonest first, and follows
    /// every put and remove; nothing not yet due is read.
    #[test]
    fn the_due_index_orders_by_next_attempt_and_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ids = store
            .write(|tx| {
                let mut outbox = tx.outbox()?;
                let c = outbox.push(&record("c", at(30)))?;
                let a = outbox.push(&record("a", at(10)))?;
                let b = outbox.push(&record("b", at(20)))?;
                Ok::<_, StoreError>([a, b, c])
            })
            .unwrap();
        assert_eq!(due_to(&store, at(25)), ["a", "b"]);
        assert_eq!(due_to(&store, at(5)), Vec::<String>::new());
        // "a" failed and waits until 40; "b" was delivered.
        store
            .write(|tx| {
                let mut outbox = tx.outbox()?;
                let mut a = outbox.get(ids[0])?.unwrap();
                a.next_attempt_at = at(40);
                outbox.put(ids[0], &a)?;
                outbox.remove(ids[1])
            })
            .unwrap();
        assert_eq!(due_to(&store, at(100)), ["c", "a"]);
        let first = store.read(|tx| tx.outbox()?.next_attempt_at()).unwrap();
        assert_eq!(first, Some(at(30)));
        let limited = store.read(|tx| tx.outbox()?.due(at(100), 1)).unwrap();
        assert_eq!(limited.len(), 1);
    }

    /// Issue 13: a file of schema 3 with queued mail gets its index at the
    /// upgrade, so nothing queued before it is stranded.
    #[test]
    fn the_upgrade_indexes_mail_queued_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tables::migrate_to(&tx, 3).unwrap();
        {
            let mut outbox = tx.open_table(OUTBOX).unwrap();
            outbox
                .insert(7, encode(&record("old", at(0))).as_slice())
                .unwrap();
        }
        tables::migrate(&tx, 3).unwrap();
        tx.commit().unwrap();
        let tx = db.begin_read().unwrap();
        let outbox = Outbox::new(
            tx.open_table(OUTBOX).unwrap(),
            tx.open_table(tables::OUTBOX_DUE).unwrap(),
        );
        let due = outbox.due(at(1), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].0, due[0].1.to.as_str()), (7, "old"));
    }
}
