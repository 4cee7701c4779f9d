//! `ward bom` end to end: a project tree written by the real libraries
//! (`tests/gen/bom_tree.py`) is inventoried by the real binary, and the documents are
//! checked against an independent reading (Python's hashlib, the generator's own counts),
//! validated with the official schemas (cyclonedx-python-lib's strict JSON validator for
//! CycloneDX 1.6 and 1.7, the SPDX 3.0.1 JSON schema), diffed, and signed.
//!
//! Needs `WARD_TEST_PYTHON` (set by `./scripts/test`); fails loudly without it.

// This whole crate is a test: a failed setup step must stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const WARD: &str = env!("CARGO_BIN_EXE_ward");
/// A fixed creation time, so documents are reproducible.
const EPOCH: &str = "1767225600";

#[path = "../support/mod.rs"]
mod support;
use support::{make_pki, python, repo_root};

struct Tree {
    dir: tempfile::TempDir,
    expected: Value,
}

impl Tree {
    fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// The generated tree, made once per test binary.
fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(python())
            .arg(repo_root().join("tests/gen/bom_tree.py"))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bom_tree.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected =
            serde_json::from_slice(&fs::read(dir.path().join("expected.json")).unwrap()).unwrap();
        Tree { dir, expected }
    })
}

fn ward(cwd: &Path, args: &[&str]) -> Output {
    Command::new(WARD)
        .current_dir(cwd)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

/// Runs `ward bom` in `cwd` on `input` and returns the parsed document.
fn bom(cwd: &Path, input: &str, format: &str, extra: &[&str]) -> Value {
    // Tests share the generated tree: every run writes its own document.
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_path = cwd.join(format!("bom-{format}-{n}.json"));
    let out_arg = out_path.display().to_string();
    let mut args = vec!["bom", "--format", format, "-o", &out_arg];
    args.extend_from_slice(extra);
    args.push(input);
    let out = ward(cwd, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "ward bom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&fs::read(&out_path).unwrap()).unwrap()
}

fn components(doc: &Value) -> BTreeMap<String, Value> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["bom-ref"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

fn prop<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?["value"]
        .as_str()
}

fn sha(c: &Value) -> Option<&str> {
    c["hashes"]
        .as_array()?
        .iter()
        .find(|h| h["alg"] == "SHA-256")?["content"]
        .as_str()
}

/// `path -> sha256` of a component's files (nested file components, or the component
/// itself when it is one file).
fn files_of(c: &Value) -> BTreeMap<String, String> {
    match c["components"].as_array() {
        Some(files) => files
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    sha(f).unwrap().to_owned(),
                )
            })
            .collect(),
        None => BTreeMap::from([(
            prop(c, "ward:path").unwrap().to_owned(),
            sha(c).unwrap().to_owned(),
        )]),
    }
}

fn project_bom() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| bom(tree().root(), "project", "cyclonedx-1.6", &[]))
}

#[test]
fn every_model_dataset_and_prompt_appears_with_its_sha256() {
    let t = tree();
    let comps = components(project_bom());
    let sha256 = &t.expected["sha256"];
    for (id, want) in t.expected["models"].as_object().unwrap() {
        let c = comps.get(id).unwrap_or_else(|| {
            panic!(
                "model `{id}` missing; have {:?}",
                comps.keys().collect::<Vec<_>>()
            )
        });
        assert_eq!(c["type"], "machine-learning-model", "{id}");
        let files = files_of(c);
        let want_files: BTreeSet<&str> = want["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(
            files.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            want_files,
            "files of {id}"
        );
        for (path, digest) in &files {
            assert_eq!(
                sha256[path].as_str(),
                Some(digest.as_str()),
                "sha256 of {path} in {id}"
            );
        }
        assert!(
            sha(c).is_some_and(|s| s.len() == 64),
            "{id} has no component digest"
        );
        assert_eq!(
            prop(c, "ward:scan:verdict"),
            want["verdict"].as_str(),
            "verdict of {id}"
        );
    }
    for (id, want) in t.expected["dataset_files"].as_object().unwrap() {
        let c = comps
            .get(id)
            .unwrap_or_else(|| panic!("dataset `{id}` missing"));
        assert_eq!(c["type"], "data", "{id}");
        let files = files_of(c);
        for path in want.as_array().unwrap() {
            let path = path.as_str().unwrap();
            assert_eq!(
                files.get(path).map(String::as_str),
                sha256[path].as_str(),
                "{path} in {id}"
            );
        }
    }
    for (id, digest) in t.expected["prompts"].as_object().unwrap() {
        let c = comps.get(id).unwrap_or_else(|| {
            panic!(
                "prompt `{id}` missing; have {:?}",
                comps
                    .keys()
                    .filter(|k| k.starts_with("prompt:"))
                    .collect::<Vec<_>>()
            )
        });
        assert_eq!(sha(c), digest.as_str(), "digest of {id}");
    }
    let purls: BTreeSet<&str> = comps.values().filter_map(|c| c["purl"].as_str()).collect();
    for purl in t.expected["libraries"].as_array().unwrap() {
        assert!(
            purls.contains(purl.as_str().unwrap()),
            "library {purl} missing; have {purls:?}"
        );
    }
    // bom-refs are unique across the whole document, nested files included.
    let mut refs = BTreeSet::new();
    for c in project_bom()["components"].as_array().unwrap() {
        assert!(refs.insert(c["bom-ref"].as_str().unwrap().to_owned()));
        for f in c["components"].as_array().into_iter().flatten() {
            assert!(
                refs.insert(f["bom-ref"].as_str().unwrap().to_owned()),
                "duplicate {}",
                f["bom-ref"]
            );
        }
    }
}

