//! The runner: one scenario against one daemon. Builds the lab, starts the observers,
//! plays the steps (starting daemons, injecting faults, waiting for conditions with
//! deadlines derived from the VRRP timers), then stops observing, keeps the evidence and
//! hands the history to the checkers.

pub mod batch;
pub mod fault;
pub mod interrupt;
mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::check::{
    self, Check, CheckName, CheckResult, Ctx, FailoverKind, Outcome, StepOutcome, Verdict,
};
use crate::daemons::Daemon;
use crate::history::{Event, EventKind, History, StepPhase};
use crate::lab::Lab;
use crate::observe::addr;
use crate::observe::{capture, probe};
use crate::scenario::{ExpectNow, FailoverCheck, Scenario, StepKind, WaitCond};

use live::{NodeRt, Runner};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Root of the artifacts; each run writes `<out>/<scenario>/<daemon>/`.
    pub out_dir: PathBuf,
    /// Time between client probe rounds.
    pub probe_interval: Duration,
    /// Keep the lab up after the run (daemons still running), print how to enter each
    /// node, and tear it down on Ctrl-C.
    pub keep: bool,
    /// Set to `true` to stop the run in flight (see [`interrupt`]): it is judged
    /// interrupted, its artifacts are written and its daemons stopped.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            out_dir: PathBuf::from("out"),
            probe_interval: probe::DEFAULT_INTERVAL,
            keep: false,
            stop: None,
        }
    }
}

/// The result of one scenario × daemon run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub scenario_path: PathBuf,
    /// Daemon name.
    pub daemon: String,
    /// The judged checks (empty when the run itself broke).
    pub verdict: Verdict,
    /// Per-step outcomes, as the steps themselves went (before known failures).
    pub steps: Vec<StepOutcome>,
    /// The whole history.
    pub events: Vec<Event>,
    /// The run broke before it could be judged (lab or daemon failure).
    pub error: Option<String>,
    /// Where the artifacts are.
    pub out_dir: PathBuf,
    /// Wall time of the run.
    pub duration: Duration,
    /// The VIPs observed.
    pub vips: Vec<IpAddr>,
    /// The router nodes.
    pub nodes: Vec<String>,
    /// Run time of the first fault.
    pub first_fault_ns: Option<u64>,
    /// Run time observation ended.
    pub end_ns: u64,
}

impl RunResult {
    /// Whether everything went as the scenario expects for this daemon.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.verdict.ok
    }
}

/// Directory name for a daemon (no ':' in paths).
pub fn daemon_dir_name(daemon: &str) -> String {
    daemon.replace(':', "_")
}

