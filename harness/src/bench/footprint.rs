//! Section 5: CPU and memory of 255 VRRPv3 instances at 100 ms, unicast, on a 2-node lab
//! (node1 priority 150 MASTER of all, node2 100 BACKUP), vrrpd against keepalived.
//!
//! Instance *i* (VRID *i*) holds one VIP on eth1: 198.51.100.*i* for VRIDs 1–254 and
//! 203.0.113.1 for VRID 255. node1 starts first; once it holds all 255 VIPs, node2
//! starts, and once node2 has run without taking any VIP, the sampling
//! time is cut into N equal windows; in each, CPU time in nanoseconds (the first
//! field of `/proc/<pid>/task/<tid>/schedstat`, summed over every thread of every
//! process of the node; clock ticks of `/proc/<pid>/stat` would be 10 ms steps) is
//! divided by the window's length: per cent of one core. The spread of a figure is
//! (largest − smallest window) / median. Peak RSS is the sum of `VmHWM` over the
//! node's processes at the end.

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

/// One daemon's footprint.
#[derive(Debug, Clone, Serialize)]
pub struct FootprintRow {
    /// The daemon.
    pub daemon: String,
    /// Time from starting node1 until node1 held every VIP and node2 had run 2 s
    /// without taking any, s (`None` if that never happened).
    pub converged_s: Option<f64>,
    /// CPU of the MASTER node, % of one core, per window.
    pub master_cpu: Option<Stats>,
    /// CPU of the BACKUP node, % of one core, per window.
    pub backup_cpu: Option<Stats>,
    /// Spread of the MASTER's windows, % of its median.
    pub master_spread: Option<f64>,
    /// Spread of the BACKUP's windows, % of its median.
    pub backup_spread: Option<f64>,
    /// Peak RSS summed over the MASTER node's processes, MB.
    pub master_rss_mb: Option<f64>,
    /// Peak RSS summed over the BACKUP node's processes, MB.
    pub backup_rss_mb: Option<f64>,
    /// Processes per node at the end (MASTER, BACKUP).
    pub processes: (usize, usize),
    /// What went wrong, if anything.
    pub problem: Option<String>,
    /// The capture and the client probe under this load, after the CPU sampling.
    pub observe: Option<super::observers::ObserveRow>,
}

/// Section 5.
#[derive(Debug, Clone, Serialize)]
pub struct FootprintSection {
    /// Sampling time, s.
    pub secs: u64,
    /// Windows the sampling time was cut into.
    pub windows: usize,
    /// One row per daemon.
    pub rows: Vec<FootprintRow>,
}

impl FootprintSection {
    fn row(&self, daemon: &str) -> Option<&FootprintRow> {
        self.rows.iter().find(|r| r.daemon == daemon)
    }

    /// Targets: vrrpd CPU ≤ half keepalived's (MASTER and BACKUP), RSS < 10 MB.
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

/// Measures each daemon (vrrpd, then keepalived) in turn.
pub async fn run(windows: usize, secs: Duration, daemons: &[Daemon]) -> Result<FootprintSection> {
    let mut rows = Vec::new();
    for d in daemons {
        let row = match one(d, windows, secs).await {
            Ok(r) => r,
            Err(e) => FootprintRow {
                daemon: d.name(),
                converged_s: None,
                master_cpu: None,
                backup_cpu: None,
                master_spread: None,
                backup_spread: None,
                master_rss_mb: None,
                backup_rss_mb: None,
                processes: (0, 0),
                problem: Some(format!("{e:#}")),
                observe: None,
            },
        };
        eprintln!(
            "bench footprint: {}: MASTER {:?} % BACKUP {:?} % RSS {:?} MB {}",
            row.daemon,
            row.master_cpu.map(|s| s.median),
            row.backup_cpu.map(|s| s.median),
            row.master_rss_mb,
            row.problem.as_deref().unwrap_or("")
        );
        rows.push(row);
    }
    Ok(FootprintSection {
        secs: secs.as_secs(),
        windows,
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

async fn one(d: &Daemon, windows: usize, secs: Duration) -> Result<FootprintRow> {
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
    let (m, b) = sampling::cpu_windows(n1, n2, windows, secs).await;
    let problem = if n1.processes().is_empty() || n2.processes().is_empty() {
        Some("a daemon exited while being sampled".to_string())
    } else if sampling::count_held(n1, &set, &ifs).await? != all.len()
        || sampling::count_held(n2, &set, &ifs).await? != 0
    {
        Some("the VIPs moved while being sampled".to_string())
    } else {
        None
    };
    let row = FootprintRow {
        daemon: d.name(),
        converged_s: Some(converged_s),
        master_cpu: Stats::of(&m),
        backup_cpu: Stats::of(&b),
        master_spread: sampling::spread(&m),
        backup_spread: sampling::spread(&b),
        master_rss_mb: Some(sampling::peak_rss_kb(n1) as f64 / 1024.0),
        backup_rss_mb: Some(sampling::peak_rss_kb(n2) as f64 / 1024.0),
        processes: (n1.processes().len(), n2.processes().len()),
        problem,
        // After the CPU sampling, so the observers do not load what was measured.
        observe: super::observers::under_load(
            &lab,
            &all[..super::observers::PROBED],
            "node1",
            OBSERVE,
        )
        .await
        .ok(),
    };
    drop(lab);
    Ok(row)
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
}
