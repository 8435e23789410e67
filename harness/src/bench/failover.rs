//! Sections 2–4: failover precision, conflict windows after SIGKILL, and the wall time of
//! the seed catalogue.
//!
//! Sections 2 and 3 share their runs: one scenario text per (fault, timer) case,
//! generated here, run N times against each daemon with [`batch::run_all`] (vrrpd's
//! SIGKILL cases `--conflict-runs` times when section 3 is measured: issue 14 asks for
//! 0 ms in 100 of 100 runs). Failover is [`RunRecord::failover_ms`] (from the capture:
//! last advert of the old master → first advert of the new); conflict is
//! [`RunRecord::conflict`] (two holders) and the longest window in which two nodes
//! answered the client for the VIP; outage is [`RunRecord::outage`]. Targets:
//! [`conflict_targets`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use vrrpd::instance::{lease_overlap_bound, master_down_interval, skew_time};
use vrrpd::wire::vrrp::Version;

use super::{Sample, Stats, Target, Verdict};
use crate::check::client_view;
use crate::daemons::{Daemon, Lineup, Registry};
use crate::report::{Figure, RunRecord};
use crate::run::batch;
use crate::run::{RunOptions, RunResult};
use crate::scenario::Scenario;

/// The priority of the BACKUP whose timers the RFC values are computed for.
pub const BACKUP_PRIORITY: u8 = 100;

/// The priority of the MASTER that gets the fault (its lease budget assumes a peer of
/// this priority).
pub const MASTER_PRIORITY: u8 = 150;

/// A fault and timer combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Case {
    /// `sigkill` or `stop`.
    pub fault: &'static str,
    /// VRRP version.
    pub version: u8,
    /// Advertisement interval, ms.
    pub interval_ms: u64,
    /// IPv6 lab and VIP instead of IPv4.
    pub ipv6: bool,
}

