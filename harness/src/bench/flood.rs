//! Section 7: a hostile segment. One node runs one VRRPv3 instance (VRID 51,
//! priority 150, 100 ms adverts, MASTER of 192.0.2.20) while the client floods the
//! segment with VRRP packets at [`TARGET_PPS`], in four kinds:
//!
//! * valid adverts for the instance's own VRID (priority 100, which a Master discards);
//! * invalid ones for its VRID (bad checksum);
//! * valid adverts for another VRID (52, which it does not run);
//! * invalid ones for that VRID.
//!
//! Per daemon and kind: CPU of the node (utime + stime of its processes over the
//! flood, % of one core), the rate the flooder achieved, the node's adverts seen on
//! the segment and the largest deviation of their spacing from 100 ms (jitter), and
//! whether the Master stayed Master with its VIP. A baseline without flood comes first.
//! The adverts are timed in the client's namespace, so the jitter includes the
//! observer's own scheduling delay; the baseline shows how much that is.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::sampling::{cpu_ns, percent};
use super::{Target, Verdict};
use crate::daemons::Daemon;
use crate::lab::process::ProcessSpec;
use crate::lab::topology::{Topology, CLIENT_V4};
use crate::lab::{Host, Lab};
use vrrpd::runtime::sockets::{RawIpv4Sender, VrrpTap};
use vrrpd::wire::{ipv4, vrrp};

/// Packets per second the flooder aims for.
pub const TARGET_PPS: u64 = 50_000;
/// The instance's advert interval.
pub const ADVERT: Duration = Duration::from_millis(100);
/// The instance's VRID.
pub const VRID: u8 = 51;
/// A VRID nobody runs.
pub const OTHER_VRID: u8 = 52;
/// The VIP.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
/// How long the node may take to become Master.
const MASTER_DEADLINE: Duration = Duration::from_secs(20);

/// What the flooder sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// No flood: the reference.
    Baseline,
    /// Valid adverts, own VRID, lower priority.
    ValidOwn,
    /// Bad checksum, own VRID.
    InvalidOwn,
    /// Valid adverts, another VRID.
    ValidOther,
    /// Bad checksum, another VRID.
    InvalidOther,
}

impl Kind {
    /// Every kind, baseline first.
    pub const ALL: [Kind; 5] = [
        Kind::Baseline,
        Kind::ValidOwn,
        Kind::InvalidOwn,
        Kind::ValidOther,
        Kind::InvalidOther,
    ];

    /// How the table names it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Baseline => "no flood",
            Kind::ValidOwn => "valid, own VRID",
            Kind::InvalidOwn => "invalid (checksum), own VRID",
            Kind::ValidOther => "valid, other VRID",
            Kind::InvalidOther => "invalid (checksum), other VRID",
        }
    }

    /// The datagram the flooder repeats, `None` for the baseline.
    pub fn datagram(self) -> Result<Option<Vec<u8>>> {
        let (vrid, corrupt) = match self {
            Kind::Baseline => return Ok(None),
            Kind::ValidOwn => (VRID, false),
            Kind::InvalidOwn => (VRID, true),
            Kind::ValidOther => (OTHER_VRID, false),
            Kind::InvalidOther => (OTHER_VRID, true),
        };
        let src = IpAddr::V4(CLIENT_V4);
        let dst = IpAddr::V4(vrrp::GROUP_V4);
        let mut msg = vrrp::Repr {
            version: vrrp::Version::V3,
            vrid,
            priority: 100,
            max_advert_int: u16::try_from(ADVERT.as_millis() / 10).unwrap_or(100),
            addrs: vec![IpAddr::V4(VIP)],
            auth: None,
        }
        .to_bytes(src, dst)
        .map_err(|e| anyhow!("{e}"))?;
        if corrupt {
            msg[6] ^= 0x5a;
        }
        let ip = ipv4::Repr {
            src: CLIENT_V4,
            dst: vrrp::GROUP_V4,
            protocol: vrrp::PROTOCOL,
            ttl: vrrp::TTL,
            payload_len: msg.len(),
        };
        let mut buf = vec![0u8; ip.buffer_len() + msg.len()];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]))
            .map_err(|e| anyhow!("{e}"))?;
        buf[ip.buffer_len()..].copy_from_slice(&msg);
        Ok(Some(buf))
    }
}

