//! `agent-safe fmt`: policy files (and the inventory) in one stable style,
//! comments kept.
//!
//! No maintained Rust YAML library keeps comments through a parse and an
//! emit, so the formatter works on the text. It first loads the file with
//! the policy loader (a file that does not load is refused with its
//! diagnostics), then reads the block-style lines into a tree by
//! indentation: each mapping key is a block made of its key line, its
//! more-indented lines and the comment lines directly above it, and each
//! list item likewise. It then writes the tree back with
//!
//! * the keys of a rule, of `match`, of its selectors and of a time window in
//!   the order the documentation presents them (the loader's key order);
//! * two spaces per level, list dashes indented under their key, one space
//!   after `key:` and after `-`;
//! * one blank line between rules, no blank line at the start of a block, at
//!   most one blank line anywhere, no trailing whitespace, one final newline.
//!
//! Constructs it does not rewrite (block scalars, anchors, aliases and tags,
//! flow collections or quoted strings spanning lines, multi-line plain
//! scalars, several documents, tabs, CRLF line ends, quoted or complex keys)
//! leave the whole file as it is ([`Formatted::LeftAsIs`]) rather than being
//! guessed at. And whatever the formatter did, the result is parsed again and
//! must hold the same data as the input, load as a policy file, and keep the
//! same comments; if not, it is refused ([`Formatted::Refused`]) and nothing
//! is written.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diag::{ConfigError, Pos};
use crate::load::{
    CALLER_KEYS, INVENTORY_TARGET_KEYS, MATCH_KEYS, RULE_KEYS, TARGET_KEYS, WINDOW_KEYS,
};
use crate::load::{SourceFile, parse_inventory, parse_policy};

/// What formatting one file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Formatted {
    /// The formatted text (equal to the input when it was already formatted).
    Text(String),
    /// The file uses a construct the formatter does not rewrite; it is left
    /// exactly as it is.
    LeftAsIs {
        /// Where the construct is.
        pos: Pos,
        /// What it is.
        why: String,
    },
    /// The formatted text would not have meant the same as the input (a bug
    /// in the formatter): nothing may be written.
    Refused {
        /// What differed.
        why: String,
    },
}

/// The kinds of file `fmt` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A policy file (`rules:`).
    Policy,
    /// The inventory (`targets:`): 2-space style and the documented key
    /// order of a target; blank lines are kept as they are.
    Inventory,
}

impl FileKind {
    /// The kind of `src` by its top-level key: `targets:` is an inventory,
    /// anything else is read as a policy file.
    pub fn of(src: &str) -> FileKind {
        match crate::yaml::parse(Path::new(""), src).map(|n| n.value) {
            Ok(crate::yaml::Value::Map(entries))
                if entries.iter().any(|(k, _)| k.name == "targets") =>
            {
                FileKind::Inventory
            }
            _ => FileKind::Policy,
        }
    }

    fn load(self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let src = SourceFile {
            path: file.to_path_buf(),
            text: text.to_owned(),
        };
        match self {
            FileKind::Policy => parse_policy(&src).map(drop),
            FileKind::Inventory => parse_inventory(&src).map(drop),
        }
    }

    fn what(self) -> &'static str {
        match self {
            FileKind::Policy => "a policy file",
            FileKind::Inventory => "an inventory file",
        }
    }
}

/// Formats the policy file `src` (read from `file`, used in messages).
///
/// # Errors
///
/// The file's diagnostics when it does not load as a policy file.
pub fn format_policy(file: &Path, src: &str) -> Result<Formatted, ConfigError> {
    format_file(FileKind::Policy, file, src)
}

/// Formats `src` (read from `file`, used in messages) as a file of `kind`.
///
/// # Errors
///
/// The file's diagnostics when it does not load as that kind of file.
pub fn format_file(kind: FileKind, file: &Path, src: &str) -> Result<Formatted, ConfigError> {
    kind.load(file, src)?;
    let out = match rewrite(kind, src) {
        Ok(out) => out,
        Err(Unhandled { line, why }) => {
            return Ok(Formatted::LeftAsIs {
                pos: Pos::new(u32::try_from(line).unwrap_or(u32::MAX), 1),
                why,
            });
        }
    };
    if out == src {
        return Ok(Formatted::Text(out));
    }
    match same_meaning(kind, file, src, &out) {
        Ok(()) => Ok(Formatted::Text(out)),
        Err(why) => Ok(Formatted::Refused { why }),
    }
}

