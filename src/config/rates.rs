//! Request rates (`limits.rate`, `limits.rate_anonymous`) and the proxies
//! whose `X-Forwarded-For` is believed (`server.trusted_proxies`).

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

/// `limit` requests per `period`, in bursts of up to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub period: Duration,
}

impl Rate {
    /// A tenant's budget unless configured: 6,000 requests a minute (100 a
    /// second sustained, bursts of 6,000).
    pub const TENANT: Rate = Rate {
        limit: 6000,
        period: Duration::from_secs(60),
    };
    /// The budget of one client address for the operations no credential
    /// opens (signup, login, refresh): 60 a minute.
    pub const ANONYMOUS: Rate = Rate {
        limit: 60,
        period: Duration::from_secs(60),
    };
    /// The most requests a rate may allow per period.
    pub const MAX_LIMIT: u32 = 100_000_000;

    /// Reads `N/s`, `N/min` or `N/h` (`N` from 1), or `off` (no limit).
    pub fn parse(value: &str) -> Result<Option<Rate>, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let expected = || format!("expected `N/s`, `N/min`, `N/h` or `off`, got `{value}`");
        let (n, unit) = value.split_once('/').ok_or_else(expected)?;
        let limit: u32 = n.trim().parse().map_err(|_| expected())?;
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(format!(
                "expected between 1 and {} requests per period, got {limit}",
                Self::MAX_LIMIT
            ));
        }
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(expected()),
        };
        Ok(Some(Rate { limit, period }))
    }

    /// The period in whole seconds (the `w` of `RateLimit-Policy`).
    pub fn window_secs(&self) -> u64 {
        self.period.as_secs()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.limit)
    }
}

/// `off` or the rate, as the configuration writes it.
pub fn show(rate: Option<Rate>) -> String {
    rate.map_or_else(|| "off".to_owned(), |r| r.to_string())
}

/// Reads a comma-separated list of CIDRs (`10.0.0.0/8, ::1/128`); a bare
/// address stands for itself alone.
pub fn parse_proxies(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| format!("expected a CIDR such as 10.0.0.0/8 or an address, got `{part}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_and_print_alike() {
        for text in ["1/s", "60/min", "5000/h"] {
            let rate = Rate::parse(text).expect("valid").expect("a rate");
            assert_eq!(rate.to_string(), text);
        }
        assert_eq!(Rate::parse(" OFF ").expect("valid"), None);
        assert_eq!(Rate::parse("6000/min").expect("valid"), Some(Rate::TENANT));
        for bad in ["", "60", "0/s", "-1/s", "60/day", "x/min", "60/ min/"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxies_are_networks_or_single_addresses() {
        let nets = parse_proxies("10.1.2.3/8, 192.0.2.7,::1").expect("valid");
        assert_eq!(
            nets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]
        );
        assert!(parse_proxies("").expect("valid").is_empty());
        assert!(parse_proxies("10.0.0.0/33").is_err());
        assert!(parse_proxies("proxy.local").is_err());
    }
}
