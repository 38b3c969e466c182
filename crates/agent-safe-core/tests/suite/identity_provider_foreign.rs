#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Own process (the `_child` test, run as a child by the test without the
//! suffix): another jsonwebtoken crypto provider is installed first.
//!
//! A correct foreign provider is kept and used (HS256 is still pinned). The
//! broken-provider case is in `identity_provider_broken.rs`.

use agent_safe_core::identity::{
    IdentityConfig, MintRequest, SigningKey, install_crypto_provider, mint_token, verify_token,
};
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{Error as SigError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::Sha256;

const NOW: i64 = 1_795_601_100;

struct S(Vec<u8>);
impl Signer<Vec<u8>> for S {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}
impl JwtSigner for S {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

struct V(Vec<u8>);
impl Verifier<Vec<u8>> for V {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), SigError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap();
        mac.update(msg);
        mac.verify_slice(sig).map_err(|_| SigError::new())
    }
}
impl JwtVerifier for V {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(S(key.as_bytes().to_vec())))
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(V(key.try_get_as_bytes()?.to_vec())))
}

static FOREIGN: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

#[test]
fn a_correct_foreign_provider_is_used() {
    crate::own_process::run(module_path!(), "a_correct_foreign_provider_is_used_child");
}

#[test]
#[ignore = "installs a crypto provider process-wide: run in its own process by `a_correct_foreign_provider_is_used`"]
fn a_correct_foreign_provider_is_used_child() {
    FOREIGN.install_default().unwrap();
    install_crypto_provider().unwrap();

    let cfg = IdentityConfig {
        keys: vec![SigningKey::new(
            Some("k".to_owned()),
            b"provider-foreign-test-key-0123456789".to_vec(),
        )],
        ..IdentityConfig::default()
    };
    let req = MintRequest {
        agent_id: "a".to_owned(),
        agent_name: None,
        roles: vec!["r".to_owned()],
        groups: vec![],
        ttl_seconds: 60,
        kid: None,
    };
    let token = mint_token(&cfg, &req, NOW).unwrap();
    let caller = verify_token(&cfg, &token, NOW).unwrap();
    assert_eq!(caller.roles, vec!["r".to_owned()]);
    assert!(caller.signed);

    // The foreign verifier is really used: a forged signature is refused.
    let (input, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", "A".repeat(43));
    assert_eq!(
        verify_token(&cfg, &forged, NOW).unwrap_err().code(),
        "bad_signature"
    );
}
