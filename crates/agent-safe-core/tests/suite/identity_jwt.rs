#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Caller identity: HS256 JWT verification, plain ids, minting and secrets.
//!
//! Every test passes its own clock (`NOW`); nothing reads the wall clock.
//! Tokens are hand-built here with `hmac` + `sha2` (independently of the code
//! under test) so that any header and any claims can be signed.

use agent_safe_core::identity::{
    Caller, IdentityConfig, IdentityError, MintRequest, SigningKey, check_agent_id, decode_secret,
    generate_secret, looks_like_jwt, mint_token, resolve_caller, verify_token,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::Sha256;

/// 2026-11-25T10:05:00Z.
const NOW: i64 = 1_795_601_100;

const SECRET_A: &[u8] = b"secret-A-0123456789abcdef0123456789abcdef";
const SECRET_B: &[u8] = b"secret-B-0123456789abcdef0123456789abcdef";
const SECRET_OTHER: &[u8] = b"not-configured-0123456789abcdef0123456789";

// ---------------------------------------------------------------- helpers

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hs256(secret: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Builds `header.claims.signature` with a real HS256 MAC over the raw JSON
/// texts (whatever the header's `alg` says).
fn sign_raw(header_json: &str, claims_json: &str, secret: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header_json.as_bytes()),
        b64(claims_json.as_bytes())
    );
    let sig = hs256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig))
}

fn sign(header: &Value, claims: &Value, secret: &[u8]) -> String {
    sign_raw(&header.to_string(), &claims.to_string(), secret)
}

/// `header.claims.<signature text>` with no real signature.
fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn hdr() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn hdr_kid(kid: &str) -> Value {
    json!({"alg": "HS256", "typ": "JWT", "kid": kid})
}

fn claims() -> Value {
    json!({
        "agent_id": "deploy-agent-1",
        "agent_name": "Deploy Agent",
        "roles": ["deployer", "reader"],
        "groups": ["platform"],
        "iat": NOW - 60,
        "exp": NOW + 600,
    })
}

fn with(mut c: Value, key: &str, value: Value) -> Value {
    c.as_object_mut().unwrap().insert(key.to_owned(), value);
    c
}

fn without(mut c: Value, key: &str) -> Value {
    c.as_object_mut().unwrap().remove(key);
    c
}

fn key(kid: Option<&str>, secret: &[u8]) -> SigningKey {
    SigningKey {
        kid: kid.map(str::to_owned),
        secret: secret.to_vec(),
    }
}

/// One key without kid (SECRET_A), no issuer/audience, default leeway.
fn cfg() -> IdentityConfig {
    IdentityConfig {
        keys: vec![key(None, SECRET_A)],
        ..IdentityConfig::default()
    }
}

/// Two keys with kids, for rotation.
fn cfg_rotation() -> IdentityConfig {
    IdentityConfig {
        keys: vec![
            key(Some("2026-01"), SECRET_A),
            key(Some("2026-06"), SECRET_B),
        ],
        ..IdentityConfig::default()
    }
}

fn cfg_iss_aud() -> IdentityConfig {
    IdentityConfig {
        issuer: Some("https://issuer.example".to_owned()),
        audience: Some("agent-safe".to_owned()),
        ..cfg()
    }
}

fn expected_caller() -> Caller {
    Caller {
        agent_id: "deploy-agent-1".to_owned(),
        agent_name: Some("Deploy Agent".to_owned()),
        roles: vec!["deployer".to_owned(), "reader".to_owned()],
        groups: vec!["platform".to_owned()],
        signed: true,
        kubernetes: None,
    }
}

fn minimal_caller() -> Caller {
    Caller {
        agent_id: "deploy-agent-1".to_owned(),
        agent_name: None,
        roles: vec![],
        groups: vec![],
        signed: true,
        kubernetes: None,
    }
}

fn malformed(reason: &str) -> IdentityError {
    IdentityError::Malformed {
        reason: reason.to_owned(),
    }
}

fn missing(claim: &str) -> IdentityError {
    IdentityError::MissingClaim {
        claim: claim.to_owned(),
    }
}

fn wrong_alg(alg: &str) -> IdentityError {
    IdentityError::WrongAlgorithm {
        alg: alg.to_owned(),
    }
}

/// Asserts an `InvalidClaim` for `claim` whose reason contains `needle`.
fn assert_invalid_claim(
    got: &Result<Caller, IdentityError>,
    claim: &str,
    needle: &str,
    name: &str,
) {
    match got {
        Err(IdentityError::InvalidClaim { claim: c, reason }) => {
            assert_eq!(c, claim, "{name}");
            assert!(
                reason.contains(needle),
                "{name}: reason {reason:?} lacks {needle:?}"
            );
        }
        other => panic!("{name}: expected InvalidClaim({claim}), got {other:?}"),
    }
}

// ---------------------------------------------------------------- verify_token

struct Case {
    name: &'static str,
    cfg: IdentityConfig,
    token: String,
    now: i64,
    want: Result<Caller, IdentityError>,
}

fn case(name: &'static str, token: String, want: Result<Caller, IdentityError>) -> Case {
    Case {
        name,
        cfg: cfg(),
        token,
        now: NOW,
        want,
    }
}

