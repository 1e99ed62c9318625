#![forbid(unsafe_code)]
//! latchkey: sign-in and password service for small agencies, as a library so
//! integration tests can build the router and the store in-process.

pub mod auth;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod control;
pub mod domain;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod server;
pub mod store;
pub mod tls;
pub mod web;
