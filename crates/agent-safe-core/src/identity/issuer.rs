//! Trusted token issuers and their cached JWKS.
//!
//! A [`JwksCache`] holds the last good JWKS of one issuer and reloads it:
//!
//! * when it is older than `refresh_seconds` (the next token triggers it);
//! * when a token names a `kid` the cached set does not have (key rotation),
//!   at most once per `min_refetch_seconds`, so a stream of tokens with
//!   made-up `kid`s cannot turn into a stream of reloads;
//! * a failed reload keeps serving the last good set while it is at most
//!   `max_stale_seconds` old; after that every token of the issuer is refused
//!   with [`IdentityError::KeysUnavailable`] (fail closed).
//!
//! The timing uses the monotonic clock ([`Instant`]), not the engine's clock:
//! it is about how fresh our copy is, not about the decision's time.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::IdentityError;
use super::jwks::Jwks;

/// Largest JWKS file read, in bytes.
pub const MAX_JWKS_BYTES: u64 = 1 << 20;

/// Default [`CacheSettings::refresh_seconds`].
pub const DEFAULT_REFRESH_SECONDS: u64 = 300;
/// Default [`CacheSettings::min_refetch_seconds`].
pub const DEFAULT_MIN_REFETCH_SECONDS: u64 = 10;
/// Default [`CacheSettings::max_stale_seconds`].
pub const DEFAULT_MAX_STALE_SECONDS: u64 = 3600;

/// How a [`JwksCache`] refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Reload when the cached set is older than this.
    pub refresh_seconds: u64,
    /// At most one reload per this many seconds for unknown `kid`s.
    pub min_refetch_seconds: u64,
    /// Serve the last good set this long after it was loaded when reloads fail.
    pub max_stale_seconds: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            refresh_seconds: DEFAULT_REFRESH_SECONDS,
            min_refetch_seconds: DEFAULT_MIN_REFETCH_SECONDS,
            max_stale_seconds: DEFAULT_MAX_STALE_SECONDS,
        }
    }
}

/// How long one HTTP request of OIDC discovery may take.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS file (e.g. the output of `kubectl get --raw /openid/v1/jwks`).
    File(PathBuf),
    /// OIDC discovery: `ISSUER/.well-known/openid-configuration`, whose
    /// `issuer` must be the issuer and whose `jwks_uri` is then fetched.
    Discovery {
        /// The issuer URL (`https://…`; `http://` only for tests on loopback).
        issuer: String,
        /// PEM file of the CA certificates to trust (e.g. the cluster CA,
        /// `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`); the
        /// Mozilla roots (webpki-roots) when `None`.
        ca_file: Option<PathBuf>,
        /// A file holding a bearer token sent with both requests (e.g. the
        /// sidecar's own ServiceAccount token), read at every fetch.
        token_file: Option<PathBuf>,
    },
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "the JWKS file {}", p.display()),
            KeySource::Discovery { issuer, .. } => {
                write!(f, "OIDC discovery of {issuer}")
            }
        }
    }
}

/// One HTTP GET of a JSON document, at most [`MAX_JWKS_BYTES`], with a
/// [`DISCOVERY_TIMEOUT`] and no redirects.
fn http_get(
    agent: &ureq::Agent,
    url: &str,
    token: Option<&str>,
) -> Result<serde_json::Value, String> {
    let mut req = agent.get(url).header("Accept", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().map_err(|e| format!("GET {url}: {e}"))?;
    let text = resp
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_string()
        .map_err(|e| format!("GET {url}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("GET {url}: not JSON: {e}"))
}

fn discover(
    issuer: &str,
    ca_file: Option<&PathBuf>,
    token_file: Option<&PathBuf>,
) -> Result<Jwks, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let roots = match ca_file {
        None => RootCerts::WebPki,
        Some(path) => {
            let pem = read_small_file(path)
                .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
            let certs: Vec<_> = ureq::tls::parse_pem(pem.as_bytes())
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(format!(
                    "the CA file {} holds no PEM certificate",
                    path.display()
                ));
            }
            RootCerts::new_with_certs(&certs)
        }
    };
    let token = match token_file {
        None => None,
        Some(path) => Some(
            read_small_file(path)
                .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?
                .trim()
                .to_owned(),
        ),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(DISCOVERY_TIMEOUT))
        .max_redirects(0)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into();
    let base = issuer.trim_end_matches('/');
    let doc = http_get(
        &agent,
        &format!("{base}/.well-known/openid-configuration"),
        token.as_deref(),
    )?;
    // OpenID Connect Discovery 1.0, section 4.3: the document's issuer must
    // be exactly the issuer it was fetched for.
    match doc.get("issuer").and_then(serde_json::Value::as_str) {
        Some(found) if found == issuer => {}
        found => {
            return Err(format!(
                "the discovery document names the issuer {:?}, not {issuer:?}",
                found.unwrap_or("(none)")
            ));
        }
    }
    let Some(jwks_uri) = doc.get("jwks_uri").and_then(serde_json::Value::as_str) else {
        return Err("the discovery document has no `jwks_uri`".to_owned());
    };
    if issuer.starts_with("https://") && !jwks_uri.starts_with("https://") {
        return Err(format!(
            "the discovery document's jwks_uri {jwks_uri:?} is not https"
        ));
    }
    let jwks = http_get(&agent, jwks_uri, token.as_deref())?;
    Jwks::parse(&jwks.to_string())
}

/// Reads a key, CA or token file the way configuration files are read
/// (`load::read_file`): a FIFO, socket or device is refused without opening
/// it (it would block the check), a file rewritten while it is read is read
/// again, and a dangling symlink is an error.
fn read_small_file(path: &std::path::Path) -> Result<String, String> {
    crate::load::read_file(path).map(|f| f.text).map_err(|e| {
        e.diagnostics()
            .first()
            .map_or_else(|| "cannot read it".to_owned(), |d| d.message.clone())
    })
}

impl KeySource {
    fn load(&self) -> Result<Jwks, String> {
        match self {
            KeySource::File(path) => {
                let text = read_small_file(path)?;
                if text.len() as u64 > MAX_JWKS_BYTES {
                    return Err(format!(
                        "it is {} bytes; the limit is {MAX_JWKS_BYTES}",
                        text.len()
                    ));
                }
                Jwks::parse(&text)
            }
            KeySource::Discovery {
                issuer,
                ca_file,
                token_file,
            } => discover(issuer, ca_file.as_ref(), token_file.as_ref()),
        }
    }
}

struct CacheState {
    jwks: Option<Arc<Jwks>>,
    loaded_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    loads: u64,
}

/// The cached JWKS of one issuer (see the module docs).
pub struct JwksCache {
    source: KeySource,
    settings: CacheSettings,
    state: Mutex<CacheState>,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.source)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What [`JwksCache::keys`] should do about a reload.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Reload only if the set is missing or older than `refresh_seconds`.
    Fresh,
    /// A `kid` was not found: reload unless one happened within
    /// `min_refetch_seconds`.
    UnknownKid,
}

