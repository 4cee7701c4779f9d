//! Discovery: one `ward scan` pass over the inputs, during which every file is also
//! classified by its content and the facts `ward bom` needs are read from its header.
//!
//! The scan's own walk decides which files exist (links followed only inside the named
//! directory, special files refused), so a BOM never lists a file a scan would not have
//! looked at. Weight bytes are never read here: header-only formats read their headers,
//! and hashing (in `assemble`) is the one pass over every byte.

use std::collections::BTreeMap;
use std::io::{Read, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ward_formats::dataset::{self, DataFormat};
use ward_scan::engine::HeaderFacts;
use ward_scan::scan::{DefaultEngine, Engine, EngineOutcome};
use ward_scan::{Context, Finding, Location, Source};

use crate::hf;
use crate::locks::{LockKind, lock_kind};
use crate::model::{PromptKind, TensorSpec};

/// Largest text file kept for reading (model cards, configs, lock files, prompts).
pub const MAX_TEXT_BYTES: u64 = 64 << 20;
/// Largest generic JSON, YAML or TOML file searched for system prompts.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Bytes read from the start and the end of a file to recognise data formats.
const SNIFF_BYTES: u64 = 64 << 10;

/// What a file is, for the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// Model weights or graph, with the format name used in the BOM.
    Model(&'static str),
    /// A data file, with its format.
    Data(&'static str),
    /// A prompt or template file.
    Prompt(PromptKind),
    /// A dependency lock file.
    Lock(LockKind),
    /// A text file `ward bom` reads for facts (cards, configs, manifests) but does not
    /// list as an asset of its own.
    Text,
    /// Anything else (source code, docs, unknown binaries).
    Other,
}

/// Facts of an ONNX graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnnxFacts {
    /// `domain` -> highest opset version imported.
    pub opsets: BTreeMap<String, u64>,
    /// Producer name.
    pub producer: Option<String>,
    /// Main graph inputs.
    pub inputs: Vec<TensorSpec>,
    /// Main graph outputs.
    pub outputs: Vec<TensorSpec>,
}

/// Everything discovery learnt about one file.
#[derive(Debug, Clone)]
pub struct Seen {
    /// What it is.
    pub class: Class,
    /// The format the scanner detected (`safetensors`, `text`, `unknown`, ...).
    pub scanner_format: String,
    /// Size in bytes.
    pub size: u64,
    /// safetensors header facts.
    pub safetensors: Option<ward_formats::safetensors::Facts>,
    /// GGUF header facts.
    pub gguf: Option<ward_formats::gguf::Facts>,
    /// ONNX graph facts.
    pub onnx: Option<OnnxFacts>,
    /// Rows, for data formats that record them.
    pub rows: Option<u64>,
    /// The text, for text files `ward bom` reads.
    pub text: Option<String>,
    /// System prompts found in a JSON, YAML or TOML configuration file: key path and text.
    /// Only these are kept of such a file, so memory follows what was found, not the tree.
    pub config_prompts: Vec<(String, String)>,
    /// Files beside this one that its loader reads as raw tensor bytes.
    pub claims: Vec<PathBuf>,
}

/// The engine `ward bom` scans with: the real scanner, plus classification and facts.
#[derive(Default)]
pub struct BomEngine {
    seen: Mutex<BTreeMap<String, Seen>>,
}

impl BomEngine {
    /// What was seen, by display path.
    pub fn into_seen(self) -> BTreeMap<String, Seen> {
        self.seen
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Engine for BomEngine {
    fn scan_file(
        &self,
        src: &mut dyn Source,
        len: u64,
        loc: &Location,
        ctx: &Context,
    ) -> EngineOutcome {
        let mut outcome = DefaultEngine.scan_file(src, len, loc, ctx);
        // The scan read the header already; its facts move here, the walk has no use for them.
        let facts = std::mem::take(&mut outcome.facts);
        let seen = classify(src, len, loc, ctx, &outcome, facts);
        if let Ok(mut map) = self.seen.lock() {
            map.insert(loc.path.clone(), seen);
        }
        outcome
    }

    fn scan_dir(&self, dir: &Path, root: &Path, loc: &Location, ctx: &Context) -> Vec<Finding> {
        DefaultEngine.scan_dir(dir, root, loc, ctx)
    }
}

/// The file name of a display path, lowercased.
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase()
}

/// The extension (after the last dot) of a lowercased file name.
fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, ext)| ext)
}

/// The name of the directory holding `path`, lowercased.
fn parent_name(path: &str) -> String {
    let mut parts = path.rsplit(['/', '\\']);
    parts.next();
    parts.next().unwrap_or("").to_ascii_lowercase()
}

/// Names of files read for facts: Hugging Face configs and cards, dataset metadata.
const FACT_FILES: &[&str] = &[
    "config.json",
    "tokenizer_config.json",
    "readme.md",
    "dataset_info.json",
    "dataset_dict.json",
    "state.json",
    "model_index.json",
    "chat_template.json",
    "generation_config.json",
    "modelfile",
    "params.json",
];

