//! Section `gate`: how precisely an nftables set element's timeout ends a VIP's gate
//! (issue 14, docs/gate.md): when the kernel really stops letting the VIP's ARP replies
//! (IPv4) and neighbour adverts (IPv6) through, relative to the element's end.
//!
//! One lab (client + one node, [`crate::lab`]); the node gets [`SAMPLES`] extra
//! addresses per family on `eth1` (198.51.100.k/32, 2001:db8:0:1::k/128) and the gate
//! of docs/gate.md over netlink ([`vrrpd::gate`]) with every one of them managed and none
//! live. Before the first sample, a VIP is probed to prove the closed gate drops its
//! answers. Each sample (a fresh address, so no element is reused): instant `t` before
//! the NEWSETELEM batch that opens the gate for [`TIMEOUT`]; then the client sends an
//! ARP request (or a Neighbor Solicitation) for the address every
//! [`PROBE_EVERY`] from an AF_PACKET socket and reads the answers on it, until none has
//! come for 30 ms past the end (waiting for answers with `ppoll`, whose hrtimer keeps
//! the 1 ms cadence; a socket receive timeout would round to whole jiffies). "First
//! missing" is the send instant of the probe after the last answered one − (t +
//! timeout): the gate closed at most that late (and at most one probe interval
//! earlier). "Last answer" is when the last answer arrived, against the same end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use vrrpd::wire::{arp, ndisc, Mac};

use super::{Stats, Target, Verdict};
use crate::lab::topology::{Topology, CLIENT_V4, CLIENT_V6};
use crate::lab::Lab;
use crate::observe::packet;
use vrrpd::gate::{Batch, LiveElem};
use vrrpd::runtime::gate::GateSocket as Gate;

/// Samples per family.
pub const SAMPLES: usize = 200;
/// The element's timeout.
pub const TIMEOUT: Duration = Duration::from_millis(300);
/// Time between probes.
pub const PROBE_EVERY: Duration = Duration::from_millis(1);
/// Silence past the end after which the gate is taken as closed.
const QUIET: Duration = Duration::from_millis(30);
/// Longest the gate may stay open past its end before the sample is a failure.
const GIVE_UP: Duration = Duration::from_secs(1);
/// The budget a late gate eats into: the sub-second conflict target.
pub const LATE_TARGET_MS: f64 = super::failover::SUBSECOND_CONFLICT_MS;
/// EtherType of IPv6.
const ETH_P_IPV6: u16 = 0x86dd;

/// One sample.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GateSample {
    /// First unanswered probe's send instant − element end, ms.
    pub first_missing_ms: f64,
    /// Last answer's arrival − element end, ms.
    pub last_answer_ms: f64,
    /// Time the kernel took to acknowledge the batch, ms.
    pub commit_ms: f64,
}

/// One family.
#[derive(Debug, Clone, Serialize)]
pub struct GateRow {
    /// `IPv4 (ARP)` or `IPv6 (NS/NA)`.
    pub family: String,
    /// Element timeout, ms.
    pub timeout_ms: u64,
    /// Every sample.
    pub samples: Vec<GateSample>,
    /// Samples that measured nothing, with why.
    pub failures: Vec<String>,
}

impl GateRow {
    fn stats(&self, f: fn(&GateSample) -> f64) -> Option<Stats> {
        Stats::of(&self.samples.iter().map(f).collect::<Vec<_>>())
    }

    fn max(&self, f: fn(&GateSample) -> f64) -> Option<f64> {
        self.samples.iter().map(f).max_by(f64::total_cmp)
    }

    /// First missing − end, over the samples.
    pub fn first_missing(&self) -> Option<Stats> {
        self.stats(|s| s.first_missing_ms)
    }

    /// Largest first missing − end.
    pub fn first_missing_worst(&self) -> Option<f64> {
        self.max(|s| s.first_missing_ms)
    }

    /// Last answer − end, over the samples.
    pub fn last_answer(&self) -> Option<Stats> {
        self.stats(|s| s.last_answer_ms)
    }

    /// Largest last answer − end.
    pub fn last_answer_worst(&self) -> Option<f64> {
        self.max(|s| s.last_answer_ms)
    }

    /// Batch acknowledgement times.
    pub fn commit(&self) -> Option<Stats> {
        self.stats(|s| s.commit_ms)
    }
}

/// The section.
#[derive(Debug, Clone, Serialize)]
pub struct GateSection {
    /// Where the gate's netlink builder came from.
    pub builder: String,
    /// IPv4 and IPv6.
    pub rows: Vec<GateRow>,
}

