//! Typed cache keys. Every entry names its owner (a tenant, or the reason it
//! has none), the space it lives in, and its id; nothing is keyed by a bare
//! string. A key is `Copy` and fixed in size, so looking one up costs no
//! allocation on the request path.
//!
//! In Redis a tenant's keys carry the hash tag `{t:<uuid>}`, so every key of
//! one tenant maps to one Cluster slot and multi-key operations on a tenant
//! stay possible once a cluster connection is configured.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::access::TenantId;

/// Whose entry this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Tenant(TenantId),
    /// No tenant, and why not.
    Unowned(Unowned),
}

/// Why an entry belongs to no tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unowned {
    /// It is what finds the tenant (an API key, looked up by its hash before
    /// any tenant is known).
    FindsTheTenant,
    /// It is about a person or a client address across every tenant (the
    /// sign-in throttle's counts: a person signs in before choosing one).
    AcrossTenants,
}

/// What the entries of one kind are; each space has one value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// An API key's record, by the key's hash (`cache::keys`).
    ApiKey,
    /// Sign-in failures of one account, by a keyed hash of its email.
    ThrottleAccount,
    /// Sign-in failures from one client address (IPv4, or IPv6 /64).
    ThrottleAddress,
    /// A tenant's request budget: when it is next full (`cache::limiter`).
    RateTenant,
    /// One client address's budget for the operations no credential opens.
    RateAddress,
    /// One credential's budget within its tenant's (an API key's, or a
    /// person's), where the tenant's plan gives one.
    RateCredential,
}

impl Space {
    pub fn as_str(self) -> &'static str {
        match self {
            Space::ApiKey => "api_key",
            Space::ThrottleAccount => "throttle:account",
            Space::ThrottleAddress => "throttle:address",
            Space::RateTenant => "rate:tenant",
            Space::RateAddress => "rate:address",
            Space::RateCredential => "rate:credential",
        }
    }
}

/// An entry's own id within its space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Id {
    /// A 32-byte keyed hash (never the secret or address it was made from).
    Digest([u8; 32]),
    Address(IpAddr),
    Uuid(uuid::Uuid),
}

/// One cache entry's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub owner: Owner,
    pub space: Space,
    pub id: Id,
}

impl Key {
    pub fn tenant(tenant: TenantId, space: Space, id: Id) -> Self {
        Self {
            owner: Owner::Tenant(tenant),
            space,
            id,
        }
    }

    pub fn unowned(why: Unowned, space: Space, id: Id) -> Self {
        Self {
            owner: Owner::Unowned(why),
            space,
            id,
        }
    }

    /// The key's Redis name under `prefix`: `<prefix>{t:<tenant>}:<space>:<id>`
    /// for a tenant's entry, `<prefix><space>:<id>` otherwise.
    pub fn redis(&self, prefix: &str) -> String {
        let mut out = String::with_capacity(prefix.len() + 120);
        out.push_str(prefix);
        if let Owner::Tenant(tenant) = self.owner {
            let _ = write!(out, "{{t:{}}}:", tenant);
        }
        out.push_str(self.space.as_str());
        out.push(':');
        match self.id {
            Id::Digest(bytes) => {
                for b in bytes {
                    let _ = write!(out, "{b:02x}");
                }
            }
            Id::Address(addr) => {
                let _ = write!(out, "{addr}");
            }
            Id::Uuid(id) => {
                let _ = write!(out, "{id}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash tag Redis Cluster uses: the text between the first `{` and
    /// the next `}`, when not empty.
    fn hash_tag(key: &str) -> Option<&str> {
        let open = key.find('{')?;
        let close = key[open + 1..].find('}')? + open + 1;
        (close > open + 1).then(|| &key[open + 1..close])
    }

    #[test]
    fn a_tenants_keys_share_one_hash_tag_and_others_have_none() {
        let tenant = TenantId::from(uuid::Uuid::new_v4());
        let tag = format!("t:{}", tenant);
        let a = Key::tenant(tenant, Space::ApiKey, Id::Digest([0xab; 32])).redis("p:");
        let b = Key::tenant(tenant, Space::ThrottleAccount, Id::Uuid(uuid::Uuid::nil())).redis("p:");
        assert_eq!(hash_tag(&a), Some(tag.as_str()));
        assert_eq!(hash_tag(&b), Some(tag.as_str()));
        assert!(a.starts_with("p:{t:") && a.ends_with(&"ab".repeat(32)), "{a}");
        let address = Key::unowned(
            Unowned::AcrossTenants,
            Space::ThrottleAddress,
            Id::Address("192.0.2.1".parse().expect("an address")),
        );
        assert_eq!(address.redis("p:"), "p:throttle:address:192.0.2.1");
        assert_eq!(hash_tag(&address.redis("p:")), None);
    }
}
