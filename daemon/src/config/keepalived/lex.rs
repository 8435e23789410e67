//! keepalived.conf text to statements: tokens with file, line and column; `include`
//! spliced in where it is written (globs, relative to the including file, loops
//! refused); statements grouped into `{ ... }` blocks, with a missing `}` reported at
//! the block that was left open.

use super::super::Pos;
use std::path::{Path, PathBuf};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word.
    Word,
    /// A `"quoted string"` (quotes removed).
    Quoted,
    /// `{`.
    Open,
    /// `}`.
    Close,
}

/// One token.
#[derive(Debug, Clone)]
pub(crate) struct Tok {
    pub kind: Kind,
    pub text: String,
    pub pos: Pos,
    /// Index into [`Lexed::files`].
    pub file: usize,
}

/// A problem found while reading the text: file index, position, message.
pub(crate) type LexError = (usize, Pos, String);

/// The tokens of a configuration and its included files.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    /// Names of the files, as shown in messages; index 0 is the main text.
    pub files: Vec<String>,
    /// All tokens, includes spliced in.
    pub toks: Vec<Tok>,
}

/// Deepest `include` nesting accepted (keepalived allows 8).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Tokenizes `text` (named `origin`; `path` is its file when it has one, the base of
/// relative includes) and every file it includes. An error names its file.
pub(crate) fn lex(
    text: &str,
    origin: &str,
    path: Option<&Path>,
) -> Result<Lexed, (String, Pos, String)> {
    let mut out = Lexed {
        files: vec![origin.to_string()],
        toks: Vec::new(),
    };
    let mut stack: Vec<PathBuf> = path
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()))
        .into_iter()
        .collect();
    let base = path.and_then(Path::parent).map(Path::to_path_buf);
    match lex_into(text, 0, base.as_deref(), &mut stack, &mut out) {
        Ok(()) => Ok(out),
        Err((f, p, m)) => Err((out.files.get(f).cloned().unwrap_or_default(), p, m)),
    }
}

fn lex_into(
    text: &str,
    file: usize,
    base: Option<&Path>,
    stack: &mut Vec<PathBuf>,
    out: &mut Lexed,
) -> Result<(), LexError> {
    let toks = tokenize(text, file)?;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let line_start = i == 0 || toks[i - 1].pos.line != t.pos.line;
        if line_start
            && t.kind == Kind::Word
            && (t.text.starts_with('@') || t.text.starts_with('$'))
        {
            return Err((
                file,
                t.pos,
                "conditional configuration (`@name` lines, `$VARIABLE`s) is not supported by vrrpd; write the configuration this node runs".to_string(),
            ));
        }
        if !(line_start && t.kind == Kind::Word && t.text == "include") {
            out.toks.push(t.clone());
            i += 1;
            continue;
        }
        let inc = t.clone();
        i += 1;
        let mut patterns = Vec::new();
        while let Some(a) = toks.get(i) {
            if a.pos.line != inc.pos.line || !matches!(a.kind, Kind::Word | Kind::Quoted) {
                break;
            }
            patterns.push(a.clone());
            i += 1;
        }
        if patterns.is_empty() {
            return Err((
                file,
                inc.pos,
                "`include` needs a file name or pattern".into(),
            ));
        }
        for pat in patterns {
            include(&pat, file, base, stack, out)?;
        }
    }
    Ok(())
}

/// Expands one include pattern and lexes every file it matches, in name order.
fn include(
    pat: &Tok,
    file: usize,
    base: Option<&Path>,
    stack: &mut Vec<PathBuf>,
    out: &mut Lexed,
) -> Result<(), LexError> {
    let err = |m: String| (file, pat.pos, m);
    let raw = Path::new(&pat.text);
    let full = match (raw.is_absolute(), base) {
        (true, _) => raw.to_path_buf(),
        (false, Some(b)) => b.join(raw),
        (false, None) => raw.to_path_buf(),
    };
    let full_text = full.to_string_lossy().to_string();
    let mut matches: Vec<PathBuf> = match glob::glob(&full_text) {
        Ok(paths) => paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => return Err(err(format!("include: bad pattern `{}`: {e}", pat.text))),
    };
    matches.sort();
    if matches.is_empty() {
        return Err(err(format!(
            "include `{}` matches no file (looked for {full_text})",
            pat.text
        )));
    }
    if stack.len() > MAX_INCLUDE_DEPTH {
        return Err(err(format!(
            "include nested more than {MAX_INCLUDE_DEPTH} deep"
        )));
    }
    for m in matches {
        let canon = m.canonicalize().unwrap_or_else(|_| m.clone());
        if let Some(first) = stack.iter().position(|p| *p == canon) {
            let chain: Vec<String> = stack[first..]
                .iter()
                .chain(std::iter::once(&canon))
                .map(|p| p.display().to_string())
                .collect();
            return Err(err(format!("include loop: {}", chain.join(" -> "))));
        }
        let text = std::fs::read_to_string(&m)
            .map_err(|e| err(format!("include: cannot read {}: {e}", m.display())))?;
        let idx = out.files.len();
        out.files.push(m.display().to_string());
        stack.push(canon);
        let dir = m.parent().map(Path::to_path_buf);
        lex_into(&text, idx, dir.as_deref(), stack, out)?;
        stack.pop();
    }
    Ok(())
}

