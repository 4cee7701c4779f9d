//! `ward scan`: find malicious or unsafe content in model files before anyone loads them.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ward_scan::Severity;
use ward_scan::codes;
use ward_scan::policy::Policy;
use ward_scan::report::{self, RenderOptions, ReportFormat, Verdict};
use ward_scan::scan::{self, Progress, ScanOptions};

/// Exit codes, shown by `ward scan --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  no finding at or above --fail-on (suppressed findings never count)
  1  at least one finding at or above --fail-on
  2  usage error, invalid policy, or an input that could not be read (the scan is incomplete)";

/// Scans show a progress bar only when there is this much to read (and stderr is a
/// terminal), so that short scans do not flash one.
const LONG_SCAN_BYTES: u64 = 256 << 20;
/// ... or this many files.
const LONG_SCAN_FILES: usize = 200;

/// Arguments of `ward scan`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively); `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,

    /// TOML policy with extra allowed callables and waivers (see docs/scan.md).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,

    /// Lowest severity that makes the scan fail with exit code 1.
    #[arg(long, value_name = "SEVERITY", default_value = "medium", value_parser = parse_severity)]
    fail_on: Severity,
}

/// The report formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Human-readable blocks and a summary line.
    Text,
    /// JSON, schema `ward-scan/1`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
}

/// Runs the scan and returns the exit code.
pub fn run(args: ScanArgs) -> anyhow::Result<u8> {
    let mut options = ScanOptions::new();
    if let Some(path) = &args.policy {
        let known: Vec<&str> = codes::all().iter().map(|code| code.id).collect();
        let policy = Policy::load(path, &known)?;
        options.limits = policy.limits.clone();
        options.policy = Some(policy);
    }

    let bar: OnceLock<ProgressBar> = OnceLock::new();
    let show_progress = std::io::stderr().is_terminal();
    let progress = |p: Progress| {
        if !show_progress || (p.bytes_total < LONG_SCAN_BYTES && p.files_total < LONG_SCAN_FILES) {
            return;
        }
        let bar = bar.get_or_init(|| new_bar(p.bytes_total));
        bar.set_position(p.bytes_done);
        bar.set_message(format!("{}/{} files", p.files_done, p.files_total));
    };
    let report = scan::scan_paths(&args.paths, &options, &progress);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }

    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let render = RenderOptions {
        color,
        fail_on: args.fail_on,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    let format = match args.format {
        OutputFormat::Text => ReportFormat::Text,
        OutputFormat::Json => ReportFormat::Json,
        OutputFormat::Sarif => ReportFormat::Sarif,
    };
    let text = report::render(&report, format, &render);
    emit(args.output.as_deref(), &text)?;
    Ok(Verdict::of(&report, args.fail_on).exit_code())
}

pub(crate) fn new_bar(bytes_total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(bytes_total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "scanning {bar:30} {binary_bytes}/{binary_total_bytes} {msg} ({eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced and then
/// renamed over the target, so that a reader never sees a half-written report.
/// Writes `text` to `output` atomically, or to standard output.
pub(crate) fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => write_atomically(path, text.as_bytes()),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")
        }
    }
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let context = || format!("cannot write the report to `{}`", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(context)?;
    tmp.write_all(bytes).with_context(context)?;
    tmp.as_file().sync_all().with_context(context)?;
    tmp.persist(path)
        .map_err(|err| err.error)
        .with_context(context)?;
    Ok(())
}
