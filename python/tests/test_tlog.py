"""The pure-Python verifier (agent_safe.tlog) against published vectors, and
against the proofs and checkpoints agent-safe itself makes: an independent
implementation of RFC 9162 / C2SP checking the Rust one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from agent_safe import AgentSafe, AgentSafeError, tlog
from conftest import STAGING_API, run_cli

# golang.org/x/mod/sumdb/note documentation example.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
# The C2SP signed-note specification's example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3m"
    "FXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_ed25519_rfc8032_test_1() -> None:
    pub = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert tlog.ed25519_verify(pub, b"", sig)
    assert not tlog.ed25519_verify(pub, b"x", sig)
    assert not tlog.ed25519_verify(pub, b"", sig[:63] + bytes([sig[63] ^ 1]))


def test_signed_note_vectors() -> None:
    assert tlog.Verifier.parse(GO_VKEY).open(GO_NOTE).startswith("If you think")
    assert tlog.Verifier.parse(SPEC_VKEY).open(SPEC_NOTE) == "This is an example message.\n"
    with pytest.raises(tlog.ProofError, match="does not verify"):
        tlog.Verifier.parse(GO_VKEY).open(GO_NOTE.replace("problem,", "problem;"))
    with pytest.raises(tlog.ProofError, match="no signature by"):
        tlog.Verifier.parse(SPEC_VKEY).open(GO_NOTE)
    with pytest.raises(tlog.ProofError):
        tlog.Verifier.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))


# Certificate Transparency reference vectors (RFC 6962 test data).
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def mth(leaves: list[bytes]) -> bytes:
    """The Merkle Tree Hash from RFC 9162's recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return tlog.leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return tlog.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def test_ct_reference_vectors() -> None:
    leaves = [bytes.fromhex(h) for h in CT_LEAVES]
    for n in range(1, 9):
        assert mth(leaves[:n]).hex() == CT_ROOTS[n - 1]
    root8 = bytes.fromhex(CT_ROOTS[7])
    path = [
        bytes.fromhex(h)
        for h in (
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        )
    ]
    assert tlog.verify_inclusion(0, 8, tlog.leaf_hash(leaves[0]), path, root8)
    assert not tlog.verify_inclusion(1, 8, tlog.leaf_hash(leaves[0]), path, root8)
    # Consistency 1 -> 8 uses the same path; 6 -> 8 its own.
    assert tlog.verify_consistency(1, 8, bytes.fromhex(CT_ROOTS[0]), root8, path)
    path68 = [
        bytes.fromhex(h)
        for h in (
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        )
    ]
    assert tlog.verify_consistency(6, 8, bytes.fromhex(CT_ROOTS[5]), root8, path68)
    assert not tlog.verify_consistency(6, 8, bytes.fromhex(CT_ROOTS[4]), root8, path68)


@pytest.fixture
def checkpointed(project: Path) -> tuple[AgentSafe, str]:
    """The parity project with checkpoints every 3 events; (safe, verifier key)."""
    cfg = project / "agent-safe.yaml"
    text = cfg.read_text()
    assert "audit:\n  path: audit/audit.jsonl\n" in text
    cfg.write_text(
        text.replace(
            "audit:\n  path: audit/audit.jsonl\n",
            "audit:\n  path: audit/audit.jsonl\n  checkpoint:\n    origin: test.example/py\n"
            "    key_file: secrets/checkpoint.key\n    every_events: 3\n",
        )
    )
    out = run_cli("audit", "key", "--generate", cwd=project)
    assert out.returncode == 0, out.stderr
    return AgentSafe(config=cfg), out.stdout.strip()


def test_proofs_made_by_agent_safe_verify_in_pure_python(
    checkpointed: tuple[AgentSafe, str], project: Path
) -> None:
    safe, key = checkpointed
    ids: list[str] = []
    for i in range(20):
        d = safe.check(
            "restart-deployment",
            target="staging/api",
            caller="ops-agent",
            params={**STAGING_API, "i": i},
        )
        assert d.audit_id is not None
        ids.append(d.audit_id)
    note = safe.audit_checkpoint(new=True)
    cp = tlog.open_checkpoint(note, key)
    assert cp.origin == "test.example/py" and cp.size == 20
    for audit_id in ids:
        proof = safe.audit_proof(audit_id)
        assert tlog.verify_proof(proof, key=key) == cp
        assert tlog.verify_proof(json.dumps(proof), key=key, checkpoint=note) == cp
    # A forged decision, a wrong path, another key: each refused.
    proof = safe.audit_proof(ids[5])
    forged = {**proof, "line": proof["line"].replace('"ops-agent"', '"root-agent"')}
    with pytest.raises(tlog.ProofError, match="not in the log"):
        tlog.verify_proof(forged, key=key)
    swapped = {**proof, "inclusion_path": list(reversed(proof["inclusion_path"]))}
    with pytest.raises(tlog.ProofError):
        tlog.verify_proof(swapped, key=key)
    with pytest.raises(tlog.ProofError):
        tlog.verify_proof(proof, key=GO_VKEY)
    # Against an older checkpoint kept by someone else.
    older = (project / "audit" / "audit.jsonl.checkpoints").read_text().split("\n\n")
    first = older[0] + "\n\n" + older[1] + "\n"
    p = safe.audit_proof(ids[0], checkpoint=first)
    assert tlog.verify_proof(p, key=key, checkpoint=first).size == 3


def test_consistency_proofs_made_by_agent_safe_verify_in_pure_python(
    checkpointed: tuple[AgentSafe, str], project: Path
) -> None:
    safe, key = checkpointed
    for i in range(17):
        safe.check(
            "restart-deployment",
            target="staging/api",
            caller="ops-agent",
            params={**STAGING_API, "i": i},
        )
    parts = (project / "audit" / "audit.jsonl.checkpoints").read_text().split("\n\n")
    notes = [parts[i] + "\n\n" + parts[i + 1] + "\n" for i in range(0, len(parts) - 1, 2)]
    assert len(notes) >= 5
    sizes = [tlog.open_checkpoint(n, key).size for n in notes]
    assert sizes == sorted(sizes)
    for i, a in enumerate(notes):
        for b in notes[i:]:
            old, new = tlog.verify_consistency_proof(
                safe.audit_consistency_proof(a, new=b), key=key
            )
            assert old.size <= new.size
    proof = safe.audit_consistency_proof(notes[0])
    tlog.verify_consistency_proof(proof, key=key)
    if proof["consistency_path"]:
        bad = {**proof, "consistency_path": ["00" * 32, *proof["consistency_path"][1:]]}
        with pytest.raises(tlog.ProofError, match="not an extension"):
            tlog.verify_consistency_proof(bad, key=key)


def test_without_checkpoints_the_methods_say_how_to_configure_them(safe: AgentSafe) -> None:
    with pytest.raises(AgentSafeError, match=r"audit\.checkpoint"):
        safe.audit_checkpoint()
    with pytest.raises(AgentSafeError, match=r"audit\.checkpoint"):
        safe.audit_proof("019cb8b8-2263-7b5f-9acd-6c058a47620a")
