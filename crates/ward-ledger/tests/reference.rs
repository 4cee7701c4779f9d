//! Roots and proofs checked against an independent RFC 6962 implementation (`ct-merkle`)
//! for every size from 1 to 1000, for larger random sizes, and through SQLite storage.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use ct_merkle::CtMerkleTree;
use serde_json::json;
use sha2_010::Sha256;
use ward_ledger::merkle::{self, Frontier, Hash, NodeReader};
use ward_ledger::{Error, Ledger};

/// Every perfect-subtree hash kept in memory, filled through `Frontier` exactly as storage
/// is filled.
#[derive(Default)]
struct Nodes {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl Nodes {
    fn push(&mut self, data: &[u8]) {
        let leaf = merkle::leaf_hash(data);
        let mut done = Vec::new();
        self.frontier.push(leaf, &mut done);
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        for node in done {
            let level = usize::from(node.level);
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(node.hash);
        }
    }
}

impl NodeReader for Nodes {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, Error> {
        self.levels
            .get(usize::from(level))
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(Error::MissingNode { level, index })
    }
}

fn flat(proof: &[Hash]) -> Vec<u8> {
    proof.concat()
}

fn item(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

/// A small xorshift generator; the test prints its seed.
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
fn every_size_up_to_1000_matches_ct_merkle() {
    let mut ours = Nodes::default();
    let mut theirs: CtMerkleTree<Sha256, Vec<u8>> = CtMerkleTree::new();
    let mut roots = vec![merkle::empty_root()];
    for size in 1..=1000u64 {
        ours.push(&item(size - 1));
        theirs.push(item(size - 1));
        let root = merkle::root(&mut ours, size).unwrap();
        assert_eq!(
            root.as_slice(),
            theirs.root().as_bytes().as_slice(),
            "root at size {size}"
        );
        assert_eq!(ours.frontier.root(), root);
        roots.push(root);
        for index in 0..size {
            let proof = merkle::inclusion_proof(&mut ours, index, size).unwrap();
            let want = theirs.prove_inclusion(index as usize);
            assert_eq!(
                flat(&proof),
                want.as_bytes(),
                "inclusion of {index} at size {size}"
            );
            assert!(merkle::verify_inclusion(
                index,
                size,
                &ours.levels[0][index as usize],
                &proof,
                &root
            ));
        }
        for old in 1..=size {
            let proof = merkle::consistency_proof(&mut ours, old, size).unwrap();
            let want = theirs.prove_consistency(old as usize);
            assert_eq!(flat(&proof), want.as_bytes(), "consistency {old} -> {size}");
            let old_root = merkle::root(&mut ours, old).unwrap();
            assert!(merkle::verify_consistency(
                old, size, &old_root, &root, &proof
            ));
        }
    }
}

#[test]
fn random_larger_sizes_match_ct_merkle() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed: {seed}");
    let mut rng = Rng(seed);
    let mut sizes: Vec<u64> = (0..4).map(|_| 1001 + rng.below(150_000)).collect();
    sizes.push(1 << 17);
    sizes.sort_unstable();
    let mut ours = Nodes::default();
    let mut theirs: CtMerkleTree<Sha256, Vec<u8>> = CtMerkleTree::new();
    let mut size = 0u64;
    for target in sizes {
        while size < target {
            ours.push(&item(size));
            theirs.push(item(size));
            size += 1;
        }
        let root = merkle::root(&mut ours, size).unwrap();
        assert_eq!(
            root.as_slice(),
            theirs.root().as_bytes().as_slice(),
            "root at size {size}"
        );
        for _ in 0..200 {
            let index = rng.below(size);
            let proof = merkle::inclusion_proof(&mut ours, index, size).unwrap();
            assert_eq!(
                flat(&proof),
                theirs.prove_inclusion(index as usize).as_bytes(),
                "inclusion {index}/{size}"
            );
            let old = 1 + rng.below(size);
            let proof = merkle::consistency_proof(&mut ours, old, size).unwrap();
            assert_eq!(
                flat(&proof),
                theirs.prove_consistency(old as usize).as_bytes(),
                "consistency {old}/{size}"
            );
        }
    }
}

#[test]
fn proofs_from_sqlite_storage_match_ct_merkle() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ledger = Ledger::create(&db, "example.com/audit").unwrap();
    for chunk in 0..3 {
        let batch: Vec<_> = (0..700).map(|i| json!({"chunk": chunk, "i": i})).collect();
        ledger.append_batch(&batch).unwrap();
    }
    let leaves: Vec<Vec<u8>> = ledger
        .leaves(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(leaves.len(), 2100);
    let mut theirs: CtMerkleTree<Sha256, Vec<u8>> = CtMerkleTree::new();
    for (i, leaf) in leaves.into_iter().enumerate() {
        theirs.push(leaf);
        let size = i as u64 + 1;
        if !size.is_multiple_of(97) && size != 2100 && size > 3 {
            continue;
        }
        assert_eq!(
            ledger.root(size).unwrap().as_slice(),
            theirs.root().as_bytes().as_slice()
        );
        for seq in [0, size / 2, size - 1] {
            let proof = ledger.inclusion_proof(seq, Some(size)).unwrap();
            assert_eq!(
                flat(&proof.proof),
                theirs.prove_inclusion(seq as usize).as_bytes()
            );
        }
        for old in [1, size / 3 + 1, size] {
            let proof = ledger.consistency_proof(old, Some(size)).unwrap();
            assert_eq!(
                flat(&proof.proof),
                theirs.prove_consistency(old as usize).as_bytes()
            );
        }
    }
}
