//! Codes, tokens, refresh and revocation: every decision of the provider,
//! each in one store transaction, with the account re-checked every time (O6).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{OAuthError, ProviderError, has_scope, jwt};
use crate::auth::Auth;
use crate::auth::login::password_expired;
use crate::auth::sessions::ActiveSession;
use crate::auth::sessions::barred;
use crate::config::Config;
use crate::domain::secret::Secret;
use crate::domain::token;
use crate::metrics::bump;
use crate::store::apps::AppRecord;
use crate::store::audit::{Event, Origin};
use crate::store::oauth::{CodeRecord, GrantId, GrantRecord, OAuthMut, TokenKind, TokenRecord};
use crate::store::sessions::EndReason;
use crate::store::users::UserRecord;
use crate::store::{StoreError, Write};

/// How long an authorization code may wait for its redemption (O2).
pub const CODE_TTL: SignedDuration = SignedDuration::from_secs(60);

/// The SHA-256 of a client secret, as the app record keeps it (base64url).
pub fn secret_hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// PKCE S256 (RFC 7636 section 4.2): the challenge a verifier answers.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 section 4.1: 43-128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Why an account may get no token from `app` now; `None` when it may (O6).
/// The reason goes into the audit (`token_refused`), never to the app.
pub fn refusal(
    config: &Config,
    user: &UserRecord,
    app: &AppRecord,
    now: Timestamp,
) -> Option<&'static str> {
    let auto_unlock = config.lockout.auto_unlock_after.map(|d| d.signed());
    if let Some(barred) = barred(user, now, auto_unlock) {
        Some(match barred {
            EndReason::Disabled => "account disabled",
            EndReason::Locked => "account locked",
            _ => "license expired",
        })
    } else if user.password_hash.is_none() {
        Some("account not set up")
    } else if user.must_change || password_expired(user, config.policy.max_age.signed(), now) {
        Some("password change required")
    } else if !app.admits(&user.groups) {
        Some("not in the app's groups")
    } else {
        None
    }
}

/// The claims `scope` releases about `user` (OpenID Connect Core 5.4).
pub fn scope_claims(user: &UserRecord, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    if has_scope(scope, "profile") {
        claims.insert("name".into(), user.display_name().into());
        claims.insert("preferred_username".into(), user.username.as_str().into());
    }
    if has_scope(scope, "email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), email.to_string().into());
        // Addresses are set by an administrator or confirmed by a mailed link.
        claims.insert("email_verified".into(), true.into());
    }
    if has_scope(scope, "phone")
        && let Some(phone) = &user.phone
    {
        claims.insert("phone_number".into(), phone.to_string().into());
    }
    if has_scope(scope, "groups") {
        claims.insert("groups".into(), user.groups.clone().into());
    }
    claims
}

/// What the authorization endpoint binds a code to.
pub struct CodeRequest {
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub challenge: Option<String>,
}

/// The token endpoint's grant, as parsed from its form.
pub enum Grant {
    Code {
        code: String,
        redirect_uri: String,
        verifier: Option<String>,
    },
    Refresh {
        token: String,
        /// A narrower scope asked for (RFC 6749 section 6).
        scope: Option<String>,
    },
}

/// How the client said who it is at the token or revocation endpoint.
pub struct ClientAuth {
    pub client_id: String,
    /// `client_secret_basic` or `client_secret_post`; `None` for a public client.
    pub secret: Option<Secret>,
}

/// A successful token answer (RFC 6749 section 5.1, OIDC Core 3.1.3.3).
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub id_token: String,
    pub expires_in: i64,
    pub scope: String,
}

/// What a token transaction decided: tokens to sign, or a refusal that
/// must still be committed (a revocation, its audit).
enum Decided {
    Issued(Box<Issue>),
    Refused(OAuthError),
}

/// Tokens made in the transaction, and the ID token's claims to sign after it.
struct Issue {
    access: Secret,
    refresh: Secret,
    claims: Value,
    scope: String,
}

impl Auth {
    /// The registered OIDC app behind a `client_id`.
    pub async fn oidc_app(&self, client_id: &str) -> Result<Option<AppRecord>, StoreError> {
        let key = client_id.to_owned();
        let app = self.store.read(|tx| tx.apps()?.get(&key))?;
        Ok(app.filter(AppRecord::speaks_oidc))
    }

