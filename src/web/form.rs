//! Form bodies, parsed strictly, with the CSRF and origin checks every POST needs.
//!
//! `application/x-www-form-urlencoded` only. Invalid percent-encoding, invalid
//! UTF-8 and a repeated field are malformed (400), never guessed at (SECURITY I2).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::{AppState, BODY_TIMEOUT, MAX_BODY, WebError, csrf, net::ClientIp};
use crate::config::BaseUrl;
use crate::domain::secret::Secret;
use crate::store::audit::{Event, Origin};

/// A checked form: same-site, carrying this browser's CSRF token.
#[derive(Debug)]
pub struct Form {
    fields: HashMap<String, String>,
}

impl Form {
    /// The field's value, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    /// Every field and its value, in name order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut all: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.sort_unstable();
        all.into_iter()
    }

    /// A secret field (password); never logged.
    pub fn secret(&self, name: &str) -> Secret {
        Secret::new(self.text(name))
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        if !same_site(&parts.headers, &state.auth.config.server.base_url) {
            reject(state, &mut parts, "cross-site request").await;
            return Err(WebError::Forbidden("cross-site request"));
        }
        if !is_form(&parts.headers) {
            return Err(WebError::BadRequest("not a form"));
        }
        let bytes = read_body(body).await?;
        let fields = parse(&bytes).ok_or(WebError::BadRequest("malformed form"))?;
        let submitted = fields.get("csrf_token").map_or("", String::as_str);
        if !csrf::verify(state, &parts.headers, submitted) {
            reject(state, &mut parts, "missing or wrong csrf_token").await;
            return Err(WebError::Forbidden("csrf token"));
        }
        Ok(Form { fields })
    }
}

/// Largest file the console takes in one upload (a CSV of about 20,000
/// accounts; `latchkey user import` takes larger ones).
pub const MAX_UPLOAD: usize = 2 * 1024 * 1024;

/// A checked `multipart/form-data` upload (the console's CSV import):
/// same-site and carrying this browser's CSRF token, like a [`Form`]. Its
/// text fields, and the one file it carries, as UTF-8 text.
#[derive(Debug)]
pub struct Upload {
    pub form: Form,
    /// The file field's content (`None` when no file was chosen).
    pub file: Option<String>,
}

/// The name of the file field of an [`Upload`].
pub const UPLOAD_FILE: &str = "file";

impl FromRequest<AppState> for Upload {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        if !same_site(&parts.headers, &state.auth.config.server.base_url) {
            reject(state, &mut parts, "cross-site request").await;
            return Err(WebError::Forbidden("cross-site request"));
        }
        let headers = parts.headers.clone();
        let who = (
            ClientIp::from_parts(&parts, state),
            parts.uri.path().to_owned(),
        );
        let request = Request::from_parts(parts, body);
        let multipart = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|_| WebError::BadRequest("not a multipart form"))?;
        let read = tokio::time::timeout(BODY_TIMEOUT, read_multipart(multipart)).await;
        let (fields, file) = read.map_err(|_| WebError::Timeout)??;
        let submitted = fields.get("csrf_token").map_or("", String::as_str);
        if !csrf::verify(state, &headers, submitted) {
            if let (Some(ClientIp(ip)), path) = who {
                audit_refusal(state, ip, &path, "missing or wrong csrf_token").await;
            }
            return Err(WebError::Forbidden("csrf token"));
        }
        Ok(Upload {
            form: Form { fields },
            file,
        })
    }
}

type Parsed = (HashMap<String, String>, Option<String>);