#[test]
fn verify_token_table() {
    let valid = sign(&hdr(), &claims(), SECRET_A);
    let minimal = json!({"agent_id": "deploy-agent-1", "iat": NOW - 60, "exp": NOW + 600});

    // The payload of a valid token, swapped for one granting `admin`; the
    // original signature is kept.
    let tampered = {
        let parts: Vec<&str> = valid.split('.').collect();
        let evil = with(claims(), "roles", json!(["admin"]));
        format!(
            "{}.{}.{}",
            parts[0],
            b64(evil.to_string().as_bytes()),
            parts[2]
        )
    };
    // The header of a valid token swapped for one naming HS512; the signature
    // is the (genuine) HS256 MAC of the original.
    let alg_swapped = {
        let parts: Vec<&str> = valid.split('.').collect();
        let h = b64(json!({"alg": "HS512", "typ": "JWT"}).to_string().as_bytes());
        format!("{h}.{}.{}", parts[1], parts[2])
    };
    let fake_sig = b64(&[0x5a; 64]);

    let cases = vec![
        // --- accepted
        case("valid token", valid.clone(), Ok(expected_caller())),
        case(
            "valid minimal token",
            sign(&hdr(), &minimal, SECRET_A),
            Ok(minimal_caller()),
        ),
        case(
            "header without typ",
            sign(&json!({"alg": "HS256"}), &claims(), SECRET_A),
            Ok(expected_caller()),
        ),
        case(
            "unknown claims are ignored",
            sign(
                &hdr(),
                &with(claims(), "x-extra", json!({"a": [1, 2]})),
                SECRET_A,
            ),
            Ok(expected_caller()),
        ),
        // --- time
        case(
            "expired",
            sign(&hdr(), &with(claims(), "exp", json!(NOW - 300)), SECRET_A),
            Err(IdentityError::Expired {
                exp: NOW - 300,
                now: NOW,
                leeway: 30,
            }),
        ),
        case(
            "expired but within leeway",
            sign(&hdr(), &with(claims(), "exp", json!(NOW - 10)), SECRET_A),
            Ok(expected_caller()),
        ),
        case(
            "expired one second inside the leeway edge",
            sign(&hdr(), &with(claims(), "exp", json!(NOW - 29)), SECRET_A),
            Ok(expected_caller()),
        ),
        case(
            "expired exactly at the leeway edge",
            sign(&hdr(), &with(claims(), "exp", json!(NOW - 30)), SECRET_A),
            Err(IdentityError::Expired {
                exp: NOW - 30,
                now: NOW,
                leeway: 30,
            }),
        ),
        case(
            "not yet valid (nbf)",
            sign(&hdr(), &with(claims(), "nbf", json!(NOW + 100)), SECRET_A),
            Err(IdentityError::NotYetValid {
                nbf: NOW + 100,
                now: NOW,
                leeway: 30,
            }),
        ),
        case(
            "nbf in the future but within leeway",
            sign(&hdr(), &with(claims(), "nbf", json!(NOW + 30)), SECRET_A),
            Ok(expected_caller()),
        ),
        case(
            "nbf in the past",
            sign(&hdr(), &with(claims(), "nbf", json!(NOW - 60)), SECRET_A),
            Ok(expected_caller()),
        ),
        case(
            "iat in the future",
            sign(&hdr(), &with(claims(), "iat", json!(NOW + 100)), SECRET_A),
            Err(IdentityError::IssuedInFuture {
                iat: NOW + 100,
                now: NOW,
                leeway: 30,
            }),
        ),
        case(
            "iat in the future but within leeway",
            sign(&hdr(), &with(claims(), "iat", json!(NOW + 30)), SECRET_A),
            Ok(expected_caller()),
        ),
        // --- signature and algorithm
        case(
            "wrong key",
            sign(&hdr(), &claims(), SECRET_OTHER),
            Err(IdentityError::BadSignature),
        ),
        case(
            "tampered payload, original signature",
            tampered,
            Err(IdentityError::BadSignature),
        ),
        case(
            "signature removed",
            unsigned(&hdr(), &claims(), ""),
            Err(IdentityError::BadSignature),
        ),
        case(
            "signature truncated",
            valid[..valid.len() - 3].to_owned(),
            Err(IdentityError::BadSignature),
        ),
        case(
            "alg none, empty signature",
            unsigned(&json!({"alg": "none"}), &claims(), ""),
            Err(wrong_alg("none")),
        ),
        case(
            "alg none, some signature",
            unsigned(&json!({"alg": "none", "typ": "JWT"}), &claims(), &fake_sig),
            Err(wrong_alg("none")),
        ),
        case(
            "alg None (capitalised)",
            unsigned(&json!({"alg": "None"}), &claims(), ""),
            Err(wrong_alg("None")),
        ),
        case(
            "alg HS512, genuine HS256 MAC",
            alg_swapped,
            Err(wrong_alg("HS512")),
        ),
        case(
            "alg HS512 signed with the key",
            sign(&json!({"alg": "HS512"}), &claims(), SECRET_A),
            Err(wrong_alg("HS512")),
        ),
        case(
            "alg HS384",
            unsigned(&json!({"alg": "HS384"}), &claims(), &fake_sig),
            Err(wrong_alg("HS384")),
        ),
        case(
            "alg RS256",
            unsigned(
                &json!({"alg": "RS256", "typ": "JWT"}),
                &claims(),
                &b64(&[7; 256]),
            ),
            Err(wrong_alg("RS256")),
        ),
        case(
            "alg ES256",
            unsigned(&json!({"alg": "ES256"}), &claims(), &fake_sig),
            Err(wrong_alg("ES256")),
        ),
        case(
            "alg hs256 (wrong case)",
            sign(&json!({"alg": "hs256"}), &claims(), SECRET_A),
            Err(wrong_alg("hs256")),
        ),
        case(
            "alg with control characters is escaped",
            unsigned(&json!({"alg": "x\ny"}), &claims(), ""),
            Err(wrong_alg("x\\ny")),
        ),
        case(
            "alg missing",
            sign(&json!({"typ": "JWT"}), &claims(), SECRET_A),
            Err(malformed("the header has no `alg`")),
        ),
        case(
            "alg not a string",
            sign(&json!({"alg": 256}), &claims(), SECRET_A),
            Err(malformed("the header `alg` is not a string")),
        ),
        case(
            "crit header",
            sign(
                &json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
                &claims(),
                SECRET_A,
            ),
            Err(malformed(
                "the header has a `crit` parameter; no JWS extensions are supported",
            )),
        ),
        // --- required claims
        case(
            "missing exp",
            sign(&hdr(), &without(claims(), "exp"), SECRET_A),
            Err(missing("exp")),
        ),
        case(
            "missing iat",
            sign(&hdr(), &without(claims(), "iat"), SECRET_A),
            Err(missing("iat")),
        ),
        case(
            "missing agent_id",
            sign(&hdr(), &without(claims(), "agent_id"), SECRET_A),
            Err(missing("agent_id")),
        ),
        case(
            "empty claims object",
            sign(&hdr(), &json!({}), SECRET_A),
            Err(missing("agent_id")),
        ),
        // --- issuer / audience ignored when not configured
        case(
            "iss and aud ignored when not configured",
            sign(
                &hdr(),
                &with(
                    with(claims(), "iss", json!("someone")),
                    "aud",
                    json!(["x", "y"]),
                ),
                SECRET_A,
            ),
            Ok(expected_caller()),
        ),
        // --- shape
        case(
            "empty string",
            String::new(),
            Err(malformed("the token is empty")),
        ),
        case(
            "garbage",
            "this is not a token".to_owned(),
            Err(malformed(
                "expected 3 `.`-separated segments (header.claims.signature), found 1",
            )),
        ),
        case(
            "2 segments",
            valid.rsplit_once('.').unwrap().0.to_owned(),
            Err(malformed(
                "expected 3 `.`-separated segments (header.claims.signature), found 2",
            )),
        ),
        case(
            "4 segments",
            format!("{valid}.{}", b64(b"extra")),
            Err(malformed(
                "expected 3 `.`-separated segments (header.claims.signature), found 4",
            )),
        ),
        case(
            "three empty segments",
            "..".to_owned(),
            Err(malformed("the header is not a JSON object")),
        ),
        case(
            "header not base64url",
            format!("e!J.{}", valid.split_once('.').unwrap().1),
            Err(malformed("the header is not valid base64url")),
        ),
        case(
            "header is JSON but not an object",
            sign_raw("[\"HS256\"]", &claims().to_string(), SECRET_A),
            Err(malformed("the header is not a JSON object")),
        ),
        case(
            "claims not JSON",
            sign_raw(&hdr().to_string(), "{\"agent_id\":", SECRET_A),
            Err(malformed("the claims are not a JSON object")),
        ),
        case(
            "claims a JSON string",
            sign_raw(&hdr().to_string(), "\"deploy-agent-1\"", SECRET_A),
            Err(malformed("the claims are not a JSON object")),
        ),
        case(
            "claims repeat agent_id",
            sign_raw(
                &hdr().to_string(),
                &format!(
                    "{{\"agent_id\":\"reader\",\"iat\":{},\"exp\":{},\"agent_id\":\"admin\"}}",
                    NOW - 60,
                    NOW + 600
                ),
                SECRET_A,
            ),
            Err(malformed("the claims repeat the claim `agent_id`")),
        ),
        case(
            "claims repeat agent_id through an escape",
            sign_raw(
                &hdr().to_string(),
                &format!(
                    "{{\"agent_id\":\"reader\",\"iat\":{},\"exp\":{},\"agent\\u005fid\":\"admin\"}}",
                    NOW - 60,
                    NOW + 600
                ),
                SECRET_A,
            ),
            Err(malformed("the claims repeat the claim `agent_id`")),
        ),
        case(
            "claims repeat a member inside an object claim",
            sign_raw(
                &hdr().to_string(),
                &format!(
                    "{{\"agent_id\":\"reader\",\"iat\":{},\"exp\":{},\"ext\":{{\"tier\":\"low\",\"tier\":\"admin\"}}}}",
                    NOW - 60,
                    NOW + 600
                ),
                SECRET_A,
            ),
            Err(malformed("the claims repeat the member `ext.tier`")),
        ),
        case(
            "claims repeat a member inside an array of objects",
            sign_raw(
                &hdr().to_string(),
                &format!(
                    "{{\"agent_id\":\"reader\",\"iat\":{},\"exp\":{},\"ext\":[{{}},{{\"a\":1,\"a\":2}}]}}",
                    NOW - 60,
                    NOW + 600
                ),
                SECRET_A,
            ),
            Err(malformed("the claims repeat the member `ext.1.a`")),
        ),
        case(
            "header repeats a member inside an object",
            sign_raw(
                "{\"alg\":\"HS256\",\"jwk\":{\"k\":\"a\",\"k\":\"b\"}}",
                &claims().to_string(),
                SECRET_A,
            ),
            Err(malformed("the header repeats the parameter `jwk.k`")),
        ),
        case(
            "header repeats alg",
            sign_raw(
                "{\"alg\":\"none\",\"alg\":\"HS256\"}",
                &claims().to_string(),
                SECRET_A,
            ),
            Err(malformed("the header repeats the parameter `alg`")),
        ),
        case(
            "signature not base64url",
            format!("{}.!!!!", valid.rsplit_once('.').unwrap().0),
            Err(malformed("the signature is not valid base64url")),
        ),
        case(
            "signature with base64 padding",
            format!("{valid}="),
            Err(malformed("the signature is not valid base64url")),
        ),
        case(
            "token too long",
            sign(
                &hdr(),
                &with(claims(), "pad", json!("x".repeat(9000))),
                SECRET_A,
            ),
            Err(IdentityError::Malformed {
                reason: String::new(), // checked by prefix below
            }),
        ),
    ];

    // --- wrong types (the token is genuinely signed; types are still checked)
    let wrong_types: Vec<(&'static str, &'static str, Value, &'static str)> = vec![
        ("exp is a string", "exp", json!("soon"), "found a string"),
        (
            "exp is a numeric string",
            "exp",
            json!(NOW.to_string()),
            "found a string",
        ),
        (
            "exp is fractional",
            "exp",
            json!(1_795_601_700.5),
            "fractional",
        ),
        ("exp is null", "exp", Value::Null, "found null"),
        ("exp too large", "exp", json!(u64::MAX), "out of range"),
        ("iat is a bool", "iat", json!(true), "found a boolean"),
        ("nbf is a string", "nbf", json!("now"), "found a string"),
        (
            "agent_id is a number",
            "agent_id",
            json!(42),
            "found a number",
        ),
        ("agent_id is empty", "agent_id", json!(""), "it is empty"),
        (
            "agent_id breaks the rule",
            "agent_id",
            json!("bad agent\n"),
            "may only contain",
        ),
        (
            "agent_name is an array",
            "agent_name",
            json!(["x"]),
            "found an array",
        ),
        (
            "agent_name is null",
            "agent_name",
            Value::Null,
            "found null",
        ),
        (
            "roles is a string",
            "roles",
            json!("admin"),
            "found a string",
        ),
        (
            "roles contains a number",
            "roles",
            json!(["deployer", 1]),
            "containing a number",
        ),
        (
            "groups is an object",
            "groups",
            json!({"platform": true}),
            "found an object",
        ),
        ("iss is a number", "iss", json!(7), "found a number"),
        ("aud is a number", "aud", json!(7), "found a number"),
        (
            "aud array contains null",
            "aud",
            json!(["agent-safe", null]),
            "containing null",
        ),
    ];

    for c in &cases {
        if c.name == "token too long" {
            let got = verify_token(&c.cfg, &c.token, c.now);
            match got {
                Err(IdentityError::Malformed { reason }) => {
                    assert!(reason.ends_with("bytes; the limit is 8192"), "{reason}");
                }
                other => panic!("token too long: {other:?}"),
            }
            continue;
        }
        let got = verify_token(&c.cfg, &c.token, c.now);
        assert_eq!(got, c.want, "case {:?}", c.name);
        // resolve_caller routes every one of these to verify_token
        if !c.token.is_empty() && looks_like_jwt(&c.token) {
            let resolved = resolve_caller(&c.cfg, Some(&c.token), c.now);
            assert_eq!(
                resolved,
                c.want.clone().map(Some),
                "resolve_caller {:?}",
                c.name
            );
        }
    }

    for (name, claim, value, needle) in wrong_types {
        let token = sign(&hdr(), &with(claims(), claim, value), SECRET_A);
        let got = verify_token(&cfg(), &token, NOW);
        assert_invalid_claim(&got, claim, needle, name);
    }

    let inverted = sign(
        &hdr(),
        &with(with(claims(), "iat", json!(NOW)), "exp", json!(NOW)),
        SECRET_A,
    );
    assert_invalid_claim(
        &verify_token(&cfg(), &inverted, NOW),
        "exp",
        "later than `iat`",
        "exp == iat",
    );
}

