//! Asymmetric tokens (RS256, ES256, EdDSA) verified against a JWKS file, and
//! Kubernetes ServiceAccount tokens: the accepted shapes, the attack matrix
//! (every case a DENY with its cause), and key rotation without a restart.
//!
//! Keys: fixed test keys under `tests/fixtures/jwt-keys` (generated with
//! `openssl genpkey` for these tests only); the JWKS is derived from them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::Path;
use std::sync::Arc;

use agent_safe_core::identity::{
    CacheSettings, IdentityConfig, JwksCache, KeySource, KubernetesBinding, KubernetesMapping,
    SigningKey, TrustedIssuer, resolve_caller, verify_token,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const OTHER_ISSUER: &str = "https://oidc.other-cluster.example.com";
const AUDIENCE: &str = "agent-safe";
const NOW: i64 = 1_795_000_000;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt-keys")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// A test private key and the matching public JWK.
enum Key {
    Rsa(rsa::RsaPrivateKey),
    P256(p256::ecdsa::SigningKey),
    Ed(ed25519_dalek::SigningKey),
}

impl Key {
    fn rsa(n: u8) -> Key {
        use rsa::pkcs8::DecodePrivateKey;
        Key::Rsa(rsa::RsaPrivateKey::from_pkcs8_pem(&fixture(&format!("rsa{n}.pem"))).unwrap())
    }
    fn p256(n: u8) -> Key {
        use p256::pkcs8::DecodePrivateKey;
        Key::P256(
            p256::ecdsa::SigningKey::from_pkcs8_pem(&fixture(&format!("p256-{n}.pem"))).unwrap(),
        )
    }
    fn ed(n: u8) -> Key {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        Key::Ed(
            ed25519_dalek::SigningKey::from_pkcs8_pem(&fixture(&format!("ed25519-{n}.pem")))
                .unwrap(),
        )
    }

    fn alg(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "RS256",
            Key::P256(_) => "ES256",
            Key::Ed(_) => "EdDSA",
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        let b = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self {
            Key::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                       "n": b(&k.n().to_bytes_be()), "e": b(&k.e().to_bytes_be())})
            }
            Key::P256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
                       "x": b(p.x().unwrap()), "y": b(p.y().unwrap())})
            }
            Key::Ed(k) => json!({"kty": "OKP", "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
                                 "kid": kid, "x": b(k.verifying_key().as_bytes())}),
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use signature::{SignatureEncoding, Signer};
        match self {
            Key::Rsa(k) => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.clone())
                .sign(msg)
                .to_vec(),
            Key::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_bytes().to_vec()
            }
            Key::Ed(k) => k.sign(msg).to_bytes().to_vec(),
        }
    }
}

fn encode(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A token with this header and these claims, signed by `key`.
fn token(key: &Key, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid})
}

