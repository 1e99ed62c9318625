//! The apps page (administrators only): add, change, rotate the secret of,
//! and remove an app, each audited with the actor.

use latchkey::control::protocol::{AppView, Request, Response};

use super::*;
use crate::helpers::*;

/// The app as `app show` reports it.
async fn show_app(app: &TestApp, name: &str) -> Result<AppView, String> {
    match app.admin(Request::AppShow { name: name.into() }).await? {
        Response::App { app, .. } => Ok(app),
        other => panic!("unexpected {other:?}"),
    }
}

/// The client secret a page shows once, if it shows one.
fn shown_secret(body: &str) -> Option<String> {
    let at = body.find("id=\"new-secret\"")?;
    let rest = &body[at..];
    let start = rest.find("<p class=\"mono secret\">")? + "<p class=\"mono secret\">".len();
    let end = rest[start..].find("</p>")? + start;
    Some(unescape(&rest[start..end]))
}

/// The app's events as the audit log holds them (an app event names no user).
async fn app_events(app: &TestApp, event: &str) -> Vec<latchkey::control::protocol::AuditView> {
    events(app, event, None).await
}

/// Add: the app is registered with what the form gave, and its secret is shown on this answer only.
#[tokio::test]
async fn adding_an_app_shows_its_secret_once() {
    let (app, boss) = boss_console().await;
    add_group(&app, "intake").await;
    let fields = [
        ("action", "add"),
        ("app", "Files"),
        (
            "redirect_uris",
            "https://files.example.org/cb\nhttps://files.example.org/cb2",
        ),
        ("logout_uris", ""),
        ("hosts", "files.example.org"),
        ("url", "https://files.example.org/"),
        ("group:intake", "on"),
    ];

    let (status, body) = read(post_to(&boss, &app, "/admin/apps", &fields).await).await;

    assert_eq!(status, 200, "rendered, not redirected: {body}");
    let secret = shown_secret(&body).expect("the secret is shown");
    assert!(secret.len() >= 22, "{secret}");
    let files = show_app(&app, "Files").await.unwrap();
    assert_eq!(
        files.redirect_uris,
        [
            "https://files.example.org/cb",
            "https://files.example.org/cb2"
        ]
    );
    assert_eq!(files.hosts, ["files.example.org"]);
    assert_eq!(files.groups, ["intake"]);
    assert_eq!(files.url.as_deref(), Some("https://files.example.org/"));
    assert!(!files.public && files.client_id.is_some());
    let created = app_events(&app, "app_created").await;
    assert_eq!(created.len(), 1);
    assert_console_actor(&created[0], "boss");

    let (_, again) = page(&boss, &app, "/admin/apps").await;
    assert!(shown_secret(&again).is_none(), "shown once");
    assert!(!again.contains(&secret), "never again");
    assert!(again.contains("Files"));
    let audit = format!("{:?}", app.audit_events(None).await);
    assert!(!audit.contains(&secret), "never in the audit log");
}

/// A public app has no secret; a bad value or a taken name is refused and nothing is added.
#[tokio::test]
async fn adding_refusals_and_public_apps() {
    let (app, boss) = boss_console().await;
    let public = [
        ("action", "add"),
        ("app", "Board"),
        ("redirect_uris", "https://board.example.org/cb"),
        ("public", "on"),
    ];
    let (status, body) = read(post_to(&boss, &app, "/admin/apps", &public).await).await;
    assert_eq!(status, 200);
    assert!(shown_secret(&body).is_none());
    assert!(show_app(&app, "Board").await.unwrap().public);

    for (name, uri) in [
        ("Board", "https://board.example.org/cb"),
        ("Other", "not a url"),
    ] {
        let fields = [("action", "add"), ("app", name), ("redirect_uris", uri)];
        let (status, _) = read(post_to(&boss, &app, "/admin/apps", &fields).await).await;

        assert_eq!(status, 422, "{name} {uri}");
    }
    assert_eq!(app_names(&app).await, ["Board"]);
    assert_eq!(app_events(&app, "app_created").await.len(), 1);
}

/// Set replaces the app's lists and link; rotate gives a new secret, shown once.
#[tokio::test]
async fn setting_and_rotating() {
    let (app, boss) = boss_console().await;
    let add = [
        ("action", "add"),
        ("app", "Files"),
        ("redirect_uris", "https://files.example.org/cb"),
    ];
    let (_, added) = read(post_to(&boss, &app, "/admin/apps", &add).await).await;
    let first = shown_secret(&added).unwrap();

    let set = [
        ("action", "set"),
        ("app", "Files"),
        ("redirect_uris", "https://files.example.org/new-cb"),
        ("logout_uris", "https://files.example.org/bye"),
        ("hosts", "files.example.org\nfiles2.example.org"),
        ("url", "https://files.example.org/"),
    ];
    let (status, body) = read(post_to(&boss, &app, "/admin/apps", &set).await).await;

    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Files is saved."));
    let files = show_app(&app, "Files").await.unwrap();
    assert_eq!(files.redirect_uris, ["https://files.example.org/new-cb"]);
    assert_eq!(files.logout_uris, ["https://files.example.org/bye"]);
    assert_eq!(files.hosts, ["files.example.org", "files2.example.org"]);
    assert_eq!(files.url.as_deref(), Some("https://files.example.org/"));
    let updated = app_events(&app, "app_updated").await;
    assert_eq!(updated.len(), 1);
    assert_console_actor(&updated[0], "boss");

    let rotate = [("action", "rotate_secret"), ("app", "Files")];
    let (status, body) = read(post_to(&boss, &app, "/admin/apps", &rotate).await).await;

    assert_eq!(status, 200);
    let second = shown_secret(&body).expect("the new secret");
    assert_ne!(second, first);
    let updated = app_events(&app, "app_updated").await;
    assert_eq!(updated.len(), 2);
    assert_console_actor(&updated[1], "boss");
    assert!(
        updated[1]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("new client secret")
    );
}

/// Remove needs the app's name typed; then the app is gone, audited with the actor.
#[tokio::test]
async fn removing_needs_the_name_typed() {
    let (app, boss) = boss_console().await;
    let add = [
        ("action", "add"),
        ("app", "Files"),
        ("redirect_uris", "https://files.example.org/cb"),
    ];
    post_to(&boss, &app, "/admin/apps", &add).await;

    for typed in ["", "files2", "File"] {
        let fields = [("action", "remove"), ("app", "Files"), ("confirm", typed)];
        let (status, body) = read(post_to(&boss, &app, "/admin/apps", &fields).await).await;

        assert_eq!(status, 422, "confirm {typed:?}");
        assert!(body.contains("type its name"), "{body}");
    }
    assert_eq!(app_names(&app).await, ["Files"]);

    let fields = [("action", "remove"), ("app", "Files"), ("confirm", "Files")];
    let (status, _) = read(post_to(&boss, &app, "/admin/apps", &fields).await).await;

    assert_eq!(status, 200);
    assert!(app_names(&app).await.is_empty());
    assert!(show_app(&app, "Files").await.is_err());
    let removed = app_events(&app, "app_removed").await;
    assert_eq!(removed.len(), 1);
    assert_console_actor(&removed[0], "boss");

    let fields = [("action", "rotate_secret"), ("app", "Files")];
    let (status, _) = read(post_to(&boss, &app, "/admin/apps", &fields).await).await;
    assert_eq!(status, 404, "no such app");
}
