//! Rendered signed-in pages, kept by their complete input.
//!
//! A page is a pure function of its template, the site-wide context (fixed
//! for the life of the process) and the request's own values: the user as
//! templates see them, the CSRF token and the page's values. A signed-in page
//! is kept under the JSON of exactly those request values, so a hit returns
//! the bytes a render would produce, and any change (a new phone number, a
//! new session and so its CSRF token, one day less until the password
//! expires) is a different key. Nothing needs invalidating; the map is only
//! bounded. The token in every key ties an entry to one session.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

/// A bounded map from a page's inputs to its rendered bytes.
pub struct PageCache {
    entries: Mutex<HashMap<String, Bytes>>,
    capacity: usize,
}

impl PageCache {
    /// Keeps at most `capacity` pages (each a few KiB).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::with_capacity(capacity)),
            capacity,
        }
    }

    /// The key of `template` rendered with `parts`, the request's values
    /// (each serialized as JSON, so no two different inputs share a key).
    pub fn key(template: &str, parts: &[&minijinja::Value]) -> Option<String> {
        let mut key = String::with_capacity(256);
        key.push_str(template);
        for part in parts {
            key.push('\n');
            key.push_str(&serde_json::to_string(part).ok()?);
        }
        Some(key)
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.lock().get(key).cloned()
    }

    /// Stores a page; when full, an arbitrary older page makes room.
    pub fn insert(&self, key: String, page: Bytes) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let victim = entries.keys().next().cloned();
            if let Some(victim) = victim {
                entries.remove(&victim);
            }
        }
        entries.insert(key, page);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn keys_differ_with_any_input() {
        let key = |template, token: &str, phone: &str, days: Option<i64>| {
            let user = context! { csrf_token => token, phone => phone };
            PageCache::key(template, &[&user, &context! { days }])
        };
        let a = key("home.html", "t1", "1", None);
        let b = key("home.html", "t1", "2", None);
        let c = key("home.html", "t2", "1", None);
        let d = key("help.html", "t1", "1", None);
        let e = key("home.html", "t1", "1", Some(3));
        // A value cannot pass for a separator: the parts are JSON.
        let f = key("home.html", "t1\n{}", "1", None);
        assert_eq!(a, key("home.html", "t1", "1", None));
        for other in [b, c, d, e, f] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn holds_at_most_its_capacity() {
        let cache = PageCache::new(3);
        for i in 0..10 {
            cache.insert(format!("k{i}"), Bytes::from(format!("page {i}")));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.get("k9").as_deref(), Some(&b"page 9"[..]));
        cache.insert("k9".into(), Bytes::from_static(b"again"));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("k9").as_deref(), Some(&b"again"[..]));
    }
}