#[test]
fn key_selection_and_rotation() {
    let rot = cfg_rotation();
    let cases: Vec<(&str, IdentityConfig, String, Result<Caller, IdentityError>)> = vec![
        (
            "signed by the second key with its kid",
            rot.clone(),
            sign(&hdr_kid("2026-06"), &claims(), SECRET_B),
            Ok(expected_caller()),
        ),
        (
            "signed by the first key with its kid",
            rot.clone(),
            sign(&hdr_kid("2026-01"), &claims(), SECRET_A),
            Ok(expected_caller()),
        ),
        (
            "kid pins exactly one key: second key's token labelled with the first kid",
            rot.clone(),
            sign(&hdr_kid("2026-01"), &claims(), SECRET_B),
            Err(IdentityError::BadSignature),
        ),
        (
            "no kid: every key is tried (second matches)",
            rot.clone(),
            sign(&hdr(), &claims(), SECRET_B),
            Ok(expected_caller()),
        ),
        (
            "no kid, no key matches",
            rot.clone(),
            sign(&hdr(), &claims(), SECRET_OTHER),
            Err(IdentityError::BadSignature),
        ),
        (
            "unknown kid",
            rot.clone(),
            sign(&hdr_kid("2025-01"), &claims(), SECRET_A),
            Err(IdentityError::UnknownKid {
                kid: "2025-01".to_owned(),
            }),
        ),
        (
            "kid given but only kid-less keys configured",
            cfg(),
            sign(&hdr_kid("k1"), &claims(), SECRET_A),
            Err(IdentityError::UnknownKid {
                kid: "k1".to_owned(),
            }),
        ),
        (
            "kid is not a string",
            rot.clone(),
            sign(&json!({"alg": "HS256", "kid": 1}), &claims(), SECRET_A),
            Err(malformed("the header `kid` is not a string")),
        ),
        (
            "no key configured",
            IdentityConfig::default(),
            sign(&hdr(), &claims(), SECRET_A),
            Err(IdentityError::NoKeyConfigured),
        ),
        (
            "configured secret too short: fails closed",
            IdentityConfig {
                keys: vec![key(Some("weak"), b"short")],
                ..IdentityConfig::default()
            },
            sign(&hdr_kid("weak"), &claims(), b"short"),
            Err(IdentityError::SecretTooShort {
                key: "key `weak`".to_owned(),
                len: 5,
                min: 32,
            }),
        ),
    ];
    for (name, cfg, token, want) in cases {
        assert_eq!(verify_token(&cfg, &token, NOW), want, "{name}");
    }
}

