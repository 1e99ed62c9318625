//! Agency policy (CONTRACT section 9) through the real server: license
//! reminders 30 and 7 days before a license ends, once each and again
//! after a renewal, and the audit log's retention (`[audit] keep`).

use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{RenewTarget, Request};
use latchkey::domain::license;

use crate::helpers::*;
use crate::smtp::{Received, SmtpSink};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const DAY: Duration = Duration::from_secs(86_400);

/// Sets alice's license to end `days` from the server's today.
async fn license_ends_in(app: &TestApp, days: i64) {
    use jiff::ToSpan;
    let day = license::today(app.auth.store.now())
        .checked_add(days.days())
        .unwrap();
    app.admin(Request::LicenseSet {
        username: "alice".into(),
        expires: day.to_string(),
    })
    .await
    .unwrap();
}

/// The license reminders delivered to alice so far.
async fn reminders(app: &TestApp, sink: &SmtpSink) -> Vec<Received> {
    app.deliver_mail().await;
    sink.to("alice@example.org")
        .into_iter()
        .filter(|m| m.header("Subject").unwrap_or_default().contains("license"))
        .collect()
}

/// CONTRACT section 9: one mail 30 days and one 7 days before the license
/// ends, each once; a renewal starts them again for the new last day.
#[tokio::test(flavor = "multi_thread")]
async fn license_reminders_come_at_30_and_7_days_once_each_and_again_after_a_renewal() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    license_ends_in(&app, 40).await;

    assert_eq!(
        app.auth.send_license_reminders().await.unwrap(),
        0,
        "40 days off"
    );
    app.advance(10 * DAY);
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 1);
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 0, "once");
    let mail = reminders(&app, &sink).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].header("Subject").unwrap(),
        "Your license ends in 30 days: ask your agency to renew it"
    );
    assert!(
        mail[0].text().contains("ask your agency"),
        "{}",
        mail[0].text()
    );

    app.advance(20 * DAY);
    assert_eq!(
        app.auth.send_license_reminders().await.unwrap(),
        0,
        "10 days left: the 30-day one was sent"
    );
    app.advance(3 * DAY);
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 1);
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 0, "once");
    let mail = reminders(&app, &sink).await;
    assert_eq!(mail.len(), 2);
    assert_eq!(
        mail[1].header("Subject").unwrap(),
        "Your license ends in 7 days: ask your agency to renew it"
    );

    app.admin(Request::LicenseRenew {
        target: RenewTarget::User("alice".into()),
        years: 1,
    })
    .await
    .unwrap();
    assert_eq!(
        app.auth.send_license_reminders().await.unwrap(),
        0,
        "a year and 7 days off"
    );
    let left = (app.show_user("alice").await.license_expires.unwrap()
        - license::today(app.auth.store.now()))
    .get_days();
    app.advance(Duration::from_secs(
        86_400 * u64::try_from(left - 30).unwrap(),
    ));
    assert_eq!(
        app.auth.send_license_reminders().await.unwrap(),
        1,
        "the new period's 30-day reminder"
    );
    assert_eq!(reminders(&app, &sink).await.len(), 3);
}

/// A license that never ends, or a disabled account, gets no reminder; one
/// that missed its 30-day mail (the server was off) gets just the 7-day one.
#[tokio::test(flavor = "multi_thread")]
async fn no_reminder_for_never_or_disabled_and_one_for_a_missed_stage() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    app.admin(Request::LicenseSet {
        username: "alice".into(),
        expires: "never".into(),
    })
    .await
    .unwrap();
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 0);

    license_ends_in(&app, 5).await;
    app.admin(Request::UserDisable {
        username: "alice".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        app.auth.send_license_reminders().await.unwrap(),
        0,
        "disabled"
    );
    app.admin(Request::UserEnable {
        username: "alice".into(),
    })
    .await
    .unwrap();
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 1);
    assert_eq!(app.auth.send_license_reminders().await.unwrap(), 0);
    let mail = reminders(&app, &sink).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].header("Subject").unwrap(),
        "Your license ends in 5 days: ask your agency to renew it"
    );
}

/// `[audit] keep`: events older than the period are deleted, newer ones
/// stay; without the key nothing is ever deleted (an old config is unchanged).
#[tokio::test(flavor = "multi_thread")]
async fn audit_events_past_keep_are_pruned_and_without_keep_none_are() {
    let (app, _sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let before = app.audit_events(None).await.len();
    assert!(before > 0);
    app.advance(1000 * DAY);
    assert_eq!(
        app.auth.prune_audit().await.unwrap(),
        0,
        "no [audit] keep: nothing goes"
    );
    assert_eq!(app.audit_events(None).await.len(), before);

    let app = app.restart(|c| c.audit.keep = Some(Dur::days(30))).await;
    app.add_user("bob", PASSWORD).await;
    let fresh = app.audit_events(Some("bob")).await.len();
    assert!(fresh > 0);
    // The restart's own prune (the first tick) may already have run.
    app.auth.prune_audit().await.unwrap();
    assert!(
        app.audit_events(Some("alice")).await.is_empty(),
        "alice's events were 1000 days old"
    );
    assert_eq!(
        app.audit_events(Some("bob")).await.len(),
        fresh,
        "bob's are new"
    );
    app.advance(31 * DAY);
    app.add_user("carol", PASSWORD).await;
    app.auth.prune_audit().await.unwrap();
    assert!(
        app.audit_events(Some("bob")).await.is_empty(),
        "now bob's are past keep"
    );
    assert!(!app.audit_events(Some("carol")).await.is_empty());
}