/// Every claim a real projected ServiceAccount token carries (Kubernetes 1.30+).
fn sa_claims() -> Value {
    json!({
        "aud": [AUDIENCE],
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "iss": ISSUER,
        "jti": "5e2b7f0c-8d4e-4a51-9c3e-2f6a1b7d9e10",
        "kubernetes.io": {
            "namespace": "agents",
            "node": {"name": "node-1", "uid": "0b6f1d2e-3c4a-4b5d-8e6f-7a8b9c0d1e2f"},
            "pod": {"name": "deployer-7c9d8-x2k4p", "uid": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"},
            "serviceaccount": {"name": "deployer", "uid": "f0e1d2c3-b4a5-4968-8776-655443322110"}
        },
        "nbf": NOW - 10,
        "sub": "system:serviceaccount:agents:deployer"
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// The cluster's JWKS: one key of each type, `kid`s `rsa`, `ec`, `ed`.
fn cluster_jwks() -> Value {
    json!({"keys": [Key::rsa(1).jwk("rsa"), Key::p256(1).jwk("ec"), Key::ed(1).jwk("ed")]})
}

fn write_jwks(path: &Path, jwks: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(jwks).unwrap()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn config_with(path: &Path, settings: CacheSettings, hs256: bool) -> IdentityConfig {
    let cache = JwksCache::load(KeySource::File(path.to_path_buf()), settings).unwrap();
    IdentityConfig {
        keys: if hs256 {
            vec![SigningKey::new(
                Some("hs".to_owned()),
                b"0123456789abcdefghijklmnopqrstuvwxyzABCD".to_vec(),
            )]
        } else {
            Vec::new()
        },
        issuers: vec![TrustedIssuer {
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            keys: Arc::new(cache),
        }],
        kubernetes: KubernetesMapping {
            service_accounts: vec![KubernetesBinding {
                namespace: "agents".to_owned(),
                service_account: Some("deployer".to_owned()),
                roles: vec!["deployer".to_owned()],
                groups: vec!["sre".to_owned()],
            }],
            namespaces: vec![KubernetesBinding {
                namespace: "agents".to_owned(),
                service_account: None,
                roles: vec!["reader".to_owned(), "deployer".to_owned()],
                groups: vec!["agents".to_owned()],
            }],
        },
        ..IdentityConfig::default()
    }
}

fn cluster() -> (tempfile::TempDir, IdentityConfig) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write_jwks(&path, &cluster_jwks());
    let cfg = config_with(&path, CacheSettings::default(), false);
    (dir, cfg)
}

#[test]
fn service_account_tokens_of_each_algorithm_are_accepted() {
    let (_dir, cfg) = cluster();
    for (key, kid) in [
        (Key::rsa(1), "rsa"),
        (Key::p256(1), "ec"),
        (Key::ed(1), "ed"),
    ] {
        let t = token(&key, &header(key.alg(), kid), &sa_claims());
        let caller = verify_token(&cfg, &t, NOW).unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!(caller.agent_id, "system:serviceaccount:agents:deployer");
        assert!(caller.signed);
        assert_eq!(caller.roles, ["deployer", "reader"], "{kid}");
        assert_eq!(caller.groups, ["sre", "agents"], "{kid}");
        let k8s = caller.kubernetes.unwrap();
        assert_eq!(k8s.namespace, "agents");
        assert_eq!(k8s.service_account, "deployer");
        assert_eq!(k8s.pod.as_deref(), Some("deployer-7c9d8-x2k4p"));
        assert_eq!(
            k8s.pod_uid.as_deref(),
            Some("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
        );
        assert_eq!(
            k8s.service_account_uid.as_deref(),
            Some("f0e1d2c3-b4a5-4968-8776-655443322110")
        );
    }
}

#[test]
fn other_shapes_that_are_accepted() {
    let (_dir, cfg) = cluster();
    let ec = Key::p256(1);
    // No kid: every key of the token's algorithm is tried.
    let t = token(&ec, &json!({"alg": "ES256"}), &sa_claims());
    assert!(verify_token(&cfg, &t, NOW).is_ok());
    // A namespace binding alone; `aud` as a plain string; nbf within leeway.
    let claims = with(
        with(
            sa_claims(),
            "sub",
            json!("system:serviceaccount:agents:reader"),
        ),
        "kubernetes.io",
        json!({"namespace": "agents", "serviceaccount": {"name": "reader", "uid": "u"}}),
    );
    let claims = with(with(claims, "aud", json!(AUDIENCE)), "nbf", json!(NOW + 20));
    let caller = verify_token(&cfg, &token(&ec, &header("ES256", "ec"), &claims), NOW).unwrap();
    assert_eq!(caller.roles, ["reader", "deployer"]);
    assert_eq!(caller.groups, ["agents"]);
    assert_eq!(caller.kubernetes.unwrap().pod, None);
    // A non-ServiceAccount token of a trusted issuer: agent_id and roles from claims.
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-7", "agent_id": "planner",
                        "roles": ["viewer"], "iat": NOW, "exp": NOW + 60});
    let caller = verify_token(&cfg, &token(&ec, &header("ES256", "ec"), &claims), NOW).unwrap();
    assert_eq!(caller.agent_id, "planner");
    assert_eq!(caller.roles, ["viewer"]);
    assert!(caller.kubernetes.is_none());
    // resolve_caller routes a token to verification.
    let t = token(&Key::ed(1), &header("EdDSA", "ed"), &sa_claims());
    let caller = resolve_caller(&cfg, Some(&t), NOW).unwrap().unwrap();
    assert_eq!(caller.agent_id, "system:serviceaccount:agents:deployer");
}

/// A token of the attack matrix: how it is made, and the cause it is denied with.
struct Attack {
    name: &'static str,
    token: String,
    code: &'static str,
    /// A phrase the message must contain.
    says: &'static str,
}

fn hs256_with_secret(secret: &[u8], header: &Value, claims: &Value) -> String {
    use hmac::{Hmac, Mac};
    let input = format!("{}.{}", encode(header), encode(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn attacks() -> Vec<Attack> {
    let rsa = Key::rsa(1);
    let ec = Key::p256(1);
    let attacker_rsa = Key::rsa(2);
    let attacker_ec = Key::p256(2);
    let attacker_ed = Key::ed(2);
    // The RSA public key as the attacker sees it (the JWK's modulus bytes,
    // and its PEM), used as an HMAC secret: algorithm confusion.
    let rsa_public_pem = {
        use rsa::pkcs8::EncodePublicKey;
        let Key::Rsa(k) = &rsa else { unreachable!() };
        rsa::RsaPublicKey::from(k)
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
    };
    let sa = sa_claims();
    let mut tampered = token(&rsa, &header("RS256", "rsa"), &sa);
    {
        // Swap the claims for other ones, keeping the signature.
        let parts: Vec<&str> = tampered.split('.').collect();
        let claims = with(
            sa.clone(),
            "sub",
            json!("system:serviceaccount:kube-system:admin"),
        );
        tampered = format!("{}.{}.{}", parts[0], encode(&claims), parts[2]);
    }
    let jwk_header = json!({"alg": "ES256", "kid": "ec", "jwk": attacker_ec.jwk("ec")});
    vec![
        Attack {
            name: "HS256 signed with the RSA public key (algorithm confusion)",
            token: hs256_with_secret(rsa_public_pem.as_bytes(), &header("HS256", "rsa"), &sa),
            code: "wrong_algorithm",
            says: "only RS256, ES256 or EdDSA",
        },
        Attack {
            name: "alg none",
            token: format!("{}.{}.", encode(&json!({"alg": "none"})), encode(&sa)),
            code: "wrong_algorithm",
            says: "`none`",
        },
        Attack {
            name: "RS512 (not supported)",
            token: token(&rsa, &header("RS512", "rsa"), &sa),
            code: "wrong_algorithm",
            says: "`RS512`",
        },
        Attack {
            name: "unknown kid",
            token: token(&attacker_rsa, &header("RS256", "attacker"), &sa),
            code: "unknown_kid",
            says: "`attacker`",
        },
        Attack {
            name: "wrong aud",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "aud", json!(["https://kubernetes.default.svc"])),
            ),
            code: "wrong_audience",
            says: "agent-safe",
        },
        Attack {
            name: "no aud",
            token: token(&rsa, &header("RS256", "rsa"), &without(sa.clone(), "aud")),
            code: "missing_claim",
            says: "`aud`",
        },
        Attack {
            name: "another cluster's issuer, signed with its key",
            token: token(
                &attacker_rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "iss", json!(OTHER_ISSUER)),
            ),
            code: "untrusted_issuer",
            says: OTHER_ISSUER,
        },
        Attack {
            name: "our issuer claimed, signed with another cluster's key under our kid",
            token: token(&attacker_rsa, &header("RS256", "rsa"), &sa),
            code: "bad_signature",
            says: "signature",
        },
        Attack {
            name: "no iss",
            token: token(&rsa, &header("RS256", "rsa"), &without(sa.clone(), "iss")),
            code: "missing_claim",
            says: "`iss`",
        },
        Attack {
            name: "expired",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "exp", json!(NOW - 31)),
            ),
            code: "expired",
            says: "expired",
        },
        Attack {
            name: "not yet valid beyond leeway",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "nbf", json!(NOW + 31)),
            ),
            code: "not_yet_valid",
            says: "not valid before",
        },
        Attack {
            name: "issued in the future beyond leeway",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "iat", json!(NOW + 31)),
            ),
            code: "issued_in_future",
            says: "future",
        },
        Attack {
            name: "no exp",
            token: token(&rsa, &header("RS256", "rsa"), &without(sa.clone(), "exp")),
            code: "missing_claim",
            says: "`exp`",
        },
        Attack {
            name: "jwk header carrying the attacker's key",
            token: token(&attacker_ec, &jwk_header, &sa),
            code: "key_in_header",
            says: "`jwk`",
        },
        Attack {
            name: "jku header pointing elsewhere",
            token: token(
                &attacker_ed,
                &json!({"alg": "EdDSA", "kid": "ed", "jku": "https://attacker.example/jwks.json"}),
                &sa,
            ),
            code: "key_in_header",
            says: "`jku`",
        },
        Attack {
            name: "x5u header pointing elsewhere",
            token: token(
                &attacker_rsa,
                &json!({"alg": "RS256", "kid": "rsa", "x5u": "https://attacker.example/cert.pem"}),
                &sa,
            ),
            code: "key_in_header",
            says: "`x5u`",
        },
        Attack {
            name: "tampered claim",
            token: tampered,
            code: "bad_signature",
            says: "altered",
        },
        Attack {
            name: "ES256 token naming the RSA key's kid",
            token: token(&ec, &header("ES256", "rsa"), &sa),
            code: "algorithm_mismatch",
            says: "pinned to RS256",
        },
        Attack {
            name: "RS256 token naming the EC key's kid",
            token: token(&rsa, &header("RS256", "ec"), &sa),
            code: "algorithm_mismatch",
            says: "pinned to ES256",
        },
        Attack {
            name: "kubernetes.io namespace differs from sub",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(
                    sa.clone(),
                    "kubernetes.io",
                    json!({"namespace": "kube-system", "serviceaccount": {"name": "deployer"}}),
                ),
            ),
            code: "invalid_claim",
            says: "namespace",
        },
        Attack {
            name: "kubernetes.io serviceaccount differs from sub",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(
                    sa.clone(),
                    "kubernetes.io",
                    json!({"namespace": "agents", "serviceaccount": {"name": "admin"}}),
                ),
            ),
            code: "invalid_claim",
            says: "serviceaccount.name",
        },
        Attack {
            name: "malformed ServiceAccount subject",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "sub", json!("system:serviceaccount:agents")),
            ),
            code: "invalid_claim",
            says: "system:serviceaccount:NAMESPACE:NAME",
        },
        Attack {
            name: "exp as a string",
            token: token(
                &rsa,
                &header("RS256", "rsa"),
                &with(sa.clone(), "exp", json!("2099-01-01")),
            ),
            code: "invalid_claim",
            says: "`exp`",
        },
        Attack {
            name: "truncated signature",
            token: {
                let t = token(&ec, &header("ES256", "ec"), &sa);
                t[..t.len() - 6].to_owned() // 60 bytes of the 64
            },
            code: "bad_signature",
            says: "signature",
        },
    ]
}