#[test]
fn issuer_and_audience() {
    let c = cfg_iss_aud();
    let ok = with(
        with(claims(), "iss", json!("https://issuer.example")),
        "aud",
        json!("agent-safe"),
    );
    let cases: Vec<(&str, Value, Result<Caller, IdentityError>)> = vec![
        ("both match", ok.clone(), Ok(expected_caller())),
        (
            "aud array containing ours",
            with(ok.clone(), "aud", json!(["other", "agent-safe"])),
            Ok(expected_caller()),
        ),
        (
            "wrong issuer",
            with(ok.clone(), "iss", json!("https://evil.example")),
            Err(IdentityError::WrongIssuer {
                expected: "https://issuer.example".to_owned(),
                found: "https://evil.example".to_owned(),
            }),
        ),
        (
            "missing issuer",
            without(ok.clone(), "iss"),
            Err(missing("iss")),
        ),
        (
            "wrong audience",
            with(ok.clone(), "aud", json!("someone-else")),
            Err(IdentityError::WrongAudience {
                expected: "agent-safe".to_owned(),
            }),
        ),
        (
            "audience array without ours",
            with(ok.clone(), "aud", json!(["a", "b"])),
            Err(IdentityError::WrongAudience {
                expected: "agent-safe".to_owned(),
            }),
        ),
        (
            "empty audience array",
            with(ok.clone(), "aud", json!([])),
            Err(IdentityError::WrongAudience {
                expected: "agent-safe".to_owned(),
            }),
        ),
        (
            "missing audience",
            without(ok.clone(), "aud"),
            Err(missing("aud")),
        ),
        (
            "issuer as an array is not accepted",
            with(ok.clone(), "iss", json!(["https://issuer.example"])),
            Err(IdentityError::InvalidClaim {
                claim: "iss".to_owned(),
                reason: "it must be a string, found an array".to_owned(),
            }),
        ),
    ];
    for (name, claims, want) in cases {
        let token = sign(&hdr(), &claims, SECRET_A);
        assert_eq!(verify_token(&c, &token, NOW), want, "{name}");
    }

    // Only the issuer configured: aud is ignored.
    let only_iss = IdentityConfig {
        audience: None,
        ..cfg_iss_aud()
    };
    let token = sign(
        &hdr(),
        &with(ok.clone(), "aud", json!("anything")),
        SECRET_A,
    );
    assert_eq!(verify_token(&only_iss, &token, NOW), Ok(expected_caller()));
}

