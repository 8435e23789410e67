//! Section 5: CPU and memory of 255 VRRPv3 instances at 100 ms, unicast, on a 2-node lab
//! (node1 priority 150 MASTER of all, node2 100 BACKUP), vrrpd against keepalived.
//!
//! Instance *i* (VRID *i*) holds one VIP on eth1: 198.51.100.*i* for VRIDs 1–254 and
//! 203.0.113.1 for VRID 255. node1 starts first; once it holds all 255 VIPs, node2
//! starts, and once node2 has run without taking any VIP, the sampling
//! time is cut into N equal windows; in each, CPU time (utime + stime from
//! `/proc/<pid>/stat`, summed over every process of the node) is divided by the
//! window's length: per cent of one core. Peak RSS is the sum of `VmHWM` over the
//! node's processes at the end.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::unistd::Pid;
use serde::Serialize;

use super::{Stats, Target, Verdict};
use crate::daemons::{keepalived_binary, keepalived_installed, vrrpd_binary, Daemon};
use crate::lab::process::ProcessSpec;
use crate::lab::topology::Topology;
use crate::lab::{Host, Lab};

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
    /// Peak RSS summed over the MASTER node's processes, MB.
    pub master_rss_mb: Option<f64>,
    /// Peak RSS summed over the BACKUP node's processes, MB.
    pub backup_rss_mb: Option<f64>,
    /// Processes per node at the end (MASTER, BACKUP).
    pub processes: (usize, usize),
    /// What went wrong, if anything.
    pub problem: Option<String>,
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

