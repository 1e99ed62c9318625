//! The User Profile: its page and pop-up, changing the password, phone and email,
//! expiry warnings and the forced change (CONTRACT sections 4 and 5, `/profile*`,
//! `/confirm-email/{token}`, `/password/expired`; SECURITY P4, P5, R5, S3, S4).

use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{Request, Response};

use crate::helpers::*;
use crate::smtp::Received;

const NEW_PASSWORD: &str = "Lantern-Red-77q";

async fn save_contact(
    client: &reqwest::Client,
    app: &TestApp,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    submit(client, app, "/profile", "/profile/contact", fields).await
}

/// The markup of the `<form>` posting to `action`, up to its `</form>`.
fn form_for<'a>(html: &'a str, action: &str) -> &'a str {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("a form posting to {action}"));
    let start = html[..at].rfind("<form").unwrap();
    let end = html[at..].find("</form>").unwrap() + at;
    &html[start..end]
}

fn assert_profile_forms(html: &str) {
    let password = form_for(html, "/profile/password");
    for field in ["current_password", "password", "confirm", "csrf_token"] {
        assert!(password.contains(&format!("name=\"{field}\"")), "{field}");
    }
    let contact = form_for(html, "/profile/contact");
    for field in ["email", "phone", "current_password", "csrf_token"] {
        assert!(contact.contains(&format!("name=\"{field}\"")), "{field}");
    }
}

/// Delivers what is due and returns the messages to `to`, at least `n` of them.
async fn mail_to(app: &TestApp, sink: &SmtpSink, to: &str, n: usize) -> Vec<Received> {
    app.deliver_mail().await;
    let mail = sink.to(to);
    assert!(
        mail.len() >= n,
        "fewer than {n} messages reached {to}: {mail:?}"
    );
    mail
}

fn subject(m: &Received) -> String {
    m.header("Subject").unwrap_or_default()
}

/// CONTRACT 4 `/profile` and `GET /`: the page and the gear's pop-up hold the same two forms.
#[tokio::test(flavor = "multi_thread")]
async fn profile_page_and_home_dialog_hold_both_forms() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;

    let page = get(&client, &app, "/profile").await;
    let home = get(&client, &app, "/").await;

    assert_eq!(page.status(), 200);
    assert_profile_forms(&page.text().await.unwrap());
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    let start = html
        .find("<dialog id=\"profile-dialog\"")
        .expect("the home page has the profile dialog");
    let end = html[start..].find("</dialog>").unwrap() + start;
    assert_profile_forms(&html[start..end]);
}

/// CONTRACT 4 `/profile/password`, L6: three wrong current passwords lock the account,
/// end its session, and sign-in then answers 403 locked.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_current_passwords_count_toward_lockout() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;

    for i in 0..3 {
        let res = change_password(&client, &app, &format!("Wrong-Guess-{i}"), NEW_PASSWORD).await;
        assert_eq!(res.status(), 422, "attempt {i}");
    }

    assert!(app.show_user("alice").await.locked);
    let home = get(&client, &app, "/").await;
    assert_eq!(home.status(), 303, "the lock ends the session");
    assert_eq!(location(&home), "/login");
    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("locked"));
}

/// CONTRACT 4 `/profile/password`, L6: profile failures and sign-in failures share one count.
#[tokio::test(flavor = "multi_thread")]
async fn two_wrong_current_passwords_and_a_failed_sign_in_lock() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;
    for i in 0..2 {
        let res = change_password(&client, &app, &format!("Wrong-Guess-{i}"), NEW_PASSWORD).await;
        assert_eq!(res.status(), 422);
    }
    assert_eq!(app.show_user("alice").await.failed_attempts, 2);

    let failed = login(&app.client(), &app, "alice", "Wrong-Guess-2").await;

    assert_eq!(failed.status(), 403, "the third failure locks");
    let home = get(&client, &app, "/").await;
    assert_eq!(home.status(), 303);
    assert_eq!(location(&home), "/login");
    let res = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("locked"));
}

/// CONTRACT 4 `/profile/password`, P1: a password breaking a rule is 422 naming the rule.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_breaking_new_password_is_422_naming_the_rule() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;

    let res = change_password(&client, &app, PASSWORD, "Sh0rt!").await;

    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Use at least 8 characters.")
    );
    assert_eq!(app.show_user("alice").await.failed_attempts, 0);
    let still = login(&app.client(), &app, "alice", PASSWORD).await;
    assert_eq!(still.status(), 303, "the old password still works");
}

