//! The helpdesk console, `/admin` (CONTRACT section 8; SECURITY A1-A3), in a
//! real Chromium: the helpdesk's morning (unlock and mail a reset link), a CSV
//! upload with a bad line, renewing an agency's licenses, and every console
//! page at 1280 px (axe-core) and at 360 px (no sideways scroll), each
//! screenshotted to docs/screenshots/admin-<page>-<width>.png.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::ToSpan;
use jiff::civil::Date;
use latchkey::control::protocol::{AppSpec, NewUser, Request, UserChanges};
use latchkey::domain::license;
use latchkey::domain::role::Role;
use serde_json::{Value, json};

use super::pages::axe;
use super::*;
use crate::browser::webdriver::{Browser, Options, TAB};
use crate::helpers::{TestApp, new_user};

/// The helpdesk member who works the console.
const HELPDESK: &str = "hana";
const HELPDESK_NAME: &str = "Hana Helpdesk";
/// An administrator.
const ADMIN: &str = "boss";
const AGENCY: &str = "Food Shelf";

/// Gives `username` the role `role`, as `latchkey user set --role` would.
async fn set_role(app: &TestApp, username: &str, role: Role) {
    app.admin(Request::UserSet {
        username: username.into(),
        changes: UserChanges {
            role: Some(role),
            ..UserChanges::default()
        },
    })
    .await
    .expect("role set");
}

/// Adds a member of staff with [`PASSWORD`].
async fn add_staff(app: &TestApp, username: &str, name: &str, role: Role) {
    add_user(app, username, name).await;
    set_role(app, username, role).await;
}

/// `days` from today.
fn in_days(days: i64) -> Date {
    license::today(jiff::Timestamp::now())
        .checked_add(days.days())
        .expect("a date")
}

/// Adds a member of `agency` with [`PASSWORD`] whose license ends on `expires`.
async fn add_member(app: &TestApp, username: &str, agency: &str, expires: Date) {
    let user = NewUser {
        agency: Some(agency.into()),
        license_expires: Some(expires.to_string()),
        ..new_user(username, Some(PASSWORD))
    };
    app.admin(Request::UserAdd(user))
        .await
        .expect("member created");
}

/// Locks `username` out with `max_failures` (3) wrong passwords over HTTP.
async fn lock_out(app: &TestApp, username: &str) {
    let client = app.client();
    for n in 1..=3 {
        crate::helpers::login(&client, app, username, &format!("Wrong-Password-{n}")).await;
    }
    assert!(app.show_user(username).await.locked, "{username} is locked");
}

/// Whether the account exists (`user show` answers).
async fn exists(app: &TestApp, username: &str) -> bool {
    app.admin(Request::UserShow {
        username: username.into(),
    })
    .await
    .is_ok()
}

/// Chooses `path` in the file input `css`, as a person picking the file would
/// (WebDriver "send keys" to a file input takes the file's path).
async fn choose_file(b: &Browser, css: &str, path: &Path) {
    let input = b.find(css).await;
    b.type_into(&input, path.to_str().expect("a UTF-8 path"))
        .await;
}

/// Uploads the CSV file `path` on the current page's import form.
async fn upload_csv(b: &Browser, path: &Path) {
    choose_file(b, "form[action='/admin/import'] input[type=file]", path).await;
    press_button(b, "form[action='/admin/import'] button[type=submit]").await;
}

