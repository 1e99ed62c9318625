//! One-time setup links: the first administrator and new users choosing a password
//! (CONTRACT sections 3 and 4, GET/POST /setup/{token}; SECURITY R1, R3).

use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{Request, Response};

use crate::helpers::*;

/// The path part (`/setup/{token}`) of a printed link.
fn setup_path(link: &str) -> String {
    let at = link.find("/setup/").expect("a /setup/ link");
    link[at..].to_owned()
}

/// The first-administrator link the server printed on its empty data directory.
fn first_admin_path(app: &TestApp) -> String {
    setup_path(
        app.setup_link
            .as_deref()
            .expect("an empty data dir prints a setup link"),
    )
}

/// Creates `username` without a password and returns its setup link path.
async fn invite(app: &TestApp, username: &str) -> String {
    match app
        .admin(Request::UserAdd(new_user(username, None)))
        .await
        .unwrap()
    {
        Response::Created {
            setup_link: Some(link),
            ..
        } => setup_path(&link),
        other => panic!("expected a setup link, got {other:?}"),
    }
}

/// The first administrator's form, filled in.
fn admin_form<'a>(password: &'a str, confirm: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("username", "root-admin"),
        ("email", "admin@example.org"),
        ("password", password),
        ("confirm", confirm),
    ]
}

/// R1 and CONTRACT 3 `serve`: an empty data directory prints `/setup/{43-char token}`.
#[tokio::test]
async fn r1_an_empty_data_dir_has_a_first_admin_link_with_a_long_token() {
    let app = spawn_app().await;

    let path = first_admin_path(&app);

    let token = path.strip_prefix("/setup/").unwrap();
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    let page = app.client().get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for field in ["username", "email", "password", "confirm", "csrf_token"] {
        assert!(html.contains(&format!("name=\"{field}\"")), "{field}");
    }
}

/// CONTRACT 4 /setup: the first administrator is created, signs in, and the link is spent.
#[tokio::test]
async fn first_admin_setup_creates_an_admin_who_signs_in_and_the_link_is_single_use() {
    let app = spawn_app().await;
    let path = first_admin_path(&app);
    let client = app.client();

    let res = submit(&client, &app, &path, &path, &admin_form(PASSWORD, PASSWORD)).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let signed_in = login(&app.client(), &app, "root-admin", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/");
    let again = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(again.status(), 410);
    let token = form_token(&client, &app.url("/login")).await;
    let mut form = admin_form("Other-Pass-99z", "Other-Pass-99z").to_vec();
    form.push(("csrf_token", &token));
    let replayed = client
        .post(app.url(&path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 410);
    let view = app
        .admin(Request::UserShow {
            username: "root-admin".into(),
        })
        .await
        .unwrap();
    assert!(matches!(view, Response::User { user } if user.admin));
}

/// CONTRACT 4 /setup: a password that breaks the policy is 422 listing every broken rule.
#[tokio::test]
async fn a_policy_breaking_password_is_422_listing_each_rule() {
    let app = spawn_app().await;
    let path = first_admin_path(&app);
    let client = app.client();

    let res = submit(&client, &app, &path, &path, &admin_form("abc", "abc")).await;

    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    for rule in [
        "Use at least 8 characters.",
        "Include an upper-case letter.",
        "Include a digit.",
        "Include a special character",
    ] {
        assert!(html.contains(rule), "missing {rule:?}");
    }
    assert!(
        !html.contains("Include a lower-case letter."),
        "that rule was met"
    );
    // The shared error list (_errors.html), and the password field points at it.
    assert!(html.contains(r#"<div id="form-errors" class="alert alert--error" role="alert">"#));
    assert!(html.contains(r#"aria-describedby="rules form-errors""#));
    let still_live = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(
        still_live.status(),
        200,
        "a refused form does not spend the link"
    );
}

/// CONTRACT 4 /setup: the two password fields must match (422).
#[tokio::test]
async fn mismatched_confirm_is_422() {
    let app = spawn_app().await;
    let path = first_admin_path(&app);
    let client = app.client();

    let res = submit(
        &client,
        &app,
        &path,
        &path,
        &admin_form(PASSWORD, "Kettle-Blue-43x"),
    )
    .await;

    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The two passwords differ.")
    );
    let refused = login(&app.client(), &app, "root-admin", PASSWORD).await;
    assert_eq!(refused.status(), 401, "no account was created");
}

/// CONTRACT 4 /setup: a token that was never issued is 410.
#[tokio::test]
async fn a_garbage_token_is_410() {
    let app = spawn_app().await;
    let client = app.client();

    let garbage = client.get(app.url("/setup/garbage")).send().await.unwrap();
    let well_formed = client
        .get(app.url(&format!("/setup/{}", "A".repeat(43))))
        .send()
        .await
        .unwrap();

    assert_eq!(garbage.status(), 410);
    assert_eq!(well_formed.status(), 410);
    assert!(well_formed.text().await.unwrap().contains("Link expired"));
}

/// CONTRACT 3 `user add` without a password: its setup link lets the user choose one.
#[tokio::test]
async fn a_user_added_without_password_chooses_one_by_setup_link() {
    let app = spawn_app().await;
    let path = invite(&app, "bob").await;
    let client = app.client();
    let page = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("bob"));

    let res = submit(
        &client,
        &app,
        &path,
        &path,
        &[
            ("email", "bob@example.org"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let signed_in = login(&app.client(), &app, "bob", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/");
    assert_eq!(
        client.get(app.url(&path)).send().await.unwrap().status(),
        410
    );
}

/// CONTRACT 2 `reset.setup_link_ttl`: a setup link expires.
#[tokio::test]
async fn a_setup_link_expires_after_setup_link_ttl() {
    let app = spawn_with(|config| config.reset.setup_link_ttl = Dur::secs(1)).await;
    let path = invite(&app, "bob").await;
    let client = app.client();
    assert_eq!(
        client.get(app.url(&path)).send().await.unwrap().status(),
        200
    );

    app.advance(Duration::from_millis(1200));

    let res = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 410);
}

/// CONTRACT 4 /setup and I3: a first-administrator name that is taken (in any case)
/// is 422, and the link stays usable so the name can be fixed.
#[tokio::test]
async fn a_taken_first_admin_name_is_422_and_does_not_spend_the_link() {
    let app = spawn_app().await;
    let path = first_admin_path(&app);
    app.add_user("alice", PASSWORD).await;
    let client = app.client();
    let form = [
        ("username", "ALICE"),
        ("email", "admin@example.org"),
        ("password", "Other-Pass-99z"),
        ("confirm", "Other-Pass-99z"),
    ];

    let res = submit(&client, &app, &path, &path, &form).await;

    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("taken"));
    let refused = login(&app.client(), &app, "alice", "Other-Pass-99z").await;
    assert_eq!(refused.status(), 401, "alice's password is unchanged");
    let still_live = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(still_live.status(), 200, "the link was not spent");
}