fn card_prop<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["modelCard"]["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?["value"]
        .as_str()
}

#[test]
fn model_metadata_is_read_without_loading_weights() {
    let t = tree();
    let doc = project_bom();
    let comps = components(doc);
    let deps: BTreeMap<&str, Vec<&str>> = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["ref"].as_str().unwrap(),
                d["dependsOn"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    for (id, want) in t.expected["models"].as_object().unwrap() {
        let c = &comps[id];
        let params = &c["modelCard"]["modelParameters"];
        let check = |field: &str, got: Option<&str>| {
            if let Some(w) = want.get(field) {
                let w = match w {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(got, Some(w.as_str()), "{field} of {id}");
            }
        };
        check("parameters", card_prop(c, "ward:model:parameters"));
        check("tensors", card_prop(c, "ward:model:tensors"));
        check("architecture_family", params["architectureFamily"].as_str());
        check("architectures", params["modelArchitecture"].as_str());
        check("task", params["task"].as_str());
        check("context_length", card_prop(c, "ward:model:context-length"));
        check("quantization", card_prop(c, "ward:model:quantization"));
        check("languages", card_prop(c, "ward:model:languages"));
        check("opsets", card_prop(c, "ward:onnx:opsets"));
        check("producer", card_prop(c, "ward:onnx:producer"));
        check("name", c["name"].as_str());
        check("version", c["version"].as_str());
        check("purl", c["purl"].as_str());
        if let Some(license) = want.get("license") {
            assert_eq!(
                c["licenses"][0]["license"]["id"], *license,
                "license of {id}"
            );
        }
        if let Some(digest) = want.get("chat_template_sha256") {
            let props = c["modelCard"]["properties"].as_array().unwrap();
            assert!(
                props.iter().any(|p| p["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("ward:model:chat-template:")
                    && p["value"] == *digest),
                "chat template digest of {id}: {props:?}"
            );
        }
        for (field, key) in [("inputs", "inputs"), ("outputs", "outputs")] {
            if let Some(list) = want.get(field) {
                let got: Vec<&str> = params[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["format"].as_str().unwrap())
                    .collect();
                let want: Vec<&str> = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap())
                    .collect();
                assert_eq!(got, want, "{field} of {id}");
            }
        }
        for rel in ["trained_on", "derived_from"] {
            for target in want
                .get(rel)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let target = target.as_str().unwrap();
                assert!(
                    deps.get(id.as_str()).is_some_and(|d| d.contains(&target)),
                    "{id} should depend on {target}: {:?}",
                    deps.get(id.as_str())
                );
                assert!(comps.contains_key(target), "{target} has no component");
            }
        }
        if let Some(datasets) = want.get("trained_on") {
            let refs: Vec<&str> = params["datasets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["ref"].as_str().unwrap())
                .collect();
            for d in datasets.as_array().unwrap() {
                assert!(
                    refs.contains(&d.as_str().unwrap()),
                    "{id} modelCard datasets {refs:?}"
                );
            }
        }
        let completeness: u32 = prop(c, "ward:completeness").unwrap().parse().unwrap();
        assert!(completeness <= 100);
    }
    // The card gives the folder model licence, task, data and a card: most fields present.
    let folder = &comps["model:models/tiny-llama"];
    assert_eq!(
        prop(folder, "ward:completeness"),
        Some("85"),
        "{:?}",
        prop(folder, "ward:completeness:missing")
    );
    assert_eq!(prop(folder, "ward:completeness:missing"), Some("signature"));
    let evil = &comps["model:models/unsafe/evil.pkl"];
    assert!(
        prop(evil, "ward:scan:codes")
            .unwrap()
            .contains("pickle-dangerous-global")
    );
    assert_eq!(prop(evil, "ward:scan:max-severity"), Some("critical"));
}

fn validate_cyclonedx(version: &str, path: &Path) -> Output {
    let script = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
v = {"1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}[sys.argv[1]]
err = JsonStrictValidator(v).validate_str(open(sys.argv[2]).read())
if err is not None:
    print(err)
    sys.exit(1)
"#;
    Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(version)
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn documents_validate_against_the_official_schemas() {
    let t = tree();
    let work = tempfile::tempdir().unwrap();
    for (format, version) in [("cyclonedx-1.6", "1.6"), ("cyclonedx-1.7", "1.7")] {
        let doc = bom(t.root(), "project", format, &[]);
        assert_eq!(doc["specVersion"], version);
        let path = work.path().join(format!("{format}.json"));
        fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let out = validate_cyclonedx(version, &path);
        assert!(
            out.status.success(),
            "{format} invalid: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // The validator can fail: a component type the schema does not know is refused.
        let mut broken = doc.clone();
        broken["components"][0]["type"] = Value::from("weights");
        fs::write(&path, serde_json::to_vec(&broken).unwrap()).unwrap();
        assert!(
            !validate_cyclonedx(version, &path).status.success(),
            "{format}: broken document accepted"
        );
    }
    let doc = bom(t.root(), "project", "spdx-3.0.1", &[]);
    let path = work.path().join("spdx.json");
    fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("tests/gen/spdx_validate.py"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SPDX invalid: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every asset file's digest is in the SPDX document too.
    let text = serde_json::to_string(&doc).unwrap();
    for (id, want) in t.expected["models"].as_object().unwrap() {
        for f in want["files"].as_array().unwrap() {
            let digest = t.expected["sha256"][f.as_str().unwrap()].as_str().unwrap();
            assert!(text.contains(digest), "SPDX lacks the digest of {f} ({id})");
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

fn flip_last_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let last = bytes.last_mut().unwrap();
    *last ^= 0x01;
    // Hugging Face cache snapshots are links to blobs: write through the link.
    fs::write(path, bytes).unwrap();
}

#[test]
fn diff_detects_a_one_byte_change_in_any_weight_shard() {
    let t = tree();
    let work = tempfile::tempdir().unwrap();
    let old = bom(t.root(), "project", "cyclonedx-1.6", &[]);
    let old_path = work.path().join("old.json");
    fs::write(&old_path, serde_json::to_vec(&old).unwrap()).unwrap();
    let old_arg = old_path.display().to_string();

    // Identical trees: no drift.
    let same = ward(work.path(), &["bom", "diff", &old_arg, &old_arg]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );

    let weights = [
        "models/tiny-llama/model-00001-of-00002.safetensors",
        "models/tiny-llama/model-00002-of-00002.safetensors",
        "models/gguf/tiny-q4.gguf",
        "models/onnx/weights.bin",
        "models/sklearn/classifier.joblib",
        "data/train.parquet",
    ];
    for (i, weight) in weights.iter().enumerate() {
        let copy = work.path().join(format!("copy{i}"));
        fs::create_dir(&copy).unwrap();
        copy_tree(&t.root().join("project"), &copy);
        flip_last_byte(&copy.join("project").join(weight));
        let new = bom(&copy, "project", "cyclonedx-1.6", &[]);
        let new_path = work.path().join(format!("new{i}.json"));
        fs::write(&new_path, serde_json::to_vec(&new).unwrap()).unwrap();
        let out = ward(
            work.path(),
            &["bom", "diff", &old_arg, &new_path.display().to_string()],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "a changed {weight} was not drift:\n{text}"
        );
        assert!(
            text.contains(weight),
            "diff does not name {weight}:\n{text}"
        );
        assert!(text.contains("changed"), "{text}");
    }

    // A library upgrade alone is reported but is not model or dataset drift.
    let copy = work.path().join("libs");
    fs::create_dir(&copy).unwrap();
    copy_tree(&t.root().join("project"), &copy);
    let lock = copy.join("project/Cargo.lock");
    fs::write(
        &lock,
        fs::read_to_string(&lock)
            .unwrap()
            .replace("1.0.219", "1.0.220"),
    )
    .unwrap();
    let new = bom(&copy, "project", "spdx-3.0.1", &[]);
    let new_path = work.path().join("libs.json");
    fs::write(&new_path, serde_json::to_vec(&new).unwrap()).unwrap();
    // CycloneDX against SPDX of the same tree: the same components.
    let out = ward(
        work.path(),
        &[
            "bom",
            "diff",
            "--json",
            &old_arg,
            &new_path.display().to_string(),
        ],
    );
    let diff: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(0), "{diff:#}");
    assert_eq!(diff["drift"], false);
    let added: Vec<&str> = diff["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        added.iter().any(|a| a.contains("serde@1.0.220")),
        "{diff:#}"
    );
    assert!(
        diff["changed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] == "library"),
        "{diff:#}"
    );
}

#[test]
fn signatures_are_reported_and_verified_with_a_key() {
    let t = tree();
    let work = tempfile::tempdir().unwrap();
    let pki = work.path().join("pki");
    make_pki(&pki);
    let model = work.path().join("tiny-llama");
    copy_tree(&t.root().join("project/models/tiny-llama"), work.path());
    let key = pki.join("p256.pem").display().to_string();
    let signed = ward(
        work.path(),
        &["sign", "key", "--private-key", &key, "tiny-llama"],
    );
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    assert!(model.join("model.sig").is_file());

    let status = |doc: &Value| {
        let c = &components(doc)["model:."];
        (
            prop(c, "ward:signature:status").unwrap().to_owned(),
            prop(c, "ward:signature:reason").map(str::to_owned),
        )
    };
    let doc = bom(work.path(), "tiny-llama", "cyclonedx-1.6", &[]);
    assert_eq!(status(&doc).0, "unverified");
    // The signature file is not one of the model's files.
    assert!(!files_of(&components(&doc)["model:."]).contains_key("model.sig"));

    let public = pki.join("p256.pub").display().to_string();
    let doc = bom(
        work.path(),
        "tiny-llama",
        "cyclonedx-1.6",
        &["--verify-key", &public],
    );
    assert_eq!(status(&doc).0, "verified");
    assert!(
        prop(&components(&doc)["model:."], "ward:signature:signer")
            .unwrap()
            .starts_with("key sha256:")
    );

    let other = pki.join("other.pub").display().to_string();
    let doc = bom(
        work.path(),
        "tiny-llama",
        "cyclonedx-1.6",
        &["--verify-key", &other],
    );
    assert_eq!(status(&doc).0, "failed");

    flip_last_byte(&model.join("model-00002-of-00002.safetensors"));
    let doc = bom(
        work.path(),
        "tiny-llama",
        "cyclonedx-1.6",
        &["--verify-key", &public],
    );
    let (state, reason) = status(&doc);
    assert_eq!(state, "failed");
    assert!(reason.unwrap().contains("does not match"), "{doc:#}");
    // --fail-on turns a failed signature into exit 1.
    let out = ward(
        &model,
        &[
            "bom",
            "-q",
            "--verify-key",
            &public,
            "--fail-on",
            "critical",
            "-o",
            "x.json",
            ".",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn output_is_reproducible_with_source_date_epoch() {
    let t = tree();
    let a = bom(t.root(), "project/models", "cyclonedx-1.7", &[]);
    let b = bom(t.root(), "project/models", "cyclonedx-1.7", &[]);
    assert_eq!(a, b);
    assert_eq!(a["metadata"]["timestamp"], "2026-01-01T00:00:00Z");
    let serial = a["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    // Without it, every document gets its own serial number.
    let out = Command::new(WARD)
        .current_dir(t.root())
        .env_remove("SOURCE_DATE_EPOCH")
        .args(["bom", "-q", "project/models/gguf"])
        .output()
        .unwrap();
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(c["serialNumber"], a["serialNumber"]);
}

#[test]
fn the_text_summary_names_what_needs_attention() {
    let t = tree();
    let out = ward(t.root(), &["bom", "-o", "summary.json", "project"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    // Digests of files the Python libraries write (dataset fingerprints, writer versions)
    // are checked against hashlib above; here only the shape of the summary is pinned.
    insta::with_settings!({ filters => vec![(r"sha256:[0-9a-f]{12}", "sha256:[digest]"), (r"\d+(\.\d)? (B|KB|MB)\b", "[size]")] }, {
        insta::assert_snapshot!("summary", text);
    });
}

#[test]
fn an_unreadable_file_fails_the_run_but_the_rest_is_inventoried() {
    let t = tree();
    let work = tempfile::tempdir().unwrap();
    copy_tree(&t.root().join("project/models"), work.path());
    std::os::unix::fs::symlink(
        "missing.safetensors",
        work.path().join("models/gguf/gone.safetensors"),
    )
    .unwrap();
    let out = ward(work.path(), &["bom", "-o", "bom.json", "models"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("gone.safetensors"));
    let doc: Value =
        serde_json::from_slice(&fs::read(work.path().join("bom.json")).unwrap()).unwrap();
    let comps = components(&doc);
    assert!(
        sha(&comps["model:gguf/tiny-q4.gguf"]).is_some(),
        "{:?}",
        comps.keys().collect::<Vec<_>>()
    );
}

#[test]
fn every_model_format_of_the_scanner_corpus_is_a_model_with_its_format() {
    let work = tempfile::tempdir().unwrap();
    ward_fixtures::write_corpus(&work.path().join("corpus")).unwrap();
    let out = ward(work.path(), &["bom", "-q", "-o", "bom.json", "corpus"]);
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value =
        serde_json::from_slice(&fs::read(work.path().join("bom.json")).unwrap()).unwrap();
    let comps = components(&doc);
    for (id, format, verdict) in [
        ("model:containers/torch-zip-benign.pt", "pytorch", "clean"),
        ("model:containers/torch-zip-evil.pt", "pytorch", "findings"),
        ("model:graphs/keras-plain.keras", "keras", "clean"),
        ("model:graphs/keras-plain.h5", "keras", "clean"),
        ("model:graphs/keras-lambda.keras", "keras", "findings"),
        ("model:graphs/tf-frozen-plain.pb", "tensorflow", "clean"),
        ("model:graphs/tf-savedmodel-plain", "tensorflow", "clean"),
        ("model:graphs/onnx-plain.onnx", "onnx", "clean"),
        ("model:numpy/plain.npy", "numpy", "clean"),
        ("model:torch/legacy-benign.pt", "pickle", "clean"),
        ("model:torch/legacy-payload.pt", "pickle", "findings"),
        (
            "model:tensors/safetensors/valid.safetensors",
            "safetensors",
            "clean",
        ),
        ("model:tensors/gguf/valid.gguf", "gguf", "clean"),
    ] {
        let c = comps.get(id).unwrap_or_else(|| {
            panic!(
                "{id} missing; have {:?}",
                comps
                    .keys()
                    .filter(|k| k.starts_with("model:"))
                    .collect::<Vec<_>>()
            )
        });
        assert_eq!(c["type"], "machine-learning-model", "{id}");
        assert_eq!(card_prop(c, "ward:model:formats"), Some(format), "{id}");
        assert_eq!(prop(c, "ward:scan:verdict"), Some(verdict), "{id}");
        assert!(sha(c).is_some(), "{id} has no digest");
    }
}

/// The documents themselves, for a model folder, with digests, sizes and serials that
/// depend on library versions replaced: the shape of each format is pinned.
#[test]
fn document_snapshots() {
    let t = tree();
    let filters = vec![
        (r"[0-9a-f]{64}", "[sha256]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r#""version": "\d+\.\d+\.\d+""#, r#""version": "[version]""#),
        (r#"ward-\d+\.\d+\.\d+"#, "ward-[version]"),
        (
            r#""ward:size",\s*"value": "\d+""#,
            r#""ward:size", "value": "[size]""#,
        ),
    ];
    for format in ["cyclonedx-1.6", "spdx-3.0.1"] {
        let doc = bom(t.root(), "project/models/tiny-llama", format, &[]);
        let text = serde_json::to_string_pretty(&doc).unwrap();
        insta::with_settings!({ filters => filters.clone() }, {
            insta::assert_snapshot!(format!("document-{format}"), text);
        });
    }
}
