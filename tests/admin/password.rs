//! The actor's password, asked again when it was last entered 10 minutes
//! ago or more (SECURITY A2), and counted toward the actor's own lockout.

use std::time::Duration;

use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// The confirm page of a stale POST: 403, the password field, the form's
/// own fields replayed as hidden inputs to `action`, and the CSRF token.
fn assert_confirm_page(status: u16, body: &str, action: &str, sent: &[(&str, &str)]) {
    let shown = text_of_html(body);
    assert_eq!(status, 403, "the confirm page, not: {shown}");
    assert!(body.contains("Confirm with your password"), "{shown}");
    assert!(body.contains("name=\"actor_password\""), "{body}");
    assert!(
        unescape(body).contains(&format!("action=\"{action}\"")),
        "the form goes back to {action}: {body}"
    );
    let hidden = hidden_fields(body, "id=\"confirm-title\"");
    for (name, value) in sent {
        assert!(
            hidden.iter().any(|(n, v)| n == name && v == value),
            "{name}={value} replayed in {hidden:?}"
        );
    }
    assert!(hidden.iter().any(|(n, _)| n == "csrf_token"), "{hidden:?}");
    assert!(
        hidden.iter().all(|(n, _)| n != "actor_password"),
        "{hidden:?}"
    );
}

/// Submits the confirm page's form as the browser would: its hidden fields plus `password`.
async fn confirm(
    client: &reqwest::Client,
    app: &TestApp,
    confirm_page: &str,
    action: &str,
    password: &str,
) -> reqwest::Response {
    let mut fields = hidden_fields(confirm_page, "id=\"confirm-title\"");
    fields.push(("actor_password".into(), password.into()));
    client
        .post(app.url(action))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// A2: ten minutes after sign-in an action is not done: the password page
/// replays the form; with the right password it is done, and then the
/// password counts as fresh again for the next action.
#[tokio::test]
async fn a2_a_stale_password_is_asked_again_and_nothing_changes_until_given() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.advance(STALE);

    let sent = [("action", "disable")];
    let (status, body) = read(act(&boss, &app, "carol", &sent).await).await;

    assert_confirm_page(status, &body, "/admin/accounts/carol", &sent);
    assert!(body.contains("more than 10 minutes ago"), "{body}");
    assert!(!app.show_user("carol").await.disabled, "nothing done yet");
    assert!(events(&app, "user_disabled", None).await.is_empty());

    let res = confirm(&boss, &app, &body, "/admin/accounts/carol", PASSWORD).await;

    assert_done(&res, "/admin/accounts/carol?done=disabled");
    assert!(app.show_user("carol").await.disabled);
    audited_by(&app, "user_disabled", Some("carol"), "boss").await;

    // Entered just now: the next action needs no password.
    let res = act(&boss, &app, "carol", &[("action", "enable")]).await;
    assert_done(&res, "/admin/accounts/carol?done=enabled");
    assert!(!app.show_user("carol").await.disabled);

    // And ten minutes later it is asked again.
    app.advance(STALE);
    let (status, body) = read(act(&boss, &app, "carol", &sent).await).await;
    assert_confirm_page(status, &body, "/admin/accounts/carol", &sent);
    assert!(!app.show_user("carol").await.disabled);
}

/// A2: under ten minutes since sign-in, no password is asked and the forms carry no password field.
#[tokio::test]
async fn a2_a_fresh_password_is_not_asked_again() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.advance(Duration::from_secs(9 * 60));

    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    assert!(!account.contains("name=\"actor_password\""), "{account}");
    let res = act(&boss, &app, "carol", &[("action", "disable")]).await;

    assert_done(&res, "/admin/accounts/carol?done=disabled");
    assert!(app.show_user("carol").await.disabled);
    app.advance(STALE);
    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    assert!(
        account.contains("name=\"actor_password\""),
        "stale: the forms ask for it"
    );
}

/// A2: the password field may come with the form itself (as the console's
/// forms carry it once stale): right, the action is done at once.
#[tokio::test]
async fn a2_the_password_given_with_the_form_is_enough() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.advance(STALE);

    let fields = [("action", "force_change"), ("actor_password", PASSWORD)];
    let res = act(&boss, &app, "carol", &fields).await;

    assert_done(&res, "/admin/accounts/carol?done=force-change");
    audited_by(&app, "force_change_set", Some("carol"), "boss").await;
}

/// A2: a wrong password is refused again, counts toward the actor's own
/// lockout (audited as the actor's failed sign-in), and the third locks the
/// actor and signs them out; nothing is done to the target meanwhile. (The
/// password goes with the form itself here, as the console's forms carry it
/// once stale; the confirm page's own answer is checked below.)
#[tokio::test]
async fn a2_wrong_passwords_count_toward_the_actors_lockout() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.advance(STALE);

    for (tries, wrong) in [(1, "Not-My-Password-1"), (2, "Not-My-Password-2")] {
        let fields = [("action", "disable"), ("actor_password", wrong)];
        let res = act(&boss, &app, "carol", &fields).await;

        assert_ne!(res.status(), 303, "not done with a wrong password");
        let actor = app.show_user("boss").await;
        assert_eq!(actor.failed_attempts, tries);
        assert!(!actor.locked);
        let failed = events(&app, "login_failed", Some("boss")).await;
        assert_eq!(failed.len(), tries as usize, "{failed:#?}");
        assert_console_actor(failed.last().unwrap(), "boss");
        assert!(!app.show_user("carol").await.disabled);
    }

    let fields = [
        ("action", "disable"),
        ("actor_password", "Not-My-Password-3"),
    ];
    let res = act(&boss, &app, "carol", &fields).await;

    assert_sent_to_login(&res);
    let actor = app.show_user("boss").await;
    assert!(actor.locked, "the actor is locked");
    assert_eq!(actor.failed_attempts, 3);
    assert_eq!(events(&app, "login_failed", Some("boss")).await.len(), 3);
    assert_eq!(events(&app, "account_locked", Some("boss")).await.len(), 1);
    let res = get(&boss, &app, "/admin").await;
    assert_eq!(res.status(), 303, "signed out");
    assert!(location(&res).starts_with("/login"), "{}", location(&res));
    assert!(
        !app.show_user("carol").await.disabled,
        "nothing was done to carol"
    );
    assert!(events(&app, "user_disabled", None).await.is_empty());
    let again = login(&app.client(), &app, "boss", PASSWORD).await;
    assert_ne!(location(&again), "/", "a locked actor cannot sign in again");
}