#[test]
fn attack_matrix_is_denied_with_the_cause() {
    let (_dir, cfg) = cluster();
    for attack in attacks() {
        match verify_token(&cfg, &attack.token, NOW) {
            Ok(caller) => panic!("{}: accepted as {}", attack.name, caller.agent_id),
            Err(e) => {
                assert_eq!(e.code(), attack.code, "{}: {e}", attack.name);
                assert!(
                    e.to_string().contains(attack.says),
                    "{}: `{e}` does not say `{}`",
                    attack.name,
                    attack.says
                );
            }
        }
    }
}

#[test]
fn algorithm_confusion_with_hs256_keys_configured_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write_jwks(&path, &cluster_jwks());
    let cfg = config_with(&path, CacheSettings::default(), true);
    let Key::Rsa(k) = Key::rsa(1) else {
        unreachable!()
    };
    use rsa::traits::PublicKeyParts;
    let n = rsa::RsaPublicKey::from(&k).n().to_bytes_be();
    let forged = hs256_with_secret(&n, &header("HS256", "rsa"), &sa_claims());
    let e = verify_token(&cfg, &forged, NOW).unwrap_err();
    assert_eq!(e.code(), "unknown_kid", "{e}");
    let forged = hs256_with_secret(&n, &json!({"alg": "HS256"}), &sa_claims());
    let e = verify_token(&cfg, &forged, NOW).unwrap_err();
    assert_eq!(e.code(), "bad_signature", "{e}");
}

