//! Lockout after `lockout.max_failures` wrong passwords (CONTRACT section 4; SECURITY L6, L7, L8).

use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::Request;

use crate::helpers::*;

const HELPDESK: &str = "desk@agency.example";

async fn spawn_with_helpdesk() -> TestApp {
    spawn_with(|config| config.helpdesk.email = HELPDESK.into()).await
}

/// Signs in with a wrong password `n` times; returns the last answer's status and body.
async fn fail(app: &TestApp, username: &str, n: usize) -> (u16, String) {
    let client = app.client();
    let mut last = (0, String::new());
    for i in 0..n {
        let res = login(&client, app, username, &format!("Wrong-Guess-{i}")).await;
        last = (res.status().as_u16(), res.text().await.unwrap());
    }
    last
}

/// The same answer with the page's CSRF token and the echoed user name blanked out.
async fn fail_normalised(app: &TestApp, username: &str, n: usize) -> (u16, String) {
    let client = app.client();
    let mut last = (0, String::new());
    for i in 0..n {
        let token = page_token(&client, app, "/login").await;
        let password = format!("Wrong-Guess-{i}");
        let fields = [("username", username), ("password", &password)];
        let res = post_with_token(&client, &app.url("/login"), &fields, &token).await;
        let status = res.status().as_u16();
        let body = res
            .text()
            .await
            .unwrap()
            .replace(&token, "{CSRF}")
            .replace(username, "{USER}");
        last = (status, body);
    }
    last
}

/// L6: three wrong passwords lock; then even the right password is refused.
#[tokio::test]
async fn l6_three_wrong_passwords_lock_and_the_right_one_is_then_refused() {
    let app = spawn_with_helpdesk().await;
    app.add_user("alice", PASSWORD).await;

    let (status, body) = fail(&app, "alice", 3).await;

    assert_eq!(status, 403);
    assert!(body.contains("locked"));
    assert!(body.contains(HELPDESK));
    let client = app.client();
    let right = login(&client, &app, "alice", PASSWORD).await;
    assert_eq!(right.status(), 403);
    let body = right.text().await.unwrap();
    assert!(body.contains("locked"));
    assert!(body.contains(HELPDESK));
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 303, "a locked account gets no session");
}

/// L6: a success resets the count of consecutive failures.
#[tokio::test]
async fn l6_a_success_resets_the_failure_count() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    fail(&app, "alice", 2).await;
    let ok = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(ok.status(), 303);

    let (status, _) = fail(&app, "alice", 2).await;

    assert_eq!(status, 401, "two failures after a success do not lock");
    let right = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(right.status(), 303);
}

/// L7: 30 concurrent wrong guesses lock the account exactly once.
#[tokio::test]
async fn l7_thirty_concurrent_wrong_guesses_lock_exactly_once() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let mut guesses = Vec::new();
    for i in 0..30 {
        let client = app.client();
        let token = page_token(&client, &app, "/login").await;
        let url = app.url("/login");
        guesses.push(tokio::spawn(async move {
            let password = format!("Wrong-Guess-{i}");
            let form = [
                ("username", "alice"),
                ("password", password.as_str()),
                ("csrf_token", token.as_str()),
            ];
            client.post(url).form(&form).send().await.unwrap().status()
        }));
    }

    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap().as_u16());
    }

    let failed = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!(
        failed, 2,
        "only max_failures - 1 guesses say 'failed': {statuses:?}"
    );
    assert_eq!(locked, 28, "every other guess says 'locked': {statuses:?}");
    assert_eq!(app.count_events("account_locked", Some("alice")).await, 1);
    let right = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(right.status(), 403);
}

/// L8: an unknown name that fails three times gets the very same locked answer.
#[tokio::test]
async fn l8_an_unknown_name_gets_the_same_locked_answer() {
    let app = spawn_with_helpdesk().await;
    app.add_user("alice", PASSWORD).await;

    // Same length as "alice", so the echoed name cannot shift the page.
    let real = fail_normalised(&app, "alice", 3).await;
    let unknown = fail_normalised(&app, "zelda", 3).await;

    assert_eq!(real.0, 403);
    assert!(real.1.contains("locked"));
    assert_eq!(unknown, real);
    let real_after = fail_normalised(&app, "alice", 1).await;
    let unknown_after = fail_normalised(&app, "zelda", 1).await;
    assert_eq!(unknown_after, real_after, "and it stays locked alike");
}

/// CONTRACT 3, `unlock`: clears the lock so the owner can sign in again.
#[tokio::test]
async fn unlock_restores_sign_in() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    fail(&app, "alice", 3).await;

    app.admin(Request::Unlock {
        username: "alice".into(),
    })
    .await
    .unwrap();

    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let events = app.audit_events(Some("alice")).await;
    assert!(events.iter().any(|e| e.event == "account_unlocked"));
}

/// CONTRACT 2, `lockout.auto_unlock_after`: the lock lifts by itself.
#[tokio::test]
async fn auto_unlock_after_lifts_the_lock() {
    let app = spawn_with(|config| config.lockout.auto_unlock_after = Some(Dur::secs(1))).await;
    app.add_user("alice", PASSWORD).await;
    fail(&app, "alice", 3).await;
    let still_locked = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(still_locked.status(), 403);

    app.advance(Duration::from_millis(1200));

    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
}

/// L8 and CONTRACT 2: `auto_unlock_after` lifts an unknown name's lock alike.
#[tokio::test]
async fn auto_unlock_after_applies_alike_to_unknown_names() {
    let app = spawn_with(|config| config.lockout.auto_unlock_after = Some(Dur::secs(1))).await;
    let (locked, _) = fail(&app, "zelda", 3).await;
    assert_eq!(locked, 403);

    app.advance(Duration::from_millis(1200));

    let (status, body) = fail(&app, "zelda", 1).await;
    assert_eq!(status, 401);
    assert!(body.contains("Login failed!"));
}

/// CONTRACT 3, `user show`: reports the lock and the failure count.
#[tokio::test]
async fn user_show_reports_locked_and_failed_attempts() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    fail(&app, "alice", 1).await;
    let before = app.show_user("alice").await;

    fail(&app, "alice", 2).await;

    assert!(!before.locked);
    assert_eq!(before.failed_attempts, 1);
    let after = app.show_user("alice").await;
    assert!(after.locked);
    assert_eq!(after.failed_attempts, 3);
    app.admin(Request::Unlock {
        username: "alice".into(),
    })
    .await
    .unwrap();
    let unlocked = app.show_user("alice").await;
    assert!(!unlocked.locked);
    assert_eq!(unlocked.failed_attempts, 0);
}

/// L8: failures under any spelling of a name (case, width, spaces) count toward one lock.
#[tokio::test]
async fn l8_failures_under_any_spelling_count_toward_one_lock() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;

    fail(&app, "ALICE", 1).await;
    fail(&app, " Alice ", 1).await;
    let (status, body) = fail(&app, "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}", 1).await;

    assert_eq!(status, 403, "the third failure locks alice");
    assert!(body.contains("locked"));
    assert!(app.show_user("alice").await.locked);
    let right = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(right.status(), 403);
}
