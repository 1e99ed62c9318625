//! Sign-in (CONTRACT section 4, POST /login; SECURITY L1, L6).

use crate::helpers::*;

#[tokio::test]
async fn right_password_signs_in_and_home_shows_the_name() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let res = login(&client, &app, "alice", PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(body.contains("alice"));
    assert!(body.contains("class=\"gear\""));
}
