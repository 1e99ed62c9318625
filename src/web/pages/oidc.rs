//! The OpenID Connect endpoints (CONTRACT section 7): discovery, JWKS,
//! authorize, token, userinfo, revoke and RP-initiated logout. Decisions
//! are in [`crate::oidc::provider`]; this module speaks HTTP.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use minijinja::context;
use serde_json::json;

use crate::domain::secret::Secret;
use crate::oidc::provider::{ClientAuth, CodeRequest, Grant};
use crate::oidc::{CLAIMS, OAuthError, SCOPES, has_scope, jwt, known_scopes};
use crate::store::apps::AppRecord;
use crate::store::audit::Origin;
use crate::web::csrf::Csrf;
use crate::web::errors::ErrorPage;
use crate::web::form::{self, Form};
use crate::web::net::ClientIp;
use crate::web::session::{FORCED_CHANGE, MaybeSession};
use crate::web::{AppState, WebError};

pub const AUTHORIZE: &str = "/oauth2/authorize";

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 section 3).
pub async fn discovery(State(state): State<AppState>) -> Response {
    let issuer = state.auth.config.issuer();
    let at = |path: &str| format!("{issuer}{path}");
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": at(AUTHORIZE),
        "token_endpoint": at("/oauth2/token"),
        "userinfo_endpoint": at("/oauth2/userinfo"),
        "jwks_uri": at("/oauth2/jwks"),
        "revocation_endpoint": at("/oauth2/revoke"),
        "end_session_endpoint": at("/oauth2/logout"),
        "scopes_supported": SCOPES,
        "claims_supported": CLAIMS,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    public_json(StatusCode::OK, &body)
}

/// `GET /oauth2/jwks`: the public signing keys (RFC 7517).
pub async fn jwks(State(state): State<AppState>) -> Result<Response, WebError> {
    let keys = state.auth.keys.clone();
    let now = state.auth.store.now();
    let public = tokio::task::spawn_blocking(move || keys.public_keys(now))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let keys: Vec<_> = public.iter().map(|k| k.jwk()).collect();
    Ok(public_json(StatusCode::OK, &json!({ "keys": keys })))
}

/// The origin a sign-in form's redirect chain ends at when `next` is the
/// authorization request of a registered app and redirect URI, or the URL
/// of a host an app guards (for the page's `form-action`); `None` for any
/// other `next`.
pub async fn form_target(state: &AppState, next: &str) -> Option<String> {
    if !next.starts_with('/') {
        let url = state.return_address(next)?;
        return Some(url::Url::parse(url).ok()?.origin().ascii_serialization());
    }
    let (path, query) = next.split_once('?')?;
    if path != AUTHORIZE {
        return None;
    }
    let params = form::parse(query.as_bytes())?;
    let app = state.auth.oidc_app(params.get("client_id")?).await.ok()??;
    let uri = params.get("redirect_uri")?;
    if !app.redirect_uris.contains(uri) {
        return None;
    }
    Some(url::Url::parse(uri).ok()?.origin().ascii_serialization())
}

/// Lets the page's forms end at the app that sent the browser.
pub async fn allow_form_target(state: &AppState, next: &str, res: &mut Response) {
    if let Some(origin) = form_target(state, next).await {
        res.extensions_mut()
            .insert(crate::web::security::FormTargets(vec![origin]));
    }
}

/// The request's `Origin` when it is the origin of a registered app's
/// redirect URI: a browser app (a `--public` one) may then read the token,
/// userinfo and revocation answers (CORS). No cookies are involved, so no
/// credentials are allowed.
fn cors_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let apps = state.auth.apps().ok()?;
    let registered = apps
        .iter()
        .flat_map(|a| &a.redirect_uris)
        .any(|uri| url::Url::parse(uri).is_ok_and(|u| u.origin().ascii_serialization() == origin));
    registered
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

/// Middleware on the token, userinfo and revocation endpoints: their
/// answers (and the preflight below) name the requesting origin when it is
/// a registered app's.
pub async fn cors(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let allowed = cors_origin(&state, req.headers());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    res
}

/// `OPTIONS` on the token, userinfo and revocation endpoints: the CORS
/// preflight a browser sends before a request with an `Authorization` header.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if cors_origin(&state, &headers).is_some() {
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    res
}

