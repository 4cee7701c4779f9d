//! The dataset sniffers and the Parquet footer reader against files written by the real
//! libraries: pyarrow, Hugging Face `datasets` (`save_to_disk`), Python's `csv` and `json`
//! modules, and TensorBoard's TFRecord writer. `tests/gen/bom_data.py` writes the files
//! and a manifest of what each one is, with the Parquet counts as pyarrow reads them.
//!
//! Needs `WARD_TEST_PYTHON` (set by `./scripts/test`, which installs the libraries from
//! `tests/requirements.txt`); fails loudly without it.

// This whole file is test code: a failed expectation must stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ward_formats::Limits;
use ward_formats::dataset::{DataFormat, SNIFF_BYTES, parquet_facts, parquet_footer_len, sniff};

fn test_python() -> String {
    std::env::var("WARD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "WARD_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs \
             the Python test tools into ./.venv and sets it"
        )
    })
}

/// Runs the generator into a fresh directory under Cargo's temporary directory.
fn generate() -> PathBuf {
    let python = test_python();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = base.join(format!("bom-data-{}", std::process::id()));
    let home = base.join(format!("bom-data-home-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/gen/bom_data.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&out)
        // The generator needs no network and must not touch the user's caches.
        .env("HF_HOME", &home)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{python}`: {e}"));
    assert!(
        output.status.success(),
        "{} failed:\n{}{}",
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = fs::remove_dir_all(&home);
    out
}

/// What a caller hands `sniff`: the first and last `SNIFF_BYTES` of a file.
fn sniff_file(bytes: &[u8]) -> Option<DataFormat> {
    let prefix = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let tail = &bytes[bytes.len().saturating_sub(SNIFF_BYTES)..];
    sniff(prefix, tail, bytes.len() as u64)
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path, under: &Path, out: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, under, out);
        } else {
            let relative = path.strip_prefix(under).unwrap();
            out.insert(relative.to_str().unwrap().replace('\\', "/"));
        }
    }
}

#[test]
fn files_from_the_real_libraries_are_recognised_and_parquet_facts_match() {
    let dir = generate();
    let manifest = fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let mut listed = BTreeSet::from(["manifest.tsv".to_owned()]);
    for line in manifest.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [path, expected, rows, columns, created_by] = fields[..] else {
            panic!("malformed manifest line `{line}`");
        };
        listed.insert(path.to_owned());
        let bytes = fs::read(dir.join(path)).unwrap();
        let got = sniff_file(&bytes).map_or("none", DataFormat::as_str);
        assert_eq!(got, expected, "`{path}` sniffed as `{got}`");

        if expected == "parquet" {
            let len = bytes.len() as u64;
            let footer_len = parquet_footer_len(&bytes[bytes.len() - 8..], len).unwrap();
            let start = usize::try_from(len - 8 - footer_len).unwrap();
            let facts = parquet_facts(&bytes[start..bytes.len() - 8], &Limits::default())
                .unwrap_or_else(|e| panic!("`{path}`: {e}"));
            assert_eq!(facts.rows.to_string(), rows, "`{path}` rows");
            assert_eq!(facts.columns.to_string(), columns, "`{path}` columns");
            assert_eq!(
                facts.created_by.as_deref(),
                Some(created_by),
                "`{path}` writer"
            );
            assert_eq!((facts.rows, facts.columns), (1000, 3));
        }
        if expected == "parquet" || expected == "arrow" {
            // A download cut short loses the trailing magic and footer.
            let cut = &bytes[..bytes.len() - 1];
            assert_eq!(sniff_file(cut), None, "truncated `{path}`");
        }
    }
    // Every file the libraries wrote is in the manifest, so a new file that
    // `save_to_disk` starts writing is noticed here.
    let mut written = BTreeSet::new();
    files(&dir, &dir, &mut written);
    assert_eq!(written, listed);
    assert_eq!(listed.len(), 12);
    fs::remove_dir_all(&dir).unwrap();
}
