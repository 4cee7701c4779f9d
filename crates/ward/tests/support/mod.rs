//! Helpers shared by the end-to-end test binaries (each includes this file with
//! `#[path = "../support/mod.rs"] mod support;` and uses what it needs).

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter of the test venv.
pub fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("WARD_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "WARD_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs \
             the Python test tools into ./.venv and sets it"
        )
    }))
}

/// Writes fresh keys and certificates into `dir` with `tests/gen/sign_pki.py`.
pub fn make_pki(dir: &Path) {
    let out = Command::new(python())
        .arg(repo_root().join("tests/gen/sign_pki.py"))
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sign_pki.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