/// JSON any origin may read (discovery and keys are public documents).
fn public_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = json_response(status, body);
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `GET /oauth2/authorize`.
pub async fn authorize_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    csrf: Csrf,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let params = form::parse(query.unwrap_or_default().as_bytes());
    authorize(&state, ip, session, &csrf, params).await
}

/// `POST /oauth2/authorize` (OpenID Connect Core 3.1.2.1: the same
/// parameters as a form). It comes from the app's page, so it carries no
/// CSRF token; it changes nothing but issuing a code to the registered URI.
pub async fn authorize_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    csrf: Csrf,
    body: Bytes,
) -> Result<Response, WebError> {
    authorize(&state, ip, session, &csrf, form::parse(&body)).await
}

/// A page instead of a redirect: the client or its redirect URI is not
/// one latchkey knows, so nothing may be sent there (O1).
fn refuse_page(title: &'static str, message: &'static str) -> Response {
    let mut res = StatusCode::BAD_REQUEST.into_response();
    res.extensions_mut().insert(ErrorPage {
        title,
        message,
        error_id: None,
    });
    res
}

/// The redirect URI with `params` added to its query (RFC 6749 3.1.2: its
/// own query is kept).
fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.into()
        }
        Err(_) => "/".into(),
    }
}

/// An error answered at the (verified) redirect URI, `state` untouched (O7).
fn error_back(issuer: &str, redirect_uri: &str, state: Option<&str>, e: &OAuthError) -> Response {
    let mut params = vec![
        ("error", e.error),
        ("error_description", e.error_description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    Redirect::to(&with_query(redirect_uri, &params)).into_response()
}

/// The authorization request as a same-site path, for the sign-in page to
/// come back to; without `prompt` and `max_age` once they have been honoured
/// by sending the browser to sign in.
fn authorize_path(params: &HashMap<String, String>, drop_login_prompts: bool) -> String {
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for name in names {
        if drop_login_prompts && (name == "prompt" || name == "max_age") {
            continue;
        }
        q.append_pair(name, &params[name]);
    }
    format!("{AUTHORIZE}?{}", q.finish())
}

async fn authorize(
    state: &AppState,
    ip: std::net::IpAddr,
    session: MaybeSession,
    csrf: &Csrf,
    params: Option<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let Some(params) = params else {
        return Ok(refuse_page(
            "Bad sign-in request",
            "The app sent a request that could not be read (a parameter twice, or bad encoding). Go back to the app and try again.",
        ));
    };
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let app = match get("client_id") {
        Some(id) => state.auth.oidc_app(id).await?,
        None => None,
    };
    let Some(app) = app else {
        return Ok(refuse_page(
            "Unknown app",
            "The app that sent you here is not registered with this sign-in service. Tell the helpdesk which app it was.",
        ));
    };
    let Some(redirect_uri) =
        get("redirect_uri").filter(|u| app.redirect_uris.iter().any(|r| r == u))
    else {
        return Ok(refuse_page(
            "Unknown return address",
            "The app asked to be sent back to an address that is not registered for it. Tell the helpdesk which app it was.",
        ));
    };
    let issuer = state.auth.config.issuer();
    let app_state = get("state");
    let back = |e: OAuthError| Ok(error_back(&issuer, redirect_uri, app_state, &e));

    if get("response_type") != Some("code") {
        return back(OAuthError::new(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    for (name, error) in [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ] {
        if get(name).is_some() {
            return back(OAuthError::new(error, format!("{name} is not supported")));
        }
    }
    let scope = get("scope").unwrap_or("");
    if !has_scope(scope, "openid") {
        return back(OAuthError::new(
            "invalid_scope",
            "scope must contain openid",
        ));
    }
    let challenge = get("code_challenge");
    match (challenge, get("code_challenge_method")) {
        (Some(c), Some("S256")) if is_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return back(OAuthError::invalid_request("code_challenge is malformed"));
        }
        (Some(_), _) => {
            return back(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (None, Some(_)) => return back(OAuthError::invalid_request("code_challenge is missing")),
        (None, None) if app.public => {
            return back(OAuthError::invalid_request(
                "PKCE (S256) is required for this app",
            ));
        }
        (None, None) => {}
    }
    let prompts: Vec<&str> = get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return back(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(secs)) if secs >= 0 => Some(jiff::SignedDuration::from_secs(secs)),
        Some(_) => {
            return back(OAuthError::invalid_request(
                "max_age must be a number of seconds",
            ));
        }
    };

    let now = state.auth.store.now();
    let needs_fresh = |signed_in_at: jiff::Timestamp| {
        prompts.contains(&"login") || max_age.is_some_and(|m| now.duration_since(signed_in_at) > m)
    };
    let live = match &session.0 {
        Some(s) if s.restricted => {
            if prompt_none {
                return back(OAuthError::new(
                    "login_required",
                    "the account must choose a new password first",
                ));
            }
            let next = authorize_path(&params, false);
            let to = format!("{FORCED_CHANGE}?next={}", encode(&next));
            return Ok(Redirect::to(&to).into_response());
        }
        Some(s) if !needs_fresh(s.signed_in_at) => Some(s),
        _ => None,
    };
    let Some(s) = live else {
        if prompt_none {
            return back(OAuthError::new("login_required", "not signed in"));
        }
        let next = authorize_path(&params, true);
        let mut to = format!("/login?next={}", encode(&next));
        if session.0.is_some() {
            to.push_str("&fresh=1");
        }
        if let Some(hint) = get("login_hint") {
            to.push_str(&format!("&hint={}", encode(hint)));
        }
        return Ok(Redirect::to(&to).into_response());
    };
    if !app.admits(&s.user.groups) {
        let denied = OAuthError::new("access_denied", "the account may not use this app");
        if prompt_none {
            return back(denied);
        }
        let back_to_app = with_query(
            redirect_uri,
            &[
                ("error", denied.error),
                ("error_description", &denied.error_description),
                ("state", app_state.unwrap_or("")),
                ("iss", &issuer),
            ],
        );
        return Ok(not_allowed(state, csrf, &s.user, &app, &back_to_app));
    }
    let request = CodeRequest {
        redirect_uri: redirect_uri.to_owned(),
        scope: known_scopes(scope),
        nonce: get("nonce").map(str::to_owned),
        challenge: challenge.map(str::to_owned),
    };
    let issued = state
        .auth
        .issue_code(app.clone(), s, request, Origin::web(ip))
        .await?;
    match issued {
        Ok(code) => {
            let mut params = vec![("code", code.expose())];
            if let Some(st) = app_state {
                params.push(("state", st));
            }
            params.push(("iss", issuer.as_str()));
            Ok(Redirect::to(&with_query(redirect_uri, &params)).into_response())
        }
        Err(_) => back(OAuthError::new(
            "access_denied",
            "the account may not use this app now",
        )),
    }
}

/// RFC 7636 section 4.2: an S256 challenge is 43 base64url characters.
fn is_challenge(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The 403 page for an account outside the app's groups: which app, who to
/// ask, and a way back that tells the app (`access_denied`).
fn not_allowed(
    state: &AppState,
    csrf: &Csrf,
    user: &crate::store::users::UserRecord,
    app: &AppRecord,
    back_to_app: &str,
) -> Response {
    let ctx = context! { app => app.name.as_str(), back_to_app };
    state.page(
        StatusCode::FORBIDDEN,
        "app_denied.html",
        csrf,
        Some(user),
        ctx,
    )
}

/// How the token and revocation endpoints read the client's credentials:
/// HTTP Basic (RFC 6749 2.3.1: both parts form-encoded) or the form.
fn client_auth(
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<ClientAuth, OAuthError> {
    let in_form = fields.get("client_secret").filter(|s| !s.is_empty());
    let form_id = fields.get("client_id").filter(|s| !s.is_empty());
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
        let Some(encoded) = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
        else {
            return Err(OAuthError::invalid_client());
        };
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(OAuthError::invalid_client)?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(OAuthError::invalid_client)?;
        let unform =
            |s: &str| form::parse(format!("v={s}").as_bytes()).and_then(|mut m| m.remove("v"));
        let (id, secret) = (
            unform(id).ok_or_else(OAuthError::invalid_client)?,
            unform(secret).ok_or_else(OAuthError::invalid_client)?,
        );
        if in_form.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        if form_id.is_some_and(|f| *f != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the Authorization header's",
            ));
        }
        return Ok(ClientAuth {
            client_id: id,
            secret: Some(Secret::new(secret)),
        });
    }
    let Some(id) = form_id else {
        return Err(OAuthError::invalid_client());
    };
    Ok(ClientAuth {
        client_id: id.clone(),
        secret: in_form.map(|s| Secret::new(s.as_str())),
    })
}

/// A form body of the token, revocation or userinfo endpoint.
fn token_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    if !form::is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    form::parse(body).ok_or_else(|| {
        OAuthError::invalid_request("malformed form (bad encoding or a parameter twice)")
    })
}

/// An RFC 6749 section 5.2 error: 400, or 401 for a client that failed to
/// authenticate; JSON, never cached.
fn token_error(e: &OAuthError) -> Response {
    let status = if e.error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut res = no_store(json_response(status, &json!(e)));
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"latchkey\""),
        );
    }
    res
}

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let fields = match token_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return Ok(token_error(&e)),
    };
    let client = match client_auth(&headers, &fields) {
        Ok(c) => c,
        Err(e) => return Ok(token_error(&e)),
    };
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    let grant = match field("grant_type").as_deref() {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (field("code"), field("redirect_uri")) else {
                return Ok(token_error(&OAuthError::invalid_request(
                    "code and redirect_uri are required",
                )));
            };
            Grant::Code {
                code,
                redirect_uri,
                verifier: field("code_verifier"),
            }
        }
        Some("refresh_token") => {
            let Some(token) = field("refresh_token") else {
                return Ok(token_error(&OAuthError::invalid_request(
                    "refresh_token is required",
                )));
            };
            Grant::Refresh {
                token,
                scope: field("scope"),
            }
        }
        Some(_) => {
            return Ok(token_error(&OAuthError::new(
                "unsupported_grant_type",
                "only authorization_code and refresh_token are supported",
            )));
        }
        None => {
            return Ok(token_error(&OAuthError::invalid_request(
                "grant_type is required",
            )));
        }
    };
    match state.auth.token(client, grant, Origin::web(ip)).await? {
        Ok(t) => {
            let body = json!({
                "access_token": t.access_token.expose(),
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "refresh_token": t.refresh_token.expose(),
                "id_token": t.id_token,
                "scope": t.scope,
            });
            Ok(no_store(json_response(StatusCode::OK, &body)))
        }
        Err(e) => Ok(token_error(&e)),
    }
}

