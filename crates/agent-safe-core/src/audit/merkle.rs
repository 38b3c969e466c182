//! The RFC 9162 (Certificate Transparency v2, §2.1) Merkle tree over the log.
//!
//! Leaves are the events in `seq` order (leaf `i` is the event with
//! `seq = i + 1`); a leaf's input is its canonical line **without** the final
//! `\n`. Hashes are SHA-256 with the domain-separation prefixes of the RFC:
//! `leaf = SHA-256(0x00 || line)`, `node = SHA-256(0x01 || left || right)`,
//! and the tree of no leaves hashes to `SHA-256("")`.
//!
//! Proofs are generated from a [`Subtrees`] source, which answers the hash of
//! any *perfect* subtree (`2^level` leaves starting at a multiple of
//! `2^level`): with such a store an inclusion or consistency proof costs
//! O(log n) lookups. [`MemTree`] keeps them in memory; the tree store beside
//! the log keeps them in files.
//!
//! Verification follows the algorithms of RFC 9162 §2.1.3.2 (inclusion) and
//! §2.1.4.2 (consistency) step by step.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the tree of no leaves: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The largest power of two smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    if k >= n { k >> 1 } else { k }
}

/// A source of perfect-subtree hashes.
pub trait Subtrees {
    /// The error a lookup can fail with (an I/O error for a file store).
    type Error;
    /// The hash of the subtree of `2^level` leaves starting at leaf
    /// `index << level`. Only asked for subtrees that lie inside the tree.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The Merkle Tree Hash of leaves `start..end` (`start < end`), when `start`
/// is a multiple of the largest power of two not larger than `end - start`
/// (which every range the RFC's recursion visits is).
fn range_hash<S: Subtrees>(s: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return s.subtree(n.trailing_zeros(), start / n);
    }
    let k = split_point(n);
    let left = range_hash(s, start, start + k)?;
    let right = range_hash(s, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root hash of the first `size` leaves.
pub fn root<S: Subtrees>(s: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(s, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of the first `size`
/// leaves (RFC 9162 §2.1.3.1), deepest sibling first. `None` when
/// `index >= size`.
pub fn inclusion_proof<S: Subtrees>(
    s: &S,
    index: u64,
    size: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut path = Vec::new();
    // Walk down from the root, remembering the siblings; the proof lists
    // them from the leaf up.
    let (mut start, mut end, mut m) = (0u64, size, index);
    while end - start > 1 {
        let k = split_point(end - start);
        if m < k {
            path.push(range_hash(s, start + k, end)?);
            end = start + k;
        } else {
            path.push(range_hash(s, start, start + k)?);
            start += k;
            m -= k;
        }
    }
    path.reverse();
    Ok(Some(path))
}

/// The consistency proof between the trees of the first `old` and the first
/// `new` leaves (RFC 9162 §2.1.4.1). Empty when `old == new` or `old == 0`;
/// `None` when `old > new`.
pub fn consistency_proof<S: Subtrees>(
    s: &S,
    old: u64,
    new: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if old > new {
        return Ok(None);
    }
    if old == 0 || old == new {
        return Ok(Some(Vec::new()));
    }
    let mut path = Vec::new();
    // SUBPROOF(m, D[start..end], b), unrolled.
    let (mut start, mut end, mut m, mut whole) = (0u64, new, old, true);
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                path.push(range_hash(s, start, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            path.push(range_hash(s, start + k, end)?);
            end = start + k;
        } else {
            path.push(range_hash(s, start, start + k)?);
            start += k;
            m -= k;
            whole = false;
        }
    }
    path.reverse();
    Ok(Some(path))
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash
/// `leaf` is leaf `index` of the tree of `size` leaves with root `root`.
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

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of
/// `new_size` leaves with root `new_root` extends the tree of `old_size`
/// leaves with root `old_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        // Every tree extends the empty tree.
        return proof.is_empty() && *old_root == empty_root();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
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

/// The roots of the perfect subtrees covering the leaves seen so far (a
/// "compact range" from the left edge): enough to append a leaf or compute
/// the root in O(log n), without keeping the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Subtree roots from the largest (leftmost) to the smallest.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A frontier from its parts: `hashes` are the roots of the perfect
    /// subtrees of a tree of `size` leaves, largest first (one per 1 bit of
    /// `size`). `None` when their number does not fit `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Frontier> {
        (hashes.len() == size.count_ones() as usize).then_some(Frontier { size, hashes })
    }

    /// The roots of the perfect subtrees, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The `(level, index)` of each hash of [`Frontier::hashes`].
    pub fn positions(&self) -> Vec<(u32, u64)> {
        let mut out = Vec::with_capacity(self.hashes.len());
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if self.size & (1u64 << level) != 0 {
                out.push((level, start >> level));
                start += 1u64 << level;
            }
        }
        out
    }

    /// Appends a leaf by its hash. Returns the perfect subtrees this append
    /// completed, as `(level, index, hash)`, smallest first (level 0 is the
    /// leaf itself).
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let mut h = leaf;
        let mut level = 0u32;
        let index = self.size;
        completed(0, index, &h);
        // Each trailing 1 bit of the old size is a subtree to merge with.
        let mut bits = self.size;
        while bits & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            level += 1;
            bits >>= 1;
            completed(level, index >> level, &h);
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The root hash of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        let mut r = *last;
        for h in it {
            r = node_hash(h, &r);
        }
        r
    }
}

/// Every perfect subtree hash of a tree, in memory: `levels[k][i]` is the
/// subtree of `2^k` leaves starting at leaf `i << k`.
#[derive(Debug, Clone, Default)]
pub struct MemTree {
    frontier: Frontier,
    levels: Vec<Vec<Hash>>,
}

impl MemTree {
    /// An empty tree.
    pub fn new() -> MemTree {
        MemTree::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Appends a leaf by its data (hashed as a leaf).
    pub fn push_data(&mut self, data: &[u8]) {
        self.push(leaf_hash(data));
    }

    /// Appends a leaf by its hash.
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.frontier.push(leaf, |level, _, h| {
            let level = level as usize;
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            if let Some(l) = levels.get_mut(level) {
                l.push(*h);
            }
        });
    }

    /// The root hash of all leaves so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

/// A lookup of a subtree that is not in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingSubtree {
    /// Its level.
    pub level: u32,
    /// Its index.
    pub index: u64,
}

impl Subtrees for MemTree {
    type Error = MissingSubtree;
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, MissingSubtree> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingSubtree { level, index })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ] {
            assert_eq!(split_point(n), k, "n={n}");
        }
    }
}
