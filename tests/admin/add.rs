//! Adding accounts: one at a time (a setup link is mailed), or a CSV upload
//! that is all or nothing and lists every bad line first (SECURITY A3).

use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// One account from the form: created with what was typed, its owner mailed
/// a working setup link, audited with the actor.
#[tokio::test(flavor = "multi_thread")]
async fn add_one_mails_a_setup_link() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    let boss = staff(&app, "boss", Role::Admin).await;
    add_group(&app, "intake").await;
    let last_day = day(100).to_string();
    let fields = [
        ("username", "erin"),
        ("email", "erin@example.org"),
        ("name", "Erin Example"),
        ("phone", "+1 555 010 0100"),
        ("agency", "Food Shelf"),
        ("license_expires", last_day.as_str()),
        ("group:intake", "on"),
    ];

    let res = post_to(&boss, &app, "/admin/add", &fields).await;

    assert_done(&res, "/admin/add?done=created");
    let erin = app.show_user("erin").await;
    assert_eq!(erin.email.as_deref(), Some("erin@example.org"));
    assert_eq!(erin.name.as_deref(), Some("Erin Example"));
    assert_eq!(erin.phone.as_deref(), Some("+1 555 010 0100"));
    assert_eq!(erin.agency.as_deref(), Some("Food Shelf"));
    assert_eq!(erin.license_expires, Some(day(100)));
    assert_eq!(erin.groups, vec!["intake".to_owned()]);
    assert_eq!(erin.role, Role::User);
    assert!(
        erin.password_changed_at.is_none(),
        "no password until setup"
    );
    audited_by(&app, "user_created", Some("erin"), "boss").await;
    let mail = app.mail_in(&sink).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert_eq!(mail[0].to, vec!["erin@example.org".to_owned()]);
    let token = mail[0].token("/setup/").expect("a setup link");
    assert_eq!(
        page(&app.client(), &app, &format!("/setup/{token}"))
            .await
            .0,
        200
    );
    let (_, added) = page(&boss, &app, "/admin/add?done=created").await;
    assert!(added.contains("a setup link was mailed"), "{added}");
}

/// Helpdesk staff add accounts too (never administrators: the form has no such field).
#[tokio::test]
async fn helpdesk_adds_an_account() {
    let app = spawn_app().await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;
    let fields = [
        ("username", "erin"),
        ("email", "erin@example.org"),
        ("admin", "true"),
    ];

    let res = post_to(&desk, &app, "/admin/add", &fields).await;

    assert_done(&res, "/admin/add?done=created");
    assert_eq!(app.show_user("erin").await.role, Role::User);
    audited_by(&app, "user_created", Some("erin"), "desk").await;
}

/// A refused account (bad email, bad name, taken name, unknown group) is
/// 422, says why, shows what was typed again, and creates nothing.
#[tokio::test]
async fn add_refused_shows_what_was_typed() {
    let (app, boss) = boss_console().await;
    add_group(&app, "intake").await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("username", "frank"),
                ("email", "frank-at-example"),
                ("name", "Frank <Example>"),
                ("agency", "Food Shelf"),
                ("group:intake", "on"),
            ],
            "frank-at-example",
        ),
        (
            &[("username", "fr ank"), ("email", "frank@example.org")],
            "may contain only",
        ),
        (
            &[("username", "BOSS"), ("email", "boss2@example.org")],
            "already exists",
        ),
        (
            &[
                ("username", "frank"),
                ("email", "frank@example.org"),
                ("group:nosuch", "on"),
            ],
            "such group",
        ),
    ];

    for (fields, why) in cases {
        let (status, body) = read(post_to(&boss, &app, "/admin/add", fields).await).await;

        assert_eq!(status, 422, "{fields:?}: {body}");
        let errors = &body[body.find("id=\"form-errors\"").expect("errors listed")..];
        assert!(unescape(errors).contains(why), "{why} in {errors}");
        for (name, typed) in fields {
            if name.starts_with("group:") {
                continue;
            }
            let shown = input_value(&body, name);
            assert_eq!(shown.as_deref(), Some(*typed), "{name} typed again");
        }
    }
    let (_, body) = read(post_to(&boss, &app, "/admin/add", cases[0].0).await).await;
    assert!(
        body.contains("name=\"group:intake\" type=\"checkbox\" checked"),
        "still ticked"
    );
    assert!(!body.contains("Frank <Example>"), "escaped");

    assert!(!exists(&app, "frank").await);
    assert_eq!(
        events(&app, "user_created", None).await.len(),
        1,
        "boss only"
    );
}

