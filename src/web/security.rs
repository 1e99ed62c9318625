//! Headers on every response, and HTML error pages for every error (SECURITY C2, C3, I2).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::errors::{ErrorPage, page_for};

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Origins a page's forms may end up at besides this site: a sign-in form
/// reached from an app is answered with a redirect to that app's registered
/// redirect URI, and browsers hold form redirects to `form-action` too.
#[derive(Clone, Debug)]
pub struct FormTargets(pub Vec<String>);

pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && !speaks_for_itself(res.headers()) {
        let page = res
            .extensions()
            .get::<ErrorPage>()
            .cloned()
            .unwrap_or_else(|| page_for(status));
        let html = state.error_page(status, &page);
        let (mut parts, _) = res.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        res = Response::from_parts(parts, Body::from(html));
    }
    let csp = match res.extensions().get::<FormTargets>() {
        Some(FormTargets(origins)) if !origins.is_empty() => {
            HeaderValue::from_str(&format!("{CSP} {}", origins.join(" ")))
                .unwrap_or(HeaderValue::from_static(CSP))
        }
        _ => HeaderValue::from_static(CSP),
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if state.https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // Anything that sets a cookie, and every page that is not a static asset, is not cached.
    if h.contains_key(header::SET_COOKIE) || !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// An HTML page, or a JSON answer to a machine (the OpenID Connect
/// endpoints' errors are JSON as RFC 6749 section 5.2 says).
fn speaks_for_itself(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"))
}
