//! Static files (CSS, JS, icons) compiled into the binary.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::WebError;

#[derive(RustEmbed)]
#[folder = "assets/static/"]
struct Static;

pub async fn serve(Path(path): Path<String>) -> Result<Response, WebError> {
    let file = Static::get(&path).ok_or(WebError::NotFound)?;
    let mime = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        file.data,
    )
        .into_response())
}
