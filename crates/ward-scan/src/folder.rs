//! Rules for a model folder as a whole: a Hugging Face repository snapshot, a cache
//! snapshot (`hub/models--org--name/snapshots/<rev>/`, whose files are symlinks into
//! `blobs/`), or any local model directory.
//!
//! A folder runs code from its repository when `transformers` is asked to trust it: an
//! `auto_map` in `config.json` or in a tokenizer or processor config names classes in
//! Python files shipped beside the weights, and `from_pretrained(..., trust_remote_code=True)`
//! imports those files. That is arbitrary code execution by design, so the folder is
//! reported with the files involved. The chat template in `tokenizer_config.json` (or
//! `chat_template.jinja`) gets the same sandbox-escape analysis as a GGUF template.
//!
//! The weight files themselves are scanned by content, one by one, by the walker; this
//! module only reads small JSON and template files, each bounded by
//! [`Limits::max_header_bytes`](ward_formats::Limits::max_header_bytes).

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::template::{self, TemplateCodes};
use crate::{Code, Context, Finding, Location, Severity};

/// The folder names Python code that loading it with `trust_remote_code=True` runs.
pub const REMOTE_CODE: Code = Code {
    id: "hf-remote-code",
    severity: Severity::High,
    title: "model folder runs code from its repository",
    remedy: "read the named Python files before loading with `trust_remote_code=True`, or use a model that needs no remote code",
};
/// A config file that is not valid JSON or is too large to read.
pub const INVALID_CONFIG: Code = Code {
    id: "hf-invalid-config",
    severity: Severity::Low,
    title: "model folder config file could not be read",
    remedy: "check the file; a config ward cannot read is not known to be free of `auto_map` entries",
};
/// A chat template that reaches outside the Jinja sandbox.
pub const TEMPLATE_ESCAPE: Code = Code {
    id: "hf-chat-template-escape",
    severity: Severity::Critical,
    title: "chat template reaches Python internals (server-side template injection)",
    remedy: "do not serve this model; servers that render templates without a sandboxed environment run its code (CVE-2024-34359)",
};
/// A chat template using constructs that only serve to build an escape.
pub const TEMPLATE_SUSPICIOUS: Code = Code {
    id: "hf-chat-template-suspicious",
    severity: Severity::High,
    title: "chat template uses constructs ordinary templates do not",
    remedy: "read the template; replace it with the model family's published template before serving",
};
/// A chat template that is not valid Jinja.
pub const TEMPLATE_INVALID: Code = Code {
    id: "hf-chat-template-unparseable",
    severity: Severity::Medium,
    title: "chat template could not be parsed",
    remedy: "read the template; ward reports what it cannot parse instead of calling it clean",
};

/// Every code this module reports.
pub const CODES: &[Code] = &[
    REMOTE_CODE,
    INVALID_CONFIG,
    TEMPLATE_ESCAPE,
    TEMPLATE_SUSPICIOUS,
    TEMPLATE_INVALID,
];

const TEMPLATE_CODES: TemplateCodes = TemplateCodes {
    escape: TEMPLATE_ESCAPE,
    suspicious: TEMPLATE_SUSPICIOUS,
    invalid: TEMPLATE_INVALID,
};

/// Config files whose `auto_map` or custom class names make `transformers` import code.
const CONFIGS: &[&str] = &[
    "config.json",
    "tokenizer_config.json",
    "processor_config.json",
    "preprocessor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
    "generation_config.json",
];

/// File name endings of weight files, used only to decide whether loose Python files sit
/// beside a model (the weights themselves are scanned by content by the walker).
const WEIGHT_ENDINGS: &[&str] = &[
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".gguf",
    ".onnx",
    ".h5",
    ".keras",
    ".msgpack",
    ".pkl",
    ".npz",
    ".joblib",
    ".pb",
    ".tflite",
    ".mlmodel",
    ".ot",
];

