//! End-to-end tests of vrrpd's nftables gate (issue 14 part 2), root only: at 100 ms
//! adverts a SIGKILLed master must go quiet for its VIP (no ARP reply, no neighbour
//! advert) before its peer takes over, while the address is still on it (the address
//! lease runs longer at sub-second intervals): the gate, not the address lease, did it.
//!
//! The client's view comes from the harness's probe ([`vrrplab::observe::probe`]): an
//! ARP request / Neighbor Solicitation every 10 ms from the client namespace, answers
//! attributed by bridge port. Deadlines derive from the VRRP timers.

mod common;

use common::vrrpd::{logs, spawn_vrrpd, wait_for, Vrrpd, POLL};

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use vrrpd::instance::{gate_end, lease_for, master_down_interval};
use vrrpd::wire::vrrp::Version;
use vrrplab::history::{EventKind, History};
use vrrplab::lab::topology::Topology;
use vrrplab::lab::{Host, Lab};
use vrrplab::observe::probe;

const INTERVAL: Duration = Duration::from_millis(100);
/// Allowance for process start, a loaded CI machine and netlink round trips.
const SLACK: Duration = Duration::from_secs(2);
/// Time between client probe rounds.
const PROBE_EVERY: Duration = Duration::from_millis(10);

/// A vrrpd instance on eth1 at 100 ms.
fn config(priority: u8, vip: &str, extra: &str) -> String {
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth1\"\nvrid = 51\npriority = {priority}\n\
         advert_interval = \"100ms\"\nvips = [\"{vip}\"]\n{extra}\n"
    )
}

fn spawn(lab: &Lab, dir: &Path, node: &str, run: &str, config: &str) -> Result<Vrrpd> {
    let stem = format!("{node}-{run}");
    spawn_vrrpd(lab, dir, node, &stem, "--config", config, &[])
}

/// Who answered the client in each probe round: (time since the history began, the
/// nodes that answered).
fn rounds(history: &History, vip: IpAddr) -> Vec<(Duration, Vec<String>)> {
    history
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Probe {
                vip: v, answers, ..
            } if v == vip => Some((
                Duration::from_nanos(e.t_ns),
                answers.into_iter().filter_map(|a| a.node).collect(),
            )),
            _ => None,
        })
        .collect()
}

