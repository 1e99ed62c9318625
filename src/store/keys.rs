//! The OpenID Connect signing keys: RSA 2048, generated at first use and
//! kept in the data directory (`oidc-keys.json`, 0600), never in the data
//! file or a backup (SECURITY O5).
//!
//! The `rsa` crate generates a key once (ring cannot); ring signs with it
//! (RSASSA-PKCS1-v1_5 with SHA-256, constant time) and checks signatures.
//! `oidc rotate-key` retires the active key: it stays in the JWKS until
//! every ID token it signed has expired, then it is dropped.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use ring::rsa::PublicKeyComponents;
use ring::signature::{self, RsaKeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name of the key set inside the data directory.
pub const KEY_FILE: &str = "oidc-keys.json";
const RSA_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing key file {path} is damaged: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("generating a signing key failed: {0}")]
    Generate(String),
    #[error("signing failed")]
    Sign,
}

/// One key as the file keeps it.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    created_at: Timestamp,
    /// When `oidc rotate-key` replaced it; `None` for the active key.
    #[serde(default)]
    retired_at: Option<Timestamp>,
    /// PKCS#8 DER, standard base64.
    pkcs8: String,
}

#[derive(Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

/// A public key: what the JWKS shows and `id_token_hint` is checked with.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: String,
    retired_at: Option<Timestamp>,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl PublicKey {
    /// The JWK (RFC 7517) of this key: public parts only.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Whether `signature` is this key's RS256 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let key = signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        };
        key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
            .is_ok()
    }
}

/// The keys in use, parsed.
struct Loaded {
    active_kid: String,
    active: RsaKeyPair,
    public: Vec<PublicKey>,
}

/// The key set of one data directory, loaded (or generated) at first use.
pub struct KeyRing {
    path: PathBuf,
    /// How long a retired key stays published: the life of an ID token.
    keep_retired: SignedDuration,
    loaded: Mutex<Option<Arc<Loaded>>>,
}

impl KeyRing {
    /// `keep_retired`: how long an ID token lives (`oidc.access_token_ttl`).
    pub fn new(data_dir: &Path, keep_retired: SignedDuration) -> Self {
        Self {
            path: data_dir.join(KEY_FILE),
            keep_retired,
            loaded: Mutex::new(None),
        }
    }

    /// Signs with the active key (RS256) the message `build` makes from
    /// that key's `kid`; the message and its signature. The first call may
    /// generate the key: run it on the blocking pool.
    pub fn sign(
        &self,
        now: Timestamp,
        build: impl FnOnce(&str) -> String,
    ) -> Result<(String, Vec<u8>), KeyError> {
        let loaded = self.load(now)?;
        let message = build(&loaded.active_kid);
        let mut sig = vec![0; loaded.active.public().modulus_len()];
        loaded
            .active
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message.as_bytes(),
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok((message, sig))
    }

    /// The public keys for the JWKS: the active one and those retired less
    /// than an ID token's life ago (their tokens may still be checked).
    pub fn public_keys(&self, now: Timestamp) -> Result<Vec<PublicKey>, KeyError> {
        let keep = self.keep_retired;
        Ok(self
            .load(now)?
            .public
            .iter()
            .filter(|k| k.retired_at.is_none_or(|at| now.duration_since(at) < keep))
            .cloned()
            .collect())
    }

    /// A new active key; the old one is kept as retired, and keys retired
    /// longer than an ID token lives are dropped. Returns the new `kid`.
    pub fn rotate(&self, now: Timestamp) -> Result<String, KeyError> {
        let keep_retired = self.keep_retired;
        let mut guard = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read_file()?;
        for key in &mut file.keys {
            key.retired_at.get_or_insert(now);
        }
        file.keys.retain(|k| {
            k.retired_at
                .is_none_or(|at| now.duration_since(at) < keep_retired)
        });
        let fresh = generate(now)?;
        let kid = fresh.kid.clone();
        file.keys.insert(0, fresh);
        self.write_file(&file)?;
        *guard = Some(Arc::new(parse(&self.path, &file)?));
        Ok(kid)
    }