/// Runs the folder rules on `dir` (its direct entries only; the walker calls this once per
/// directory). `root` is the canonical directory the user named; `loc` is `dir` as the user
/// sees it.
pub fn scan_dir(dir: &Path, root: &Path, loc: &Location, ctx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return findings;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        // Symlinks are followed for files (the Hugging Face cache links snapshots to
        // blobs), but only inside `root`: the walker reports a link that leads outside as
        // `symlink-outside-root` and reads nothing through it, and neither do these rules.
        // Directories are the walker's business.
        .filter(|e| match e.file_type() {
            Ok(t) if t.is_symlink() => {
                fs::canonicalize(e.path()).is_ok_and(|target| target.starts_with(root))
                    && fs::metadata(e.path()).is_ok_and(|m| m.is_file())
            }
            Ok(t) => t.is_file(),
            Err(_) => false,
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let py_files: Vec<&String> = names.iter().filter(|n| n.ends_with(".py")).collect();
    let has_weights = names
        .iter()
        .any(|n| WEIGHT_ENDINGS.iter().any(|w| n.ends_with(w)));
    let has_config = names.iter().any(|n| n == "config.json");

    let mut reasons: Vec<String> = Vec::new();
    for config in CONFIGS {
        if !names.iter().any(|n| n == config) {
            continue;
        }
        let file_loc = child(loc, config);
        let Some(value) = read_json(&dir.join(config), &file_loc, ctx, &mut findings) else {
            continue;
        };
        let mut refs = Vec::new();
        if let Some(auto_map) = value.get("auto_map") {
            collect_refs(auto_map, &mut refs);
            if refs.is_empty() {
                refs.push("an `auto_map` entry".to_owned());
            }
        }
        if let Some(pipelines) = value.get("custom_pipelines") {
            let mut found = Vec::new();
            collect_refs(pipelines, &mut found);
            refs.extend(found.into_iter().filter(|r| r.contains('.')));
            if refs.is_empty() {
                refs.push("a `custom_pipelines` entry".to_owned());
            }
        }
        // A `*_class` naming a class that one of the folder's Python files defines is a
        // custom class even without `auto_map`.
        if let Some(object) = value.as_object() {
            for (key, v) in object {
                if let (true, Some(class)) = (key.ends_with("_class"), v.as_str())
                    && defines_class(dir, &py_files, class, ctx)
                {
                    refs.push(format!("custom class `{class}`"));
                }
            }
        }
        if !refs.is_empty() {
            refs.sort();
            refs.dedup();
            reasons.push(format!("`{config}` names {}", refs.join(", ")));
        }
        if *config == "tokenizer_config.json" {
            templates(&value, &file_loc, ctx, &mut findings);
        }
    }
    if !py_files.is_empty() && (has_weights || has_config || !reasons.is_empty()) {
        let listed: Vec<String> = py_files.iter().map(|n| format!("`{n}`")).collect();
        reasons.push(format!(
            "Python files beside the weights: {}",
            listed.join(", ")
        ));
    }
    if !reasons.is_empty() {
        findings.push(Finding::new(
            REMOTE_CODE,
            loc.clone(),
            format!(
                "this model runs code from its repository, which `trust_remote_code=True` would import and run: {}",
                reasons.join("; ")
            ),
        ));
    }
    for name in ["chat_template.jinja"] {
        if names.iter().any(|n| n == name) {
            let file_loc = child(loc, name);
            if let Some(text) = read_small(&dir.join(name), &file_loc, ctx, &mut findings) {
                findings.extend(template::check(
                    &String::from_utf8_lossy(&text),
                    name,
                    &file_loc,
                    ctx,
                    &TEMPLATE_CODES,
                ));
            }
        }
    }
    findings
}

fn child(loc: &Location, name: &str) -> Location {
    let sep = if loc.path.ends_with('/') || loc.path.is_empty() {
        ""
    } else {
        "/"
    };
    Location::file(format!("{}{sep}{name}", loc.path))
}

/// Reads a small file, reporting one too large for the header limit.
fn read_small(
    path: &Path,
    loc: &Location,
    ctx: &Context,
    findings: &mut Vec<Finding>,
) -> Option<Vec<u8>> {
    let len = fs::metadata(path).ok()?.len();
    if len > ctx.limits.max_header_bytes {
        findings.push(Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            format!(
                "the file has `{len}` bytes, more than the limit of `{}` bytes, and was not read",
                ctx.limits.max_header_bytes
            ),
        ));
        return None;
    }
    match fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(err) => {
            findings.push(Finding::new(
                INVALID_CONFIG,
                loc.clone(),
                format!("the file could not be read: {err}"),
            ));
            None
        }
    }
}

