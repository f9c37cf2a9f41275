//! Signup limits: how many signups one client address and one email may
//! start per hour, held in process.
//!
//! Each attempt that passed validation counts (a taken email too, so the
//! limit also bounds probing for accounts). A refused attempt counts as
//! nothing and says when the oldest counted one leaves the window. Emails
//! are tracked by a keyed hash, addresses by IPv4 address or IPv6 /64
//! prefix; each table holds at most `capacity` keys.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

use super::throttle::{RetryAfter, address_key};
pub use crate::config::SignupLimits;

/// The window every limit counts over.
pub const WINDOW: Duration = Duration::hours(1);

/// Keys tracked per table.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The times of the counted attempts of one key, oldest first, at most the limit.
#[derive(Debug)]
struct Table<K> {
    limit: Option<u32>,
    capacity: usize,
    entries: HashMap<K, VecDeque<DateTime<Utc>>>,
}

impl<K: Copy + Eq + Hash> Table<K> {
    fn new(limit: Option<u32>, capacity: usize) -> Self {
        Self {
            limit,
            capacity,
            entries: HashMap::new(),
        }
    }

    /// When the key may try again, if it must wait.
    fn wait(&mut self, key: &K, now: DateTime<Utc>) -> Option<Duration> {
        let limit = self.limit? as usize;
        let times = self.entries.get_mut(key)?;
        while times.front().is_some_and(|t| now - *t >= WINDOW) {
            times.pop_front();
        }
        if times.len() < limit {
            return None;
        }
        times.front().map(|oldest| *oldest + WINDOW - now)
    }

    fn count(&mut self, key: K, now: DateTime<Utc>) {
        let Some(limit) = self.limit else { return };
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let times = self.entries.entry(key).or_default();
        times.push_back(now);
        while times.len() > limit as usize {
            times.pop_front();
        }
    }

    /// Drops keys with nothing in the window, then the least recently used
    /// tenth, so a flood of new keys costs one sweep per many inserts.
    fn make_room(&mut self, now: DateTime<Utc>) {
        self.entries
            .retain(|_, times| times.back().is_some_and(|t| now - *t < WINDOW));
        let target = self.capacity.saturating_sub((self.capacity / 10).max(1));
        let excess = self.entries.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut ranked: Vec<(DateTime<Utc>, K)> = self
            .entries
            .iter()
            .map(|(key, times)| (times.back().copied().unwrap_or(DateTime::<Utc>::MIN_UTC), *key))
            .collect();
        ranked.select_nth_unstable_by_key(excess - 1, |(last, _)| *last);
        for (_, key) in &ranked[..excess] {
            self.entries.remove(key);
        }
    }
}

#[derive(Debug)]
struct Tables {
    addresses: Table<IpAddr>,
    emails: Table<u64>,
}

/// Signup limits per client address and per email. Share it behind an
/// `Arc`; every call takes the lock briefly.
#[derive(Debug)]
pub struct SignupLimiter {
    hasher: RandomState,
    tables: Mutex<Tables>,
}

impl SignupLimiter {
    pub fn new(limits: SignupLimits) -> Self {
        Self::with_capacity(limits, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(limits: SignupLimits, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            hasher: RandomState::new(),
            tables: Mutex::new(Tables {
                addresses: Table::new(limits.per_address, capacity),
                emails: Table::new(limits.per_email, capacity),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a signup attempt for `email` (normalized) from `addr`, or
    /// refuses it with the longer of the two waits, counting nothing.
    pub fn attempt(&self, email: &str, addr: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), RetryAfter> {
        let email = self.hasher.hash_one(email);
        let addr = addr.map(address_key);
        let mut tables = self.lock();
        let address_wait = addr.and_then(|addr| tables.addresses.wait(&addr, now));
        let email_wait = tables.emails.wait(&email, now);
        if let Some(wait) = address_wait.max(email_wait) {
            return Err(RetryAfter::rounded_up(wait));
        }
        if let Some(addr) = addr {
            tables.addresses.count(addr, now);
        }
        tables.emails.count(email, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)))
    }

    #[test]
    fn an_address_gets_its_limit_per_hour_then_waits_for_the_oldest_to_leave() {
        let limiter = SignupLimiter::new(SignupLimits::DEFAULT);
        for i in 0..10 {
            let at = t0() + Duration::minutes(i);
            assert!(limiter.attempt(&format!("p{i}@example.com"), ip(1), at).is_ok(), "{i}");
        }
        let refused = limiter.attempt("p10@example.com", ip(1), t0() + Duration::minutes(30));
        assert_eq!(refused, Err(RetryAfter(Duration::minutes(30))));
        // Another address is not affected; the first one's oldest attempt
        // leaves the window an hour after it was made.
        assert!(
            limiter
                .attempt("q@example.com", ip(2), t0() + Duration::minutes(30))
                .is_ok()
        );
        assert!(
            limiter
                .attempt("p10@example.com", ip(1), t0() + Duration::minutes(60))
                .is_ok()
        );
        assert!(
            limiter
                .attempt("p11@example.com", ip(1), t0() + Duration::minutes(60))
                .is_err()
        );
    }

    #[test]
    fn an_email_gets_three_per_hour_from_any_address() {
        let limiter = SignupLimiter::new(SignupLimits::DEFAULT);
        for i in 0..3 {
            assert!(limiter.attempt("ada@example.com", ip(i), t0()).is_ok());
        }
        assert_eq!(
            limiter.attempt("ada@example.com", ip(9), t0() + Duration::seconds(1)),
            Err(RetryAfter(Duration::seconds(3599)))
        );
        assert!(limiter.attempt("bob@example.com", ip(9), t0()).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        let limits = SignupLimits {
            per_address: Some(1),
            per_email: None,
        };
        let limiter = SignupLimiter::new(limits);
        let a = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 1);
        let b = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9);
        assert!(limiter.attempt("a@example.com", Some(IpAddr::V6(a)), t0()).is_ok());
        assert!(limiter.attempt("b@example.com", Some(IpAddr::V6(b)), t0()).is_err());
    }

    #[test]
    fn off_and_partial_settings_parse() {
        assert_eq!(SignupLimits::parse("off"), Ok(SignupLimits::OFF));
        assert_eq!(
            SignupLimits::parse("address=50"),
            Ok(SignupLimits {
                per_address: Some(50),
                per_email: Some(3)
            })
        );
        assert_eq!(
            SignupLimits::parse(" email = 0 , address=2"),
            Ok(SignupLimits {
                per_address: Some(2),
                per_email: None
            })
        );
        assert!(SignupLimits::parse("10").is_err());
        assert!(SignupLimits::parse("ip=3").is_err());
        assert!(SignupLimits::parse("email=-1").is_err());
        let off = SignupLimiter::new(SignupLimits::OFF);
        for _ in 0..100 {
            assert!(off.attempt("a@example.com", ip(1), t0()).is_ok());
        }
    }

    #[test]
    fn the_tables_stay_within_their_capacity() {
        let limiter = SignupLimiter::with_capacity(SignupLimits::DEFAULT, 100);
        for i in 0..1000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(i));
            assert!(limiter.attempt(&format!("{i}@example.com"), Some(addr), t0()).is_ok());
        }
        let tables = limiter.lock();
        assert!(tables.addresses.entries.len() <= 100);
        assert!(tables.emails.entries.len() <= 100);
    }
}
