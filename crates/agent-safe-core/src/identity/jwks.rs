//! Public keys from a JWKS (RFC 7517), and RS256 / ES256 / EdDSA signature
//! checks with them.
//!
//! Each key's algorithm is pinned when the JWKS is read: the JWK's `alg` when
//! it has one, otherwise the only algorithm we accept for its key type
//! (`EC` P-256 → ES256, `OKP` Ed25519 → EdDSA, `RSA` → RS256). A token whose
//! header names another algorithm is refused for that key. Keys we cannot use
//! (other algorithms, `use` other than `sig`, RSA below 2048 bits, broken
//! coordinates) are kept aside with the reason, so that a token naming one
//! gets that reason instead of a bare "unknown key".
//!
//! Only public keys are handled: `rsa` does a PKCS#1 v1.5 verification
//! (no private-key operation, so RUSTSEC-2023-0071, a timing leak of RSA
//! *decryption and signing*, has nothing to leak here), `p256` an ECDSA
//! verification, `ed25519-dalek` a strict Ed25519 verification.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::sanitize;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Most keys read from one JWKS (a larger document is refused).
pub const MAX_JWKS_KEYS: usize = 100;

/// An asymmetric JWS algorithm we verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl KeyAlgorithm {
    /// The JWS name (`RS256`, `ES256`, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm of a JWS `alg` name, if it is one we verify.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(KeyAlgorithm::Rs256),
            "ES256" => Some(KeyAlgorithm::Es256),
            "EdDSA" => Some(KeyAlgorithm::EdDsa),
            _ => None,
        }
    }
}

#[derive(Clone)]
enum PublicKey {
    Rsa(Box<rsa::pkcs1v15::VerifyingKey<sha2::Sha256>>),
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// One usable public key.
#[derive(Clone)]
pub struct Jwk {
    /// The key id (`kid`).
    pub kid: Option<String>,
    /// The algorithm pinned to this key.
    pub alg: KeyAlgorithm,
    key: PublicKey,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Whether `signature` is this key's signature of `message` (with the
    /// pinned algorithm). Never panics.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use signature::Verifier;
        match &self.key {
            PublicKey::Rsa(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            PublicKey::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
        }
    }
}

/// A key of the JWKS that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its `kid`, if any.
    pub kid: Option<String>,
    /// Why it is not used.
    pub reason: String,
}

/// The keys of one JWKS document.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    /// The usable keys.
    pub keys: Vec<Jwk>,
    /// The keys left aside, with the reason.
    pub skipped: Vec<SkippedKey>,
}

impl Jwks {
    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// # Errors
    /// A plain message when the document is not a JSON object with a `keys`
    /// array, holds more than [`MAX_JWKS_KEYS`] keys, or repeats a `kid`.
    /// Individual unusable keys are not errors: they land in
    /// [`Jwks::skipped`].
    pub fn parse(text: &str) -> Result<Jwks, String> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
        let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
            return Err("the JWKS must be a JSON object with a `keys` array".to_owned());
        };
        if keys.len() > MAX_JWKS_KEYS {
            return Err(format!(
                "the JWKS holds {} keys; at most {MAX_JWKS_KEYS} are read",
                keys.len()
            ));
        }
        let mut out = Jwks::default();
        let mut kids = std::collections::BTreeSet::new();
        for (i, key) in keys.iter().enumerate() {
            let Some(obj) = key.as_object() else {
                return Err(format!("key #{} of the JWKS is not a JSON object", i + 1));
            };
            let kid = match obj.get("kid") {
                None => None,
                Some(Value::String(k)) => Some(k.clone()),
                Some(_) => {
                    return Err(format!("key #{} of the JWKS has a non-string `kid`", i + 1));
                }
            };
            if let Some(k) = &kid
                && !kids.insert(k.clone())
            {
                return Err(format!(
                    "the JWKS has the key id `{}` more than once",
                    sanitize(k)
                ));
            }
            match parse_jwk(obj) {
                Ok((alg, key)) => out.keys.push(Jwk { kid, alg, key }),
                Err(reason) => out.skipped.push(SkippedKey { kid, reason }),
            }
        }
        Ok(out)
    }

    /// The keys a token with header `kid` may be verified with: the one key
    /// of that `kid`, or every key when the token has no `kid`.
    pub fn candidates(&self, kid: Option<&str>) -> Vec<&Jwk> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => self.keys.iter().collect(),
        }
    }

    /// Why the key of this `kid` was left aside, if it was.
    pub fn skipped_reason(&self, kid: &str) -> Option<&str> {
        self.skipped
            .iter()
            .find(|s| s.kid.as_deref() == Some(kid))
            .map(|s| s.reason.as_str())
    }
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("its `{name}` is not a string")),
        None => Err(format!("it has no `{name}`")),
    }
}

