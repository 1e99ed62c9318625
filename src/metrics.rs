//! Counters for `/metrics` (Prometheus text format), kept in memory since start.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every counter the server exposes. Gauges are read when rendering.
#[derive(Default)]
pub struct Metrics {
    pub sign_ins_ok: AtomicU64,
    pub sign_ins_failed: AtomicU64,
    pub sign_ins_locked: AtomicU64,
    pub sign_ins_refused: AtomicU64,
    pub lockouts: AtomicU64,
    pub resets_requested: AtomicU64,
    pub resets_completed: AtomicU64,
    pub mail_sent: AtomicU64,
    pub mail_failed: AtomicU64,
    pub mail_dropped: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub tokens_refused: AtomicU64,
    pub forward_auth_allowed: AtomicU64,
    pub forward_auth_sign_in: AtomicU64,
    pub forward_auth_denied: AtomicU64,
}

/// Values read at render time.
pub struct Gauges {
    pub mail_queued_total: u64,
    pub hash_in_use: usize,
    pub hash_queued: usize,
    pub sessions_live: u64,
    pub mail_waiting: u64,
    pub accounts: u64,
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn render(&self, g: &Gauges) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "latchkey_sign_ins_total",
            "counter",
            "Sign-in attempts by result.",
            &[
                ("{result=\"ok\"}", get(&self.sign_ins_ok)),
                ("{result=\"failed\"}", get(&self.sign_ins_failed)),
                ("{result=\"locked\"}", get(&self.sign_ins_locked)),
                ("{result=\"refused\"}", get(&self.sign_ins_refused)),
            ],
        );
        family(
            "latchkey_tokens_total",
            "counter",
            "OpenID Connect token requests by result (issued: a code redeemed or a refresh).",
            &[
                ("{result=\"issued\"}", get(&self.tokens_issued)),
                ("{result=\"refused\"}", get(&self.tokens_refused)),
            ],
        );
        family(
            "latchkey_forward_auth_total",
            "counter",
            "Forward-auth checks by answer (sign_in: sent to the sign-in page).",
            &[
                ("{result=\"allowed\"}", get(&self.forward_auth_allowed)),
                ("{result=\"sign_in\"}", get(&self.forward_auth_sign_in)),
                ("{result=\"denied\"}", get(&self.forward_auth_denied)),
            ],
        );
        family(
            "latchkey_lockouts_total",
            "counter",
            "Accounts locked after too many failures.",
            &[("", get(&self.lockouts))],
        );
        family(
            "latchkey_resets_requested_total",
            "counter",
            "Reset links mailed.",
            &[("", get(&self.resets_requested))],
        );
        family(
            "latchkey_resets_completed_total",
            "counter",
            "Passwords set through reset links.",
            &[("", get(&self.resets_completed))],
        );
        family(
            "latchkey_mail_total",
            "counter",
            "Mail by outcome (failed counts attempts that will be retried).",
            &[
                ("{outcome=\"queued\"}", g.mail_queued_total),
                ("{outcome=\"sent\"}", get(&self.mail_sent)),
                ("{outcome=\"failed\"}", get(&self.mail_failed)),
                ("{outcome=\"dropped\"}", get(&self.mail_dropped)),
            ],
        );
        family(
            "latchkey_mail_waiting",
            "gauge",
            "Messages in the outbox.",
            &[("", g.mail_waiting)],
        );
        family(
            "latchkey_hash_in_use",
            "gauge",
            "argon2 hashes running now.",
            &[("", g.hash_in_use as u64)],
        );
        family(
            "latchkey_hash_queued",
            "gauge",
            "Requests waiting for a hashing slot.",
            &[("", g.hash_queued as u64)],
        );
        family(
            "latchkey_sessions_live",
            "gauge",
            "Sessions stored (expired ones are swept every minute).",
            &[("", g.sessions_live)],
        );
        family(
            "latchkey_accounts",
            "gauge",
            "Accounts.",
            &[("", g.accounts)],
        );
        out
    }
}
