//! Phone numbers, allow-listed: digits and the usual punctuation, an
//! optional leading `+` and an optional extension (SECURITY I4).

use serde::{Deserialize, Serialize};
use thiserror::Error;

const MIN_CHARS: usize = 3;
const MAX_CHARS: usize = 32;
const MIN_DIGITS: usize = 3;

/// A phone number that passed [`Phone::parse`], kept as typed (trimmed).
/// Stored as its text and read back through [`Phone::parse`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Phone(String);

/// Why a phone number was refused. The messages are shown to users as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("enter a phone number")]
    Empty,
    #[error("a phone number must be at least 3 characters long")]
    TooShort,
    #[error("a phone number may be at most 32 characters long")]
    TooLong,
    #[error(
        "phone numbers may contain only digits, spaces, + ( ) - . \
         and an extension such as \"ext. 12\""
    )]
    InvalidChar,
    #[error("a + may only appear at the start of a phone number")]
    MisplacedPlus,
    #[error("a phone number needs at least 3 digits")]
    TooFewDigits,
}

impl Phone {
    /// Trims and checks a number such as `+1 (612) 555-0100 ext. 12`.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let number = input.trim();
        if number.is_empty() {
            return Err(PhoneError::Empty);
        }
        let chars = number.chars().count();
        if chars < MIN_CHARS {
            return Err(PhoneError::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PhoneError::TooLong);
        }
        let (main, extension) = match number.find(|c: char| c.is_ascii_alphabetic()) {
            Some(at) => number.split_at(at),
            None => (number, ""),
        };
        if !main.chars().all(is_number_char) {
            return Err(PhoneError::InvalidChar);
        }
        if main.char_indices().any(|(i, c)| c == '+' && i != 0) {
            return Err(PhoneError::MisplacedPlus);
        }
        if !extension.is_empty() && !is_extension(extension) {
            return Err(PhoneError::InvalidChar);
        }
        if main.chars().filter(char::is_ascii_digit).count() < MIN_DIGITS {
            return Err(PhoneError::TooFewDigits);
        }
        Ok(Phone(number.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(Phone, PhoneError, 0);

fn is_number_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-' | '.')
}

/// `ext`, `ext.`, `x` or `x.` (any case), optional spaces, then digits only.
fn is_extension(extension: &str) -> bool {
    let lower = extension.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("ext")
        .or_else(|| lower.strip_prefix('x'))
    else {
        return false;
    };
    let digits = rest
        .strip_prefix('.')
        .unwrap_or(rest)
        .trim_start_matches(' ');
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_formats_are_accepted() {
        for number in [
            "+1 (612) 555-0100 ext. 12",
            "+1 (612) 555-0100 EXT 12",
            "612.555.0100",
            "555-0100x12",
            "555-0100 x. 7",
            "+44 20 7946 0958",
            "911",
        ] {
            assert_eq!(Phone::parse(number).unwrap().as_str(), number);
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let phone = Phone::parse("  555-0100 \n").unwrap();
        assert_eq!(phone.as_str(), "555-0100");
        assert_eq!(phone.to_string(), "555-0100");
    }

    #[test]
    fn line_breaks_and_control_characters_are_refused() {
        crate::domain::assert_all_refused(
            Phone::parse,
            &[
                "555\r\n0100",
                "555\n0100",
                "555\r0100",
                "555\t0100",
                "555\u{0}0100",
            ],
            PhoneError::InvalidChar,
        );
    }

    #[test]
    fn letters_are_refused_outside_an_extension() {
        crate::domain::assert_all_refused(
            Phone::parse,
            &[
                "call 555-0100",
                "555-CALL",
                "555-0100 text 12",
                "555-0100 ext",
                "555-0100 ext. 12a",
                "555-0100 ext. 12 x 3",
                "555-0100 extension 12",
                "٥٥٥-٠١٠٠",
            ],
            PhoneError::InvalidChar,
        );
    }

    #[test]
    fn plus_only_at_the_start() {
        assert_eq!(
            Phone::parse("1+612 555 0100"),
            Err(PhoneError::MisplacedPlus)
        );
        assert_eq!(
            Phone::parse("++1 612 555 0100"),
            Err(PhoneError::MisplacedPlus)
        );
    }

    #[test]
    fn lengths_and_digit_count_are_enforced() {
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("12"), Err(PhoneError::TooShort));
        assert_eq!(Phone::parse("1-2"), Err(PhoneError::TooFewDigits));
        assert_eq!(Phone::parse("(1) x23"), Err(PhoneError::TooFewDigits));
        assert!(Phone::parse(&"1".repeat(32)).is_ok());
        assert_eq!(Phone::parse(&"1".repeat(33)), Err(PhoneError::TooLong));
    }
}
