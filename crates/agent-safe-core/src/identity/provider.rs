//! An HS256-only `jsonwebtoken` crypto provider over `hmac` + `sha2`.
//!
//! `jsonwebtoken` 11 with default features off has no crypto backend; it uses
//! one process-wide [`CryptoProvider`]. Ours implements HS256 and nothing else:
//! both factories return an error (never panic) for any other algorithm or a
//! non-HMAC key. Verification uses [`Mac::verify_slice`], a constant-time
//! comparison.
//!
//! The provider is installed at most once per process ([`ensure_installed`]).
//! If something else installed a provider first we keep theirs (the verifier
//! only ever asks for HS256: our `Validation` pins it) but run a one-time
//! HS256 known-answer self-test on it (through `jsonwebtoken::crypto::sign`
//! and `verify`, which use the installed provider), so that a broken provider — notably
//! jsonwebtoken's panicking placeholder, which it installs when it is used
//! before any provider was chosen — makes every token fail closed with
//! [`IdentityError::CryptoUnavailable`] instead of panicking per request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{self, CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::Sha256;

use super::IdentityError;

type HmacSha256 = Hmac<Sha256>;

/// The provider we install. JWK utilities are not supported (we never use JWKs).
static HS256_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: hs256_signer,
    verifier_factory: hs256_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Outcome of the one-time installation (and self-test, if needed).
static READY: OnceLock<Result<(), String>> = OnceLock::new();

/// Installs the HS256 provider if no provider is installed yet, and checks
/// that whichever provider is installed computes HS256 correctly.
///
/// Cheap after the first call. Call it early (see
/// [`super::install_crypto_provider`]) if other code in the process uses
/// `jsonwebtoken` too.
pub(crate) fn ensure_installed() -> Result<(), IdentityError> {
    READY
        .get_or_init(|| {
            // `install_default` fails only when another provider is already
            // the process default (its `Err` carries *our* provider back, not
            // the installed one), so test the installed one through
            // jsonwebtoken's public `sign`/`verify`, which use it.
            if HS256_PROVIDER.install_default().is_ok() {
                Ok(())
            } else {
                self_test_installed()
            }
        })
        .clone()
        .map_err(|reason| IdentityError::CryptoUnavailable { reason })
}

/// HS256 known-answer test of the process-default provider: it must produce
/// the right MAC, accept it, and reject an altered MAC and the MAC under
/// another key. A panic (jsonwebtoken's placeholder provider) is caught.
fn self_test_installed() -> Result<(), String> {
    const KEY: &[u8] = b"agent-safe HS256 provider self-test key";
    const OTHER_KEY: &[u8] = b"agent-safe HS256 provider self-test key 2";
    const MSG: &[u8] = b"eyJhbGciOiJIUzI1NiJ9.eyJ0ZXN0Ijp0cnVlfQ";
    let Ok(mut mac) = HmacSha256::new_from_slice(KEY) else {
        return Err("cannot compute the HS256 self-test vector".to_owned());
    };
    mac.update(MSG);
    let expected = mac.finalize().into_bytes().to_vec();
    let mut altered = expected.clone();
    if let Some(b) = altered.first_mut() {
        *b ^= 1;
    }
    let expected = URL_SAFE_NO_PAD.encode(expected);
    let altered = URL_SAFE_NO_PAD.encode(altered);

    let outcome = catch_unwind(AssertUnwindSafe(|| -> Option<bool> {
        let key = DecodingKey::from_secret(KEY);
        let other = DecodingKey::from_secret(OTHER_KEY);
        let signed = crypto::sign(MSG, &EncodingKey::from_secret(KEY), Algorithm::HS256).ok()?;
        let accepts_good = crypto::verify(&expected, MSG, &key, Algorithm::HS256).ok()?;
        let accepts_altered = crypto::verify(&altered, MSG, &key, Algorithm::HS256).ok()?;
        let accepts_other_key = crypto::verify(&expected, MSG, &other, Algorithm::HS256).ok()?;
        Some(signed == expected && accepts_good && !accepts_altered && !accepts_other_key)
    }));
    match outcome {
        Ok(Some(true)) => Ok(()),
        Ok(_) => Err(
            "the jsonwebtoken crypto provider installed by other code in this process failed \
             the HS256 self-test"
                .to_owned(),
        ),
        Err(_) => Err(
            "jsonwebtoken was used before a crypto provider was installed; call \
             identity::install_crypto_provider() at start-up"
                .to_owned(),
        ),
    }
}

fn hs256_signer(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if key.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let mac =
        HmacSha256::new_from_slice(key.as_bytes()).map_err(|_| ErrorKind::InvalidKeyFormat)?;
    Ok(Box::new(Hs256Signer(mac)))
}

fn hs256_verifier(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if key.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let mac = HmacSha256::new_from_slice(key.try_get_as_bytes()?)
        .map_err(|_| ErrorKind::InvalidKeyFormat)?;
    Ok(Box::new(Hs256Verifier(mac)))
}

/// HS256 signer: a keyed HMAC-SHA256 state, cloned per signature.
struct Hs256Signer(HmacSha256);

impl Signer<Vec<u8>> for Hs256Signer {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl JwtSigner for Hs256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

/// HS256 verifier: recomputes the MAC and compares in constant time.
struct Hs256Verifier(HmacSha256);

impl Verifier<Vec<u8>> for Hs256Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        let mut mac = self.0.clone();
        mac.update(msg);
        mac.verify_slice(signature)
            .map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for Hs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    #[test]
    fn factories_refuse_other_algorithms_without_panicking() {
        let enc = EncodingKey::from_secret(&[7u8; 32]);
        let dec = DecodingKey::from_secret(&[7u8; 32]);
        for alg in [
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ] {
            assert!(hs256_signer(&alg, &enc).is_err(), "{alg:?}");
            assert!(hs256_verifier(&alg, &dec).is_err(), "{alg:?}");
        }
        assert!(hs256_signer(&Algorithm::HS256, &enc).is_ok());
        assert!(hs256_verifier(&Algorithm::HS256, &dec).is_ok());
    }

    #[test]
    fn factories_refuse_non_hmac_keys() {
        let enc = EncodingKey::from_rsa_der(&[1, 2, 3]);
        let dec = DecodingKey::from_ec_der(&[1, 2, 3]);
        assert!(hs256_signer(&Algorithm::HS256, &enc).is_err());
        assert!(hs256_verifier(&Algorithm::HS256, &dec).is_err());
    }

    #[test]
    fn our_provider_is_installed_and_passes_the_self_test() {
        assert_eq!(ensure_installed(), Ok(()));
        assert_eq!(self_test_installed(), Ok(()));
    }

    #[test]
    fn verifier_is_exact() {
        let verifier = hs256_verifier(&Algorithm::HS256, &DecodingKey::from_secret(b"k")).unwrap();
        let signer = hs256_signer(&Algorithm::HS256, &EncodingKey::from_secret(b"k")).unwrap();
        let sig = signer.try_sign(b"msg").unwrap();
        assert!(verifier.verify(b"msg", &sig).is_ok());
        assert!(verifier.verify(b"msh", &sig).is_err());
        let short: Vec<u8> = sig.iter().take(16).copied().collect();
        assert!(verifier.verify(b"msg", &short).is_err());
        assert!(verifier.verify(b"msg", &Vec::new()).is_err());
    }
}
