//! The account page and its actions: unlock, reset links, licenses, disable
//! and enable, forced change; each done, and audited with the actor.

use latchkey::domain::license;
use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// The locked queue lists a locked account with its failures and address;
/// the account page shows the lock and the sign-ins; unlocking from the
/// queue comes back to it, and the account is gone from it.
#[tokio::test]
async fn unlock_from_the_locked_queue() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    lock_out(&app, "carol").await;

    let (status, queue) = page(&boss, &app, "/admin").await;

    assert_eq!(status, 200);
    let rows = table(&queue, "locked");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0][0].starts_with("carol"), "{rows:?}");
    assert_eq!(rows[0][2], LOOPBACK, "locked from");
    assert_eq!(rows[0][3], "3", "failures");
    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    let details = text_of_html(&account);
    assert!(details.contains("Locked since "), "{details}");
    assert!(details.contains(&format!(", from {LOOPBACK}")), "{details}");
    let sign_ins = table(&account, "sign-ins");
    assert_eq!(sign_ins.len(), 3, "{sign_ins:?}");
    for row in &sign_ins {
        assert!(row[0].ends_with("UTC"), "time {row:?}");
        assert_eq!(row[1], LOOPBACK, "address {row:?}");
        assert_eq!(row[2], "wrong password", "result {row:?}");
    }

    let fields = [("action", "unlock"), ("back", "queue")];
    let res = submit(&boss, &app, "/admin", "/admin/accounts/carol", &fields).await;

    assert_done(&res, "/admin?done=unlocked");
    let (_, queue) = page(&boss, &app, "/admin?done=unlocked").await;
    assert!(table(&queue, "locked").is_empty(), "{queue}");
    assert!(queue.contains("No account is locked."));
    assert!(queue.contains("The account is unlocked."));
    let carol = app.show_user("carol").await;
    assert!(!carol.locked);
    assert_eq!(carol.failed_attempts, 0);
    let e = audited_by(&app, "account_unlocked", Some("carol"), "boss").await;
    assert_eq!(e.detail.as_deref(), Some("unlocked"));
    let (_, _) = signed_in(&app, "carol", PASSWORD).await;
    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    let sign_ins = table(&account, "sign-ins");
    assert_eq!(sign_ins.len(), 4);
    assert_eq!(sign_ins[0][2], "signed in", "newest first: {sign_ins:?}");
}

/// Unlock and reset: the account opens and its owner gets a working reset link.
#[tokio::test(flavor = "multi_thread")]
async fn unlock_and_reset_mails_a_reset_link() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    let boss = staff(&app, "boss", Role::Admin).await;
    app.add_user("carol", PASSWORD).await;
    lock_out(&app, "carol").await;

    let res = act(&boss, &app, "carol", &[("action", "unlock_and_reset")]).await;

    assert_done(&res, "/admin/accounts/carol?done=unlocked-mailed");
    assert!(!app.show_user("carol").await.locked);
    audited_by(&app, "account_unlocked", Some("carol"), "boss").await;
    let e = audited_by(&app, "reset_requested", Some("carol"), "boss").await;
    assert!(e.detail.unwrap_or_default().contains("carol@example.org"));
    let mail = app.mail_in(&sink).await;
    let resets: Vec<_> = mail
        .iter()
        .filter(|m| m.link("/reset/").is_some())
        .collect();
    assert_eq!(resets.len(), 1, "{mail:#?}");
    assert_eq!(resets[0].to, vec!["carol@example.org".to_owned()]);
    let token = resets[0].token("/reset/").unwrap();
    let (status, _) = page(&app.client(), &app, &format!("/reset/{token}")).await;
    assert_eq!(status, 200, "the link works");
}

/// A reset link alone, for an account that is not locked.
#[tokio::test(flavor = "multi_thread")]
async fn reset_link_is_mailed_to_the_owner() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    let boss = staff(&app, "boss", Role::Admin).await;
    app.add_user("carol", PASSWORD).await;

    let res = act(&boss, &app, "carol", &[("action", "reset_link")]).await;

    assert_done(&res, "/admin/accounts/carol?done=mailed");
    let (_, account) = page(&boss, &app, "/admin/accounts/carol?done=mailed").await;
    assert!(account.contains("A reset link was mailed"), "{account}");
    audited_by(&app, "reset_requested", Some("carol"), "boss").await;
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert_eq!(mail[0].to, vec!["carol@example.org".to_owned()]);
    assert!(mail[0].link("/reset/").is_some());
}

/// Renewing adds whole years from the license's current end; a bad number of years is 422.
#[tokio::test]
async fn renew_extends_the_license() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let before = app.show_user("carol").await.license_expires;

    let res = act(&boss, &app, "carol", &[("action", "renew"), ("years", "2")]).await;

    assert_done(&res, "/admin/accounts/carol?done=renewed");
    let after = app.show_user("carol").await.license_expires;
    assert_eq!(
        after,
        license::renew(before, license::today(jiff::Timestamp::now()), 2)
    );
    assert!(after > before, "{before:?} -> {after:?}");
    let e = audited_by(&app, "license_changed", Some("carol"), "boss").await;
    assert!(
        e.detail
            .unwrap_or_default()
            .contains(&after.unwrap().to_string())
    );

    for years in ["0", "11", "two", ""] {
        let fields = [("action", "renew"), ("years", years)];
        let (status, body) = read(act(&boss, &app, "carol", &fields).await).await;

        assert_eq!(status, 422, "years {years:?}");
        assert!(body.contains("how many years"), "{body}");
    }
    assert_eq!(app.show_user("carol").await.license_expires, after);
}

