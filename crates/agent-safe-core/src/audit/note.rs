//! Signed checkpoints: the C2SP `tlog-checkpoint` body signed as a C2SP
//! `signed-note` with Ed25519.
//!
//! A note is UTF-8 text ending in `\n`, a blank line, and signature lines
//! `— <key name> <base64(key id || signature)>\n` (an em dash, U+2014, and a
//! space). The signature covers the text including its final `\n`. The key id
//! is the first 4 bytes (big-endian) of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`, `0x01` being the
//! Ed25519 signature type. Keys are written as the Go `golang.org/x/mod/sumdb/note`
//! package writes them: a verifier key `<name>+<hex key id>+<base64(0x01 ||
//! public key)>`, a signer key `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01
//! || seed)>`.
//!
//! The checkpoint body is three lines: the origin, the tree size in decimal,
//! and the root hash in standard base64; extension lines may follow.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signature type byte of Ed25519 in C2SP signed notes.
const ALG_ED25519: u8 = 0x01;
/// The prefix of a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// At most this many signature lines are read (as Go's `note.Open`).
const MAX_SIGNATURES: usize = 100;

/// Why a key, a note or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A key name is empty or holds a space or a `+`.
    #[error(
        "invalid key name `{0}`: it must be non-empty and hold no space and no `+` (e.g. `example.com/audit`)"
    )]
    BadName(String),
    /// A key text is not in the expected form.
    #[error("invalid {kind}: {reason}")]
    BadKey {
        /// `verifier key` or `signer key`.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The note text is malformed.
    #[error("malformed signed note: {0}")]
    Malformed(String),
    /// No signature of the given key is on the note.
    #[error("the note carries no signature by the key `{name}+{key_id:08x}`")]
    Unsigned {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: u32,
    },
    /// A signature of the given key is on the note but does not verify.
    #[error(
        "the signature by `{name}+{key_id:08x}` does not verify: the note was altered or signed by another key"
    )]
    BadSignature {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: u32,
    },
    /// The checkpoint body is malformed.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(String),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadName(name.to_string()));
    }
    Ok(())
}

/// The key id of an Ed25519 key: the first 4 bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
pub(crate) fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let d: [u8; 32] = h.finalize().into();
    let mut id = [0u8; 4];
    id.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(id)
}

/// A signer: a key name and an Ed25519 private key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A new key for `name`, from the operating system's random source.
    pub fn generate(name: &str) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::BadKey {
            kind: "signer key",
            reason: format!("no random bytes from the operating system: {e}"),
        })?;
        Ok(NoteSigner::from_seed(name, seed))
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> NoteSigner {
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        NoteSigner {
            name: name.to_string(),
            key,
            id,
        }
    }

    /// Reads a signer key `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`
    /// (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<NoteSigner, NoteError> {
        let bad = |reason: &str| NoteError::BadKey {
            kind: "signer key",
            reason: reason.to_string(),
        };
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("it must start with `PRIVATE+KEY+`"))?;
        let (name, id, key) = split_key(rest)
            .ok_or_else(|| bad("expected `PRIVATE+KEY+<name>+<hex key id>+<base64 key>`"))?;
        check_name(name)?;
        let raw = B64
            .decode(key)
            .map_err(|e| bad(&format!("the key is not base64: {e}")))?;
        let (alg, seed) = raw.split_first().ok_or_else(|| bad("the key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad(&format!(
                "unsupported signature type {alg} (only 1, Ed25519)"
            )));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        let signer = NoteSigner::from_seed(name, seed);
        if signer.id != id {
            return Err(bad(&format!(
                "the key id {id:08x} does not match the key (expected {:08x})",
                signer.id
            )));
        }
        Ok(signer)
    }

    /// The signer key text (secret: keep it like a password).
    pub fn to_private_text(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The verifier key `<name>+<hex key id>+<base64(0x01 || public key)>`,
    /// the text to give whoever checks checkpoints.
    pub fn verifier_key(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }

    /// Signs `text` (non-empty, ending in `\n`, no blank line): returns the
    /// signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.id.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            B64.encode(raw)
        ))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the text must end with a newline".into(),
        ));
    }
    if text.contains("\n\n") {
        return Err(NoteError::Malformed(
            "the text must not hold a blank line".into(),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(
            "the text must not hold control characters".into(),
        ));
    }
    Ok(())
}

/// `<name>+<hex id>+<key>` taken apart.
fn split_key(s: &str) -> Option<(&str, u32, &str)> {
    let mut parts = s.splitn(3, '+');
    let name = parts.next()?;
    let id = parts.next()?;
    let key = parts.next()?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u32::from_str_radix(id, 16).ok()?;
    Some((name, id, key))
}