#[test]
fn unusable_keys_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let mut weak = Key::rsa(1).jwk("weak");
    weak["n"] = json!(URL_SAFE_NO_PAD.encode([0xc5u8; 128]));
    let mut enc = Key::p256(1).jwk("enc");
    enc["use"] = json!("enc");
    let mut ps = Key::rsa(1).jwk("ps");
    ps["alg"] = json!("PS256");
    write_jwks(
        &path,
        &json!({"keys": [weak, enc, ps, Key::ed(1).jwk("ed")]}),
    );
    let cfg = config_with(&path, CacheSettings::default(), false);
    for (kid, alg, key, says) in [
        ("weak", "RS256", Key::rsa(1), "1024 bits"),
        ("enc", "ES256", Key::p256(1), "`use` is not `sig`"),
        ("ps", "RS256", Key::rsa(1), "`PS256` is not supported"),
    ] {
        let e = verify_token(&cfg, &token(&key, &header(alg, kid), &sa_claims()), NOW).unwrap_err();
        assert_eq!(e.code(), "key_unusable", "{kid}: {e}");
        assert!(e.to_string().contains(says), "{kid}: {e}");
    }
    let ok = token(&Key::ed(1), &header("EdDSA", "ed"), &sa_claims());
    assert!(verify_token(&cfg, &ok, NOW).is_ok());
}