/// `GET`/`POST /oauth2/userinfo` (OpenID Connect Core 5.3; the token as
/// RFC 6750 sections 2.1 and 2.2 carry it).
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let from_body = if body.is_empty() {
        None
    } else {
        token_form(&headers, &body)
            .ok()
            .and_then(|mut f| f.remove("access_token"))
    };
    let unauthorized = |challenge: &'static str| {
        let mut res = no_store(json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "invalid_token" }),
        ));
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        res
    };
    let token = match (from_header, from_body) {
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Ok(unauthorized("Bearer realm=\"latchkey\"")),
        (Some(_), Some(_)) => {
            return Ok(no_store(json_response(
                StatusCode::BAD_REQUEST,
                &json!({ "error": "invalid_request" }),
            )));
        }
    };
    match state.auth.userinfo(&token).await? {
        Some(claims) => Ok(no_store(json_response(StatusCode::OK, &claims))),
        None => Ok(unauthorized(
            "Bearer realm=\"latchkey\", error=\"invalid_token\"",
        )),
    }
}

/// `POST /oauth2/revoke` (RFC 7009): 200 for every token of a client that
/// authenticated, known or not.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let fields = match token_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return Ok(token_error(&e)),
    };
    let client = match client_auth(&headers, &fields) {
        Ok(c) => c,
        Err(e) => return Ok(token_error(&e)),
    };
    let Some(presented) = fields.get("token").filter(|t| !t.is_empty()).cloned() else {
        return Ok(token_error(&OAuthError::invalid_request(
            "token is required",
        )));
    };
    match state.auth.revoke(client, presented).await? {
        Ok(()) => Ok(no_store(StatusCode::OK.into_response())),
        Err(e) => Ok(token_error(&e)),
    }
}

