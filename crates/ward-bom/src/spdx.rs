//! The inventory as an SPDX 3.0.1 JSON-LD document.
//!
//! [`write`] turns a [`Bom`] into one `@graph`: the `CreationInfo` (a blank node every
//! element points to), the agent and tool that made the document, the `SpdxDocument`, one
//! `software_Sbom` of type `analyzed` whose roots are the components, and then one element
//! per component, file, license and relationship. The mapping, with the reason for each
//! choice where the specification leaves one:
//!
//! - A model is an `ai_AIPackage` (`software_primaryPurpose` `model`); a dataset is a
//!   `dataset_DatasetPackage` (`data`); a library is a `software_Package` (`library`) with
//!   its package URL, version and lock-file integrity hash. A prompt is a `software_File`
//!   with `software_primaryPurpose` `configuration`: a chat template or system prompt is
//!   configuration applied to a model at run time, not documentation of it. A prompt made
//!   of other than exactly one file (not something discovery produces) falls back to a
//!   `software_Package`.
//! - Every file of a package is a `software_File` named by its path with its SHA-256 in
//!   `verifiedUsing`, and one `contains` relationship (`completeness` `complete`) joins the
//!   package to them. The package's own `verifiedUsing` holds [`Component::sha256`], whose
//!   `comment` says how it was computed when the component has several files.
//! - Model facts go to the AI profile where a property means the same thing:
//!   architectures to `ai_typeOfModel`, the task to `ai_domain`, context length and
//!   parameter count to `ai_hyperparameter`, the base models and datasets the card names
//!   to `ai_informationAboutTraining`. Quantization is not a hyperparameter (it is applied
//!   after training), so it stays a `ward:` property like everything else without an SPDX
//!   home.
//! - The AI and Dataset profiles require exactly one `hasDeclaredLicense` and one
//!   `hasConcludedLicense` relationship per package. The license a card or header states
//!   is declared (a `simplelicensing_LicenseExpression`); ward concludes nothing, so the
//!   concluded license is `expandedlicensing_NoAssertionLicense`, as is the declared one
//!   when no license was found.
//! - Relations: `TrainedOn` is `trainedOn`; `DerivedFrom` is `descendantOf` (from the
//!   model to its base, the direction ward records); `Uses` of a prompt is `configures`
//!   from the prompt to the model, and `Uses` of anything else is `dependsOn`.
//! - Externals (and any relation end that names no component) become packages with
//!   nothing but a name, a package URL when known, and `NoAssertionLicense`s; a dataset
//!   known only by name has `dataset_datasetType` `noAssertion`.
//! - What SPDX 3.0.1 has no property for (scan verdict and codes, signature status,
//!   completeness, formats, dtypes, opsets, chat-template digests, file sizes, ...) is
//!   kept in an `extension_CdxPropertiesExtension`, the Extension profile's name-value
//!   list designed to match CycloneDX properties, under the `ward:` names listed in
//!   [`property`].
//!
//! The AI and Dataset profiles also ask for a release time, a supplier, a download
//! location and (for datasets) a build time and originator. A local inventory knows none
//! of them, and SPDX 3.0.1 has no "no assertion" value for dates and URIs, so they are
//! left out rather than invented.
//!
//! Element ids are IRIs under `https://spdx.org/spdxdocs/ward-<uuid>#` (the namespace SPDX
//! 2 recommended, and SPDX 3 examples use, for documents without a web home), then a
//! local name built from [`Component::id`] with every byte outside `A-Za-z0-9-._~:@`
//! percent-encoded, so that `/` separates the parts of a local name unambiguously and two
//! different ids never meet. The same inventory and [`DocumentInfo`] always give the
//! same document, byte for byte.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::{
    Bom, Component, DatasetFacts, Details, DocumentInfo, External, FileEntry, Kind, LibraryFacts,
    ModelFacts, PromptKind, RelationKind, Security, Signature,
};

/// The SPDX 3.0.1 JSON-LD context every document must name.
pub const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";

/// The SPDX version written in `CreationInfo`.
pub const SPEC_VERSION: &str = "3.0.1";

/// The blank node of the one `CreationInfo` all elements share.
const CREATION_INFO: &str = "_:creationinfo";

/// The named individual for "no assertion is made about the license".
const NO_ASSERTION_LICENSE: &str = "expandedlicensing_NoAssertionLicense";

/// Where element ids live: the namespace SPDX uses for documents whose creator has no
/// web site of its own.
const ID_NAMESPACE: &str = "https://spdx.org/spdxdocs/ward-";

/// Deepest parenthesis nesting accepted in a license expression; deeper ones are kept
/// as a `LicenseRef` instead of being parsed.
const MAX_LICENSE_NESTING: usize = 16;

