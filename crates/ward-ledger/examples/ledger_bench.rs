//! Benchmark driver for `bench/ledger/run`: durable append throughput, proof latency at
//! large sizes, and full verification time. Prints one line of results per measurement.
//!
//! Usage: `ledger_bench <dir> single|threads|batch|build|proofs|verify [args]`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark driver, not library code"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use ward_ledger::{Ledger, LedgerOptions, NoteVerifier, VerifyOptions};

fn options() -> LedgerOptions {
    LedgerOptions {
        checkpoint_every_entries: None,
        checkpoint_every: None,
        ..LedgerOptions::default()
    }
}

fn entry(i: u64) -> serde_json::Value {
    json!({"event": "chat.completion", "model": "gpt-4o-mini", "user": "u-1234", "decision": "allow", "i": i})
}

fn fresh(dir: &Path, name: &str) -> (PathBuf, Ledger) {
    let db = dir.join(name);
    for suffix in ["", ".key", ".pub", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let ledger = Ledger::create_with(&db, "bench.example/audit", options()).unwrap();
    (db, ledger)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(&args[1]);
    std::fs::create_dir_all(&dir).unwrap();
    let n = |i: usize, default: u64| args.get(i).map_or(default, |s| s.parse().unwrap());
    match args[2].as_str() {
        "single" => {
            let count = n(3, 2000);
            let mut rates = Vec::new();
            for _ in 0..3 {
                let (_, ledger) = fresh(&dir, "single.db");
                let start = Instant::now();
                for i in 0..count {
                    ledger.append(&entry(i)).unwrap();
                }
                rates.push(count as f64 / start.elapsed().as_secs_f64());
            }
            println!(
                "single-writer durable appends/s (median of 3, {count} appends each): {:.0}",
                median(rates)
            );
        }
        "threads" => {
            let threads = n(3, 256);
            let per = n(4, 400);
            let mut rates = Vec::new();
            for _ in 0..3 {
                let (_, ledger) = fresh(&dir, "threads.db");
                let ledger = Arc::new(ledger);
                let start = Instant::now();
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let ledger = Arc::clone(&ledger);
                        std::thread::spawn(move || {
                            for i in 0..per {
                                ledger.append(&entry(t * per + i)).unwrap();
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    h.join().unwrap();
                }
                rates.push((threads * per) as f64 / start.elapsed().as_secs_f64());
            }
            println!(
                "{threads} threads x {per} appends, group-committed, durable appends/s (median of 3): {:.0}",
                median(rates)
            );
        }
        "batch" => {
            let batch = n(3, 1000);
            let batches = n(4, 100);
            let mut rates = Vec::new();
            for _ in 0..3 {
                let (_, ledger) = fresh(&dir, "batch.db");
                let entries: Vec<_> = (0..batch).map(entry).collect();
                let start = Instant::now();
                for _ in 0..batches {
                    ledger.append_batch(&entries).unwrap();
                }
                rates.push((batch * batches) as f64 / start.elapsed().as_secs_f64());
            }
            println!(
                "append_batch of {batch}, durable appends/s (median of 3): {:.0}",
                median(rates)
            );
        }
        "build" => {
            let size = n(3, 1_000_000);
            let (_, ledger) = fresh(&dir, &format!("big-{size}.db"));
            let chunk: u64 = 65_536;
            let start = Instant::now();
            let mut done = 0;
            while done < size {
                let k = chunk.min(size - done);
                let entries: Vec<_> = (done..done + k).map(entry).collect();
                ledger.append_batch(&entries).unwrap();
                done += k;
            }
            ledger.checkpoint().unwrap();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "bulk build of {size} entries via append_batch({chunk}): {secs:.1} s ({:.0} appends/s)",
                size as f64 / secs
            );
        }
        "proofs" => {
            let size = n(3, 1_000_000);
            let db = dir.join(format!("big-{size}.db"));
            let ledger = Ledger::open_with(&db, options()).unwrap();
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = |m: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % m
            };
            let mut incl = Vec::new();
            let mut cons = Vec::new();
            for _ in 0..2000 {
                let seq = next(size);
                let start = Instant::now();
                let p = ledger.inclusion_proof(seq, None).unwrap();
                incl.push(start.elapsed().as_secs_f64() * 1e6);
                assert!(ward_ledger::merkle::verify_inclusion(
                    seq,
                    size,
                    &p.leaf_hash,
                    &p.proof,
                    &p.root
                ));
                let old = 1 + next(size);
                let start = Instant::now();
                ledger.consistency_proof(old, None).unwrap();
                cons.push(start.elapsed().as_secs_f64() * 1e6);
            }
            println!(
                "inclusion proof at {size} entries (median of 2000, incl. root): {:.0} us",
                median(incl)
            );
            println!(
                "consistency proof at {size} entries (median of 2000, incl. roots): {:.0} us",
                median(cons)
            );
        }
        "verify" => {
            let size = n(3, 1_000_000);
            let db = dir.join(format!("big-{size}.db"));
            let key = NoteVerifier::parse(
                &std::fs::read_to_string(ward_ledger::public_key_path(&db)).unwrap(),
            )
            .unwrap();
            let start = Instant::now();
            let report = ward_ledger::verify(
                &db,
                &VerifyOptions {
                    public_key: key,
                    external_checkpoints: vec![],
                },
            )
            .unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(report.outcome, ward_ledger::Outcome::Intact);
            println!(
                "full verify of {size} entries: {secs:.1} s ({:.0} entries/s)",
                size as f64 / secs
            );
        }
        other => panic!("unknown mode {other}"),
    }
}