impl GateSection {
    /// Target per family: in every sample the gate closed at most 50 ms after the
    /// element's end (a later close alone would spend the sub-second conflict budget).
    pub fn targets(&self) -> Vec<Target> {
        self.rows
            .iter()
            .map(|r| {
                let what = format!(
                    "gate expiry {}: closes ≤ {LATE_TARGET_MS:.0} ms after the element's end in every sample",
                    r.family
                );
                match r.first_missing_worst() {
                    Some(w) if r.failures.is_empty() => Target {
                        what,
                        measured: format!("worst {w:.1} ms in {} samples", r.samples.len()),
                        verdict: Verdict::from_bool(w <= LATE_TARGET_MS),
                    },
                    Some(w) if w > LATE_TARGET_MS => Target {
                        what,
                        measured: format!(
                            "worst {w:.1} ms; {} samples unmeasured",
                            r.failures.len()
                        ),
                        verdict: Verdict::Missed,
                    },
                    _ => Target {
                        what,
                        measured: format!("{} samples unmeasured", r.failures.len()),
                        verdict: Verdict::Unknown,
                    },
                }
            })
            .collect()
    }
}

/// The section as markdown (kept here, next to its figures, so `table.rs` only calls it).
pub fn render(s: &mut String, g: &GateSection) {
    use std::fmt::Write as _;
    let cell =
        |x: Option<Stats>| x.map_or_else(|| "—".to_string(), |st| super::table::stats_cell(&st, 1));
    let ms = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"));
    let _ = writeln!(
        s,
        "\n## 6b. Gate expiry precision: traffic stop − element end, ms (median / min / p95)\n"
    );
    let _ = writeln!(
        s,
        "nftables gate of docs/gate.md ({}); one probe every {} ms from the client; first missing = send instant of the first unanswered probe.\n",
        g.builder,
        PROBE_EVERY.as_millis()
    );
    let _ = writeln!(
        s,
        "| family | timeout ms | samples | first missing − end | worst | last answer − end | worst | batch ack ms | unmeasured |"
    );
    let _ = writeln!(s, "|---|---:|---:|---|---:|---|---:|---|---:|");
    for r in &g.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.family,
            r.timeout_ms,
            r.samples.len(),
            cell(r.first_missing()),
            ms(r.first_missing_worst()),
            cell(r.last_answer()),
            ms(r.last_answer_worst()),
            cell(r.commit()),
            r.failures.len()
        );
    }
}

/// The address of sample `k` of a family.
pub fn sample_vip(v6: bool, k: usize) -> IpAddr {
    let k = u16::try_from(k + 1).unwrap_or(u16::MAX);
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, k))
    } else {
        // Up to 254 samples per family fit in 198.51.100.0/24.
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, u8::try_from(k).unwrap_or(254)))
    }
}

/// Measures both families, `samples` each (at most 254). Needs root.
pub async fn run(samples: usize) -> Result<GateSection> {
    let samples = samples.clamp(1, 254);
    let lab = Lab::build(Topology::with_nodes(1, true)).await?;
    let node = lab.node("node1")?;
    let vips: Vec<IpAddr> = [false, true]
        .into_iter()
        .flat_map(|v6| (0..samples).map(move |k| sample_vip(v6, k)))
        .collect();
    for v in &vips {
        node.add_address(*v, if v.is_ipv4() { 32 } else { 128 })
            .await?;
    }
    let mut gate = node.ns().run(|| Gate::open().context("nfnetlink socket"))?;
    let mut install = Batch::new();
    install.reconcile(&vips);
    gate.send(install).context("install the gate's tables")?;
    let client = lab.client();
    let ifindex = client.ifindex();
    let me = Mac(client.mac());
    let mut rows = Vec::new();
    for v6 in [false, true] {
        let ethertype = if v6 { ETH_P_IPV6 } else { packet::ETH_P_ARP };
        let sock = client
            .ns()
            .run(move || packet::open(ifindex, ethertype, Duration::from_micros(200)))?;
        let (row, back) = tokio::task::spawn_blocking(move || family(gate, sock, me, v6, samples))
            .await
            .map_err(|e| anyhow!("gate task: {e}"))?;
        gate = back;
        let row = row?;
        eprintln!(
            "bench gate: {}: first missing − end {:?} ms (worst {:?}), {} unmeasured",
            row.family,
            row.first_missing().map(|s| s.median),
            row.first_missing_worst(),
            row.failures.len()
        );
        rows.push(row);
    }
    drop(gate);
    drop(lab);
    Ok(GateSection {
        builder: "vrrpd::gate, the daemon's own builder and socket".into(),
        rows,
    })
}

