//! Where to send a browser after it signs in (SECURITY F2).
//!
//! A page that needs a session sends the browser to `/login?next=<its path>`;
//! the sign-in form carries `next` back. Only a path on this site is ever
//! followed: never an absolute or scheme-relative URL, a backslash, an `@`,
//! an encoded slash or backslash, or a control character, whatever arrives in
//! the query.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

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

    #[test]
    fn the_login_url_carries_the_path_encoded() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("/profile"), "/login?next=%2Fprofile");
        assert_eq!(login_url("//evil"), "/login");
    }
}
