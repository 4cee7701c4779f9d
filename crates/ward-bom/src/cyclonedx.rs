//! The inventory as a CycloneDX 1.6 or 1.7 JSON document.
//!
//! Mapping (see `docs/bom.md` for the full table):
//! - models are `machine-learning-model` components with a `modelCard`
//!   (`modelParameters.architectureFamily`, `modelArchitecture`, `task`, `datasets`
//!   (references to dataset components), `inputs`/`outputs`), and the facts CycloneDX has
//!   no field for as `ward:model:*` properties of the model card;
//! - datasets are `data` components with one `dataset` entry;
//! - prompts are `file` components (`ward:prompt:kind` says which kind);
//! - libraries are `library` components with their purl;
//! - every multi-file component nests one `file` component per file, each with its SHA-256;
//! - security state (`ward:scan:*`, `ward:signature:*`) and completeness are properties;
//! - relations: a model `dependsOn` its datasets, base models and prompts; base models are
//!   also the model's `pedigree.ancestors`; components named but not found are emitted
//!   with `ward:present` = `false` and no hashes.

use serde_json::{Map, Value, json};

use crate::license::{License, classify};
use crate::model::{
    Bom, Component, Details, DocumentInfo, External, Kind, ModelFacts, RelationKind, Signature,
};

/// The CycloneDX versions ward writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// CycloneDX 1.6.
    V1_6,
    /// CycloneDX 1.7.
    V1_7,
}

impl Version {
    /// The `specVersion` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_6 => "1.6",
            Version::V1_7 => "1.7",
        }
    }
}

/// The inventory as a CycloneDX JSON document.
pub fn write(bom: &Bom, info: &DocumentInfo, version: Version) -> Value {
    let mut components: Vec<Value> = bom.components.iter().map(|c| component(c, bom)).collect();
    components.extend(bom.externals.iter().map(external));
    let mut doc = json!({
        "$schema": format!("http://cyclonedx.org/schema/bom-{}.schema.json", version.as_str()),
        "bomFormat": "CycloneDX",
        "specVersion": version.as_str(),
        "serialNumber": format!("urn:uuid:{}", info.uuid),
        "version": 1,
        "metadata": {
            "timestamp": timestamp(info),
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "ward",
                    "version": info.tool_version,
                    "description": "Secure by Design tooling for AI systems",
                }],
            },
            "component": {
                "type": "application",
                "bom-ref": "root",
                "name": info.name,
            },
            "properties": properties(&[
                ("ward:inputs", Some(bom.inputs.join(", "))),
                ("ward:other-files", Some(bom.other_files.to_string())),
            ]),
        },
        "components": components,
    });
    let deps = dependencies(bom);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("dependencies".into(), Value::Array(deps));
    }
    doc
}