/// Names of the `ward:` properties, shared with the CycloneDX writer's vocabulary.
///
/// Lists of codes or field names are one comma-separated value; lists of names (which
/// may contain commas) are one property per item; maps are one property per key, with
/// the key after the last `:`.
pub mod property {
    /// Scan verdict: `clean`, `findings` or `not-scanned`.
    pub const SCAN_VERDICT: &str = "ward:scan:verdict";
    /// Active finding codes, comma-separated.
    pub const SCAN_CODES: &str = "ward:scan:codes";
    /// Highest active severity.
    pub const SCAN_MAX_SEVERITY: &str = "ward:scan:max-severity";
    /// Signature status: `absent`, `unverified`, `verified` or `failed`.
    pub const SIGNATURE_STATUS: &str = "ward:signature:status";
    /// The signature file.
    pub const SIGNATURE_PATH: &str = "ward:signature:path";
    /// Who signed, for a verified signature.
    pub const SIGNATURE_SIGNER: &str = "ward:signature:signer";
    /// Why verification failed.
    pub const SIGNATURE_REASON: &str = "ward:signature:reason";
    /// Documentation completeness of a model, as a whole percentage.
    pub const COMPLETENESS: &str = "ward:completeness";
    /// The completeness fields checked, comma-separated.
    pub const COMPLETENESS_CHECKED: &str = "ward:completeness:checked";
    /// The completeness fields missing, comma-separated.
    pub const COMPLETENESS_MISSING: &str = "ward:completeness:missing";
    /// Where the component is (file, folder or lock file).
    pub const PATH: &str = "ward:path";
    /// The component's display name, when an SPDX file element is named by its path.
    pub const NAME: &str = "ward:name";
    /// The component's version, when its SPDX element has no version property.
    pub const VERSION: &str = "ward:version";
    /// The component's package URL, when its SPDX element has no package URL property.
    pub const PURL: &str = "ward:purl";
    /// A file's size in bytes.
    pub const SIZE: &str = "ward:size";
    /// A file's format, detected from its content.
    pub const FORMAT: &str = "ward:format";
    /// `true` for a component known only by name (not found in the inputs).
    pub const EXTERNAL: &str = "ward:external";
    /// Weight formats of a model, comma-separated.
    pub const MODEL_FORMATS: &str = "ward:model:formats";
    /// Architecture family of a model (`llama`).
    pub const MODEL_ARCHITECTURE_FAMILY: &str = "ward:model:architecture-family";
    /// Tensors over the weight files whose header was read.
    pub const MODEL_TENSOR_COUNT: &str = "ward:model:tensor-count";
    /// Tensors per element type; the key is the dtype.
    pub const MODEL_DTYPE: &str = "ward:model:dtype";
    /// Quantization (GGUF file type name).
    pub const MODEL_QUANTIZATION: &str = "ward:model:quantization";
    /// A base model the card or header names, one property each.
    pub const MODEL_BASE_MODEL: &str = "ward:model:base-model";
    /// A dataset the card names, one property each.
    pub const MODEL_DATASET: &str = "ward:model:dataset";
    /// A language the card names, one property each.
    pub const MODEL_LANGUAGE: &str = "ward:model:language";
    /// SHA-256 of a chat template; the key is the template's name.
    pub const MODEL_CHAT_TEMPLATE: &str = "ward:model:chat-template";
    /// ONNX opset version; the key is the operator domain.
    pub const MODEL_OPSET: &str = "ward:model:opset";
    /// ONNX producer.
    pub const MODEL_PRODUCER: &str = "ward:model:producer";
    /// A graph input (`name` or `name: description`), one property each.
    pub const MODEL_INPUT: &str = "ward:model:input";
    /// A graph output (`name` or `name: description`), one property each.
    pub const MODEL_OUTPUT: &str = "ward:model:output";
    /// Whether a model card was found: `true` or `false`.
    pub const MODEL_CARD: &str = "ward:model:card";
    /// Data formats of a dataset, comma-separated.
    pub const DATASET_FORMATS: &str = "ward:dataset:formats";
    /// Rows of a dataset, when the format records them.
    pub const DATASET_ROWS: &str = "ward:dataset:rows";
    /// The prompt's kind: `chat-template`, `system-prompt` or `prompt`.
    pub const PROMPT_KIND: &str = "ward:prompt:kind";
    /// A library's ecosystem (`cargo`, `pypi`, `npm`).
    pub const LIBRARY_ECOSYSTEM: &str = "ward:library:ecosystem";
    /// The lock file a library was read from.
    pub const LIBRARY_LOCK_FILE: &str = "ward:library:lock-file";
    /// A lock-file integrity value that is not a hash SPDX can express.
    pub const LIBRARY_INTEGRITY: &str = "ward:library:integrity";
    /// An input as the user named it, one property each (on the SBOM).
    pub const INPUT: &str = "ward:input";
    /// Files looked at that are not assets, by count (on the SBOM).
    pub const OTHER_FILES: &str = "ward:other-files";
    /// A file that could not be read, `path: reason`, one property each (on the SBOM).
    pub const ERROR: &str = "ward:error";
}

/// The inventory as an SPDX 3.0.1 JSON-LD document.
pub fn write(bom: &Bom, info: &DocumentInfo) -> Value {
    let mut writer = Writer::new(&info.uuid);
    writer.inventory(bom);
    writer.finish(bom, info)
}

/// The SPDX profiles a document can use, in the order the specification lists them.
///
/// `extension` is never claimed, although the `ward:` properties use the Extension
/// profile's class: the 3.0.1 JSON schema only accepts the compact value `extension` in
/// `profileConformance`, and the 3.0.1 JSON-LD context expands that word to the
/// `extension` *property*, so the claim would be read as a value that is not a profile
/// and fail SHACL validation. The profile adds no conformance rules, so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Profile {
    Core,
    Software,
    SimpleLicensing,
    ExpandedLicensing,
    Ai,
    Dataset,
}

impl Profile {
    fn as_str(self) -> &'static str {
        match self {
            Profile::Core => "core",
            Profile::Software => "software",
            Profile::SimpleLicensing => "simpleLicensing",
            Profile::ExpandedLicensing => "expandedLicensing",
            Profile::Ai => "ai",
            Profile::Dataset => "dataset",
        }
    }
}

/// A name-value list that becomes an `extension_CdxPropertiesExtension`.
#[derive(Default)]
struct Properties(Vec<(String, String)>);

impl Properties {
    fn add(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_owned(), value.into()));
    }

    fn keyed(&mut self, name: &str, key: &str, value: impl Into<String>) {
        self.0.push((format!("{name}:{key}"), value.into()));
    }

    fn joined(&mut self, name: &str, items: &[String]) {
        if !items.is_empty() {
            self.add(name, items.join(","));
        }
    }

    fn each(&mut self, name: &str, items: &[String]) {
        for item in items {
            self.add(name, item.clone());
        }
    }
}

/// How a component becomes an SPDX element.
#[derive(Clone, Copy)]
struct Shape {
    /// The SPDX class.
    class: &'static str,
    /// `software_primaryPurpose`.
    purpose: &'static str,
    /// Whether the class is a package (has version and package URL properties).
    package: bool,
}