/// Probe gaps (the probe could not see): unknown, never a pass.
fn gaps(history: &History) -> Vec<String> {
    history
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProbeGap { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

/// Rounds in which two nodes answered.
fn doubles(rs: &[(Duration, Vec<String>)]) -> Vec<(Duration, Vec<String>)> {
    rs.iter()
        .filter(|(_, n)| {
            let mut n = n.clone();
            n.sort();
            n.dedup();
            n.len() > 1
        })
        .cloned()
        .collect()
}

/// Whether any interface of `h` has `vip` (with `vmac` it is on the macvlan).
async fn holds(h: &Host, vip: IpAddr) -> Result<bool> {
    Ok(h.addresses().await?.entries.iter().any(|e| e.addr == vip))
}

async fn master(h: &Host, d: &Vrrpd, vip: IpAddr) -> Result<bool> {
    Ok(holds(h, vip).await? && d.instance_state("VI_1").as_deref() == Some("MASTER"))
}

/// Waits until node1 (priority 150, alone) is MASTER with `vip`, or fails with its log.
async fn elected(h1: &Host, n1: &Vrrpd, vip: IpAddr) -> Result<()> {
    let elected = wait_for(
        master_down_interval(Version::V3, 150, INTERVAL) + SLACK,
        || async { master(h1, n1, vip).await },
    )
    .await?;
    ensure!(
        elected.is_some(),
        "node1 never became master\n{}",
        logs(&[n1])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_silences_a_killed_master_before_takeover_ipv4() -> Result<()> {
    killed_master_goes_quiet(false, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_silences_a_killed_master_before_takeover_ipv6() -> Result<()> {
    killed_master_goes_quiet(true, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_silences_a_killed_master_before_takeover_vmac() -> Result<()> {
    killed_master_goes_quiet(false, true).await
}

/// node1 (150) and node2 (100) at 100 ms; node1 is SIGKILLed. The client must see node1
/// answer before the kill, then a silent round, then node2 alone; node1 must still hold
/// the address when node2 takes over, and the gate tables must be in node1's namespace.
async fn killed_master_goes_quiet(ipv6: bool, vmac: bool) -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, ipv6)).await?;
    let dir = tempfile::tempdir()?;
    let (vip, vip_cfg): (IpAddr, &str) = if ipv6 {
        ("2001:db8::20".parse()?, "2001:db8::20/128")
    } else {
        ("192.0.2.20".parse()?, "192.0.2.20/32")
    };
    let extra = if vmac { "vmac = true" } else { "" };
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    // The address lease at 100 ms (whole seconds) outlives the takeover: whatever
    // silences node1 before it is the gate.
    let takeover = master_down_interval(Version::V3, 100, INTERVAL);
    ensure!(lease_for(Version::V3, 150, INTERVAL) > takeover + Duration::from_millis(300));

    let n1 = spawn(&lab, dir.path(), "node1", "a", &config(150, vip_cfg, extra))?;
    elected(h1, &n1, vip).await?;
    let n2 = spawn(&lab, dir.path(), "node2", "a", &config(100, vip_cfg, extra))?;
    let backup = wait_for(SLACK, || async {
        Ok(n2.instance_state("VI_1").as_deref() == Some("BACKUP"))
    })
    .await?;
    ensure!(backup.is_some(), "node2 not BACKUP\n{}", logs(&[&n1, &n2]));

    let history = History::new();
    let clock = history.clock();
    let p = probe::start(&lab, &[vip], PROBE_EVERY, history.clone())?;
    // node1 answers the client.
    let answering = wait_for(SLACK, || async {
        Ok(rounds(&history, vip)
            .iter()
            .any(|(_, n)| n.iter().any(|n| n == "node1")))
    })
    .await?;
    ensure!(
        answering.is_some(),
        "node1 never answered the client\n{}",
        logs(&[&n1, &n2])
    );

    let killed = Instant::now();
    h1.signal(n1.pid, "SIGKILL".parse()?)?;
    let mut took = None;
    while took.is_none() && Instant::now() < killed + takeover + SLACK {
        if holds(h2, vip).await? {
            // Right when node2 has it: node1 still has the address.
            took = Some((Instant::now(), holds(h1, vip).await?));
        }
        tokio::time::sleep(POLL).await;
    }
    let Some((took, node1_still_holds)) = took else {
        bail!("node2 never took over\n{}", logs(&[&n1, &n2]));
    };
    // A few rounds of node2 alone.
    let after = Instant::now() + 10 * PROBE_EVERY;
    wait_for(SLACK, || async { Ok(Instant::now() >= after) }).await?;
    p.stop()?;
    let gaps = gaps(&history);
    ensure!(gaps.is_empty(), "the client probe was blind: {gaps:?}");
    let rs = rounds(&history, vip);
    let k = Duration::from_nanos(clock.at(killed));
    let last1 = rs
        .iter()
        .filter(|(_, n)| n.iter().any(|n| n == "node1"))
        .map(|(t, _)| *t)
        .next_back();
    let first2 = rs
        .iter()
        .find(|(_, n)| n.iter().any(|n| n == "node2"))
        .map(|(t, _)| *t);
    let (Some(last1), Some(first2)) = (last1, first2) else {
        bail!("answers missing: node1 last {last1:?} node2 first {first2:?}: {rs:?}");
    };
    println!(
        "ipv6={ipv6} vmac={vmac}: node1 last answered {:?} after SIGKILL, node2 first {:?} after, took the address {:?} after",
        last1.saturating_sub(k),
        first2.saturating_sub(k),
        took - killed,
    );
    let both = doubles(&rs);
    ensure!(both.is_empty(), "two nodes answered: {both:?}");
    ensure!(last1 < first2, "node1 answered after node2 did");
    let silent = rs
        .iter()
        .filter(|(t, n)| *t > last1 && *t < first2 && n.is_empty())
        .count();
    ensure!(
        silent > 0,
        "no silent round between node1 and node2: {rs:?}"
    );
    // The gate ends at most Master_Down_Interval(150) - margin after the last advert,
    // which was before the kill.
    let gate_budget = gate_end(killed, Version::V3, 150, INTERVAL) - killed;
    ensure!(
        last1 <= k + gate_budget + PROBE_EVERY,
        "node1 answered {:?} after SIGKILL, past its gate ({gate_budget:?})",
        last1 - k
    );
    ensure!(
        node1_still_holds,
        "node1 no longer had the address at takeover: the address lease, not the gate, silenced it"
    );
    let _ = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;
    Ok(())
}

/// 20 SIGKILLs at 100 ms: two nodes of equal priority 100 without preemption, the
/// current master is killed and restarted (it comes back as backup); the client,
/// probing every 10 ms for the whole test, must never see two nodes answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_twenty_sigkills_never_two_answers() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip: IpAddr = "192.0.2.20".parse()?;
    let cfg = config(100, "192.0.2.20/32", "preempt = false");
    let hosts = [lab.node("node1")?, lab.node("node2")?];
    let names = ["node1", "node2"];
    let takeover = master_down_interval(Version::V3, 100, INTERVAL);

    let mut d: [Option<Vrrpd>; 2] = [None, None];
    d[0] = Some(spawn(&lab, dir.path(), "node1", "init", &cfg)?);
    let first = wait_for(takeover + SLACK, || async {
        master(hosts[0], d[0].as_ref().expect("started"), vip).await
    })
    .await?;
    ensure!(first.is_some(), "node1 never became master");
    d[1] = Some(spawn(&lab, dir.path(), "node2", "init", &cfg)?);

    let history = History::new();
    let p = probe::start(&lab, &[vip], PROBE_EVERY, history.clone())?;
    let mut m = 0;
    for round in 0..20 {
        let b = 1 - m;
        let (dm, db) = (
            d[m].take().expect("master runs"),
            d[b].take().expect("backup runs"),
        );
        let ready = wait_for(SLACK, || async {
            Ok(db.instance_state("VI_1").as_deref() == Some("BACKUP")
                && master(hosts[m], &dm, vip).await?)
        })
        .await?;
        ensure!(
            ready.is_some(),
            "round {round}: no master/backup pair\n{}",
            logs(&[&dm, &db])
        );
        // A few adverts and refreshes.
        let settle = Instant::now() + 3 * INTERVAL;
        wait_for(SLACK, || async { Ok(Instant::now() >= settle) }).await?;
        let killed = Instant::now();
        hosts[m].signal(dm.pid, "SIGKILL".parse()?)?;
        let took = wait_for(takeover + SLACK, || async {
            master(hosts[b], &db, vip).await
        })
        .await?;
        ensure!(
            took.is_some(),
            "round {round}: {} never took over\n{}",
            names[b],
            logs(&[&dm, &db])
        );
        let _ = hosts[m].wait_exit(dm.pid, Instant::now() + SLACK).await?;
        println!(
            "round {round}: {} took over {:?} after SIGKILL of {}",
            names[b],
            took.map(|t| t - killed),
            names[m]
        );
        d[m] = Some(spawn(
            &lab,
            dir.path(),
            names[m],
            &format!("r{round}"),
            &cfg,
        )?);
        d[b] = Some(db);
        m = b;
    }
    p.stop()?;
    let gaps = gaps(&history);
    ensure!(gaps.is_empty(), "the client probe was blind: {gaps:?}");
    let rs = rounds(&history, vip);
    ensure!(rs.len() > 100, "too few probe rounds: {}", rs.len());
    let both = doubles(&rs);
    ensure!(
        both.is_empty(),
        "two nodes answered in {} rounds: {both:?}",
        both.len()
    );
    Ok(())
}

/// One ICMP echo from the client to `dst`: whether a reply came within `within`.
fn ping(lab: &Lab, dst: std::net::Ipv4Addr, id: u16, within: Duration) -> Result<bool> {
    use nix::sys::socket::{
        recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag,
        SockProtocol, SockType, SockaddrIn,
    };
    lab.client().ns().run(move || {
        let fd = socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::empty(),
            SockProtocol::Icmp,
        )?;
        setsockopt(
            &fd,
            sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(0, 20_000),
        )?;
        let mut req = vec![8u8, 0, 0, 0, (id >> 8) as u8, id as u8, 0, 1];
        req.extend_from_slice(b"vrrplab gate");
        let sum = vrrpd::wire::checksum::finish(vrrpd::wire::checksum::sum(&req));
        req[2..4].copy_from_slice(&sum.to_be_bytes());
        let to = SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0));
        use std::os::fd::AsRawFd;
        sendto(fd.as_raw_fd(), &req, &to, MsgFlags::empty())?;
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            let Ok((n, from)) = recvfrom::<SockaddrIn>(fd.as_raw_fd(), &mut buf) else {
                continue;
            };
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            let icmp = &buf[ihl.min(n)..n];
            if from.map(|f| f.ip()) == Some(dst)
                && icmp.len() >= 8
                && icmp[0] == 0
                && icmp[4..6] == id.to_be_bytes()
            {
                return Ok(true);
            }
        }
        Ok(false)
    })
}

