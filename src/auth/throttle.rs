//! Login throttling with exponential backoff, per account and per client
//! address.
//!
//! The login handler calls [`LoginThrottle::check`] before it verifies a
//! password, then exactly one of [`LoginThrottle::record_failure`] or
//! [`LoginThrottle::record_success`]. Each key gets `free_failures` failures;
//! every further one locks the key for a delay that doubles per failure, up to
//! `max_delay`. A key forgets its failures after `forget_after` without one.
//!
//! Accounts are tracked by a keyed hash of the normalized email, so no email
//! is held in memory or in Redis; addresses by IPv4 address or IPv6 /64
//! prefix. The counts live on the cache (`cache::Store`): in process, each
//! table holding at most `capacity` keys, or in Redis when it is configured,
//! so every instance counts the same failures.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::cache::{self, Change, Id, Key, Shared, Space, Store, Unowned};
use crate::secret::DerivedKey;

/// Keys tracked per table by [`LoginThrottle::default`].
pub const DEFAULT_CAPACITY: usize = 100_000;

/// How long a passed [`LoginThrottle::check`] holds its place when neither
/// `record_failure` nor `record_success` follows (the request was dropped).
const ATTEMPT_TIMEOUT: Duration = Duration::seconds(30);

/// When a key may fail again without waiting, and for how long it waits after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before the first lock.
    pub free_failures: u32,
    /// The lock after the first failure past `free_failures`; doubles with each further one.
    pub base_delay: Duration,
    /// The longest lock.
    pub max_delay: Duration,
    /// A key with no failure for this long starts over.
    pub forget_after: Duration,
}

impl ThrottlePolicy {
    /// Per account: 5 free failures, then 1 s doubling up to 15 min; forgotten after 24 h.
    pub const fn account() -> Self {
        Self {
            free_failures: 5,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            forget_after: Duration::hours(24),
        }
    }

    /// Per client address: 20 free failures, otherwise as [`ThrottlePolicy::account`].
    pub const fn address() -> Self {
        Self {
            free_failures: 20,
            ..Self::account()
        }
    }

    /// The lock set by the `failures`-th failure: none within the free ones,
    /// then `base_delay * 2^(failures - free_failures - 1)`, at most `max_delay`.
    fn delay(&self, failures: u32) -> Option<Duration> {
        let past = failures.checked_sub(self.free_failures)?.checked_sub(1)?;
        let delay = if past >= 31 {
            self.max_delay
        } else {
            self.base_delay
                .checked_mul(1 << past)
                .map_or(self.max_delay, |d| d.min(self.max_delay))
        };
        Some(delay)
    }
}

/// How long to wait before trying again: whole seconds, at least one. Meant
/// for a `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    pub(crate) fn rounded_up(wait: Duration) -> Self {
        let whole = Duration::seconds(wait.num_seconds());
        let secs = if wait > whole {
            wait.num_seconds() + 1
        } else {
            wait.num_seconds()
        };
        Self(Duration::seconds(secs.max(1)))
    }

    /// The wait in whole seconds.
    pub fn seconds(&self) -> u64 {
        u64::try_from(self.0.num_seconds()).unwrap_or(1)
    }
}

/// What the throttle knows about one account or address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    failures: u32,
    last_failure: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
    /// Checks passed whose outcome is not recorded yet.
    pending: u32,
    /// The latest of those checks; `pending` lapses `ATTEMPT_TIMEOUT` after it.
    pending_since: Option<DateTime<Utc>>,
}

impl Entry {
    fn pending(&self, now: DateTime<Utc>) -> u32 {
        match self.pending_since {
            Some(since) if now - since < ATTEMPT_TIMEOUT => self.pending,
            _ => 0,
        }
    }

    /// Failures older than `forget_after` no longer count.
    fn failures(&self, now: DateTime<Utc>, policy: &ThrottlePolicy) -> u32 {
        match self.last_failure {
            Some(last) if now - last < policy.forget_after => self.failures,
            _ => 0,
        }
    }

