//! `application/x-www-form-urlencoded` bodies: never a panic; an accepted body
//! re-encodes to one that parses to the same fields.
#![no_main]

use latchkey::web::parsers::form;
use libfuzzer_sys::fuzz_target;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some(fields) = form(data) else { return };
    // Every accepted field came from a distinct name.
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let again = form(body.join("&").as_bytes()).expect("a re-encoded form parses");
    assert_eq!(again, fields);
    // Raw bytes that are neither '%', '+' nor '&' survive as they are.
    if !data.iter().any(|b| matches!(b, b'%' | b'+' | b'&' | b'=')) && !data.is_empty() {
        let text = std::str::from_utf8(data).expect("accepted bodies are UTF-8");
        assert_eq!(fields.get(text).map(String::as_str), Some(""));
    }
});
