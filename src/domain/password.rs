//! The password policy engine (SECURITY P1, P2, P3).
//!
//! [`NewPassword::parse`] is the one place a chosen password is checked:
//! size cap first, then NFKC, then every rule in [`PasswordRules`], so a
//! form can list every broken rule at once. Passwords are never truncated,
//! length counts characters, and any printable Unicode is accepted.

use std::collections::HashSet;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::domain::secret::Secret;

/// Raw input larger than this is refused before any other work (P3).
pub const MAX_INPUT_BYTES: usize = 1024;

/// One lower-case entry per line; see [`is_common`].
const COMMON: &str = include_str!("../../assets/common-passwords.txt");

/// Shortest "core" (see [`is_common`]) worth checking.
const MIN_CORE: usize = 3;
/// Longest core worth checking; longer ones are not on the list and this
/// keeps the check linear in the password length.
const MAX_CORE: usize = 32;

/// Keyboard rows and runs that people walk along; a core that is a piece of
/// one of these, either way round, is as weak as a listed password.
const SEQUENCES: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "azertyuiop",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
];

/// The configurable composition rules. Defaults are the product's mandated
/// values; `[policy]` in the config file overrides them.
#[derive(Clone, Debug, PartialEq)]
pub struct PasswordRules {
    pub min_length: usize,
    pub max_length: usize,
    pub require_upper: bool,
    pub require_lower: bool,
    pub require_digit: bool,
    pub require_special: bool,
    pub reject_common: bool,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 50,
            require_upper: true,
            require_lower: true,
            require_digit: true,
            require_special: true,
            reject_common: true,
        }
    }
}

/// One broken rule. `Display` is a sentence for the user; [`RuleViolation::id`]
/// is a stable name for JSON output and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleViolation {
    InputTooLarge,
    TooShort { min: usize },
    TooLong { max: usize },
    NeedsUpper,
    NeedsLower,
    NeedsDigit,
    NeedsSpecial,
    Unprintable,
    Common,
}

impl RuleViolation {
    pub fn id(&self) -> &'static str {
        match self {
            Self::InputTooLarge => "input_too_large",
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::NeedsUpper => "upper",
            Self::NeedsLower => "lower",
            Self::NeedsDigit => "digit",
            Self::NeedsSpecial => "special",
            Self::Unprintable => "unprintable",
            Self::Common => "common",
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InputTooLarge => f.write_str("That password is far too long."),
            Self::TooShort { min } => write!(f, "Use at least {min} characters."),
            Self::TooLong { max } => write!(f, "Use at most {max} characters."),
            Self::NeedsUpper => f.write_str("Include an upper-case letter."),
            Self::NeedsLower => f.write_str("Include a lower-case letter."),
            Self::NeedsDigit => f.write_str("Include a digit."),
            Self::NeedsSpecial => {
                f.write_str("Include a special character (not a letter or digit).")
            }
            Self::Unprintable => f.write_str("Use only printable characters."),
            Self::Common => {
                f.write_str("This password is too common; choose one that is harder to guess.")
            }
        }
    }
}

/// A password that met the policy, NFKC-normalised. Its `Debug` is redacted.
#[derive(Clone, Debug)]
pub struct NewPassword(Secret);

impl NewPassword {
    /// Checks `input` against `rules` and reports every broken rule, in a
    /// stable order. Input over [`MAX_INPUT_BYTES`] is refused with
    /// [`RuleViolation::InputTooLarge`] alone, before normalisation.
    pub fn parse(input: &str, rules: &PasswordRules) -> Result<NewPassword, Vec<RuleViolation>> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(vec![RuleViolation::InputTooLarge]);
        }
        let password = normalize(input);
        let violations = violations(&password, rules);
        if violations.is_empty() {
            Ok(NewPassword(Secret::new(password)))
        } else {
            Err(violations)
        }
    }

    /// A password that has just matched its owner's stored hash, to be stored
    /// again under new argon2 parameters. It met the policy when it was
    /// chosen, so it is only normalised here, never checked again: a policy
    /// tightened since must not lock its owner out through a rehash.
    pub fn verified(typed: &Secret) -> NewPassword {
        NewPassword(Secret::new(normalize(typed.expose())))
    }

    /// The normalised password, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A stored password hash: an argon2id PHC string (`$argon2id$v=19$…`),