/// One daemon under one kind of flood.
#[derive(Debug, Clone, Serialize)]
pub struct FloodRow {
    /// The daemon.
    pub daemon: String,
    /// The flood.
    pub kind: Kind,
    /// Packets per second the flooder achieved.
    pub sent_pps: f64,
    /// CPU of the node's processes during the flood, % of one core.
    pub cpu_percent: f64,
    /// The node's adverts seen on the segment.
    pub adverts: usize,
    /// Largest |gap − 100 ms| between consecutive adverts, ms.
    pub max_jitter_ms: Option<f64>,
    /// Still Master of its VIP at the end, with no advert gap long enough for a Backup
    /// to take over (3 intervals).
    pub stable: bool,
}

/// Section 7.
#[derive(Debug, Clone, Serialize)]
pub struct FloodSection {
    /// Seconds per kind.
    pub secs: u64,
    /// Rows, daemon by daemon, kind by kind.
    pub rows: Vec<FloodRow>,
    /// Daemons that could not be measured, with why.
    pub problems: Vec<(String, String)>,
}

impl FloodSection {
    /// Targets: vrrpd stays Master with every flood, and its worst jitter under flood
    /// is within 10 ms.
    pub fn targets(&self) -> Vec<Target> {
        let v: Vec<&FloodRow> = self.rows.iter().filter(|r| r.daemon == "vrrpd").collect();
        let flooded: Vec<&&FloodRow> = v.iter().filter(|r| r.kind != Kind::Baseline).collect();
        if flooded.is_empty() {
            return vec![Target {
                what: "flood: vrrpd stays Master, jitter ≤ 10 ms".into(),
                measured: "not measured".into(),
                verdict: Verdict::Unknown,
            }];
        }
        let stable = flooded.iter().all(|r| r.stable);
        let worst = flooded
            .iter()
            .filter_map(|r| r.max_jitter_ms)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        vec![
            Target {
                what: "flood: vrrpd stays Master of its VIP under every flood".into(),
                measured: if stable { "stable" } else { "state changed" }.into(),
                verdict: Verdict::from_bool(stable),
            },
            match worst {
                Some(w) => Target {
                    what: "flood: vrrpd's worst advert jitter under flood ≤ 10 ms".into(),
                    measured: format!("{w:.1} ms"),
                    verdict: Verdict::from_bool(w <= 10.0),
                },
                None => Target {
                    what: "flood: vrrpd's worst advert jitter under flood ≤ 10 ms".into(),
                    measured: "no adverts seen".into(),
                    verdict: Verdict::Unknown,
                },
            },
        ]
    }
}

/// Measures each daemon (vrrpd, then keepalived), `secs` per kind.
pub async fn run(secs: Duration, daemons: &[Daemon]) -> Result<FloodSection> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for d in daemons {
        match one(d, secs).await {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => problems.push((d.name(), format!("{e:#}"))),
        }
    }
    Ok(FloodSection {
        secs: secs.as_secs(),
        rows,
        problems,
    })
}