/// The texts of the cells (th and td) of the first row matching `row_css`.
async fn row_cells(b: &Browser, row_css: &str) -> Vec<String> {
    b.find(row_css).await;
    let v = b
        .js(
            "return Array.from(document.querySelector(arguments[0]).cells)\
               .map(c => c.innerText.trim());",
            vec![json!(row_css)],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

/// The listed lines of a refused upload.
async fn bad_lines(b: &Browser) -> Vec<String> {
    let v = b
        .js(
            "return Array.from(document.querySelectorAll('#import-errors li'))\
               .map(li => li.textContent.trim());",
            vec![],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

/// Presses Tab until the focus is on `css` (within `max` presses) and
/// returns what the focused control looks like.
async fn tab_to(b: &Browser, css: &str, max: usize) -> Value {
    for _ in 0..max {
        b.press(&[TAB]).await;
        let at = b
            .js(
                "const e = document.activeElement; const s = getComputedStyle(e);\
                 return { here: e.matches(arguments[0]), visible: e.matches(':focus-visible'),\
                          outline: s.outlineStyle + ' ' + s.outlineWidth, name: e.innerText.trim(),\
                          html: e.outerHTML.slice(0, 120) };",
                vec![json!(css)],
            )
            .await;
        if at["here"] == json!(true) {
            return at;
        }
    }
    panic!("Tab does not reach {css} in {max} presses");
}

/// One audit event of `user` named `event`, the newest.
async fn last_event(
    app: &TestApp,
    user: &str,
    event: &str,
) -> latchkey::control::protocol::AuditView {
    app.audit_events(Some(user))
        .await
        .into_iter()
        .filter(|e| e.event == event)
        .max_by_key(|e| e.time)
        .unwrap_or_else(|| panic!("no {event} event for {user}"))
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn the_helpdesk_unlocks_a_locked_user_who_then_resets_by_the_mailed_link() {
    let (app, sink) = site(|c| c.lockout.max_failures = 3).await;
    add_staff(&app, HELPDESK, HELPDESK_NAME, Role::Helpdesk).await;
    lock_out(&app, USER).await;

    // The helpdesk signs in through the real login page and opens the console.
    let b = Browser::launch(Options::default()).await;
    sign_in(&b, &app, HELPDESK, PASSWORD).await;
    b.wait_for_path("/").await;
    let console = b.find("main a[href='/admin']").await;
    click_and_load(&b, &console).await;
    b.wait_for_path("/admin").await;
    assert_page_says(&b, "Locked accounts").await;
    assert_page_says(&b, "1 locked").await;

    // alice's row: her name, where the lock came from, how many failures.
    let row = "#locked tbody tr:has(a[href='/admin/accounts/alice'])";
    let cells = row_cells(&b, row).await;
    assert_eq!(cells.len(), 5, "{cells:?}");
    assert!(cells[0].contains(USER), "{cells:?}");
    assert!(cells[0].contains(USER_NAME), "{cells:?}");
    assert!(cells[1].ends_with("UTC"), "locked since: {cells:?}");
    assert_eq!(cells[2], "127.0.0.1", "locked from: {cells:?}");
    assert_eq!(cells[3], "3", "failures: {cells:?}");

    // The keyboard reaches Unlock, with a visible focus, and then the other button.
    let at = tab_to(&b, &format!("{row} button[value=unlock]"), 40).await;
    assert_eq!(at["visible"], json!(true), "focus shows: {at}");
    let outline = at["outline"].as_str().unwrap();
    assert!(
        !outline.starts_with("none") && !outline.ends_with(" 0px"),
        "a visible outline: {at}"
    );
    let at = tab_to(&b, &format!("{row} button[value=unlock_and_reset]"), 1).await;
    assert_eq!(at["visible"], json!(true), "focus shows: {at}");

    press_button(&b, &format!("{row} button[value=unlock_and_reset]")).await;
    b.wait_for_path("/admin").await;
    assert_page_says(
        &b,
        "The account is unlocked and a reset link was mailed to its owner.",
    )
    .await;
    assert_page_says(&b, "No account is locked.").await;
    let alice = app.show_user(USER).await;
    assert!(!alice.locked, "unlocked in the store");
    assert_eq!(alice.failed_attempts, 0);
    let unlocked = last_event(&app, USER, "account_unlocked").await;
    assert_eq!(unlocked.actor.as_deref(), Some("web:hana"), "{unlocked:?}");
    assert_eq!(unlocked.ip.as_deref(), Some("127.0.0.1"), "{unlocked:?}");

    // alice, at her own desk, follows the mailed link and signs in.
    let reset = mailed_path(&sink, USER_EMAIL, "/reset/", 0).await;
    let alice_browser = Browser::launch(Options::default()).await;
    let a = &alice_browser;
    a.goto(&app.url(&reset)).await;
    assert_page_says(a, "Choose a new password").await;
    assert_password_fields_empty(a).await;
    fill(a, "#password", NEW_PASSWORD).await;
    fill(a, "#confirm", NEW_PASSWORD).await;
    press_button(a, "form button[type=submit]").await;
    a.wait_for_path("/login").await;
    assert_page_says(a, "Your password is saved. Sign in with it now.").await;
    sign_in(a, &app, USER, NEW_PASSWORD).await;
    a.wait_for_path("/").await;
    assert_page_says(a, &format!("Welcome, {USER_NAME}")).await;

    // The helpdesk's own session went on meanwhile.
    b.goto(&app.url("/admin")).await;
    b.wait_for_path("/admin").await;
    assert_page_says(&b, "No account is locked.").await;
}

/// The staff file of the upload journey; `grace_email` is line 4's address.
fn staff_csv(grace_email: &str) -> String {
    format!(
        "username,email,name,agency\n\
         erin,erin@example.org,Erin Example,{AGENCY}\n\
         frank,frank@example.org,Frank Example,{AGENCY}\n\
         grace,{grace_email},Grace Example,{AGENCY}\n\
         heidi,heidi@example.org,Heidi Example,{AGENCY}\n"
    )
}

const IMPORTED: [&str; 4] = ["erin", "frank", "grace", "heidi"];

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn a_csv_upload_with_one_bad_line_adds_nothing_and_lists_it_then_the_fixed_file_adds_all() {
    let (app, sink) = site(|_| {}).await;
    add_staff(&app, HELPDESK, HELPDESK_NAME, Role::Helpdesk).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("new-staff.csv");
    std::fs::write(&file, staff_csv("grace-at-example.org")).unwrap();

    let b = Browser::launch(Options::default()).await;
    sign_in(&b, &app, HELPDESK, PASSWORD).await;
    b.wait_for_path("/").await;
    b.goto(&app.url("/admin/add")).await;
    assert_page_says(&b, "Add many from a CSV file").await;
    upload_csv(&b, &file).await;

    // Every bad line (just the one) is listed, and nothing was written.
    assert_page_says(&b, "Nothing was added.").await;
    let lines = bad_lines(&b).await;
    assert_eq!(lines.len(), 1, "one bad line: {lines:?}");
    assert!(lines[0].starts_with("line 4: "), "{lines:?}");
    assert!(lines[0].contains("grace-at-example.org"), "{lines:?}");
    let alert = b.find("#import-errors").await;
    assert_eq!(b.attr(&alert, "role").await.as_deref(), Some("alert"));
    for name in IMPORTED {
        assert!(!exists(&app, name).await, "{name} was not created");
    }
    assert_eq!(
        app.count_events("user_created", None).await,
        2,
        "alice and hana only"
    );

    // The fixed file, uploaded again from the same page, adds every line.
    std::fs::write(&file, staff_csv("grace@example.org")).unwrap();
    upload_csv(&b, &file).await;
    b.wait_for_path("/admin/add").await;
    assert_page_says(&b, "The accounts were created.").await;
    assert!(b.try_find("#import-errors").await.is_none());
    for name in IMPORTED {
        let user = app.show_user(name).await;
        assert_eq!(user.agency.as_deref(), Some(AGENCY), "{user:?}");
        assert_eq!(user.email, Some(format!("{name}@example.org")), "{user:?}");
        assert_eq!(user.role, Role::User, "{user:?}");
        let created = last_event(&app, name, "user_created").await;
        assert_eq!(created.actor.as_deref(), Some("web:hana"), "{created:?}");
        // "Mail each new account a setup link" was ticked.
        mailed_path(&sink, &format!("{name}@example.org"), "/setup/", 0).await;
    }
    let erin = app.show_user("erin").await;
    assert_eq!(erin.name.as_deref(), Some("Erin Example"));
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn renewing_an_agency_moves_every_members_license_by_a_year() {
    let (app, _sink) = site(|_| {}).await;
    add_staff(&app, HELPDESK, HELPDESK_NAME, Role::Helpdesk).await;
    let members = [
        ("fay", in_days(10)),
        ("gus", in_days(20)),
        ("ida", in_days(45)),
    ];
    for (name, expires) in members {
        add_member(&app, name, AGENCY, expires).await;
    }
    let outsider = in_days(10);
    add_member(&app, "ivan", "Harbour Clinic", outsider).await;

    let b = Browser::launch(Options::default()).await;
    sign_in(&b, &app, HELPDESK, PASSWORD).await;
    b.wait_for_path("/").await;
    b.goto(&app.url("/admin/licenses")).await;
    let row = "#agencies tbody tr:has(input[name=agency][value='Food Shelf'])";
    let cells = row_cells(&b, row).await;
    assert_eq!(cells[..6], [AGENCY, "3", "0", "2", "1", "0"], "{cells:?}");
    let ending = b.find("#ending").await;
    let ending = b.text(&ending).await;
    for name in ["fay", "gus", "ivan"] {
        assert!(
            ending.contains(name),
            "{name} ends within 30 days: {ending}"
        );
    }

    let years = b.find(&format!("{row} select[name=years]")).await;
    assert_eq!(
        b.prop(&years, "value").await,
        json!("1"),
        "a year by default"
    );
    press_button(&b, &format!("{row} button[type=submit]")).await;
    b.wait_for_path("/admin/licenses").await;
    assert_page_says(&b, "The agency's licenses were renewed.").await;
    let cells = row_cells(&b, row).await;
    assert_eq!(cells[..6], [AGENCY, "3", "0", "0", "0", "0"], "{cells:?}");

    for (name, before) in members {
        let user = app.show_user(name).await;
        let after = before.checked_add(1.year()).unwrap();
        assert_eq!(user.license_expires, Some(after), "{name}");
        let changed = last_event(&app, name, "license_changed").await;
        assert_eq!(changed.actor.as_deref(), Some("web:hana"), "{changed:?}");
    }
    let ivan = app.show_user("ivan").await;
    assert_eq!(
        ivan.license_expires,
        Some(outsider),
        "another agency is left alone"
    );
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

/// The console pages in one browser, checked like `pages.rs` checks the others.
struct ConsoleTour {
    b: Browser,
    app: TestApp,
    width: u32,
    /// axe-core runs at 1280 px (once per page is enough).
    axe: bool,
    failures: Vec<String>,
    summary: String,
}

impl ConsoleTour {
    async fn goto(&self, path: &str) {
        self.b.goto(&self.app.url(path)).await;
    }

    /// Checks the current page and saves its screenshot as admin-`name`-WIDTH.png.
    async fn check(&mut self, name: &str) {
        let b = &self.b;
        b.wait_until(
            "animations to finish",
            "return document.readyState === 'complete' && \
               document.getAnimations().every(a => a.playState !== 'running');",
            Duration::from_secs(5),
        )
        .await;
        let url = b.current_url().await;
        let widths = b
            .js(
                "return [window.innerWidth, document.documentElement.scrollWidth];",
                vec![],
            )
            .await;
        let (inner, scroll) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        if inner != u64::from(self.width) {
            self.failures.push(format!(
                "{name}: the viewport is {inner} px wide, not {}",
                self.width
            ));
        }
        if scroll > inner {
            // Name the outermost elements that stick out of the page and are
            // not clipped by a scrolling container such as .table-wrap (an
            // absolutely positioned element escapes every container up to
            // its positioned ancestor).
            let culprits = b
                .js(
                    "const w = window.innerWidth;\
                     const clipped = e => { let free = getComputedStyle(e).position;\
                       for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {\
                         const s = getComputedStyle(p);\
                         if (free === 'fixed') return false;\
                         if (free === 'absolute' && s.position === 'static') continue;\
                         if (s.overflowX !== 'visible') return true;\
                         free = s.position === 'absolute' || s.position === 'fixed' ? s.position : 'static'; }\
                       return false; };\
                     const out = Array.from(document.body.querySelectorAll('*'))\
                       .filter(e => e.getBoundingClientRect().right > w + 0.5 && !clipped(e));\
                     return out.filter(e => !out.includes(e.parentElement)).slice(0, 6)\
                       .map(e => Math.round(e.getBoundingClientRect().right) + 'px ' + e.outerHTML.slice(0, 140));",
                    vec![],
                )
                .await;
            self.failures.push(format!(
                "{name} ({url}): scrolls sideways, {scroll} px of content in {inner} px; \
                 sticking out: {culprits}"
            ));
        }
        let unlabelled = b
            .js(
                "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))\
                   .filter(i => i.labels.length === 0 && !i.getAttribute('aria-label') && !i.getAttribute('aria-labelledby'))\
                   .map(i => i.outerHTML);",
                vec![],
            )
            .await;
        if unlabelled != json!([]) {
            self.failures
                .push(format!("{name}: inputs without a label: {unlabelled}"));
        }
        // The site's field style (16 px text, "keeps phones from zooming
        // in") applies to every field a person types into or picks from.
        let small = b
            .js(
                "return Array.from(document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]), select, textarea'))\
                   .filter(i => parseFloat(getComputedStyle(i).fontSize) < 16)\
                   .map(i => '#' + i.id + ' ' + getComputedStyle(i).fontSize);",
                vec![],
            )
            .await;
        if small != json!([]) {
            self.failures.push(format!(
                "{name}: fields without the site's field style (text under 16 px): {small}"
            ));
        }
        // CONTRACT section 4: password inputs carry autocomplete="off".
        let prefilled = b
            .js(
                "return Array.from(document.querySelectorAll('input[type=password]'))\
                   .filter(i => i.value !== '' || i.getAttribute('autocomplete') !== 'off')\
                   .map(i => i.id + ' autocomplete=' + i.getAttribute('autocomplete'));",
                vec![],
            )
            .await;
        if prefilled != json!([]) {
            self.failures.push(format!(
                "{name}: password fields prefilled or without autocomplete=off: {prefilled}"
            ));
        }
        if self.axe {
            self.run_axe(name).await;
        }
        let png = self.b.full_page_screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("admin-{name}-{}.png", self.width)), png).unwrap();
    }

    async fn run_axe(&mut self, name: &str) {
        let report = axe(&self.b).await;
        if !report.contrast_checked {
            self.failures
                .push(format!("{name}: axe did not check colour contrast"));
        }
        for v in report.serious() {
            self.failures.push(format!("{name}: axe {v:?}"));
        }
        for v in &report.violations {
            if v.0 == "color-contrast" && v.1 != "serious" {
                self.failures.push(format!("{name}: axe {v:?}"));
            }
        }
        let _ = writeln!(
            self.summary,
            "admin-{name:<20} {:>3} violations{}",
            report.violations.len(),
            report
                .violations
                .iter()
                .map(|v| format!(" [{} {}]", v.0, v.1))
                .collect::<String>()
        );
    }
}

/// A server whose mail goes to a port nothing listens on, so what is sent
/// stays queued; with staff, an app, a locked account, an agency's members
/// with licenses ending soon, and mail waiting.
async fn console_site() -> TestApp {
    let app = crate::helpers::spawn_with(|c| {
        crate::helpers::point_at_sink(c, crate::helpers::free_port());
        c.organization.name = "Harbour Agency".into();
        c.helpdesk.email = HELPDESK_EMAIL.into();
        c.lockout.max_failures = 3;
    })
    .await;
    add_user(&app, USER, USER_NAME).await;
    add_user(&app, "bob", "Bob Example").await;
    add_staff(&app, HELPDESK, HELPDESK_NAME, Role::Helpdesk).await;
    add_staff(&app, ADMIN, "Bea Boss", Role::Admin).await;
    add_member(&app, "fay", AGENCY, in_days(10)).await;
    add_member(&app, "gus", AGENCY, in_days(-3)).await;
    add_member(&app, "ida", AGENCY, in_days(75)).await;
    app.admin(Request::GroupAdd {
        name: "intake".into(),
    })
    .await
    .expect("group added");
    app.admin(Request::AppAdd(AppSpec {
        name: "Files".into(),
        redirect_uris: vec!["https://files.example.org/callback".into()],
        url: Some("https://files.example.org/".into()),
        groups: vec!["intake".into()],
        ..AppSpec::default()
    }))
    .await
    .expect("app added");
    lock_out(&app, USER).await;
    // A reset link for bob, mailed to nowhere: it waits in the queue.
    app.admin(Request::ResetLink {
        username: "bob".into(),
        send: true,
    })
    .await
    .expect("reset link queued");
    assert!(
        app.mail_queue()
            .await
            .iter()
            .any(|m| m.to == "bob@example.org"),
        "the mail to bob is queued"
    );
    app
}

/// Every console page, in the states the helpdesk meets them in.
async fn console_tour(options: Options, axe: bool) {
    let app = console_site().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(
        &bad_csv,
        "username,email,agency,license_expires\n\
         kim,kim@example.org,Food Shelf,2031-02-30\n\
         lee,lee-at-example.org,Food Shelf,\n\
         mo,mo@example.org,Food Shelf,never\n",
    )
    .unwrap();

    let b = Browser::launch(options).await;
    let mut t = ConsoleTour {
        b,
        app,
        width: options.width,
        axe,
        failures: Vec::new(),
        summary: String::new(),
    };
    sign_in(&t.b, &t.app, HELPDESK, PASSWORD).await;
    t.b.wait_for_path("/").await;

    t.goto("/admin").await;
    assert_page_says(&t.b, "1 locked").await;
    t.check("locked").await;
    t.goto("/admin/accounts").await;
    t.check("accounts").await;
    t.goto("/admin/accounts?q=food").await;
    assert_page_says(&t.b, "3 accounts.").await;
    t.check("accounts-search").await;
    t.goto("/admin/accounts/bob").await;
    t.check("account").await;
    t.goto("/admin/accounts/alice").await;
    assert_page_says(&t.b, "since").await;
    t.check("account-locked").await;
    t.goto(&format!("/admin/accounts/{ADMIN}")).await;
    assert_page_says(&t.b, "only an administrator can act on it").await;
    t.check("account-admin").await;
    t.goto("/admin/add").await;
    t.check("add").await;
    upload_csv(&t.b, &bad_csv).await;
    assert_eq!(bad_lines(&t.b).await.len(), 2, "two bad lines");
    t.check("add-bad-lines").await;
    t.goto("/admin/licenses").await;
    t.check("licenses").await;
    t.goto("/admin/audit").await;
    t.check("audit").await;
    t.goto("/admin/mail").await;
    assert_page_says(&t.b, "bob@example.org").await;
    t.check("mail").await;

    // Just over ten minutes on, an action asks for the password again (A2).
    t.app.advance(Duration::from_secs(601));
    // Every action form now has a field for it.
    t.goto("/admin/accounts/bob").await;
    t.b.find("#pw-unlock").await;
    t.check("account-password-again").await;
    t.goto("/admin").await;
    press_button(
        &t.b,
        "#locked tbody tr:has(a[href='/admin/accounts/alice']) button[value=unlock]",
    )
    .await;
    if t.b.try_find("#actor_password").await.is_some() {
        assert_page_says(&t.b, "Confirm with your password").await;
        t.check("confirm").await;
        fill(&t.b, "#actor_password", PASSWORD).await;
        press_button(&t.b, "main form button[type=submit]").await;
        t.b.wait_for_path("/admin").await;
        assert_page_says(&t.b, "The account is unlocked.").await;
    } else {
        let page = t.b.describe().await;
        t.failures.push(format!(
            "confirm: Unlock 601 s after the password was entered answers, instead of \
             \"Confirm with your password\": {page}"
        ));
        t.goto("/admin").await;
    }
    sign_out(&t.b).await;

    // The apps page is for administrators.
    sign_in(&t.b, &t.app, ADMIN, PASSWORD).await;
    t.b.wait_for_path("/").await;
    t.goto("/admin/apps").await;
    assert_page_says(&t.b, "Files").await;
    t.check("apps").await;

    if axe {
        println!("axe-core at {} px:\n{}", t.width, t.summary);
    }
    assert!(
        t.failures.is_empty(),
        "at {} px:\n  {}",
        t.width,
        t.failures.join("\n  ")
    );
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn every_console_page_at_1280px_passes_axe_and_is_screenshotted() {
    console_tour(Options::default(), true).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn every_console_page_at_360px_does_not_scroll_sideways_and_is_screenshotted() {
    console_tour(Options::phone(), false).await;
}
