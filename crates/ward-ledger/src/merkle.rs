//! RFC 6962 / RFC 9162 Merkle tree hashing: tree heads, inclusion and consistency proofs,
//! and their verification.
//!
//! Proof generation reads hashes of *perfect, aligned* subtrees through [`NodeReader`]:
//! the subtree at `(level, index)` covers leaves `index << level .. (index + 1) << level`.
//! Every subtree the RFC 9162 recursion needs is either such a node or splits into them,
//! so a tree head or a proof costs O(log n) node reads.

use sha2::{Digest, Sha256};

use crate::Error;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Deepest tree level a log can reach: sequence numbers are below 2^48 (see
/// [`MAX_LOG_SIZE`]), so no perfect subtree is taller than this.
pub const MAX_LEVEL: u8 = 48;

/// Largest number of entries a log may hold; it keeps node ids within an `i64`.
pub const MAX_LOG_SIZE: u64 = 1 << MAX_LEVEL;

/// The hash of a leaf: `SHA-256(0x00 || data)` (RFC 6962 section 2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 6962 section 2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of no bytes.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Source of stored perfect-subtree hashes.
pub trait NodeReader {
    /// Returns the hash of the perfect subtree at `level` (0 = leaf hashes) and `index`.
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, Error>;
}

/// The largest power of two strictly below `n` (RFC 9162's `k`); `n` must be at least 2.
fn split_point(n: u64) -> u64 {
    let below = n.saturating_sub(1).max(1);
    1u64 << (63 - below.leading_zeros())
}

/// `MTH(D[start:end])` for a non-empty range, read from stored perfect subtrees.
fn subtree_hash<R: NodeReader + ?Sized>(
    reader: &mut R,
    start: u64,
    end: u64,
) -> Result<Hash, Error> {
    let n = end.saturating_sub(start);
    if n == 0 {
        return Err(Error::Proof {
            reason: "empty subtree requested".to_owned(),
        });
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = u8::try_from(n.trailing_zeros()).map_err(|_| Error::Proof {
            reason: format!("subtree of `{n}` leaves is too tall"),
        })?;
        return reader.node(level, start >> level);
    }
    let k = split_point(n);
    let left = subtree_hash(reader, start, start + k)?;
    let right = subtree_hash(reader, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The tree head `MTH(D[0:size])` (RFC 9162 section 2.1.1).
pub fn root<R: NodeReader + ?Sized>(reader: &mut R, size: u64) -> Result<Hash, Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_hash(reader, 0, size)
}

/// The inclusion proof `PATH(index, D[0:size])` (RFC 9162 section 2.1.3.1), nearest the
/// leaf first.
pub fn inclusion_proof<R: NodeReader + ?Sized>(
    reader: &mut R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, Error> {
    if index >= size {
        return Err(Error::Proof {
            reason: format!("leaf `{index}` is not in a tree of size `{size}`"),
        });
    }
    let mut proof = Vec::new();
    path(reader, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<R: NodeReader + ?Sized>(
    reader: &mut R,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(reader, m, start, start + k, out)?;
        out.push(subtree_hash(reader, start + k, end)?);
    } else {
        path(reader, m - k, start + k, end, out)?;
        out.push(subtree_hash(reader, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof `PROOF(old, D[0:new])` (RFC 9162 section 2.1.4.1); requires
/// `1 <= old <= new` (the proof for `old == new` is empty).
pub fn consistency_proof<R: NodeReader + ?Sized>(
    reader: &mut R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, Error> {
    if old == 0 || old > new {
        return Err(Error::Proof {
            reason: format!("no consistency proof from size `{old}` to size `{new}`"),
        });
    }
    let mut proof = Vec::new();
    subproof(reader, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

fn subproof<R: NodeReader + ?Sized>(
    reader: &mut R,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), Error> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(subtree_hash(reader, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(reader, m, start, start + k, complete, out)?;
        out.push(subtree_hash(reader, start + k, end)?);
    } else {
        subproof(reader, m - k, start + k, end, false, out)?;
        out.push(subtree_hash(reader, start, start + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Verifies a consistency proof between two tree heads (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

/// The right edge of a tree (a "compact range"): the roots of the perfect subtrees that
/// make up the first `size` leaves, largest first. Appending a leaf costs O(1) amortised
/// and reports the interior nodes it completes, which is what storage persists.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)` pairs, strictly decreasing levels.
    stack: Vec<(u8, Hash)>,
}

/// An interior node completed by [`Frontier::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height above the leaves (at least 1).
    pub level: u8,
    /// Position among the nodes of this level.
    pub index: u64,
    /// The node's hash.
    pub hash: Hash,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Loads the frontier of a tree of `size` leaves from stored nodes.
    pub fn load<R: NodeReader + ?Sized>(reader: &mut R, size: u64) -> Result<Frontier, Error> {
        let mut stack = Vec::new();
        let mut start = 0u64;
        for level in (0..=MAX_LEVEL).rev() {
            if size & (1u64 << level) != 0 {
                stack.push((level, reader.node(level, start >> level)?));
                start += 1u64 << level;
            }
        }
        Ok(Frontier { size, stack })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; pushes the interior nodes it completes onto `completed`.
    pub fn push(&mut self, leaf: Hash, completed: &mut Vec<Node>) {
        let index = self.size;
        self.size += 1;
        let mut current = (0u8, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != current.0 {
                break;
            }
            self.stack.pop();
            let hash = node_hash(&left, &current.1);
            let up = level + 1;
            completed.push(Node {
                level: up,
                index: index >> up,
                hash,
            });
            current = (up, hash);
        }
        self.stack.push(current);
    }

    /// The tree head of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, last)) = iter.next() else {
            return empty_root();
        };
        iter.fold(last, |acc, (_, left)| node_hash(left, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every node kept in memory, for tests.
    #[derive(Default)]
    pub(crate) struct MemTree {
        pub levels: Vec<Vec<Hash>>,
        pub frontier: Frontier,
    }

    impl MemTree {
        pub fn push(&mut self, data: &[u8]) {
            let leaf = leaf_hash(data);
            let mut done = Vec::new();
            self.frontier.push(leaf, &mut done);
            if self.levels.is_empty() {
                self.levels.push(Vec::new());
            }
            self.levels[0].push(leaf);
            for node in done {
                let level = usize::from(node.level);
                while self.levels.len() <= level {
                    self.levels.push(Vec::new());
                }
                assert_eq!(self.levels[level].len() as u64, node.index);
                self.levels[level].push(node.hash);
            }
        }
    }

    impl NodeReader for MemTree {
        fn node(&mut self, level: u8, index: u64) -> Result<Hash, Error> {
            self.levels
                .get(usize::from(level))
                .and_then(|l| l.get(index as usize))
                .copied()
                .ok_or(Error::MissingNode { level, index })
        }
    }

    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root(),
            [
                0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
                0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
                0x78, 0x52, 0xb8, 0x55
            ]
        );
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
        assert_eq!(split_point((1 << 40) + 1), 1 << 40);
    }

    #[test]
    fn stored_roots_match_the_recursive_definition() {
        let mut tree = MemTree::default();
        let mut leaves = Vec::new();
        for i in 0..200u32 {
            tree.push(&i.to_be_bytes());
            leaves.push(leaf_hash(&i.to_be_bytes()));
            let size = leaves.len() as u64;
            let want = reference_root(&leaves);
            assert_eq!(root(&mut tree, size).unwrap(), want);
            assert_eq!(tree.frontier.root(), want);
            let loaded = Frontier::load(&mut tree, size).unwrap();
            assert_eq!(loaded.root(), want);
        }
    }

    #[test]
    fn proofs_verify_and_reject_changes() {
        let mut tree = MemTree::default();
        for i in 0..70u32 {
            tree.push(&i.to_be_bytes());
        }
        for size in 1..=70u64 {
            let head = root(&mut tree, size).unwrap();
            for index in 0..size {
                let leaf = tree.node(0, index).unwrap();
                let proof = inclusion_proof(&mut tree, index, size).unwrap();
                assert!(verify_inclusion(index, size, &leaf, &proof, &head));
                assert!(!verify_inclusion(
                    index,
                    size,
                    &leaf_hash(b"x"),
                    &proof,
                    &head
                ));
                if size > 1 {
                    assert!(!verify_inclusion(
                        (index + 1) % size,
                        size,
                        &leaf,
                        &proof,
                        &head
                    ));
                }
            }
            for old in 1..=size {
                let old_head = root(&mut tree, old).unwrap();
                let proof = consistency_proof(&mut tree, old, size).unwrap();
                assert!(verify_consistency(old, size, &old_head, &head, &proof));
                if old < size {
                    assert!(!verify_consistency(old, size, &head, &head, &proof));
                }
            }
        }
    }

    #[test]
    fn out_of_range_proofs_are_errors() {
        let mut tree = MemTree::default();
        tree.push(b"a");
        assert!(inclusion_proof(&mut tree, 1, 1).is_err());
        assert!(consistency_proof(&mut tree, 0, 1).is_err());
        assert!(consistency_proof(&mut tree, 2, 1).is_err());
    }
}
