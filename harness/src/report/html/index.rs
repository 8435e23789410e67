//! The report's front page (`index.html` at the root of the output folder): one row per
//! scenario, one column per daemon, each cell coloured by status and linking to its
//! run's page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use maud::{html, Markup};

use super::run_page::RUN_PAGE_FILE;
use super::{relative_href, status_class};
use crate::report::{Figure, RunRecord, Status};

/// The file name of the front page, at the root of the output folder.
pub const INDEX_FILE: &str = "index.html";

/// Files at the root of the output folder the front page links to when they exist.
const ROOT_FILES: [(&str, &str); 2] = [
    ("summary.md", "the summary table (markdown)"),
    ("junit.xml", "JUnit XML, one test case per run"),
];

/// All runs of one scenario × daemon (one, or one per `--repeat`).
struct Cell<'a> {
    runs: Vec<&'a RunRecord>,
}

impl Cell<'_> {
    /// The worst status among the runs: one failed repeat colours the cell.
    fn status(&self) -> Status {
        self.runs
            .iter()
            .map(|r| r.status())
            .max()
            .unwrap_or(Status::Unknown)
    }

    /// Runs that let a gate pass, out of all.
    fn pass_rate(&self) -> (usize, usize) {
        let ok = self.runs.iter().filter(|r| r.status().is_ok()).count();
        (ok, self.runs.len())
    }

    /// The run the cell's main link opens: the first that is not ok, else the first.
    fn main_run(&self) -> Option<&RunRecord> {
        self.runs
            .iter()
            .find(|r| !r.status().is_ok())
            .or_else(|| self.runs.first())
            .copied()
    }

    /// The longest failover time among the runs.
    fn failover(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.failover_ms)
            .fold(None, |m, x| Some(m.map_or(x, |m: f64| m.max(x))))
    }
}

/// How bad a figure is, for picking the worst of several: unknown, then open, then the
/// longest closed window, then none.
fn figure_rank(f: &Figure) -> (u8, f64) {
    match f {
        Figure::None => (0, 0.0),
        Figure::Ms(ms) => (1, *ms),
        Figure::Open { at_least_ms, .. } => (2, *at_least_ms),
        Figure::Unknown(_) => (3, 0.0),
    }
}

/// The worst of the runs' figures.
fn worst<'a>(figs: impl Iterator<Item = &'a Figure>) -> Option<&'a Figure> {
    figs.max_by(|a, b| {
        let (ra, va) = figure_rank(a);
        let (rb, vb) = figure_rank(b);
        ra.cmp(&rb).then(va.total_cmp(&vb))
    })
}

/// The link from the report's root to a run's page, if the run's folder is under it.
fn run_href(root: &Path, r: &RunRecord) -> Option<String> {
    relative_href(root, &r.out_dir.join(RUN_PAGE_FILE))
}

/// The front page for `records`, whose run folders live under `root`. `subtitle` says
/// what produced it (the command, or which shards were merged); `problems` (missing
/// shards or runs) are listed in a red box at the top.
pub fn index_html(
    root: &Path,
    records: &[RunRecord],
    subtitle: &str,
    problems: &[String],
) -> String {
    let mut scenarios: Vec<&str> = records.iter().map(|r| r.scenario.as_str()).collect();
    scenarios.sort();
    scenarios.dedup();
    let mut daemons: Vec<&str> = records.iter().map(|r| r.daemon.as_str()).collect();
    daemons.sort();
    daemons.dedup();
    let mut cells: BTreeMap<(&str, &str), Cell<'_>> = BTreeMap::new();
    for r in records {
        cells
            .entry((r.scenario.as_str(), r.daemon.as_str()))
            .or_insert(Cell { runs: Vec::new() })
            .runs
            .push(r);
    }
    let mut totals: BTreeMap<Status, usize> = BTreeMap::new();
    for r in records {
        *totals.entry(r.status()).or_default() += 1;
    }
    let repeated = cells.values().any(|c| c.runs.len() > 1);
    let all_ok = problems.is_empty() && records.iter().all(|r| r.status().is_ok());
    let root_files: Vec<(&str, &str)> = ROOT_FILES
        .iter()
        .copied()
        .filter(|(f, _)| root.join(f).is_file())
        .collect();
    let body: Markup = html! {
                h1 {
                    "vrrplab report "
                    @if all_ok { span.badge.st-pass { "all as expected" } }
                    @else { span.badge.st-fail { "some runs failed" } }
                }
                p.sub { (subtitle) }
                @if !problems.is_empty() {
                    div.err {
                        strong { "This report is incomplete:" }
                        ul { @for p in problems { li { (p) } } }
                    }
                }
                p.totals {
                    (records.len()) " runs: "
                    @for (s, n) in &totals {
                        span.badge.(status_class(s.as_str())) { (n) " " (s) }
                    }
                }
                table.matrix {
                    tr {
                        th { "scenario" }
                        @for d in &daemons { th { (d) } }
                    }
                    @for sc in &scenarios {
                        tr {
                            th { (sc) }
                            @for d in &daemons {
                                @match cells.get(&(*sc, *d)) {
                                    None => td.cell { "–" },
                                    Some(c) => (cell_markup(root, c, repeated)),
                                }
                            }
                        }
                    }
                }
                p.sub {
                    "Colours: "
                    @for s in Status::ALL { span.badge.(status_class(s.as_str())) { (s) } " " }
                    ". Figures are the worst over a cell's runs: failover ms, longest conflict (two holders) and outage (no holder) after the first fault; "
                    code { "open ≥" } " means the window was still open when the run ended."
                }
                @if !root_files.is_empty() {
                    h2 { "Files" }
                    ul.files {
                        @for (f, what) in &root_files { li { a href=(f) { (f) } " — " (what) } }
                    }
                }
    };
    super::page("vrrplab report", body).into_string()
}

/// One matrix cell: status, pass rate when repeated, figures, and links to the runs.
fn cell_markup(root: &Path, c: &Cell<'_>, repeated: bool) -> Markup {
    let status = c.status();
    let (ok, n) = c.pass_rate();
    let main_href = c.main_run().and_then(|r| run_href(root, r));
    html! {
        td.cell.(status_class(status.as_str())) {
            @match &main_href {
                Some(h) => a.main href=(h) { (status) },
                None => strong { (status) },
            }
            @if repeated {
                div { "passed " (ok) "/" (n) }
            }
            div.figs {
                "failover " (c.failover().map_or_else(|| "–".to_string(), |ms| format!("{ms:.0} ms")))
                br;
                "conflict " (worst(c.runs.iter().map(|r| &r.conflict)).map_or_else(|| "–".to_string(), |f| f.to_string()))
                " · outage " (worst(c.runs.iter().map(|r| &r.outage)).map_or_else(|| "–".to_string(), |f| f.to_string()))
            }
            @if n > 1 {
                div.reps {
                    @for (i, r) in c.runs.iter().enumerate() {
                        @if let Some(h) = run_href(root, r) {
                            a.(status_class(r.status().as_str())) href=(h) title=(r.status()) { (i + 1) }
                        }
                    }
                }
            }
        }
    }
}

/// Writes `root/index.html` (see [`index_html`]) and returns its path.
pub fn write_index(
    root: &Path,
    records: &[RunRecord],
    subtitle: &str,
    problems: &[String],
) -> Result<PathBuf> {
    std::fs::create_dir_all(root).with_context(|| format!("create {}", root.display()))?;
    let path = root.join(INDEX_FILE);
    std::fs::write(&path, index_html(root, records, subtitle, problems))
        .with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}