impl Shape {
    fn of(kind: Kind, files: usize) -> Shape {
        match kind {
            Kind::Model => Shape {
                class: "ai_AIPackage",
                purpose: "model",
                package: true,
            },
            Kind::Dataset => Shape {
                class: "dataset_DatasetPackage",
                purpose: "data",
                package: true,
            },
            Kind::Library => Shape {
                class: "software_Package",
                purpose: "library",
                package: true,
            },
            Kind::Prompt if files == 1 => Shape {
                class: "software_File",
                purpose: "configuration",
                package: false,
            },
            Kind::Prompt => Shape {
                class: "software_Package",
                purpose: "configuration",
                package: true,
            },
        }
    }

    /// Whether the AI or Dataset profile requires license relationships for it.
    fn needs_licenses(self, kind: Kind) -> bool {
        self.package && matches!(kind, Kind::Model | Kind::Dataset)
    }
}

/// Where a component known only by name comes from.
#[derive(Clone, Copy)]
enum Origin {
    /// The inventory lists it in [`Bom::externals`].
    Named,
    /// Only a relation names it.
    Relation,
}

struct Writer {
    /// `https://spdx.org/spdxdocs/ward-<uuid>#`.
    base: String,
    /// Elements of the inventory, in the order they are written.
    elements: Vec<Value>,
    /// Ids of the elements the SBOM holds.
    members: Vec<String>,
    /// Ids of the components: the SBOM's roots.
    roots: Vec<String>,
    /// Every id issued, so none is issued twice.
    issued: BTreeSet<String>,
    /// Component and external ids to their element id and kind.
    known: BTreeMap<String, (String, Kind)>,
    profiles: BTreeSet<Profile>,
}

impl Writer {
    fn new(uuid: &str) -> Writer {
        let mut writer = Writer {
            base: format!("{ID_NAMESPACE}{}#", escape(uuid)),
            elements: Vec::new(),
            members: Vec::new(),
            roots: Vec::new(),
            issued: BTreeSet::new(),
            known: BTreeMap::new(),
            profiles: BTreeSet::new(),
        };
        writer.profiles.insert(Profile::Core);
        writer.profiles.insert(Profile::Software);
        writer
    }

    /// A fresh element id for `local`; a local name already taken (two components with
    /// one id, which discovery never produces) gets a `/duplicate/<n>` suffix, which no
    /// escaped id can contain.
    fn id(&mut self, local: &str) -> String {
        let mut id = format!("{}{local}", self.base);
        let mut n: u64 = 1;
        // Ends within `issued.len() + 1` rounds: each round tries a new name.
        while self.issued.contains(&id) {
            n = n.saturating_add(1);
            id = format!("{}{local}/duplicate/{n}", self.base);
        }
        self.issued.insert(id.clone());
        id
    }

    fn push(&mut self, element: Value, id: &str) {
        self.elements.push(element);
        self.members.push(id.to_owned());
    }

    fn inventory(&mut self, bom: &Bom) {
        for component in &bom.components {
            self.component(component);
        }
        for external in &bom.externals {
            if !self.known.contains_key(&external.id) {
                self.external(external, Origin::Named);
            }
        }
        let relations: BTreeSet<_> = bom.relations.iter().collect();
        // Relation ends that name nothing in the inventory still need an element to point
        // at; the relation tells what kind it must be.
        for relation in &relations {
            let to_kind = match relation.kind {
                RelationKind::TrainedOn => Kind::Dataset,
                RelationKind::DerivedFrom => Kind::Model,
                RelationKind::Uses => Kind::Prompt,
            };
            for (id, kind) in [(&relation.from, Kind::Model), (&relation.to, to_kind)] {
                if !self.known.contains_key(id.as_str()) {
                    let placeholder = External {
                        id: id.clone(),
                        kind,
                        name: id.clone(),
                        purl: None,
                    };
                    self.external(&placeholder, Origin::Relation);
                }
            }
        }
        for relation in relations {
            let (Some((from, _)), Some((to, to_kind))) = (
                self.known.get(&relation.from).cloned(),
                self.known.get(&relation.to).cloned(),
            ) else {
                continue;
            };
            let (kind_name, spdx_type, from, to) = match relation.kind {
                RelationKind::TrainedOn => ("trained-on", "trainedOn", from, to),
                RelationKind::DerivedFrom => ("derived-from", "descendantOf", from, to),
                RelationKind::Uses if to_kind == Kind::Prompt => ("uses", "configures", to, from),
                RelationKind::Uses => ("uses", "dependsOn", from, to),
            };
            let local = format!(
                "component/{}/{kind_name}/{}",
                escape(&relation.from),
                escape(&relation.to)
            );
            self.relationship(&local, &from, spdx_type, &[to], None);
        }
    }

