//! `ward bom diff`: what changed between two BOMs.
//!
//! Both documents are read into the same shape (components by identifier, with their
//! digest and their files' digests) whether they are CycloneDX (1.4 and later) or SPDX
//! 3.0.1 JSON, so a CycloneDX BOM can be compared with an SPDX one of the same tree.
//! Components are matched by `bom-ref` (CycloneDX) or by the part of the `spdxId` after
//! `#` (SPDX): ward derives both from the component's path, so they are stable between
//! runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use serde_json::{Value, json};

/// Largest BOM document read.
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// Why a document could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("`{path}` is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// Not JSON.
    #[error("`{path}` is not JSON: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// JSON, but neither CycloneDX nor SPDX 3.
    #[error(
        "`{path}` is neither a CycloneDX BOM (`bomFormat`) nor an SPDX 3 document (`@graph`); give two files `ward bom` wrote"
    )]
    NotABom {
        /// The file.
        path: String,
    },
}

/// One component as a BOM records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `model`, `dataset`, `prompt`, `library` (or `other`).
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Version, if recorded.
    pub version: Option<String>,
    /// SHA-256, if recorded.
    pub sha256: Option<String>,
    /// Files by path with their SHA-256.
    pub files: BTreeMap<String, String>,
}

/// A BOM reduced to what a diff compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Components by identifier.
    pub components: BTreeMap<String, Entry>,
}

/// Reads a CycloneDX or SPDX 3 JSON document.
pub fn load(path: &Path) -> Result<Snapshot, DiffError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| DiffError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| DiffError::Io {
            path: shown.clone(),
            source,
        })?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(DiffError::TooLarge { path: shown });
    }
    let doc: Value = serde_json::from_slice(&bytes).map_err(|source| DiffError::Json {
        path: shown.clone(),
        source,
    })?;
    if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        Ok(from_cyclonedx(&doc))
    } else if doc.get("@graph").is_some_and(Value::is_array) {
        Ok(from_spdx(&doc))
    } else {
        Err(DiffError::NotABom { path: shown })
    }
}

fn prop<'a>(obj: &'a Value, name: &str) -> Option<&'a str> {
    obj.get("properties")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .get("value")?
        .as_str()
}

fn sha256_of(hashes: Option<&Value>) -> Option<String> {
    hashes?
        .as_array()?
        .iter()
        .find(|h| {
            let alg = h
                .get("alg")
                .or_else(|| h.get("algorithm"))
                .and_then(Value::as_str);
            alg.is_some_and(|a| {
                a.eq_ignore_ascii_case("SHA-256") || a.eq_ignore_ascii_case("sha256")
            })
        })
        .and_then(|h| h.get("content").or_else(|| h.get("hashValue")))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

fn from_cyclonedx(doc: &Value) -> Snapshot {
    let mut snap = Snapshot::default();
    for c in doc
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if prop(c, "ward:present") == Some("false") {
            continue;
        }
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let version = c.get("version").and_then(Value::as_str).map(str::to_owned);
        let key = c
            .get("bom-ref")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| c.get("purl").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("{name}@{}", version.as_deref().unwrap_or("")));
        let kind = prop(c, "ward:kind").map(str::to_owned).unwrap_or_else(|| {
            match c.get("type").and_then(Value::as_str) {
                Some("machine-learning-model") => "model",
                Some("data") => "dataset",
                Some("library" | "framework") => "library",
                _ => "other",
            }
            .to_owned()
        });
        let mut files = BTreeMap::new();
        for f in c
            .get("components")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(path), Some(sha)) = (
                f.get("name").and_then(Value::as_str),
                sha256_of(f.get("hashes")),
            ) {
                files.insert(path.to_owned(), sha);
            }
        }
        let sha256 = sha256_of(c.get("hashes"));
        // A component that is one file is its own file entry (SPDX lists it as a file).
        if files.is_empty()
            && prop(c, "ward:files") == Some("1")
            && let (Some(path), Some(sha)) = (prop(c, "ward:path"), &sha256)
        {
            files.insert(path.to_owned(), sha.clone());
        }
        snap.components.insert(
            key,
            Entry {
                kind,
                name,
                version,
                sha256,
                files,
            },
        );
    }
    snap
}

