//! The admin command line with the server stopped: exit codes, `--json` shapes,
//! accounts, licenses, CSV import, audit, `config check` and file modes
//! (CONTRACT sections 2 and 3; SECURITY X3).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde_json::Value;

use crate::helpers::*;

/// The fields of `user show --json`, in the contract's order.
const USER_FIELDS: [&str; 16] = [
    "username",
    "name",
    "email",
    "phone",
    "admin",
    "role",
    "groups",
    "agency",
    "disabled",
    "locked",
    "failed_attempts",
    "license_expires",
    "password_changed_at",
    "password_expires_at",
    "created_at",
    "last_sign_in_at",
];

/// A fresh data directory (not created yet) inside a temp dir that also serves as cwd.
fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    (tmp, data)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    run_binary(dir, args, None)
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Runs a command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert_eq!(code(&o), 0, "{args:?} failed: {}", stderr(&o));
    stdout(&o)
}

/// Runs a command that must fail with exit 1 and a one-line reason; returns stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert_eq!(
        code(&o),
        1,
        "{args:?}: stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    err
}

/// Creates `name` with no password (a setup link is issued) plus `extra` options.
fn add(dir: &Path, name: &str, extra: &[&str]) {
    let email = format!("{}@example.org", name.to_lowercase());
    let mut args = vec!["user", "add", name, "--email", &email];
    args.extend_from_slice(extra);
    ok(dir, &args);
}

fn show(dir: &Path, name: &str) -> Value {
    let out = ok(dir, &["user", "show", name, "--json"]);
    assert_eq!(out.trim_end().lines().count(), 1, "one JSON object: {out}");
    serde_json::from_str(out.trim()).expect("user show --json is JSON")
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn date(v: &Value) -> Date {
    v.as_str()
        .expect("a date string")
        .parse()
        .expect("ISO date")
}

fn today() -> Date {
    jiff::Zoned::now().date()
}

fn assert_user_fields(v: &Value) {
    let obj = v.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = USER_FIELDS.to_vec();
    keys.sort_unstable();
    want.sort_unstable();
    assert_eq!(keys, want);
}

/// Locks `name` through three wrong sign-ins on a live server, then stops it.
///
/// The whole `TestApp` is dropped, not only stopped: its `auth` handle keeps the
/// data file open, and the CLI must be able to open it itself.
async fn locked_user_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let mut app = spawn_app().await;
    app.add_user(name, PASSWORD).await;
    let client = app.client();
    for _ in 0..3 {
        login(&client, &app, name, "Wrong-Password-1").await;
    }
    app.stop().await;
    let TestApp { dir, config, .. } = app;
    (dir, config.data_dir)
}

/// CONTRACT 3: exit 0 on success, 1 with a one-line reason, 2 on usage errors.
#[test]
fn exit_codes_follow_the_contract() {
    let (_tmp, dir) = data_dir();
    // No data yet: a listing is refused rather than made on a new, empty database.
    let err = fails(&dir, &["user", "list"]);
    assert!(err.contains(&dir.display().to_string()), "{err}");
    add(&dir, "dave", &[]);
    ok(&dir, &["user", "list"]);

    let err = fails(&dir, &["user", "show", "nobody"]);
    assert!(err.contains("nobody"), "{err}");

    assert_eq!(code(&run(&dir, &["frobnicate"])), 2);
    assert_eq!(code(&run(&dir, &["user", "show"])), 2);
    assert_eq!(
        code(&run(&dir, &["user", "add", "carol"])),
        2,
        "--email is required"
    );

    add(&dir, "carol", &[]);
    fails(
        &dir,
        &["license", "set", "carol", "--expires", "2027-02-30"],
    );
}

/// CONTRACT 3: user names are 1-64 letters, digits and `. _ - @`.
#[test]
fn invalid_user_names_are_refused() {
    let (_tmp, dir) = data_dir();
    for name in ["bad name", "a\u{200b}b", ""] {
        fails(&dir, &["user", "add", name, "--email", "x@example.org"]);
    }
    assert_eq!(ok(&dir, &["user", "list", "--json"]), "");
}