/// The safety net: same data, still loads as its kind, same comments.
fn same_meaning(kind: FileKind, file: &Path, before: &str, after: &str) -> Result<(), String> {
    let parse = |s: &str| crate::yaml::parse(file, s).map(|n| n.value.to_json());
    match (parse(before), parse(after)) {
        (Ok(a), Ok(b)) if a == b => {}
        (Ok(_), Ok(_)) => return Err("the formatted file holds different data".to_owned()),
        (_, Err(e)) => return Err(format!("the formatted file does not parse: {}", e.message)),
        (Err(e), _) => return Err(format!("the file does not parse: {}", e.message)),
    }
    if let Err(e) = kind.load(file, after) {
        let first = e
            .diagnostics()
            .first()
            .map(|d| d.message.clone())
            .unwrap_or_default();
        return Err(format!(
            "the formatted file does not load as {}: {first}",
            kind.what()
        ));
    }
    if comments(before) != comments(after) {
        return Err("the formatted file does not keep every comment".to_owned());
    }
    Ok(())
}

/// Every comment of `src` (whole-line and end-of-line), as a multiset.
/// Used only on files the rewriter accepted, whose quoting it understands.
pub fn comments(src: &str) -> BTreeMap<String, usize> {
    let mut all = BTreeMap::new();
    for line in src.lines() {
        let t = line.trim();
        let c = if t.starts_with('#') {
            Some(t)
        } else {
            split_comment(t).1
        };
        if let Some(c) = c {
            *all.entry(c.trim_end().to_owned()).or_insert(0) += 1;
        }
    }
    all
}

/// Why a file is left as it is, and where (1-based line).
#[derive(Debug)]
struct Unhandled {
    line: usize,
    why: String,
}

fn unhandled(line: usize, why: &str) -> Unhandled {
    Unhandled {
        line,
        why: why.to_owned(),
    }
}

