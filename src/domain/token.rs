//! Opaque random identifiers: session ids and one-time tokens (SECURITY R1, R2, S2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::secret::Secret;

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing means the machine cannot do cryptography at all.
    getrandom::fill(&mut buf).expect("the operating system's random generator failed");
    buf
}

/// A fresh 256-bit token, URL-safe base64 (43 characters).
pub fn new_token() -> Secret {
    Secret::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// What the store keeps instead of a token or session id.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `text` has the shape of a token this module issues (cheap pre-check).
pub fn looks_valid(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(looks_valid(a.expose()));
        assert!(!looks_valid("short"));
        assert_ne!(hash(a.expose()), hash(b.expose()));
    }
}