/// A2: a wrong password on the confirm page answers the confirm page again
/// (403, the form still replayed), saying how many tries are left; the
/// third locks the actor and sends them to sign in.
#[tokio::test]
async fn a2_a_wrong_password_is_asked_again_with_the_tries_left() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.advance(STALE);
    let sent = [("action", "disable")];
    let (status, first) = read(act(&boss, &app, "carol", &sent).await).await;
    assert_confirm_page(status, &first, "/admin/accounts/carol", &sent);

    let res = confirm(
        &boss,
        &app,
        &first,
        "/admin/accounts/carol",
        "Not-My-Password-1",
    )
    .await;

    let (status, second) = read(res).await;
    assert_confirm_page(status, &second, "/admin/accounts/carol", &sent);
    assert!(second.contains("not right"), "{second}");
    assert!(second.contains("2 tries left"), "{second}");

    let res = confirm(
        &boss,
        &app,
        &second,
        "/admin/accounts/carol",
        "Not-My-Password-2",
    )
    .await;

    let (status, third) = read(res).await;
    assert_confirm_page(status, &third, "/admin/accounts/carol", &sent);
    assert!(third.contains("One try left"), "{third}");

    let res = confirm(
        &boss,
        &app,
        &third,
        "/admin/accounts/carol",
        "Not-My-Password-3",
    )
    .await;

    assert_sent_to_login(&res);
    assert!(app.show_user("boss").await.locked);
    assert!(!app.show_user("carol").await.disabled);
}

/// A2: a right password after a wrong one acts, and the actor is not locked.
#[tokio::test]
async fn a2_a_right_password_after_a_wrong_one_acts() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    app.advance(STALE);
    let wrong = [
        ("action", "disable"),
        ("actor_password", "Not-My-Password-1"),
    ];
    let res = act(&boss, &app, "carol", &wrong).await;
    assert_ne!(res.status(), 303);
    assert!(!app.show_user("carol").await.disabled);

    let right = [("action", "disable"), ("actor_password", PASSWORD)];
    let res = act(&boss, &app, "carol", &right).await;

    assert_done(&res, "/admin/accounts/carol?done=disabled");
    assert!(app.show_user("carol").await.disabled);
    assert!(!app.show_user("boss").await.locked);
}

/// A2: every kind of console POST asks again when the password is stale, and does nothing.
#[tokio::test]
async fn a2_every_console_form_asks_again_when_stale() {
    let (app, boss) = boss_console().await;
    let mut dave = new_user("dave", None);
    dave.agency = Some("Food Shelf".into());
    add_account(&app, dave).await;
    let before = app.show_user("dave").await;
    app.advance(STALE);
    let posts: [(&str, &[(&str, &str)]); 5] = [
        (
            "/admin/add",
            &[("username", "erin"), ("email", "erin@example.org")],
        ),
        (
            "/admin/licenses",
            &[("agency", "Food Shelf"), ("years", "1")],
        ),
        (
            "/admin/apps",
            &[
                ("action", "add"),
                ("app", "Files"),
                ("redirect_uris", "https://files.example.org/cb"),
            ],
        ),
        ("/admin/mail", &[]),
        (
            "/admin/accounts/dave",
            &[("action", "renew"), ("years", "1")],
        ),
    ];

    for (path, fields) in posts {
        let (status, body) = read(post_to(&boss, &app, path, fields).await).await;

        assert_confirm_page(status, &body, path, fields);
    }

    assert!(!exists(&app, "erin").await);
    assert_eq!(app.show_user("dave").await, before);
    assert!(app_names(&app).await.is_empty());
    assert!(events(&app, "mail_retried", None).await.is_empty());
    assert!(events(&app, "license_changed", None).await.is_empty());
}

/// A2 holds for helpdesk staff too, and their wrong password counts against them alone.
#[tokio::test]
async fn a2_helpdesk_staff_are_asked_too() {
    let app = spawn_app().await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;
    app.add_user("carol", PASSWORD).await;
    app.advance(STALE);

    let res = act(&desk, &app, "carol", &[("action", "disable")]).await;
    assert_ne!(res.status(), 303, "not done without the password");
    let fields = [("action", "disable"), ("actor_password", "Wrong-Wrong-11")];
    let res = act(&desk, &app, "carol", &fields).await;
    assert_ne!(res.status(), 303, "not done with a wrong one");

    assert_eq!(app.show_user("desk").await.failed_attempts, 1);
    assert_eq!(app.show_user("carol").await.failed_attempts, 0);
    assert!(!app.show_user("carol").await.disabled);
    let fields = [("action", "disable"), ("actor_password", PASSWORD)];
    let res = act(&desk, &app, "carol", &fields).await;
    assert_done(&res, "/admin/accounts/carol?done=disabled");
    audited_by(&app, "user_disabled", Some("carol"), "desk").await;
}
