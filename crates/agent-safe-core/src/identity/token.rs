//! Verifying and minting HS256 JWTs. The rules are in the module docs of
//! [`crate::identity`].

use std::collections::HashSet;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::jwks::{Jwk, KeyAlgorithm};
use super::{
    AGENT_ID_RULE, Caller, IdentityConfig, IdentityError, KubernetesIdentity, MAX_TOKEN_BYTES,
    MintRequest, SigningKey, TrustedIssuer, agent_id_problem, check_agent_id, provider, sanitize,
};

/// Verifies a JWT and returns the signed [`Caller`] it names.
///
/// `now_unix` is the evaluation time in Unix seconds (the engine's clock).
/// See the [module docs](crate::identity) for the algorithm, key selection
/// (`kid`), claim, issuer/audience and time rules.
///
/// # Errors
/// One [`IdentityError`] per cause: shape problems
/// ([`Malformed`](IdentityError::Malformed)), the algorithm, the key
/// (`UnknownKid`, `NoKeyConfigured`, `BadSignature`), the claims
/// (`MissingClaim`, `InvalidClaim`, `WrongIssuer`, `WrongAudience`), time
/// (`Expired`, `NotYetValid`, `IssuedInFuture`), or the configuration
/// ([`IdentityConfig::validate`]). Never panics.
pub fn verify_token(
    cfg: &IdentityConfig,
    token: &str,
    now_unix: i64,
) -> Result<Caller, IdentityError> {
    provider::ensure_installed()?;
    cfg.validate()?;

    // --- shape, before any key is involved ---
    if token.is_empty() {
        return Err(IdentityError::malformed("the token is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(IdentityError::malformed(format!(
            "the token is {} bytes; the limit is {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(IdentityError::malformed(format!(
            "expected 3 `.`-separated segments (header.claims.signature), found {}",
            token.split('.').count()
        )));
    };

    let header = decode_object(Part::Header, header_b64)?;
    let alg = match header.get("alg") {
        None => return Err(IdentityError::malformed("the header has no `alg`")),
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(IdentityError::malformed("the header `alg` is not a string")),
    };
    let asymmetric = KeyAlgorithm::from_name(alg);
    if cfg.issuers.is_empty() {
        if alg != "HS256" {
            return Err(IdentityError::WrongAlgorithm { alg: sanitize(alg) });
        }
    } else if (alg == "HS256" && cfg.keys.is_empty()) || (alg != "HS256" && asymmetric.is_none()) {
        let allowed = if cfg.keys.is_empty() {
            "RS256, ES256 or EdDSA"
        } else {
            "HS256, RS256, ES256 or EdDSA"
        };
        return Err(IdentityError::AlgorithmNotAccepted {
            alg: sanitize(alg),
            allowed: allowed.to_owned(),
        });
    }
    if header.contains_key("crit") {
        return Err(IdentityError::malformed(
            "the header has a `crit` parameter; no JWS extensions are supported",
        ));
    }
    // Keys come from the configuration only: a token that brings its own key
    // (or says where to fetch one) is refused outright, whatever it is signed with.
    for param in ["jwk", "jku", "x5u", "x5c"] {
        if header.contains_key(param) {
            return Err(IdentityError::KeyInHeader {
                param: param.to_owned(),
            });
        }
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(IdentityError::malformed("the header `kid` is not a string")),
    };
    let unverified_claims = decode_object(Part::Claims, claims_b64)?;
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature_b64) else {
        return Err(IdentityError::malformed(
            "the signature is not valid base64url",
        ));
    };
    if let Some(alg) = asymmetric {
        let signing_input = token
            .get(..header_b64.len() + 1 + claims_b64.len())
            .unwrap_or_default();
        return verify_asymmetric(
            cfg,
            &Signed {
                alg,
                kid,
                signing_input: signing_input.as_bytes(),
                signature: &signature,
                claims: &unverified_claims,
            },
            now_unix,
        );
    }

    // --- key selection ---
    if cfg.keys.is_empty() {
        return Err(IdentityError::NoKeyConfigured);
    }
    let candidates: Vec<&SigningKey> = match kid {
        Some(kid) => {
            let found: Vec<&SigningKey> = cfg
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect();
            if found.is_empty() {
                return Err(IdentityError::UnknownKid { kid: sanitize(kid) });
            }
            found
        }
        None => cfg.keys.iter().collect(),
    };

    // --- signature (jsonwebtoken, HS256 only), then claims decoding ---
    let validation = pinned_validation();
    let mut verified: Option<StrictObject> = None;
    for key in candidates {
        // Every candidate is tried, even after a match, so the time taken does
        // not depend on which key matched.
        match jsonwebtoken::decode::<StrictObject>(
            token,
            &DecodingKey::from_secret(&key.secret),
            &validation,
        ) {
            Ok(data) => {
                if verified.is_none() {
                    verified = Some(data.claims);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
            Err(e) => return Err(map_decode_error(e.kind())),
        }
    }
    let claims = verified.ok_or(IdentityError::BadSignature)?;
    if let Some(dup) = claims.duplicate {
        return Err(Part::Claims.repeated(&dup));
    }
    check_claims(cfg, &claims.map, now_unix)
}

/// `Validation` for jsonwebtoken: the algorithm list is exactly `[HS256]` and
/// signature verification is always on (jsonwebtoken has no switch to turn
/// it off in `decode`). Its time, audience and required-claim checks are off:
/// they read the system clock or skip types, and are done by `check_claims`
/// against the injected clock instead.
fn pinned_validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.algorithms = vec![Algorithm::HS256];
    v.required_spec_claims = HashSet::new();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v.reject_tokens_expiring_in_less_than = 0;
    v.iss = None;
    v.sub = None;
    v.aud = None;
    v
}

