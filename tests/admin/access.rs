//! Who reaches the console, and what helpdesk staff may not do (SECURITY A1).

use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// Every page of the console, as a browser asks for it.
const CONSOLE_PAGES: [&str; 12] = [
    "/admin",
    "/admin/accounts",
    "/admin/accounts?q=car&filter=locked&page=1",
    "/admin/accounts/carol",
    "/admin/accounts/nobody",
    "/admin/add",
    "/admin/licenses?within=90",
    "/admin/licenses.csv?within=30",
    "/admin/audit?user=carol",
    "/admin/audit.csv",
    "/admin/apps",
    "/admin/mail",
];

/// A1: signed out, every console page sends the browser to sign in, and back here after.
#[tokio::test]
async fn a1_signed_out_every_console_page_asks_for_sign_in() {
    let app = spawn_app().await;
    let browser = app.client();

    for path in CONSOLE_PAGES {
        let res = get(&browser, &app, path).await;

        assert_eq!(res.status(), 303, "{path}");
        let to = location(&res);
        let next = to.strip_prefix("/login?next=").expect(to);
        let back = percent_encoding::percent_decode_str(next)
            .decode_utf8()
            .unwrap();
        assert_eq!(back, path, "{path} comes back after sign-in");
    }
}

/// A1: a signed-in `user` gets, on every console page, the very answer an unknown path gets.
#[tokio::test]
async fn a1_a_user_gets_the_unknown_path_404_on_every_console_page() {
    let app = spawn_app().await;
    app.add_user("carol", PASSWORD).await;
    let (carol, _) = signed_in(&app, "carol", PASSWORD).await;
    let (status, unknown) = unknown_path(&carol, &app).await;
    assert_eq!(status, 404);

    for path in CONSOLE_PAGES {
        let (status, body) = page(&carol, &app, path).await;

        assert_eq!(status, 404, "{path}");
        assert_eq!(body, unknown, "{path} looks like any unknown path");
    }
}

/// A1: a `user`'s console POSTs, each with a valid CSRF token, are the same
/// 404 and change nothing.
#[tokio::test]
async fn a1_a_user_posting_to_the_console_gets_404_and_changes_nothing() {
    let app = spawn_app().await;
    app.add_user("carol", PASSWORD).await;
    app.add_user("dave", PASSWORD).await;
    let (carol, _) = signed_in(&app, "carol", PASSWORD).await;
    let (_, unknown) = unknown_path(&carol, &app).await;
    let token = page_token(&carol, &app, "/profile").await;
    let dave_before = app.show_user("dave").await;
    let posts: [(&str, &[(&str, &str)]); 7] = [
        ("/admin/accounts/dave", &[("action", "disable")]),
        (
            "/admin/accounts/carol",
            &[("action", "role"), ("role", "admin")],
        ),
        (
            "/admin/add",
            &[("username", "mallory"), ("email", "m@example.org")],
        ),
        (
            "/admin/licenses",
            &[("agency", "Food Shelf"), ("years", "1")],
        ),
        ("/admin/apps", &[("action", "add"), ("app", "Evil")]),
        ("/admin/mail", &[]),
        ("/no-such-page", &[("action", "disable")]),
    ];

    for (path, fields) in posts {
        let res = post_with_token(&carol, &app.url(path), fields, &token).await;
        let (status, body) = read(res).await;

        assert_eq!(status, 404, "POST {path}");
        assert_eq!(body, unknown, "POST {path}");
    }
    let csv = "username,email,admin\nmallory,m@example.org,true\n";
    let res = upload_raw(&carol, &app, &[("csrf_token", &token)], Some(csv)).await;
    let (status, body) = read(res).await;
    assert_eq!(status, 404, "POST /admin/import");
    assert_eq!(body, unknown);

    assert_eq!(app.show_user("dave").await, dave_before);
    assert_eq!(app.show_user("carol").await.role, Role::User);
    assert!(!exists(&app, "mallory").await);
    assert!(app_names(&app).await.is_empty());
}

/// A1: the apps page is for administrators only; helpdesk staff get the unknown-path 404.
#[tokio::test]
async fn a1_helpdesk_gets_404_on_the_apps_page() {
    let app = spawn_app().await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;
    let (_, unknown) = unknown_path(&desk, &app).await;

    let (status, body) = page(&desk, &app, "/admin/apps").await;
    assert_eq!((status, body.as_str()), (404, unknown.as_str()));
    let fields = [("action", "add"), ("app", "Sneaky")];
    let (status, body) = read(submit(&desk, &app, "/admin", "/admin/apps", &fields).await).await;
    assert_eq!((status, body.as_str()), (404, unknown.as_str()));

    let (status, queue) = page(&desk, &app, "/admin").await;
    assert_eq!(status, 200);
    assert!(
        !queue.contains("href=\"/admin/apps\""),
        "no Apps link for helpdesk"
    );
    assert!(app_names(&app).await.is_empty());
}

