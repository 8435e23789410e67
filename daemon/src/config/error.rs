//! Errors and warnings of the configuration loaders, each tied to a place in the input.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column in a configuration text.
///
/// Columns count Unicode scalar values (characters), not bytes, so they match what an
/// editor shows for ASCII and for most UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number, starting at 1.
    pub column: usize,
}

impl Pos {
    /// Builds a position from a 1-based line and column.
    pub fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }

    /// Converts a byte offset into `text` to a line and column.
    ///
    /// An offset past the end maps to the end of the text; an offset inside a multi-byte
    /// character maps to that character.
    pub fn from_offset(text: &str, offset: usize) -> Self {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Pos { line, column }
    }
}

/// Byte offsets to lines and columns in one text, in O(log lines) per lookup.
///
/// Built once per text; [`Pos::from_offset`] rescans the text on every call, which made
/// loading a configuration with thousands of instances quadratic.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// The same answer as [`Pos::from_offset`], without rescanning the text.
    pub fn pos(&self, offset: usize) -> Pos {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= end);
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self.text.get(start..end).map_or(0, |s| s.chars().count()) + 1;
        Pos { line, column }
    }
}

/// Writes `text` with control characters escaped (`\n`, `\u{1b}`, ...), so a name
/// taken from a file or the network cannot forge a line in a log or a message.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One problem found in a configuration text: `origin:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the text came from (a file path, or a name given by the caller).
    pub origin: String,
    /// Where in the text the problem is.
    pub pos: Pos,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            escape_controls(&self.origin),
            self.pos.line,
            self.pos.column,
            escape_controls(&self.message)
        )
    }
}

/// Why a configuration could not be loaded.
///
/// `Display` prints exactly one line per problem: `file:line:column: message` for
/// problems in the text, `file: message` when the file could not be read at all.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        /// The path that was read.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The text was read but is not a valid configuration; at least one diagnostic,
    /// ordered by position, plus the warnings found on the way (kept so that a tool
    /// sees everything in one pass).
    Invalid(Vec<Diagnostic>, Vec<Warning>),
}

impl ConfigError {
    /// The problems found in the text (empty for an I/O error).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Io { .. } => &[],
            ConfigError::Invalid(d, _) => d,
        }
    }

    /// The warnings found next to the errors.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            ConfigError::Io { .. } => &[],
            ConfigError::Invalid(_, w) => w,
        }
    }

    /// Attaches warnings to an `Invalid` error (an I/O error has none).
    pub(crate) fn with_warnings(self, warnings: Vec<Warning>) -> Self {
        match self {
            ConfigError::Invalid(d, mut w) => {
                w.extend(warnings);
                ConfigError::Invalid(d, w)
            }
            io => io,
        }
    }

    /// Builds an `Invalid` error from diagnostics, sorted by position and deduplicated.
    pub(crate) fn invalid(mut diags: Vec<Diagnostic>) -> Self {
        diags.sort_by_key(|d| d.pos);
        diags.dedup();
        ConfigError::Invalid(diags, Vec::new())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "{}: cannot read: {}", path.display(), source)
            }
            ConfigError::Invalid(diags, _) => {
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Invalid(..) => None,
        }
    }
}

/// What kind of problem a diagnostic reports (the `kind` of `--check --format json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagnosticKind {
    /// The configuration cannot be run as written.
    Error,
    /// A keyword outside vrrpd's scope (LVS, SMTP, SNMP, process tuning): ignored,
    /// with no effect on VRRP behaviour.
    OutOfScope,
    /// A value vrrpd runs differently from how it is written, exactly as keepalived
    /// does (a truncated password, a rounded interval), or a notify command that
    /// relied on a shell.
    Adjusted,
}

impl DiagnosticKind {
    /// `error` for errors, `warning` otherwise.
    pub fn severity(self) -> &'static str {
        match self {
            DiagnosticKind::Error => "error",
            DiagnosticKind::OutOfScope | DiagnosticKind::Adjusted => "warning",
        }
    }
}

