//! `latchkey serve`: opens the store, binds the web and control sockets, runs until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::Auth;
use crate::auth::setup::first_admin_token;
use crate::config::Config;
use crate::control::server::ControlSocket;
use crate::mail::Mailer;
use crate::mail::transport::PICKUP_DIR;
use crate::mail::worker::Worker;
use crate::store::{Store, StoreError};
use crate::web::{self, AppState, Templates};

/// How often expired sessions and tokens are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A started server. Dropping it without [`Running::stop`] leaves it running until the runtime ends.
pub struct Running {
    pub addr: SocketAddr,
    /// The first-administrator link, when the data file has no account yet.
    pub setup_link: Option<String>,
    pub auth: Arc<Auth>,
    stop: oneshot::Sender<()>,
    web: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

/// Opens everything and starts serving; fails fast with an operator-readable reason.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    if config.server.https() {
        bail!(
            "server.tls_cert/tls_key are set, but this version serves HTTP only; remove them or put a TLS proxy in front"
        );
    }
    let config = Arc::new(config);
    let dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir))
        .await?
        .map_err(|e| match e {
            StoreError::InUse(dir) => anyhow::anyhow!(
                "another latchkey is already serving (or running a command on) {}; stop it first",
                dir.display()
            ),
            other => anyhow::Error::new(other),
        })?;
    let templates = Templates::load().context("loading the compiled-in templates")?;
    let mailer = Arc::new(Mailer::new(&config)?);
    if config.mail.smtp.is_none() {
        tracing::warn!(
            folder = %config.data_dir.join(PICKUP_DIR).display(),
            "no [mail.smtp] in the config: mail is written as .eml files to the pickup folder instead of being sent"
        );
    }
    let auth = Arc::new(Auth::new(store.clone(), config.clone(), mailer));
    let state = AppState::new(auth.clone(), templates).context("reading the data file")?;
    let setup_link = first_admin_token(&store)?
        .map(|t| format!("{}/setup/{}", config.server.base_url, t.expose()));

    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
    let addr = listener.local_addr()?;
    let socket_path = crate::control::socket_path(&config.data_dir);
    let control = ControlSocket::bind(&socket_path)
        .with_context(|| format!("cannot create the control socket {}", socket_path.display()))?;

    let background = vec![
        tokio::spawn(control.run(auth.clone())),
        tokio::spawn(sweep_forever(auth.clone())),
        tokio::spawn(Worker::new(auth.clone()).run()),
        tokio::spawn(remind_forever(auth.clone())),
    ];
    let (stop, stopped) = oneshot::channel::<()>();
    let app = web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let web = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        setup_link,
        auth,
        stop,
        web,
        background,
    })
}

impl Running {
    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        self.stop().await
    }

    /// Stops accepting, finishes open requests, removes the control socket.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let served = self.web.await.context("web server task failed")?;
        for task in self.background {
            task.abort();
            let _ = task.await; // dropping the control task removes its socket file
        }
        served.context("web server failed")
    }
}

async fn sweep_forever(auth: Arc<Auth>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        match auth.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "expired sessions and links deleted"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired sessions failed"),
        }
    }
}

/// Checks for passwords entering their warning window, a few times per window.
async fn remind_forever(auth: Arc<Auth>) {
    let every = (auth.config.policy.expiry_warning.as_duration() / 4)
        .clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = auth.send_expiry_reminders().await {
            tracing::warn!(error = %e, "queueing password expiry reminders failed");
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}
