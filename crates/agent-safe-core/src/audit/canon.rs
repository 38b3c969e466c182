//! The canonical (RFC 8785 / JCS) writer for event lines.
//!
//! Why our own writer and not `serde_json_canonicalizer` directly: that crate
//! buffers every key and value of every object in its own `Vec` and re-parses
//! each key to sort it, which costs several microseconds per event; `verify`
//! must re-serialise every line at more than 500k lines/s. This writer emits
//! the top-level members in their (fixed, pre-sorted) order, sorts the keys of
//! `params`/`context` objects by UTF-16 code units as RFC 8785 §3.2.3 asks,
//! escapes strings with `serde_json` (whose escaping is exactly JCS's) and
//! formats numbers with `ryu-js` (the ECMAScript number-to-string algorithm
//! that `serde_json_canonicalizer` also uses). The tests check it byte for byte
//! against `serde_json_canonicalizer`.
//!
//! It also records where the `"hash":"…",` member sits in the line, so the
//! hash input (the JCS form of the event without `hash`) is the line with that
//! one range cut out: JCS sorts keys, `hash` is never the last key (`kind`,
//! `seq`, `v` follow it), so removing the member and its trailing comma from
//! the canonical object gives the canonical object without it.

use std::cmp::Ordering;
use std::io::Write as _;
use std::ops::Range;

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use super::event::{CallerIdentity, EventKind, RecoveryInfo, RotationInfo, ShadowInfo};

/// The largest integer JSON numbers (IEEE doubles) carry exactly: 2^53−1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How deeply arrays and objects may nest inside `params` or `context`
/// (`{}` is 1 level, `{"a":[1]}` 2). The line adds one level, and every JSON
/// reader of the log (`verify`, the readers, `serde_json` elsewhere) stops at
/// 128: a deeper value would be written but could never be read back.
pub const MAX_VALUE_DEPTH: usize = 100;

/// A value that cannot be written as a canonical line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// A number whose canonical form would not read back as the same value.
    #[error(
        "number {number} at `{pointer}` is a whole number beyond ±(2^53−1), which JSON numbers cannot carry exactly (send it as a string)"
    )]
    UnsafeNumber {
        /// JSON pointer to the number (`params/replicas`).
        pointer: String,
        /// The number as given.
        number: String,
    },
    /// Arrays and objects nested deeper than [`MAX_VALUE_DEPTH`].
    #[error(
        "the value at `{pointer}` is nested more than {MAX_VALUE_DEPTH} levels deep, which readers of the log could not parse back"
    )]
    TooDeep {
        /// JSON pointer to the first container beyond the limit.
        pointer: String,
    },
}

/// The fields of one line, borrowed from wherever they live.
pub(crate) struct LineFields<'a> {
    /// The schema version: v1 lines lack `caller_identity`, `shadow` and
    /// `snapshot`; v2 lines always have them (null when absent).
    pub v: u64,
    pub caller_identity: Option<&'a CallerIdentity>,
    pub snapshot: Option<&'a str>,
    pub shadow: Option<&'a ShadowInfo>,
    pub seq: u64,
    pub event_id: &'a str,
    pub timestamp: &'a str,
    pub kind: EventKind,
    pub action: Option<&'a str>,
    pub action_version: Option<&'a str>,
    pub target: Option<&'a str>,
    pub caller: Option<&'a str>,
    pub params: &'a Value,
    pub decision: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub policy_matched: Option<&'a str>,
    pub risk_class: Option<&'a str>,
    pub effective_risk: Option<&'a str>,
    pub correlation_id: Option<&'a str>,
    pub context: &'a Value,
    pub evaluated_at: Option<&'a str>,
    pub plan_step: Option<u32>,
    pub recovery: Option<&'a RecoveryInfo>,
    pub rotation: Option<&'a RotationInfo>,
    pub prev_hash: &'a str,
}