/// What a logout request asks, checked: where to go afterwards, and
/// whether the ID token hint names the signed-in account.
struct LogoutRequest {
    /// The registered `post_logout_redirect_uri`, with `state` added.
    then: Option<String>,
    hint_subject: Option<String>,
}

fn logout_request(
    state: &AppState,
    params: &HashMap<String, String>,
    apps: &[AppRecord],
) -> Result<LogoutRequest, &'static str> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let now = state.auth.store.now();
    let hint = match get("id_token_hint") {
        Some(t) => match jwt::verify_ours(&state.auth.keys, t, now) {
            Some(claims) => Some(claims),
            None => {
                return Err(
                    "The app sent a sign-out request with a token this service did not issue.",
                );
            }
        },
        None => None,
    };
    let hint_aud = hint.as_ref().and_then(|c| match &c["aud"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    });
    let client_id = match (get("client_id"), hint_aud.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err("The sign-out request names two different apps.");
        }
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let then = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let app = client_id
                .as_deref()
                .and_then(|id| apps.iter().find(|a| a.client_id() == id));
            match app {
                Some(app) if app.accepts_logout_uri(uri) => {
                    let params: Vec<(&str, &str)> =
                        get("state").map(|s| ("state", s)).into_iter().collect();
                    Some(if params.is_empty() {
                        uri.to_owned()
                    } else {
                        with_query(uri, &params)
                    })
                }
                _ => {
                    return Err(
                        "The app asked to be sent to an address that is not registered for it after sign-out.",
                    );
                }
            }
        }
    };
    Ok(LogoutRequest {
        then,
        hint_subject: hint.and_then(|c| c["sub"].as_str().map(str::to_owned)),
    })
}

