//! Section 5: CPU and memory of 255 VRRPv3 instances at 100 ms, unicast, on a 2-node lab
//! (node1 priority 150 MASTER of all, node2 100 BACKUP), vrrpd against keepalived.
//!
//! Instance *i* (VRID *i*) holds one VIP on eth1: 198.51.100.*i* for VRIDs 1–254 and
//! 203.0.113.1 for VRID 255. node1 starts first; once it holds all 255 VIPs, node2
//! starts, and once node2 has run without taking any VIP, the sampling
//! time is cut into W equal windows; in each, CPU time in nanoseconds (the first
//! field of `/proc/<pid>/task/<tid>/schedstat`, summed over every thread of every
//! process of the node; clock ticks of `/proc/<pid>/stat` would be 10 ms steps) is
//! divided by the window's length: per cent of one core. That is one run; each daemon
//! gets R runs, each in a fresh lab, the daemons taking turns (vrrpd, keepalived,
//! vrrpd, …) so a change in the machine's load falls on both. A CPU figure is over the
//! runs (each run's whole sampling time); the spread between runs is (largest −
//! smallest run) / median, the spread between windows the largest (largest − smallest
//! window) / median of any one run. Peak RSS is the sum of `VmHWM` over the node's
//! processes at the end of a run, the largest over the runs.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::sampling::{self, Configs};
use super::{Stats, Target, Verdict};
use crate::daemons::Daemon;
use crate::lab::topology::Topology;
use crate::lab::Lab;

/// Number of instances.
pub const INSTANCES: u8 = 255;

/// Advertisement interval of every instance.
pub const ADVERT_MS: u64 = 100;

/// How long node1 may take to hold every VIP.
const CONVERGE_DEADLINE: Duration = Duration::from_secs(60);

/// Time node2 runs before it is judged converged.
const SETTLE: Duration = Duration::from_secs(2);

/// Time after convergence before sampling starts: past keepalived's second round of
/// gratuitous ARPs (`garp_master_delay`, 5 s) and every start-up log burst.
const WARMUP: Duration = Duration::from_secs(6);

/// How long the observers run under the load.
const OBSERVE: Duration = Duration::from_secs(10);

/// The VIP of instance `vrid`.
pub fn vip(vrid: u8) -> Ipv4Addr {
    if vrid == 255 {
        Ipv4Addr::new(203, 0, 113, 1)
    } else {
        Ipv4Addr::new(198, 51, 100, vrid)
    }
}

/// One node's configuration inputs.
#[derive(Debug, Clone, Copy)]
pub struct NodeConf {
    /// Priority of every instance.
    pub priority: u8,
    /// Start as MASTER.
    pub master: bool,
    /// The node's own address.
    pub own: Ipv4Addr,
    /// The peer's address.
    pub peer: Ipv4Addr,
}

/// vrrpd's TOML configuration with all 255 instances.
pub fn vrrpd_toml(n: &NodeConf) -> String {
    let mut s = String::new();
    for vrid in 1..=INSTANCES {
        let _ = writeln!(s, "[[instance]]");
        let _ = writeln!(s, "name = \"VI_{vrid}\"");
        let _ = writeln!(s, "interface = \"eth1\"");
        let _ = writeln!(s, "vrid = {vrid}");
        let _ = writeln!(s, "version = 3");
        let _ = writeln!(s, "priority = {}", n.priority);
        let _ = writeln!(s, "advert_interval = \"{ADVERT_MS}ms\"");
        let _ = writeln!(
            s,
            "initial_state = \"{}\"",
            if n.master { "master" } else { "backup" }
        );
        let _ = writeln!(s, "vips = [\"{}/32\"]", vip(vrid));
        let _ = writeln!(s, "unicast_src = \"{}\"", n.own);
        let _ = writeln!(s, "unicast_peers = [\"{}\"]\n", n.peer);
    }
    s
}

/// keepalived.conf with the same 255 instances.
pub fn keepalived_conf(n: &NodeConf, router_id: &str) -> String {
    let mut s = format!("global_defs {{\n    router_id {router_id}\n}}\n\n");
    for vrid in 1..=INSTANCES {
        let _ = writeln!(s, "vrrp_instance VI_{vrid} {{");
        let _ = writeln!(
            s,
            "    state {}",
            if n.master { "MASTER" } else { "BACKUP" }
        );
        let _ = writeln!(s, "    interface eth1");
        let _ = writeln!(s, "    version 3");
        let _ = writeln!(s, "    virtual_router_id {vrid}");
        let _ = writeln!(s, "    priority {}", n.priority);
        let _ = writeln!(s, "    advert_int {}", ADVERT_MS as f64 / 1000.0);
        let _ = writeln!(
            s,
            "    virtual_ipaddress {{\n        {}/32 dev eth1\n    }}",
            vip(vrid)
        );
        let _ = writeln!(s, "    unicast_src_ip {}", n.own);
        let _ = writeln!(s, "    unicast_peer {{\n        {}\n    }}", n.peer);
        let _ = writeln!(s, "}}");
    }
    s
}

