//! Error answers. Handlers return a status and a marker; the security layer
//! renders the page, so every error (even axum's own 404/405/413) looks alike
//! and none shows internals (STYLE habit 3).

use std::any::Any;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a client is asked to wait when hashing is saturated.
pub const RETRY_AFTER_SECS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("malformed request: {0}")]
    BadRequest(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("link expired or already used")]
    Gone,
    #[error("request body too large")]
    TooLarge,
    #[error("request body too slow")]
    Timeout,
    #[error("rate limited")]
    RateLimited,
    #[error("password hashing saturated")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

/// Attached to an error response so the security layer knows what page to render.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: &'static str,
    /// Set for internal errors: the id is logged next to the cause.
    pub error_id: Option<String>,
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Gone => StatusCode::GONE,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Timeout => StatusCode::REQUEST_TIMEOUT,
            WebError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            WebError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let page = match &self {
            WebError::Internal(cause) => {
                let id = error_id();
                tracing::error!(error_id = %id, cause = %cause, "request failed");
                ErrorPage {
                    error_id: Some(id),
                    ..page_for(status)
                }
            }
            other => {
                tracing::debug!(status = status.as_u16(), reason = %other, "request refused");
                page_for(status)
            }
        };
        let mut res = status.into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        res.extensions_mut().insert(page);
        res
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(e: crate::store::StoreError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<crate::oidc::ProviderError> for WebError {
    fn from(e: crate::oidc::ProviderError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<crate::auth::AuthError> for WebError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Busy(_) => WebError::Busy,
            crate::auth::AuthError::Store(e) => e.into(),
            crate::auth::AuthError::Mail(e) => WebError::Internal(e.to_string()),
        }
    }
}

/// The words shown for a status.
pub fn page_for(status: StatusCode) -> ErrorPage {
    let (title, message) = match status.as_u16() {
        400 => (
            "Bad request",
            "The request could not be understood. Go back, reload the page and try again.",
        ),
        403 => (
            "Not allowed",
            "This request was refused. If you opened this page from another site or it was open for a long time, reload it and try again.",
        ),
        404 => ("Page not found", "There is no page at this address."),
        405 => ("Not allowed", "This page cannot be used that way."),
        408 => (
            "Too slow",
            "The request took too long to arrive. Please try again.",
        ),
        410 => (
            "Link expired",
            "This link is expired or already used. Ask for a new one.",
        ),
        413 => ("Too much data", "The form sent more data than allowed."),
        429 => (
            "Too many requests",
            "Too many requests came from your network. Wait a minute and try again.",
        ),
        503 => ("Busy", "The service is busy. Please try again in a moment."),
        _ => (
            "Something went wrong",
            "The service could not complete this request. If it happens again, tell the helpdesk the reference below.",
        ),
    };
    ErrorPage {
        title,
        message,
        error_id: None,
    }
}

fn error_id() -> String {
    let bytes: [u8; 6] = crate::domain::token::random_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A handler panicked: log it with an id, answer 500 (SECURITY I2).
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    WebError::Internal(format!("handler panicked: {what}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    /// SECURITY I2: a panicking handler becomes a 500 with a reference id, and
    /// the same service goes on answering (the router wraps every route this way).
    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_service_lives_on() {
        let app = axum::Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "ok" }))
            .layer(CatchPanicLayer::custom(panic_response));
        let boom = Request::get("/boom").body(Body::empty()).unwrap();
        let res = app.clone().oneshot(boom).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let page = res.extensions().get::<ErrorPage>().expect("an error page");
        assert!(page.error_id.is_some());
        let ok = Request::get("/ok").body(Body::empty()).unwrap();
        assert_eq!(app.oneshot(ok).await.unwrap().status(), StatusCode::OK);
    }
}
