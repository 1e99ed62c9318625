//! Changing an account's details and groups, and deleting it (typed confirmation).

use super::*;
use crate::helpers::*;

/// carol with a name, no phone, agency Food Shelf and no group; groups
/// `intake` and `outreach` exist.
async fn console_with_carol() -> (TestApp, reqwest::Client) {
    let (app, boss) = boss_console().await;
    add_group(&app, "intake").await;
    add_group(&app, "outreach").await;
    let carol = described(
        "carol",
        "carol@example.org",
        "Carol Smith",
        Some("Food Shelf"),
    );
    add_account(&app, carol).await;
    (app, boss)
}

/// The edit form as the page sends it: every detail, and the groups ticked.
fn edit_form<'a>(
    email: &'a str,
    phone: &'a str,
    agency: &'a str,
    groups: &'a [&'a str],
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("action", "edit"),
        ("groups_shown", "1"),
        ("name", "Carol Smith"),
        ("email", email),
        ("phone", phone),
        ("agency", agency),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    fields.extend(
        groups
            .iter()
            .map(|g| (format!("group:{g}"), "on".to_owned())),
    );
    fields
}

async fn edit(
    client: &reqwest::Client,
    app: &TestApp,
    fields: &[(String, String)],
) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    act(client, app, "carol", &fields).await
}