/// Marker for "a value cannot be written" (an unsafe number, too deep); the
/// caller finds where with [`find_unrecordable`] (only on the error path, so
/// the hot path tracks no JSON pointer).
#[derive(Debug)]
pub(crate) struct Unsafe;

/// Writes the canonical line of `f` (no trailing newline) with `hash` as the
/// value of `hash`, appending to `out`. Returns the byte range (relative to
/// `out`'s start) of the `"hash":"…",` member.
pub(crate) fn write_line(
    out: &mut Vec<u8>,
    f: &LineFields<'_>,
    hash: &str,
) -> Result<Range<usize>, CanonicalError> {
    match write_line_inner(out, f, hash) {
        Ok(r) => Ok(r),
        Err(Unsafe) => Err(find_unrecordable(f.params, "params")
            .or_else(|| find_unrecordable(f.context, "context"))
            .unwrap_or_else(|| CanonicalError::UnsafeNumber {
                pointer: String::from("?"),
                number: String::new(),
            })),
    }
}

fn write_line_inner(
    out: &mut Vec<u8>,
    f: &LineFields<'_>,
    hash: &str,
) -> Result<Range<usize>, Unsafe> {
    // Keys in RFC 8785 order (all ASCII, so byte order is UTF-16 order).
    out.extend_from_slice(b"{\"action\":");
    opt_str(out, f.action);
    out.extend_from_slice(b",\"action_version\":");
    opt_str(out, f.action_version);
    out.extend_from_slice(b",\"caller\":");
    opt_str(out, f.caller);
    let v2 = f.v >= 2;
    if v2 {
        out.extend_from_slice(b",\"caller_identity\":");
        match f.caller_identity {
            Some(c) => {
                out.extend_from_slice(b"{\"groups\":");
                str_array(out, &c.groups);
                out.extend_from_slice(b",\"kid\":");
                opt_str(out, c.kid.as_deref());
                if let Some(k) = &c.kubernetes {
                    out.extend_from_slice(b",\"kubernetes\":{\"namespace\":");
                    write_str(out, &k.namespace);
                    out.extend_from_slice(b",\"pod\":");
                    opt_str(out, k.pod.as_deref());
                    out.extend_from_slice(b",\"pod_uid\":");
                    opt_str(out, k.pod_uid.as_deref());
                    out.extend_from_slice(b",\"service_account\":");
                    write_str(out, &k.service_account);
                    out.extend_from_slice(b",\"service_account_uid\":");
                    opt_str(out, k.service_account_uid.as_deref());
                    out.push(b'}');
                }
                out.extend_from_slice(b",\"method\":\"");
                out.extend_from_slice(c.method.as_str().as_bytes());
                out.extend_from_slice(b"\",\"roles\":");
                str_array(out, &c.roles);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"context\":");
    write_value(out, f.context)?;
    out.extend_from_slice(b",\"correlation_id\":");
    opt_str(out, f.correlation_id);
    out.extend_from_slice(b",\"decision\":");
    opt_str(out, f.decision);
    out.extend_from_slice(b",\"effective_risk\":");
    opt_str(out, f.effective_risk);
    out.extend_from_slice(b",\"evaluated_at\":");
    opt_str(out, f.evaluated_at);
    out.extend_from_slice(b",\"event_id\":");
    write_str(out, f.event_id);
    out.push(b',');
    let hash_start = out.len();
    out.extend_from_slice(b"\"hash\":");
    write_str(out, hash);
    out.push(b',');
    let hash_end = out.len();
    out.extend_from_slice(b"\"kind\":\"");
    out.extend_from_slice(f.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"params\":");
    write_value(out, f.params)?;
    out.extend_from_slice(b",\"plan_step\":");
    match f.plan_step {
        Some(n) => write_u64(out, u64::from(n)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"policy_matched\":");
    opt_str(out, f.policy_matched);
    out.extend_from_slice(b",\"prev_hash\":");
    write_str(out, f.prev_hash);
    out.extend_from_slice(b",\"reason\":");
    opt_str(out, f.reason);
    out.extend_from_slice(b",\"recovery\":");
    match f.recovery {
        Some(r) => {
            out.extend_from_slice(b"{\"quarantine_file\":");
            write_str(out, &r.quarantine_file);
            out.extend_from_slice(b",\"torn_bytes\":");
            safe_u64(out, r.torn_bytes)?;
            out.extend_from_slice(b",\"torn_sha256\":");
            write_str(out, &r.torn_sha256);
            out.extend_from_slice(b",\"truncated_at\":");
            safe_u64(out, r.truncated_at)?;
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"risk_class\":");
    opt_str(out, f.risk_class);
    out.extend_from_slice(b",\"rotation\":");
    match f.rotation {
        Some(r) => {
            out.extend_from_slice(b"{\"previous_file\":");
            write_str(out, &r.previous_file);
            out.extend_from_slice(b",\"previous_last_hash\":");
            write_str(out, &r.previous_last_hash);
            out.extend_from_slice(b",\"previous_last_seq\":");
            safe_u64(out, r.previous_last_seq)?;
            out.extend_from_slice(b",\"trigger\":\"");
            out.extend_from_slice(r.trigger.as_str().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"seq\":");
    safe_u64(out, f.seq)?;
    if v2 {
        out.extend_from_slice(b",\"shadow\":");
        match f.shadow {
            Some(sh) => {
                out.extend_from_slice(b"{\"decision\":");
                opt_str(out, sh.decision.as_deref());
                out.extend_from_slice(b",\"error\":");
                opt_str(out, sh.error.as_deref());
                out.extend_from_slice(b",\"policy_matched\":");
                opt_str(out, sh.policy_matched.as_deref());
                out.extend_from_slice(b",\"reason\":");
                opt_str(out, sh.reason.as_deref());
                out.extend_from_slice(b",\"snapshot\":");
                opt_str(out, sh.snapshot.as_deref());
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"snapshot\":");
        opt_str(out, f.snapshot);
    }
    out.extend_from_slice(b",\"target\":");
    opt_str(out, f.target);
    out.extend_from_slice(b",\"timestamp\":");
    write_str(out, f.timestamp);
    out.extend_from_slice(b",\"v\":");
    write_u64(out, f.v);
    out.push(b'}');
    Ok(hash_start..hash_end)
}

/// SHA-256 of the line with the `hash` member cut out, as lowercase hex.
pub(crate) fn hash_without(line: &[u8], member: &Range<usize>) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(line.get(..member.start).unwrap_or_default());
    h.update(line.get(member.end..).unwrap_or_default());
    hex64(&h.finalize().into())
}

pub(crate) fn hex64(digest: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // Cannot fail: 64 = 2 × 32.
    let _ = hex::encode_to_slice(digest, &mut out);
    out
}

/// Writes `line` with its hash filled in: `out` must hold the line written by
/// [`write_line`] with a 64-character placeholder hash, `member` its range.
pub(crate) fn seal(out: &mut [u8], member: &Range<usize>) -> [u8; 64] {
    let hex = hash_without(out, member);
    // `"hash":"` is 8 bytes; the 64 hex digits follow.
    let start = member.start + 8;
    if let Some(slot) = out.get_mut(start..start + 64) {
        slot.copy_from_slice(&hex);
    }
    hex
}

fn str_array(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, s);
    }
    out.push(b']');
}

fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// JSON string with JCS escaping: `"` `\` and the C0 controls only, the
/// controls as `\b \t \n \f \r` or `\u00xx` (lowercase) — which is exactly
/// what `serde_json` writes.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail; a failure here could only be an
    // allocation failure, which aborts anyway.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    let _ = write!(out, "{n}");
}

fn safe_u64(out: &mut Vec<u8>, n: u64) -> Result<(), Unsafe> {
    if n > MAX_SAFE_INTEGER {
        return Err(Unsafe);
    }
    write_u64(out, n);
    Ok(())
}

/// Writes `v` in canonical form.
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<(), Unsafe> {
    write_nested(out, v, 0)
}

/// Writes `v`, which sits inside `depth` containers of the top value.
fn write_nested(out: &mut Vec<u8>, v: &Value, depth: usize) -> Result<(), Unsafe> {
    if matches!(v, Value::Array(_) | Value::Object(_)) && depth >= MAX_VALUE_DEPTH {
        return Err(Unsafe);
    }
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_nested(out, item, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map, depth + 1)?,
    }
    Ok(())
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    // Code-point order and UTF-16 order agree except for code points above
    // U+FFFF against U+E000..U+FFFF; byte order is code-point order for UTF-8.
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>, depth: usize) -> Result<(), Unsafe> {
    out.push(b'{');
    let sorted = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| utf16_cmp(a, b) == Ordering::Less);
    if sorted {
        for (i, (k, v)) in map.iter().enumerate() {
            member(out, i, k, v, depth)?;
        }
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| utf16_cmp(a.0, b.0));
        for (i, (k, v)) in entries.into_iter().enumerate() {
            member(out, i, k, v, depth)?;
        }
    }
    out.push(b'}');
    Ok(())
}

