//! The inventory: what `ward bom` found, independent of any output format.
//!
//! Discovery fills a [`Bom`]; the CycloneDX and SPDX writers and the text summary only
//! read it. Everything is sorted (components by kind then path, files by path), so the
//! same tree always gives the same inventory.

use std::collections::BTreeMap;

/// What kind of asset a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Model weights or a model graph (one file, or the shards and files of one model).
    Model,
    /// A dataset file or a dataset folder.
    Dataset,
    /// A prompt, chat template or system prompt.
    Prompt,
    /// A software library from a dependency lock file.
    Library,
}

impl Kind {
    /// Lowercase name used in reports and in `bom-ref`s.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Dataset => "dataset",
            Kind::Prompt => "prompt",
            Kind::Library => "library",
        }
    }
}

/// One file of a component, hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path as found under the input the user named (`/` separators).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: String,
    /// The format detected from the content (`safetensors`, `parquet`, `text`, ...).
    pub format: String,
}

/// The `ward scan` verdict of a component's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every file was scanned and nothing was found.
    Clean,
    /// The scanner reported findings (active, not waived); the codes are listed.
    Findings,
    /// The scanner has no rules for this format (data files, lock files, text); nothing
    /// is claimed about it.
    NotScanned,
}

impl Verdict {
    /// Lowercase name used in properties.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Findings => "findings",
            Verdict::NotScanned => "not-scanned",
        }
    }
}

/// Whether a signature (`model.sig`) covers the component and what verifying it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No signature file was found.
    Absent,
    /// A signature file is present but no key or trust root was given to verify it.
    Unverified {
        /// The signature file.
        path: String,
    },
    /// The signature verified and every file matches it.
    Verified {
        /// The signature file.
        path: String,
        /// Who signed (key fingerprint or certificate subject).
        signer: String,
    },
    /// Verification failed.
    Failed {
        /// The signature file.
        path: String,
        /// Why, in one line.
        reason: String,
    },
}

impl Signature {
    /// Lowercase status name used in properties.
    pub fn status(&self) -> &'static str {
        match self {
            Signature::Absent => "absent",
            Signature::Unverified { .. } => "unverified",
            Signature::Verified { .. } => "verified",
            Signature::Failed { .. } => "failed",
        }
    }
}

/// Security state of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// The scan verdict over all of the component's files.
    pub verdict: Verdict,
    /// Active finding codes, sorted and deduplicated.
    pub codes: Vec<String>,
    /// The highest active severity (`critical`, `high`, ...), if any finding.
    pub max_severity: Option<String>,
    /// Signature status.
    pub signature: Signature,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            verdict: Verdict::NotScanned,
            codes: Vec::new(),
            max_severity: None,
            signature: Signature::Absent,
        }
    }
}

/// A tensor input or output of a model graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// The tensor's name.
    pub name: String,
    /// Element type and shape as the graph declares them, when it does.
    pub description: Option<String>,
}

/// What is known about a model without loading its weights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFacts {
    /// Weight formats present (`safetensors`, `gguf`, `pytorch`, ...), sorted.
    pub formats: Vec<String>,
    /// Architecture family (`llama`, `bert`; GGUF `general.architecture`, HF `model_type`).
    pub architecture_family: Option<String>,
    /// Concrete architectures (HF `architectures`, e.g. `LlamaForCausalLM`).
    pub architectures: Vec<String>,
    /// The task (`text-generation`; model card `pipeline_tag`).
    pub task: Option<String>,
    /// Tensors over every weight file whose header was read.
    pub tensor_count: Option<u64>,
    /// Parameters (elements) over every weight file whose header was read.
    pub parameter_count: Option<u128>,
    /// Tensor element types and how many tensors use each (safetensors dtypes, GGUF types).
    pub dtypes: BTreeMap<String, u64>,
    /// Quantization (GGUF file type name, e.g. `Q4_K_M`).
    pub quantization: Option<String>,
    /// Context length (GGUF `<arch>.context_length`, HF `max_position_embeddings`).
    pub context_length: Option<u64>,
    /// SPDX license id or name (GGUF `general.license`, model card `license`).
    pub license: Option<String>,
    /// Base models named by the card or the GGUF header.
    pub base_models: Vec<String>,
    /// Datasets named by the model card.
    pub datasets: Vec<String>,
    /// Languages named by the model card.
    pub languages: Vec<String>,
    /// SHA-256 of each chat template the model carries (GGUF metadata,
    /// `tokenizer_config.json`, `chat_template.jinja`), by template name.
    pub chat_templates: BTreeMap<String, String>,
    /// ONNX opsets (`domain` -> version; the default domain is `ai.onnx`).
    pub opsets: BTreeMap<String, u64>,
    /// ONNX producer name and version, when present.
    pub producer: Option<String>,
    /// Graph inputs (ONNX).
    pub inputs: Vec<TensorSpec>,
    /// Graph outputs (ONNX).
    pub outputs: Vec<TensorSpec>,
    /// Whether a model card (README.md with front matter) was found.
    pub has_model_card: bool,
}

/// What is known about a dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetFacts {
    /// Data formats present (`parquet`, `arrow`, `csv`, `jsonl`, `tfrecord`), sorted.
    pub formats: Vec<String>,
    /// Rows, when the format records them (Parquet footer).
    pub rows: Option<u64>,
    /// License from a dataset card, when present.
    pub license: Option<String>,
    /// Description from a dataset card or `dataset_info.json`, when present.
    pub description: Option<String>,
}