/// node1 alone at 100 ms, SIGKILLed: nobody takes over, so the window between its gate's
/// end and its address lease's end is wide. In it the client's ARP requests go
/// unanswered and its pings get no reply (traffic to the VIP is dropped by the `in`
/// chain even when the client still has node1's MAC cached), while node1 still holds
/// the address. Before the kill, both are answered (the control).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_drops_traffic_of_a_killed_master_that_keeps_its_address() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let v4: std::net::Ipv4Addr = "192.0.2.20".parse()?;
    let vip = IpAddr::V4(v4);
    let h1 = lab.node("node1")?;
    let n1 = spawn(
        &lab,
        dir.path(),
        "node1",
        "a",
        &config(150, "192.0.2.20/32", ""),
    )?;
    elected(h1, &n1, vip).await?;
    let mut answered = false;
    for i in 0..20 {
        if ping(&lab, v4, 0x7000 + i, Duration::from_millis(100))? {
            answered = true;
            break;
        }
    }
    ensure!(
        answered,
        "the live master never answered a ping\n{}",
        logs(&[&n1])
    );

    let history = History::new();
    let clock = history.clock();
    let p = probe::start(&lab, &[vip], PROBE_EVERY, history.clone())?;
    let killed = Instant::now();
    h1.signal(n1.pid, "SIGKILL".parse()?)?;
    // Past the gate's end (counted from before the kill, so from later than the last
    // advert) and a few probe rounds.
    let closed = gate_end(killed, Version::V3, 150, INTERVAL) + 5 * PROBE_EVERY;
    wait_for(SLACK, || async { Ok(Instant::now() >= closed) }).await?;
    let replied = ping(&lab, v4, 0x7100, Duration::from_millis(50))?;
    let still_holds = holds(h1, vip).await?;
    let checked = Instant::now();
    p.stop()?;
    let gaps = gaps(&history);
    ensure!(gaps.is_empty(), "the client probe was blind: {gaps:?}");
    let after_close = Duration::from_nanos(clock.at(closed));
    let rs = rounds(&history, vip);
    let late: Vec<_> = rs
        .iter()
        .filter(|(t, n)| *t >= after_close && !n.is_empty())
        .collect();
    let silent = rs.iter().filter(|(t, _)| *t >= after_close).count();
    println!(
        "checked {:?} after SIGKILL: ping replied {replied}, address held {still_holds}, {silent} silent rounds",
        checked - killed
    );
    ensure!(!replied, "the killed master answered a ping past its gate");
    ensure!(
        late.is_empty(),
        "the killed master answered ARP past its gate: {late:?}"
    );
    ensure!(silent > 0, "no probe round past the gate's end");
    ensure!(
        still_holds,
        "node1 had lost the address already: the lease, not the gate, silenced it"
    );
    let _ = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;
    Ok(())
}
