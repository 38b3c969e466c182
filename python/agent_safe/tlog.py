"""Check agent-safe audit proofs and checkpoints, holding only the public key.

Pure Python (standard library only), written from the specifications and
sharing no code with agent-safe itself, so that a third party can check one
decision without trusting agent-safe's own code:

- RFC 8032 §5.1.7 Ed25519 signature verification;
- the C2SP ``signed-note`` format (key ids, verifier keys, signature lines);
- the C2SP ``tlog-checkpoint`` body (origin, tree size, base64 root hash);
- RFC 9162 §2.1 Merkle trees: leaf and node hashes, and the inclusion
  (§2.1.3.2) and consistency (§2.1.4.2) proof verification algorithms.

Typical use, with a proof printed by ``agent-safe audit prove AUDIT_ID`` (or
``AgentSafe.audit_proof``) and the key printed by ``agent-safe audit key``::

    import json
    from agent_safe import tlog

    checkpoint = tlog.verify_proof(json.load(open("proof.json")), key=open("audit.pub").read())
    print(checkpoint.origin, checkpoint.size)

Any failure raises :class:`ProofError` with the reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Checkpoint",
    "ProofError",
    "Verifier",
    "ed25519_verify",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "verify_consistency",
    "verify_consistency_proof",
    "verify_inclusion",
    "verify_proof",
]


class ProofError(Exception):
    """A key, note, checkpoint or proof that does not check out."""


# --- Ed25519 (RFC 8032 §5.1), verification only -----------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


# Points in extended homogeneous coordinates (X, Y, Z, T), x = X/Z, y = Y/Z.
_Point = tuple[int, int, int, int]


def _add(a: _Point, b: _Point) -> _Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s: int, pt: _Point) -> _Point:
    acc: _Point = (0, 1, 1, 0)
    while s:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _same(a: _Point, b: _Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _decode_point(b: bytes) -> _Point | None:
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
assert _GX is not None
_G: _Point = (_GX, _GY, 1, _GX * _GY % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 Ed25519 verification: ``[S]B == R + [k]A``."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode_point(public_key)
    r = _decode_point(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = (
        int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little")
        % _L
    )
    return _same(_mul(s, _G), _add(r, _mul(k, a)))


# --- C2SP signed-note --------------------------------------------------------

_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "


def _check_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Verifier:
    """A note verifier key: ``<name>+<hex key id>+<base64(0x01 || key)>``."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Reads a verifier key; raises :class:`ProofError` when malformed."""
        text = text.strip()
        parts = text.split("+", 2)
        if text.startswith("PRIVATE+KEY+") or len(parts) != 3:
            raise ProofError("a verifier key is `<name>+<8 hex digits>+<base64 key>`")
        name, hex_id, b64 = parts
        if not _check_name(name) or len(hex_id) != 8:
            raise ProofError(f"invalid verifier key {text!r}")
        try:
            key_id = int(hex_id, 16)
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as e:
            raise ProofError(f"invalid verifier key: {e}") from None
        if len(raw) != 33 or raw[0] != _ED25519:
            raise ProofError("only Ed25519 verifier keys (type 1, 32 bytes) are supported")
        if _key_id(name, raw[1:]) != key_id:
            raise ProofError("the verifier key's id does not match its key")
        return cls(name, key_id, raw[1:])

    def open(self, note: str) -> str:
        """Checks a signed note; returns its text (ending in a newline)."""
        split = note.rfind("\n\n")
        if split < 0:
            raise ProofError("malformed note: no blank line before the signatures")
        text, sigs = note[: split + 1], note[split + 2 :]
        if "\n\n" in text or not sigs.endswith("\n"):
            raise ProofError("malformed note")
        found = False
        for line in sigs[:-1].split("\n"):
            if not line.startswith(_SIG_PREFIX):
                raise ProofError(
                    "malformed note: a signature line starts with an em dash and a space"
                )
            name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
            try:
                raw = base64.b64decode(b64, validate=True)
            except binascii.Error:
                raise ProofError("malformed note: a signature is not base64") from None
            if len(raw) < 5:
                raise ProofError("malformed note: a signature is too short")
            if name != self.name or int.from_bytes(raw[:4], "big") != self.key_id or found:
                continue
            if not ed25519_verify(self.public_key, text.encode(), raw[4:]):
                raise ProofError(f"the signature by {self.name!r} does not verify")
            found = True
        if not found:
            raise ProofError(
                f"the note carries no signature by the key {self.name}+{self.key_id:08x}"
            )
        return text


# --- C2SP tlog-checkpoint ----------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint: the log's origin, its tree size and root hash."""

    origin: str
    size: int
    root: bytes


