//! Generating and decoding HS256 secrets.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};

use super::{IdentityError, MIN_SECRET_BYTES};

/// Number of random bytes in a secret made by [`generate_secret`].
pub const GENERATED_SECRET_BYTES: usize = 32;

/// base64url decoder that accepts the value with or without `=` padding but
/// rejects non-canonical trailing bits.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Generates a new HS256 secret: [`GENERATED_SECRET_BYTES`] (32) bytes from the
/// operating system's random number generator (`getrandom`), encoded as
/// base64url without padding (43 characters). Used by `agent-safe init`.
///
/// # Errors
/// [`IdentityError::RandomUnavailable`] if the OS generator fails. This is
/// deliberately fallible instead of panicking: a weaker fallback secret would
/// be worse than no secret.
pub fn generate_secret() -> Result<String, IdentityError> {
    let mut bytes = [0u8; GENERATED_SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::RandomUnavailable {
        reason: e.to_string(),
    })?;
    let encoded = URL_SAFE_NO_PAD.encode(bytes);
    bytes.fill(0);
    Ok(encoded)
}

/// Decodes a secret as written in the configuration.
///
/// Format: base64url (RFC 4648 §5, alphabet `A-Z a-z 0-9 - _`), `=` padding
/// optional, surrounding whitespace ignored — exactly what [`generate_secret`]
/// produces. Standard base64 (`+`, `/`), embedded whitespace and
/// non-canonical encodings are rejected. The decoded secret must be at least
/// [`MIN_SECRET_BYTES`] (32) bytes.
///
/// # Errors
/// [`IdentityError::InvalidSecret`] for an empty or undecodable value;
/// [`IdentityError::SecretTooShort`] for fewer than 32 decoded bytes. The
/// messages never contain the secret.
pub fn decode_secret(s: &str) -> Result<Vec<u8>, IdentityError> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(IdentityError::InvalidSecret {
            reason: "the secret is empty".to_owned(),
        });
    }
    let bytes = URL_SAFE_ANY_PADDING
        .decode(trimmed)
        .map_err(|_| IdentityError::InvalidSecret {
            reason: "not valid base64url (expected the output of `agent-safe init`: \
                     letters, digits, `-` and `_`)"
                .to_owned(),
        })?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(IdentityError::SecretTooShort {
            key: "the secret".to_owned(),
            len: bytes.len(),
            min: MIN_SECRET_BYTES,
        });
    }
    Ok(bytes)
}
