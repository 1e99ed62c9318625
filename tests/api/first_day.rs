//! The first day, as a new user lives it (issue 11): what the pages say after
//! a saved password, an ended session, a wrong current password, a refused
//! form, a countdown, a Forgot Password request, and where sign-in returns to.
//! One test (or more) per point, named after it.

use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{Request, Response};

use crate::helpers::*;

const HELPDESK: &str = "desk@agency.example";
const NEW_PASSWORD: &str = "Lantern-Green-73q";
const SAVED: &str = "Your password is saved. Sign in with it now.";

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The value of the input named `name` in `html`, as a browser reads it.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let raw = &tag[v..v + tag[v..].find('"')?];
    Some(
        raw.replace("&#x2f;", "/")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The whole `<input>` tag named `name` in `html`.
fn input_tag<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html.find(&format!("name=\"{name}\"")).expect("the input");
    let start = html[..at].rfind('<').unwrap();
    &html[start..at + html[at..].find('>').unwrap()]
}

// ---------------------------------------------------------------------------
// 1. Silent success
// ---------------------------------------------------------------------------

/// Issue 11 point 1: after a setup link, a reset link and the first
/// administrator's setup, the sign-in page says the password is saved and
/// fills in the user name, once, with neither in the URL.
#[tokio::test]
async fn point1_a_saved_password_is_announced_with_the_user_name_filled_in() {
    let app = spawn_with(|c| c.helpdesk.email = HELPDESK.into()).await;

    // The first administrator.
    let first = path_of(app.setup_link.as_deref().unwrap(), "/setup/");
    let client = app.client();
    let fields = [
        ("username", "Root.Admin"),
        ("email", "root@example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let res = submit(&client, &app, &first, &first, &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        "/login",
        "nothing about the account in the URL"
    );
    assert!(set_cookies(&res).iter().all(|c| !c.contains("Root.Admin")));
    let (status, html) = page(&client, &app, "/login").await;
    assert_eq!(status, 200);
    assert!(html.contains(SAVED), "{html}");
    assert_eq!(
        input_value(&html, "username").as_deref(),
        Some("Root.Admin")
    );
    let (_, again) = page(&client, &app, "/login").await;
    assert!(!again.contains(SAVED), "the notice is shown once");
    assert_eq!(input_value(&again, "username").as_deref(), Some(""));

    // A new user's setup link.
    let Response::Created {
        setup_link: Some(link),
        ..
    } = app
        .admin(Request::UserAdd(new_user("bob", None)))
        .await
        .unwrap()
    else {
        panic!("a setup link")
    };
    let setup = path_of(&link, "/setup/");
    let client = app.client();
    let fields = [
        ("email", "bob@example.org"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let res = submit(&client, &app, &setup, &setup, &fields).await;
    assert_eq!(location(&res), "/login");
    let (_, html) = page(&client, &app, "/login").await;
    assert!(html.contains(SAVED));
    assert_eq!(input_value(&html, "username").as_deref(), Some("bob"));

    // A reset link.
    app.add_user("alice", PASSWORD).await;
    let token = app.reset_token("alice").await;
    let reset = format!("/reset/{token}");
    let client = app.client();
    let fields = [("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let res = submit(&client, &app, &reset, &reset, &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let (_, html) = page(&client, &app, "/login").await;
    assert!(html.contains(SAVED));
    assert_eq!(input_value(&html, "username").as_deref(), Some("alice"));
    assert!(!html.contains(&token));
}

/// Issue 11 point 1: a notice cookie the server did not sign shows nothing.
#[tokio::test]
async fn point1_a_forged_notice_is_ignored() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .get(app.url("/login"))
        .header("cookie", "latchkey_notice=9999999999.bWFsbG9yeQ.AAAA")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(!html.contains(SAVED));
    assert!(!html.contains("mallory"));
}

// ---------------------------------------------------------------------------
// 3. Signed out without a reason
// ---------------------------------------------------------------------------

/// Signs `alice` in on a new client.
async fn alice_signed_in(app: &TestApp) -> reqwest::Client {
    let client = app.client();
    assert_eq!(login(&client, app, "alice", PASSWORD).await.status(), 303);
    assert_eq!(page(&client, app, "/").await.0, 200);
    client
}

/// The next page after the session ended: a 303 to sign in, and what the
/// sign-in page then says.
async fn next_page_after(client: &reqwest::Client, app: &TestApp) -> String {
    let res = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let (status, html) = page(client, app, "/login").await;
    assert_eq!(status, 200);
    html
}

/// Issue 11 point 3: each way a live session ends elsewhere is named on the
/// next page, with the helpdesk card for license, lock and disable; the
/// reason is shown once, and only to the browser that held the session.
#[tokio::test]
async fn point3_a_session_ended_elsewhere_says_why() {
    let app = spawn_with(|c| c.helpdesk.email = HELPDESK.into()).await;
    // force-change last: the account must then change its password to go on.
    let cases: [(&str, Request, &str, bool); 4] = [
        (
            "license",
            Request::LicenseSet {
                username: "alice".into(),
                expires: "2020-01-01".into(),
            },
            "your license has expired",
            true,
        ),
        (
            "disable",
            Request::UserDisable {
                username: "alice".into(),
            },
            "your account was disabled",
            true,
        ),
        (
            "delete",
            Request::UserDelete {
                username: "alice".into(),
            },
            "your account was removed",
            false,
        ),
        (
            "force-change",
            Request::UserForceChange {
                username: Some("alice".into()),
            },
            "an administrator asked you to choose a new password",
            false,
        ),
    ];
    for (what, request, says, helpdesk) in cases {
        if app
            .admin(Request::UserShow {
                username: "alice".into(),
            })
            .await
            .is_err()
        {
            app.add_user("alice", PASSWORD).await;
        }
        app.admin(Request::UserEnable {
            username: "alice".into(),
        })
        .await
        .unwrap();
        app.admin(Request::LicenseSet {
            username: "alice".into(),
            expires: "never".into(),
        })
        .await
        .unwrap();
        let client = alice_signed_in(&app).await;
        let stranger = app.client();

        app.admin(request).await.unwrap();

        let html = next_page_after(&client, &app).await;
        assert!(html.contains(says), "{what}: {html}");
        assert_eq!(html.contains(HELPDESK), helpdesk, "{what}: helpdesk card");
        assert!(!html.contains("alice"), "{what}: the page names no account");
        let (_, again) = page(&client, &app, "/login").await;
        assert!(!again.contains("You were signed out"), "{what}: once");
        let (_, theirs) = page(&stranger, &app, "/login").await;
        assert!(!theirs.contains("You were signed out"), "{what}: stranger");
    }
}

/// Issue 11 point 3: a lock from wrong passwords elsewhere, and a password
/// changed in another session, are named too.
#[tokio::test]
async fn point3_a_lock_or_a_password_change_elsewhere_says_why() {
    let app = spawn_with(|c| c.helpdesk.email = HELPDESK.into()).await;
    app.add_user("alice", PASSWORD).await;

    let desk = alice_signed_in(&app).await;
    let laptop = alice_signed_in(&app).await;
    let fields = [
        ("current_password", PASSWORD),
        ("password", NEW_PASSWORD),
        ("confirm", NEW_PASSWORD),
    ];
    let res = submit(&laptop, &app, "/profile", "/profile/password", &fields).await;
    assert_eq!(res.status(), 303);
    let html = next_page_after(&desk, &app).await;
    assert!(html.contains("your password was changed"), "{html}");
    assert!(!html.contains(HELPDESK));
    assert_eq!(
        page(&laptop, &app, "/").await.0,
        200,
        "the changing session lives on"
    );

    let attacker = app.client();
    for i in 0..3 {
        login(&attacker, &app, "alice", &format!("Wrong-Guess-{i}")).await;
    }
    let html = next_page_after(&laptop, &app).await;
    assert!(html.contains("your account was locked"), "{html}");
    assert!(html.contains(HELPDESK));
}

/// Issue 11 points 3 and 6: a script's fetch that is redirected to sign in
/// (the profile pop-up after its session ended) does not spend the reason;
/// the page the browser then opens says it.
#[tokio::test]
async fn point3_a_background_fetch_leaves_the_reason_for_the_page_a_person_sees() {
    let app = spawn_with(|c| c.helpdesk.email = HELPDESK.into()).await;
    app.add_user("alice", PASSWORD).await;
    let client = alice_signed_in(&app).await;
    app.admin(Request::UserDisable {
        username: "alice".into(),
    })
    .await
    .unwrap();
    let fetched = client
        .get(app.url("/login"))
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    assert!(
        !fetched
            .text()
            .await
            .unwrap()
            .contains("your account was disabled")
    );
    let shown = client
        .get(app.url("/login"))
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    let html = shown.text().await.unwrap();
    assert!(html.contains("your account was disabled"), "{html}");
    let (_, again) = page(&client, &app, "/login").await;
    assert!(!again.contains("your account was disabled"), "shown once");
}

/// Issue 11 point 3: the idle timeout is named, also when the periodic sweep
/// removed the session before the browser came back.
#[tokio::test]
async fn point3_a_timed_out_session_says_why_even_after_the_sweep() {
    let app = spawn_with(|c| c.session.idle_timeout = Dur::secs(1)).await;
    app.add_user("alice", PASSWORD).await;
    let swept = alice_signed_in(&app).await;
    let direct = alice_signed_in(&app).await;

    app.advance(Duration::from_millis(1200));
    assert!(app.auth.sweep().await.unwrap() >= 2, "both sessions swept");

    for client in [swept, direct] {
        let html = next_page_after(&client, &app).await;
        assert!(
            html.contains("You were signed out after 1 second without activity"),
            "{html}"
        );
        assert!(!html.contains(HELPDESK));
    }
}

// ---------------------------------------------------------------------------
// 5. A wrong current password in the profile
// ---------------------------------------------------------------------------

/// Issue 11 point 5 (and L6): a wrong current password says it counts toward
/// the lock and how many tries are left; the last one says the account is
/// locked and how to reach the helpdesk, and the next page says why the
/// session ended.
#[tokio::test]
async fn point5_a_wrong_current_password_warns_of_the_lock() {
    let app = spawn_with(|c| c.helpdesk.email = HELPDESK.into()).await;
    app.add_user("alice", PASSWORD).await;
    let client = alice_signed_in(&app).await;
    let wrong = [
        ("current_password", "Not-The-One-1a"),
        ("password", NEW_PASSWORD),
        ("confirm", NEW_PASSWORD),
    ];

    let res = submit(&client, &app, "/profile", "/profile/password", &wrong).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("counts toward the lock: 2 tries left"),
        "{html}"
    );
    assert!(input_tag(&html, "current_password").contains("aria-invalid=\"true\""));

    let email_change = [
        ("email", "new@example.org"),
        ("phone", ""),
        ("current_password", "Not-The-One-2b"),
    ];
    let res = submit(&client, &app, "/profile", "/profile/contact", &email_change).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("one try left before your account is locked"),
        "{html}"
    );

    let res = submit(&client, &app, "/profile", "/profile/password", &wrong).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Your account is now locked"), "{html}");
    assert!(html.contains(HELPDESK));
    let html = next_page_after(&client, &app).await;
    assert!(html.contains("your account was locked"), "{html}");
    assert!(html.contains(HELPDESK));
}

// ---------------------------------------------------------------------------
// 7. A refused form shows what was typed
// ---------------------------------------------------------------------------

/// Issue 11 point 7: a bad phone number is shown again as typed, marked
/// invalid, and the saved number is kept; the typed email stays too.
#[tokio::test]
async fn point7_a_refused_contact_form_shows_what_was_typed() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = alice_signed_in(&app).await;
    let fields = [("email", "alice@example.org"), ("phone", "+1 555 0100")];
    let res = submit(&client, &app, "/profile", "/profile/contact", &fields).await;
    assert_eq!(res.status(), 303);

    let typed = [
        ("email", "alice.new@example.org"),
        ("phone", "call me maybe"),
        ("current_password", PASSWORD),
    ];
    let res = submit(&client, &app, "/profile", "/profile/contact", &typed).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert_eq!(
        input_value(&html, "phone").as_deref(),
        Some("call me maybe")
    );
    assert!(input_tag(&html, "phone").contains("aria-invalid=\"true\""));
    assert_eq!(
        input_value(&html, "email").as_deref(),
        Some("alice.new@example.org")
    );
    assert!(!input_tag(&html, "email").contains("aria-invalid"));
    assert!(!html.contains(PASSWORD), "never a password");

    let (_, profile) = page(&client, &app, "/profile").await;
    assert!(profile.contains("+1 555 0100"), "the saved number is kept");
    assert_eq!(
        input_value(&profile, "phone").as_deref(),
        Some("+1 555 0100")
    );
}

// ---------------------------------------------------------------------------
// 8. The countdown
// ---------------------------------------------------------------------------

/// Issue 11 point 8: under a day the banner counts hours or minutes, never "1 day".
#[tokio::test]
async fn point8_the_countdown_never_rounds_minutes_up_to_a_day() {
    for (max_age, says) in [
        (Dur::minutes(2), "Your password expires in 2 minutes."),
        (Dur::hours(5), "Your password expires in 5 hours."),
        (Dur::days(3), "Your password expires in 3 days."),
    ] {
        let app = spawn_with(|c| c.policy.max_age = max_age).await;
        app.add_user("alice", PASSWORD).await;
        let client = alice_signed_in(&app).await;
        let (_, html) = page(&client, &app, "/").await;
        assert!(html.contains(says), "{says}: {html}");
    }
}

/// Issue 11 point 8: `config check` warns about settings that contradict
/// each other, and still exits 0 on a valid config.
#[test]
fn point8_config_check_warns_about_contradicting_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latchkey.toml");
    std::fs::write(
        &file,
        "[policy]\nmax_age = \"30d\"\nexpiry_warning = \"45d\"\n\
         [session]\nidle_timeout = \"13h\"\nabsolute_timeout = \"12h\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(binary())
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: policy.expiry_warning (45d)"),
        "{err}"
    );
    assert!(err.contains("warning: session.idle_timeout (13h)"), "{err}");

    std::fs::write(&file, "[policy]\nmax_age = \"45d\"\n").unwrap();
    let out = std::process::Command::new(binary())
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// 9. Forgot Password promises nothing it cannot keep
// ---------------------------------------------------------------------------

/// Issue 11 point 9 (and L3): the answer mentions the locked-account message,
/// and stays the same for a known, an unknown and a locked name.
#[tokio::test]
async fn point9_forgot_password_says_what_a_locked_account_gets() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    app.add_user("carol", PASSWORD).await;
    let attacker = app.client();
    for i in 0..3 {
        login(&attacker, &app, "carol", &format!("Wrong-Guess-{i}")).await;
    }
    let mut answers = Vec::new();
    for name in ["alice", "nobody-here", "carol"] {
        let client = app.client();
        let res = request_reset(&client, &app, name).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains(
            "If the account exists and can be reset, we have sent a link to its email address."
        ));
        assert!(
            html.contains(
                "A locked account gets a message saying how to reach the helpdesk instead."
            )
        );
        // Only the echoed name and the CSRF token may differ.
        answers.push(
            html.replace(name, "NAME")
                .replace(&csrf_token(&html), "TOKEN"),
        );
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
}