/// Maps a jsonwebtoken error other than `InvalidSignature`. Our own shape
/// checks run first, so these are unexpected; they all fail closed.
fn map_decode_error(kind: &ErrorKind) -> IdentityError {
    match kind {
        ErrorKind::InvalidSignature => IdentityError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => IdentityError::WrongAlgorithm {
            alg: "unsupported".to_owned(),
        },
        ErrorKind::InvalidKeyFormat | ErrorKind::MissingAlgorithm | ErrorKind::Provider(_) => {
            IdentityError::CryptoUnavailable {
                reason: "the crypto provider could not verify an HS256 signature".to_owned(),
            }
        }
        _ => IdentityError::malformed("the token's header or claims could not be decoded"),
    }
}

/// Which segment [`decode_object`] is decoding, for its messages.
#[derive(Clone, Copy)]
enum Part {
    Header,
    Claims,
}

impl Part {
    fn not_base64(self) -> &'static str {
        match self {
            Part::Header => "the header is not valid base64url",
            Part::Claims => "the claims are not valid base64url",
        }
    }

    fn not_object(self) -> &'static str {
        match self {
            Part::Header => "the header is not a JSON object",
            Part::Claims => "the claims are not a JSON object",
        }
    }

    fn repeated(self, name: &str) -> IdentityError {
        let name = sanitize(name);
        IdentityError::malformed(match self {
            Part::Header => format!("the header repeats the parameter `{name}`"),
            Part::Claims if name.contains('.') => {
                format!("the claims repeat the member `{name}`")
            }
            Part::Claims => format!("the claims repeat the claim `{name}`"),
        })
    }
}

/// Decodes one base64url segment holding a JSON object, refusing repeated
/// member names.
fn decode_object(part: Part, segment: &str) -> Result<Map<String, Value>, IdentityError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| IdentityError::malformed(part.not_base64()))?;
    let obj: StrictObject =
        serde_json::from_slice(&bytes).map_err(|_| IdentityError::malformed(part.not_object()))?;
    match obj.duplicate {
        Some(dup) => Err(part.repeated(&dup)),
        None => Ok(obj.map),
    }
}

