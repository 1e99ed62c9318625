//! `app add/list/show/set/remove/rotate-secret` and `oidc rotate-key`
//! (CONTRACT section 7).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ops::{Ops, resolve_groups};
use super::protocol::*;
use crate::domain::group::AppName;
use crate::domain::token;
use crate::oidc::provider::secret_hash;
use crate::store::apps::AppRecord;
use crate::store::audit::Event;

impl Ops<'_> {
    pub(super) fn app_add(&self, spec: AppSpec) -> Result<Response, OpError> {
        let name = AppName::parse(&spec.name).map_err(OpError::AppName)?;
        let redirect_uris = uris("redirect URI", &spec.redirect_uris)?;
        let logout_uris = uris("logout URI", &spec.logout_uris)?;
        let url = spec
            .url
            .as_deref()
            .map(|u| web_url("--url", u))
            .transpose()?;
        let hosts = hosts(&spec.hosts)?;
        let secret = (!spec.public && !redirect_uris.is_empty()).then(token::new_token);
        let app = self.store.write(|tx| {
            if let Some(existing) = tx.apps()?.get(name.key())? {
                return Err(OpError::AppExists(existing.name.into()));
            }
            let groups = resolve_groups(&tx.groups()?, &spec.groups)?;
            let app = AppRecord {
                name: name.clone(),
                id: URL_SAFE_NO_PAD.encode(token::random_bytes::<16>()),
                public: spec.public,
                secret_hash: secret.as_ref().map(|s| secret_hash(s.expose())),
                redirect_uris,
                logout_uris,
                groups,
                url,
                hosts,
                created_at: tx.now(),
            };
            tx.apps()?.put(&app)?;
            tx.record(
                Event::AppCreated,
                None,
                &self.origin,
                Some(format!("app {}", app.name)),
            )?;
            Ok::<_, OpError>(app)
        })?;
        Ok(self.app_response(&app, secret.map(|s| s.expose().to_owned())))
    }

    pub(super) fn app_list(&self) -> Result<Response, OpError> {
        let apps = self.store.read(|tx| tx.apps()?.all())?;
        Ok(Response::Apps {
            apps: apps.iter().map(view).collect(),
        })
    }

    pub(super) fn app_show(&self, name: &str) -> Result<Response, OpError> {
        let app = self.store.read(|tx| find(&tx.apps()?, name))?;
        Ok(self.app_response(&app, None))
    }

    pub(super) fn app_set(&self, name: &str, c: AppChanges) -> Result<Response, OpError> {
        if c.is_empty() {
            return Err(OpError::NothingToChangeInApp);
        }
        let redirect_uris = c
            .redirect_uris
            .as_deref()
            .map(|u| uris("redirect URI", u))
            .transpose()?;
        let logout_uris = c
            .logout_uris
            .as_deref()
            .map(|u| uris("logout URI", u))
            .transpose()?;
        let url = match c.url.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(u) => Some(Some(web_url("--url", u)?)),
        };
        let hosts = c.hosts.as_deref().map(hosts).transpose()?;
        let wanted = c.groups;
        let (app, secret) = self.store.write(|tx| {
            let mut app = find(&tx.apps()?, name)?;
            let mut changed = Vec::new();
            let mut secret = None;
            if let Some(uris) = redirect_uris {
                // An app that gains its first redirect URI becomes an OIDC client.
                if app.redirect_uris.is_empty() && !uris.is_empty() && !app.public {
                    let s = token::new_token();
                    app.secret_hash = Some(secret_hash(s.expose()));
                    secret = Some(s.expose().to_owned());
                }
                app.redirect_uris = uris;
                changed.push("redirect URIs");
            }
            if let Some(uris) = logout_uris {
                app.logout_uris = uris;
                changed.push("logout URIs");
            }
            if let Some(url) = url {
                app.url = url;
                changed.push("url");
            }
            if let Some(hosts) = hosts {
                app.hosts = hosts;
                changed.push("hosts");
            }
            if let Some(wanted) = &wanted {
                app.groups = resolve_groups(&tx.groups()?, wanted)?;
                changed.push("groups");
            }
            tx.apps()?.put(&app)?;
            let detail = format!("app {}: changed {}", app.name, changed.join(", "));
            tx.record(Event::AppUpdated, None, &self.origin, Some(detail))?;
            Ok::<_, OpError>((app, secret))
        })?;
        Ok(self.app_response(&app, secret))
    }

    /// Removes the app and ends every grant it holds in the same transaction.
    pub(super) fn app_remove(&self, name: &str) -> Result<Response, OpError> {
        let message = self.store.write(|tx| {
            let app = find(&tx.apps()?, name)?;
            tx.apps()?.remove(app.name.key())?;
            let revoked = tx.oauth()?.revoke_app(&app.id)?;
            let detail = format!("app {}; {revoked} grant(s) revoked", app.name);
            tx.record(Event::AppRemoved, None, &self.origin, Some(detail.clone()))?;
            Ok::<_, OpError>(format!("removed {detail}"))
        })?;
        Ok(Response::Done { message })
    }

    /// A new client secret, shown once; the old one stops working at once.
    pub(super) fn app_rotate_secret(&self, name: &str) -> Result<Response, OpError> {
        let secret = token::new_token();
        let app = self.store.write(|tx| {
            let mut app = find(&tx.apps()?, name)?;
            if app.public {
                return Err(OpError::PublicApp(app.name.into()));
            }
            if !app.speaks_oidc() {
                return Err(OpError::NotOidc(app.name.into()));
            }
            app.secret_hash = Some(secret_hash(secret.expose()));
            tx.apps()?.put(&app)?;
            let detail = format!("app {}: new client secret", app.name);
            tx.record(Event::AppUpdated, None, &self.origin, Some(detail))?;
            Ok::<_, OpError>(app)
        })?;
        Ok(self.app_response(&app, Some(secret.expose().to_owned())))
    }

    pub(super) fn oidc_rotate_key(&self) -> Result<Response, OpError> {
        let kid = self
            .keys
            .rotate(self.store.now())
            .map_err(|e| OpError::Key(e.to_string()))?;
        self.store.write(|tx| {
            tx.record(
                Event::KeyRotated,
                None,
                &self.origin,
                Some(format!("new signing key {kid}")),
            )
        })?;
        Ok(Response::Done {
            message: format!(
                "new signing key {kid}; the previous one stays in the JWKS until the ID tokens it signed have expired"
            ),
        })
    }

    fn app_response(&self, app: &AppRecord, client_secret: Option<String>) -> Response {
        Response::App {
            app: view(app),
            client_secret,
            discovery_url: format!("{}/.well-known/openid-configuration", self.config.issuer()),
        }
    }
}

