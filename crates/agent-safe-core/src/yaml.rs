//! YAML to a located tree, and a strict reader over it.
//!
//! Parsing is `serde-saphyr`'s job: it resolves scalars (YAML 1.2 core schema,
//! strict booleans), refuses duplicate keys and enforces a budget against alias
//! bombs and deeply nested documents. We ask it for a small tree in which every
//! node carries its line and column, then read that tree into the typed model
//! with [`MapReader`], which records *every* problem instead of stopping at the
//! first one, and suggests the closest key for a misspelt one.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Pos, did_you_mean};

/// Largest YAML file we read, in bytes. Configuration files are small; a larger
/// one is a mistake or an attack.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting accepted. Our formats need about 6 levels.
pub const MAX_DEPTH: usize = 32;
/// Most YAML nodes accepted in one file.
pub const MAX_NODES: usize = 200_000;
/// Most alias (`*ref`) uses accepted in one file.
pub const MAX_ALIASES: usize = 1_000;

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub value: Value,
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// Where the key starts.
    pub pos: Pos,
    /// The key as text.
    pub name: String,
}

/// The shapes a YAML value can take.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as JSON (used for parameter defaults and enums).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(|n| n.value.to_json()).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.value.to_json()))
                    .collect(),
            ),
        }
    }
}

fn pos_of(loc: &serde_saphyr::Location) -> Pos {
    Pos {
        line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
        col: u32::try_from(loc.column()).unwrap_or(u32::MAX),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            pos: pos_of(&spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let name = match spanned.value {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
            other => {
                return Err(de::Error::custom(format!(
                    "mapping keys must be plain strings, found {}",
                    other.kind()
                )));
            }
        };
        Ok(Key {
            pos: pos_of(&spanned.referenced),
            name,
        })
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer `{v}` is too large")))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer `{v}` is out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer `{v}` is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Parses one YAML document into a located tree, within the hostile-input
/// budget. An empty document is `Null`.
pub fn parse(file: &Path, src: &str) -> Result<Node, Diagnostic> {
    if src.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            file,
            Pos::FILE,
            format!(
                "file is {} bytes, larger than the {MAX_FILE_BYTES}-byte limit for configuration files",
                src.len()
            ),
        )
        .with_help("split it into several files in the same directory"));
    }
    if src.trim().is_empty() {
        return Ok(Node {
            pos: Pos::new(1, 1),
            value: Value::Null,
        });
    }
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    let options = serde_saphyr::options! {
        budget: Some(budget),
        strict_booleans: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        // An application tag (`!include x`, `!env X`) would otherwise be
        // dropped and its scalar read as plain text: the file would mean
        // something other than what its author wrote.
        reject_unsupported_tags: true,
    };
    serde_saphyr::from_str_with_options::<Node>(src, options).map_err(|e| yaml_error(file, &e))
}

/// A located tree from JSON (positions unknown).
pub fn from_json(v: &serde_json::Value) -> Node {
    let value = match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Seq(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        Key {
                            pos: Pos::FILE,
                            name: k.clone(),
                        },
                        from_json(v),
                    )
                })
                .collect(),
        ),
    };
    Node {
        pos: Pos::FILE,
        value,
    }
}

fn yaml_error(file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let pos = e.location().map(|l| pos_of(&l)).unwrap_or(Pos::FILE);
    let text = e.without_snippet().to_string();
    // serde-saphyr prefixes its message with the location; keep only the message.
    let message = strip_location_prefix(&text);
    let lower = message.to_lowercase();
    let help = if matches!(e, serde_saphyr::Error::UnsupportedTag { .. }) {
        Some(
            "agent-safe files take no YAML tags: remove the tag (there is no `!include`; put each policy or action in its own file of the directory instead), or quote the value if the `!` is part of it",
        )
    } else if lower.contains("duplicate") {
        Some("each key may appear once in a mapping: remove or rename the repeated key")
    } else if lower.contains("budget") || lower.contains("alias") || lower.contains("depth") {
        Some(
            "configuration files must be plain, small YAML: no alias expansion tricks or deep nesting",
        )
    } else {
        Some("check the YAML syntax at this position (indentation, quotes, `:` after keys)")
    };
    let mut d = Diagnostic::error(file, pos, format!("invalid YAML: {message}"));
    if let Some(h) = help {
        d = d.with_help(h);
    }
    d
}

