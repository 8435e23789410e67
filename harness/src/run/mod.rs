//! The runner: one scenario against one daemon. Builds the lab, starts the observers,
//! plays the steps (starting daemons, injecting faults, waiting for conditions with
//! deadlines derived from the VRRP timers), then stops observing, keeps the evidence and
//! hands the history to the checkers.

pub mod batch;
pub mod fault;
pub mod interrupt;
pub mod judge;
mod live;
pub mod merge;
pub mod progress;
pub mod shard;
mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use vrrpd::wire::Mac;

use crate::check::{self, CheckName, CheckResult, Outcome, StepOutcome, Verdict};
use crate::daemons::{Cast, Daemon};
use crate::history::{Event, EventKind, History};
use crate::lab::Lab;
use crate::observe::{self, capture, probe};
use crate::report::NodeDaemon;
use crate::scenario::Scenario;

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
    /// The run's daemons as reports name them: `keepalived`, or each node's sequence
    /// (`node1=keepalived→vrrpd,node2=keepalived→vrrpd`) when they differ.
    pub daemon: String,
    /// The daemon's version, when one daemon ran everywhere and reports one.
    pub daemon_version: Option<String>,
    /// Every daemon each node ran, in order.
    pub daemons: Vec<NodeDaemon>,
    /// The `[expect.daemon."..."]` key whose known failures were applied, if any.
    pub expectations: Option<String>,
    /// Why the scenario cannot run against these daemons (no lab was built); the run is
    /// counted as not applicable, never as a pass.
    pub not_applicable: Option<String>,
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
pub async fn run(sc: &Scenario, cast: &Cast, opts: &RunOptions) -> RunResult {
    let started = Instant::now();
    let out = opts.out_dir.join(&sc.name).join(cast.dir_name());
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
        daemon: cast.label(),
        daemon_version: cast
            .single()
            .and_then(Daemon::version)
            .map(|v| v.to_string()),
        daemons: node_daemons(cast),
        expectations: None,
        not_applicable: cast.not_applicable(sc),
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
    if result.not_applicable.is_some() {
        // Nothing is built or started: a stale folder of an earlier run must not be
        // mistaken for this one's (only inside `--out`: the name is checked first).
        if crate::scenario::check_name(&sc.name).is_ok() {
            let _ = std::fs::remove_dir_all(&out);
        }
        result.duration = started.elapsed();
        return result;
    }
    match run_inner(sc, cast, opts, &out, vips, &mut result).await {
        Ok(()) => {}
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result.duration = started.elapsed();
    result
}

/// Each node's daemons, in the order it runs them.
fn node_daemons(cast: &Cast) -> Vec<NodeDaemon> {
    cast.history
        .iter()
        .flat_map(|(node, ds)| {
            ds.iter().map(move |d| NodeDaemon {
                node: node.clone(),
                daemon: d.name(),
                version: d.version().map(|v| v.to_string()),
                program: d.binary(),
            })
        })
        .collect()
}

async fn run_inner(
    sc: &Scenario,
    cast: &Cast,
    opts: &RunOptions,
    out: &Path,
    vips: Vec<IpAddr>,
    result: &mut RunResult,
) -> Result<()> {
    // The name is one path component of `out`; never let it climb out of `--out`.
    crate::scenario::check_name(&sc.name)
        .map_err(|why| anyhow!("scenario name {:?} {why}", sc.name))?;
    fresh_dir(out)?;
    let history = History::new();
    let lab = Lab::build(sc.topology.clone()).await?;
    let mut monitors = BTreeMap::new();
    for n in lab.nodes() {
        monitors.insert(
            n.name().to_string(),
            observe::start_node(n, history.clone()).await?,
        );
    }
    let cap = capture::start(&lab, &out.join("capture.pcap"), history.clone())?;
    let prb = probe::start(&lab, &vips, opts.probe_interval, history.clone())?;
    let mut rt = Runner {
        cast,
        lab,
        history: history.clone(),
        nodes: sc
            .nodes
            .iter()
            .map(|n| {
                Ok((
                    n.name.clone(),
                    NodeRt {
                        dir: out.join(&n.name),
                        cfg: n.clone(),
                        daemon: cast
                            .start
                            .get(&n.name)
                            .cloned()
                            .ok_or_else(|| anyhow!("no daemon for {}", n.name))?,
                        pid: None,
                        helpers: Vec::new(),
                    },
                ))
            })
            .collect::<Result<_>>()?,
        monitors,
        vips: vips.clone(),
        stopped_holder: false,
    };
    let played = rt.play(&sc.steps, &mut result.steps, &opts.stop).await?;
    if let Some(when) = &played.interrupted {
        return finish_interrupted(rt, when, out, prb, cap, played.step_checks, result).await;
    }
    settle(sc, &history).await;
    keep_end_state(&rt.lab, out).await?;
    prb.stop()?;
    let stats = cap.stop()?;
    rt.monitors.clear();
    let events = history.events();
    history.write_jsonl(&out.join("history.jsonl"))?;
    if opts.keep {
        keep_lab_up(&rt.lab, &sc.name, &cast.label(), out).await;
    }
    let macs = node_macs(&rt.lab);
    drop(rt);
    let version = cast.single().and_then(Daemon::version);
    let (key, known) = sc.known_failures_for(&cast.expectation_name(), version);
    result.expectations = key.map(str::to_string);
    let (verdict, ctx) = judge::judge(sc, &known, played, vips, macs, &events)?;
    if stats.frames == 0 {
        history.record(EventKind::Note {
            text: "capture saw no frames".into(),
        });
    }
    result.verdict = verdict;
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
    keep_end_state(&rt.lab, out).await?;
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

/// Empties (or creates) the run's artifact directory.
fn fresh_dir(out: &Path) -> Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clear {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))
}