/// What is known about a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// A Jinja chat template.
    ChatTemplate,
    /// A system prompt.
    SystemPrompt,
    /// A prompt file or template of another kind.
    Prompt,
}

impl PromptKind {
    /// Lowercase name used in properties.
    pub fn as_str(&self) -> &'static str {
        match self {
            PromptKind::ChatTemplate => "chat-template",
            PromptKind::SystemPrompt => "system-prompt",
            PromptKind::Prompt => "prompt",
        }
    }
}

/// A library from a lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryFacts {
    /// The ecosystem (`cargo`, `pypi`, `npm`).
    pub ecosystem: String,
    /// The lock file it was read from.
    pub lock_file: String,
}

/// How completely a model is documented: which of the fields an auditor needs are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completeness {
    /// Fields checked, in a fixed order, with whether each is present.
    pub fields: Vec<(&'static str, bool)>,
}

impl Completeness {
    /// Present fields over checked fields, as a whole percentage.
    pub fn percent(&self) -> u32 {
        let total = self.fields.len();
        if total == 0 {
            return 0;
        }
        let present = self.fields.iter().filter(|(_, ok)| *ok).count();
        u32::try_from(present.saturating_mul(100) / total).unwrap_or(100)
    }

    /// The fields that are missing.
    pub fn missing(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| *name)
    }
}

/// Facts that depend on the kind of component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Details {
    /// A model.
    Model(Box<ModelFacts>),
    /// A dataset.
    Dataset(DatasetFacts),
    /// A prompt.
    Prompt(PromptKind),
    /// A library.
    Library(LibraryFacts),
}

/// One asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Stable identifier, unique in the BOM (`model:<path>`, `pkg:<purl>`...): used as the
    /// CycloneDX `bom-ref` and to build SPDX ids.
    pub id: String,
    /// The kind of asset.
    pub kind: Kind,
    /// Display name (`meta-llama/Llama-3.2-1B`, `train.parquet`, `serde`).
    pub name: String,
    /// Version, when known (a library's version, a Hugging Face snapshot revision, an
    /// Ollama tag).
    pub version: Option<String>,
    /// Where it is: the file, or the folder holding a multi-file component. Libraries
    /// give their lock file.
    pub path: String,
    /// Package URL, when one applies (libraries, Hugging Face models).
    pub purl: Option<String>,
    /// Every file of the component, sorted by path (empty for libraries). A single-file
    /// component has one entry; a sharded model lists every shard.
    pub files: Vec<FileEntry>,
    /// SHA-256 identifying the component as a whole: the file's digest for a single file;
    /// for several files, the SHA-256 of the sorted `"<sha256>  <path>\n"` lines (the
    /// format of `sha256sum`), so any change to any file changes it. `None` for libraries
    /// (their lock file's integrity hash, if any, is in `integrity`).
    pub sha256: Option<String>,
    /// A library's integrity hash from its lock file, as written there (`sha256:<hex>`,
    /// npm's `sha512-<base64>`).
    pub integrity: Option<String>,
    /// Scan verdict and signature status.
    pub security: Security,
    /// Kind-specific facts.
    pub details: Details,
    /// Documentation completeness (models only).
    pub completeness: Option<Completeness>,
}

impl Component {
    /// Total size of the component's files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The model facts, if this is a model.
    pub fn model(&self) -> Option<&ModelFacts> {
        match &self.details {
            Details::Model(facts) => Some(facts),
            _ => None,
        }
    }
}

/// How two components are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelationKind {
    /// The model was trained or fine-tuned on the dataset.
    TrainedOn,
    /// The model derives from a base model (fine-tune, quantization, adapter).
    DerivedFrom,
    /// The model uses the prompt or chat template.
    Uses,
}

/// A relationship between two components, by [`Component::id`]. The target may name a
/// component that is not in the inventory (a base model or dataset known only by name);
/// writers then emit a placeholder component for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Relation {
    /// The component the relation starts from.
    pub from: String,
    /// The relation.
    pub kind: RelationKind,
    /// The component it points to.
    pub to: String,
}

/// A component known only by name (a base model or dataset a model card names but that is
/// not on disk), so relationships have somewhere to point.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct External {
    /// Identifier, as used in [`Relation::to`].
    pub id: String,
    /// Model or dataset.
    pub kind: Kind,
    /// The name as written (`meta-llama/Llama-3.2-1B`).
    pub name: String,
    /// Package URL, when the name is a Hugging Face repository id.
    pub purl: Option<String>,
}

/// The whole inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bom {
    /// Components, sorted by kind then path then name.
    pub components: Vec<Component>,
    /// Components named but not present, sorted by id.
    pub externals: Vec<External>,
    /// Relationships, sorted.
    pub relations: Vec<Relation>,
    /// The inputs as the user named them.
    pub inputs: Vec<String>,
    /// Files looked at that are not assets (source code, READMEs, configs), by count.
    pub other_files: u64,
    /// Files that could not be read: path and reason. Any makes `ward bom` exit with 2.
    pub errors: Vec<(String, String)>,
}

/// What a written document says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    /// When the document was made (`SOURCE_DATE_EPOCH` when set, for reproducible output).
    pub created: jiff::Timestamp,
    /// A UUID (`xxxxxxxx-xxxx-...`, lowercase) unique to this document: random by default,
    /// derived from the inventory's content when output must be reproducible.
    pub uuid: String,
    /// Document name (the inputs, joined).
    pub name: String,
    /// ward's version.
    pub tool_version: String,
}