    /// How long an attempt must wait, if it must.
    ///
    /// Attempts still being verified count against the free failures, so a
    /// burst of parallel requests gets no more guesses than a sequence; past
    /// them, one attempt at a time.
    fn wait(&self, now: DateTime<Utc>, policy: &ThrottlePolicy) -> Option<Duration> {
        if let Some(until) = self.locked_until.filter(|until| *until > now) {
            return Some(until - now);
        }
        let pending = self.pending(now);
        let within_free = self.failures(now, policy).saturating_add(pending) <= policy.free_failures;
        (pending > 0 && !within_free).then_some(Duration::seconds(1))
    }

    /// Until when anything in the entry still matters: its lock, its
    /// failures that count, its open attempts. Past that it is dropped.
    fn keep_until(&self, policy: &ThrottlePolicy) -> Option<DateTime<Utc>> {
        let failures = (self.failures > 0)
            .then(|| self.last_failure.map(|last| last + policy.forget_after))
            .flatten();
        let pending = (self.pending > 0)
            .then(|| self.pending_since.map(|since| since + ATTEMPT_TIMEOUT))
            .flatten();
        self.locked_until.max(failures).max(pending)
    }

    /// The change that stores this entry as it now is.
    fn store(self, now: DateTime<Utc>, policy: &ThrottlePolicy) -> Change<Self> {
        match self.keep_until(policy) {
            Some(until) if until > now => Change::Put(self, until),
            _ => Change::Remove,
        }
    }

    fn settle_pending(&mut self, now: Option<DateTime<Utc>>) {
        let pending = match now {
            Some(now) => self.pending(now),
            None => self.pending,
        };
        self.pending = pending.saturating_sub(1);
        if self.pending == 0 {
            self.pending_since = None;
        }
    }

    /// Opens an attempt, unless the entry makes it wait.
    fn begin(current: Option<&Self>, now: DateTime<Utc>, policy: &ThrottlePolicy) -> (Change<Self>, Option<Duration>) {
        let mut entry = current.cloned().unwrap_or_default();
        if let Some(wait) = entry.wait(now, policy) {
            return (Change::Keep, Some(wait));
        }
        entry.pending = entry.pending(now).saturating_add(1);
        entry.pending_since = Some(now);
        (entry.store(now, policy), None)
    }

    /// Counts a failure; answers the lock it set, if any.
    fn fail(
        current: Option<&Self>,
        now: DateTime<Utc>,
        policy: &ThrottlePolicy,
    ) -> (Change<Self>, Option<(u32, Duration)>) {
        let mut entry = current.cloned().unwrap_or_default();
        entry.failures = entry.failures(now, policy).saturating_add(1);
        entry.last_failure = Some(now);
        entry.settle_pending(Some(now));
        let lock = policy.delay(entry.failures).map(|delay| {
            let until = now.checked_add_signed(delay).unwrap_or(DateTime::<Utc>::MAX_UTC);
            // Never shorten a lock, should outcomes arrive out of order.
            entry.locked_until = Some(entry.locked_until.map_or(until, |current| current.max(until)));
            (entry.failures, delay)
        });
        (entry.store(now, policy), lock)
    }

    /// Ends an open attempt without counting a failure.
    fn settle(current: Option<&Self>, now: DateTime<Utc>, policy: &ThrottlePolicy) -> (Change<Self>, ()) {
        let Some(mut entry) = current.cloned() else {
            return (Change::Keep, ());
        };
        entry.settle_pending(None);
        (entry.store(now, policy), ())
    }
}

impl cache::Entry for Entry {
    /// Unlocked entries go first, least recently active first; locked ones
    /// only when too few others are left, soonest to expire first.
    type Rank = (bool, DateTime<Utc>);

    const NAME: &'static str = "sign-in throttle";

