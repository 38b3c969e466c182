//! Where output goes: stdout and stderr with colour that turns itself off,
//! and a closed pipe treated as "the reader has seen enough".

use std::io::{self, Write};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

/// A stream that swallows `BrokenPipe`: once the reader has gone away
/// (`agent-safe list-actions | head -1`), further writes are dropped and
/// [`Stream::closed`] turns true, so long loops can stop early. Any other I/O
/// error is returned as usual.
pub(crate) struct Stream {
    inner: Box<dyn Write>,
    closed: bool,
}

impl Stream {
    fn new(inner: Box<dyn Write>) -> Self {
        Stream {
            inner,
            closed: false,
        }
    }

    /// True once a write failed because the reader closed the pipe.
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    fn absorb(&mut self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.write_all(buf);
        self.absorb(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.absorb(r)
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour when writing to a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always colour (also honoured through `CLICOLOR_FORCE=1`).
    Always,
    /// Never colour.
    Never,
}

impl ColorWhen {
    fn choice(self) -> ColorChoice {
        match self {
            ColorWhen::Auto => ColorChoice::Auto,
            ColorWhen::Always => ColorChoice::Always,
            ColorWhen::Never => ColorChoice::Never,
        }
    }
}

/// Both output streams of one invocation.
pub(crate) struct Io {
    /// Standard output (buffered; flushed at exit and by `audit tail --follow`).
    pub out: Stream,
    /// Standard error.
    pub err: Stream,
}

impl Io {
    /// The process's stdout and stderr, with ANSI styling stripped unless the
    /// colour choice (and the terminal) allow it.
    pub(crate) fn std(color: ColorWhen) -> Io {
        let out = AutoStream::new(io::stdout(), color.choice()).lock();
        let err = AutoStream::new(io::stderr(), color.choice()).lock();
        Io {
            out: Stream::new(Box::new(io::BufWriter::with_capacity(32 * 1024, out))),
            err: Stream::new(Box::new(err)),
        }
    }
}

/// Styles used in output. Written unconditionally: the streams strip them
/// when colour is off.
pub(crate) mod style {
    use super::{AnsiColor, Style};

    /// `ALLOW`, `PASS`, `ok:`.
    pub const GOOD: Style = AnsiColor::Green.on_default().bold();
    /// `DENY`, `FAIL`, `error:`.
    pub const BAD: Style = AnsiColor::Red.on_default().bold();
    /// `REQUIRE_APPROVAL`, `warning:`.
    pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
    /// Labels and headings.
    pub const LABEL: Style = Style::new().bold();
    /// Secondary information.
    pub const DIM: Style = Style::new().dimmed();
}

/// Paints `text` with `style` (the stream strips it when colour is off).
pub(crate) fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// The style of a decision result.
pub(crate) fn result_style(r: agent_safe_core::DecisionResult) -> Style {
    match r {
        agent_safe_core::DecisionResult::Allow => style::GOOD,
        agent_safe_core::DecisionResult::RequireApproval => style::WARN,
        agent_safe_core::DecisionResult::Deny => style::BAD,
    }
}

/// A plain, borderless table in the style of `kubectl get`: upper-case
/// headers, columns separated by two spaces, no trailing whitespace. Never
/// wrapped, so that `grep`/`awk` see one row per line.
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        t.add_row(row);
    }
    for col in t.column_iter_mut() {
        col.set_padding((0, 2));
        col.set_cell_alignment(CellAlignment::Left);
    }
    let mut s = String::new();
    for line in t.lines() {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}
