//! Domain types: parsed once at the edge, trusted everywhere else.

/// For a type parsed from text by `$type::parse(&str) -> Result<$type, $error>`
/// and holding that text in `$field`: shown, stored and sent as the text
/// (serde `into = "String"`), and read back only through the parser
/// (`try_from = "String"`), so a stored value is checked like a typed one.
macro_rules! text_type {
    ($type:ident, $error:ty, $field:tt) => {
        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.$field
            }
        }

        impl TryFrom<String> for $type {
            type Error = $error;

            fn try_from(text: String) -> Result<$type, $error> {
                $type::parse(&text)
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.$field)
            }
        }
    };
}

pub mod clock;
pub mod email;
pub mod group;
pub mod license;
pub mod password;
pub mod phone;
pub mod role;
pub mod secret;
pub mod time_left;
pub mod token;
pub mod username;

/// Asserts that `parse` refuses every one of `inputs` with `want`, naming the
/// first input it does not.
#[cfg(test)]
pub(crate) fn assert_all_refused<T: std::fmt::Debug, E: std::fmt::Debug + PartialEq>(
    parse: impl Fn(&str) -> Result<T, E>,
    inputs: &[&str],
    want: E,
) {
    for input in inputs {
        match parse(input) {
            Err(e) if e == want => {}
            other => panic!("{input:?}: expected Err({want:?}), got {other:?}"),
        }
    }
}
