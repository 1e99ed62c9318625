//! How admin results are printed: plain text for people, JSON for scripts.

use serde::Serialize;

use crate::control::protocol::{
    AppView, AuditView, GroupView, LicenseView, QueuedMail, Response, UserView,
};

pub fn print(response: &Response, json: bool) {
    match response {
        Response::Done { message } => {
            if json {
                line(&serde_json::json!({ "ok": true, "message": message }));
            } else {
                println!("{message}");
            }
        }
        Response::Created { user, setup_link } => {
            if json {
                line(&serde_json::json!({ "user": user, "setup_link": setup_link }));
                return;
            }
            println!("created user {}", user.username);
            if let Some(link) = setup_link {
                println!("setup link (one use; give it only to {}):", user.username);
                println!("{link}");
            }
        }
        Response::User { user } => {
            if json {
                line(user);
            } else {
                show_user(user);
            }
        }
        Response::Users { users } => {
            if json {
                users.iter().for_each(line);
            } else {
                user_table(users);
            }
        }
        Response::Licenses { licenses } => {
            if json {
                licenses.iter().for_each(line);
            } else {
                license_table(licenses);
            }
        }
        Response::Link { link, mailed_to } => {
            if json {
                line(&serde_json::json!({ "link": link, "mailed_to": mailed_to }));
                return;
            }
            println!("{link}");
            match mailed_to {
                Some(to) => println!("(also mailed to {to}; it works once)"),
                None => println!("(it works once; give it only to the account's owner)"),
            }
        }
        Response::Groups { groups } => {
            if json {
                groups.iter().for_each(line);
            } else {
                group_table(groups);
            }
        }
        Response::App {
            app,
            client_secret,
            discovery_url,
        } => {
            if json {
                line(&serde_json::json!({
                    "app": app,
                    "client_secret": client_secret,
                    "discovery_url": discovery_url,
                }));
                return;
            }
            show_app(app, discovery_url);
            if let Some(secret) = client_secret {
                println!("client_secret        {secret}");
                println!(
                    "(shown once: copy it into the app's settings now; latchkey keeps only its hash)"
                );
            }
        }
        Response::Apps { apps } => {
            if json {
                apps.iter().for_each(line);
            } else {
                app_table(apps);
            }
        }
        Response::Queue { messages } => {
            if json {
                messages.iter().for_each(line);
            } else {
                queue_table(messages);
            }
        }
        Response::Backup { path, counts } => {
            if json {
                line(&serde_json::json!({ "path": path, "counts": counts }));
                return;
            }
            println!(
                "{}: schema version {}, {} bytes",
                path.display(),
                counts.schema_version,
                counts.bytes
            );
            println!(
                "  {} accounts, {} sessions, {} links, {} audit events, {} queued messages",
                counts.users,
                counts.sessions,
                counts.tokens,
                counts.audit_events,
                counts.queued_mail
            );
        }
        Response::Audit { events } => {
            if json {
                events.iter().for_each(line);
            } else {
                events.iter().for_each(audit_line);
            }
        }
    }
}

fn line<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("latchkey: cannot print JSON: {e}"),
    }
}

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

fn show_user(u: &UserView) {
    let rows = [
        ("username", u.username.clone()),
        ("name", or_dash(&u.name)),
        ("email", or_dash(&u.email)),
        ("phone", or_dash(&u.phone)),
        ("admin", u.admin.to_string()),
        ("role", u.role.to_string()),
        ("groups", u.groups.join(", ")),
        ("agency", or_dash(&u.agency)),
        ("disabled", u.disabled.to_string()),
        ("locked", u.locked.to_string()),
        ("failed_attempts", u.failed_attempts.to_string()),
        (
            "license_expires",
            u.license_expires.map_or("never".into(), |d| d.to_string()),
        ),
        ("password_changed_at", or_dash(&u.password_changed_at)),
        ("password_expires_at", or_dash(&u.password_expires_at)),
        ("created_at", u.created_at.to_string()),
        ("last_sign_in_at", or_dash(&u.last_sign_in_at)),
    ];
    for (k, v) in rows {
        println!("{k:<20} {v}");
    }
}