/// One daemon's footprint over its runs.
#[derive(Debug, Clone, Serialize)]
pub struct FootprintRow {
    /// The daemon.
    pub daemon: String,
    /// Time from starting node1 until node1 held every VIP and node2 had run 2 s
    /// without taking any, s, largest over the runs (`None` if no run got there).
    pub converged_s: Option<f64>,
    /// CPU of the MASTER node, % of one core, over the runs.
    pub master_cpu: Option<Stats>,
    /// CPU of the BACKUP node, % of one core, over the runs.
    pub backup_cpu: Option<Stats>,
    /// Spread of the MASTER's windows within a run, % of its median, largest of any run.
    pub master_spread: Option<f64>,
    /// Spread of the BACKUP's windows within a run, % of its median, largest of any run.
    pub backup_spread: Option<f64>,
    /// Spread of the MASTER's runs, % of their median.
    pub master_run_spread: Option<f64>,
    /// Spread of the BACKUP's runs, % of their median.
    pub backup_run_spread: Option<f64>,
    /// Peak RSS summed over the MASTER node's processes, MB, largest over the runs.
    pub master_rss_mb: Option<f64>,
    /// Peak RSS summed over the BACKUP node's processes, MB, largest over the runs.
    pub backup_rss_mb: Option<f64>,
    /// Processes per node at the end of the last measured run (MASTER, BACKUP).
    pub processes: (usize, usize),
    /// What went wrong, if anything (per run).
    pub problem: Option<String>,
    /// The capture and the client probe under this load, after the first run's CPU
    /// sampling.
    pub observe: Option<super::observers::ObserveRow>,
    /// Every measured run.
    pub runs: Vec<FootprintRun>,
}

/// One run of one daemon in a fresh lab.
#[derive(Debug, Clone, Serialize)]
pub struct FootprintRun {
    /// Seconds to convergence.
    pub converged_s: f64,
    /// MASTER CPU % over the whole sampling time.
    pub master_pct: f64,
    /// BACKUP CPU % over the whole sampling time.
    pub backup_pct: f64,
    /// MASTER CPU % per window.
    pub master_windows: Vec<f64>,
    /// BACKUP CPU % per window.
    pub backup_windows: Vec<f64>,
    /// MASTER peak RSS, MB.
    pub master_rss_mb: f64,
    /// BACKUP peak RSS, MB.
    pub backup_rss_mb: f64,
    /// Processes per node at the end (MASTER, BACKUP).
    pub processes: (usize, usize),
    /// Set when the run's figures are suspect (a daemon exited, VIPs moved).
    pub problem: Option<String>,
}

impl FootprintRow {
    /// Aggregates the runs of one daemon; `failures` are the runs that measured nothing.
    /// CPU figures and spreads count only the runs without a problem.
    pub fn of_runs(
        daemon: &str,
        runs: Vec<FootprintRun>,
        failures: Vec<String>,
        observe: Option<super::observers::ObserveRow>,
    ) -> FootprintRow {
        // A run whose daemon exited or whose VIPs moved did not measure the steady
        // state: it is listed, not counted.
        let clean: Vec<&FootprintRun> = runs.iter().filter(|r| r.problem.is_none()).collect();
        let master: Vec<f64> = clean.iter().map(|r| r.master_pct).collect();
        let backup: Vec<f64> = clean.iter().map(|r| r.backup_pct).collect();
        let max = |v: Vec<f64>| v.into_iter().max_by(f64::total_cmp);
        let mut problems = failures;
        for (i, r) in runs.iter().enumerate() {
            if let Some(p) = &r.problem {
                problems.push(format!("run {} not counted: {p}", i + 1));
            }
        }
        FootprintRow {
            daemon: daemon.to_string(),
            converged_s: max(runs.iter().map(|r| r.converged_s).collect()),
            master_cpu: Stats::of(&master),
            backup_cpu: Stats::of(&backup),
            master_spread: max(clean
                .iter()
                .filter_map(|r| sampling::spread(&r.master_windows))
                .collect()),
            backup_spread: max(clean
                .iter()
                .filter_map(|r| sampling::spread(&r.backup_windows))
                .collect()),
            master_run_spread: sampling::spread(&master),
            backup_run_spread: sampling::spread(&backup),
            master_rss_mb: max(runs.iter().map(|r| r.master_rss_mb).collect()),
            backup_rss_mb: max(runs.iter().map(|r| r.backup_rss_mb).collect()),
            processes: runs.last().map_or((0, 0), |r| r.processes),
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
            observe,
            runs,
        }
    }
}