#[test]
fn key_rotation_is_picked_up_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write_jwks(&path, &json!({"keys": [Key::rsa(1).jwk("old")]}));
    let settings = CacheSettings {
        refresh_seconds: 0,
        min_refetch_seconds: 0,
        max_stale_seconds: 3600,
    };
    let cfg = config_with(&path, settings, false);
    let new_token = token(&Key::p256(2), &header("ES256", "new"), &sa_claims());
    let old_token = token(&Key::rsa(1), &header("RS256", "old"), &sa_claims());
    assert_eq!(
        verify_token(&cfg, &new_token, NOW).unwrap_err().code(),
        "unknown_kid"
    );
    assert!(verify_token(&cfg, &old_token, NOW).is_ok());

    // The cluster publishes the new key next to the old one.
    write_jwks(
        &path,
        &json!({"keys": [Key::rsa(1).jwk("old"), Key::p256(2).jwk("new")]}),
    );
    assert!(verify_token(&cfg, &new_token, NOW).is_ok());
    assert!(verify_token(&cfg, &old_token, NOW).is_ok());

    // Then retires the old one.
    write_jwks(&path, &json!({"keys": [Key::p256(2).jwk("new")]}));
    assert_eq!(
        verify_token(&cfg, &old_token, NOW).unwrap_err().code(),
        "unknown_kid"
    );
    assert!(verify_token(&cfg, &new_token, NOW).is_ok());

    // The file disappears: the last good keys are served (stale, within the bound).
    std::fs::remove_file(&path).unwrap();
    assert!(verify_token(&cfg, &new_token, NOW).is_ok());
}

#[test]
fn refetching_for_unknown_kids_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write_jwks(&path, &json!({"keys": [Key::rsa(1).jwk("old")]}));
    let settings = CacheSettings {
        refresh_seconds: 3600,
        min_refetch_seconds: 3600,
        max_stale_seconds: 3600,
    };
    let cfg = config_with(&path, settings, false);
    let cache = Arc::clone(&cfg.issuers[0].keys);
    write_jwks(
        &path,
        &json!({"keys": [Key::rsa(1).jwk("old"), Key::p256(2).jwk("new")]}),
    );
    let new_token = token(&Key::p256(2), &header("ES256", "new"), &sa_claims());
    for i in 0..20 {
        let fake = token(
            &Key::p256(2),
            &header("ES256", &format!("made-up-{i}")),
            &sa_claims(),
        );
        assert_eq!(
            verify_token(&cfg, &fake, NOW).unwrap_err().code(),
            "unknown_kid"
        );
    }
    // Loaded once at start; the reload window has not passed.
    assert_eq!(cache.loads(), 1);
    assert_eq!(
        verify_token(&cfg, &new_token, NOW).unwrap_err().code(),
        "unknown_kid"
    );
}

