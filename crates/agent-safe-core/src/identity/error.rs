//! [`IdentityError`]: why a caller could not be identified.

use super::AGENT_ID_RULE;

/// Why a caller could not be identified, or why an identity operation failed.
///
/// Every variant is one cause. The `Display` text is lowercase and plain, and
/// is meant to be returned to the agent as the reason of a `DENY`: it says what
/// was wrong without ever including a secret or the token itself. Values that
/// come from an unauthenticated token header (`alg`, `kid`) are shortened and
/// escaped before they are stored here.
///
/// [`IdentityError::code`] gives a stable machine-readable name for each cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The string is not a well-formed JWS compact token (segments, base64url,
    /// JSON, header parameters), or it is too long.
    #[error("malformed token: {reason}")]
    Malformed {
        /// What is wrong with the token's shape.
        reason: String,
    },

    /// The header names an algorithm other than HS256 (`none` included).
    #[error("token algorithm `{alg}` is not accepted: only HS256 tokens are allowed")]
    WrongAlgorithm {
        /// The algorithm named by the header (escaped, shortened).
        alg: String,
    },

    /// An asymmetric-capable configuration (`identity.issuers`) refuses this
    /// algorithm: `allowed` lists the accepted ones.
    #[error("token algorithm `{alg}` is not accepted: only {allowed} tokens are allowed")]
    AlgorithmNotAccepted {
        /// The algorithm named by the header (escaped, shortened).
        alg: String,
        /// The accepted algorithms, e.g. `RS256, ES256 or EdDSA`.
        allowed: String,
    },

    /// The key named by `kid` is pinned to another algorithm than the
    /// token's header names (algorithm confusion is refused).
    #[error(
        "token algorithm `{token_alg}` does not match key `{kid}`, which is pinned to {key_alg}"
    )]
    AlgorithmMismatch {
        /// The key id (escaped, shortened).
        kid: String,
        /// The algorithm of the key (from its JWK).
        key_alg: String,
        /// The algorithm named by the token (escaped, shortened).
        token_alg: String,
    },

    /// The header carries a key or a key location (`jwk`, `jku`, `x5u`,
    /// `x5c`): keys are only ever taken from the configuration.
    #[error(
        "token header carries `{param}`: keys are taken only from the configured JWKS, never from the token"
    )]
    KeyInHeader {
        /// The header parameter.
        param: String,
    },

    /// The token's `iss` is not one of `identity.issuers`.
    #[error("token issuer `{found}` is not trusted (it is not listed under identity.issuers)")]
    UntrustedIssuer {
        /// The token's `iss` (escaped, shortened).
        found: String,
    },

    /// The JWKS names this `kid` but its key cannot be used.
    #[error("token key `{kid}` cannot be used: {reason}")]
    KeyUnusable {
        /// The key id (escaped, shortened).
        kid: String,
        /// Why the key was left aside.
        reason: String,
    },

    /// The issuer's keys could not be loaded (and no recent enough copy is
    /// cached).
    #[error("keys of issuer `{issuer}` are unavailable: {reason}")]
    KeysUnavailable {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },

    /// The HMAC does not match: wrong key, or the token was altered.
    #[error("token signature is invalid: it was signed with another key or altered")]
    BadSignature,

    /// `exp` is in the past, beyond the leeway.
    #[error(
        "token expired at {} (now {}, leeway {leeway}s)",
        fmt_unix(*.exp),
        fmt_unix(*.now)
    )]
    Expired {
        /// The token's `exp` claim (Unix seconds).
        exp: i64,
        /// The evaluation time (Unix seconds).
        now: i64,
        /// The configured leeway in seconds.
        leeway: u64,
    },

    /// `nbf` is in the future, beyond the leeway.
    #[error(
        "token not valid before {} (now {}, leeway {leeway}s)",
        fmt_unix(*.nbf),
        fmt_unix(*.now)
    )]
    NotYetValid {
        /// The token's `nbf` claim (Unix seconds).
        nbf: i64,
        /// The evaluation time (Unix seconds).
        now: i64,
        /// The configured leeway in seconds.
        leeway: u64,
    },

    /// `iat` is in the future, beyond the leeway: the issuer's clock or ours
    /// is wrong, or the token was prepared in advance.
    #[error(
        "token issued in the future at {} (now {}, leeway {leeway}s); check the issuer's clock",
        fmt_unix(*.iat),
        fmt_unix(*.now)
    )]
    IssuedInFuture {
        /// The token's `iat` claim (Unix seconds).
        iat: i64,
        /// The evaluation time (Unix seconds).
        now: i64,
        /// The configured leeway in seconds.
        leeway: u64,
    },

    /// A required claim is absent (`agent_id`, `exp`, `iat`, and `iss`/`aud`
    /// when an issuer/audience is configured).
    #[error("token is missing the required claim `{claim}`")]
    MissingClaim {
        /// The claim name.
        claim: String,
    },

    /// A claim is present but has the wrong type or an unacceptable value.
    #[error("token claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The header names a key id that is not configured.
    #[error("token key id `{kid}` is not configured")]
    UnknownKid {
        /// The key id from the header (escaped, shortened).
        kid: String,
    },

    /// A token was presented (or is to be minted) but no key is configured.
    #[error("no signing key is configured (identity.keys), so tokens cannot be verified or minted")]
    NoKeyConfigured,

    /// The configured issuer does not match the token's `iss`.
    #[error("token issuer `{found}` is not the expected issuer `{expected}`")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss` (escaped, shortened).
        found: String,
    },

    /// The token's `aud` does not contain the configured audience.
    #[error("token audience does not include the expected audience `{expected}`")]
    WrongAudience {
        /// The configured audience.
        expected: String,
    },

    /// `identity.require_signed` is set and the caller did not present a token.
    #[error(
        "{} callers are refused: a signed token is required (identity.require_signed is true)",
        if *.anonymous { "anonymous" } else { "unsigned (plain agent id)" }
    )]
    UnsignedRefused {
        /// `true` when no caller was given at all, `false` for a plain agent id.
        anonymous: bool,
    },

    /// A plain agent id (or a minted token's `agent_id`) breaks the agent id rule.
    #[error("invalid agent id: {reason}")]
    InvalidAgentId {
        /// Which part of the rule is broken, and the rule.
        reason: String,
    },

    /// An encoded secret could not be decoded (see [`super::decode_secret`]).
    #[error("invalid secret: {reason}")]
    InvalidSecret {
        /// What is wrong with it (never the secret itself).
        reason: String,
    },

    /// A configured secret is shorter than [`super::MIN_SECRET_BYTES`].
    #[error("{key} has a {len}-byte secret; HS256 secrets must be at least {min} bytes")]
    SecretTooShort {
        /// Which key: ``key `kid` `` or `key #n` (1-based).
        key: String,
        /// The secret's length in bytes.
        len: usize,
        /// The minimum length in bytes.
        min: usize,
    },

    /// A configured secret is long enough but degenerate (see
    /// [`super::weak_secret_problem`]): all zero, a short block repeated, a
    /// counter, … — a placeholder rather than a random key.
    #[error(
        "{key} has a degenerate secret: {reason}; use a random secret (`agent-safe init` writes one)"
    )]
    WeakSecret {
        /// Which key: ``key `kid` `` or `key #n` (1-based).
        key: String,
        /// What is degenerate about it (never the secret itself).
        reason: String,
    },

    /// Two configured keys share a `kid`.
    #[error("key id `{kid}` is configured more than once")]
    DuplicateKid {
        /// The repeated key id.
        kid: String,
    },

    /// Another problem with the identity configuration.
    #[error("invalid identity configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },

    /// The process-wide jsonwebtoken crypto provider is missing or broken.
    #[error("token cryptography is unavailable: {reason}")]
    CryptoUnavailable {
        /// What went wrong.
        reason: String,
    },

    /// The operating system's random number generator failed.
    #[error("cannot generate a secret: the system random number generator failed ({reason})")]
    RandomUnavailable {
        /// The OS error.
        reason: String,
    },

    /// Minting a token failed.
    #[error("cannot mint token: {reason}")]
    Signing {
        /// What went wrong.
        reason: String,
    },
}