/// One diagnostic as `vrrpd --check --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JsonDiagnostic {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the whole file is concerned).
    pub line: usize,
    /// 1-based column (0 when the whole file is concerned).
    pub column: usize,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// What kind of problem.
    pub kind: DiagnosticKind,
    /// The message.
    pub message: String,
}

/// Every diagnostic of a load, errors and warnings, ordered by file and position.
pub fn json_diagnostics(result: Result<&[Warning], &ConfigError>) -> Vec<JsonDiagnostic> {
    let mut out = Vec::new();
    let warnings = match result {
        Ok(w) => w,
        Err(ConfigError::Io { path, source }) => {
            out.push(JsonDiagnostic {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                severity: "error",
                kind: DiagnosticKind::Error,
                message: format!("cannot read: {source}"),
            });
            return out;
        }
        Err(e) => {
            for d in e.diagnostics() {
                out.push(JsonDiagnostic {
                    file: d.origin.clone(),
                    line: d.pos.line,
                    column: d.pos.column,
                    severity: "error",
                    kind: DiagnosticKind::Error,
                    message: d.message.clone(),
                });
            }
            e.warnings()
        }
    };
    for w in warnings {
        out.push(JsonDiagnostic {
            file: w.origin.clone(),
            line: w.line,
            column: w.column,
            severity: w.kind.severity(),
            kind: w.kind,
            message: w.message.clone(),
        });
    }
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}

/// Something in an imported keepalived.conf that vrrpd ignores or changes, reported
/// without failing the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Out of scope, or adjusted.
    pub kind: DiagnosticKind,
    /// Where the text came from.
    pub origin: String,
    /// Line of the keyword or value concerned, starting at 1.
    pub line: usize,
    /// Column of the keyword or value concerned, starting at 1.
    pub column: usize,
    /// What was ignored or changed, and why.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            escape_controls(&self.origin),
            self.line,
            self.column,
            escape_controls(&self.message)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_line_and_column() {
        let text = "ab\ncdé\nf";
        assert_eq!(Pos::from_offset(text, 0), Pos::new(1, 1));
        assert_eq!(Pos::from_offset(text, 2), Pos::new(1, 3));
        assert_eq!(Pos::from_offset(text, 3), Pos::new(2, 1));
        // 'é' is two bytes; the byte after it is column 4.
        assert_eq!(Pos::from_offset(text, 7), Pos::new(2, 4));
        // Inside 'é' maps to 'é'.
        assert_eq!(Pos::from_offset(text, 6), Pos::new(2, 3));
        assert_eq!(Pos::from_offset(text, 999), Pos::new(3, 2));
    }

    #[test]
    fn line_index_agrees_with_from_offset() {
        for text in ["", "ab\ncdé\nf", "\n\n", "x\r\ny\n", "é\n\né"] {
            let idx = LineIndex::new(text);
            for off in 0..=text.len() + 2 {
                assert_eq!(
                    idx.pos(off),
                    Pos::from_offset(text, off),
                    "{text:?} at {off}"
                );
            }
        }
    }

    #[test]
    fn messages_cannot_forge_lines() {
        let d = Diagnostic {
            origin: "a.toml".into(),
            pos: Pos::new(1, 1),
            message: "instance `x\nvrrpd: forged` \u{1b}[31m".into(),
        };
        let shown = d.to_string();
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(!shown.contains('\u{1b}'));
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\nb"), "a\\nb");
    }

    #[test]
    fn display_is_one_line_per_problem() {
        let e = ConfigError::invalid(vec![
            Diagnostic {
                origin: "a.toml".into(),
                pos: Pos::new(3, 1),
                message: "second".into(),
            },
            Diagnostic {
                origin: "a.toml".into(),
                pos: Pos::new(1, 7),
                message: "first".into(),
            },
        ]);
        assert_eq!(e.to_string(), "a.toml:1:7: first\na.toml:3:1: second");
    }
}
