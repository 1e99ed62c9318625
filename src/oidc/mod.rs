//! The OpenID Connect provider (CONTRACT section 7, SECURITY O1-O7): what it
//! decides, apart from HTTP. `web::pages::oidc` speaks the protocol's HTTP
//! side and calls [`provider`]; the records live in `store::oauth`.

pub mod jwt;
pub mod provider;

use serde::Serialize;

/// What keeps the provider from answering at all (a 500, logged): the
/// store or the signing key failed. Not an answer to the client.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Key(#[from] crate::store::keys::KeyError),
}

/// An error answer of RFC 6749 (section 4.1.2.1 at the redirect URI,
/// section 5.2 from the token endpoint): a registered code and one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "client authentication failed")
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

/// Scopes this provider knows; others in a request are ignored (RFC 6749 3.3).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "groups"];

/// Claims the scopes above can release.
pub const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "preferred_username",
    "email",
    "email_verified",
    "phone_number",
    "groups",
];

/// The known scopes of a requested `scope`, space-separated, in the order of [`SCOPES`].
pub fn known_scopes(requested: &str) -> String {
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    SCOPES
        .iter()
        .filter(|s| asked.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scopes_are_dropped_and_order_is_fixed() {
        assert_eq!(
            known_scopes("email  openid offline_access x groups"),
            "openid email groups"
        );
        assert!(has_scope("openid email", "email"));
        assert!(!has_scope("openid emails", "email"));
    }
}
