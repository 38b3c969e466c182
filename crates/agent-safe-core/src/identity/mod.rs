//! Caller identity: plain agent ids, HS256 JWTs, and asymmetric (RS256,
//! ES256, EdDSA) JWTs of trusted issuers such as a Kubernetes cluster's
//! ServiceAccount token issuer.
//!
//! A caller presents either nothing (anonymous), a plain agent id (unsigned),
//! or a JWT in JWS compact form. [`resolve_caller`] turns that input into a
//! [`Caller`]; [`verify_token`] verifies a JWT; [`mint_token`] issues one.
//! Every function takes the current time as Unix seconds (`now_unix`) from the
//! engine's clock: nothing here reads the system clock.
//!
//! # Asymmetric tokens
//!
//! With [`IdentityConfig::issuers`] set, RS256, ES256 and EdDSA tokens are
//! verified against the keys of the issuer their `iss` names (a JWKS file,
//! cached and reloaded by [`JwksCache`]); each key is pinned to one
//! algorithm; `iss`, `aud`, `exp` and `iat` are required; a header with
//! `jwk`, `jku`, `x5u` or `x5c` is refused ([`IdentityError::KeyInHeader`]);
//! a `sub` of `system:serviceaccount:NS:NAME` is a ServiceAccount caller
//! whose roles and groups come from [`IdentityConfig::kubernetes`]. The rules
//! are in `docs/IDENTITY.md`. The HS256 rules below are unchanged; HS256
//! tokens are only ever checked against the HS256 secrets.
//!
//! # HS256 token rules
//!
//! * **Algorithm**: without issuers, the header `alg` must be exactly
//!   `HS256`; `none`, `HS384`, `HS512`, `RS256`, `ES256`, … are
//!   [`IdentityError::WrongAlgorithm`] (with issuers configured,
//!   [`IdentityError::AlgorithmNotAccepted`] names the accepted ones). A
//!   `crit` header parameter is refused (we implement no JWS extensions).
//! * **Keys and `kid`** (key rotation):
//!   - header has `kid` → verified with the configured key of exactly that
//!     `kid` and no other; a `kid` that is not configured is
//!     [`IdentityError::UnknownKid`].
//!   - header has no `kid` → tried against *every* configured key (with or
//!     without a `kid`); any match verifies it. Every candidate is checked
//!     (no early exit) and each comparison is constant-time.
//!   - no key configured → [`IdentityError::NoKeyConfigured`].
//! * **Claims** — required: `agent_id` (non-empty string following the agent
//!   id rule below), `exp` and `iat` (integers, Unix seconds; a string or a
//!   fraction is [`IdentityError::InvalidClaim`], never silently skipped).
//!   Optional: `agent_name` (string), `roles` and `groups` (arrays of
//!   strings), `nbf` (integer), `iss` (string), `aud` (string or array of
//!   strings, RFC 7519 §4.1.3). Optional claims are type-checked whenever they
//!   are present (`null` is a wrong type, not "absent"). Unknown claims are
//!   ignored. A claim name repeated in the JSON object is
//!   [`IdentityError::Malformed`] (no "last one wins").
//! * **Issuer / audience**: checked only when [`IdentityConfig::issuer`] /
//!   [`IdentityConfig::audience`] is set, and then required: `iss` must equal
//!   the issuer; `aud` must be, or contain, the audience. When not configured
//!   they are ignored (but still type-checked).
//! * **Time**, with `leeway = IdentityConfig::leeway_seconds` (default 30 s,
//!   at most [`MAX_LEEWAY_SECONDS`]):
//!   - expired when `now >= exp + leeway` ([`IdentityError::Expired`]);
//!   - not yet valid when `now < nbf - leeway` ([`IdentityError::NotYetValid`]);
//!   - **`iat` in the future is rejected** when `iat > now + leeway`
//!     ([`IdentityError::IssuedInFuture`]): a token minted "later" means a
//!     broken clock or a token prepared in advance, and accepting it would let
//!     its real lifetime exceed what `exp - iat` suggests;
//!   - `exp` must be later than `iat` ([`IdentityError::InvalidClaim`]).
//!
//!   Checked in that order after the signature, the claim types, the issuer
//!   and the audience. Claim problems are only reported for tokens whose
//!   signature verified; before that only shape errors (segments, base64url,
//!   JSON, header) are reported.
//! * **Size**: tokens longer than [`MAX_TOKEN_BYTES`] are malformed.
//!
//! `jsonwebtoken` does the header/claims decoding and the signature check,
//! with `Validation` pinned to `[HS256]`. Its own time checks are turned off
//! because they read the system clock; `exp`/`nbf`/`iat` are checked here
//! against `now_unix`, with explicit types. The crypto backend is the
//! HS256-only provider in this module, installed once per process.
//!
//! # Agent ids
//!
//! Plain agent ids (and the `agent_id` claim) must match
//! `^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,252}$` ([`AGENT_ID_RULE`]).
//! [`resolve_caller`] treats any input that [`looks_like_jwt`], or that starts
//! with `eyJ` and contains a `.`, as a token attempt: a damaged token is
//! reported as malformed instead of being downgraded to an unsigned plain id.
//!
//! # Secrets
//!
//! HS256 secrets must be at least [`MIN_SECRET_BYTES`] (32) bytes: shorter
//! keys are brute-forceable offline from any captured token. Degenerate
//! secrets (all zero, a short block repeated, a counter; see
//! [`weak_secret_problem`]) are refused too: they are placeholders, and
//! whoever guesses the placeholder can mint tokens.
//! [`IdentityConfig::validate`] enforces this (and unique `kid`s); it runs
//! on every [`verify_token`] and [`mint_token`] call too, so a weak
//! configuration fails closed, but the configuration loader should call it
//! at load time to report the problem early.

