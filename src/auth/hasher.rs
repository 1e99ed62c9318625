//! argon2id hashing on a bounded pool (SECURITY X1, L2; parameters in one place).
//!
//! At most `threads` hashes run at once (each takes ~19 MiB for its duration);
//! at most `queue` callers wait for a slot, and any caller past that gets
//! [`Busy`] at once, which the web layer answers with 503 and `Retry-After`.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

use crate::domain::secret::Secret;

/// OWASP parameters: m = 19456 KiB, t = 2, p = 1 (argon2id, v19).
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password to a PHC string with a fresh random salt. Blocking (~20 ms).
pub fn hash_blocking(password: &Secret) -> String {
    argon2()
        .hash_password(password.expose().as_bytes())
        .expect("argon2 hashing with valid parameters does not fail")
        .to_string()
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matched: bool,
    /// The stored hash uses other parameters than [`argon2`]; re-hash it now.
    pub needs_rehash: bool,
}

/// Checks `password` against `phc`; with `None` it burns the same time on a dummy hash.
pub fn verify_blocking(password: &Secret, phc: Option<&str>, dummy: &str) -> Verification {
    let (stored, real) = match phc {
        Some(p) => (p, true),
        None => (dummy, false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        // A damaged hash never matches; still spend the time of a verify.
        let _ = verify_parsed(password, dummy);
        return Verification {
            matched: false,
            needs_rehash: false,
        };
    };
    let matched = argon2()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok();
    Verification {
        matched: matched && real,
        needs_rehash: matched && real && !uses_current_params(&parsed),
    }
}

fn verify_parsed(password: &Secret, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|p| {
        argon2()
            .verify_password(password.expose().as_bytes(), &p)
            .is_ok()
    })
}

fn uses_current_params(hash: &PasswordHash) -> bool {
    let current = argon2();
    let want = current.params();
    hash.algorithm.as_str() == "argon2id"
        && Params::try_from(hash).is_ok_and(|p| {
            p.m_cost() == want.m_cost()
                && p.t_cost() == want.t_cost()
                && p.p_cost() == want.p_cost()
        })
}

/// Returned when the pool and its queue are full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct Busy;

/// The bounded hashing pool shared by every request.
///
/// Hashes run on `threads` dedicated OS threads, not on the runtime's blocking
/// pool: glibc keeps a freed 19 MiB argon2 block in the allocating thread's
/// arena, so hashing on any of the blocking pool's many threads let memory
/// grow to (blocking threads) x 19 MiB under a flood. With fixed threads each
/// one reuses its own block, and memory stays near `threads` x 19 MiB (X1).
pub struct Hasher {
    permits: Arc<Semaphore>,
    threads: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    dummy: String,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Starts `threads` workers that run jobs from one shared channel until it closes.
fn start_workers(threads: usize) -> std::sync::mpsc::Sender<Job> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    for i in 0..threads {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(poison) => poison.into_inner().recv(),
                    };
                    let Ok(job) = job else { return };
                    // A panicking job reports through its dropped sender; the worker lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .expect("the OS starts a hashing thread");
    }
    tx
}

impl Hasher {
    /// Builds the pool; computes the dummy hash used for unknown users once, here.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            threads,
            waiting: AtomicUsize::new(0),
            max_waiting: queue.max(1),
            dummy: hash_blocking(&Secret::new("latchkey dummy password for unknown users")),
            jobs: std::sync::Mutex::new(start_workers(threads)),
        }
    }

    /// Verifies off the async runtime; `phc = None` does a dummy verify (SECURITY L2).
    pub async fn verify(
        &self,
        password: Secret,
        phc: Option<String>,
    ) -> Result<Verification, Busy> {
        let dummy = self.dummy.clone();
        self.run(move || {
            // Stored hashes are of the NFKC form (NewPassword::parse), so the
            // typed password is compared in that form too (SECURITY P1).
            let password = Secret::new(crate::domain::password::normalize(password.expose()));
            verify_blocking(&password, phc.as_deref(), &dummy)
        })
        .await
    }

    /// Hashes off the async runtime.
    pub async fn hash(&self, password: Secret) -> Result<String, Busy> {
        self.run(move || hash_blocking(&password)).await
    }

    /// Hashes now in use.
    pub fn in_use(&self) -> usize {
        self.threads - self.permits.available_permits()
    }

    /// Callers waiting for a slot.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let acquired = self.permits.clone().acquire_owned().await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                acquired.map_err(|_| Busy)?
            }
        };
        let (done, out) = tokio::sync::oneshot::channel();
        let work: Job = Box::new(move || {
            let _ = done.send(job());
            drop(permit);
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(work),
            Err(poison) => poison.into_inner().send(work),
        };
        sent.map_err(|_| Busy)?;
        // A panic inside argon2 would be a bug; treat it as a failed hash, not a crash.
        out.await.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify_round_trip() {
        let pw = Secret::new("Correct-Horse-9");
        let phc = hash_blocking(&pw);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let dummy = hash_blocking(&Secret::new("x"));
        let ok = verify_blocking(&pw, Some(&phc), &dummy);
        assert!(ok.matched && !ok.needs_rehash);
        assert!(!verify_blocking(&Secret::new("wrong"), Some(&phc), &dummy).matched);
        assert!(!verify_blocking(&pw, None, &dummy).matched);
        assert!(!verify_blocking(&pw, Some("garbage"), &dummy).matched);
    }

    #[test]
    fn weaker_parameters_ask_for_a_rehash() {
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let phc = weak.hash_password(b"Correct-Horse-9").unwrap().to_string();
        let v = verify_blocking(&Secret::new("Correct-Horse-9"), Some(&phc), &phc);
        assert!(v.matched && v.needs_rehash);
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy() {
        let hasher = Arc::new(Hasher::new(1, 1));
        let mut jobs = Vec::new();
        for _ in 0..6 {
            let h = hasher.clone();
            jobs.push(tokio::spawn(async move { h.hash(Secret::new("x")).await }));
        }
        let mut busy = 0;
        for j in jobs {
            if j.await.unwrap().is_err() {
                busy += 1;
            }
        }
        assert!(busy >= 1, "six hashes on a pool of one with a queue of one");
    }
}