/// Measures vrrpd, then keepalived (when installed).
pub async fn run(windows: usize, secs: Duration) -> Result<FootprintSection> {
    let mut daemons = vec![Daemon::Vrrpd { misbehave: None }];
    if keepalived_installed() {
        daemons.push(Daemon::Keepalived);
    }
    let mut rows = Vec::new();
    for d in &daemons {
        let row = match one(d, windows, secs).await {
            Ok(r) => r,
            Err(e) => FootprintRow {
                daemon: d.name(),
                converged_s: None,
                master_cpu: None,
                backup_cpu: None,
                master_rss_mb: None,
                backup_rss_mb: None,
                processes: (0, 0),
                problem: Some(format!("{e:#}")),
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

fn spec(d: &Daemon, dir: &Path, n: &NodeConf, name: &str) -> Result<ProcessSpec> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let log = dir.join("daemon.log");
    match d {
        Daemon::Vrrpd { .. } => {
            let conf = dir.join("vrrpd.toml");
            std::fs::write(&conf, vrrpd_toml(n))
                .with_context(|| format!("write {}", conf.display()))?;
            Ok(ProcessSpec {
                program: vrrpd_binary()?,
                args: vec![
                    "--config".into(),
                    conf.into(),
                    "--state-file".into(),
                    dir.join("state.json").into(),
                    "--pid-file".into(),
                    dir.join("vrrpd.pid").into(),
                ],
                env: vec![("RUST_LOG".into(), "info".into())],
                log,
            })
        }
        Daemon::Keepalived => {
            let conf = dir.join("keepalived.conf");
            std::fs::write(&conf, keepalived_conf(n, name))
                .with_context(|| format!("write {}", conf.display()))?;
            Ok(ProcessSpec {
                program: keepalived_binary()?,
                args: vec![
                    "--dont-fork".into(),
                    "--log-console".into(),
                    "--log-detail".into(),
                    "--vrrp".into(),
                    "--use-file".into(),
                    conf.into(),
                    "--pid".into(),
                    dir.join("keepalived.pid").into(),
                    "--vrrp_pid".into(),
                    dir.join("vrrp.pid").into(),
                    "--checkers_pid".into(),
                    dir.join("checkers.pid").into(),
                ],
                env: Vec::new(),
                log,
            })
        }
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
    let log1 = tmp.path().join("node1/daemon.log");
    let t0 = Instant::now();
    // node1 first, as an operator brings up a pair: started together, keepalived's
    // 255 instances on node2 time out before node1's first adverts and stay split.
    n1.spawn(&spec(d, &tmp.path().join("node1"), &c1, "node1")?)?;
    converge(d, n1, n2, &all, false, t0, &log1).await?;
    n2.spawn(&spec(d, &tmp.path().join("node2"), &c2, "node2")?)?;
    tokio::time::sleep(SETTLE).await;
    converge(d, n1, n2, &all, true, t0, &log1).await?;
    let converged_s = t0.elapsed().as_secs_f64();
    tokio::time::sleep(WARMUP).await;
    let window = secs / u32::try_from(windows.max(1)).unwrap_or(u32::MAX);
    let tck = clock_ticks()?;
    let (mut m, mut b) = (Vec::new(), Vec::new());
    let mut prev = (cpu_ticks(n1), cpu_ticks(n2));
    let mut prev_t = Instant::now();
    for _ in 0..windows.max(1) {
        tokio::time::sleep(window).await;
        let now = (cpu_ticks(n1), cpu_ticks(n2));
        let dt = prev_t.elapsed().as_secs_f64();
        prev_t = Instant::now();
        m.push(percent(&prev.0, &now.0, tck, dt));
        b.push(percent(&prev.1, &now.1, tck, dt));
        prev = now;
    }
    let problem = if n1.processes().is_empty() || n2.processes().is_empty() {
        Some("a daemon exited while being sampled".to_string())
    } else if count_held(n1, &all).await? != all.len() || count_held(n2, &all).await? != 0 {
        Some("the VIPs moved while being sampled".to_string())
    } else {
        None
    };
    let row = FootprintRow {
        daemon: d.name(),
        converged_s: Some(converged_s),
        master_cpu: Stats::of(&m),
        backup_cpu: Stats::of(&b),
        master_rss_mb: Some(peak_rss_kb(n1) as f64 / 1024.0),
        backup_rss_mb: Some(peak_rss_kb(n2) as f64 / 1024.0),
        processes: (n1.processes().len(), n2.processes().len()),
        problem,
    };
    drop(lab);
    Ok(row)
}

/// Waits until `n1` holds every VIP and `n2` none (and, with `both`, both daemons run).
async fn converge(
    d: &Daemon,
    n1: &Host,
    n2: &Host,
    all: &[IpAddr],
    both: bool,
    t0: Instant,
    log1: &Path,
) -> Result<()> {
    loop {
        let held1 = count_held(n1, all).await?;
        let held2 = count_held(n2, all).await?;
        if held1 == all.len() && held2 == 0 {
            return Ok(());
        }
        if n1.processes().is_empty() || (both && n2.processes().is_empty()) {
            bail!(
                "{} exited before converging (node1 held {held1} VIPs, node2 {held2}); log: {}",
                d.name(),
                tail(log1)
            );
        }
        if t0.elapsed() > CONVERGE_DEADLINE {
            bail!(
                "after {CONVERGE_DEADLINE:?} node1 held {held1} of {} VIPs and node2 {held2}; log: {}",
                all.len(),
                tail(log1)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many of `vips` the host's eth1 holds.
async fn count_held(h: &Host, vips: &[IpAddr]) -> Result<usize> {
    let snap = h.addresses().await?;
    Ok(snap
        .entries
        .iter()
        .filter(|e| e.ifindex == h.ifindex() && vips.contains(&e.addr))
        .count())
}

/// utime + stime of every process of the host, by PID.
pub(crate) fn cpu_ticks(h: &Host) -> Vec<(Pid, u64)> {
    h.processes()
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            Some((p, stat_ticks(&text)?))
        })
        .collect()
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name
/// may hold spaces and parentheses, so fields are counted after the last `)`.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field k is f[k - 3].
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU % of one core between two samples, over processes present in both.
pub(crate) fn percent(before: &[(Pid, u64)], after: &[(Pid, u64)], tck: f64, secs: f64) -> f64 {
    let used: u64 = after
        .iter()
        .filter_map(|(p, t)| {
            before
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, t0)| t.saturating_sub(*t0))
        })
        .sum();
    used as f64 / tck / secs * 100.0
}

/// Sum of `VmHWM` over the host's processes, kB.
fn peak_rss_kb(h: &Host) -> u64 {
    h.processes()
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            status_kb(&text, "VmHWM")
        })
        .sum()
}

/// A `Key:   123 kB` line of `/proc/<pid>/status`.
pub fn status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub(crate) fn clock_ticks() -> Result<f64> {
    // SAFETY: sysconf reads a constant of the C library; no pointers involved.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t <= 0 {
        bail!("sysconf(_SC_CLK_TCK) failed");
    }
    Ok(t as f64)
}

/// The last lines of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
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

    #[test]
    fn proc_parsing() {
        let stat = "1234 (keep alived (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 100 1000 200";
        assert_eq!(stat_ticks(stat), Some(22));
        let status = "Name:\tvrrpd\nVmHWM:\t    4242 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(status_kb(status, "VmHWM"), Some(4242));
        assert_eq!(status_kb(status, "VmRSS"), Some(4000));
        assert_eq!(status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn cpu_percent() {
        let p = Pid::from_raw;
        let before = [(p(1), 100), (p(2), 50)];
        let after = [(p(1), 110), (p(3), 999)];
        // 10 ticks at 100 Hz in 2 s = 5 %.
        assert!((percent(&before, &after, 100.0, 2.0) - 5.0).abs() < 1e-9);
    }
}
