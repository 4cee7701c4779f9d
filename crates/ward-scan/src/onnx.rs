//! Rules for ONNX models.
//!
//! An ONNX model runs no Python, but it names files: a tensor whose `data_location` is
//! `EXTERNAL` is read by the runtime from the path in its `location` entry, relative to the
//! model's directory. Paths that are absolute, climb with `..`, or lead out of the
//! directory through a symlink let a downloaded model read any file the loading process can
//! (CVE-2022-25882, CVE-2024-27318), and a crafted offset and length can turn the read into
//! an out-of-bounds one. Operators from custom domains need a custom-op library to be
//! registered, which is native code from somewhere else; they are reported for review.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ward_formats::onnx::{self, ExternalTensor, Model};

use crate::{Code, Context, Finding, Location, Severity, Source};

/// External data whose location leaves the model's directory.
pub const EXTERNAL_DATA_ESCAPE: Code = Code {
    id: "onnx-external-data-escape",
    severity: Severity::Critical,
    title: "ONNX external data location escapes the model directory",
    remedy: "do not load the model; its tensors would be read from files outside its folder (CVE-2022-25882, CVE-2024-27318)",
};
/// External data file that does not exist.
pub const EXTERNAL_DATA_MISSING: Code = Code {
    id: "onnx-external-data-missing",
    severity: Severity::Medium,
    title: "ONNX external data file is missing",
    remedy: "download the model's data files next to it, or check that the model is complete",
};
/// External data entries that are missing, not numbers, or point past the data file.
pub const EXTERNAL_DATA_INVALID: Code = Code {
    id: "onnx-external-data-invalid",
    severity: Severity::Medium,
    title: "ONNX external data entry is malformed or out of range",
    remedy: "do not load the model; re-export it with `onnx.save_model(..., save_as_external_data=True)`",
};
/// Operators from domains outside the ONNX standard and onnxruntime.
pub const CUSTOM_DOMAIN: Code = Code {
    id: "onnx-custom-domain",
    severity: Severity::Info,
    title: "ONNX model uses operators from custom domains",
    remedy: "running the model needs a custom operator library; check where that library comes from before registering it",
};
/// The protobuf could not be read to the end.
pub const MALFORMED: Code = Code {
    id: "onnx-malformed",
    severity: Severity::Medium,
    title: "ONNX model could not be fully parsed",
    remedy: "the model was not fully inspected; re-export it with the `onnx` library or inspect it by hand",
};
/// A limit stopped the walk.
pub const LIMIT_EXCEEDED: Code = Code {
    id: "onnx-limit-exceeded",
    severity: Severity::Medium,
    title: "ONNX model exceeds a scan limit",
    remedy: "the model was not fully inspected; raise the limit named in the message only for a model you trust",
};

/// Every ONNX code.
pub const CODES: &[Code] = &[
    EXTERNAL_DATA_ESCAPE,
    EXTERNAL_DATA_MISSING,
    EXTERNAL_DATA_INVALID,
    CUSTOM_DOMAIN,
    MALFORMED,
    LIMIT_EXCEEDED,
];

/// Operator domains that need no extra library: the ONNX standard domains, and
/// `com.microsoft`, whose operators are compiled into onnxruntime itself (its optimizer
/// writes them into ordinary models).
pub const STANDARD_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
];

/// Adapts a [`Source`] to the reader trait the protobuf and HDF5 parsers take (a
/// `dyn Source` cannot be passed as a `dyn ReadSeek` directly). Shared by the ONNX,
/// TensorFlow and Keras rules.
pub(crate) struct Adapter<'a>(pub(crate) &'a mut dyn Source);

impl Read for Adapter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for Adapter<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

/// What the ONNX rules found, with facts for `ward bom`.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The findings.
    pub findings: Vec<Finding>,
    /// The parsed facts (nodes, opsets, external tensors).
    pub model: Model,
}

/// Scans the ONNX model in the first `len` bytes of `src`.
pub fn scan(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    scan_model(src, len, loc, ctx).findings
}

