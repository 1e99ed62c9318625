//! Sessions: cookie, revocation, timeouts and the forced password change
//! (CONTRACT section 4; SECURITY S1-S6, L1).

use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{RenewTarget, Request};

use crate::helpers::*;

const HELPDESK: &str = "desk@agency.example";

/// The `Set-Cookie` header that carries the session, if any.
fn session_set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("latchkey_session="))
        .map(str::to_owned)
}

/// The session id a response sets.
fn session_id(res: &reqwest::Response) -> String {
    set_cookie(res, "latchkey_session").expect("a session cookie")
}

/// Signs alice in on a new client; returns the client and the session id.
async fn alice_signed_in(app: &TestApp) -> (reqwest::Client, String) {
    signed_in(app, "alice", PASSWORD).await
}

/// Alice must change her password (`user force-change`) and signs in on a new
/// client; returns the app, the client and the answer to the sign-in.
async fn forced_change_signed_in() -> (TestApp, reqwest::Client, reqwest::Response) {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    app.admin(Request::UserForceChange {
        username: Some("alice".into()),
    })
    .await
    .unwrap();
    let client = app.client();
    let res = login(&client, &app, "alice", PASSWORD).await;
    (app, client, res)
}

async fn set_license(app: &TestApp, expires: String) {
    app.admin(Request::LicenseSet {
        username: "alice".into(),
        expires,
    })
    .await
    .unwrap();
}

/// Signs alice in, sends `request` to the admin socket, and checks that her
/// live session ends at the very next request.
async fn assert_admin_request_ends_the_session(request: Request) {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = alice_signed_in(&app).await;
    assert_eq!(get(&client, &app, "/").await.status(), 200);

    app.admin(request).await.unwrap();

    assert_sent_to_login(&get(&client, &app, "/").await);
}

/// GETs `path` from a browser that has only the given session cookie.
async fn replay(app: &TestApp, path: &str, session_id: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(path))
        .header("cookie", format!("latchkey_session={session_id}"))
        .send()
        .await
        .unwrap()
}

/// S4: logout revokes the session server-side; replaying its id opens nothing.
#[tokio::test]
async fn s4_logout_revokes_the_session_server_side() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, id) = alice_signed_in(&app).await;
    assert_eq!(
        replay(&app, "/", &id).await.status(),
        200,
        "the id works before"
    );

    let res = submit(&client, &app, "/", "/logout", &[]).await;

    assert_sent_to_login(&res);
    assert_sent_to_login(&replay(&app, "/", &id).await);
    assert_sent_to_login(&get(&client, &app, "/").await);
    let events = app.audit_events(Some("alice")).await;
    assert!(events.iter().any(|e| e.event == "session_revoked"));
}

/// S4: `user disable` ends a live session on the very next request.
#[tokio::test]
async fn s4_user_disable_revokes_an_existing_session() {
    assert_admin_request_ends_the_session(Request::UserDisable {
        username: "alice".into(),
    })
    .await;
}

/// S4: `user delete` ends a live session on the very next request.
#[tokio::test]
async fn s4_user_delete_revokes_an_existing_session() {
    assert_admin_request_ends_the_session(Request::UserDelete {
        username: "alice".into(),
    })
    .await;
}

/// S4 and CONTRACT 4: an expired license ends the session, and the right
/// password then gets 403 naming the license and the helpdesk.
#[tokio::test]
async fn s4_expired_license_ends_the_session_and_blocks_sign_in() {
    let app = spawn_with(|config| config.helpdesk.email = HELPDESK.into()).await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = alice_signed_in(&app).await;

    set_license(&app, "2020-01-01".into()).await;

    assert_sent_to_login(&get(&client, &app, "/").await);
    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(body.contains("Login failed!"));
    assert!(body.contains("license has expired"));
    assert!(body.contains(HELPDESK));
}

/// CONTRACT 3, `license renew`: a renewed license lets the owner sign in again.
#[tokio::test]
async fn license_renew_restores_sign_in() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    set_license(&app, "2020-01-01".into()).await;
    let refused = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(refused.status(), 403);

    app.admin(Request::LicenseRenew {
        target: RenewTarget::User("alice".into()),
        years: 1,
    })
    .await
    .unwrap();

    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
}

/// L1: a disabled account is told so only after the right password.
#[tokio::test]
async fn l1_disabled_state_is_revealed_only_after_the_right_password() {
    let app = spawn_with(|config| config.helpdesk.email = HELPDESK.into()).await;
    app.add_user("alice", PASSWORD).await;
    app.admin(Request::UserDisable {
        username: "alice".into(),
    })
    .await
    .unwrap();

    let right = login(&app.client(), &app, "alice", PASSWORD).await;
    let wrong = login(&app.client(), &app, "alice", "Kettle-Blue-43x").await;

    assert_eq!(right.status(), 403);
    let right_body = right.text().await.unwrap();
    assert!(right_body.contains("Login failed!"));
    assert!(right_body.contains("disabled"));
    assert!(right_body.contains(HELPDESK));
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    assert!(wrong_body.contains("Login failed!"));
    assert!(!wrong_body.contains("disabled"));
}

/// S5: the idle timeout is enforced by the server; activity keeps a session alive.
#[tokio::test]
async fn s5_idle_timeout_is_enforced_server_side() {
    let app = spawn_with(|config| config.session.idle_timeout = Dur::secs(1)).await;
    app.add_user("alice", PASSWORD).await;
    let (_client, id) = alice_signed_in(&app).await;

    for _ in 0..2 {
        app.advance(Duration::from_millis(600));
        assert_eq!(
            replay(&app, "/", &id).await.status(),
            200,
            "active: still alive"
        );
    }
    app.advance(Duration::from_millis(1200));

    assert_sent_to_login(&replay(&app, "/", &id).await);
}