/// CONTRACT 3: `--password-stdin` applies the password policy; a refusal creates nothing.
#[test]
fn a_policy_breaking_password_creates_nothing() {
    let (_tmp, dir) = data_dir();
    let args = [
        "user",
        "add",
        "alice",
        "--email",
        "a@example.org",
        "--password-stdin",
    ];

    let o = run_binary(&dir, &args, Some("short\n"));

    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains("short"), "the password is not echoed");
    fails(&dir, &["user", "show", "alice"]);
}

/// CONTRACT 3: user names match case-insensitively, so a case twin is a duplicate.
#[test]
fn duplicate_user_names_are_refused() {
    let (_tmp, dir) = data_dir();
    add(&dir, "alice", &[]);

    fails(&dir, &["user", "add", "alice", "--email", "b@example.org"]);
    let err = fails(&dir, &["user", "add", "ALICE", "--email", "c@example.org"]);

    assert!(err.contains("already exists"), "{err}");
    assert_eq!(show(&dir, "Alice")["email"], "alice@example.org");
}

/// CONTRACT 3: `user show --json` fields, ISO dates, default license term and 45-day expiry.
#[test]
fn user_add_with_password_and_show_json() {
    let (_tmp, dir) = data_dir();
    let args = [
        "user",
        "add",
        "alice",
        "--email",
        "a@example.org",
        "--password-stdin",
    ];
    let o = run_binary(&dir, &args, Some(&format!("{PASSWORD}\n")));
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let v = show(&dir, "alice");

    assert_user_fields(&v);
    assert_eq!(v["username"], "alice");
    assert_eq!(v["email"], "a@example.org");
    for absent in ["name", "phone", "agency"] {
        assert!(v[absent].is_null(), "{absent}: {v}");
    }
    assert_eq!(v["admin"], false);
    assert_eq!(v["disabled"], false);
    assert_eq!(v["locked"], false);
    assert_eq!(v["failed_attempts"], 0);
    assert_eq!(date(&v["license_expires"]), today() + 365.days());
    let changed: Timestamp = v["password_changed_at"].as_str().unwrap().parse().unwrap();
    let expires: Timestamp = v["password_expires_at"].as_str().unwrap().parse().unwrap();
    let created: Timestamp = v["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires, changed + jiff::SignedDuration::from_hours(45 * 24));
    assert!(Timestamp::now().duration_since(created).as_secs().abs() < 600);
}

/// CONTRACT 3: without `--password-stdin`, `user add` prints a setup link from base_url.
#[test]
fn user_add_without_password_prints_a_setup_link() {
    let (_tmp, dir) = data_dir();

    let out = ok(&dir, &["user", "add", "bob", "--email", "b@example.org"]);

    let link = out
        .lines()
        .find(|l| l.contains("/setup/"))
        .expect("a setup link");
    let token = link
        .strip_prefix("http://127.0.0.1:8080/setup/")
        .unwrap_or_else(|| panic!("link from the default base_url: {link}"));
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(show(&dir, "bob")["password_changed_at"].is_null());
}

/// CONTRACT 3: `user list --json` is one object per line; `--locked` keeps locked accounts.
#[tokio::test]
async fn user_list_json_and_locked_filter() {
    let (_tmp, dir) = locked_user_dir("mallory").await;
    add(&dir, "alice", &[]);

    let all = json_lines(&ok(&dir, &["user", "list", "--json"]));
    let locked = json_lines(&ok(&dir, &["user", "list", "--locked", "--json"]));

    assert_eq!(all.len(), 2);
    all.iter().for_each(assert_user_fields);
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0]["username"], "mallory");
    assert_eq!(locked[0]["locked"], true);
}

/// CONTRACT 3: `user set` changes each field; bad values and empty changes exit 1.
#[test]
fn user_set_changes_fields() {
    let (_tmp, dir) = data_dir();
    add(&dir, "alice", &[]);

    ok(
        &dir,
        &[
            "user",
            "set",
            "alice",
            "--email",
            "new@example.org",
            "--phone",
            "+1 612 555 0100",
            "--name",
            "Alice Smith",
            "--agency",
            "Acme",
            "--admin",
            "true",
        ],
    );

    let v = show(&dir, "alice");
    assert_eq!(v["email"], "new@example.org");
    assert_eq!(v["phone"], "+1 612 555 0100");
    assert_eq!(v["name"], "Alice Smith");
    assert_eq!(v["agency"], "Acme");
    assert_eq!(v["admin"], true);
    fails(&dir, &["user", "set", "alice", "--email", "not-an-email"]);
    fails(&dir, &["user", "set", "alice"]);
    assert_eq!(show(&dir, "alice")["email"], "new@example.org");
}