    /// Issues an authorization code for the signed-in account, or says why
    /// not (audited as `token_refused`).
    pub async fn issue_code(
        &self,
        app: AppRecord,
        session: &ActiveSession,
        request: CodeRequest,
        origin: Origin,
    ) -> Result<Result<Secret, &'static str>, StoreError> {
        let key = session.user.key();
        let auth_time = session.signed_in_at;
        let config = self.config.clone();
        self.store
            .write_blocking(move |tx| {
                let now = tx.now();
                let mut users = tx.users()?;
                let Some(mut user) = users.get(&key)? else {
                    return Ok(Err("account deleted"));
                };
                if let Some(why) = refusal(&config, &user, &app, now) {
                    drop(users);
                    refused(tx, &app, &user, &origin, why)?;
                    return Ok(Err(why));
                }
                let subject = match &user.subject {
                    Some(s) => s.clone(),
                    None => {
                        let s = URL_SAFE_NO_PAD.encode(token::random_bytes::<16>());
                        user.subject = Some(s.clone());
                        users.put(&user)?;
                        s
                    }
                };
                let code = token::new_token();
                let record = CodeRecord {
                    app: app.client_id().to_owned(),
                    app_id: app.id.clone(),
                    user: key,
                    subject,
                    redirect_uri: request.redirect_uri,
                    challenge: request.challenge,
                    nonce: request.nonce,
                    scope: request.scope,
                    auth_time,
                    expires_at: now.saturating_add(CODE_TTL).unwrap_or(now),
                    redeemed: None,
                };
                tx.oauth()?.put_code(&token::hash(code.expose()), &record)?;
                Ok(Ok(code))
            })
            .await
    }

    /// The token endpoint: a code or a refresh token for tokens.
    pub async fn token(
        &self,
        client: ClientAuth,
        grant: Grant,
        origin: Origin,
    ) -> Result<Result<Tokens, OAuthError>, ProviderError> {
        let app = match self.authenticate(&client).await? {
            Ok(app) => app,
            Err(e) => {
                bump(&self.metrics.tokens_refused);
                return Ok(Err(e));
            }
        };
        let config = self.config.clone();
        let ttl = self.config.oidc.access_token_ttl.signed();
        let keys = self.keys.clone();
        // One hop to the blocking pool for the transaction and the signature.
        let signed = self
            .store
            .blocking(move |store| {
                let decided = store.write(|tx| {
                    let cx = Exchange {
                        tx,
                        config: &config,
                        app: &app,
                        origin: &origin,
                        issuer: config.issuer(),
                    };
                    match grant {
                        Grant::Code {
                            code,
                            redirect_uri,
                            verifier,
                        } => redeem_code(&cx, &code, &redirect_uri, verifier),
                        Grant::Refresh { token, scope } => refresh(&cx, &token, scope),
                    }
                })?;
                Ok::<_, ProviderError>(match decided {
                    Decided::Issued(issue) => {
                        let id_token = jwt::sign(&keys, &issue.claims, store.now())?;
                        Ok((issue, id_token))
                    }
                    Decided::Refused(e) => Err(e),
                })
            })
            .await?;
        let (issue, id_token) = match signed {
            Ok(signed) => signed,
            Err(e) => {
                bump(&self.metrics.tokens_refused);
                return Ok(Err(e));
            }
        };
        bump(&self.metrics.tokens_issued);
        Ok(Ok(Tokens {
            access_token: issue.access,
            refresh_token: issue.refresh,
            id_token,
            expires_in: ttl.as_secs(),
            scope: issue.scope,
        }))
    }

    /// The claims an access token releases (`/oauth2/userinfo`), or `None`
    /// for an unknown, expired or revoked token or an account that may no
    /// longer use the app.
    pub async fn userinfo(&self, access_token: &str) -> Result<Option<Value>, StoreError> {
        if !token::looks_valid(access_token) {
            return Ok(None);
        }
        let hash = token::hash(access_token);
        let config = self.config.clone();
        self.store.read(|tx| {
            let now = tx.now();
            let oauth = tx.oauth()?;
            let Some(t) = oauth.token(&hash)? else {
                return Ok(None);
            };
            if t.kind != TokenKind::Access || now >= t.expires_at {
                return Ok(None);
            }
            let Some(grant) = oauth.grant(&t.grant)? else {
                return Ok(None);
            };
            let Some(app) = tx.apps()?.get(&grant.app)?.filter(|a| a.id == grant.app_id) else {
                return Ok(None);
            };
            let Some(user) = tx.users()?.get(&grant.user)? else {
                return Ok(None);
            };
            if !same_account(&user, &grant) || refusal(&config, &user, &app, now).is_some() {
                return Ok(None);
            }
            let mut claims = scope_claims(&user, &t.scope);
            claims.insert("sub".into(), grant.subject.into());
            Ok(Some(Value::Object(claims)))
        })
    }

    /// RFC 7009: revokes a refresh token (its whole grant) or an access
    /// token of the authenticated client. An unknown token, or another
    /// client's, is answered alike and left alone.
    pub async fn revoke(
        &self,
        client: ClientAuth,
        presented: String,
    ) -> Result<Result<(), OAuthError>, StoreError> {
        let app = match self.authenticate(&client).await? {
            Ok(app) => app,
            Err(e) => return Ok(Err(e)),
        };
        if !token::looks_valid(&presented) {
            return Ok(Ok(()));
        }
        let hash = token::hash(&presented);
        self.store
            .write_blocking(move |tx| {
                let mut oauth = tx.oauth()?;
                let Some(t) = oauth.token(&hash)? else {
                    return Ok(Ok(()));
                };
                let Some(grant) = oauth.grant(&t.grant)? else {
                    return Ok(Ok(()));
                };
                if grant.app != app.client_id() || grant.app_id != app.id {
                    return Ok(Ok(()));
                }
                match t.kind {
                    TokenKind::Refresh => oauth.revoke_grant(&t.grant)?,
                    TokenKind::Access => oauth.remove_token(&hash)?,
                };
                Ok(Ok(()))
            })
            .await
    }

    /// The app a token or revocation request comes from, if its
    /// credentials are right: a confidential app's secret compared in
    /// constant time (O4); a public app presents none.
    async fn authenticate(
        &self,
        client: &ClientAuth,
    ) -> Result<Result<AppRecord, OAuthError>, StoreError> {
        let Some(app) = self.oidc_app(&client.client_id).await? else {
            return Ok(Err(OAuthError::invalid_client()));
        };
        let ok = match (&app.secret_hash, &client.secret) {
            (Some(stored), Some(given)) => {
                let given = secret_hash(given.expose());
                bool::from(given.as_bytes().ct_eq(stored.as_bytes()))
            }
            (None, None) => app.public,
            _ => false,
        };
        Ok(if ok {
            Ok(app)
        } else {
            Err(OAuthError::invalid_client())
        })
    }
}