/// A1: helpdesk staff cannot act on an administrator's account: every action is
/// 403 and the administrator's record is exactly as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a1_helpdesk_acting_on_an_admin_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let _boss = staff(&app, "boss", Role::Admin).await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;
    lock_out(&app, "boss").await;
    let before = app.show_user("boss").await;

    let (status, account) = page(&desk, &app, "/admin/accounts/boss").await;
    assert_eq!(status, 200);
    assert!(
        account.contains("only an administrator can act on it"),
        "{account}"
    );
    assert!(!account.contains("value=\"unlock\""), "no action buttons");

    let attempts: [&[(&str, &str)]; 10] = [
        &[("action", "unlock")],
        &[("action", "unlock_and_reset")],
        &[("action", "reset_link")],
        &[("action", "disable")],
        &[("action", "force_change")],
        &[("action", "renew"), ("years", "1")],
        &[("action", "license"), ("never", "on")],
        &[
            ("action", "edit"),
            ("name", "Pwned"),
            ("email", "desk@example.org"),
            ("phone", ""),
            ("agency", ""),
        ],
        &[("action", "role"), ("role", "user")],
        &[("action", "delete"), ("confirm", "boss")],
    ];
    for fields in attempts {
        let (status, body) = read(act(&desk, &app, "boss", fields).await).await;

        assert_eq!(status, 403, "{fields:?}");
        assert!(body.contains("only an administrator"), "{fields:?}: {body}");
    }

    assert_eq!(
        app.show_user("boss").await,
        before,
        "boss's record unchanged"
    );
    let by_desk: Vec<_> = app
        .audit_events(Some("boss"))
        .await
        .into_iter()
        .filter(|e| e.actor.as_deref() == Some("web:desk"))
        .collect();
    assert!(
        by_desk.is_empty(),
        "nothing done to boss by desk: {by_desk:#?}"
    );
}

/// A1: helpdesk staff cannot change a role, not even of an ordinary user or their own.
#[tokio::test]
async fn a1_helpdesk_cannot_change_roles() {
    let app = spawn_app().await;
    app.add_user("carol", PASSWORD).await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;

    let (_, carol_page) = page(&desk, &app, "/admin/accounts/carol").await;
    assert!(
        !carol_page.contains("name=\"role\""),
        "no role form for helpdesk"
    );
    for (user, role) in [("carol", "helpdesk"), ("carol", "admin"), ("desk", "admin")] {
        let fields = [("action", "role"), ("role", role)];
        let (status, body) = read(act(&desk, &app, user, &fields).await).await;

        assert_eq!(status, 403, "{user} -> {role}");
        assert!(
            body.contains("only an administrator can change roles"),
            "{body}"
        );
    }

    assert_eq!(app.show_user("carol").await.role, Role::User);
    assert_eq!(app.show_user("desk").await.role, Role::Helpdesk);
    let by_desk = events(&app, "role_changed", None).await;
    assert!(
        by_desk
            .iter()
            .all(|e| e.actor.as_deref() != Some("web:desk")),
        "{by_desk:#?}"
    );
}

/// A1: an administrator changes a role; it is audited with the actor, and
/// takes effect on the account's live session at once, both ways.
#[tokio::test]
async fn a1_admin_changes_a_role_audited_and_effective_at_once() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let (carol, _) = signed_in(&app, "carol", PASSWORD).await;
    assert_eq!(page(&carol, &app, "/admin").await.0, 404);

    let res = act(
        &boss,
        &app,
        "carol",
        &[("action", "role"), ("role", "helpdesk")],
    )
    .await;

    assert_done(&res, "/admin/accounts/carol?done=role");
    assert_eq!(app.show_user("carol").await.role, Role::Helpdesk);
    let e = audited_by(&app, "role_changed", Some("carol"), "boss").await;
    assert_eq!(e.detail.as_deref(), Some("role user -> helpdesk"));
    assert_eq!(page(&carol, &app, "/admin").await.0, 200, "promoted now");
    assert_eq!(
        page(&carol, &app, "/admin/apps").await.0,
        404,
        "helpdesk only"
    );

    let res = act(
        &boss,
        &app,
        "carol",
        &[("action", "role"), ("role", "user")],
    )
    .await;

    assert_done(&res, "/admin/accounts/carol?done=role");
    assert_eq!(page(&carol, &app, "/admin").await.0, 404, "demoted now");
    let res = act(
        &boss,
        &app,
        "carol",
        &[("action", "role"), ("role", "user")],
    )
    .await;
    assert_done(&res, "/admin/accounts/carol?done=unchanged");
    let res = act(
        &boss,
        &app,
        "carol",
        &[("action", "role"), ("role", "root")],
    )
    .await;
    assert_eq!(res.status(), 422, "no such role");
    assert_eq!(app.show_user("carol").await.role, Role::User);
}