/// Target for the spread of vrrpd's CPU figure between runs, % of the median.
pub const RUN_SPREAD_TARGET: f64 = 10.0;

/// Section 5.
#[derive(Debug, Clone, Serialize)]
pub struct FootprintSection {
    /// Sampling time per run, s.
    pub secs: u64,
    /// Windows each run's sampling time was cut into.
    pub windows: usize,
    /// Runs per daemon.
    pub runs: usize,
    /// One row per daemon.
    pub rows: Vec<FootprintRow>,
}

impl FootprintSection {
    fn row(&self, daemon: &str) -> Option<&FootprintRow> {
        self.rows.iter().find(|r| r.daemon == daemon)
    }

    /// Length of one window, s.
    pub fn window_s(&self) -> f64 {
        self.secs as f64 / self.windows.max(1) as f64
    }

    /// Targets: vrrpd CPU ≤ half keepalived's (MASTER and BACKUP), vrrpd's CPU spread
    /// between runs < 10 %, RSS < 10 MB.
    pub fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        let v = self.row("vrrpd");
        let k = self.row("keepalived");
        for (role, get) in [
            (
                "MASTER",
                (|r: &FootprintRow| r.master_cpu) as fn(&FootprintRow) -> _,
            ),
            ("BACKUP", |r: &FootprintRow| r.backup_cpu),
        ] {
            let what = format!("footprint {role} CPU: vrrpd ≤ ½ keepalived");
            out.push(match (v.and_then(get), k.and_then(get)) {
                (Some(a), Some(b)) => {
                    let ratio = a.ratio_to(&b);
                    Target {
                        what,
                        measured: format!("{:.2}% vs {:.2}% ({ratio:.2}×)", a.median, b.median),
                        verdict: Verdict::from_bool(ratio <= 0.5),
                    }
                }
                _ => Target {
                    what,
                    measured: "not measured".into(),
                    verdict: Verdict::Unknown,
                },
            });
        }
        for (role, get) in [
            (
                "MASTER",
                (|r: &FootprintRow| r.master_run_spread) as fn(&FootprintRow) -> _,
            ),
            ("BACKUP", |r: &FootprintRow| r.backup_run_spread),
        ] {
            let what = format!(
                "footprint {role} CPU: vrrpd spread between runs < {RUN_SPREAD_TARGET:.0} % ({} runs of {} s)",
                self.runs, self.secs
            );
            let measured_runs =
                v.map_or(0, |r| r.runs.iter().filter(|x| x.problem.is_none()).count());
            out.push(match v.and_then(get) {
                Some(sp) if measured_runs >= 2 => Target {
                    what,
                    measured: format!("{sp:.1} %"),
                    verdict: Verdict::from_bool(sp < RUN_SPREAD_TARGET),
                },
                _ => Target {
                    what,
                    measured: format!("{measured_runs} run(s) measured: no spread"),
                    verdict: Verdict::Unknown,
                },
            });
        }
        let rss = v.and_then(|r| match (r.master_rss_mb, r.backup_rss_mb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        });
        for r in &self.rows {
            if let Some(o) = &r.observe {
                out.push(o.target(&r.daemon));
            }
        }
        out.push(match rss {
            Some(mb) => Target {
                what: "footprint: vrrpd peak RSS < 10 MB per node".into(),
                measured: format!("{mb:.1} MB"),
                verdict: Verdict::from_bool(mb < 10.0),
            },
            None => Target {
                what: "footprint: vrrpd peak RSS < 10 MB per node".into(),
                measured: "not measured".into(),
                verdict: Verdict::Unknown,
            },
        });
        out
    }
}

