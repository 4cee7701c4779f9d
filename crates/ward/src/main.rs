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
enum Command {}

#[expect(
    unreachable_code,
    reason = "no subcommand yet: the first one removes this"
)]
fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    match command {}
}
