//! The SARIF 2.1.0 report, shaped for GitHub code scanning.
//!
//! Mapping (also in `docs/scan.md`):
//! - every finding code becomes a rule (`tool.driver.rules`) with its title, remedy as help
//!   text, a default level and a `security-severity` score that GitHub uses to rank alerts;
//! - every finding becomes a result with `ruleId`, `level` from its severity, the file as
//!   an artifact URI relative to the directory ward ran in (`%SRCROOT%`), archive members as
//!   a logical location and in the message, and a `partialFingerprints` entry that stays
//!   stable across runs so that alerts are tracked rather than duplicated;
//! - a finding suppressed by a waiver keeps its result, with a `suppressions` entry whose
//!   justification is the waiver's reason, owner and expiry;
//! - unreadable inputs become error notifications and `executionSuccessful: false`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::RenderOptions;
use crate::codes;
use crate::finding::{Code, Finding, Severity};
use crate::scan::{ScanReport, Suppression};

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";

/// The schema URI written in `$schema`.
pub const SARIF_SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The base id that relative artifact URIs are resolved against.
pub const SRCROOT: &str = "%SRCROOT%";

/// Renders the SARIF log (pretty-printed, newline-terminated).
pub fn render(report: &ScanReport, options: &RenderOptions<'_>) -> String {
    let mut text = serde_json::to_string_pretty(&value(report, options))
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot serialise report: {err}\"}}"));
    text.push('\n');
    text
}

/// The SARIF log as a value.
pub fn value(report: &ScanReport, options: &RenderOptions<'_>) -> Value {
    let catalogue = codes::all();
    let rules: Vec<Value> = catalogue.iter().map(rule).collect();
    let mut results = Vec::new();
    for file in &report.files {
        for reported in &file.findings {
            results.push(result(
                &catalogue,
                &reported.finding,
                reported.suppressed.as_ref(),
            ));
        }
    }
    if let Some(policy) = &report.policy {
        for finding in &policy.findings {
            results.push(result(&catalogue, finding, None));
        }
    }
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|error| {
            json!({
                "level": "error",
                "message": { "text": error.message },
                "locations": [{ "physicalLocation": { "artifactLocation": artifact(&error.path) } }],
            })
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ward",
                    "version": options.tool_version,
                    "semanticVersion": options.tool_version,
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn rule(code: &Code) -> Value {
    let mut properties = json!({
        "tags": ["security", area(code.id)],
        "precision": "high",
    });
    if let (Some(score), Some(map)) = (security_severity(code.severity), properties.as_object_mut())
    {
        map.insert("security-severity".to_owned(), Value::from(score));
    }
    json!({
        "id": code.id,
        "name": rule_name(code.id),
        "shortDescription": { "text": code.title },
        "fullDescription": { "text": format!("{}. See docs/findings.md#{}.", capitalise(code.title), code.id) },
        "help": {
            "text": code.remedy,
            "markdown": format!("{}\n\nSee [`{}` in docs/findings.md](docs/findings.md#{}).", capitalise(code.remedy), code.id, code.id),
        },
        "defaultConfiguration": { "level": level(code.severity) },
        "properties": properties,
    })
}

fn result(catalogue: &[Code], finding: &Finding, suppressed: Option<&Suppression>) -> Value {
    let loc = &finding.location;
    let mut message = finding.message.clone();
    if !loc.members.is_empty() {
        message.push_str(&format!(" (in archive member `{}`)", loc.members.join("!")));
    }
    let mut physical = json!({ "artifactLocation": artifact(&loc.path) });
    // A byte offset inside a member is not an offset in the file, so it only goes into the
    // logical location.
    if let (Some(offset), true) = (loc.offset, loc.members.is_empty()) {
        physical["region"] = json!({ "byteOffset": offset });
    }
    let mut location = json!({ "physicalLocation": physical });
    if !loc.members.is_empty() {
        location["logicalLocations"] = json!([{
            "name": loc.members.last(),
            "fullyQualifiedName": loc.to_string(),
            "kind": "archiveMember",
        }]);
    }
    let mut result = json!({
        "ruleId": finding.code.id,
        "level": level(finding.severity),
        "message": { "text": message },
        "locations": [location],
        "partialFingerprints": { "wardFinding/v1": fingerprint(finding) },
        "properties": { "severity": finding.severity },
    });
    if let Some(index) = catalogue.iter().position(|code| code.id == finding.code.id) {
        result["ruleIndex"] = Value::from(index);
    }
    if let Some(waiver) = suppressed {
        result["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!(
                "{} (owner {}, until {}, {})",
                waiver.reason, waiver.owner, waiver.expires, waiver.policy
            ),
        }]);
    }
    result
}

/// SARIF levels: GitHub shows `error` as an error, `warning` as a warning, `note` as a note.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` score (critical > 9.0, high 7.0-8.9, medium 4.0-6.9,
/// low 0.1-3.9). Info findings get none, so GitHub does not rank them as security alerts.
fn security_severity(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Critical => Some("9.8"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("3.0"),
        Severity::Info => None,
    }
}

/// A stable fingerprint of what and where, independent of the message wording.
fn fingerprint(finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding.code.id.as_bytes());
    hasher.update([0]);
    hasher.update(finding.location.to_string().as_bytes());
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An artifact location: relative paths are resolved against `%SRCROOT%` (the directory
/// ward ran in), absolute ones become `file://` URIs.
fn artifact(path: &str) -> Value {
    let normalized = crate::policy::normalize_path(path);
    if let Some(absolute) = normalized.strip_prefix('/') {
        json!({ "uri": format!("file:///{}", percent_encode(absolute)) })
    } else {
        json!({ "uri": percent_encode(&normalized), "uriBaseId": SRCROOT })
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `pickle-unsafe-global` becomes `PickleUnsafeGlobal`, SARIF's conventional rule name.
fn rule_name(id: &str) -> String {
    id.split('-').map(capitalise).collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The area of a code (`pickle` for `pickle-unsafe-global`), used as a rule tag.
fn area(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(
            artifact("./models/a b.pkl"),
            json!({ "uri": "models/a%20b.pkl", "uriBaseId": "%SRCROOT%" })
        );
        assert_eq!(artifact("/tmp/x.pt"), json!({ "uri": "file:///tmp/x.pt" }));
        assert_eq!(artifact("<stdin>")["uri"], "%3Cstdin%3E");
    }

    #[test]
    fn names_and_levels() {
        assert_eq!(rule_name("pickle-unsafe-global"), "PickleUnsafeGlobal");
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(security_severity(Severity::Info), None);
        assert_eq!(area("scan-unreadable"), "scan");
    }
}