    fn component(&mut self, component: &Component) {
        let escaped = escape(&component.id);
        let local = format!("component/{escaped}");
        let id = self.id(&local);
        let local = local_name(&id, &self.base);
        self.known
            .entry(component.id.clone())
            .or_insert_with(|| (id.clone(), component.kind));
        self.roots.push(id.clone());

        // A prompt is a file element only when it is that whole file; a prompt embedded in
        // a larger file (a chat template in a tokenizer config or GGUF header) is a package
        // identified by its text's digest, containing the file it came from.
        let whole_file = match component.files.as_slice() {
            [file] => component.sha256.as_deref() == Some(file.sha256.as_str()),
            _ => false,
        };
        let shape = Shape::of(
            component.kind,
            if whole_file {
                1
            } else {
                component.files.len().max(2)
            },
        );
        let mut element = self.element(shape.class, &id);
        let mut props = Properties::default();

        if shape.package {
            set(&mut element, "name", &component.name);
            if let Some(version) = &component.version {
                set(&mut element, "software_packageVersion", version);
            }
            if let Some(purl) = &component.purl {
                set(&mut element, "software_packageUrl", purl);
            }
            props.add(property::PATH, &component.path);
        } else {
            // A file element is named by its path, as SPDX names files.
            let path = component.files.first().map_or(&component.path, |f| &f.path);
            set(&mut element, "name", path);
            if component.name != *path {
                props.add(property::NAME, &component.name);
            }
            if let Some(version) = &component.version {
                props.add(property::VERSION, version);
            }
            if let Some(purl) = &component.purl {
                props.add(property::PURL, purl);
            }
        }
        set(&mut element, "software_primaryPurpose", shape.purpose);

        let mut hashes = Vec::new();
        let file_hash = component.files.first().filter(|_| !shape.package);
        if let Some(file) = file_hash {
            hashes.push(Value::Object(hash_value("sha256", &file.sha256)));
        } else if let Some(sha256) = &component.sha256 {
            let mut hash = hash_value("sha256", sha256);
            if component.files.len() > 1 {
                set(
                    &mut hash,
                    "comment",
                    "SHA-256 of the component's files as the sorted lines \
                     `<sha256>  <path>` that sha256sum writes, one per file",
                );
            }
            hashes.push(Value::Object(hash));
        }
        if let Some(integrity) = &component.integrity {
            match crate::locks::integrity_hash(integrity) {
                Some((algorithm, hex)) => hashes.push(Value::Object(hash_value(algorithm, &hex))),
                None => props.add(property::LIBRARY_INTEGRITY, integrity),
            }
        }
        if !hashes.is_empty() {
            element.insert("verifiedUsing".into(), Value::Array(hashes));
        }

        match &component.details {
            Details::Model(facts) => self.model(&mut element, &mut props, facts),
            Details::Dataset(facts) => self.dataset(&mut element, &mut props, component, facts),
            Details::Prompt(kind) => prompt(&mut props, kind),
            Details::Library(facts) => library(&mut props, facts),
        }
        if !shape.package
            && let Some(file) = component.files.first()
        {
            file_properties(&mut props, file);
        }
        security(&mut props, &component.security);
        if let Some(completeness) = &component.completeness {
            props.add(property::COMPLETENESS, completeness.percent().to_string());
            let checked: Vec<String> = completeness
                .fields
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .collect();
            let missing: Vec<String> = completeness.missing().map(str::to_owned).collect();
            props.joined(property::COMPLETENESS_CHECKED, &checked);
            props.joined(property::COMPLETENESS_MISSING, &missing);
        }
        self.extend(&mut element, props);
        self.push(Value::Object(element), &id);

        if shape.package && !component.files.is_empty() {
            let mut files = Vec::new();
            for file in &component.files {
                files.push(self.file(&local, file));
            }
            self.relationship(
                &format!("{local}/contains"),
                &id,
                "contains",
                &files,
                Some("complete"),
            );
        }
        if shape.needs_licenses(component.kind) {
            let declared = match &component.details {
                Details::Model(facts) => facts.license.as_deref(),
                Details::Dataset(facts) => facts.license.as_deref(),
                _ => None,
            };
            self.licenses(&local, &id, declared);
        }
    }

    fn model(
        &mut self,
        element: &mut Map<String, Value>,
        props: &mut Properties,
        facts: &ModelFacts,
    ) {
        self.profiles.insert(Profile::Ai);
        let mut types: Vec<String> = Vec::new();
        for name in facts.architecture_family.iter().chain(&facts.architectures) {
            if !types.contains(name) {
                types.push(name.clone());
            }
        }
        if !types.is_empty() {
            element.insert("ai_typeOfModel".into(), json!(types));
        }
        if let Some(task) = &facts.task {
            element.insert("ai_domain".into(), json!([task]));
        }
        let mut hyper = Vec::new();
        if let Some(length) = facts.context_length {
            hyper.push(entry("context_length", &length.to_string()));
        }
        if let Some(count) = facts.parameter_count {
            hyper.push(entry("parameter_count", &count.to_string()));
        }
        if !hyper.is_empty() {
            element.insert("ai_hyperparameter".into(), Value::Array(hyper));
        }
        let mut training = Vec::new();
        if !facts.base_models.is_empty() {
            training.push(format!(
                "Derived from the base model(s) {}.",
                facts.base_models.join("; ")
            ));
        }
        if !facts.datasets.is_empty() {
            training.push(format!(
                "The model card names the training dataset(s) {}.",
                facts.datasets.join("; ")
            ));
        }
        if !training.is_empty() {
            set(element, "ai_informationAboutTraining", &training.join(" "));
        }

        props.joined(property::MODEL_FORMATS, &facts.formats);
        if let Some(family) = &facts.architecture_family {
            props.add(property::MODEL_ARCHITECTURE_FAMILY, family);
        }
        if let Some(count) = facts.tensor_count {
            props.add(property::MODEL_TENSOR_COUNT, count.to_string());
        }
        for (dtype, count) in &facts.dtypes {
            props.keyed(property::MODEL_DTYPE, dtype, count.to_string());
        }
        if let Some(quantization) = &facts.quantization {
            props.add(property::MODEL_QUANTIZATION, quantization);
        }
        props.each(property::MODEL_BASE_MODEL, &facts.base_models);
        props.each(property::MODEL_DATASET, &facts.datasets);
        props.each(property::MODEL_LANGUAGE, &facts.languages);
        for (name, sha256) in &facts.chat_templates {
            props.keyed(property::MODEL_CHAT_TEMPLATE, name, sha256);
        }
        for (domain, version) in &facts.opsets {
            props.keyed(property::MODEL_OPSET, domain, version.to_string());
        }
        if let Some(producer) = &facts.producer {
            props.add(property::MODEL_PRODUCER, producer);
        }
        for input in &facts.inputs {
            props.add(
                property::MODEL_INPUT,
                tensor_spec(&input.name, input.description.as_deref()),
            );
        }
        for output in &facts.outputs {
            props.add(
                property::MODEL_OUTPUT,
                tensor_spec(&output.name, output.description.as_deref()),
            );
        }
        props.add(property::MODEL_CARD, facts.has_model_card.to_string());
    }

