//! Integration tests: the real router on 127.0.0.1:0, the real store, the real binary.

mod cli;
mod cli_data_dir;
mod cli_mail;
mod cli_server;
mod crash;
mod csrf;
mod first_day;
mod hardening;
mod layers;
mod lockout;
mod login;
mod mail;
mod operations;
mod pages;
mod policy;
mod profile;
mod reset;
mod sessions;
mod setup;
