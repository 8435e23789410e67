//! The HTML report people open after a run: `index.html` at the root of the output
//! folder (the scenario × daemon matrix, coloured by status, with the failover, conflict
//! and outage figures and, for `--repeat`, a pass rate per cell) and `report.html` in
//! every run's folder (its timeline, checks, steps, nodes with log tails, and links to
//! the raw artifacts).
//!
//! Pages are rendered with maud (escaped by construction) and are self-contained: one
//! inline stylesheet, the timeline SVG inlined, no scripts, fonts or anything fetched
//! from elsewhere, so they work from `file://` on a machine with no network. Every link
//! is relative and points at a file that exists in the folder.

mod index;
mod run_page;
mod style;

pub use index::{index_html, write_index, INDEX_FILE};
pub use run_page::{
    index_href_from, run_page_html, step_times, write_run_page, RunPage, StepTime, RUN_PAGE_FILE,
};

use std::path::Path;

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The shell every page shares: doctype, `<head>` with `title` and the one inline
/// stylesheet, and `body` as the page's content.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(style::CSS)) }
            }
            body { (body) }
        }
    }
}

/// The CSS class of a status word (`pass` → `st-pass`, `FAIL` → `st-fail`,
/// `expected-fail` → `st-expected-fail`): lower case, anything but letters and digits
/// turned into `-`.
pub fn status_class(status: &str) -> String {
    let word: String = status
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("st-{word}")
}

/// `path` relative to `base` as a URL path (`/`-separated, each segment
/// percent-encoded where a browser would misread it), or `None` when `path` is not
/// under `base`.
pub fn relative_href(base: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| encode_segment(&c.as_os_str().to_string_lossy()))
        .collect();
    Some(parts.join("/"))
}

/// Percent-encodes the characters that would change a relative URL's meaning.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
