//! Report writers: the same [`ScanReport`] rendered as text for people, JSON for scripts
//! (schema `ward-scan/1`, documented in `docs/scan.md`) and SARIF 2.1.0 for code scanning
//! dashboards such as GitHub's.

use crate::finding::Severity;
use crate::scan::ScanReport;

pub mod json;
pub mod sarif;
pub mod text;

/// The output formats of `ward scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One block per finding and a summary line, for a terminal or a log.
    Text,
    /// The `ward-scan/1` JSON document.
    Json,
    /// A SARIF 2.1.0 log.
    Sarif,
}

/// Settings shared by the writers.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions<'a> {
    /// Whether the text report may use ANSI colours (only for a terminal, never when
    /// `NO_COLOR` is set; the caller decides).
    pub color: bool,
    /// The severity at or above which a finding fails the scan.
    pub fail_on: Severity,
    /// The version of ward, recorded in JSON and SARIF.
    pub tool_version: &'a str,
}

/// How a scan ends, which `ward scan` turns into its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing at or above the fail-on severity, and every input was read (exit code 0).
    Pass,
    /// A finding not suppressed by a waiver is at or above the fail-on severity (exit 1).
    Fail,
    /// An input could not be read, so the scan is incomplete (exit 2). This wins over
    /// `Fail`: an incomplete scan must never look like a finished one.
    Error,
}

impl Verdict {
    /// The verdict for a report under a fail-on severity.
    pub fn of(report: &ScanReport, fail_on: Severity) -> Self {
        if !report.errors.is_empty() {
            Verdict::Error
        } else if report.max_severity().is_some_and(|max| max >= fail_on) {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }

    /// The process exit code for this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }
}

/// Renders a report in the chosen format. The result ends with a newline.
pub fn render(report: &ScanReport, format: ReportFormat, options: &RenderOptions<'_>) -> String {
    match format {
        ReportFormat::Text => text::render(report, options),
        ReportFormat::Json => json::render(report, options),
        ReportFormat::Sarif => sarif::render(report, options),
    }
}
