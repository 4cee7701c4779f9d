//! `ward scan` through its real binary: exit codes, report formats, `-o`, stdin, policies
//! and waivers, errors, snapshots of the text and JSON reports, SARIF schema validation,
//! and the two corpus tests (every generated fixture reports exactly its expected codes;
//! every benign file made by the real Python libraries reports nothing).

// This whole crate is test code: a failed expectation must stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

const WARD: &str = env!("CARGO_BIN_EXE_ward");

/// Bytes that no format ward knows starts with (0xff is not a pickle opcode, no magic).
const UNKNOWN: &[u8] =
    b"\xffWARD-TEST-UNKNOWN\x00\x01\x02\x03\xfe\xfd binary content of no known format";
const TEXT: &[u8] = b"plain notes about a model\n";

fn ward_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(WARD);
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the ward binary runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(bytes).expect("stdin accepts the input");
    }
    child.wait_with_output().expect("ward finishes")
}

fn ward(dir: &Path, args: &[&str]) -> Output {
    ward_in(dir, args, None)
}

fn code(out: &Output) -> i32 {
    out.status
        .code()
        .expect("ward exits normally, not by a signal")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every finding of a JSON report as (code, severity, suppressed), policy findings included.
fn findings(report: &Value) -> Vec<(String, String, bool)> {
    let mut all = Vec::new();
    let files = report["files"].as_array().expect("`files` is an array");
    let policy = report["policy"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for finding in files
        .iter()
        .flat_map(|file| {
            file["findings"]
                .as_array()
                .expect("`findings` is an array")
                .iter()
        })
        .chain(policy.iter())
    {
        all.push((
            finding["code"].as_str().expect("code").to_owned(),
            finding["severity"].as_str().expect("severity").to_owned(),
            !finding["suppressed"].is_null(),
        ));
    }
    all
}

fn codes(report: &Value) -> BTreeSet<String> {
    findings(report)
        .into_iter()
        .map(|(code, _, _)| code)
        .collect()
}

/// A temporary directory holding `notes.txt` (text) and `blob.bin` (unknown binary).
fn workspace() -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    fs::write(dir.path().join("notes.txt"), TEXT).expect("write");
    fs::write(dir.path().join("blob.bin"), UNKNOWN).expect("write");
    dir
}

fn sha256_of(bytes: &[u8]) -> String {
    // Computed by the system tool, independently of ward's own hashing.
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("f");
    fs::write(&path, bytes).expect("write");
    let out = Command::new("sha256sum")
        .arg(&path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum prints a digest")
        .to_owned()
}

#[test]
fn text_file_is_clean_and_exits_0() {
    let dir = workspace();
    let out = ward(dir.path(), &["scan", "--format", "json", "notes.txt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert!(findings(&report).is_empty(), "{report}");
    assert_eq!(report["files"][0]["format"], "text");
    assert_eq!(report["summary"]["verdict"], "pass");
}

#[test]
fn unknown_file_fails_when_named_and_is_low_in_a_walk() {
    let dir = workspace();
    let named = ward(dir.path(), &["scan", "--format", "json", "blob.bin"]);
    assert_eq!(code(&named), 1);
    assert_eq!(
        findings(&json(&named)),
        vec![("scan-unknown-format".to_owned(), "medium".to_owned(), false)]
    );

    let walked = ward(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(code(&walked), 0, "a low finding passes the default gate");
    assert_eq!(
        findings(&json(&walked)),
        vec![("scan-unknown-format".to_owned(), "low".to_owned(), false)]
    );
    let strict = ward(dir.path(), &["scan", "--fail-on", "low", "."]);
    assert_eq!(code(&strict), 1);
    let lax = ward(dir.path(), &["scan", "--fail-on", "critical", "blob.bin"]);
    assert_eq!(code(&lax), 0);
}

#[test]
fn missing_path_is_an_error_with_exit_2() {
    let dir = workspace();
    let out = ward(
        dir.path(),
        &["scan", "--format", "json", "nope.pt", "blob.bin"],
    );
    assert_eq!(code(&out), 2, "an unreadable input wins over findings");
    let report = json(&out);
    assert_eq!(report["errors"][0]["path"], "nope.pt");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read `nope.pt`"),
        "{report}"
    );
    assert!(codes(&report).contains("scan-unreadable"));
    assert_eq!(report["summary"]["verdict"], "error");
    assert_eq!(report["summary"]["exit_code"], 2);
}

#[test]
fn dangling_link_in_a_walk_is_unreadable() {
    let dir = workspace();
    std::os::unix::fs::symlink("missing-target", dir.path().join("dangling.pt")).unwrap();
    let out = ward(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(code(&out), 2);
    let report = json(&out);
    assert_eq!(report["errors"][0]["path"], "./dangling.pt");
}

#[test]
fn usage_errors_exit_2() {
    let dir = workspace();
    for args in [
        &["scan"][..],
        &["scan", "--format", "xml", "notes.txt"],
        &["scan", "--fail-on", "severe", "notes.txt"],
        &["scan", "--bogus", "notes.txt"],
    ] {
        let out = ward(dir.path(), args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} wrote data to stdout");
    }
    let out = ward(dir.path(), &["scan", "--fail-on", "severe", "notes.txt"]);
    assert!(
        stderr(&out).contains("unknown severity `severe`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_documents_exit_codes() {
    let out = ward(Path::new("."), &["scan", "--help"]);
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("--fail-on"), "{help}");
}

#[test]
fn text_report_has_blocks_hints_and_summary_without_colour() {
    let dir = workspace();
    let out = ward(dir.path(), &["scan", "blob.bin", "notes.txt"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("medium[scan-unknown-format]: "), "{text}");
    assert!(text.contains("  --> blob.bin\n"), "{text}");
    assert!(text.contains("  hint: "), "{text}");
    assert!(
        text.ends_with("scanned 2 files: 1 finding (1 medium); fail-on medium: fail\n"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "NO_COLOR output has escape codes: {text:?}"
    );
}

#[test]
fn json_report_is_versioned() {
    let dir = workspace();
    let out = ward(dir.path(), &["scan", "--format", "json", "blob.bin"]);
    let report = json(&out);
    assert_eq!(report["schema"], "ward-scan/1");
    assert_eq!(report["tool"]["name"], "ward");
    assert_eq!(report["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["files"][0]["path"], "blob.bin");
    assert_eq!(report["files"][0]["size"], UNKNOWN.len());
    assert_eq!(report["summary"]["by_severity"]["medium"], 1);
    assert_eq!(report["summary"]["fail_on"], "medium");
    assert_eq!(report["summary"]["exit_code"], 1);
    let finding = &report["files"][0]["findings"][0];
    assert_eq!(finding["location"]["path"], "blob.bin");
    assert!(finding["remedy"].as_str().is_some_and(|r| !r.is_empty()));
}

#[test]
fn sarif_report_has_rules_results_and_levels() {
    let dir = workspace();
    let out = ward(dir.path(), &["scan", "--format", "sarif", "blob.bin"]);
    assert_eq!(code(&out), 1);
    let sarif = json(&out);
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|rule| rule["id"] == "scan-unknown-format"
        && rule["properties"]["security-severity"] == "5.5"
        && rule["help"]["text"].as_str().is_some_and(|t| !t.is_empty())));
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "scan-unknown-format");
    assert_eq!(result["level"], "warning");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "blob.bin"
    );
    assert!(result["partialFingerprints"]["wardFinding/v1"].is_string());
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn output_file_is_written_and_stdout_stays_empty() {
    let dir = workspace();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "-o",
            "out/report.json",
            "blob.bin",
        ],
    );
    assert_eq!(code(&out), 2, "the directory of -o must exist");
    assert!(
        stderr(&out).contains("cannot write the report to `out/report.json`"),
        "{}",
        stderr(&out)
    );

    let out = ward(
        dir.path(),
        &["scan", "--format", "json", "-o", "report.json", "blob.bin"],
    );
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    let written: Value =
        serde_json::from_slice(&fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(written["schema"], "ward-scan/1");
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[test]
fn stdin_is_scanned_as_a_named_input() {
    let dir = workspace();
    let out = ward_in(
        dir.path(),
        &["scan", "--format", "json", "-"],
        Some(UNKNOWN),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["files"][0]["path"], "<stdin>");
    assert_eq!(report["files"][0]["size"], UNKNOWN.len());
    assert_eq!(
        findings(&report),
        vec![("scan-unknown-format".to_owned(), "medium".to_owned(), false)]
    );
    let out = ward_in(dir.path(), &["scan", "-"], Some(TEXT));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

fn waiver(code: &str, target: &str, expires: &str) -> String {
    format!(
        "[[waiver]]\ncode = \"{code}\"\n{target}\nreason = \"vendor blob, reviewed\"\nowner = \"sec-team\"\nexpires = \"{expires}\"\n"
    )
}

#[test]
fn digest_waiver_suppresses_but_keeps_the_finding_visible() {
    let dir = workspace();
    let policy = format!(
        "version = 1\n\n{}",
        waiver(
            "scan-unknown-format",
            &format!("sha256 = \"{}\"", sha256_of(UNKNOWN)),
            "2999-12-31"
        )
    );
    fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "policy.toml",
            "blob.bin",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let report = json(&out);
    assert_eq!(
        findings(&report),
        vec![("scan-unknown-format".to_owned(), "medium".to_owned(), true)]
    );
    let suppressed = &report["files"][0]["findings"][0]["suppressed"];
    assert_eq!(suppressed["owner"], "sec-team");
    assert_eq!(suppressed["expires"], "2999-12-31");
    assert_eq!(suppressed["policy"], "policy.toml:3");
    assert_eq!(report["files"][0]["sha256"], sha256_of(UNKNOWN));
    assert_eq!(report["summary"]["suppressed"], 1);
    assert_eq!(report["summary"]["findings"], 0);

    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "sarif",
            "--policy",
            "policy.toml",
            "blob.bin",
        ],
    );
    let sarif = json(&out);
    let suppression = &sarif["runs"][0]["results"][0]["suppressions"][0];
    assert_eq!(suppression["kind"], "external");
    assert!(
        suppression["justification"]
            .as_str()
            .unwrap()
            .contains("vendor blob, reviewed")
    );

    // The same waiver does not cover other content under the same name.
    fs::write(dir.path().join("blob.bin"), b"\xff other unknown bytes").unwrap();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "policy.toml",
            "blob.bin",
        ],
    );
    assert_eq!(code(&out), 1);
    let report = json(&out);
    assert!(codes(&report).contains("scan-waiver-unmatched"), "{report}");
}

#[test]
fn path_waiver_matches_globs_relative_to_the_scan() {
    let dir = workspace();
    let policy = format!(
        "version = 1\n{}",
        waiver("scan-unknown-format", "path = \"**/*.bin\"", "2999-12-31")
    );
    fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let out = ward(
        dir.path(),
        &["scan", "--fail-on", "low", "--policy", "policy.toml", "."],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("suppressed low[scan-unknown-format]"),
        "{text}"
    );
    assert!(
        text.contains("waived: vendor blob, reviewed (owner `sec-team`"),
        "{text}"
    );
}

#[test]
fn expired_waiver_stops_suppressing_and_is_reported() {
    let dir = workspace();
    let policy = format!(
        "version = 1\n{}",
        waiver("scan-unknown-format", "path = \"blob.bin\"", "2020-01-01")
    );
    fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "policy.toml",
            "blob.bin",
        ],
    );
    assert_eq!(code(&out), 1);
    let report = json(&out);
    assert_eq!(
        findings(&report),
        vec![
            ("scan-unknown-format".to_owned(), "medium".to_owned(), false),
            ("scan-waiver-expired".to_owned(), "low".to_owned(), false),
        ]
    );
    assert_eq!(report["policy"]["path"], "policy.toml");
    let message = report["policy"]["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("line 2") && message.contains("2020-01-01"),
        "{message}"
    );
}

#[test]
fn unmatched_waiver_is_reported_at_info() {
    let dir = workspace();
    let policy = format!(
        "version = 1\n{}",
        waiver("scan-symlink-outside-root", "path = \"**\"", "2999-12-31")
    );
    fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "policy.toml",
            "notes.txt",
        ],
    );
    assert_eq!(code(&out), 0);
    assert_eq!(
        findings(&json(&out)),
        vec![("scan-waiver-unmatched".to_owned(), "info".to_owned(), false)]
    );
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--fail-on",
            "info",
            "--policy",
            "policy.toml",
            "notes.txt",
        ],
    );
    assert_eq!(code(&out), 1);
}