/// CONTRACT 4 `/profile/password`, S3, S4, R8: success swaps the password, ends every
/// other session, gives this browser a new session id, and mails a notice.
#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_revokes_other_sessions_and_renews_this_one() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let (client, old_id) = signed_in(&app, "alice", PASSWORD).await;
    let (other, _) = signed_in(&app, "alice", PASSWORD).await;

    let res = change_password(&client, &app, PASSWORD, NEW_PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/profile"), "{}", location(&res));
    let new_id = set_cookie(&res, "latchkey_session").expect("a new session cookie");
    assert_ne!(new_id, old_id, "S3: a new session id");
    assert_eq!(
        get(&client, &app, "/").await.status(),
        200,
        "still signed in"
    );
    let theirs = get(&other, &app, "/").await;
    assert_eq!(theirs.status(), 303, "S4: the other session is revoked");
    assert_eq!(location(&theirs), "/login");
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/"))
        .header("cookie", format!("latchkey_session={old_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replayed.status(),
        303,
        "the old id of this browser is dead too"
    );
    assert_eq!(
        login(&app.client(), &app, "alice", NEW_PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(
        login(&app.client(), &app, "alice", PASSWORD).await.status(),
        401
    );
    let mail = mail_to(&app, &sink, "alice@example.org", 1).await;
    assert!(
        subject(&mail[0]).contains("password was changed"),
        "{}",
        subject(&mail[0])
    );
}

/// CONTRACT 4 `/profile/contact`, I4: the phone changes at once; bad values are 422.
#[tokio::test(flavor = "multi_thread")]
async fn the_phone_changes_at_once_and_bad_values_are_refused() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;
    let email = ("email", "alice@example.org");

    let res = save_contact(&client, &app, &[email, ("phone", "+1 555 010 0199")]).await;

    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/profile"), "{}", location(&res));
    let page = get(&client, &app, "/profile").await.text().await.unwrap();
    assert!(page.contains("+1 555 010 0199"));
    assert_eq!(
        app.show_user("alice").await.phone.as_deref(),
        Some("+1 555 010 0199")
    );
    let bad_phone = save_contact(&client, &app, &[email, ("phone", "abc")]).await;
    assert_eq!(bad_phone.status(), 422);
    let bad_email = save_contact(
        &client,
        &app,
        &[
            ("email", "not an address"),
            ("phone", ""),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(bad_email.status(), 422);
    let after = app.show_user("alice").await;
    assert_eq!(after.phone.as_deref(), Some("+1 555 010 0199"));
    assert_eq!(after.email.as_deref(), Some("alice@example.org"));
}

/// Asks for `new` as alice's address with the right password; returns the
/// `/confirm-email/{token}` path mailed to it.
async fn request_email_change(
    app: &TestApp,
    sink: &SmtpSink,
    client: &reqwest::Client,
    new: &str,
) -> String {
    let fields = [
        ("email", new),
        ("phone", ""),
        ("current_password", PASSWORD),
    ];
    let res = save_contact(client, app, &fields).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/profile"), "{}", location(&res));
    let mail = mail_to(app, sink, new, 1).await;
    let link = mail[0]
        .link("/confirm-email/")
        .expect("a confirmation link");
    assert!(
        link.starts_with("http://127.0.0.1:8080/confirm-email/"),
        "{link}"
    );
    path_of(&link, "/confirm-email/")
}

/// CONTRACT 4 `/profile/contact`, P5, C1, L6: a new email needs the current password,
/// takes effect only on POST from the mailed link, and the old address is told.
#[tokio::test(flavor = "multi_thread")]
async fn p5_a_new_email_is_confirmed_from_the_new_address() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;
    let no_password = [("email", "alice@new.example"), ("phone", "")];
    let refused = save_contact(&client, &app, &no_password).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(app.show_user("alice").await.failed_attempts, 1);

    let path = request_email_change(&app, &sink, &client, "alice@new.example").await;

    assert_eq!(
        app.show_user("alice").await.email.as_deref(),
        Some("alice@example.org"),
        "not before confirmation"
    );
    let confirmer = app.client();
    let page = get(&confirmer, &app, &path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Confirm"));
    assert_eq!(
        app.show_user("alice").await.email.as_deref(),
        Some("alice@example.org"),
        "GET never mutates"
    );
    let confirmed = submit(&confirmer, &app, &path, &path, &[]).await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(
        app.show_user("alice").await.email.as_deref(),
        Some("alice@new.example")
    );
    let told = mail_to(&app, &sink, "alice@example.org", 1).await;
    assert!(subject(&told[0]).contains("email address was changed"));
    assert!(told[0].text().contains("alice@new.example"));
    assert_eq!(get(&confirmer, &app, &path).await.status(), 410);
    let events = app.audit_events(Some("alice")).await;
    assert!(events.iter().any(|e| e.event == "email_change_requested"));
    assert!(events.iter().any(|e| e.event == "email_changed"));
}

/// R5: an email change voids a reset link issued before it.
#[tokio::test(flavor = "multi_thread")]
async fn r5_an_email_change_voids_an_earlier_reset_link() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let reset = match app
        .admin(Request::ResetLink {
            username: "alice".into(),
            send: false,
        })
        .await
        .unwrap()
    {
        Response::Link { link, .. } => path_of(&link, "/reset/"),
        other => panic!("unexpected {other:?}"),
    };
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;
    assert_eq!(get(&client, &app, &reset).await.status(), 200);

    let path = request_email_change(&app, &sink, &client, "alice@new.example").await;
    let confirmed = submit(&client, &app, &path, &path, &[]).await;
    assert_eq!(confirmed.status(), 303);

    assert_eq!(get(&app.client(), &app, &reset).await.status(), 410);
}

/// P4, CONTRACT 4 `/password/expired`: past max_age a correct password gives a
/// session that can only choose a new password, never the current one.
#[tokio::test(flavor = "multi_thread")]
async fn p4_an_expired_password_must_be_changed_at_sign_in() {
    let app = spawn_with(|config| {
        config.policy.max_age = Dur::secs(2);
        config.policy.expiry_warning = Dur::secs(1);
    })
    .await;
    app.add_user("alice", PASSWORD).await;
    signed_in(&app, "alice", PASSWORD).await;

    app.advance(Duration::from_millis(2200));
    let client = app.client();
    let res = login(&client, &app, "alice", PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/password/expired");
    let home = get(&client, &app, "/").await;
    assert_eq!(home.status(), 303);
    assert_eq!(location(&home), "/password/expired");
    let page = "/password/expired";
    let reused = [("password", PASSWORD), ("confirm", PASSWORD)];
    let res = submit(&client, &app, page, page, &reused).await;
    assert_eq!(res.status(), 422, "the current password is in the history");
    let refusal = res.text().await.unwrap();
    assert!(
        refusal.contains(r#"<div id="form-errors" class="alert alert--error" role="alert">"#)
            && refusal.contains(r#"aria-describedby="rules form-errors""#),
        "the shared error list, tied to the password field"
    );
    let fresh = [("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let res = submit(&client, &app, page, page, &fresh).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    assert_eq!(get(&client, &app, "/").await.status(), 200);
    assert_eq!(get(&client, &app, "/profile").await.status(), 200);
}

/// CONTRACT 4 `GET /`: within expiry_warning a banner counts the days and links to the change.
#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_warns_within_expiry_warning() {
    let app = spawn_with(|config| config.policy.max_age = Dur::days(5)).await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;

    let html = get(&client, &app, "/").await.text().await.unwrap();

    let at = html
        .find("Your password expires in 5 days.")
        .expect("the banner");
    let banner_end = html[at..].find("</div>").unwrap() + at;
    assert!(html[at..banner_end].contains("href=\"/profile\""));
}

/// CONTRACT 4 `GET /`: with the default 45-day max_age a fresh password shows no banner.
#[tokio::test(flavor = "multi_thread")]
async fn no_banner_far_from_expiry() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;

    let html = get(&client, &app, "/").await.text().await.unwrap();

    assert!(!html.contains("Your password expires"));
}

/// CONTRACT 2 `policy.expiry_warning`, 5: one reminder mail per password.
#[tokio::test(flavor = "multi_thread")]
async fn one_expiry_reminder_per_password() {
    let (app, sink) = spawn_with_smtp(|config| config.policy.max_age = Dur::days(5)).await;
    app.add_user("alice", PASSWORD).await;

    let first = app.auth.send_expiry_reminders().await.unwrap();
    let second = app.auth.send_expiry_reminders().await.unwrap();

    assert_eq!((first, second), (1, 0));
    let mail = mail_to(&app, &sink, "alice@example.org", 1).await;
    assert_eq!(subject(&mail[0]), "Your password expires in 5 days");
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;
    let res = change_password(&client, &app, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.auth.send_expiry_reminders().await.unwrap(), 1);
    let mail = mail_to(&app, &sink, "alice@example.org", 3).await;
    let reminders = mail
        .iter()
        .filter(|m| subject(m).contains("expires in"))
        .count();
    assert_eq!(reminders, 2, "a new password earns a new reminder");
}

/// Signed-in pages are served from memory while nothing changes (the session
/// and account records, and the rendered page); a change made elsewhere (an
/// administrator's edit, a disable) shows on the very next request.
#[tokio::test(flavor = "multi_thread")]
async fn signed_in_pages_follow_changes_made_elsewhere_at_once() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let (client, _) = signed_in(&app, "alice", PASSWORD).await;
    for _ in 0..3 {
        let home = get(&client, &app, "/").await;
        assert_eq!(home.status(), 200);
        // CONTRACT 4 / SECURITY C2: a page served from memory is still never cached.
        assert_eq!(home.headers()["cache-control"], "no-store");
        assert!(home.headers().contains_key("content-security-policy"));
        assert!(!home.text().await.unwrap().contains("Alice Edited"));
    }

    let changes = latchkey::control::protocol::UserChanges {
        name: Some("Alice Edited".into()),
        phone: Some("+1 555 010 0142".into()),
        ..Default::default()
    };
    app.admin(Request::UserSet {
        username: "alice".into(),
        changes,
    })
    .await
    .unwrap();
    let home = get(&client, &app, "/").await.text().await.unwrap();
    assert!(home.contains("Welcome, Alice Edited"), "{home}");
    assert!(
        home.contains("+1 555 010 0142"),
        "the pop-up shows the new phone"
    );

    app.admin(Request::UserDisable {
        username: "alice".into(),
    })
    .await
    .unwrap();
    let after = get(&client, &app, "/").await;
    assert_eq!(
        after.status(),
        303,
        "a disabled account's session ends at once"
    );
    assert_eq!(location(&after), "/login");
}