/// Measures each daemon `runs` times, the daemons taking turns, each run sampling
/// `secs` cut into `windows`.
pub async fn run(
    runs: usize,
    windows: usize,
    secs: Duration,
    daemons: &[Daemon],
) -> Result<FootprintSection> {
    let mut measured: Vec<(
        Vec<FootprintRun>,
        Vec<String>,
        Option<super::observers::ObserveRow>,
    )> = daemons
        .iter()
        .map(|_| (Vec::new(), Vec::new(), None))
        .collect();
    for i in 0..runs.max(1) {
        for (d, acc) in daemons.iter().zip(measured.iter_mut()) {
            match one(d, windows, secs, i == 0).await {
                Ok((r, obs)) => {
                    eprintln!(
                        "bench footprint: {} run {}: MASTER {:.2} % BACKUP {:.2} % (windows {:?} / {:?}) {}",
                        d.name(),
                        i + 1,
                        r.master_pct,
                        r.backup_pct,
                        r.master_windows,
                        r.backup_windows,
                        r.problem.as_deref().unwrap_or("")
                    );
                    acc.0.push(r);
                    if obs.is_some() {
                        acc.2 = obs;
                    }
                }
                Err(e) => {
                    eprintln!("bench footprint: {} run {}: {e:#}", d.name(), i + 1);
                    acc.1.push(format!("run {}: {e:#}", i + 1));
                }
            }
        }
    }
    let rows = daemons
        .iter()
        .zip(measured)
        .map(|(d, (r, f, o))| FootprintRow::of_runs(&d.name(), r, f, o))
        .collect();
    Ok(FootprintSection {
        secs: secs.as_secs(),
        windows,
        runs: runs.max(1),
        rows,
    })
}

/// Both daemons' configurations of one node.
fn configs(n: &NodeConf, name: &str) -> Configs {
    Configs {
        vrrpd: vrrpd_toml(n),
        keepalived: keepalived_conf(n, name),
    }
}