fn b64(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(field(obj, name)?)
        .map_err(|_| format!("its `{name}` is not base64url without padding"))
}

fn parse_jwk(obj: &Map<String, Value>) -> Result<(KeyAlgorithm, PublicKey), String> {
    if let Some(u) = obj.get("use")
        && u != "sig"
    {
        return Err("its `use` is not `sig`".to_owned());
    }
    if obj.contains_key("d") {
        return Err("it holds a private key (`d`); publish only public keys".to_owned());
    }
    let kty = field(obj, "kty")?;
    let declared = match obj.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.as_str()),
        Some(_) => return Err("its `alg` is not a string".to_owned()),
    };
    let (natural, key) = match kty {
        "RSA" => {
            let n = rsa::BigUint::from_bytes_be(&b64(obj, "n")?);
            let e = rsa::BigUint::from_bytes_be(&b64(obj, "e")?);
            let key = rsa::RsaPublicKey::new(n, e)
                .map_err(|e| format!("it is not a valid RSA public key ({e})"))?;
            let bits = rsa::traits::PublicKeyParts::n(&key).bits();
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "its RSA modulus has {bits} bits; at least {MIN_RSA_BITS} are required"
                ));
            }
            (
                KeyAlgorithm::Rs256,
                PublicKey::Rsa(Box::new(rsa::pkcs1v15::VerifyingKey::new(key))),
            )
        }
        "EC" => {
            if field(obj, "crv")? != "P-256" {
                return Err("its curve is not P-256 (only ES256 is supported)".to_owned());
            }
            let (x, y) = (b64(obj, "x")?, b64(obj, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("its P-256 coordinates are not 32 bytes each".to_owned());
            }
            let point = p256::EncodedPoint::from_affine_coordinates(
                p256::FieldBytes::from_slice(&x),
                p256::FieldBytes::from_slice(&y),
                false,
            );
            let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                .map_err(|_| "its P-256 point is not on the curve".to_owned())?;
            (KeyAlgorithm::Es256, PublicKey::P256(key))
        }
        "OKP" => {
            if field(obj, "crv")? != "Ed25519" {
                return Err("its curve is not Ed25519 (only Ed25519 is supported)".to_owned());
            }
            let x: [u8; 32] = b64(obj, "x")?
                .try_into()
                .map_err(|_| "its Ed25519 key is not 32 bytes".to_owned())?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| "its Ed25519 key is not a valid point".to_owned())?;
            (KeyAlgorithm::EdDsa, PublicKey::Ed25519(key))
        }
        other => {
            return Err(format!(
                "its key type `{}` is not supported (RSA, EC, OKP are)",
                sanitize(other)
            ));
        }
    };
    match declared {
        None => Ok((natural, key)),
        Some(name) if KeyAlgorithm::from_name(name) == Some(natural) => Ok((natural, key)),
        Some(name) => Err(format!(
            "its `alg` `{}` is not supported for a {kty} key (only {} is)",
            sanitize(name),
            natural.name()
        )),
    }
}
