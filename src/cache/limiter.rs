//! Request budgets by the generic cell rate algorithm (GCRA): each budget
//! keeps one number, the time at which it is next full again (its
//! "theoretical arrival time"). A rate of `limit` per `period` spaces
//! requests `period / limit` apart and lets up to `limit` of them come at
//! once; a request is let through when, counting it, the budget would be
//! full again within one period.
//!
//! With Redis every instance draws on the same budgets: one Lua script
//! reads the server's clock, checks every budget of the request and
//! spends them only if all allow it, in one round trip (a request's budgets
//! are one tenant's keys, so they share a Cluster slot). Without Redis, or
//! while it cannot answer, each instance counts in process, so a tenant
//! gets at most its budget per instance until Redis is back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::key::Key;
use super::shared::Shared;
use crate::config::Rate;

/// Budgets kept in process before the full ones are forgotten.
pub const CAPACITY: usize = 100_000;

/// How often a limiter that cannot reach Redis says so in the log.
const WARN_EVERY_SECS: i64 = 10;

/// Checks and spends every budget `KEYS` names: `ARGV` holds each one's
/// spacing and period in microseconds. Answers `{allowed, d1, d2, …}`, each
/// `d` how long after now that budget is full again (spent, if allowed). A
/// budget full again more than a period ahead can only come of a clock set
/// back: it counts as full.
const GCRA: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tats = {}
local allowed = 1
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now or tat - now > tonumber(ARGV[2 * i]) then tat = now end
  tats[i] = tat
  if tat + tonumber(ARGV[2 * i - 1]) - now > tonumber(ARGV[2 * i]) then allowed = 0 end
end
local out = {allowed}
for i = 1, #KEYS do
  local tat = tats[i]
  if allowed == 1 then
    tat = tat + tonumber(ARGV[2 * i - 1])
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  end
  out[i + 1] = tat - now
end
return out
";

/// One budget a request draws on.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Its name in the `RateLimit` headers.
    pub name: &'static str,
    pub key: Key,
    pub rate: Rate,
}

impl Budget {
    /// The spacing of requests, in microseconds (at least one).
    fn spacing(&self) -> i64 {
        (self.period() / i64::from(self.rate.limit.max(1))).max(1)
    }

    fn period(&self) -> i64 {
        i64::try_from(self.rate.period.as_micros()).unwrap_or(i64::MAX)
    }
}

/// What a budget looks like after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub name: &'static str,
    pub rate: Rate,
    /// Requests it would still let through now.
    pub remaining: u64,
    /// Seconds until it is full again.
    pub reset_secs: u64,
}

/// The limiter's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub standings: Vec<Standing>,
    /// When refused: seconds until every budget lets one request through.
    pub retry_after_secs: u64,
}

impl Verdict {
    /// From each budget's distance to full (microseconds after now).
    fn from_debts(allowed: bool, budgets: &[Budget], debts: &[i64]) -> Self {
        let mut retry_after: i64 = 0;
        let standings = budgets
            .iter()
            .zip(debts)
            .map(|(budget, &debt)| {
                let debt = debt.max(0);
                let (spacing, period) = (budget.spacing(), budget.period());
                let over = debt + spacing - period;
                if !allowed && over > 0 {
                    retry_after = retry_after.max(over);
                }
                Standing {
                    name: budget.name,
                    rate: budget.rate,
                    remaining: if allowed {
                        u64::try_from((period - debt) / spacing).unwrap_or(0)
                    } else {
                        0
                    },
                    reset_secs: ceil_secs(debt),
                }
            })
            .collect();
        Self {
            allowed,
            standings,
            retry_after_secs: if allowed { 0 } else { ceil_secs(retry_after).max(1) },
        }
    }
}

fn ceil_secs(micros: i64) -> u64 {
    u64::try_from(micros.max(0)).unwrap_or(0).div_ceil(1_000_000)
}

/// Budgets in process.
#[derive(Debug, Default)]
pub struct Local {
    /// Each budget's full-again time (microseconds since the epoch).
    tats: Mutex<HashMap<Key, i64>>,
}

impl Local {
    fn check(&self, budgets: &[Budget], now: DateTime<Utc>) -> Verdict {
        let now = now.timestamp_micros();
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        if tats.len() >= CAPACITY {
            // The full ones hold nothing worth keeping.
            tats.retain(|_, tat| *tat > now);
            if tats.len() >= CAPACITY {
                tats.clear();
            }
        }
        // A budget full again more than a period ahead can only come of a
        // clock set back: it counts as full.
        let current: Vec<i64> = budgets
            .iter()
            .map(|b| match tats.get(&b.key) {
                Some(&tat) if tat > now && tat - now <= b.period() => tat,
                _ => now,
            })
            .collect();
        let allowed = budgets
            .iter()
            .zip(&current)
            .all(|(b, &tat)| tat + b.spacing() - now <= b.period());
        let debts: Vec<i64> = budgets
            .iter()
            .zip(current)
            .map(|(b, tat)| {
                if allowed {
                    let tat = tat + b.spacing();
                    tats.insert(b.key, tat);
                    tat - now
                } else {
                    tat - now
                }
            })
            .collect();
        Verdict::from_debts(allowed, budgets, &debts)
    }
}