/// Writes the one-instance configuration where the daemon's driver expects it and
/// returns how the driver starts the daemon (the one launcher the runner uses too).
fn spec(d: &Daemon, dir: &Path) -> Result<ProcessSpec> {
    let (file, text) = match d.name().as_str() {
        "vrrpd" => (
            crate::daemons::vrrpd::CONFIG,
            format!(
                "[[instance]]\nname = \"VI_1\"\ninterface = \"eth1\"\nvrid = {VRID}\n\
                 priority = 150\nadvert_interval = \"{}ms\"\nvips = [\"{VIP}/32\"]\n",
                ADVERT.as_millis()
            ),
        ),
        "keepalived" => (
            crate::daemons::keepalived::CONFIG,
            format!(
                "global_defs {{\n    router_id node1\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    \
                 interface eth1\n    version 3\n    virtual_router_id {VRID}\n    priority 150\n    \
                 advert_int {}\n    virtual_ipaddress {{\n        {VIP}/32 dev eth1\n    }}\n}}\n",
                ADVERT.as_secs_f64()
            ),
        ),
        other => bail!("the flood benchmark compares vrrpd and keepalived, not {other}"),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let conf = dir.join(file);
    std::fs::write(&conf, text).with_context(|| format!("write {}", conf.display()))?;
    Ok(d.driver().launch(None, dir)?.main)
}

async fn holds_vip(h: &Host) -> Result<bool> {
    h.holds(IpAddr::V4(VIP)).await
}

async fn one(d: &Daemon, secs: Duration) -> Result<Vec<FloodRow>> {
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let tmp = tempfile::tempdir().context("temp dir")?;
    let n1 = lab.node("node1")?;
    let node_addr = IpAddr::V4(lab.topology().nodes[0].v4);
    n1.spawn(&spec(d, tmp.path())?)?;
    let t0 = Instant::now();
    while !holds_vip(n1).await? {
        if t0.elapsed() > MASTER_DEADLINE || n1.processes().is_empty() {
            bail!("{} did not become Master of {VIP}", d.name());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past the start-up gratuitous ARPs and log bursts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let client = lab.client();
    let ifindex = client.ifindex();
    let (sender, tap) = client.ns().run(move || {
        Ok((
            RawIpv4Sender::open("eth1").context("flood socket")?,
            VrrpTap::open("eth1", ifindex, Duration::from_millis(50)).context("advert tap")?,
        ))
    })?;
    let sender = Arc::new(sender);
    let tap = Arc::new(tap);
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        let packet = kind.datagram()?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let flooder = packet.map(|p| {
            let (stop, sent, sender) = (stop.clone(), sent.clone(), sender.clone());
            std::thread::spawn(move || flood(&sender, &p, &stop, &sent))
        });
        let watcher = {
            let (stop, tap) = (stop.clone(), tap.clone());
            std::thread::spawn(move || watch(&tap, node_addr, &stop))
        };
        let before = cpu_ns(n1);
        let started = Instant::now();
        tokio::time::sleep(secs).await;
        let after = cpu_ns(n1);
        let elapsed = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        if let Some(f) = flooder {
            f.join().map_err(|_| anyhow!("flood thread panicked"))?;
        }
        let times = watcher.join().map_err(|_| anyhow!("tap thread panicked"))?;
        let gaps: Vec<f64> = times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
            .collect();
        let interval_ms = ADVERT.as_secs_f64() * 1000.0;
        let max_jitter_ms = gaps
            .iter()
            .map(|g| (g - interval_ms).abs())
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        let longest = gaps.iter().copied().fold(0.0, f64::max);
        let stable = holds_vip(n1).await?
            && !n1.processes().is_empty()
            && !times.is_empty()
            && longest < 3.0 * interval_ms;
        let row = FloodRow {
            daemon: d.name(),
            kind,
            sent_pps: sent.load(Ordering::Relaxed) as f64 / elapsed,
            cpu_percent: percent(&before, &after, elapsed),
            adverts: times.len(),
            max_jitter_ms,
            stable,
        };
        eprintln!(
            "bench flood: {} {}: {:.0} pkt/s, CPU {:.1} %, {} adverts, jitter {:?} ms, stable {}",
            row.daemon,
            kind.label(),
            row.sent_pps,
            row.cpu_percent,
            row.adverts,
            row.max_jitter_ms,
            row.stable
        );
        rows.push(row);
    }
    drop(lab);
    Ok(rows)
}

/// Sends `packet` at [`TARGET_PPS`] (in 1 ms batches) until `stop`; counts what left.
fn flood(sender: &RawIpv4Sender, packet: &[u8], stop: &AtomicBool, sent: &AtomicU64) {
    let per_ms = TARGET_PPS / 1000;
    let start = Instant::now();
    let mut batches: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..per_ms {
            if sender.send(packet).is_ok() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        batches += 1;
        let due = start + Duration::from_millis(batches);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// Records when each advert from `from` arrives until `stop`.
fn watch(tap: &VrrpTap, from: IpAddr, stop: &AtomicBool) -> Vec<Instant> {
    let mut buf = vec![0u8; 2048];
    let mut times = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(Some(rx)) = tap.recv(&mut buf) {
            if rx.src == from {
                times.push(Instant::now());
            }
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_packets_are_what_they_claim() {
        let src = IpAddr::V4(CLIENT_V4);
        let dst = IpAddr::V4(vrrp::GROUP_V4);
        assert!(Kind::Baseline.datagram().unwrap().is_none());
        for (kind, vrid, valid) in [
            (Kind::ValidOwn, VRID, true),
            (Kind::InvalidOwn, VRID, false),
            (Kind::ValidOther, OTHER_VRID, true),
            (Kind::InvalidOther, OTHER_VRID, false),
        ] {
            let d = kind.datagram().unwrap().unwrap();
            let ip = ipv4::Packet::new_checked(&d[..]).unwrap();
            assert_eq!(ip.ttl(), 255);
            let msg = &d[20..];
            let parsed = vrrp::Repr::parse(&vrrp::Packet::new_unchecked(msg), src, dst);
            assert_eq!(parsed.is_ok(), valid, "{kind:?}");
            if let Ok(r) = parsed {
                assert_eq!((r.vrid, r.priority), (vrid, 100));
            }
        }
    }
}