mod error;
mod issuer;
mod jwks;
mod provider;
mod secret;
mod token;

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

pub use error::IdentityError;
pub use issuer::{
    CacheSettings, DEFAULT_MAX_STALE_SECONDS, DEFAULT_MIN_REFETCH_SECONDS, DEFAULT_REFRESH_SECONDS,
    DISCOVERY_TIMEOUT, JwksCache, KeySource, MAX_JWKS_BYTES, TrustedIssuer,
};
pub use jwks::{Jwk, Jwks, KeyAlgorithm, MAX_JWKS_KEYS, MIN_RSA_BITS, SkippedKey};
pub use secret::{GENERATED_SECRET_BYTES, decode_secret, generate_secret};
pub(crate) use token::token_kid;
pub use token::{mint_token, verify_token};

/// Default clock leeway for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

/// Largest accepted [`IdentityConfig::leeway_seconds`] (5 minutes): a larger
/// leeway would quietly extend every token's lifetime.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

/// Minimum HS256 secret length in bytes (the HMAC-SHA256 output size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Longest token accepted, in bytes. Longer input is malformed.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The agent id rule, as a regular expression.
pub const AGENT_ID_RULE: &str = "^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,252}$";

/// Longest agent id, in bytes.
pub const MAX_AGENT_ID_BYTES: usize = 253;

/// One HS256 key. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, matched against the token header's `kid`.
    pub kid: Option<String>,
    /// The raw secret bytes (at least [`MIN_SECRET_BYTES`]).
    pub secret: Vec<u8>,
}

impl SigningKey {
    /// A key from raw secret bytes.
    pub fn new(kid: Option<String>, secret: Vec<u8>) -> Self {
        SigningKey { kid, secret }
    }

    /// A key from an encoded secret, as accepted by [`decode_secret`].
    ///
    /// # Errors
    /// Whatever [`decode_secret`] returns.
    pub fn from_encoded(kid: Option<String>, encoded: &str) -> Result<Self, IdentityError> {
        Ok(SigningKey {
            kid,
            secret: decode_secret(encoded)?,
        })
    }

    /// How errors name this key: ``key `kid` `` or `key #n` (1-based index).
    fn describe(&self, index: usize) -> String {
        match &self.kid {
            Some(kid) => format!("key `{}`", sanitize(kid)),
            None => format!("key #{}", index.saturating_add(1)),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field(
                "secret",
                &format_args!("<redacted, {} bytes>", self.secret.len()),
            )
            .finish()
    }
}

/// The `identity` section of the configuration.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Verification keys; the first one also signs by default in [`mint_token`].
    pub keys: Vec<SigningKey>,
    /// When set, tokens must carry `iss` equal to it.
    pub issuer: Option<String>,
    /// When set, tokens must carry an `aud` that is or contains it.
    pub audience: Option<String>,
    /// Clock leeway for `exp`, `nbf` and `iat` (default 30, at most
    /// [`MAX_LEEWAY_SECONDS`]).
    pub leeway_seconds: u64,
    /// Refuse anonymous callers and plain agent ids: only verified tokens.
    pub require_signed: bool,
    /// Issuers of asymmetric (RS256, ES256, EdDSA) tokens, with their keys.
    pub issuers: Vec<TrustedIssuer>,
    /// Roles and groups of Kubernetes ServiceAccount callers.
    pub kubernetes: KubernetesMapping,
}

