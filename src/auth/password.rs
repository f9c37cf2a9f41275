//! Password hashing (argon2id, PHC strings) and the password policy.
//!
//! Hashing and verification run on tokio's blocking pool, a bounded number at
//! a time, with a bounded queue in front: a caller beyond the queue gets
//! [`PasswordError::Busy`] at once instead of waiting.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{self, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OnceCell, Semaphore, TryAcquireError};

/// Memory cost in KiB (19 MiB).
const M_COST: u32 = 19 * 1024;
/// Iterations.
const T_COST: u32 = 2;
/// Lanes.
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// Checked at compile time: invalid parameters fail the build.
const PARAMS: Params = match Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)) {
    Ok(params) => params,
    Err(_) => panic!("invalid argon2 parameters"),
};

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// Why a hash or verification did not run.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too many password operations are running or queued.
    #[error("too many password checks in progress; try again shortly")]
    Busy,
    /// Hashing failed or its task did not complete.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Hashes and verifies passwords off the async runtime, a bounded number at a
/// time. Share it behind an `Arc`.
pub struct PasswordHasher {
    /// Held from admission until the work finishes: running plus queued calls.
    admission: Arc<Semaphore>,
    /// Held while the work runs on the blocking pool.
    workers: Arc<Semaphore>,
    concurrency: usize,
    max_queue: usize,
    /// Verified against when the user is unknown, so that costs what a wrong
    /// password costs.
    dummy: OnceCell<String>,
    /// Hashes and verifications asked for (see [`PasswordHasher::runs`]).
    runs: AtomicU64,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("concurrency", &self.concurrency)
            .field("max_queue", &self.max_queue)
            .field("free_slots", &self.admission.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// At most `concurrency` operations run at once (0 counts as 1) and at
    /// most `max_queue` wait for a turn; further callers get
    /// [`PasswordError::Busy`].
    pub fn new(concurrency: usize, max_queue: usize) -> Self {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let max_queue = max_queue.min(Semaphore::MAX_PERMITS - concurrency);
        Self {
            admission: Arc::new(Semaphore::new(concurrency + max_queue)),
            workers: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            max_queue,
            dummy: OnceCell::new(),
            runs: AtomicU64::new(0),
        }
    }

    /// Half the available cores, at least one: each operation keeps a core
    /// busy, and the rest stay free for requests.
    pub fn default_concurrency() -> usize {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        (cores / 2).max(1)
    }

    /// How many hashes and verifications callers have asked for since
    /// start (not the dummy hash made at warm-up): the work sign-in and
    /// signup spend on argon2, which input that breaks the rules never reaches.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Hashes `password` with a fresh random salt into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        let password = password.clone();
        self.run(move || hash_blocking(password.expose_secret().as_bytes()))
            .await?
    }

