#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Own process (the `_child` test, run as a child by the test without the
//! suffix): a broken foreign provider (its verifier accepts any
//! signature) is installed first. The self-test must catch it, so that a
//! forged token is refused rather than accepted.

use agent_safe_core::identity::{
    IdentityConfig, SigningKey, install_crypto_provider, verify_token,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::Result as JwtResult;
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

struct AcceptAll;
impl Verifier<Vec<u8>> for AcceptAll {
    fn verify(&self, _msg: &[u8], _sig: &Vec<u8>) -> Result<(), SigError> {
        Ok(())
    }
}
impl JwtVerifier for AcceptAll {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn signer(_: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    Ok(Box::new(S(key.as_bytes().to_vec())))
}

fn verifier(_: &Algorithm, _: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    Ok(Box::new(AcceptAll))
}

static BROKEN: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

#[test]
fn a_broken_foreign_provider_fails_closed() {
    crate::own_process::run(
        module_path!(),
        "a_broken_foreign_provider_fails_closed_child",
    );
}

#[test]
#[ignore = "installs a crypto provider process-wide: run in its own process by `a_broken_foreign_provider_fails_closed`"]
fn a_broken_foreign_provider_fails_closed_child() {
    BROKEN.install_default().unwrap();
    let cfg = IdentityConfig {
        keys: vec![SigningKey::new(
            None,
            b"provider-broken-test-key-0123456789".to_vec(),
        )],
        ..IdentityConfig::default()
    };
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    let c = URL_SAFE_NO_PAD.encode(
        format!(
            r#"{{"agent_id":"admin","iat":{},"exp":{}}}"#,
            NOW - 1,
            NOW + 60
        )
        .as_bytes(),
    );
    let forged = format!("{h}.{c}.{}", "A".repeat(43));
    let err = verify_token(&cfg, &forged, NOW).unwrap_err();
    assert_eq!(err.code(), "crypto_unavailable", "{err}");
    assert!(err.to_string().contains("self-test"), "{err}");
    assert_eq!(
        install_crypto_provider().unwrap_err().code(),
        "crypto_unavailable"
    );
}