impl IdentityError {
    /// A stable snake_case name for the cause, for logs, metrics and APIs.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Malformed { .. } => "malformed",
            IdentityError::WrongAlgorithm { .. } => "wrong_algorithm",
            IdentityError::AlgorithmNotAccepted { .. } => "wrong_algorithm",
            IdentityError::AlgorithmMismatch { .. } => "algorithm_mismatch",
            IdentityError::KeyInHeader { .. } => "key_in_header",
            IdentityError::UntrustedIssuer { .. } => "untrusted_issuer",
            IdentityError::KeyUnusable { .. } => "key_unusable",
            IdentityError::KeysUnavailable { .. } => "keys_unavailable",
            IdentityError::BadSignature => "bad_signature",
            IdentityError::Expired { .. } => "expired",
            IdentityError::NotYetValid { .. } => "not_yet_valid",
            IdentityError::IssuedInFuture { .. } => "issued_in_future",
            IdentityError::MissingClaim { .. } => "missing_claim",
            IdentityError::InvalidClaim { .. } => "invalid_claim",
            IdentityError::UnknownKid { .. } => "unknown_kid",
            IdentityError::NoKeyConfigured => "no_key_configured",
            IdentityError::WrongIssuer { .. } => "wrong_issuer",
            IdentityError::WrongAudience { .. } => "wrong_audience",
            IdentityError::UnsignedRefused { .. } => "unsigned_refused",
            IdentityError::InvalidAgentId { .. } => "invalid_agent_id",
            IdentityError::InvalidSecret { .. } => "invalid_secret",
            IdentityError::SecretTooShort { .. } => "secret_too_short",
            IdentityError::WeakSecret { .. } => "weak_secret",
            IdentityError::DuplicateKid { .. } => "duplicate_kid",
            IdentityError::InvalidConfig { .. } => "invalid_config",
            IdentityError::CryptoUnavailable { .. } => "crypto_unavailable",
            IdentityError::RandomUnavailable { .. } => "random_unavailable",
            IdentityError::Signing { .. } => "signing_failed",
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        IdentityError::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_claim(claim: &str, reason: impl Into<String>) -> Self {
        IdentityError::InvalidClaim {
            claim: claim.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing_claim(claim: &str) -> Self {
        IdentityError::MissingClaim {
            claim: claim.to_owned(),
        }
    }

    pub(crate) fn invalid_agent_id(problem: &str) -> Self {
        IdentityError::InvalidAgentId {
            reason: format!("{problem}; agent ids must match `{AGENT_ID_RULE}`"),
        }
    }
}

/// Formats Unix seconds as RFC 3339 UTC (`2026-11-25T10:00:00Z`), or as
/// `@<seconds>` when out of the representable range.
fn fmt_unix(secs: i64) -> String {
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("@{secs}"),
    }
}
