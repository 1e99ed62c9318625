//! The test suite, one binary: the shared fixtures are compiled once.
//!
//! - `api`: the real router on 127.0.0.1:0, the real store, the real binary.
//! - `security`: one adversarial test (at least) per ID of SECURITY.md.
//! - `browser`: a real headless Chromium; ignored unless asked for with
//!   `cargo test --test suite -- --ignored browser::` (docs/browser-tests.md).

mod helpers;
mod smtp;

mod admin;
mod api;
mod browser;
mod forward_auth;
mod oidc;
mod security;