/// One family's samples, on a blocking thread (1 ms probing needs a thread of its own).
fn family(
    mut gate: Gate,
    sock: OwnedFd,
    me: Mac,
    v6: bool,
    samples: usize,
) -> (Result<GateRow>, Gate) {
    let r = (|| {
        let label = if v6 { "IPv6 (NS/NA)" } else { "IPv4 (ARP)" };
        // The closed gate must drop the answers: otherwise nothing here measures it.
        let closed = probe_window(&sock, me, sample_vip(v6, 0), Duration::from_millis(20))?;
        if closed > 0 {
            bail!(
                "{label}: the closed gate let {closed} answers through: the gate is not in force"
            );
        }
        let mut row = GateRow {
            family: label.to_string(),
            timeout_ms: u64::try_from(TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            samples: Vec::new(),
            failures: Vec::new(),
        };
        for k in 0..samples {
            // Spread the starts over the 4 ms jiffy (HZ=250) so rounding shows.
            std::thread::sleep(Duration::from_micros(((k * 617) % 4000) as u64));
            match one(&mut gate, &sock, me, sample_vip(v6, k)) {
                Ok(s) => row.samples.push(s),
                Err(e) => row.failures.push(format!("sample {k}: {e:#}")),
            }
        }
        Ok(row)
    })();
    (r, gate)
}

/// Answers for `vip` during `len`, probing every [`PROBE_EVERY`].
fn probe_window(sock: &OwnedFd, me: Mac, vip: IpAddr, len: Duration) -> Result<usize> {
    let end = Instant::now() + len;
    let mut answers = 0;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < end {
        packet::send(sock, &request(me, vip)).context("send probe")?;
        let next = Instant::now() + PROBE_EVERY;
        while Instant::now() < next {
            if let Some(n) = recv(sock, &mut buf, next)? {
                if is_answer(&buf[..n], vip, me) {
                    answers += 1;
                }
            }
        }
    }
    Ok(answers)
}

fn one(gate: &mut Gate, sock: &OwnedFd, me: Mac, vip: IpAddr) -> Result<GateSample> {
    let mut buf = vec![0u8; 2048];
    let t = Instant::now();
    let mut open = Batch::new();
    open.open(&[LiveElem {
        addr: vip,
        timeout: TIMEOUT,
    }]);
    gate.send(open).context("open the gate")?;
    let acked = Instant::now();
    let end = t + TIMEOUT;
    let mut sent: Vec<Instant> = Vec::new();
    // (index of the probe answered, arrival of the answer)
    let mut last: Option<(usize, Instant)> = None;
    loop {
        let s = Instant::now();
        packet::send(sock, &request(me, vip)).context("send probe")?;
        sent.push(s);
        let next = s + PROBE_EVERY;
        while Instant::now() < next {
            if let Some(n) = recv(sock, &mut buf, next)? {
                if is_answer(&buf[..n], vip, me) {
                    last = Some((sent.len() - 1, Instant::now()));
                }
            }
        }
        let now = Instant::now();
        let quiet_since = last.map_or(acked, |(_, at)| at);
        if now > end && now.duration_since(quiet_since) > QUIET && now > end + QUIET {
            break;
        }
        if now > end + GIVE_UP {
            bail!("{vip}: still answered {GIVE_UP:?} after the element's end");
        }
    }
    let (idx, at) =
        last.with_context(|| format!("{vip}: never answered while the gate was open"))?;
    let first_missing = sent
        .get(idx + 1)
        .copied()
        .with_context(|| format!("{vip}: no probe after the last answer"))?;
    Ok(GateSample {
        first_missing_ms: signed_ms(first_missing, end),
        last_answer_ms: signed_ms(at, end),
        commit_ms: (acked - t).as_secs_f64() * 1e3,
    })
}

/// `a − b` in ms, negative when `a` is earlier.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if a >= b {
        (a - b).as_secs_f64() * 1e3
    } else {
        -((b - a).as_secs_f64() * 1e3)
    }
}

fn request(me: Mac, vip: IpAddr) -> Vec<u8> {
    match vip {
        IpAddr::V4(v) => arp::request(me, CLIENT_V4, v),
        IpAddr::V6(v) => ndisc::solicitation(me, Some(CLIENT_V6), v),
    }
}