/// Runs one scenario against one daemon and writes the history, capture and address
/// snapshots into its artifact directory. Never panics on a broken run: the error is in
/// the result.
pub async fn run(sc: &Scenario, daemon: &Daemon, opts: &RunOptions) -> RunResult {
    let started = Instant::now();
    let out = opts
        .out_dir
        .join(&sc.name)
        .join(daemon_dir_name(&daemon.name()));
    let vips: Vec<IpAddr> = {
        let mut set = BTreeSet::new();
        for n in &sc.nodes {
            set.extend(n.vips.iter().map(|(a, _)| *a));
        }
        set.into_iter().collect()
    };
    let nodes: Vec<String> = sc.nodes.iter().map(|n| n.name.clone()).collect();
    let mut result = RunResult {
        scenario: sc.name.clone(),
        scenario_path: sc.path.clone(),
        daemon: daemon.name(),
        verdict: Verdict {
            checks: Vec::new(),
            unmatched_known_failures: Vec::new(),
            ok: false,
        },
        steps: Vec::new(),
        events: Vec::new(),
        error: None,
        out_dir: out.clone(),
        duration: Duration::ZERO,
        vips: vips.clone(),
        nodes,
        first_fault_ns: None,
        end_ns: 0,
    };
    match run_inner(sc, daemon, opts, &out, vips, &mut result).await {
        Ok(()) => {}
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result.duration = started.elapsed();
    result
}

async fn run_inner(
    sc: &Scenario,
    daemon: &Daemon,
    opts: &RunOptions,
    out: &Path,
    vips: Vec<IpAddr>,
    result: &mut RunResult,
) -> Result<()> {
    // The name is one path component of `out`; never let it climb out of `--out`.
    crate::scenario::check_name(&sc.name)
        .map_err(|why| anyhow!("scenario name {:?} {why}", sc.name))?;
    daemon.binary()?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clear {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let history = History::new();
    let lab = Lab::build(sc.topology.clone()).await?;
    let mut monitors = BTreeMap::new();
    for n in lab.nodes() {
        monitors.insert(n.name().to_string(), addr::start(n, history.clone()).await?);
    }
    let cap = capture::start(&lab, &out.join("capture.pcap"), history.clone())?;
    let prb = probe::start(&lab, &vips, opts.probe_interval, history.clone())?;
    let mut rt = Runner {
        daemon,
        lab,
        history: history.clone(),
        nodes: sc
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    NodeRt {
                        dir: out.join(&n.name),
                        cfg: n.clone(),
                        pid: None,
                    },
                )
            })
            .collect(),
        monitors,
        vips: vips.clone(),
        stopped_holder: false,
    };
    let mut step_checks: Vec<CheckResult> = Vec::new();
    let mut deferred: Vec<(CheckName, Check)> = Vec::new();
    let mut interrupted: Option<String> = None;
    for step in &sc.steps {
        if interrupt::requested(&opts.stop) {
            interrupted = Some(format!("before step {} ({})", step.index, step.text));
            break;
        }
        let name = CheckName::Step(step.index);
        history.record(EventKind::Step {
            index: step.index,
            text: step.text.clone(),
            phase: StepPhase::Begin,
        });
        let outcome = match &step.kind {
            StepKind::Expect(e) => {
                let t_ns = history.clock().now_ns();
                let check = match e {
                    ExpectNow::Holders(set) => Check::ExpectHolders {
                        t_ns,
                        nodes: set.clone(),
                    },
                    ExpectNow::ClientMacs(n) => Check::ExpectClientMacs { t_ns, n: *n },
                };
                deferred.push((name, check));
                None
            }
            kind => tokio::select! {
                o = rt.step(kind) => Some(o),
                _ = interrupt::wait(&opts.stop) => {
                    interrupted = Some(format!("during step {} ({})", step.index, step.text));
                    break;
                }
            },
        };
        let phase = match &outcome {
            None | Some(Outcome::Pass) => StepPhase::End,
            Some(_) => StepPhase::Failed,
        };
        history.record(EventKind::Step {
            index: step.index,
            text: step.text.clone(),
            phase,
        });
        if let Some(o) = outcome {
            // Steps that only act (start, fault, hold) are part of the setup; only waits
            // are judged, since they state a condition of the scenario.
            if matches!(step.kind, StepKind::Wait { .. }) {
                step_checks.push(CheckResult::new(name, o.clone(), step.text.clone()));
            } else if let Outcome::Fail(why) = &o {
                bail!("step {} ({}) failed: {why}", step.index, step.text);
            }
            result.steps.push(StepOutcome {
                index: step.index,
                text: step.text.clone(),
                outcome: o,
            });
        } else {
            result
                .steps
                .push(StepOutcome::ok(step.index, step.text.clone()));
        }
    }
    if let Some(when) = &interrupted {
        return finish_interrupted(rt, when, out, prb, cap, step_checks, result).await;
    }
    // Let the last step settle before judging the end state: one advert interval, so a
    // takeover the last step triggered is announced and the client's view catches up.
    let tail = sc
        .nodes
        .iter()
        .map(|n| n.advert_interval)
        .max()
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_millis(300))
        + Duration::from_millis(200);
    history.record(EventKind::Note {
        text: format!(
            "settling for {} ms before judging the end state",
            tail.as_millis()
        ),
    });
    tokio::time::sleep(tail).await;
    // Evidence of the end state, before anything is torn down.
    for n in rt.lab.nodes() {
        if let Ok(snap) = n.addresses().await {
            let dir = out.join(n.name());
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("addresses.txt"), snap.render())?;
        }
    }
    prb.stop()?;
    let stats = cap.stop()?;
    rt.monitors.clear();
    let events = history.events();
    history.write_jsonl(&out.join("history.jsonl"))?;
    if opts.keep {
        eprintln!(
            "lab of {} × {} kept up (artifacts in {}); enter a node with:",
            sc.name,
            daemon.name(),
            out.display()
        );
        for (name, cmd) in rt.lab.enter_hints() {
            eprintln!("  {name:8} {cmd}");
        }
        eprintln!("Ctrl-C tears it down.");
        let _ = tokio::signal::ctrl_c().await;
    }
    let stopped_holder = rt.stopped_holder;
    let macs: BTreeMap<String, String> = rt
        .lab
        .nodes()
        .iter()
        .map(|n| (n.name().to_string(), vrrpd::wire::Mac(n.mac()).to_string()))
        .collect();
    drop(rt);
    let first = sc
        .nodes
        .first()
        .ok_or_else(|| anyhow!("scenario has no nodes"))?;
    let backup_priority = sc.nodes.iter().map(|n| n.priority).min().unwrap_or(100);
    let interval = sc
        .nodes
        .iter()
        .map(|n| n.advert_interval)
        .max()
        .unwrap_or(Duration::from_secs(1));
    let ctx = Ctx::new(
        vips,
        macs,
        first.version,
        backup_priority,
        interval,
        &events,
    );
    let mut results = step_checks;
    for (name, c) in deferred {
        results.push(c.run(&ctx, &events).renamed(name));
    }
    results.extend(check::run_checks(
        &ctx,
        &events,
        &end_checks(sc, stopped_holder, takeover_after_fault(&events, &ctx)),
    ));
    if stats.frames == 0 {
        history.record(EventKind::Note {
            text: "capture saw no frames".into(),
        });
    }
    let known = sc
        .known_failures
        .get(&daemon.name())
        .cloned()
        .unwrap_or_default();
    result.verdict = check::judge(results, &known);
    result.first_fault_ns = ctx.first_fault_ns;
    result.end_ns = ctx.end_ns;
    result.events = events;
    Ok(())
}