fn find(
    apps: &crate::store::apps::Apps<impl redb::ReadableTable<&'static str, &'static [u8]>>,
    name: &str,
) -> Result<AppRecord, OpError> {
    let key = crate::domain::username::canonical_key(name);
    apps.get(&key)?
        .ok_or_else(|| OpError::NoSuchApp(name.trim().to_owned()))
}

fn view(app: &AppRecord) -> AppView {
    AppView {
        name: app.name.to_string(),
        client_id: app.speaks_oidc().then(|| app.client_id().to_owned()),
        public: app.public,
        redirect_uris: app.redirect_uris.clone(),
        logout_uris: app.logout_uris.clone(),
        groups: app.groups.clone(),
        url: app.url.clone(),
        hosts: app.hosts.clone(),
        created_at: app.created_at,
    }
}

/// Redirect and logout URIs: absolute http(s) URLs without a fragment
/// (RFC 6749 3.1.2), kept exactly as typed, since they are matched exactly (O1).
fn uris(what: &'static str, given: &[String]) -> Result<Vec<String>, OpError> {
    let mut out: Vec<String> = Vec::new();
    for uri in given {
        let checked = web_url(what, uri)?;
        if !out.contains(&checked) {
            out.push(checked);
        }
    }
    Ok(out)
}

fn web_url(what: &'static str, text: &str) -> Result<String, OpError> {
    let bad = |reason| OpError::AppValue {
        what,
        value: text.to_owned(),
        reason,
    };
    let url = url::Url::parse(text).map_err(|_| bad("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad("must be an http:// or https:// address"));
    }
    if url.fragment().is_some() || text.contains('#') {
        return Err(bad("must not have a #fragment"));
    }
    if text.contains('*') {
        return Err(bad("wildcards are not allowed; give every address exactly"));
    }
    Ok(text.to_owned())
}

/// Host names for forward-auth: lower-case DNS names, an optional port.
fn hosts(given: &[String]) -> Result<Vec<String>, OpError> {
    let mut out: Vec<String> = Vec::new();
    for host in given {
        let h = host.trim().to_ascii_lowercase();
        let (name, port) = match h.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (h.as_str(), None),
        };
        let name_ok = crate::domain::email::is_domain(name);
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if !name_ok || !port_ok {
            return Err(OpError::AppValue {
                what: "host",
                value: host.clone(),
                reason: "must be a host name such as wiki.agency.lan (with :port if not the default)",
            });
        }
        if !out.contains(&h) {
            out.push(h);
        }
    }
    Ok(out)
}