/// CONTRACT 3: `user disable`, `user enable`, `user delete`.
#[test]
fn disable_enable_and_delete() {
    let (_tmp, dir) = data_dir();
    add(&dir, "alice", &[]);

    ok(&dir, &["user", "disable", "alice"]);
    assert_eq!(show(&dir, "alice")["disabled"], true);
    ok(&dir, &["user", "enable", "alice"]);
    assert_eq!(show(&dir, "alice")["disabled"], false);
    ok(&dir, &["user", "delete", "alice"]);

    fails(&dir, &["user", "show", "alice"]);
    fails(&dir, &["user", "delete", "alice"]);
}

/// CONTRACT 3: `unlock` clears the lockout and the failure count.
#[tokio::test]
async fn unlock_clears_lock_and_failures() {
    let (_tmp, dir) = locked_user_dir("mallory").await;
    let before = show(&dir, "mallory");
    assert_eq!(before["locked"], true);
    assert_eq!(before["failed_attempts"], 3);

    ok(&dir, &["unlock", "mallory"]);

    let after = show(&dir, "mallory");
    assert_eq!(after["locked"], false);
    assert_eq!(after["failed_attempts"], 0);
}

/// CONTRACT 3: `license set --expires never` is null; renew counts from the later of today and expiry.
#[test]
fn license_set_and_renew() {
    let (_tmp, dir) = data_dir();
    add(&dir, "alice", &[]);

    ok(&dir, &["license", "set", "alice", "--expires", "never"]);
    assert!(show(&dir, "alice")["license_expires"].is_null());

    ok(
        &dir,
        &["license", "set", "alice", "--expires", "2020-01-01"],
    );
    ok(&dir, &["license", "renew", "alice", "--years", "2"]);
    assert_eq!(
        date(&show(&dir, "alice")["license_expires"]),
        today() + 2.years()
    );

    let later = today() + 3.years();
    ok(
        &dir,
        &["license", "set", "alice", "--expires", &later.to_string()],
    );
    ok(&dir, &["license", "renew", "alice"]);
    assert_eq!(
        date(&show(&dir, "alice")["license_expires"]),
        later + 1.years()
    );
}

/// CONTRACT 3: `license renew --agency A` renews every account of A and no other.
#[test]
fn license_renew_by_agency() {
    let (_tmp, dir) = data_dir();
    add(
        &dir,
        "ann",
        &["--agency", "Acme", "--license-expires", "2020-01-01"],
    );
    add(
        &dir,
        "art",
        &["--agency", "Acme", "--license-expires", "2021-06-30"],
    );
    add(
        &dir,
        "zed",
        &["--agency", "Other", "--license-expires", "2020-01-01"],
    );

    ok(&dir, &["license", "renew", "--agency", "Acme"]);

    for name in ["ann", "art"] {
        assert_eq!(
            date(&show(&dir, name)["license_expires"]),
            today() + 1.years()
        );
    }
    assert_eq!(show(&dir, "zed")["license_expires"], "2020-01-01");
    fails(&dir, &["license", "renew", "--agency", "Nobody"]);
}