/// A grant still belongs to the account it was made for: same subject
/// (not a deleted and re-created name) and no revocation of its sessions since.
fn same_account(user: &UserRecord, grant: &GrantRecord) -> bool {
    user.subject.as_deref() == Some(grant.subject.as_str()) && user.session_epoch == grant.epoch
}

/// Audits a refusal to `app` in the transaction.
fn refused(
    tx: &Write,
    app: &AppRecord,
    user: &UserRecord,
    origin: &Origin,
    why: &str,
) -> Result<(), StoreError> {
    tx.record(
        Event::TokenRefused,
        Some(user.username.as_str()),
        origin,
        Some(format!("app {}: {why}", app.name)),
    )
}

/// One token request inside its write transaction: the app that
/// authenticated, where the request came from, and the settings it reads.
struct Exchange<'a> {
    tx: &'a Write,
    config: &'a Config,
    app: &'a AppRecord,
    origin: &'a Origin,
    issuer: String,
}

impl Exchange<'_> {
    fn access_ttl(&self) -> SignedDuration {
        self.config.oidc.access_token_ttl.signed()
    }

    /// The ID token's claims (OpenID Connect Core 2 and 3.1.3.6).
    fn id_claims(
        &self,
        user: &UserRecord,
        grant: &GrantRecord,
        scope: &str,
        nonce: Option<&str>,
        access: &Secret,
    ) -> Value {
        let now = self.tx.now();
        let digest = Sha256::digest(access.expose().as_bytes());
        let mut claims = scope_claims(user, scope);
        let base = json!({
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": self.app.client_id(),
            "exp": now.as_second() + self.access_ttl().as_secs(),
            "iat": now.as_second(),
            "auth_time": grant.auth_time.as_second(),
            // OIDC Core 3.1.3.6: the left half of the access token's SHA-256.
            "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]),
        });
        if let Value::Object(base) = base {
            claims.extend(base);
        }
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), nonce.into());
        }
        Value::Object(claims)
    }
}

