//! The exploration's HTML page (`index.html` next to `summary.json`): the daemon, seed
//! and schedules run, the violations grouped by invariant (each with its scenario file
//! and its run's report and artifacts when they are in the folder), and the unknowns
//! apart. Same shell and stylesheet as `vrrplab run`'s report; relative links only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use maud::{html, Markup};

use super::summary::Summary;
use crate::report::html::{page, relative_href, RUN_PAGE_FILE};
use crate::report::{TIMELINE_FILE, VERDICT_FILE};

/// The page's file name, in the explore output folder.
pub const EXPLORE_PAGE_FILE: &str = "index.html";

/// Files of a run folder the page links to when they exist.
const RUN_FILES: [&str; 5] = [
    RUN_PAGE_FILE,
    VERDICT_FILE,
    TIMELINE_FILE,
    "capture.pcap",
    "history.jsonl",
];

/// Links (href, label) to the files of the run of scenario file `file`: its folder is
/// named after the file's stem, next to the file (a minimal file's own run) or under
/// `runs/` (a schedule's run), with one daemon folder inside.
fn run_links(out: &Path, file: &Path) -> Vec<(String, String)> {
    let Some(stem) = file.file_stem() else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for base in [
        file.parent().map(|p| p.join(stem)),
        Some(out.join("runs").join(stem)),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(rd) = std::fs::read_dir(&base) {
            let mut sub: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
            sub.sort();
            dirs.extend(sub);
        }
    }
    let mut links = Vec::new();
    for d in dirs {
        for f in RUN_FILES {
            let path = d.join(f);
            if path.is_file() {
                if let Some(h) = relative_href(out, &path) {
                    links.push((h, f.to_string()));
                }
            }
        }
    }
    links
}

/// The link to scenario file `file` when it is in `out`, else its path as text.
fn file_cell(out: &Path, file: &Path) -> Markup {
    match relative_href(out, file).filter(|_| file.is_file()) {
        Some(h) => html! { a href=(h) { (h) } },
        None => html! { code { (file.display()) } },
    }
}

/// The page for `summary`, whose files live under `out`.
pub fn explore_html(out: &Path, summary: &Summary) -> String {
    let mut targets: Vec<_> = summary.violations.iter().map(|f| &f.invariant).collect();
    targets.sort();
    targets.dedup();
    let clean = summary.violations.is_empty() && summary.unknown.is_empty();
    let title = format!("vrrplab explore {} seed {}", summary.daemon, summary.seed);
    let body = html! {
        h1 {
            (title) " "
            @if clean { span.badge.st-pass { "no violations" } }
            @else if summary.violations.is_empty() { span.badge.st-unknown { "unknowns" } }
            @else { span.badge.st-fail { "violations found" } }
        }
        p.sub { code { (summary.command) } }
        table {
            tr { th { "daemon" } td { (summary.daemon) } }
            tr { th { "seed" } td.num { (summary.seed) } }
            tr { th { "schedules run" } td.num { (summary.schedules) } }
            tr { th { "passed" } td.num { (summary.passed) } }
            tr { th { "violations" } td.num { (summary.violations.len()) } }
            tr { th { "unknown" } td.num { (summary.unknown.len()) } }
            tr { th { "lab runs" } td.num { (summary.lab_runs) } }
            tr { th { "wall time" } td.num { (format!("{:.0} s", summary.elapsed_secs)) } }
        }
        h2 { "Violations by invariant" }
        @if targets.is_empty() { p { "none" } }
        @for t in &targets {
            h3 { (t.to_string()) }
            table {
                tr { th { "schedule" } th { "message" } th { "steps → minimal" } th { "reproduced" } th { "scenario file" } th { "run" } }
                @for f in summary.violations.iter().filter(|f| &&f.invariant == t) {
                    tr.st-fail {
                        td.num { (f.schedule) }
                        td { pre.msg { (f.message) } }
                        td.num { (f.steps) " → " (f.minimal_steps) @if f.shrunk { " (shrunk)" } }
                        td.num { (f.reproduced.0) "/" (f.reproduced.1) }
                        td { (file_cell(out, &f.file)) }
                        td { @for (h, l) in run_links(out, &f.file) { a href=(h) { (l) } " " } }
                    }
                }
            }
        }
        h2 { "Unknowns" }
        @if summary.unknown.is_empty() { p { "none" } }
        @else {
            table {
                tr { th { "schedule" } th { "undecided" } th { "scenario file" } th { "run" } }
                @for u in &summary.unknown {
                    tr.st-unknown {
                        td.num { (u.schedule) }
                        td { pre.msg { (u.why.join("\n")) } }
                        td { (file_cell(out, &u.file)) }
                        td { @for (h, l) in run_links(out, &u.file) { a href=(h) { (l) } " " } }
                    }
                }
            }
        }
        h2 { "Files" }
        ul.files {
            @for f in ["summary.md", "summary.json"] {
                @if out.join(f).is_file() { li { a href=(f) { (f) } } }
            }
        }
    };
    page(&title, body).into_string()
}

/// Writes the page into `out` and returns its path.
pub fn write_explore_page(out: &Path, summary: &Summary) -> Result<PathBuf> {
    let path = out.join(EXPLORE_PAGE_FILE);
    std::fs::write(&path, explore_html(out, summary))
        .with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests;