#[test]
fn keys_are_refused_once_stale_beyond_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write_jwks(&path, &cluster_jwks());
    let settings = CacheSettings {
        refresh_seconds: 0,
        min_refetch_seconds: 0,
        max_stale_seconds: 0,
    };
    let cfg = config_with(&path, settings, false);
    let t = token(&Key::rsa(1), &header("RS256", "rsa"), &sa_claims());
    assert!(verify_token(&cfg, &t, NOW).is_ok());
    std::fs::write(&path, "not json").unwrap();
    let e = verify_token(&cfg, &t, NOW).unwrap_err();
    assert_eq!(e.code(), "keys_unavailable", "{e}");
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    // Fixed: accepted again.
    write_jwks(&path, &cluster_jwks());
    assert!(verify_token(&cfg, &t, NOW).is_ok());
}

#[test]
fn a_jwks_that_cannot_be_read_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let e = JwksCache::load(KeySource::File(path.clone()), CacheSettings::default()).unwrap_err();
    assert!(e.contains("jwks.json") && e.contains("cannot read"), "{e}");
    std::fs::write(&path, r#"{"keys": {}}"#).unwrap();
    let e = JwksCache::load(KeySource::File(path.clone()), CacheSettings::default()).unwrap_err();
    assert!(e.contains("`keys` array"), "{e}");
    let dup = json!({"keys": [Key::ed(1).jwk("a"), Key::ed(2).jwk("a")]});
    std::fs::write(&path, dup.to_string()).unwrap();
    let e = JwksCache::load(KeySource::File(path), CacheSettings::default()).unwrap_err();
    assert!(e.contains("more than once"), "{e}");
}

/// A JWKS path that is a FIFO is refused without being opened (opening it
/// would block every check), and a dangling symlink is an error naming it.
#[cfg(unix)]
#[test]
fn a_jwks_that_is_a_fifo_or_a_dangling_symlink_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("jwks.json");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let e = JwksCache::load(KeySource::File(fifo), CacheSettings::default()).unwrap_err();
    assert!(e.contains("jwks.json") && e.contains("FIFO"), "{e}");
    let link = dir.path().join("linked.json");
    std::os::unix::fs::symlink(dir.path().join("nowhere.json"), &link).unwrap();
    let e = JwksCache::load(KeySource::File(link), CacheSettings::default()).unwrap_err();
    assert!(e.contains("linked.json"), "{e}");
}