/// always of a [`NewPassword`], so always of the normalised form. Only the
/// hasher makes new ones; the store keeps them as text. Its `Debug` shows no
/// part of the hash.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string the hasher produced.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// NFKC, the form passwords are hashed and compared in. Never truncates.
pub fn normalize(input: &str) -> String {
    input.nfkc().collect()
}

/// The rules in words, one line each, for the help page and the forms.
pub fn describe(rules: &PasswordRules) -> Vec<String> {
    rule_lines(rules).into_iter().map(|l| l.text).collect()
}

/// One rule for forms: a stable id the page script can check as the user
/// types (`length` with `min`/`max`, `upper`, `lower`, `digit`, `special`,
/// `common`), and its sentence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleLine {
    pub id: &'static str,
    pub text: String,
    pub min: Option<usize>,
    pub max: Option<usize>,
}

pub fn rule_lines(rules: &PasswordRules) -> Vec<RuleLine> {
    let length = if rules.min_length == rules.max_length {
        format!("Exactly {} characters", rules.min_length)
    } else if rules.min_length <= 1 {
        format!("At most {} characters", rules.max_length)
    } else {
        format!(
            "Between {} and {} characters",
            rules.min_length, rules.max_length
        )
    };
    let mut lines = vec![RuleLine {
        id: "length",
        text: length,
        min: Some(rules.min_length),
        max: Some(rules.max_length),
    }];
    let wanted = [
        (
            rules.require_upper,
            "upper",
            "At least one upper-case letter",
        ),
        (
            rules.require_lower,
            "lower",
            "At least one lower-case letter",
        ),
        (rules.require_digit, "digit", "At least one digit"),
        (
            rules.require_special,
            "special",
            "At least one special character (anything that is not a letter or digit, such as ! or a space)",
        ),
        (
            rules.reject_common,
            "common",
            "Not a common or easily guessed password",
        ),
    ];
    lines.extend(
        wanted
            .into_iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, id, text)| RuleLine {
                id,
                text: text.to_owned(),
                min: None,
                max: None,
            }),
    );
    lines
}

fn violations(password: &str, rules: &PasswordRules) -> Vec<RuleViolation> {
    let mut found = Vec::new();
    let length = password.chars().count();
    if length < rules.min_length {
        found.push(RuleViolation::TooShort {
            min: rules.min_length,
        });
    }
    if length > rules.max_length {
        found.push(RuleViolation::TooLong {
            max: rules.max_length,
        });
    }
    let has = |test: fn(char) -> bool| password.chars().any(test);
    if rules.require_upper && !has(char::is_uppercase) {
        found.push(RuleViolation::NeedsUpper);
    }
    if rules.require_lower && !has(char::is_lowercase) {
        found.push(RuleViolation::NeedsLower);
    }
    if rules.require_digit && !has(char::is_numeric) {
        found.push(RuleViolation::NeedsDigit);
    }
    if rules.require_special && !has(is_special) {
        found.push(RuleViolation::NeedsSpecial);
    }
    if has(is_unprintable) {
        found.push(RuleViolation::Unprintable);
    }
    if rules.reject_common && is_common(password) {
        found.push(RuleViolation::Common);
    }
    found
}

fn is_unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Invisible characters are allowed (emoji sequences need some of them) but
/// do not count as the special character.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

/// Anything printable that is not a letter or digit, a space included.
fn is_special(c: char) -> bool {
    !c.is_alphanumeric() && !is_unprintable(c) && !is_invisible(c)
}

