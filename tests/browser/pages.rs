//! Every page, at 360 px (a phone) and at 1280 px: every input has a label, no
//! password field is prefilled, nothing scrolls sideways, and a screenshot of
//! the whole page is written to docs/screenshots/<page>-<width>.png. At
//! 1280 px axe-core also runs on each page and must find no serious or
//! critical violation, and no colour-contrast (WCAG AA) violation at all.

use std::fmt::Write as _;
use std::path::PathBuf;

use latchkey::control::protocol::{Request, Response};
use serde_json::{Value, json};

use super::*;
use crate::browser::webdriver::{Browser, Options};
use crate::helpers::{SmtpSink, TestApp, new_user};

/// axe-core's findings on one page.
pub struct AxeReport {
    /// (rule id, impact, number of nodes, first node's target).
    pub violations: Vec<(String, String, usize, String)>,
    /// Whether the colour-contrast rule (WCAG AA, 4.5:1) looked at the page.
    pub contrast_checked: bool,
}

impl AxeReport {
    pub fn serious(&self) -> Vec<&(String, String, usize, String)> {
        self.violations
            .iter()
            .filter(|v| v.1 == "serious" || v.1 == "critical")
            .collect()
    }
}

/// Injects axe-core (once per document) and runs it on the current page.
pub async fn axe(b: &Browser) -> AxeReport {
    let loaded = b.js("return typeof window.axe === 'object';", vec![]).await;
    if loaded != json!(true) {
        let source = std::fs::read_to_string(&b.axe_js)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", b.axe_js.display()));
        b.js(&format!("{source}\n;return true;"), vec![]).await;
    }
    let result = b
        .js_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, { resultTypes: ['violations'] })\
               .then(r => done({\
                 violations: r.violations.map(v => [v.id, v.impact || '', v.nodes.length,\
                   v.nodes.length ? String(v.nodes[0].target) + ' ' + v.nodes[0].html.slice(0, 120) : '']),\
                 contrast: r.passes.concat(r.incomplete, r.violations).some(x => x.id === 'color-contrast')\
               }))\
               .catch(e => done({ error: String(e) }));",
            vec![],
        )
        .await;
    assert!(
        result.get("error").is_none(),
        "axe failed: {}",
        result["error"]
    );
    let violations: Vec<(String, String, usize, String)> =
        serde_json::from_value(result["violations"].clone()).expect("axe violations");
    AxeReport {
        violations,
        contrast_checked: result["contrast"] == json!(true),
    }
}

/// Inputs (hidden ones aside) without a label or an accessible name.
async fn unlabelled_inputs(b: &Browser) -> Value {
    b.js(
        "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))\
           .filter(i => i.labels.length === 0 && !i.getAttribute('aria-label') && !i.getAttribute('aria-labelledby'))\
           .map(i => i.outerHTML);",
        vec![],
    )
    .await
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

struct Tour {
    b: Browser,
    app: TestApp,
    sink: SmtpSink,
    width: u32,
    /// Whether axe-core runs too (once per page is enough: at 1280 px).
    axe: bool,
    failures: Vec<String>,
    summary: String,
}

impl Tour {
    /// Checks the current page and saves its screenshot as `name`.
    async fn check(&mut self, name: &str) {
        let b = &self.b;
        b.wait_until(
            "animations to finish",
            "return document.readyState === 'complete' && \
               document.getAnimations().every(a => a.playState !== 'running');",
            std::time::Duration::from_secs(5),
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
            self.failures.push(format!(
                "{name} ({url}): scrolls sideways, {scroll} px of content in {inner} px"
            ));
        }
        let unlabelled = unlabelled_inputs(b).await;
        if unlabelled != json!([]) {
            self.failures
                .push(format!("{name}: inputs without a label: {unlabelled}"));
        }
        let prefilled = b
            .js(
                "return Array.from(document.querySelectorAll('input[type=password]'))\
                   .filter(i => i.value !== '' || i.getAttribute('autocomplete') !== 'off').map(i => i.id);",
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
        let b = &self.b;
        let png = b.full_page_screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}-{}.png", self.width)), png).unwrap();
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
            "{name:<16} {:>3} violations{}",
            report.violations.len(),
            report
                .violations
                .iter()
                .map(|v| format!(" [{} {}]", v.0, v.1))
                .collect::<String>()
        );
    }

    async fn goto(&self, path: &str) {
        self.b.goto(&self.app.url(path)).await;
    }
}

