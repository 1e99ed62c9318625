//! Every console page renders for an administrator and a helpdesk member.

use latchkey::control::protocol::{Request, UserChanges};
use latchkey::domain::role::Role;

use crate::helpers::*;

const PW: &str = "Kettle-Blue-42x";

#[tokio::test]
async fn every_console_page_renders() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let app = spawn_app().await;
    app.add_user("boss", PW).await;
    app.add_user("carol", PW).await;
    let changes = UserChanges {
        role: Some(Role::Admin),
        ..UserChanges::default()
    };
    app.admin(Request::UserSet {
        username: "boss".into(),
        changes,
    })
    .await
    .unwrap();
    app.admin(Request::GroupAdd {
        name: "intake".into(),
    })
    .await
    .unwrap();
    app.admin(Request::AppAdd(latchkey::control::protocol::AppSpec {
        name: "Files".into(),
        redirect_uris: vec!["https://files.example.org/cb".into()],
        groups: vec!["intake".into()],
        hosts: vec!["files.example.org".into()],
        ..Default::default()
    }))
    .await
    .unwrap();
    let mut dave = new_user("dave", None);
    dave.agency = Some("Food Shelf".into());
    dave.groups = vec!["intake".into()];
    app.admin(Request::UserAdd(dave)).await.unwrap();
    for _ in 0..3 {
        login(&app.client(), &app, "carol", "wrong").await;
    }
    assert_eq!(app.show_user("boss").await.last_sign_in_at, None);
    let (client, _) = signed_in(&app, "boss", PW).await;
    // CONTRACT section 7: `user show` gains `last_sign_in_at`.
    let last = app.show_user("boss").await.last_sign_in_at;
    assert!(last.is_some_and(|t| t <= app.auth.store.now()), "{last:?}");
    for path in [
        "/admin",
        "/admin/accounts",
        "/admin/accounts?q=car&filter=locked",
        "/admin/accounts/carol",
        "/admin/accounts/dave",
        "/admin/accounts/boss",
        "/admin/add",
        "/admin/licenses",
        "/admin/licenses?within=90",
        "/admin/licenses.csv?within=30",
        "/admin/audit",
        "/admin/audit?user=carol&event=login_succeeded",
        "/admin/audit.csv",
        "/admin/apps",
        "/admin/mail",
    ] {
        let res = get(&client, &app, path).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
    }
}
