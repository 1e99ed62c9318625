//! The messages latchkey sends: templates compiled in (assets/mail), rendered to
//! a multipart text + HTML RFC 5322 message with Date and Message-ID.

use mail_send::mail_builder::MessageBuilder;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use rust_embed::RustEmbed;

use crate::config::Config;
pub use crate::store::outbox::MailKind;

#[derive(RustEmbed)]
#[folder = "assets/mail/"]
struct Files;

/// Template names and subjects per kind.
trait KindExt {
    fn template(self) -> &'static str;
    fn subject(self, vars: &Value) -> String;
}

impl KindExt for MailKind {
    fn template(self) -> &'static str {
        match self {
            MailKind::Reset => "reset",
            MailKind::Setup => "setup",
            MailKind::Locked => "locked",
            MailKind::PasswordChanged => "password_changed",
            MailKind::ConfirmEmail => "confirm_email",
            MailKind::EmailChanged => "email_changed",
            MailKind::ExpiryReminder => "expiry_reminder",
            MailKind::Test => "test",
            MailKind::LicenseReminder => "license_reminder",
        }
    }

    fn subject(self, vars: &Value) -> String {
        match self {
            MailKind::Reset => "Reset your password".into(),
            MailKind::Setup => "Your new account: choose a password".into(),
            MailKind::Locked => "Your account is locked".into(),
            MailKind::PasswordChanged => "Your password was changed".into(),
            MailKind::ConfirmEmail => "Confirm your new email address".into(),
            MailKind::EmailChanged => "Your email address was changed".into(),
            MailKind::ExpiryReminder => {
                let when = vars.get_attr("expires_in").ok();
                match when.as_ref().and_then(Value::as_str) {
                    Some(when) => format!("Your password expires {when}"),
                    None => "Your password expires soon".into(),
                }
            }
            MailKind::Test => "latchkey test message".into(),
            MailKind::LicenseReminder => {
                let when = vars.get_attr("ends_in").ok();
                match when.as_ref().and_then(Value::as_str) {
                    Some(when) => format!("Your license ends {when}: ask your agency to renew it"),
                    None => "Your license ends soon: ask your agency to renew it".into(),
                }
            }
        }
    }
}

/// The mail templates, all loaded (and so checked) at start.
pub struct MailTemplates {
    env: Environment<'static>,
}

/// A rendered message, ready for a transport.
pub struct Rendered {
    pub to: String,
    pub subject: String,
    /// The whole RFC 5322 message.
    pub bytes: Vec<u8>,
}

impl MailTemplates {
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for name in Files::iter() {
            let file = Files::get(&name).expect("listed embedded file exists");
            let source = String::from_utf8_lossy(&file.data).into_owned();
            // `.html` templates are auto-escaped, `.txt` ones are not.
            env.add_template_owned(name.to_string(), source)?;
        }
        let mail = Self { env };
        for kind in MailKind::ALL {
            mail.env.get_template(&format!("{}.txt", kind.template()))?;
            mail.env
                .get_template(&format!("{}.html", kind.template()))?;
        }
        Ok(mail)
    }

    /// Renders `kind` for `to`; `vars` adds the kind's own variables to the common ones.
    pub fn render(
        &self,
        config: &Config,
        kind: MailKind,
        to: &str,
        vars: Value,
    ) -> Result<Rendered, minijinja::Error> {
        let ctx = context! {
            org => config.organization.name.as_str(),
            helpdesk => context! {
                email => config.helpdesk.email.as_str(),
                phone => config.helpdesk.phone.as_deref(),
                hours => config.helpdesk.hours.as_str(),
            },
            ..vars.clone()
        };
        let name = kind.template();
        let text = self
            .env
            .get_template(&format!("{name}.txt"))?
            .render(&ctx)?;
        let html = self
            .env
            .get_template(&format!("{name}.html"))?
            .render(&ctx)?;
        let subject = kind.subject(&vars);
        let bytes = MessageBuilder::new()
            .from((config.mail.from_name.as_str(), config.mail.from.as_str()))
            .to(to)
            .subject(subject.as_str())
            .message_id(message_id(config))
            .text_body(text)
            .html_body(html)
            .write_to_vec()
            .map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
            })?;
        Ok(Rendered {
            to: to.to_owned(),
            subject,
            bytes,
        })
    }
}

/// `<random@host of mail.from>`: unique, and revealing nothing about the machine.
fn message_id(config: &Config) -> String {
    let bytes: [u8; 16] = crate::domain::token::random_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}@{}", config.mail.from.domain())
}

/// The account as mail templates see it (`user.name`, `user.username`).
pub fn user_ctx(user: &crate::store::users::UserRecord) -> Value {
    context! { name => user.display_name(), username => user.username.as_str() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_renders_multipart_with_headers() {
        let templates = MailTemplates::load().unwrap();
        let config = Config::default();
        let vars = context! {
            user => context! { name => "Jo <Doe>", username => "jdoe" },
            link => "http://127.0.0.1:8080/reset/abc",
            valid_for => "15 minutes",
            when => "2026-11-27 10:00 UTC",
            new_email => "new@example.org",
            expires_in => "in 3 days",
            ends_in => "in 30 days",
            last_day => "2027-03-31",
            agency => "North Food Shelf",
        };
        for kind in MailKind::ALL {
            let m = templates
                .render(&config, kind, "jdoe@example.org", vars.clone())
                .unwrap();
            let text = String::from_utf8(m.bytes).unwrap();
            assert!(text.contains("multipart/alternative"), "{kind:?}");
            assert!(text.contains("Message-ID: <"), "{kind:?}");
            assert!(text.contains("Date: "), "{kind:?}");
            assert!(text.contains("DoNotReply@localhost"), "{kind:?}");
        }
    }
}