/// Lets the last step settle before judging the end state: one advert interval, so a
/// takeover the last step triggered is announced and the client's view catches up.
async fn settle(sc: &Scenario, history: &History) {
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
}

/// Evidence of the end state, before anything is torn down: each node's addresses.
async fn keep_end_state(lab: &Lab, out: &Path) -> Result<()> {
    for n in lab.nodes() {
        if let Ok(snap) = n.addresses().await {
            let dir = out.join(n.name());
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("addresses.txt"), snap.render())?;
        }
    }
    Ok(())
}

/// `--keep`: says how to enter each node and waits for Ctrl-C.
async fn keep_lab_up(lab: &Lab, scenario: &str, daemon: &str, out: &Path) {
    eprintln!(
        "lab of {scenario} × {daemon} kept up (artifacts in {}); enter a node with:",
        out.display()
    );
    for (name, cmd) in lab.enter_hints() {
        eprintln!("  {name:8} {cmd}");
    }
    eprintln!("Ctrl-C tears it down.");
    let _ = tokio::signal::ctrl_c().await;
}

/// Each router node's segment MAC.
fn node_macs(lab: &Lab) -> BTreeMap<String, Mac> {
    lab.nodes()
        .iter()
        .map(|n| (n.name().to_string(), Mac(n.mac())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon that is never started: the name check comes first.
    #[derive(Debug)]
    struct Fake(PathBuf);

    impl crate::daemons::Driver for Fake {
        fn name(&self) -> String {
            "vrrpd".into()
        }
        fn program(&self) -> &Path {
            &self.0
        }
        fn caps(&self) -> crate::daemons::Caps {
            let all: Vec<_> = crate::daemons::Feature::ALL
                .iter()
                .map(|(_, f)| *f)
                .collect();
            crate::daemons::Caps::of(&all)
        }
        fn render(
            &self,
            _: &crate::scenario::NodeVrrp,
            _: &Path,
            _: Option<&Path>,
        ) -> Result<Vec<crate::daemons::ConfigFile>> {
            anyhow::bail!("never rendered")
        }
        fn launch(
            &self,
            _: Option<&crate::scenario::NodeVrrp>,
            _: &Path,
        ) -> Result<crate::daemons::Launch> {
            anyhow::bail!("never launched")
        }
    }

    fn fake() -> Daemon {
        Daemon::new(Fake(PathBuf::from("/nonexistent/vrrpd")))
    }

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
            let r = run(&sc, &Cast::uniform(&fake(), &sc), &opts).await;
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