    /// Whether `password` matches `stored`. With `None` (no such user) it
    /// does the same work against a dummy hash and returns `false`. A
    /// malformed `stored` is logged and counts as a mismatch.
    pub async fn verify(&self, password: &SecretString, stored: Option<&str>) -> Result<bool, PasswordError> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        let password = password.clone();
        let Some(stored) = stored else {
            let dummy = self.dummy_hash().await?.to_owned();
            return self
                .run(move || {
                    // The outcome is discarded: only the time spent matters.
                    let _ = verify_blocking(password.expose_secret().as_bytes(), &dummy);
                    false
                })
                .await;
        };
        if let Err(error) = parse_stored(stored) {
            tracing::warn!(%error, "stored password hash is malformed; treating it as a mismatch");
            return Ok(false);
        }
        let stored = stored.to_owned();
        self.run(
            move || match verify_blocking(password.expose_secret().as_bytes(), &stored) {
                Ok(matches) => matches,
                Err(error) => {
                    tracing::warn!(%error, "stored password hash could not be checked; treating it as a mismatch");
                    false
                }
            },
        )
        .await
    }

    /// Makes the dummy hash now, so the first unknown-user check does not
    /// also pay for making it. Optional; [`verify`](Self::verify) makes it
    /// on demand.
    pub async fn warm_up(&self) -> Result<(), PasswordError> {
        self.dummy_hash().await.map(|_| ())
    }

    /// Whether `stored` was made with other than the current algorithm,
    /// version or parameters (or cannot be read), so it should be replaced
    /// after the next successful login.
    pub fn needs_rehash(stored: &str) -> bool {
        let Ok(hash) = parse_stored(stored) else {
            return true;
        };
        hash.algorithm != Algorithm::Argon2id.ident()
            || hash.version != Some(Version::V0x13.into())
            || Params::try_from(&hash).map_or(true, |params| params != PARAMS)
    }

    async fn dummy_hash(&self) -> Result<&str, PasswordError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                let mut password = [0u8; 32];
                rand::rng().fill_bytes(&mut password);
                self.run(move || hash_blocking(&password)).await?
            })
            .await?;
        Ok(dummy.as_str())
    }

    /// Runs `job` on the blocking pool once a worker is free, or fails with
    /// `Busy` if the queue is full.
    async fn run<T, F>(&self, job: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = match Arc::clone(&self.admission).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => return Err(PasswordError::Busy),
            Err(TryAcquireError::Closed) => return Err(closed()),
        };
        let working = Arc::clone(&self.workers).acquire_owned().await.map_err(|_| closed())?;
        // The permits move into the task: if the caller goes away, the slot
        // stays taken until the work it started has actually finished.
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, working);
            job()
        })
        .await
        .map_err(|error| PasswordError::Internal(format!("password task did not complete: {error}")))
    }
}

fn closed() -> PasswordError {
    PasswordError::Internal("password worker pool is closed".to_owned())
}

fn hash_blocking(password: &[u8]) -> Result<String, PasswordError> {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|error| PasswordError::Internal(error.to_string()))?;
    argon2()
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Internal(error.to_string()))
}

/// `Ok(false)` on a mismatch; `Err` when `stored` cannot be used.
fn verify_blocking(password: &[u8], stored: &str) -> Result<bool, password_hash::Error> {
    let hash = parse_stored(stored)?;
    // Uses the algorithm, version and parameters recorded in `hash`, and
    // compares the outputs in constant time.
    match argon2().verify_password(password, &hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Parses a stored PHC string and checks that argon2 can verify against it.
fn parse_stored(stored: &str) -> Result<PasswordHash<'_>, password_hash::Error> {
    let hash = PasswordHash::new(stored)?;
    Algorithm::try_from(hash.algorithm)?;
    if let Some(version) = hash.version {
        Version::try_from(version)?;
    }
    Params::try_from(&hash)?;
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(password_hash::Error::PhcStringField);
    }
    Ok(hash)
}

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Strength estimation looks at this many leading characters at most; its
/// cost grows quickly with length, and a longer passphrase is strong anyway.
const STRENGTH_CHARS: usize = 256;
/// Shorter pieces of user inputs are not worth matching on their own.
const MIN_TOKEN_CHARS: usize = 3;

/// Why a new password was refused. The message never contains the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation {
    /// `too_short`, `too_long` or `too_weak`.
    pub code: &'static str,
    /// A sentence for the user.
    pub message: String,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyViolation {}

/// The rule every password meets wherever one is taken (signup, sign-in,
/// change, reset), checked before any hashing: 10 to 1,024 characters, no
/// NUL. A password that passes it can always be presented again.
pub fn check_chars(password: &str) -> Result<(), PolicyViolation> {
    if password.contains('\0') {
        return Err(PolicyViolation {
            code: "invalid",
            message: "The password must not contain NUL characters.".to_owned(),
        });
    }
    let chars = password.chars().take(MAX_PASSWORD_CHARS + 1).count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PolicyViolation {
            code: "too_short",
            message: format!("The password must be at least {MIN_PASSWORD_CHARS} characters long."),
        });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PolicyViolation {
            code: "too_long",
            message: format!("The password must be at most {MAX_PASSWORD_CHARS} characters long."),
        });
    }
    Ok(())
}

