//! Assembly: from what discovery saw to components, with hashes, facts, relations,
//! security state and completeness.
//!
//! Grouping rules (documented in `docs/bom.md`):
//! 1. An Ollama manifest is one model: its weight layers, its manifest file and its other
//!    layers are its files; template and system layers are also prompt components.
//! 2. A Hugging Face cache snapshot (`models--org--name/snapshots/<rev>/`) is one model (or
//!    dataset), named by its repository id, versioned by its revision.
//! 3. A model folder (a directory with `config.json`, `model_index.json`, a
//!    `*.index.json` shard index or `saved_model.pb`) is one model holding every file below
//!    it that no deeper model folder or other component claims. GGUF files are always models
//!    of their own, since a folder of GGUF files is a folder of alternative quantizations.
//! 4. A dataset folder (`dataset_info.json`, `dataset_dict.json` or `state.json`) is one
//!    dataset; any other data file is a dataset of its own.
//! 5. Any other model file is a model of its own, with the files it claims (ONNX external
//!    data, SavedModel variables).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};
use ward_formats::Limits;
use ward_scan::scan::ScanReport;
use ward_sign::verify::{Trust, VerifyOptions, verify_model};

use crate::discover::{Class, Seen};
use crate::hf::{self, CacheKind};
use crate::locks;
use crate::model::{
    Bom, Completeness, Component, DatasetFacts, Details, External, FileEntry, Kind, LibraryFacts,
    ModelFacts, PromptKind, Relation, RelationKind, Security, Signature, Verdict,
};
use crate::ollama::{self, LayerKind};

/// Signature verification settings: how to trust a `model.sig`, and how to name the signer.
pub struct Verification {
    /// The key or roots signatures must verify against.
    pub trust: Trust,
    /// How the signer is named in the BOM (`key sha256:<fingerprint>`, `roots <files>`).
    pub signer: String,
}

/// One file the scan walked.
struct FileInfo {
    /// Path to open (as the walk found it).
    display: String,
    /// Path in the BOM.
    rel: String,
    seen: Seen,
}

/// A component before hashing: files by relative path, plus embedded texts to hash.
struct Draft {
    id: String,
    kind: Kind,
    name: String,
    version: Option<String>,
    path: String,
    purl: Option<String>,
    files: BTreeSet<String>,
    /// For prompts embedded in a larger file: the text whose digest identifies them.
    text: Option<String>,
    details: Details,
    /// Relative directory whose directory-level scan findings belong to this component.
    dir: Option<String>,
    /// For prompts: the model that uses them.
    owner: Option<String>,
    /// For prompts: the file the scanner's template analysis reports on, when it ran
    /// (GGUF headers, `tokenizer_config.json`, `chat_template.jinja`).
    analysed_in: Option<String>,
    integrity_problems: Vec<String>,
}

impl Draft {
    fn new(id: String, kind: Kind, name: String, path: String, details: Details) -> Self {
        Draft {
            id,
            kind,
            name,
            version: None,
            path,
            purl: None,
            files: BTreeSet::new(),
            text: None,
            details,
            dir: None,
            owner: None,
            analysed_in: None,
            integrity_problems: Vec::new(),
        }
    }
}

/// Maps display paths to BOM paths: relative to the input they were found under, and
/// prefixed with that input when there are several.
struct Inputs {
    roots: Vec<(String, bool)>,
}

impl Inputs {
    fn new(inputs: &[PathBuf]) -> Self {
        let roots = inputs
            .iter()
            .map(|p| (p.display().to_string(), p.is_dir()))
            .collect();
        Inputs { roots }
    }

    fn rel(&self, display: &str) -> String {
        let rel = self.rel_inner(display);
        if rel.is_empty() { ".".to_owned() } else { rel }
    }

    /// The name of the first input, for a model folder that is the input itself.
    fn root_name(&self) -> String {
        let cleaned = self
            .roots
            .first()
            .map(|(r, _)| clean(r))
            .unwrap_or_default();
        match std::fs::canonicalize(&cleaned) {
            Ok(abs) if cleaned == "." => abs
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(cleaned),
            _ => file_name(&cleaned).to_owned(),
        }
    }

    fn rel_inner(&self, display: &str) -> String {
        let several = self.roots.len() > 1;
        for (root, is_dir) in &self.roots {
            let label = clean(root);
            if display == root {
                let name = if *is_dir {
                    String::new()
                } else {
                    file_name(display).to_owned()
                };
                return join(several.then_some(label.as_str()), &name);
            }
            let Some(rest) = display.strip_prefix(root.as_str()) else {
                continue;
            };
            let rest = rest.trim_start_matches(['/', '\\']);
            if root.ends_with(['/', '\\'])
                || display
                    .as_bytes()
                    .get(root.len())
                    .is_some_and(|b| *b == b'/' || *b == b'\\')
            {
                return join(several.then_some(label.as_str()), &rest.replace('\\', "/"));
            }
        }
        clean(display)
    }
}

fn clean(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = p.trim_start_matches("./").trim_end_matches('/');
    if p.is_empty() {
        ".".to_owned()
    } else {
        p.to_owned()
    }
}

