//! The `ward` command: argument parsing, wiring and exit codes. Each subcommand lives in
//! its own module under `cmd/` and delegates the real work to a library crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Secure by Design tooling for AI systems.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign a model (directory or file) with an OpenSSF Model Signing signature.
    #[command(subcommand)]
    Sign(cmd::sign::SignCommand),
    /// Verify a model against its OpenSSF Model Signing signature (exit 0 verified,
    /// 1 verification failed, 2 usage or I/O error).
    #[command(subcommand)]
    Verify(cmd::sign::VerifyCommand),
    /// Print a model's root digest, as recorded in its signature.
    Digest(cmd::sign::DigestArgs),
}

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    match command {
        Command::Sign(command) => cmd::sign::run_sign(command),
        Command::Verify(command) => cmd::sign::run_verify(command),
        Command::Digest(args) => cmd::sign::run_digest(args),
    }
}
