//! The text report: one block per finding, then a summary line.
//!
//! ```text
//! critical[pickle-unsafe-global]: pickle calls `os.system`
//!   --> model.pt!archive/data.pkl@62
//!   hint: do not load this file; ...
//! ```
//!
//! Everything is readable without colour; colour only highlights the severity.

use std::fmt::Write as _;

use super::{RenderOptions, Verdict};
use crate::finding::{Finding, Severity};
use crate::scan::{ScanReport, Suppression};

/// Renders the text report.
pub fn render(report: &ScanReport, options: &RenderOptions<'_>) -> String {
    let mut out = String::new();
    for file in &report.files {
        for reported in &file.findings {
            block(
                &mut out,
                &reported.finding,
                reported.suppressed.as_ref(),
                options.color,
            );
        }
    }
    if let Some(policy) = &report.policy {
        for finding in &policy.findings {
            block(&mut out, finding, None, options.color);
        }
    }
    for error in &report.errors {
        let label = paint("error", "1;31", options.color);
        let _ = writeln!(out, "{label}: {}\n", error.message);
    }
    summary(&mut out, report, options);
    out
}

fn block(out: &mut String, finding: &Finding, suppressed: Option<&Suppression>, color: bool) {
    let label = if suppressed.is_some() {
        paint(&format!("suppressed {}", finding.severity), "2", color)
    } else {
        paint(
            finding.severity.as_str(),
            severity_style(finding.severity),
            color,
        )
    };
    let _ = writeln!(out, "{label}[{}]: {}", finding.code.id, finding.message);
    let _ = writeln!(out, "  --> {}", finding.location);
    let _ = writeln!(out, "  hint: {}", finding.code.remedy);
    if let Some(waiver) = suppressed {
        let _ = writeln!(
            out,
            "  waived: {} (owner `{}`, until {}, {})",
            waiver.reason, waiver.owner, waiver.expires, waiver.policy
        );
    }
    out.push('\n');
}

fn summary(out: &mut String, report: &ScanReport, options: &RenderOptions<'_>) {
    let summary = report.summary();
    let files = plural(summary.files, "file", "files");
    let mut line = format!("scanned {files}: ");
    if summary.findings == 0 {
        line.push_str("no findings");
    } else {
        let counts: Vec<String> = Severity::ALL
            .iter()
            .rev()
            .filter_map(|sev| {
                let count = summary.by_severity.get(sev).copied().unwrap_or(0);
                (count > 0).then(|| format!("{count} {sev}"))
            })
            .collect();
        let findings = plural(summary.findings, "finding", "findings");
        let _ = write!(line, "{findings} ({})", counts.join(", "));
    }
    if summary.suppressed > 0 {
        let _ = write!(line, ", {} suppressed", summary.suppressed);
    }
    if summary.errors > 0 {
        let _ = write!(line, ", {}", plural(summary.errors, "error", "errors"));
    }
    let verdict = match Verdict::of(report, options.fail_on) {
        Verdict::Pass => paint("pass", "1;32", options.color),
        Verdict::Fail => paint("fail", "1;31", options.color),
        Verdict::Error => paint("incomplete", "1;31", options.color),
    };
    let _ = writeln!(out, "{line}; fail-on {}: {verdict}", options.fail_on);
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

fn severity_style(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "1;33",
        Severity::Low => "1;36",
        Severity::Info => "1",
    }
}

fn paint(text: &str, style: &str, color: bool) -> String {
    if color {
        format!("\u{1b}[{style}m{text}\u{1b}[0m")
    } else {
        text.to_owned()
    }
}
