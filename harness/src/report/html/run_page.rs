//! The page of one run (`report.html` in the run's folder): what a person needs to see
//! why a run failed without opening files one by one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use maud::{html, Markup, PreEscaped};

use super::{relative_href, status_class};
use crate::check::{Classification, Outcome};
use crate::history::{Event, EventKind};
use crate::report::{NodeDaemon, RunRecord, TIMELINE_FILE, VERDICT_FILE};

/// The file name of a run's page, in the run's folder.
pub const RUN_PAGE_FILE: &str = "report.html";

/// The raw artifacts a run page links to when they exist, with what each one is.
const ARTIFACTS: [(&str, &str); 4] = [
    (
        "capture.pcap",
        "every frame on the segment (tcpdump, Wireshark)",
    ),
    (
        "history.jsonl",
        "the time-ordered history of the run, one event a line",
    ),
    (VERDICT_FILE, "every check with its outcome and message"),
    (TIMELINE_FILE, "the timeline below, as a file"),
];

/// The name of the daemon log in a node's folder.
const NODE_LOG: &str = "daemon.log";

/// Lines of each node's log shown on the page.
const LOG_TAIL_LINES: usize = 40;

/// When a scenario step began and ended, in milliseconds of run time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTime {
    /// The step's 1-based index.
    pub index: usize,
    /// When it began, if the history saw it begin.
    pub begin_ms: Option<f64>,
    /// When it ended or failed, if the history saw that.
    pub end_ms: Option<f64>,
}

/// The begin and end time of every step the history recorded, in step order.
pub fn step_times(events: &[Event]) -> Vec<StepTime> {
    let mut out: Vec<StepTime> = Vec::new();
    for e in events {
        let EventKind::Step { index, phase, .. } = &e.kind else {
            continue;
        };
        let ms = e.t_ns as f64 / 1e6;
        let pos = match out.iter().position(|s| s.index == *index) {
            Some(p) => p,
            None => {
                out.push(StepTime {
                    index: *index,
                    begin_ms: None,
                    end_ms: None,
                });
                out.len() - 1
            }
        };
        let slot = &mut out[pos];
        if phase.as_str() == "begin" {
            slot.begin_ms.get_or_insert(ms);
        } else {
            slot.end_ms = Some(ms);
        }
    }
    out.sort_by_key(|s| s.index);
    out
}

/// What the run page shows beyond the record itself.
#[derive(Debug, Clone)]
pub struct RunPage<'a> {
    /// The run.
    pub record: &'a RunRecord,
    /// When each step began and ended.
    pub step_times: &'a [StepTime],
    /// The link back to the report's `index.html`, relative to the run's folder, when
    /// the run is part of one.
    pub index_href: Option<String>,
}

/// A node's folder in the run: its name, its files and the tail of its log.
struct NodeDir {
    name: String,
    files: Vec<String>,
    log_tail: Option<(usize, Vec<String>)>,
}

/// The node folders of a run (every subfolder that holds a daemon log or an address
/// snapshot), sorted by name.
fn node_dirs(dir: &Path) -> Vec<NodeDir> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut nodes: Vec<NodeDir> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let path = e.path();
            let files = plain_files(&path);
            if !files.iter().any(|f| f == NODE_LOG || f == "addresses.txt") {
                return None;
            }
            Some(NodeDir {
                name: e.file_name().to_string_lossy().into_owned(),
                log_tail: log_tail(&path.join(NODE_LOG), LOG_TAIL_LINES),
                files,
            })
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// The regular files directly in `dir`, sorted.
fn plain_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// The last `n` lines of a text file and how many lines it has, or `None` when it
/// cannot be read.
fn log_tail(path: &Path, n: usize) -> Option<(usize, Vec<String>)> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect();
    Some((lines.len(), tail))
}

/// The timeline SVG of the run, ready to inline (any XML prolog removed), if the run
/// wrote one.
fn inline_svg(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(TIMELINE_FILE)).ok()?;
    let start = text.find("<svg")?;
    Some(text[start..].to_string())
}

/// The status word and CSS class of a check's classification.
fn class_word(c: Classification) -> &'static str {
    match c {
        Classification::Pass => "pass",
        Classification::Fail | Classification::UnexpectedPass => "FAIL",
        Classification::Unknown => "unknown",
        Classification::ExpectedFail => "expected-fail",
    }
}

/// The status word whose colour a step row takes (`ok` → `pass`, `failed` → `FAIL`).
fn step_status(word: &str) -> &str {
    match word {
        "ok" => "pass",
        "failed" => "FAIL",
        other => other,
    }
}

/// Seconds of run time with millisecond precision, or `–`.
fn secs(ms: Option<f64>) -> String {
    ms.map_or_else(|| "–".to_string(), |ms| format!("{:.3} s", ms / 1e3))
}

