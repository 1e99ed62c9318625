//! Sessions (SECURITY S1-S6): cookie attributes on the wire, id strength and
//! storage, fixation, revocation, timeouts and whose data a session reaches.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use latchkey::config::Dur;
use latchkey::control::protocol::{Request, Response, UserChanges};

use crate::helpers::{
    PASSWORD, TestApp, change_password, csrf_token, form_token, location, login, spawn_with, submit,
};
use crate::security::support::{anon, assert_no_secret, bare_client, post_bytes, raw, set_cookie};

const COOKIE: &str = "latchkey_session";
/// Where a signed-out request for `/profile` is sent: sign in, then back (issue 11 point 10).
const SIGN_IN_FROM_PROFILE: &str = "/login?next=%2Fprofile";

/// Signs in over a raw socket; returns the raw answer.
async fn raw_login(
    app: &TestApp,
    user: &str,
    password: &str,
    extra_cookie: &str,
) -> crate::security::support::Raw {
    let a = anon(app).await;
    let cookie = if extra_cookie.is_empty() {
        a.cookie.clone()
    } else {
        format!("{}; {extra_cookie}", a.cookie)
    };
    let body = format!("username={user}&password={password}&csrf_token={}", a.token);
    raw(
        app.addr,
        &post_bytes("/login", &cookie, "", body.as_bytes()),
    )
    .await
}

fn session_of(res: &crate::security::support::Raw) -> Option<String> {
    res.all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{COOKIE}=")))
        .map(|c| c[COOKIE.len() + 1..].split(';').next().unwrap().to_owned())
}

/// GET `path` with exactly the session cookie `id`.
async fn with_cookie(app: &TestApp, path: &str, id: &str) -> reqwest::Response {
    bare_client()
        .get(app.url(path))
        .header("cookie", format!("{COOKIE}={id}"))
        .send()
        .await
        .unwrap()
}

/// S1: every Set-Cookie on the wire (anonymous and session, set and cleared)
/// is HttpOnly, SameSite=Lax, Path=/, and names no Domain.
#[tokio::test(flavor = "multi_thread")]
async fn s1_every_cookie_on_the_wire_has_the_safe_attributes() {
    let app = spawn_with(|_| {}).await;
    app.add_user("sam", PASSWORD).await;
    let page = raw(
        app.addr,
        b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let signed = raw_login(&app, "sam", PASSWORD, "").await;
    assert_eq!(signed.status, 303);
    let id = session_of(&signed).unwrap();
    let client = app.client();
    let token = csrf_token(
        &with_cookie(&app, "/profile", &id)
            .await
            .text()
            .await
            .unwrap(),
    );
    drop(client);
    let body = format!("csrf_token={token}");
    let out = raw(
        app.addr,
        &post_bytes("/logout", &format!("{COOKIE}={id}"), "", body.as_bytes()),
    )
    .await;
    assert_eq!(out.status, 303);
    let cookies: Vec<&str> = [&page, &signed, &out]
        .iter()
        .flat_map(|r| r.all("set-cookie"))
        .collect();
    assert!(cookies.len() >= 3, "{cookies:?}");
    for c in cookies {
        let attrs: Vec<String> = c
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        assert!(attrs.contains(&"httponly".to_owned()), "{c}");
        assert!(attrs.contains(&"samesite=lax".to_owned()), "{c}");
        assert!(attrs.contains(&"path=/".to_owned()), "{c}");
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{c}");
    }
}

/// S2: 20 sessions from separate browsers: distinct ids of >= 128 bits, none
/// in the data file or a backup; an id with one character changed is nobody's.
#[tokio::test(flavor = "multi_thread")]
async fn s2_session_ids_are_strong_and_stored_only_hashed() {
    let app = spawn_with(|c| c.rate_limit.per_ip_per_minute = 10_000).await;
    app.add_user("sid", PASSWORD).await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let res = login(&app.client(), &app, "sid", PASSWORD).await;
        let id = set_cookie(&res, COOKIE).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&id)
            .expect("base64url");
        assert!(bytes.len() >= 16);
        assert!(ids.insert(id));
    }
    let backup = app.dir.path().join("s2.backup");
    app.admin(Request::Backup {
        path: backup.clone(),
    })
    .await
    .unwrap();
    let data = std::fs::read(app.data_dir().join(latchkey::store::DB_FILE)).unwrap();
    let backup = std::fs::read(backup).unwrap();
    for id in &ids {
        assert_no_secret("the data file", &data, &[("session id", id)]);
        assert_no_secret("the backup", &backup, &[("session id", id)]);
    }
    let id = ids.iter().next().unwrap();
    assert_eq!(with_cookie(&app, "/profile", id).await.status(), 200);
    let mut tampered = id.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        location(&with_cookie(&app, "/profile", &tampered).await),
        SIGN_IN_FROM_PROFILE
    );
}