/// Checks a password being set: [`check_chars`], then its strength as
/// zxcvbn estimates it, knowing `user_inputs` (the user's email, name and
/// the like) as easy guesses. Never applied at sign-in, so a password set
/// under an older strength rule keeps working.
pub fn check_policy(password: &str, user_inputs: &[&str]) -> Result<(), PolicyViolation> {
    check_chars(password)?;

    let evaluated = match password.char_indices().nth(STRENGTH_CHARS) {
        Some((end, _)) => &password[..end],
        None => password,
    };
    let tokens = user_tokens(user_inputs);
    let token_refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(evaluated, &token_refs);
    if entropy.score() >= zxcvbn::Score::Three {
        return Ok(());
    }

    let mut parts = vec!["This password is too easy to guess.".to_owned()];
    let uses_user_input = entropy.sequence().iter().any(|found| {
        matches!(&found.pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(word)
            if tokens.contains(&word.matched_word))
    });
    if uses_user_input {
        parts.push("It contains your name or email address.".to_owned());
    }
    if let Some(feedback) = entropy.feedback() {
        parts.extend(feedback.warning().map(|warning| warning.to_string()));
        parts.extend(feedback.suggestions().iter().map(ToString::to_string));
    }
    if parts.len() == 1 {
        parts.push("Use a few uncommon words or a longer phrase.".to_owned());
    }
    Err(PolicyViolation {
        code: "too_weak",
        message: parts.join(" "),
    })
}