// ---------------------------------------------------------------------------
// 10. Return to where the user was going
// ---------------------------------------------------------------------------

/// Issue 11 point 10: a signed-out visit to /profile (the reminder mail's
/// link) returns to /profile after sign-in.
#[tokio::test]
async fn point10_sign_in_returns_to_the_page_that_asked_for_it() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let client = app.client();

    let res = client.get(app.url("/profile")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res).to_owned();
    assert_eq!(to, "/login?next=%2Fprofile");
    let (_, html) = page(&client, &app, &to).await;
    assert_eq!(input_value(&html, "next").as_deref(), Some("/profile"));
    let token = csrf_token(&html);
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", "/profile"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/profile");
    assert_eq!(page(&client, &app, "/profile").await.0, 200);

    // Signed in, /login?next= goes straight there.
    let res = client.get(app.url(&to)).send().await.unwrap();
    assert_eq!(location(&res), "/profile");
}

/// Issue 11 point 10 and SECURITY F2: no return address but a path on this
/// site is followed, from the query or from the form.
#[tokio::test]
async fn point10_f2_sign_in_never_returns_to_another_site() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "https:evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/x@evil.example",
        "/login",
    ] {
        let client = app.client();
        let query = format!("/login?next={}", urlencode(next));
        let (status, html) = page(&client, &app, &query).await;
        assert_eq!(status, 200, "{next}");
        assert_eq!(input_value(&html, "next"), None, "{next}: not carried");
        let token = csrf_token(&html);
        let res = client
            .post(app.url("/login"))
            .form(&[
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", next),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{next}");
        assert_eq!(location(&res), "/", "{next}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
