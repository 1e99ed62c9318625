//! Group names: the same rules as user names (CONTRACT section 7), matched
//! by the same canonical key, so `Intake` and `intake` are one group.

use serde::{Deserialize, Serialize};

use super::username::{Username, UsernameError};

/// App names follow the same rules; an app's `client_id` is its key.
pub type AppName = GroupName;

/// A group name that passed [`GroupName::parse`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct GroupName {
    name: Username,
}

impl GroupName {
    pub fn parse(input: &str) -> Result<GroupName, UsernameError> {
        Ok(GroupName {
            name: Username::parse(input)?,
        })
    }

    /// The name as typed when the group was made.
    pub fn as_str(&self) -> &str {
        self.name.as_str()
    }

    /// The canonical key, for lookup and membership.
    pub fn key(&self) -> &str {
        self.name.key()
    }
}

impl From<GroupName> for String {
    fn from(value: GroupName) -> String {
        value.name.into()
    }
}

impl TryFrom<String> for GroupName {
    type Error = UsernameError;

    fn try_from(text: String) -> Result<GroupName, UsernameError> {
        GroupName::parse(&text)
    }
}

impl std::fmt::Display for GroupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_the_user_name_rules() {
        let g = GroupName::parse(" Intake ").unwrap();
        assert_eq!((g.as_str(), g.key()), ("Intake", "intake"));
        assert_eq!(
            GroupName::parse("two words"),
            Err(UsernameError::InvalidChar)
        );
        assert_eq!(GroupName::parse(""), Err(UsernameError::Empty));
    }
}
