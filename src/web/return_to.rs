//! Where to send a browser after it signs in (SECURITY F2).
//!
//! A page that needs a session sends the browser to `/login?next=<its path>`;
//! the sign-in form carries `next` back. A path on this site is followed
//! ([`safe`]): never a scheme-relative URL, a backslash, an `@`, an encoded
//! slash or backslash, or a control character, whatever arrives in the
//! query. Forward-auth sends `/login?rd=<the app's URL>`: an absolute URL is
//! followed only to `base_url` or a host an app lists ([`safe_url`]).

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::auth::forward::normal_authority;

/// Longest return path kept; a longer one is dropped, not cut.
const MAX_LEN: usize = 2048;

/// Pages a browser is never sent back to after signing in.
const NOT_AFTER_SIGN_IN: &[&str] = &["/login", "/logout", "/forgot", "/reset/", "/setup/"];

/// `next` when it is a path on this site worth returning to.
pub fn safe(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let plain = !next.is_empty()
        && next.len() <= MAX_LEN
        && bytes[0] == b'/'
        && bytes.get(1).is_none_or(|b| !matches!(b, b'/' | b'\\'))
        && bytes
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b'@'));
    let path = next.split(['?', '#']).next().unwrap_or_default();
    // In the path an encoded separator could be decoded into another host;
    // in the query (an app's redirect_uri) it is only data.
    let lower = path.to_ascii_lowercase();
    let encoded_separator = ["%2f", "%5c", "%40", "%00"]
        .iter()
        .any(|e| lower.contains(e));
    let excluded = NOT_AFTER_SIGN_IN
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)));
    (plain && !encoded_separator && !excluded && path != "/").then_some(next)
}

/// `rd` when it is an absolute `http(s)://` URL whose authority (compared
/// as [`normal_authority`] gives it) `allowed` accepts, written plainly: no
/// userinfo, no percent sign, backslash or space anywhere before the path,
/// nothing a URL parser would read differently (SECURITY F2).
pub fn safe_url(rd: &str, https_only: bool, allowed: impl Fn(&str) -> bool) -> Option<&str> {
    if rd.len() > MAX_LEN || !rd.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return None;
    }
    let (scheme, rest) = rd.split_once("://")?;
    if !(scheme == "https" || (scheme == "http" && !https_only)) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !tail.is_empty() && !tail.starts_with('/') {
        return None;
    }
    let authority = normal_authority(scheme, authority)?;
    // The parser must agree on the host: no second reading of the same text.
    let parsed = url::Url::parse(rd).ok()?;
    let parsed_authority = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str()?),
        None => parsed.host_str()?.to_owned(),
    };
    let agrees = parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed_authority == authority;
    (agrees && allowed(&authority)).then_some(rd)
}

/// `/login`, with `next` when the page asked for is worth returning to.
pub fn login_url(path_and_query: &str) -> String {
    match safe(path_and_query) {
        Some(next) => format!(
            "/login?next={}",
            utf8_percent_encode(next, NON_ALPHANUMERIC)
        ),
        None => "/login".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SECURITY F2: nothing but a path on this site is followed.
    #[test]
    fn f2_only_a_same_site_path_is_a_return_address() {
        for ok in [
            "/profile",
            "/help?x=1",
            "/profile#pw",
            "/oauth2/authorize?client_id=wiki&redirect_uri=https%3A%2F%2Fwiki.agency.lan%2Fcb",
        ] {
            assert_eq!(safe(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "https:evil.example",
            "evil.example",
            "/@evil.example",
            "/x@evil.example",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/a/%2f/b",
            "/pro file",
            "/pro\tfile",
            "/pro\nfile",
            "/profile\u{7f}",
            "/é",
            "/login",
            "/login?next=/profile",
            "/logout",
            "/reset/abc",
            "/setup/abc",
            "/forgot",
        ] {
            assert_eq!(safe(bad), None, "{bad:?}");
        }
        assert_eq!(safe(&format!("/{}", "a".repeat(MAX_LEN))), None);
    }

    /// SECURITY F2: an absolute return address only to a listed host.
    #[test]
    fn f2_only_a_listed_host_is_an_absolute_return_address() {
        let listed = |a: &str| a == "files.agency.lan" || a == "auth.agency.lan:8443";
        for ok in [
            "https://files.agency.lan/",
            "https://files.agency.lan",
            "https://FILES.agency.lan:443/a?b=c%2Fd",
            "https://auth.agency.lan:8443/profile",
            "http://files.agency.lan/x",
        ] {
            assert_eq!(safe_url(ok, false, listed), Some(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "//files.agency.lan/",
            "https:files.agency.lan/",
            "https:/files.agency.lan/",
            "https:///files.agency.lan/",
            "https://files.agency.lan@evil.example/",
            "https://evil.example@files.agency.lan/",
            "https://user:pw@files.agency.lan/",
            "https://files.agency.lan\\@evil.example/",
            "https://files.agency.lan%2f@evil.example/",
            "https://files.agency.lan%2eevil.example/",
            "https://files%2Eagency.lan/",
            "https://files.agency.lan.evil.example/",
            "https://files.agency.lan:444/",
            "https://files.agency.lan?@evil.example",
            "https://files.agency.lan#@evil.example",
            "https://files.agency.lan /",
            "https://files.agency.lan\t/",
            "javascript://files.agency.lan/%0aalert(1)",
            "ftp://files.agency.lan/",
            "HTTPS://files.agency.lan/",
        ] {
            assert_eq!(safe_url(bad, false, listed), None, "{bad:?}");
        }
        assert_eq!(safe_url("http://files.agency.lan/", true, listed), None);
    }

    #[test]
    fn the_login_url_carries_the_path_encoded() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("/profile"), "/login?next=%2Fprofile");
        assert_eq!(login_url("//evil"), "/login");
    }
}