fn join(prefix: Option<&str>, rest: &str) -> String {
    match prefix {
        Some(p) if !rest.is_empty() => format!("{p}/{rest}"),
        Some(p) => p.to_owned(),
        None => rest.to_owned(),
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Whether `rel` lies inside directory `dir` ("" is the root and holds everything).
fn under(rel: &str, dir: &str) -> bool {
    dir.is_empty()
        || rel
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn is_signature_file(name: &str) -> bool {
    name == "model.sig" || name.ends_with(".sig")
}

/// Builds the inventory from a scan report and what discovery saw.
pub fn assemble(
    inputs: &[PathBuf],
    report: &ScanReport,
    seen: BTreeMap<String, Seen>,
    limits: &Limits,
    verification: Option<&Verification>,
) -> Bom {
    let map = Inputs::new(inputs);
    let mut errors: Vec<(String, String)> = report
        .errors
        .iter()
        .map(|e| (e.path.clone(), e.message.clone()))
        .collect();
    let files: BTreeMap<String, FileInfo> = seen
        .into_iter()
        .map(|(display, seen)| {
            let rel = map.rel(&display);
            (rel.clone(), FileInfo { display, rel, seen })
        })
        .filter(|(rel, _)| !hf::is_cache_internal(rel))
        .collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut drafts: Vec<Draft> = Vec::new();

    ollama_models(&files, &mut drafts, &mut taken);
    let folders = model_folders(&files);
    folder_models(
        &map.root_name(),
        &files,
        &folders,
        &mut drafts,
        &mut taken,
        limits,
        &mut errors,
    );
    datasets(&files, &mut drafts, &mut taken, limits, &mut errors);
    single_models(&files, &mut drafts, &mut taken);
    prompts(&files, &mut drafts);
    let libraries = libraries(&files, &mut errors);

    // One parallel pass hashes every file any component holds.
    let wanted: BTreeSet<&String> = drafts.iter().flat_map(|d| d.files.iter()).collect();
    let paths: Vec<PathBuf> = wanted
        .iter()
        .filter_map(|rel| files.get(*rel).map(|f| PathBuf::from(&f.display)))
        .collect();
    let mut digests: BTreeMap<String, String> = BTreeMap::new();
    for (path, digest) in ward_sign::digest_each(&paths, ward_sign::HashAlgorithm::Sha256) {
        let shown = path.display().to_string();
        match digest {
            Ok(digest) => {
                digests.insert(map.rel(&shown), digest.hex());
            }
            // A file that vanished or cannot be read is left out of its component (no
            // entry without a digest is written); the run reports it and exits 2.
            Err(e) => errors.push((shown, e.to_string())),
        }
    }

    let findings = findings_by_rel(report, &map);
    let mut components: Vec<Component> = Vec::new();
    let mut relations: Vec<Relation> = Vec::new();
    let mut externals: BTreeMap<String, External> = BTreeMap::new();
    let mut uses: Vec<Relation> = Vec::new();
    for draft in drafts {
        let entries: Vec<FileEntry> = draft
            .files
            .iter()
            .filter_map(|rel| {
                let info = files.get(rel)?;
                let sha256 = digests.get(rel)?.clone();
                Some(FileEntry {
                    path: rel.clone(),
                    size: info.seen.size,
                    sha256,
                    format: format_name(&info.seen),
                })
            })
            .collect();
        let sha256 = match (&draft.text, entries.as_slice()) {
            (Some(text), _) => Some(sha256_hex(text.as_bytes())),
            (None, [one]) => Some(one.sha256.clone()),
            (None, []) => None,
            (None, many) => Some(aggregate(many)),
        };
        let mut security = security_of(&draft, &files, &findings);
        if !draft.integrity_problems.is_empty() {
            security.codes.push("bom-digest-mismatch".to_owned());
            security.codes.sort();
            security.verdict = Verdict::Findings;
            security.max_severity = Some("high".to_owned());
        }
        if draft.kind == Kind::Model {
            security.signature = signature_of(&draft, &files, verification);
        }
        let mut component = Component {
            id: draft.id.clone(),
            kind: draft.kind,
            name: draft.name.clone(),
            version: draft.version.clone(),
            path: draft.path.clone(),
            purl: draft.purl.clone(),
            files: entries,
            sha256,
            integrity: None,
            security,
            details: draft.details.clone(),
            completeness: None,
        };
        if let Details::Model(facts) = &component.details {
            for dataset in &facts.datasets {
                relations.push(Relation {
                    from: component.id.clone(),
                    kind: RelationKind::TrainedOn,
                    to: dataset.clone(),
                });
            }
            for base in &facts.base_models {
                relations.push(Relation {
                    from: component.id.clone(),
                    kind: RelationKind::DerivedFrom,
                    to: base.clone(),
                });
            }
        }
        component.completeness = completeness(&component);
        components.push(component);
        if let (Kind::Prompt, Some(model)) = (draft.kind, draft.owner) {
            uses.push(Relation {
                from: model,
                kind: RelationKind::Uses,
                to: draft.id,
            });
        }
    }
    relations.extend(
        uses.into_iter()
            .filter(|r| components.iter().any(|c| c.id == r.from)),
    );
    components.extend(libraries);
    resolve_relations(&mut relations, &components, &mut externals);
    components
        .sort_by(|a, b| (a.kind, &a.path, &a.name, &a.id).cmp(&(b.kind, &b.path, &b.name, &b.id)));
    relations.sort();
    relations.dedup();
    let claimed: BTreeSet<&String> = components
        .iter()
        .flat_map(|c| c.files.iter().map(|f| &f.path))
        .collect();
    let other_files = files
        .keys()
        .filter(|rel| !claimed.contains(rel) && !taken.contains(*rel))
        .count() as u64;
    errors.sort();
    errors.dedup();
    Bom {
        components,
        externals: externals.into_values().collect(),
        relations,
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        other_files,
        errors,
    }
}

/// `sha256sum`-style digest over several files: SHA-256 of `"<sha256>  <path>\n"` lines
/// sorted by path.
pub fn aggregate(files: &[FileEntry]) -> String {
    let mut sorted: Vec<&FileEntry> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.sha256.as_bytes());
        h.update(b"  ");
        h.update(f.path.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn format_name(seen: &Seen) -> String {
    match &seen.class {
        Class::Model(f) | Class::Data(f) => (*f).to_owned(),
        _ => seen.scanner_format.clone(),
    }
}

fn ollama_models(
    files: &BTreeMap<String, FileInfo>,
    drafts: &mut Vec<Draft>,
    taken: &mut BTreeSet<String>,
) {
    for (rel, info) in files {
        let Some(text) = &info.seen.text else {
            continue;
        };
        let Some((name, tag, root)) = ollama::model_name(rel) else {
            continue;
        };
        let Some(manifest) = ollama::manifest(text) else {
            continue;
        };
        let id = format!("model:{rel}");
        let mut facts = ModelFacts::default();
        let mut draft = Draft::new(
            id.clone(),
            Kind::Model,
            name.clone(),
            rel.clone(),
            Details::Model(Box::default()),
        );
        draft.version = Some(tag.clone());
        draft.files.insert(rel.clone());
        taken.insert(rel.clone());
        for layer in &manifest.layers {
            let blob = format!("{root}blobs/sha256-{}", layer.sha256);
            let Some(blob_info) = files.get(&blob) else {
                draft
                    .integrity_problems
                    .push(format!("layer `{}` not found at `{blob}`", layer.sha256));
                continue;
            };
            draft.files.insert(blob.clone());
            taken.insert(blob.clone());
            if matches!(layer.kind, LayerKind::Model | LayerKind::Weights) {
                merge_weights(&mut facts, &blob_info.seen);
            }
            if matches!(layer.kind, LayerKind::Template | LayerKind::System) {
                let kind = if layer.kind == LayerKind::Template {
                    PromptKind::ChatTemplate
                } else {
                    PromptKind::SystemPrompt
                };
                let mut prompt = Draft::new(
                    format!("prompt:{blob}"),
                    Kind::Prompt,
                    format!(
                        "{name}:{tag} {}",
                        if layer.kind == LayerKind::Template {
                            "template"
                        } else {
                            "system prompt"
                        }
                    ),
                    blob.clone(),
                    Details::Prompt(kind),
                );
                prompt.files.insert(blob.clone());
                prompt.owner = Some(id.clone());
                drafts.push(prompt);
            }
        }
        facts.formats = vec!["gguf".to_owned()];
        draft.details = Details::Model(Box::new(facts));
        drafts.push(draft);
    }
}

/// Directories that make a model folder, deepest first.
fn model_folders(files: &BTreeMap<String, FileInfo>) -> BTreeSet<String> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for (rel, info) in files {
        let name = file_name(rel).to_ascii_lowercase();
        let marker = matches!(
            name.as_str(),
            "config.json" | "model_index.json" | "saved_model.pb" | "saved_model.pbtxt"
        ) || (name.ends_with(".index.json") && matches!(info.seen.class, Class::Text));
        if marker {
            dirs.insert(parent(rel).to_owned());
        }
        if let Some(place) = hf::cache_place(rel) {
            dirs.insert(place.snapshot_dir);
        }
    }
    // Only folders with a model file below them (at any depth): mark every candidate
    // ancestor of each model file, walking up its path.
    let mut keep: BTreeSet<String> = BTreeSet::new();
    for (rel, info) in files {
        if !matches!(info.seen.class, Class::Model(f) if f != "gguf") {
            continue;
        }
        let mut dir = parent(rel);
        loop {
            if dirs.contains(dir) {
                keep.insert(dir.to_owned());
            }
            if dir.is_empty() {
                break;
            }
            dir = parent(dir);
        }
    }
    for dir in &dirs {
        if hf::cache_place(&format!("{dir}/x")).is_some_and(|p| p.kind == CacheKind::Model) {
            keep.insert(dir.clone());
        }
    }
    keep
}

/// The nearest model folder holding `rel`, found by walking up its path.
fn folder_of<'a>(rel: &str, folders: &'a BTreeSet<String>) -> Option<&'a String> {
    let mut dir = parent(rel);
    loop {
        if let Some(folder) = folders.get(dir) {
            return Some(folder);
        }
        if dir.is_empty() {
            return None;
        }
        dir = parent(dir);
    }
}

fn read_card(
    files: &BTreeMap<String, FileInfo>,
    dir: &str,
    limits: &Limits,
    errors: &mut Vec<(String, String)>,
) -> Option<hf::Card> {
    let rel = join((!dir.is_empty()).then_some(dir), "README.md");
    let info = files.get(&rel)?;
    let text = info.seen.text.as_ref()?;
    match hf::card(text, limits) {
        Ok(card) => card,
        Err(e) => {
            errors.push((
                info.display.clone(),
                format!("cannot read the card's front matter: {e}"),
            ));
            None
        }
    }
}

fn folder_models(
    root_name: &str,
    files: &BTreeMap<String, FileInfo>,
    folders: &BTreeSet<String>,
    drafts: &mut Vec<Draft>,
    taken: &mut BTreeSet<String>,
    limits: &Limits,
    errors: &mut Vec<(String, String)>,
) {
    // Every file's nearest model folder, computed once.
    let mut by_folder: BTreeMap<&String, Vec<(&String, &FileInfo)>> = BTreeMap::new();
    for (rel, info) in files {
        if let Some(folder) = folder_of(rel, folders) {
            by_folder.entry(folder).or_default().push((rel, info));
        }
    }
    for dir in folders {
        let place = hf::cache_place(&format!("{dir}/x"));
        if place.as_ref().is_some_and(|p| p.kind == CacheKind::Dataset) {
            continue;
        }
        let mut facts = ModelFacts::default();
        let name = match &place {
            Some(p) => p.repo.clone(),
            None if dir.is_empty() => root_name.to_owned(),
            None => file_name(dir).to_owned(),
        };
        let mut draft = Draft::new(
            format!("model:{}", if dir.is_empty() { "." } else { dir }),
            Kind::Model,
            name,
            if dir.is_empty() {
                ".".into()
            } else {
                dir.clone()
            },
            Details::Model(Box::default()),
        );
        if let Some(p) = &place {
            draft.version = Some(p.revision.clone());
            draft.purl = Some(huggingface_purl(&p.repo, Some(&p.revision)));
        }
        draft.dir = Some(dir.clone());
        for &(rel, info) in by_folder.get(dir).into_iter().flatten() {
            if taken.contains(rel) {
                continue;
            }
            let name = file_name(rel).to_ascii_lowercase();
            match &info.seen.class {
                Class::Model("gguf") | Class::Data(_) | Class::Lock(_) => continue,
                _ if is_signature_file(&name) => continue,
                Class::Model(_) => merge_weights(&mut facts, &info.seen),
                _ => {}
            }
            draft.files.insert(rel.clone());
        }
        for rel in &draft.files {
            taken.insert(rel.clone());
        }
        let config_rel = join((!dir.is_empty()).then_some(dir.as_str()), "config.json");
        if let Some(config) = files
            .get(&config_rel)
            .and_then(|f| f.seen.text.as_deref())
            .and_then(hf::config)
        {
            facts.architectures = config.architectures;
            facts.architecture_family = facts.architecture_family.take().or(config.model_type);
            facts.context_length = facts.context_length.or(config.context_length);
        }
        if let Some(card) = read_card(files, dir, limits, errors) {
            apply_card(&mut facts, card);
        }
        let in_dir = |name: &str| join((!dir.is_empty()).then_some(dir.as_str()), name);
        for config in ["tokenizer_config.json", "chat_template.json"] {
            if let Some(text) = files
                .get(&in_dir(config))
                .and_then(|f| f.seen.text.as_deref())
            {
                for (name, template) in hf::chat_templates(text) {
                    facts
                        .chat_templates
                        .insert(name, sha256_hex(template.as_bytes()));
                }
            }
        }
        if let Some(text) = files
            .get(&in_dir("chat_template.jinja"))
            .and_then(|f| f.seen.text.as_deref())
        {
            facts
                .chat_templates
                .insert("default".to_owned(), sha256_hex(text.as_bytes()));
        }
        draft.details = Details::Model(Box::new(facts));
        drafts.push(draft);
    }
}

fn apply_card(facts: &mut ModelFacts, card: hf::Card) {
    facts.has_model_card = true;
    facts.license = card.license.or(facts.license.take());
    extend_unique(&mut facts.datasets, card.datasets);
    extend_unique(&mut facts.base_models, card.base_models);
    extend_unique(&mut facts.languages, card.languages);
    facts.task = card.task.or(facts.task.take());
}

fn extend_unique(list: &mut Vec<String>, more: Vec<String>) {
    for item in more {
        if !item.is_empty() && !list.contains(&item) {
            list.push(item);
        }
    }
}

/// Adds a weight file's header facts to a model's.
fn merge_weights(facts: &mut ModelFacts, seen: &Seen) {
    if let Class::Model(format) = &seen.class
        && !facts.formats.iter().any(|f| f == format)
    {
        facts.formats.push((*format).to_owned());
        facts.formats.sort();
    }
    let add = |count: &mut Option<u64>, n: u64| *count = Some(count.unwrap_or(0).saturating_add(n));
    if let Some(st) = &seen.safetensors {
        add(&mut facts.tensor_count, st.tensor_count);
        facts.parameter_count = Some(
            facts
                .parameter_count
                .unwrap_or(0)
                .saturating_add(st.parameter_count),
        );
        for (dtype, n) in &st.dtypes {
            *facts.dtypes.entry(dtype.clone()).or_insert(0) += n;
        }
    }
    if let Some(g) = &seen.gguf {
        add(&mut facts.tensor_count, g.tensor_count);
        facts.parameter_count = Some(
            facts
                .parameter_count
                .unwrap_or(0)
                .saturating_add(g.parameter_count),
        );
        for (dtype, n) in &g.tensor_types {
            *facts.dtypes.entry(dtype.clone()).or_insert(0) += n;
        }
        facts.architecture_family = facts
            .architecture_family
            .take()
            .or_else(|| g.architecture.clone());
        facts.context_length = facts.context_length.or(g.context_length);
        facts.license = facts.license.take().or_else(|| g.license.clone());
        facts.quantization = facts
            .quantization
            .take()
            .or_else(|| g.file_type.map(gguf_file_type));
        extend_unique(&mut facts.base_models, base_model_ids(&g.base_models));
        for (key, text) in &g.chat_templates {
            facts
                .chat_templates
                .insert(key.clone(), sha256_hex(text.as_bytes()));
        }
    }
    if let Some(o) = &seen.onnx {
        for (domain, v) in &o.opsets {
            let e = facts.opsets.entry(domain.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
        facts.producer = facts.producer.take().or_else(|| o.producer.clone());
        if facts.inputs.is_empty() {
            facts.inputs = o.inputs.clone();
            facts.outputs = o.outputs.clone();
        }
    }
}

/// GGUF headers name a base model twice (`general.base_model.N.name`, a display name, and
/// `.repo_url`): keep the repository id the URLs give (`https://huggingface.co/org/name` ->
/// `org/name`) and the names only when there is no URL.
fn base_model_ids(written: &[String]) -> Vec<String> {
    let from_urls: Vec<String> = written
        .iter()
        .filter_map(|w| {
            let rest = w
                .strip_prefix("https://huggingface.co/")
                .or_else(|| w.strip_prefix("http://huggingface.co/"))?;
            let id = rest.trim_end_matches('/');
            is_repo_id(id).then(|| id.to_owned())
        })
        .collect();
    if from_urls.is_empty() {
        written.to_vec()
    } else {
        from_urls
    }
}

/// Whether `name` has the shape of a Hugging Face repository id (`name` or `org/name`).
fn is_repo_id(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match name.split_once('/') {
        Some((org, repo)) => part(org) && part(repo),
        None => part(name),
    }
}

/// The name llama.cpp gives `general.file_type` values (`LLAMA_FTYPE_*`).
fn gguf_file_type(t: u64) -> String {
    let name = match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        _ => return format!("file-type-{t}"),
    };
    name.to_owned()
}

fn datasets(
    files: &BTreeMap<String, FileInfo>,
    drafts: &mut Vec<Draft>,
    taken: &mut BTreeSet<String>,
    limits: &Limits,
    errors: &mut Vec<(String, String)>,
) {
    // Dataset folders: Hugging Face `save_to_disk` output and dataset cache snapshots.
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for rel in files.keys() {
        let name = file_name(rel).to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "dataset_info.json" | "dataset_dict.json" | "state.json"
        ) {
            dirs.insert(parent(rel).to_owned());
        }
        if let Some(place) = hf::cache_place(rel).filter(|p| p.kind == CacheKind::Dataset) {
            dirs.insert(place.snapshot_dir);
        }
    }
    // `dataset_dict.json` folders hold one `state.json` folder per split: keep the outermost.
    let outer: Vec<String> = dirs
        .iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && under(d, o)))
        .cloned()
        .collect();
    for dir in outer {
        let place = hf::cache_place(&format!("{dir}/x"));
        let name = place
            .as_ref()
            .map_or_else(|| file_name(&dir).to_owned(), |p| p.repo.clone());
        let mut facts = DatasetFacts::default();
        let mut draft = Draft::new(
            format!("dataset:{dir}"),
            Kind::Dataset,
            name,
            dir.clone(),
            Details::Dataset(DatasetFacts::default()),
        );
        if let Some(p) = &place {
            draft.version = Some(p.revision.clone());
        }
        for (rel, info) in files {
            if !under(rel, &dir) || taken.contains(rel) || matches!(info.seen.class, Class::Lock(_))
            {
                continue;
            }
            if let Class::Data(format) = info.seen.class {
                add_format(&mut facts.formats, format);
                facts.rows = sum_rows(facts.rows, info.seen.rows);
            }
            draft.files.insert(rel.clone());
        }
        if let Some(info) = files.get(&format!("{dir}/dataset_info.json"))
            && let Some(text) = &info.seen.text
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
        {
            facts.description = v
                .get("description")
                .and_then(|d| d.as_str())
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            facts.license = v
                .get("license")
                .and_then(|d| d.as_str())
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
        }
        if let Some(card) = read_card(files, &dir, limits, errors) {
            facts.license = card.license.or(facts.license);
            facts.description = facts.description.or(card.pretty_name);
        }
        for rel in &draft.files {
            taken.insert(rel.clone());
        }
        draft.details = Details::Dataset(facts);
        drafts.push(draft);
    }
    for (rel, info) in files {
        let Class::Data(format) = info.seen.class else {
            continue;
        };
        if taken.contains(rel) {
            continue;
        }
        let mut draft = Draft::new(
            format!("dataset:{rel}"),
            Kind::Dataset,
            file_name(rel).to_owned(),
            rel.clone(),
            Details::Dataset(DatasetFacts {
                formats: vec![format.to_owned()],
                rows: info.seen.rows,
                ..DatasetFacts::default()
            }),
        );
        draft.files.insert(rel.clone());
        taken.insert(rel.clone());
        drafts.push(draft);
    }
}