async fn one(
    d: &Daemon,
    windows: usize,
    secs: Duration,
    observe: bool,
) -> Result<(FootprintRun, Option<super::observers::ObserveRow>)> {
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let tmp = tempfile::tempdir().context("temp dir")?;
    let (n1, n2) = (lab.node("node1")?, lab.node("node2")?);
    let (a1, a2) = (lab.topology().nodes[0].v4, lab.topology().nodes[1].v4);
    let c1 = NodeConf {
        priority: 150,
        master: true,
        own: a1,
        peer: a2,
    };
    let c2 = NodeConf {
        priority: 100,
        master: false,
        own: a2,
        peer: a1,
    };
    let all: Vec<IpAddr> = (1..=INSTANCES).map(|v| IpAddr::V4(vip(v))).collect();
    let set: HashSet<IpAddr> = all.iter().copied().collect();
    let ifs = [n1.ifindex()];
    let log1 = tmp.path().join("node1/daemon.log");
    let t0 = Instant::now();
    let poll = Duration::from_millis(50);
    // node1 first, as an operator brings up a pair: started together, keepalived's
    // 255 instances on node2 time out before node1's first adverts and stay split.
    n1.spawn(&sampling::spec(
        d,
        &tmp.path().join("node1"),
        configs(&c1, "node1"),
    )?)?;
    let deadline = (t0, CONVERGE_DEADLINE);
    sampling::converge(d, (n1, n2), &set, &ifs, false, deadline, poll, &log1).await?;
    n2.spawn(&sampling::spec(
        d,
        &tmp.path().join("node2"),
        configs(&c2, "node2"),
    )?)?;
    tokio::time::sleep(SETTLE).await;
    sampling::converge(d, (n1, n2), &set, &ifs, true, deadline, poll, &log1).await?;
    let converged_s = t0.elapsed().as_secs_f64();
    tokio::time::sleep(WARMUP).await;
    let cpu = sampling::cpu_windows(n1, n2, windows, secs).await;
    let problem = if n1.processes().is_empty() || n2.processes().is_empty() {
        Some("a daemon exited while being sampled".to_string())
    } else if sampling::count_held(n1, &set, &ifs).await? != all.len()
        || sampling::count_held(n2, &set, &ifs).await? != 0
    {
        Some("the VIPs moved while being sampled".to_string())
    } else {
        None
    };
    let run = FootprintRun {
        converged_s,
        master_pct: cpu.master_pct,
        backup_pct: cpu.backup_pct,
        master_windows: cpu.master_windows,
        backup_windows: cpu.backup_windows,
        master_rss_mb: sampling::peak_rss_kb(n1) as f64 / 1024.0,
        backup_rss_mb: sampling::peak_rss_kb(n2) as f64 / 1024.0,
        processes: (n1.processes().len(), n2.processes().len()),
        problem,
    };
    // After the CPU sampling, so the observers do not load what was measured.
    let obs = if observe {
        super::observers::under_load(&lab, &all[..super::observers::PROBED], "node1", OBSERVE)
            .await
            .ok()
    } else {
        None
    };
    drop(lab);
    Ok((run, obs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> NodeConf {
        NodeConf {
            priority: 150,
            master: true,
            own: Ipv4Addr::new(192, 0, 2, 11),
            peer: Ipv4Addr::new(192, 0, 2, 12),
        }
    }

    #[test]
    fn vips_are_distinct_and_in_lab_ranges() {
        let all: std::collections::BTreeSet<Ipv4Addr> = (1..=INSTANCES).map(vip).collect();
        assert_eq!(all.len(), 255);
        assert!(all
            .iter()
            .all(|a| crate::lab::topology::in_lab_range(IpAddr::V4(*a))));
        assert_eq!(vip(255), Ipv4Addr::new(203, 0, 113, 1));
    }

    #[test]
    fn vrrpd_config_loads_in_vrrpd() {
        let cfg = vrrpd::config::parse_toml(&vrrpd_toml(&conf()), "bench.toml").unwrap();
        assert_eq!(cfg.instances.len(), 255);
        assert_eq!(cfg.instances[254].vrid, 255);
    }

    #[test]
    fn keepalived_config_loads_in_the_importer() {
        let (cfg, warnings) =
            vrrpd::config::parse_keepalived(&keepalived_conf(&conf(), "node1"), "k.conf").unwrap();
        // Only keywords outside vrrpd's scope (router_id) may warn.
        assert!(
            warnings
                .iter()
                .all(|w| w.kind == vrrpd::config::DiagnosticKind::OutOfScope),
            "{warnings:?}"
        );
        assert_eq!(cfg.instances.len(), 255);
    }

    fn run(master: f64, windows: Vec<f64>) -> FootprintRun {
        FootprintRun {
            converged_s: 2.0,
            master_pct: master,
            backup_pct: master / 2.0,
            master_windows: windows.clone(),
            backup_windows: windows,
            master_rss_mb: 9.0,
            backup_rss_mb: 8.0,
            processes: (1, 1),
            problem: None,
        }
    }

    #[test]
    fn rows_aggregate_runs_and_both_spreads() {
        let r = FootprintRow::of_runs(
            "vrrpd",
            vec![
                run(2.0, vec![2.0, 2.2]),
                run(2.1, vec![1.0, 2.0, 3.0]),
                run(2.2, vec![2.0]),
            ],
            vec!["run 4: lab failed".into()],
            None,
        );
        assert_eq!(r.master_cpu.unwrap().median, 2.1);
        // Between runs: (2.2 − 2.0) / 2.1.
        assert!((r.master_run_spread.unwrap() - 9.5238).abs() < 1e-3);
        // Between windows: the worst run, (3 − 1) / 2.
        assert_eq!(r.master_spread, Some(100.0));
        assert_eq!(r.master_rss_mb, Some(9.0));
        assert_eq!(r.problem.as_deref(), Some("run 4: lab failed"));
        let sec = FootprintSection {
            secs: 30,
            windows: 3,
            runs: 4,
            rows: vec![r],
        };
        assert_eq!(sec.window_s(), 10.0);
        let t = sec.targets();
        let spread = t
            .iter()
            .find(|t| {
                t.what
                    .starts_with("footprint MASTER CPU: vrrpd spread between runs")
            })
            .unwrap();
        assert_eq!(spread.verdict, Verdict::Met);
        assert_eq!(spread.measured, "9.5 %");
        // keepalived unmeasured: the ratio cannot be judged.
        assert!(t
            .iter()
            .any(|t| t.what.contains("≤ ½ keepalived") && t.verdict == Verdict::Unknown));
    }

    #[test]
    fn runs_with_a_problem_are_listed_not_counted() {
        let mut moved = run(18.0, vec![22.0, 8.0, 24.0]);
        moved.problem = Some("the VIPs moved while being sampled".into());
        let runs = vec![run(7.6, vec![7.6]), moved, run(9.1, vec![9.1])];
        let r = FootprintRow::of_runs("keepalived", runs, vec![], None);
        assert_eq!(r.master_cpu.unwrap().n, 2);
        assert_eq!(r.master_cpu.unwrap().p95, 9.1);
        assert_eq!(r.master_spread, Some(0.0));
        assert_eq!(
            r.problem.as_deref(),
            Some("run 2 not counted: the VIPs moved while being sampled")
        );
        assert_eq!(r.runs.len(), 3);
    }

    #[test]
    fn one_run_has_no_run_spread_to_judge() {
        let r = FootprintRow::of_runs("vrrpd", vec![run(2.0, vec![2.0, 2.0])], vec![], None);
        let sec = FootprintSection {
            secs: 30,
            windows: 2,
            runs: 1,
            rows: vec![r],
        };
        let t = sec.targets();
        assert!(t
            .iter()
            .filter(|t| t.what.contains("spread between runs"))
            .all(|t| t.verdict == Verdict::Unknown));
    }
}
