//! Keyboard operation, visible focus, and errors that are announced and tied
//! to their fields. (axe-core runs on every page in `pages.rs`.)

use serde_json::{Value, json};

use super::*;
use crate::browser::webdriver::{Browser, ENTER, Options, TAB};

/// Marks every control a keyboard user must reach and returns how many there are.
async fn mark_controls(b: &Browser) -> usize {
    b.js(
        "const all = Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
           .filter(e => !e.closest('dialog:not([open])') && !e.disabled);\
         all.forEach((e, i) => e.setAttribute('data-kb', String(i)));\
         return all.length;",
        vec![],
    )
    .await
    .as_u64()
    .unwrap() as usize
}

/// The focused control: its `data-kb` mark, whether `:focus-visible` matches,
/// and its outline and box-shadow.
async fn focused(b: &Browser) -> Value {
    b.js(
        "const e = document.activeElement; const s = getComputedStyle(e);\
         return { kb: e.getAttribute('data-kb'), visible: e.matches(':focus-visible'),\
                  outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor,\
                  shadow: s.boxShadow, top: e.getBoundingClientRect().top,\
                  html: e.outerHTML.slice(0, 80) };",
        vec![],
    )
    .await
}

/// The outline and box-shadow of every marked control without the focus.
async fn unfocused_styles(b: &Browser) -> Value {
    b.js(
        "document.activeElement.blur();\
         const out = {};\
         document.querySelectorAll('[data-kb]').forEach(e => { const s = getComputedStyle(e);\
           out[e.getAttribute('data-kb')] = [s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor, s.boxShadow]; });\
         return out;",
        vec![],
    )
    .await
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn every_control_on_the_login_page_is_reached_by_tab_with_a_visible_focus() {
    let (app, _sink) = site(|_| {}).await;
    let b = Browser::launch(Options::default()).await;
    b.goto(&app.url("/login")).await;
    let n = mark_controls(&b).await;
    assert!(
        n >= 6,
        "skip link, org link, two inputs, button, links: {n}"
    );

    // Tab from the focused user name field around the whole page (and
    // through the browser's own controls back into it).
    // The autofocused field before any key press is left out: whether it
    // shows as focused depends on whether the headless window has the
    // system focus yet, which no page can decide. Tab comes back round to it.
    let mut seen: Vec<Value> = Vec::new();
    for _ in 0..(2 * n + 4) {
        b.press(&[TAB]).await;
        seen.push(focused(&b).await);
    }
    let mut reached: Vec<String> = Vec::new();
    for f in &seen {
        if let Some(kb) = f["kb"].as_str() {
            assert_eq!(
                f["visible"],
                json!(true),
                "keyboard focus shows as :focus-visible: {f}"
            );
            let outline = f["outline"].as_str().unwrap();
            assert!(
                !outline.starts_with("none") && !outline.contains(" 0px "),
                "a visible outline on {f}"
            );
            assert!(
                f["top"].as_f64().unwrap() >= 0.0,
                "the focused control is on screen: {f}"
            );
            if !reached.iter().any(|r| r == kb) {
                reached.push(kb.to_owned());
            }
        }
    }
    let mut all: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let mut got = reached.clone();
    got.sort();
    all.sort();
    assert_eq!(got, all, "Tab reaches every control; order {reached:?}");

    // Tab order follows the page: skip link first, then the header, the form, the footer.
    let first = seen
        .iter()
        .position(|f| f["kb"] == json!("0"))
        .expect("the skip link is reached");
    let order: Vec<usize> = seen[first..]
        .iter()
        .take_while(|f| !f["kb"].is_null())
        .map(|f| f["kb"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(order, (0..n).collect::<Vec<_>>(), "in document order");

    // Focus looks different from no focus.
    let plain = unfocused_styles(&b).await;
    for kb in &reached {
        let f = seen.iter().find(|f| f["kb"] == json!(kb)).unwrap();
        let (outline, shadow) = (&plain[kb][0], &plain[kb][1]);
        assert!(
            &f["outline"] != outline || &f["shadow"] != shadow,
            "focus changes the look of {f} (unfocused: {outline} / {shadow})"
        );
    }

    // The skip link works from the keyboard.
    b.goto(&app.url("/login")).await;
    b.js(
        "document.body.tabIndex = -1; document.body.focus(); return true;",
        vec![],
    )
    .await;
    b.press(&[TAB]).await;
    let skip = b
        .js("return document.activeElement.className;", vec![])
        .await;
    assert_eq!(skip, json!("skip-link"));
    b.press(&[ENTER]).await;
    let at = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(
        at,
        json!("main"),
        "Enter on the skip link moves to the content"
    );
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test suite -- --ignored browser::"]
async fn errors_are_announced_and_tied_to_their_fields() {
    let (app, _sink) = site(|_| {}).await;
    let b = Browser::launch(Options::default()).await;

    // A failed sign-in.
    sign_in(&b, &app, USER, "Wrong-Password-1").await;
    let live = b
        .js(
            "const r = document.querySelector('[aria-live]');\
             const alert = r && r.querySelector('[role=alert]');\
             return [r ? r.getAttribute('aria-live') : null, alert ? alert.textContent.trim() : null];",
            vec![],
        )
        .await;
    assert_eq!(live, json!(["assertive", "Login failed!"]), "{live}");
    for field in ["username", "password"] {
        let tied = b
            .js(
                "const f = document.getElementById(arguments[0]);\
                 const ids = (f.getAttribute('aria-describedby') || '').split(/\\s+/);\
                 return [f.getAttribute('aria-invalid'),\
                   ids.map(id => document.getElementById(id)).filter(Boolean).map(e => e.textContent.trim()).join(' ')];",
                vec![json!(field)],
            )
            .await;
        assert_eq!(tied[0], json!("true"), "{field} is marked invalid");
        assert!(
            tied[1].as_str().unwrap().contains("Login failed!"),
            "{field} is described by the error: {tied}"
        );
    }
    assert_password_fields_empty(&b).await;
    let focus = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(focus, json!("password"), "the focus is where to retry");

    // A wrong current password on the profile page.
    sign_in(&b, &app, USER, PASSWORD).await;
    b.goto(&app.url("/profile")).await;
    fill(&b, "#current_password", "Not-The-Password-9").await;
    fill(&b, "#password", NEW_PASSWORD).await;
    fill(&b, "#confirm", NEW_PASSWORD).await;
    press_button(&b, "main form[action='/profile/password'] button").await;
    let tied = b
        .js(
            "const r = document.querySelector('main [aria-live]');\
             const f = document.getElementById('current_password');\
             const ids = (f.getAttribute('aria-describedby') || '').split(/\\s+/);\
             return [r.querySelector('[role=alert]').textContent.includes('current password is not right'),\
               ids.includes('form-errors')];",
            vec![],
        )
        .await;
    assert_eq!(tied, json!([true, true]), "{tied}");
    assert_password_fields_empty(&b).await;
}