#[test]
fn leeway_is_configurable() {
    let strict = IdentityConfig {
        leeway_seconds: 0,
        ..cfg()
    };
    let exp_now = sign(&hdr(), &with(claims(), "exp", json!(NOW)), SECRET_A);
    assert_eq!(
        verify_token(&strict, &exp_now, NOW),
        Err(IdentityError::Expired {
            exp: NOW,
            now: NOW,
            leeway: 0
        })
    );
    assert_eq!(
        verify_token(&strict, &exp_now, NOW - 1),
        Ok(expected_caller())
    );

    let lax = IdentityConfig {
        leeway_seconds: 300,
        ..cfg()
    };
    let old = sign(
        &hdr(),
        &with(
            with(claims(), "iat", json!(NOW - 900)),
            "exp",
            json!(NOW - 299),
        ),
        SECRET_A,
    );
    assert_eq!(verify_token(&lax, &old, NOW), Ok(expected_caller()));

    let too_lax = IdentityConfig {
        leeway_seconds: 301,
        ..cfg()
    };
    assert!(matches!(
        verify_token(&too_lax, &old, NOW),
        Err(IdentityError::InvalidConfig { .. })
    ));
}

#[test]
fn extreme_times_do_not_overflow() {
    let far = sign(
        &hdr(),
        &with(
            with(claims(), "iat", json!(i64::MIN)),
            "exp",
            json!(i64::MAX),
        ),
        SECRET_A,
    );
    assert_eq!(verify_token(&cfg(), &far, NOW), Ok(expected_caller()));
    assert_eq!(verify_token(&cfg(), &far, i64::MAX), Ok(expected_caller()));
    assert_eq!(verify_token(&cfg(), &far, i64::MIN), Ok(expected_caller()));
    let normal = sign(&hdr(), &claims(), SECRET_A);
    assert!(matches!(
        verify_token(&cfg(), &normal, i64::MAX),
        Err(IdentityError::Expired { .. })
    ));
    assert!(matches!(
        verify_token(&cfg(), &normal, i64::MIN),
        Err(IdentityError::IssuedInFuture { .. })
    ));
    let nbf_min = sign(&hdr(), &with(claims(), "nbf", json!(i64::MIN)), SECRET_A);
    assert_eq!(verify_token(&cfg(), &nbf_min, NOW), Ok(expected_caller()));
    let nbf_max = sign(&hdr(), &with(claims(), "nbf", json!(i64::MAX)), SECRET_A);
    assert!(matches!(
        verify_token(&cfg(), &nbf_max, NOW),
        Err(IdentityError::NotYetValid { .. })
    ));
    // Timestamps outside the calendar range are shown as raw seconds.
    assert_eq!(
        IdentityError::Expired {
            exp: i64::MIN,
            now: i64::MAX,
            leeway: 0
        }
        .to_string(),
        "token expired at @-9223372036854775808 (now @9223372036854775807, leeway 0s)"
    );
}

// ---------------------------------------------------------------- resolve_caller

