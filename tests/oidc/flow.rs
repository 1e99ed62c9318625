//! The whole authorization-code flow through an independent client library:
//! discovery → authorize (through the real sign-in form) → code → token →
//! ID token verified by the library (signature against the JWKS, iss, aud,
//! exp, nonce) → userinfo → refresh → logout.

use openidconnect::core::{CoreAuthenticationFlow, CoreUserInfoClaims};
use openidconnect::{
    AuthType, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope,
    TokenResponse,
};

use super::*;
use crate::helpers::{self, PASSWORD};

/// Runs the flow for one client; `auth_type` picks `client_secret_basic` or `_post`.
async fn whole_flow(public: bool, auth_type: AuthType) {
    let app = provider().await;
    app.add_user("maria", PASSWORD).await;
    app.admin(Request::UserSet {
        username: "maria".into(),
        changes: latchkey::control::protocol::UserChanges {
            name: Some("Maria Lopez".into()),
            ..Default::default()
        },
    })
    .await
    .unwrap();
    let (client_id, secret) = register(&app, wiki(public)).await;
    assert_eq!(client_id, "wiki");
    assert_eq!(secret.is_some(), !public);
    let client = discover(&app, &client_id, secret)
        .await
        .set_auth_type(auth_type);
    let http = library_http();

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = helpers::browser();
    let back = through_sign_in(&browser, &app, url.as_str(), "maria").await;
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(app.base.as_str()));
    let code = param(&back, "code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code is redeemed");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the library accepts the ID token (signature, iss, aud, exp, nonce)");
    assert_eq!(claims.issuer().as_str(), app.base);
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("maria")
    );
    let sub = claims.subject().as_str().to_owned();
    assert_ne!(sub, "maria", "sub is a stable id, not the user name");
    assert!(claims.auth_time().is_some());
    assert!(claims.email().is_some());
    assert_eq!(tokens.token_type().as_ref(), "bearer");
    assert!(tokens.expires_in().is_some());

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo answers");
    assert_eq!(info.subject().as_str(), sub);
    let name = info
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    assert_eq!(name.as_deref(), Some("Maria Lopez"));

    // Refresh: new tokens, the same subject, and the old refresh token is spent.
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("the refresh token works once");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let new_id = refreshed.id_token().expect("an ID token on refresh too");
    let again = new_id
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("the refreshed ID token verifies");
    assert_eq!(again.subject().as_str(), sub);
    assert_eq!(app.count_events("token_issued", Some("maria")).await, 2);

    // RP-initiated logout with the ID token as hint ends the latchkey session.
    let discovery: serde_json::Value = http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let end_session = discovery["end_session_endpoint"].as_str().unwrap();
    let mut logout = url::Url::parse(end_session).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &new_id.to_string())
        .append_pair("post_logout_redirect_uri", "https://wiki.agency.lan/bye")
        .append_pair("state", "s-1");
    let res = browser.get(logout.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        helpers::location(&res),
        "https://wiki.agency.lan/bye?state=s-1"
    );
    let home = helpers::get(&browser, &app, "/").await;
    helpers::assert_sent_to_login(&home);
}

#[tokio::test]
async fn o5_a_confidential_app_with_client_secret_basic_signs_in_refreshes_and_signs_out() {
    whole_flow(false, AuthType::BasicAuth).await;
}

#[tokio::test]
async fn o5_a_confidential_app_with_client_secret_post_signs_in_refreshes_and_signs_out() {
    whole_flow(false, AuthType::RequestBody).await;
}

#[tokio::test]
async fn o3_a_public_app_signs_in_with_pkce_alone() {
    whole_flow(true, AuthType::RequestBody).await;
}

/// The discovery document says what CONTRACT section 7 lists.
#[tokio::test]
async fn discovery_lists_the_contract_values() {
    let app = provider().await;
    let d: serde_json::Value = reqwest::get(app.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], app.base.as_str());
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert!(
        d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"RS256".into())
    );
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "end_session_endpoint",
    ] {
        assert!(d[key].as_str().unwrap().starts_with(&app.base), "{key}");
    }
    let jwks: serde_json::Value = reqwest::get(app.url("/oauth2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0]["kid"].is_string());
    // O5: public parts only.
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(keys[0].get(private).is_none(), "{private} published");
    }
}

/// The home page is the launcher: the apps the account may use, by group.
#[tokio::test]
async fn the_home_page_lists_the_apps_the_user_may_use() {
    let app = provider().await;
    app.add_user("maria", PASSWORD).await;
    app.admin(Request::GroupAdd {
        name: "finance".into(),
    })
    .await
    .unwrap();
    let mut open = wiki(false);
    open.url = Some("https://wiki.agency.lan/".into());
    register(&app, open).await;
    let books = AppSpec {
        name: "Books".into(),
        redirect_uris: vec!["https://books.agency.lan/cb".into()],
        groups: vec!["finance".into()],
        url: Some("https://books.agency.lan/".into()),
        ..AppSpec::default()
    };
    register(&app, books).await;
    let (browser, _) = helpers::signed_in(&app, "maria", PASSWORD).await;
    let home = helpers::text_of(&browser, &app.url("/")).await;
    assert!(
        home.contains(">Wiki</a>") && home.contains("wiki.agency.lan"),
        "{home}"
    );
    assert!(!home.contains("books.agency.lan"), "{home}");
}
