//! SPDX 3.0.1 documents written from hand-built inventories, checked by
//! `tests/gen/spdx_validate.py` against the official JSON schema and the SPDX model
//! bindings. Needs `WARD_TEST_PYTHON` (set by `./scripts/test`); fails when it is unset.

// Helpers outside `#[test]` functions build fixtures and may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use ward_bom::spdx;
use ward_bom::{
    Bom, Completeness, Component, DatasetFacts, Details, DocumentInfo, External, FileEntry, Kind,
    LibraryFacts, ModelFacts, PromptKind, Relation, RelationKind, Security, Signature, TensorSpec,
    Verdict,
};

fn python() -> String {
    std::env::var("WARD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "WARD_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs \
             the Python test tools (lib4sbom, spdx-python-model) into ./.venv and sets it"
        )
    })
}

fn validator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/gen/spdx_validate.py")
}

/// Runs the validator on `files`; returns its exit code and output.
fn validate(files: &[PathBuf]) -> (i32, String) {
    let out = Command::new(python())
        .arg(validator())
        .args(files)
        .output()
        .expect("the test python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn info() -> DocumentInfo {
    DocumentInfo {
        created: jiff::Timestamp::new(1_735_689_600, 500_000_000).unwrap(),
        uuid: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b".into(),
        name: "models data requirements.txt".into(),
        tool_version: "0.1.0".into(),
    }
}

fn file(path: &str, seed: u8, format: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        size: u64::from(seed) * 1000,
        sha256: hex::encode([seed; 32]),
        format: format.into(),
    }
}

fn security(verdict: Verdict, signature: Signature) -> Security {
    let findings = verdict == Verdict::Findings;
    Security {
        verdict,
        codes: if findings {
            vec!["pickle-unsafe-global".into(), "zip-name-mismatch".into()]
        } else {
            Vec::new()
        },
        max_severity: findings.then(|| "critical".into()),
        signature,
    }
}

fn component(id: &str, kind: Kind, files: Vec<FileEntry>, details: Details) -> Component {
    let sha256 = files.first().map(|f| f.sha256.clone());
    Component {
        id: id.into(),
        kind,
        name: id.rsplit('/').next().unwrap().into(),
        version: None,
        path: files.first().map_or_else(String::new, |f| f.path.clone()),
        purl: None,
        files,
        sha256,
        integrity: None,
        security: Security::default(),
        details,
        completeness: None,
    }
}

/// A model with every fact filled in, a verified signature and a clean scan.
fn full_model() -> Component {
    let facts = ModelFacts {
        formats: vec!["gguf".into()],
        architecture_family: Some("llama".into()),
        architectures: vec!["LlamaForCausalLM".into()],
        task: Some("text-generation".into()),
        tensor_count: Some(291),
        parameter_count: Some(8_030_261_248),
        dtypes: BTreeMap::from([("F32".into(), 65), ("Q4_K".into(), 226)]),
        quantization: Some("Q4_K_M".into()),
        context_length: Some(131_072),
        license: Some("Apache-2.0".into()),
        base_models: vec!["meta-llama/Llama-3.1-8B".into()],
        datasets: vec!["HuggingFaceFW/fineweb".into()],
        languages: vec!["en".into(), "de".into()],
        chat_templates: BTreeMap::from([
            ("default".into(), hex::encode([7; 32])),
            ("tool_use".into(), hex::encode([8; 32])),
        ]),
        opsets: BTreeMap::from([("ai.onnx".into(), 17), ("com.microsoft".into(), 1)]),
        producer: Some("pytorch 2.4".into()),
        inputs: vec![
            TensorSpec {
                name: "input_ids".into(),
                description: Some("int64 [batch, seq]".into()),
            },
            TensorSpec {
                name: "attention_mask".into(),
                description: None,
            },
        ],
        outputs: vec![TensorSpec {
            name: "logits".into(),
            description: Some("float32 [batch, seq, vocab]".into()),
        }],
        has_model_card: true,
    };
    let mut model = component(
        "model:models/llama.gguf",
        Kind::Model,
        vec![file("models/llama.gguf", 1, "gguf")],
        Details::Model(Box::new(facts)),
    );
    model.name = "meta-llama/Llama-3.1-8B-Instruct".into();
    model.version = Some("0e9e39f249a16976918f6564b8830bc894c89659".into());
    model.purl = Some(
        "pkg:huggingface/meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659"
            .into(),
    );
    model.security = security(
        Verdict::Clean,
        Signature::Verified {
            path: "models/model.sig".into(),
            signer: "SHA256:abcdef".into(),
        },
    );
    model.completeness = Some(Completeness {
        fields: vec![
            ("license", true),
            ("task", true),
            ("datasets", true),
            ("base_model", true),
        ],
    });
    model
}