/// Visits every page in the states a user meets them in.
async fn tour(options: Options, axe: bool) {
    let (app, sink) = site(|c| c.lockout.max_failures = 3).await;
    add_user(&app, "bob", "Bob Example").await;
    add_user(&app, "carol", "Carol Example").await;
    app.admin(Request::UserForceChange {
        username: Some("carol".into()),
    })
    .await
    .expect("force change");
    let setup = match app
        .admin(Request::UserAdd(new_user("dave", None)))
        .await
        .expect("invited")
    {
        Response::Created {
            setup_link: Some(link),
            ..
        } => link[link.find("/setup/").unwrap()..].to_owned(),
        other => panic!("expected a setup link, got {other:?}"),
    };
    // An email change waiting for confirmation (requested in another browser).
    let other = app.client();
    crate::helpers::login(&other, &app, USER, PASSWORD).await;
    let res = crate::helpers::submit(
        &other,
        &app,
        "/profile",
        "/profile/contact",
        &[
            ("email", "alice.new@example.org"),
            ("phone", ""),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(crate::helpers::location(&res), "/profile?done=email-sent");
    let confirm = mailed_path(&sink, "alice.new@example.org", "/confirm-email/", 0).await;

    let b = Browser::launch(options).await;
    let mut t = Tour {
        b,
        app,
        sink,
        width: options.width,
        axe,
        failures: Vec::new(),
        summary: String::new(),
    };

    t.goto("/login").await;
    t.check("login").await;
    let link = t.b.find("a.link-forgot").await;
    t.b.click(&link).await;
    t.check("forgot-dialog").await;

    sign_in(&t.b, &t.app, USER, "Wrong-Password-1").await;
    t.check("login-failed").await;
    for n in 1..=3 {
        sign_in(&t.b, &t.app, "bob", &format!("Wrong-Password-{n}")).await;
    }
    assert_page_says(&t.b, "locked").await;
    t.check("login-locked").await;

    t.goto("/forgot").await;
    t.check("forgot").await;
    fill(&t.b, "#forgot-username", USER).await;
    press_button(&t.b, "form[action='/forgot'] button[type=submit]").await;
    t.check("forgot-sent").await;

    let reset = mailed_path(&t.sink, USER_EMAIL, "/reset/", 0).await;
    t.goto(&reset).await;
    t.check("reset").await;
    fill(&t.b, "#password", "short").await;
    fill(&t.b, "#confirm", "shorts").await;
    press_button(&t.b, "form button[type=submit]").await;
    assert_page_says(&t.b, "Please fix the following").await;
    t.check("reset-errors").await;

    t.goto(&setup).await;
    t.check("setup").await;
    t.goto(&confirm).await;
    t.check("confirm-email").await;
    t.goto("/no-such-page").await;
    t.check("error-404").await;

    sign_in(&t.b, &t.app, USER, PASSWORD).await;
    t.b.wait_for_path("/").await;
    t.check("home").await;
    let gear = t.b.find("header a.gear").await;
    t.b.click(&gear).await;
    t.check("profile-dialog").await;
    t.goto("/profile").await;
    t.check("profile").await;
    t.goto("/help").await;
    t.check("help").await;
    sign_out(&t.b).await;

    sign_in(&t.b, &t.app, "carol", PASSWORD).await;
    t.b.wait_for_path("/password/expired").await;
    t.check("expired").await;

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
async fn every_page_at_1280px_passes_axe_and_is_screenshotted() {
    tour(Options::default(), true).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn every_page_at_360px_does_not_scroll_sideways_and_is_screenshotted() {
    tour(Options::phone(), false).await;
}
