//! Reports of finished runs: a summary table, verdict JSON (full and normalized for
//! snapshots), JUnit XML for CI, and an SVG timeline of one run.
//!
//! Everything here reads a [`RunRecord`] (what the runner concluded) and, for the
//! timeline, the run's history. Reports never judge: the verdict comes from
//! [`crate::check`]; this module only decides how to show it. The one derived judgement
//! is [`Status`], which folds the verdict, the steps and a broken run into the single
//! word a table or CI needs, and it never turns "unknown" into "pass".

mod figure;
mod json;
mod junit;
mod svg;
mod table;
mod xml;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

pub use crate::check::StepOutcome;
use crate::check::{Classification, Outcome, Verdict};
use crate::history::Event;

pub use figure::{figures, Figure};
pub use json::{normalized_verdict, write_verdict_json};
pub use junit::junit_xml;
pub use svg::timeline_svg;
pub use table::summary_table;

/// Everything a report needs to know about one finished (or broken) run.
///
/// Serialize-only: the [`Verdict`] inside is an output of the checkers, never read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file.
    pub scenario_path: PathBuf,
    /// The daemon under test (`vrrpd`, `keepalived`).
    pub daemon: String,
    /// The checkers' verdict (empty when the run broke before it could be judged).
    pub verdict: Verdict,
    /// Failover time as measured by the failover check, if it measured one.
    pub failover_ms: Option<f64>,
    /// Longest conflict (two holders of a VIP) after the first fault.
    pub conflict: Figure,
    /// Longest outage (no holder of a VIP) after the first fault.
    pub outage: Figure,
    /// How long the run took.
    pub duration_ms: f64,
    /// Every scenario step and what happened to it.
    pub steps: Vec<StepOutcome>,
    /// Why the run itself broke (lab or daemon failure), if it did: then the verdict does
    /// not tell anything about the daemon.
    pub error: Option<String>,
    /// Where the run's artifacts are.
    pub out_dir: PathBuf,
}

/// The one-word result of a run, as the summary table and CI see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Every check passed, every step succeeded.
    Pass,
    /// The run passes only because every failing check is a known failure that
    /// reproduced.
    ExpectedFail,
    /// Some check failed (or a known failure stopped reproducing, or named no check), or
    /// a step failed.
    Fail,
    /// Nothing failed, but something could not be decided: not a pass.
    Unknown,
    /// The run itself broke (lab or daemon failure).
    Error,
}

impl Status {
    /// Every status, in the order the totals footer lists them.
    pub const ALL: [Status; 5] = [
        Status::Pass,
        Status::ExpectedFail,
        Status::Fail,
        Status::Unknown,
        Status::Error,
    ];

    /// `pass`, `expected-fail`, `FAIL`, `unknown` or `ERROR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::ExpectedFail => "expected-fail",
            Status::Fail => "FAIL",
            Status::Unknown => "unknown",
            Status::Error => "ERROR",
        }
    }

    /// Whether a run with this status lets a regression gate pass.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Pass | Status::ExpectedFail)
    }
}

impl Serialize for Status {
    /// As its [`Status::as_str`] word, the same as the table shows.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RunRecord {
    /// The run's status: a broken run is an error; any failed check, stale or unmatched
    /// known failure, or failed step fails it; otherwise anything unknown (check or
    /// step) makes it unknown; otherwise it passes, as an expected failure if a known
    /// failure reproduced. A verdict that says not ok for a reason this function does
    /// not see is still a failure.
    pub fn status(&self) -> Status {
        if self.error.is_some() {
            return Status::Error;
        }
        let classes = || self.verdict.checks.iter().map(|j| j.class);
        let failed = classes()
            .any(|c| matches!(c, Classification::Fail | Classification::UnexpectedPass))
            || !self.verdict.unmatched_known_failures.is_empty()
            || self
                .steps
                .iter()
                .any(|s| matches!(s.outcome, Outcome::Fail(_)));
        if failed {
            return Status::Fail;
        }
        let unknown = classes().any(|c| c == Classification::Unknown)
            || self
                .steps
                .iter()
                .any(|s| matches!(s.outcome, Outcome::Unknown(_)));
        if unknown {
            return Status::Unknown;
        }
        if !self.verdict.ok {
            return Status::Fail;
        }
        if classes().any(|c| c == Classification::ExpectedFail) {
            Status::ExpectedFail
        } else {
            Status::Pass
        }
    }
}

/// The name of the verdict file [`write_artifacts`] writes.
pub const VERDICT_FILE: &str = "verdict.json";
/// The name of the timeline file [`write_artifacts`] writes.
pub const TIMELINE_FILE: &str = "timeline.svg";

/// Writes `verdict.json` and `timeline.svg` for one run into `dir` (created if needed).
/// `nodes` are the router nodes (one lane each), `vips` the virtual addresses, `end_ns`
/// the run time at which observation ended.
pub fn write_artifacts(
    dir: &Path,
    record: &RunRecord,
    events: &[Event],
    nodes: &[String],
    vips: &[std::net::IpAddr],
    end_ns: u64,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    write_verdict_json(record, &dir.join(VERDICT_FILE))?;
    let title = format!(
        "{} / {}: {}",
        record.scenario,
        record.daemon,
        record.status()
    );
    let svg = timeline_svg(events, nodes, vips, end_ns, &title);
    let path = dir.join(TIMELINE_FILE);
    std::fs::write(&path, svg).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests;
