//! `ward keys`: create, list and revoke gateway keys.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use ward_gateway::config::Config;
use ward_gateway::keys::{Endpoints, KeyStore, NewKey, parse_duration};

/// Arguments of `ward keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    action: KeysAction,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Create a key; it is printed once, alone on the last line of stdout.
    Create {
        /// Configuration file.
        #[arg(long, default_value = "ward.toml")]
        config: PathBuf,
        /// Who or what uses the key.
        #[arg(long)]
        name: String,
        /// Models the key may use, comma-separated (`*` for every configured model).
        #[arg(long, value_delimiter = ',', required = true)]
        models: Vec<String>,
        /// Endpoints the key may call, comma-separated.
        #[arg(long, default_value = "chat,completions,embeddings,responses,models")]
        endpoints: String,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens per minute.
        #[arg(long)]
        tpm: Option<u32>,
        /// Lifetime, such as `30d`, `12h` or `2w`.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        /// Configuration file.
        #[arg(long, default_value = "ward.toml")]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id; the running gateway refuses it within a second.
    Revoke {
        /// Configuration file.
        #[arg(long, default_value = "ward.toml")]
        config: PathBuf,
        /// The key id shown by `ward keys list`.
        id: String,
    },
}

/// Runs `ward keys`.
pub fn run(args: KeysArgs) -> Result<ExitCode> {
    match args.action {
        KeysAction::Create {
            config,
            name,
            models,
            endpoints,
            rpm,
            tpm,
            expires,
        } => {
            let config = Config::load(&config)?;
            let store = KeyStore::open(&config.store_path())?;
            for m in models.iter().filter(|m| *m != "*") {
                if !config.models().any(|(known, _)| known == m) {
                    eprintln!("warning: model `{m}` is not served by any upstream in the config");
                }
            }
            let new = NewKey {
                name,
                models,
                endpoints: Endpoints::parse_list(&endpoints)?,
                rpm,
                tpm,
                expires_in_secs: expires.as_deref().map(parse_duration).transpose()?,
            };
            let created = store.create(&new)?;
            eprintln!(
                "created key `{}` named `{}`; it is shown once below, store it now",
                created.id, new.name
            );
            println!("{}", created.key);
        }
        KeysAction::List { config, json } => {
            let config = Config::load(&config)?;
            let keys = KeyStore::open(&config.store_path())?.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<16}  {:<20}  {:<8}  {:<24}  models",
                    "id", "name", "status", "limits"
                );
                let now = ward_gateway::keys::unix_now();
                for k in keys {
                    let status = if k.revoked_at.is_some() {
                        "revoked"
                    } else if k.expires_at.is_some_and(|t| now >= t) {
                        "expired"
                    } else {
                        "active"
                    };
                    let limits = format!(
                        "rpm={} tpm={}",
                        k.rpm.map_or("-".into(), |v| v.to_string()),
                        k.tpm.map_or("-".into(), |v| v.to_string())
                    );
                    println!(
                        "{:<16}  {:<20}  {:<8}  {:<24}  {}",
                        k.id,
                        k.name,
                        status,
                        limits,
                        k.models.join(",")
                    );
                }
            }
        }
        KeysAction::Revoke { config, id } => {
            let config = Config::load(&config)?;
            KeyStore::open(&config.store_path())?.revoke(&id)?;
            eprintln!("revoked key `{id}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}
