//! Section 8: scale — 1,000 VRRPv3 instances over 4 interfaces, 8 IPv6 VIPs each
//! (8,000 VIPs), adverts every 1 s, multicast (ff02::12), on a 2-node lab; vrrpd against
//! keepalived.
//!
//! The two nodes are joined by four segments: `eth1` (the lab's bridged segment) and
//! `eth2`..`eth4` (one veth pair each, [`Lab::link_nodes`]). Each segment carries VRIDs
//! 1–250, so VRIDs repeat per interface. Instance (interface *i*, VRID *v*) holds
//! `2001:db8:5ca1:i::v:1` .. `::v:8`, all /128: 8,000 IPv4 addresses do not fit in the
//! three documentation /24s, IPv6 has room. Both daemons run their defaults otherwise
//! (vrrpd with its VIP leases, keepalived with its gratuitous NA rounds), and vrrpd
//! runs a second time with `lease = false`: a lease is refreshed with an address change
//! after every advert, and the kernel's cost of one IPv6 address change grows with the
//! addresses of the namespace (about 0.4 ms each at 1,000, 4 ms at 8,000 on the 2-core
//! bench machine), so 8,000 leased VIPs at 1 s need more than a core's worth of changes.
//!
//! Every link-local address of both nodes is usable before anything starts. node1
//! (priority 150, initial state MASTER) starts first: "node1 converged" is the time from
//! its start until it holds all 8,000 VIPs (polled every [`POLL`]). Then node2 (priority
//! 100, BACKUP) starts: it is settled once node1 holds every VIP and node2 none for
//! [`QUIET`] (twice node2's Master_Down_Interval: an instance that missed node1's adverts
//! would have taken its VIPs by then); "node2 settled" is the time from node2's start to
//! the beginning of that quiet stretch (0 when no VIP ever moved), and the most VIPs node2
//! held at once on the way is reported too. Then CPU (schedstat ns per window, % of one
//! core) and peak RSS (`VmHWM` summed over a node's processes) as in the footprint
//! section, with the same helpers ([`super::sampling`]). A daemon that does not converge
//! within the deadlines gets a row that says how far it got, never a figure it did not
//! reach.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use serde::Serialize;

use super::sampling::{self, Configs};
use super::table::stats_cell;
use super::{Stats, Target, Verdict};
use crate::daemons::Daemon;
use crate::lab::topology::Topology;
use crate::lab::{Host, Lab};

/// Interfaces joining the two nodes (`eth1`..`eth4`).
pub const INTERFACES: u8 = 4;

/// Instances per interface (VRIDs 1..=250).
pub const PER_INTERFACE: u8 = 250;

/// VIPs per instance.
pub const VIPS_PER_INSTANCE: u16 = 8;

/// Advertisement interval of every instance.
pub const ADVERT: Duration = Duration::from_secs(1);

/// Priorities of node1 (MASTER) and node2 (BACKUP).
const PRIORITIES: (u8, u8) = (150, 100);

/// How long node1 may take to hold every VIP.
pub const NODE1_DEADLINE: Duration = Duration::from_secs(90);

/// How long node2 may take to settle as BACKUP.
pub const NODE2_DEADLINE: Duration = Duration::from_secs(60);

/// How often the VIPs of both nodes are counted while converging (one address dump
/// of up to 8,000 entries per node).
pub const POLL: Duration = Duration::from_millis(500);

/// How long nothing may move for node2 to count as settled: twice its
/// Master_Down_Interval (3 × 1 s + Skew_Time 0.61 s), rounded up to whole seconds.
pub const QUIET: Duration = Duration::from_secs(8);

/// CPU sampling time, cut into `--runs` windows.
pub const SAMPLE: Duration = Duration::from_secs(20);

/// How long the kernel may take to make the link-local addresses usable (DAD).
const LINK_LOCAL_DEADLINE: Duration = Duration::from_secs(10);

/// Total instances.
pub fn instances() -> usize {
    usize::from(INTERFACES) * usize::from(PER_INTERFACE)
}

/// The `k`-th VIP (1-based) of VRID `vrid` on `eth{iface}`.
pub fn vip(iface: u8, vrid: u8, k: u16) -> Ipv6Addr {
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x5ca1,
        u16::from(iface),
        0,
        0,
        u16::from(vrid),
        k,
    )
}