def open_checkpoint(note: str, key: str | Verifier) -> Checkpoint:
    """Checks a signed checkpoint with ``key`` and reads its body."""
    verifier = key if isinstance(key, Verifier) else Verifier.parse(key)
    lines = verifier.open(note).split("\n")
    if len(lines) < 4 or not lines[0]:
        raise ProofError("malformed checkpoint body")
    size_text = lines[1]
    if not size_text.isdigit() or (len(size_text) > 1 and size_text.startswith("0")):
        raise ProofError(f"malformed checkpoint tree size {size_text!r}")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise ProofError("malformed checkpoint root hash") from None
    if len(root) != 32:
        raise ProofError("the checkpoint root is not a SHA-256 hash")
    return Checkpoint(lines[0], int(size_text), root)


# --- RFC 9162 Merkle trees ---------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            r = node_hash(r, p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step (with the trivial cases first)."""
    if first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return not path
    if not path:
        return False
    nodes = list(path)
    if first & (first - 1) == 0:
        nodes.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            sr = node_hash(sr, c)
        fn //= 2
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0


def _hashes(items: Any, what: str) -> list[bytes]:
    if not isinstance(items, list):
        raise ProofError(f"`{what}` must be a list of hex hashes")
    out = []
    for h in items:
        try:
            b = bytes.fromhex(h)
        except (TypeError, ValueError):
            raise ProofError(f"`{what}` holds {h!r}, not a hex hash") from None
        if len(b) != 32:
            raise ProofError(f"`{what}` holds {h!r}, not a SHA-256 hash")
        out.append(b)
    return out


def verify_proof(
    proof: Mapping[str, Any] | str, *, key: str | Verifier, checkpoint: str | None = None
) -> Checkpoint:
    """Checks an inclusion proof (``agent-safe audit prove``) offline.

    ``checkpoint`` is a signed checkpoint you trust (for example one you kept
    elsewhere); by default the one the proof carries. Returns the checkpoint;
    raises :class:`ProofError` when the event is not in the log it describes.
    """
    if isinstance(proof, str):
        try:
            proof = json.loads(proof)
        except json.JSONDecodeError as e:
            raise ProofError(f"the proof is not JSON: {e}") from None
    if not isinstance(proof, Mapping):
        raise ProofError("the proof must be a JSON object")
    try:
        audit_id, seq, line = proof["audit_id"], proof["seq"], proof["line"]
        tree_size, note = proof["tree_size"], proof["checkpoint"]
        path = _hashes(proof["inclusion_path"], "inclusion_path")
    except KeyError as e:
        raise ProofError(f"the proof has no {e}") from None
    if (
        not (isinstance(seq, int) and isinstance(tree_size, int) and isinstance(line, str))
        or seq < 1
    ):
        raise ProofError("malformed proof")
    cp = open_checkpoint(checkpoint if checkpoint is not None else note, key)
    if cp.size != tree_size:
        raise ProofError(
            f"the proof is for a tree of {tree_size} events but the checkpoint is of {cp.size}"
        )
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        raise ProofError("the proof's line is not JSON") from None
    if not isinstance(event, dict) or event.get("seq") != seq or event.get("event_id") != audit_id:
        raise ProofError("the proof's line is not the event its seq/audit_id name")
    if not verify_inclusion(seq - 1, cp.size, leaf_hash(line.encode()), path, cp.root):
        raise ProofError("the event is not in the log the checkpoint describes")
    return cp


def verify_consistency_proof(
    proof: Mapping[str, Any] | str, *, key: str | Verifier
) -> tuple[Checkpoint, Checkpoint]:
    """Checks a consistency proof (``AgentSafe.audit_consistency_proof``).

    Both checkpoints must be signed by ``key``, and the newer log must extend
    the older one. Returns (older, newer); raises :class:`ProofError`.
    """
    if isinstance(proof, str):
        try:
            proof = json.loads(proof)
        except json.JSONDecodeError as e:
            raise ProofError(f"the proof is not JSON: {e}") from None
    if not isinstance(proof, Mapping):
        raise ProofError("the proof must be a JSON object")
    try:
        old = open_checkpoint(proof["old_checkpoint"], key)
        new = open_checkpoint(proof["new_checkpoint"], key)
        path = _hashes(proof["consistency_path"], "consistency_path")
    except KeyError as e:
        raise ProofError(f"the proof has no {e}") from None
    if old.origin != new.origin:
        raise ProofError("the checkpoints are of two different logs")
    if not verify_consistency(old.size, new.size, old.root, new.root, path):
        raise ProofError(
            f"the log of {new.size} events is not an extension of the log of {old.size} events"
        )
    return old, new
