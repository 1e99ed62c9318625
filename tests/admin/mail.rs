//! The mail queue: what `mail queue` shows, and "retry now".

use std::time::Duration;

use latchkey::control::protocol::QueuedMail;
use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// Past the worker's longest wait between two tries (5 minutes).
const PAST_ANY_BACKOFF: Duration = Duration::from_secs(5 * 60 + 1);

/// A server whose SMTP server is down, with one setup mail (to erin) that
/// has failed often enough that its next try, and the worker's next look
/// at the SMTP server, are minutes away; boss signed in afterwards.
async fn one_stuck_message() -> (TestApp, reqwest::Client, QueuedMail, Duration) {
    let port = free_port();
    let app = spawn_with(|c| point_at_sink(c, port)).await;
    app.add_user("boss", PASSWORD).await;
    set_role(&app, "boss", Role::Admin).await;
    add_account(&app, new_user("erin", None)).await;
    let mut advanced = Duration::ZERO;
    for _ in 0..10 {
        app.advance(PAST_ANY_BACKOFF);
        advanced += PAST_ANY_BACKOFF;
        app.deliver_mail().await;
    }
    let (boss, _) = signed_in(&app, "boss", PASSWORD).await;
    let queue = app.mail_queue().await;
    let [stuck] = queue.as_slice() else {
        panic!("one message waits: {queue:#?}");
    };
    (app, boss, stuck.clone(), advanced)
}

/// The server's clock now, give or take the second it took to ask.
fn server_now(advanced: Duration) -> jiff::Timestamp {
    let by = jiff::SignedDuration::try_from(advanced).unwrap();
    jiff::Timestamp::now().checked_add(by).unwrap()
}

/// The page lists what waits: to whom, what, how many tries, the last error.
#[tokio::test(flavor = "multi_thread")]
async fn the_mail_queue_lists_what_waits() {
    let (app, boss, stuck, _) = one_stuck_message().await;
    assert!(stuck.attempts >= 2, "{stuck:?}");
    assert!(stuck.last_error.is_some());

    let (status, body) = page(&boss, &app, "/admin/mail").await;

    assert_eq!(status, 200);
    let rows = table(&body, "queue");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0][0].starts_with("erin@example.org"), "{rows:?}");
    assert_eq!(rows[0][3], stuck.attempts.to_string());
    assert!(!rows[0][6].is_empty(), "the last error: {rows:?}");
    assert!(!body.contains("/setup/"), "never the link itself");
    assert!(body.contains(&format!("name=\"id\" value=\"{}\"", stuck.id)));

    let desk = staff(&app, "desk", Role::Helpdesk).await;
    assert_eq!(
        page(&desk, &app, "/admin/mail").await.0,
        200,
        "helpdesk too"
    );
}

/// Retry one message: it is due now, audited with the actor.
#[tokio::test(flavor = "multi_thread")]
async fn retrying_one_message_makes_it_due_now() {
    let (app, boss, stuck, advanced) = one_stuck_message().await;
    assert!(
        stuck.next_attempt_at > server_now(advanced) + Duration::from_secs(60),
        "minutes away before: {stuck:?}"
    );

    let id = stuck.id.to_string();
    let res = post_to(&boss, &app, "/admin/mail", &[("id", &id)]).await;

    assert_done(&res, "/admin/mail?done=retried");
    let queue = app.mail_queue().await;
    assert_eq!(queue.len(), 1, "still waiting: SMTP is down");
    assert!(
        queue[0].next_attempt_at <= server_now(advanced),
        "due now: {:?}",
        queue[0]
    );
    let e = audited_by(&app, "mail_retried", None, "boss").await;
    assert!(e.detail.unwrap_or_default().contains(&format!("mail {id}")));
    let (_, body) = page(&boss, &app, "/admin/mail?done=retried").await;
    assert!(body.contains("The mail will be sent again now."));
}

/// Retry with no id: every message; an unknown id is 404 and audits nothing.
#[tokio::test(flavor = "multi_thread")]
async fn retrying_everything_and_an_unknown_id() {
    let (app, boss, stuck, advanced) = one_stuck_message().await;

    let res = post_to(&boss, &app, "/admin/mail", &[("id", "999999")]).await;
    assert_eq!(res.status(), 404);
    assert!(events(&app, "mail_retried", None).await.is_empty());
    assert_eq!(
        app.mail_queue().await[0].next_attempt_at,
        stuck.next_attempt_at
    );

    let res = post_to(&boss, &app, "/admin/mail", &[]).await;

    assert_done(&res, "/admin/mail?done=retried");
    assert!(app.mail_queue().await[0].next_attempt_at <= server_now(advanced));
    let e = audited_by(&app, "mail_retried", None, "boss").await;
    assert!(e.detail.unwrap_or_default().contains("all 1 queued"));
}

/// Once SMTP is back, the retried message goes out.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_message_is_delivered_once_smtp_is_back() {
    let port = free_port();
    let app = spawn_with(|c| point_at_sink(c, port)).await;
    let boss = staff(&app, "boss", Role::Admin).await;
    let res = post_to(
        &boss,
        &app,
        "/admin/add",
        &[("username", "erin"), ("email", "erin@example.org")],
    )
    .await;
    assert_done(&res, "/admin/add?done=created");
    app.deliver_mail().await;
    let queue = app.mail_queue().await;
    assert!(queue.iter().all(|m| m.attempts >= 1), "{queue:?}");
    let sink = SmtpSink::start_on(port).await;

    let res = post_to(&boss, &app, "/admin/mail", &[]).await;
    assert_done(&res, "/admin/mail?done=retried");
    app.advance(Duration::from_secs(2)); // past the worker's short pause after a failure

    let mail = app.mail_in(&sink).await;
    assert!(
        mail.iter().any(|m| m.to == ["erin@example.org"]),
        "{mail:#?}"
    );
    assert!(app.mail_queue().await.is_empty());
}
