//! A bounded in-memory map shared by the caches, and the poison-tolerant
//! lock they and the guards use.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// Locks `m` even if a holder panicked: the maps behind these locks hold
/// plain copies and counters that a panic cannot leave half-changed.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// At most `capacity` entries; when full, an arbitrary entry makes room.
/// Meant for caches whose entries are all equally cheap to lose.
pub struct BoundedMap<K, V> {
    entries: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// A copy of the value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        lock(&self.entries).get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        self.update(key, |_| (value, ()));
    }

    /// Sets the value under `key` to `f` of the one there (if any), under
    /// one lock, and returns what `f` returned beside it.
    pub fn update<R>(&self, key: K, f: impl FnOnce(Option<&V>) -> (V, R)) -> R {
        let mut entries = lock(&self.entries);
        let (value, out) = f(entries.get(&key));
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let victim = entries.keys().next().cloned();
            if let Some(victim) = victim {
                entries.remove(&victim);
            }
        }
        if self.capacity > 0 {
            entries.insert(key, value);
        }
        out
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity() {
        let cache = BoundedMap::new(3);
        for i in 0..10 {
            cache.insert(format!("k{i}"), format!("page {i}"));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.get("k9").as_deref(), Some("page 9"));
        cache.insert("k9".to_owned(), "again".to_owned());
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("k9").as_deref(), Some("again"));
    }
}