    /// A lock dropped to make room is worth a warning: the table is full of
    /// locked keys (a flood of addresses or accounts).
    fn warn_if_evicted(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    fn rank(&self, now: DateTime<Utc>) -> Self::Rank {
        match self.locked_until.filter(|until| *until > now) {
            Some(until) => (true, until),
            None => {
                let active = self.last_failure.max(self.pending_since);
                (false, active.unwrap_or(DateTime::<Utc>::MIN_UTC))
            }
        }
    }
}

/// Login throttling per account and per client address, on the cache: in
/// process, or shared by every instance through Redis when it is
/// configured (each instance counting on its own while Redis is away).
/// Share it behind an `Arc`.
#[derive(Debug)]
pub struct LoginThrottle {
    /// Keys the account hash (derived from the server secret, so instances
    /// sharing counts agree on it; no email is ever stored).
    hasher: DerivedKey,
    account: ThrottlePolicy,
    address: ThrottlePolicy,
    accounts: Store<Entry>,
    addresses: Store<Entry>,
}

impl Default for LoginThrottle {
    /// In process, [`DEFAULT_CAPACITY`] keys per table, the default
    /// policies, a random hash key.
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LoginThrottle {
    /// In process, at most `capacity` (at least 1) keys per table, with
    /// [`ThrottlePolicy::account`] and [`ThrottlePolicy::address`].
    pub fn new(capacity: usize) -> Self {
        Self::with_policies(capacity, ThrottlePolicy::account(), ThrottlePolicy::address())
    }

    /// In process, at most `capacity` (at least 1) keys per table, with the
    /// given policies.
    pub fn with_policies(capacity: usize, account: ThrottlePolicy, address: ThrottlePolicy) -> Self {
        Self {
            hasher: DerivedKey::random(),
            account,
            address,
            accounts: Store::local(capacity),
            addresses: Store::local(capacity),
        }
    }

    /// With the default policies, account hashes keyed by `hasher`, and the
    /// counts shared through `redis` when given.
    pub fn on(hasher: DerivedKey, redis: Option<Arc<Shared>>) -> Self {
        let store = || match &redis {
            Some(redis) => Store::shared(redis.clone(), DEFAULT_CAPACITY),
            None => Store::local(DEFAULT_CAPACITY),
        };
        Self {
            hasher,
            account: ThrottlePolicy::account(),
            address: ThrottlePolicy::address(),
            accounts: store(),
            addresses: store(),
        }
    }

    fn account_key(&self, account: &str) -> Key {
        let digest = self.hasher.mac(&[account.trim().to_lowercase().as_bytes()]);
        Key::unowned(Unowned::AcrossTenants, Space::ThrottleAccount, Id::Digest(digest))
    }

    fn address_key(addr: IpAddr) -> Key {
        Key::unowned(
            Unowned::AcrossTenants,
            Space::ThrottleAddress,
            Id::Address(address_key(addr)),
        )
    }

    /// Whether a login attempt may go ahead; call it once per attempt, before
    /// verifying the password. A refusal carries the longer of the two waits
    /// and counts as nothing.
    ///
    /// A passed check holds a place until `record_failure` or `record_success`
    /// for the same account and address (or 30 s): while it is open, further
    /// attempts on the key pass only as long as all of them failing would stay
    /// within the free failures.
    pub async fn check(&self, account: &str, addr: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), RetryAfter> {
        let account = self.account_key(account);
        let addr = addr.map(Self::address_key);
        // Both waits first, writing nothing, so a refusal leaves no trace
        // and carries the longer wait.
        let (account_wait, address_wait) =
            tokio::join!(self.wait(&self.accounts, &account, &self.account, now), async {
                match &addr {
                    Some(addr) => self.wait(&self.addresses, addr, &self.address, now).await,
                    None => None,
                }
            });
        if let Some(wait) = account_wait.max(address_wait) {
            return Err(RetryAfter::rounded_up(wait));
        }
        // Then the places, each only if its entry still lets it (another
        // attempt may have come in between); one refused gives the other
        // back.
        if let Some(addr) = addr {
            let policy = self.address;
            if let Some(wait) = self
                .addresses
                .update(addr, now, |entry| Entry::begin(entry, now, &policy))
                .await
            {
                return Err(RetryAfter::rounded_up(wait));
            }
        }
        let policy = self.account;
        let Some(wait) = self
            .accounts
            .update(account, now, |entry| Entry::begin(entry, now, &policy))
            .await
        else {
            return Ok(());
        };
        if let Some(addr) = addr {
            let policy = self.address;
            self.addresses
                .update(addr, now, |entry| Entry::settle(entry, now, &policy))
                .await;
        }
        Err(RetryAfter::rounded_up(wait))
    }

    async fn wait(
        &self,
        store: &Store<Entry>,
        key: &Key,
        policy: &ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        store.get(key, now).await?.wait(now, policy)
    }

    /// Counts a failed login against the account and the address.
    pub async fn record_failure(&self, account: &str, addr: Option<IpAddr>, now: DateTime<Utc>) {
        let policy = self.account;
        let locked = self
            .accounts
            .update(self.account_key(account), now, |entry| Entry::fail(entry, now, &policy))
            .await;
        if let Some((failures, delay)) = locked {
            tracing::debug!(
                failures,
                delay_secs = delay.num_seconds(),
                "login throttle: account locked"
            );
        }
        if let Some(addr) = addr {
            let policy = self.address;
            let locked = self
                .addresses
                .update(Self::address_key(addr), now, |entry| Entry::fail(entry, now, &policy))
                .await;
            if let Some((failures, delay)) = locked {
                tracing::debug!(%addr, failures, delay_secs = delay.num_seconds(), "login throttle: address locked");
            }
        }
    }

    /// Clears the account after a successful login. The address keeps its
    /// failures: one right password must not unlock an address that is
    /// trying many accounts.
    pub async fn record_success(&self, account: &str, addr: Option<IpAddr>, now: DateTime<Utc>) {
        self.accounts
            .update(self.account_key(account), now, |_| (Change::Remove, ()))
            .await;
        if let Some(addr) = addr {
            let policy = self.address;
            self.addresses
                .update(Self::address_key(addr), now, |entry| Entry::settle(entry, now, &policy))
                .await;
        }
    }
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 included); IPv6 by /64 prefix,
/// the usual smallest allocation to one client.
/// An address as the limits count it: IPv4 as is, IPv6 by its /64 prefix.
pub(crate) fn address_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
    }

