//! The fast path of `verify`: checks in one pass, without allocating, that a
//! line is exactly the canonical (RFC 8785) form of a `decision` or `approval`
//! event, and picks out what the chain check needs.
//!
//! It is only a shortcut: when it says no (for any reason, including lines it
//! does not handle such as `rotation`/`recovery` events, escaped keys or very
//! deep values), `verify` takes the slow path — parse with serde, write the
//! canonical form back, compare — which is the reference and which words the
//! error. So this scanner must never accept a line the slow path would
//! reject; it may reject lines the slow path accepts. The unit tests and the
//! property tests check the two against each other.

use std::cmp::Ordering;
use std::ops::Range;

use super::canon::MAX_SAFE_INTEGER;
use super::event::EventKind;

/// What the chain check needs from a sound line.
pub(crate) struct Scanned {
    pub seq: u64,
    pub kind: EventKind,
    pub prev_hash: Range<usize>,
    pub hash: Range<usize>,
    /// The `"hash":"…",` member, cut out for hashing.
    pub member: Range<usize>,
}

/// Deeper values are left to the slow path (serde_json stops at 128).
const MAX_DEPTH: u32 = 100;

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn lit(&mut self, s: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + s.len())? == s {
            self.i += s.len();
            Some(())
        } else {
            None
        }
    }

    /// A canonical string; returns the range of its content and whether it
    /// holds escapes.
    fn string(&mut self) -> Option<(Range<usize>, bool)> {
        self.lit(b"\"")?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i = skip_plain(self.b, self.i);
            match *self.b.get(self.i)? {
                b'"' => {
                    let r = start..self.i;
                    self.i += 1;
                    return Some((r, escaped));
                }
                b'\\' => {}
                // A raw control character: it must be escaped.
                _ => return None,
            }
            escaped = true;
            match *self.b.get(self.i + 1)? {
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                b'u' => {
                    // Only C0 controls without a short form, as \u00xx.
                    let v = match self.b.get(self.i + 2..self.i + 6)? {
                        [b'0', b'0', h, l] => hexval(*h)? * 16 + hexval(*l)?,
                        _ => return None,
                    };
                    if v >= 0x20 || matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                        return None;
                    }
                    self.i += 6;
                }
                _ => return None,
            }
        }
    }

    fn string_or_null(&mut self) -> Option<()> {
        if self.peek() == Some(b'n') {
            self.lit(b"null")
        } else {
            self.string().map(|_| ())
        }
    }

    /// A canonical number; returns its text.
    fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                self.i += 1;
            } else {
                break;
            }
        }
        let tok = self.b.get(start..self.i)?;
        number_is_canonical(tok).then_some(tok)
    }

    /// A canonical integer in `0..=max`.
    fn uint(&mut self, max: u64) -> Option<u64> {
        let tok = self.number()?;
        if tok.is_empty() || !tok.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u64 = std::str::from_utf8(tok).ok()?.parse().ok()?;
        (n <= max).then_some(n)
    }

    fn value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => {
                self.i += 1;
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => None,
        }
    }

    /// `[` canonical strings `]`.
    fn str_array(&mut self) -> Option<()> {
        self.lit(b"[")?;
        if self.lit(b"]").is_some() {
            return Some(());
        }
        loop {
            self.string()?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A v2 `caller_identity` value, exactly as the writer emits it.
    fn caller_identity(&mut self) -> Option<()> {
        if self.lit(b"null").is_some() {
            return Some(());
        }
        self.lit(b"{\"groups\":")?;
        self.str_array()?;
        self.lit(b",\"kid\":")?;
        self.string_or_null()?;
        if self.lit(b",\"kubernetes\":").is_some() {
            self.lit(b"{\"namespace\":")?;
            self.string_or_null()?;
            self.lit(b",\"pod\":")?;
            self.string_or_null()?;
            self.lit(b",\"pod_uid\":")?;
            self.string_or_null()?;
            self.lit(b",\"service_account\":")?;
            self.string_or_null()?;
            self.lit(b",\"service_account_uid\":")?;
            self.string_or_null()?;
            self.lit(b"}")?;
        }
        self.lit(b",\"method\":")?;
        let known = [
            &b"\"token\""[..],
            b"\"id\"",
            b"\"anonymous\"",
            b"\"rejected\"",
            b"\"host\"",
        ];
        known.iter().find_map(|m| self.lit(m))?;
        self.lit(b",\"roles\":")?;
        self.str_array()?;
        self.lit(b"}")
    }

    /// A v2 `shadow` value, exactly as the writer emits it.
    fn shadow(&mut self) -> Option<()> {
        if self.lit(b"null").is_some() {
            return Some(());
        }
        self.lit(b"{\"decision\":")?;
        self.string_or_null()?;
        self.lit(b",\"error\":")?;
        self.string_or_null()?;
        self.lit(b",\"policy_matched\":")?;
        self.string_or_null()?;
        self.lit(b",\"reason\":")?;
        self.string_or_null()?;
        self.lit(b",\"snapshot\":")?;
        self.string_or_null()?;
        self.lit(b"}")
    }

    fn object(&mut self, depth: u32) -> Option<()> {
        self.lit(b"{")?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(());
        }
        let mut prev: Option<Range<usize>> = None;
        loop {
            let (key, escaped) = self.string()?;
            if escaped {
                // Escaped keys sort by their decoded text: slow path.
                return None;
            }
            if let Some(p) = &prev
                && key_cmp(self.b.get(p.clone())?, self.b.get(key.clone())?)? != Ordering::Less
            {
                return None;
            }
            prev = Some(key);
            self.lit(b":")?;
            self.value(depth)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Bytes that end a run of plain string content.
const fn is_special(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// The index of the first byte at or after `i` that is `"`, `\` or a
/// control character (or `b.len()`). Eight bytes at a time while none of
/// them can be one (the word test may stop early, never late: the byte loop
/// decides).
fn skip_plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let quote = has_zero(w ^ (ONES * u64::from(b'"')));
        let backslash = has_zero(w ^ (ONES * u64::from(b'\\')));
        if below_space | quote | backslash != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if is_special(c) {
            break;
        }
        i += 1;
    }
    i
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// RFC 8785 key order: UTF-16 code units of the (unescaped) keys.
fn key_cmp(a: &[u8], b: &[u8]) -> Option<Ordering> {
    if a.is_ascii() && b.is_ascii() {
        return Some(a.cmp(b));
    }
    let a = std::str::from_utf8(a).ok()?;
    let b = std::str::from_utf8(b).ok()?;
    Some(a.encode_utf16().cmp(b.encode_utf16()))
}

/// Whether `tok` is exactly how RFC 8785 writes its value, and the value is
/// one the writer accepts (no whole number beyond ±(2^53−1) in plain digits).
fn number_is_canonical(tok: &[u8]) -> bool {
    let digits = tok.strip_prefix(b"-").unwrap_or(tok);
    // Fast path: a plain integer of at most 15 digits (< 2^53).
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let leading_zero = digits.len() > 1 && digits.first() == Some(&b'0');
        let negative_zero = digits == b"0" && tok.len() > digits.len();
        return !leading_zero && !negative_zero;
    }
    let Some(f) = std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    else {
        return false;
    };
    if !f.is_finite() {
        return false;
    }
    let a = f.abs();
    if f.fract() == 0.0 && a > MAX_SAFE_INTEGER as f64 && a < 1e21 {
        return false;
    }
    let mut buf = ryu_js::Buffer::new();
    buf.format_finite(f).as_bytes() == tok
}

/// Scans `line`; `None` means "take the slow path".
pub(crate) fn scan(line: &[u8]) -> Option<Scanned> {
    std::str::from_utf8(line).ok()?;
    let mut c = Cur { b: line, i: 0 };
    c.lit(b"{\"action\":")?;
    c.string_or_null()?;
    c.lit(b",\"action_version\":")?;
    c.string_or_null()?;
    c.lit(b",\"caller\":")?;
    c.string_or_null()?;
    // v2 lines carry `caller_identity`, `shadow` and `snapshot`; v1 lines none.
    let v2 = c.lit(b",\"caller_identity\":").is_some();
    if v2 {
        c.caller_identity()?;
    }
    c.lit(b",\"context\":")?;
    c.value(1)?;
    c.lit(b",\"correlation_id\":")?;
    c.string_or_null()?;
    c.lit(b",\"decision\":")?;
    c.string_or_null()?;
    c.lit(b",\"effective_risk\":")?;
    c.string_or_null()?;
    c.lit(b",\"evaluated_at\":")?;
    c.string_or_null()?;
    c.lit(b",\"event_id\":")?;
    c.string()?;
    c.lit(b",")?;
    let member_start = c.i;
    c.lit(b"\"hash\":")?;
    // The hashes are hex: an escape in them is left to the slow path, so
    // the raw bytes handed back are the decoded value.
    let (hash, false) = c.string()? else {
        return None;
    };
    c.lit(b",")?;
    let member = member_start..c.i;
    c.lit(b"\"kind\":")?;
    let kind = if c.lit(b"\"decision\"").is_some() {
        EventKind::Decision
    } else if c.lit(b"\"approval\"").is_some() {
        EventKind::Approval
    } else {
        // Recovery and rotation events carry more fields: slow path.
        return None;
    };
    c.lit(b",\"params\":")?;
    c.value(1)?;
    c.lit(b",\"plan_step\":")?;
    if c.lit(b"null").is_none() {
        c.uint(u64::from(u32::MAX))?;
    }
    c.lit(b",\"policy_matched\":")?;
    c.string_or_null()?;
    c.lit(b",\"prev_hash\":")?;
    let (prev_hash, false) = c.string()? else {
        return None;
    };
    c.lit(b",\"reason\":")?;
    c.string_or_null()?;
    c.lit(b",\"recovery\":null,\"risk_class\":")?;
    c.string_or_null()?;
    c.lit(b",\"rotation\":null,\"seq\":")?;
    let seq = c.uint(MAX_SAFE_INTEGER)?;
    if v2 {
        c.lit(b",\"shadow\":")?;
        c.shadow()?;
        c.lit(b",\"snapshot\":")?;
        c.string_or_null()?;
    }
    c.lit(b",\"target\":")?;
    c.string_or_null()?;
    c.lit(b",\"timestamp\":")?;
    c.string()?;
    if v2 {
        c.lit(b",\"v\":2}")?;
    } else {
        c.lit(b",\"v\":1}")?;
    }
    if c.i != line.len() {
        return None;
    }
    Some(Scanned {
        seq,
        kind,
        prev_hash,
        hash,
        member,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn numbers() {
        for ok in [
            "0",
            "-1",
            "123456789012345",
            "9007199254740991",
            "1.5",
            "-0.001",
            "1e+21",
            "1e-7",
            "1.2345e+30",
            "5e-324",
        ] {
            assert!(number_is_canonical(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "-",
            "-0",
            "01",
            "1.0",
            "1e2",
            "1E+21",
            "+1",
            ".5",
            "1.",
            "9007199254740992",
            "100000000000000000000",
            "0.10",
            "1e400",
            "--1",
            "1e+021",
        ] {
            assert!(!number_is_canonical(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn skip_plain_stops_at_the_first_special_byte() {
        let text = "abcdefghijklmnopqrstuvwxyz é ü \u{7f} 0123456789";
        for special in ["\"", "\\", "\u{0}", "\u{1f}", "\n"] {
            for at in 0..=text.len() {
                if !text.is_char_boundary(at) {
                    continue;
                }
                let s = format!("{}{special}{}", &text[..at], &text[at..]);
                assert_eq!(skip_plain(s.as_bytes(), 0), at, "{s:?}");
                assert_eq!(skip_plain(s.as_bytes(), at), at);
            }
        }
        assert_eq!(skip_plain(text.as_bytes(), 0), text.len());
        assert_eq!(skip_plain(b"", 0), 0);
    }

    #[test]
    fn strings_and_keys() {
        let s = |t: &str| {
            Cur {
                b: t.as_bytes(),
                i: 0,
            }
            .string()
            .is_some()
        };
        assert!(s(r#""plain é \" \\ \n \u001f \u0000""#));
        for bad in [
            r#""\/""#,
            r#""\u0041""#,
            r#""\u000a""#,
            r#""\u001F""#,
            "\"a\u{1}\"",
            r#""\x""#,
            r#""open"#,
        ] {
            assert!(!s(bad), "{bad}");
        }
        let o = |t: &str| {
            Cur {
                b: t.as_bytes(),
                i: 0,
            }
            .object(1)
            .is_some()
        };
        assert!(o(r#"{"a":1,"b":{"c":[1,{"d":null}]},"\u00e9":true}"#
            .replace("\\u00e9", "é")
            .as_str()));
        assert!(!o(r#"{"b":1,"a":2}"#));
        assert!(!o(r#"{"a":1,"a":2}"#));
        assert!(!o(r#"{"a":1 }"#));
        // U+1F600 sorts after U+E000 in UTF-8 order but before it in UTF-16
        // (its surrogates are D83D DE00).
        assert!(o("{\"\u{1f600}\":2,\"\u{e000}\":1}"));
        assert!(!o("{\"\u{e000}\":1,\"\u{1f600}\":2}"));
    }

    mod differential {
        #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
        //! The fast scanner never accepts what the slow path (serde parse,
        //! canonical write, byte compare) rejects, and agrees on the fields.
        use super::super::scan;
        use crate::audit::canon::{LineFields, write_line};
        use crate::audit::event::{EventKind, EventRef};
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        fn slow(line: &[u8]) -> Option<(u64, EventKind, Vec<u8>, Vec<u8>)> {
            let ev: EventRef<'_> = serde_json::from_slice(line).ok()?;
            if ev.v != 1 && ev.v != 2 {
                return None;
            }
            let mut out = Vec::new();
            write_line(&mut out, &ev.fields(), &ev.hash).ok()?;
            (out == line).then(|| {
                (
                    ev.seq,
                    ev.kind,
                    ev.prev_hash.as_bytes().to_vec(),
                    ev.hash.as_bytes().to_vec(),
                )
            })
        }

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-z0-9/_. -]{0,8}",
                any::<String>(),
                proptest::collection::vec(
                    prop_oneof![
                        Just('\u{0}'),
                        Just('\u{1f}'),
                        Just('\n'),
                        Just('"'),
                        Just('\\'),
                        Just('\u{7f}'),
                        Just('\u{e000}'),
                        Just('\u{1f600}')
                    ],
                    0..4
                )
                .prop_map(|cs| cs.into_iter().collect()),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(Value::from),
                any::<f64>().prop_map(
                    |f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                ),
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::vec((text(), inner), 0..4).prop_map(|kv| Value::Object(
                        kv.into_iter().collect::<Map<String, Value>>()
                    )),
                ]
            })
        }

        fn line() -> impl Strategy<Value = Vec<u8>> {
            (
                (
                    any::<bool>(),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    value(),
                    value(),
                ),
                (
                    proptest::option::of(any::<u32>()),
                    0u64..1 << 53,
                    "[0-9a-f]{64}",
                    "[0-9a-f]{64}",
                    text(),
                ),
            )
                .prop_filter_map(
                    "unsafe number",
                    |((approval, a, b, params, context), (step, seq, prev, hash, id))| {
                        // Even seqs make v2 lines with an identity built
                        // from the same text, odd ones v1 lines.
                        let v = if seq % 2 == 0 { 2 } else { 1 };
                        let identity = crate::audit::event::CallerIdentity {
                            method: crate::audit::event::CallerMethod::Token,
                            kid: a.clone(),
                            roles: a.iter().cloned().collect(),
                            groups: b.iter().cloned().collect(),
                            kubernetes: a.clone().map(|ns| crate::audit::event::KubernetesCaller {
                                namespace: ns,
                                pod: b.clone(),
                                pod_uid: None,
                                service_account: b.clone().unwrap_or_default(),
                                service_account_uid: a.clone(),
                            }),
                        };
                        // Both shapes: a disagreement (decision set) and
                        // an error (decision null), from the same text.
                        let shadow = crate::audit::event::ShadowInfo {
                            decision: b.clone(),
                            error: if b.is_some() { None } else { a.clone() },
                            policy_matched: a.clone(),
                            reason: b.clone(),
                            snapshot: a.clone(),
                        };
                        let f = LineFields {
                            v,
                            caller_identity: (v == 2 && step.is_some()).then_some(&identity),
                            snapshot: if v == 2 { b.as_deref() } else { None },
                            shadow: (v == 2 && approval).then_some(&shadow),
                            seq,
                            event_id: &id,
                            timestamp: "2026-01-01T00:00:00.000000Z",
                            kind: if approval {
                                EventKind::Approval
                            } else {
                                EventKind::Decision
                            },
                            action: a.as_deref(),
                            action_version: None,
                            target: b.as_deref(),
                            caller: a.as_deref(),
                            params: &params,
                            decision: b.as_deref(),
                            reason: None,
                            policy_matched: a.as_deref(),
                            risk_class: None,
                            effective_risk: b.as_deref(),
                            correlation_id: None,
                            context: &context,
                            evaluated_at: a.as_deref(),
                            plan_step: step,
                            recovery: None,
                            rotation: None,
                            prev_hash: &prev,
                        };
                        let mut out = Vec::new();
                        write_line(&mut out, &f, &hash).ok()?;
                        Some(out)
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn written_lines_pass_both_paths_alike(l in line()) {
                let s = slow(&l);
                prop_assert!(s.is_some());
                if let Some(fast) = scan(&l) {
                    let (seq, kind, prev, hash) = s.unwrap();
                    prop_assert_eq!(fast.seq, seq);
                    prop_assert_eq!(fast.kind, kind);
                    prop_assert_eq!(l.get(fast.prev_hash).unwrap_or_default(), &prev[..]);
                    prop_assert_eq!(l.get(fast.hash).unwrap_or_default(), &hash[..]);
                } else {
                    // Only escaped keys send a written line to the slow path.
                    prop_assert!(l.windows(2).any(|w| w[0] == b'\\'));
                }
            }

            #[test]
            fn mutated_lines_never_pass_only_the_fast_path(
                l in line(),
                edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..3),
            ) {
                let mut l = l;
                for (at, byte, op) in edits {
                    let i = at.index(l.len());
                    match op {
                        0 => l[i] = byte,
                        1 => { l.insert(i, byte); }
                        _ => { l.remove(i); }
                    }
                }
                if let Some(fast) = scan(&l) {
                    let s = slow(&l);
                    prop_assert!(s.is_some(), "fast path accepted what the slow path rejects: {}", String::from_utf8_lossy(&l));
                    let (seq, kind, prev, hash) = s.unwrap();
                    prop_assert_eq!(fast.seq, seq);
                    prop_assert_eq!(fast.kind, kind);
                    prop_assert_eq!(l.get(fast.prev_hash).unwrap_or_default(), &prev[..]);
                    prop_assert_eq!(l.get(fast.hash).unwrap_or_default(), &hash[..]);
                }
            }
        }
    }
}
