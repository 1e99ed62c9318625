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

use axum::body::Bytes;

use crate::bounded::BoundedMap;

/// A bounded map from a page's inputs to its rendered bytes.
pub struct PageCache {
    pages: BoundedMap<String, Bytes>,
}

impl PageCache {
    /// Keeps at most `capacity` pages (each a few KiB).
    pub fn new(capacity: usize) -> Self {
        Self {
            pages: BoundedMap::new(capacity),
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
        self.pages.get(key)
    }

    /// Stores a page; when full, an arbitrary older page makes room.
    pub fn insert(&self, key: String, page: Bytes) {
        self.pages.insert(key, page);
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
}