impl Case {
    fn proto(&self) -> Version {
        if self.version == 2 {
            Version::V2
        } else {
            Version::V3
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// The RFC value the failover is measured against, and its name: node2's
    /// Master_Down_Interval after SIGKILL, its Skew_Time after a clean stop.
    pub fn rfc(&self) -> (Duration, &'static str) {
        if self.fault == "sigkill" {
            (
                master_down_interval(self.proto(), BACKUP_PRIORITY, self.interval()),
                "Master_Down_Interval",
            )
        } else {
            (
                skew_time(self.proto(), BACKUP_PRIORITY, self.interval()),
                "Skew_Time",
            )
        }
    }

    /// `sigkill, v2, 1000 ms` (`, IPv6` for an IPv6 case).
    pub fn label(&self) -> String {
        format!("{}, {}", self.fault, self.timer_label())
    }

    /// `v2, 1000 ms` (`, IPv6` for an IPv6 case).
    pub fn timer_label(&self) -> String {
        let v6 = if self.ipv6 { ", IPv6" } else { "" };
        format!("v{}, {} ms{v6}", self.version, self.interval_ms)
    }

    /// The start of the scenario names of this case's runs.
    fn name_prefix(&self) -> String {
        let v6 = if self.ipv6 { "-v6" } else { "" };
        format!(
            "bench-{}-v{}-{}ms{v6}-r",
            self.fault, self.version, self.interval_ms
        )
    }

    /// The scenario text of run `run`: node1 priority 150 starts as MASTER, node2 100;
    /// after a few adverts node1 gets the fault, node2 takes over, and the run watches
    /// two more seconds (longer than any vrrpd lease overlap) so a conflict that closes
    /// is seen closing.
    pub fn scenario_text(&self, run: usize) -> String {
        let (ipv6, vip) = if self.ipv6 {
            ("true", "2001:db8::20/128")
        } else {
            ("false", "192.0.2.20/32")
        };
        format!(
            r#"name = "{prefix}{run}"
description = "bench: {fault} of the MASTER, VRRPv{v} at {ms} ms"
[topology]
nodes = 2
ipv6 = {ipv6}

[vrrp]
version = {v}
vrid = 51
priority = {BACKUP_PRIORITY}
advert_interval = "{ms}ms"
vips = ["{vip}"]

[nodes.node1]
priority = {MASTER_PRIORITY}
initial_state = "master"

[[steps]]
start = "all"

[[steps]]
wait = "only-holder"
node = "node1"

[[steps]]
hold = "3 advert_interval"

[[steps]]
fault = "{fault}"
node = "node1"

[[steps]]
wait = "holder"
node = "node2"
within = "master_down + 1s"

[[steps]]
hold = "2s"

[expect]
failover = "rfc"
"#,
            prefix = self.name_prefix(),
            fault = self.fault,
            v = self.version,
            ms = self.interval_ms,
        )
    }
}

/// The cases of section 2 (both faults, v2 at 1 s and v3 at 100 ms) and those of
/// section 3 (SIGKILL at v2 1 s, v3 1 s, v3 1 s over IPv6 and v3 100 ms).
pub fn cases(failover: bool, conflict: bool) -> Vec<Case> {
    let mut out = Vec::new();
    let timers = [
        (2, 1000, false),
        (3, 1000, false),
        (3, 1000, true),
        (3, 100, false),
    ];
    for (version, interval_ms, ipv6) in timers {
        let in_failover = version == 2 || interval_ms == 100;
        for fault in ["sigkill", "stop"] {
            let wanted = (failover && in_failover) || (conflict && fault == "sigkill");
            if wanted {
                out.push(Case {
                    fault,
                    version,
                    interval_ms,
                    ipv6,
                });
            }
        }
    }
    out
}

/// Failover of one daemon in one case.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverRow {
    /// The daemon.
    pub daemon: String,
    /// The case.
    pub case: Case,
    /// The RFC timer's name.
    pub rfc_name: String,
    /// The RFC value, ms.
    pub rfc_ms: f64,
    /// Runs of this daemon in this case.
    pub runs: usize,
    /// Measured failover, ms (`None` when no run measured one).
    pub failover_ms: Option<Stats>,
    /// Median − RFC value, ms.
    pub diff_ms: Option<f64>,
    /// Runs that measured nothing, with why.
    pub unmeasured: Vec<String>,
}

/// Conflict windows of one daemon in one SIGKILL case.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictRow {
    /// The daemon.
    pub daemon: String,
    /// The case.
    pub case: Case,
    /// Runs of this daemon in this case.
    pub runs: usize,
    /// Per run: longest window with two holders after the fault, ms.
    pub holders: Vec<Sample>,
    /// Per run: longest window in which two nodes answered the client, ms.
    pub client: Vec<Sample>,
    /// Per run: longest window with no holder after the fault, ms.
    pub outage: Vec<Sample>,
    /// Runs where a window could not be measured, with why.
    pub unknown: Vec<String>,
    /// vrrpd's documented bound for this interval, ms.
    pub bound_ms: f64,
}

impl ConflictRow {
    /// Statistics of the two-holder windows.
    pub fn holders_stats(&self) -> Option<Stats> {
        Stats::of_samples(&self.holders)
    }

    /// Statistics of the client's two-node windows.
    pub fn client_stats(&self) -> Option<Stats> {
        Stats::of_samples(&self.client)
    }

    /// Statistics of the outages.
    pub fn outage_stats(&self) -> Option<Stats> {
        Stats::of_samples(&self.outage)
    }
}

/// The largest of `samples` (an open one counts as at least its value).
pub fn worst(samples: &[Sample]) -> Option<Sample> {
    samples
        .iter()
        .copied()
        .max_by(|a, b| a.value.total_cmp(&b.value).then(a.open.cmp(&b.open)))
}

