//! The adversarial security suite: one test (at least) per line of SECURITY.md,
//! each named by its ID and attacking the running server, its files or the
//! built binary. `docs/security.md` maps every ID to its tests here and in
//! `tests/api`.

mod support;

mod enumeration;
mod passwords;
mod resources;
mod sessions;
mod tokens;
mod web;
