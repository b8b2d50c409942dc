//! `kdk`: Keydeck on the command line. Every command is a thin adapter over `keydeck_desk::Desk`,
//! the library the window uses too, so both share one data directory (accounts, keychain
//! records, rotation journals), the session tokens and keys in the keychain, and their words.
//!
//! Secrets go to standard output only where that is the point (`get`, `env`, `keys create
//! --print`), to the clipboard only with `--copy`, and into a program's environment with `run`,
//! which hides them in the program's output.

mod cli;
mod commands;
mod mask;
mod output;
mod project;

use std::process::ExitCode;

use clap::Parser;
use keydeck_core::app::{AppError, AppErrorCode};

use crate::cli::Cli;

/// The one error type of `kdk`'s boundary: what to print, and the exit code (see
/// `cli::EXIT_CODES`).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_SIGNED_OUT: u8 = 3;
pub const EXIT_UNREACHABLE: u8 = 4;
pub const EXIT_NOT_FOUND: u8 = 5;
pub const EXIT_NO_KEYCHAIN: u8 = 6;
pub const EXIT_TIMED_OUT: u8 = 7;

impl From<AppError> for Failure {
    fn from(e: AppError) -> Failure {
        let code = match e.code {
            AppErrorCode::SignedOut => EXIT_SIGNED_OUT,
            AppErrorCode::Unreachable => EXIT_UNREACHABLE,
            AppErrorCode::NotFound => EXIT_NOT_FOUND,
            AppErrorCode::NoKeychain | AppErrorCode::NoClipboard => EXIT_NO_KEYCHAIN,
            _ => EXIT_FAILED,
        };
        let mut message = e.message;
        for f in e.fields.unwrap_or_default() {
            message.push_str(&format!("\n  {}: {}", f.field, f.message));
        }
        if code == EXIT_SIGNED_OUT {
            message.push_str("\nSign in with `kdk login SERVER`, or open the demo workspace with `kdk login --demo`.");
        }
        Failure { code, message }
    }
}

pub type Outcome = Result<u8, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kdk: could not start: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let outcome = runtime.block_on(commands::run(cli));
    // The demo's server and integration, if this command started them, stop with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("kdk: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