fn read_at(src: &mut dyn Source, offset: u64, len: u64) -> Option<Vec<u8>> {
    src.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = Vec::new();
    src.take(len).read_to_end(&mut buf).ok()?;
    Some(buf)
}

fn classify(
    src: &mut dyn Source,
    len: u64,
    loc: &Location,
    ctx: &Context,
    outcome: &EngineOutcome,
    facts: HeaderFacts,
) -> Seen {
    let name = file_name(&loc.path);
    let ext = extension(&name).to_owned();
    let mut seen = Seen {
        class: Class::Other,
        scanner_format: outcome.format.clone(),
        size: len,
        safetensors: None,
        gguf: None,
        onnx: None,
        rows: None,
        text: None,
        config_prompts: Vec::new(),
        claims: outcome.claims.clone(),
    };
    seen.class = match outcome.format.as_str() {
        "safetensors" => {
            if let HeaderFacts::Safetensors(f) = facts {
                seen.safetensors = Some(f);
            }
            Class::Model("safetensors")
        }
        "gguf" => {
            if let HeaderFacts::Gguf(f) = facts {
                seen.gguf = Some(*f);
            }
            Class::Model("gguf")
        }
        "onnx" => {
            if let HeaderFacts::Onnx(model) = facts {
                seen.onnx = Some(onnx_facts(&model));
            }
            Class::Model("onnx")
        }
        "tf-saved-model" | "tf-graph-def" => Class::Model("tensorflow"),
        "hdf5" => Class::Model("keras"),
        "npy" => Class::Model("numpy"),
        "pickle" => Class::Model(if ext == "joblib" { "joblib" } else { "pickle" }),
        "zip" => zip_class(src, len, ctx),
        "gzip" | "zlib" | "bzip2" | "xz" | "lz4" | "lzma" => compressed_class(&name),
        "text" => text_class(&loc.path, &name, &ext, len, src, &ctx.limits, &mut seen),
        _ => binary_data_class(src, len, &mut seen, ctx),
    };
    seen
}

fn onnx_facts(model: &ward_formats::onnx::Model) -> OnnxFacts {
    let mut facts = OnnxFacts {
        producer: model.producer_name.clone().filter(|p| !p.is_empty()),
        ..OnnxFacts::default()
    };
    for import in model.opset_imports.iter().filter(|i| i.scope == "model") {
        let domain = if import.domain.is_empty() {
            "ai.onnx".to_owned()
        } else {
            import.domain.clone()
        };
        let entry = facts.opsets.entry(domain).or_insert(0);
        *entry = (*entry).max(import.version);
    }
    let spec = |v: &ward_formats::onnx::GraphValue| TensorSpec {
        name: v.name.clone(),
        description: v.elem_type.map(|t| {
            let ty = ward_formats::onnx::elem_type_name(t);
            match &v.shape {
                Some(dims) => format!("{ty}[{}]", dims.join(", ")),
                None => ty.to_owned(),
            }
        }),
    };
    facts.inputs = model.inputs.iter().map(spec).collect();
    facts.outputs = model.outputs.iter().map(spec).collect();
    facts
}

/// Zips are models only when their members say so: a PyTorch checkpoint holds
/// `<folder>/data.pkl`, a `.keras` file `config.json` and `metadata.json`, an `.npz` only
/// `.npy` arrays.
fn zip_class(src: &mut dyn Source, len: u64, ctx: &Context) -> Class {
    let Ok(archive) = ward_formats::zip::ZipArchive::parse(src, len, &ctx.limits) else {
        return Class::Other;
    };
    let names: Vec<String> = archive
        .entries
        .iter()
        .map(|e| e.name.to_ascii_lowercase())
        .collect();
    if names
        .iter()
        .any(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
    {
        Class::Model("pytorch")
    } else if names.iter().any(|n| n == "config.json") && names.iter().any(|n| n == "metadata.json")
    {
        Class::Model("keras")
    } else if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        Class::Model("numpy")
    } else {
        Class::Other
    }
}

/// A compressed stream is classified by what its name says is inside; its content is
/// still scanned in full by the scanner.
fn compressed_class(name: &str) -> Class {
    let has = |part: &str| name.contains(part);
    if name.ends_with(".joblib") || has(".joblib.") {
        Class::Model("joblib")
    } else if has(".pkl") || has(".pickle") {
        Class::Model("pickle")
    } else if has(".csv.") || has(".tsv.") {
        Class::Data("csv")
    } else if has(".jsonl.") || has(".ndjson.") {
        Class::Data("jsonl")
    } else {
        Class::Other
    }
}

