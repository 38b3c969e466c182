#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Own process (the `_child` test, run as a child by the test without the
//! suffix): jsonwebtoken used before our provider was installed.
//!
//! jsonwebtoken without crypto features then locks in a placeholder provider
//! that panics. Identity must fail closed with `CryptoUnavailable`, not panic.

use agent_safe_core::identity::{
    Caller, IdentityConfig, MintRequest, SigningKey, install_crypto_provider, mint_token,
    resolve_caller, verify_token,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey};
use sha2::Sha256;

const NOW: i64 = 1_795_601_100;
const SECRET: &[u8] = b"secret-A-0123456789abcdef0123456789abcdef";

fn token() -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    let c = URL_SAFE_NO_PAD
        .encode(format!(r#"{{"agent_id":"a","iat":{},"exp":{}}}"#, NOW - 1, NOW + 60).as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{h}.{c}").as_bytes());
    format!(
        "{h}.{c}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[test]
fn placeholder_provider_fails_closed_without_panicking() {
    crate::own_process::run(
        module_path!(),
        "placeholder_provider_fails_closed_without_panicking_child",
    );
}

#[test]
#[ignore = "installs a crypto provider process-wide: run in its own process by `placeholder_provider_fails_closed_without_panicking`"]
fn placeholder_provider_fails_closed_without_panicking_child() {
    let first_use = std::panic::catch_unwind(|| {
        jsonwebtoken::crypto::sign(b"x", &EncodingKey::from_secret(b"k"), Algorithm::HS256)
    });
    assert!(
        first_use.is_err(),
        "expected jsonwebtoken's panicking placeholder"
    );

    let cfg = IdentityConfig {
        keys: vec![SigningKey::new(None, SECRET.to_vec())],
        ..IdentityConfig::default()
    };
    for _ in 0..2 {
        let err = verify_token(&cfg, &token(), NOW).unwrap_err();
        assert_eq!(err.code(), "crypto_unavailable", "{err}");
        assert!(err.to_string().contains("install_crypto_provider"), "{err}");
    }
    let req = MintRequest {
        agent_id: "a".to_owned(),
        agent_name: None,
        roles: vec![],
        groups: vec![],
        ttl_seconds: 60,
        kid: None,
    };
    assert_eq!(
        mint_token(&cfg, &req, NOW).unwrap_err().code(),
        "crypto_unavailable"
    );
    assert_eq!(
        install_crypto_provider().unwrap_err().code(),
        "crypto_unavailable"
    );
    assert_eq!(
        resolve_caller(&cfg, Some(&token()), NOW)
            .unwrap_err()
            .code(),
        "crypto_unavailable"
    );
    // Plain ids need no cryptography.
    assert_eq!(
        resolve_caller(&cfg, Some("a"), NOW),
        Ok(Some(Caller::unsigned("a")))
    );
}
