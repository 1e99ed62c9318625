//! The OpenID Connect provider (CONTRACT section 7), checked from outside:
//! the `openidconnect` crate (an independent client library) discovers the
//! real server on 127.0.0.1, signs in through the real sign-in form, and
//! verifies the ID tokens against the published keys.

mod apps;
mod attacks;
mod flow;

use latchkey::config::BaseUrl;
use latchkey::control::protocol::{AppSpec, Request, Response};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, RedirectUrl};

use crate::helpers::{self, PASSWORD, TestApp};

pub const REDIRECT: &str = "https://wiki.agency.lan/oauth/callback";

/// A server whose `base_url` (and so its issuer) is the address it listens on.
pub async fn provider() -> TestApp {
    let port = helpers::free_port();
    helpers::spawn_with(|c| {
        c.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.server.base_url = BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    })
    .await
}

/// Registers an app; its client id and (for a confidential app) secret.
pub async fn register(app: &TestApp, spec: AppSpec) -> (String, Option<String>) {
    match app
        .admin(Request::AppAdd(spec))
        .await
        .expect("app add works")
    {
        Response::App {
            app, client_secret, ..
        } => (app.client_id.expect("an OIDC app"), client_secret),
        other => panic!("unexpected {other:?}"),
    }
}

pub fn wiki(public: bool) -> AppSpec {
    AppSpec {
        name: "Wiki".into(),
        redirect_uris: vec![REDIRECT.into()],
        logout_uris: vec!["https://wiki.agency.lan/bye".into()],
        public,
        ..AppSpec::default()
    }
}

/// An HTTP client for the library: it must not follow redirects (RFC 6749 section 10 is
/// the library's own advice, and the token endpoint never redirects).
pub fn library_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Discovery through the library, and a client for `client_id`.
pub async fn discover(app: &TestApp, client_id: &str, secret: Option<String>) -> Client {
    let issuer = IssuerUrl::new(app.base.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &library_http())
        .await
        .expect("discovery and JWKS accepted by the library");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}

/// Follows an authorization URL as a browser would, signing in through the
/// real form when asked; the final redirect to the app (its `Location`).
pub async fn through_sign_in(
    browser: &reqwest::Client,
    app: &TestApp,
    authorize_url: &str,
    user: &str,
) -> url::Url {
    let mut res = browser.get(authorize_url).send().await.unwrap();
    let mut hops = 0;
    loop {
        assert_eq!(res.status(), 303, "a redirect, got {}", res.status());
        let to = helpers::location(&res).to_owned();
        if to.starts_with("https://") {
            return url::Url::parse(&to).unwrap();
        }
        hops += 1;
        assert!(hops < 6, "too many redirects, last {to}");
        res = if to.starts_with("/login") {
            let page = to.clone();
            let next = url::Url::parse(&format!("http://x{page}"))
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let fields = [("username", user), ("password", PASSWORD), ("next", &next)];
            helpers::submit(browser, app, &page, "/login", &fields).await
        } else {
            browser.get(app.url(&to)).send().await.unwrap()
        };
    }
}

/// The value of `name` in a URL's query.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