fn add_format(formats: &mut Vec<String>, format: &str) {
    if !formats.iter().any(|f| f == format) {
        formats.push(format.to_owned());
        formats.sort();
    }
}

fn sum_rows(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

fn single_models(
    files: &BTreeMap<String, FileInfo>,
    drafts: &mut Vec<Draft>,
    taken: &mut BTreeSet<String>,
) {
    let by_display: BTreeMap<&Path, &String> = files
        .values()
        .map(|f| (Path::new(f.display.as_str()), &f.rel))
        .collect();
    for (rel, info) in files {
        let Class::Model(_) = info.seen.class else {
            continue;
        };
        if taken.contains(rel) {
            continue;
        }
        let mut facts = ModelFacts::default();
        merge_weights(&mut facts, &info.seen);
        let mut draft = Draft::new(
            format!("model:{rel}"),
            Kind::Model,
            file_name(rel).to_owned(),
            rel.clone(),
            Details::Model(Box::new(facts)),
        );
        draft.files.insert(rel.clone());
        taken.insert(rel.clone());
        // Files the model's loader reads as raw tensor bytes belong to it.
        let dir = Path::new(&info.display)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for claimed in &info.seen.claims {
            let claimed_rel = by_display
                .get(claimed.as_path())
                .or_else(|| by_display.get(dir.join(claimed).as_path()))
                .map(|rel| (*rel).clone());
            if let Some(c) = claimed_rel {
                taken.insert(c.clone());
                draft.files.insert(c);
            }
        }
        drafts.push(draft);
    }
}

/// Prompt components: prompt files, chat templates in tokenizer configs and GGUF headers,
/// Modelfile instructions, and system prompts in configuration files.
fn prompts(files: &BTreeMap<String, FileInfo>, drafts: &mut Vec<Draft>) {
    let owner = |rel: &str, drafts: &[Draft]| -> Option<String> {
        drafts
            .iter()
            .filter(|d| d.kind == Kind::Model && d.files.contains(rel))
            .map(|d| d.id.clone())
            .next()
    };
    let mut new: Vec<Draft> = Vec::new();
    for (rel, info) in files {
        let name = file_name(rel).to_ascii_lowercase();
        let embedded = |key: &str, kind: PromptKind, text: &str, label: &str| {
            let mut d = Draft::new(
                format!("prompt:{rel}#{key}"),
                Kind::Prompt,
                format!("{} {label}", file_name(rel)),
                format!("{rel}#{key}"),
                Details::Prompt(kind),
            );
            d.text = Some(text.to_owned());
            d.files.insert(rel.clone());
            d.owner = owner(rel, drafts);
            d
        };
        match &info.seen.class {
            Class::Prompt(kind) => {
                let mut d = Draft::new(
                    format!("prompt:{rel}"),
                    Kind::Prompt,
                    file_name(rel).to_owned(),
                    rel.clone(),
                    Details::Prompt(kind.clone()),
                );
                d.files.insert(rel.clone());
                if name == "chat_template.jinja" {
                    d.analysed_in = Some(rel.clone());
                }
                d.owner = owner(rel, drafts).or_else(|| {
                    // A chat template beside a model folder's files belongs to that model.
                    drafts
                        .iter()
                        .find(|m| m.kind == Kind::Model && m.dir.as_deref() == Some(parent(rel)))
                        .map(|m| m.id.clone())
                });
                new.push(d);
            }
            Class::Model("gguf") => {
                if let Some(g) = &info.seen.gguf {
                    for (key, text) in &g.chat_templates {
                        let owner_id = owner(rel, drafts).unwrap_or_else(|| format!("model:{rel}"));
                        let owner_name = drafts
                            .iter()
                            .find(|m| m.id == owner_id)
                            .map(|m| m.name.clone());
                        let mut d = embedded(key, PromptKind::ChatTemplate, text, "chat template");
                        if let Some(n) = owner_name {
                            d.name = format!("{n} chat template");
                        }
                        // The GGUF file itself is listed by its model; not again here.
                        d.files.clear();
                        d.owner = Some(owner_id);
                        d.analysed_in = Some(rel.clone());
                        new.push(d);
                    }
                }
            }
            Class::Text => {
                for (key, value) in &info.seen.config_prompts {
                    new.push(embedded(
                        key,
                        PromptKind::SystemPrompt,
                        value,
                        "system prompt",
                    ));
                }
                let Some(text) = &info.seen.text else {
                    continue;
                };
                if name == "tokenizer_config.json" || name == "chat_template.json" {
                    for (tname, template) in hf::chat_templates(text) {
                        let key = if tname == "default" {
                            "chat_template".to_owned()
                        } else {
                            format!("chat_template.{tname}")
                        };
                        let mut d =
                            embedded(&key, PromptKind::ChatTemplate, &template, "chat template");
                        d.analysed_in = (name == "tokenizer_config.json").then(|| rel.clone());
                        new.push(d);
                    }
                } else if name == "modelfile" {
                    for (word, value) in ollama::modelfile_prompts(text) {
                        let kind = if word == "SYSTEM" {
                            PromptKind::SystemPrompt
                        } else {
                            PromptKind::ChatTemplate
                        };
                        new.push(embedded(&word, kind, &value, &word.to_ascii_lowercase()));
                    }
                }
            }
            _ => {}
        }
    }
    drafts.extend(new);
}

fn libraries(
    files: &BTreeMap<String, FileInfo>,
    errors: &mut Vec<(String, String)>,
) -> Vec<Component> {
    let mut out: BTreeMap<String, Component> = BTreeMap::new();
    for (rel, info) in files {
        let Class::Lock(kind) = info.seen.class else {
            continue;
        };
        let Some(text) = &info.seen.text else {
            errors.push((
                info.display.clone(),
                "lock file is not UTF-8 text or is too large to read".to_owned(),
            ));
            continue;
        };
        let packages = match locks::parse(kind, text) {
            Ok(p) => p,
            Err(e) => {
                errors.push((info.display.clone(), format!("cannot read lock file: {e}")));
                continue;
            }
        };
        for p in packages {
            let id = format!("{}#{}", p.purl, p.integrity.as_deref().unwrap_or(""));
            out.entry(id.clone()).or_insert_with(|| Component {
                id: format!("library:{}", p.purl),
                kind: Kind::Library,
                name: p.name.clone(),
                version: p.version.clone(),
                path: rel.clone(),
                purl: Some(p.purl.clone()),
                files: Vec::new(),
                sha256: None,
                integrity: p.integrity.clone(),
                security: Security::default(),
                details: Details::Library(LibraryFacts {
                    ecosystem: p.ecosystem.as_str().to_owned(),
                    lock_file: rel.clone(),
                }),
                completeness: None,
            });
        }
    }
    // The same package pinned with two integrity values stays twice; ids must be unique.
    let mut seen_ids: BTreeMap<String, usize> = BTreeMap::new();
    out.into_values()
        .map(|mut c| {
            let n = seen_ids.entry(c.id.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                c.id = format!("{}#{}", c.id, n);
            }
            c
        })
        .collect()
}

/// Active findings by BOM path.
fn findings_by_rel(
    report: &ScanReport,
    map: &Inputs,
) -> BTreeMap<String, Vec<(String, ward_scan::Severity)>> {
    let mut out: BTreeMap<String, Vec<(String, ward_scan::Severity)>> = BTreeMap::new();
    for file in &report.files {
        let rel = map.rel(&file.path);
        for r in file.findings.iter().filter(|r| r.suppressed.is_none()) {
            out.entry(rel.clone())
                .or_default()
                .push((r.finding.code.id.to_owned(), r.finding.severity));
        }
    }
    out
}

fn security_of(
    draft: &Draft,
    files: &BTreeMap<String, FileInfo>,
    findings: &BTreeMap<String, Vec<(String, ward_scan::Severity)>>,
) -> Security {
    let mut codes: BTreeSet<String> = BTreeSet::new();
    let mut max: Option<ward_scan::Severity> = None;
    let mut note = |code: &str, severity: ward_scan::Severity| {
        codes.insert(code.to_owned());
        max = Some(max.map_or(severity, |m| m.max(severity)));
    };
    for rel in &draft.files {
        let is_data = files
            .get(rel)
            .is_some_and(|f| matches!(f.seen.class, Class::Data(_)));
        for (code, severity) in findings.get(rel).into_iter().flatten() {
            // The scanner has no rules for data formats; its unknown-format note says only that.
            if is_data && code == "scan-unknown-format" {
                continue;
            }
            note(code, *severity);
        }
    }
    if draft.kind == Kind::Model
        && let Some(dir) = &draft.dir
    {
        let dir_key = if dir.is_empty() { "." } else { dir.as_str() };
        for (rel, list) in findings {
            // Findings about the folder itself, its subfolders and links: paths that are
            // not files of the walk.
            if rel == dir_key || (under(rel, dir) && !files.contains_key(rel)) {
                for (code, severity) in list {
                    note(code, *severity);
                }
            }
        }
    }
    if let Some(source) = &draft.analysed_in
        && !draft.files.contains(source)
    {
        // A template inside a larger file: only the template findings are about it.
        for (code, severity) in findings.get(source).into_iter().flatten() {
            if code.contains("chat-template") {
                note(code, *severity);
            }
        }
    }
    let verdict = if !codes.is_empty() {
        Verdict::Findings
    } else if draft.kind == Kind::Model || draft.analysed_in.is_some() {
        Verdict::Clean
    } else {
        Verdict::NotScanned
    };
    Security {
        verdict,
        codes: codes.into_iter().collect(),
        max_severity: max.map(|s| s.as_str().to_owned()),
        signature: Signature::Absent,
    }
}

fn signature_of(
    draft: &Draft,
    files: &BTreeMap<String, FileInfo>,
    verification: Option<&Verification>,
) -> Signature {
    // A folder's `model.sig`, or `<file>.sig` beside a single-file model.
    let (model_rel, sig_rel) = if draft.files.len() == 1 && draft.files.contains(&draft.path) {
        (draft.path.clone(), format!("{}.sig", draft.path))
    } else {
        let dir = draft.dir.clone().unwrap_or_else(|| draft.path.clone());
        (
            dir.clone(),
            join(
                (!dir.is_empty() && dir != ".").then_some(dir.as_str()),
                "model.sig",
            ),
        )
    };
    let Some(sig) = files.get(&sig_rel) else {
        return Signature::Absent;
    };
    let Some(v) = verification else {
        return Signature::Unverified { path: sig_rel };
    };
    // The model path on disk: the signature's directory for folders, the file otherwise.
    let model_path = if model_rel == draft.path && draft.files.len() == 1 {
        files.get(&model_rel).map(|f| PathBuf::from(&f.display))
    } else {
        Path::new(&sig.display).parent().map(Path::to_path_buf)
    };
    let Some(model_path) = model_path else {
        return Signature::Failed {
            path: sig_rel,
            reason: "the model's files were not found".into(),
        };
    };
    match verify_model(
        &model_path,
        Path::new(&sig.display),
        &v.trust,
        &VerifyOptions::default(),
        ward_sign::model::Progress::Hidden,
        SystemTime::now(),
    ) {
        Ok(_) => Signature::Verified {
            path: sig_rel,
            signer: v.signer.clone(),
        },
        Err(e) => Signature::Failed {
            path: sig_rel,
            reason: e.to_string().lines().next().unwrap_or_default().to_owned(),
        },
    }
}

/// The purl of a Hugging Face model repository.
pub fn huggingface_purl(repo: &str, revision: Option<&str>) -> String {
    let mut purl = String::from("pkg:huggingface/");
    let parts: Vec<String> = repo.split('/').map(locks::percent_encode).collect();
    purl.push_str(&parts.join("/"));
    if let Some(rev) = revision {
        purl.push('@');
        purl.push_str(&locks::percent_encode(rev));
    }
    purl
}

/// Points relations written by name (card datasets and base models) at components in the
/// inventory when one matches, and at external placeholders otherwise.
fn resolve_relations(
    relations: &mut [Relation],
    components: &[Component],
    externals: &mut BTreeMap<String, External>,
) {
    for r in relations.iter_mut() {
        if r.kind == RelationKind::Uses {
            continue;
        }
        let want = if r.kind == RelationKind::TrainedOn {
            Kind::Dataset
        } else {
            Kind::Model
        };
        let name = r.to.clone();
        let found = components.iter().find(|c| {
            c.kind == want
                && c.id != r.from
                && (c.name == name || c.name.eq_ignore_ascii_case(&name) || c.path == name)
        });
        match found {
            Some(c) => r.to = c.id.clone(),
            None => {
                let id = format!("external:{}:{name}", want.as_str());
                externals.entry(id.clone()).or_insert_with(|| External {
                    id: id.clone(),
                    kind: want,
                    name: name.clone(),
                    purl: (want == Kind::Model && is_repo_id(&name))
                        .then(|| huggingface_purl(&name, None)),
                });
                r.to = id;
            }
        }
    }
}

/// The documentation fields an auditor needs for a model, and which are present.
fn completeness(c: &Component) -> Option<Completeness> {
    let facts = c.model()?;
    Some(Completeness {
        fields: vec![
            ("license", facts.license.is_some()),
            (
                "architecture",
                facts.architecture_family.is_some() || !facts.architectures.is_empty(),
            ),
            ("task", facts.task.is_some()),
            ("parameter-count", facts.parameter_count.is_some()),
            ("training-data", !facts.datasets.is_empty()),
            ("model-card", facts.has_model_card),
            (
                "signature",
                matches!(
                    c.security.signature,
                    Signature::Verified { .. } | Signature::Unverified { .. }
                ),
            ),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_base_models_become_repository_ids() {
        let written = vec![
            "TinyLlama 1.1B Chat v1.0".to_owned(),
            "https://huggingface.co/TinyLlama/TinyLlama-1.1B-Chat-v1.0".to_owned(),
        ];
        assert_eq!(
            base_model_ids(&written),
            vec!["TinyLlama/TinyLlama-1.1B-Chat-v1.0"]
        );
        assert_eq!(
            base_model_ids(&written[..1]),
            vec!["TinyLlama 1.1B Chat v1.0"]
        );
        assert!(is_repo_id("gpt2") && is_repo_id("org/name-1.5"));
        assert!(!is_repo_id("a b") && !is_repo_id("a/b/c") && !is_repo_id("https://x"));
    }

    #[test]
    fn paths_are_relative_to_the_input() {
        let map = Inputs {
            roots: vec![("proj".into(), true)],
        };
        assert_eq!(map.rel("proj/models/a.bin"), "models/a.bin");
        assert_eq!(map.rel("proj"), ".");
        let map = Inputs {
            roots: vec![("./a/".into(), true), ("b".into(), true)],
        };
        assert_eq!(map.rel("./a/x"), "a/x");
        assert_eq!(map.rel("b/y"), "b/y");
        let map = Inputs {
            roots: vec![("dir/model.gguf".into(), false)],
        };
        assert_eq!(map.rel("dir/model.gguf"), "model.gguf");
    }
}
