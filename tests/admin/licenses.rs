//! Licenses by agency: counts, what ends within 30/60/90 days, renewing a
//! whole agency (helpdesk staff leave administrators alone), the CSV export.

use std::collections::HashMap;

use latchkey::domain::license;
use latchkey::domain::role::Role;

use super::*;
use crate::helpers::*;

/// Food Shelf: carol (ends in 10 days), dave (in 70), root (an
/// administrator, default term); River House: erin (in 200).
async fn agencies(app: &TestApp) {
    let people = [
        ("carol", "Food Shelf", Some(10)),
        ("dave", "food shelf", Some(70)),
        ("root", "Food Shelf", None),
        ("erin", "River House", Some(200)),
    ];
    for (name, agency, ends) in people {
        let mut new = new_user(name, None);
        new.agency = Some(agency.into());
        new.license_expires = ends.map(|d| day(d).to_string());
        add_account(app, new).await;
    }
    set_role(app, "root", Role::Admin).await;
}

/// Every account's license end, by name.
async fn license_ends(app: &TestApp) -> HashMap<&'static str, Option<jiff::civil::Date>> {
    let mut out = HashMap::new();
    for name in ["carol", "dave", "root", "erin"] {
        out.insert(name, app.show_user(name).await.license_expires);
    }
    out
}

/// The page counts each agency's accounts and how many end within 30, 60 and 90 days.
#[tokio::test]
async fn the_licenses_page_counts_by_agency() {
    let (app, boss) = boss_console().await;
    agencies(&app).await;

    let (status, body) = page(&boss, &app, "/admin/licenses").await;

    assert_eq!(status, 200);
    let rows = table(&body, "agencies");
    let counts: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r[..6].iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        counts,
        [
            ["Food Shelf", "3", "0", "1", "0", "1"],
            ["River House", "1", "0", "0", "0", "0"],
        ],
        "agency, accounts, expired, within 30, 31-60, 61-90"
    );
    let ending: Vec<String> = table(&body, "ending")
        .iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ending, ["carol"], "within 30 days");
    let (_, ninety) = page(&boss, &app, "/admin/licenses?within=90").await;
    let ending: Vec<String> = table(&ninety, "ending")
        .iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ending, ["carol", "dave"], "within 90 days, soonest first");
    let (_, river) = page(
        &boss,
        &app,
        "/admin/licenses?within=90&agency=river%20house",
    )
    .await;
    assert!(table(&river, "ending").is_empty());
}

/// Renewing an agency extends every member's license by the years chosen,
/// audited per member with the actor; other agencies are untouched.
#[tokio::test]
async fn renewing_an_agency_extends_every_member() {
    let (app, boss) = boss_console().await;
    agencies(&app).await;
    let before = license_ends(&app).await;

    let fields = [("agency", "FOOD SHELF"), ("years", "1")];
    let res = post_to(&boss, &app, "/admin/licenses", &fields).await;

    assert_done(&res, "/admin/licenses?done=agency-renewed");
    let after = license_ends(&app).await;
    let today = license::today(jiff::Timestamp::now());
    for name in ["carol", "dave", "root"] {
        assert_eq!(
            after[name],
            license::renew(before[name], today, 1),
            "{name}"
        );
        assert!(after[name] > before[name], "{name}");
        let e = audited_by(&app, "license_changed", Some(name), "boss").await;
        assert!(e.detail.unwrap_or_default().contains("agency renewal"));
    }
    assert_eq!(after["erin"], before["erin"], "another agency");
    assert!(
        events(&app, "license_changed", Some("erin"))
            .await
            .is_empty()
    );
    let (_, body) = page(&boss, &app, "/admin/licenses?done=agency-renewed").await;
    assert!(
        body.contains("The agency&#x27;s licenses were renewed."),
        "{body}"
    );
    assert_eq!(
        table(&body, "agencies")[0][3],
        "0",
        "none ends within 30 days now"
    );
}

/// A1: helpdesk staff renewing an agency renew its members but not its administrator.
#[tokio::test]
async fn a1_helpdesk_renewing_an_agency_leaves_its_admin_alone() {
    let app = spawn_app().await;
    let desk = staff(&app, "desk", Role::Helpdesk).await;
    agencies(&app).await;
    let before = license_ends(&app).await;

    let fields = [("agency", "Food Shelf"), ("years", "2")];
    let res = post_to(&desk, &app, "/admin/licenses", &fields).await;

    assert_done(&res, "/admin/licenses?done=agency-renewed");
    let after = license_ends(&app).await;
    let today = license::today(jiff::Timestamp::now());
    for name in ["carol", "dave"] {
        assert_eq!(
            after[name],
            license::renew(before[name], today, 2),
            "{name}"
        );
        audited_by(&app, "license_changed", Some(name), "desk").await;
    }
    assert_eq!(after["root"], before["root"], "the administrator's license");
    assert!(
        events(&app, "license_changed", Some("root"))
            .await
            .is_empty()
    );
}

