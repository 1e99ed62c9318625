//! The client's address: the TCP peer, or `X-Forwarded-For` from a trusted proxy only (I5).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::{AppState, WebError};

#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(parts: &Parts, state: &AppState) -> Option<Self> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        let trusted = &state.auth.config.server.trusted_proxies;
        Some(ClientIp(resolve(peer.ip(), forwarded_for(parts), trusted)))
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        ClientIp::from_parts(parts, state)
            .ok_or_else(|| WebError::Internal("no peer address on the connection".into()))
    }
}

/// Every address in the `X-Forwarded-For` headers, leftmost first.
fn forwarded_for(parts: &Parts) -> Vec<Option<IpAddr>> {
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("invalid").split(','))
        .map(|a| a.trim().parse().ok())
        .collect()
}

/// Walks the chain from the peer leftwards while the hop is a trusted proxy;
/// the first untrusted (or unparsable) hop is the client.
fn resolve(peer: IpAddr, chain: Vec<Option<IpAddr>>, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        if !trusted.contains(&client) {
            break;
        }
        match hop {
            Some(ip) => client = ip,
            None => break, // garbage from beyond the proxy: stop at the proxy
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let chain = vec![Some(ip("203.0.113.9"))];
        assert_eq!(resolve(ip("10.0.0.5"), chain, &[]), ip("10.0.0.5"));
    }

    #[test]
    fn trusted_proxy_hops_are_skipped() {
        let proxy = ip("10.0.0.1");
        let chain = vec![Some(ip("198.51.100.7")), Some(ip("203.0.113.9"))];
        // The rightmost entry was added by our proxy; the left one is client-supplied.
        assert_eq!(resolve(proxy, chain, &[proxy]), ip("203.0.113.9"));
        let chain = vec![Some(ip("203.0.113.9")), Some(proxy)];
        assert_eq!(resolve(proxy, chain, &[proxy]), ip("203.0.113.9"));
        assert_eq!(resolve(proxy, vec![None], &[proxy]), proxy);
    }
}
