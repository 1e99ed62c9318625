//! Signed JWTs (RFC 7515 compact form, RFC 7519): the ID tokens latchkey
//! issues, and the one kind it reads back, `id_token_hint` at logout.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::Value;

use crate::store::keys::{KeyError, KeyRing};

/// Signs `claims` with the active key: `header.payload.signature`.
pub fn sign(keys: &KeyRing, claims: &Value, now: Timestamp) -> Result<String, KeyError> {
    let (signing_input, signature) = keys.sign(now, |kid| {
        let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    })?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The claims of a token this provider signed, whatever its `exp` (an
/// `id_token_hint` may have expired, OIDC RP-Initiated Logout 1.0 section 2).
/// `None` unless the header says RS256 with a `kid` of ours and the
/// signature checks: `alg: none`, HMAC and unknown keys are refused (O5).
pub fn verify_ours(keys: &KeyRing, token: &str, now: Timestamp) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "RS256" || header.get("crit").is_some() {
        return None;
    }
    let kid = header.get("kid")?.as_str()?;
    let key = keys
        .public_keys(now)
        .ok()?
        .into_iter()
        .find(|k| k.kid == kid)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let signed = &token[..header_and_payload_len(token)?];
    if !key.verifies(signed.as_bytes(), &signature) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn header_and_payload_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> (tempfile::TempDir, KeyRing, Timestamp) {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::new(dir.path(), jiff::SignedDuration::from_mins(10));
        (dir, ring, Timestamp::from_second(1_800_000_000).unwrap())
    }

    #[test]
    fn a_signed_token_reads_back() {
        let (_dir, keys, now) = ring();
        let claims = serde_json::json!({ "sub": "x", "aud": "wiki" });
        let token = sign(&keys, &claims, now).unwrap();
        assert_eq!(verify_ours(&keys, &token, now), Some(claims));
    }

    /// O5: `alg: none`, an HMAC keyed with the public key, a changed payload
    /// and an unknown kid are all refused.
    #[test]
    fn o5_unsigned_hmac_and_altered_tokens_are_refused() {
        let (_dir, keys, now) = ring();
        let claims = serde_json::json!({ "sub": "x" });
        let token = sign(&keys, &claims, now).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let kid = keys.public_keys(now).unwrap()[0].kid.clone();
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let evil = b64(serde_json::json!({ "sub": "admin" }));

        let none = format!("{}.{evil}.", b64(serde_json::json!({ "alg": "none" })));
        assert_eq!(verify_ours(&keys, &none, now), None);

        // HS256 with the public key's JWK text as the secret (the classic confusion).
        use hmac::{Hmac, Mac};
        let jwk = keys.public_keys(now).unwrap()[0].jwk().to_string();
        let header = b64(serde_json::json!({ "alg": "HS256", "kid": kid }));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(jwk.as_bytes()).unwrap();
        mac.update(format!("{header}.{evil}").as_bytes());
        let hs = format!(
            "{header}.{evil}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert_eq!(verify_ours(&keys, &hs, now), None);

        let altered = format!("{}.{evil}.{}", parts[0], parts[2]);
        assert_eq!(verify_ours(&keys, &altered, now), None);

        let other_kid = b64(serde_json::json!({ "alg": "RS256", "kid": "nope" }));
        let unknown = format!("{other_kid}.{}.{}", parts[1], parts[2]);
        assert_eq!(verify_ours(&keys, &unknown, now), None);
        assert_eq!(verify_ours(&keys, "a.b", now), None);
        assert_eq!(verify_ours(&keys, &format!("{token}.x"), now), None);
    }
}