fn member(out: &mut Vec<u8>, i: usize, k: &str, v: &Value, depth: usize) -> Result<(), Unsafe> {
    if i > 0 {
        out.push(b',');
    }
    write_str(out, k);
    out.push(b':');
    write_nested(out, v, depth)
}

/// 2^53−1 as a double, and 10^21: ECMAScript writes whole numbers below 10^21
/// in plain digits, which a reader takes for an integer.
const MAX_SAFE_F64: f64 = 9_007_199_254_740_991.0;
const PLAIN_DIGITS_LIMIT: f64 = 1e21;

fn number_is_safe(n: &Number) -> bool {
    if let Some(u) = n.as_u64() {
        u <= MAX_SAFE_INTEGER
    } else if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER
    } else if let Some(f) = n.as_f64() {
        let a = f.abs();
        f.is_finite() && !(f.fract() == 0.0 && a > MAX_SAFE_F64 && a < PLAIN_DIGITS_LIMIT)
    } else {
        false
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), Unsafe> {
    if !number_is_safe(n) {
        return Err(Unsafe);
    }
    if let Some(u) = n.as_u64() {
        write_u64(out, u);
    } else if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(f) = n.as_f64() {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    }
    Ok(())
}

/// The first part of `v` that [`write_value`] refuses, as the error to
/// report (`at` names `v`: `params`, `context`).
pub(crate) fn find_unrecordable(v: &Value, at: &str) -> Option<CanonicalError> {
    find_in(v, at, 0)
}