fn redeem_code(
    cx: &Exchange,
    code: &str,
    redirect_uri: &str,
    verifier: Option<String>,
) -> Result<Decided, StoreError> {
    let Exchange {
        tx,
        config,
        app,
        origin,
        ..
    } = *cx;
    let (ttl, refresh_ttl) = (cx.access_ttl(), config.refresh_token_ttl());
    let now = tx.now();
    let refuse = |why: &str| Ok(Decided::Refused(OAuthError::invalid_grant(why)));
    if !token::looks_valid(code) {
        return refuse("unknown, expired or used code");
    }
    let hash = token::hash(code);
    let mut oauth = tx.oauth()?;
    let Some(mut record) = oauth.code(&hash)? else {
        return refuse("unknown, expired or used code");
    };
    if record.app != app.client_id() || record.app_id != app.id {
        return refuse("the code was issued to another client");
    }
    if let Some(grant) = record.redeemed {
        // O2: whoever holds the code may hold the tokens it gave.
        replayed(
            cx,
            oauth,
            &grant,
            None,
            "a code used twice; the tokens it gave are revoked",
        )?;
        return refuse("unknown, expired or used code");
    }
    if now >= record.expires_at {
        return refuse("unknown, expired or used code");
    }
    if record.redirect_uri != redirect_uri {
        return refuse("redirect_uri differs from the authorization request's");
    }
    match (&record.challenge, &verifier) {
        (Some(challenge), Some(v)) => {
            let matches =
                is_verifier(v) && bool::from(s256(v).as_bytes().ct_eq(challenge.as_bytes()));
            if !matches {
                return refuse("code_verifier does not match the code_challenge");
            }
        }
        (Some(_), None) => return refuse("code_verifier is required for this code"),
        (None, Some(_)) => {
            return refuse("code_verifier sent for a code issued without a code_challenge");
        }
        (None, None) if app.public => return refuse("a public client must use PKCE"),
        (None, None) => {}
    }
    let user = tx.users()?.get(&record.user)?;
    let user = match user {
        Some(u) if u.subject.as_deref() == Some(record.subject.as_str()) => u,
        _ => return refuse("the account no longer exists"),
    };
    if let Some(why) = refusal(config, &user, app, now) {
        drop(oauth);
        refused(tx, app, &user, origin, why)?;
        return refuse("the account may not use this app now");
    }
    let grant_id: GrantId = token::random_bytes();
    let refresh = token::new_token();
    let grant = GrantRecord {
        app: app.client_id().to_owned(),
        app_id: app.id.clone(),
        user: record.user.clone(),
        subject: record.subject.clone(),
        epoch: user.session_epoch,
        scope: record.scope.clone(),
        auth_time: record.auth_time,
        nonce: record.nonce.clone(),
        created_at: now,
        expires_at: now.saturating_add(refresh_ttl).unwrap_or(now),
        refresh: token::hash(refresh.expose()),
    };
    oauth.put_grant(&grant_id, &grant)?;
    oauth.put_token(
        &grant.refresh,
        &TokenRecord {
            kind: TokenKind::Refresh,
            grant: grant_id,
            scope: grant.scope.clone(),
            expires_at: grant.expires_at,
        },
    )?;
    let access = new_access(&mut oauth, grant_id, &grant.scope, now, ttl)?;
    record.redeemed = Some(grant_id);
    oauth.put_code(&hash, &record)?;
    drop(oauth);
    tx.record(
        Event::TokenIssued,
        Some(user.username.as_str()),
        origin,
        Some(format!("app {} (authorization code)", app.name)),
    )?;
    let claims = cx.id_claims(&user, &grant, &grant.scope, grant.nonce.as_deref(), &access);
    Ok(Decided::Issued(Box::new(Issue {
        access,
        refresh,
        claims,
        scope: grant.scope,
    })))
}