/// Roles and groups given to a ServiceAccount, or to every ServiceAccount of
/// a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesBinding {
    /// The namespace.
    pub namespace: String,
    /// The ServiceAccount name (`None` in a namespace binding).
    pub service_account: Option<String>,
    /// Roles given.
    pub roles: Vec<String>,
    /// Groups given.
    pub groups: Vec<String>,
}

/// `identity.kubernetes`: how ServiceAccount tokens map to roles and groups.
/// A ServiceAccount gets the roles and groups of its own binding and of its
/// namespace's binding (union, in that order, without repeats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesMapping {
    /// Bindings of one ServiceAccount each.
    pub service_accounts: Vec<KubernetesBinding>,
    /// Bindings of every ServiceAccount of a namespace.
    pub namespaces: Vec<KubernetesBinding>,
}

impl KubernetesMapping {
    /// The roles and groups of ServiceAccount `namespace/name`.
    pub fn roles_and_groups(&self, namespace: &str, name: &str) -> (Vec<String>, Vec<String>) {
        let mut roles: Vec<String> = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        let by_sa = self
            .service_accounts
            .iter()
            .filter(|b| b.namespace == namespace && b.service_account.as_deref() == Some(name));
        let by_ns = self.namespaces.iter().filter(|b| b.namespace == namespace);
        for b in by_sa.chain(by_ns) {
            for r in &b.roles {
                if !roles.contains(r) {
                    roles.push(r.clone());
                }
            }
            for g in &b.groups {
                if !groups.contains(g) {
                    groups.push(g.clone());
                }
            }
        }
        (roles, groups)
    }
}

/// The Kubernetes identity behind a ServiceAccount token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubernetesIdentity {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The ServiceAccount's uid, from the `kubernetes.io` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_uid: Option<String>,
    /// The pod the token was issued to, from the `kubernetes.io` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The pod's uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            keys: Vec::new(),
            issuer: None,
            audience: None,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            require_signed: false,
            issuers: Vec::new(),
            kubernetes: KubernetesMapping::default(),
        }
    }
}

impl IdentityConfig {
    /// Checks the configuration: every secret at least [`MIN_SECRET_BYTES`]
    /// and not degenerate ([`weak_secret_problem`]), `kid`s non-empty and unique, `issuer`/`audience` non-empty when set,
    /// leeway at most [`MAX_LEEWAY_SECONDS`]. `require_signed` with no key is
    /// allowed (every caller is then refused).
    ///
    /// # Errors
    /// The first problem found: [`IdentityError::SecretTooShort`],
    /// [`IdentityError::WeakSecret`], [`IdentityError::DuplicateKid`] or
    /// [`IdentityError::InvalidConfig`].
    pub fn validate(&self) -> Result<(), IdentityError> {
        let mut kids = BTreeSet::new();
        for (i, key) in self.keys.iter().enumerate() {
            if key.secret.len() < MIN_SECRET_BYTES {
                return Err(IdentityError::SecretTooShort {
                    key: key.describe(i),
                    len: key.secret.len(),
                    min: MIN_SECRET_BYTES,
                });
            }
            if let Some(reason) = weak_secret_problem(&key.secret) {
                return Err(IdentityError::WeakSecret {
                    key: key.describe(i),
                    reason,
                });
            }
            if let Some(kid) = &key.kid {
                if kid.is_empty() {
                    return Err(IdentityError::InvalidConfig {
                        reason: format!("key #{} has an empty kid", i.saturating_add(1)),
                    });
                }
                if !kids.insert(kid.as_str()) {
                    return Err(IdentityError::DuplicateKid { kid: sanitize(kid) });
                }
            }
        }
        if self.issuer.as_deref() == Some("") {
            return Err(IdentityError::InvalidConfig {
                reason: "issuer is empty".to_owned(),
            });
        }
        if self.audience.as_deref() == Some("") {
            return Err(IdentityError::InvalidConfig {
                reason: "audience is empty".to_owned(),
            });
        }
        let mut issuers = BTreeSet::new();
        for (i, iss) in self.issuers.iter().enumerate() {
            if iss.issuer.is_empty() || iss.audience.is_empty() {
                return Err(IdentityError::InvalidConfig {
                    reason: format!(
                        "issuer #{} needs a non-empty `issuer` and `audience`",
                        i.saturating_add(1)
                    ),
                });
            }
            if !issuers.insert(iss.issuer.as_str()) {
                return Err(IdentityError::InvalidConfig {
                    reason: format!(
                        "issuer `{}` is listed more than once",
                        sanitize(&iss.issuer)
                    ),
                });
            }
        }
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(IdentityError::InvalidConfig {
                reason: format!(
                    "leeway of {}s is more than the maximum of {MAX_LEEWAY_SECONDS}s",
                    self.leeway_seconds
                ),
            });
        }
        Ok(())
    }
}