async fn read_multipart(mut multipart: axum::extract::Multipart) -> Result<Parsed, WebError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            WebError::TooLarge
        } else {
            WebError::BadRequest("malformed multipart form")
        }
    };
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or("").to_owned();
        let is_file = name == UPLOAD_FILE;
        let bytes = field.bytes().await.map_err(unreadable)?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| WebError::BadRequest("the file is not UTF-8 text"))?;
        let repeated = if is_file {
            file.replace(text).is_some()
        } else {
            fields.insert(name, text).is_some()
        };
        if repeated {
            return Err(WebError::BadRequest("repeated field"));
        }
    }
    Ok((fields, file.filter(|f| !f.is_empty())))
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, WebError> {
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Err(_) => Err(WebError::Timeout),
        Ok(Err(e)) => {
            // to_bytes reports the length limit through its error source chain.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            let mut too_large = false;
            while let Some(c) = cause {
                too_large |= c.is::<http_body_util::LengthLimitError>();
                cause = c.source();
            }
            Err(if too_large {
                WebError::TooLarge
            } else {
                WebError::BadRequest("unreadable body")
            })
        }
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// Audits a refused POST (CONTRACT section 6: `csrf_rejected`).
async fn reject(state: &AppState, parts: &mut Parts, why: &'static str) {
    let ip = match ClientIp::from_parts(parts, state) {
        Some(ClientIp(ip)) => ip,
        None => return,
    };
    let path = parts.uri.path().to_owned();
    audit_refusal(state, ip, &path, why).await;
}

async fn audit_refusal(state: &AppState, ip: std::net::IpAddr, path: &str, why: &str) {
    if let Err(e) = state
        .auth
        .record(
            Event::CsrfRejected,
            None,
            Origin::web(ip),
            format!("{why} on POST {path}"),
        )
        .await
    {
        tracing::error!(error = %e, "cannot audit a refused request");
    }
}

/// Refuses requests a browser marks as cross-site, or whose Origin is another site.
fn same_site(headers: &HeaderMap, base_url: &BaseUrl) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true; // not a browser, or an old one: the CSRF token still decides
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
        // for their own forms; then only the browser's own same-origin verdict counts.
        return headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"));
    }
    let Ok(url) = url::Url::parse(origin) else {
        return false; // includes "null"
    };
    let authority = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return false,
    };
    let matches_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(&authority));
    let matches_base = base_url.origin() == url.origin();
    matches_host || matches_base
}

/// Whether the body is declared `application/x-www-form-urlencoded`.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses `a=1&b=2` strictly: `None` on bad encoding, bad UTF-8 or a repeated name.
pub fn parse(body: &[u8]) -> Option<HashMap<String, String>> {
    let mut fields = HashMap::new();
    if body.is_empty() {
        return Some(fields);
    }
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = decode(name)?;
        let value = decode(value)?;
        if fields.insert(name, value).is_some() {
            return None;
        }
    }
    Some(fields)
}

fn decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_encoded_fields() {
        let f = parse(b"username=J%C3%B6rg+K&password=a%26b%3Dc&csrf_token=").unwrap();
        assert_eq!(f["username"], "Jörg K");
        assert_eq!(f["password"], "a&b=c");
        assert_eq!(f["csrf_token"], "");
    }

    #[test]
    fn refuses_malformed_bodies() {
        assert!(parse(b"a=%zz").is_none(), "bad hex");
        assert!(parse(b"a=%4").is_none(), "truncated escape");
        assert!(parse(b"a=%ff%fe").is_none(), "invalid UTF-8 after decoding");
        assert!(parse(b"a=\xff").is_none(), "raw invalid UTF-8");
        assert!(parse(b"a=1&a=2").is_none(), "repeated field");
        assert!(parse(b"a=1&%61=2").is_none(), "repeated field, encoded");
        assert!(parse(b"+1%2B=%20").is_some());
        assert!(parse(b"%u0041=1").is_none(), "non-standard escape");
    }

    #[test]
    fn origin_checks() {
        let base = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:9000".parse().unwrap());
        assert!(same_site(&h, &base));
        h.insert(header::ORIGIN, "http://127.0.0.1:9000".parse().unwrap());
        assert!(same_site(&h, &base));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_site(&h, &base));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_site(&h, &base));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(
            same_site(&h, &base),
            "a browser's own form under no-referrer"
        );
        h.remove("sec-fetch-site");
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_site(&h, &base));
    }
}