/// The end of a run stopped by a signal: the daemons are stopped cleanly, the evidence
/// is written (addresses, capture, history), and the verdict holds the waits judged so
/// far plus an `interrupted` check that is unknown — an interrupted run never passes.
async fn finish_interrupted(
    mut rt: Runner<'_>,
    when: &str,
    out: &Path,
    prb: probe::Probe,
    cap: capture::Capture,
    mut results: Vec<CheckResult>,
    result: &mut RunResult,
) -> Result<()> {
    let why = format!("interrupted by a signal {when}");
    rt.history.record(EventKind::Note {
        text: format!("{why}; stopping the daemons"),
    });
    let stopped = fault::stop_all(&mut rt).await;
    for n in rt.lab.nodes() {
        if let Ok(snap) = n.addresses().await {
            let dir = out.join(n.name());
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("addresses.txt"), snap.render())?;
        }
    }
    prb.stop()?;
    cap.stop()?;
    rt.monitors.clear();
    let history = rt.history.clone();
    history.write_jsonl(&out.join("history.jsonl"))?;
    drop(rt);
    let detail = match stopped {
        Ok(()) => format!("{why}; daemons stopped with SIGTERM"),
        Err(e) => format!("{why}; stopping the daemons: {e:#}"),
    };
    results.push(CheckResult::new(
        CheckName::Interrupted,
        Outcome::Unknown(detail.clone()),
        detail,
    ));
    result.verdict = check::judge(results, &Default::default());
    result.events = history.events();
    result.end_ns = history.clock().now_ns();
    Ok(())
}

/// Whether some node newly held a VIP after the first fault (a takeover happened).
pub fn takeover_after_fault(events: &[Event], ctx: &Ctx) -> bool {
    let Some(fault) = ctx.first_fault_ns else {
        return false;
    };
    ctx.vips.iter().any(|vip| {
        let tl = check::holders(events, *vip);
        tl.intervals
            .windows(2)
            .any(|w| w[1].from_ns >= fault && w[1].nodes.iter().any(|n| !w[0].nodes.contains(n)))
    })
}

/// The end-of-run checks a scenario's expectations ask for, limited to those the run made
/// applicable: a priority-0 advert needs a clean stop of a VIP holder, a takeover
/// announcement needs a takeover. An inapplicable check would only ever say "unknown".
pub fn end_checks(sc: &Scenario, stopped_holder: bool, takeover: bool) -> Vec<Check> {
    let e = &sc.expect;
    let mut v = Vec::new();
    if e.no_conflict_at_end {
        v.push(Check::NoConflictAtEnd);
    }
    if e.single_holder_at_end {
        v.push(Check::SingleHolderAtEnd);
    }
    if let Some(b) = e.conflict_max {
        v.push(Check::ConflictMax(b));
    }
    if let Some(b) = e.outage_max {
        v.push(Check::OutageMax(b));
    }
    if e.failover == FailoverCheck::Rfc {
        v.push(Check::Failover(FailoverKind::Auto));
    }
    if e.priority_zero_on_stop && stopped_holder {
        v.push(Check::PriorityZeroOnStop);
    }
    if e.garp_on_takeover && takeover {
        v.push(Check::GarpOnTakeover);
    }
    if e.ttl_255 {
        v.push(Check::Ttl255);
    }
    if e.client_single_mac_at_end {
        v.push(Check::ClientSingleMacAtEnd);
    }
    v
}