/// A JSON object whose first repeated member name (if any), at any depth,
/// is recorded instead of the usual "last one wins": two readers of the same
/// token must never see different claims. A nested repeat is named by its
/// path, e.g. `ext.tier`.
struct StrictObject {
    map: Map<String, Value>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<StrictObject, A::Error> {
                strict_map(access)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn strict_map<'de, A: MapAccess<'de>>(mut access: A) -> Result<StrictObject, A::Error> {
    let mut map = Map::new();
    let mut duplicate = None;
    while let Some(key) = access.next_key::<String>()? {
        let value: StrictValue = access.next_value()?;
        if duplicate.is_none()
            && let Some(inner) = value.duplicate
        {
            duplicate = Some(format!("{key}.{inner}"));
        }
        if map.contains_key(&key) {
            duplicate.get_or_insert(key);
        } else {
            map.insert(key, value.value);
        }
    }
    Ok(StrictObject { map, duplicate })
}

/// Any JSON value, with the path of its first repeated member name.
struct StrictValue {
    value: Value,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        fn plain(value: Value) -> StrictValue {
            StrictValue {
                value,
                duplicate: None,
            }
        }
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = StrictValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
                Ok(plain(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<StrictValue, E> {
                Ok(plain(Value::Null))
            }
            fn visit_none<E>(self) -> Result<StrictValue, E> {
                Ok(plain(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
                let mut items = Vec::new();
                let mut duplicate = None;
                while let Some(item) = seq.next_element::<StrictValue>()? {
                    if duplicate.is_none() {
                        duplicate = item.duplicate.map(|d| format!("{}.{d}", items.len()));
                    }
                    items.push(item.value);
                }
                Ok(StrictValue {
                    value: Value::Array(items),
                    duplicate,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<StrictValue, A::Error> {
                let obj = strict_map(access)?;
                Ok(StrictValue {
                    value: Value::Object(obj.map),
                    duplicate: obj.duplicate,
                })
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Checks the claims of a token whose signature verified, and builds the caller.
fn check_claims(
    cfg: &IdentityConfig,
    claims: &Map<String, Value>,
    now_unix: i64,
) -> Result<Caller, IdentityError> {
    let agent_id = required_string(claims, "agent_id")?;
    if let Some(problem) = agent_id_problem(agent_id) {
        return Err(IdentityError::invalid_claim(
            "agent_id",
            format!("{problem}; agent ids must match `{AGENT_ID_RULE}`"),
        ));
    }
    let exp = required_int(claims, "exp")?;
    let iat = required_int(claims, "iat")?;
    let nbf = optional_int(claims, "nbf")?;
    let agent_name = optional_string(claims, "agent_name")?;
    let roles = optional_string_array(claims, "roles")?;
    let groups = optional_string_array(claims, "groups")?;
    let iss = optional_string(claims, "iss")?;
    let aud = optional_audience(claims)?;

    if let Some(expected) = &cfg.issuer {
        match iss {
            None => return Err(IdentityError::missing_claim("iss")),
            Some(found) if found != expected => {
                return Err(IdentityError::WrongIssuer {
                    expected: expected.clone(),
                    found: sanitize(found),
                });
            }
            Some(_) => {}
        }
    }
    if let Some(expected) = &cfg.audience {
        match aud {
            None => return Err(IdentityError::missing_claim("aud")),
            Some(list) if !list.iter().any(|a| *a == expected) => {
                return Err(IdentityError::WrongAudience {
                    expected: expected.clone(),
                });
            }
            Some(_) => {}
        }
    }

    check_times(cfg.leeway_seconds, exp, iat, nbf, now_unix)?;

    Ok(Caller {
        agent_id: agent_id.to_owned(),
        agent_name: agent_name.map(str::to_owned),
        roles: roles.unwrap_or_default(),
        groups: groups.unwrap_or_default(),
        signed: true,
        kubernetes: None,
    })
}

/// The `exp`, `nbf` and `iat` rules of the module docs.
fn check_times(
    leeway: u64,
    exp: i64,
    iat: i64,
    nbf: Option<i64>,
    now_unix: i64,
) -> Result<(), IdentityError> {
    // i128: no overflow for any i64 claim and u64 leeway.
    let now = i128::from(now_unix);
    let slack = i128::from(leeway);
    if now >= i128::from(exp) + slack {
        return Err(IdentityError::Expired {
            exp,
            now: now_unix,
            leeway,
        });
    }
    if let Some(nbf) = nbf
        && now < i128::from(nbf) - slack
    {
        return Err(IdentityError::NotYetValid {
            nbf,
            now: now_unix,
            leeway,
        });
    }
    if i128::from(iat) > now + slack {
        return Err(IdentityError::IssuedInFuture {
            iat,
            now: now_unix,
            leeway,
        });
    }
    if exp <= iat {
        return Err(IdentityError::invalid_claim(
            "exp",
            "it must be later than `iat`",
        ));
    }

    Ok(())
}

/// The parts of an asymmetric token that [`verify_asymmetric`] needs.
struct Signed<'a> {
    alg: KeyAlgorithm,
    kid: Option<&'a str>,
    signing_input: &'a [u8],
    signature: &'a [u8],
    claims: &'a Map<String, Value>,
}

/// Verifies an RS256 / ES256 / EdDSA token against the keys of the issuer
/// its `iss` names, then its claims.
fn verify_asymmetric(
    cfg: &IdentityConfig,
    token: &Signed<'_>,
    now_unix: i64,
) -> Result<Caller, IdentityError> {
    // The unverified `iss` only selects whose keys to try; nothing else is
    // believed before the signature verifies with one of them.
    let iss = required_string(token.claims, "iss")?;
    let Some(issuer) = cfg.issuers.iter().find(|i| i.issuer == iss) else {
        return Err(IdentityError::UntrustedIssuer {
            found: sanitize(iss),
        });
    };
    let mut jwks = issuer.keys.keys(&issuer.issuer)?;
    if let Some(kid) = token.kid
        && jwks.candidates(Some(kid)).is_empty()
    {
        // Key rotation: a new kid may have been published since our copy.
        jwks = issuer.keys.keys_after_unknown_kid(&issuer.issuer)?;
        if jwks.candidates(Some(kid)).is_empty() {
            return Err(match jwks.skipped_reason(kid) {
                Some(reason) => IdentityError::KeyUnusable {
                    kid: sanitize(kid),
                    reason: reason.to_owned(),
                },
                None => IdentityError::UnknownKid { kid: sanitize(kid) },
            });
        }
    }
    let candidates: Vec<&Jwk> = jwks.candidates(token.kid);
    let usable: Vec<&Jwk> = candidates
        .iter()
        .copied()
        .filter(|k| k.alg == token.alg)
        .collect();
    if usable.is_empty() {
        return Err(match (token.kid, candidates.first()) {
            (Some(kid), Some(key)) => IdentityError::AlgorithmMismatch {
                kid: sanitize(kid),
                key_alg: key.alg.name().to_owned(),
                token_alg: token.alg.name().to_owned(),
            },
            _ => IdentityError::AlgorithmNotAccepted {
                alg: token.alg.name().to_owned(),
                allowed: format!("the algorithms of the keys of issuer `{}`", issuer.issuer),
            },
        });
    }
    if !usable
        .iter()
        .any(|k| k.verify(token.signing_input, token.signature))
    {
        return Err(IdentityError::BadSignature);
    }
    check_asymmetric_claims(cfg, issuer, token.claims, now_unix)
}

/// The `sub` prefix of Kubernetes ServiceAccount tokens.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Checks the claims of a verified asymmetric token and builds the caller.
fn check_asymmetric_claims(
    cfg: &IdentityConfig,
    issuer: &TrustedIssuer,
    claims: &Map<String, Value>,
    now_unix: i64,
) -> Result<Caller, IdentityError> {
    let exp = required_int(claims, "exp")?;
    let iat = required_int(claims, "iat")?;
    let nbf = optional_int(claims, "nbf")?;
    match optional_audience(claims)? {
        None => return Err(IdentityError::missing_claim("aud")),
        Some(list) if !list.iter().any(|a| *a == issuer.audience) => {
            return Err(IdentityError::WrongAudience {
                expected: issuer.audience.clone(),
            });
        }
        Some(_) => {}
    }
    check_times(cfg.leeway_seconds, exp, iat, nbf, now_unix)?;

    let sub = optional_string(claims, "sub")?;
    if let Some(rest) = sub.and_then(|s| s.strip_prefix(SERVICE_ACCOUNT_PREFIX)) {
        let k8s = service_account_identity(rest, claims)?;
        let (roles, groups) = cfg
            .kubernetes
            .roles_and_groups(&k8s.namespace, &k8s.service_account);
        let agent_id = sub.unwrap_or_default();
        if let Some(problem) = agent_id_problem(agent_id) {
            return Err(IdentityError::invalid_claim(
                "sub",
                format!("{problem}; agent ids must match `{AGENT_ID_RULE}`"),
            ));
        }
        return Ok(Caller {
            agent_id: agent_id.to_owned(),
            agent_name: None,
            roles,
            groups,
            signed: true,
            kubernetes: Some(k8s),
        });
    }

    let (claim, agent_id) = match optional_string(claims, "agent_id")? {
        Some(id) => ("agent_id", id),
        None => ("sub", required_string(claims, "sub")?),
    };
    if let Some(problem) = agent_id_problem(agent_id) {
        return Err(IdentityError::invalid_claim(
            claim,
            format!("{problem}; agent ids must match `{AGENT_ID_RULE}`"),
        ));
    }
    Ok(Caller {
        agent_id: agent_id.to_owned(),
        agent_name: optional_string(claims, "agent_name")?.map(str::to_owned),
        roles: optional_string_array(claims, "roles")?.unwrap_or_default(),
        groups: optional_string_array(claims, "groups")?.unwrap_or_default(),
        signed: true,
        kubernetes: None,
    })
}

/// The ServiceAccount of `sub: system:serviceaccount:NS:NAME` (`rest` is
/// `NS:NAME`), cross-checked with the `kubernetes.io` claim when present.
fn service_account_identity(
    rest: &str,
    claims: &Map<String, Value>,
) -> Result<KubernetesIdentity, IdentityError> {
    let bad_sub = || {
        IdentityError::invalid_claim(
            "sub",
            "a ServiceAccount subject must be `system:serviceaccount:NAMESPACE:NAME`",
        )
    };
    let (namespace, name) = rest.split_once(':').ok_or_else(bad_sub)?;
    if namespace.is_empty() || name.is_empty() || name.contains(':') {
        return Err(bad_sub());
    }
    let mut id = KubernetesIdentity {
        namespace: namespace.to_owned(),
        service_account: name.to_owned(),
        service_account_uid: None,
        pod: None,
        pod_uid: None,
    };
    let Some(k8s) = claims.get("kubernetes.io") else {
        return Ok(id);
    };
    let claim = "kubernetes.io";
    let Value::Object(k8s) = k8s else {
        return Err(IdentityError::invalid_claim(claim, "it must be an object"));
    };
    let text = |obj: &Map<String, Value>, key: &str| -> Result<Option<String>, IdentityError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(IdentityError::invalid_claim(
                claim,
                format!("its `{key}` must be a string"),
            )),
        }
    };
    let object = |key: &str| -> Result<Option<&Map<String, Value>>, IdentityError> {
        match k8s.get(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(IdentityError::invalid_claim(
                claim,
                format!("its `{key}` must be an object"),
            )),
        }
    };
    if text(k8s, "namespace")?.is_some_and(|ns| ns != namespace) {
        return Err(IdentityError::invalid_claim(
            claim,
            "its `namespace` differs from the namespace in `sub`",
        ));
    }
    if let Some(sa) = object("serviceaccount")? {
        if text(sa, "name")?.is_some_and(|n| n != name) {
            return Err(IdentityError::invalid_claim(
                claim,
                "its `serviceaccount.name` differs from the name in `sub`",
            ));
        }
        id.service_account_uid = text(sa, "uid")?;
    }
    if let Some(pod) = object("pod")? {
        id.pod = text(pod, "name")?;
        id.pod_uid = text(pod, "uid")?;
    }
    Ok(id)
}

/// "a string", "an array", … for error messages (never the value itself).
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_string<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, IdentityError> {
    match optional_string(claims, name)? {
        None => Err(IdentityError::missing_claim(name)),
        Some(s) => Ok(s),
    }
}

fn optional_string<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(IdentityError::invalid_claim(
            name,
            format!("it must be a string, found {}", type_name(other)),
        )),
    }
}

fn required_int(claims: &Map<String, Value>, name: &str) -> Result<i64, IdentityError> {
    optional_int(claims, name)?.ok_or_else(|| IdentityError::missing_claim(name))
}

fn optional_int(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            None if n.is_u64() => Err(IdentityError::invalid_claim(name, "it is out of range")),
            None => Err(IdentityError::invalid_claim(
                name,
                "it must be a whole number of seconds since the Unix epoch, found a fractional number",
            )),
        },
        Some(other) => Err(IdentityError::invalid_claim(
            name,
            format!(
                "it must be an integer (seconds since the Unix epoch), found {}",
                type_name(other)
            ),
        )),
    }
}

fn optional_string_array(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(IdentityError::invalid_claim(
                    name,
                    format!(
                        "it must be an array of strings, found an array containing {}",
                        type_name(other)
                    ),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(IdentityError::invalid_claim(
            name,
            format!("it must be an array of strings, found {}", type_name(other)),
        )),
    }
}

/// `aud`: a string, or an array of strings (RFC 7519 §4.1.3).
fn optional_audience(claims: &Map<String, Value>) -> Result<Option<Vec<&str>>, IdentityError> {
    const RULE: &str = "it must be a string or an array of strings";
    match claims.get("aud") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.as_str()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(IdentityError::invalid_claim(
                    "aud",
                    format!("{RULE}, found an array containing {}", type_name(other)),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(IdentityError::invalid_claim(
            "aud",
            format!("{RULE}, found {}", type_name(other)),
        )),
    }
}

/// Mints an HS256 token for `req`.
///
/// Claims: `agent_id`, `agent_name` (when set), `roles`, `groups`,
/// `iat = now_unix`, `exp = now_unix + ttl_seconds`, and `iss`/`aud` from the
/// configuration when set. Signed with the key whose `kid` is `req.kid`, or
/// the first configured key when `req.kid` is `None`; the header carries that
/// key's `kid` when it has one. The result verifies with [`verify_token`]
/// under the same configuration until it expires.
///
/// # Errors
/// [`IdentityError::InvalidAgentId`] for a bad `agent_id`;
/// [`IdentityError::InvalidClaim`] (`exp`) for a zero or overflowing
/// `ttl_seconds`; [`IdentityError::NoKeyConfigured`] /
/// [`IdentityError::UnknownKid`] when there is no such key; configuration
/// errors from [`IdentityConfig::validate`].
pub fn mint_token(
    cfg: &IdentityConfig,
    req: &MintRequest,
    now_unix: i64,
) -> Result<String, IdentityError> {
    provider::ensure_installed()?;
    cfg.validate()?;
    check_agent_id(&req.agent_id)?;
    if req.ttl_seconds == 0 {
        return Err(IdentityError::invalid_claim(
            "exp",
            "the lifetime (ttl_seconds) must be at least 1 second",
        ));
    }
    let exp = i64::try_from(req.ttl_seconds)
        .ok()
        .and_then(|ttl| now_unix.checked_add(ttl))
        .ok_or_else(|| IdentityError::invalid_claim("exp", "now + ttl_seconds is out of range"))?;
    let key = match &req.kid {
        _ if cfg.keys.is_empty() => return Err(IdentityError::NoKeyConfigured),
        Some(kid) => cfg
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid.as_str()))
            .ok_or_else(|| IdentityError::UnknownKid { kid: sanitize(kid) })?,
        None => cfg.keys.first().ok_or(IdentityError::NoKeyConfigured)?,
    };

    let mut claims = Map::new();
    claims.insert("agent_id".to_owned(), Value::from(req.agent_id.as_str()));
    if let Some(name) = &req.agent_name {
        claims.insert("agent_name".to_owned(), Value::from(name.as_str()));
    }
    claims.insert("roles".to_owned(), Value::from(req.roles.clone()));
    claims.insert("groups".to_owned(), Value::from(req.groups.clone()));
    claims.insert("iat".to_owned(), Value::from(now_unix));
    claims.insert("exp".to_owned(), Value::from(exp));
    if let Some(iss) = &cfg.issuer {
        claims.insert("iss".to_owned(), Value::from(iss.as_str()));
    }
    if let Some(aud) = &cfg.audience {
        claims.insert("aud".to_owned(), Value::from(aud.as_str()));
    }

    let mut header = Header::new(Algorithm::HS256);
    header.kid = key.kid.clone();
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key.secret)).map_err(|_| {
        IdentityError::Signing {
            reason: "the HS256 signer failed".to_owned(),
        }
    })
}

/// The `kid` in a token's header, when the token has a readable header that
/// names one. It says nothing about the token's validity: call it only on a
/// token [`verify_token`] accepted (the audit log records it).
pub(crate) fn token_kid(token: &str) -> Option<String> {
    let header_b64 = token.split('.').next()?;
    let header = decode_object(Part::Header, header_b64).ok()?;
    match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        _ => None,
    }
}
