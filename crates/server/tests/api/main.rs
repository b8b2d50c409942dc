//! The workspace API over real HTTP: one test binary for the crate, one module per area.
//! Every test runs its own server on 127.0.0.1 with its own database, with debug logging
//! captured for the whole run; each test's server checks on drop that none of the secrets,
//! session tokens or passwords it handed out appear in the log.

mod admin_cli;
mod audit;
mod keep_watch;
mod keys;
mod leaks;
mod nodes;
mod openapi;
mod robustness;
mod sessions;
mod signals;
mod support;
mod using_keys;
