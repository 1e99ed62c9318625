//! The control socket server inside `latchkey serve`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::ops::Ops;
use super::protocol::{OpError, Reply, Request};
use crate::auth::Auth;
use crate::store::audit::Origin;

/// Largest request accepted (a CSV import of 100,000 rows fits comfortably).
const MAX_REQUEST: u64 = 64 * 1024 * 1024;

/// A bound control socket; the file is removed when this is dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` (replacing a stale socket left by a crash) with mode 0600.
    ///
    /// Call only while holding the database, so no other server owns the file.
    pub fn bind(path: &Path) -> std::io::Result<Self> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Self {
            listener,
            path: path.to_owned(),
        })
    }

    /// Answers commands until the task is dropped.
    pub async fn run(self, auth: Arc<Auth>) {
        let me = nix::unistd::getuid();
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    continue;
                }
            };
            let auth = auth.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, auth, me).await {
                    tracing::warn!(error = %e, "control connection failed");
                }
            });
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn handle(stream: UnixStream, auth: Arc<Auth>, me: nix::unistd::Uid) -> std::io::Result<()> {
    let peer = stream.peer_cred()?.uid();
    let (read, mut write) = stream.into_split();
    let reply = if peer != me.as_raw() && peer != 0 {
        tracing::warn!(
            peer_uid = peer,
            "control socket refused a connection from another user"
        );
        Reply::from(Err(OpError::NotTheServiceUser))
    } else {
        let mut line = String::new();
        BufReader::new(read.take(MAX_REQUEST))
            .read_line(&mut line)
            .await?;
        match serde_json::from_str::<Request>(&line) {
            Ok(request) => execute(auth, request, peer).await,
            Err(e) => Reply::from(Err(OpError::MalformedRequest(e))),
        }
    };
    let mut out = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

async fn execute(auth: Arc<Auth>, request: Request, peer_uid: u32) -> Reply {
    let operator = super::os_user_name(nix::unistd::Uid::from_raw(peer_uid));
    tracing::info!(operator = %operator, op = request.name(), "admin command");
    let result = tokio::task::spawn_blocking(move || {
        let ops = Ops {
            store: &auth.store,
            config: &auth.config,
            mailer: &auth.mailer,
            keys: &auth.keys,
            origin: Origin::operator(&operator),
            acting: super::ops::Acting::Operator,
        };
        ops.execute(request)
    })
    .await;
    Reply::from(result.unwrap_or(Err(OpError::ServerFailed)))
}
