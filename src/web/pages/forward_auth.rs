//! Forward-auth for apps behind a reverse proxy, compatible with Authelia's
//! endpoints (CONTRACT section 7, SECURITY F1-F3).
//!
//! The proxy holds each request to a guarded host and asks here first,
//! passing the browser's cookies and, in its own headers, what the browser
//! asked for: `X-Forwarded-Proto`, `-Host` and `-Uri` (Caddy, Traefik) or
//! `X-Original-URL` (nginx). Those headers are believed only from a peer in
//! `server.trusted_proxies`. The session behind the cookie is checked as on
//! every page (S4, S5: a lock, an expired licence or a sign-out ends it on
//! the next request), then the host against the apps' `--host` lists and
//! groups. The answer carries who the user is for the app; never the
//! session id (F3).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::auth::forward::{Denial, Verdict, normal_authority};
use crate::metrics::bump;
use crate::store::audit::Origin;
use crate::web::errors::ErrorPage;
use crate::web::net::ClientIp;
use crate::web::session::{FORCED_CHANGE, MaybeSession};
use crate::web::{AppState, WebError};

/// What is encoded of the way back in a query: all but RFC 3986's unreserved.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Longest original URL taken from the proxy; a longer one is refused.
const MAX_URL: usize = 8 * 1024;

/// How the proxy wants "sign in first" said.
#[derive(Clone, Copy)]
enum Flavor {
    /// Caddy `forward_auth`, Traefik `ForwardAuth`: the answer goes to the
    /// browser as it is, so a 302 to the sign-in page.
    ForwardAuth,
    /// nginx `auth_request` passes on only 2xx, 401 and 403: a 401 whose
    /// `Location` the configuration turns into the redirect.
    AuthRequest,
}

/// What the browser asked the proxy for, borrowed from the proxy's headers.
struct Target<'h> {
    scheme: &'h str,
    host: &'h str,
    uri: &'h str,
    /// `host[:port]`, normalised as apps list it.
    authority: String,
}

impl<'h> Target<'h> {
    /// From `X-Forwarded-Proto`, `-Host` and `-Uri` (`-Uri` absent: `/`).
    fn forwarded(headers: &'h HeaderMap) -> Option<Target<'h>> {
        let proto = text(headers, "x-forwarded-proto")?;
        let host = text(headers, "x-forwarded-host")?;
        let uri = text(headers, "x-forwarded-uri").unwrap_or("/");
        Target::parts(proto, host, uri)
    }

    /// From `X-Original-URL` (`scheme://host[:port]/path?query`).
    fn original(headers: &'h HeaderMap) -> Option<Target<'h>> {
        let url = text(headers, "x-original-url")?;
        let (scheme, rest) = url.split_once("://")?;
        let (host, uri) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Target::parts(scheme, host, if uri.is_empty() { "/" } else { uri })
    }

    fn parts(scheme: &'h str, host: &'h str, uri: &'h str) -> Option<Target<'h>> {
        let authority = normal_authority(scheme, host)?;
        let plain = uri.starts_with('/')
            && uri.len() <= MAX_URL
            && uri.bytes().all(|b| b.is_ascii_graphic());
        plain.then_some(Target {
            scheme,
            host,
            uri,
            authority,
        })
    }

    /// `page` (`/login` or the forced change) with the way back to the
    /// address asked for: built only when the browser is sent away, not on
    /// the checks that pass.
    fn way_back(&self, page: &str, param: &str) -> String {
        let url = format!("{}://{}{}", self.scheme, self.host, self.uri);
        format!("{page}?{param}={}", utf8_percent_encode(&url, QUERY_VALUE))
    }
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().filter(|t| !t.is_empty())
}

/// `GET /api/authz/forward-auth`.
pub async fn forward_auth(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let target = Target::forwarded(&headers);
    answer(&state, peer, ip, session, target, Flavor::ForwardAuth).await
}

/// `GET /api/authz/auth-request`.
pub async fn auth_request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let target = Target::original(&headers);
    answer(&state, peer, ip, session, target, Flavor::AuthRequest).await
}

async fn answer(
    state: &AppState,
    peer: SocketAddr,
    ip: std::net::IpAddr,
    session: MaybeSession,
    target: Option<Target<'_>>,
    flavor: Flavor,
) -> Result<Response, WebError> {
    let auth = &state.auth;
    let metrics = &auth.metrics;
    let user = session.0.as_ref().map(|s| &s.user);
    let username = user.map(|u| u.username.as_str());
    if !auth.config.server.trusted_proxies.contains(&peer.ip()) {
        bump(&metrics.forward_auth_denied);
        let host = "(unknown host)";
        auth.forward_denied(&Denial::UntrustedPeer, username, host, Origin::web(ip))
            .await?;
        return Ok(denied(
            "This address is not reached through the agency's proxy. Use the app's usual address.",
        ));
    }
    let Some(target) = target else {
        bump(&metrics.forward_auth_denied);
        return Err(WebError::BadRequest(
            "the proxy did not say which address was asked for",
        ));
    };
    let verdict = auth.forward_verdict(&target.authority, user)?;
    match (verdict, session.0.as_ref()) {
        (Verdict::Allowed, Some(session)) if session.restricted => {
            // The password must be changed first; then back to the app.
            bump(&metrics.forward_auth_sign_in);
            let change = target.way_back(FORCED_CHANGE, "next");
            Ok(sign_in_first(state, &change, flavor))
        }
        (Verdict::Allowed, Some(session)) => {
            bump(&metrics.forward_auth_allowed);
            Ok(allowed(&session.user))
        }
        (Verdict::SignIn | Verdict::Allowed, _) => {
            bump(&metrics.forward_auth_sign_in);
            Ok(sign_in_first(
                state,
                &target.way_back("/login", "rd"),
                flavor,
            ))
        }
        (Verdict::Denied(denial), _) => {
            bump(&metrics.forward_auth_denied);
            auth.forward_denied(&denial, username, &target.authority, Origin::web(ip))
                .await?;
            Ok(denied(match denial {
                Denial::NotInGroup(_) => {
                    "Your account may not use this app. If you need it for your work, contact the helpdesk."
                }
                _ => "No app of the agency is at this address.",
            }))
        }
    }
}

/// 200, with who the user is for the app.
fn allowed(user: &crate::store::users::UserRecord) -> Response {
    let mut res = StatusCode::OK.into_response();
    let h = res.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        // A value a header cannot carry (a control character) is left out.
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("remote-user", user.username.as_str());
    put(
        "remote-name",
        user.name.as_deref().unwrap_or(user.username.as_str()),
    );
    if let Some(email) = &user.email {
        put("remote-email", email.as_str());
    }
    put("remote-groups", &user.groups.join(","));
    res
}

/// To the sign-in page (or the forced change) at `base_url`, and back.
fn sign_in_first(state: &AppState, path: &str, flavor: Flavor) -> Response {
    let location = state.auth.config.server.base_url.join(path);
    let status = match flavor {
        Flavor::ForwardAuth => StatusCode::FOUND,
        Flavor::AuthRequest => StatusCode::UNAUTHORIZED,
    };
    let mut res = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// 403, with a page that says why.
fn denied(message: &'static str) -> Response {
    let mut res = StatusCode::FORBIDDEN.into_response();
    res.extensions_mut().insert(ErrorPage {
        title: "Not allowed",
        message,
        error_id: None,
    });
    res
}
