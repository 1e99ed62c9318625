//! The web interface: `router(state)` builds every route, layer and error page.
//!
//! Handlers talk to [`crate::auth::Auth`] only; they never open a table.

mod assets;
mod cookies;
mod csrf;
mod errors;
mod form;
mod net;
mod notice;
mod page_cache;
mod pages;
mod render;
mod return_to;
pub(crate) mod security;
mod session;
mod templates;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::Auth;
use crate::auth::guard::RateLimiter;

pub use errors::WebError;
pub use templates::Templates;

/// The request parsers, public for the fuzz targets in `fuzz/`.
pub mod parsers {
    pub use super::cookies::get as cookie;
    pub use super::csrf::token_matches as csrf_token_matches;
    pub use super::form::parse as form;
}

/// Largest request body accepted (CONTRACT section 4: 413 above it).
pub const MAX_BODY: usize = 16 * 1024;
/// A body that takes longer than this to arrive is refused (SECURITY I1).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many rendered signed-in pages are kept (a few KiB each).
const PAGE_CACHE_CAPACITY: usize = 256;
/// How many client addresses the rate limiter tracks at once.
const RATE_LIMIT_CAPACITY: usize = 50_000;

/// Everything a handler may use; one reference count to clone (every
/// extractor and middleware takes its own copy).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub auth: Arc<Auth>,
    templates: Templates,
    limiter: RateLimiter,
    csrf_key: [u8; 32],
    /// [`render::site_ctx`] of the configuration.
    site: minijinja::Value,
    pages: page_cache::PageCache,
    session_cookie: cookies::SessionCookie,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(auth: Arc<Auth>, templates: Templates) -> anyhow::Result<Self> {
        let csrf_key = auth.store.csrf_key().context("reading the data file")?;
        let limiter = RateLimiter::per_minute(
            auth.config.rate_limit.per_ip_per_minute,
            RATE_LIMIT_CAPACITY,
        );
        let site =
            render::site_ctx(&auth.config, &templates).context("rendering the password rules")?;
        let session_cookie = cookies::SessionCookie::new(
            auth.config.server.https(),
            auth.config.forward_auth.cookie_domain.as_deref(),
        );
        Ok(Self(Arc::new(Shared {
            auth,
            templates,
            limiter,
            csrf_key,
            site,
            pages: page_cache::PageCache::new(PAGE_CACHE_CAPACITY),
            session_cookie,
        })))
    }

    /// Counts a POST against the client's per-minute limit; past it, audits and refuses (429).
    async fn limit(&self, ip: std::net::IpAddr, what: &str) -> Result<(), WebError> {
        if self.limiter.allow(ip) {
            return Ok(());
        }
        let origin = crate::store::audit::Origin::web(ip);
        self.auth
            .record(
                crate::store::audit::Event::RateLimited,
                None,
                origin,
                what.to_owned(),
            )
            .await?;
        Err(WebError::RateLimited)
    }

    /// Where a browser may be sent after signing in: a path on this site,
    /// or a URL of `base_url` or of a host an app lists (SECURITY F2).
    fn return_address<'a>(&self, next: &'a str) -> Option<&'a str> {
        return_to::safe(next).or_else(|| {
            let base = &self.auth.config.server.base_url;
            let own = base.authority();
            let apps = self.auth.apps().ok()?;
            return_to::safe_url(next, base.https(), |authority| {
                authority == own || crate::auth::forward::guarding(&apps, authority).is_some()
            })
        })
    }

    fn https(&self) -> bool {
        self.auth.config.server.https()
    }
}

/// The OpenID Connect endpoints apps call from their servers (or, for a
/// browser app, from its page): one CORS layer over the three.
fn machine_endpoints(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/oauth2/token",
            post(pages::oidc::token).options(pages::oidc::preflight),
        )
        .route(
            "/oauth2/userinfo",
            get(pages::oidc::userinfo)
                .post(pages::oidc::userinfo)
                .options(pages::oidc::preflight),
        )
        .route(
            "/oauth2/revoke",
            post(pages::oidc::revoke).options(pages::oidc::preflight),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            pages::oidc::cors,
        ))
}

/// The console (CONTRACT section 8).
fn console() -> Router<AppState> {
    use pages::admin;
    Router::new()
        .route("/admin", get(admin::locked))
        .route("/admin/accounts", get(admin::accounts))
        .route(
            "/admin/accounts/{name}",
            get(admin::account).post(admin::act),
        )
        .route("/admin/add", get(admin::add_page).post(admin::add_one))
        .route(
            "/admin/licenses",
            get(admin::licenses).post(admin::renew_agency),
        )
        .route("/admin/licenses.csv", get(admin::licenses_csv))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/audit.csv", get(admin::audit_csv))
        .route("/admin/apps", get(admin::apps).post(admin::app_action))
        .route("/admin/mail", get(admin::mail).post(admin::retry))
}

/// The whole web application as a function of its state.
pub fn router(state: AppState) -> Router {
    // The console's CSV upload is the one body larger than MAX_BODY.
    let upload = Router::new()
        .route("/admin/import", post(pages::admin::import))
        .layer(RequestBodyLimitLayer::new(form::MAX_UPLOAD));
    Router::new()
        .route("/", get(pages::home::home))
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route(
            "/forgot",
            get(pages::forgot::show).post(pages::forgot::submit),
        )
        .route(
            "/reset/{token}",
            get(pages::reset::show).post(pages::reset::submit),
        )
        .route(
            "/confirm-email/{token}",
            get(pages::confirm::show).post(pages::confirm::submit),
        )
        .route("/profile/password", post(pages::profile::password))
        .route("/profile/contact", post(pages::profile::contact))
        .route(
            "/password/expired",
            get(pages::expired::show).post(pages::expired::submit),
        )
        .route("/profile", get(pages::profile::show))
        .route("/help", get(pages::home::help))
        .route(
            "/setup/{token}",
            get(pages::setup::show).post(pages::setup::submit),
        )
        .route(
            "/.well-known/openid-configuration",
            get(pages::oidc::discovery),
        )
        .route("/oauth2/jwks", get(pages::oidc::jwks))
        .route(
            pages::oidc::AUTHORIZE,
            get(pages::oidc::authorize_get).post(pages::oidc::authorize_post),
        )
        .merge(machine_endpoints(state.clone()))
        .route(
            "/oauth2/logout",
            get(pages::oidc::logout_get).post(pages::oidc::logout_post),
        )
        .route(
            "/api/authz/forward-auth",
            get(pages::forward_auth::forward_auth),
        )
        .route(
            "/api/authz/auth-request",
            get(pages::forward_auth::auth_request),
        )
        .route("/healthz", get(pages::health))
        .route("/static/{*path}", get(assets::serve))
        .merge(console())
        .fallback(pages::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .merge(upload)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::restrict,
        ))
        .layer(CatchPanicLayer::custom(errors::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .with_state(state)
}
