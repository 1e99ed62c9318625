//! Email addresses, allow-listed so nothing but a plain address can ever
//! reach a mail header (SECURITY I4).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest whole address (RFC 5321 path limit minus the angle brackets).
pub const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_DOMAIN_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// An email address that passed [`Email::parse`]: ASCII only, one `@`,
/// no whitespace, no CR or LF.
///
/// Stored and sent as its text; read back through [`Email::parse`], so a
/// record holding anything else fails to load instead of reaching a header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Email(String);

/// Why an address was refused. The messages are shown to users as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum EmailError {
    #[error("enter an email address")]
    Empty,
    #[error("email addresses may be at most 254 characters long")]
    TooLong,
    #[error("enter an email address like name@example.org")]
    Invalid,
}

impl Email {
    /// Trims surrounding whitespace and checks the address against an
    /// allow-list. Dotless domains such as `localhost` are accepted.
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let address = input.trim();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = address.split_once('@').ok_or(EmailError::Invalid)?;
        if !is_local_part(local) || !is_domain(domain) {
            return Err(EmailError::Invalid);
        }
        Ok(Email(address.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

text_type!(Email, EmailError, 0);

fn is_local_part(local: &str) -> bool {
    (1..=MAX_LOCAL_LEN).contains(&local.len())
        && local.bytes().all(is_local_byte)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b)
}

/// A DNS name: labels of letters, digits and inner hyphens, 1-63 bytes
/// each, at most 253 in all (RFC 1035). Also refuses an `@`, since it is
/// not a label byte. Shared by forward-auth's host and cookie-domain checks.
pub fn is_domain(domain: &str) -> bool {
    (1..=MAX_DOMAIN_LEN).contains(&domain.len()) && domain.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for address in [
            "name@example.org",
            "First.Last@Agency.example.gov",
            "o'brien+tag@mail-1.example.co.uk",
            "x@y",
            "helpdesk@localhost",
        ] {
            assert_eq!(Email::parse(address).unwrap().as_str(), address);
        }
    }

    #[test]
    fn the_domain_follows_the_at() {
        assert_eq!(
            Email::parse("DoNotReply@localhost").unwrap().domain(),
            "localhost"
        );
        assert_eq!(
            Email::parse("a.b@mail.example.org").unwrap().domain(),
            "mail.example.org"
        );
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let email = Email::parse("  name@example.org \r\n").unwrap();
        assert_eq!(email.as_str(), "name@example.org");
        assert_eq!(email.to_string(), "name@example.org");
    }

    #[test]
    fn header_injection_is_refused() {
        crate::domain::assert_all_refused(
            Email::parse,
            &[
                "a@b.org\r\nBcc: x@y.org",
                "a@b.org\nBcc: x@y.org",
                "a@b.org\rBcc: x@y.org",
                "a\r\n@b.org",
                "a@b.org,x@y.org",
                "\"a b\"@b.org",
                "Name <a@b.org>",
            ],
            EmailError::Invalid,
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        crate::domain::assert_all_refused(
            Email::parse,
            &[
                "name",
                "@example.org",
                "name@",
                "a@b@c.org",
                ".name@example.org",
                "name.@example.org",
                "na..me@example.org",
                "name@example..org",
                "name@.example.org",
                "name@example.org.",
                "name@-example.org",
                "name@example-.org",
                "name@exa_mple.org",
                "na me@example.org",
                "josé@example.org",
                "name@exämple.org",
                "name@example.org\u{0}",
            ],
            EmailError::Invalid,
        );
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse(" \t "), Err(EmailError::Empty));
    }

    #[test]
    fn length_limits_are_enforced() {
        let label = "a".repeat(63);
        let domain = format!("{label}.{label}.{label}.{}", "b".repeat(58));
        assert_eq!(domain.len(), 250);
        let at_limit = format!("abc@{domain}");
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("abcd@{domain}");
        assert_eq!(over.len(), 255);
        assert_eq!(Email::parse(&over), Err(EmailError::TooLong));

        assert!(Email::parse(&format!("{}@example.org", "a".repeat(64))).is_ok());
        assert_eq!(
            Email::parse(&format!("{}@example.org", "a".repeat(65))),
            Err(EmailError::Invalid)
        );
        assert_eq!(
            Email::parse(&format!("a@{}.org", "b".repeat(64))),
            Err(EmailError::Invalid)
        );
    }

    #[test]
    fn the_message_shows_an_example() {
        let message = Email::parse("nope").unwrap_err().to_string();
        assert_eq!(message, "enter an email address like name@example.org");
    }
}