/// Every (interface number, VRID) pair, interface-major.
fn instance_ids() -> impl Iterator<Item = (u8, u8)> {
    (1..=INTERFACES).flat_map(|i| (1..=PER_INTERFACE).map(move |v| (i, v)))
}

/// Every VIP of the row.
pub fn all_vips() -> HashSet<IpAddr> {
    instance_ids()
        .flat_map(|(i, v)| (1..=VIPS_PER_INSTANCE).map(move |k| IpAddr::V6(vip(i, v, k))))
        .collect()
}

/// vrrpd's TOML for one node: every instance, multicast, VRRPv3 over IPv6; `lease`
/// is vrrpd's VIP lease (its default is on).
pub fn vrrpd_toml(priority: u8, master: bool, lease: bool) -> String {
    let mut s = String::new();
    for (i, v) in instance_ids() {
        let vips: Vec<String> = (1..=VIPS_PER_INSTANCE)
            .map(|k| format!("\"{}/128\"", vip(i, v, k)))
            .collect();
        let _ = writeln!(s, "[[instance]]");
        let _ = writeln!(s, "name = \"VI_{i}_{v}\"");
        let _ = writeln!(s, "interface = \"eth{i}\"");
        let _ = writeln!(s, "vrid = {v}");
        let _ = writeln!(s, "version = 3");
        let _ = writeln!(s, "priority = {priority}");
        let _ = writeln!(s, "advert_interval = \"{}ms\"", ADVERT.as_millis());
        let _ = writeln!(
            s,
            "initial_state = \"{}\"",
            if master { "master" } else { "backup" }
        );
        if !lease {
            let _ = writeln!(s, "lease = false");
        }
        let _ = writeln!(s, "vips = [{}]\n", vips.join(", "));
    }
    s
}

/// keepalived.conf with the same instances.
pub fn keepalived_conf(priority: u8, master: bool, router_id: &str) -> String {
    let mut s = format!("global_defs {{\n    router_id {router_id}\n}}\n\n");
    for (i, v) in instance_ids() {
        let _ = writeln!(s, "vrrp_instance VI_{i}_{v} {{");
        let _ = writeln!(s, "    state {}", if master { "MASTER" } else { "BACKUP" });
        let _ = writeln!(s, "    interface eth{i}");
        let _ = writeln!(s, "    version 3");
        let _ = writeln!(s, "    virtual_router_id {v}");
        let _ = writeln!(s, "    priority {priority}");
        let _ = writeln!(s, "    advert_int {}", ADVERT.as_secs());
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for k in 1..=VIPS_PER_INSTANCE {
            let _ = writeln!(s, "        {}/128 dev eth{i}", vip(i, v, k));
        }
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
    }
    s
}

/// One daemon at scale.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    /// The daemon.
    pub daemon: String,
    /// From node1's start until it held every VIP, s.
    pub node1_converged_s: Option<f64>,
    /// From node2's start until the last VIP move before the quiet stretch, s.
    pub node2_settled_s: Option<f64>,
    /// Most VIPs node2 held at once while settling.
    pub node2_peak_vips: usize,
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
    /// What went wrong, if anything, with how far it got.
    pub problem: Option<String>,
}

impl ScaleRow {
    fn empty(daemon: String) -> ScaleRow {
        ScaleRow {
            daemon,
            node1_converged_s: None,
            node2_settled_s: None,
            node2_peak_vips: 0,
            master_cpu: None,
            backup_cpu: None,
            master_spread: None,
            backup_spread: None,
            master_rss_mb: None,
            backup_rss_mb: None,
            processes: (0, 0),
            problem: None,
        }
    }

    /// Converged on both nodes and measured without a problem.
    pub fn converged(&self) -> bool {
        self.node1_converged_s.is_some() && self.node2_settled_s.is_some() && self.problem.is_none()
    }
}

/// Section 8.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleSection {
    /// Sampling time, s.
    pub secs: u64,
    /// Windows the sampling time was cut into.
    pub windows: usize,
    /// One row per daemon.
    pub rows: Vec<ScaleRow>,
}

