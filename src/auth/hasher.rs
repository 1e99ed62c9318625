//! argon2id hashing on a bounded pool (SECURITY X1, L2; parameters in one place).
//!
//! At most `threads` hashes run at once; at most `queue` callers wait for a
//! slot, and any caller past that gets [`Busy`] at once, which the web layer
//! answers with 503 and `Retry-After`. Each hashing thread keeps one
//! [`Workspace`] (the 19 MiB of argon2 memory) while the pool is busy, so
//! memory is at most `threads` x 19 MiB however many hashes run, and gives
//! it back to the kernel after [`IDLE_RELEASE`] without a job.

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::{self, Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::bounded::lock;
use crate::domain::password::{NewPassword, PasswordHash};
use crate::domain::secret::Secret;

/// OWASP parameters: m = 19456 KiB, t = 2, p = 1 (argon2id, v19).
pub fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid")
}

/// Bytes of salt in a new hash (the PHC recommendation).
const SALT_LEN: usize = 16;
/// Bytes of output in a new hash.
const OUTPUT_LEN: usize = 32;

/// argon2's working memory for the configured parameters, reused across hashes.
///
/// argon2 writes every block before it reads it, so a workspace needs no
/// clearing between hashes. Allocating it once matters: a fresh 19 MiB per
/// hash fragments glibc's heap until a flood of sign-ins has grown the
/// process by a block per hash (bench/ANALYSIS.md).
///
/// The allocation reserves [`RESERVED_BYTES`] of address space and touches
/// only the 19 MiB argon2 uses. glibc serves a request that large with its
/// own `mmap` and gives it back with `munmap` when the workspace is dropped,
/// so freeing an idle pool's workspaces really lowers the resident set. A
/// 19 MiB request would not stay that way: once one such mapping is freed,
/// glibc raises its mmap threshold to 19 MiB and serves the next one from an
/// arena, which keeps the pages after the free (bench/ANALYSIS.md,
/// "Memory at rest"). Untouched pages of the reservation cost no memory.
pub struct Workspace {
    blocks: Vec<Block>,
}

/// Address space reserved per workspace: above glibc's largest mmap
/// threshold (`DEFAULT_MMAP_THRESHOLD_MAX`, 32 MiB on 64-bit), so the
/// workspace is always a mapping of its own.
pub const RESERVED_BYTES: usize = 33 * 1024 * 1024;

impl Workspace {
    pub fn new() -> Self {
        let count = params().block_count();
        let reserved = count.max(RESERVED_BYTES / std::mem::size_of::<Block>());
        let mut blocks = Vec::with_capacity(reserved);
        blocks.resize(count, Block::default());
        Self { blocks }
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes a password to a PHC string with a fresh random salt. Blocking (~20 ms).
/// Only a [`NewPassword`] is stored, so every stored hash is of the NFKC form
/// that [`Hasher::verify`] compares against.
pub fn hash_blocking(password: &NewPassword) -> PasswordHash {
    hash_with(&mut Workspace::new(), password.expose())
}

/// Hashes `password` exactly as given in a given workspace.
fn hash_with(workspace: &mut Workspace, password: &str) -> PasswordHash {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).expect("the OS random source works");
    let mut out = [0u8; OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            &mut workspace.blocks[..],
        )
        .expect("argon2 hashing with valid parameters does not fail");
    let phc = phc::PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).expect("constant parameters encode"),
        salt: Some(Salt::new(&salt).expect("16 bytes is a valid salt")),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
    };
    PasswordHash::from_phc(phc.to_string())
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
    verify_with(&mut Workspace::new(), password, phc, dummy)
}

/// [`verify_blocking`] in a given workspace.
pub fn verify_with(
    workspace: &mut Workspace,
    password: &Secret,
    phc: Option<&str>,
    dummy: &str,
) -> Verification {
    let (stored, real) = match phc {
        Some(p) => (p, true),
        None => (dummy, false),
    };
    let Ok(parsed) = phc::PasswordHash::new(stored) else {
        // A damaged hash never matches; still spend the time of a verify.
        if let Ok(dummy) = phc::PasswordHash::new(dummy) {
            let _ = matches(workspace, password, &dummy);
        }
        return Verification {
            matched: false,
            needs_rehash: false,
        };
    };
    let matched = matches(workspace, password, &parsed);
    Verification {
        matched: matched && real,
        needs_rehash: matched && real && !uses_current_params(&parsed),
    }
}

/// Recomputes `hash` for `password` and compares in constant time.
///
/// A hash whose parameters need more memory than the workspace holds (a
/// future, stronger setting) is checked by argon2's own allocating verifier.
fn matches(workspace: &mut Workspace, password: &Secret, hash: &phc::PasswordHash) -> bool {
    let pwd = password.expose().as_bytes();
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    if params.block_count() > workspace.blocks.len() {
        return argon2().verify_password(pwd, hash).is_ok();
    }
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(pwd, salt, out, &mut workspace.blocks[..])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_ref()))
}

