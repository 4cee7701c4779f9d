//! The catalogue of every finding code ward can report.
//!
//! Each area declares its codes next to its rules as a `pub const CODES: &[Code]`; this
//! module only concatenates them, one line per area, so that reports (SARIF rules), policy
//! validation (a waiver must name a real code) and the documentation test all see the same
//! list.

use crate::finding::Code;

/// Every code, in area order.
pub fn all() -> Vec<Code> {
    let mut codes = Vec::new();
    codes.extend_from_slice(crate::scan::CODES);
    codes.extend_from_slice(crate::safetensors::CODES);
    codes.extend_from_slice(crate::gguf::CODES);
    codes.extend_from_slice(crate::folder::CODES);
    codes.extend_from_slice(crate::pickle::CODES);
    codes.extend_from_slice(crate::onnx::CODES);
    codes.extend_from_slice(crate::keras::CODES);
    codes.extend_from_slice(crate::tf::CODES);
    codes.extend_from_slice(crate::archive::CODES);
    codes
}

/// The code with this id, if any.
pub fn find(id: &str) -> Option<Code> {
    all().into_iter().find(|code| code.id == id)
}

/// The prefixes a code id may start with, one per area.
pub const PREFIXES: &[&str] = &[
    "scan-",
    "pickle-",
    "zip-",
    "tar-",
    "compress-",
    "archive-",
    "npy-",
    "joblib-",
    "torch-",
    "safetensors-",
    "gguf-",
    "jinja-",
    "onnx-",
    "keras-",
    "tf-",
    "hdf5-",
    "hf-",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const FINDINGS_MD: &str = include_str!("../../../docs/findings.md");

    /// The `### id` headings of docs/findings.md.
    fn documented() -> BTreeSet<&'static str> {
        FINDINGS_MD
            .lines()
            .filter_map(|line| line.strip_prefix("### "))
            .map(str::trim)
            .collect()
    }

    #[test]
    fn every_code_is_documented() {
        let documented = documented();
        let missing: Vec<&str> = all()
            .iter()
            .map(|code| code.id)
            .filter(|id| !documented.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "codes without a `### id` entry in docs/findings.md: {missing:?}"
        );
    }

    #[test]
    fn every_documented_code_exists() {
        let known: BTreeSet<&str> = all().iter().map(|code| code.id).collect();
        let stale: Vec<&str> = documented()
            .into_iter()
            .filter(|id| !known.contains(id))
            .collect();
        assert!(
            stale.is_empty(),
            "docs/findings.md documents codes ward cannot report: {stale:?}"
        );
    }

    #[test]
    fn ids_are_unique_kebab_case_and_prefixed() {
        let mut seen = BTreeSet::new();
        for code in all() {
            assert!(seen.insert(code.id), "duplicate code id `{}`", code.id);
            let kebab = !code.id.is_empty()
                && !code.id.starts_with('-')
                && !code.id.ends_with('-')
                && !code.id.contains("--")
                && code
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            assert!(kebab, "code id `{}` is not kebab-case", code.id);
            assert!(
                PREFIXES.iter().any(|prefix| code.id.starts_with(prefix)),
                "code id `{}` has no known area prefix ({PREFIXES:?})",
                code.id
            );
            assert!(!code.title.is_empty(), "code `{}` has no title", code.id);
            assert!(!code.remedy.is_empty(), "code `{}` has no remedy", code.id);
        }
        assert!(find("scan-unknown-format").is_some());
        assert!(find("no-such-code").is_none());
    }
}