/// Setting the license: a last day, or never; a date that is not one is 422.
#[tokio::test]
async fn license_is_set_to_a_day_or_never() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let last_day = day(200);

    let fields = [("action", "license"), ("expires", &last_day.to_string())];
    let res = act(&boss, &app, "carol", &fields).await;

    assert_done(&res, "/admin/accounts/carol?done=license");
    assert_eq!(app.show_user("carol").await.license_expires, Some(last_day));
    audited_by(&app, "license_changed", Some("carol"), "boss").await;

    let fields = [("action", "license"), ("expires", ""), ("never", "on")];
    let res = act(&boss, &app, "carol", &fields).await;

    assert_done(&res, "/admin/accounts/carol?done=license");
    assert_eq!(app.show_user("carol").await.license_expires, None);
    assert_eq!(
        events(&app, "license_changed", Some("carol")).await.len(),
        2
    );
    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    assert!(account.contains("never expires"));

    for expires in ["2031-02-30", "31/12/2031", ""] {
        let fields = [("action", "license"), ("expires", expires)];
        let (status, _) = read(act(&boss, &app, "carol", &fields).await).await;

        assert_eq!(status, 422, "expires {expires:?}");
    }
    assert_eq!(app.show_user("carol").await.license_expires, None);
    assert_eq!(
        events(&app, "license_changed", Some("carol")).await.len(),
        2
    );
}

/// Disabling ends the owner's live session at once (S4); enabling lets them back in.
#[tokio::test]
async fn disable_ends_the_live_session_and_enable_opens_again() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let (carol, _) = signed_in(&app, "carol", PASSWORD).await;
    assert_eq!(get(&carol, &app, "/").await.status(), 200);

    let res = act(&boss, &app, "carol", &[("action", "disable")]).await;

    assert_done(&res, "/admin/accounts/carol?done=disabled");
    assert!(app.show_user("carol").await.disabled);
    assert_sent_to_login(&get(&carol, &app, "/").await);
    audited_by(&app, "user_disabled", Some("carol"), "boss").await;
    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    assert!(account.contains("value=\"enable\""), "the enable button");
    let refused = login(&app.client(), &app, "carol", PASSWORD).await;
    assert_ne!(location(&refused), "/", "a disabled account cannot sign in");

    let res = act(&boss, &app, "carol", &[("action", "enable")]).await;

    assert_done(&res, "/admin/accounts/carol?done=enabled");
    assert!(!app.show_user("carol").await.disabled);
    audited_by(&app, "user_enabled", Some("carol"), "boss").await;
    signed_in(&app, "carol", PASSWORD).await;
}

/// A forced change ends the live session and the next sign-in must choose a new password.
#[tokio::test]
async fn force_change_makes_the_next_sign_in_change_the_password() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let (carol, _) = signed_in(&app, "carol", PASSWORD).await;

    let res = act(&boss, &app, "carol", &[("action", "force_change")]).await;

    assert_done(&res, "/admin/accounts/carol?done=force-change");
    audited_by(&app, "force_change_set", Some("carol"), "boss").await;
    assert_sent_to_login(&get(&carol, &app, "/").await);
    let again = login(&app.client(), &app, "carol", PASSWORD).await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), "/password/expired");
    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;
    assert!(
        account.contains("must be changed at the next sign-in"),
        "{account}"
    );
}

/// An account that does not exist is 404, on the page and for every action.
#[tokio::test]
async fn an_unknown_account_is_404() {
    let (app, boss) = boss_console().await;

    assert_eq!(page(&boss, &app, "/admin/accounts/nobody").await.0, 404);
    for action in ["unlock", "disable", "reset_link"] {
        let token = page_token(&boss, &app, "/admin").await;
        let url = app.url("/admin/accounts/nobody");
        let res = post_with_token(&boss, &url, &[("action", action)], &token).await;

        assert_eq!(res.status(), 404, "{action}");
    }
    assert!(!exists(&app, "nobody").await);
}

/// An action the page does not offer is 422 and changes nothing.
#[tokio::test]
async fn an_unknown_action_is_422() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let before = app.show_user("carol").await;

    let (status, body) = read(act(&boss, &app, "carol", &[("action", "promote")]).await).await;

    assert_eq!(status, 422);
    assert!(body.contains("Unknown action"), "{body}");
    assert_eq!(app.show_user("carol").await, before);
}

/// A user name that needs encoding in a path (`@`, `.`) works through every step.
#[tokio::test]
async fn an_account_named_like_an_email_address() {
    let (app, boss) = boss_console().await;
    add_account(
        &app,
        described("ann@agency.org", "ann@agency.org", "Ann", None),
    )
    .await;

    let (status, body) = page(&boss, &app, "/admin/accounts/ann%40agency.org").await;
    assert_eq!(status, 200);
    let (_, list) = page(&boss, &app, "/admin/accounts?q=ann").await;
    let list = unescape(&list);
    assert!(
        list.contains("href=\"/admin/accounts/ann%40agency.org\""),
        "the row links to the account: {list}"
    );
    assert!(body.contains("ann@agency.org"));

    let res = act(&boss, &app, "ann%40agency.org", &[("action", "disable")]).await;

    assert_done(&res, "/admin/accounts/ann%40agency.org?done=disabled");
    assert!(app.show_user("ann@agency.org").await.disabled);
    audited_by(&app, "user_disabled", Some("ann@agency.org"), "boss").await;
}
