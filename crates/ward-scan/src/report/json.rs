//! The JSON report, schema `ward-scan/1` (every field is documented in `docs/scan.md`).
//!
//! The schema is versioned: fields may be added within `ward-scan/1`, but a field is never
//! removed or changes meaning without a new schema name.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::{RenderOptions, Verdict};
use crate::finding::Finding;
use crate::scan::{FileReport, ScanReport, Suppression};

/// The schema name written in every JSON report.
pub const SCHEMA: &str = "ward-scan/1";

/// Renders the JSON report (pretty-printed, newline-terminated, keys in alphabetical
/// order).
///
/// The files are written straight from the report through borrowed views, not through a
/// [`Value`] tree: a scan of ten thousand files would otherwise build and free ten
/// thousand maps on one core after the scan.
pub fn render(report: &ScanReport, options: &RenderOptions<'_>) -> String {
    let document = Document {
        files: &report.files,
        rest: fields(report, options),
    };
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|err| format!("{{\"error\": \"cannot serialise report: {err}\"}}"));
    text.push('\n');
    text
}

/// The JSON report as a value.
pub fn value(report: &ScanReport, options: &RenderOptions<'_>) -> Value {
    let document = Document {
        files: &report.files,
        rest: fields(report, options),
    };
    serde_json::to_value(&document).unwrap_or(Value::Null)
}

/// Every top-level field but `files`.
fn fields(report: &ScanReport, options: &RenderOptions<'_>) -> Map<String, Value> {
    let summary = report.summary();
    let verdict = Verdict::of(report, options.fail_on);
    let policy = report.policy.as_ref().map(|policy| {
        json!({
            "path": policy.path,
            "findings": policy.findings.iter().map(|f| FindingView::of(f, None)).collect::<Vec<_>>(),
        })
    });
    let fields = json!({
        "schema": SCHEMA,
        "tool": { "name": "ward", "version": options.tool_version },
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
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The report as [`render`] writes it: `rest` with `files` in its alphabetical place.
struct Document<'a> {
    files: &'a [FileReport],
    rest: Map<String, Value>,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.rest.len().saturating_add(1)))?;
        let mut files_written = false;
        for (key, value) in &self.rest {
            if !files_written && key.as_str() > "files" {
                map.serialize_entry("files", &Files(self.files))?;
                files_written = true;
            }
            map.serialize_entry(key, value)?;
        }
        if !files_written {
            map.serialize_entry("files", &Files(self.files))?;
        }
        map.end()
    }
}

struct Files<'a>(&'a [FileReport]);

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(FileView::of))
    }
}

// The views below declare their fields in alphabetical order, the order of every other
// map in the report.

#[derive(serde::Serialize)]
struct FileView<'a> {
    findings: Vec<FindingView<'a>>,
    format: &'a Option<String>,
    path: &'a str,
    sha256: &'a Option<String>,
    size: Option<u64>,
}

impl<'a> FileView<'a> {
    fn of(file: &'a FileReport) -> Self {
        Self {
            findings: file
                .findings
                .iter()
                .map(|r| FindingView::of(&r.finding, r.suppressed.as_ref()))
                .collect(),
            format: &file.format,
            path: &file.path,
            sha256: &file.sha256,
            size: file.size,
        }
    }
}

#[derive(serde::Serialize)]
struct FindingView<'a> {
    code: &'static str,
    location: LocationView<'a>,
    message: &'a str,
    remedy: &'static str,
    severity: crate::finding::Severity,
    suppressed: Option<SuppressionView<'a>>,
    title: &'static str,
}

impl<'a> FindingView<'a> {
    fn of(finding: &'a Finding, suppressed: Option<&'a Suppression>) -> Self {
        Self {
            code: finding.code.id,
            location: LocationView {
                members: &finding.location.members,
                offset: finding.location.offset,
                path: &finding.location.path,
            },
            message: &finding.message,
            remedy: finding.code.remedy,
            severity: finding.severity,
            suppressed: suppressed.map(|s| SuppressionView {
                expires: &s.expires,
                owner: &s.owner,
                policy: &s.policy,
                reason: &s.reason,
            }),
            title: finding.code.title,
        }
    }
}

#[derive(serde::Serialize)]
struct LocationView<'a> {
    members: &'a [String],
    offset: Option<u64>,
    path: &'a str,
}

