//! `ward bom`: an AI bill of materials with a hash for every model, dataset, prompt and
//! library, written as CycloneDX 1.6/1.7 or SPDX 3.0.1 JSON.
//!
//! Data flow: [`build`] runs one `ward scan` pass over the inputs with an engine that also
//! classifies each file by its content and keeps the header facts the BOM needs
//! (`discover`); `assemble` groups files into components (model folders, Hugging Face
//! cache snapshots, Ollama manifests, dataset folders, prompts, lock files), hashes every
//! file once in parallel with the signer's hashing code, attaches scan verdicts, signature
//! status and completeness, and resolves relations. The writers (`cyclonedx`, `spdx`) and
//! the text summary (`text`) only read the resulting [`Bom`]; `diff` compares two written
//! documents.

pub mod assemble;
pub mod cyclonedx;
pub mod diff;
pub mod discover;
pub mod hf;
pub mod license;
pub mod locks;
pub mod model;
pub mod ollama;
pub mod spdx;
pub mod text;

use std::path::PathBuf;

pub use assemble::Verification;
pub use model::*;
use ward_scan::scan::{Progress, ScanOptions, scan_paths_with};

/// Settings for one `ward bom` run.
pub struct Options {
    /// Scan settings (limits, policy) for the scan each component's verdict comes from.
    pub scan: ScanOptions,
    /// How to verify `model.sig` files; without it, signatures are reported `unverified`.
    pub verification: Option<Verification>,
}

/// Inventories `inputs` (files and directories).
pub fn build(inputs: &[PathBuf], options: &Options, progress: &(dyn Fn(Progress) + Sync)) -> Bom {
    let engine = discover::BomEngine::default();
    let report = scan_paths_with(&engine, inputs, &options.scan, progress);
    let seen = engine.into_seen();
    assemble::assemble(
        inputs,
        &report,
        seen,
        &options.scan.limits,
        options.verification.as_ref(),
    )
}