/// A sharded model folder: the package, a file per shard, findings and a failed
/// signature; its license is a name, not an SPDX id.
fn sharded_model() -> Component {
    let facts = ModelFacts {
        formats: vec!["safetensors".into()],
        license: Some("Llama 3.2 Community License".into()),
        ..ModelFacts::default()
    };
    let mut model = component(
        "model:models/sharded",
        Kind::Model,
        vec![
            file("models/sharded/config.json", 2, "json"),
            file(
                "models/sharded/model-00001-of-00002.safetensors",
                3,
                "safetensors",
            ),
            file(
                "models/sharded/model-00002-of-00002.safetensors",
                4,
                "safetensors",
            ),
        ],
        Details::Model(Box::default()),
    );
    model.details = Details::Model(Box::new(facts));
    model.path = "models/sharded".into();
    model.sha256 = Some(hex::encode([5; 32]));
    model.security = security(
        Verdict::Findings,
        Signature::Failed {
            path: "models/sharded/model.sig".into(),
            reason: "`model-00002-of-00002.safetensors` does not match its digest".into(),
        },
    );
    model.completeness = Some(Completeness {
        fields: vec![("license", true), ("task", false), ("datasets", false)],
    });
    model
}

fn datasets() -> Vec<Component> {
    let mut parquet = component(
        "dataset:data/train.parquet",
        Kind::Dataset,
        vec![file("data/train.parquet", 10, "parquet")],
        Details::Dataset(DatasetFacts {
            formats: vec!["parquet".into()],
            rows: Some(12_345),
            license: Some("CC-BY-4.0".into()),
            description: Some("Question and answer pairs.".into()),
        }),
    );
    parquet.security = security(Verdict::NotScanned, Signature::Absent);
    let mut folder = component(
        "dataset:data/chat",
        Kind::Dataset,
        vec![
            file("data/chat/a.jsonl", 11, "jsonl"),
            file("data/chat/b.jsonl", 12, "jsonl"),
        ],
        Details::Dataset(DatasetFacts {
            formats: vec!["jsonl".into()],
            ..DatasetFacts::default()
        }),
    );
    folder.path = "data/chat".into();
    folder.sha256 = Some(hex::encode([13; 32]));
    vec![parquet, folder]
}

fn prompts() -> Vec<Component> {
    let mut out = Vec::new();
    for (n, kind) in [
        PromptKind::ChatTemplate,
        PromptKind::SystemPrompt,
        PromptKind::Prompt,
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("prompts/{}.txt", kind.as_str());
        let seed = 20 + u8::try_from(n).unwrap();
        let mut prompt = component(
            &format!("prompt:{path}"),
            Kind::Prompt,
            vec![file(&path, seed, "text")],
            Details::Prompt(kind),
        );
        prompt.security = security(
            Verdict::Clean,
            Signature::Unverified {
                path: "prompts/model.sig".into(),
            },
        );
        out.push(prompt);
    }
    // Not something discovery makes, but the writer must still say something valid.
    let mut two = component(
        "prompt:prompts/pair",
        Kind::Prompt,
        vec![
            file("prompts/pair/system.txt", 30, "text"),
            file("prompts/pair/user.txt", 31, "text"),
        ],
        Details::Prompt(PromptKind::Prompt),
    );
    two.sha256 = Some(hex::encode([32; 32]));
    out.push(two);
    out
}

