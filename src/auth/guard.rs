//! In-memory guards: per-name serialisation, unknown-name lockout, per-IP rate limits.
//!
//! All three are bounded so that an attacker spraying names or addresses
//! cannot grow the process (SECURITY L7, L8, R9).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::bounded::lock;
use std::time::{Duration, Instant};

/// One async mutex per key, created on demand and dropped when nobody holds it.
///
/// Sign-in attempts for one user name run one after another, so the
/// check-then-verify-then-count sequence is atomic (SECURITY L7).
#[derive(Default)]
pub struct KeyedLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub struct KeyGuard<'a> {
    owner: &'a KeyedLocks,
    key: String,
    entry: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let entry = lock(&self.map).entry(key.to_owned()).or_default().clone();
        let guard = entry.clone().lock_owned().await;
        KeyGuard {
            owner: self,
            key: key.to_owned(),
            entry,
            guard: Some(guard),
        }
    }

    /// Keys currently held or awaited (for tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = lock(&self.owner.map);
        // Only the map and this guard hold the entry: nobody waits, so forget the key.
        if Arc::strong_count(&self.entry) == 2 {
            map.remove(&self.key);
        }
    }
}

/// Failure counts for user names that have no account (SECURITY L8).
///
/// An unknown name that fails `max_failures` times answers "locked" just like a
/// real account, so the answer never tells whether a name exists. Entries are
/// forgotten oldest-first past `capacity`, and after `unlock_after` if set.
/// Times are the store's clock, as for accounts, so both unlock alike.
pub struct UnknownNames {
    map: Mutex<HashMap<String, UnknownEntry>>,
    capacity: usize,
}

#[derive(Clone, Copy)]
struct UnknownEntry {
    failures: u32,
    last: Timestamp,
    locked_at: Option<Timestamp>,
}

impl UnknownNames {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Consecutive failures so far and whether the name now answers "locked".
    pub fn state(
        &self,
        key: &str,
        unlock_after: Option<SignedDuration>,
        now: Timestamp,
    ) -> (u32, bool) {
        let mut map = lock(&self.map);
        let Some(e) = map.get(key).copied() else {
            return (0, false);
        };
        match (e.locked_at, unlock_after) {
            (Some(at), Some(after)) if now.duration_since(at) >= after => {
                map.remove(key);
                (0, false)
            }
            (Some(_), _) => (e.failures, true),
            (None, _) => (e.failures, false),
        }
    }

    /// Counts one more failure; returns the new count and whether this one locked it.
    pub fn record_failure(&self, key: &str, max_failures: u32, now: Timestamp) -> (u32, bool) {
        let mut map = lock(&self.map);
        if !map.contains_key(key)
            && map.len() >= self.capacity
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        let e = map.entry(key.to_owned()).or_insert(UnknownEntry {
            failures: 0,
            last: now,
            locked_at: None,
        });
        e.failures += 1;
        e.last = now;
        let newly_locked = e.locked_at.is_none() && e.failures >= max_failures;
        if newly_locked {
            e.locked_at = Some(now);
        }
        (e.failures, newly_locked)
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fixed-window counter of requests per client address per minute.
pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    map: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    capacity: usize,
}

impl RateLimiter {
    pub fn per_minute(per_window: u32, capacity: usize) -> Self {
        Self {
            per_window,
            window: Duration::from_secs(60),
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Counts one request from `ip`; false when it is over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut map = lock(&self.map);
        if map.len() >= self.capacity && !map.contains_key(&ip) {
            let window = self.window;
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
            if map.len() >= self.capacity {
                // Still full of live windows: refuse newcomers rather than grow.
                return false;
            }
        }
        let slot = map.entry(ip).or_insert((now, 0));
        if now.duration_since(slot.0) >= self.window {
            *slot = (now, 0);
        }
        slot.1 += 1;
        slot.1 <= self.per_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keyed_locks_forget_released_keys() {
        let locks = KeyedLocks::default();
        {
            let _a = locks.lock("alice").await;
            assert_eq!(locks.len(), 1);
        }
        assert!(locks.is_empty());
    }

    #[test]
    fn unknown_names_lock_after_max_and_stay_bounded() {
        let names = UnknownNames::new(3);
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(names.record_failure("x", 2, now), (1, false));
        assert_eq!(names.record_failure("x", 2, now), (2, true));
        assert_eq!(names.state("x", None, now), (2, true));
        for n in ["a", "b", "c", "d"] {
            names.record_failure(n, 2, now);
        }
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn unknown_names_unlock_after_the_configured_time() {
        let names = UnknownNames::new(10);
        let at = Timestamp::UNIX_EPOCH;
        let hour = SignedDuration::from_hours(1);
        names.record_failure("x", 1, at);
        let later = |d| at.checked_add(d).unwrap();
        assert!(
            names
                .state("x", Some(hour), later(hour - SignedDuration::from_secs(1)))
                .1
        );
        assert_eq!(names.state("x", Some(hour), later(hour)), (0, false));
    }

    #[test]
    fn rate_limiter_counts_per_address() {
        let limiter = RateLimiter::per_minute(2, 100);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(limiter.allow(a));
        assert!(limiter.allow(a));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
    }
}
