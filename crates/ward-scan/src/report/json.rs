//! The JSON report, schema `ward-scan/1` (every field is documented in `docs/scan.md`).
//!
//! The schema is versioned: fields may be added within `ward-scan/1`, but a field is never
//! removed or changes meaning without a new schema name.

use serde_json::{Value, json};

use super::{RenderOptions, Verdict};
use crate::finding::Finding;
use crate::scan::{Reported, ScanReport};

/// The schema name written in every JSON report.
pub const SCHEMA: &str = "ward-scan/1";

/// Renders the JSON report (pretty-printed, newline-terminated).
pub fn render(report: &ScanReport, options: &RenderOptions<'_>) -> String {
    let mut text = serde_json::to_string_pretty(&value(report, options))
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot serialise report: {err}\"}}"));
    text.push('\n');
    text
}

/// The JSON report as a value.
pub fn value(report: &ScanReport, options: &RenderOptions<'_>) -> Value {
    let summary = report.summary();
    let verdict = Verdict::of(report, options.fail_on);
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|file| {
            json!({
                "path": file.path,
                "format": file.format,
                "size": file.size,
                "sha256": file.sha256,
                "findings": file.findings.iter().map(reported).collect::<Vec<_>>(),
            })
        })
        .collect();
    let policy = report.policy.as_ref().map(|policy| {
        json!({
            "path": policy.path,
            "findings": policy.findings.iter().map(|f| finding(f, None)).collect::<Vec<_>>(),
        })
    });
    json!({
        "schema": SCHEMA,
        "tool": { "name": "ward", "version": options.tool_version },
        "files": files,
        "policy": policy,
        "errors": report.errors,
        "summary": {
            "files": summary.files,
            "findings": summary.findings,
            "by_severity": summary.by_severity,
            "suppressed": summary.suppressed,
            "errors": summary.errors,
            "fail_on": options.fail_on,
            "verdict": verdict,
            "exit_code": verdict.exit_code(),
        },
    })
}

fn reported(reported: &Reported) -> Value {
    let suppressed = reported
        .suppressed
        .as_ref()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null));
    finding(&reported.finding, suppressed)
}

fn finding(finding: &Finding, suppressed: Option<Value>) -> Value {
    json!({
        "code": finding.code.id,
        "severity": finding.severity,
        "title": finding.code.title,
        "message": finding.message,
        "location": {
            "path": finding.location.path,
            "members": finding.location.members,
            "offset": finding.location.offset,
        },
        "remedy": finding.code.remedy,
        "suppressed": suppressed,
    })
}