/// CONTRACT 3: `license list --expiring-within` includes expired licenses; `never` is null.
#[test]
fn license_list_window_and_never() {
    let (_tmp, dir) = data_dir();
    add(&dir, "old", &["--license-expires", "2020-01-01"]);
    add(
        &dir,
        "soon",
        &["--license-expires", &(today() + 10.days()).to_string()],
    );
    add(&dir, "year", &[]);
    add(&dir, "forever", &["--license-expires", "never"]);

    let window = json_lines(&ok(
        &dir,
        &["license", "list", "--expiring-within", "30d", "--json"],
    ));
    let all = json_lines(&ok(&dir, &["license", "list", "--json"]));

    let names: Vec<&str> = window
        .iter()
        .map(|l| l["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["old", "soon"]);
    assert_eq!(window[0]["expired"], true);
    assert_eq!(all.len(), 4);
    let forever = all.iter().find(|l| l["username"] == "forever").unwrap();
    assert!(forever["license_expires"].is_null(), "{forever}");
}

fn write_csv(dir: &Path, text: &str) -> String {
    let path = dir.parent().unwrap().join("users.csv");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `user import` of a file holding `csv`, which must fail; returns the error.
fn import_fails(dir: &Path, csv: &str) -> String {
    let file = write_csv(dir, csv);
    fails(dir, &["user", "import", &file])
}

/// CONTRACT 3: `user import` creates the accounts with their fields and no password.
#[test]
fn import_creates_accounts() {
    let (_tmp, dir) = data_dir();
    let file = write_csv(
        &dir,
        "username,email,name,phone,agency,license_expires,admin\n\
         ann,ann@example.org,Ann Lee,555-0100,Acme,2030-05-01,true\n\
         bo,bo@example.org,,,,,\n\
         cy,cy@example.org,Cy,,Acme,never,false\n",
    );

    ok(&dir, &["user", "import", &file]);

    let ann = show(&dir, "ann");
    assert_eq!(ann["name"], "Ann Lee");
    assert_eq!(ann["phone"], "555-0100");
    assert_eq!(ann["agency"], "Acme");
    assert_eq!(ann["license_expires"], "2030-05-01");
    assert_eq!(ann["admin"], true);
    assert!(ann["password_changed_at"].is_null());
    let bo = show(&dir, "bo");
    assert!(bo["name"].is_null() && bo["agency"].is_null());
    assert_eq!(date(&bo["license_expires"]), today() + 365.days());
    assert!(show(&dir, "cy")["license_expires"].is_null());
}

/// CONTRACT 3: a bad row fails the whole import, naming its line; nothing is written.
#[test]
fn import_is_all_or_nothing() {
    let (_tmp, dir) = data_dir();
    let err = import_fails(
        &dir,
        "username,email\nann,ann@example.org\nbo,bo@example.org\ncy,not-an-email\ndee,dee@example.org\n",
    );

    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("email"), "{err}");
    assert_eq!(ok(&dir, &["user", "list", "--json"]), "");
}

/// CONTRACT 3: a user name repeated in the file (in any case) fails, naming the line.
#[test]
fn import_refuses_a_repeated_user_name() {
    let (_tmp, dir) = data_dir();
    let err = import_fails(
        &dir,
        "username,email\nann,a@example.org\nbo,b@example.org\nANN,c@example.org\n",
    );

    assert!(err.contains("line 4"), "{err}");
    assert_eq!(ok(&dir, &["user", "list", "--json"]), "");
}

/// CONTRACT 3: a row naming an existing account fails the import, naming its line.
#[test]
fn import_refuses_an_existing_user() {
    let (_tmp, dir) = data_dir();
    add(&dir, "ann", &[]);
    let err = import_fails(
        &dir,
        "username,email\nbo,b@example.org\ncy,c@example.org\nAnn,a2@example.org\n",
    );

    assert!(err.contains("line 4"), "{err}");
    fails(&dir, &["user", "show", "bo"]);
    assert_eq!(show(&dir, "ann")["email"], "ann@example.org");
}

/// CONTRACT 3: the line named is the line in the file, also for a CSV saved with
/// CRLF line endings (as spreadsheets write it) or with blank lines.
#[test]
fn import_names_the_file_line_with_crlf_and_blank_lines() {
    let (_tmp, dir) = data_dir();
    let err = import_fails(
        &dir,
        "username,email\r\nann,a@example.org\r\nbo,b@example.org\r\ncy,not-an-email\r\n",
    );
    assert!(err.contains("line 4"), "CRLF: {err}");

    let err = import_fails(
        &dir,
        "username,email\nann,a@example.org\n\n\nbo,not-an-email\n",
    );
    assert!(err.contains("line 5"), "blank lines: {err}");
}

/// CONTRACT 3: only the documented columns are accepted.
#[test]
fn import_refuses_an_unknown_column() {
    let (_tmp, dir) = data_dir();
    let err = import_fails(&dir, "username,email,shoe_size\nann,a@example.org,9\n");

    assert!(err.contains("shoe_size"), "{err}");
    fails(&dir, &["user", "show", "ann"]);
}

/// CONTRACT 3: 100,000 rows import in one go (its speed is measured in bench/, not here).
#[test]
fn import_of_100_000_rows() {
    let (_tmp, dir) = data_dir();
    let mut csv = String::from("username,email,agency\n");
    for i in 0..100_000 {
        csv.push_str(&format!(
            "user{i:06},user{i:06}@example.org,Agency {}\n",
            i % 7
        ));
    }
    let file = write_csv(&dir, &csv);

    ok(&dir, &["user", "import", &file]);

    let listed = ok(&dir, &["user", "list", "--json"]);
    assert_eq!(listed.lines().count(), 100_000);
}

/// CONTRACT 3 and 6: `audit --json` fields, the OS user as actor, `--user`/`--limit`, newest last.
#[test]
fn audit_json_records_the_os_user() {
    let (_tmp, dir) = data_dir();
    add(&dir, "alice", &[]);
    add(&dir, "bob", &[]);
    ok(&dir, &["user", "set", "alice", "--name", "Alice"]);
    ok(&dir, &["user", "disable", "alice"]);

    let all = json_lines(&ok(&dir, &["audit", "--json"]));
    let recent = json_lines(&ok(
        &dir,
        &["audit", "--user", "alice", "--limit", "2", "--json"],
    ));

    assert!(all.len() >= 4);
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map_or_else(|| format!("uid {}", nix::unistd::getuid()), |u| u.name);
    for e in &all {
        for field in ["time", "event", "user", "ip", "detail"] {
            assert!(e.get(field).is_some(), "{field} missing: {e}");
        }
        assert_eq!(e["actor"], format!("os:{me}"), "{e}");
    }
    let events: Vec<&str> = recent
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["user_updated", "user_disabled"]);
    assert!(recent.iter().all(|e| e["user"] == "alice"));
}

/// CONTRACT 2: `config check` prints the effective config; unknown keys are named; secrets masked.
#[test]
fn config_check() {
    let (tmp, dir) = data_dir();
    let out = ok(&dir, &["config", "check"]);
    assert!(out.contains("127.0.0.1:8080"), "{out}");
    assert!(out.contains("min_length = 8"), "{out}");

    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[policy]\nmin_lenght = 9\n").unwrap();
    let err = fails(
        &dir,
        &["--config", bad.to_str().unwrap(), "config", "check"],
    );
    assert!(err.contains("min_lenght"), "{err}");

    let smtp = tmp.path().join("smtp.toml");
    std::fs::write(
        &smtp,
        "[mail.smtp]\nhost = \"smtp.example.org\"\nusername = \"u\"\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let out = ok(
        &dir,
        &["--config", smtp.to_str().unwrap(), "config", "check"],
    );
    assert!(out.contains("smtp.example.org"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}

/// SECURITY X3: data dir 0700, data file 0600.
#[test]
fn data_files_are_private() {
    let (_tmp, dir) = data_dir();
    add(&dir, "alice", &[]);

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("latchkey.redb")), 0o600);
}

/// CONTRACT 7: `group add/list/remove`; names follow the user-name rules and
/// match in any case; removing a group takes its members out of it.
#[test]
fn groups_are_made_listed_joined_and_removed() {
    let (_t, dir) = data_dir();
    add(&dir, "first", &[]); // creates the data directory
    ok(&dir, &["group", "add", "Intake"]);
    ok(&dir, &["group", "add", "shelter-staff"]);
    assert!(fails(&dir, &["group", "add", "intake"]).contains("already exists"));
    assert!(fails(&dir, &["group", "add", "two words"]).contains("group name"));

    add(&dir, "gina", &["--group", "INTAKE"]);
    assert_eq!(show(&dir, "gina")["groups"], serde_json::json!(["Intake"]));
    ok(
        &dir,
        &["user", "set", "gina", "--groups", "shelter-staff, intake"],
    );
    assert_eq!(
        show(&dir, "gina")["groups"],
        serde_json::json!(["Intake", "shelter-staff"])
    );
    let err = fails(&dir, &["user", "set", "gina", "--groups", "intake,nope"]);
    assert!(
        err.contains("no such group") && err.contains("nope"),
        "{err}"
    );
    assert_eq!(
        show(&dir, "gina")["groups"],
        serde_json::json!(["Intake", "shelter-staff"]),
        "a refused change changed something"
    );
    fails(
        &dir,
        &[
            "user", "set", "gina", "--groups", "nope", "--role", "admin", "--name", "G",
        ],
    );
    let v = show(&dir, "gina");
    assert_eq!(
        (v["role"].as_str(), v["name"].as_str()),
        (Some("user"), None),
        "a change refused for its groups made its other changes"
    );
    assert!(
        fails(
            &dir,
            &[
                "user",
                "add",
                "hal",
                "--email",
                "hal@example.org",
                "--group",
                "nope"
            ]
        )
        .contains("no such group")
    );
    assert_eq!(
        code(&run(&dir, &["user", "show", "hal"])),
        1,
        "hal was created anyway"
    );

    let listed = json_lines(&ok(&dir, &["group", "list", "--json"]));
    assert_eq!(
        listed,
        vec![
            serde_json::json!({"name": "Intake", "members": 1}),
            serde_json::json!({"name": "shelter-staff", "members": 1}),
        ]
    );
    ok(&dir, &["group", "remove", "INTAKE"]);
    assert_eq!(
        show(&dir, "gina")["groups"],
        serde_json::json!(["shelter-staff"])
    );
    assert!(fails(&dir, &["group", "remove", "intake"]).contains("no such group"));
    ok(&dir, &["user", "set", "gina", "--groups", ""]);
    assert_eq!(show(&dir, "gina")["groups"], serde_json::json!([]));

    let audit = ok(&dir, &["audit", "--json", "--limit", "100"]);
    let changed = json_lines(&audit)
        .into_iter()
        .filter(|e| e["event"] == "group_changed")
        .count();
    // Two groups made, gina's set once (her first group came with user_created),
    // one group removed, then her groups set to none.
    assert_eq!(changed, 5, "{audit}");
}

/// CONTRACT 7: `user set --role`, with `--admin true|false` as its alias,
/// audited as `role_changed`; a bad role changes nothing.
#[test]
fn roles_are_set_shown_and_audited() {
    let (_t, dir) = data_dir();
    add(&dir, "rita", &[]);
    assert_eq!(show(&dir, "rita")["role"], "user");
    ok(&dir, &["user", "set", "rita", "--role", "helpdesk"]);
    let v = show(&dir, "rita");
    assert_eq!(
        (v["role"].as_str(), v["admin"].as_bool()),
        (Some("helpdesk"), Some(false))
    );
    ok(&dir, &["user", "set", "rita", "--admin", "true"]);
    let v = show(&dir, "rita");
    assert_eq!(
        (v["role"].as_str(), v["admin"].as_bool()),
        (Some("admin"), Some(true))
    );
    ok(&dir, &["user", "set", "rita", "--admin", "false"]);
    assert_eq!(show(&dir, "rita")["role"], "user");
    let o = run(&dir, &["user", "set", "rita", "--role", "root"]);
    assert_eq!(code(&o), 2, "a bad value is a usage error: {}", stderr(&o));
    assert_eq!(show(&dir, "rita")["role"], "user");
    add(&dir, "adam", &["--admin"]);
    assert_eq!(show(&dir, "adam")["role"], "admin");

    let audit = ok(&dir, &["audit", "--json", "--user", "rita"]);
    let roles: Vec<String> = json_lines(&audit)
        .into_iter()
        .filter(|e| e["event"] == "role_changed")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        roles,
        [
            "role user -> helpdesk",
            "role helpdesk -> admin",
            "role admin -> user"
        ]
    );
}

/// CONTRACT 7: a `groups` column in `user import` (names separated by
/// commas in a quoted cell); an unknown group fails the whole file, naming its line.
#[test]
fn import_takes_a_groups_column() {
    let (t, dir) = data_dir();
    add(&dir, "first", &[]); // creates the data directory
    ok(&dir, &["group", "add", "Intake"]);
    ok(&dir, &["group", "add", "food"]);
    let file = t.path().join("staff.csv");
    std::fs::write(
        &file,
        "username,email,groups\numa,uma@example.org,\"intake,FOOD\"\nvic,vic@example.org,\n",
    )
    .unwrap();
    ok(&dir, &["user", "import", file.to_str().unwrap()]);
    assert_eq!(
        show(&dir, "uma")["groups"],
        serde_json::json!(["food", "Intake"])
    );
    assert_eq!(show(&dir, "vic")["groups"], serde_json::json!([]));

    let err = import_fails(
        &dir,
        "username,email,groups\nwes,wes@example.org,food\nxia,xia@example.org,nope\n",
    );
    assert!(
        err.contains("line 3") && err.contains("no such group"),
        "{err}"
    );
    assert_eq!(
        code(&run(&dir, &["user", "show", "wes"])),
        1,
        "half an import was written"
    );
}
