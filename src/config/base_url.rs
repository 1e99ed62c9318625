//! `server.base_url`: the address staff type, and the only source of links
//! (SECURITY R6).

use std::fmt;

use serde::{Serialize, Serializer};
use url::Url;

/// An `http://` or `https://` address with a host and no query or fragment.
///
/// Links are built from the text as written, less any trailing slash, so a
/// link reads exactly as the operator configured it; the parsed form answers
/// structural questions such as the origin. Two are equal when they give
/// the same links.
#[derive(Clone)]
pub struct BaseUrl {
    text: String,
    url: Url,
}

/// Why a `server.base_url` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("{text:?} is not a URL: {reason}")]
    NotAUrl {
        text: String,
        reason: url::ParseError,
    },
    #[error("{0:?} must be an http:// or https:// address")]
    NotHttp(String),
    #[error("must not have a query or fragment")]
    QueryOrFragment,
}

impl BaseUrl {
    pub fn parse(text: &str) -> Result<Self, BaseUrlError> {
        let url = Url::parse(text).map_err(|reason| BaseUrlError::NotAUrl {
            text: text.to_owned(),
            reason,
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(BaseUrlError::NotHttp(text.to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::QueryOrFragment);
        }
        Ok(Self {
            text: text.trim_end_matches('/').to_owned(),
            url,
        })
    }

    /// `path`, which starts with `/`, under this address: `/profile` gives
    /// `https://id.example.org/profile`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.text)
    }

    /// Scheme, host and port, to compare with a request's `Origin`.
    pub fn origin(&self) -> url::Origin {
        self.url.origin()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host name (or address), lower case, without the port.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// `host[:port]` as a browser sends it in `Host`: the port only when it
    /// is not the scheme's default.
    pub fn authority(&self) -> String {
        match self.url.port() {
            Some(port) => format!("{}:{port}", self.host()),
            None => self.host().to_owned(),
        }
    }

    pub fn https(&self) -> bool {
        self.url.scheme() == "https"
    }
}

impl PartialEq for BaseUrl {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for BaseUrl {}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl Serialize for BaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_trimmed_and_the_rest_kept_as_written() {
        let url = BaseUrl::parse("https://ID.Example.org:443/app//").unwrap();
        assert_eq!(url.as_str(), "https://ID.Example.org:443/app");
        assert_eq!(url.to_string(), "https://ID.Example.org:443/app");
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080/").unwrap().as_str(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn equal_when_the_links_are() {
        assert_eq!(
            BaseUrl::parse("https://x.org/app/").unwrap(),
            BaseUrl::parse("https://x.org/app").unwrap()
        );
        assert_ne!(
            BaseUrl::parse("https://x.org/app").unwrap(),
            BaseUrl::parse("https://X.org/app").unwrap()
        );
    }

    #[test]
    fn join_appends_the_path_to_the_text() {
        let url = BaseUrl::parse("https://id.example.org/").unwrap();
        assert_eq!(url.join("/profile"), "https://id.example.org/profile");
        assert_eq!(url.join("/reset/abc"), "https://id.example.org/reset/abc");
        let under = BaseUrl::parse("https://example.org/login").unwrap();
        assert_eq!(under.join("/setup/t"), "https://example.org/login/setup/t");
    }

    #[test]
    fn the_origin_ignores_the_path_and_a_default_port() {
        let url = BaseUrl::parse("https://id.example.org:443/app/").unwrap();
        let other = Url::parse("https://id.example.org").unwrap();
        assert_eq!(url.origin(), other.origin());
    }

    #[test]
    fn only_http_and_https_addresses_with_a_host() {
        assert_eq!(
            BaseUrl::parse("ftp://x"),
            Err(BaseUrlError::NotHttp("ftp://x".into()))
        );
        assert_eq!(
            BaseUrl::parse("mailto:a@b.org"),
            Err(BaseUrlError::NotHttp("mailto:a@b.org".into()))
        );
        assert!(matches!(
            BaseUrl::parse("id.example.org"),
            Err(BaseUrlError::NotAUrl { .. })
        ));
        assert!(matches!(
            BaseUrl::parse(""),
            Err(BaseUrlError::NotAUrl { .. })
        ));
    }

    #[test]
    fn a_query_or_fragment_is_refused() {
        crate::domain::assert_all_refused(
            BaseUrl::parse,
            &["https://x.org/?a=1", "https://x.org/#top", "https://x.org?"],
            BaseUrlError::QueryOrFragment,
        );
    }

    #[test]
    fn messages_quote_the_value() {
        let err = BaseUrl::parse("x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"x\" is not a URL: relative URL without a base"
        );
        let err = BaseUrl::parse("ftp://x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"ftp://x\" must be an http:// or https:// address"
        );
    }
}