    fn dataset(
        &mut self,
        element: &mut Map<String, Value>,
        props: &mut Properties,
        component: &Component,
        facts: &DatasetFacts,
    ) {
        self.profiles.insert(Profile::Dataset);
        element.insert(
            "dataset_datasetType".into(),
            json!(dataset_types(&facts.formats)),
        );
        if !component.files.is_empty() {
            element.insert("dataset_datasetSize".into(), json!(component.size()));
        }
        if let Some(description) = &facts.description {
            set(element, "description", description);
        }
        props.joined(property::DATASET_FORMATS, &facts.formats);
        if let Some(rows) = facts.rows {
            props.add(property::DATASET_ROWS, rows.to_string());
        }
    }

    /// One file of a package; returns its id.
    fn file(&mut self, package: &str, file: &FileEntry) -> String {
        let id = self.id(&format!("{package}/file/{}", escape(&file.path)));
        let mut element = self.element("software_File", &id);
        set(&mut element, "name", &file.path);
        let hash = Value::Object(hash_value("sha256", &file.sha256));
        element.insert("verifiedUsing".into(), Value::Array(vec![hash]));
        let mut props = Properties::default();
        file_properties(&mut props, file);
        self.extend(&mut element, props);
        self.push(Value::Object(element), &id);
        id
    }

    /// A component known only by name.
    fn external(&mut self, external: &External, origin: Origin) {
        let local = format!("component/{}", escape(&external.id));
        let id = self.id(&local);
        let local = local_name(&id, &self.base);
        self.known
            .insert(external.id.clone(), (id.clone(), external.kind));
        let shape = Shape::of(external.kind, 1);
        let mut element = self.element(shape.class, &id);
        set(&mut element, "name", &external.name);
        let mut props = Properties::default();
        if let Some(purl) = &external.purl {
            if shape.package {
                set(&mut element, "software_packageUrl", purl);
            } else {
                props.add(property::PURL, purl);
            }
        }
        set(&mut element, "software_primaryPurpose", shape.purpose);
        match external.kind {
            Kind::Model => {
                self.profiles.insert(Profile::Ai);
            }
            Kind::Dataset => {
                self.profiles.insert(Profile::Dataset);
                element.insert("dataset_datasetType".into(), json!(["noAssertion"]));
            }
            Kind::Prompt | Kind::Library => {}
        }
        let comment = match origin {
            Origin::Named => {
                "Named by a model card or file header but not found in the inputs: \
                 nothing about it was read or verified."
            }
            Origin::Relation => {
                "Named by a relationship but not found in the inputs: \
                 nothing about it was read or verified."
            }
        };
        set(&mut element, "comment", comment);
        props.add(property::EXTERNAL, "true");
        self.extend(&mut element, props);
        self.push(Value::Object(element), &id);
        if shape.needs_licenses(external.kind) {
            self.licenses(&local, &id, None);
        }
    }

    /// The declared and concluded license relationships the AI and Dataset profiles
    /// require of every package.
    fn licenses(&mut self, local: &str, from: &str, declared: Option<&str>) {
        self.profiles.insert(Profile::SimpleLicensing);
        let declared = declared.map(str::trim).filter(|text| !text.is_empty());
        match declared {
            Some(text) => {
                let license = self.id(&format!("{local}/license"));
                let mut element = self.element("simplelicensing_LicenseExpression", &license);
                let (expression, rewritten) = license_expression(text);
                set(
                    &mut element,
                    "simplelicensing_licenseExpression",
                    &expression,
                );
                if rewritten {
                    set(
                        &mut element,
                        "comment",
                        &format!("written as `{text}`, which is not an SPDX license expression"),
                    );
                }
                self.push(Value::Object(element), &license);
                self.relationship(
                    &format!("{local}/has-declared-license"),
                    from,
                    "hasDeclaredLicense",
                    &[license],
                    None,
                );
            }
            None => {
                self.profiles.insert(Profile::ExpandedLicensing);
                let id = self.id(&format!("{local}/has-declared-license"));
                let mut element = relationship_element(
                    &id,
                    from,
                    "hasDeclaredLicense",
                    &[NO_ASSERTION_LICENSE.to_owned()],
                );
                set(
                    &mut element,
                    "comment",
                    "ward found no license in the files, model card or headers it read",
                );
                self.push(Value::Object(element), &id);
            }
        }
        self.profiles.insert(Profile::ExpandedLicensing);
        let id = self.id(&format!("{local}/has-concluded-license"));
        let mut element = relationship_element(
            &id,
            from,
            "hasConcludedLicense",
            &[NO_ASSERTION_LICENSE.to_owned()],
        );
        set(
            &mut element,
            "comment",
            "ward reports the license an artifact declares and concludes none of its own",
        );
        self.push(Value::Object(element), &id);
    }

    fn relationship(
        &mut self,
        local: &str,
        from: &str,
        kind: &str,
        to: &[String],
        completeness: Option<&str>,
    ) {
        let id = self.id(local);
        let mut element = relationship_element(&id, from, kind, to);
        if let Some(completeness) = completeness {
            set(&mut element, "completeness", completeness);
        }
        self.push(Value::Object(element), &id);
    }

    fn element(&self, class: &str, id: &str) -> Map<String, Value> {
        let mut element = Map::new();
        element.insert("type".into(), json!(class));
        element.insert("spdxId".into(), json!(id));
        element.insert("creationInfo".into(), json!(CREATION_INFO));
        element
    }

    fn extend(&self, element: &mut Map<String, Value>, props: Properties) {
        if props.0.is_empty() {
            return;
        }
        let entries: Vec<Value> = props
            .0
            .into_iter()
            .map(|(name, value)| {
                json!({
                    "type": "extension_CdxPropertyEntry",
                    "extension_cdxPropName": name,
                    "extension_cdxPropValue": value,
                })
            })
            .collect();
        element.insert(
            "extension".into(),
            json!([{
                "type": "extension_CdxPropertiesExtension",
                "extension_cdxProperty": entries,
            }]),
        );
    }