/// The page's own edit form carries every field and one checkbox per group.
#[tokio::test]
async fn the_edit_form_shows_the_details_and_every_group() {
    let (app, boss) = console_with_carol().await;

    let (_, account) = page(&boss, &app, "/admin/accounts/carol").await;

    let form = &account[account.find("id=\"edit-title\"").unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    for field in [
        "name=\"name\"",
        "name=\"email\"",
        "name=\"phone\"",
        "name=\"agency\"",
    ] {
        assert!(form.contains(field), "{field} in {form}");
    }
    assert!(form.contains("name=\"group:intake\""), "{form}");
    assert!(form.contains("name=\"group:outreach\""), "{form}");
    assert!(form.contains("value=\"Food Shelf\""), "{form}");
    let hidden = hidden_fields(form, "");
    assert!(
        hidden.contains(&("groups_shown".into(), "1".into())),
        "{hidden:?}"
    );
}

/// Email, phone, agency and groups change in one POST, audited with the actor.
#[tokio::test]
async fn edit_changes_email_phone_agency_and_groups() {
    let (app, boss) = console_with_carol().await;

    let fields = edit_form(
        "carol.smith@shelter.example",
        "+1 555 010 0199",
        "River House",
        &["intake", "outreach"],
    );
    let res = edit(&boss, &app, &fields).await;

    assert_done(&res, "/admin/accounts/carol?done=saved");
    let carol = app.show_user("carol").await;
    assert_eq!(carol.email.as_deref(), Some("carol.smith@shelter.example"));
    assert_eq!(carol.phone.as_deref(), Some("+1 555 010 0199"));
    assert_eq!(carol.agency.as_deref(), Some("River House"));
    assert_eq!(carol.name.as_deref(), Some("Carol Smith"), "unchanged");
    assert_eq!(
        carol.groups,
        vec!["intake".to_owned(), "outreach".to_owned()]
    );
    let e = audited_by(&app, "user_updated", Some("carol"), "boss").await;
    assert_eq!(e.detail.as_deref(), Some("changed email, phone, agency"));
    let e = audited_by(&app, "group_changed", Some("carol"), "boss").await;
    assert_eq!(e.detail.as_deref(), Some("groups intake, outreach"));

    // Unticking every box takes carol out of every group; clearing the phone clears it.
    let fields = edit_form("carol.smith@shelter.example", "", "River House", &[]);
    let res = edit(&boss, &app, &fields).await;

    assert_done(&res, "/admin/accounts/carol?done=saved");
    let carol = app.show_user("carol").await;
    assert!(carol.groups.is_empty(), "{carol:?}");
    assert_eq!(carol.phone, None);
}

/// The same form sent back unchanged changes nothing and audits nothing.
#[tokio::test]
async fn edit_with_nothing_changed_is_unchanged() {
    let (app, boss) = console_with_carol().await;
    let before = app.show_user("carol").await;

    let res = edit(
        &boss,
        &app,
        &edit_form("carol@example.org", "", "Food Shelf", &[]),
    )
    .await;

    assert_done(&res, "/admin/accounts/carol?done=unchanged");
    assert_eq!(app.show_user("carol").await, before);
    assert!(events(&app, "user_updated", None).await.is_empty());
    assert!(
        events(&app, "group_changed", Some("carol"))
            .await
            .is_empty()
    );
}

/// A group that does not exist is refused (422) and nothing of the form is
/// written, not even its other, valid changes; so is a bad email or phone.
#[tokio::test]
async fn edit_with_an_unknown_group_or_bad_value_writes_nothing() {
    let (app, boss) = console_with_carol().await;
    let before = app.show_user("carol").await;
    let refusals = [
        (
            edit_form("new@example.org", "", "River House", &["intake", "nosuch"]),
            "nosuch",
        ),
        (
            edit_form("not-an-email", "", "Food Shelf", &[]),
            "not-an-email",
        ),
        (
            edit_form("carol@example.org", "call me", "Food Shelf", &[]),
            "call me",
        ),
    ];

    for (fields, shown) in refusals {
        let (status, body) = read(edit(&boss, &app, &fields).await).await;

        assert_eq!(status, 422, "{fields:?}");
        assert!(unescape(&body).contains(shown), "{shown} in {body}");
    }

    assert_eq!(app.show_user("carol").await, before);
    assert!(events(&app, "user_updated", None).await.is_empty());
    assert!(
        events(&app, "group_changed", Some("carol"))
            .await
            .is_empty()
    );
}

/// Deleting needs the user name typed exactly; then the account, its session and its links end.
#[tokio::test]
async fn delete_needs_the_exact_name_typed() {
    let (app, boss) = boss_console().await;
    app.add_user("carol", PASSWORD).await;
    let (carol, _) = signed_in(&app, "carol", PASSWORD).await;

    for typed in ["", "caro", "carol2", "dave"] {
        let fields = [("action", "delete"), ("confirm", typed)];
        let (status, body) = read(act(&boss, &app, "carol", &fields).await).await;

        assert_eq!(status, 422, "confirm {typed:?}");
        assert!(body.contains("type its user name"), "{body}");
        assert!(exists(&app, "carol").await, "still there after {typed:?}");
    }
    assert_eq!(get(&carol, &app, "/").await.status(), 200);

    let res = act(
        &boss,
        &app,
        "carol",
        &[("action", "delete"), ("confirm", "carol")],
    )
    .await;

    assert_done(&res, "/admin/accounts?done=deleted");
    assert!(!exists(&app, "carol").await);
    audited_by(&app, "user_deleted", Some("carol"), "boss").await;
    assert_sent_to_login(&get(&carol, &app, "/").await);
    assert_eq!(page(&boss, &app, "/admin/accounts/carol").await.0, 404);
    let (_, list) = page(&boss, &app, "/admin/accounts?done=deleted").await;
    assert!(!listed(&list).contains(&"carol".to_owned()), "{list}");
    assert!(list.contains("The account was deleted."));
}

/// R5: a new email address voids the links mailed to the old one.
#[tokio::test]
async fn a_new_email_voids_links_mailed_before() {
    let (app, boss) = console_with_carol().await;
    let token = app.reset_token("carol").await;
    assert_eq!(
        page(&app.client(), &app, &format!("/reset/{token}"))
            .await
            .0,
        200
    );

    let fields = edit_form("carol@elsewhere.example", "", "Food Shelf", &[]);
    let res = edit(&boss, &app, &fields).await;

    assert_done(&res, "/admin/accounts/carol?done=saved");
    let (status, _) = page(&app.client(), &app, &format!("/reset/{token}")).await;
    assert_ne!(status, 200, "the old link is dead");
}
