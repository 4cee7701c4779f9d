//! Generators for ward's fixtures.
//!
//! Malicious fixtures are built here from bytes, by hand, so that the repository never holds
//! a live payload: every payload is harmless even if someone loads the file (it names a
//! dangerous callable but passes it arguments such as `echo ward-fixture`). Benign fixtures
//! that need the real libraries (numpy, scikit-learn, onnx, ...) are made by the Python
//! generators under `tests/gen/` instead.
//!
//! Each fixture says which finding codes a scan must report for it, so one test can walk
//! the whole corpus and check every expectation.

pub mod containers;
pub mod graphs;
pub mod pickle;
pub mod tensors;

use std::fs;
use std::path::Path;

/// One generated test input: a single file or a small directory tree.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Unique name; also the fixture's path relative to the corpus root. The file name may
    /// lie about the content on purpose (a pickle named `.safetensors`).
    pub name: String,
    /// The files: one entry with an empty relative path for a single-file fixture, or
    /// several entries relative to the fixture's directory.
    pub files: Vec<(String, Vec<u8>)>,
    /// Finding codes a scan must report; empty means the scan must report nothing at all.
    pub expect: Vec<&'static str>,
}

impl Fixture {
    /// A single-file fixture.
    pub fn file(name: impl Into<String>, bytes: Vec<u8>, expect: &[&'static str]) -> Self {
        Self {
            name: name.into(),
            files: vec![(String::new(), bytes)],
            expect: expect.to_vec(),
        }
    }

    /// A directory fixture.
    pub fn tree(
        name: impl Into<String>,
        files: Vec<(String, Vec<u8>)>,
        expect: &[&'static str],
    ) -> Self {
        Self {
            name: name.into(),
            files,
            expect: expect.to_vec(),
        }
    }

    /// Writes the fixture below `root` and returns the path to scan.
    pub fn write(&self, root: &Path) -> anyhow::Result<std::path::PathBuf> {
        let base = root.join(&self.name);
        for (rel, bytes) in &self.files {
            let path = if rel.is_empty() {
                base.clone()
            } else {
                base.join(rel)
            };
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, bytes)?;
        }
        Ok(base)
    }
}

/// Every fixture generated from bytes, malicious and benign.
pub fn all() -> Vec<Fixture> {
    let mut all = Vec::new();
    all.extend(containers::fixtures());
    all.extend(graphs::fixtures());
    all.extend(tensors::fixtures());
    all.extend(pickle::fixtures());
    all
}

/// Writes every fixture below `root`.
pub fn write_corpus(root: &Path) -> anyhow::Result<()> {
    for fixture in all() {
        fixture.write(root)?;
    }
    Ok(())
}
