//! The CLI never works on the wrong database (issue 11 point 2): only `serve`,
//! `restore` and, when told where, `user add`/`user import` may create a data
//! directory; every other command on a missing or empty one exits 1 with one
//! line naming the directory and how to point at the right one.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::*;

/// Runs the binary in `cwd` with exactly `args` (no `--data` added) and `env`.
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.env_remove("LATCHKEY_CONFIG")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("binary runs")
}

/// Exit 1, one line on stderr naming `dir` and the three ways to point elsewhere.
fn assert_refused(o: &Output, dir: &Path, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: one line: {err:?}"
    );
    let shown = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    assert!(
        err.contains(&shown.display().to_string()) || err.contains(&dir.display().to_string()),
        "{what}: names the directory {}: {err}",
        dir.display()
    );
    for hint in ["--config", "--data", "LATCHKEY_CONFIG"] {
        assert!(err.contains(hint), "{what}: mentions {hint}: {err}");
    }
    assert!(
        stdout(o).is_empty(),
        "{what}: prints no result: {}",
        stdout(o)
    );
}

const READERS_AND_WRITERS: &[&[&str]] = &[
    &["user", "list"],
    &["user", "show", "jdoe"],
    &["user", "add", "jdoe", "--email", "jdoe@example.org"],
    &["user", "set", "jdoe", "--phone", "555-0100"],
    &["user", "disable", "jdoe"],
    &["user", "delete", "jdoe"],
    &["user", "force-change", "--all"],
    &["unlock", "jdoe"],
    &["license", "list"],
    &["license", "renew", "--agency", "North Food Shelf"],
    &["audit", "--limit", "5"],
    &["reset-link", "jdoe"],
    &["mail", "queue"],
    &["mail", "test", "jdoe@example.org"],
    &["backup", "b.lkbackup"],
    &["tls", "self-signed", "--host", "lk.agency.lan"],
];

/// Issue 11 point 2: from a folder that holds no data, no command but `serve`
/// creates `./latchkey-data/`, and each says where it looked.
#[test]
fn point2_commands_run_from_the_wrong_folder_create_nothing_and_say_where_they_looked() {
    let cwd = tempfile::tempdir().unwrap();
    let default_dir = cwd.path().join("latchkey-data");
    for args in READERS_AND_WRITERS {
        let o = run_in(cwd.path(), args, &[]);
        assert_refused(&o, &default_dir, &args.join(" "));
        assert!(
            !default_dir.exists(),
            "{}: created {}",
            args.join(" "),
            default_dir.display()
        );
    }
    // Commands that do not touch the data still work there.
    let o = run_in(cwd.path(), &["config", "check"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!default_dir.exists());
    let certs = tempfile::tempdir().unwrap();
    let o = run_in(
        cwd.path(),
        &[
            "tls",
            "self-signed",
            "--host",
            "lk.agency.lan",
            "--out",
            certs.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "tls --out: {}", stderr(&o));
    assert!(certs.path().join("cert.pem").is_file());
    let missing = certs.path().join("no-such.lkbackup");
    let o = run_in(
        cwd.path(),
        &["backup", "verify", missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        !stderr(&o).contains("no latchkey data"),
        "backup verify reads only its file: {}",
        stderr(&o)
    );
    assert!(!default_dir.exists());
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing was written in the working folder"
    );
}

/// Issue 11 point 2: an empty data directory named with `--data` is refused
/// the same way, and left empty.
#[test]
fn point2_an_empty_data_directory_is_refused_and_left_empty() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("empty");
    std::fs::create_dir(&data).unwrap();
    for args in READERS_AND_WRITERS
        .iter()
        .filter(|a| !matches!(a[..2], ["user", "add"] | ["mail", "test"] | ["tls", _]))
    {
        let mut full = vec!["--data", data.to_str().unwrap()];
        full.extend_from_slice(args);
        let o = run_in(cwd.path(), &full, &[]);
        assert_refused(&o, &data, &args.join(" "));
        assert_eq!(
            std::fs::read_dir(&data).unwrap().count(),
            0,
            "{}: wrote into the empty directory",
            args.join(" ")
        );
    }
}

/// Issue 11 point 2: `user add` and `user import` create the data directory
/// when `--data` names it; afterwards every command finds it.
#[test]
fn point2_user_add_and_import_create_a_named_data_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("new-data");
    let d = data.to_str().unwrap();
    let o = run_in(
        cwd.path(),
        &[
            "--data",
            d,
            "user",
            "add",
            "jdoe",
            "--email",
            "jdoe@example.org",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(data.join("latchkey.redb").is_file());
    let o = run_in(cwd.path(), &["--data", d, "user", "list"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("jdoe"), "{}", stdout(&o));

    let csv = cwd.path().join("staff.csv");
    std::fs::write(&csv, "username,email\nmsmith,msmith@example.org\n").unwrap();
    let other = cwd.path().join("imported");
    let o = run_in(
        cwd.path(),
        &[
            "--data",
            other.to_str().unwrap(),
            "user",
            "import",
            csv.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(other.join("latchkey.redb").is_file());
}

/// Issue 11 point 2: the README's Debian alias (`--config FILE` from any
/// folder) and `LATCHKEY_CONFIG` reach the configured data directory.
#[test]
fn point2_the_config_file_named_by_flag_or_environment_finds_the_data_from_any_folder() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("var-lib-latchkey");
    let config = home.path().join("latchkey.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n\n[organization]\nname = \"North Food Shelf\"\n",
            data.display()
        ),
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let c = config.to_str().unwrap();
    // `lk user add admin --admin --email you@agency.org`
    let o = run_in(
        elsewhere.path(),
        &[
            "--config",
            c,
            "user",
            "add",
            "admin",
            "--admin",
            "--email",
            "you@agency.org",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("/setup/"), "prints the setup link");

    let o = run_in(elsewhere.path(), &["--config", c, "user", "list"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("admin"));

    let o = run_in(
        elsewhere.path(),
        &["user", "show", "admin"],
        &[("LATCHKEY_CONFIG", config.as_path())],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("you@agency.org"), "{}", stdout(&o));
    assert!(!elsewhere.path().join("latchkey-data").exists());

    // A config naming a directory with no data is refused like the default.
    let wrong = home.path().join("wrong.toml");
    let missing = home.path().join("missing");
    std::fs::write(&wrong, format!("data_dir = \"{}\"\n", missing.display())).unwrap();
    let o = run_in(
        elsewhere.path(),
        &["unlock", "admin"],
        &[("LATCHKEY_CONFIG", wrong.as_path())],
    );
    assert_refused(&o, &missing, "unlock with LATCHKEY_CONFIG");
    assert!(!missing.exists());
}