/// Whether `v` holds something [`write_value`] refuses (no allocation).
pub(crate) fn has_unrecordable(v: &Value) -> bool {
    has_at(v, 0)
}

fn has_at(v: &Value, depth: usize) -> bool {
    match v {
        Value::Number(n) => !number_is_safe(n),
        Value::Array(_) | Value::Object(_) if depth >= MAX_VALUE_DEPTH => true,
        Value::Array(items) => items.iter().any(|item| has_at(item, depth + 1)),
        Value::Object(map) => map.values().any(|item| has_at(item, depth + 1)),
        _ => false,
    }
}

fn find_in(v: &Value, at: &str, depth: usize) -> Option<CanonicalError> {
    if !has_at(v, depth) {
        return None;
    }
    match v {
        Value::Number(n) if !number_is_safe(n) => Some(CanonicalError::UnsafeNumber {
            pointer: at.to_string(),
            number: n.to_string(),
        }),
        Value::Array(_) | Value::Object(_) if depth >= MAX_VALUE_DEPTH => {
            Some(CanonicalError::TooDeep {
                pointer: at.to_string(),
            })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_in(item, &format!("{at}/{i}"), depth + 1)),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let k = k.replace('~', "~0").replace('/', "~1");
            find_in(item, &format!("{at}/{k}"), depth + 1)
        }),
        _ => None,
    }
}

