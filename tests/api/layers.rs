//! The layers of STYLE.md, checked on the source (issue 12 point 2):
//!
//! ```text
//! domain  <-  store  <-  auth, mail  <-  web, control  <-  cli, main
//! ```
//!
//! Every `crate::<module>` path in src/ (in `use` lines and inline, comments
//! aside) is an edge from the module it is written in. An edge may point to a
//! lower layer; within one layer only one way (auth may queue mail, so mail
//! may not call auth). The modules the diagram leaves out are placed where
//! they are used: `bounded` and `metrics` are leaf utilities beside domain,
//! `config` sits on domain, `tls` beside web and control, `server` (which
//! wires everything) beside cli.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("bounded", 0),
    ("metrics", 0),
    ("config", 1),
    ("store", 2),
    ("auth", 3),
    ("mail", 3),
    ("web", 4),
    ("control", 4),
    ("oidc", 4),
    ("tls", 4),
    ("server", 5),
    ("cli", 5),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level module a file under src/ belongs to (`None` for lib.rs and main.rs).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Edges `from -> to` with one place each is written, for the message.
fn edges(src: &Path) -> BTreeMap<(String, String), String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let Some(from) = module_of(relative) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let to: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !to.is_empty() && to != from {
                    found
                        .entry((from.clone(), to))
                        .or_insert_with(|| format!("{}:{}", relative.display(), n + 1));
                }
            }
        }
    }
    found
}

/// The edges of `src` that break the layers, one sentence each.
fn violations(src: &Path) -> Vec<String> {
    let edges = edges(src);
    let pairs: BTreeSet<(String, String)> = edges.keys().cloned().collect();
    let mut wrong = Vec::new();
    for ((from, to), at) in &edges {
        match (layer(from), layer(to)) {
            (None, _) => wrong.push(format!("{from} is in no layer (add it to LAYERS)")),
            (_, None) => wrong.push(format!("{to} is in no layer (add it to LAYERS)")),
            (Some(a), Some(b)) if b > a => {
                wrong.push(format!("{from} uses the higher layer {to} at {at}"))
            }
            (Some(a), Some(b)) if a == b && pairs.contains(&(to.clone(), from.clone())) => {
                wrong.push(format!("{from} and {to} use each other ({from} at {at})"))
            }
            _ => {}
        }
    }
    wrong.sort();
    wrong.dedup();
    wrong
}

/// STYLE.md: dependencies point one way (SECURITY has no ID for this; it is
/// what keeps the store the only owner of the data file).
#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wrong = violations(&src);
    assert!(wrong.is_empty(), "layer violations:\n{}", wrong.join("\n"));
}

/// The check itself: a back-edge and a cycle written into a scratch tree are found.
#[test]
fn the_layer_check_finds_a_back_edge_and_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(src.join("store/mod.rs"), "use crate::auth::token;\n").unwrap();
    std::fs::write(src.join("mail.rs"), "fn f() { crate::auth::x(); }\n").unwrap();
    std::fs::write(
        src.join("auth.rs"),
        "use crate::mail::Mailer; // crate::web in a comment is no edge\n",
    )
    .unwrap();
    let wrong = violations(src);
    assert!(
        wrong
            .iter()
            .any(|w| w.starts_with("store uses the higher layer auth")),
        "{wrong:?}"
    );
    assert!(
        wrong.iter().any(|w| w.contains("use each other")),
        "{wrong:?}"
    );
    assert!(!wrong.iter().any(|w| w.contains("web")), "{wrong:?}");
}

/// Files in src/ that read the system time directly, instead of the store's clock.
fn clock_bypasses(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        if relative == Path::new("domain/clock.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("Timestamp::now()") || code.contains("SystemTime::now()") {
                found.push(format!("{}:{}: {}", relative.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

/// Issue 12 point 5: every "now" comes from one injected clock
/// (`domain::clock`), so tests move time instead of sleeping.
#[test]
fn time_is_read_only_through_the_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wrong = clock_bypasses(&src);
    assert!(
        wrong.is_empty(),
        "the system clock read directly:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_clock_check_finds_a_direct_read() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("domain")).unwrap();
    std::fs::write(
        src.join("domain/clock.rs"),
        "fn now() { Timestamp::now(); }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("auth.rs"),
        "// Timestamp::now() in a comment\nlet t = jiff::Timestamp::now();\n",
    )
    .unwrap();
    assert_eq!(
        clock_bypasses(src),
        ["auth.rs:2: let t = jiff::Timestamp::now();"]
    );
}
