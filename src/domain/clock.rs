//! The one source of the current time. Production reads the system clock;
//! tests hold a [`ClockHand`] and move time forward instead of sleeping.
//!
//! Every "now" in latchkey (token and session expiry, lockout, password age,
//! audit times, mail backoff) comes from the [`Clock`] the store was opened
//! with. In-memory rate windows (`auth::guard`) use the monotonic
//! `std::time::Instant` instead: they are never stored, and a wall clock that
//! steps backwards must not reopen them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Reads the current time. Cheap to clone; clones share their offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Nanoseconds added to the system clock; `None` for the plain system clock.
    skew: Option<Arc<AtomicI64>>,
}

/// Moves an adjustable [`Clock`] forward. Only tests make one.
#[derive(Clone, Debug)]
pub struct ClockHand {
    skew: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock, as production uses it.
    pub fn system() -> Self {
        Self { skew: None }
    }

    /// A clock that runs with the system clock but can be moved forward by
    /// the returned hand.
    pub fn adjustable() -> (Self, ClockHand) {
        let skew = Arc::new(AtomicI64::new(0));
        (
            Self {
                skew: Some(skew.clone()),
            },
            ClockHand { skew },
        )
    }

    pub fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        match &self.skew {
            None => now,
            Some(skew) => {
                let by = SignedDuration::from_nanos(skew.load(Ordering::Acquire));
                now.saturating_add(by).unwrap_or(now)
            }
        }
    }
}

impl ClockHand {
    /// Moves the clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.skew.fetch_add(nanos, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_follows_the_system_time() {
        let before = Timestamp::now();
        let now = Clock::system().now();
        assert!(now >= before && now <= Timestamp::now());
    }

    #[test]
    fn a_hand_moves_every_clone_forward() {
        let (clock, hand) = Clock::adjustable();
        let copy = clock.clone();
        let start = clock.now();
        hand.advance(Duration::from_secs(3600));
        for c in [&clock, &copy] {
            let moved = c.now().duration_since(start);
            assert!(moved >= SignedDuration::from_secs(3600), "{moved:?}");
            assert!(moved < SignedDuration::from_secs(3660), "{moved:?}");
        }
    }
}