fn uses_current_params(hash: &phc::PasswordHash) -> bool {
    let want = params();
    hash.algorithm == argon2::ARGON2ID_IDENT
        && hash.version == Some(Version::V0x13.into())
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
/// pool, and each thread keeps one [`Workspace`], allocated at its first hash:
/// memory stays at `threads` x 19 MiB under any flood (X1). Once no hash has
/// been asked for during [`IDLE_RELEASE`], the workspaces are freed, so a
/// quiet server holds none; the next sign-in allocates one again.
pub struct Hasher {
    permits: Arc<Semaphore>,
    threads: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    dummy: PasswordHash,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    workspaces: Workspaces,
}

type Job = Box<dyn FnOnce(&mut Workspace) + Send + 'static>;

/// How long the pool may go without a job before its workspaces are freed.
pub const IDLE_RELEASE: Duration = Duration::from_secs(30);

/// One workspace slot per thread; a thread holds its slot's lock while it hashes.
type Workspaces = Arc<Vec<std::sync::Mutex<Option<Workspace>>>>;

/// Starts `threads` workers that run jobs from one shared channel until it closes.
///
/// The worker waiting on the channel frees every workspace not in use when
/// no job has come for `idle`; the others wait for the channel, so one
/// timed-out wait means the whole pool was idle that long.
fn start_workers(threads: usize, idle: Duration) -> (std::sync::mpsc::Sender<Job>, Workspaces) {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let slots: Workspaces = Arc::new((0..threads).map(|_| Default::default()).collect());
    for i in 0..threads {
        let (rx, slots) = (rx.clone(), slots.clone());
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = lock(&rx).recv_timeout(idle);
                    let job = match job {
                        Ok(job) => job,
                        Err(RecvTimeoutError::Timeout) => {
                            release_idle(&slots);
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let mut slot = lock(&slots[i]);
                    let workspace = slot.get_or_insert_with(Workspace::new);
                    // A panicking job reports through its dropped sender; the worker lives on.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(workspace)));
                }
            })
            .expect("the OS starts a hashing thread");
    }
    (tx, slots)
}

/// Frees every workspace whose thread is not hashing right now.
fn release_idle(slots: &[std::sync::Mutex<Option<Workspace>>]) {
    for slot in slots {
        if let Ok(mut workspace) = slot.try_lock() {
            *workspace = None;
        }
    }
}

impl Hasher {
    /// Builds the pool; computes the dummy hash used for unknown users once, here.
    pub fn new(threads: usize, queue: usize) -> Self {
        Self::with_idle_release(threads, queue, IDLE_RELEASE)
    }

