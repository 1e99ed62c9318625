//! `latchkey serve`: opens the store, binds the web and control sockets, runs until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::setup::first_admin_token;
use crate::auth::{Auth, links};
use crate::config::Config;
use crate::control::server::ControlSocket;
use crate::domain::clock::Clock;
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
    /// Where `/metrics` answers, when enabled.
    pub metrics_addr: Option<SocketAddr>,
    /// The first-administrator link, when the data file has no account yet.
    pub setup_link: Option<String>,
    pub auth: Arc<Auth>,
    /// The mail worker; tests drive it with [`Worker::try_send_next`].
    pub mail: Arc<Worker>,
    stop: Stop,
    web: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

/// Opens everything and starts serving; fails fast with an operator-readable reason.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    start_with_clock(config, Clock::system()).await
}

/// [`start`], reading the time from `clock` (tests move it forward).
pub async fn start_with_clock(config: Config, clock: Clock) -> anyhow::Result<Running> {
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let config = Arc::new(config);
    let store = open_store(&config, clock).await?;
    let templates = Templates::load().context("loading the compiled-in templates")?;
    let mailer = Arc::new(Mailer::new(&config)?);
    warn_about(&config);
    let auth = Arc::new(Auth::new(store.clone(), config.clone(), mailer));
    let state = AppState::new(auth.clone(), templates)?;
    let setup_link =
        first_admin_token(&store)?.map(|t| links::url(&config.server.base_url, "setup", &t));

    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
    let addr = listener.local_addr()?;
    let socket_path = crate::control::socket_path(&config.data_dir);
    let control = ControlSocket::bind(&socket_path)
        .with_context(|| format!("cannot create the control socket {}", socket_path.display()))?;
    let metrics = match config.metrics.enabled {
        true => Some(serve_metrics(auth.clone(), config.metrics.listen).await?),
        false => None,
    };
    let metrics_addr = metrics.as_ref().map(|(addr, _)| *addr);

    let mail = Arc::new(Worker::new(
        auth.store.clone(),
        auth.config.clone(),
        auth.mailer.clone(),
        auth.metrics.clone(),
    ));
    let mut background = vec![
        tokio::spawn(control.run(auth.clone())),
        tokio::spawn(sweep_forever(auth.clone())),
        tokio::spawn(mail.clone().run()),
        tokio::spawn(remind_forever(auth.clone())),
        tokio::spawn(license_reminders_forever(auth.clone())),
    ];
    if let Some(keep) = config.audit.keep {
        background.push(tokio::spawn(prune_audit_forever(
            auth.clone(),
            keep.as_duration(),
        )));
    }
    background.extend(metrics.map(|(_, task)| task));
    if let Some(dir) = config.backup.dir.clone() {
        background.push(tokio::spawn(backup_forever(auth.clone(), dir)));
    }
    let app = web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, web) = serve_web(listener, tls, app)?;
    Ok(Running {
        addr,
        metrics_addr,
        setup_link,
        auth,
        mail,
        stop,
        web,
        background,
    })
}

/// Opens the data directory off the runtime; a second server on it is told plainly.
async fn open_store(config: &Config, clock: Clock) -> anyhow::Result<Store> {
    let dir = config.data_dir.clone();
    tokio::task::spawn_blocking(move || Store::open_with_clock(&dir, clock))
        .await?
        .map_err(|e| match e {
            StoreError::InUse(dir) => anyhow::anyhow!(
                "another latchkey is already serving (or running a command on) {}; stop it first",
                dir.display()
            ),
            other => anyhow::Error::new(other),
        })
}

/// Logs what in the config works but deserves the operator's attention.
fn warn_about(config: &Config) {
    if config.mail.smtp.is_none() {
        tracing::warn!(
            folder = %config.data_dir.join(PICKUP_DIR).display(),
            "no [mail.smtp] in the config: mail is written as .eml files to the pickup folder instead of being sent"
        );
    }
    for warning in config.warnings() {
        tracing::warn!("config: {warning}");
    }
}

type App = axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>;

/// Serves `app` on `listener`, over TLS when configured, until told to stop.
fn serve_web(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: App,
) -> anyhow::Result<(Stop, JoinHandle<std::io::Result<()>>)> {
    Ok(match tls {
        None => {
            let (stop, stopped) = oneshot::channel::<()>();
            let web = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
            });
            (Stop::Plain(stop), web)
        }
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let server = axum_server::tls_rustls::from_tcp_rustls(
                listener.into_std()?,
                axum_server::tls_rustls::RustlsConfig::from_config(tls),
            )?
            .handle(handle.clone());
            (Stop::Tls(handle), tokio::spawn(server.serve(app)))
        }
    })
}

/// How the web listener is told to finish.
enum Stop {
    Plain(oneshot::Sender<()>),
    Tls(axum_server::Handle<SocketAddr>),
}

/// Open requests may take this long to finish after a stop.
const GRACE: Duration = Duration::from_secs(10);

/// `/metrics` on its own loopback listener (config `[metrics]`).
async fn serve_metrics(
    auth: Arc<Auth>,
    listen: SocketAddr,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (metrics.listen)"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let auth = auth.clone();
            async move { metrics_text(&auth).await }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok((addr, task))
}

async fn metrics_text(auth: &Auth) -> axum::response::Response {
    use axum::response::IntoResponse;
    let counts = auth
        .store
        .read_blocking(|tx| {
            Ok::<_, StoreError>((
                tx.sessions()?.count()?,
                tx.outbox()?.count()?,
                tx.users()?.count()?,
            ))
        })
        .await;
    let Ok((sessions_live, mail_waiting, accounts)) = counts else {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let gauges = crate::metrics::Gauges {
        mail_queued_total: auth.mailer.queued_total(),
        hash_in_use: auth.hasher.in_use(),
        hash_queued: auth.hasher.queued(),
        sessions_live,
        mail_waiting,
        accounts,
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        auth.metrics.render(&gauges),
    )
        .into_response()
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
        match self.stop {
            Stop::Plain(tx) => {
                let _ = tx.send(());
            }
            Stop::Tls(handle) => handle.graceful_shutdown(Some(GRACE)),
        }
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

/// Checks hourly for licenses entering their 30- and 7-day reminder days.
async fn license_reminders_forever(auth: Arc<Auth>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = auth.send_license_reminders().await {
            tracing::warn!(error = %e, "queueing license reminders failed");
        }
    }
}

/// Deletes audit events past `[audit] keep`, ten times per period (at
/// least every hour, at most every second).
async fn prune_audit_forever(auth: Arc<Auth>, keep: Duration) {
    let every = (keep / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match auth.prune_audit().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "audit events past [audit] keep deleted"),
            Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
        }
    }
}

/// Scheduled online backups into `[backup] dir`, keeping the newest `keep`.
async fn backup_forever(auth: Arc<Auth>, dir: std::path::PathBuf) {
    let mut tick = tokio::time::interval(auth.config.backup.every.as_duration());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: the first backup comes one period after start
    loop {
        tick.tick().await;
        let keep = auth.config.backup.keep;
        let dir = dir.clone();
        let result = auth
            .store
            .blocking(move |store| crate::store::backup::scheduled(store, &dir, keep))
            .await;
        match result {
            Ok(path) => tracing::info!(path = %path.display(), "scheduled backup written"),
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
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