#[test]
fn resolve_caller_table() {
    type Resolved = Result<Option<Caller>, IdentityError>;
    let open = cfg();
    let strict = IdentityConfig {
        require_signed: true,
        ..cfg()
    };
    let valid = sign(&hdr(), &claims(), SECRET_A);
    let expired = sign(&hdr(), &with(claims(), "exp", json!(NOW - 300)), SECRET_A);
    let two_segments = valid.rsplit_once('.').unwrap().0.to_owned();
    let unsigned_id = |id: &str| -> Resolved { Ok(Some(Caller::unsigned(id))) };
    let bad_id = |id: &str| -> Resolved { check_agent_id(id).map(|()| None) };

    let cases: Vec<(&str, &IdentityConfig, Option<&str>, Resolved)> = vec![
        ("anonymous", &open, None, Ok(None)),
        ("empty is anonymous", &open, Some(""), Ok(None)),
        (
            "anonymous refused",
            &strict,
            None,
            Err(IdentityError::UnsignedRefused { anonymous: true }),
        ),
        (
            "empty refused",
            &strict,
            Some(""),
            Err(IdentityError::UnsignedRefused { anonymous: true }),
        ),
        (
            "plain id",
            &open,
            Some("deploy-agent-1"),
            unsigned_id("deploy-agent-1"),
        ),
        (
            "plain id with every allowed character",
            &open,
            Some("a0._:@/-Z"),
            unsigned_id("a0._:@/-Z"),
        ),
        (
            "spiffe-like id",
            &open,
            Some("spiffe://cluster.local/ns/ops/sa/agent"),
            unsigned_id("spiffe://cluster.local/ns/ops/sa/agent"),
        ),
        (
            "plain id refused",
            &strict,
            Some("deploy-agent-1"),
            Err(IdentityError::UnsignedRefused { anonymous: false }),
        ),
        (
            "valid token",
            &open,
            Some(&valid),
            Ok(Some(expected_caller())),
        ),
        (
            "valid token, require_signed",
            &strict,
            Some(&valid),
            Ok(Some(expected_caller())),
        ),
        (
            "expired token is an error, not a downgrade",
            &open,
            Some(&expired),
            Err(IdentityError::Expired {
                exp: NOW - 300,
                now: NOW,
                leeway: 30,
            }),
        ),
        (
            "damaged (2-segment) token is malformed, not a plain id",
            &open,
            Some(&two_segments),
            Err(malformed(
                "expected 3 `.`-separated segments (header.claims.signature), found 2",
            )),
        ),
        ("leading space", &open, Some(" deploy"), bad_id(" deploy")),
        (
            "starts with a dash",
            &open,
            Some("-agent"),
            bad_id("-agent"),
        ),
        (
            "contains a space",
            &open,
            Some("deploy agent"),
            bad_id("deploy agent"),
        ),
        (
            "contains a newline",
            &open,
            Some("agent\n"),
            bad_id("agent\n"),
        ),
        ("non-ASCII", &open, Some("agënt"), bad_id("agënt")),
        ("asterisk (glob)", &open, Some("agent-*"), bad_id("agent-*")),
    ];
    for (name, cfg, input, want) in cases {
        assert_eq!(resolve_caller(cfg, input, NOW), want, "{name}");
    }

    let longest = "a".repeat(253);
    assert_eq!(
        resolve_caller(&open, Some(&longest), NOW),
        Ok(Some(Caller::unsigned(longest.clone())))
    );
    let too_long = "a".repeat(254);
    let err = resolve_caller(&open, Some(&too_long), NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_agent_id");
    let msg = err.to_string();
    assert!(msg.contains("longer than 253"), "{msg}");
    assert!(
        msg.contains("^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,252}$"),
        "{msg}"
    );
    assert!(!msg.contains(&too_long), "the rejected value is not echoed");

    // Plain ids need no key: resolving works with no key configured.
    assert_eq!(
        resolve_caller(&IdentityConfig::default(), Some("x"), NOW),
        unsigned_id("x")
    );
}

#[test]
fn looks_like_jwt_table() {
    let valid = sign(&hdr(), &claims(), SECRET_A);
    let cases: Vec<(&str, bool)> = vec![
        (valid.as_str(), true),
        ("eyJhbGciOiJub25lIn0.eyJhIjoxfQ.", true),
        ("eyJ.e30.sig-_", true),
        ("", false),
        ("deploy-agent-1", false),
        ("a.b.c", false),
        ("eyJ.e30", false),
        ("eyJ.e30.a.b", false),
        ("eyJ..sig", false),
        (".e30.sig", false),
        ("eyJ.e30.si=g", false),
        ("eyJ.e+0.sig", false),
        ("eyJ.e30.sig ", false),
    ];
    for (s, want) in cases {
        assert_eq!(looks_like_jwt(s), want, "{s:?}");
    }
}

// ---------------------------------------------------------------- mint_token

fn mint_req(kid: Option<&str>) -> MintRequest {
    MintRequest {
        agent_id: "deploy-agent-1".to_owned(),
        agent_name: Some("Deploy Agent".to_owned()),
        roles: vec!["deployer".to_owned(), "reader".to_owned()],
        groups: vec!["platform".to_owned()],
        ttl_seconds: 900,
        kid: kid.map(str::to_owned),
    }
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn mint_round_trip() {
    let c = IdentityConfig {
        issuer: Some("https://issuer.example".to_owned()),
        audience: Some("agent-safe".to_owned()),
        ..cfg_rotation()
    };
    for (kid, secret) in [(None, SECRET_A), (Some("2026-06"), SECRET_B)] {
        let token = mint_token(&c, &mint_req(kid), NOW).unwrap();
        assert!(looks_like_jwt(&token));
        let header = decode_part(&token, 0);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(
            header["kid"],
            json!(kid.unwrap_or("2026-01")),
            "default: first key"
        );
        let body = decode_part(&token, 1);
        assert_eq!(body["iat"], json!(NOW));
        assert_eq!(body["exp"], json!(NOW + 900));
        assert_eq!(body["iss"], "https://issuer.example");
        assert_eq!(body["aud"], "agent-safe");
        // Independent check of the MAC.
        let (input, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(sig).unwrap(),
            hs256(secret, input.as_bytes())
        );

        assert_eq!(verify_token(&c, &token, NOW), Ok(expected_caller()));
        assert_eq!(
            verify_token(&c, &token, NOW + 900 + 29),
            Ok(expected_caller())
        );
        assert_eq!(
            verify_token(&c, &token, NOW + 930),
            Err(IdentityError::Expired {
                exp: NOW + 900,
                now: NOW + 930,
                leeway: 30
            })
        );
    }

    // A key without kid: no kid header, minimal claims.
    let token = mint_token(
        &cfg(),
        &MintRequest {
            agent_name: None,
            roles: vec![],
            groups: vec![],
            ..mint_req(None)
        },
        NOW,
    )
    .unwrap();
    assert!(decode_part(&token, 0).get("kid").is_none());
    assert!(decode_part(&token, 1).get("iss").is_none());
    assert_eq!(verify_token(&cfg(), &token, NOW), Ok(minimal_caller()));
}

#[test]
fn mint_errors() {
    let cases: Vec<(&str, IdentityConfig, MintRequest, IdentityError)> = vec![
        (
            "unknown kid",
            cfg_rotation(),
            mint_req(Some("2020-01")),
            IdentityError::UnknownKid {
                kid: "2020-01".to_owned(),
            },
        ),
        (
            "no key",
            IdentityConfig::default(),
            mint_req(None),
            IdentityError::NoKeyConfigured,
        ),
        (
            "no key, kid asked",
            IdentityConfig::default(),
            mint_req(Some("k")),
            IdentityError::NoKeyConfigured,
        ),
        (
            "zero ttl",
            cfg(),
            MintRequest {
                ttl_seconds: 0,
                ..mint_req(None)
            },
            IdentityError::InvalidClaim {
                claim: "exp".to_owned(),
                reason: "the lifetime (ttl_seconds) must be at least 1 second".to_owned(),
            },
        ),
        (
            "ttl overflow",
            cfg(),
            MintRequest {
                ttl_seconds: u64::MAX,
                ..mint_req(None)
            },
            IdentityError::InvalidClaim {
                claim: "exp".to_owned(),
                reason: "now + ttl_seconds is out of range".to_owned(),
            },
        ),
        (
            "bad agent id",
            cfg(),
            MintRequest {
                agent_id: "bad id".to_owned(),
                ..mint_req(None)
            },
            check_agent_id("bad id").unwrap_err(),
        ),
        (
            "weak key",
            IdentityConfig {
                keys: vec![key(None, &[1; 31])],
                ..IdentityConfig::default()
            },
            mint_req(None),
            IdentityError::SecretTooShort {
                key: "key #1".to_owned(),
                len: 31,
                min: 32,
            },
        ),
    ];
    for (name, cfg, req, want) in cases {
        assert_eq!(mint_token(&cfg, &req, NOW), Err(want), "{name}");
    }
}

// ---------------------------------------------------------------- config, secrets, messages

#[test]
fn degenerate_secrets_are_refused() {
    let counter: Vec<u8> = (0..32).collect();
    let down: Vec<u8> = (0..40u8).map(|i| 200 - 3 * i).collect();
    let twice = [b"0123456789abcdef".as_slice(), b"0123456789abcdef"].concat();
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("all zero", vec![0; 32], Some("it has only 1 distinct byte value (at least 8 are required)")),
        ("all 0xff, 64 bytes", vec![0xff; 64], Some("only 1 distinct byte value")),
        ("two values", b"abababababababababababababababab".to_vec(), Some("only 2 distinct byte values")),
        ("seven values", b"abcdefgabcdefgabcdefgabcdefgabcdefg".to_vec(), Some("only 7 distinct")),
        ("a 16-byte block twice", twice, Some("it is one 16-byte block repeated")),
        ("an 8-byte block four times", b"k3y!Sxcr".repeat(4), Some("it is one 8-byte block repeated")),
        ("a counter", counter, Some("its bytes count up or down by a constant step")),
        ("counting down by 3", down, Some("constant step")),
        // Real keys pass: the test keys, 32 random bytes, hex and decimal text.
        ("test key A", SECRET_A.to_vec(), None),
        ("random", URL_SAFE_NO_PAD.decode(generate_secret().unwrap()).unwrap(), None),
        ("hex text", b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_vec(), None),
        ("decimal text", b"31415926535897932384626433832795028841971".to_vec(), None),
        // Only the last byte differs: not a repeat, enough distinct values.
        ("almost a counter", [(0..31).collect::<Vec<u8>>(), vec![99]].concat(), None),
    ];
    let mut failures = Vec::new();
    for (name, secret, want) in cases {
        let c = IdentityConfig {
            keys: vec![key(Some("k"), &secret)],
            ..IdentityConfig::default()
        };
        let got = c.validate();
        match (want, &got) {
            (None, Ok(())) => {}
            (Some(w), Err(e @ IdentityError::WeakSecret { key, reason })) => {
                if key != "key `k`" || !reason.contains(w) || e.code() != "weak_secret" {
                    failures.push(format!("{name}: want `{w}`, got {e:?}"));
                }
                let text = e.to_string();
                if !text.starts_with("key `k` has a degenerate secret: ")
                    || !text.contains("agent-safe init")
                {
                    failures.push(format!("{name}: message {text}"));
                }
                // Verification and minting fail closed with the same error.
                if verify_token(&c, "eyJ.eyJ.x", NOW).err().as_ref() != Some(e)
                    || mint_token(&c, &mint_req(None), NOW).err().as_ref() != Some(e)
                {
                    failures.push(format!("{name}: a weak key is used"));
                }
            }
            _ => failures.push(format!("{name}: want {want:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn config_validation() {
    assert_eq!(IdentityConfig::default().leeway_seconds, 30);
    assert_eq!(IdentityConfig::default().validate(), Ok(()));
    assert_eq!(cfg_rotation().validate(), Ok(()));
    let cases: Vec<(&str, IdentityConfig, &str)> = vec![
        (
            "short secret",
            IdentityConfig {
                keys: vec![key(Some("a"), SECRET_A), key(None, &[0; 16])],
                ..IdentityConfig::default()
            },
            "secret_too_short",
        ),
        (
            "all-zero secret",
            IdentityConfig {
                keys: vec![key(Some("a"), SECRET_A), key(None, &[0; 32])],
                ..IdentityConfig::default()
            },
            "weak_secret",
        ),
        (
            "duplicate kid",
            IdentityConfig {
                keys: vec![key(Some("a"), SECRET_A), key(Some("a"), SECRET_B)],
                ..IdentityConfig::default()
            },
            "duplicate_kid",
        ),
        (
            "empty kid",
            IdentityConfig {
                keys: vec![key(Some(""), SECRET_A)],
                ..IdentityConfig::default()
            },
            "invalid_config",
        ),
        (
            "empty issuer",
            IdentityConfig {
                issuer: Some(String::new()),
                ..cfg()
            },
            "invalid_config",
        ),
        (
            "empty audience",
            IdentityConfig {
                audience: Some(String::new()),
                ..cfg()
            },
            "invalid_config",
        ),
        (
            "leeway too large",
            IdentityConfig {
                leeway_seconds: 3600,
                ..cfg()
            },
            "invalid_config",
        ),
    ];
    for (name, c, code) in cases {
        assert_eq!(c.validate().map_err(|e| e.code()), Err(code), "{name}");
    }
    assert_eq!(
        IdentityConfig {
            keys: vec![key(None, &[0; 16])],
            ..IdentityConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string(),
        "key #1 has a 16-byte secret; HS256 secrets must be at least 32 bytes"
    );
}

#[test]
fn secrets() {
    let s1 = generate_secret().unwrap();
    let s2 = generate_secret().unwrap();
    assert_ne!(s1, s2);
    assert_eq!(s1.len(), 43);
    assert!(
        s1.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let bytes = decode_secret(&s1).unwrap();
    assert_eq!(bytes.len(), 32);
    assert_eq!(
        decode_secret(&format!("  {s1}\n")).unwrap(),
        bytes,
        "whitespace trimmed"
    );
    assert_eq!(
        decode_secret(&format!("{s1}=")).unwrap(),
        bytes,
        "padding accepted"
    );

    // A generated secret works end to end.
    let c = IdentityConfig {
        keys: vec![SigningKey::from_encoded(Some("k".to_owned()), &s1).unwrap()],
        ..IdentityConfig::default()
    };
    let token = mint_token(&c, &mint_req(None), NOW).unwrap();
    assert_eq!(verify_token(&c, &token, NOW), Ok(expected_caller()));

    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "invalid_secret"),
        ("blank", "   ".to_owned(), "invalid_secret"),
        ("standard alphabet", "+/".repeat(22), "invalid_secret"),
        (
            "inner whitespace",
            format!("{} {}", &s1[..20], &s1[20..]),
            "invalid_secret",
        ),
        ("not base64", "!".repeat(43), "invalid_secret"),
        ("16 bytes", b64(&[9; 16]), "secret_too_short"),
        ("31 bytes", b64(&[9; 31]), "secret_too_short"),
    ];
    for (name, input, code) in cases {
        let err = decode_secret(&input).unwrap_err();
        assert_eq!(err.code(), code, "{name}");
        if !input.trim().is_empty() {
            assert!(
                !err.to_string().contains(input.trim()),
                "{name}: secret echoed"
            );
        }
    }
    assert_eq!(decode_secret(&b64(&[9; 32])).unwrap(), vec![9; 32]);
}

#[test]
fn debug_never_shows_the_secret() {
    let secret = "THIS-IS-THE-SECRET-0123456789-abcdefghij";
    let k = SigningKey::new(Some("k1".to_owned()), secret.as_bytes().to_vec());
    let c = IdentityConfig {
        keys: vec![k.clone()],
        ..IdentityConfig::default()
    };
    for dbg in [format!("{k:?}"), format!("{k:#?}"), format!("{c:?}")] {
        assert!(!dbg.contains("THIS-IS"), "{dbg}");
        assert!(!dbg.contains("84, 72, 73, 83"), "secret bytes in {dbg}");
        assert!(dbg.contains("redacted"), "{dbg}");
        assert!(dbg.contains("k1"), "{dbg}");
    }
}

#[test]
fn messages_are_plain_and_leak_nothing() {
    assert_eq!(
        IdentityError::Expired {
            exp: NOW - 300,
            now: NOW,
            leeway: 30
        }
        .to_string(),
        "token expired at 2026-11-25T10:00:00Z (now 2026-11-25T10:05:00Z, leeway 30s)"
    );
    assert_eq!(
        IdentityError::NotYetValid {
            nbf: NOW + 60,
            now: NOW,
            leeway: 30
        }
        .to_string(),
        "token not valid before 2026-11-25T10:06:00Z (now 2026-11-25T10:05:00Z, leeway 30s)"
    );
    assert_eq!(
        wrong_alg("none").to_string(),
        "token algorithm `none` is not accepted: only HS256 tokens are allowed"
    );
    assert_eq!(
        missing("exp").to_string(),
        "token is missing the required claim `exp`"
    );
    assert_eq!(
        IdentityError::UnsignedRefused { anonymous: true }.to_string(),
        "anonymous callers are refused: a signed token is required (identity.require_signed is true)"
    );

    // Over a spread of rejected tokens: no message contains the token, a
    // segment of it, or the secret; all are lowercase-initial.
    let secret_text = String::from_utf8_lossy(SECRET_A).into_owned();
    let long_kid = "k".repeat(500);
    let tokens = vec![
        sign(&hdr(), &with(claims(), "exp", json!(NOW - 300)), SECRET_A),
        sign(&hdr(), &claims(), SECRET_OTHER),
        sign(&json!({"alg": "HS512"}), &claims(), SECRET_A),
        sign(&hdr(), &with(claims(), "roles", json!("admin")), SECRET_A),
        sign(&hdr_kid(&long_kid), &claims(), SECRET_A),
        sign(&hdr(), &without(claims(), "iat"), SECRET_A),
        format!("{}.x", sign(&hdr(), &claims(), SECRET_A)),
    ];
    let mut codes = std::collections::BTreeSet::new();
    for t in &tokens {
        let err = verify_token(&cfg(), t, NOW).unwrap_err();
        codes.insert(err.code());
        let msg = err.to_string();
        assert!(!msg.contains(t.as_str()), "{msg}");
        for seg in t.split('.').filter(|s| s.len() > 8) {
            assert!(!msg.contains(seg), "segment echoed: {msg}");
        }
        assert!(!msg.contains(&secret_text), "{msg}");
        assert!(msg.len() < 300, "{msg}");
        assert!(msg.chars().next().unwrap().is_lowercase(), "{msg}");
    }
    assert_eq!(
        codes.len(),
        tokens.len(),
        "one distinct cause per token: {codes:?}"
    );
    let err = verify_token(&cfg(), &tokens[4], NOW).unwrap_err();
    match err {
        IdentityError::UnknownKid { kid } => assert_eq!(kid, format!("{}…", "k".repeat(64))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn caller_serializes() {
    let v = serde_json::to_value(expected_caller()).unwrap();
    assert_eq!(
        v,
        json!({
            "agent_id": "deploy-agent-1",
            "agent_name": "Deploy Agent",
            "roles": ["deployer", "reader"],
            "groups": ["platform"],
            "signed": true,
        })
    );
}

// ---------------------------------------------------------------- properties

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| b64(&b)),
        "[A-Za-z0-9_=+/.-]{0,40}",
        Just("eyJhbGciOiJIUzI1NiJ9".to_owned()),
        Just("eyJhbGciOiJub25lIn0".to_owned()),
        Just(String::new()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::from("deploy-agent-1")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verify_never_panics_on_arbitrary_strings(s in "\\PC*", now in any::<i64>()) {
        let _ = verify_token(&cfg(), &s, now);
        let _ = resolve_caller(&cfg(), Some(&s), now);
    }

    #[test]
    fn verify_never_panics_on_dot_joined_segments(
        segs in proptest::collection::vec(segment(), 0..6),
        now in any::<i64>(),
    ) {
        let token = segs.join(".");
        let _ = verify_token(&cfg(), &token, now);
        let _ = verify_token(&cfg_rotation(), &token, now);
        let _ = resolve_caller(&cfg(), Some(&token), now);
    }

    #[test]
    fn verify_never_panics_on_signed_arbitrary_claims(
        agent_id in json_value(),
        exp in prop_oneof![any::<i64>().prop_map(Value::from), json_value()],
        iat in prop_oneof![any::<i64>().prop_map(Value::from), json_value()],
        nbf in prop::option::of(prop_oneof![any::<i64>().prop_map(Value::from), json_value()]),
        extra in json_value(),
        leeway in 0u64..=300,
        now in any::<i64>(),
    ) {
        let mut c = json!({"agent_id": agent_id, "exp": exp, "iat": iat, "roles": extra});
        if let Some(nbf) = nbf {
            c = with(c, "nbf", nbf);
        }
        let token = sign(&hdr(), &c, SECRET_A);
        let cfg = IdentityConfig { leeway_seconds: leeway, ..cfg() };
        if let Err(e) = verify_token(&cfg, &token, now) {
            let _ = e.to_string();
        }
    }

    #[test]
    fn minted_tokens_verify_until_expiry(
        ttl in 1u64..100_000,
        now in -1_000_000_000i64..4_000_000_000,
        id in "[A-Za-z0-9][A-Za-z0-9._:@/-]{0,40}",
    ) {
        let req = MintRequest { agent_id: id.clone(), ttl_seconds: ttl, ..mint_req(None) };
        let token = mint_token(&cfg(), &req, now).unwrap();
        let caller = verify_token(&cfg(), &token, now).unwrap();
        prop_assert_eq!(caller.agent_id, id);
        prop_assert!(caller.signed);
        let exp = now + i64::try_from(ttl).unwrap();
        let expired = verify_token(&cfg(), &token, exp + 30);
        prop_assert!(matches!(expired, Err(IdentityError::Expired { .. })), "{:?}", expired);
    }
}