/// A verifier: a key name and an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Reads a verifier key `<name>+<hex key id>+<base64(0x01 || public key)>`
    /// (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let bad = |reason: &str| NoteError::BadKey {
            kind: "verifier key",
            reason: reason.to_string(),
        };
        let text = text.trim();
        if text.starts_with("PRIVATE+KEY+") {
            return Err(bad(
                "this is a private (signer) key; give the verifier key printed by `agent-safe audit key`",
            ));
        }
        let (name, id, key) =
            split_key(text).ok_or_else(|| bad("expected `<name>+<8 hex digits>+<base64 key>`"))?;
        check_name(name)?;
        let raw = B64
            .decode(key)
            .map_err(|e| bad(&format!("the key is not base64: {e}")))?;
        let (alg, public) = raw.split_first().ok_or_else(|| bad("the key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad(&format!(
                "unsupported signature type {alg} (only 1, Ed25519)"
            )));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key is 32 bytes"))?;
        if key_id(name, &public) != id {
            return Err(bad(&format!(
                "the key id {id:08x} does not match the key (expected {:08x})",
                key_id(name, &public)
            )));
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|e| bad(&format!("not an Ed25519 public key: {e}")))?;
        Ok(NoteVerifier {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a signed note and returns its text (with the final `\n`).
    /// Signatures by other keys are ignored; the note must carry a valid
    /// signature by this key, and a signature by this key that does not
    /// verify rejects the note.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let malformed = |s: &str| NoteError::Malformed(s.to_string());
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let text = note.get(..=split).unwrap_or_default();
        let sigs = note.get(split + 2..).unwrap_or_default();
        check_text(text)?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(malformed("the signature lines must end with a newline"));
        }
        let mut found = false;
        for (n, line) in sigs.lines().enumerate() {
            if n >= MAX_SIGNATURES {
                return Err(malformed("too many signatures"));
            }
            let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
                malformed("a signature line must start with `— ` (an em dash and a space)")
            })?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| malformed("a signature line is `— <name> <base64 signature>`"))?;
            check_name(name).map_err(|_| malformed("invalid key name in a signature line"))?;
            let raw = B64
                .decode(b64)
                .map_err(|_| malformed("a signature is not base64"))?;
            if raw.len() < 5 {
                return Err(malformed("a signature is too short"));
            }
            let (id, sig) = raw.split_at(4);
            let mut id4 = [0u8; 4];
            id4.copy_from_slice(id);
            let id = u32::from_be_bytes(id4);
            if name != self.name || id != self.id || found {
                continue;
            }
            let bad = || NoteError::BadSignature {
                name: self.name.clone(),
                key_id: self.id,
            };
            let sig = Signature::from_slice(sig).map_err(|_| bad())?;
            self.key
                .verify_strict(text.as_bytes(), &sig)
                .map_err(|_| bad())?;
            found = true;
        }
        if !found {
            return Err(NoteError::Unsigned {
                name: self.name.clone(),
                key_id: self.id,
            });
        }
        Ok(text)
    }
}

/// A checkpoint: the state of the log's Merkle tree (C2SP `tlog-checkpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (its unique name, e.g. `example.com/audit`).
    pub origin: String,
    /// The number of events in the tree.
    pub size: u64,
    /// The tree's root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body: origin, size and base64 root, one per line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a checkpoint body (extension lines after the root are allowed
    /// and ignored).
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |s: String| NoteError::BadCheckpoint(s);
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("the first line (the origin) is empty".into()));
        }
        let size = lines.next().unwrap_or_default();
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad(format!(
                "the second line `{size}` is not a tree size in decimal"
            )));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad(format!("the tree size `{size}` is too large")))?;
        let root = lines.next().unwrap_or_default();
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| {
                bad(format!(
                    "the third line `{root}` is not a base64 SHA-256 hash"
                ))
            })?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Checks a signed checkpoint note with `verifier` and reads it.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let text = verifier.open(note)?;
        Checkpoint::parse_body(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The example key and note of Go's `golang.org/x/mod/sumdb/note`
    /// package documentation (its `ExampleSign` / `ExampleOpen`).
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn signs_byte_for_byte_like_the_go_reference() {
        let s = NoteSigner::parse(GO_SKEY).unwrap();
        assert_eq!(s.verifier_key(), GO_VKEY);
        assert_eq!(s.to_private_text(), GO_SKEY);
        let note = s.sign(GO_TEXT).unwrap();
        assert_eq!(note, format!("{GO_TEXT}\n{GO_SIG}"));
        let v = NoteVerifier::parse(GO_VKEY).unwrap();
        assert_eq!(v.open(&note).unwrap(), GO_TEXT);
    }

    /// The example of the C2SP signed-note specification.
    #[test]
    fn opens_the_c2sp_specification_example() {
        let v = NoteVerifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        assert_eq!(v.open(note).unwrap(), "This is an example message.\n");
    }

    #[test]
    fn altered_notes_and_foreign_keys_are_refused() {
        let s = NoteSigner::parse(GO_SKEY).unwrap();
        let v = NoteVerifier::parse(GO_VKEY).unwrap();
        let note = s.sign(GO_TEXT).unwrap();
        let altered = note.replacen("cryptography", "cryptographY", 1);
        assert!(matches!(
            v.open(&altered),
            Err(NoteError::BadSignature { .. })
        ));
        let other = NoteSigner::generate("PeterNeumann").unwrap();
        let foreign = other.sign(GO_TEXT).unwrap();
        assert!(matches!(v.open(&foreign), Err(NoteError::Unsigned { .. })));
        assert!(NoteVerifier::parse(GO_SKEY).is_err());
        assert!(
            NoteVerifier::parse(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
        assert!(NoteSigner::generate("has space").is_err());
        assert!(NoteSigner::generate("a+b").is_err());
        assert!(s.sign("no newline").is_err());
        assert!(s.sign("a\n\nb\n").is_err());
    }

    #[test]
    fn checkpoint_bodies_round_trip_and_bad_ones_are_refused() {
        let c = Checkpoint {
            origin: "example.com/audit".into(),
            size: 42,
            root: [7u8; 32],
        };
        assert_eq!(
            c.body(),
            "example.com/audit\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
        );
        assert_eq!(Checkpoint::parse_body(&c.body()).unwrap(), c);
        for bad in [
            "\n1\nAA==\n",
            "o\n01\n",
            "o\n-1\n",
            "o\n1\nAA==\n",
            "o\nx\n",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }
}
