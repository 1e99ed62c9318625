//! The admin interface: a local control socket while `serve` runs, direct file access otherwise.
//!
//! The socket lives in the data directory with mode 0600, and the server also
//! checks the peer's uid (SECURITY L9), so only the service's own OS user (or
//! root) can give commands.

mod apps;
pub mod client;
mod error;
mod import;
mod licenses;
pub mod ops;
mod outbound;
pub mod protocol;
pub mod server;

use std::path::{Path, PathBuf};

/// File name of the control socket inside the data directory.
pub const SOCKET_FILE: &str = "control.sock";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// The operating-system user running this process, for the audit log.
pub fn os_user_name(uid: nix::unistd::Uid) -> String {
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid {uid}"),
    }
}