/// "`limit` in every one of `runs` runs": met when all `runs` runs measured a window
/// within `limit` ms, MISSED when any measured one exceeds it (or is open), unknown when
/// none exceeds it but some run measured nothing (an unmeasured run is not a pass).
pub fn every_run(samples: &[Sample], runs: usize, limit_ms: f64) -> (String, Verdict) {
    let exceed = samples.iter().filter(|s| s.value > limit_ms).count();
    // An open window still within the limit may have gone on past it.
    let undecided = samples
        .iter()
        .filter(|s| s.open && s.value <= limit_ms)
        .count();
    let within = samples.len() - exceed - undecided;
    let unmeasured = runs.saturating_sub(samples.len());
    let worst = worst(samples).map_or_else(|| "—".to_string(), |w| sample_str(&w));
    let mut measured = format!("{within} of {runs} runs (worst {worst})");
    if unmeasured + undecided > 0 {
        measured.push_str(&format!(", {} unknown", unmeasured + undecided));
    }
    let verdict = if exceed > 0 {
        Verdict::Missed
    } else if unmeasured + undecided > 0 || samples.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Met
    };
    (measured, verdict)
}

/// Sections 2 and 3.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverSection {
    /// Runs per daemon and case.
    pub runs: usize,
    /// Runs of vrrpd's SIGKILL cases when section 3 is measured.
    pub conflict_runs: usize,
    /// Scenario runs at once.
    pub jobs: usize,
    /// Wall time of all the runs, s.
    pub wall_s: f64,
    /// Section 2 (empty when not selected).
    pub failover: Vec<FailoverRow>,
    /// Section 3 (empty when not selected).
    pub conflict: Vec<ConflictRow>,
}

impl FailoverSection {
    /// The targets of sections 2 and 3.
    pub fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for r in self.failover.iter().filter(|r| r.daemon == "vrrpd") {
            let within = if r.case.interval_ms >= 1000 { 5.0 } else { 2.0 };
            out.push(match r.diff_ms {
                Some(d) => Target {
                    what: format!(
                        "failover {}: vrrpd median within {within} ms of {}",
                        r.case.label(),
                        r.rfc_name
                    ),
                    measured: format!("{d:+.2} ms"),
                    verdict: Verdict::from_bool(d.abs() <= within),
                },
                None => Target {
                    what: format!("failover {}: vrrpd measured", r.case.label()),
                    measured: "no measurement".into(),
                    verdict: Verdict::Unknown,
                },
            });
            let k = self
                .failover
                .iter()
                .find(|k| k.daemon == "keepalived" && k.case == r.case);
            if let (Some(d), Some(kd)) = (r.diff_ms, k.and_then(|k| k.diff_ms)) {
                out.push(Target {
                    what: format!(
                        "failover {}: vrrpd no further from the RFC than keepalived",
                        r.case.label()
                    ),
                    measured: format!("{:.2} vs {:.2} ms off", d.abs(), kd.abs()),
                    verdict: Verdict::from_bool(d.abs() <= kd.abs()),
                });
            }
        }
        for r in self.conflict.iter().filter(|r| r.daemon == "vrrpd") {
            out.extend(conflict_targets(r));
        }
        out
    }
}

/// Target for the median outage after SIGKILL at 1 s adverts, ms.
pub const OUTAGE_TARGET_MS: f64 = 700.0;

/// Target for the worst conflict after SIGKILL at sub-second adverts (with the gate), ms.
pub const SUBSECOND_CONFLICT_MS: f64 = 50.0;