fn libraries() -> Vec<Component> {
    let lock = |ecosystem: &str, file: &str| {
        Details::Library(LibraryFacts {
            ecosystem: ecosystem.into(),
            lock_file: file.into(),
        })
    };
    let mut serde = component(
        "pkg:cargo/serde@1.0.228",
        Kind::Library,
        Vec::new(),
        lock("cargo", "Cargo.lock"),
    );
    serde.name = "serde".into();
    serde.version = Some("1.0.228".into());
    serde.purl = Some("pkg:cargo/serde@1.0.228".into());
    serde.path = "Cargo.lock".into();
    serde.integrity = Some(format!("sha256:{}", hex::encode([40; 32])));
    let mut left_pad = component(
        "pkg:npm/left-pad@1.3.0",
        Kind::Library,
        Vec::new(),
        lock("npm", "package-lock.json"),
    );
    left_pad.name = "left-pad".into();
    left_pad.version = Some("1.3.0".into());
    left_pad.purl = Some("pkg:npm/left-pad@1.3.0".into());
    left_pad.path = "package-lock.json".into();
    left_pad.integrity = Some(
        "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
            .into(),
    );
    let mut odd = component(
        "pkg:pypi/numpy@2.4.6",
        Kind::Library,
        Vec::new(),
        lock("pypi", "uv.lock"),
    );
    odd.name = "numpy".into();
    odd.version = Some("2.4.6".into());
    odd.purl = Some("pkg:pypi/numpy@2.4.6".into());
    odd.path = "uv.lock".into();
    odd.integrity = Some("md5:0123".into());
    vec![serde, left_pad, odd]
}

fn externals() -> Vec<External> {
    vec![
        External {
            id: "dataset:HuggingFaceFW/fineweb".into(),
            kind: Kind::Dataset,
            name: "HuggingFaceFW/fineweb".into(),
            purl: Some("pkg:huggingface/datasets/HuggingFaceFW/fineweb".into()),
        },
        External {
            id: "model:meta-llama/Llama-3.1-8B".into(),
            kind: Kind::Model,
            name: "meta-llama/Llama-3.1-8B".into(),
            purl: Some("pkg:huggingface/meta-llama/Llama-3.1-8B".into()),
        },
        External {
            id: "model:unknown base".into(),
            kind: Kind::Model,
            name: "unknown base".into(),
            purl: None,
        },
        External {
            id: "prompt:somewhere".into(),
            kind: Kind::Prompt,
            name: "somewhere".into(),
            purl: None,
        },
        External {
            id: "pkg:pypi/torch".into(),
            kind: Kind::Library,
            name: "torch".into(),
            purl: Some("pkg:pypi/torch".into()),
        },
    ]
}

fn relation(from: &str, kind: RelationKind, to: &str) -> Relation {
    Relation {
        from: from.into(),
        kind,
        to: to.into(),
    }
}

/// Everything at once: every component kind, every relation kind (to components,
/// externals and to ids named nowhere), every verdict and signature state.
fn everything() -> Bom {
    let mut components = vec![full_model(), sharded_model()];
    components.extend(datasets());
    components.extend(prompts());
    components.extend(libraries());
    let mut relations = vec![
        relation(
            "model:models/llama.gguf",
            RelationKind::TrainedOn,
            "dataset:HuggingFaceFW/fineweb",
        ),
        relation(
            "model:models/llama.gguf",
            RelationKind::TrainedOn,
            "dataset:data/train.parquet",
        ),
        relation(
            "model:models/llama.gguf",
            RelationKind::DerivedFrom,
            "model:meta-llama/Llama-3.1-8B",
        ),
        relation(
            "model:models/sharded",
            RelationKind::DerivedFrom,
            "model:unknown base",
        ),
        relation(
            "model:models/sharded",
            RelationKind::DerivedFrom,
            "model:models/llama.gguf",
        ),
        relation(
            "model:models/llama.gguf",
            RelationKind::Uses,
            "prompt:prompts/chat-template.txt",
        ),
        relation(
            "model:models/llama.gguf",
            RelationKind::Uses,
            "prompt:somewhere",
        ),
        relation("model:models/sharded", RelationKind::Uses, "pkg:pypi/torch"),
        relation(
            "model:not-in-inventory",
            RelationKind::TrainedOn,
            "dataset:nowhere",
        ),
        relation("model:models/sharded", RelationKind::Uses, "prompt:nowhere"),
    ];
    relations.sort();
    Bom {
        components,
        externals: externals(),
        relations,
        inputs: vec!["models".into(), "data".into(), "requirements.txt".into()],
        other_files: 7,
        errors: vec![("models/broken.bin".into(), "permission denied".into())],
    }
}