/// S5: the absolute timeout ends even an active session.
#[tokio::test]
async fn s5_absolute_timeout_is_enforced_server_side() {
    let app = spawn_with(|config| config.session.absolute_timeout = Dur::secs(2)).await;
    app.add_user("alice", PASSWORD).await;
    let (_client, id) = alice_signed_in(&app).await;

    for _ in 0..3 {
        app.advance(Duration::from_millis(500));
        assert_eq!(replay(&app, "/", &id).await.status(), 200, "within 2 s");
    }
    app.advance(Duration::from_millis(800));

    assert_sent_to_login(&replay(&app, "/", &id).await);
}

/// S1: the session cookie is `latchkey_session`, HttpOnly, SameSite=Lax, Path=/, no Domain.
#[tokio::test]
async fn s1_session_cookie_attributes() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;

    let res = login(&app.client(), &app, "alice", PASSWORD).await;

    let cookie = session_set_cookie(&res).expect("sign-in sets latchkey_session");
    let attributes: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attributes.contains(&"httponly".to_owned()), "{cookie}");
    assert!(attributes.contains(&"samesite=lax".to_owned()), "{cookie}");
    assert!(attributes.contains(&"path=/".to_owned()), "{cookie}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{cookie}"
    );
}

/// S2: the session id is opaque (>= 43 base64url characters) and stored only hashed.
#[tokio::test]
async fn s2_session_id_is_long_random_and_not_stored_in_clear() {
    let mut app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (_client, id) = alice_signed_in(&app).await;

    app.stop().await;

    assert!(id.len() >= 43, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
    let file = std::fs::read(app.data_dir().join("latchkey.redb")).unwrap();
    let found = file.windows(id.len()).any(|w| w == id.as_bytes());
    assert!(!found, "the raw session id is in the data file");
}

/// S6 and CONTRACT 4: after `user force-change`, sign-in leads to the change page,
/// every page but /help redirects there, and a new password restores full access.
#[tokio::test]
async fn s6_force_change_restricts_the_session_until_a_new_password() {
    let (app, client, res) = forced_change_signed_in().await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/password/expired");
    for path in ["/", "/profile"] {
        let page = get(&client, &app, path).await;
        assert_eq!(page.status(), 303, "{path}");
        assert_eq!(location(&page), "/password/expired", "{path}");
    }
    assert_eq!(get(&client, &app, "/help").await.status(), 200);
    let form = get(&client, &app, "/password/expired").await;
    assert_eq!(form.status(), 200);
    let new_password = "Copper-Lamp-58z";
    let changed = change_expired_password(&client, &app, new_password).await;
    assert_eq!(changed.status(), 303);
    assert_eq!(location(&changed), "/");
    assert_eq!(get(&client, &app, "/").await.status(), 200);
    assert_eq!(get(&client, &app, "/profile").await.status(), 200);
    let again = login(&app.client(), &app, "alice", new_password).await;
    assert_eq!(location(&again), "/");
}

/// CONTRACT 1 (no immediate reuse): the forced change refuses the current password.
#[tokio::test]
async fn force_change_refuses_the_same_password_again() {
    let (app, client, _) = forced_change_signed_in().await;

    let res = change_expired_password(&client, &app, PASSWORD).await;

    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("not used recently"));
    let home = get(&client, &app, "/").await;
    assert_eq!(location(&home), "/password/expired", "still restricted");
}

/// S4: locking an account ends its live sessions at the next request.
#[tokio::test]
async fn s4_a_lock_ends_live_sessions() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = alice_signed_in(&app).await;
    let attacker = app.client();

    for i in 0..3 {
        login(&attacker, &app, "alice", &format!("Wrong-Guess-{i}")).await;
    }

    assert_sent_to_login(&get(&client, &app, "/").await);
}

/// CONTRACT 3 `license set`: the license runs to the end of its last day.
#[tokio::test]
async fn a_license_ending_today_still_allows_sign_in() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let today = jiff::Zoned::now().date().to_string();

    set_license(&app, today).await;

    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
}

/// CONTRACT 4: a restricted session may still sign out with POST /logout.
#[tokio::test]
async fn a_restricted_session_can_sign_out() {
    let (app, client, res) = forced_change_signed_in().await;
    let id = session_id(&res);

    let out = submit(&client, &app, "/password/expired", "/logout", &[]).await;

    assert_sent_to_login(&out);
    let replayed = replay(&app, "/password/expired", &id).await;
    assert_sent_to_login(&replayed);
}

/// S6 and CONTRACT 4: a restricted session reaches no other page, /login and /forgot included.
#[tokio::test]
async fn s6_a_restricted_session_is_sent_to_the_change_page_from_login_and_forgot() {
    let (app, client, _) = forced_change_signed_in().await;

    for path in ["/login", "/forgot"] {
        let res = get(&client, &app, path).await;

        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/password/expired", "{path}");
    }
}

/// S3: a password change issues a new session id and the old one stops working.
#[tokio::test]
async fn s3_the_forced_change_replaces_the_session_id() {
    let (app, client, signed_in) = forced_change_signed_in().await;
    let old_id = session_id(&signed_in);
    let new_password = "Copper-Lamp-58z";

    let changed = change_expired_password(&client, &app, new_password).await;

    let new_id = set_cookie(&changed, "latchkey_session").expect("a new session cookie");
    assert_ne!(new_id, old_id);
    assert_sent_to_login(&replay(&app, "/", &old_id).await);
    assert_eq!(replay(&app, "/", &new_id).await.status(), 200);
}