    /// [`Hasher::new`], freeing the workspaces after `idle` without a job.
    pub fn with_idle_release(threads: usize, queue: usize, idle: Duration) -> Self {
        let threads = threads.max(1);
        let (jobs, workspaces) = start_workers(threads, idle);
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            threads,
            waiting: AtomicUsize::new(0),
            max_waiting: queue.max(1),
            dummy: hash_with(
                &mut Workspace::new(),
                "latchkey dummy password for unknown users",
            ),
            jobs: std::sync::Mutex::new(jobs),
            workspaces,
        }
    }

    /// Workspaces allocated now (each is 19 MiB).
    pub fn workspaces_held(&self) -> usize {
        self.workspaces
            .iter()
            .filter(|slot| lock(slot).is_some())
            .count()
    }

    /// Verifies off the async runtime; `phc = None` does a dummy verify (SECURITY L2).
    pub async fn verify(
        &self,
        password: Secret,
        phc: Option<PasswordHash>,
    ) -> Result<Verification, Busy> {
        let dummy = self.dummy.clone();
        self.run(move |workspace| {
            // Stored hashes are of the NFKC form (NewPassword::parse), so the
            // typed password is compared in that form too (SECURITY P1).
            let password = Secret::new(crate::domain::password::normalize(password.expose()));
            verify_with(
                workspace,
                &password,
                phc.as_ref().map(PasswordHash::as_str),
                dummy.as_str(),
            )
        })
        .await
    }

    /// Hashes off the async runtime.
    pub async fn hash(&self, password: NewPassword) -> Result<PasswordHash, Busy> {
        self.run(move |workspace| hash_with(workspace, password.expose()))
            .await
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
        job: impl FnOnce(&mut Workspace) -> T + Send + 'static,
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
        let work: Job = Box::new(move |workspace| {
            let _ = done.send(job(workspace));
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
        let phc = hash_blocking(&NewPassword::verified(&pw))
            .as_str()
            .to_owned();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let dummy = hash_with(&mut Workspace::new(), "x").as_str().to_owned();
        let ok = verify_blocking(&pw, Some(&phc), &dummy);
        assert!(ok.matched && !ok.needs_rehash);
        assert!(!verify_blocking(&Secret::new("wrong"), Some(&phc), &dummy).matched);
        assert!(!verify_blocking(&pw, None, &dummy).matched);
        assert!(!verify_blocking(&pw, Some("garbage"), &dummy).matched);
    }

    /// "Correct-Horse-9" hashed by argon2's own hasher with `memory_kib`, t=1, p=1.
    fn hashed_by_argon2_with(memory_kib: u32) -> String {
        let params = Params::new(memory_kib, 1, 1, None).unwrap();
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        argon2::password_hash::PasswordHasher::hash_password(&hasher, b"Correct-Horse-9")
            .unwrap()
            .to_string()
    }

    #[test]
    fn weaker_parameters_ask_for_a_rehash() {
        let phc = hashed_by_argon2_with(8 * 1024);
        let v = verify_blocking(&Secret::new("Correct-Horse-9"), Some(&phc), &phc);
        assert!(v.matched && v.needs_rehash);
    }

    #[test]
    fn a_reused_workspace_agrees_with_argon2s_own_hashing() {
        // Hashes written by earlier versions (argon2's allocating hasher) still
        // verify, ours verify with argon2's verifier, and a workspace that has
        // already computed other hashes gives the same answers.
        let mut ws = Workspace::new();
        let pw = Secret::new("Correct-Horse-9");
        let theirs =
            argon2::password_hash::PasswordHasher::hash_password(&argon2(), b"Correct-Horse-9")
                .unwrap()
                .to_string();
        for _ in 0..3 {
            let ours = hash_with(&mut ws, pw.expose()).as_str().to_owned();
            assert!(
                argon2()
                    .verify_password(b"Correct-Horse-9", &phc::PasswordHash::new(&ours).unwrap())
                    .is_ok()
            );
            let v = verify_with(&mut ws, &pw, Some(&theirs), &ours);
            assert!(v.matched && !v.needs_rehash);
            assert!(
                !verify_with(
                    &mut ws,
                    &Secret::new("Correct-Horse-8"),
                    Some(&theirs),
                    &ours
                )
                .matched
            );
        }
    }

    #[test]
    fn a_hash_needing_more_memory_than_the_workspace_still_verifies() {
        let phc = hashed_by_argon2_with(32 * 1024);
        let v = verify_blocking(&Secret::new("Correct-Horse-9"), Some(&phc), &phc);
        assert!(v.matched && v.needs_rehash);
        assert!(!verify_blocking(&Secret::new("wrong"), Some(&phc), &phc).matched);
    }

    /// Issue 13: an idle pool gives its workspaces back, and the next hash
    /// allocates one again.
    #[tokio::test]
    async fn an_idle_pool_frees_its_workspaces() {
        let hasher = Hasher::with_idle_release(2, 4, Duration::from_millis(300));
        let pw = NewPassword::verified(&Secret::new("Correct-Horse-9"));
        hasher.hash(pw.clone()).await.unwrap();
        assert_eq!(hasher.workspaces_held(), 1);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while hasher.workspaces_held() > 0 {
            assert!(std::time::Instant::now() < deadline, "never freed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let phc = hasher.hash(pw).await.unwrap();
        assert!(phc.as_str().starts_with("$argon2id$"));
    }

    /// Issue 13: a workspace is a mapping of its own, so dropping it unmaps
    /// its pages instead of leaving them in one of glibc's arenas. Holds
    /// after another workspace was freed, which is what moves glibc's
    /// threshold.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_workspace_is_a_mapping_of_its_own() {
        drop(Workspace::new());
        let workspace = Workspace::new();
        let start = workspace.blocks.as_ptr() as usize;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let (low, high) = maps
            .lines()
            .filter_map(|line| {
                let (low, high) = line.split_whitespace().next()?.split_once('-')?;
                let low = usize::from_str_radix(low, 16).ok()?;
                let high = usize::from_str_radix(high, 16).ok()?;
                (low..high).contains(&start).then_some((low, high))
            })
            .next()
            .expect("the workspace lies in a mapping");
        assert!(
            high - low >= RESERVED_BYTES,
            "mapping of {} bytes",
            high - low
        );
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy() {
        let hasher = Arc::new(Hasher::new(1, 1));
        let mut jobs = Vec::new();
        for _ in 0..6 {
            let h = hasher.clone();
            jobs.push(tokio::spawn(async move {
                h.hash(NewPassword::verified(&Secret::new("x"))).await
            }));
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