/// The component identifier an SPDX element id carries: ward writes
/// `...#component/<percent-encoded id>`, so decoding it gives the same key as the
/// CycloneDX `bom-ref`. Other ids are used as they are.
fn spdx_key(id: &str) -> String {
    let fragment = id.rsplit_once('#').map_or(id, |(_, frag)| frag);
    match fragment.strip_prefix("component/") {
        Some(escaped) if !escaped.contains('/') => percent_decode(escaped),
        _ => fragment.to_owned(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn from_spdx(doc: &Value) -> Snapshot {
    let graph: Vec<&Value> = doc
        .get("@graph")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let by_id: BTreeMap<&str, &Value> = graph
        .iter()
        .filter_map(|e| Some((e.get("spdxId").and_then(Value::as_str)?, *e)))
        .collect();
    let sha = |e: &Value| sha256_of(e.get("verifiedUsing"));
    let mut snap = Snapshot::default();
    let mut contained: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &graph {
        if e.get("type").and_then(Value::as_str) == Some("Relationship")
            && e.get("relationshipType").and_then(Value::as_str) == Some("contains")
            && let Some(from) = e.get("from").and_then(Value::as_str)
        {
            let to = e
                .get("to")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            contained.entry(from).or_default().extend(to);
        }
    }
    let is_part = |id: &str| {
        contained.iter().any(|(from, to)| {
            by_id.contains_key(from) && to.contains(&id) && !from.ends_with("sbom")
        })
    };
    for e in &graph {
        let Some(id) = e.get("spdxId").and_then(Value::as_str) else {
            continue;
        };
        let kind = match e.get("type").and_then(Value::as_str) {
            Some("ai_AIPackage") => "model",
            Some("dataset_DatasetPackage") => "dataset",
            Some("software_Package") => {
                if e.get("software_primaryPurpose").and_then(Value::as_str) == Some("library") {
                    "library"
                } else {
                    "other"
                }
            }
            Some("software_File") => {
                if is_part(id) {
                    continue;
                }
                "prompt"
            }
            _ => continue,
        };
        // Elements ward writes for things named but not present carry no hashes and no files.
        let files: BTreeMap<String, String> = contained
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let file = by_id.get(f)?;
                Some((file.get("name")?.as_str()?.to_owned(), sha(file)?))
            })
            .collect();
        let sha256 = sha(e);
        let mut files = files;
        // A prompt that is a whole file is written as that file.
        if kind == "prompt"
            && files.is_empty()
            && let (Some(name), Some(digest)) = (e.get("name").and_then(Value::as_str), &sha256)
        {
            files.insert(name.to_owned(), digest.clone());
        }
        if sha256.is_none() && files.is_empty() && kind != "library" {
            continue;
        }
        snap.components.insert(
            spdx_key(id),
            Entry {
                kind: kind.to_owned(),
                name: e
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                version: e
                    .get("software_packageVersion")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                sha256,
                files,
            },
        );
    }
    snap
}

/// How one component changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Identifier.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Old and new version, when they differ.
    pub version: Option<(Option<String>, Option<String>)>,
    /// Old and new digest, when they differ.
    pub sha256: Option<(Option<String>, Option<String>)>,
    /// Files added, removed and changed: `(path, old, new)`.
    pub files: Vec<(String, Option<String>, Option<String>)>,
}

/// Everything that differs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// In the new BOM only.
    pub added: Vec<(String, Entry)>,
    /// In the old BOM only.
    pub removed: Vec<(String, Entry)>,
    /// In both, different.
    pub changed: Vec<Change>,
}

/// Kinds whose bytes must not drift unnoticed: any change to one makes `ward bom diff`
/// exit 1.
pub const GUARDED_KINDS: &[&str] = &["model", "dataset", "prompt"];