#[derive(serde::Serialize)]
struct SuppressionView<'a> {
    expires: &'a str,
    owner: &'a str,
    policy: &'a str,
    reason: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Severity};
    use crate::scan::{PolicyReport, Reported, ScanError};

    /// Every field a finding can carry: members, offsets, a waiver, an unknown format.
    fn full_report() -> ScanReport {
        let code = crate::scan::UNKNOWN_FORMAT;
        let mut nested = Location::file("m/model.pt");
        nested.members = vec!["model/data.pkl".to_owned()];
        nested.offset = Some(12);
        let plain = Finding::new(code, Location::file("m/a \"quoted\" name"), "plain");
        ScanReport {
            files: vec![
                FileReport {
                    path: "m/model.pt".to_owned(),
                    format: Some("zip".to_owned()),
                    size: Some(42),
                    sha256: Some("ab".repeat(32)),
                    findings: vec![
                        Reported {
                            finding: Finding::new(code, nested, "nested `x`")
                                .with_severity(Severity::Critical),
                            suppressed: Some(Suppression {
                                reason: "accepted".to_owned(),
                                owner: "sec@example.org".to_owned(),
                                expires: "2030-01-01".to_owned(),
                                policy: "policy.toml:3".to_owned(),
                            }),
                        },
                        Reported {
                            finding: plain,
                            suppressed: None,
                        },
                    ],
                },
                FileReport {
                    path: "m/empty".to_owned(),
                    format: None,
                    size: None,
                    sha256: None,
                    findings: Vec::new(),
                },
            ],
            policy: Some(PolicyReport {
                path: "policy.toml".to_owned(),
                findings: vec![Finding::new(code, Location::file("policy.toml"), "expired")],
            }),
            errors: vec![ScanError {
                path: "m/gone".to_owned(),
                message: "not found".to_owned(),
            }],
        }
    }

    #[test]
    fn files_findings_and_waivers_are_written_in_the_documented_shape() {
        let options = RenderOptions {
            color: false,
            fail_on: Severity::Medium,
            tool_version: "0.0.0-test",
        };
        let rendered = render(&full_report(), &options);
        let sha = "ab".repeat(32);
        let expected = format!(
            r#"{{
  "errors": [
    {{
      "message": "not found",
      "path": "m/gone"
    }}
  ],
  "files": [
    {{
      "findings": [
        {{
          "code": "scan-unknown-format",
          "location": {{
            "members": [
              "model/data.pkl"
            ],
            "offset": 12,
            "path": "m/model.pt"
          }},
          "message": "nested `x`",
          "remedy": "{remedy}",
          "severity": "critical",
          "suppressed": {{
            "expires": "2030-01-01",
            "owner": "sec@example.org",
            "policy": "policy.toml:3",
            "reason": "accepted"
          }},
          "title": "{title}"
        }},
        {{
          "code": "scan-unknown-format",
          "location": {{
            "members": [],
            "offset": null,
            "path": "m/a \"quoted\" name"
          }},
          "message": "plain",
          "remedy": "{remedy}",
          "severity": "medium",
          "suppressed": null,
          "title": "{title}"
        }}
      ],
      "format": "zip",
      "path": "m/model.pt",
      "sha256": "{sha}",
      "size": 42
    }},
    {{
      "findings": [],
      "format": null,
      "path": "m/empty",
      "sha256": null,
      "size": null
    }}
  ],
  "policy": {{
    "findings": [
      {{
        "code": "scan-unknown-format",
        "location": {{
          "members": [],
          "offset": null,
          "path": "policy.toml"
        }},
        "message": "expired",
        "remedy": "{remedy}",
        "severity": "medium",
        "suppressed": null,
        "title": "{title}"
      }}
    ],
    "path": "policy.toml"
  }},
  "schema": "ward-scan/1",
  "summary": "#,
            remedy = crate::scan::UNKNOWN_FORMAT.remedy.replace('"', "\\\""),
            title = crate::scan::UNKNOWN_FORMAT.title,
        );
        assert!(rendered.starts_with(&expected), "{rendered}");
        assert!(rendered.ends_with("}\n"), "{rendered}");
        // The value form is the same document.
        let value: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(value, super::value(&full_report(), &options));
    }
}