impl ScaleSection {
    /// Target: vrrpd converges (node1 within [`NODE1_DEADLINE`], node2 within
    /// [`NODE2_DEADLINE`], nothing moving or exiting while sampled).
    pub fn targets(&self) -> Vec<Target> {
        let scale = format!(
            "{} instances / {} VIPs (node1 ≤ {} s, node2 ≤ {} s)",
            instances(),
            instances() * usize::from(VIPS_PER_INSTANCE),
            NODE1_DEADLINE.as_secs(),
            NODE2_DEADLINE.as_secs()
        );
        [
            ("vrrpd".to_string(), "defaults"),
            (format!("vrrpd, {LEASE_OFF}"), LEASE_OFF),
        ]
        .into_iter()
        .map(|(name, how)| {
            let what = format!("scale: vrrpd ({how}) converges with {scale}");
            match self.rows.iter().find(|r| r.daemon == name) {
                Some(r) => Target {
                    what,
                    measured: match (r.node1_converged_s, r.node2_settled_s, &r.problem) {
                        (Some(a), Some(b), None) => format!("node1 {a:.1} s, node2 {b:.1} s"),
                        (_, _, Some(p)) => first_line(p),
                        _ => "not measured".into(),
                    },
                    verdict: Verdict::from_bool(r.converged()),
                },
                None => Target {
                    what,
                    measured: "not measured".into(),
                    verdict: Verdict::Unknown,
                },
            }
        })
        .collect()
    }

    /// The section as markdown.
    pub fn markdown(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "\n## 8. Scale: {} VRRPv3 instances over {INTERFACES} interfaces, {} IPv6 VIPs each, {} s adverts, multicast ({} s cut into {} windows)\n",
            instances(),
            VIPS_PER_INSTANCE,
            ADVERT.as_secs(),
            self.secs,
            self.windows
        );
        let _ = writeln!(
            s,
            "| daemon | node1 converged s | node2 settled s | node2 peak VIPs | MASTER CPU % of a core | spread | BACKUP CPU % of a core | spread | MASTER peak RSS MB | BACKUP peak RSS MB | processes (M/B) | problem |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---|---:|---|---:|---:|---:|---|---|"
        );
        let num = |x: Option<f64>, prec: usize| {
            x.map_or_else(|| "—".to_string(), |v| format!("{v:.prec$}"))
        };
        let pct = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.0} %"));
        let cell = |x: Option<&Stats>| x.map_or_else(|| "—".to_string(), |v| stats_cell(v, 2));
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} |",
                r.daemon,
                num(r.node1_converged_s, 2),
                num(r.node2_settled_s, 2),
                r.node2_peak_vips,
                cell(r.master_cpu.as_ref()),
                pct(r.master_spread),
                cell(r.backup_cpu.as_ref()),
                pct(r.backup_spread),
                num(r.master_rss_mb, 1),
                num(r.backup_rss_mb, 1),
                r.processes.0,
                r.processes.1,
                r.problem.as_deref().map(first_line).unwrap_or_default()
            );
        }
    }
}

/// Measures each daemon (vrrpd, then keepalived) in turn.
pub async fn run(windows: usize, daemons: &[Daemon]) -> Result<ScaleSection> {
    let mut rows = Vec::new();
    for (d, lease) in cases(daemons) {
        let mut row = ScaleRow::empty(label(d, lease));
        if let Err(e) = one(d, lease, windows, &mut row).await {
            row.problem = Some(format!("{e:#}"));
        }
        eprintln!(
            "bench scale: {}: node1 {:?} s node2 {:?} s MASTER {:?} % BACKUP {:?} % RSS {:?}/{:?} MB {}",
            row.daemon,
            row.node1_converged_s,
            row.node2_settled_s,
            row.master_cpu.map(|s| s.median),
            row.backup_cpu.map(|s| s.median),
            row.master_rss_mb,
            row.backup_rss_mb,
            row.problem.as_deref().unwrap_or("")
        );
        rows.push(row);
    }
    Ok(ScaleSection {
        secs: SAMPLE.as_secs(),
        windows: windows.max(1),
        rows,
    })
}

/// The rows to measure: every daemon with its defaults, and vrrpd once more without
/// its VIP lease (every lease refresh is an address change, and the kernel's cost of
/// an IPv6 address change with a lifetime grows with the addresses of the namespace).
fn cases(daemons: &[Daemon]) -> Vec<(&Daemon, bool)> {
    let mut v = Vec::new();
    for d in daemons {
        v.push((d, true));
        if d.name() == "vrrpd" {
            v.push((d, false));
        }
    }
    v
}

/// A row's name: the daemon, and `lease = false` for vrrpd without its lease.
fn label(d: &Daemon, lease: bool) -> String {
    if lease {
        d.name()
    } else {
        format!("{}, {LEASE_OFF}", d.name())
    }
}

