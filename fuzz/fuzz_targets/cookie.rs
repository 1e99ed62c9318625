//! Cookie headers: never a panic; a value found is the one sent, once.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header::COOKIE};
use latchkey::web::parsers::cookie;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append(COOKIE, v);
        }
    }
    for name in [
        "latchkey_session",
        "latchkey_anon",
        "__Host-latchkey_session",
        "",
    ] {
        if let Some(value) = cookie(&headers, name) {
            // The value is taken from one of the headers sent (names and values
            // are trimmed as RFC 6265 says, so `name =v` counts as `name=v`).
            let sent = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|h| h.to_str().ok())
                .any(|h| h.contains(name) && h.contains(value.as_str()));
            assert!(sent, "value not in any header");
        }
    }
});