const GOOD_CSV: &str = "username,email,name,agency,groups\n\
    ann,ann@example.org,Ann A,Food Shelf,intake\n\
    ben,ben@example.org,Ben B,Food Shelf,\n\
    cat,cat@example.org,Cat C,River House,intake\n";

/// A good file creates every account, audited with the actor, each mailed a setup link.
#[tokio::test(flavor = "multi_thread")]
async fn a3_a_good_csv_creates_every_account() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    let boss = staff(&app, "boss", Role::Admin).await;
    add_group(&app, "intake").await;

    let res = upload(&boss, &app, GOOD_CSV, &[("send_invites", "on")]).await;

    assert_done(&res, "/admin/add?done=imported");
    for name in ["ann", "ben", "cat"] {
        assert!(exists(&app, name).await, "{name}");
        let e = audited_by(&app, "user_created", Some(name), "boss").await;
        assert_eq!(e.detail.as_deref(), Some("imported from CSV"));
    }
    assert_eq!(app.show_user("ann").await.groups, vec!["intake".to_owned()]);
    assert_eq!(
        app.show_user("cat").await.agency.as_deref(),
        Some("River House")
    );
    let mail = app.mail_in(&sink).await;
    let mut to: Vec<String> = mail.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        ["ann@example.org", "ben@example.org", "cat@example.org"]
    );
    assert!(mail.iter().all(|m| m.link("/setup/").is_some()));
}

/// A3: one bad line among good ones: 422 naming that line, and nothing is created.
#[tokio::test]
async fn a3_one_bad_line_fails_the_whole_file() {
    let (app, boss) = boss_console().await;
    let csv = "username,email\nann,ann@example.org\nben,not-an-email\ncat,cat@example.org\n";

    let (status, body) = read(upload(&boss, &app, csv, &[("send_invites", "on")]).await).await;

    assert_eq!(status, 422, "{body}");
    let lines = import_errors(&body);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("line 3: email \"not-an-email\""),
        "{lines:?}"
    );
    assert!(body.contains("Nothing was added."));
    for name in ["ann", "ben", "cat"] {
        assert!(!exists(&app, name).await, "{name} not created");
    }
    assert_eq!(
        events(&app, "user_created", None).await.len(),
        1,
        "boss only"
    );
}

/// A3: every bad line is listed at once, with its line number.
#[tokio::test]
async fn a3_every_bad_line_is_listed() {
    let (app, boss) = boss_console().await;
    let csv = "username,email,agency\n\
        ann,ann@example.org,\n\
        ben,not-an-email,\n\
        ,nobody@example.org,\n\
        ann,ann2@example.org,\n\
        boss,boss@example.org,\n\
        dan,dan@example.org,Food Shelf\n";

    let (status, body) = read(upload(&boss, &app, csv, &[]).await).await;

    assert_eq!(status, 422, "{body}");
    let lines = import_errors(&body);
    let numbers: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(numbers, ["line 3", "line 4", "line 5"], "{lines:?}");
    assert!(!exists(&app, "ann").await && !exists(&app, "dan").await);

    // The taken name is found too once the rows themselves are right.
    let csv = "username,email\nann,ann@example.org\nBoss,boss2@example.org\n";
    let (status, body) = read(upload(&boss, &app, csv, &[]).await).await;
    assert_eq!(status, 422);
    let lines = import_errors(&body);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("line 3:") && lines[0].contains("already exists"),
        "{lines:?}"
    );
    assert!(!exists(&app, "ann").await);
}

/// A file that is not a CSV of accounts, or no file at all, is 422.
#[tokio::test]
async fn a3_a_bad_header_or_no_file_is_422() {
    let (app, boss) = boss_console().await;

    let (status, body) = read(upload(&boss, &app, "username,colour\nann,red\n", &[]).await).await;
    assert_eq!(status, 422);
    let lines = import_errors(&body);
    assert!(lines[0].to_lowercase().starts_with("line 1:"), "{lines:?}");
    let (status, _) = read(upload(&boss, &app, "username,email\n", &[]).await).await;
    assert_eq!(status, 422, "a header alone");
    let token = page_token(&boss, &app, "/admin/add").await;
    let (status, body) = read(upload_raw(&boss, &app, &[("csrf_token", &token)], None).await).await;
    assert_eq!(status, 422);
    assert!(body.contains("Choose a CSV file"), "{body}");
    assert_eq!(
        events(&app, "user_created", None).await.len(),
        1,
        "boss only"
    );
}