fn strip_location_prefix(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or(text).trim();
    // Drop serde-saphyr's trailing " at line N, column M" (we report the
    // position ourselves) and its advice about parser options.
    let first_line = match first_line.rfind(" at line ") {
        Some(i) => first_line.get(..i).unwrap_or(first_line),
        None => first_line,
    };
    if let Some(rest) = first_line.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{key}`");
    }
    let stripped = first_line
        .strip_prefix("error: ")
        .unwrap_or(first_line)
        .trim();
    // Forms like "line 3 column 5: message" or "... at line 3 column 5".
    let stripped = match stripped.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => stripped,
    };
    stripped.to_owned()
}

/// A reader over one mapping that records problems into a [`Diagnostics`]
/// instead of failing, and reports unknown keys (with a suggestion) on
/// [`MapReader::finish`].
pub struct MapReader<'a> {
    file: &'a Path,
    pos: Pos,
    entries: Vec<(&'a Key, &'a Node, bool)>,
    known: &'static [&'static str],
    what: &'static str,
    missing: Vec<String>,
}

impl<'a> MapReader<'a> {
    /// Starts reading `node` as a mapping whose valid keys are `known`.
    /// Returns `None` (after recording why) when `node` is not a mapping.
    pub fn new(
        file: &'a Path,
        node: &'a Node,
        what: &'static str,
        known: &'static [&'static str],
        diags: &mut Diagnostics,
    ) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                file,
                pos: node.pos,
                entries: entries.iter().map(|(k, v)| (k, v, false)).collect(),
                known,
                what,
                missing: Vec::new(),
            }),
            other => {
                diags.push(
                    Diagnostic::error(
                        file,
                        node.pos,
                        format!("expected {what} as a mapping, found {}", other.kind()),
                    )
                    .with_help(format!("valid keys here: {}", known.join(", "))),
                );
                None
            }
        }
    }

    /// The file being read.
    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// Where the mapping starts.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// Takes the value of `key` if present (explicit `null` counts as absent).
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        for entry in &mut self.entries {
            if entry.0.name == key {
                entry.2 = true;
                if entry.1.value == Value::Null {
                    return None;
                }
                return Some(entry.1);
            }
        }
        None
    }

    /// Takes a required key; records "missing key" when absent.
    pub fn require(&mut self, key: &str, diags: &mut Diagnostics) -> Option<&'a Node> {
        let node = self.take(key);
        if node.is_none() {
            self.missing.push(key.to_owned());
            diags.push(
                Diagnostic::error(
                    self.file,
                    self.pos,
                    format!("{} is missing the required key `{key}`", self.what),
                )
                .with_help(format!("add `{key}:` to this {}", self.what)),
            );
        }
        node
    }

    /// Takes a required string.
    pub fn req_str(&mut self, key: &str, diags: &mut Diagnostics) -> Option<(String, Pos)> {
        let node = self.require(key, diags)?;
        str_of(self.file, node, key, diags).map(|s| (s, node.pos))
    }

    /// Takes an optional string.
    pub fn opt_str(&mut self, key: &str, diags: &mut Diagnostics) -> Option<(String, Pos)> {
        let node = self.take(key)?;
        str_of(self.file, node, key, diags).map(|s| (s, node.pos))
    }

    /// Takes an optional boolean.
    pub fn opt_bool(&mut self, key: &str, diags: &mut Diagnostics) -> Option<bool> {
        let node = self.take(key)?;
        match node.value {
            Value::Bool(b) => Some(b),
            ref other => {
                diags.push(type_error(self.file, node, key, "`true` or `false`", other));
                None
            }
        }
    }

    /// Takes an optional integer.
    pub fn opt_int(&mut self, key: &str, diags: &mut Diagnostics) -> Option<(i64, Pos)> {
        let node = self.take(key)?;
        int_of(self.file, node, key, diags).map(|i| (i, node.pos))
    }

    /// Takes an optional list of strings.
    pub fn opt_str_list(
        &mut self,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Option<Vec<(String, Pos)>> {
        let node = self.take(key)?;
        str_list_of(self.file, node, key, diags)
    }

    /// Takes an optional list and returns its items.
    pub fn opt_list(&mut self, key: &str, diags: &mut Diagnostics) -> Option<&'a [Node]> {
        let node = self.take(key)?;
        list_of(self.file, node, key, diags)
    }

    /// Takes an optional string → string mapping.
    pub fn opt_str_map(
        &mut self,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Option<Vec<(String, String, Pos)>> {
        let node = self.take(key)?;
        match &node.value {
            Value::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let s = match &v.value {
                        Value::Str(s) => Some(s.clone()),
                        // Label values such as `1` or `true` are meant as text.
                        Value::Int(i) => Some(i.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        other => {
                            let name = format!("{key}.{}", k.name);
                            diags.push(type_error(self.file, v, &name, "a string", other));
                            None
                        }
                    };
                    if let Some(s) = s {
                        out.push((k.name.clone(), s, k.pos));
                    }
                }
                Some(out)
            }
            other => {
                diags.push(type_error(
                    self.file,
                    node,
                    key,
                    "a mapping of strings to strings",
                    other,
                ));
                None
            }
        }
    }

    /// Reports every key that was never taken, with a suggestion for typos.
    /// Keys listed in `preserved` are accepted silently.
    pub fn finish(self, diags: &mut Diagnostics) {
        self.finish_preserving(&[], diags);
    }

    /// Like [`MapReader::finish`], but accepts `preserved` keys silently.
    pub fn finish_preserving(self, preserved: &[&str], diags: &mut Diagnostics) {
        for (key, _, used) in &self.entries {
            if *used || preserved.contains(&key.name.as_str()) {
                continue;
            }
            let mut d = Diagnostic::error(
                self.file,
                key.pos,
                format!("unknown key `{}` in {}", key.name, self.what),
            );
            let all = self.known.iter().copied().chain(preserved.iter().copied());
            d = match did_you_mean(&key.name, all) {
                Some(s) if self.missing.iter().any(|m| m == s) => {
                    // The typo explains the missing key: report it once.
                    let missing = format!("{} is missing the required key `{s}`", self.what);
                    let at = self.pos;
                    diags.remove_where(|x| x.pos == at && x.message == missing);
                    d.with_help(format!("did you mean `{s}`? (`{s}` is required here)"))
                }
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("valid keys here: {}", self.known.join(", "))),
            };
            diags.push(d);
        }
    }
}

/// Records a "wrong type" diagnostic.
pub fn type_error(
    file: &Path,
    node: &Node,
    key: &str,
    expected: &str,
    found: &Value,
) -> Diagnostic {
    Diagnostic::error(
        file,
        node.pos,
        format!("`{key}` must be {expected}, found {}", found.kind()),
    )
}

/// Reads a string (numbers and booleans are not silently turned into text).
pub fn str_of(file: &Path, node: &Node, key: &str, diags: &mut Diagnostics) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        other => {
            let mut d = type_error(file, node, key, "a string", other);
            let shown = match other {
                Value::Int(i) => Some(i.to_string()),
                Value::Float(f) => Some(f.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            if let Some(v) = shown {
                d = d.with_help(format!("quote the value to make it a string: \"{v}\""));
            }
            diags.push(d);
            None
        }
    }
}

/// Reads an integer.
pub(crate) fn int_of(file: &Path, node: &Node, key: &str, diags: &mut Diagnostics) -> Option<i64> {
    match &node.value {
        Value::Int(i) => Some(*i),
        other => {
            diags.push(type_error(file, node, key, "an integer", other));
            None
        }
    }
}

/// Reads a list.
pub(crate) fn list_of<'a>(
    file: &Path,
    node: &'a Node,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<&'a [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        other => {
            diags.push(
                type_error(file, node, key, "a list", other)
                    .with_help(format!("write `{key}: [a, b]` or one `- item` per line")),
            );
            None
        }
    }
}

/// Reads a list of strings; a single string is *not* accepted as a list.
pub(crate) fn str_list_of(
    file: &Path,
    node: &Node,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<(String, Pos)>> {
    let items = list_of(file, node, key, diags)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match &item.value {
            Value::Str(s) => out.push((s.clone(), item.pos)),
            other => {
                ok = false;
                diags.push(type_error(
                    file,
                    item,
                    &format!("each item of `{key}`"),
                    "a string",
                    other,
                ));
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    fn p(src: &str) -> Result<Node, Diagnostic> {
        parse(Path::new("t.yaml"), src)
    }

    #[test]
    fn positions_are_recorded() {
        let n = p("a: 1\nb:\n  - x\n  - 2\n").unwrap_or_else(|e| unreachable!("{e}"));
        let Value::Map(entries) = &n.value else {
            unreachable!()
        };
        let (k, v) = &entries[1];
        assert_eq!(k.name, "b");
        assert_eq!(k.pos, Pos::new(2, 1));
        let Value::Seq(items) = &v.value else {
            unreachable!()
        };
        assert_eq!(items[0].pos, Pos::new(3, 5));
        assert_eq!(items[1].value, Value::Int(2));
    }

    #[test]
    fn scalars_resolve_strictly() {
        let n = p("a: yes\nb: true\nc: '1'\nd: 1.5\ne: ~\nf: 09:00\n")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let Value::Map(e) = n.value else {
            unreachable!()
        };
        assert_eq!(e[0].1.value, Value::Str("yes".into()));
        assert_eq!(e[1].1.value, Value::Bool(true));
        assert_eq!(e[2].1.value, Value::Str("1".into()));
        assert_eq!(e[3].1.value, Value::Float(1.5));
        assert_eq!(e[4].1.value, Value::Null);
        assert_eq!(e[5].1.value, Value::Str("09:00".into()));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = p("a: 1\nb: 2\na: 3\n")
            .err()
            .unwrap_or_else(|| unreachable!());
        assert!(e.message.contains("duplicate"), "{e}");
        assert_eq!(e.pos.line, 3);
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = "a".to_string();
        for i in 0..12 {
            let name = format!("l{i}");
            src.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = name;
        }
        let e = p(&src)
            .err()
            .unwrap_or_else(|| unreachable!("alias bomb accepted"));
        assert!(e.message.starts_with("invalid YAML"), "{e}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let src = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert!(p(&src).is_err());
        let mut block = String::new();
        for i in 0..200 {
            block.push_str(&" ".repeat(i * 2));
            block.push_str("k:\n");
        }
        assert!(p(&block).is_err());
    }

    #[test]
    fn unknown_tags_are_refused() {
        for (src, line) in [
            (
                "rules: !include other.yaml
",
                1,
            ),
            (
                "a: 1
b: !env SECRET
",
                2,
            ),
            (
                "a: [x, !custom y]
",
                1,
            ),
            (
                "a: !!python/object:os.system x
",
                1,
            ),
            (
                "a: !<tag:example.com,2026:x> y
",
                1,
            ),
        ] {
            let e = p(src)
                .err()
                .unwrap_or_else(|| unreachable!("tag accepted: {src}"));
            assert!(e.message.starts_with("invalid YAML"), "{src}: {e}");
            assert!(e.message.contains('!'), "{src}: the tag is named: {e}");
            assert_eq!(e.pos.line, line, "{src}: {e}");
            assert!(
                e.help
                    .as_deref()
                    .is_some_and(|h| h.contains("no YAML tags")),
                "{src}: {e:?}"
            );
        }
        // Standard tags keep their meaning; a quoted `!` is text.
        let n = p("a: !!str 1.0\nb: '!include x'\nc: !!int 3\n")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let Value::Map(e) = n.value else {
            unreachable!()
        };
        assert_eq!(e[0].1.value, Value::Str("1.0".into()));
        assert_eq!(e[1].1.value, Value::Str("!include x".into()));
        assert_eq!(e[2].1.value, Value::Int(3));
    }

    #[test]
    fn huge_file_is_refused() {
        let src = "a: b\n".repeat(MAX_FILE_BYTES / 4);
        let e = p(&src).err().unwrap_or_else(|| unreachable!());
        assert!(e.message.contains("limit"), "{e}");
    }
}
