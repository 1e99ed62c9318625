//! CSRF token comparison: never a panic, and garbage never matches an empty binding's token
//! unless it is that token.
#![no_main]

use latchkey::web::parsers::csrf_token_matches;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&data[..32]);
    let rest = String::from_utf8_lossy(&data[32..]);
    let (binding, submitted) = rest.split_once('\u{0}').unwrap_or((&rest, ""));
    let matched = csrf_token_matches(&key, binding, submitted);
    if matched {
        // A match is only possible for a 43-character base64url HMAC.
        assert_eq!(submitted.len(), 43);
        assert!(
            submitted
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    assert!(!csrf_token_matches(&key, binding, &format!("{submitted}x")) || !matched);
});