/// Whether a (normalised) password is common (P2): the whole of it,
/// lower-cased, is on the compiled-in list; or a "core" of it is. A core is
/// what is left after cutting leading and trailing runs of non-letters
/// (digits, punctuation) at any point, taken as typed or with common leet
/// substitutions undone; it counts when it is on the list, a piece of a
/// keyboard or alphabet sequence, or one short unit repeated. So
/// `Summer2026!`, `P@ssw0rd1` and `Qwerty123!` are common.
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let list: HashSet<&str> = COMMON
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if list.contains(lower.as_str()) {
        return true;
    }
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    let lead = chars.iter().take_while(|c| !c.is_alphabetic()).count();
    let trail = chars
        .iter()
        .rev()
        .take_while(|c| !c.is_alphabetic())
        .count();
    let first_end = n - trail.min(n);
    let letters_cut = (0..=lead).any(|start| {
        let ends = first_end.max(start + MIN_CORE)..=n.min(start + MAX_CORE);
        ends.into_iter()
            .any(|end| core_is_common(&chars[start..end], &list))
    });
    // With only a letter or two in the middle (`123456Aa!`), the digits
    // carry the password, so they are judged the same way.
    letters_cut
        || (lead < n
            && first_end - lead < MIN_CORE
            && [&chars[..lead], &chars[first_end..]]
                .into_iter()
                .any(|run| run_is_common(run, &list)))
}

/// A run of digits and symbols, judged without its outer symbols.
fn run_is_common(run: &[char], list: &HashSet<&str>) -> bool {
    let start = run.iter().take_while(|c| !c.is_alphanumeric()).count();
    let end = run.len()
        - run[start..]
            .iter()
            .rev()
            .take_while(|c| !c.is_alphanumeric())
            .count();
    let core = &run[start..end];
    (MIN_CORE..=MAX_CORE).contains(&core.len()) && core_is_common(core, list)
}

fn core_is_common(core: &[char], list: &HashSet<&str>) -> bool {
    let raw: String = core.iter().collect();
    if list.contains(raw.as_str()) || is_sequence(&raw) || is_repetition(core) {
        return true;
    }
    ['i', 'l'].into_iter().any(|one| {
        let plain: String = core.iter().map(|&c| unleet(c, one)).collect();
        list.contains(plain.as_str()) || is_sequence(&plain)
    })
}

fn unleet(c: char, one: char) -> char {
    match c {
        '@' | '4' => 'a',
        '0' => 'o',
        '1' => one,
        '3' => 'e',
        '$' | '5' => 's',
        '7' => 't',
        '!' => 'i',
        other => other,
    }
}

fn is_sequence(core: &str) -> bool {
    let reversed: String = core.chars().rev().collect();
    SEQUENCES
        .iter()
        .any(|run| run.contains(core) || run.contains(reversed.as_str()))
}