impl JwksCache {
    /// A cache that loads `source` now: a file that cannot be read or parsed
    /// is a configuration error.
    ///
    /// # Errors
    /// What is wrong with the source, as a plain message.
    pub fn load(source: KeySource, settings: CacheSettings) -> Result<Self, String> {
        let jwks = source.load().map_err(|e| format!("{source}: {e}"))?;
        let now = Instant::now();
        Ok(JwksCache {
            source,
            settings,
            state: Mutex::new(CacheState {
                jwks: Some(Arc::new(jwks)),
                loaded_at: Some(now),
                last_attempt: Some(now),
                last_error: None,
                loads: 1,
            }),
        })
    }

    /// A cache that loads `source` on first use (OIDC discovery: the
    /// issuer may be unreachable at start; its tokens are refused until it
    /// answers).
    pub fn lazy(source: KeySource, settings: CacheSettings) -> Self {
        JwksCache {
            source,
            settings,
            state: Mutex::new(CacheState {
                jwks: None,
                loaded_at: None,
                last_attempt: None,
                last_error: None,
                loads: 0,
            }),
        }
    }

    /// How many successful loads happened (for tests and metrics).
    pub fn loads(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .loads
    }

    /// The current keys, reloaded when older than `refresh_seconds`.
    pub(crate) fn keys(&self, issuer: &str) -> Result<Arc<Jwks>, IdentityError> {
        self.get(issuer, Want::Fresh)
    }

    /// The keys after a `kid` was not found: reloaded unless a reload
    /// happened within `min_refetch_seconds`.
    pub(crate) fn keys_after_unknown_kid(&self, issuer: &str) -> Result<Arc<Jwks>, IdentityError> {
        self.get(issuer, Want::UnknownKid)
    }

    fn get(&self, issuer: &str, want: Want) -> Result<Arc<Jwks>, IdentityError> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let age = |t: Option<Instant>| t.map(|t| now.saturating_duration_since(t));
        let older =
            |t: Option<Instant>, secs: u64| age(t).is_none_or(|a| a >= Duration::from_secs(secs));
        let reload = match want {
            // Never more than one attempt per `min_refetch_seconds`, even
            // while no keys were ever loaded: a down issuer must not turn
            // every token into a fetch.
            Want::Fresh => {
                (st.jwks.is_none() || older(st.loaded_at, self.settings.refresh_seconds))
                    && older(st.last_attempt, self.settings.min_refetch_seconds)
            }
            Want::UnknownKid => older(st.last_attempt, self.settings.min_refetch_seconds),
        };
        if reload {
            st.last_attempt = Some(now);
            match self.source.load() {
                Ok(jwks) => {
                    st.jwks = Some(Arc::new(jwks));
                    st.loaded_at = Some(now);
                    st.last_error = None;
                    st.loads = st.loads.saturating_add(1);
                }
                Err(e) => st.last_error = Some(e),
            }
        }
        let fresh_enough = !older(st.loaded_at, self.settings.max_stale_seconds)
            || self.settings.max_stale_seconds == u64::MAX;
        match (&st.jwks, &st.last_error) {
            (Some(jwks), None) => Ok(Arc::clone(jwks)),
            (Some(jwks), Some(_)) if fresh_enough => Ok(Arc::clone(jwks)),
            (_, err) => Err(IdentityError::KeysUnavailable {
                issuer: issuer.to_owned(),
                reason: format!(
                    "{}: {}",
                    self.source,
                    err.as_deref().unwrap_or("no keys were ever loaded")
                ),
            }),
        }
    }
}

/// An issuer whose asymmetric tokens are accepted.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The `aud` its tokens must carry (the sidecar's audience).
    pub audience: String,
    /// Its keys.
    pub keys: Arc<JwksCache>,
}