/// The targets of one vrrpd conflict row (issue 14): at 1 s adverts two holders and two
/// answering nodes 0 ms in N of N runs and a median outage ≤ 700 ms; below 1 s both
/// windows ≤ 50 ms in the worst run.
pub fn conflict_targets(r: &ConflictRow) -> Vec<Target> {
    let mut out = Vec::new();
    let subsecond = r.case.interval_ms < 1000;
    for (what, samples) in [("two holders", &r.holders), ("client two nodes", &r.client)] {
        let (limit, name) = if subsecond {
            (
                SUBSECOND_CONFLICT_MS,
                format!(
                    "≤ {SUBSECOND_CONFLICT_MS:.0} ms worst case in {} runs",
                    r.runs
                ),
            )
        } else {
            (0.0, format!("0 ms in {0} of {0} runs", r.runs))
        };
        let (measured, verdict) = every_run(samples, r.runs, limit);
        out.push(Target {
            what: format!("conflict {}: vrrpd {what} {name}", r.case.label()),
            measured,
            verdict,
        });
    }
    if !subsecond {
        let what = format!(
            "outage {}: vrrpd median ≤ {OUTAGE_TARGET_MS} ms",
            r.case.label()
        );
        out.push(match r.outage_stats() {
            Some(st) => Target {
                what,
                measured: format!("{:.1} ms", st.median),
                verdict: Verdict::from_bool(!st.median_open && st.median <= OUTAGE_TARGET_MS),
            },
            None => Target {
                what,
                measured: "no measurement".into(),
                verdict: Verdict::Unknown,
            },
        });
    }
    out
}

/// `12.5 ms` or `open ≥ 12.5 ms`.
pub fn sample_str(s: &Sample) -> String {
    if s.open {
        format!("open ≥ {:.1} ms", s.value)
    } else {
        format!("{:.1} ms", s.value)
    }
}

/// How many runs of `daemon` a case gets: `conflict_runs` for vrrpd's SIGKILL cases when
/// section 3 is measured (issue 14's "N of N runs"), `runs` otherwise (keepalived's
/// conflict never ends: more runs would not tell more).
pub fn runs_for(
    case: &Case,
    daemon: &str,
    runs: usize,
    conflict_runs: usize,
    conflict: bool,
) -> usize {
    if conflict && case.fault == "sigkill" && daemon == "vrrpd" {
        conflict_runs
    } else {
        runs
    }
}

/// Runs sections 2 and/or 3: `runs` per case and daemon, `conflict_runs` for vrrpd's
/// SIGKILL cases (see [`runs_for`]).
pub async fn run(
    runs: usize,
    conflict_runs: usize,
    jobs: usize,
    want_failover: bool,
    want_conflict: bool,
    daemons: &[Daemon],
) -> Result<FailoverSection> {
    let cases = cases(want_failover, want_conflict);
    let mut plan = Vec::new();
    for d in daemons {
        let mut scenarios = Vec::new();
        for c in &cases {
            for i in 0..runs_for(c, &d.name(), runs, conflict_runs, want_conflict) {
                let text = c.scenario_text(i);
                let path = PathBuf::from(format!("bench/{}-{i}.toml", c.fault));
                scenarios.push(Scenario::parse(&text, &path).map_err(|e| anyhow::anyhow!("{e}"))?);
            }
        }
        plan.extend(batch::uniform_jobs(&scenarios, std::slice::from_ref(d)));
    }
    let tmp = tempfile::tempdir().context("temp dir for run artifacts")?;
    let opts = RunOptions {
        out_dir: tmp.path().to_path_buf(),
        ..Default::default()
    };
    let t0 = Instant::now();
    let results = batch::run_all(&plan, &opts, jobs).await;
    let wall_s = t0.elapsed().as_secs_f64();
    let mut section = FailoverSection {
        runs,
        conflict_runs,
        jobs,
        wall_s,
        failover: Vec::new(),
        conflict: Vec::new(),
    };
    for c in &cases {
        for d in daemons {
            let prefix = c.name_prefix();
            let mine: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.daemon == d.name() && r.scenario.starts_with(&prefix))
                .collect();
            if want_failover && (c.version == 2 || c.interval_ms == 100) {
                section.failover.push(failover_row(c, &d.name(), &mine));
            }
            if want_conflict && c.fault == "sigkill" {
                section.conflict.push(conflict_row(c, &d.name(), &mine));
            }
        }
    }
    Ok(section)
}

