//! The RFC 9162 Merkle tree: published reference vectors and property tests.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use agent_safe_core::audit::merkle::{
    Frontier, Hash, MemTree, Subtrees, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The eight leaves of the Certificate Transparency reference test vectors
/// (RFC 6962 test data, as used by the C++ `merkle_tree_test.cc` and by
/// `certificate-transparency-go`'s `merkle/testonly` package), and the root
/// of each prefix of them.
fn ct_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn ct_tree() -> MemTree {
    let mut t = MemTree::new();
    for l in ct_leaves() {
        t.push_data(&l);
    }
    t
}

#[test]
fn empty_tree_hash_is_sha256_of_nothing() {
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(root(&MemTree::new(), 0).unwrap(), empty_root());
}

#[test]
fn roots_match_the_ct_reference_vectors() {
    let mut t = MemTree::new();
    for (i, l) in ct_leaves().iter().enumerate() {
        t.push_data(l);
        assert_eq!(hex::encode(t.root()), CT_ROOTS[i], "size {}", i + 1);
    }
    let full = ct_tree();
    for (i, want) in CT_ROOTS.iter().enumerate() {
        assert_eq!(hex::encode(root(&full, i as u64 + 1).unwrap()), *want);
    }
}

#[test]
fn inclusion_proofs_match_the_ct_reference_vectors() {
    // (leaf index, tree size, path) from the CT reference vectors.
    let cases: &[(u64, u64, &[&str])] = &[
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    let t = ct_tree();
    let leaves = ct_leaves();
    for (index, size, path) in cases {
        let want: Vec<Hash> = path.iter().map(|s| h(s)).collect();
        let got = inclusion_proof(&t, *index, *size).unwrap().unwrap();
        assert_eq!(got, want, "leaf {index} in {size}");
        let r = root(&t, *size).unwrap();
        assert!(verify_inclusion(
            *index,
            *size,
            &leaf_hash(&leaves[*index as usize]),
            &got,
            &r
        ));
    }
}

#[test]
fn consistency_proofs_match_the_ct_reference_vectors() {
    let cases: &[(u64, u64, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    let t = ct_tree();
    for (old, new, path) in cases {
        let want: Vec<Hash> = path.iter().map(|s| h(s)).collect();
        let got = consistency_proof(&t, *old, *new).unwrap().unwrap();
        assert_eq!(got, want, "{old} -> {new}");
        assert!(verify_consistency(
            *old,
            *new,
            &root(&t, *old).unwrap(),
            &root(&t, *new).unwrap(),
            &got
        ));
    }
}

/// The Merkle Tree Hash straight from the RFC's recursive definition.
fn reference_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&reference_mth(&leaves[..k]), &reference_mth(&leaves[k..]))
        }
    }
}

fn tree_of(n: u64) -> (MemTree, Vec<Hash>) {
    let mut t = MemTree::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let l = leaf_hash(format!("event {i}").as_bytes());
        leaves.push(l);
        t.push(l);
    }
    (t, leaves)
}

#[test]
fn every_proof_of_every_small_tree_verifies_and_every_mutation_fails() {
    let (t, leaves) = tree_of(41);
    for size in 1..=40u64 {
        let r = root(&t, size).unwrap();
        assert_eq!(r, reference_mth(&leaves[..size as usize]), "size {size}");
        for index in 0..size {
            let p = inclusion_proof(&t, index, size).unwrap().unwrap();
            let leaf = &leaves[index as usize];
            assert!(verify_inclusion(index, size, leaf, &p, &r));
            // The same path does not prove the leaf in the next tree.
            let r_next = root(&t, size + 1).unwrap();
            assert!(!verify_inclusion(index, size + 1, leaf, &p, &r_next));
            if size > 1 {
                assert!(!verify_inclusion((index + 1) % size, size, leaf, &p, &r));
            }
            for k in 0..p.len() {
                let mut bad = p.clone();
                bad[k][0] ^= 1;
                assert!(!verify_inclusion(index, size, leaf, &bad, &r));
                let mut short = p.clone();
                short.remove(k);
                assert!(!verify_inclusion(index, size, leaf, &short, &r));
            }
            let mut long = p.clone();
            long.push(r);
            assert!(!verify_inclusion(index, size, leaf, &long, &r));
        }
        for old in 0..=size {
            let p = consistency_proof(&t, old, size).unwrap().unwrap();
            let ro = root(&t, old).unwrap();
            assert!(verify_consistency(old, size, &ro, &r, &p), "{old}->{size}");
            for k in 0..p.len() {
                let mut bad = p.clone();
                bad[k][31] ^= 0x80;
                assert!(!verify_consistency(old, size, &ro, &r, &bad));
            }
            if old > 0 && old < size {
                let mut wrong = ro;
                wrong[0] ^= 1;
                assert!(!verify_consistency(old, size, &wrong, &r, &p));
                assert!(!verify_consistency(old, size, &ro, &wrong, &p));
                assert!(!verify_consistency(old, size, &ro, &r, &[]));
            }
        }
    }
    assert!(inclusion_proof(&t, 5, 5).unwrap().is_none());
    assert!(consistency_proof(&t, 6, 5).unwrap().is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_sizes_prove_and_verify(n in 1u64..3000, a in any::<u64>(), b in any::<u64>()) {
        let (t, leaves) = tree_of(n);
        let size = 1 + a % n;
        let index = b % size;
        let r = root(&t, size).unwrap();
        let p = inclusion_proof(&t, index, size).unwrap().unwrap();
        prop_assert!(p.len() <= 64 - (size.leading_zeros() as usize) + 1);
        prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &p, &r));
        let old = b % (size + 1);
        let c = consistency_proof(&t, old, size).unwrap().unwrap();
        prop_assert!(verify_consistency(old, size, &root(&t, old).unwrap(), &r, &c));
        let mut f = Frontier::new();
        for l in &leaves[..size as usize] {
            f.push(*l, |_, _, _| {});
        }
        prop_assert_eq!(f.root(), r);
    }
}

#[test]
fn frontier_reports_each_completed_subtree() {
    let (t, leaves) = tree_of(13);
    let mut f = Frontier::new();
    let mut seen = Vec::new();
    for l in &leaves {
        f.push(*l, |level, index, hash| seen.push((level, index, *hash)));
    }
    for (level, index, hash) in seen {
        assert_eq!(t.subtree(level, index).unwrap(), hash);
    }
    assert_eq!(f.size(), 13);
}