/// A2: with a stale password the upload needs the password in the same
/// form: without it 403 and nothing created; with it, done.
#[tokio::test]
async fn a2_a_stale_upload_needs_the_password_with_the_file() {
    let (app, boss) = boss_console().await;
    add_group(&app, "intake").await;
    app.advance(STALE);
    let (_, add_page) = page(&boss, &app, "/admin/add").await;
    assert!(
        add_page.contains("id=\"pw-import\""),
        "the upload form asks for it"
    );

    let (status, body) = read(upload(&boss, &app, GOOD_CSV, &[]).await).await;

    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Enter your password with the file"), "{body}");
    assert!(!exists(&app, "ann").await);

    let (status, _) =
        read(upload(&boss, &app, GOOD_CSV, &[("actor_password", "Wrong-One-99")]).await).await;
    assert_eq!(status, 403);
    assert!(!exists(&app, "ann").await);
    assert_eq!(app.show_user("boss").await.failed_attempts, 1, "counted");

    let res = upload(&boss, &app, GOOD_CSV, &[("actor_password", PASSWORD)]).await;

    assert_done(&res, "/admin/add?done=imported");
    assert!(exists(&app, "ann").await && exists(&app, "cat").await);
}

/// A2: the third wrong password sent with an upload locks the actor and
/// signs them out, like on every other form: the answer is the sign-in page.
#[tokio::test]
async fn a2_a_third_wrong_password_with_an_upload_signs_the_actor_out() {
    let (app, boss) = boss_console().await;
    app.advance(STALE);

    for wrong in ["Wrong-One-1", "Wrong-One-2"] {
        let res = upload(&boss, &app, GOOD_CSV, &[("actor_password", wrong)]).await;
        assert_eq!(res.status(), 403);
    }
    let res = upload(&boss, &app, GOOD_CSV, &[("actor_password", "Wrong-One-3")]).await;

    assert!(app.show_user("boss").await.locked, "the actor is locked");
    assert!(!exists(&app, "ann").await);
    let after = get(&boss, &app, "/admin").await;
    assert!(location(&after).starts_with("/login"), "the session ended");
    assert_eq!(
        res.status(),
        303,
        "the locking POST is answered with the sign-in page, not a console page"
    );
    assert_eq!(location(&res), "/login");
}

/// A1/A3: helpdesk staff cannot import an administrator: the line says so and nothing is created.
#[tokio::test]
async fn a3_helpdesk_cannot_import_an_administrator() {
    let app = spawn_app().await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;
    let csv = "username,email,admin\nann,ann@example.org,false\nroot,root@example.org,true\n";

    let (status, body) = read(upload(&desk, &app, csv, &[]).await).await;

    assert!(status == 403 || status == 422, "{status}: {body}");
    let lines = import_errors(&body);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("line 3:"), "{lines:?}");
    assert!(lines[0].contains("only an administrator"), "{lines:?}");
    assert!(!exists(&app, "root").await && !exists(&app, "ann").await);

    // An administrator may.
    let boss = staff(&app, "boss", Role::Admin).await;
    let res = upload(&boss, &app, csv, &[]).await;
    assert_done(&res, "/admin/add?done=imported");
    assert_eq!(app.show_user("root").await.role, Role::Admin);
    audited_by(&app, "user_created", Some("root"), "boss").await;
}

/// The value of the form's input named `name`, unescaped.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag = &html[at..];
    let tag = &tag[..tag.find('>')?];
    let start = tag.find("value=\"")? + "value=\"".len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The lines of the upload's error list.
fn import_errors(body: &str) -> Vec<String> {
    let Some(at) = body.find("id=\"import-errors\"") else {
        return Vec::new();
    };
    let list = &body[at..];
    let list = &list[..list.find("</ul>").unwrap_or(list.len())];
    list.split("<li>")
        .skip(1)
        .map(|item| text_of_html(&item[..item.find("</li>").unwrap_or(item.len())]))
        .collect()
}

/// A3: the upload has a size limit (413 above it) and must be UTF-8 text (400); nothing is created.
#[tokio::test]
async fn a3_an_upload_too_large_or_not_text_is_refused() {
    let (app, boss) = boss_console().await;
    let mut big = String::from("username,email\n");
    let mut i = 0;
    while big.len() <= 2 * 1024 * 1024 {
        big.push_str(&format!("user{i:06},user{i:06}@example.org\n"));
        i += 1;
    }

    let res = upload(&boss, &app, &big, &[]).await;

    assert_eq!(res.status(), 413);
    assert!(!exists(&app, "user000000").await);

    let token = page_token(&boss, &app, "/admin/add").await;
    let boundary = "----latchkey-test-boundary-bin";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\r\nusername,email\r\nann,"
    )
    .into_bytes();
    body.extend_from_slice(b"\xff\xfe@example.org\r\n");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = boss
        .post(app.url("/admin/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 400);
    assert!(!exists(&app, "ann").await);
}