fn user_table(users: &[UserView]) {
    println!(
        "{:<24} {:<24} {:<32} {:<6} {:<12} LICENSE",
        "USERNAME", "NAME", "EMAIL", "ADMIN", "STATE"
    );
    for u in users {
        let state = match (u.disabled, u.locked) {
            (true, _) => "disabled",
            (false, true) => "locked",
            _ => "active",
        };
        println!(
            "{:<24} {:<24} {:<32} {:<6} {:<12} {}",
            u.username,
            or_dash(&u.name),
            or_dash(&u.email),
            if u.admin { "yes" } else { "no" },
            state,
            u.license_expires.map_or("never".into(), |d| d.to_string()),
        );
    }
    println!("{} account(s)", users.len());
}

fn show_app(a: &AppView, discovery_url: &str) {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(" ")
        }
    };
    let rows = [
        ("name", a.name.clone()),
        ("client_id", or_dash(&a.client_id)),
        ("public", a.public.to_string()),
        ("redirect_uris", list(&a.redirect_uris)),
        ("logout_uris", list(&a.logout_uris)),
        (
            "groups",
            if a.groups.is_empty() {
                "(everyone)".into()
            } else {
                a.groups.join(", ")
            },
        ),
        ("url", or_dash(&a.url)),
        ("hosts", list(&a.hosts)),
        ("created_at", a.created_at.to_string()),
    ];
    for (k, v) in rows {
        println!("{k:<20} {v}");
    }
    if a.client_id.is_some() {
        println!("{:<20} {discovery_url}", "discovery");
    }
}

fn app_table(apps: &[AppView]) {
    println!(
        "{:<24} {:<24} {:<8} {:<24} URL",
        "APP", "CLIENT_ID", "PUBLIC", "GROUPS"
    );
    for a in apps {
        println!(
            "{:<24} {:<24} {:<8} {:<24} {}",
            a.name,
            or_dash(&a.client_id),
            if a.public { "yes" } else { "no" },
            if a.groups.is_empty() {
                "(everyone)".into()
            } else {
                a.groups.join(",")
            },
            or_dash(&a.url),
        );
    }
    println!("{} app(s)", apps.len());
}

fn group_table(groups: &[GroupView]) {
    println!("{:<32} MEMBERS", "GROUP");
    for g in groups {
        println!("{:<32} {}", g.name, g.members);
    }
    println!("{} group(s)", groups.len());
}

fn license_table(licenses: &[LicenseView]) {
    println!(
        "{:<24} {:<24} {:<12} STATE",
        "USERNAME", "AGENCY", "EXPIRES"
    );
    for l in licenses {
        println!(
            "{:<24} {:<24} {:<12} {}",
            l.username,
            or_dash(&l.agency),
            l.license_expires.map_or("never".into(), |d| d.to_string()),
            if l.expired { "expired" } else { "valid" },
        );
    }
    println!("{} license(s)", licenses.len());
}

fn audit_line(e: &AuditView) {
    let who = match (&e.ip, &e.actor) {
        (Some(ip), _) => ip.clone(),
        (None, Some(actor)) => actor.clone(),
        (None, None) => "-".into(),
    };
    println!(
        "{}  {:<22} {:<20} {:<16} {}",
        e.time,
        e.event,
        one_line(&or_dash(&e.user)),
        one_line(&who),
        one_line(e.detail.as_deref().unwrap_or(""))
    );
}

/// Escapes line breaks and other control characters, so a user name typed
/// into the sign-in form cannot start a forged line of output (SECURITY X3).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') => {
                c.escape_default().to_string()
            }
            c => c.to_string(),
        })
        .collect()
}

fn queue_table(messages: &[QueuedMail]) {
    for m in messages {
        println!(
            "#{:<5} {:<17} to {:<32} attempts {:<3} next {}  {}",
            m.id,
            m.kind,
            m.to,
            m.attempts,
            m.next_attempt_at,
            m.last_error.as_deref().unwrap_or("")
        );
    }
    println!("{} message(s) waiting", messages.len());
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_cannot_break_an_audit_line() {
        assert_eq!(one_line("x\nINFO fake"), "x\\nINFO fake");
        assert_eq!(one_line("a\r\u{2028}b"), "a\\r\\u{2028}b");
        assert_eq!(one_line("Jörg"), "Jörg");
    }
}