fn binary_data_class(src: &mut dyn Source, len: u64, seen: &mut Seen, ctx: &Context) -> Class {
    let Some(prefix) = read_at(src, 0, SNIFF_BYTES.min(len)) else {
        return Class::Other;
    };
    let tail_start = len.saturating_sub(SNIFF_BYTES);
    let Some(tail) = read_at(src, tail_start, len.saturating_sub(tail_start)) else {
        return Class::Other;
    };
    match dataset::sniff(&prefix, &tail, len) {
        Some(DataFormat::Parquet) => {
            seen.rows = parquet_rows(src, len, &tail, ctx);
            Class::Data("parquet")
        }
        Some(DataFormat::ArrowFile | DataFormat::ArrowStream) => Class::Data("arrow"),
        Some(DataFormat::TfRecord) => Class::Data("tfrecord"),
        Some(DataFormat::JsonLines) => Class::Data("jsonl"),
        Some(DataFormat::Csv) => Class::Data("csv"),
        None => Class::Other,
    }
}

fn parquet_rows(src: &mut dyn Source, len: u64, tail: &[u8], ctx: &Context) -> Option<u64> {
    let last8 = tail.get(tail.len().checked_sub(8)?..)?;
    let footer_len = dataset::parquet_footer_len(last8, len)?;
    if footer_len > ctx.limits.max_header_bytes {
        return None;
    }
    let start = len.checked_sub(8)?.checked_sub(footer_len)?;
    let footer = read_at(src, start, footer_len)?;
    dataset::parquet_facts(&footer, &ctx.limits)
        .ok()
        .map(|f| f.rows)
}

fn read_text(src: &mut dyn Source, len: u64, max: u64) -> Option<String> {
    if len > max {
        return None;
    }
    let bytes = read_at(src, 0, len)?;
    String::from_utf8(bytes).ok()
}

fn text_class(
    path: &str,
    name: &str,
    ext: &str,
    len: u64,
    src: &mut dyn Source,
    limits: &ward_formats::Limits,
    seen: &mut Seen,
) -> Class {
    // Lock files are matched by their exact name (`Cargo.lock`, `Pipfile.lock`).
    let exact = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if let Some(kind) = lock_kind(exact) {
        seen.text = read_text(src, len, MAX_TEXT_BYTES);
        return Class::Lock(kind);
    }
    let class = match ext {
        "csv" => Some(Class::Data("csv")),
        "tsv" => Some(Class::Data("tsv")),
        "jsonl" | "ndjson" => Some(Class::Data("jsonl")),
        _ => None,
    };
    if let Some(class) = class {
        return class;
    }
    let prompt = if name == "chat_template.jinja" || name.ends_with(".chat_template.jinja") {
        Some(PromptKind::ChatTemplate)
    } else if matches!(ext, "jinja" | "jinja2" | "j2" | "prompt" | "prompty") {
        Some(PromptKind::Prompt)
    } else if matches!(ext, "txt" | "md")
        && (name.contains("system_prompt")
            || name.contains("system-prompt")
            || name.contains("systemprompt"))
    {
        Some(PromptKind::SystemPrompt)
    } else if parent_name(path) == "prompts"
        && matches!(ext, "txt" | "md" | "yaml" | "yml" | "json")
    {
        Some(PromptKind::Prompt)
    } else {
        None
    };
    if let Some(kind) = prompt {
        // A prompt file is identified by its digest; only a chat template's text is read
        // again (into its model's facts).
        if kind == PromptKind::ChatTemplate {
            seen.text = read_text(src, len, MAX_TEXT_BYTES);
        }
        return Class::Prompt(kind);
    }
    let in_manifests = path.replace('\\', "/").contains("/manifests/");
    let is_fact_file = FACT_FILES.contains(&name) || name.ends_with(".index.json") || in_manifests;
    let is_config = matches!(ext, "json" | "yaml" | "yml" | "toml");
    if !is_fact_file && !is_config {
        // Extensionless or unusual names: recognise JSON Lines by content.
        if ext.is_empty()
            && let Some(prefix) = read_at(src, 0, SNIFF_BYTES.min(len))
            && dataset::sniff(&prefix, &[], len) == Some(DataFormat::JsonLines)
        {
            return Class::Data("jsonl");
        }
        return Class::Other;
    }
    let max = if is_fact_file {
        MAX_TEXT_BYTES
    } else {
        MAX_CONFIG_BYTES
    };
    let text = read_text(src, len, max);
    let searched = is_config
        && !in_manifests
        && !matches!(
            name,
            "config.json" | "tokenizer_config.json" | "chat_template.json"
        );
    if let (true, Some(text)) = (searched, &text) {
        seen.config_prompts = match ext {
            "json" => serde_json::from_str(text)
                .map(|v| hf::system_prompts_json(&v))
                .unwrap_or_default(),
            "toml" => hf::system_prompts_toml(text),
            _ => hf::system_prompts_yaml(text, limits),
        };
    }
    if is_fact_file {
        seen.text = text;
    }
    Class::Text
}