/// `YYYY-MM-DDTHH:MM:SSZ`: whole seconds in UTC, which every consumer parses.
pub(crate) fn timestamp(info: &DocumentInfo) -> String {
    info.created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A lock file's integrity value as a CycloneDX hash of the package archive, when it is one
/// of the algorithms CycloneDX names.
fn integrity_hash(integrity: &str) -> Option<Value> {
    let (name, hex) = crate::locks::integrity_hash(integrity)?;
    let alg = match name {
        "sha1" => "SHA-1",
        "sha256" => "SHA-256",
        "sha384" => "SHA-384",
        _ => "SHA-512",
    };
    Some(json!({ "alg": alg, "content": hex }))
}

fn hashes(sha256: &str) -> Value {
    json!([{ "alg": "SHA-256", "content": sha256 }])
}

/// `[{name, value}]` for every present value.
fn properties(pairs: &[(&str, Option<String>)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .filter_map(|(name, value)| {
                value
                    .as_ref()
                    .map(|value| json!({ "name": name, "value": value }))
            })
            .collect(),
    )
}

fn component(c: &Component, bom: &Bom) -> Value {
    let kind = match c.kind {
        Kind::Model => "machine-learning-model",
        Kind::Dataset => "data",
        Kind::Prompt => "file",
        Kind::Library => "library",
    };
    let mut obj = Map::new();
    obj.insert("type".into(), json!(kind));
    obj.insert("bom-ref".into(), json!(c.id));
    obj.insert("name".into(), json!(c.name));
    if let Some(version) = &c.version {
        obj.insert("version".into(), json!(version));
    }
    if let Some(purl) = &c.purl {
        obj.insert("purl".into(), json!(purl));
    }
    if let Some(sha) = &c.sha256 {
        obj.insert("hashes".into(), hashes(sha));
    } else if let Some(hash) = c.integrity.as_deref().and_then(integrity_hash) {
        obj.insert("hashes".into(), json!([hash]));
    }
    if let Some(license) = license_of(c) {
        obj.insert("licenses".into(), licenses(license));
    }
    let mut props = common_properties(c);
    match &c.details {
        Details::Model(facts) => {
            obj.insert("modelCard".into(), model_card(c, facts, bom));
            let ancestors: Vec<Value> = bom
                .relations
                .iter()
                .filter(|r| r.from == c.id && r.kind == RelationKind::DerivedFrom)
                .filter_map(|r| bom.externals.iter().find(|e| e.id == r.to))
                .map(|e| {
                    let mut a = json!({ "type": "machine-learning-model", "name": e.name });
                    if let (Some(purl), Some(obj)) = (&e.purl, a.as_object_mut()) {
                        obj.insert("purl".into(), json!(purl));
                    }
                    a
                })
                .collect();
            if !ancestors.is_empty() {
                obj.insert("pedigree".into(), json!({ "ancestors": ancestors }));
            }
        }
        Details::Dataset(facts) => {
            let mut data = Map::new();
            data.insert("type".into(), json!("dataset"));
            data.insert("name".into(), json!(c.name));
            if let Some(description) = &facts.description {
                data.insert("description".into(), json!(description));
            }
            obj.insert("data".into(), json!([Value::Object(data)]));
            props.push(("ward:dataset:formats", Some(facts.formats.join(","))));
            props.push(("ward:dataset:rows", facts.rows.map(|r| r.to_string())));
        }
        Details::Prompt(kind) => {
            props.push(("ward:prompt:kind", Some(kind.as_str().to_owned())));
        }
        Details::Library(facts) => {
            props.push(("ward:library:ecosystem", Some(facts.ecosystem.clone())));
            props.push(("ward:library:lock-file", Some(facts.lock_file.clone())));
            props.push(("ward:library:integrity", c.integrity.clone()));
        }
    }
    obj.insert("properties".into(), properties(&props));
    if c.files.len() > 1
        || (c.files.len() == 1 && c.files.first().map(|f| &f.path) != Some(&c.path))
    {
        let files: Vec<Value> = c
            .files
            .iter()
            .map(|f| {
                json!({
                    "type": "file",
                    "bom-ref": format!("{}#file:{}", c.id, f.path),
                    "name": f.path,
                    "hashes": hashes(&f.sha256),
                    "properties": properties(&[
                        ("ward:format", Some(f.format.clone())),
                        ("ward:size", Some(f.size.to_string())),
                    ]),
                })
            })
            .collect();
        obj.insert("components".into(), Value::Array(files));
    }
    Value::Object(obj)
}

/// Properties every component has: where it is, its size, its security state and, for
/// models, its completeness.
fn common_properties(c: &Component) -> Vec<(&'static str, Option<String>)> {
    let s = &c.security;
    let mut props = vec![
        ("ward:kind", Some(c.kind.as_str().to_owned())),
        ("ward:path", Some(c.path.clone())),
        ("ward:files", Some(c.files.len().to_string())),
        ("ward:size", Some(c.size().to_string())),
        ("ward:scan:verdict", Some(s.verdict.as_str().to_owned())),
        (
            "ward:scan:codes",
            (!s.codes.is_empty()).then(|| s.codes.join(",")),
        ),
        ("ward:scan:max-severity", s.max_severity.clone()),
        (
            "ward:signature:status",
            Some(s.signature.status().to_owned()),
        ),
    ];
    match &s.signature {
        Signature::Absent => {}
        Signature::Unverified { path } => props.push(("ward:signature:path", Some(path.clone()))),
        Signature::Verified { path, signer } => {
            props.push(("ward:signature:path", Some(path.clone())));
            props.push(("ward:signature:signer", Some(signer.clone())));
        }
        Signature::Failed { path, reason } => {
            props.push(("ward:signature:path", Some(path.clone())));
            props.push(("ward:signature:reason", Some(reason.clone())));
        }
    }
    if let Some(completeness) = &c.completeness {
        props.push((
            "ward:completeness",
            Some(completeness.percent().to_string()),
        ));
        let missing: Vec<&str> = completeness.missing().collect();
        props.push((
            "ward:completeness:missing",
            (!missing.is_empty()).then(|| missing.join(",")),
        ));
    }
    props
}

fn license_of(c: &Component) -> Option<&str> {
    match &c.details {
        Details::Model(facts) => facts.license.as_deref(),
        Details::Dataset(facts) => facts.license.as_deref(),
        _ => None,
    }
}

fn licenses(written: &str) -> Value {
    match classify(written) {
        License::Spdx(id) => json!([{ "license": { "id": id } }]),
        License::Named(name) => json!([{ "license": { "name": name } }]),
    }
}

fn model_card(c: &Component, facts: &ModelFacts, bom: &Bom) -> Value {
    let mut params = Map::new();
    if let Some(task) = &facts.task {
        params.insert("task".into(), json!(task));
    }
    if let Some(family) = &facts.architecture_family {
        params.insert("architectureFamily".into(), json!(family));
    }
    if !facts.architectures.is_empty() {
        params.insert(
            "modelArchitecture".into(),
            json!(facts.architectures.join(", ")),
        );
    }
    let datasets: Vec<Value> = bom
        .relations
        .iter()
        .filter(|r| r.from == c.id && r.kind == RelationKind::TrainedOn)
        .map(|r| json!({ "ref": r.to }))
        .collect();
    if !datasets.is_empty() {
        params.insert("datasets".into(), Value::Array(datasets));
    }
    let specs = |specs: &[crate::model::TensorSpec]| -> Vec<Value> {
        specs
            .iter()
            .map(|t| match &t.description {
                Some(d) => json!({ "format": format!("{}: {d}", t.name) }),
                None => json!({ "format": t.name }),
            })
            .collect()
    };
    if !facts.inputs.is_empty() {
        params.insert("inputs".into(), Value::Array(specs(&facts.inputs)));
    }
    if !facts.outputs.is_empty() {
        params.insert("outputs".into(), Value::Array(specs(&facts.outputs)));
    }
    let dtypes = counts(&facts.dtypes);
    let opsets = counts(&facts.opsets);
    let mut props: Vec<(String, Option<String>)> = vec![
        ("ward:model:formats".into(), Some(facts.formats.join(","))),
        (
            "ward:model:parameters".into(),
            facts.parameter_count.map(|n| n.to_string()),
        ),
        (
            "ward:model:tensors".into(),
            facts.tensor_count.map(|n| n.to_string()),
        ),
        ("ward:model:dtypes".into(), dtypes),
        ("ward:model:quantization".into(), facts.quantization.clone()),
        (
            "ward:model:context-length".into(),
            facts.context_length.map(|n| n.to_string()),
        ),
        (
            "ward:model:base-models".into(),
            (!facts.base_models.is_empty()).then(|| facts.base_models.join(",")),
        ),
        (
            "ward:model:datasets".into(),
            (!facts.datasets.is_empty()).then(|| facts.datasets.join(",")),
        ),
        (
            "ward:model:languages".into(),
            (!facts.languages.is_empty()).then(|| facts.languages.join(",")),
        ),
        ("ward:model:license".into(), facts.license.clone()),
        ("ward:onnx:opsets".into(), opsets),
        ("ward:onnx:producer".into(), facts.producer.clone()),
    ];
    for (name, digest) in &facts.chat_templates {
        props.push((
            format!("ward:model:chat-template:{name}:sha256"),
            Some(digest.clone()),
        ));
    }
    let props: Vec<Value> = props
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| json!({ "name": name, "value": value })))
        .collect();
    json!({
        "bom-ref": format!("{}#model-card", c.id),
        "modelParameters": Value::Object(params),
        "properties": props,
    })
}