/// Every budget of the server.
pub enum Limiter {
    Local(Local),
    /// In Redis; in process while Redis cannot answer.
    Shared {
        redis: Arc<Shared>,
        script: redis::Script,
        fallback: Local,
        warned_at: AtomicI64,
    },
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limiter::Local(_) => f.write_str("Limiter::Local"),
            Limiter::Shared { redis, .. } => f.debug_tuple("Limiter::Shared").field(redis).finish(),
        }
    }
}

impl Limiter {
    pub fn local() -> Self {
        Limiter::Local(Local::default())
    }

    pub fn shared(redis: Arc<Shared>) -> Self {
        Limiter::Shared {
            redis,
            script: redis::Script::new(GCRA),
            fallback: Local::default(),
            warned_at: AtomicI64::new(i64::MIN),
        }
    }

    /// Lets a request through if every one of `budgets` allows it, and then
    /// spends one request of each; refused, it spends nothing.
    pub async fn check(&self, budgets: &[Budget], now: DateTime<Utc>) -> Verdict {
        match self {
            Limiter::Local(local) => local.check(budgets, now),
            Limiter::Shared { redis, fallback, .. } if !redis.is_up() => fallback.check(budgets, now),
            Limiter::Shared {
                redis,
                script,
                fallback,
                warned_at,
            } => {
                let keys: Vec<Key> = budgets.iter().map(|b| b.key).collect();
                let args: Vec<i64> = budgets.iter().flat_map(|b| [b.spacing(), b.period()]).collect();
                match redis.eval(script, &keys, &args).await {
                    Ok(answer) if answer.len() == budgets.len() + 1 => {
                        Verdict::from_debts(answer[0] == 1, budgets, &answer[1..])
                    }
                    Ok(answer) => {
                        tracing::error!(?answer, "the rate-limit script answered unexpectedly");
                        fallback.check(budgets, now)
                    }
                    Err(error) => {
                        let at = now.timestamp();
                        let last = warned_at.load(Ordering::Relaxed);
                        if at.saturating_sub(last) >= WARN_EVERY_SECS
                            && warned_at
                                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                                .is_ok()
                        {
                            tracing::warn!(%error, "the rate limiter cannot reach Redis; counting in process meanwhile");
                        }
                        fallback.check(budgets, now)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::access::TenantId;
    use crate::cache::{Id, Space};

    fn budget(tenant: uuid::Uuid, limit: u32, secs: u64) -> Budget {
        Budget {
            name: "tenant",
            key: Key::tenant(TenantId::from(tenant), Space::RateTenant, Id::Uuid(tenant)),
            rate: Rate {
                limit,
                period: Duration::from_secs(secs),
            },
        }
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).expect("a time")
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_one_request_per_spacing() {
        let local = Local::default();
        let b = [budget(uuid::Uuid::new_v4(), 5, 10)];
        for n in 0..5 {
            let v = local.check(&b, at(0));
            assert!(v.allowed, "request {n}");
            assert_eq!(v.standings[0].remaining, 4 - n);
        }
        let refused = local.check(&b, at(0));
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 2, "one request frees every 2 s");
        assert_eq!(refused.standings[0].reset_secs, 10);
        assert!(!local.check(&b, at(1_999)).allowed, "not yet");
        assert!(local.check(&b, at(2_000)).allowed, "one has come back");
        assert!(!local.check(&b, at(2_000)).allowed, "and only one");
        let full = local.check(&b, at(60_000));
        assert!(full.allowed);
        assert_eq!(full.standings[0].remaining, 4, "full again, less this one");
    }

    #[test]
    fn a_clock_set_back_never_locks_a_budget_out() {
        let local = Local::default();
        let b = [budget(uuid::Uuid::new_v4(), 2, 60)];
        assert!(local.check(&b, at(600_000)).allowed);
        assert!(local.check(&b, at(600_000)).allowed);
        assert!(!local.check(&b, at(600_000)).allowed);
        // Ten minutes back: the budget's deadline is beyond any period.
        assert!(local.check(&b, at(0)).allowed);
    }

    #[test]
    fn a_request_passes_only_if_every_budget_allows_it_and_a_refusal_spends_none() {
        let local = Local::default();
        let tenant = uuid::Uuid::new_v4();
        let wide = budget(tenant, 100, 60);
        let narrow = Budget {
            key: Key::tenant(
                TenantId::from(tenant),
                Space::RateTenant,
                Id::Uuid(uuid::Uuid::new_v4()),
            ),
            ..budget(tenant, 2, 60)
        };
        assert!(local.check(&[wide, narrow], at(0)).allowed);
        assert!(local.check(&[wide, narrow], at(0)).allowed);
        let refused = local.check(&[wide, narrow], at(0));
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 30);
        let alone = local.check(&[wide], at(0));
        assert!(alone.allowed);
        assert_eq!(
            alone.standings[0].remaining, 97,
            "the refusal spent nothing of the wide budget"
        );
    }
}