/// An agency nobody belongs to is 404; a bad number of years is 422; neither changes anything.
#[tokio::test]
async fn renewing_refusals() {
    let (app, boss) = boss_console().await;
    agencies(&app).await;
    let before = license_ends(&app).await;

    let cases = [
        (("Nowhere", "1"), 404),
        (("Food Shelf", "0"), 422),
        (("Food Shelf", "11"), 422),
        (("Food Shelf", ""), 422),
    ];
    for ((agency, years), expected) in cases {
        let fields = [("agency", agency), ("years", years)];
        let res = post_to(&boss, &app, "/admin/licenses", &fields).await;

        assert_eq!(res.status(), expected, "{agency} {years}");
    }

    assert_eq!(license_ends(&app).await, before);
    assert!(events(&app, "license_changed", None).await.is_empty());
}

/// The CSV export: the window's licenses, for one agency or all, as a download.
#[tokio::test]
async fn licenses_csv_lists_the_window() {
    let (app, boss) = boss_console().await;
    agencies(&app).await;

    let res = get(
        &boss,
        &app,
        "/admin/licenses.csv?within=90&agency=Food%20Shelf",
    )
    .await;

    assert_eq!(res.status(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(header("content-type").starts_with("text/csv"));
    assert!(header("content-disposition").starts_with("attachment"));
    assert_eq!(header("cache-control"), "no-store");
    let rows = csv_rows(&res.text().await.unwrap());
    let names: Vec<&str> = rows.iter().map(|r| r["username"].as_str()).collect();
    assert_eq!(names, ["carol", "dave"]);
    assert_eq!(rows[0]["license_expires"], day(10).to_string());
    assert_eq!(rows[0]["expired"], "no");
    let (_, all) = page(&boss, &app, "/admin/licenses.csv?within=30").await;
    assert_eq!(csv_rows(&all).len(), 1, "{all}");
}

/// A3: names, emails and agencies that a spreadsheet would run as a formula
/// are written with a leading apostrophe in licenses.csv.
#[tokio::test]
async fn a3_licenses_csv_is_formula_safe() {
    let (app, boss) = boss_console().await;
    let mut evil = described(
        "@SUM",
        "sum@example.org",
        "=HYPERLINK(\"http://evil.example/\",\"open\")",
        Some("+1 Agency"),
    );
    evil.license_expires = Some(day(5).to_string());
    add_account(&app, evil).await;
    let mut minus = described("-minus", "minus@example.org", "-2+3", Some("@Agency"));
    minus.license_expires = Some(day(6).to_string());
    add_account(&app, minus).await;

    let (status, text) = page(&boss, &app, "/admin/licenses.csv?within=30").await;

    assert_eq!(status, 200);
    assert_formula_safe(&text);
    let rows = csv_rows(&text);
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0]["username"], "'@SUM");
    assert_eq!(
        rows[0]["name"],
        "'=HYPERLINK(\"http://evil.example/\",\"open\")"
    );
    assert_eq!(rows[0]["agency"], "'+1 Agency");
    assert_eq!(rows[1]["username"], "'-minus");
    assert_eq!(rows[1]["name"], "'-2+3");
    assert_eq!(rows[1]["agency"], "'@Agency");
    assert_eq!(rows[1]["email"], "minus@example.org");
}

/// An expired license is counted as expired and listed in every window (expired ones included).
#[tokio::test]
async fn expired_licenses_are_counted_and_listed() {
    let (app, boss) = boss_console().await;
    let mut gone = new_user("gone", None);
    gone.agency = Some("Food Shelf".into());
    gone.license_expires = Some(day(-3).to_string());
    add_account(&app, gone).await;

    let (_, body) = page(&boss, &app, "/admin/licenses").await;

    assert_eq!(table(&body, "agencies")[0][..3], ["Food Shelf", "1", "1"]);
    let ending = table(&body, "ending");
    assert_eq!(ending.len(), 1);
    assert!(ending[0][3].contains("license expired"), "{ending:?}");
    let (_, csv) = page(&boss, &app, "/admin/licenses.csv?within=30").await;
    let rows = csv_rows(&csv);
    assert_eq!(rows[0]["username"], "gone");
    assert_eq!(rows[0]["expired"], "yes");
}