/// Fewest distinct byte values a secret may have (see [`weak_secret_problem`]).
pub const MIN_DISTINCT_SECRET_BYTES: usize = 8;

/// Why a secret of at least [`MIN_SECRET_BYTES`] bytes is still degenerate,
/// or `None` when it is not. A secret is degenerate when:
///
/// * it has fewer than [`MIN_DISTINCT_SECRET_BYTES`] (8) distinct byte
///   values (all zero, all one value, `abab…`);
/// * it repeats a block of at most half its length (`k3y!k3y!…`, a 16-byte
///   secret written twice);
/// * its bytes go up or down by one constant step (`00 01 02 …`, `ff fe …`).
///
/// These are placeholders and test values, not random keys: 32 random bytes
/// hit any of the three with a probability below 2^-100, and so do the
/// bytes of hex or decimal text of 32 or more random characters. The check
/// cannot prove a secret random (a pass phrase passes it); it refuses the
/// keys that are certainly not.
pub fn weak_secret_problem(secret: &[u8]) -> Option<String> {
    let mut seen = [false; 256];
    for b in secret {
        if let Some(slot) = seen.get_mut(usize::from(*b)) {
            *slot = true;
        }
    }
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct < MIN_DISTINCT_SECRET_BYTES {
        return Some(format!(
            "it has only {distinct} distinct byte value{} (at least {MIN_DISTINCT_SECRET_BYTES} are required)",
            if distinct == 1 { "" } else { "s" }
        ));
    }
    let len = secret.len();
    if let Some(period) = (1..=len / 2).find(|p| {
        secret
            .iter()
            .zip(secret.iter().skip(*p))
            .all(|(a, b)| a == b)
    }) {
        return Some(format!("it is one {period}-byte block repeated"));
    }
    let mut steps = secret.windows(2).filter_map(|w| match w {
        [a, b] => Some(b.wrapping_sub(*a)),
        _ => None,
    });
    if let Some(first) = steps.next()
        && steps.all(|s| s == first)
    {
        return Some("its bytes count up or down by a constant step".to_owned());
    }
    None
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The agent id (from the token's `agent_id`, or the plain id).
    pub agent_id: String,
    /// Human-readable name, from a token's `agent_name`.
    pub agent_name: Option<String>,
    /// Roles, from a token's `roles` (empty for plain ids).
    pub roles: Vec<String>,
    /// Groups, from a token's `groups` (empty for plain ids).
    pub groups: Vec<String>,
    /// `true` only when the identity comes from a verified token.
    pub signed: bool,
    /// The ServiceAccount and pod, for a Kubernetes ServiceAccount token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesIdentity>,
}

impl Caller {
    /// An unsigned caller known only by a plain agent id (not validated here;
    /// see [`check_agent_id`]).
    pub fn unsigned(agent_id: impl Into<String>) -> Self {
        Caller {
            agent_id: agent_id.into(),
            agent_name: None,
            roles: Vec::new(),
            groups: Vec::new(),
            signed: false,
            kubernetes: None,
        }
    }
}

/// What to put in a token minted by [`mint_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    /// `agent_id` claim; must follow the agent id rule.
    pub agent_id: String,
    /// Optional `agent_name` claim.
    pub agent_name: Option<String>,
    /// `roles` claim (written even when empty).
    pub roles: Vec<String>,
    /// `groups` claim (written even when empty).
    pub groups: Vec<String>,
    /// Lifetime: `exp = now + ttl_seconds`. Must be at least 1.
    pub ttl_seconds: u64,
    /// Sign with the key of this `kid`; `None` signs with the first key.
    pub kid: Option<String>,
}

/// Installs this crate's HS256 `jsonwebtoken` crypto provider for the process
/// (if none is installed yet) and self-tests whichever provider is installed.
///
/// Optional: [`verify_token`] and [`mint_token`] do it on first use. Call it at
/// start-up when other code in the same process also uses `jsonwebtoken`, so
/// that it runs before `jsonwebtoken` falls back to its panicking placeholder.
///
/// # Errors
/// [`IdentityError::CryptoUnavailable`] if another provider was installed
/// first and fails the HS256 self-test.
pub fn install_crypto_provider() -> Result<(), IdentityError> {
    provider::ensure_installed()
}