/// One physical line.
#[derive(Debug)]
enum Line<'a> {
    Blank,
    Comment(&'a str),
    Content { indent: usize, text: &'a str },
}

/// Comment lines (or `None` for a blank line among them) directly above an
/// entry.
type Comments = Vec<Option<String>>;

/// A mapping entry or a list item, with the comments above it.
#[derive(Debug)]
struct Entry {
    /// A blank line separated it from what came before.
    blank_before: bool,
    comments: Comments,
    head: Head,
}

#[derive(Debug)]
enum Head {
    /// `key: rest`, or `key:` and `children` below.
    Key {
        key: String,
        rest: String,
        children: Vec<Entry>,
    },
    /// `- rest` (a scalar, a flow collection, or just a comment), and/or the
    /// entries of the item's collection (`- key: v` puts the first one on
    /// the dash line).
    Item {
        rest: Option<String>,
        body: Vec<Entry>,
    },
}

impl Entry {
    fn is_item(&self) -> bool {
        matches!(self.head, Head::Item { .. })
    }

    fn key(&self) -> Option<&str> {
        match &self.head {
            Head::Key { key, .. } => Some(key),
            Head::Item { .. } => None,
        }
    }
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    i: usize,
}

impl<'a> Parser<'a> {
    /// The index of the next content line at or after `self.i`.
    fn next_content(&self) -> Option<(usize, usize, &'a str)> {
        self.lines
            .iter()
            .enumerate()
            .skip(self.i)
            .find_map(|(n, l)| match l {
                Line::Content { indent, text } => Some((n, *indent, *text)),
                _ => None,
            })
    }

    /// Takes the blank and comment lines before content line `upto`.
    fn take_comments(&mut self, upto: usize) -> (bool, Comments) {
        let mut blank_before = false;
        let mut comments: Comments = Vec::new();
        for l in self.lines.iter().take(upto).skip(self.i) {
            match l {
                Line::Blank if comments.is_empty() => blank_before = true,
                Line::Blank => {
                    if comments.last().is_some_and(Option::is_some) {
                        comments.push(None);
                    }
                }
                Line::Comment(c) => comments.push(Some((*c).to_owned())),
                Line::Content { .. } => {}
            }
        }
        self.i = upto;
        (blank_before, comments)
    }

    /// The entries of a block whose lines start at column `indent`; `items`
    /// says whether they are list items or mapping keys.
    fn block(&mut self, indent: usize, items: bool) -> Result<Vec<Entry>, Unhandled> {
        let mut entries = Vec::new();
        while let Some((n, ind, text)) = self.next_content() {
            if ind < indent {
                break;
            }
            if ind > indent {
                return Err(unhandled(
                    n + 1,
                    "a line indented deeper than its block (a multi-line value)",
                ));
            }
            if is_dash(text) != items {
                break;
            }
            let (blank_before, comments) = self.take_comments(n);
            self.i = n + 1;
            let head = if items {
                self.item(n, ind, text)?
            } else {
                let (key, rest) = key_line(text).ok_or_else(|| {
                    unhandled(n + 1, "a line that is neither `key: value` nor `- item`")
                })?;
                self.key_entry(n, ind, key, rest)?
            };
            entries.push(Entry {
                blank_before,
                comments,
                head,
            });
        }
        Ok(entries)
    }

    /// `key: rest` at column `indent` (line index `n`), with its children.
    fn key_entry(
        &mut self,
        n: usize,
        indent: usize,
        key: &str,
        rest: &str,
    ) -> Result<Head, Unhandled> {
        check_value(n, rest)?;
        let (value, _) = split_comment(rest);
        let mut children = Vec::new();
        if value.is_empty()
            && let Some((_, ind, text)) = self.next_content()
        {
            if ind > indent {
                children = self.block(ind, is_dash(text))?;
            } else if ind == indent && is_dash(text) {
                children = self.block(ind, true)?;
            }
        }
        Ok(Head::Key {
            key: key.to_owned(),
            rest: rest.to_owned(),
            children,
        })
    }

    /// `- ...` at column `indent` (line index `n`).
    fn item(&mut self, n: usize, indent: usize, text: &str) -> Result<Head, Unhandled> {
        let rest = text.get(1..).unwrap_or("").trim_start();
        if is_dash(rest) {
            return Err(unhandled(
                n + 1,
                "a list item that starts another list on its line",
            ));
        }
        if let Some((key, krest)) = key_line(rest) {
            // `- key: v`: the item is a mapping whose keys line up with `key`.
            let col = indent + (text.len() - rest.len());
            let first = self.key_entry(n, col, key, krest)?;
            let mut body = vec![Entry {
                blank_before: false,
                comments: Vec::new(),
                head: first,
            }];
            if let Some((_, ind, t)) = self.next_content()
                && ind == col
                && !is_dash(t)
            {
                body.extend(self.block(col, false)?);
            }
            return Ok(Head::Item { rest: None, body });
        }
        check_value(n, rest)?;
        let (value, _) = split_comment(rest);
        let mut body = Vec::new();
        if value.is_empty()
            && let Some((_, ind, t)) = self.next_content()
            && ind > indent
        {
            body = self.block(ind, is_dash(t))?;
        }
        Ok(Head::Item {
            rest: (!rest.is_empty()).then(|| rest.to_owned()),
            body,
        })
    }
}

fn is_dash(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: rest` with a plain key; `None` for anything else.
fn key_line(text: &str) -> Option<(&str, &str)> {
    let end = text.find(':')?;
    let key = text.get(..end)?;
    let after = text.get(end + 1..)?;
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let first_ok = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./@".contains(c));
    (first_ok && rest_ok).then(|| (key, after.trim_start()))
}

/// `value # comment` → (`value`, `Some("# comment")`), honouring quotes.
fn split_comment(s: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
                continue;
            }
            Some('"') if c == '"' => quote = None,
            Some('\'') if c == '\'' => {
                if chars.peek().map(|(_, c)| *c) == Some('\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None if (c == '"' || c == '\'') && (prev == ' ' || "[{,:".contains(prev)) => {
                quote = Some(c);
            }
            None if c == '#' && prev.is_whitespace() => {
                return (s.get(..i).unwrap_or(s).trim_end(), s.get(i..));
            }
            None => {}
        }
        prev = c;
    }
    (s.trim_end(), None)
}

/// Refuses the values the rewriter does not handle.
fn check_value(n: usize, rest: &str) -> Result<(), Unhandled> {
    let (value, _) = split_comment(rest);
    let line = n + 1;
    match value.chars().next() {
        None => return Ok(()),
        Some('|' | '>') => return Err(unhandled(line, "a block scalar (`|` or `>`)")),
        Some('&' | '*' | '!') => return Err(unhandled(line, "an anchor, alias or tag")),
        Some('?' | '%' | '@' | '`') => return Err(unhandled(line, "a reserved YAML indicator")),
        _ => {}
    }
    // Quotes must close and brackets balance on the line; an anchor or alias
    // inside a flow collection is not handled either.
    let mut quote: Option<char> = None;
    let mut depth: i64 = 0;
    let mut prev = ' ';
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
                continue;
            }
            Some('"') if c == '"' => quote = None,
            Some('\'') if c == '\'' => {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match c {
                '"' | '\'' if prev == ' ' || "[{,:".contains(prev) => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                '&' | '*' | '!' | '|' | '>'
                    if depth > 0 && (prev == ' ' || "[{,".contains(prev)) =>
                {
                    return Err(unhandled(
                        line,
                        "an anchor, alias or tag in a flow collection",
                    ));
                }
                _ => {}
            },
        }
        prev = c;
    }
    if quote.is_some() {
        return Err(unhandled(
            line,
            "a quoted string that continues on the next line",
        ));
    }
    if depth != 0 {
        return Err(unhandled(
            line,
            "a flow collection (`[...]` or `{...}`) spanning lines",
        ));
    }
    Ok(())
}