    /// The header (creation info, agent, tool, document, SBOM) and the graph.
    fn finish(mut self, bom: &Bom, info: &DocumentInfo) -> Value {
        let agent = self.id("agent");
        let tool = self.id("tool");
        let document = self.id("document");
        let sbom = self.id("sbom");

        let creation_info = json!({
            "type": "CreationInfo",
            "@id": CREATION_INFO,
            "specVersion": SPEC_VERSION,
            "created": timestamp(info.created),
            "createdBy": [agent],
            "createdUsing": [tool],
        });
        let mut agent_element = self.element("SoftwareAgent", &agent);
        set(&mut agent_element, "name", "ward");
        let mut tool_element = self.element("Tool", &tool);
        set(
            &mut tool_element,
            "name",
            &format!("ward-{}", info.tool_version),
        );

        let mut sbom_element = self.element("software_Sbom", &sbom);
        set(&mut sbom_element, "name", &info.name);
        sbom_element.insert("software_sbomType".into(), json!(["analyzed"]));
        if !self.roots.is_empty() {
            sbom_element.insert("rootElement".into(), json!(self.roots));
        }
        if !self.members.is_empty() {
            sbom_element.insert("element".into(), json!(self.members));
        }
        if !bom.errors.is_empty() {
            set(
                &mut sbom_element,
                "comment",
                &format!(
                    "{} file(s) could not be read, so this inventory is incomplete",
                    bom.errors.len()
                ),
            );
        }
        let mut props = Properties::default();
        props.each(property::INPUT, &bom.inputs);
        props.add(property::OTHER_FILES, bom.other_files.to_string());
        for (path, reason) in &bom.errors {
            props.add(property::ERROR, format!("{path}: {reason}"));
        }
        self.extend(&mut sbom_element, props);

        let mut all = vec![agent.clone(), tool.clone(), sbom.clone()];
        all.extend(self.members.iter().cloned());
        let profiles: Vec<&str> = self.profiles.iter().map(|p| p.as_str()).collect();
        let mut document_element = self.element("SpdxDocument", &document);
        set(&mut document_element, "name", &info.name);
        document_element.insert("profileConformance".into(), json!(profiles));
        document_element.insert("rootElement".into(), json!([sbom]));
        document_element.insert("element".into(), json!(all));

        let mut graph = vec![
            creation_info,
            Value::Object(agent_element),
            Value::Object(tool_element),
            Value::Object(document_element),
            Value::Object(sbom_element),
        ];
        graph.append(&mut self.elements);
        json!({
            "@context": CONTEXT,
            "@graph": graph,
        })
    }
}

fn set(element: &mut Map<String, Value>, key: &str, value: &str) {
    element.insert(key.to_owned(), Value::String(value.to_owned()));
}

fn relationship_element(id: &str, from: &str, kind: &str, to: &[String]) -> Map<String, Value> {
    let mut element = Map::new();
    element.insert("type".into(), json!("Relationship"));
    element.insert("spdxId".into(), json!(id));
    element.insert("creationInfo".into(), json!(CREATION_INFO));
    element.insert("from".into(), json!(from));
    element.insert("relationshipType".into(), json!(kind));
    element.insert("to".into(), json!(to));
    element
}

fn hash_value(algorithm: &str, hex: &str) -> Map<String, Value> {
    let mut hash = Map::new();
    hash.insert("type".into(), json!("Hash"));
    hash.insert("algorithm".into(), json!(algorithm));
    hash.insert("hashValue".into(), json!(hex));
    hash
}

fn entry(key: &str, value: &str) -> Value {
    json!({"type": "DictionaryEntry", "key": key, "value": value})
}

fn tensor_spec(name: &str, description: Option<&str>) -> String {
    match description {
        Some(description) => format!("{name}: {description}"),
        None => name.to_owned(),
    }
}

fn file_properties(props: &mut Properties, file: &FileEntry) {
    props.add(property::SIZE, file.size.to_string());
    props.add(property::FORMAT, &file.format);
}

fn prompt(props: &mut Properties, kind: &PromptKind) {
    props.add(property::PROMPT_KIND, kind.as_str());
}

fn library(props: &mut Properties, facts: &LibraryFacts) {
    props.add(property::LIBRARY_ECOSYSTEM, &facts.ecosystem);
    props.add(property::LIBRARY_LOCK_FILE, &facts.lock_file);
}

fn security(props: &mut Properties, security: &Security) {
    props.add(property::SCAN_VERDICT, security.verdict.as_str());
    props.joined(property::SCAN_CODES, &security.codes);
    if let Some(severity) = &security.max_severity {
        props.add(property::SCAN_MAX_SEVERITY, severity);
    }
    props.add(property::SIGNATURE_STATUS, security.signature.status());
    match &security.signature {
        Signature::Absent => {}
        Signature::Unverified { path } => props.add(property::SIGNATURE_PATH, path),
        Signature::Verified { path, signer } => {
            props.add(property::SIGNATURE_PATH, path);
            props.add(property::SIGNATURE_SIGNER, signer);
        }
        Signature::Failed { path, reason } => {
            props.add(property::SIGNATURE_PATH, path);
            props.add(property::SIGNATURE_REASON, reason);
        }
    }
}

/// `dataset_datasetType` from the formats: tabular formats are `structured`, plain text
/// is `text`. A format that does not decide the type (JSON Lines holds text or records,
/// TFRecord anything) adds nothing, and with nothing known the type is `noAssertion`.
fn dataset_types(formats: &[String]) -> Vec<&'static str> {
    let mut types = BTreeSet::new();
    for format in formats {
        match format.as_str() {
            "parquet" | "arrow" | "csv" | "tsv" => {
                types.insert("structured");
            }
            "text" | "txt" => {
                types.insert("text");
            }
            _ => {}
        }
    }
    if types.is_empty() {
        types.insert("noAssertion");
    }
    types.into_iter().collect()
}

/// `created` as SPDX 3's `DateTime`: UTC, whole seconds, `Z`.
fn timestamp(created: jiff::Timestamp) -> String {
    let time = created.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// The local name of an element id: what follows the document's base.
fn local_name(id: &str, base: &str) -> String {
    id.strip_prefix(base).unwrap_or(id).to_owned()
}

/// Percent-encodes every byte of `text` outside `A-Za-z0-9-._~:@`, so the result is a
/// valid IRI fragment segment that holds no `/` and no `%` of its own.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&hex::encode_upper([byte]));
        }
    }
    out
}

