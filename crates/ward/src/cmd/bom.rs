//! `ward bom`: an AI bill of materials (CycloneDX 1.6/1.7, SPDX 3.0.1), and `ward bom diff`.
//! The work is done by `ward-bom`; this module parses arguments, sets up trust for
//! signature checks, writes the document and maps outcomes to exit codes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::ProgressBar;
use sha2::Digest as _;
use ward_bom::{Bom, DocumentInfo, Options, Verification};
use ward_scan::codes;
use ward_scan::policy::Policy;
use ward_scan::scan::{Progress, ScanOptions};
use ward_sign::cert::{Cert, certs_from_pem};
use ward_sign::keys::{VerifyingKey, read_bounded};
use ward_sign::verify::Trust;

use super::scan::{emit, new_bar};

const EXIT_CODES: &str = "\
Exit codes:
  0  the BOM was written (scan findings and failed signatures are recorded in it, and
     listed in the summary on stderr)
  1  only with --fail-on: a component has a finding at or above that severity, or a
     signature failed to verify
  2  usage error, or a file that could not be read (the BOM would be incomplete)

`ward bom diff OLD NEW` exits 0 when no model, dataset or prompt changed, 1 when one was
added, removed or changed, and 2 when a document cannot be read.";

/// Inventory models, datasets, prompts and libraries, with a SHA-256 for every file.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BomArgs {
    #[command(subcommand)]
    command: Option<BomCommand>,

    /// Files and directories to inventory: project folders, model folders, a Hugging Face
    /// cache (`hub/`), an Ollama model store (`models/`). Name a directory called `diff` as
    /// `./diff`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = BomFormat::Cyclonedx16)]
    format: BomFormat,

    /// Write the document to FILE (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,

    /// Scan policy (allowlists, waivers, limits), as for `ward scan`.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Verify `model.sig` signatures made with this public key.
    #[arg(long, value_name = "PUB.pem", conflicts_with = "verify_ca")]
    verify_key: Option<PathBuf>,

    /// Verify `model.sig` signatures made with certificates chaining to these roots.
    #[arg(long, value_name = "ROOT.pem", num_args = 1..)]
    verify_ca: Vec<PathBuf>,

    /// Exit 1 when a component has an active scan finding at or above this severity, or
    /// a signature fails to verify.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    fail_on: Option<ward_scan::Severity>,

    /// Do not print the summary on standard error.
    #[arg(short, long)]
    quiet: bool,
}

fn parse_severity(text: &str) -> Result<ward_scan::Severity, String> {
    text.parse()
}

#[derive(Debug, Subcommand)]
enum BomCommand {
    /// Compare two BOMs (CycloneDX or SPDX 3 JSON): added, removed and changed components
    /// and file digests. Exit 1 when a model, dataset or prompt changed.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The earlier BOM.
    old: PathBuf,
    /// The later BOM.
    new: PathBuf,
    /// Print the differences as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BomFormat {
    /// CycloneDX 1.6 JSON.
    #[value(name = "cyclonedx-1.6")]
    Cyclonedx16,
    /// CycloneDX 1.7 JSON.
    #[value(name = "cyclonedx-1.7")]
    Cyclonedx17,
    /// SPDX 3.0.1 JSON-LD.
    #[value(name = "spdx-3.0.1")]
    Spdx301,
}