fn refresh(cx: &Exchange, presented: &str, scope: Option<String>) -> Result<Decided, StoreError> {
    let Exchange {
        tx,
        config,
        app,
        origin,
        ..
    } = *cx;
    let ttl = cx.access_ttl();
    let now = tx.now();
    let refuse = |why: &str| Ok(Decided::Refused(OAuthError::invalid_grant(why)));
    if !token::looks_valid(presented) {
        return refuse("unknown, expired or revoked refresh token");
    }
    let hash = token::hash(presented);
    let mut oauth = tx.oauth()?;
    let found = oauth.token(&hash)?.filter(|t| t.kind == TokenKind::Refresh);
    let Some(t) = found else {
        return refuse("unknown, expired or revoked refresh token");
    };
    let Some(mut grant) = oauth.grant(&t.grant)? else {
        return refuse("unknown, expired or revoked refresh token");
    };
    if grant.app != app.client_id() || grant.app_id != app.id {
        return refuse("the refresh token was issued to another client");
    }
    if !bool::from(grant.refresh.ct_eq(&hash)) {
        // O6: a rotated-out token came back. One of its holders is not the
        // app: end the whole family.
        let user = tx.users()?.get(&grant.user)?;
        let name = user.as_ref().map(|u| u.username.as_str());
        replayed(
            cx,
            oauth,
            &t.grant,
            name,
            "a refresh token used twice; its family is revoked",
        )?;
        return refuse("unknown, expired or revoked refresh token");
    }
    if now >= grant.expires_at {
        return refuse("unknown, expired or revoked refresh token");
    }
    let user = match tx.users()?.get(&grant.user)? {
        Some(u) => u,
        None => return refuse("the account no longer exists"),
    };
    if !same_account(&user, &grant) {
        oauth.revoke_grant(&t.grant)?;
        drop(oauth);
        refused(tx, app, &user, origin, "the account's sessions were ended")?;
        return refuse("the account's sessions were ended; sign in again");
    }
    if let Some(why) = refusal(config, &user, app, now) {
        drop(oauth);
        refused(tx, app, &user, origin, why)?;
        return refuse("the account may not use this app now");
    }
    let scope = match scope {
        None => grant.scope.clone(),
        Some(asked) => {
            let asked = super::known_scopes(&asked);
            if !asked
                .split(' ')
                .filter(|s| !s.is_empty())
                .all(|s| has_scope(&grant.scope, s))
            {
                return Ok(Decided::Refused(OAuthError::new(
                    "invalid_scope",
                    "a refresh cannot widen the scope",
                )));
            }
            asked
        }
    };
    let refresh = token::new_token();
    grant.refresh = token::hash(refresh.expose());
    oauth.put_grant(&t.grant, &grant)?;
    oauth.put_token(
        &grant.refresh,
        &TokenRecord {
            kind: TokenKind::Refresh,
            grant: t.grant,
            scope: grant.scope.clone(),
            expires_at: grant.expires_at,
        },
    )?;
    let access = new_access(&mut oauth, t.grant, &scope, now, ttl)?;
    drop(oauth);
    tx.record(
        Event::TokenIssued,
        Some(user.username.as_str()),
        origin,
        Some(format!("app {} (refresh)", app.name)),
    )?;
    // OIDC Core 12.2: the refreshed ID token keeps the original auth_time;
    // a nonce belongs to the authentication request, not to a refresh.
    let claims = cx.id_claims(&user, &grant, &scope, None, &access);
    Ok(Decided::Issued(Box::new(Issue {
        access,
        refresh,
        claims,
        scope,
    })))
}

/// A spent code or refresh token came back: one of its holders is not the
/// app, so the grant ends with every token it gave (O2, O6), audited.
fn replayed(
    cx: &Exchange,
    mut oauth: OAuthMut,
    grant: &GrantId,
    user: Option<&str>,
    what: &str,
) -> Result<(), StoreError> {
    oauth.revoke_grant(grant)?;
    drop(oauth);
    let detail = format!("app {}: {what}", cx.app.name);
    cx.tx
        .record(Event::TokenRefused, user, cx.origin, Some(detail))
}

fn new_access(
    oauth: &mut OAuthMut,
    grant: GrantId,
    scope: &str,
    now: Timestamp,
    ttl: SignedDuration,
) -> Result<Secret, StoreError> {
    let access = token::new_token();
    oauth.put_token(
        &token::hash(access.expose()),
        &TokenRecord {
            kind: TokenKind::Access,
            grant,
            scope: scope.to_owned(),
            expires_at: now.saturating_add(ttl).unwrap_or(now),
        },
    )?;
    Ok(access)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 appendix B.
    #[test]
    fn s256_matches_the_rfc_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_verifier(verifier));
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!is_verifier("short"));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}!", "a".repeat(43))));
    }
}