/// Scans the ONNX model and returns the parsed facts as well.
pub fn scan_model(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Outcome {
    let mut adapter = Adapter(src);
    let model = onnx::parse(&mut adapter, len, &ctx.limits, &ctx.budget);
    let mut findings = Vec::new();
    if let Some(error) = &model.error {
        let code = if error.is_limit() {
            LIMIT_EXCEEDED
        } else {
            MALFORMED
        };
        findings.push(Finding::new(
            code,
            loc.clone(),
            format!("{error}; what follows was not inspected"),
        ));
    }
    external_data(&model, loc, &mut findings);
    custom_domains(&model, loc, &mut findings);
    Outcome { findings, model }
}

fn custom_domains(model: &Model, loc: &Location, findings: &mut Vec<Finding>) {
    // Domain -> op types (or `opset import` when only imported).
    let mut domains: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in &model.nodes {
        if !STANDARD_DOMAINS.contains(&node.domain.as_str()) {
            let ops = domains.entry(node.domain.as_str()).or_default();
            if !ops.contains(&node.op_type.as_str()) {
                ops.push(node.op_type.as_str());
            }
        }
    }
    for import in &model.opset_imports {
        if !STANDARD_DOMAINS.contains(&import.domain.as_str()) {
            domains.entry(import.domain.as_str()).or_default();
        }
    }
    if domains.is_empty() {
        return;
    }
    let list: Vec<String> = domains
        .iter()
        .map(|(domain, ops)| {
            if ops.is_empty() {
                format!("`{domain}` (imported, unused)")
            } else {
                let ops: Vec<String> = ops.iter().take(10).map(|op| format!("`{op}`")).collect();
                format!("`{domain}` ({})", ops.join(", "))
            }
        })
        .collect();
    findings.push(Finding::new(
        CUSTOM_DOMAIN,
        loc.clone(),
        format!("operators from custom domains: {}", list.join("; ")),
    ));
}

/// The external data files a model at `model_path` reads as raw tensor bytes: each
/// relative location that stays inside the model's directory. Escaping locations are
/// findings of their own and are never claimed.
pub fn claimed_files(model: &Model, model_path: &Path) -> Vec<PathBuf> {
    let dir = model_path.parent().unwrap_or(Path::new(""));
    let locations: std::collections::BTreeSet<&str> = model
        .external_tensors
        .iter()
        .filter_map(|tensor| tensor.location.as_deref())
        .filter(|l| !l.is_empty() && !l.contains('\0') && !is_absolute(l) && !climbs(l))
        .collect();
    locations.into_iter().map(|l| dir.join(l)).collect()
}

/// Whether a location is absolute on any platform a model might be loaded on.
fn is_absolute(location: &str) -> bool {
    let bytes = location.as_bytes();
    location.starts_with('/')
        || location.starts_with('\\')
        || matches!(bytes, [letter, b':', ..] if letter.is_ascii_alphabetic())
}

/// Whether any component of the location is `..`, with either separator.
fn climbs(location: &str) -> bool {
    location.split(['/', '\\']).any(|part| part == "..")
}

fn external_data(model: &Model, loc: &Location, findings: &mut Vec<Finding>) {
    // One finding per distinct location: exported models often keep every tensor in one
    // data file.
    let mut by_location: BTreeMap<&str, Vec<&ExternalTensor>> = BTreeMap::new();
    for t in &model.external_tensors {
        match t.location.as_deref() {
            Some(l) if !l.is_empty() && !l.contains('\0') => by_location.entry(l).or_default().push(t),
            _ => findings.push(Finding::new(
                EXTERNAL_DATA_INVALID,
                loc.at(t.at),
                format!(
                    "tensor `{}` in {} says its data is external but has no usable `location` entry",
                    t.name, t.scope
                ),
            )),
        }
    }
    // Files on disk can be checked only for a model that is itself a file on disk; inside
    // an archive or on stdin only the lexical checks apply.
    let on_disk = loc.members.is_empty() && loc.path != "-" && loc.path != crate::scan::STDIN_NAME;
    let model_dir = on_disk.then(|| match Path::new(&loc.path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    });
    for (location, tensors) in by_location {
        let first = tensors.first().map(|t| t.at);
        let at = first.map_or_else(|| loc.clone(), |o| loc.at(o));
        let names = tensor_names(&tensors);
        if is_absolute(location) || climbs(location) {
            findings.push(Finding::new(
                EXTERNAL_DATA_ESCAPE,
                at,
                format!(
                    "external data location `{location}` is {} (tensors {names})",
                    if is_absolute(location) {
                        "an absolute path"
                    } else {
                        "a path that climbs with `..`"
                    }
                ),
            ));
            continue;
        }
        let Some(dir) = &model_dir else { continue };
        check_on_disk(dir, location, &tensors, &names, at, findings);
    }
}

fn tensor_names(tensors: &[&ExternalTensor]) -> String {
    let mut names: Vec<String> = tensors
        .iter()
        .take(5)
        .map(|t| format!("`{}`", t.name))
        .collect();
    if tensors.len() > 5 {
        names.push(format!("and {} more", tensors.len().saturating_sub(5)));
    }
    names.join(", ")
}

fn check_on_disk(
    dir: &Path,
    location: &str,
    tensors: &[&ExternalTensor],
    names: &str,
    at: Location,
    findings: &mut Vec<Finding>,
) {
    let target = dir.join(location);
    let real = match target.canonicalize() {
        Ok(real) => real,
        Err(_) => {
            // A dangling symlink is missing too, but where it points matters more.
            if let Ok(link) = std::fs::read_link(&target) {
                findings.push(Finding::new(
                    EXTERNAL_DATA_ESCAPE,
                    at,
                    format!(
                        "external data location `{location}` is a symlink to `{}` that does not resolve inside the model directory (tensors {names})",
                        link.display()
                    ),
                ));
                return;
            }
            findings.push(Finding::new(
                EXTERNAL_DATA_MISSING,
                at,
                format!(
                    "external data file `{location}` does not exist next to the model (tensors {names})\nhint: download the data files that belong to the model"
                ),
            ));
            return;
        }
    };
    let inside = dir.canonicalize().is_ok_and(|root| real.starts_with(root));
    if !inside {
        findings.push(Finding::new(
            EXTERNAL_DATA_ESCAPE,
            at,
            format!(
                "external data location `{location}` resolves to `{}`, outside the model directory, through a symlink (tensors {names})",
                real.display()
            ),
        ));
        return;
    }
    let size = std::fs::metadata(&real).map(|m| m.len()).ok();
    for t in tensors {
        let offset = parse_number(t.offset.as_deref());
        let length = parse_number(t.length.as_deref());
        let problem = match (offset, length, size) {
            (Err(v), _, _) => Some(format!("`offset` entry `{v}` is not a number")),
            (_, Err(v), _) => Some(format!("`length` entry `{v}` is not a number")),
            (Ok(o), Ok(l), Some(size)) => {
                let end = o.unwrap_or(0).checked_add(l.unwrap_or(0));
                match end {
                    Some(end) if end <= size => None,
                    _ => Some(format!(
                        "`offset` {} plus `length` {} runs past the end of `{location}` ({size} bytes)",
                        o.unwrap_or(0),
                        l.unwrap_or(0)
                    )),
                }
            }
            (Ok(_), Ok(_), None) => Some(format!("`{location}` cannot be read")),
        };
        if let Some(problem) = problem {
            findings.push(Finding::new(
                EXTERNAL_DATA_INVALID,
                at.clone(),
                format!("tensor `{}` in {}: {problem}", t.name, t.scope),
            ));
        }
    }
}

/// An optional decimal entry: `Ok(None)` when absent, `Err(value)` when not a number.
fn parse_number(value: Option<&str>) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ward_formats::Limits;
    use ward_formats::onnx::build::*;

    use super::*;

    fn run(bytes: &[u8], loc: &Location) -> Vec<Finding> {
        let ctx = Context::new(Limits::default());
        let mut cur = Cursor::new(bytes.to_vec());
        scan(&mut cur, bytes.len() as u64, loc, &ctx)
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        let mut ids: Vec<_> = findings.iter().map(|f| f.code.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn with_external(location: &str) -> Vec<u8> {
        let g = graph(
            "main",
            vec![node("n", "Relu", "", vec![])],
            vec![external_tensor("w", location, 0, 8)],
        );
        model(g, vec![opset("", 17)], vec![])
    }

    #[test]
    fn clean_model_has_no_findings() {
        let g = graph(
            "main",
            vec![node("n", "Relu", "", vec![])],
            vec![tensor("w", &[0; 16])],
        );
        let bytes = model(g, vec![opset("", 17), opset("ai.onnx.ml", 3)], vec![]);
        assert_eq!(run(&bytes, &Location::file("m.onnx")), []);
    }

    #[test]
    fn lexical_escapes_are_critical_even_inside_archives() {
        let loc = Location::file("a.zip").member("m.onnx");
        for bad in [
            "/etc/passwd",
            "..\\..\\secret",
            "data/../../x",
            "C:\\Windows\\win.ini",
        ] {
            let f = run(&with_external(bad), &loc);
            assert_eq!(ids(&f), ["onnx-external-data-escape"], "{bad}");
            assert_eq!(f[0].severity, Severity::Critical);
        }
        // Inside an archive nothing can be checked on disk.
        assert_eq!(run(&with_external("weights.bin"), &loc), []);
    }

    #[test]
    fn files_on_disk_are_checked_for_presence_range_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let model_path = dir.path().join("m.onnx");
        let loc = Location::file(model_path.to_string_lossy());
        assert_eq!(
            ids(&run(&with_external("weights.bin"), &loc)),
            ["onnx-external-data-missing"]
        );
        std::fs::write(dir.path().join("weights.bin"), [0u8; 8]).unwrap();
        assert_eq!(run(&with_external("weights.bin"), &loc), []);
        std::fs::write(dir.path().join("short.bin"), [0u8; 4]).unwrap();
        assert_eq!(
            ids(&run(&with_external("short.bin"), &loc)),
            ["onnx-external-data-invalid"]
        );
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), [0u8; 64]).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link.bin"))
            .unwrap();
        assert_eq!(
            ids(&run(&with_external("link.bin"), &loc)),
            ["onnx-external-data-escape"]
        );
        std::os::unix::fs::symlink("/nonexistent/ward", dir.path().join("dangling.bin")).unwrap();
        assert_eq!(
            ids(&run(&with_external("dangling.bin"), &loc)),
            ["onnx-external-data-escape"]
        );
    }

    #[test]
    fn custom_domains_are_info_with_their_names() {
        let inner = graph("then", vec![node("h", "Evil", "evil.ops", vec![])], vec![]);
        let g = graph(
            "main",
            vec![node(
                "if",
                "If",
                "",
                vec![graph_attribute("then_branch", inner)],
            )],
            vec![],
        );
        let f = function(
            "local.fns",
            "F",
            vec![node("m", "Mystery", "custom.fn", vec![])],
        );
        let bytes = model(g, vec![opset("", 17), opset("com.microsoft", 1)], vec![f]);
        let found = run(&bytes, &Location::file("m.onnx"));
        assert_eq!(ids(&found), ["onnx-custom-domain"]);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(
            found[0].message.contains("`evil.ops` (`Evil`)"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].message.contains("`custom.fn` (`Mystery`)"),
            "{}",
            found[0].message
        );
        assert!(!found[0].message.contains("com.microsoft"));
    }

    #[test]
    fn malformed_and_limits_are_reported() {
        let bytes = with_external("weights.bin");
        let cut = &bytes[..bytes.len() - 2];
        let loc = Location::file("a.zip").member("m.onnx");
        assert_eq!(ids(&run(cut, &loc)), ["onnx-malformed"]);
        let mut ctx = Context::new(Limits {
            max_nesting: 1,
            ..Limits::default()
        });
        ctx.depth = 0;
        let mut cur = Cursor::new(bytes.clone());
        let f = scan(&mut cur, bytes.len() as u64, &loc, &ctx);
        assert_eq!(ids(&f), ["onnx-limit-exceeded"]);
    }

    /// Every fixture of the graph formats, scanned file by file through the engine from
    /// a real directory, reports exactly the codes it expects.
    #[test]
    fn graph_fixtures_report_exactly_their_codes() {
        use std::collections::BTreeSet;
        let root = tempfile::tempdir().unwrap();
        for fixture in ward_fixtures::graphs::fixtures() {
            let base = fixture.write(root.path()).unwrap();
            let mut found = BTreeSet::new();
            let mut all = Vec::new();
            for (rel, _) in &fixture.files {
                let path = if rel.is_empty() {
                    base.clone()
                } else {
                    base.join(rel)
                };
                let bytes = std::fs::read(&path).unwrap();
                let ctx = Context::new(Limits::default());
                let out = crate::engine::scan_source(
                    &mut Cursor::new(bytes.clone()),
                    bytes.len() as u64,
                    &Location::file(path.to_string_lossy()),
                    &ctx,
                );
                found.extend(out.findings.iter().map(|f| f.code.id));
                all.extend(out.findings);
            }
            let want: BTreeSet<&str> = fixture.expect.iter().copied().collect();
            assert_eq!(found, want, "{}: {all:#?}", fixture.name);
        }
    }
}
