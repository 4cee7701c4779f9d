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
    /// Find malicious or unsafe content in model files before anyone loads them.
    Scan(cmd::scan::ScanArgs),
    /// Sign a model (directory or file) with an OpenSSF Model Signing signature.
    #[command(subcommand)]
    Sign(cmd::sign::SignCommand),
    /// Verify a model against its OpenSSF Model Signing signature (exit 0 verified,
    /// 1 verification failed, 2 usage or I/O error).
    #[command(subcommand)]
    Verify(cmd::sign::VerifyCommand),
    /// Print a model's root digest, as recorded in its signature.
    Digest(cmd::sign::DigestArgs),
    /// Write an AI bill of materials (CycloneDX 1.6/1.7 or SPDX 3.0.1) with a SHA-256 for
    /// every model, dataset and prompt; `ward bom diff` compares two.
    Bom(cmd::bom::BomArgs),
    /// Tamper-evident audit log: append, checkpoint, prove, verify.
    Audit(cmd::audit::AuditArgs),
    /// Run the OpenAI-compatible guard proxy (`ward gateway init` sets it up).
    Gateway(cmd::gateway::GatewayArgs),
    /// Create, list and revoke gateway keys.
    Keys(cmd::keys::KeysArgs),
}

/// Exit code for usage, policy and I/O errors (clap uses the same for usage errors).
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    let result = match command {
        Command::Scan(args) => cmd::scan::run(args).map(ExitCode::from),
        Command::Sign(command) => Ok(cmd::sign::run_sign(command)),
        Command::Verify(command) => Ok(cmd::sign::run_verify(command)),
        Command::Digest(args) => Ok(cmd::sign::run_digest(args)),
        Command::Bom(args) => cmd::bom::run(args).map(ExitCode::from),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Gateway(args) => cmd::gateway::run(args),
        Command::Keys(args) => cmd::keys::run(args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::from(EXIT_ERROR)
    })
}
