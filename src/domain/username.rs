//! User names: how they are typed, shown and matched.
//!
//! A [`Username`] keeps the name as the user typed it (after trimming and
//! NFKC) for display, and a canonical key (NFKC, lower-cased) for lookup,
//! uniqueness and lockout, so `Alice`, `ALICE` and full-width `ａｌｉｃｅ`
//! are one account (SECURITY I3, L8).

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

/// Longest user name, counted in characters.
pub const MAX_CHARS: usize = 64;

/// A user name that passed [`Username::parse`].
/// Stored as the display form and read back through [`Username::parse`]
/// (which gives the same name and key again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Username {
    display: String,
    key: String,
}

/// Why a user name was refused. The messages are shown to users as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum UsernameError {
    #[error("enter a user name")]
    Empty,
    #[error("user names may be at most 64 characters long")]
    TooLong,
    #[error(
        "user names may contain only letters, digits and . _ - @ \
         (no spaces, control or invisible characters)"
    )]
    InvalidChar,
}

/// The lookup and lockout key for any input, valid or not: trimmed,
/// NFKC-normalised, lower-cased and normalised again (lower-casing can
/// produce sequences that NFKC composes differently).
pub fn canonical_key(input: &str) -> String {
    let normalized: String = input.trim().nfkc().collect();
    normalized.to_lowercase().nfkc().collect()
}

impl Username {
    /// Trims, NFKC-normalises and checks a user name. The display form keeps
    /// its case; only full-width and other compatibility forms are folded.
    pub fn parse(input: &str) -> Result<Username, UsernameError> {
        let display: String = input.trim().nfkc().collect();
        if display.is_empty() {
            return Err(UsernameError::Empty);
        }
        if display.chars().count() > MAX_CHARS {
            return Err(UsernameError::TooLong);
        }
        // An allow-list: control, bidi-override and zero-width characters
        // are neither alphanumeric nor punctuation we accept, so they fall out.
        if !display.chars().all(is_allowed) {
            return Err(UsernameError::InvalidChar);
        }
        let key = canonical_key(&display);
        Ok(Username { display, key })
    }

    /// The name as the user typed it (trimmed, NFKC).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The canonical key used for lookup, uniqueness and lockout.
    pub fn key(&self) -> &str {
        &self.key
    }
}

text_type!(Username, UsernameError, display);

fn is_allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_width_twins_share_a_key() {
        let plain = Username::parse("Alice").unwrap();
        let upper = Username::parse("ALICE").unwrap();
        let wide = Username::parse("ａｌｉｃｅ").unwrap();
        assert_eq!(plain.key(), "alice");
        assert_eq!(upper.key(), plain.key());
        assert_eq!(wide.key(), plain.key());
    }

    #[test]
    fn display_keeps_case_but_folds_width() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "Alice");
        assert_eq!(Username::parse("ＡＬＩＣＥ").unwrap().as_str(), "ALICE");
        assert_eq!(Username::parse("Alice").unwrap().to_string(), "Alice");
    }

    #[test]
    fn canonical_key_works_on_any_input() {
        assert_eq!(canonical_key("  ＡＬice\t"), "alice");
        assert_eq!(canonical_key("no such user!"), "no such user!");
        assert_eq!(canonical_key(""), "");
    }

    #[test]
    fn hidden_and_control_characters_are_refused() {
        crate::domain::assert_all_refused(
            Username::parse,
            &[
                "ali\u{200B}ce",
                "ali\u{200C}ce",
                "ali\u{200D}ce",
                "ali\u{2060}ce",
                "ali\u{FEFF}ce",
                "ali\u{202E}ce",
                "ali\u{2066}ce",
                "ali\u{200F}ce",
                "ali\u{061C}ce",
                "ali\u{0007}ce",
                "alice\nadmin",
                "ali ce",
                "alice!",
                "<alice>",
            ],
            UsernameError::InvalidChar,
        );
    }

    #[test]
    fn the_refusal_says_what_is_allowed() {
        let message = Username::parse("a b").unwrap_err().to_string();
        assert!(message.contains("letters, digits and . _ - @"), "{message}");
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(Username::parse("   "), Err(UsernameError::Empty));
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(UsernameError::TooLong)
        );
        assert!(Username::parse(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn punctuation_and_letters_from_any_script_are_accepted() {
        assert_eq!(
            Username::parse("j.doe@agency-1_x").unwrap().as_str(),
            "j.doe@agency-1_x"
        );
        assert_eq!(Username::parse("josé").unwrap().key(), "josé");
        assert_eq!(Username::parse("José").unwrap().key(), "josé");
        assert!(Username::parse("Жанна").is_ok());
    }

    #[test]
    fn decomposed_and_composed_accents_are_one_name() {
        let composed = Username::parse("jos\u{e9}").unwrap();
        let decomposed = Username::parse("jose\u{301}").unwrap();
        assert_eq!(composed, decomposed);
    }
}
