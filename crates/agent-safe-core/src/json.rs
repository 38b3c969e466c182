//! Strict JSON for requests: a key may appear only once in an object, at any
//! depth.
//!
//! `serde_json` keeps the last of two equal keys. For a request that is a
//! hole: `{"namespace": "kube-system", "namespace": "staging"}` is decided
//! (and logged) on `staging`, while an executor reading the first value acts
//! on `kube-system`. Every surface therefore reads params, context and plans
//! through this module: JSON text with [`parse`], and the `params`/`context`
//! fields of the request types through [`params`]/[`context`] (used with
//! `#[serde(deserialize_with)]`), so whoever deserialises a
//! [`CheckRequest`](crate::CheckRequest) or a [`PlanRequest`](crate::plan::PlanRequest)
//! gets the same refusal. The parsing itself is `serde_json`'s (its
//! deserializer, with its nesting limit); only the map visitor is ours.

use std::fmt::{self, Write as _};

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Where a value sits in a request: `params`, `params.namespace`,
/// `context.a.b[2].x`, `params["odd key"]`.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Root(&'a str),
    Key(&'a Seg<'a>, &'a str),
    Index(&'a Seg<'a>, usize),
}

impl fmt::Display for Seg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Root(name) => f.write_str(name),
            Seg::Key(parent, key) => {
                write!(f, "{parent}")?;
                if is_plain_key(key) {
                    write!(f, ".{key}")
                } else {
                    // JSON-quoted: a key with dots, spaces or control
                    // characters stays readable and cannot forge a line.
                    f.write_char('[')?;
                    f.write_str(&quote(key))?;
                    f.write_char(']')
                }
            }
            Seg::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quote(key: &str) -> String {
    serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"))
}

/// A value read strictly; `path` names it in errors.
struct Strict<'a> {
    path: &'a Seg<'a>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite float from JSON text.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let here = Seg::Index(self.path, out.len());
            match seq.next_element_seed(Strict { path: &here })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let here = Seg::Key(self.path, &key);
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{here}`: a key may appear only once in an object"
                )));
            }
            let value = map.next_value_seed(Strict { path: &here })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON text into a value, refusing a repeated key at any depth.
/// `root` names the value in errors (`params` → ``duplicate key
/// `params.namespace` ``). Errors carry serde_json's line and column.
pub fn parse(root: &str, text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Strict {
        path: &Seg::Root(root),
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Reads any value strictly from a deserializer; `root` names it in errors.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(root: &str, d: D) -> Result<Value, D::Error> {
    Strict {
        path: &Seg::Root(root),
    }
    .deserialize(d)
}

/// `#[serde(deserialize_with = "crate::json::params")]` for an
/// `Option<Value>` field called `params` (`null` is absent).
pub fn params<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    deserialize("params", d).map(non_null)
}

/// `#[serde(deserialize_with = "crate::json::context")]` for an
/// `Option<Value>` field called `context` (`null` is absent).
pub fn context<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    deserialize("context", d).map(non_null)
}

fn non_null(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        v => Some(v),
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(text: &str) -> String {
        parse("params", text).unwrap_err().to_string()
    }

    #[test]
    fn the_issue_example_is_refused() {
        let e = err(r#"{"namespace":"kube-system","deployment":"api","namespace":"staging"}"#);
        assert!(e.starts_with("duplicate key `params.namespace`"), "{e}");
        assert!(e.contains("line 1 column"), "{e}");
    }

    #[test]
    fn nested_duplicates_name_their_path() {
        let e = err(r#"{"a": {"b": [1, 2, {"x": 1, "y": 2, "x": 3}]}}"#);
        assert!(e.starts_with("duplicate key `params.a.b[2].x`"), "{e}");
        let e = err(r#"[{"ok": 1}, {"k": {"k": 1, "k": 2}}]"#);
        assert!(e.starts_with("duplicate key `params[1].k.k`"), "{e}");
        let e = err("{\"a.b\": 1, \"a.b\": 2}");
        assert!(e.starts_with(r#"duplicate key `params["a.b"]`"#), "{e}");
        let e = err("{\"a\\nb\": 1, \"a\\nb\": 2}");
        assert!(e.starts_with(r#"duplicate key `params["a\nb"]`"#), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn escaped_spellings_of_one_key_are_one_key() {
        // `"\u006e"` is `"n"`: two spellings, one key.
        let e = err(r#"{"n": 1, "\u006e": 2}"#);
        assert!(e.starts_with("duplicate key `params.n`"), "{e}");
    }

    #[test]
    fn equal_keys_in_different_objects_are_fine() {
        let v = parse(
            "p",
            r#"{"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 3}, {"k": 4}]}"#,
        )
        .unwrap();
        assert_eq!(v["c"][1]["k"], 4);
    }

    #[test]
    fn anything_else_is_serde_json() {
        for text in ["{", "{\"a\": 1} x", "[1, 2,]", "nul", ""] {
            let ours = parse("p", text).unwrap_err();
            let theirs = serde_json::from_str::<Value>(text).unwrap_err();
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
            assert_eq!(ours.classify(), theirs.classify(), "{text}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse("p", &deep).is_err(), "the nesting limit holds");
    }

    #[test]
    fn fields_read_null_as_absent() {
        #[derive(serde::Deserialize)]
        struct R {
            #[serde(default, deserialize_with = "params")]
            params: Option<Value>,
        }
        let r: R = serde_json::from_str(r#"{"params": null}"#).unwrap();
        assert!(r.params.is_none());
        let e = serde_json::from_str::<R>(r#"{"params": {"a": {"b": 1, "b": 1}}}"#)
            .err()
            .unwrap();
        assert!(
            e.to_string().starts_with("duplicate key `params.a.b`"),
            "{e}"
        );
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            "[a-z\\\\\"\u{e9}\n]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Repeats the first key of the first non-empty object found.
    fn with_duplicate(text: &str) -> Option<String> {
        let v: Value = serde_json::from_str(text).ok()?;
        fn walk(v: &Value) -> Option<String> {
            match v {
                Value::Object(m) => match m.iter().next() {
                    Some((k, first)) => {
                        let mut body: Vec<String> = m
                            .iter()
                            .map(|(k, v)| format!("{}:{}", quote(k), v))
                            .collect();
                        body.push(format!("{}:{}", quote(k), first));
                        Some(format!("{{{}}}", body.join(",")))
                    }
                    None => None,
                },
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(s) = walk(item) {
                            let mut parts: Vec<String> =
                                items.iter().map(Value::to_string).collect();
                            parts[i] = s;
                            return Some(format!("[{}]", parts.join(",")));
                        }
                    }
                    None
                }
                _ => None,
            }
        }
        walk(&v)
    }

    proptest! {
        /// Without repeated keys the strict reading is serde_json's reading.
        #[test]
        fn agrees_with_serde_json(v in json()) {
            let text = v.to_string();
            prop_assert_eq!(parse("p", &text).unwrap(), v);
        }

        /// With one repeated key anywhere, the text is refused.
        #[test]
        fn any_repeated_key_is_refused(v in json()) {
            if let Some(text) = with_duplicate(&v.to_string()) {
                let e = parse("p", &text).unwrap_err();
                prop_assert!(e.to_string().starts_with("duplicate key `p"), "{}", e);
            }
        }

        /// Arbitrary text never panics.
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse("p", &text);
        }
    }
}