/// Splits one file's text into tokens, dropping comments (`#` or `!` to the end of the
/// line) and joining lines that end in `\`.
fn tokenize(text: &str, file: usize) -> Result<Vec<Tok>, LexError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut col) = (1usize, 1usize);
    // Tokens after a `\` continuation belong to the line where it started.
    let mut logical_line = 1usize;
    while let Some(&c) = chars.peek() {
        let pos = Pos::new(line, col);
        let tpos = Pos::new(logical_line, col);
        match c {
            '\n' => {
                chars.next();
                line += 1;
                logical_line = line;
                col = 1;
            }
            '\\' => {
                chars.next();
                col += 1;
                // A continuation: only whitespace may follow on this line.
                let mut rest = chars.clone();
                let mut ok = false;
                for c in rest.by_ref() {
                    if c == '\n' {
                        ok = true;
                        break;
                    }
                    if !c.is_whitespace() {
                        break;
                    }
                }
                if !ok && rest.peek().is_some() {
                    return Err((file, pos, "`\\` must end the line".to_string()));
                }
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        col = 1;
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {
                chars.next();
                col += 1;
            }
            '#' | '!' => {
                while let Some(&c) = chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    chars.next();
                    col += 1;
                }
            }
            '{' | '}' => {
                chars.next();
                col += 1;
                out.push(Tok {
                    kind: if c == '{' { Kind::Open } else { Kind::Close },
                    text: c.to_string(),
                    pos: tpos,
                    file,
                });
            }
            '"' => {
                chars.next();
                col += 1;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => {
                            col += 1;
                            break;
                        }
                        Some('\n') | None => {
                            return Err((file, pos, "unterminated quoted string".to_string()))
                        }
                        Some(c) => {
                            col += 1;
                            s.push(c);
                        }
                    }
                }
                out.push(Tok {
                    kind: Kind::Quoted,
                    text: s,
                    pos: tpos,
                    file,
                });
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | '"' | '#' | '!') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                    col += 1;
                }
                out.push(Tok {
                    kind: Kind::Word,
                    text: s,
                    pos: tpos,
                    file,
                });
            }
        }
    }
    Ok(out)
}

/// A keyword, the words after it on its line, and its `{ ... }` block if any.
#[derive(Debug)]
pub(crate) struct Stmt {
    pub key: Tok,
    pub args: Vec<Tok>,
    pub block: Option<Vec<Stmt>>,
}

/// Deepest `{ ... }` nesting accepted (keepalived itself needs four).
const MAX_DEPTH: usize = 16;

/// A block that was closed but looked as if its `}` were missing (a statement inside
/// it at or left of its keyword's column): where it opened, and that statement.
type Suspect = ((usize, Pos), Pos);

/// Groups tokens into statements.
pub(crate) fn parse(toks: &[Tok]) -> Result<Vec<Stmt>, LexError> {
    let mut i = 0;
    let mut suspect = None;
    parse_block(toks, &mut i, None, 0, &mut suspect)
}

/// Parses statements until the `}` closing the block opened by `opener` (or the end
/// of the text at top level). `opener` is the `{` token and its keyword's column.
///
/// A `}` that is missing shows up only at the end of the text, where some block is
/// still open; the block that really lacks it is the first one, in text order, with a
/// statement written at or left of its keyword (`suspect`), or else the innermost one
/// still open.
fn parse_block(
    toks: &[Tok],
    i: &mut usize,
    opener: Option<(&Tok, usize)>,
    depth: usize,
    suspect: &mut Option<Suspect>,
) -> Result<Vec<Stmt>, LexError> {
    let mut out = Vec::new();
    let mut dedent: Option<Pos> = None;
    loop {
        let Some(t) = toks.get(*i) else {
            let Some((b, _)) = opener else {
                return Ok(out);
            };
            let (open, d) = match (*suspect, dedent) {
                (Some((open, d)), _) => (open, Some(d)),
                (None, d) => ((b.file, b.pos), d),
            };
            let msg = match d {
                Some(d) => format!(
                    "`{{` is never closed: its `}}` is probably missing before line {}",
                    d.line
                ),
                None => "`{` is never closed".to_string(),
            };
            return Err((open.0, open.1, msg));
        };
        match t.kind {
            Kind::Close => {
                let Some((b, kcol)) = opener else {
                    return Err((t.file, t.pos, "unexpected `}`".to_string()));
                };
                // A `}` left of the keyword it would close belongs further out.
                if dedent.is_none() && t.file == b.file && t.pos.column < kcol {
                    dedent = Some(t.pos);
                }
                if let (None, Some(d)) = (*suspect, dedent) {
                    *suspect = Some(((b.file, b.pos), d));
                }
                *i += 1;
                return Ok(out);
            }
            Kind::Open => {
                return Err((t.file, t.pos, "`{` without a keyword before it".to_string()))
            }
            Kind::Word | Kind::Quoted => {
                let key = t.clone();
                if let Some((b, kcol)) = opener {
                    if dedent.is_none()
                        && key.file == b.file
                        && key.pos.line > b.pos.line
                        && key.pos.column <= kcol
                    {
                        dedent = Some(key.pos);
                    }
                }
                *i += 1;
                let mut args = Vec::new();
                while let Some(a) = toks.get(*i) {
                    if a.pos.line != key.pos.line
                        || a.file != key.file
                        || !matches!(a.kind, Kind::Word | Kind::Quoted)
                    {
                        break;
                    }
                    args.push(a.clone());
                    *i += 1;
                }
                let mut block = None;
                if let Some(b) = toks.get(*i) {
                    if b.kind == Kind::Open {
                        if depth >= MAX_DEPTH {
                            return Err((b.file, b.pos, "blocks nested too deeply".to_string()));
                        }
                        *i += 1;
                        block = Some(parse_block(
                            toks,
                            i,
                            Some((b, key.pos.column)),
                            depth + 1,
                            suspect,
                        )?);
                    }
                }
                out.push(Stmt { key, args, block });
            }
        }
    }
}