/// What the row of vrrpd without its VIP lease is called after the daemon's name.
pub const LEASE_OFF: &str = "lease = false";

/// Fills `row` as far as the daemon gets; an error says where it stopped.
async fn one(d: &Daemon, lease: bool, windows: usize, row: &mut ScaleRow) -> Result<()> {
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let (n1, n2) = (lab.node("node1")?, lab.node("node2")?);
    let mut ifs = vec![n1.ifindex()];
    for k in 2..=INTERFACES {
        ifs.push(lab.link_nodes("node1", "node2", k).await?);
    }
    let ready = Instant::now() + LINK_LOCAL_DEADLINE;
    wait_link_local(n1, &ifs, ready).await?;
    wait_link_local(n2, &ifs, ready).await?;
    let tmp = tempfile::tempdir().context("temp dir")?;
    let all = all_vips();
    let log1 = tmp.path().join("node1/daemon.log");
    let configs = |(priority, master): (u8, bool), name: &str| Configs {
        vrrpd: vrrpd_toml(priority, master, lease),
        keepalived: keepalived_conf(priority, master, name),
    };
    let t1 = Instant::now();
    n1.spawn(&sampling::spec(
        d,
        &tmp.path().join("node1"),
        configs((PRIORITIES.0, true), "node1"),
    )?)?;
    let deadline = (t1, NODE1_DEADLINE);
    let node1 = sampling::converge(d, (n1, n2), &all, &ifs, false, deadline, POLL, &log1).await;
    record_end(n1, n2, row);
    node1?;
    row.node1_converged_s = Some(t1.elapsed().as_secs_f64());
    let spec2 = sampling::spec(
        d,
        &tmp.path().join("node2"),
        configs((PRIORITIES.1, false), "node2"),
    )?;
    let t2 = Instant::now();
    n2.spawn(&spec2)?;
    let settle = settle(n1, n2, &all, &ifs, t2, row).await;
    record_end(n1, n2, row);
    settle?;
    tokio::time::sleep(POLL).await;
    let cpu = sampling::cpu_windows(n1, n2, windows, SAMPLE).await;
    row.master_cpu = Stats::of(&cpu.master_windows);
    row.backup_cpu = Stats::of(&cpu.backup_windows);
    row.master_spread = sampling::spread(&cpu.master_windows);
    row.backup_spread = sampling::spread(&cpu.backup_windows);
    record_end(n1, n2, row);
    if n1.processes().is_empty() || n2.processes().is_empty() {
        bail!("a daemon exited while being sampled");
    }
    let held = (
        sampling::count_held(n1, &all, &ifs).await?,
        sampling::count_held(n2, &all, &ifs).await?,
    );
    if held != (all.len(), 0) {
        bail!(
            "the VIPs moved while being sampled: node1 held {} and node2 {} at the end",
            held.0,
            held.1
        );
    }
    drop(lab);
    Ok(())
}

/// A problem without the log tail that follows its `; log:`, for the targets table.
fn first_line(problem: &str) -> String {
    problem
        .split("; log:")
        .next()
        .unwrap_or(problem)
        .replace('|', "/")
}

/// Peak RSS and process counts of both nodes, as they are now (no RSS for a node
/// with no process: node2 before its start).
fn record_end(n1: &Host, n2: &Host, row: &mut ScaleRow) {
    let rss =
        |h: &Host| (!h.processes().is_empty()).then(|| sampling::peak_rss_kb(h) as f64 / 1024.0);
    row.master_rss_mb = rss(n1);
    row.backup_rss_mb = rss(n2);
    row.processes = (n1.processes().len(), n2.processes().len());
}