impl Runner<'_> {
    async fn step(&mut self, kind: &StepKind) -> Outcome {
        let r = match kind {
            StepKind::Start(nodes) => {
                let mut r = Ok(());
                for n in nodes {
                    r = fault::start(self, n).await;
                    if r.is_err() {
                        break;
                    }
                }
                r.map(|()| Outcome::Pass)
            }
            StepKind::Hold(d) => {
                // Observing for a while is the step's purpose, not a wait-and-hope.
                tokio::time::sleep(*d).await;
                Ok(Outcome::Pass)
            }
            StepKind::Wait { cond, deadline } => self.wait(cond, *deadline).await,
            StepKind::Fault {
                node,
                fault: f,
                addr,
                config,
            } => fault::apply(self, node, *f, *addr, config.as_deref())
                .await
                .map(|()| Outcome::Pass),
            StepKind::Expect(_) => Ok(Outcome::Pass),
        };
        r.unwrap_or_else(|e| Outcome::Fail(format!("{e:#}")))
    }

    async fn wait(&self, cond: &WaitCond, deadline: Duration) -> Result<Outcome> {
        let until = Instant::now() + deadline;
        loop {
            let holders = self.holders().await?;
            let holds_all = |n: &str| holders.values().all(|s| s.contains(n));
            let nobody_else = |n: &str| holders.values().all(|s| s.iter().all(|h| h == n));
            let met = match cond {
                WaitCond::Holder(n) => Some(holds_all(n)),
                WaitCond::OnlyHolder(n) => Some(holds_all(n) && nobody_else(n)),
                WaitCond::NoHolder => Some(holders.values().all(|s| s.is_empty())),
                WaitCond::Converged => Some(
                    self.lab
                        .nodes()
                        .iter()
                        .any(|h| holds_all(h.name()) && nobody_else(h.name())),
                ),
                WaitCond::State { node, state } => {
                    let dir = &self
                        .nodes
                        .get(node)
                        .ok_or_else(|| anyhow!("no node {node}"))?
                        .dir;
                    match self.daemon.state(dir) {
                        Some(s) => Some(s == *state),
                        None if matches!(self.daemon, Daemon::Keepalived) => None,
                        None => Some(false),
                    }
                }
            };
            match met {
                None => {
                    return Ok(Outcome::Unknown(format!(
                        "{} reports no VRRP state, so the condition cannot be observed",
                        self.daemon.name()
                    )))
                }
                Some(true) => return Ok(Outcome::Pass),
                Some(false) if Instant::now() >= until => {
                    let now: Vec<String> = holders
                        .iter()
                        .map(|(v, s)| {
                            let s: Vec<&str> = s.iter().map(String::as_str).collect();
                            format!("{v} on [{}]", s.join(", "))
                        })
                        .collect();
                    return Ok(Outcome::Fail(format!(
                        "not reached within {:.3}s (t={:.3}s); holders then: {}",
                        deadline.as_secs_f64(),
                        self.history.clock().now_ns() as f64 / 1e9,
                        now.join("; ")
                    )));
                }
                Some(false) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13 item 10: even a scenario built in code with the name `..` cannot make
    /// a run delete or write anything outside `--out`.
    #[tokio::test]
    async fn a_scenario_name_cannot_escape_out() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let beside = root.path().join("vrrpd");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&beside).unwrap();
        std::fs::write(beside.join("precious"), b"keep me").unwrap();
        let text = "[[steps]]\nstart = \"all\"\n";
        for bad in ["..", ".", "../x", "/tmp", ""] {
            let mut sc = Scenario::parse(text, Path::new("s.toml")).unwrap();
            sc.name = bad.to_string();
            let opts = RunOptions {
                out_dir: out.clone(),
                ..Default::default()
            };
            let r = run(&sc, &Daemon::Vrrpd { misbehave: None }, &opts).await;
            let e = r.error.unwrap_or_default();
            assert!(e.contains("scenario name"), "{bad:?}: {e}");
        }
        assert_eq!(
            std::fs::read(beside.join("precious")).unwrap(),
            b"keep me",
            "a run touched a folder beside --out"
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 2);
    }
}