/// `GET /oauth2/logout` (OpenID Connect RP-Initiated Logout 1.0). With an
/// ID token hint for the signed-in account the session ends at once;
/// otherwise the person is asked (a link alone must not sign anyone out).
pub async fn logout_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    csrf: Csrf,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let Some(params) = form::parse(query.unwrap_or_default().as_bytes()) else {
        return Ok(refuse_page(
            "Sign-out request refused",
            "The sign-out request could not be read.",
        ));
    };
    let apps = state.auth.apps()?;
    let request = match logout_request(&state, &params, &apps) {
        Ok(r) => r,
        Err(why) => return Ok(refuse_page("Sign-out request refused", why)),
    };
    let Some(s) = session.0 else {
        return Ok(Redirect::to(request.then.as_deref().unwrap_or("/login")).into_response());
    };
    if request.hint_subject.is_some() && request.hint_subject == s.user.subject {
        return end_and_go(&state, ip, s, request.then.as_deref()).await;
    }
    let mut fields: Vec<(String, String)> = params.into_iter().collect();
    fields.sort();
    let ctx = context! { fields };
    let mut res = state.page(StatusCode::OK, "logout.html", &csrf, Some(&s.user), ctx);
    let target = request
        .then
        .as_deref()
        .and_then(|t| url::Url::parse(t).ok())
        .map(|u| u.origin().ascii_serialization());
    if let Some(origin) = target {
        res.extensions_mut()
            .insert(crate::web::security::FormTargets(vec![origin]));
    }
    Ok(res)
}

/// `POST /oauth2/logout`: the confirmation form of [`logout_get`].
pub async fn logout_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: MaybeSession,
    form: Form,
) -> Result<Response, WebError> {
    let params: HashMap<String, String> = [
        "id_token_hint",
        "post_logout_redirect_uri",
        "state",
        "client_id",
    ]
    .into_iter()
    .filter(|n| !form.text(n).is_empty())
    .map(|n| (n.to_owned(), form.text(n).to_owned()))
    .collect();
    let apps = state.auth.apps()?;
    let request = match logout_request(&state, &params, &apps) {
        Ok(r) => r,
        Err(why) => return Ok(refuse_page("Sign-out request refused", why)),
    };
    match session.0 {
        Some(s) => end_and_go(&state, ip, s, request.then.as_deref()).await,
        None => Ok(Redirect::to(request.then.as_deref().unwrap_or("/login")).into_response()),
    }
}

async fn end_and_go(
    state: &AppState,
    ip: std::net::IpAddr,
    s: crate::auth::sessions::ActiveSession,
    then: Option<&str>,
) -> Result<Response, WebError> {
    state
        .auth
        .end_session(s.id_hash, s.user.username.into(), Origin::web(ip))
        .await?;
    let mut res = Redirect::to(then.unwrap_or("/login")).into_response();
    let cookie = state.session_cookie.clear();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
    );
    Ok(res)
}