/// `aaaaaa`, `ababab`, `abcabc`: a unit of one to three characters repeated.
fn is_repetition(core: &[char]) -> bool {
    (1..=3).any(|unit| {
        core.len() >= unit * 2
            && core.len() >= MIN_CORE
            && core.len().is_multiple_of(unit)
            && core.chunks(unit).all(|chunk| chunk == &core[..unit])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str) -> Vec<RuleViolation> {
        match NewPassword::parse(input, &PasswordRules::default()) {
            Ok(_) => Vec::new(),
            Err(violations) => violations,
        }
    }

    fn messages(input: &str) -> Vec<String> {
        check(input).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_password_passes_and_is_kept_whole() {
        let password = NewPassword::parse("Kb1!mwzq", &PasswordRules::default()).unwrap();
        assert_eq!(password.expose(), "Kb1!mwzq");
        assert_eq!(format!("{password:?}"), "NewPassword([redacted])");
        assert_eq!(password.expose(), "Kb1!mwzq");
    }

    #[test]
    fn each_rule_fails_alone_with_its_message() {
        let cases = [
            ("Kb1!mwz", "Use at least 8 characters."),
            ("kb1!mwzq", "Include an upper-case letter."),
            ("KB1!MWZQ", "Include a lower-case letter."),
            ("Kb!!mwzq", "Include a digit."),
            (
                "Kb12mwzq",
                "Include a special character (not a letter or digit).",
            ),
            ("Kb1!mwzq\u{7}", "Use only printable characters."),
            (
                "Password1!",
                "This password is too common; choose one that is harder to guess.",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(messages(input), vec![message.to_owned()], "{input:?}");
        }
        let long = format!("Kb1!{}", "mwzq".repeat(12));
        assert_eq!(
            messages(&long),
            vec!["Use at most 50 characters.".to_owned()]
        );
    }

    #[test]
    fn every_violation_is_reported_together() {
        assert_eq!(
            check("\u{7}"),
            vec![
                RuleViolation::TooShort { min: 8 },
                RuleViolation::NeedsUpper,
                RuleViolation::NeedsLower,
                RuleViolation::NeedsDigit,
                RuleViolation::NeedsSpecial,
                RuleViolation::Unprintable,
            ]
        );
        assert_eq!(
            check("abc"),
            vec![
                RuleViolation::TooShort { min: 8 },
                RuleViolation::NeedsUpper,
                RuleViolation::NeedsDigit,
                RuleViolation::NeedsSpecial,
                RuleViolation::Common,
            ]
        );
    }

    #[test]
    fn fifty_characters_pass_and_fifty_one_do_not() {
        let fifty = format!("Kb1!{}", "mwzq".repeat(11) + "mw");
        assert_eq!(fifty.chars().count(), 50);
        assert!(check(&fifty).is_empty());
        let fifty_one = format!("{fifty}z");
        assert_eq!(check(&fifty_one), vec![RuleViolation::TooLong { max: 50 }]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let seven = "Éëèêé1!";
        assert!(seven.len() > 8);
        assert_eq!(check(seven), vec![RuleViolation::TooShort { min: 8 }]);
        assert!(check("Éëèêéz1!").is_empty());
        let fifty = format!("É1!{}", "é".repeat(47));
        assert_eq!(fifty.chars().count(), 50);
        assert!(check(&fifty).is_empty());
    }

    #[test]
    fn input_is_nfkc_normalised() {
        let password = NewPassword::parse("Ｍaple-kite7", &PasswordRules::default()).unwrap();
        assert_eq!(password.expose(), "Maple-kite7");
        assert_eq!(normalize("ｆｕｌｌ\u{00A0}ｗｉｄｔｈ"), "full width");
        let decomposed =
            NewPassword::parse("Cafe\u{301}-kite7", &PasswordRules::default()).unwrap();
        assert_eq!(decomposed.expose(), "Caf\u{e9}-kite7");
    }

    #[test]
    fn input_over_one_kib_is_refused_before_anything_else() {
        assert_eq!(check(&"a".repeat(1025)), vec![RuleViolation::InputTooLarge]);
        assert_eq!(
            RuleViolation::InputTooLarge.to_string(),
            "That password is far too long."
        );
        let rules = PasswordRules {
            max_length: 2000,
            ..PasswordRules::default()
        };
        let at_limit = format!("Kb1!{}", "mwzq".repeat(255));
        assert_eq!(at_limit.len(), 1024);
        assert!(NewPassword::parse(&at_limit, &rules).is_ok());
    }

    #[test]
    fn any_printable_unicode_is_accepted() {
        let password = NewPassword::parse("Жuk🙂drive9", &PasswordRules::default()).unwrap();
        assert_eq!(password.expose(), "Жuk🙂drive9");
        assert!(check("Ключ-крепкий-7").is_empty());
        assert!(check("correct Horse battery 9").is_empty());
    }

    #[test]
    fn invisible_characters_do_not_count_as_special() {
        assert_eq!(check("Kb12mwzq\u{200B}"), vec![RuleViolation::NeedsSpecial]);
    }

    #[test]
    fn rules_can_all_be_switched_off() {
        let rules = PasswordRules {
            min_length: 1,
            max_length: 100,
            require_upper: false,
            require_lower: false,
            require_digit: false,
            require_special: false,
            reject_common: false,
        };
        assert!(NewPassword::parse("abcdefghijklmnop", &rules).is_ok());
        assert!(NewPassword::parse("password", &rules).is_ok());
        assert!(NewPassword::parse("a\u{0}b", &rules).is_err());
    }

    #[test]
    fn common_passwords_are_refused_even_when_they_meet_the_rules() {
        for input in [
            "Password1!",
            "P@ssw0rd1",
            "Welcome2026!",
            "Summer2026!",
            "Qwerty123!",
            "!!Winter2025",
            "Letmein#1",
            "Tru$tno1!",
            "@Dmin2026!",
            "Abcdef12!",
            "123456Aa!",
            "Zz!111111",
            "Aaaaaaa1!",
            "Helpdesk-2026",
            "Community1!",
            "January2026!",
            "1Q2w3e4r!",
            "Ｐａｓｓｗｏｒｄ1!",
        ] {
            assert_eq!(check(input), vec![RuleViolation::Common], "{input:?}");
        }
        assert_eq!(
            check("password"),
            vec![
                RuleViolation::NeedsUpper,
                RuleViolation::NeedsDigit,
                RuleViolation::NeedsSpecial,
                RuleViolation::Common,
            ]
        );
    }

    #[test]
    fn strong_passwords_are_not_mistaken_for_common_ones() {
        for input in [
            "Tr0ub4dor&3x",
            "Blue-Kettle-42",
            "Maple-kite7",
            "Kb1!mwzq",
            "Sunshine-Otter-Maple-9",
            "Hx7!vQ2#pL",
            "Kettle-123456",
            "Ab!93718204",
        ] {
            assert_eq!(check(input), Vec::<RuleViolation>::new(), "{input:?}");
        }
    }

    #[test]
    fn the_common_list_is_sorted_lower_case_and_unique() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() >= 300);
        assert!(lines.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            lines
                .iter()
                .all(|line| *line == line.to_lowercase() && !line.is_empty())
        );
    }

    #[test]
    fn a_pathological_input_is_checked_quickly() {
        let started = std::time::Instant::now();
        let rules = PasswordRules {
            max_length: 2000,
            ..PasswordRules::default()
        };
        let _ = NewPassword::parse(&"!1".repeat(512), &rules);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn ids_are_stable() {
        let ids: Vec<&str> = [
            RuleViolation::TooShort { min: 8 },
            RuleViolation::TooLong { max: 50 },
            RuleViolation::NeedsUpper,
            RuleViolation::NeedsLower,
            RuleViolation::NeedsDigit,
            RuleViolation::NeedsSpecial,
            RuleViolation::Unprintable,
            RuleViolation::Common,
            RuleViolation::InputTooLarge,
        ]
        .iter()
        .map(RuleViolation::id)
        .collect();
        assert_eq!(
            ids,
            [
                "too_short",
                "too_long",
                "upper",
                "lower",
                "digit",
                "special",
                "unprintable",
                "common",
                "input_too_large"
            ]
        );
    }

    #[test]
    fn describe_lists_the_rules_in_words() {
        assert_eq!(
            describe(&PasswordRules::default()),
            vec![
                "Between 8 and 50 characters",
                "At least one upper-case letter",
                "At least one lower-case letter",
                "At least one digit",
                "At least one special character (anything that is not a letter or digit, such as ! or a space)",
                "Not a common or easily guessed password",
            ]
        );
        let lenient = PasswordRules {
            min_length: 15,
            max_length: 64,
            require_upper: false,
            require_lower: false,
            require_digit: false,
            require_special: false,
            reject_common: true,
        };
        assert_eq!(
            describe(&lenient),
            vec![
                "Between 15 and 64 characters",
                "Not a common or easily guessed password"
            ]
        );
    }
}
