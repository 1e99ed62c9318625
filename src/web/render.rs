//! Rendering pages: the shared context every template gets, and the response headers of a page.

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};

use super::page_cache::PageCache;
use super::{AppState, WebError, csrf::Csrf};
use crate::domain::email::Email;
use crate::domain::password::rule_lines;
use crate::domain::phone::Phone;
use crate::domain::secret::Secret;
use crate::domain::time_left::human_duration;
use crate::store::users::UserRecord;

/// The user as templates see them (header, profile pop-up).
pub fn user_ctx(user: &UserRecord) -> Value {
    context! {
        name => user.display_name(),
        username => user.username.as_str(),
        email => user.email.as_ref().map(Email::as_str),
        phone => user.phone.as_ref().map(Phone::as_str),
    }
}

/// The part of every page's context that depends only on the configuration,
/// built once at start rather than on every request. The password rules are
/// also rendered here once (`rule_items`, from `_rule_items.html`): the
/// profile pop-up on every signed-in page lists them.
pub fn site_ctx(
    config: &crate::config::Config,
    templates: &super::Templates,
) -> Result<Value, minijinja::Error> {
    let rules = Value::from(minijinja::value::Serde(rule_lines(&config.policy.rules())));
    let rule_items = templates.render("_rule_items.html", context! { rules => rules.clone() })?;
    Ok(context! {
        org => config.organization.name.as_str(),
        link_valid_for => human_duration(config.reset.link_ttl.as_duration()),
        idle_timeout_secs => config.session.idle_timeout.as_duration().as_secs(),
        rules,
        rule_items => Value::from_safe_string(rule_items),
        helpdesk => context! {
            email => config.helpdesk.email.as_str(),
            phone => config.helpdesk.phone.as_deref(),
            hours => config.helpdesk.hours.as_str(),
        },
    })
}

impl AppState {
    /// Renders `template` with the common context (`org`, `user`, `csrf_token`, `helpdesk`, …) plus `ctx`.
    pub fn page(
        &self,
        status: StatusCode,
        template: &str,
        csrf: &Csrf,
        user: Option<&UserRecord>,
        ctx: Value,
    ) -> Response {
        // Signed-in pages that render normally are kept (web::page_cache);
        // a page that sets a cookie, an error page or an anonymous one is not.
        let cacheable = status == StatusCode::OK && user.is_some() && csrf.set_cookie.is_none();
        self.render_page(status, template, csrf, user, ctx, cacheable)
    }

    /// [`AppState::page`] for a page of live state (the console): never cached.
    pub fn fresh_page(
        &self,
        status: StatusCode,
        template: &str,
        csrf: &Csrf,
        user: Option<&UserRecord>,
        ctx: Value,
    ) -> Response {
        self.render_page(status, template, csrf, user, ctx, false)
    }

    fn render_page(
        &self,
        status: StatusCode,
        template: &str,
        csrf: &Csrf,
        user: Option<&UserRecord>,
        ctx: Value,
        cacheable: bool,
    ) -> Response {
        // Values of this request, apart from the site-wide ones.
        let request = context! {
            user => user.map(user_ctx),
            csrf_token => csrf.token.as_str(),
        };
        let key = cacheable
            .then(|| PageCache::key(template, &[&request, &ctx]))
            .flatten();
        let cached = key.as_deref().and_then(|k| self.pages.get(k));
        let html = match cached {
            Some(html) => html,
            None => {
                // The first map that has a key wins: the page's own values first.
                let full = minijinja::value::merge_maps([ctx, self.site.clone(), request]);
                match self.templates.render(template, full) {
                    Ok(html) => {
                        let html = Bytes::from(html);
                        if let Some(key) = key {
                            self.pages.insert(key, html.clone());
                        }
                        html
                    }
                    Err(e) => {
                        return WebError::Internal(format!("template {template}: {e:#}"))
                            .into_response();
                    }
                }
            }
        };
        let mut res = (status, html).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(cookie) = &csrf.set_cookie
            && let Ok(v) = HeaderValue::from_str(cookie)
        {
            headers.append(header::SET_COOKIE, v);
        }
        res
    }

    /// A 303 to `to` that also sets the session cookie to `session_id` (a new id: S3).
    pub fn redirect_with_session(&self, to: &str, session_id: &Secret) -> Response {
        let mut res = axum::response::Redirect::to(to).into_response();
        let cookie = self.session_cookie.set(session_id.expose());
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        res
    }

    /// The error page for `status` (used by the security layer for every error).
    pub fn error_page(&self, status: StatusCode, page: &super::errors::ErrorPage) -> String {
        let ctx = context! {
            org => self.auth.config.organization.name.as_str(),
            user => Value::from(()),
            csrf_token => "",
            status => status.as_u16(),
            title => page.title,
            message => page.message,
            error_id => page.error_id.as_deref(),
        };
        self.templates.render("error.html", ctx).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the error page itself failed to render");
            format!("<!doctype html><meta charset=\"utf-8\"><title>{0}</title><h1>{0}</h1><p>{1}</p>", page.title, page.message)
        })
    }
}