fn classify(src: &str) -> Result<Vec<Line<'_>>, Unhandled> {
    let mut lines = Vec::new();
    for (n, raw) in src.split('\n').enumerate() {
        if raw.contains('\r') {
            return Err(unhandled(n + 1, "a CRLF line end"));
        }
        let body = raw.trim_start_matches(' ');
        if body.starts_with('\t') {
            return Err(unhandled(n + 1, "a tab in the indentation"));
        }
        let text = body.trim_end();
        let line = if text.is_empty() {
            Line::Blank
        } else if text.starts_with('#') {
            Line::Comment(text)
        } else {
            if text.starts_with("---") || text.starts_with("...") || text.starts_with('%') {
                return Err(unhandled(n + 1, "a document marker or directive"));
            }
            Line::Content {
                indent: raw.len() - body.len(),
                text,
            }
        };
        lines.push(line);
    }
    Ok(lines)
}

/// The whole rewrite: lines → tree → canonical text.
fn rewrite(kind: FileKind, src: &str) -> Result<String, Unhandled> {
    let mut p = Parser {
        lines: classify(src)?,
        i: 0,
    };
    let root = match p.next_content() {
        Some((n, ind, text)) => {
            if ind != 0 {
                return Err(unhandled(
                    n + 1,
                    "a document that does not start at column 1",
                ));
            }
            p.block(0, is_dash(text))?
        }
        None => Vec::new(),
    };
    if let Some((n, _, _)) = p.next_content() {
        return Err(unhandled(n + 1, "a line fmt cannot place in the document"));
    }
    // Comments after the last content line stay at the end of the file.
    let tail: Vec<&Line<'_>> = p.lines.iter().skip(p.i).collect();
    let mut out = String::new();
    let mut root = root;
    emit_block(&mut out, &mut root, 0, &[], kind);
    let mut blank = false;
    for l in tail {
        match l {
            Line::Blank => blank = true,
            Line::Comment(c) => {
                if blank && !out.is_empty() {
                    out.push('\n');
                }
                blank = false;
                out.push_str(c);
                out.push('\n');
            }
            Line::Content { .. } => {}
        }
    }
    Ok(out)
}

