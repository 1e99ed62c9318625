//! The one-time notice the sign-in page shows after a password was saved
//! (setup, reset): a short-lived cookie that names the account, signed with
//! the server key so that no other site or script can put words or a user
//! name on our page. The name never goes into a URL, so it stays out of
//! proxy logs and browser history.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

/// How long the notice waits for the sign-in page.
const LIFETIME_SECS: i64 = 600;

pub fn name(https: bool) -> &'static str {
    if https {
        "__Host-latchkey_notice"
    } else {
        "latchkey_notice"
    }
}

fn mac(key: &[u8; 32], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"latchkey notice v1\0");
    mac.update(payload.as_bytes());
    mac
}

/// The `Set-Cookie` value telling the next sign-in page that `username`'s password was saved.
pub fn password_saved(key: &[u8; 32], username: &str, https: bool, now: Timestamp) -> String {
    let payload = format!(
        "{}.{}",
        now.as_second() + LIFETIME_SECS,
        URL_SAFE_NO_PAD.encode(username)
    );
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
    Cookie::build((name(https), format!("{payload}.{tag}")))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(https)
        .max_age(cookie::time::Duration::seconds(LIFETIME_SECS))
        .build()
        .to_string()
}

/// The user name of a valid, unexpired notice in the request's cookies.
pub fn saved_username(
    key: &[u8; 32],
    headers: &HeaderMap,
    https: bool,
    now: Timestamp,
) -> Option<String> {
    let value = super::cookies::get(headers, name(https))?;
    parse(key, &value, now)
}

fn parse(key: &[u8; 32], value: &str, now: Timestamp) -> Option<String> {
    let (payload, tag) = value.rsplit_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, payload).verify_slice(&tag).ok()?;
    let (expires, username) = payload.split_once('.')?;
    if now.as_second() >= expires.parse::<i64>().ok()? {
        return None;
    }
    String::from_utf8(URL_SAFE_NO_PAD.decode(username).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn value_of(set_cookie: &str) -> String {
        let c = Cookie::parse(set_cookie.to_owned()).unwrap();
        c.value().to_owned()
    }

    #[test]
    fn a_notice_names_its_account_until_it_expires() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let value = value_of(&password_saved(&KEY, "Jo.Doe", false, now));
        assert_eq!(parse(&KEY, &value, now).as_deref(), Some("Jo.Doe"));
        let later = Timestamp::from_second(now.as_second() + LIFETIME_SECS).unwrap();
        assert_eq!(parse(&KEY, &value, later), None);
    }

    #[test]
    fn a_notice_made_without_the_key_or_altered_is_ignored() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let value = value_of(&password_saved(&[8; 32], "mallory", false, now));
        assert_eq!(parse(&KEY, &value, now), None);
        let good = value_of(&password_saved(&KEY, "alice", false, now));
        let (_, tag) = good.rsplit_once('.').unwrap();
        let forged = format!(
            "{}.{}.{tag}",
            now.as_second() + 60,
            URL_SAFE_NO_PAD.encode("mallory")
        );
        assert_eq!(parse(&KEY, &forged, now), None);
        assert_eq!(parse(&KEY, "garbage", now), None);
    }
}