/// Runs `ward bom`.
pub fn run(args: BomArgs) -> Result<u8> {
    if let Some(BomCommand::Diff(diff)) = args.command {
        return run_diff(&diff);
    }
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        bail!(
            "ward bom inventories files and folders, not standard input\nhint: save the input to a file first"
        );
    }
    let mut scan = ScanOptions::new();
    if let Some(path) = &args.policy {
        let known: Vec<&str> = codes::all().iter().map(|code| code.id).collect();
        let policy = Policy::load(path, &known)?;
        scan.limits = policy.limits.clone();
        scan.policy = Some(policy);
    }
    let verification = verification(&args)?;
    let options = Options { scan, verification };

    let bar: OnceLock<ProgressBar> = OnceLock::new();
    let show = !args.quiet && std::io::stderr().is_terminal();
    let progress = |p: Progress| {
        if !show || p.bytes_total < (256 << 20) {
            return;
        }
        let bar = bar.get_or_init(|| new_bar(p.bytes_total));
        bar.set_position(p.bytes_done);
        bar.set_message(format!("{}/{} files", p.files_done, p.files_total));
    };
    let bom = ward_bom::build(&args.paths, &options, &progress);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }

    let info = document_info(&bom, &args.paths)?;
    let doc = match args.format {
        BomFormat::Cyclonedx16 => {
            ward_bom::cyclonedx::write(&bom, &info, ward_bom::cyclonedx::Version::V1_6)
        }
        BomFormat::Cyclonedx17 => {
            ward_bom::cyclonedx::write(&bom, &info, ward_bom::cyclonedx::Version::V1_7)
        }
        BomFormat::Spdx301 => ward_bom::spdx::write(&bom, &info),
    };
    let mut text = serde_json::to_string_pretty(&doc).context("cannot serialise the BOM")?;
    text.push('\n');
    emit(args.output.as_deref(), &text)?;
    if !args.quiet {
        eprint!("{}", ward_bom::text::summary(&bom));
        if let Some(path) = &args.output {
            eprintln!("wrote {}", path.display());
        }
    }
    if !bom.errors.is_empty() {
        return Ok(2);
    }
    if let Some(threshold) = args.fail_on {
        let failed = bom.components.iter().any(|c| {
            matches!(c.security.signature, ward_bom::Signature::Failed { .. })
                || c.security
                    .max_severity
                    .as_deref()
                    .and_then(|s| s.parse::<ward_scan::Severity>().ok())
                    .is_some_and(|s| s >= threshold)
        });
        if failed {
            return Ok(1);
        }
    }
    Ok(0)
}

fn verification(args: &BomArgs) -> Result<Option<Verification>> {
    if let Some(path) = &args.verify_key {
        let key = VerifyingKey::from_pem_file(path)?;
        let fingerprint = hex::encode(sha2::Sha256::digest(key.to_spki_der()?));
        return Ok(Some(Verification {
            trust: Trust::Key(key),
            signer: format!("key sha256:{fingerprint}"),
        }));
    }
    if args.verify_ca.is_empty() {
        return Ok(None);
    }
    let mut roots: Vec<Cert> = Vec::new();
    for path in &args.verify_ca {
        let text = read_bounded(path)?;
        roots.extend(
            certs_from_pem(&text).map_err(|detail| ward_sign::Error::Certificate {
                which: format!("`{}`", path.display()),
                detail,
            })?,
        );
    }
    let names: Vec<String> = args
        .verify_ca
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(Some(Verification {
        trust: Trust::Roots(roots),
        signer: format!("certificate chaining to {}", names.join(", ")),
    }))
}

/// Creation time and serial: `SOURCE_DATE_EPOCH` makes both reproducible (the UUID is
/// then derived from the inventory itself), otherwise now and a random UUID v4.
fn document_info(bom: &Bom, paths: &[PathBuf]) -> Result<DocumentInfo> {
    let name = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let (created, uuid) = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => {
            let seconds: i64 = epoch.trim().parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH `{epoch}` is not a number of seconds")
            })?;
            let created = jiff::Timestamp::from_second(seconds)
                .with_context(|| format!("SOURCE_DATE_EPOCH `{epoch}` is out of range"))?;
            let mut h = sha2::Sha256::new();
            h.update(seconds.to_le_bytes());
            for c in &bom.components {
                h.update(c.id.as_bytes());
                h.update([0]);
                h.update(c.sha256.as_deref().unwrap_or("").as_bytes());
                h.update([0]);
            }
            let digest = h.finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
            (created, uuid_from(bytes, 8))
        }
        Err(_) => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes)
                .map_err(|e| anyhow::anyhow!("no randomness for the BOM serial number: {e}"))?;
            (jiff::Timestamp::now(), uuid_from(bytes, 4))
        }
    };
    Ok(DocumentInfo {
        created,
        uuid,
        name,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Formats 16 bytes as an RFC 9562 UUID of `version` (4 random, 8 custom), variant 10.
fn uuid_from(mut b: [u8; 16], version: u8) -> String {
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn run_diff(args: &DiffArgs) -> Result<u8> {
    let old = ward_bom::diff::load(&args.old)?;
    let new = ward_bom::diff::load(&args.new)?;
    if old.components.is_empty() && new.components.is_empty() {
        bail!(
            "neither `{}` nor `{}` lists any component\nhint: give two BOMs written by `ward bom`",
            args.old.display(),
            args.new.display()
        );
    }
    let d = ward_bom::diff::diff(&old, &new);
    let text = if args.json {
        let mut t =
            serde_json::to_string_pretty(&d.to_json()).context("cannot serialise the diff")?;
        t.push('\n');
        t
    } else {
        d.render()
    };
    emit(None, &text)?;
    Ok(u8::from(d.drift()))
}
