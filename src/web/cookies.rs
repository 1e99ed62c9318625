//! Cookie names and attributes (CONTRACT section 4, SECURITY S1).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cookie::{Cookie, SameSite};

/// The session cookie's name; `__Host-` under HTTPS.
pub fn session_name(https: bool) -> &'static str {
    if https {
        "__Host-latchkey_session"
    } else {
        "latchkey_session"
    }
}

/// The pre-sign-in cookie that anonymous forms' CSRF tokens are bound to.
pub fn anon_name(https: bool) -> &'static str {
    if https {
        "__Host-latchkey_anon"
    } else {
        "latchkey_anon"
    }
}

/// The value of cookie `name` in the request, if sent exactly once.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for c in Cookie::split_parse(text).flatten() {
            if c.name() == name {
                if found.is_some() {
                    return None; // a planted duplicate: trust neither
                }
                found = Some(c.value().to_owned());
            }
        }
    }
    found
}

/// `Set-Cookie` text: HttpOnly, SameSite=Lax, Path=/, no Domain, Secure under HTTPS.
pub fn set(name: &str, value: &str, https: bool) -> String {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(https)
        .build()
        .to_string()
}

/// `Set-Cookie` text that deletes the cookie.
pub fn clear(name: &str, https: bool) -> String {
    Cookie::build((name, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(https)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}
