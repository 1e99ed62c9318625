//! SECURITY O1-O7: what the provider refuses, each by the request an
//! attacker (or a broken app) would send.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::*;
use crate::helpers::{self, PASSWORD};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K0uAcBG1Q8-3w_C2QazW-1yB5s";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization URL for the wiki with `extra` parameters.
fn authorize(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", "wiki")
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid email")
            .append_pair("state", "st/a te+&=")
            .append_pair("nonce", "n-1");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.into()
}

struct Setup {
    app: TestApp,
    secret: Option<String>,
    browser: reqwest::Client,
}

async fn setup(public: bool) -> Setup {
    let app = provider().await;
    app.add_user("maria", PASSWORD).await;
    let (_, secret) = register(&app, wiki(public)).await;
    let (browser, _) = helpers::signed_in(&app, "maria", PASSWORD).await;
    Setup {
        app,
        secret,
        browser,
    }
}

/// The code a signed-in browser gets back for `url`.
async fn code_for(s: &Setup, url: &str) -> String {
    let res = s.browser.get(url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"))
}

/// POSTs to the token endpoint with the wiki's secret as HTTP Basic.
async fn token(s: &Setup, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut req = library_http().post(s.app.url("/oauth2/token")).form(fields);
    if let Some(secret) = &s.secret {
        req = req.basic_auth("wiki", Some(secret));
    }
    req.send().await.unwrap()
}

async fn redeem(s: &Setup, code: &str, verifier: Option<&str>) -> reqwest::Response {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        fields.push(("code_verifier", v));
    }
    token(s, &fields).await
}

async fn json(res: reqwest::Response) -> serde_json::Value {
    res.json().await.unwrap()
}

async fn refresh(s: &Setup, refresh_token: &str) -> reqwest::Response {
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

#[tokio::test]
async fn o1_an_unknown_client_or_redirect_uri_gets_a_page_never_a_redirect() {
    let s = setup(false).await;
    for url in [
        authorize(&s.app, &[]).replace("client_id=wiki", "client_id=nobody"),
        authorize(&s.app, &[]).replace("client_id=wiki", ""),
        authorize(&s.app, &[]).replace("callback", "callback%2Fevil"),
        authorize(&s.app, &[]).replace("wiki.agency.lan", "wiki.agency.lan.evil.example"),
        authorize(&s.app, &[]).replace("callback", "callback%3Fx%3D1"),
    ] {
        let res = s.browser.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 400, "{url}");
        assert!(res.headers().get("location").is_none(), "{url}");
    }
    // A parameter given twice cannot be trusted to name the client either.
    let twice = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.example%2F",
        authorize(&s.app, &[])
    );
    let res = s.browser.get(&twice).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn o1_post_logout_redirect_uri_must_be_registered() {
    let s = setup(false).await;
    let url = s.app.url(
        "/oauth2/logout?client_id=wiki&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
    );
    let res = s.browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    // Without an ID token hint the person is asked; the session is still there.
    let url = s.app.url("/oauth2/logout?client_id=wiki&post_logout_redirect_uri=https%3A%2F%2Fwiki.agency.lan%2Fbye");
    let res = s.browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(helpers::get(&s.browser, &s.app, "/").await.status(), 200);
}