fn single(component: Component) -> Bom {
    Bom {
        components: vec![component],
        externals: Vec::new(),
        relations: Vec::new(),
        inputs: vec!["x".into()],
        other_files: 0,
        errors: Vec::new(),
    }
}

fn empty() -> Bom {
    Bom {
        components: Vec::new(),
        externals: Vec::new(),
        relations: Vec::new(),
        inputs: Vec::new(),
        other_files: 0,
        errors: Vec::new(),
    }
}

/// Every inventory the tests validate, by file name.
fn documents() -> Vec<(String, Bom)> {
    let mut out = vec![
        ("everything".to_owned(), everything()),
        ("full-model".to_owned(), single(full_model())),
        ("sharded-model".to_owned(), single(sharded_model())),
        ("empty".to_owned(), empty()),
    ];
    let singles = datasets().into_iter().chain(prompts()).chain(libraries());
    for (n, component) in singles.enumerate() {
        out.push((
            format!("{}-{n}", component.kind.as_str()),
            single(component),
        ));
    }
    out
}

fn write(dir: &Path, name: &str, document: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(document).unwrap()).unwrap();
    path
}

#[test]
fn every_variant_validates() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = documents()
        .iter()
        .map(|(name, bom)| {
            let name = format!("{name}.spdx.json");
            write(dir.path(), &name, &spdx::write(bom, &info()))
        })
        .collect();
    let (code, output) = validate(&files);
    assert_eq!(code, 0, "the SPDX documents do not validate:\n{output}");
    assert_eq!(
        output.matches("valid SPDX 3.0.1").count(),
        files.len(),
        "{output}"
    );
}

/// The validator must be able to fail: each of these documents breaks one rule, and
/// the validator must name the problem.
#[test]
fn broken_documents_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    // Small, because the schema takes about a second per twenty elements to check.
    let mut small = single(full_model());
    small.components.push(datasets().remove(0));
    small.components.push(libraries().remove(0));
    let good = spdx::write(&small, &info());
    type Break = fn(&mut Value);
    let breaks: [(&str, &str, Break); 7] = [
        ("no-creation-info", "creationInfo", |e| {
            e.as_object_mut().unwrap().remove("creationInfo");
        }),
        ("dangling-reference", "referenced but not defined", |e| {
            if e["type"] == "Relationship" {
                e["to"] = serde_json::json!(["https://example.com/nothing#here"]);
            }
        }),
        ("bad-enum", "tabular", |e| {
            if e["type"] == "dataset_DatasetPackage" {
                e["dataset_datasetType"] = serde_json::json!(["tabular"]);
            }
        }),
        ("fractional-seconds", "2025-01-01T00:00:00.5Z", |e| {
            if e["type"] == "CreationInfo" {
                e["created"] = serde_json::json!("2025-01-01T00:00:00.5Z");
            }
        }),
        ("duplicate-id", "defined more than once", |e| {
            if e["type"] == "software_File" {
                e["spdxId"] = serde_json::json!("https://example.com/twice");
            }
        }),
        ("unknown-property", "ward_verdict", |e| {
            if e["type"] == "software_Package" {
                e["ward_verdict"] = serde_json::json!("clean");
            }
        }),
        // A profile the JSON-LD context expands to a property instead (see `spdx.rs`).
        ("extension-profile", "vocabulary", |e| {
            if e["type"] == "SpdxDocument" {
                e["profileConformance"] = serde_json::json!(["core", "extension"]);
            }
        }),
    ];
    let mut files = Vec::new();
    for (name, _, change) in &breaks {
        let mut doc = good.clone();
        let graph = doc["@graph"].as_array_mut().unwrap();
        // Breaking the first element of a class is enough; some breaks apply to all.
        let first_only = *name == "no-creation-info";
        for element in graph.iter_mut() {
            if first_only && element["type"] != "ai_AIPackage" {
                continue;
            }
            change(element);
            if first_only {
                break;
            }
        }
        files.push(write(dir.path(), &format!("{name}.json"), &doc));
    }
    let (code, output) = validate(&files);
    assert_eq!(code, 1, "{output}");
    // The validator reports each file as one block: its name line, then its problems.
    for (name, expected, _) in &breaks {
        let header = format!("{name}.json: ");
        let start = output
            .find(&header)
            .unwrap_or_else(|| panic!("no report for `{name}`:\n{output}"));
        let block = &output[start..];
        let end = block[header.len()..]
            .find(".json: ")
            .map_or(block.len(), |n| n + header.len());
        let block = &block[..end];
        assert!(
            block.contains("problem(s)"),
            "`{name}` was accepted:\n{block}"
        );
        assert!(
            block.contains(expected),
            "`{name}` not rejected for `{expected}`:\n{block}"
        );
    }
}

