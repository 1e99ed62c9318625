//! `app ...` and `oidc rotate-key` through the real binary, while serving
//! (the control socket) and with the server stopped.

use super::*;
use crate::helpers::{self, PASSWORD, stderr, stdout};

fn json_line(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(stdout(out).trim()).expect("one JSON line")
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_are_added_shown_changed_and_removed_while_serving() {
    let app = provider().await;
    app.admin(Request::GroupAdd {
        name: "Finance".into(),
    })
    .await
    .unwrap();
    let out = app.cli(&[
        "app",
        "add",
        "Books",
        "--redirect-uri",
        "https://books.agency.lan/cb",
        "--group",
        "finance",
        "--url",
        "https://books.agency.lan/",
        "--host",
        "books.agency.lan",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("client_id            books"), "{text}");
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("client_secret        "))
        .expect("the secret is printed once")
        .to_owned();
    assert!(text.contains("/.well-known/openid-configuration"));

    let shown = json_line(&app.cli(&["app", "show", "books", "--json"]));
    assert_eq!(shown["app"]["client_id"], "books");
    assert_eq!(shown["app"]["groups"], serde_json::json!(["Finance"]));
    assert_eq!(shown["client_secret"], serde_json::Value::Null);
    assert!(!stdout(&app.cli(&["app", "list"])).contains(&secret));

    // The secret works: a client_credentials-free check through revoke (RFC 7009 answers 200).
    let revoke = |secret: String| {
        let url = app.url("/oauth2/revoke");
        async move {
            library_http()
                .post(url)
                .basic_auth("books", Some(secret))
                .form(&[("token", "x")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(secret.clone()).await, 200);
    let rotated = json_line(&app.cli(&["app", "rotate-secret", "books", "--json"]));
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(revoke(secret).await, 401);
    assert_eq!(revoke(new_secret).await, 200);

    let out = app.cli(&["app", "set", "books", "--groups", "", "--url", ""]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = json_line(&app.cli(&["app", "show", "books", "--json"]));
    assert_eq!(shown["app"]["groups"], serde_json::json!([]));
    assert_eq!(shown["app"]["url"], serde_json::Value::Null);

    // Bad input: one line, exit 1, nothing changed.
    for bad in [
        vec!["app", "add", "Books", "--redirect-uri", "https://x.lan/cb"],
        vec![
            "app",
            "add",
            "Evil",
            "--redirect-uri",
            "https://*.agency.lan/cb",
        ],
        vec![
            "app",
            "add",
            "Evil",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
        vec![
            "app",
            "add",
            "Evil",
            "--redirect-uri",
            "https://x.lan/cb#frag",
        ],
        vec![
            "app",
            "add",
            "Evil",
            "--redirect-uri",
            "https://x.lan/cb",
            "--group",
            "nope",
        ],
        vec!["app", "add", "Evil", "--host", "bad host"],
        vec!["app", "show", "nobody"],
        vec!["app", "rotate-secret", "nobody"],
    ] {
        let out = app.cli(&bad);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert_eq!(
            stderr(&out).trim().lines().count(),
            1,
            "{bad:?}: {}",
            stderr(&out)
        );
    }
    let list = stdout(&app.cli(&["app", "list"]));
    assert!(list.contains("1 app(s)"), "{list}");

    let out = app.cli(&["app", "remove", "books"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(app.cli(&["app", "show", "books"]).status.code(), Some(1));
    for event in ["app_created", "app_updated", "app_removed"] {
        assert!(app.count_events(event, None).await >= 1, "{event}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_an_app_revokes_its_tokens_at_once() {
    let app = provider().await;
    app.add_user("maria", PASSWORD).await;
    let (_, secret) = register(&app, wiki(false)).await;
    let (browser, _) = helpers::signed_in(&app, "maria", PASSWORD).await;
    let url = format!(
        "{}?response_type=code&client_id=wiki&redirect_uri={}&scope=openid",
        app.url("/oauth2/authorize"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let res = browser.get(&url).send().await.unwrap();
    let back = url::Url::parse(helpers::location(&res)).unwrap();
    let code = param(&back, "code").unwrap();
    let tokens: serde_json::Value = library_http()
        .post(app.url("/oauth2/token"))
        .basic_auth("wiki", secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = || {
        library_http()
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(access)
            .send()
    };
    assert_eq!(userinfo().await.unwrap().status(), 200);
    let out = app.cli(&["app", "remove", "wiki"]);
    assert!(
        stdout(&out).contains("1 grant(s) revoked"),
        "{}",
        stdout(&out)
    );
    assert_eq!(userinfo().await.unwrap().status(), 401);
    // Added again under the same name, the old tokens stay dead.
    register(&app, wiki(false)).await;
    assert_eq!(userinfo().await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn o5_rotate_key_publishes_a_new_key_and_keeps_the_old_one_for_a_while() {
    let app = provider().await;
    let kids = |app: &TestApp| {
        let url = app.url("/oauth2/jwks");
        async move {
            let jwks: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let before = kids(&app).await;
    assert_eq!(before.len(), 1);
    let out = app.cli(&["oidc", "rotate-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = kids(&app).await;
    assert_eq!(after.len(), 2);
    assert_eq!(after[1], before[0]);
    assert_eq!(app.count_events("key_rotated", None).await, 1);
    // Once the ID tokens it signed have expired (access_token_ttl), it goes.
    app.advance(std::time::Duration::from_secs(11 * 60));
    assert_eq!(kids(&app).await, after[..1].to_vec());
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(app.data_dir().join(latchkey::store::keys::KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn app_add_works_with_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = helpers::run_binary(
        &data,
        &[
            "app",
            "add",
            "Wiki",
            "--redirect-uri",
            REDIRECT,
            "--public",
            "--json",
        ],
        None,
    );
    let v = json_line(&out);
    assert_eq!(v["app"]["public"], true);
    assert_eq!(v["client_secret"], serde_json::Value::Null);
    let out = helpers::run_binary(&data, &["oidc", "rotate-key"], None);
    assert!(out.status.success(), "{}", stderr(&out));
}
