//! Small in-process caches for the per-request look-ups (API key → party, kid → key,
//! bond id → registry row), so that a request reaches the database only through the engine.
//!
//! Every entry expires after [`CACHE_TTL_MS`], and this process drops the affected entries at
//! once when it revokes an API key or rotates a party key. A revocation made by *another*
//! process (the admin CLI on the same database) takes effect here within the TTL.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached look-up is trusted.
pub const CACHE_TTL_MS: u64 = 5_000;
/// Entries per cache at most; a full cache is emptied (simple, and bounded).
pub const CACHE_ENTRIES_MAX: usize = 100_000;

pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            ttl: Duration::from_millis(CACHE_TTL_MS),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_clear_drops_them() {
        let cache: TtlCache<&str, u32> = TtlCache {
            entries: Mutex::new(HashMap::new()),
            ttl: Duration::from_millis(20),
        };
        cache.put("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(&"a"), None);
        cache.put("b", 2);
        cache.clear();
        assert_eq!(cache.get(&"b"), None);
    }
}
