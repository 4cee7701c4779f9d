//! Offline verification of a whole log: every leaf, every stored tree node, every
//! checkpoint.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;
use crate::entry::{self, Leaf};
use crate::merkle::{self, Frontier, Hash, Node};
use crate::note::{Checkpoint, NoteVerifier};
use crate::storage::{SqliteStorage, Storage, StorageNodes};

/// Leaves read per query while verifying.
const CHUNK: usize = 65_536;

/// What [`verify`] checks against.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The trusted verifier key. Reading it from `<db>.pub` beside the log only proves the
    /// log matches the key stored with it; pass a copy kept elsewhere for real assurance.
    pub public_key: NoteVerifier,
    /// Signed checkpoint notes obtained outside the log (for example published ones).
    pub external_checkpoints: Vec<String>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Intact,
    /// The log was changed. `seq` is the first entry known to be bad, when it can be told.
    Tampered {
        /// The first bad entry, if known.
        seq: Option<u64>,
        /// What was found.
        reason: String,
    },
}

/// The result of [`verify`].
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Number of entries.
    pub size: u64,
    /// The current tree head.
    pub root: Hash,
    /// Number of signed checkpoints checked (stored and external).
    pub checkpoints: usize,
    /// Largest tree size covered by a valid checkpoint.
    pub covered: u64,
    /// The verdict.
    pub outcome: Outcome,
}

struct Known {
    source: String,
    root: Hash,
}