    fn load(&self, now: Timestamp) -> Result<Arc<Loaded>, KeyError> {
        let mut guard = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = guard.as_ref() {
            return Ok(loaded.clone());
        }
        let mut file = self.read_file()?;
        if !file.keys.iter().any(|k| k.retired_at.is_none()) {
            file.keys.insert(0, generate(now)?);
            self.write_file(&file)?;
            tracing::info!(file = %self.path.display(), "OpenID Connect signing key generated");
        }
        let loaded = Arc::new(parse(&self.path, &file)?);
        *guard = Some(loaded.clone());
        Ok(loaded)
    }

    fn read_file(&self) -> Result<KeyFile, KeyError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| KeyError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile::default()),
            Err(source) => Err(KeyError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Writes the key set whole: a temporary file (0600) renamed over the old.
    fn write_file(&self, file: &KeyFile) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("json.tmp");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        out.write_all(&serde_json::to_vec_pretty(file).expect("keys serialise"))
            .map_err(io)?;
        out.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

fn generate(now: Timestamp) -> Result<StoredKey, KeyError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let pair =
        RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok(StoredKey {
        kid: thumbprint(&PublicKeyComponents::<Vec<u8>>::from(pair.public())),
        created_at: now,
        retired_at: None,
        pkcs8: STANDARD.encode(der.as_bytes()),
    })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url): a `kid` that names the key itself.
fn thumbprint(key: &PublicKeyComponents<Vec<u8>>) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(&key.e),
        URL_SAFE_NO_PAD.encode(&key.n)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn parse(path: &Path, file: &KeyFile) -> Result<Loaded, KeyError> {
    let corrupt = |detail: String| KeyError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let mut active = None;
    let mut public = Vec::new();
    for key in &file.keys {
        let der = STANDARD
            .decode(&key.pkcs8)
            .map_err(|e| corrupt(format!("key {}: {e}", key.kid)))?;
        let pair =
            RsaKeyPair::from_pkcs8(&der).map_err(|e| corrupt(format!("key {}: {e}", key.kid)))?;
        let parts = PublicKeyComponents::<Vec<u8>>::from(pair.public());
        public.push(PublicKey {
            kid: key.kid.clone(),
            retired_at: key.retired_at,
            n: parts.n,
            e: parts.e,
        });
        if key.retired_at.is_none() && active.is_none() {
            active = Some((key.kid.clone(), pair));
        }
    }
    let (active_kid, active) = active.ok_or_else(|| corrupt("no active key".into()))?;
    Ok(Loaded {
        active_kid,
        active,
        public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// O5: the key is made at first use, kept 0600, and the JWKS has public parts only.
    #[test]
    fn o5_the_key_is_made_once_kept_private_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let keep = SignedDuration::from_mins(10);
        let ring = KeyRing::new(dir.path(), keep);
        let mut kid = String::new();
        let (_, sig) = ring
            .sign(now, |k| {
                kid = k.to_owned();
                "hello".into()
            })
            .unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let keys = ring.public_keys(now).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].verifies(b"hello", &sig));
        assert!(!keys[0].verifies(b"hellO", &sig));
        let jwk = keys[0].jwk();
        assert_eq!(jwk["kid"], kid.as_str());
        assert!(jwk.get("d").is_none() && jwk.get("p").is_none());

        // A second ring on the same directory uses the same key.
        let again = KeyRing::new(dir.path(), keep);
        let kid_of = |r: &KeyRing| r.sign(now, |k| k.to_owned()).unwrap().0;
        assert_eq!(kid_of(&again), kid);

        // Rotation: the new key signs, the old one stays published for a while.
        let new_kid = again.rotate(now).unwrap();
        assert_ne!(new_kid, kid);
        assert_eq!(kid_of(&again), new_kid);
        let kids: Vec<String> = again
            .public_keys(now)
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(kids, [new_kid.clone(), kid.clone()]);
        // Once its tokens have expired it is no longer published, and the
        // next rotation drops it from the file.
        let later = now + SignedDuration::from_mins(11);
        assert_eq!(again.public_keys(later).unwrap().len(), 1);
        let third = again.rotate(later).unwrap();
        let kids: Vec<String> = again
            .public_keys(later)
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(kids, [third, new_kid]);
    }
}