#[tokio::test]
async fn o2_a_replayed_code_fails_and_revokes_what_it_issued() {
    let s = setup(false).await;
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    assert!(
        URL_SAFE_NO_PAD.decode(&code).unwrap().len() >= 16,
        "128 bits at least"
    );
    let first = redeem(&s, &code, None).await;
    assert_eq!(first.status(), 200);
    let first = json(first).await;
    let again = redeem(&s, &code, None).await;
    assert_eq!(again.status(), 400);
    assert_eq!(json(again).await["error"], "invalid_grant");
    // Everything the code gave is revoked.
    let r = refresh(&s, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(json(r).await["error"], "invalid_grant");
    let info = library_http()
        .get(s.app.url("/oauth2/userinfo"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    assert!(s.app.count_events("token_refused", None).await >= 1);
}

#[tokio::test]
async fn o2_a_code_lives_60_seconds_and_is_bound_to_its_redirect_uri() {
    let s = setup(false).await;
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    s.app.advance(Duration::from_secs(61));
    assert_eq!(
        json(redeem(&s, &code, None).await).await["error"],
        "invalid_grant"
    );

    let code = code_for(&s, &authorize(&s.app, &[])).await;
    let other = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wiki.agency.lan/other"),
        ],
    )
    .await;
    assert_eq!(json(other).await["error"], "invalid_grant");
}

#[tokio::test]
async fn o2_a_code_is_bound_to_its_client() {
    let s = setup(false).await;
    let mut books = wiki(false);
    books.name = "Books".into();
    let (_, books_secret) = register(&s.app, books).await;
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    let res = library_http()
        .post(s.app.url("/oauth2/token"))
        .basic_auth("books", books_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn o3_a_public_app_must_use_s256_and_its_verifier() {
    let s = setup(true).await;
    // No challenge, or the plain method: an error at the redirect URI.
    for extra in [
        vec![],
        vec![
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", VERIFIER)],
    ] {
        let res = s
            .browser
            .get(authorize(&s.app, &extra))
            .send()
            .await
            .unwrap();
        let back = url::Url::parse(helpers::location(&res)).unwrap();
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{extra:?}"
        );
        assert!(param(&back, "code").is_none());
    }
    let c = challenge(VERIFIER);
    let with_pkce = [
        ("code_challenge", c.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = code_for(&s, &authorize(&s.app, &with_pkce)).await;
    let public = |fields: Vec<(&'static str, String)>| {
        let app = &s.app;
        async move {
            let mut f: Vec<(&str, String)> = vec![
                ("grant_type", "authorization_code".into()),
                ("client_id", "wiki".into()),
                ("redirect_uri", REDIRECT.into()),
            ];
            f.extend(fields);
            library_http()
                .post(app.url("/oauth2/token"))
                .form(&f)
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = public(vec![
        ("code", code.clone()),
        ("code_verifier", format!("{VERIFIER}x")),
    ])
    .await;
    assert_eq!(json(wrong).await["error"], "invalid_grant");
    let code = code_for(&s, &authorize(&s.app, &with_pkce)).await;
    let missing = public(vec![("code", code.clone())]).await;
    assert_eq!(json(missing).await["error"], "invalid_grant");
    let code = code_for(&s, &authorize(&s.app, &with_pkce)).await;
    let right = public(vec![("code", code), ("code_verifier", VERIFIER.into())]).await;
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn o3_a_verifier_for_a_code_issued_without_a_challenge_is_refused() {
    let s = setup(false).await;
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    let res = redeem(&s, &code, Some(VERIFIER)).await;
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn o4_secrets_and_tokens_are_stored_only_as_hashes_and_checked() {
    let s = setup(false).await;
    let secret = s.secret.clone().unwrap();
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    let tokens = json(redeem(&s, &code, None).await).await;
    // A wrong secret, by either method, is invalid_client with a 401.
    let res = library_http()
        .post(s.app.url("/oauth2/token"))
        .basic_auth("wiki", Some("not-the-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_some());
    assert_eq!(json(res).await["error"], "invalid_client");
    let res = library_http()
        .post(s.app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "wiki"),
            ("client_secret", &format!("{secret}x")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Nothing secret in the audit or the data file.
    let db = std::fs::read(s.app.data_dir().join(latchkey::store::DB_FILE)).unwrap();
    let audit = format!("{:?}", s.app.audit_events(None).await);
    for value in [
        secret.as_str(),
        code.as_str(),
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    ] {
        assert!(
            !helpers::contains(&db, value.as_bytes()),
            "in the data file"
        );
        assert!(!audit.contains(value), "in the audit");
    }
}

#[tokio::test]
async fn o6_a_reused_refresh_token_revokes_its_family() {
    let s = setup(false).await;
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    let first = json(redeem(&s, &code, None).await).await;
    let old = first["refresh_token"].as_str().unwrap();
    let second = json(refresh(&s, old).await).await;
    let newer = second["refresh_token"].as_str().unwrap();
    // The rotated-out token comes back: refused, and the newest dies with it.
    assert_eq!(json(refresh(&s, old).await).await["error"], "invalid_grant");
    assert_eq!(
        json(refresh(&s, newer).await).await["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn o6_a_locked_disabled_or_expired_account_gets_no_new_token() {
    for (what, request) in [
        (
            "disabled",
            Request::UserDisable {
                username: "maria".into(),
            },
        ),
        (
            "license",
            Request::LicenseSet {
                username: "maria".into(),
                expires: "2000-01-01".into(),
            },
        ),
        (
            "force change",
            Request::UserForceChange {
                username: Some("maria".into()),
            },
        ),
    ] {
        let s = setup(false).await;
        let code = code_for(&s, &authorize(&s.app, &[])).await;
        let first = json(redeem(&s, &code, None).await).await;
        s.app.admin(request).await.unwrap();
        let res = refresh(&s, first["refresh_token"].as_str().unwrap()).await;
        assert_eq!(json(res).await["error"], "invalid_grant", "{what}");
        let info = library_http()
            .get(s.app.url("/oauth2/userinfo"))
            .bearer_auth(first["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), 401, "{what}");
        assert!(
            s.app.count_events("token_refused", Some("maria")).await >= 1,
            "{what}"
        );
    }
}

#[tokio::test]
async fn o6_an_account_outside_the_apps_groups_is_shown_why_and_the_app_told_access_denied() {
    let s = setup(false).await;
    s.app
        .admin(Request::GroupAdd {
            name: "finance".into(),
        })
        .await
        .unwrap();
    s.app
        .admin(Request::AppSet {
            name: "wiki".into(),
            changes: latchkey::control::protocol::AppChanges {
                groups: Some(vec!["finance".into()]),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let res = s.browser.get(authorize(&s.app, &[])).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(page.contains("Wiki") && page.contains("helpdesk"), "{page}");
    assert!(
        page.contains("error=access_denied"),
        "a way back to the app"
    );
    let res = s
        .browser
        .get(authorize(&s.app, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn o6_prompt_none_without_a_session_is_login_required() {
    let s = setup(false).await;
    let res = helpers::browser()
        .get(authorize(&s.app, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn o7_state_comes_back_untouched_and_errors_are_rfc_6749_answers() {
    let s = setup(false).await;
    let res = s
        .browser
        .get(authorize(&s.app, &[]).replace("response_type=code", "response_type=token"))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("st/a te+&="));
    let res = s
        .browser
        .get(authorize(&s.app, &[]).replace("scope=openid+email", "scope=email"))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_scope"));

    let code = code_for(&s, &authorize(&s.app, &[])).await;
    let res = redeem(&s, &code, None).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let res = token(&s, &[("grant_type", "password")]).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(json(res).await["error"], "unsupported_grant_type");
}

/// The sign-in page keeps its promises when an app sends the browser: a
/// forced password change first, then back to the app.
#[tokio::test]
async fn a_forced_change_on_the_way_goes_back_to_the_app() {
    let app = provider().await;
    app.add_user("maria", PASSWORD).await;
    register(&app, wiki(false)).await;
    app.admin(Request::UserForceChange {
        username: Some("maria".into()),
    })
    .await
    .unwrap();
    let browser = helpers::browser();
    let res = browser.get(authorize(&app, &[])).send().await.unwrap();
    let login = helpers::location(&res).to_owned();
    assert!(login.starts_with("/login?next="), "{login}");
    let next = url::Url::parse(&format!("http://x{login}")).unwrap();
    let next = param(&next, "next").unwrap();
    let fields = [
        ("username", "maria"),
        ("password", PASSWORD),
        ("next", next.as_str()),
    ];
    let res = helpers::submit(&browser, &app, &login, "/login", &fields).await;
    let change = helpers::location(&res).to_owned();
    assert!(change.starts_with("/password/expired?next="), "{change}");
    let new = "Marble-Green-77q";
    let fields = [("password", new), ("confirm", new), ("next", next.as_str())];
    let res = helpers::submit(&browser, &app, &change, "/password/expired", &fields).await;
    assert_eq!(res.status(), 303);
    assert!(helpers::location(&res).starts_with("/oauth2/authorize?"));
    let res = browser
        .get(app.url(helpers::location(&res)))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    assert!(param(&back, "code").is_some(), "{back}");
}

/// Browsers hold a form's redirects to `form-action`: the sign-in page
/// reached from an app lets its form end at that app's registered redirect
/// URI, and at nothing an unregistered request names.
#[tokio::test]
async fn o1_the_sign_in_form_may_end_only_at_the_registered_app() {
    let s = setup(false).await;
    let browser = helpers::browser();
    let res = browser.get(authorize(&s.app, &[])).send().await.unwrap();
    let login = helpers::location(&res).to_owned();
    let page = browser.get(s.app.url(&login)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://wiki.agency.lan"),
        "{csp}"
    );
    let next = param(
        &url::Url::parse(&format!("http://x{login}")).unwrap(),
        "next",
    )
    .unwrap();
    let evil = next.replace("wiki.agency.lan", "evil.example");
    assert_ne!(evil, next);
    let forged = format!(
        "/login?next={}",
        url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
    );
    let page = browser.get(s.app.url(&forged)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.ends_with("form-action 'self'"), "{csp}");
}

/// `prompt=login` and an exceeded `max_age` ask for the password again,
/// even with a live session; the new sign-in's time is the ID token's
/// `auth_time`. `login_hint` fills in the user name.
#[tokio::test]
async fn prompt_login_max_age_and_login_hint_are_honoured() {
    let s = setup(false).await;
    let first = code_for(&s, &authorize(&s.app, &[])).await;
    let first = json(redeem(&s, &first, None).await).await;
    let auth_time = |tokens: &serde_json::Value| {
        let payload = tokens["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["auth_time"].as_i64().unwrap()
    };
    for extra in [
        vec![("prompt", "login"), ("login_hint", "maria")],
        vec![("max_age", "60"), ("login_hint", "maria")],
    ] {
        s.app.advance(Duration::from_secs(120));
        let res = s
            .browser
            .get(authorize(&s.app, &extra))
            .send()
            .await
            .unwrap();
        let login = helpers::location(&res).to_owned();
        assert!(
            login.starts_with("/login?next=") && login.contains("fresh=1"),
            "{login}"
        );
        let page = helpers::text_of(&s.browser, &s.app.url(&login)).await;
        assert!(
            page.contains("value=\"maria\""),
            "the hint fills in the name"
        );
        let back = through_sign_in(&s.browser, &s.app, &authorize(&s.app, &extra), "maria").await;
        let code = param(&back, "code").expect("a code after signing in again");
        let again = json(redeem(&s, &code, None).await).await;
        assert!(auth_time(&again) >= auth_time(&first) + 120, "{extra:?}");
    }
    // max_age not exceeded: no new sign-in.
    let res = s
        .browser
        .get(authorize(&s.app, &[("max_age", "3600")]))
        .send()
        .await
        .unwrap();
    assert!(helpers::location(&res).starts_with(REDIRECT));
}

/// OIDC Core 3.1.2.1: the authorization request may be a form POST (from
/// the app's page, so without our CSRF token).
#[tokio::test]
async fn the_authorization_request_may_be_posted() {
    let s = setup(false).await;
    let res = s
        .browser
        .post(s.app.url("/oauth2/authorize"))
        .header("origin", "https://wiki.agency.lan")
        .form(&[
            ("response_type", "code"),
            ("client_id", "wiki"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "p"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    assert!(param(&back, "code").is_some());
    assert_eq!(param(&back, "state").as_deref(), Some("p"));
}

#[tokio::test]
async fn token_requests_are_counted_in_the_metrics() {
    let s = setup(false).await;
    let code = code_for(&s, &authorize(&s.app, &[])).await;
    assert_eq!(redeem(&s, &code, None).await.status(), 200);
    assert_eq!(redeem(&s, &code, None).await.status(), 400);
    let text = s.app.metrics().await;
    assert!(
        text.contains("latchkey_tokens_total{result=\"issued\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_tokens_total{result=\"refused\"} 1\n"),
        "{text}"
    );
}

/// A browser app may read the token, userinfo and revocation answers when
/// its page's origin is that of a registered redirect URI, and no other
/// origin may (CORS, no credentials).
#[tokio::test]
async fn browser_apps_of_registered_origins_may_read_token_answers() {
    let s = setup(true).await;
    let http = library_http();
    for (origin, allowed) in [
        ("https://wiki.agency.lan", true),
        ("https://evil.example", false),
    ] {
        let res = http
            .post(s.app.url("/oauth2/token"))
            .header("origin", origin)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", "wiki"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let acao = res.headers().get("access-control-allow-origin");
        assert_eq!(
            acao.map(|v| v.to_str().unwrap()),
            allowed.then_some(origin),
            "{origin}"
        );
        assert!(
            res.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        let pre = http
            .request(reqwest::Method::OPTIONS, s.app.url("/oauth2/userinfo"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(pre.status(), 204);
        let allows = pre.headers().get("access-control-allow-headers");
        assert_eq!(allows.is_some(), allowed, "{origin}");
    }
}

/// CONTRACT section 7: the scopes release `name`, `preferred_username`
/// (profile), `email`, `email_verified` (email), `phone_number` (phone) and
/// `groups` (groups), in the ID token and from userinfo, and nothing a
/// scope does not grant.
#[tokio::test]
async fn each_scope_releases_its_claims_and_no_others() {
    let s = setup(false).await;
    s.app
        .admin(Request::GroupAdd {
            name: "Intake".into(),
        })
        .await
        .unwrap();
    s.app
        .admin(Request::UserSet {
            username: "maria".into(),
            changes: latchkey::control::protocol::UserChanges {
                phone: Some("+1 612 555 0100".into()),
                groups: Some(vec!["intake".into()]),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let claims_of = |tokens: &serde_json::Value| {
        let payload = tokens["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap()
    };
    let userinfo = |tokens: serde_json::Value| {
        let url = s.app.url("/oauth2/userinfo");
        async move {
            library_http()
                .get(url)
                .bearer_auth(tokens["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let all =
        authorize(&s.app, &[]).replace("scope=openid+email", "scope=openid+phone+groups+profile");
    let tokens = json(redeem(&s, &code_for(&s, &all).await, None).await).await;
    for claims in [claims_of(&tokens), userinfo(tokens.clone()).await] {
        assert_eq!(claims["groups"], serde_json::json!(["Intake"]), "{claims}");
        assert!(
            claims["phone_number"]
                .as_str()
                .is_some_and(|p| p.contains("555")),
            "{claims}"
        );
        assert_eq!(claims["preferred_username"], "maria");
        assert!(claims.get("email").is_none(), "no email scope: {claims}");
    }
    let only = authorize(&s.app, &[]).replace("scope=openid+email", "scope=openid");
    let tokens = json(redeem(&s, &code_for(&s, &only).await, None).await).await;
    let info = userinfo(tokens).await;
    assert!(info["sub"].is_string());
    for claim in ["name", "email", "phone_number", "groups"] {
        assert!(
            info.get(claim).is_none(),
            "{claim} without its scope: {info}"
        );
    }
}