/// The lowercased inputs, and the pieces a password might borrow from them:
/// an email's local part and domain, and each run of letters and digits (so
/// "Alice Liddell" yields "alice" and "liddell").
fn user_tokens(user_inputs: &[&str]) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut add = |piece: &str| {
        let piece = piece.trim().to_lowercase();
        if piece.chars().count() >= MIN_TOKEN_CHARS && !tokens.contains(&piece) {
            tokens.push(piece);
        }
    };
    for input in user_inputs {
        add(input);
    }
    for input in user_inputs {
        if let Some((local, domain)) = input.rsplit_once('@') {
            add(local);
            add(domain);
        }
        for piece in input.split(|c: char| !c.is_alphanumeric()) {
            add(piece);
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::timeout;

    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[tokio::test]
    async fn round_trip() {
        let hasher = PasswordHasher::new(2, 8);
        let hash = hasher
            .hash(&secret("correct-horse-battery-staple"))
            .await
            .expect("hash");
        assert!(
            hasher
                .verify(&secret("correct-horse-battery-staple"), Some(&hash))
                .await
                .expect("verify")
        );
        assert!(!PasswordHasher::needs_rehash(&hash));
    }

    #[tokio::test]
    async fn wrong_password_is_false() {
        let hasher = PasswordHasher::new(2, 8);
        let hash = hasher
            .hash(&secret("correct-horse-battery-staple"))
            .await
            .expect("hash");
        assert!(
            !hasher
                .verify(&secret("correct-horse-battery-stapler"), Some(&hash))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn unknown_user_is_false() {
        let hasher = PasswordHasher::new(2, 8);
        assert!(!hasher.verify(&secret("anything at all"), None).await.expect("verify"));
        let dummy = hasher.dummy.get().expect("dummy hash made");
        assert!(
            !PasswordHasher::needs_rehash(dummy),
            "dummy uses the current parameters"
        );
        hasher.warm_up().await.expect("warm up");
        assert!(!hasher.verify(&secret(""), None).await.expect("verify"));
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_false() {
        let hasher = PasswordHasher::new(1, 0);
        for stored in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(!hasher.verify(&secret("whatever"), Some(stored)).await.expect("verify"));
            assert!(PasswordHasher::needs_rehash(stored));
        }
    }

    #[tokio::test]
    async fn phc_string_carries_the_parameters() {
        let hash = PasswordHasher::new(1, 0)
            .hash(&secret("correct-horse"))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let parsed = PasswordHash::new(&hash).expect("PHC string");
        let salt = parsed.salt.expect("salt");
        let mut decoded = [0u8; 64];
        assert_eq!(salt.decode_b64(&mut decoded).expect("salt is base64").len(), SALT_LEN);
        assert_eq!(parsed.hash.expect("output").len(), OUTPUT_LEN);
    }

    #[tokio::test]
    async fn same_password_gets_different_salts() {
        let hasher = PasswordHasher::new(2, 8);
        let password = secret("correct-horse");
        let first = hasher.hash(&password).await.expect("hash");
        let second = hasher.hash(&password).await.expect("hash");
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn other_parameters_need_rehash_but_still_verify() {
        let hasher = PasswordHasher::new(1, 0);
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("params"),
        );
        let salt = SaltString::encode_b64(&[7u8; SALT_LEN]).expect("salt");
        let stored = old.hash_password(b"legacy-password", &salt).expect("hash").to_string();
        assert!(PasswordHasher::needs_rehash(&stored));
        assert!(
            hasher
                .verify(&secret("legacy-password"), Some(&stored))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify(&secret("legacy-passw0rd"), Some(&stored))
                .await
                .expect("verify")
        );

        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, PARAMS);
        let stored = argon2i
            .hash_password(b"legacy-password", &salt)
            .expect("hash")
            .to_string();
        assert!(PasswordHasher::needs_rehash(&stored));
        assert!(
            hasher
                .verify(&secret("legacy-password"), Some(&stored))
                .await
                .expect("verify")
        );
    }

    /// Starts a job that holds a worker until `release` is sent, and waits
    /// until it runs.
    async fn hold_worker(
        hasher: &Arc<PasswordHasher>,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), PasswordError>>,
    ) {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let held = Arc::clone(hasher);
        let job = tokio::spawn(async move {
            held.run(move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
            })
            .await
        });
        started_rx.await.expect("held job started");
        (release_tx, job)
    }

    #[tokio::test]
    async fn busy_when_queue_is_full() {
        let hasher = Arc::new(PasswordHasher::new(1, 0));
        let (release, job) = hold_worker(&hasher).await;

        let refused = timeout(Duration::from_secs(5), hasher.hash(&secret("correct-horse")))
            .await
            .expect("a full queue answers at once");
        assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");
        let refused = timeout(Duration::from_secs(5), hasher.verify(&secret("correct-horse"), None))
            .await
            .expect("a full queue answers at once");
        assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");

        release.send(()).expect("release held job");
        job.await.expect("join").expect("held job");
        hasher
            .hash(&secret("correct-horse"))
            .await
            .expect("hash once the worker is free");
    }

    #[tokio::test]
    async fn queued_callers_wait_and_a_cancelled_one_frees_its_place() {
        let hasher = Arc::new(PasswordHasher::new(1, 1));
        let (release, job) = hold_worker(&hasher).await;

        let queued = {
            let hasher = Arc::clone(&hasher);
            tokio::spawn(async move { hasher.hash(&secret("correct-horse")).await })
        };
        timeout(Duration::from_secs(5), async {
            while hasher.admission.available_permits() > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("second caller queued");
        let refused = timeout(Duration::from_secs(5), hasher.hash(&secret("correct-horse")))
            .await
            .expect("a full queue answers at once");
        assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");

        queued.abort();
        assert!(queued.await.expect_err("aborted").is_cancelled());
        let requeued = {
            let hasher = Arc::clone(&hasher);
            tokio::spawn(async move { hasher.hash(&secret("correct-horse")).await })
        };

        release.send(()).expect("release held job");
        job.await.expect("join").expect("held job");
        requeued
            .await
            .expect("join")
            .expect("queued hash runs once the worker is free");
    }

    #[tokio::test]
    async fn zero_concurrency_still_runs() {
        let hasher = PasswordHasher::new(0, 0);
        hasher.hash(&secret("correct-horse")).await.expect("hash");
    }

    #[test]
    fn default_concurrency_is_at_least_one() {
        assert!(PasswordHasher::default_concurrency() >= 1);
    }

    #[test]
    fn debug_shows_no_hash() {
        let hasher = PasswordHasher::new(3, 7);
        let _ = hasher
            .dummy
            .set("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b3V0".to_owned());
        let shown = format!("{hasher:?}");
        assert!(shown.contains("concurrency: 3"), "{shown}");
        assert!(!shown.contains("argon2"), "{shown}");
    }

    fn violation(password: &str, user_inputs: &[&str]) -> PolicyViolation {
        check_policy(password, user_inputs).expect_err("refused")
    }

    #[test]
    fn too_short() {
        assert_eq!(violation("Xq7#vLp2", &[]).code, "too_short");
        // Counted in characters, not bytes: nine characters, eighteen bytes.
        assert_eq!(violation("ééééééééé", &[]).code, "too_short");
    }

    #[test]
    fn too_long() {
        let long = "x".repeat(MAX_PASSWORD_CHARS + 1);
        assert_eq!(violation(&long, &[]).code, "too_long");
        // 1024 characters of four bytes each is within the limit.
        let wide = "🦀".repeat(MAX_PASSWORD_CHARS);
        assert_ne!(check_policy(&wide, &[]).map_err(|v| v.code), Err("too_long"));
    }

    #[test]
    fn long_passphrase_is_accepted() {
        let passphrase = "quartz lantern meadow ".repeat(40);
        assert!(passphrase.chars().count() > STRENGTH_CHARS);
        assert_eq!(check_policy(&passphrase, &[]), Ok(()));
    }

    #[test]
    fn common_password_is_too_weak() {
        let refused = violation("password123456", &[]);
        assert_eq!(refused.code, "too_weak");
        assert!(refused.message.starts_with("This password is too easy to guess."));
        assert!(refused.message.len() > "This password is too easy to guess.".len());
        assert!(!refused.message.contains("password123456"));
    }

    #[test]
    fn user_inputs_make_a_password_weak() {
        let inputs = ["alice@example.com", "Alice Liddell"];
        let refused = violation("alice@example.com2024", &inputs);
        assert_eq!(refused.code, "too_weak");
        assert!(refused.message.contains("name or email address"), "{}", refused.message);

        // Strong on its own, weak for this user: it is the email's local part
        // and a year.
        let password = "zorblatt.quimby1987";
        let inputs = ["zorblatt.quimby@example.com"];
        assert_eq!(check_policy(password, &[]), Ok(()));
        let refused = violation(password, &inputs);
        assert_eq!(refused.code, "too_weak");
        assert!(refused.message.contains("name or email address"), "{}", refused.message);
    }

    #[test]
    fn strong_passwords_are_accepted() {
        assert_eq!(check_policy("correct-horse-battery-staple-42", &[]), Ok(()));
        assert_eq!(check_policy("Tr0ub4dor&3-galaxy-puddle", &[]), Ok(()));
        assert_eq!(
            check_policy(
                "correct-horse-battery-staple-42",
                &["alice@example.com", "Alice Liddell"]
            ),
            Ok(())
        );
    }

    #[test]
    fn user_tokens_split_emails_and_names() {
        let tokens = user_tokens(&["Alice.Liddell@Example.com", "Alice Liddell", "", "al"]);
        assert_eq!(
            tokens,
            [
                "alice.liddell@example.com",
                "alice liddell",
                "alice.liddell",
                "example.com",
                "alice",
                "liddell",
                "example",
                "com",
            ]
        );
    }
}
