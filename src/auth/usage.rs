//! `last_used_at` for API keys without a write per request: uses are noted in
//! memory and written in one batch per flush (every 30 s, and at shutdown).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// The latest use of each key since the last flush.
#[derive(Debug, Default)]
pub struct KeyUsage(Mutex<HashMap<(Uuid, Uuid), DateTime<Utc>>>);

impl KeyUsage {
    pub fn record(&self, tenant_id: Uuid, key_id: Uuid, at: DateTime<Utc>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let slot = map.entry((tenant_id, key_id)).or_insert(at);
        if *slot < at {
            *slot = at;
        }
    }

    /// Takes every pending use, leaving the set empty.
    pub fn drain(&self) -> Vec<(Uuid, Uuid, DateTime<Utc>)> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.drain().map(|((tenant, key), at)| (tenant, key, at)).collect()
    }

    /// Puts back uses whose write failed, so the next flush retries them.
    pub fn restore(&self, uses: impl IntoIterator<Item = (Uuid, Uuid, DateTime<Utc>)>) {
        for (tenant, key, at) in uses {
            self.record(tenant, key, at);
        }
    }
}
