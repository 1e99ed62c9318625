//! Mail delivery through a real SMTP conversation (CONTRACT section 5; SECURITY R6, D2).

use crate::helpers::*;

/// A reset request reaches the SMTP sink with a base_url link, multipart, from mail.from.
#[tokio::test(flavor = "multi_thread")]
async fn forgot_password_mails_a_reset_link() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let res = request_reset(&client, &app, "alice").await;

    assert_eq!(res.status(), 200);
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1, "one message");
    let m = &mail[0];
    assert_eq!(m.to, vec!["alice@example.org".to_string()]);
    assert_eq!(m.from, "DoNotReply@localhost");
    assert!(m.raw.contains("multipart/alternative"));
    assert!(m.header("Message-ID").is_some() && m.header("Date").is_some());
    let link = m.link("/reset/").expect("a reset link");
    assert!(link.starts_with("http://127.0.0.1:8080/reset/"), "{link}");
}
