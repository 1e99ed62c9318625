//! What an account may do besides signing in (CONTRACT section 7).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// `user` signs in; `helpdesk` may also use the console's account tasks;
/// `admin` may do everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    Helpdesk,
    Admin,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown role {0:?}: use user, helpdesk or admin")]
pub struct RoleError(pub String);

impl Role {
    pub fn parse(text: &str) -> Result<Role, RoleError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(Role::User),
            "helpdesk" => Ok(Role::Helpdesk),
            "admin" => Ok(Role::Admin),
            _ => Err(RoleError(text.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Helpdesk => "helpdesk",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_show_as_their_names() {
        for role in [Role::User, Role::Helpdesk, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        assert_eq!(Role::parse(" Admin "), Ok(Role::Admin));
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("").is_err());
    }
}