fn failover_row(c: &Case, daemon: &str, runs: &[&RunResult]) -> FailoverRow {
    let (rfc, rfc_name) = c.rfc();
    let rfc_ms = rfc.as_secs_f64() * 1e3;
    let mut values = Vec::new();
    let mut unmeasured = Vec::new();
    for r in runs {
        let rec = batch::record(r);
        match (rec.failover_ms, &r.error) {
            (Some(ms), _) => values.push(ms),
            (None, Some(e)) => unmeasured.push(format!("{}: error: {e}", r.scenario)),
            (None, None) => unmeasured.push(format!("{}: no failover in the capture", r.scenario)),
        }
    }
    let failover_ms = Stats::of(&values);
    FailoverRow {
        daemon: daemon.to_string(),
        case: *c,
        runs: runs.len(),
        rfc_name: rfc_name.to_string(),
        rfc_ms,
        diff_ms: failover_ms.map(|s| s.median - rfc_ms),
        failover_ms,
        unmeasured,
    }
}

fn conflict_row(c: &Case, daemon: &str, runs: &[&RunResult]) -> ConflictRow {
    let mut row = ConflictRow {
        daemon: daemon.to_string(),
        case: *c,
        runs: runs.len(),
        holders: Vec::new(),
        client: Vec::new(),
        outage: Vec::new(),
        unknown: Vec::new(),
        bound_ms: (lease_overlap_bound(c.proto(), MASTER_PRIORITY, c.interval()).as_secs_f64()
            * 1e3)
            .round(),
    };
    for r in runs {
        if let Some(e) = &r.error {
            row.unknown.push(format!("{}: error: {e}", r.scenario));
            continue;
        }
        let rec: RunRecord = batch::record(r);
        match figure_sample(&rec.conflict) {
            Ok(s) => row.holders.push(s),
            Err(why) => row.unknown.push(format!("{}: holders: {why}", r.scenario)),
        }
        match figure_sample(&rec.outage) {
            Ok(s) => row.outage.push(s),
            Err(why) => row.unknown.push(format!("{}: outage: {why}", r.scenario)),
        }
        match client_sample(r) {
            Ok(s) => row.client.push(s),
            Err(why) => row.unknown.push(format!("{}: client: {why}", r.scenario)),
        }
    }
    row
}

/// A report figure as a sample: no window is 0 ms, an open window a lower bound.
pub fn figure_sample(f: &Figure) -> std::result::Result<Sample, String> {
    match f {
        Figure::None => Ok(Sample::exact(0.0)),
        Figure::Ms(ms) => Ok(Sample::exact(*ms)),
        Figure::Open { at_least_ms, .. } => Ok(Sample::at_least(*at_least_ms)),
        Figure::Unknown(why) => Err(why.clone()),
    }
}

/// The longest window after the fault in which two nodes answered the client for a VIP.
fn client_sample(r: &RunResult) -> std::result::Result<Sample, String> {
    let after = r.first_fault_ns.unwrap_or(0);
    let mut worst = Sample::exact(0.0);
    for vip in &r.vips {
        let view = client_view(&r.events, *vip);
        if view.probes.is_empty() {
            return Err(format!("the client never probed {vip}"));
        }
        for w in view.multi_node_windows() {
            if w.to_ns.is_some_and(|t| t < after) {
                continue;
            }
            let ms = w.duration_until(r.end_ns).as_secs_f64() * 1e3;
            if ms > worst.value || (w.is_open() && !worst.open) {
                worst = Sample {
                    value: ms,
                    open: w.is_open(),
                };
            }
        }
    }
    Ok(worst)
}