/// The same inventory and document info give the same bytes; the validator sees them
/// as the same document too.
#[test]
fn output_is_reproducible() {
    let first = serde_json::to_vec(&spdx::write(&everything(), &info())).unwrap();
    let second = serde_json::to_vec(&spdx::write(&everything(), &info())).unwrap();
    assert_eq!(first, second);
}

fn elements<'a>(document: &'a Value, class: &str) -> Vec<&'a Value> {
    document["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == class)
        .collect()
}

fn properties(element: &Value) -> Vec<(String, String)> {
    element["extension"][0]["extension_cdxProperty"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["extension_cdxPropName"].as_str().unwrap().to_owned(),
                        e["extension_cdxPropValue"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has(props: &[(String, String)], name: &str, value: &str) -> bool {
    props.iter().any(|(n, v)| n == name && v == value)
}

#[test]
fn model_facts_are_kept() {
    let document = spdx::write(&single(full_model()), &info());
    let model = elements(&document, "ai_AIPackage")[0];
    assert_eq!(model["software_primaryPurpose"], "model");
    assert_eq!(
        model["ai_typeOfModel"],
        serde_json::json!(["llama", "LlamaForCausalLM"])
    );
    assert_eq!(model["ai_domain"], serde_json::json!(["text-generation"]));
    let hyper = model["ai_hyperparameter"].to_string();
    assert!(
        hyper.contains("context_length") && hyper.contains("131072"),
        "{hyper}"
    );
    assert!(
        hyper.contains("parameter_count") && hyper.contains("8030261248"),
        "{hyper}"
    );
    let training = model["ai_informationAboutTraining"].as_str().unwrap();
    assert!(training.contains("HuggingFaceFW/fineweb"), "{training}");
    let props = properties(model);
    for (name, value) in [
        ("ward:scan:verdict", "clean"),
        ("ward:signature:status", "verified"),
        ("ward:signature:signer", "SHA256:abcdef"),
        ("ward:completeness", "100"),
        ("ward:model:formats", "gguf"),
        ("ward:model:quantization", "Q4_K_M"),
        ("ward:model:dtype:Q4_K", "226"),
        ("ward:model:chat-template:tool_use", &hex::encode([8; 32])),
        ("ward:model:opset:com.microsoft", "1"),
        ("ward:model:producer", "pytorch 2.4"),
        ("ward:model:input", "input_ids: int64 [batch, seq]"),
        ("ward:model:input", "attention_mask"),
        ("ward:model:output", "logits: float32 [batch, seq, vocab]"),
        ("ward:model:language", "de"),
        ("ward:model:base-model", "meta-llama/Llama-3.1-8B"),
        ("ward:model:card", "true"),
    ] {
        assert!(
            has(&props, name, value),
            "{name} = {value} missing from {props:?}"
        );
    }
    let license = elements(&document, "simplelicensing_LicenseExpression")[0];
    assert_eq!(license["simplelicensing_licenseExpression"], "Apache-2.0");
    let relationships = elements(&document, "Relationship");
    let declared = relationships
        .iter()
        .find(|r| r["relationshipType"] == "hasDeclaredLicense")
        .unwrap();
    assert_eq!(declared["to"][0], license["spdxId"]);
    let concluded = relationships
        .iter()
        .find(|r| r["relationshipType"] == "hasConcludedLicense")
        .unwrap();
    assert_eq!(concluded["to"][0], "expandedlicensing_NoAssertionLicense");
}

#[test]
fn security_states_are_kept() {
    let document = spdx::write(&everything(), &info());
    let all: Vec<(String, String)> = document["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(properties)
        .collect();
    for (name, value) in [
        ("ward:scan:verdict", "clean"),
        ("ward:scan:verdict", "findings"),
        ("ward:scan:verdict", "not-scanned"),
        ("ward:scan:codes", "pickle-unsafe-global,zip-name-mismatch"),
        ("ward:scan:max-severity", "critical"),
        ("ward:signature:status", "absent"),
        ("ward:signature:status", "unverified"),
        ("ward:signature:status", "verified"),
        ("ward:signature:status", "failed"),
        ("ward:completeness:missing", "task,datasets"),
        ("ward:error", "models/broken.bin: permission denied"),
        ("ward:library:integrity", "md5:0123"),
    ] {
        assert!(has(&all, name, value), "{name} = {value} missing");
    }
    let sharded = elements(&document, "ai_AIPackage")
        .into_iter()
        .find(|e| e["name"] == "sharded")
        .unwrap();
    assert!(has(
        &properties(sharded),
        "ward:signature:reason",
        "`model-00002-of-00002.safetensors` does not match its digest"
    ));
}

#[test]
fn files_and_relations_are_kept() {
    let bom = everything();
    let document = spdx::write(&bom, &info());
    let files = elements(&document, "software_File");
    for entry in bom.components.iter().flat_map(|c| &c.files) {
        let element = files
            .iter()
            .find(|f| f["name"] == entry.path.as_str())
            .unwrap_or_else(|| panic!("no software_File for {}", entry.path));
        assert_eq!(
            element["verifiedUsing"][0]["hashValue"],
            entry.sha256.as_str()
        );
    }
    let types: Vec<&str> = elements(&document, "Relationship")
        .iter()
        .map(|r| r["relationshipType"].as_str().unwrap())
        .collect();
    for kind in [
        "contains",
        "trainedOn",
        "descendantOf",
        "configures",
        "dependsOn",
        "hasDeclaredLicense",
        "hasConcludedLicense",
    ] {
        assert!(types.contains(&kind), "no {kind} relationship in {types:?}");
    }
    let sharded = elements(&document, "ai_AIPackage")
        .into_iter()
        .find(|e| e["name"] == "sharded")
        .unwrap();
    let contains = elements(&document, "Relationship")
        .into_iter()
        .find(|r| r["relationshipType"] == "contains" && r["from"] == sharded["spdxId"])
        .unwrap();
    assert_eq!(contains["to"].as_array().unwrap().len(), 3);
    let renamed = elements(&document, "simplelicensing_LicenseExpression")
        .into_iter()
        .find(|l| {
            l["simplelicensing_licenseExpression"] == "LicenseRef-Llama-3.2-Community-License"
        });
    assert!(
        renamed.is_some(),
        "the license name was not kept as a LicenseRef"
    );
}

#[test]
fn document_header() {
    let document = spdx::write(&everything(), &info());
    assert_eq!(document["@context"], spdx::CONTEXT);
    let creation = elements(&document, "CreationInfo")[0];
    assert_eq!(creation["@id"], "_:creationinfo");
    assert_eq!(creation["specVersion"], "3.0.1");
    assert_eq!(creation["created"], "2025-01-01T00:00:00Z");
    let spdx_document = elements(&document, "SpdxDocument")[0];
    assert_eq!(
        spdx_document["profileConformance"],
        serde_json::json!([
            "core",
            "software",
            "simpleLicensing",
            "expandedLicensing",
            "ai",
            "dataset"
        ])
    );
    let sbom = elements(&document, "software_Sbom")[0];
    assert_eq!(
        spdx_document["rootElement"],
        serde_json::json!([sbom["spdxId"]])
    );
    assert_eq!(sbom["software_sbomType"], serde_json::json!(["analyzed"]));
    let tool = elements(&document, "Tool")[0];
    assert_eq!(
        creation["createdUsing"],
        serde_json::json!([tool["spdxId"]])
    );
    assert_eq!(tool["name"], "ward-0.1.0");

    let empty = spdx::write(&empty(), &info());
    assert_eq!(
        elements(&empty, "SpdxDocument")[0]["profileConformance"],
        serde_json::json!(["core", "software"])
    );
}