/// Verifies the log at `path`: recomputes every leaf hash and the whole tree, compares
/// them with the stored hashes and nodes, and checks every stored and external checkpoint's
/// signature, its agreement with the recomputed tree and its consistency with the current
/// tree. I/O and format errors are `Err`; tampering is `Ok` with [`Outcome::Tampered`].
pub fn verify(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, Error> {
    verify_storage(&mut SqliteStorage::open(path)?, options)
}

/// [`verify`] over any [`Storage`].
pub fn verify_storage(
    storage: &mut dyn Storage,
    options: &VerifyOptions,
) -> Result<VerifyReport, Error> {
    let origin = storage.origin()?;
    let size = storage.size()?;
    let mut report = VerifyReport {
        size,
        root: merkle::empty_root(),
        checkpoints: 0,
        covered: 0,
        outcome: Outcome::Intact,
    };
    let tampered = |seq: Option<u64>, reason: String| Outcome::Tampered { seq, reason };

    // Checkpoints first: a bad signature or a checkpoint beyond the end is tampering.
    let mut notes: Vec<(String, String)> = storage
        .checkpoints()?
        .into_iter()
        .map(|(s, n)| (format!("stored checkpoint for size `{s}`"), n))
        .collect();
    for (i, note) in options.external_checkpoints.iter().enumerate() {
        notes.push((format!("external checkpoint #{}", i + 1), note.clone()));
    }
    let mut known: BTreeMap<u64, Vec<Known>> = BTreeMap::new();
    for (source, note) in notes {
        let text = match options.public_key.open(&note) {
            Ok(text) => text,
            Err(e) => {
                report.outcome = tampered(None, format!("{source}: {e}"));
                return Ok(report);
            }
        };
        let cp = match Checkpoint::parse_text(text) {
            Ok(cp) => cp,
            Err(e) => {
                report.outcome = tampered(None, format!("{source}: {e}"));
                return Ok(report);
            }
        };
        if cp.origin != origin {
            report.outcome = tampered(
                None,
                format!(
                    "{source}: origin `{}` is not the log origin `{origin}`",
                    cp.origin
                ),
            );
            return Ok(report);
        }
        if cp.size > size {
            report.outcome = tampered(
                Some(size),
                format!(
                    "{source} covers `{}` entries but the log has only `{size}`: entries from `{size}` on were removed",
                    cp.size
                ),
            );
            return Ok(report);
        }
        report.checkpoints += 1;
        report.covered = report.covered.max(cp.size);
        known.entry(cp.size).or_default().push(Known {
            source,
            root: cp.root,
        });
    }
    if let Some(k) = known
        .get(&0)
        .and_then(|list| list.iter().find(|k| k.root != merkle::empty_root()))
    {
        report.outcome = tampered(
            None,
            format!("{}: root of the empty tree is wrong", k.source),
        );
        return Ok(report);
    }

    // Recompute every leaf and node.
    let mut frontier = Frontier::new();
    let mut next: u64 = 0;
    while next < size {
        let rows = storage.leaves(next, CHUNK)?;
        if rows.is_empty() {
            break;
        }
        let mut completed: Vec<Node> = Vec::new();
        for row in rows {
            let seq = next;
            if row.seq != seq {
                report.outcome = tampered(
                    Some(seq),
                    format!(
                        "entry `{seq}` is missing (the next stored entry is `{}`)",
                        row.seq
                    ),
                );
                return Ok(report);
            }
            if let Some(reason) = check_leaf(seq, &row.bytes, &row.hash) {
                report.outcome = tampered(Some(seq), reason);
                return Ok(report);
            }
            frontier.push(merkle::leaf_hash(&row.bytes), &mut completed);
            next += 1;
            if let Some(list) = known.get(&next) {
                let root = frontier.root();
                if let Some(k) = list.iter().find(|k| k.root != root) {
                    report.outcome = tampered(
                        None,
                        format!(
                            "{} does not match entries `0..{next}`: at least one of them was changed, removed or reordered after it was signed",
                            k.source
                        ),
                    );
                    return Ok(report);
                }
            }
        }
        if let Some(outcome) = check_nodes(storage, &completed)? {
            report.outcome = outcome;
            return Ok(report);
        }
    }
    if next != size {
        report.outcome = tampered(Some(next), format!("entry `{next}` is missing"));
        return Ok(report);
    }
    let expected_nodes = size - u64::from(size.count_ones());
    let stored_nodes = storage.node_count()?;
    if stored_nodes != expected_nodes {
        report.outcome = tampered(
            None,
            format!(
                "the stored tree has `{stored_nodes}` interior nodes, `{expected_nodes}` expected for `{size}` entries"
            ),
        );
        return Ok(report);
    }
    report.root = frontier.root();

    // Every checkpoint must also be provably consistent with the current tree, using the
    // stored nodes that proofs are served from.
    let mut nodes = StorageNodes(storage);
    for (&cp_size, list) in &known {
        if cp_size == 0 {
            continue;
        }
        let proof = merkle::consistency_proof(&mut nodes, cp_size, size)?;
        for k in list {
            if !merkle::verify_consistency(cp_size, size, &k.root, &report.root, &proof) {
                report.outcome = tampered(
                    None,
                    format!("{} is not consistent with the current tree", k.source),
                );
                return Ok(report);
            }
        }
    }
    Ok(report)
}

/// Checks one stored leaf; returns what is wrong with it.
fn check_leaf(seq: u64, bytes: &[u8], stored_hash: &[u8]) -> Option<String> {
    let leaf: Leaf = match serde_json::from_slice(bytes) {
        Ok(leaf) => leaf,
        Err(e) => return Some(format!("entry `{seq}` is not a valid leaf: {e}")),
    };
    if leaf.seq != seq {
        return Some(format!(
            "entry `{seq}` holds the leaf of entry `{}`: entries were reordered or moved",
            leaf.seq
        ));
    }
    let canonical = match entry::canonical_json(&leaf.entry) {
        Ok(c) => c,
        Err(e) => return Some(format!("entry `{seq}` cannot have been appended: {e}")),
    };
    if entry::leaf_bytes(&canonical, seq, &leaf.time) != bytes {
        return Some(format!(
            "entry `{seq}` is not in canonical form: it was edited"
        ));
    }
    if stored_hash != merkle::leaf_hash(bytes).as_slice() {
        return Some(format!(
            "entry `{seq}` does not match its stored leaf hash: it was edited"
        ));
    }
    None
}

/// Compares recomputed interior nodes with the stored ones.
fn check_nodes(storage: &mut dyn Storage, completed: &[Node]) -> Result<Option<Outcome>, Error> {
    let mut by_level: BTreeMap<u8, Vec<&Node>> = BTreeMap::new();
    for node in completed {
        by_level.entry(node.level).or_default().push(node);
    }
    for (level, nodes) in by_level {
        let (Some(first), Some(last)) = (nodes.first(), nodes.last()) else {
            continue;
        };
        let stored = storage.nodes(level, first.index, last.index.saturating_add(1))?;
        let mut stored = stored.into_iter();
        for node in nodes {
            let matches = stored
                .next()
                .is_some_and(|(index, hash)| index == node.index && hash == node.hash);
            if !matches {
                let start = node.index << level;
                let end = (node.index + 1) << level;
                return Ok(Some(Outcome::Tampered {
                    seq: Some(start),
                    reason: format!(
                        "stored tree node at level `{level}` index `{}` does not match entries `{start}..{end}`",
                        node.index
                    ),
                }));
            }
        }
    }
    Ok(None)
}