/// Whether `frame` answers a probe for `vip` (from another host than `me`).
pub fn is_answer(frame: &[u8], vip: IpAddr, me: Mac) -> bool {
    match vip {
        IpAddr::V4(v) => arp::parse_frame(frame).is_ok_and(|(eth, r)| {
            r.op == arp::Operation::Reply && r.sender_ip == v && eth.src != me
        }),
        IpAddr::V6(v) => ndisc::parse_frame(frame).is_ok_and(|f| {
            f.src_mac != me
                && matches!(f.repr, ndisc::Repr::NeighborAdvert { target, .. } if target == v)
        }),
    }
}

/// One frame, or `None` when `until` passed first. Waits with `ppoll` (an hrtimer,
/// microseconds), not the socket's SO_RCVTIMEO, which the kernel rounds up to whole
/// jiffies (4 ms at HZ=250): that would delay the next probe by as much.
fn recv(sock: &OwnedFd, buf: &mut [u8], until: Instant) -> Result<Option<usize>> {
    use nix::errno::Errno;
    use nix::poll::{ppoll, PollFd, PollFlags};
    use std::os::fd::{AsFd, AsRawFd};
    let left = until.saturating_duration_since(Instant::now());
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    match ppoll(
        &mut fds,
        Some(nix::sys::time::TimeSpec::from_duration(left)),
        None,
    ) {
        Ok(0) | Err(Errno::EINTR) => return Ok(None),
        Ok(_) => {}
        Err(e) => bail!("wait for probe answers: {e}"),
    }
    match nix::sys::socket::recv(
        sock.as_raw_fd(),
        buf,
        nix::sys::socket::MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(n) => Ok(Some(n)),
        Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
        Err(e) => Err(anyhow!("receive probe answers: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(late: &[f64], failures: usize) -> GateRow {
        GateRow {
            family: "IPv4 (ARP)".into(),
            timeout_ms: 300,
            samples: late
                .iter()
                .map(|l| GateSample {
                    first_missing_ms: *l,
                    last_answer_ms: *l - 1.0,
                    commit_ms: 0.5,
                })
                .collect(),
            failures: (0..failures).map(|i| format!("sample {i}: x")).collect(),
        }
    }

    #[test]
    fn sample_addresses_are_distinct_and_in_lab_ranges() {
        for v6 in [false, true] {
            let all: std::collections::BTreeSet<IpAddr> =
                (0..254).map(|k| sample_vip(v6, k)).collect();
            assert_eq!(all.len(), 254);
            assert!(all.iter().all(|a| crate::lab::topology::in_lab_range(*a)));
        }
    }

    #[test]
    fn targets_met_missed_and_unknown() {
        let g = GateSection {
            builder: "test".into(),
            rows: vec![
                row(&[2.0, 4.0, 6.0], 0),
                row(&[2.0, 60.0], 1),
                row(&[3.0], 2),
            ],
        };
        let t = g.targets();
        assert_eq!(t[0].verdict, Verdict::Met);
        assert_eq!(t[0].measured, "worst 6.0 ms in 3 samples");
        assert_eq!(t[1].verdict, Verdict::Missed);
        assert_eq!(t[2].verdict, Verdict::Unknown);
        let mut md = String::new();
        render(&mut md, &g);
        assert!(md.contains(
            "| IPv4 (ARP) | 300 | 3 | 4.0 / 2.0 / 6.0 | 6.0 | 3.0 / 1.0 / 5.0 | 5.0 | 0.5 / 0.5 / 0.5 | 0 |"
        ));
    }

    #[test]
    fn answers_are_recognised_by_address_and_sender() {
        let me = Mac([2, 0, 0, 0, 0, 1]);
        let node = Mac([2, 0, 0, 0, 0, 2]);
        let vip = Ipv4Addr::new(198, 51, 100, 1);
        let reply = arp::Repr {
            op: arp::Operation::Reply,
            sender_mac: node,
            sender_ip: vip,
            target_mac: me,
            target_ip: CLIENT_V4,
        }
        .to_frame(node, me);
        assert!(is_answer(&reply, IpAddr::V4(vip), me));
        assert!(!is_answer(
            &reply,
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            me
        ));
        // Our own request is not an answer.
        assert!(!is_answer(
            &request(me, IpAddr::V4(vip)),
            IpAddr::V4(vip),
            me
        ));
    }
}
