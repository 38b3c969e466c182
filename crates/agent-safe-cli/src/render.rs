//! How a configuration diagnostic is shown: the core's one-line form
//! (`file:line:col: error: message`, which scripts and editors parse), then the
//! offending source line with the problem underlined by carets, then `help:`.
//!
//! The snippet is drawn by `miette`'s graphical handler over the core's
//! [`Diagnostic`]: the CLI re-reads the file (through the core's reader, so a
//! FIFO or an oversized file is never opened for display) and turns the
//! 1-based line and column into a byte span. Whole-file problems, files that
//! cannot be read again (the built-in catalogue, a file removed since) and
//! positions past the end of the file get no snippet: the header and help
//! lines alone, exactly as before. The characters are ASCII and the styles
//! ANSI; the output stream strips the styles when colour is off (`NO_COLOR`,
//! `--color never`, not a terminal), so what a test or a log sees is plain text.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use agent_safe_core::diag::{Diagnostic, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};

use crate::output::{paint, style};

/// Renders diagnostics, reading each file at most once.
#[derive(Default)]
pub(crate) struct Renderer {
    sources: HashMap<PathBuf, Option<String>>,
}

impl Renderer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The diagnostic as text: header line, snippet (when there is one),
    /// `help:` line; ends with a newline.
    pub(crate) fn render(&mut self, d: &Diagnostic) -> String {
        let label = match d.severity {
            Severity::Error => paint(style::BAD, "error:"),
            Severity::Warning => paint(style::WARN, "warning:"),
        };
        let mut out = format!("{}: {label} {}\n", d.location(), d.message);
        if let Some(snippet) = self.snippet(d) {
            out.push_str(&snippet);
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }

    fn snippet(&mut self, d: &Diagnostic) -> Option<String> {
        if d.pos.line == 0 {
            return None;
        }
        let text = self
            .sources
            .entry(d.file.clone())
            .or_insert_with(|| {
                agent_safe_core::load::read_file(&d.file)
                    .ok()
                    .map(|f| f.text)
            })
            .as_deref()?;
        let span = span_at(text, d.pos.line, d.pos.col)?;
        let report = Snippet { text, span };
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::ascii())
            .without_primary_span_start()
            .without_cause_chain()
            .with_wrap_lines(false)
            .with_context_lines(1)
            .with_links(false);
        let mut rendered = String::new();
        handler.render_report(&mut rendered, &report).ok()?;
        // The handler starts with the message line (`  x `, empty here: the
        // header above already says it) and ends with a blank line.
        let (_, body) = rendered.split_once('\n')?;
        let body = body.trim_end();
        (!body.is_empty()).then(|| format!("{body}\n"))
    }
}

/// The byte span to underline for a 1-based `line` and `col` (in
/// characters; 0 = unknown): the token that starts there (a quoted scalar to
/// its closing quote, otherwise up to a space or YAML/JSON punctuation), or the
/// line's content when the column is unknown. `None` when the line does not
/// exist.
fn span_at(text: &str, line: u32, col: u32) -> Option<SourceSpan> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let mut start = 0usize;
    let mut found = None;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i == index {
            found = Some(l);
            break;
        }
        start += l.len();
    }
    let raw = found?;
    let content = raw.trim_end_matches(['\n', '\r']);
    if col == 0 {
        let lead = content.len() - content.trim_start().len();
        let len = content.trim().len();
        return Some(SourceSpan::new((start + lead).into(), len));
    }
    let skip = usize::try_from(col).ok()?.saturating_sub(1);
    let offset = content
        .char_indices()
        .nth(skip)
        .map_or(content.len(), |(o, _)| o);
    let rest = content.get(offset..).unwrap_or_default();
    Some(SourceSpan::new((start + offset).into(), token_len(rest)))
}

/// The length in bytes of the token at the start of `rest`.
fn token_len(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    match chars.next() {
        None => 0,
        Some((_, q @ ('"' | '\''))) => {
            let mut escaped = false;
            for (i, c) in chars {
                match c {
                    '\\' if q == '"' && !escaped => escaped = true,
                    c if c == q && !escaped => return i + c.len_utf8(),
                    _ => escaped = false,
                }
            }
            rest.len()
        }
        Some((_, c @ ('{' | '[' | ']' | '}' | ',' | ':' | '-' | '#'))) => c.len_utf8(),
        Some(_) => rest
            .char_indices()
            .find(|&(i, c)| {
                i > 0
                    && (c.is_whitespace()
                        || matches!(c, ',' | '[' | ']' | '{' | '}' | '#')
                        || (c == ':'
                            && rest
                                .get(i + 1..)
                                .is_none_or(|r| r.is_empty() || r.starts_with([' ', '\t']))))
            })
            .map_or(rest.len(), |(i, _)| i),
    }
}

/// What `miette` draws: the source and one unlabelled span, no message.
struct Snippet<'a> {
    text: &'a str,
    span: SourceSpan,
}

impl fmt::Debug for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snippet").field("span", &self.span).finish()
    }
}

impl fmt::Display for Snippet<'_> {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

impl std::error::Error for Snippet<'_> {}

impl miette::Diagnostic for Snippet<'_> {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.text)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            None, self.span,
        ))))
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    fn underlined(text: &str, line: u32, col: u32) -> &str {
        let s = span_at(text, line, col).unwrap();
        text.get(s.offset()..s.offset() + s.len()).unwrap()
    }

    #[test]
    fn spans_cover_the_token_at_the_position() {
        let text =
            "rules:\n  - id: a\n    priorty: 10\n    decision: \"al ow\" # x\n    k: {a: b}\n";
        let cases = [
            (3, 5, "priorty"),
            (3, 14, "10"),
            (4, 15, "\"al ow\""),
            (5, 8, "{"),
            (2, 3, "-"),
            (3, 0, "priorty: 10"),
            (1, 1, "rules"),
            (1, 7, ""),
            (1, 99, ""),
        ];
        for (line, col, want) in cases {
            assert_eq!(underlined(text, line, col), want, "{line}:{col}");
        }
        assert!(span_at(text, 6, 1).is_none());
        assert!(span_at(text, 60, 1).is_none());
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "name: \"é\"\nx: ünknown\n";
        assert_eq!(underlined(text, 2, 4), "ünknown");
        assert_eq!(underlined(text, 1, 7), "\"é\"");
    }

    #[test]
    fn a_url_value_is_one_token() {
        assert_eq!(
            underlined("issuer: https://x.example/a\n", 1, 9),
            "https://x.example/a"
        );
    }
}