/// The canonical key order of the mapping at `path` (`[]` is a list item).
fn key_order(kind: FileKind, path: &[&str]) -> Option<&'static [&'static str]> {
    match (kind, path) {
        (FileKind::Policy, ["rules", "[]"]) => Some(RULE_KEYS),
        (FileKind::Policy, ["rules", "[]", "match"]) => Some(MATCH_KEYS),
        (FileKind::Policy, ["rules", "[]", "match", "targets"]) => Some(TARGET_KEYS),
        (FileKind::Policy, ["rules", "[]", "match", "callers"]) => Some(CALLER_KEYS),
        (FileKind::Policy, ["rules", "[]", "match", "time_windows", "[]"]) => Some(WINDOW_KEYS),
        (FileKind::Inventory, ["targets", "[]"]) => Some(INVENTORY_TARGET_KEYS),
        _ => None,
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn emit_comments(out: &mut String, comments: &Comments, indent: usize) {
    for c in comments {
        if let Some(c) = c {
            push_indent(out, indent);
            out.push_str(c);
        }
        out.push('\n');
    }
}

fn emit_block(
    out: &mut String,
    entries: &mut [Entry],
    indent: usize,
    path: &[&str],
    kind: FileKind,
) {
    if let Some(order) = key_order(kind, path) {
        entries.sort_by_key(|e| {
            e.key()
                .and_then(|k| order.iter().position(|o| *o == k))
                .unwrap_or(order.len())
        });
    }
    // Rules are separated by one blank line.
    let force_blank = kind == FileKind::Policy && path == ["rules"];
    for (n, e) in entries.iter_mut().enumerate() {
        if n > 0 && (e.blank_before || force_blank) {
            out.push('\n');
        }
        emit_entry(out, e, indent, path, kind);
    }
}

fn emit_entry(out: &mut String, e: &mut Entry, indent: usize, path: &[&str], kind: FileKind) {
    emit_comments(out, &e.comments, indent);
    match &mut e.head {
        Head::Key {
            key,
            rest,
            children,
        } => {
            push_indent(out, indent);
            out.push_str(key);
            out.push(':');
            if !rest.is_empty() {
                out.push(' ');
                out.push_str(rest);
            }
            out.push('\n');
            let mut sub = path.to_vec();
            sub.push(key.as_str());
            emit_block(out, children, indent + 2, &sub, kind);
        }
        Head::Item { rest, body } => {
            let mut sub = path.to_vec();
            sub.push("[]");
            if let Some(order) = key_order(kind, &sub) {
                body.sort_by_key(|e| {
                    e.key()
                        .and_then(|k| order.iter().position(|o| *o == k))
                        .unwrap_or(order.len())
                });
            }
            let fold = rest.is_none() && body.first().is_some_and(|b| !b.is_item());
            if let Some(r) = rest {
                push_indent(out, indent);
                out.push_str("- ");
                out.push_str(r);
                out.push('\n');
                emit_block_sorted(out, body, indent + 2, &sub, kind);
            } else if fold {
                let Some((first, others)) = body.split_first_mut() else {
                    return;
                };
                // `- key: v`: the first key's comments go above the dash.
                emit_comments(out, &first.comments, indent);
                push_indent(out, indent);
                out.push_str("- ");
                if let Head::Key {
                    key,
                    rest,
                    children,
                } = &mut first.head
                {
                    out.push_str(key);
                    out.push(':');
                    if !rest.is_empty() {
                        out.push(' ');
                        out.push_str(rest);
                    }
                    out.push('\n');
                    let mut kpath = sub.clone();
                    kpath.push(key.as_str());
                    emit_block(out, children, indent + 4, &kpath, kind);
                }
                for e in others.iter_mut() {
                    if e.blank_before {
                        out.push('\n');
                    }
                    emit_entry(out, e, indent + 2, &sub, kind);
                }
            } else {
                push_indent(out, indent);
                out.push_str("-\n");
                emit_block_sorted(out, body, indent + 2, &sub, kind);
            }
        }
    }
}

/// Emits entries already in order (the item's keys were sorted above).
fn emit_block_sorted(
    out: &mut String,
    entries: &mut [Entry],
    indent: usize,
    path: &[&str],
    kind: FileKind,
) {
    for (n, e) in entries.iter_mut().enumerate() {
        if n > 0 && e.blank_before {
            out.push('\n');
        }
        emit_entry(out, e, indent, path, kind);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn end_of_line_comments_are_found_outside_quotes_only() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("a   # c", "a", Some("# c")),
            ("\"a # b\" # c", "\"a # b\"", Some("# c")),
            ("'it''s # x'", "'it''s # x'", None),
            ("[\"**\", b] #c", "[\"**\", b]", Some("#c")),
            ("a#b", "a#b", None),
            ("don't # c", "don't", Some("# c")),
        ];
        for (line, value, comment) in cases {
            assert_eq!(split_comment(line), (*value, *comment), "{line}");
        }
    }

    #[test]
    fn the_safety_net_refuses_lost_data_comments_or_policy() {
        let file = Path::new("p.yaml");
        let good = "rules:\n  - name: a # c\n    decision: deny\n";
        assert!(same_meaning(FileKind::Policy, file, good, good).is_ok());
        let cases: &[(&str, &str)] = &[
            (
                "rules:\n  - name: b # c\n    decision: deny\n",
                "different data",
            ),
            ("rules:\n  - name: a\n    decision: deny\n", "comment"),
            (
                "rules:\n  - name: a # c\n  decision: deny\n",
                "does not parse",
            ),
            (
                "rules:\n  - name: a # c\n    decision: deny\n    reason: 1\n",
                "different data",
            ),
        ];
        for (after, what) in cases {
            let why = same_meaning(FileKind::Policy, file, good, after).unwrap_err();
            assert!(why.contains(what), "{after}: {why}");
        }
        // The same data in another order is the same meaning.
        let reordered = "rules:\n  - decision: deny\n    name: a # c\n";
        assert!(same_meaning(FileKind::Policy, file, good, reordered).is_ok());
    }
}