/// Waits until node1 holds every VIP and node2 none for [`QUIET`], with node2's daemon
/// running; sets `node2_settled_s` (from `t2`) and `node2_peak_vips`.
async fn settle(
    n1: &Host,
    n2: &Host,
    all: &HashSet<IpAddr>,
    ifs: &[u32],
    t2: Instant,
    row: &mut ScaleRow,
) -> Result<()> {
    let mut tracker = Settle::new(all.len(), t2);
    loop {
        let now = Instant::now();
        let held = (
            sampling::count_held(n1, all, ifs).await?,
            sampling::count_held(n2, all, ifs).await?,
        );
        let done = tracker.observe(held, now);
        row.node2_peak_vips = tracker.peak2;
        if n1.processes().is_empty() || n2.processes().is_empty() {
            bail!(
                "a daemon exited while node2 was settling (node1 held {}, node2 {})",
                held.0,
                held.1
            );
        }
        if let Some(s) = done {
            row.node2_settled_s = Some(s.as_secs_f64());
            return Ok(());
        }
        if t2.elapsed() > NODE2_DEADLINE {
            bail!(
                "node2 not settled {:?} after its start: node1 held {} of {} VIPs and node2 {} (at most {})",
                NODE2_DEADLINE,
                held.0,
                all.len(),
                held.1,
                tracker.peak2
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The settling judgement, apart from any I/O: fed (node1, node2) VIP counts over
/// time, it says when node1 has held all and node2 none for [`QUIET`].
#[derive(Debug)]
struct Settle {
    total: usize,
    start: Instant,
    /// When the current stretch of (all, none) began, if it is under way.
    stable_since: Option<Instant>,
    /// Whether the counts were ever other than (all, none) after the start.
    moved: bool,
    /// Most VIPs node2 held at once.
    peak2: usize,
}

impl Settle {
    fn new(total: usize, start: Instant) -> Settle {
        Settle {
            total,
            start,
            stable_since: None,
            moved: false,
            peak2: 0,
        }
    }

    /// Feeds one observation; returns the settling time (from the start to the
    /// beginning of the final stable stretch, zero when nothing ever moved) once the
    /// stretch has lasted [`QUIET`].
    fn observe(&mut self, (held1, held2): (usize, usize), now: Instant) -> Option<Duration> {
        self.peak2 = self.peak2.max(held2);
        if held1 != self.total || held2 != 0 {
            self.moved = true;
            self.stable_since = None;
            return None;
        }
        let since = *self.stable_since.get_or_insert(now);
        if now.duration_since(since) < QUIET {
            return None;
        }
        Some(if self.moved {
            since.duration_since(self.start)
        } else {
            Duration::ZERO
        })
    }
}

/// Waits until every interface in `ifs` of `h` has a link-local address that is no
/// longer tentative (duplicate address detection done), so neither daemon's start-up
/// time includes the kernel's DAD.
async fn wait_link_local(h: &Host, ifs: &[u32], deadline: Instant) -> Result<()> {
    loop {
        let mut ready = HashSet::new();
        let mut dump = h.netlink().address().get().execute();
        while let Some(m) = dump.try_next().await.context("address dump")? {
            let tentative = m.header.flags.contains(AddressHeaderFlags::Tentative)
                || m.attributes.iter().any(|a| {
                    matches!(a, AddressAttribute::Flags(f) if f.contains(AddressFlags::Tentative))
                });
            let link_local = m.attributes.iter().any(|a| {
                matches!(a, AddressAttribute::Address(IpAddr::V6(v)) if v.segments()[0] & 0xffc0 == 0xfe80)
            });
            if link_local && !tentative {
                ready.insert(m.header.index);
            }
        }
        if ifs.iter().all(|i| ready.contains(i)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{}: no usable IPv6 link-local address on every interface after {LINK_LOCAL_DEADLINE:?} (ready: {ready:?} of {ifs:?})",
                h.name()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vips_are_distinct_ipv6_and_in_lab_ranges() {
        let all = all_vips();
        assert_eq!(all.len(), 8_000);
        assert_eq!(instances(), 1_000);
        assert!(all
            .iter()
            .all(|a| a.is_ipv6() && crate::lab::topology::in_lab_range(*a)));
        assert_eq!(
            vip(4, 250, 8),
            "2001:db8:5ca1:4::fa:8".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn vrrpd_config_loads_in_vrrpd() {
        let cfg = vrrpd::config::parse_toml(&vrrpd_toml(150, true, true), "scale.toml").unwrap();
        assert_eq!(cfg.instances.len(), 1_000);
        let last = &cfg.instances[999];
        assert_eq!((last.interface.as_str(), last.vrid), ("eth4", 250));
        assert_eq!(last.family, vrrpd::config::Family::Ipv6);
        assert_eq!(last.vips.len(), 8);
        assert_eq!(last.advert_interval, ADVERT);
        assert!(last.unicast_peers.is_empty(), "multicast");
        // VRIDs repeat per interface.
        assert_eq!(cfg.instances.iter().filter(|i| i.vrid == 1).count(), 4);
    }

    #[test]
    fn keepalived_config_loads_in_the_importer() {
        let text = keepalived_conf(100, false, "node2");
        let (cfg, warnings) = vrrpd::config::parse_keepalived(&text, "k.conf").unwrap();
        assert!(
            warnings
                .iter()
                .all(|w| w.kind == vrrpd::config::DiagnosticKind::OutOfScope),
            "{warnings:?}"
        );
        assert_eq!(cfg.instances.len(), 1_000);
        let vips: HashSet<IpAddr> = cfg
            .instances
            .iter()
            .flat_map(|i| i.vips.iter().map(|v| v.addr))
            .collect();
        assert_eq!(vips, all_vips());
        assert!(cfg.instances.iter().all(|i| i.priority == 100));
    }

    #[test]
    fn settling_waits_for_quiet_and_times_the_last_move() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut s = Settle::new(10, t0);
        assert_eq!(s.observe((10, 0), at(0)), None);
        // node2 takes 3 VIPs for a while, then gives them back at 4 s.
        assert_eq!(s.observe((7, 3), at(3_700)), None);
        assert_eq!(s.observe((10, 0), at(4_000)), None);
        assert_eq!(s.observe((10, 0), at(11_900)), None);
        assert_eq!(s.observe((10, 0), at(12_000)), Some(Duration::from_secs(4)));
        assert_eq!(s.peak2, 3);
        // Nothing ever moved: settled at once, after the quiet stretch.
        let mut s = Settle::new(10, t0);
        assert_eq!(s.observe((10, 0), at(0)), None);
        assert_eq!(s.observe((10, 0), at(8_000)), Some(Duration::ZERO));
        assert_eq!(s.peak2, 0);
    }

    fn row(daemon: &str, problem: Option<&str>) -> ScaleRow {
        let st = |v: f64| Stats::of(&[v]);
        ScaleRow {
            daemon: daemon.into(),
            node1_converged_s: Some(3.31),
            node2_settled_s: problem.is_none().then_some(0.0),
            node2_peak_vips: 0,
            master_cpu: st(4.5),
            backup_cpu: st(1.25),
            master_spread: None,
            backup_spread: None,
            master_rss_mb: Some(12.0),
            backup_rss_mb: Some(11.5),
            processes: (1, 1),
            problem: problem.map(str::to_string),
        }
    }

    #[test]
    fn renders_rows_and_targets() {
        let sec = ScaleSection {
            secs: 20,
            windows: 1,
            rows: vec![
                row("vrrpd", None),
                row("vrrpd, lease = false", None),
                row(
                    "keepalived",
                    Some("node2 not settled | after 60 s; log: a | b"),
                ),
            ],
        };
        let mut md = String::new();
        sec.markdown(&mut md);
        assert!(md.contains("## 8. Scale: 1000 VRRPv3 instances over 4 interfaces, 8 IPv6 VIPs each, 1 s adverts, multicast (20 s cut into 1 windows)"));
        assert!(md.contains("| vrrpd | 3.31 | 0.00 | 0 | 4.50 / 4.50 / 4.50 | — | 1.25 / 1.25 / 1.25 | — | 12.0 | 11.5 | 1/1 |  |"));
        assert!(md.contains("| keepalived | 3.31 | — | 0 |"));
        assert!(md.contains("node2 not settled / after 60 s |"));
        let width = md
            .lines()
            .find(|l| l.starts_with('|'))
            .unwrap()
            .matches('|')
            .count();
        assert!(md
            .lines()
            .filter(|l| l.starts_with('|'))
            .all(|l| l.matches('|').count() == width));
        assert!(!md.contains("log: a"), "the log tail stays in the JSON");
        let t = sec.targets();
        assert_eq!(t.len(), 2);
        assert!(t[0]
            .what
            .starts_with("scale: vrrpd (defaults) converges with 1000 instances / 8000 VIPs"));
        assert!(t.iter().all(|t| t.verdict == Verdict::Met));
        assert_eq!(t[1].measured, "node1 3.3 s, node2 0.0 s");
        let failed = ScaleSection {
            rows: vec![row(
                "vrrpd",
                Some("after 90s node1 held 10 of 8000 VIPs; log: x"),
            )],
            ..sec.clone()
        };
        let t = failed.targets();
        assert_eq!(t[0].verdict, Verdict::Missed);
        assert_eq!(t[0].measured, "after 90s node1 held 10 of 8000 VIPs");
        // No row for vrrpd without its lease: unknown, never met.
        assert_eq!(t[1].verdict, Verdict::Unknown);
    }
}