/// The license as an SPDX license expression, and whether it had to be rewritten: text
/// that is not a well-formed expression becomes `LicenseRef-` and its idstring-safe form.
fn license_expression(written: &str) -> (String, bool) {
    // A name that is an SPDX id is written as the id; a compound expression is kept when it
    // parses; a bare name that is not an SPDX id (`llama3.2`, `other`) is a `LicenseRef-`.
    if let crate::license::License::Spdx(id) = crate::license::classify(written) {
        return (id.to_owned(), false);
    }
    let compound = [" AND ", " OR ", " WITH "]
        .iter()
        .any(|op| written.contains(op));
    if compound && LicenseParser::accepts(written) {
        return (written.to_owned(), false);
    }
    let mut reference = String::from("LicenseRef-");
    for c in written.chars() {
        reference.push(if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '-'
        });
    }
    (reference, true)
}

/// A recogniser for the SPDX license expression grammar (annex "SPDX license
/// expressions"): ids with an optional `+`, `LicenseRef-`/`DocumentRef-` references,
/// `WITH`, `AND`, `OR` and parentheses, nested at most [`MAX_LICENSE_NESTING`] deep.
struct LicenseParser<'a> {
    tokens: Vec<&'a str>,
    next: usize,
}

impl<'a> LicenseParser<'a> {
    fn accepts(text: &str) -> bool {
        let spaced = text.replace('(', " ( ").replace(')', " ) ");
        let mut parser = LicenseParser {
            tokens: spaced.split_whitespace().collect(),
            next: 0,
        };
        !parser.tokens.is_empty() && parser.or(0) && parser.next == parser.tokens.len()
    }

    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.next).copied()
    }

    fn or(&mut self, depth: usize) -> bool {
        if !self.and(depth) {
            return false;
        }
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("OR")) {
            self.next += 1;
            if !self.and(depth) {
                return false;
            }
        }
        true
    }

    fn and(&mut self, depth: usize) -> bool {
        if !self.with(depth) {
            return false;
        }
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("AND")) {
            self.next += 1;
            if !self.with(depth) {
                return false;
            }
        }
        true
    }

    fn with(&mut self, depth: usize) -> bool {
        if self.peek() == Some("(") {
            if depth >= MAX_LICENSE_NESTING {
                return false;
            }
            self.next += 1;
            if !self.or(depth + 1) || self.peek() != Some(")") {
                return false;
            }
            self.next += 1;
            return true;
        }
        if !self.simple(true) {
            return false;
        }
        if self.peek().is_some_and(|t| t.eq_ignore_ascii_case("WITH")) {
            self.next += 1;
            return self.simple(false);
        }
        true
    }

    /// A license id or reference (`plus` allows the trailing `+` of "or later").
    fn simple(&mut self, plus: bool) -> bool {
        let Some(token) = self.peek() else {
            return false;
        };
        if ["AND", "OR", "WITH", "(", ")"]
            .iter()
            .any(|op| token.eq_ignore_ascii_case(op))
        {
            return false;
        }
        let token = if plus {
            token.strip_suffix('+').unwrap_or(token)
        } else {
            token
        };
        let idstring = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        };
        let valid = match token.split_once(':') {
            Some((document, license)) => {
                document.strip_prefix("DocumentRef-").is_some_and(idstring)
                    && license.strip_prefix("LicenseRef-").is_some_and(idstring)
            }
            None => idstring(token),
        };
        if valid {
            self.next += 1;
        }
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Completeness, Relation, TensorSpec, Verdict};

    fn file(path: &str, byte: u8) -> FileEntry {
        FileEntry {
            path: path.into(),
            size: u64::from(byte) * 10,
            sha256: hex::encode([byte; 32]),
            format: "safetensors".into(),
        }
    }

    fn bom() -> Bom {
        let model = Component {
            id: "model:models/llama".into(),
            kind: Kind::Model,
            name: "meta-llama/Llama-3.2-1B".into(),
            version: Some("abc123".into()),
            path: "models/llama".into(),
            purl: Some("pkg:huggingface/meta-llama/Llama-3.2-1B@abc123".into()),
            files: vec![
                file("models/llama/model-00001-of-00002.safetensors", 1),
                file("models/llama/model-00002-of-00002.safetensors", 2),
            ],
            sha256: Some(hex::encode([9; 32])),
            integrity: None,
            security: Security {
                verdict: Verdict::Findings,
                codes: vec!["a-code".into(), "b-code".into()],
                max_severity: Some("high".into()),
                signature: Signature::Verified {
                    path: "models/llama/model.sig".into(),
                    signer: "key".into(),
                },
            },
            details: Details::Model(Box::new(ModelFacts {
                formats: vec!["safetensors".into()],
                architecture_family: Some("llama".into()),
                architectures: vec!["LlamaForCausalLM".into()],
                task: Some("text-generation".into()),
                tensor_count: Some(2),
                parameter_count: Some(1_000),
                dtypes: BTreeMap::from([("BF16".into(), 2)]),
                quantization: None,
                context_length: Some(4096),
                license: Some("llama3.2".into()),
                base_models: vec!["meta-llama/Llama-3.2-1B".into()],
                datasets: vec!["wiki".into()],
                languages: vec!["en".into()],
                chat_templates: BTreeMap::from([("default".into(), hex::encode([3; 32]))]),
                opsets: BTreeMap::new(),
                producer: None,
                inputs: vec![TensorSpec {
                    name: "x".into(),
                    description: None,
                }],
                outputs: Vec::new(),
                has_model_card: true,
            })),
            completeness: Some(Completeness {
                fields: vec![("license", true), ("datasets", false)],
            }),
        };
        let prompt = Component {
            id: "prompt:models/llama/chat_template.jinja".into(),
            kind: Kind::Prompt,
            name: "chat_template.jinja".into(),
            version: None,
            path: "models/llama/chat_template.jinja".into(),
            purl: None,
            files: vec![file("models/llama/chat_template.jinja", 4)],
            sha256: Some(hex::encode([4; 32])),
            integrity: None,
            security: Security::default(),
            details: Details::Prompt(PromptKind::ChatTemplate),
            completeness: None,
        };
        Bom {
            components: vec![model, prompt],
            externals: vec![External {
                id: "dataset:wiki".into(),
                kind: Kind::Dataset,
                name: "wiki".into(),
                purl: None,
            }],
            relations: vec![
                Relation {
                    from: "model:models/llama".into(),
                    kind: RelationKind::TrainedOn,
                    to: "dataset:wiki".into(),
                },
                Relation {
                    from: "model:models/llama".into(),
                    kind: RelationKind::Uses,
                    to: "prompt:models/llama/chat_template.jinja".into(),
                },
                Relation {
                    from: "model:models/llama".into(),
                    kind: RelationKind::DerivedFrom,
                    to: "model:base".into(),
                },
            ],
            inputs: vec!["models".into()],
            other_files: 3,
            errors: Vec::new(),
        }
    }

    fn info() -> DocumentInfo {
        DocumentInfo {
            created: jiff::Timestamp::from_second(1_700_000_000).unwrap(),
            uuid: "01234567-89ab-cdef-0123-456789abcdef".into(),
            name: "models".into(),
            tool_version: "0.1.0".into(),
        }
    }

    fn graph(document: &Value) -> &Vec<Value> {
        document["@graph"].as_array().unwrap()
    }

    #[test]
    fn ids_are_unique_and_every_reference_resolves() {
        let document = write(&bom(), &info());
        let mut ids = BTreeSet::new();
        for element in graph(&document) {
            let id = element
                .get("spdxId")
                .or_else(|| element.get("@id"))
                .and_then(Value::as_str)
                .unwrap();
            assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        }
        for element in graph(&document) {
            if element["type"] == "Relationship" {
                assert!(ids.contains(element["from"].as_str().unwrap()));
                for to in element["to"].as_array().unwrap() {
                    let to = to.as_str().unwrap();
                    assert!(ids.contains(to) || to == NO_ASSERTION_LICENSE, "{to}");
                }
            }
        }
    }

    #[test]
    fn every_file_has_its_hash() {
        let bom = bom();
        let document = write(&bom, &info());
        for file in bom.components.iter().flat_map(|c| &c.files) {
            let element = graph(&document)
                .iter()
                .find(|e| e["type"] == "software_File" && e["name"] == file.path.as_str())
                .unwrap_or_else(|| panic!("no element for {}", file.path));
            assert_eq!(
                element["verifiedUsing"],
                json!([{"type": "Hash", "algorithm": "sha256", "hashValue": file.sha256}])
            );
        }
    }

    #[test]
    fn same_inventory_gives_the_same_bytes() {
        let first = serde_json::to_string(&write(&bom(), &info())).unwrap();
        let second = serde_json::to_string(&write(&bom(), &info())).unwrap();
        assert_eq!(first, second);
        let mut other = info();
        other.uuid = "11111111-1111-1111-1111-111111111111".into();
        assert_ne!(
            first,
            serde_json::to_string(&write(&bom(), &other)).unwrap()
        );
    }

    #[test]
    fn created_is_utc_whole_seconds() {
        let created = jiff::Timestamp::new(1_700_000_000, 999_999_999).unwrap();
        assert_eq!(timestamp(created), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn escaping_keeps_parts_apart() {
        assert_eq!(escape("model:a/b c"), "model:a%2Fb%20c");
        assert_eq!(escape("100%"), "100%25");
        assert_ne!(escape("a/b"), escape("a%2Fb"));
    }

    #[test]
    fn duplicate_component_ids_get_distinct_element_ids() {
        let mut bom = bom();
        let copy = bom.components.first().unwrap().clone();
        bom.components.push(copy);
        let document = write(&bom, &info());
        let mut ids = BTreeSet::new();
        for element in graph(&document) {
            if let Some(id) = element.get("spdxId").and_then(Value::as_str) {
                assert!(ids.insert(id.to_owned()), "duplicate id {id}");
            }
        }
    }

    #[test]
    fn license_expressions() {
        assert!(LicenseParser::accepts("MIT"));
        assert!(LicenseParser::accepts(
            "GPL-2.0-or-later WITH Classpath-exception-2.0"
        ));
        assert!(LicenseParser::accepts(
            "(MIT OR Apache-2.0) AND LicenseRef-x"
        ));
        assert!(LicenseParser::accepts("DocumentRef-a:LicenseRef-b"));
        assert!(LicenseParser::accepts("GPL-2.0+"));
        assert!(!LicenseParser::accepts(""));
        assert!(!LicenseParser::accepts("MIT OR"));
        assert!(!LicenseParser::accepts("(MIT"));
        assert!(!LicenseParser::accepts("MIT)"));
        assert!(!LicenseParser::accepts("Llama 3.2 Community License"));
        assert!(!LicenseParser::accepts("MIT WITH"));
        let deep = format!("{}MIT{}", "(".repeat(100), ")".repeat(100));
        assert!(!LicenseParser::accepts(&deep));
        assert_eq!(
            license_expression("Llama 3.2 Community License"),
            ("LicenseRef-Llama-3.2-Community-License".into(), true)
        );
        assert_eq!(
            license_expression("Apache-2.0"),
            ("Apache-2.0".into(), false)
        );
    }

    #[test]
    fn relations_use_the_spdx_vocabulary() {
        let document = write(&bom(), &info());
        let types: Vec<&str> = graph(&document)
            .iter()
            .filter(|e| e["type"] == "Relationship")
            .map(|e| e["relationshipType"].as_str().unwrap())
            .collect();
        for expected in ["trainedOn", "descendantOf", "configures", "contains"] {
            assert!(types.contains(&expected), "{expected} in {types:?}");
        }
        // The base model is named only by a relation, so it gets a placeholder package.
        assert!(
            graph(&document)
                .iter()
                .any(|e| e["type"] == "ai_AIPackage" && e["name"] == "model:base")
        );
    }
}