/// Whether `s` has the shape of a JWS compact token: three `.`-separated
/// base64url segments (no padding), the first starting with `eyJ` (a
/// base64url-encoded `{"`), the first two non-empty. The third (signature) may
/// be empty, so that unsigned `alg: none` tokens are still recognised — and
/// then rejected — as tokens. This is a shape test only; it verifies nothing.
pub fn looks_like_jwt(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    header.starts_with("eyJ")
        && !payload.is_empty()
        && [header, payload, signature]
            .iter()
            .all(|seg| seg.bytes().all(is_base64url_byte))
}

fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether a caller credential is a token attempt: it [`looks_like_jwt`], or
/// starts with `eyJ` and contains a `.` (a damaged token). [`resolve_caller`]
/// verifies such input as a token (a bad one is refused, never read as a
/// plain agent id); the facade never logs it; the sidecar accepts only such a
/// credential after `Authorization: Bearer`. The one definition for all of them.
pub fn is_token_attempt(s: &str) -> bool {
    looks_like_jwt(s) || (s.starts_with("eyJ") && s.contains('.'))
}

/// Checks a plain agent id against [`AGENT_ID_RULE`]:
/// 1 to 253 ASCII characters, the first a letter or digit, the others letters,
/// digits or `.` `_` `:` `@` `/` `-`.
///
/// # Errors
/// [`IdentityError::InvalidAgentId`] naming the broken part of the rule.
pub fn check_agent_id(id: &str) -> Result<(), IdentityError> {
    agent_id_problem(id).map_or(Ok(()), |p| Err(IdentityError::invalid_agent_id(p)))
}

/// The broken part of the agent id rule, if any.
pub(crate) fn agent_id_problem(id: &str) -> Option<&'static str> {
    let bytes = id.as_bytes();
    let Some(first) = bytes.first() else {
        return Some("it is empty");
    };
    if bytes.len() > MAX_AGENT_ID_BYTES {
        return Some("it is longer than 253 characters");
    }
    if !first.is_ascii_alphanumeric() {
        return Some("it must start with an ASCII letter or digit");
    }
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || b"._:@/-".contains(b);
    if !bytes.iter().all(allowed) {
        return Some("it may only contain ASCII letters, digits and `._:@/-`");
    }
    None
}

/// Turns what the caller presented into a [`Caller`].
///
/// * `None` or `""` → `Ok(None)` (anonymous), or
///   [`IdentityError::UnsignedRefused`] when `require_signed`.
/// * a token attempt (see the module docs) → [`verify_token`].
/// * anything else is a plain agent id → `Caller { signed: false }` with no
///   roles or groups, or [`IdentityError::UnsignedRefused`] when
///   `require_signed`, or [`IdentityError::InvalidAgentId`] when it breaks
///   [`AGENT_ID_RULE`]. Nothing is trimmed.
///
/// # Errors
/// As above, and every error of [`verify_token`].
pub fn resolve_caller(
    cfg: &IdentityConfig,
    input: Option<&str>,
    now_unix: i64,
) -> Result<Option<Caller>, IdentityError> {
    let input = match input {
        None | Some("") => {
            return if cfg.require_signed {
                Err(IdentityError::UnsignedRefused { anonymous: true })
            } else {
                Ok(None)
            };
        }
        Some(s) => s,
    };
    if is_token_attempt(input) {
        return verify_token(cfg, input, now_unix).map(Some);
    }
    if cfg.require_signed {
        return Err(IdentityError::UnsignedRefused { anonymous: false });
    }
    check_agent_id(input)?;
    Ok(Some(Caller::unsigned(input)))
}

/// Makes an untrusted string safe to put in an error message: at most 64
/// characters, control and non-ASCII characters escaped.
pub(crate) fn sanitize(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_and_truncates() {
        assert_eq!(sanitize("HS256"), "HS256");
        assert_eq!(sanitize("a\nb\u{1b}"), "a\\nb\\u{1b}");
        let long = "x".repeat(100);
        assert_eq!(sanitize(&long), format!("{}…", "x".repeat(64)));
    }

    #[test]
    fn agent_id_rule_edges() {
        assert!(agent_id_problem("a").is_none());
        assert!(agent_id_problem(&"a".repeat(253)).is_none());
        assert!(agent_id_problem(&"a".repeat(254)).is_some());
        assert!(agent_id_problem("-a").is_some());
        assert!(agent_id_problem("a b").is_some());
        assert!(agent_id_problem("é").is_some());
        assert!(agent_id_problem("spiffe://cluster.local/ns/x/sa/y").is_none());
        assert!(agent_id_problem("deploy-agent@prod:eu/1.2_x").is_none());
    }
}