/// S3: a planted id (alone, or twice with different values) is never promoted
/// at sign-in; a password change issues a new id and the old one dies.
#[tokio::test(flavor = "multi_thread")]
async fn s3_planted_ids_are_never_promoted() {
    let app = spawn_with(|_| {}).await;
    app.add_user("fay", PASSWORD).await;
    let planted = "PlantedByTheAttacker0123456789abcdefghijkl";
    for extra in [
        format!("{COOKIE}={planted}"),
        format!("{COOKIE}={planted}; {COOKIE}=second{planted}"),
    ] {
        let res = raw_login(&app, "fay", PASSWORD, &extra).await;
        assert_eq!(res.status, 303);
        let issued = session_of(&res).expect("a new session cookie");
        assert_ne!(issued, planted);
        assert_eq!(
            location(&with_cookie(&app, "/profile", planted).await),
            SIGN_IN_FROM_PROFILE,
            "the planted id works"
        );
        assert_eq!(with_cookie(&app, "/profile", &issued).await.status(), 200);
    }
    // Another user's real id planted in a browser that then signs in as fay.
    app.add_user("gus", PASSWORD).await;
    let gus = set_cookie(&login(&app.client(), &app, "gus", PASSWORD).await, COOKIE).unwrap();
    let res = raw_login(&app, "fay", PASSWORD, &format!("{COOKIE}={gus}")).await;
    let fay = session_of(&res).unwrap();
    assert_ne!(fay, gus);
    assert!(
        with_cookie(&app, "/profile", &gus)
            .await
            .text()
            .await
            .unwrap()
            .contains("gus")
    );
    // A password change replaces the id.
    let client = app.client();
    let before = set_cookie(&login(&client, &app, "fay", PASSWORD).await, COOKIE).unwrap();
    let res = change_password(&client, &app, PASSWORD, "Brand-New-66x").await;
    assert_eq!(res.status(), 303);
    let after = set_cookie(&res, COOKIE).expect("a new id after the change");
    assert_ne!(before, after);
    assert_eq!(
        location(&with_cookie(&app, "/profile", &before).await),
        SIGN_IN_FROM_PROFILE
    );
}

/// S4: for each revoking event, the old cookie replayed on the very next
/// request is refused: logout, password change, reset, lock, license expiry,
/// disable and delete.
#[tokio::test(flavor = "multi_thread")]
async fn s4_every_revoking_event_works_from_the_next_request() {
    let app = spawn_with(|_| {}).await;
    let events = [
        "logout", "change", "reset", "lock", "license", "disable", "delete",
    ];
    for e in events {
        app.add_user(&format!("s4{e}"), PASSWORD).await;
    }
    for e in events {
        let user = format!("s4{e}");
        let victim = app.client();
        let id = set_cookie(&login(&victim, &app, &user, PASSWORD).await, COOKIE).unwrap();
        assert_eq!(with_cookie(&app, "/profile", &id).await.status(), 200);
        match e {
            "logout" => {
                let res = submit(&victim, &app, "/profile", "/logout", &[]).await;
                assert_eq!(res.status(), 303);
            }
            "change" => {
                let other = app.client();
                login(&other, &app, &user, PASSWORD).await;
                change_password(&other, &app, PASSWORD, "Changed-Pass-42x").await;
            }
            "reset" => {
                let link = match app
                    .admin(Request::ResetLink {
                        username: user.clone(),
                        send: false,
                    })
                    .await
                    .unwrap()
                {
                    Response::Link { link, .. } => link,
                    other => panic!("{other:?}"),
                };
                let path = format!("/reset/{}", link.rsplit('/').next().unwrap());
                let res = submit(
                    &app.client(),
                    &app,
                    &path,
                    &path,
                    &[
                        ("password", "Changed-Pass-42x"),
                        ("confirm", "Changed-Pass-42x"),
                    ],
                )
                .await;
                assert_eq!(res.status(), 303);
            }
            "lock" => {
                for _ in 0..3 {
                    login(&app.client(), &app, &user, "Wrong-Guess-1x").await;
                }
            }
            "license" => {
                app.admin(Request::LicenseSet {
                    username: user.clone(),
                    expires: "2001-01-01".into(),
                })
                .await
                .unwrap();
            }
            "disable" => {
                app.admin(Request::UserDisable {
                    username: user.clone(),
                })
                .await
                .unwrap();
            }
            _ => {
                app.admin(Request::UserDelete {
                    username: user.clone(),
                })
                .await
                .unwrap();
            }
        }
        let res = with_cookie(&app, "/profile", &id).await;
        assert_eq!(
            (res.status().as_u16(), location(&res).to_owned()),
            (303, SIGN_IN_FROM_PROFILE.to_owned()),
            "after {e}"
        );
    }
}