impl Diff {
    /// Whether a model, dataset or prompt was added, removed or changed.
    pub fn drift(&self) -> bool {
        let guarded = |kind: &str| GUARDED_KINDS.contains(&kind);
        self.added.iter().any(|(_, e)| guarded(&e.kind))
            || self.removed.iter().any(|(_, e)| guarded(&e.kind))
            || self.changed.iter().any(|c| guarded(&c.kind))
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// A line per difference, then one summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sha = |s: &Option<String>| {
            s.as_deref()
                .map_or_else(|| "-".to_owned(), |s| format!("sha256:{s}"))
        };
        for (id, e) in &self.added {
            let _ = writeln!(
                out,
                "added    {:<8} {}  {}  ({id})",
                e.kind,
                e.name,
                sha(&e.sha256)
            );
        }
        for (id, e) in &self.removed {
            let _ = writeln!(
                out,
                "removed  {:<8} {}  {}  ({id})",
                e.kind,
                e.name,
                sha(&e.sha256)
            );
        }
        for c in &self.changed {
            let _ = writeln!(out, "changed  {:<8} {}  ({})", c.kind, c.name, c.id);
            if let Some((old, new)) = &c.version {
                let _ = writeln!(
                    out,
                    "    version: {} -> {}",
                    old.as_deref().unwrap_or("-"),
                    new.as_deref().unwrap_or("-")
                );
            }
            if let Some((old, new)) = &c.sha256 {
                let _ = writeln!(out, "    digest: {} -> {}", sha(old), sha(new));
            }
            for (path, old, new) in &c.files {
                let what = match (old, new) {
                    (None, _) => "added",
                    (_, None) => "removed",
                    _ => "changed",
                };
                let _ = writeln!(out, "    file {what}: {path}: {} -> {}", sha(old), sha(new));
            }
        }
        let _ = writeln!(
            out,
            "{} added, {} removed, {} changed; {}",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            if self.drift() {
                "models, datasets or prompts drifted"
            } else {
                "no model, dataset or prompt drifted"
            }
        );
        out
    }

    /// The same as JSON.
    pub fn to_json(&self) -> Value {
        let entry = |(id, e): &(String, Entry)| json!({"id": id, "kind": e.kind, "name": e.name, "version": e.version, "sha256": e.sha256});
        json!({
            "added": self.added.iter().map(entry).collect::<Vec<_>>(),
            "removed": self.removed.iter().map(entry).collect::<Vec<_>>(),
            "changed": self.changed.iter().map(|c| json!({
                "id": c.id,
                "kind": c.kind,
                "name": c.name,
                "version": c.version.as_ref().map(|(o, n)| json!({"old": o, "new": n})),
                "sha256": c.sha256.as_ref().map(|(o, n)| json!({"old": o, "new": n})),
                "files": c.files.iter().map(|(p, o, n)| json!({"path": p, "old": o, "new": n})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "drift": self.drift(),
        })
    }
}

/// Compares two snapshots.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let mut d = Diff::default();
    for (id, e) in &new.components {
        if !old.components.contains_key(id) {
            d.added.push((id.clone(), e.clone()));
        }
    }
    for (id, old_e) in &old.components {
        let Some(new_e) = new.components.get(id) else {
            d.removed.push((id.clone(), old_e.clone()));
            continue;
        };
        let mut files = Vec::new();
        for (path, sha) in &new_e.files {
            match old_e.files.get(path) {
                None => files.push((path.clone(), None, Some(sha.clone()))),
                Some(o) if o != sha => {
                    files.push((path.clone(), Some(o.clone()), Some(sha.clone())))
                }
                Some(_) => {}
            }
        }
        for (path, sha) in &old_e.files {
            if !new_e.files.contains_key(path) {
                files.push((path.clone(), Some(sha.clone()), None));
            }
        }
        files.sort();
        let version = (old_e.version != new_e.version)
            .then(|| (old_e.version.clone(), new_e.version.clone()));
        let sha256 =
            (old_e.sha256 != new_e.sha256).then(|| (old_e.sha256.clone(), new_e.sha256.clone()));
        if version.is_some() || sha256.is_some() || !files.is_empty() {
            d.changed.push(Change {
                id: id.clone(),
                kind: new_e.kind.clone(),
                name: new_e.name.clone(),
                version,
                sha256,
                files,
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, sha: &str, files: &[(&str, &str)]) -> Entry {
        Entry {
            kind: kind.into(),
            name: "n".into(),
            version: None,
            sha256: Some(sha.into()),
            files: files
                .iter()
                .map(|(p, s)| ((*p).into(), (*s).into()))
                .collect(),
        }
    }

    #[test]
    fn a_changed_shard_is_drift_and_a_library_bump_is_not() {
        let mut old = Snapshot::default();
        old.components.insert(
            "model:m".into(),
            entry("model", "aa", &[("m/a", "1"), ("m/b", "2")]),
        );
        old.components
            .insert("library:x".into(), entry("library", "", &[]));
        let mut new = old.clone();
        assert!(diff(&old, &new).is_empty());
        new.components.get_mut("library:x").unwrap().version = Some("2".into());
        let d = diff(&old, &new);
        assert_eq!(d.changed.len(), 1);
        assert!(!d.drift());
        new.components.insert(
            "model:m".into(),
            entry("model", "bb", &[("m/a", "1"), ("m/b", "3")]),
        );
        let d = diff(&old, &new);
        assert!(d.drift());
        let change = d.changed.iter().find(|c| c.id == "model:m").unwrap();
        assert_eq!(
            change.files,
            vec![("m/b".into(), Some("2".into()), Some("3".into()))]
        );
        assert!(d.render().contains("file changed: m/b"));
        assert_eq!(d.to_json()["drift"], json!(true));
        new.components.remove("model:m");
        assert!(diff(&old, &new).drift());
    }
}
