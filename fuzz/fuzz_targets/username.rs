//! User names: never a panic; a parsed name's key is the canonical key of the input,
//! and parsing is stable on its own display form.
#![no_main]

use latchkey::domain::username::{Username, canonical_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let key = canonical_key(input);
    if let Ok(name) = Username::parse(input) {
        assert_eq!(name.key(), key);
        let again = Username::parse(name.as_str()).expect("a display form parses again");
        assert_eq!(again.key(), name.key());
        assert!(name.as_str().chars().count() <= latchkey::domain::username::MAX_CHARS);
    }
});
