//! `ward audit`: the tamper-evident audit log.
//!
//! Exit codes: 0 success (for `verify`: the log is intact), 1 `verify` found tampering,
//! 2 usage, input or I/O error.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use ward_ledger::{Ledger, LedgerOptions, NoteVerifier, Outcome, VerifyOptions, public_key_path};

/// Entries `ward audit append` commits together at most.
const APPEND_BATCH: usize = 4096;

/// Arguments of `ward audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Create a new audit log and its signing key (`DB.key`, mode 0600) and public key
    /// (`DB.pub`)
    Init {
        /// The log's origin: the first line of its checkpoints and the key name; make it
        /// unique, e.g. `example.com/prod-gateway`
        #[arg(long, default_value = "ward/audit")]
        origin: String,
        /// Path of the new SQLite log
        db: PathBuf,
    },
    /// Append one JSON entry per line from stdin; prints each sequence number once durable
    Append {
        /// Sign a checkpoint after this many new entries (0: never by count)
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        checkpoint_every_entries: u64,
        /// Sign a checkpoint when this many seconds passed with new entries (0: never by time)
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        checkpoint_every_secs: u64,
        /// Path of the log
        db: PathBuf,
    },
    /// Sign a checkpoint of the current tree and print it
    Checkpoint {
        /// Path of the log
        db: PathBuf,
    },
    /// Recompute every entry and the tree, check every checkpoint; exit 1 on tampering
    Verify {
        /// A signed checkpoint obtained elsewhere to check the log against (repeatable)
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// Trusted verifier key (default: `DB.pub`, which only proves the log matches the
        /// key stored beside it)
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Path of the log
        db: PathBuf,
    },
    /// Print an inclusion or consistency proof as JSON
    Proof {
        #[command(subcommand)]
        kind: ProofKind,
    },
    /// Print every entry
    Export {
        /// Output format
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Path of the log
        db: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ProofKind {
    /// Prove that entry `--seq` is in the tree of `--size` entries
    Inclusion {
        /// Path of the log
        db: PathBuf,
        /// Sequence number of the entry
        #[arg(long)]
        seq: u64,
        /// Tree size (default: the current size)
        #[arg(long)]
        size: Option<u64>,
    },
    /// Prove that the tree of `--old` entries is a prefix of the tree of `--new` entries
    Consistency {
        /// Path of the log
        db: PathBuf,
        /// The older tree size
        #[arg(long)]
        old: u64,
        /// The newer tree size (default: the current size)
        #[arg(long)]
        new: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// One leaf (`{"entry":...,"seq":...,"time":...}`) per line, exactly as hashed
    Jsonl,
}

/// Runs `ward audit`.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Init { origin, db } => {
            drop(Ledger::create(&db, &origin)?);
            eprintln!(
                "created audit log `{}` with signing key `{}` and public key `{}`",
                db.display(),
                ward_ledger::key_path(&db).display(),
                public_key_path(&db).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Append {
            checkpoint_every_entries,
            checkpoint_every_secs,
            db,
        } => {
            let options = LedgerOptions {
                checkpoint_every_entries: Some(checkpoint_every_entries).filter(|n| *n > 0),
                checkpoint_every: Some(Duration::from_secs(checkpoint_every_secs))
                    .filter(|t| !t.is_zero()),
                ..LedgerOptions::default()
            };
            append(&db, options)
        }
        AuditCommand::Checkpoint { db } => {
            let note = Ledger::open(&db)?.checkpoint()?;
            print!("{note}");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            checkpoints,
            public_key,
            db,
        } => verify(&db, &checkpoints, public_key.as_deref()),
        AuditCommand::Proof {
            kind: ProofKind::Inclusion { db, seq, size },
        } => {
            let proof = open_for_reading(&db)?.inclusion_proof(seq, size)?;
            let leaf = String::from_utf8(proof.leaf).context("stored leaf is not UTF-8")?;
            print_json(&json!({
                "type": "inclusion",
                "hash": "sha256-rfc6962",
                "leaf_index": proof.seq,
                "tree_size": proof.size,
                "leaf": leaf,
                "leaf_hash": BASE64.encode(proof.leaf_hash),
                "proof": proof.proof.iter().map(|h| BASE64.encode(h)).collect::<Vec<_>>(),
                "root_hash": BASE64.encode(proof.root),
            }))
        }
        AuditCommand::Proof {
            kind: ProofKind::Consistency { db, old, new },
        } => {
            let proof = open_for_reading(&db)?.consistency_proof(old, new)?;
            print_json(&json!({
                "type": "consistency",
                "hash": "sha256-rfc6962",
                "old_size": proof.old_size,
                "new_size": proof.new_size,
                "old_root_hash": BASE64.encode(proof.old_root),
                "new_root_hash": BASE64.encode(proof.new_root),
                "proof": proof.proof.iter().map(|h| BASE64.encode(h)).collect::<Vec<_>>(),
            }))
        }
        AuditCommand::Export {
            format: ExportFormat::Jsonl,
            db,
        } => export(&db),
    }
}

/// Opens a log for a command that only reads, so that it never writes a checkpoint.
fn open_for_reading(db: &Path) -> anyhow::Result<Ledger> {
    Ok(Ledger::open_with(
        db,
        LedgerOptions::without_automatic_checkpoints(),
    )?)
}

fn print_json(value: &Value) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// Appends stdin line by line. Lines are committed together while more input is already
/// buffered, and each committed batch is printed before more input is read, so a printed
/// sequence number is always durable.
fn append(db: &Path, options: LedgerOptions) -> anyhow::Result<ExitCode> {
    let ledger = Ledger::open_with(db, options)?;
    let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let mut out = std::io::stdout().lock();
    let mut batch: Vec<Value> = Vec::new();
    let mut line = String::new();
    let mut line_no: u64 = 0;
    loop {
        line.clear();
        let read = input.read_line(&mut line).context("cannot read stdin")?;
        if read > 0 {
            line_no += 1;
            let text = line.trim();
            if !text.is_empty() {
                let value: Value = match serde_json::from_str(text) {
                    Ok(v) => v,
                    Err(e) => {
                        commit(&ledger, &mut batch, &mut out)?;
                        bail!(
                            "stdin line {line_no}: not valid JSON: {e}\nhint: give one JSON value per line; lines before it were appended"
                        );
                    }
                };
                batch.push(value);
            }
        }
        if read == 0 || input.buffer().is_empty() || batch.len() >= APPEND_BATCH {
            commit(&ledger, &mut batch, &mut out)?;
        }
        if read == 0 {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn commit(
    ledger: &Ledger,
    batch: &mut Vec<Value>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let range = ledger.append_batch(batch)?;
    batch.clear();
    for seq in range {
        writeln!(out, "{seq}")?;
    }
    out.flush()?;
    Ok(())
}

fn verify(
    db: &Path,
    checkpoints: &[PathBuf],
    public_key: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let key_file = public_key.map_or_else(|| public_key_path(db), Path::to_owned);
    let key_text = std::fs::read_to_string(&key_file).with_context(|| {
        format!(
            "cannot read public key `{}`\nhint: pass the log's verifier key with `--public-key FILE`",
            key_file.display()
        )
    })?;
    let public_key = NoteVerifier::parse(&key_text)
        .with_context(|| format!("public key `{}`", key_file.display()))?;
    let mut external = Vec::new();
    for file in checkpoints {
        external.push(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read checkpoint `{}`", file.display()))?,
        );
    }
    let report = ward_ledger::verify(
        db,
        &VerifyOptions {
            public_key,
            external_checkpoints: external,
        },
    )?;
    match report.outcome {
        Outcome::Intact => {
            println!(
                "ok: `{}` is intact: {} entries, root `{}`, {} checkpoint(s) checked, covering {} entries",
                db.display(),
                report.size,
                BASE64.encode(report.root),
                report.checkpoints,
                report.covered
            );
            if report.covered < report.size {
                eprintln!(
                    "warning: entries from `{}` on are not covered by a signed checkpoint yet\nhint: run `ward audit checkpoint {}`",
                    report.covered,
                    db.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Tampered { seq, reason } => {
            match seq {
                Some(seq) => println!(
                    "tampered: `{}`: first bad entry `{seq}`: {reason}",
                    db.display()
                ),
                None => println!("tampered: `{}`: {reason}", db.display()),
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn export(db: &Path) -> anyhow::Result<ExitCode> {
    let ledger = open_for_reading(db)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut next = 0u64;
    loop {
        let leaves = ledger.leaves(next, 65_536)?;
        let Some((last, _)) = leaves.last() else {
            break;
        };
        next = last.saturating_add(1);
        for (_, bytes) in leaves {
            out.write_all(&bytes)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
