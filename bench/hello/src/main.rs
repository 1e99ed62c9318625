//! The reference for benchmark 1: `GET /` answers "Hello, world!" on 127.0.0.1:PORT.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: latchkey-bench-hello PORT");
            std::process::exit(2);
        }
    };
    let app = Router::new().route("/", get(|| async { "Hello, world!" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        });
    axum::serve(listener, app).await.expect("serving");
}
