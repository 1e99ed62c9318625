//! Cookie names and attributes (CONTRACT section 4, SECURITY S1).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cookie::{Cookie, SameSite};

/// The session cookie: its name, and the hosts it is sent to (SECURITY S1,
/// F3). Without `forward_auth.cookie_domain` it is host-only (`__Host-`
/// under HTTPS); with it, the browser sends it to every host under that
/// domain, so the proxies in front of guarded apps can ask about it
/// (`__Secure-` under HTTPS, which a cookie with a `Domain` must use).
pub struct SessionCookie {
    name: &'static str,
    domain: Option<String>,
    secure: bool,
}

impl SessionCookie {
    pub fn new(https: bool, domain: Option<&str>) -> Self {
        let name = match (https, domain.is_some()) {
            (false, _) => "latchkey_session",
            (true, false) => "__Host-latchkey_session",
            (true, true) => "__Secure-latchkey_session",
        };
        Self {
            name,
            domain: domain.map(str::to_owned),
            secure: https,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The session id the request carries, if exactly one.
    pub fn get(&self, headers: &HeaderMap) -> Option<String> {
        get(headers, self.name)
    }

    /// `Set-Cookie` text that hands the browser `value`.
    pub fn set(&self, value: &str) -> String {
        self.build(value, None)
    }

    /// `Set-Cookie` text that deletes it (with the same `Domain`, or the
    /// browser keeps it).
    pub fn clear(&self) -> String {
        self.build("", Some(cookie::time::Duration::ZERO))
    }

    fn build(&self, value: &str, max_age: Option<cookie::time::Duration>) -> String {
        let mut c = Cookie::build((self.name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure);
        if let Some(domain) = &self.domain {
            c = c.domain(domain.clone());
        }
        if let Some(age) = max_age {
            c = c.max_age(age);
        }
        c.build().to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// SECURITY S1 and F3: host-only `__Host-` without a cookie domain,
    /// `__Secure-` with one under HTTPS; HttpOnly and SameSite always.
    #[test]
    fn f3_the_session_cookie_is_prefixed_for_where_it_goes() {
        let host_only = SessionCookie::new(true, None).set("v");
        assert!(
            host_only.starts_with("__Host-latchkey_session=v"),
            "{host_only}"
        );
        assert!(!host_only.contains("Domain"), "{host_only}");
        let shared = SessionCookie::new(true, Some("agency.lan")).set("v");
        assert!(
            shared.starts_with("__Secure-latchkey_session=v"),
            "{shared}"
        );
        for attr in [
            "Domain=agency.lan",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
        ] {
            assert!(shared.contains(attr), "{attr} in {shared}");
        }
        let cleared = SessionCookie::new(true, Some("agency.lan")).clear();
        assert!(cleared.contains("Domain=agency.lan") && cleared.contains("Max-Age=0"));
        let plain = SessionCookie::new(false, Some("agency.lan")).set("v");
        assert!(plain.starts_with("latchkey_session=v") && !plain.contains("Secure"));
    }
}