    fn secs(s: i64) -> Duration {
        Duration::seconds(s)
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(segments: [u16; 8]) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(segments))
    }

    /// One attempt that fails: check, then record.
    async fn fail(throttle: &LoginThrottle, account: &str, addr: Option<IpAddr>, now: DateTime<Utc>) {
        assert_eq!(throttle.check(account, addr, now).await, Ok(()));
        throttle.record_failure(account, addr, now).await;
    }

    async fn wait(
        throttle: &LoginThrottle,
        account: &str,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        throttle.check(account, addr, now).await.err().map(|RetryAfter(d)| d)
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LoginThrottle>();
    }

    #[tokio::test]
    async fn account_backoff_doubles_up_to_the_cap() {
        let throttle = LoginThrottle::default();
        let mut now = t0();
        for _ in 0..5 {
            fail(&throttle, "a@example.com", None, now).await;
        }
        let mut expected = Vec::new();
        for n in 0..14 {
            fail(&throttle, "a@example.com", None, now).await;
            let delay = secs(1 << n).min(Duration::minutes(15));
            expected.push(delay);
            assert_eq!(wait(&throttle, "a@example.com", None, now).await, Some(delay));
            assert_eq!(
                wait(
                    &throttle,
                    "a@example.com",
                    None,
                    now + delay - Duration::milliseconds(1)
                )
                .await,
                Some(secs(1))
            );
            now += delay;
        }
        assert_eq!(expected[..3], [secs(1), secs(2), secs(4)]);
        assert_eq!(expected[13], Duration::minutes(15));
        // Unlocked once the wait is over.
        assert_eq!(throttle.check("a@example.com", None, now).await, Ok(()));
    }

    #[tokio::test]
    async fn refused_checks_do_not_count() {
        let throttle = LoginThrottle::default();
        for _ in 0..6 {
            fail(&throttle, "a@example.com", None, t0()).await;
        }
        for ms in 0..100 {
            assert!(
                wait(&throttle, "a@example.com", None, t0() + Duration::milliseconds(ms * 5))
                    .await
                    .is_some()
            );
        }
        fail(&throttle, "a@example.com", None, t0() + secs(1)).await;
        assert_eq!(
            wait(&throttle, "a@example.com", None, t0() + secs(1)).await,
            Some(secs(2))
        );
    }

    #[tokio::test]
    async fn success_clears_the_account_but_not_the_address() {
        let throttle = LoginThrottle::default();
        let addr = Some(v4(192, 0, 2, 7));
        for i in 0..15 {
            fail(&throttle, &format!("other{i}@example.com"), addr, t0()).await;
        }
        for _ in 0..6 {
            fail(&throttle, "victim@example.com", addr, t0()).await;
        }
        assert!(wait(&throttle, "victim@example.com", None, t0()).await.is_some());
        assert!(wait(&throttle, "fresh@example.com", addr, t0()).await.is_some());
        throttle.record_success("victim@example.com", addr, t0()).await;
        assert_eq!(throttle.check("victim@example.com", None, t0()).await, Ok(()));
        assert!(wait(&throttle, "fresh@example.com", addr, t0()).await.is_some());
    }

    #[tokio::test]
    async fn address_locks_after_twenty_failures_across_accounts() {
        let throttle = LoginThrottle::default();
        let addr = Some(v4(198, 51, 100, 1));
        for i in 0..20 {
            fail(&throttle, &format!("user{i}@example.com"), addr, t0()).await;
        }
        assert_eq!(throttle.check("next@example.com", addr, t0()).await, Ok(()));
        throttle.record_failure("next@example.com", addr, t0()).await;
        assert_eq!(wait(&throttle, "another@example.com", addr, t0()).await, Some(secs(1)));
        assert_eq!(
            throttle
                .check("another@example.com", Some(v4(198, 51, 100, 2)), t0())
                .await,
            Ok(())
        );
        assert_eq!(
            throttle.check("another@example.com", addr, t0() + secs(1)).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn ipv6_shares_a_counter_per_64() {
        let throttle = LoginThrottle::default();
        for i in 0..21 {
            let addr = v6([0x2001, 0xdb8, 1, 2, i, 0, 0, i + 1]);
            fail(&throttle, &format!("user{i}@example.com"), Some(addr), t0()).await;
        }
        let same_64 = v6([0x2001, 0xdb8, 1, 2, 0xffff, 0xffff, 0xffff, 0xffff]);
        let other_64 = v6([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1]);
        assert!(wait(&throttle, "x@example.com", Some(same_64), t0()).await.is_some());
        assert_eq!(throttle.check("x@example.com", Some(other_64), t0()).await, Ok(()));
    }

    #[tokio::test]
    async fn ipv4_mapped_is_ipv4() {
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(address_key(mapped), v4(192, 0, 2, 1));
        let throttle = LoginThrottle::default();
        for i in 0..21 {
            fail(&throttle, &format!("user{i}@example.com"), Some(mapped), t0()).await;
        }
        assert!(
            wait(&throttle, "x@example.com", Some(v4(192, 0, 2, 1)), t0())
                .await
                .is_some()
        );
        assert_eq!(
            throttle.check("x@example.com", Some(v4(192, 0, 2, 2)), t0()).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn failures_are_forgotten_after_a_quiet_day() {
        let throttle = LoginThrottle::default();
        for _ in 0..5 {
            fail(&throttle, "a@example.com", None, t0()).await;
        }
        // Just short of a day: the sixth still locks.
        let almost = t0() + Duration::hours(24) - secs(1);
        fail(&throttle, "a@example.com", None, almost).await;
        assert!(wait(&throttle, "a@example.com", None, almost).await.is_some());

        let later = almost + Duration::hours(24);
        for _ in 0..5 {
            fail(&throttle, "a@example.com", None, later).await;
        }
        assert_eq!(throttle.check("a@example.com", None, later).await, Ok(()));
        throttle.record_failure("a@example.com", None, later).await;
        assert_eq!(wait(&throttle, "a@example.com", None, later).await, Some(secs(1)));
    }

    #[tokio::test]
    async fn tables_stay_within_capacity() {
        let throttle = LoginThrottle::new(50);
        let victim = Some(v4(203, 0, 113, 1));
        for i in 0..21 {
            fail(&throttle, &format!("v{i}@example.com"), victim, t0()).await;
        }
        for i in 0..1_000_u16 {
            let [hi, lo] = i.to_be_bytes();
            fail(
                &throttle,
                &format!("flood{i}@example.com"),
                Some(v4(10, 0, hi, lo)),
                t0(),
            )
            .await;
        }
        assert!(throttle.addresses.local_len() <= 50);
        assert!(throttle.accounts.local_len() <= 50);
        // Unlocked entries were dropped first, so the locked address survived.
        assert!(wait(&throttle, "x@example.com", victim, t0()).await.is_some());

        // Locked entries too, when they are all there is.
        let throttle = LoginThrottle::with_policies(
            10,
            ThrottlePolicy::account(),
            ThrottlePolicy {
                free_failures: 0,
                ..ThrottlePolicy::address()
            },
        );
        for i in 0..100 {
            fail(&throttle, "a@example.com", Some(v4(10, 1, 0, i)), t0()).await;
            throttle.record_success("a@example.com", None, t0()).await;
        }
        assert!(throttle.addresses.local_len() <= 10);
    }

    #[tokio::test]
    async fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter::rounded_up(Duration::milliseconds(1)), RetryAfter(secs(1)));
        assert_eq!(RetryAfter::rounded_up(Duration::zero()), RetryAfter(secs(1)));
        assert_eq!(
            RetryAfter::rounded_up(Duration::milliseconds(1_001)),
            RetryAfter(secs(2))
        );
        assert_eq!(RetryAfter::rounded_up(secs(3)), RetryAfter(secs(3)));
        assert_eq!(RetryAfter(secs(3)).seconds(), 3);

        let throttle = LoginThrottle::default();
        for _ in 0..6 {
            fail(&throttle, "a@example.com", None, t0()).await;
        }
        // The seventh failure locks for 2 s.
        let seventh = t0() + secs(1);
        fail(&throttle, "a@example.com", None, seventh).await;
        let later = seventh + Duration::microseconds(1);
        assert_eq!(
            throttle.check("a@example.com", None, later).await,
            Err(RetryAfter(secs(2)))
        );
        let last_moment = seventh + secs(2) - Duration::microseconds(1);
        assert_eq!(
            throttle.check("a@example.com", None, last_moment).await,
            Err(RetryAfter(secs(1)))
        );
    }

    #[tokio::test]
    async fn retry_after_is_the_longer_wait() {
        let throttle = LoginThrottle::default();
        let addr = Some(v4(192, 0, 2, 9));
        for i in 0..21 {
            fail(&throttle, &format!("user{i}@example.com"), addr, t0()).await;
        }
        let now = t0() + secs(1);
        fail(&throttle, "user21@example.com", addr, now).await;
        for _ in 0..6 {
            fail(&throttle, "a@example.com", None, now).await;
        }
        assert_eq!(wait(&throttle, "a@example.com", None, now).await, Some(secs(1)));
        assert_eq!(wait(&throttle, "b@example.com", addr, now).await, Some(secs(2)));
        assert_eq!(wait(&throttle, "a@example.com", addr, now).await, Some(secs(2)));
    }

    #[tokio::test]
    async fn email_case_and_whitespace_do_not_matter() {
        let throttle = LoginThrottle::default();
        for _ in 0..3 {
            fail(&throttle, "  Alice@Example.COM ", None, t0()).await;
        }
        for _ in 0..3 {
            fail(&throttle, "alice@example.com", None, t0()).await;
        }
        assert!(wait(&throttle, "ALICE@EXAMPLE.COM", None, t0()).await.is_some());
        throttle.record_success("\talice@example.com\n", None, t0()).await;
        assert_eq!(throttle.check("Alice@example.com", None, t0()).await, Ok(()));
    }

    #[tokio::test]
    async fn parallel_attempts_get_no_more_guesses_than_sequential_ones() {
        let throttle = LoginThrottle::default();
        // Six attempts in flight at once: the five free failures and one more.
        for _ in 0..6 {
            assert_eq!(throttle.check("a@example.com", None, t0()).await, Ok(()));
        }
        assert_eq!(wait(&throttle, "a@example.com", None, t0()).await, Some(secs(1)));
        for _ in 0..6 {
            throttle.record_failure("a@example.com", None, t0()).await;
        }
        // Past the free failures, one attempt at a time.
        let open = t0() + secs(1);
        assert_eq!(throttle.check("a@example.com", None, open).await, Ok(()));
        assert_eq!(wait(&throttle, "a@example.com", None, open).await, Some(secs(1)));
        // An attempt whose outcome never comes stops holding its place.
        assert_eq!(
            throttle.check("a@example.com", None, open + ATTEMPT_TIMEOUT).await,
            Ok(())
        );
        throttle
            .record_failure("a@example.com", None, open + ATTEMPT_TIMEOUT)
            .await;
        assert_eq!(
            wait(&throttle, "a@example.com", None, open + ATTEMPT_TIMEOUT).await,
            Some(secs(2))
        );
    }

    #[tokio::test]
    async fn a_success_ends_the_address_attempt_without_unlocking_it() {
        let throttle = LoginThrottle::default();
        let addr = Some(v4(192, 0, 2, 3));
        for i in 0..21 {
            fail(&throttle, &format!("user{i}@example.com"), addr, t0()).await;
        }
        let open = t0() + secs(1);
        assert_eq!(throttle.check("a@example.com", addr, open).await, Ok(()));
        throttle.record_success("a@example.com", addr, open).await;
        assert_eq!(throttle.check("b@example.com", addr, open).await, Ok(()));
        throttle.record_failure("b@example.com", addr, open).await;
        assert_eq!(wait(&throttle, "c@example.com", addr, open).await, Some(secs(2)));
        // Nothing is kept for an address with no failures.
        let before = throttle.addresses.local_len();
        assert_eq!(
            throttle.check("a@example.com", Some(v4(192, 0, 2, 4)), open).await,
            Ok(())
        );
        throttle
            .record_success("a@example.com", Some(v4(192, 0, 2, 4)), open)
            .await;
        assert_eq!(throttle.addresses.local_len(), before);
    }

    #[test]
    fn delay_never_overflows() {
        let policy = ThrottlePolicy::account();
        assert_eq!(policy.delay(5), None);
        assert_eq!(policy.delay(6), Some(secs(1)));
        assert_eq!(policy.delay(15), Some(secs(512)));
        assert_eq!(policy.delay(16), Some(Duration::minutes(15)));
        assert_eq!(policy.delay(40), Some(Duration::minutes(15)));
        assert_eq!(policy.delay(u32::MAX), Some(Duration::minutes(15)));
    }
}
