//! Domain types: parsed once at the edge, trusted everywhere else.
pub mod clock;
pub mod email;
pub mod license;
pub mod password;
pub mod phone;
pub mod secret;
pub mod time_left;
pub mod token;
pub mod username;