/// Section 4.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogueSection {
    /// The catalogue directory.
    pub dir: PathBuf,
    /// Scenario files.
    pub scenarios: usize,
    /// Daemons run against it.
    pub daemons: Vec<String>,
    /// Scenario runs at once.
    pub jobs: usize,
    /// Wall time of the whole catalogue × daemons, s.
    pub wall_s: Stats,
    /// Per catalogue run: runs that went as their scenario expects / all runs.
    pub as_expected: Vec<(usize, usize)>,
}

impl CatalogueSection {
    /// Target: under 60 s.
    pub fn targets(&self) -> Vec<Target> {
        vec![Target {
            what: format!(
                "catalogue ({} scenarios × {} daemons) median wall time < 60 s",
                self.scenarios,
                self.daemons.len()
            ),
            measured: format!("{:.1} s", self.wall_s.median),
            verdict: Verdict::from_bool(self.wall_s.median < 60.0),
        }]
    }
}

/// Runs the catalogue in `dir` against `daemons` (vrrpd and keepalived) `runs` times.
pub async fn catalogue(
    dir: &Path,
    runs: usize,
    jobs: usize,
    daemons: &[Daemon],
) -> Result<CatalogueSection> {
    let files = crate::scenario::collect_files(std::slice::from_ref(&dir.to_path_buf()))?;
    let mut scenarios = Vec::new();
    for f in &files {
        scenarios.push(Scenario::load(f).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let registry = Registry::default();
    let lineups: Vec<Lineup> = daemons.iter().cloned().map(Lineup::uniform).collect();
    let plan = batch::plan(&scenarios, &lineups, &registry)?;
    let mut walls = Vec::new();
    let mut as_expected = Vec::new();
    for _ in 0..runs {
        let tmp = tempfile::tempdir().context("temp dir for run artifacts")?;
        let opts = RunOptions {
            out_dir: tmp.path().to_path_buf(),
            ..Default::default()
        };
        let t0 = Instant::now();
        let results = batch::run_all(&plan, &opts, jobs).await;
        walls.push(t0.elapsed().as_secs_f64());
        let ok = results
            .iter()
            .filter(|r| batch::record(r).status().is_ok())
            .count();
        as_expected.push((ok, results.len()));
    }
    Ok(CatalogueSection {
        dir: dir.to_path_buf(),
        scenarios: scenarios.len(),
        daemons: daemons.iter().map(Daemon::name).collect(),
        jobs,
        wall_s: Stats::of(&walls).context("no catalogue run")?,
        as_expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scenarios_parse() {
        for c in cases(true, true) {
            let s = Scenario::parse(&c.scenario_text(3), Path::new("bench/x.toml")).unwrap();
            assert_eq!(s.nodes.len(), 2);
            assert!(s.name.ends_with("-r3"), "{}", s.name);
        }
        assert_eq!(cases(true, false).len(), 4);
        assert_eq!(cases(false, true).len(), 4);
        assert_eq!(cases(true, true).len(), 6);
        let v6 = cases(false, true).into_iter().find(|c| c.ipv6).unwrap();
        let s = Scenario::parse(&v6.scenario_text(0), Path::new("bench/x.toml")).unwrap();
        assert!(
            s.name.starts_with("bench-sigkill-v3-1000ms-v6-r"),
            "{}",
            s.name
        );
    }

    #[test]
    fn rfc_values() {
        let c = Case {
            fault: "sigkill",
            version: 2,
            interval_ms: 1000,
            ipv6: false,
        };
        assert_eq!(c.rfc().0, Duration::from_nanos(3_609_375_000));
        let c = Case {
            fault: "stop",
            version: 3,
            interval_ms: 100,
            ipv6: false,
        };
        assert_eq!(c.rfc().0, Duration::from_nanos(60_937_500));
    }

    fn conflict(interval_ms: u64, runs: usize, holders: Vec<Sample>) -> ConflictRow {
        ConflictRow {
            daemon: "vrrpd".into(),
            case: Case {
                fault: "sigkill",
                version: 3,
                interval_ms,
                ipv6: false,
            },
            runs,
            client: holders.clone(),
            outage: holders.iter().map(|_| Sample::exact(560.0)).collect(),
            holders,
            unknown: vec![],
            bound_ms: 1219.0,
        }
    }

    #[test]
    fn one_second_targets_count_runs() {
        let t = conflict_targets(&conflict(1000, 3, vec![Sample::exact(0.0); 3]));
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[0].what,
            "conflict sigkill, v3, 1000 ms: vrrpd two holders 0 ms in 3 of 3 runs"
        );
        assert_eq!(t[0].measured, "3 of 3 runs (worst 0.0 ms)");
        assert_eq!(t[0].verdict, Verdict::Met);
        assert_eq!(
            t[2].what,
            "outage sigkill, v3, 1000 ms: vrrpd median ≤ 700 ms"
        );
        assert_eq!(t[2].verdict, Verdict::Met);
        // One run unmeasured: not a pass.
        let t = conflict_targets(&conflict(1000, 3, vec![Sample::exact(0.0); 2]));
        assert_eq!(t[0].verdict, Verdict::Unknown);
        assert_eq!(t[0].measured, "2 of 3 runs (worst 0.0 ms), 1 unknown");
        // One run with a conflict: missed, whatever else is unknown.
        let t = conflict_targets(&conflict(
            1000,
            3,
            vec![Sample::exact(0.0), Sample::exact(1.5)],
        ));
        assert_eq!(t[0].verdict, Verdict::Missed);
    }

    #[test]
    fn subsecond_targets_are_50_ms_worst_case() {
        let ok = vec![Sample::exact(12.0), Sample::exact(50.0)];
        let t = conflict_targets(&conflict(100, 2, ok));
        assert_eq!(t.len(), 2, "no outage target below 1 s");
        assert_eq!(
            t[1].what,
            "conflict sigkill, v3, 100 ms: vrrpd client two nodes ≤ 50 ms worst case in 2 runs"
        );
        assert_eq!(t[1].verdict, Verdict::Met);
        let t = conflict_targets(&conflict(
            100,
            2,
            vec![Sample::exact(3.0), Sample::exact(376.4)],
        ));
        assert_eq!(t[0].verdict, Verdict::Missed);
        assert_eq!(t[0].measured, "1 of 2 runs (worst 376.4 ms)");
        // An open window under the limit could have gone past it.
        let t = conflict_targets(&conflict(
            100,
            2,
            vec![Sample::exact(3.0), Sample::at_least(20.0)],
        ));
        assert_eq!(t[0].verdict, Verdict::Unknown);
    }

    #[test]
    fn vrrpd_sigkill_rows_get_conflict_runs() {
        let kill = Case {
            fault: "sigkill",
            version: 2,
            interval_ms: 1000,
            ipv6: false,
        };
        let stop = Case {
            fault: "stop",
            ..kill
        };
        assert_eq!(runs_for(&kill, "vrrpd", 10, 100, true), 100);
        assert_eq!(runs_for(&kill, "keepalived", 10, 100, true), 10);
        assert_eq!(runs_for(&stop, "vrrpd", 10, 100, true), 10);
        // Section 2 alone: --runs everywhere.
        assert_eq!(runs_for(&kill, "vrrpd", 10, 100, false), 10);
        assert_eq!(runs_for(&kill, "vrrpd", 10, 3, true), 3);
    }

    #[test]
    fn figures_as_samples() {
        assert_eq!(figure_sample(&Figure::None), Ok(Sample::exact(0.0)));
        assert_eq!(figure_sample(&Figure::Ms(3.5)), Ok(Sample::exact(3.5)));
        assert_eq!(
            figure_sample(&Figure::Open {
                since_ms: 1.0,
                at_least_ms: 9.0
            }),
            Ok(Sample::at_least(9.0))
        );
        assert!(figure_sample(&Figure::Unknown("x".into())).is_err());
    }
}
