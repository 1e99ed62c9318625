//! Queued messages carry live links, and tokens must never sit in the data file
//! in clear (SECURITY R2): the outbox stores each message sealed with
//! ChaCha20-Poly1305 under a key kept beside the database, not in it. A backup
//! of the database alone therefore holds no usable link.

use std::fs::{OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// File name of the outbox key inside the data directory.
pub const KEY_FILE: &str = "outbox.key";

pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// Loads `<dir>/outbox.key`, creating it (mode 0600) on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(KEY_FILE);
        let bytes = match OpenOptions::new().read(true).open(&path) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                buf
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = crate::domain::token::random_bytes();
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                f.write_all(&key)?;
                f.sync_all()?;
                key.to_vec()
            }
            Err(e) => return Err(e),
        };
        std::fs::set_permissions(&path, Permissions::from_mode(0o600))?;
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is damaged (it must hold 32 bytes)", path.display()),
            )
        })?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Random nonce followed by the ciphertext and tag.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = crate::domain::token::random_bytes();
        let mut out = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut out,
            )
            .expect("sealing a message that fits in memory does not fail");
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// The plain message, or `None` when it was sealed under another key or altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = body.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = sealer.seal(b"https://x/reset/secret-token");
        assert!(!sealed.windows(12).any(|w| w == b"secret-token"));
        assert_eq!(
            sealer.open(&sealed).unwrap(),
            b"https://x/reset/secret-token"
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&bad).is_none());
        // The same key is loaded again from the file.
        let again = Sealer::load_or_create(dir.path()).unwrap();
        assert!(again.open(&sealed).is_some());
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
