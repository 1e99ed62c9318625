//! How the CLI reaches the data: the running server's socket, or the file itself.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::ops::Ops;
use super::protocol::{OpError, Reply, Request, Response};
use crate::config::Config;
use crate::mail::Mailer;
use crate::store::audit::Origin;
use crate::store::{Store, StoreError};

/// Sends `request` to the running server, or runs it on the data file when none runs.
pub fn run(config: &Config, request: Request) -> Result<Response, OpError> {
    let socket = super::socket_path(&config.data_dir);
    match UnixStream::connect(&socket) {
        Ok(stream) => over_socket(stream, &request),
        // No socket, or a stale one from a crashed server: nobody serves this directory.
        Err(_) => direct(config, request),
    }
}

/// Whether a server answers on the data directory's control socket.
pub fn server_is_running(config: &Config) -> bool {
    UnixStream::connect(super::socket_path(&config.data_dir)).is_ok()
}

fn over_socket(mut stream: UnixStream, request: &Request) -> Result<Response, OpError> {
    let mut line = serde_json::to_vec(request).map_err(OpError::Encode)?;
    line.push(b'\n');
    stream.write_all(&line).map_err(OpError::Socket)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(OpError::Socket)?;
    match serde_json::from_str::<Reply>(&answer) {
        Ok(Reply::Ok(response)) => Ok(*response),
        Ok(Reply::Error(e)) => Err(e.into()),
        Err(_) => Err(OpError::UnreadableAnswer),
    }
}

fn direct(config: &Config, request: Request) -> Result<Response, OpError> {
    let store = open_briefly(config)?;
    let mailer = Mailer::new(config).map_err(OpError::MailSetup)?;
    let operator = super::os_user_name(nix::unistd::getuid());
    let keys =
        crate::store::keys::KeyRing::new(&config.data_dir, config.oidc.access_token_ttl.signed());
    let ops = Ops {
        store: &store,
        config,
        mailer: &mailer,
        keys: &keys,
        origin: Origin::operator(&operator),
        acting: super::ops::Acting::Operator,
    };
    ops.execute(request)
}

/// Opens the data file, waiting a moment if another admin command holds it.
pub fn open_briefly(config: &Config) -> Result<Store, OpError> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match Store::open(&config.data_dir) {
            Ok(store) => return Ok(store),
            Err(StoreError::InUse(dir)) if Instant::now() >= deadline => {
                return Err(OpError::Busy(dir));
            }
            Err(StoreError::InUse(_)) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.into()),
        }
    }
}
