//! `ward gateway` (run the proxy) and `ward gateway init` (create its store, admin secret
//! and audit log).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use ward_gateway::config::Config;
use ward_gateway::keys::KeyStore;
use ward_gateway::server::{Gateway, Listener};
use ward_ledger::Ledger;

/// Arguments of `ward gateway`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    #[command(subcommand)]
    action: Option<GatewayAction>,
    /// Configuration file.
    #[arg(long, default_value = "ward.toml")]
    config: PathBuf,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum GatewayAction {
    /// Create the key store, the admin secret and the audit log; never overwrites.
    Init {
        /// Configuration file.
        #[arg(long, default_value = "ward.toml")]
        config: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Runs `ward gateway`.
pub fn run(args: GatewayArgs) -> Result<ExitCode> {
    match args.action {
        Some(GatewayAction::Init { config }) => init(&config),
        None => serve(&args.config, args.log_format),
    }
}

fn init(config_path: &std::path::Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let store = config.store_path();
    let admin = config.admin_secret_path();
    let audit = config.audit_path();
    // Check every target first so that a refusal leaves nothing half-created.
    for p in [
        store.clone(),
        admin.clone(),
        audit.clone(),
        ward_ledger::key_path(&audit),
        ward_ledger::public_key_path(&audit),
    ] {
        if p.exists() {
            anyhow::bail!(
                "`{}` already exists; refusing to overwrite it\nhint: move it away or point the config at a new path",
                p.display()
            );
        }
    }
    KeyStore::init(&store, &admin)?;
    let ledger = Ledger::create(&audit, &config.audit.origin)
        .with_context(|| format!("cannot create the audit log `{}`", audit.display()))?;
    drop(ledger);
    eprintln!("created key store `{}`", store.display());
    eprintln!(
        "created admin secret `{}` (mode 0600; it authorises `/metrics`)",
        admin.display()
    );
    eprintln!(
        "created audit log `{}` with signing key `{}`",
        audit.display(),
        ward_ledger::key_path(&audit).display()
    );
    println!("{}", audit.display());
    Ok(ExitCode::SUCCESS)
}

fn serve(config_path: &std::path::Path, format: LogFormat) -> Result<ExitCode> {
    init_logging(format);
    let config = Config::load(config_path)?;
    let audit_path = config.audit_path();
    if !audit_path.exists() {
        anyhow::bail!(
            "audit log `{}` does not exist\nhint: run `ward gateway init --config {}` first",
            audit_path.display(),
            config_path.display()
        );
    }
    let ledger = Arc::new(
        Ledger::open(&audit_path)
            .with_context(|| format!("cannot open the audit log `{}`", audit_path.display()))?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let gateway = Gateway::new(&config, ledger.clone())?;
        let listener = Listener::bind(&config).await?;
        let scheme = if listener.is_tls() { "https" } else { "http" };
        if let Some(addr) = listener.local_addr() {
            tracing::info!("listening on {scheme}://{addr}");
        }
        listener.serve(gateway, shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    // A final signed checkpoint covers every request of this run.
    ledger
        .checkpoint()
        .with_context(|| format!("cannot checkpoint the audit log `{}`", audit_path.display()))?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
