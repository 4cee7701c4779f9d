//! `ward audit` through the real binary: the happy path, every kind of tampering, proofs,
//! and crash safety under SIGKILL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ward_ledger::merkle::{self, Frontier, Hash};

fn ward(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = ward(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A log with `n` entries and a checkpoint after each of them.
fn log_with(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let out = run(
        &["audit", "init", "--origin", "example.com/audit", &s(&db)],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: String = (0..n)
        .map(|i| format!("{{\"action\":\"call\",\"i\":{i}}}\n"))
        .collect();
    let out = run(&["audit", "append", &s(&db)], &lines);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(printed, (0..n).map(|i| i.to_string()).collect::<Vec<_>>());
    (dir, db)
}

fn verify(db: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    args.push(db.to_str().unwrap());
    run(&args, "")
}

fn assert_tampered(db: &Path, extra: &[&str], needle: &str) {
    let out = verify(db, extra);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(stdout.contains(needle), "expected `{needle}` in: {stdout}");
}

fn sql(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).unwrap()
}

/// What an attacker with write access does to hide an edit: recompute every leaf hash and
/// every interior node from the (edited) leaf bytes.
fn recompute_tree(db: &Path) {
    let conn = sql(db);
    let leaves: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT seq, CAST(leaf AS BLOB) FROM entries ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    conn.execute("DELETE FROM nodes", []).unwrap();
    let mut frontier = Frontier::new();
    for (seq, bytes) in leaves {
        let hash: Hash = merkle::leaf_hash(&bytes);
        conn.execute(
            "UPDATE entries SET hash = ?1 WHERE seq = ?2",
            rusqlite::params![hash.as_slice(), seq],
        )
        .unwrap();
        let mut nodes = Vec::new();
        frontier.push(hash, &mut nodes);
        for n in nodes {
            let id = (i64::from(n.level) << 48) | i64::try_from(n.index).unwrap();
            conn.execute(
                "INSERT INTO nodes(id, hash) VALUES (?1, ?2)",
                rusqlite::params![id, n.hash.as_slice()],
            )
            .unwrap();
        }
    }
}

#[test]
fn append_writes_checkpoints_every_n_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let d = db.to_str().unwrap();
    assert!(run(&["audit", "init", d], "").status.success());
    let lines: String = (0..10_000).map(|i| format!("{i}\n")).collect();
    let out = run(
        &["audit", "append", "--checkpoint-every-entries", "3000", d],
        &lines,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sizes: Vec<i64> = sql(&db)
        .prepare("SELECT size FROM checkpoints ORDER BY size")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // Checkpoints by count are written at commit boundaries (at most 4096 lines each)
    // once 3000 entries are new, then one on close; the default (10,000) would write only
    // the closing one.
    assert!(sizes.len() >= 3, "{sizes:?}");
    let mut previous = 0;
    for size in &sizes[..sizes.len() - 1] {
        assert!(size - previous >= 3000, "{sizes:?}");
        previous = *size;
    }
    assert_eq!(sizes.last(), Some(&10_000));
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn intact_log_verifies_and_exports() {
    let (_dir, db) = log_with(20);
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("ok: "));
    let out = run(
        &["audit", "export", "--format", "jsonl", db.to_str().unwrap()],
        "",
    );
    assert!(out.status.success());
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    assert_eq!(lines[7]["seq"], 7);
    assert_eq!(lines[7]["entry"]["i"], 7);
}

#[test]
fn edited_entry_is_detected() {
    let (_dir, db) = log_with(20);
    let conn = sql(&db);
    conn.execute(
        "UPDATE entries SET leaf = replace(leaf, '\"call\"', '\"nothing\"') WHERE seq = 5",
        [],
    )
    .unwrap();
    drop(conn);
    assert_tampered(&db, &[], "first bad entry `5`");
}

#[test]
fn deleted_entry_is_detected() {
    let (_dir, db) = log_with(20);
    sql(&db)
        .execute("DELETE FROM entries WHERE seq = 9", [])
        .unwrap();
    assert_tampered(&db, &[], "first bad entry `9`");
}

#[test]
fn reordered_entries_are_detected() {
    let (_dir, db) = log_with(20);
    let conn = sql(&db);
    conn.execute_batch(
        "UPDATE entries SET seq = -1 WHERE seq = 3;
         UPDATE entries SET seq = 3 WHERE seq = 4;
         UPDATE entries SET seq = 4 WHERE seq = -1;",
    )
    .unwrap();
    drop(conn);
    assert_tampered(&db, &[], "first bad entry `3`");
}

#[test]
fn truncation_is_detected() {
    let (_dir, db) = log_with(20);
    sql(&db)
        .execute_batch("DELETE FROM entries WHERE seq >= 15;")
        .unwrap();
    recompute_tree(&db);
    assert_tampered(&db, &[], "first bad entry `15`");
}

#[test]
fn recomputed_tree_with_an_old_checkpoint_is_detected() {
    let (_dir, db) = log_with(20);
    sql(&db)
        .execute(
            "UPDATE entries SET leaf = replace(leaf, '\"call\"', '\"hidden\"') WHERE seq = 2",
            [],
        )
        .unwrap();
    recompute_tree(&db);
    assert_tampered(
        &db,
        &[],
        "stored checkpoint for size `20` does not match entries `0..20`",
    );
}

#[test]
fn recomputed_tree_without_stored_checkpoints_is_caught_by_an_external_one() {
    let (dir, db) = log_with(20);
    let cp = dir.path().join("published.checkpoint");
    let out = run(&["audit", "checkpoint", db.to_str().unwrap()], "");
    assert!(out.status.success());
    std::fs::write(&cp, &out.stdout).unwrap();
    sql(&db)
        .execute_batch(
            "UPDATE entries SET leaf = replace(leaf, '\"call\"', '\"hidden\"') WHERE seq = 11;
             DELETE FROM checkpoints;",
        )
        .unwrap();
    recompute_tree(&db);
    // Without the published checkpoint the edit cannot be seen, and verify says so.
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("not covered by a signed checkpoint"));
    assert_tampered(
        &db,
        &["--checkpoint", cp.to_str().unwrap()],
        "external checkpoint #1 does not match",
    );
}

#[test]
fn edited_tree_node_is_detected() {
    let (_dir, db) = log_with(20);
    let id = (1i64 << 48) | 2;
    sql(&db)
        .execute("UPDATE nodes SET hash = zeroblob(32) WHERE id = ?1", [id])
        .unwrap();
    assert_tampered(
        &db,
        &[],
        "first bad entry `4`: stored tree node at level `1` index `2`",
    );
}

#[test]
fn forged_checkpoint_is_detected() {
    let (_dir, db) = log_with(5);
    sql(&db).execute("UPDATE checkpoints SET note = replace(note, char(10) || '5' || char(10), char(10) || '4' || char(10))", []).unwrap();
    assert_tampered(&db, &[], "does not verify");
}

#[test]
fn wrong_public_key_and_missing_files_are_usage_errors() {
    let (dir, db) = log_with(3);
    let out = verify(&dir.path().join("missing.db"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: "));
    let bad = dir.path().join("bad.pub");
    std::fs::write(&bad, "not a key").unwrap();
    let out = verify(&db, &["--public-key", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // A valid key of another log: the stored checkpoints carry no signature from it.
    let (_other_dir, other) = log_with(1);
    let other_pub = ward_ledger::public_key_path(&other);
    assert_tampered(
        &db,
        &["--public-key", other_pub.to_str().unwrap()],
        "no signature by key",
    );
    let out = run(
        &["audit", "append", db.to_str().unwrap()],
        "{\"ok\":1}\nnot json\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "3\n");
    assert!(text(&out.stderr).contains("stdin line 2"));
}

fn b64_hash(v: &Value) -> Hash {
    BASE64
        .decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn printed_proofs_verify_from_the_json_alone() {
    let (_dir, db) = log_with(37);
    let d = db.to_str().unwrap();
    let out = run(&["audit", "checkpoint", d], "");
    let note = text(&out.stdout);
    let root_line = note.lines().nth(2).unwrap().to_owned();
    for seq in [0u64, 17, 36] {
        let out = run(
            &["audit", "proof", "inclusion", d, "--seq", &seq.to_string()],
            "",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let p: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(p["root_hash"].as_str().unwrap(), root_line);
        let leaf = p["leaf"].as_str().unwrap();
        let leaf_hash = merkle::leaf_hash(leaf.as_bytes());
        assert_eq!(leaf_hash, b64_hash(&p["leaf_hash"]));
        let proof: Vec<Hash> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(b64_hash)
            .collect();
        assert!(merkle::verify_inclusion(
            seq,
            37,
            &leaf_hash,
            &proof,
            &b64_hash(&p["root_hash"])
        ));
    }
    let out = run(&["audit", "proof", "consistency", d, "--old", "10"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    let proof: Vec<Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_hash)
        .collect();
    assert!(merkle::verify_consistency(
        10,
        37,
        &b64_hash(&p["old_root_hash"]),
        &b64_hash(&p["new_root_hash"]),
        &proof
    ));
    let out = run(&["audit", "proof", "inclusion", d, "--seq", "37"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[path = "../support/mod.rs"]
mod support;
use support::python;

/// Checks printed proofs with a verifier written from the RFC in Python, against roots
/// taken from signed checkpoints.
#[test]
fn printed_proofs_verify_with_an_independent_python_verifier() {
    let (dir, db) = log_with(23);
    let d = db.to_str().unwrap();
    let root_at = |size: u64| -> String {
        let out = run(
            &[
                "audit",
                "proof",
                "consistency",
                d,
                "--old",
                &size.to_string(),
                "--new",
                &size.to_string(),
            ],
            "",
        );
        let p: Value = serde_json::from_slice(&out.stdout).unwrap();
        p["new_root_hash"].as_str().unwrap().to_owned()
    };
    let note = text(&run(&["audit", "checkpoint", d], "").stdout);
    let signed_root = note.lines().nth(2).unwrap().to_owned();
    assert_eq!(root_at(23), signed_root);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit/verify_proof.py");
    let check = |proof: &[u8], roots: &[&str]| -> bool {
        let file = dir.path().join("proof.json");
        std::fs::write(&file, proof).unwrap();
        let mut cmd = Command::new(python());
        cmd.arg(&script)
            .arg(&file)
            .args(roots)
            .stdout(Stdio::null());
        cmd.status().unwrap().success()
    };
    for seq in [0u64, 8, 22] {
        let out = run(
            &["audit", "proof", "inclusion", d, "--seq", &seq.to_string()],
            "",
        );
        assert!(check(&out.stdout, &[&signed_root]), "inclusion of {seq}");
        assert!(
            !check(&out.stdout, &[&root_at(22)]),
            "inclusion of {seq} against the wrong root"
        );
    }
    let out = run(
        &[
            "audit",
            "proof",
            "inclusion",
            d,
            "--seq",
            "5",
            "--size",
            "16",
        ],
        "",
    );
    assert!(check(&out.stdout, &[&root_at(16)]));
    for old in [1u64, 7, 16] {
        let out = run(
            &[
                "audit",
                "proof",
                "consistency",
                d,
                "--old",
                &old.to_string(),
            ],
            "",
        );
        assert!(
            check(&out.stdout, &[&signed_root, &root_at(old)]),
            "consistency from {old}"
        );
        assert!(
            !check(&out.stdout, &[&signed_root, &root_at(old + 1)]),
            "consistency from a wrong root"
        );
    }
}

/// A small xorshift generator: kill points only need to vary, not be unpredictable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let d = db.to_str().unwrap().to_owned();
    assert!(run(&["audit", "init", &d], "").status.success());
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill-point seed: {seed}");
    let mut rng = Rng(seed);
    let mut acknowledged: Vec<(u64, u64, u64)> = Vec::new();
    for round in 0..6u64 {
        let mut child = ward(&["audit", "append", &d])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            // Writes until the child dies and the pipe breaks.
            for i in 0u64.. {
                if writeln!(stdin, "{{\"round\":{round},\"i\":{i}}}").is_err() {
                    break;
                }
                if i % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                tx.send(line.parse::<u64>().unwrap()).unwrap();
            }
        });
        // Kill at a random point once appends are flowing, so every round dies mid-stream.
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        child.kill().unwrap(); // SIGKILL on Unix.
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "round {round}: the append process was not killed mid-stream"
        );
        feeder.join().unwrap();
        reader.join().unwrap();
        let seqs: Vec<u64> = std::iter::once(first).chain(rx.try_iter()).collect();
        for (i, seq) in seqs.into_iter().enumerate() {
            acknowledged.push((seq, round, i as u64));
        }
    }
    let out = run(&["audit", "export", "--format", "jsonl", &d], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stored: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    eprintln!(
        "{} entries acknowledged over 6 kills, {} stored",
        acknowledged.len(),
        stored.len()
    );
    for (seq, round, i) in &acknowledged {
        let leaf = stored
            .get(*seq as usize)
            .unwrap_or_else(|| panic!("acknowledged entry `{seq}` is gone"));
        assert_eq!(leaf["seq"], *seq);
        assert_eq!(leaf["entry"]["round"], *round, "entry `{seq}`");
        assert_eq!(leaf["entry"]["i"], *i, "entry `{seq}`");
    }
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