fn read_json(
    path: &Path,
    loc: &Location,
    ctx: &Context,
    findings: &mut Vec<Finding>,
) -> Option<Value> {
    let bytes = read_small(path, loc, ctx, findings)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => Some(value),
        Err(err) => {
            findings.push(Finding::new(
                INVALID_CONFIG,
                loc.clone(),
                format!("the file is not valid JSON: {err}"),
            ));
            None
        }
    }
}

/// Collects the string leaves of an `auto_map`-like value (class references such as
/// `modeling_x.MyModel` or `org/repo--modeling_x.MyModel`).
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    // `serde_json` bounds nesting at 128 while parsing, so this recursion is bounded.
    match value {
        Value::String(s) => out.push(format!("`{s}`")),
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Whether one of `py_files` in `dir` contains `class <name>`.
fn defines_class(dir: &Path, py_files: &[&String], class: &str, ctx: &Context) -> bool {
    let needle = format!("class {class}");
    py_files.iter().any(|f| {
        let path = dir.join(f.as_str());
        fs::metadata(&path).is_ok_and(|m| m.len() <= ctx.limits.max_header_bytes)
            && fs::read(&path).is_ok_and(|b| {
                String::from_utf8_lossy(&b)
                    .match_indices(&needle)
                    .any(|(i, _)| {
                        !b.get(i + needle.len())
                            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    })
            })
    })
}

/// Checks `chat_template` in a tokenizer config: a string, or a list of `{name, template}`.
fn templates(value: &Value, loc: &Location, ctx: &Context, findings: &mut Vec<Finding>) {
    match value.get("chat_template") {
        Some(Value::String(text)) => findings.extend(template::check(
            text,
            "chat_template",
            loc,
            ctx,
            &TEMPLATE_CODES,
        )),
        Some(Value::Array(items)) => {
            for item in items {
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("chat_template");
                if let Some(text) = item.get("template").and_then(Value::as_str) {
                    findings.extend(template::check(text, name, loc, ctx, &TEMPLATE_CODES));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use ward_formats::Limits;

    use super::*;

    fn run(files: &[(&str, &str)], limits: Limits) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        let root = fs::canonicalize(dir.path()).unwrap();
        scan_dir(
            &root,
            &root,
            &Location::file("model"),
            &Context::new(limits),
        )
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code.id).collect()
    }

    #[test]
    fn a_plain_model_folder_is_clean() {
        let f = run(
            &[
                (
                    "config.json",
                    r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama"}"#,
                ),
                (
                    "tokenizer_config.json",
                    r#"{"tokenizer_class":"LlamaTokenizer","chat_template":"{{ messages[0]['content'] }}"}"#,
                ),
                ("model.safetensors", "x"),
            ],
            Limits::default(),
        );
        assert_eq!(ids(&f), Vec::<&str>::new());
    }

    #[test]
    fn auto_map_and_python_files_are_remote_code() {
        let f = run(
            &[
                (
                    "config.json",
                    r#"{"auto_map":{"AutoModel":"modeling_evil.EvilModel"}}"#,
                ),
                ("modeling_evil.py", "import os\nclass EvilModel: pass\n"),
            ],
            Limits::default(),
        );
        assert_eq!(ids(&f), ["hf-remote-code"]);
        assert!(
            f[0].message.contains("modeling_evil.EvilModel")
                && f[0].message.contains("`modeling_evil.py`")
        );
        let f = run(
            &[
                (
                    "tokenizer_config.json",
                    r#"{"tokenizer_class":"EvilTokenizer"}"#,
                ),
                ("tok.py", "class EvilTokenizer:\n  pass\n"),
            ],
            Limits::default(),
        );
        assert_eq!(ids(&f), ["hf-remote-code"]);
        // Python files alone, with no weights or config, are a source tree, not a model.
        assert_eq!(
            ids(&run(&[("setup.py", "")], Limits::default())),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn chat_templates_and_bad_configs_are_reported() {
        let f = run(
            &[(
                "tokenizer_config.json",
                r#"{"chat_template":"{{ lipsum.__globals__ }}"}"#,
            )],
            Limits::default(),
        );
        assert_eq!(ids(&f), ["hf-chat-template-escape"]);
        let f = run(&[("config.json", "{not json")], Limits::default());
        assert_eq!(ids(&f), ["hf-invalid-config"]);
    }

    /// Runs this area's rules over one generated fixture, dispatching files by content as
    /// the engine does, and returns the distinct codes found.
    fn scan_fixture(root: &Path, fixture: &ward_fixtures::Fixture) -> Vec<&'static str> {
        use ward_formats::detect::{Format, PREFIX_LEN, detect};
        let ctx = Context::new(Limits::default());
        let base = fixture.write(root).unwrap();
        let mut codes = Vec::new();
        let mut dirs = vec![base.clone()];
        let mut files = Vec::new();
        if base.is_file() {
            files.push(base.clone());
            dirs.clear();
        }
        let canonical_root = fs::canonicalize(root).unwrap();
        while let Some(dir) = dirs.pop() {
            let loc = Location::file(dir.display().to_string());
            for f in scan_dir(&dir, &canonical_root, &loc, &ctx) {
                codes.push(f.code.id);
            }
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path)
                } else {
                    files.push(path)
                }
            }
        }
        for path in files {
            let bytes = fs::read(&path).unwrap();
            let len = bytes.len() as u64;
            let format = detect(bytes.get(..PREFIX_LEN.min(bytes.len())).unwrap(), len);
            let loc = Location::file(path.display().to_string());
            let mut src = std::io::Cursor::new(bytes);
            let found = match format {
                Format::Safetensors => crate::safetensors::scan(&mut src, len, &loc, &ctx),
                Format::Gguf => crate::gguf::scan(&mut src, len, &loc, &ctx),
                _ => Vec::new(),
            };
            codes.extend(found.iter().map(|f| f.code.id));
        }
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    #[test]
    fn every_tensor_fixture_reports_exactly_its_codes() {
        let root = tempfile::tempdir().unwrap();
        let fixtures = ward_fixtures::tensors::fixtures();
        assert!(fixtures.len() > 40);
        for fixture in fixtures {
            let mut want = fixture.expect.clone();
            want.sort_unstable();
            want.dedup();
            assert_eq!(
                scan_fixture(root.path(), &fixture),
                want,
                "fixture `{}`",
                fixture.name
            );
        }
    }

    /// A Hugging Face cache: snapshot files are symlinks into `blobs/`, named by digest.
    /// Scanning the repository folder must scan every blob by content and run the folder
    /// rules on the snapshot through its links.
    #[cfg(unix)]
    #[test]
    fn a_hugging_face_cache_is_scanned_through_its_links() {
        use std::os::unix::fs::symlink;

        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("hub/models--org--name");
        let (blobs, snap) = (repo.join("blobs"), repo.join("snapshots/0123abcd"));
        fs::create_dir_all(&blobs).unwrap();
        fs::create_dir_all(&snap).unwrap();
        let fixtures = ward_fixtures::tensors::fixtures();
        let escape = fixtures
            .iter()
            .find(|f| f.name.ends_with("template-cycler-globals-popen.gguf"))
            .unwrap();
        let files: [(&str, &str, Vec<u8>); 3] = [
            (
                "model.safetensors",
                "9f86d081884c7d65",
                escape.files[0].1.clone(),
            ),
            (
                "config.json",
                "2c26b46b68ffc68f",
                br#"{"auto_map":{"AutoModel":"modeling_x.X"}}"#.to_vec(),
            ),
            (
                "modeling_x.py",
                "fcde2b2edba56bf4",
                b"class X:\n    pass\n".to_vec(),
            ),
        ];
        for (name, digest, bytes) in &files {
            fs::write(blobs.join(digest), bytes).unwrap();
            symlink(format!("../../blobs/{digest}"), snap.join(name)).unwrap();
        }
        let report = crate::scan::scan_paths(
            std::slice::from_ref(&repo),
            &crate::scan::ScanOptions::new(),
            &|_| {},
        );
        let codes: Vec<(&str, &str)> = report
            .files
            .iter()
            .flat_map(|f| {
                f.findings
                    .iter()
                    .map(move |r| (f.path.as_str(), r.finding.code.id))
            })
            .collect();
        assert!(
            codes
                .iter()
                .any(|(p, c)| p.ends_with("snapshots/0123abcd/model.safetensors")
                    && *c == "gguf-chat-template-escape"),
            "{codes:?}"
        );
        assert!(
            codes
                .iter()
                .any(|(p, c)| p.ends_with("9f86d081884c7d65") && *c == "gguf-chat-template-escape"),
            "{codes:?}"
        );
        assert!(
            codes.iter().any(|(_, c)| *c == "hf-remote-code"),
            "{codes:?}"
        );
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }

    /// A config linked from outside the folder the user named is not read: the walk
    /// reports the link and does not follow it, and the folder rules must not either.
    #[cfg(unix)]
    #[test]
    fn configs_linked_from_outside_the_root_are_not_read() {
        use std::os::unix::fs::symlink;

        let base = tempfile::tempdir().unwrap();
        let shared = base.path().join("shared");
        let model = base.path().join("model");
        fs::create_dir_all(&shared).unwrap();
        fs::create_dir_all(&model).unwrap();
        fs::write(
            shared.join("config.json"),
            br#"{"auto_map":{"AutoModel":"modeling_x.X"}}"#,
        )
        .unwrap();
        fs::write(
            shared.join("chat_template.jinja"),
            "{{ cycler.__init__.__globals__.os.popen('id') }}",
        )
        .unwrap();
        for name in ["config.json", "chat_template.jinja"] {
            symlink(format!("../shared/{name}"), model.join(name)).unwrap();
        }
        // Findings of the `model` folder itself, by code.
        let model_codes = |named: &Path| {
            let report = crate::scan::scan_paths(
                &[named.to_path_buf()],
                &crate::scan::ScanOptions::new(),
                &|_| {},
            );
            let mut codes: Vec<&str> = report
                .files
                .iter()
                .filter(|f| f.path.contains("model"))
                .flat_map(|f| f.findings.iter().map(|r| r.finding.code.id))
                .collect();
            codes.sort();
            codes.dedup();
            codes
        };
        // Named directly, the links lead outside: reported, never read.
        let codes = model_codes(&model);
        assert!(codes.contains(&"scan-symlink-outside-root"), "{codes:?}");
        assert!(!codes.contains(&"hf-remote-code"), "{codes:?}");
        assert!(!codes.iter().any(|c| c.contains("template")), "{codes:?}");
        // Named through their common parent, the same links stay inside and are read.
        let codes = model_codes(base.path());
        assert!(!codes.contains(&"scan-symlink-outside-root"), "{codes:?}");
        assert!(codes.contains(&"hf-remote-code"), "{codes:?}");
    }

    #[test]
    fn the_header_limit_bounds_config_reads() {
        let files = [(
            "config.json",
            r#"{"model_type":"llama","hidden_size":4096}"#,
        )];
        assert_eq!(
            ids(&run(
                &files,
                Limits {
                    max_header_bytes: 8,
                    ..Limits::default()
                }
            )),
            ["hf-invalid-config"]
        );
        assert_eq!(ids(&run(&files, Limits::default())), Vec::<&str>::new());
    }
}