/// S5: the idle and absolute limits hold whatever the client keeps sending.
#[tokio::test(flavor = "multi_thread")]
async fn s5_idle_and_absolute_timeouts_hold_server_side() {
    let app = spawn_with(|c| c.session.idle_timeout = Dur::secs(1)).await;
    app.add_user("ida", PASSWORD).await;
    let id = set_cookie(&login(&app.client(), &app, "ida", PASSWORD).await, COOKIE).unwrap();
    app.advance(Duration::from_millis(1500));
    assert_eq!(
        location(&with_cookie(&app, "/profile", &id).await),
        SIGN_IN_FROM_PROFILE,
        "idle session lived on"
    );

    let app = spawn_with(|c| {
        c.session.idle_timeout = Dur::secs(3600);
        c.session.absolute_timeout = Dur::secs(2);
    })
    .await;
    app.add_user("abe", PASSWORD).await;
    let id = set_cookie(&login(&app.client(), &app, "abe", PASSWORD).await, COOKIE).unwrap();
    // Keep it busy: activity must not stretch the absolute limit.
    for _ in 0..10 {
        with_cookie(&app, "/profile", &id).await;
        app.advance(Duration::from_millis(250));
    }
    assert_eq!(
        location(&with_cookie(&app, "/profile", &id).await),
        SIGN_IN_FROM_PROFILE,
        "busy session outlived the absolute limit"
    );
}

/// S6: a session acts only on its own user, whatever names the form smuggles
/// in; one user's CSRF token does not work in another user's session.
#[tokio::test(flavor = "multi_thread")]
async fn s6_a_session_acts_only_on_its_own_user() {
    let app = spawn_with(|_| {}).await;
    app.add_user("ann", PASSWORD).await;
    app.add_user("bob", PASSWORD).await;
    app.admin(Request::UserSet {
        username: "bob".into(),
        changes: UserChanges {
            phone: Some("+1 555 0199".into()),
            ..UserChanges::default()
        },
    })
    .await
    .unwrap();
    let ann = app.client();
    login(&ann, &app, "ann", PASSWORD).await;
    let token = form_token(&ann, &app.url("/profile")).await;
    let body = format!(
        "phone=%2B1+555+0123&email=ann%40example.org&user=bob&user_id=bob&target=bob&csrf_token={token}"
    );
    let res = ann
        .post(app.url("/profile/contact?username=bob"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let phone = |u: &'static str| {
        let app = &app;
        async move {
            match app
                .admin(Request::UserShow { username: u.into() })
                .await
                .unwrap()
            {
                Response::User { user } => user.phone,
                other => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(
        phone("bob").await.as_deref(),
        Some("+1 555 0199"),
        "bob's phone changed"
    );
    assert!(
        phone("ann").await.is_some(),
        "ann's own phone did not change"
    );
    // Ann's token in bob's session.
    let bob = app.client();
    login(&bob, &app, "bob", PASSWORD).await;
    let res = bob
        .post(app.url("/profile/contact"))
        .form(&[
            ("phone", "+1 555 0000"),
            ("email", "bob@example.org"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(phone("bob").await.as_deref(), Some("+1 555 0199"));
}
