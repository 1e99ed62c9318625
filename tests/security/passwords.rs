//! Passwords (SECURITY P1-P5): the policy over the wire, common passwords,
//! the 1 KiB cap before hashing, expiry and email changes.

use latchkey::domain::password::PasswordHash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use latchkey::config::Dur;
use latchkey::control::protocol::{Request, Response};
use latchkey::domain::password::NewPassword;
use latchkey::domain::secret::Secret;

use crate::helpers::{
    PASSWORD, TestApp, change_expired_password, change_password, form_token, location, login,
    spawn_with, spawn_with_smtp, submit,
};
use crate::security::support::{anon, contains, post_bytes, raw};

async fn reset_to(app: &TestApp, user: &str, password: &str) -> (u16, String) {
    let path = format!("/reset/{}", app.reset_token(user).await);
    let res = submit(
        &app.client(),
        app,
        &path,
        &path,
        &[("password", password), ("confirm", password)],
    )
    .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// P1: a 50-character password of letters from several scripts and an emoji
/// (far more than 50 bytes) is accepted and never truncated: its 49-character
/// prefix fails, a 51st character is refused, and a decomposed or full-width
/// spelling of the same password signs in (NFKC).
#[tokio::test(flavor = "multi_thread")]
async fn p1_unicode_passwords_count_characters_and_are_never_truncated() {
    let app = spawn_with(|_| {}).await;
    app.add_user("yara", PASSWORD).await;
    let body = "Éclair密码🔑Пароль東京Straße日本語パスワードΠάροδοςΛέξηñandú"; // 47 characters
    let password = format!("Z9!{body}");
    assert_eq!(password.chars().count(), 50);
    assert!(password.len() > 80, "{} bytes", password.len());
    assert_eq!(
        reset_to(&app, "yara", &format!("{password}!")).await.0,
        422,
        "51 characters accepted"
    );
    let (status, page) = reset_to(&app, "yara", &password).await;
    assert_eq!(status, 303, "{page}");
    let prefix: String = password.chars().take(49).collect();
    assert_eq!(
        login(&app.client(), &app, "yara", &prefix).await.status(),
        401,
        "a truncated password signed in"
    );
    let decomposed = password.replace('ú', "u\u{301}");
    assert_eq!(
        login(&app.client(), &app, "yara", &decomposed)
            .await
            .status(),
        303
    );
    let wide = password.replacen("Z9!", "Ｚ９！", 1);
    assert_eq!(
        login(&app.client(), &app, "yara", &wide).await.status(),
        303
    );
    // The mandated composition rules are the defaults.
    for weak in [
        "alllowercase1!",
        "ALLUPPERCASE1!",
        "NoDigitsHere!",
        "NoSpecial123",
        "Sh0rt!",
    ] {
        assert_eq!(reset_to(&app, "yara", weak).await.0, 422, "{weak} accepted");
    }
}

/// P2: common passwords that meet every composition rule are refused on the
/// reset, profile and forced-change forms.
#[tokio::test(flavor = "multi_thread")]
async fn p2_common_passwords_are_refused_on_every_form() {
    let app = spawn_with(|_| {}).await;
    app.add_user("zoe", PASSWORD).await;
    app.add_user("zack", PASSWORD).await;
    let common = ["Password1!", "Welcome2024!", "Qwerty123$", "Letmein!99"];
    for pw in common {
        let (status, page) = reset_to(&app, "zoe", pw).await;
        assert_eq!(status, 422, "{pw} accepted by reset");
        assert!(page.contains("too common"), "{pw}: {page}");
    }
    let client = app.client();
    login(&client, &app, "zoe", PASSWORD).await;
    for pw in common {
        let res = change_password(&client, &app, PASSWORD, pw).await;
        assert_eq!(res.status(), 422, "{pw} accepted by the profile");
    }
    app.admin(Request::UserForceChange {
        username: Some("zack".into()),
    })
    .await
    .unwrap();
    let client = app.client();
    login(&client, &app, "zack", PASSWORD).await;
    for pw in common {
        let res = change_expired_password(&client, &app, pw).await;
        assert_eq!(res.status(), 422, "{pw} accepted by the forced change");
    }
}

/// P3: with the hashing pool kept saturated (so any request that hashed would
/// get 503), an input over 1 KiB on every form gets its ordinary refusal: it
/// was refused before hashing.
#[tokio::test(flavor = "multi_thread")]
async fn p3_oversized_input_is_refused_before_hashing_on_every_form() {
    let app = spawn_with(|c| {
        c.server.hash_threads = 1;
        c.server.hash_queue = 1;
        c.rate_limit.per_ip_per_minute = 10_000;
    })
    .await;
    app.add_user("pia", PASSWORD).await;
    app.add_user("finn", PASSWORD).await;
    let pia = app.client();
    assert_eq!(login(&pia, &app, "pia", PASSWORD).await.status(), 303);
    app.admin(Request::UserForceChange {
        username: Some("finn".into()),
    })
    .await
    .unwrap();
    let finn = app.client();
    assert_eq!(login(&finn, &app, "finn", PASSWORD).await.status(), 303);
    let reset = format!("/reset/{}", app.reset_token("pia").await);
    let setup = app.setup_link.clone().unwrap();
    let setup = format!("/setup/{}", setup.rsplit('/').next().unwrap());
    let pia_token = form_token(&pia, &app.url("/profile")).await;
    let finn_token = form_token(&finn, &app.url("/password/expired")).await;
    let fresh = app.client();
    let reset_token = form_token(&fresh, &app.url(&reset)).await;
    let setup_token = form_token(&fresh, &app.url(&setup)).await;
    let login_token = form_token(&fresh, &app.url("/login")).await;

    let stop = Arc::new(AtomicBool::new(false));
    let burners: Vec<_> = (0..4)
        .map(|_| {
            let (auth, stop) = (app.auth.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if auth
                        .hasher
                        .hash(NewPassword::verified(&Secret::new("burn")))
                        .await
                        .is_err()
                    {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Control: an ordinary attempt does meet the saturated pool.
    let mut busy = 0;
    for i in 0..20 {
        let name = format!("control{i}");
        let form = [
            ("username", name.as_str()),
            ("password", "Short-Enough-1"),
            ("csrf_token", &login_token),
        ];
        if fresh
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .status()
            == 503
        {
            busy += 1;
        }
    }

    let huge = "Aa1-".repeat(300);
    let h = huge.as_str();
    type Case<'a> = (&'a str, &'a reqwest::Client, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        (
            "/profile/password",
            &pia,
            vec![
                ("current_password", h),
                ("password", "Next-Pass-77x"),
                ("confirm", "Next-Pass-77x"),
                ("csrf_token", &pia_token),
            ],
            422,
        ),
        (
            "/profile/contact",
            &pia,
            vec![
                ("email", "pia-new@example.org"),
                ("phone", ""),
                ("current_password", h),
                ("csrf_token", &pia_token),
            ],
            422,
        ),
        (
            "/password/expired",
            &finn,
            vec![("password", h), ("confirm", h), ("csrf_token", &finn_token)],
            422,
        ),
        (
            reset.as_str(),
            &fresh,
            vec![
                ("password", h),
                ("confirm", h),
                ("csrf_token", &reset_token),
            ],
            422,
        ),
        (
            setup.as_str(),
            &fresh,
            vec![
                ("username", "boss"),
                ("email", "boss@example.org"),
                ("password", h),
                ("confirm", h),
                ("csrf_token", &setup_token),
            ],
            422,
        ),
        (
            "/login",
            &fresh,
            vec![
                ("username", "nobody-at-all"),
                ("password", h),
                ("csrf_token", &login_token),
            ],
            401,
        ),
        (
            "/login",
            &fresh,
            vec![
                ("username", "pia"),
                ("password", h),
                ("csrf_token", &login_token),
            ],
            403, // pia's third failure: locked, still without hashing
        ),
    ];
    let mut results = Vec::new();
    for (path, client, form, want) in &cases {
        let status = client
            .post(app.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        results.push((*path, status, *want));
    }
    stop.store(true, Ordering::Relaxed);
    for b in burners {
        b.await.unwrap();
    }
    assert!(
        busy > 0,
        "the pool was never saturated; the test proves nothing"
    );
    assert!(
        results.iter().all(|(_, status, want)| status == want),
        "over-long input answered (path, got, want): {results:?}"
    );
}

/// P4: past `max_age` the right password gives a session that reaches only
/// the change page, by GET and by POST; the history holds argon2 hashes only.
#[tokio::test(flavor = "multi_thread")]
async fn p4_an_expired_password_reaches_only_the_change_page() {
    let app = spawn_with(|c| c.policy.max_age = Dur::secs(1)).await;
    app.add_user("gwen", PASSWORD).await;
    app.advance(Duration::from_millis(1200));
    let client = app.client();
    let res = login(&client, &app, "gwen", PASSWORD).await;
    assert_eq!(location(&res), "/password/expired");
    let token = form_token(&client, &app.url("/password/expired")).await;
    for path in ["/", "/profile", "/login", "/forgot"] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(location(&res), "/password/expired", "GET {path}");
    }
    for (path, form) in [
        (
            "/profile/password",
            vec![
                ("current_password", PASSWORD),
                ("password", "Other-Pass-55x"),
                ("confirm", "Other-Pass-55x"),
                ("csrf_token", token.as_str()),
            ],
        ),
        (
            "/profile/contact",
            vec![
                ("email", "gwen@example.org"),
                ("phone", "+1 555 0100"),
                ("csrf_token", token.as_str()),
            ],
        ),
    ] {
        let res = client.post(app.url(path)).form(&form).send().await.unwrap();
        assert_eq!(location(&res), "/password/expired", "POST {path}");
    }
    let res = client
        .post(app.url("/password/expired"))
        .form(&[
            ("password", "Other-Pass-55x"),
            ("confirm", "Other-Pass-55x"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let user = match app
        .admin(Request::UserShow {
            username: "gwen".into(),
        })
        .await
        .unwrap()
    {
        Response::User { user } => user,
        other => panic!("{other:?}"),
    };
    assert!(
        user.phone.is_none(),
        "the restricted session changed the phone"
    );
    let bytes = std::fs::read(app.data_dir().join(latchkey::store::DB_FILE)).unwrap();
    assert!(
        !contains(&bytes, PASSWORD.as_bytes()),
        "an old password is stored in clear"
    );
    let argon = b"$argon2id$v=19$m=19456,t=2,p=1$";
    let hashes = bytes.windows(argon.len()).filter(|w| w == argon).count();
    assert!(
        hashes >= 2,
        "the current and the previous password are argon2 hashes ({hashes})"
    );
}

/// P5: an email change needs the current password; CR/LF in the new address
/// is refused; GET on the confirmation link changes nothing; the POST does,
/// and the old address is told.
#[tokio::test(flavor = "multi_thread")]
async fn p5_email_change_needs_the_password_and_the_new_address() {
    let (app, sink) = spawn_with_smtp(|_| {}).await;
    app.add_user("hugo", PASSWORD).await;
    let client = app.client();
    login(&client, &app, "hugo", PASSWORD).await;
    let token = form_token(&client, &app.url("/profile")).await;
    let post = |form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = app.url("/profile/contact");
        async move {
            client
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let t = token.clone();
    assert_eq!(
        post(vec![
            ("email", "hugo2@example.org".into()),
            ("phone", "".into()),
            ("csrf_token", t.clone())
        ])
        .await,
        422,
        "no current password"
    );
    assert_eq!(
        post(vec![
            ("email", "hugo2@example.org\r\nBcc: evil@example.net".into()),
            ("phone", "".into()),
            ("current_password", PASSWORD.into()),
            ("csrf_token", t.clone())
        ])
        .await,
        422,
        "CRLF in the new email"
    );
    assert_eq!(
        post(vec![
            ("email", "hugo2@example.org".into()),
            ("phone", "".into()),
            ("current_password", PASSWORD.into()),
            ("csrf_token", t.clone())
        ])
        .await,
        303
    );
    let mails = app.mail_in(&sink).await;
    let confirm = mails
        .iter()
        .find(|m| m.to.contains(&"hugo2@example.org".to_string()))
        .expect("a confirmation to the new address");
    let link = confirm.token("/confirm-email/").unwrap();
    assert!(
        mails
            .iter()
            .all(|m| !m.to.iter().any(|t| t.contains("evil")))
    );
    let path = format!("/confirm-email/{link}");
    for _ in 0..3 {
        assert_eq!(app.status_of(&path).await, 200);
    }
    assert_eq!(
        email_of(&app, "hugo").await.as_deref(),
        Some("hugo@example.org"),
        "GET changed the email"
    );
    let res = submit(&app.client(), &app, &path, &path, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        email_of(&app, "hugo").await.as_deref(),
        Some("hugo2@example.org")
    );
    let all = app.mail_in(&sink).await;
    assert!(
        all.iter()
            .any(|m| m.to.contains(&"hugo@example.org".to_string())),
        "the old address was not told"
    );
    let a = anon(&app).await;
    let again = raw(
        app.addr,
        &post_bytes(
            &path,
            &a.cookie,
            "",
            format!("csrf_token={}", a.token).as_bytes(),
        ),
    )
    .await;
    assert_eq!(again.status, 410, "a confirmation link replayed");
}

async fn email_of(app: &TestApp, user: &str) -> Option<String> {
    match app
        .admin(Request::UserShow {
            username: user.into(),
        })
        .await
        .unwrap()
    {
        Response::User { user } => user.email,
        other => panic!("{other:?}"),
    }
}

/// The PHC string of `password` under argon2id m=19456 t=1 p=1: what an
/// earlier, weaker parameter setting left in the data file.
fn old_parameter_hash(password: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let salt = *b"an-old-salt-16by";
    let params = argon2::Params::new(19 * 1024, 1, 1, Some(32)).unwrap();
    let mut out = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .unwrap();
    format!(
        "$argon2id$v=19$m=19456,t=1,p=1${}${}",
        b64.encode(salt),
        b64.encode(out)
    )
}

/// P1 (issue 12 point 4): the rehash that a sign-in does after the argon2
/// parameters changed stores the NFKC form like every other path, so a user
/// whose password has a decomposed accent still signs in the time after.
#[tokio::test(flavor = "multi_thread")]
async fn p1_a_rehash_after_a_parameter_change_keeps_a_decomposed_password_working() {
    let app = spawn_with(|_| {}).await;
    let typed = "Cafe\u{301}-Kite-73"; // "e" + combining acute
    let stored_form = "Caf\u{e9}-Kite-73"; // its NFKC form
    app.add_user("ines", typed).await;
    // The account as an older parameter setting left it.
    let old = old_parameter_hash(stored_form);
    app.auth
        .store
        .write(|tx| {
            let mut users = tx.users()?;
            let mut user = users.get("ines")?.expect("ines exists");
            user.password_hash = Some(PasswordHash::from_phc(old.clone()));
            users.put(&user)
        })
        .unwrap();

    for attempt in [
        "first (verifies the old hash, rehashes)",
        "second (the new hash)",
    ] {
        let res = login(&app.client(), &app, "ines", typed).await;
        assert_eq!(res.status(), 303, "{attempt} sign-in");
    }
    let now = app
        .auth
        .store
        .read(|tx| tx.users()?.get("ines"))
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    let now = now.as_str();
    assert!(
        now.contains("m=19456,t=2,p=1"),
        "rehashed to today's parameters: {now}"
    );
}