/// The `identity.issuers` and `identity.kubernetes` keys through the real
/// configuration loader: paths relative to the file, positions in errors.
#[test]
fn the_configuration_loader_reads_issuers_and_kubernetes() {
    use agent_safe_core::config::parse_config;
    use agent_safe_core::engine::identity_config;
    use agent_safe_core::load::SourceFile;
    let dir = tempfile::tempdir().unwrap();
    write_jwks(&dir.path().join("cluster-jwks.json"), &cluster_jwks());
    let load = |text: &str| {
        let src = SourceFile {
            path: dir.path().join("agent-safe.yaml"),
            text: text.to_owned(),
        };
        parse_config(&src).and_then(|c| identity_config(&c))
    };
    let cfg = load(
        "identity:\n  issuers:\n    - issuer: https://kubernetes.default.svc.cluster.local\n      \
         audience: agent-safe\n      jwks_file: cluster-jwks.json\n      min_refetch_seconds: 5\n  \
         kubernetes:\n    service_accounts:\n      - {namespace: agents, name: deployer, roles: [deployer], groups: [sre]}\n    \
         namespaces:\n      - {namespace: agents, roles: [reader]}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = token(&Key::rsa(1), &header("RS256", "rsa"), &sa_claims());
    let caller = verify_token(&cfg, &t, NOW).unwrap();
    assert_eq!(caller.roles, ["deployer", "reader"]);
    assert_eq!(caller.groups, ["sre"]);

    for (text, says) in [
        (
            "identity:\n  issuers:\n    - issuer: https://x\n      jwks_file: cluster-jwks.json\n",
            "audience",
        ),
        (
            "identity:\n  issuers:\n    - issuer: https://x\n      audience: a\n      jwks_file: missing.json\n",
            "kubectl get --raw /openid/v1/jwks",
        ),
        (
            "identity:\n  issuers:\n    - issuer: https://x\n      audience: a\n      jwks_file: cluster-jwks.json\n      jwks_url: https://x\n",
            "jwks_url",
        ),
        (
            "identity:\n  issuers:\n    - issuer: https://x\n      audience: a\n",
            "exactly one of `jwks_file` and `discovery: true`",
        ),
        (
            "identity:\n  issuers:\n    - issuer: https://x\n      audience: a\n      jwks_file: cluster-jwks.json\n      discovery: true\n",
            "exactly one of `jwks_file` and `discovery: true`",
        ),
        (
            "identity:\n  kubernetes:\n    service_accounts:\n      - {namespace: agents, roles: [deployer]}\n",
            "name",
        ),
        (
            "identity:\n  kubernetes:\n    namespaces:\n      - {namespace: agents, name: deployer}\n",
            "name",
        ),
    ] {
        let e = load(text).expect_err(text).to_string();
        assert!(e.contains(says), "{text}: {e}");
        assert!(e.contains("agent-safe.yaml"), "{text}: {e}");
    }
}

/// A cluster's discovery endpoints on loopback: a real HTTP server serving
/// `/.well-known/openid-configuration` and `/openid/v1/jwks`.
struct DiscoveryServer {
    issuer: String,
    jwks: Arc<std::sync::Mutex<Value>>,
    fail: Arc<std::sync::atomic::AtomicBool>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    authorization: Arc<std::sync::Mutex<Option<String>>>,
}

impl DiscoveryServer {
    fn start(jwks: Value) -> DiscoveryServer {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let server = DiscoveryServer {
            issuer: issuer.clone(),
            jwks: Arc::new(std::sync::Mutex::new(jwks)),
            fail: Arc::default(),
            hits: Arc::default(),
            authorization: Arc::default(),
        };
        let (jwks, fail, hits, auth) = (
            Arc::clone(&server.jwks),
            Arc::clone(&server.fail),
            Arc::clone(&server.hits),
            Arc::clone(&server.authorization),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line
                        .strip_prefix("authorization: ")
                        .or(line.strip_prefix("Authorization: "))
                    {
                        *auth.lock().unwrap() = Some(v.trim().to_owned());
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
                let (status, body) = if fail.load(Ordering::SeqCst) {
                    ("500 Internal Server Error", "{}".to_owned())
                } else if path == "/.well-known/openid-configuration" {
                    ("200 OK", json!({"issuer": issuer, "jwks_uri": format!("{issuer}/openid/v1/jwks"),
                        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"]}).to_string())
                } else if path == "/openid/v1/jwks" {
                    ("200 OK", jwks.lock().unwrap().to_string())
                } else {
                    ("404 Not Found", "{}".to_owned())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        server
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn config(&self, settings: CacheSettings, token_file: Option<&Path>) -> IdentityConfig {
        IdentityConfig {
            issuers: vec![TrustedIssuer {
                issuer: self.issuer.clone(),
                audience: AUDIENCE.to_owned(),
                keys: Arc::new(JwksCache::lazy(
                    KeySource::Discovery {
                        issuer: self.issuer.clone(),
                        ca_file: None,
                        token_file: token_file.map(Path::to_path_buf),
                    },
                    settings,
                )),
            }],
            ..IdentityConfig::default()
        }
    }

    fn token(&self, key: &Key, kid: &str) -> String {
        token(
            key,
            &header(key.alg(), kid),
            &with(sa_claims(), "iss", json!(self.issuer)),
        )
    }
}

#[test]
fn discovery_fetches_caches_and_follows_rotation() {
    let server = DiscoveryServer::start(json!({"keys": [Key::rsa(1).jwk("k1")]}));
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "sidecar-sa-token\n").unwrap();
    let settings = CacheSettings {
        refresh_seconds: 3600,
        min_refetch_seconds: 0,
        max_stale_seconds: 3600,
    };
    let cfg = server.config(settings, Some(&token_file));
    assert_eq!(
        server.hits(),
        0,
        "nothing is fetched before the first token"
    );
    let old = server.token(&Key::rsa(1), "k1");
    let caller = verify_token(&cfg, &old, NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(caller.agent_id, "system:serviceaccount:agents:deployer");
    assert_eq!(server.hits(), 2, "the discovery document, then the JWKS");
    assert_eq!(
        server.authorization.lock().unwrap().as_deref(),
        Some("Bearer sidecar-sa-token")
    );
    // Cached: no more requests.
    for _ in 0..5 {
        assert!(verify_token(&cfg, &old, NOW).is_ok());
    }
    assert_eq!(server.hits(), 2);

    // Rotation: the cluster publishes a new key; a token naming it refetches.
    *server.jwks.lock().unwrap() = json!({"keys": [Key::rsa(1).jwk("k1"), Key::p256(2).jwk("k2")]});
    let new = server.token(&Key::p256(2), "k2");
    assert!(verify_token(&cfg, &new, NOW).is_ok());
    assert_eq!(server.hits(), 4);

    // The issuer goes down: cached keys are served (within max_stale).
    server.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(verify_token(&cfg, &new, NOW).is_ok());
    let e = verify_token(&cfg, &server.token(&Key::ed(1), "k3"), NOW).unwrap_err();
    assert_eq!(e.code(), "unknown_kid", "{e}");
}

#[test]
fn discovery_refetches_are_rate_limited_and_fail_closed() {
    let server = DiscoveryServer::start(json!({"keys": [Key::rsa(1).jwk("k1")]}));
    let settings = CacheSettings {
        refresh_seconds: 3600,
        min_refetch_seconds: 3600,
        max_stale_seconds: 0,
    };
    // Down from the start: the first token fails closed, and the next ones
    // do not hammer the issuer.
    server.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let cfg = server.config(settings, None);
    let t = server.token(&Key::rsa(1), "k1");
    for _ in 0..10 {
        let e = verify_token(&cfg, &t, NOW).unwrap_err();
        assert_eq!(e.code(), "keys_unavailable", "{e}");
        assert!(e.to_string().contains("500"), "{e}");
    }
    assert_eq!(server.hits(), 1, "one attempt per min_refetch_seconds");

    // Up: unknown kids cause at most one refetch per window.
    server
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let cfg = server.config(settings, None);
    assert!(verify_token(&cfg, &t, NOW).is_ok());
    let before = server.hits();
    for i in 0..20 {
        let fake = server.token(&Key::p256(2), &format!("made-up-{i}"));
        assert_eq!(
            verify_token(&cfg, &fake, NOW).unwrap_err().code(),
            "unknown_kid"
        );
    }
    assert_eq!(
        server.hits(),
        before,
        "made-up kids cause no fetch within the window"
    );

    // Stale beyond the bound (max_stale 0) with the issuer down: refused.
    let cfg = server.config(
        CacheSettings {
            refresh_seconds: 0,
            min_refetch_seconds: 0,
            max_stale_seconds: 0,
        },
        None,
    );
    assert!(verify_token(&cfg, &t, NOW).is_ok());
    server.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let e = verify_token(&cfg, &t, NOW).unwrap_err();
    assert_eq!(e.code(), "keys_unavailable", "{e}");
}

#[test]
fn a_discovery_document_for_another_issuer_is_refused() {
    let server = DiscoveryServer::start(json!({"keys": [Key::rsa(1).jwk("k1")]}));
    // Configured with a trailing-slash variant: the document names the
    // issuer without it, which is not the configured one.
    let issuer = format!("{}/", server.issuer);
    let cfg = IdentityConfig {
        issuers: vec![TrustedIssuer {
            issuer: issuer.clone(),
            audience: AUDIENCE.to_owned(),
            keys: Arc::new(JwksCache::lazy(
                KeySource::Discovery {
                    issuer: issuer.clone(),
                    ca_file: None,
                    token_file: None,
                },
                CacheSettings::default(),
            )),
        }],
        ..IdentityConfig::default()
    };
    let t = token(
        &Key::rsa(1),
        &header("RS256", "k1"),
        &with(sa_claims(), "iss", json!(issuer)),
    );
    let e = verify_token(&cfg, &t, NOW).unwrap_err();
    assert_eq!(e.code(), "keys_unavailable", "{e}");
    assert!(e.to_string().contains("names the issuer"), "{e}");
}