/// `a=1,b=2` for a non-empty map.
fn counts(map: &std::collections::BTreeMap<String, u64>) -> Option<String> {
    (!map.is_empty()).then(|| {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn external(e: &External) -> Value {
    let kind = match e.kind {
        Kind::Dataset => "data",
        _ => "machine-learning-model",
    };
    let mut obj = Map::new();
    obj.insert("type".into(), json!(kind));
    obj.insert("bom-ref".into(), json!(e.id));
    obj.insert("name".into(), json!(e.name));
    if let Some(purl) = &e.purl {
        obj.insert("purl".into(), json!(purl));
    }
    if e.kind == Kind::Dataset {
        obj.insert(
            "data".into(),
            json!([{ "type": "dataset", "name": e.name }]),
        );
    }
    obj.insert(
        "properties".into(),
        properties(&[
            ("ward:kind", Some(e.kind.as_str().to_owned())),
            ("ward:present", Some("false".to_owned())),
        ]),
    );
    Value::Object(obj)
}

/// One `dependencies` entry per component that points somewhere, plus the root, which
/// depends on every component found on disk.
fn dependencies(bom: &Bom) -> Vec<Value> {
    let mut out = vec![json!({
        "ref": "root",
        "dependsOn": bom.components.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
    })];
    for c in &bom.components {
        let mut to: Vec<&str> = bom
            .relations
            .iter()
            .filter(|r| r.from == c.id)
            .map(|r| r.to.as_str())
            .collect();
        to.sort_unstable();
        to.dedup();
        if !to.is_empty() {
            out.push(json!({ "ref": c.id, "dependsOn": to }));
        }
    }
    out
}