/// The run's page as HTML. Reads the run's folder (`record.out_dir`) for the timeline,
/// the node folders and the artifacts it links to; links only what exists.
pub fn run_page_html(page: &RunPage<'_>) -> String {
    let r = page.record;
    let dir = &r.out_dir;
    let status = r.status().to_string();
    let title = format!("{} × {}: {}", r.scenario, r.daemon, status);
    let artifacts: Vec<(&str, &str)> = ARTIFACTS
        .iter()
        .copied()
        .filter(|(f, _)| dir.join(f).is_file())
        .collect();
    let nodes = node_dirs(dir);
    let svg = inline_svg(dir);
    let body: Markup = html! {
                @if let Some(href) = &page.index_href {
                    p { a href=(href) { "← all runs" } }
                }
                h1 { (r.scenario) " × " (r.daemon) " " span.badge.(status_class(&status)) { (status) } }
                p.sub {
                    "scenario file " code { (r.scenario_path.display()) }
                    ", run took " (format!("{:.1} s", r.duration_ms / 1e3))
                    ", daemon " (r.daemon_label())
                }
                @if let Some(e) = &r.error {
                    div.err { strong { "The run itself broke: " } (e) }
                }
                table.figures {
                    tr { th { "failover ms" } th { "longest conflict ms" } th { "longest outage ms" } }
                    tr {
                        td.num { (r.failover_ms.map_or_else(|| "–".to_string(), |ms| format!("{ms:.1}"))) }
                        td.num { (r.conflict) }
                        td.num { (r.outage) }
                    }
                }
                h2 { "Timeline" }
                @if let Some(svg) = &svg {
                    div.timeline { (PreEscaped(svg)) }
                } @else {
                    p { "No timeline was written for this run." }
                }
                h2 { "Checks" }
                @if r.verdict.checks.is_empty() {
                    p { "No check ran (the run broke before it could be judged)." }
                } @else {
                    table.checks {
                        tr { th { "check" } th { "result" } th { "message" } th { "measured" } }
                        @for j in &r.verdict.checks {
                            @let word = class_word(j.class);
                            tr.(status_class(word)) {
                                td { code { (j.result.name) } }
                                td { (j.class) }
                                td { @match &j.result.outcome {
                                    Outcome::Pass => {},
                                    Outcome::Fail(m) | Outcome::Unknown(m) => pre.msg { (m) },
                                } }
                                td { (j.result.detail) }
                            }
                        }
                    }
                }
                @for k in &r.verdict.unmatched_known_failures {
                    p.err { "Known failure " code { (k) } " names no check that ran." }
                }
                h2 { "Steps" }
                table.steps {
                    tr { th { "#" } th { "step" } th { "outcome" } th { "began" } th { "ended" } }
                    @for s in &r.steps {
                        @let t = page.step_times.iter().find(|t| t.index == s.index);
                        tr.(status_class(step_status(s.word()))) {
                            td.num { (s.index) }
                            td { (s.text) }
                            td { (s.outcome_text()) }
                            td.num { (secs(t.and_then(|t| t.begin_ms))) }
                            td.num { (secs(t.and_then(|t| t.end_ms))) }
                        }
                    }
                }
                h2 { "Nodes" }
                @if nodes.is_empty() {
                    p { "No node folder was written." }
                }
                @for n in &nodes {
                    h3 { (n.name) }
                    p {
                        "daemon "
                        @let ran: Vec<&NodeDaemon> = r.daemons.iter().filter(|d| d.node == n.name).collect();
                        @if ran.is_empty() {
                            strong { (r.daemon_label()) }
                        }
                        @for (i, d) in ran.iter().enumerate() {
                            @if i > 0 { " → " }
                            strong { (d.daemon) }
                            @if let Some(v) = &d.version { " " (v) }
                        }
                    }
                    ul.files {
                        @for f in &n.files {
                            li { a href=(format!("{}/{}", super::encode_segment(&n.name), super::encode_segment(f))) { (f) } }
                        }
                    }
                    @match &n.log_tail {
                        Some((total, tail)) => {
                            p.sub { "last " (tail.len()) " of " (total) " lines of " code { (NODE_LOG) } }
                            pre.log { @for l in tail { (l) "\n" } }
                        }
                        None => p.sub { "no daemon log" },
                    }
                }
                h2 { "Artifacts" }
                ul.files {
                    @for (f, what) in &artifacts {
                        li { a href=(f) { (f) } " — " (what) }
                    }
                }
    };
    super::page(&title, body).into_string()
}

/// Writes the run's page into its folder and returns its path.
pub fn write_run_page(page: &RunPage<'_>) -> Result<PathBuf> {
    let path = page.record.out_dir.join(RUN_PAGE_FILE);
    std::fs::write(&path, run_page_html(page))
        .with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

/// The link from a run's folder back to `root/index.html` (`../../index.html`), when
/// the run's folder is under `root`.
pub fn index_href_from(root: &Path, run_dir: &Path) -> Option<String> {
    let depth = relative_href(root, run_dir)?
        .split('/')
        .filter(|s| !s.is_empty())
        .count();
    Some(format!("{}{}", "../".repeat(depth), super::INDEX_FILE))
}
