//! The password policy with default rules: never a panic; an accepted password
//! meets the length rule in characters and is NFKC.
#![no_main]

use latchkey::domain::password::{NewPassword, PasswordRules, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let rules = PasswordRules::default();
    if let Ok(p) = NewPassword::parse(input, &rules) {
        let n = p.expose().chars().count();
        assert!(
            n >= rules.min_length && n <= rules.max_length,
            "{n} characters accepted"
        );
        assert_eq!(p.expose(), normalize(input));
        assert!(input.len() <= latchkey::domain::password::MAX_INPUT_BYTES);
    }
});