#[test]
fn policy_limits_are_applied_to_the_scan() {
    let dir = workspace();
    // PROTO 2, EMPTY_LIST, then ten (BININT1 1, APPEND), STOP: 23 opcodes of a benign list.
    let mut pickle = b"\x80\x02]".to_vec();
    for _ in 0..10 {
        pickle.extend_from_slice(b"K\x01a");
    }
    pickle.push(b'.');
    fs::write(dir.path().join("list.pkl"), &pickle).unwrap();
    let out = ward(dir.path(), &["scan", "--format", "json", "list.pkl"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    fs::write(
        dir.path().join("policy.toml"),
        "version = 1\n[limits]\nmax_pickle_opcodes = 5\n",
    )
    .unwrap();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--policy",
            "policy.toml",
            "list.pkl",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        codes(&json(&out)).contains("pickle-limit-exceeded"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn invalid_policy_is_an_error_naming_file_and_line() {
    let dir = workspace();
    fs::write(
        dir.path().join("policy.toml"),
        "version = 1\n[pickle]\nallowed = [\"a.b\"]\n",
    )
    .unwrap();
    let out = ward(
        dir.path(),
        &["scan", "--policy", "policy.toml", "notes.txt"],
    );
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("policy.toml:3:"), "{err}");
    assert!(err.contains("allowed"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(out.stdout.is_empty());

    let out = ward(
        dir.path(),
        &["scan", "--policy", "missing.toml", "notes.txt"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read policy `missing.toml`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn symlinks_are_followed_only_inside_the_root() {
    let outside = workspace();
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("model");
    fs::create_dir_all(root.join("blobs")).unwrap();
    fs::create_dir_all(root.join("snapshots/abc")).unwrap();
    fs::write(root.join("blobs/0123"), UNKNOWN).unwrap();
    std::os::unix::fs::symlink("../../blobs/0123", root.join("snapshots/abc/model.bin")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("blob.bin"), root.join("escape.bin")).unwrap();

    let out = ward(dir.path(), &["scan", "--format", "json", "model"]);
    let report = json(&out);
    let paths: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "model/blobs/0123",
            "model/escape.bin",
            "model/snapshots/abc/model.bin"
        ]
    );
    let escape = &report["files"][1];
    assert_eq!(
        escape["format"],
        Value::Null,
        "the escaping link was not read"
    );
    assert_eq!(escape["findings"][0]["code"], "scan-symlink-outside-root");
    assert_eq!(
        report["files"][2]["findings"][0]["code"],
        "scan-unknown-format"
    );
    assert_eq!(
        code(&out),
        1,
        "a link leaving the root fails the default gate"
    );

    // A link the user names directly is followed.
    let named = ward(
        dir.path(),
        &["scan", "--format", "json", "model/escape.bin"],
    );
    assert_eq!(json(&named)["files"][0]["format"], "unknown");
}

#[test]
fn report_order_is_sorted_whatever_the_parallelism() {
    let dir = TempDir::new().unwrap();
    for i in (0..40).rev() {
        fs::create_dir_all(dir.path().join(format!("d{}", i % 3))).unwrap();
        fs::write(dir.path().join(format!("d{}/f{i:02}.bin", i % 3)), UNKNOWN).unwrap();
    }
    let out = ward(dir.path(), &["scan", "--format", "json", "."]);
    let report = json(&out);
    let paths: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths.len(), 40);
    assert_eq!(paths, sorted);
}

#[test]
fn snapshot_text_and_json_reports() {
    let dir = TempDir::new().unwrap();
    fs::create_dir_all(dir.path().join("corpus/sub")).unwrap();
    fs::write(dir.path().join("corpus/notes.txt"), TEXT).unwrap();
    fs::write(dir.path().join("corpus/sub/blob.bin"), UNKNOWN).unwrap();
    fs::write(dir.path().join("named.bin"), UNKNOWN).unwrap();
    let filters = vec![(r#""version": "[^"]+""#, r#""version": "[VERSION]""#)];
    insta::with_settings!({ filters => filters, prepend_module_to_snapshot => false }, {
        let out = ward(dir.path(), &["scan", "corpus", "named.bin"]);
        insta::assert_snapshot!("text_report", stdout(&out));
        let out = ward(dir.path(), &["scan", "--format", "json", "corpus", "named.bin"]);
        insta::assert_snapshot!("json_report", stdout(&out));
    });
}

/// The official SARIF 2.1.0 schema, as shipped in Microsoft's SARIF multitool package on
/// npm, fetched once per build directory.
fn sarif_schema() -> PathBuf {
    const PACKAGE: &str = "@microsoft/sarif-multitool-linux@5.7.0";
    const TARBALL: &str = "microsoft-sarif-multitool-linux-5.7.0.tgz";
    // The registry's published SHA-1 of that tarball.
    const SHA1: &str = "c4336533d697196caf44dbce07394df2cbf90eee";
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif-multitool-5.7.0");
    let schema = cache.join("package/sarif-2.1.0.json");
    if schema.is_file() {
        return schema;
    }
    fs::create_dir_all(&cache).unwrap();
    let pack = Command::new("npm")
        .args(["pack", PACKAGE, "--pack-destination"])
        .arg(&cache)
        .output()
        .expect("npm is needed to fetch the official SARIF schema");
    assert!(
        pack.status.success(),
        "npm pack failed: {}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let sum = Command::new("sha1sum")
        .arg(cache.join(TARBALL))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sum.stdout).starts_with(SHA1),
        "unexpected tarball digest: {}",
        String::from_utf8_lossy(&sum.stdout)
    );
    let untar = Command::new("tar")
        .arg("xzf")
        .arg(cache.join(TARBALL))
        .arg("-C")
        .arg(&cache)
        .arg("package/sarif-2.1.0.json")
        .status()
        .unwrap();
    assert!(
        untar.success() && schema.is_file(),
        "the package holds no sarif-2.1.0.json"
    );
    schema
}

fn test_python() -> String {
    std::env::var("WARD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "WARD_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs \
             the Python test tools into ./.venv and sets it"
        )
    })
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let python = test_python();
    let schema = sarif_schema();
    let dir = workspace();
    std::os::unix::fs::symlink("missing", dir.path().join("dangling.bin")).unwrap();
    fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    ward_fixtures::write_corpus(&dir.path().join("fixtures")).unwrap();
    let policy = format!(
        "version = 1\n{}{}",
        waiver("scan-unknown-format", "path = \"blob.bin\"", "2999-12-31"),
        waiver("scan-unreadable", "path = \"x\"", "2020-01-01"),
    );
    fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let out = ward(
        dir.path(),
        &[
            "scan",
            "--format",
            "sarif",
            "-o",
            "report.sarif",
            "--policy",
            "policy.toml",
            ".",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let check = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(log), key=str)
for error in errors[:20]:
    print(f"{list(error.absolute_path)}: {error.message}")
sys.exit(1 if errors else 0)
"#;
    let result = Command::new(&python)
        .arg("-c")
        .arg(check)
        .arg(&schema)
        .arg(dir.path().join("report.sarif"))
        .output()
        .expect("the test python runs");
    assert!(
        result.status.success(),
        "SARIF does not validate:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let sarif: Value =
        serde_json::from_slice(&fs::read(dir.path().join("report.sarif")).unwrap()).unwrap();
    let run = &sarif["runs"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    assert!(
        run["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["suppressions"].is_array())
    );
}

#[test]
fn every_fixture_reports_exactly_its_expected_codes() {
    let fixtures = ward_fixtures::all();
    assert!(!fixtures.is_empty(), "the fixture corpus is empty");
    let dir = TempDir::new().unwrap();
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let path = fixture.write(dir.path()).unwrap();
        let out = ward(
            dir.path(),
            &["scan", "--format", "json", path.to_str().unwrap()],
        );
        let report = match serde_json::from_slice::<Value>(&out.stdout) {
            Ok(report) => report,
            Err(err) => {
                failures.push(format!(
                    "{}: no JSON report ({err}): {}",
                    fixture.name,
                    stderr(&out)
                ));
                continue;
            }
        };
        let got = codes(&report);
        let want: BTreeSet<String> = fixture
            .expect
            .iter()
            .map(|code| (*code).to_owned())
            .collect();
        if got != want {
            failures.push(format!("{}: expected {want:?}, got {got:?}", fixture.name));
        }
        if !report["errors"].as_array().is_some_and(Vec::is_empty) {
            failures.push(format!(
                "{}: scan errors {}",
                fixture.name, report["errors"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures do not report exactly their expected codes:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

#[test]
fn benign_files_from_the_real_libraries_report_nothing() {
    let python = test_python();
    let gen_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/gen");
    let mut generators: Vec<PathBuf> = fs::read_dir(&gen_dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", gen_dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("benign_") && name.ends_with(".py"))
        })
        .collect();
    generators.sort();
    assert!(
        !generators.is_empty(),
        "no tests/gen/benign_*.py generators"
    );
    let out_dir = TempDir::new().unwrap();
    let mut failures = Vec::new();
    for generator in &generators {
        let stem = generator.file_stem().unwrap().to_str().unwrap();
        let target = out_dir.path().join(stem);
        fs::create_dir_all(&target).unwrap();
        let run = Command::new(&python)
            .arg(generator)
            .arg(&target)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{} failed:\n{}",
            generator.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        let made = fs::read_dir(&target).unwrap().count();
        assert!(made > 0, "{} wrote nothing", generator.display());
        let out = ward(out_dir.path(), &["scan", "--format", "json", stem]);
        let report = json(&out);
        for file in report["files"].as_array().unwrap() {
            for finding in file["findings"].as_array().unwrap() {
                failures.push(format!(
                    "{}: {} {}: {}",
                    file["path"].as_str().unwrap_or("?"),
                    finding["severity"].as_str().unwrap_or("?"),
                    finding["code"].as_str().unwrap_or("?"),
                    finding["message"].as_str().unwrap_or("?"),
                ));
            }
        }
        if code(&out) != 0 {
            failures.push(format!("{stem}: exit code {}", code(&out)));
        }
    }
    assert!(
        failures.is_empty(),
        "benign files with findings:\n{}",
        failures.join("\n")
    );
}