/// The form in which the log records a caller's value (`params`, `context`),
/// so that any JSON a caller sends can be logged and read back exactly.
/// `docs/AUDIT-LOG.md` ("Numbers and depth") is the contract:
///
/// - a number whose canonical text would read back as a different number —
///   an integer beyond ±(2^53−1), or a double that is a whole number beyond
///   ±(2^53−1) and below 10^21 in magnitude (RFC 8785 writes it in plain
///   digits, which readers take for an integer) — becomes a string holding
///   the number in decimal digits: `9007199254740993` → `"9007199254740993"`,
///   `1e20` → `"100000000000000000000"`;
/// - an array or object nested deeper than [`MAX_VALUE_DEPTH`] becomes a
///   string holding its compact JSON text;
/// - everything else is recorded as it is (RFC 8785 writes `-0` as `0`, and
///   `1.0` as `1`: the same numbers).
///
/// Decisions are made on the caller's values; only the log holds this form.
pub fn recorded_form(v: Value) -> Value {
    recorded_at(v, 0)
}

fn recorded_at(v: Value, depth: usize) -> Value {
    match v {
        Value::Number(n) if !number_is_safe(&n) => Value::String(number_digits(&n)),
        Value::Array(_) | Value::Object(_) if depth >= MAX_VALUE_DEPTH => {
            Value::String(serde_json::to_string(&v).unwrap_or_default())
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| recorded_at(item, depth + 1))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, item)| (k, recorded_at(item, depth + 1)))
                .collect(),
        ),
        other => other,
    }
}

/// A number in decimal digits: integers as they are, doubles in their
/// ECMAScript form (which is plain digits for whole numbers below 10^21).
fn number_digits(n: &Number) -> String {
    match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => u.to_string(),
        (None, Some(i), _) => i.to_string(),
        (None, None, Some(f)) if f.is_finite() => {
            let mut buf = ryu_js::Buffer::new();
            buf.format_finite(f).to_owned()
        }
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_reference_canonicalizer() {
        let cases = [
            json!({"b": 1, "a": [1.5, -0.0, 1e21, 1e-7, 123456789.125], "\u{e000}": 1, "\u{1f600}": 2}),
            json!({"s": "tab\t nl\n ctl\u{1} del\u{7f} quote\" bs\\ slash/ é \u{2028}"}),
            json!([
                null,
                true,
                false,
                {},
                [],
                "",
                0,
                -5,
                9007199254740991i64,
                -9007199254740991i64
            ]),
            json!({"nested": {"z": {"y": 1, "x": [{"b": 2, "a": 1}]}}}),
        ];
        for v in cases {
            let reference = serde_json_canonicalizer::to_string(&v).unwrap();
            assert_eq!(canon(&v), reference, "for {v}");
        }
    }

    #[test]
    fn unsafe_numbers_are_refused_with_their_pointer() {
        for v in [
            json!({"a": {"b/c": [1, 9007199254740992u64]}}),
            json!({"a": -9007199254740992i64}),
            json!({"a": 1.2e20}),
            json!({"a": u64::MAX}),
        ] {
            let mut out = Vec::new();
            assert!(write_value(&mut out, &v).is_err(), "{v}");
            let Some(CanonicalError::UnsafeNumber { pointer, .. }) =
                find_unrecordable(&v, "params")
            else {
                panic!("{v}")
            };
            assert!(pointer.starts_with("params/a"), "{pointer}");
        }
        assert_eq!(
            find_unrecordable(&json!({"a": {"b/c": [1, 9007199254740992u64]}}), "params"),
            Some(CanonicalError::UnsafeNumber {
                pointer: "params/a/b~1c/1".into(),
                number: "9007199254740992".into()
            })
        );
        // Large but exponent-form doubles read back exactly and are fine.
        assert_eq!(
            canon(&json!({"a": 1e21, "b": 9007199254740991u64})),
            r#"{"a":1e+21,"b":9007199254740991}"#
        );
    }
}
