//! Privileged test of the gate observer (issue 14): a node's namespace gets vrrpd's
//! `inet vrrpd` table, written here with vrrpd's own batch builder and socket (no `nft`
//! CLI); the observer must see every change, and the holder timeline must end a lease
//! when it expires, which the kernel does without any notification.
//! Fails with one clear line when not run as root.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use vrrpd::gate::{Batch, LiveElem};
use vrrpd::runtime::gate::GateSocket;
use vrrplab::check::holders_until;
use vrrplab::history::{Event, EventKind, GateChange, History};
use vrrplab::lab::topology::Topology;
use vrrplab::lab::{Host, Lab};
use vrrplab::observe::gate;

const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20);

/// Writes `b` in one nfnetlink batch in `host`'s namespace with vrrpd's own builder and
/// socket (what the observer must understand is what vrrpd writes); fails on any error.
fn write(host: &Host, b: Batch) -> Result<()> {
    host.ns().run(move || {
        let mut s = GateSocket::open().context("nfnetlink socket")?;
        s.send(b).context("gate batch")
    })
}

/// A batch made by `f`.
fn batch(f: impl FnOnce(&mut Batch)) -> Batch {
    let mut b = Batch::new();
    f(&mut b);
    b
}

/// Opens (or refreshes) the gate of `addr` for `ms`.
fn open(addr: IpAddr, ms: u64) -> Batch {
    batch(|b| {
        b.open(&[LiveElem {
            addr,
            timeout: Duration::from_millis(ms),
        }])
    })
}

fn gate_events(h: &History, node: &str) -> Vec<(u64, IpAddr, GateChange)> {
    h.events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Gate {
                node: n,
                vip,
                change,
            } if n == node => Some((e.t_ns, vip, change)),
            _ => None,
        })
        .collect()
}

/// Waits (10 ms polls, generous deadline) until the node's gate events number `n`.
async fn wait_events(h: &History, node: &str, n: usize) -> Vec<(u64, IpAddr, GateChange)> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let ev = gate_events(h, node);
        if ev.len() >= n {
            return ev;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} gate events: {ev:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn until_of(c: GateChange) -> u64 {
    match c {
        GateChange::OpenUntil { until_ns } => until_ns,
        c => panic!("expected an open gate, got {c:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_observer_sees_vrrpd_sets_and_expiry_is_computed() {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, true)).await.unwrap();
    let node = lab.node("node1").unwrap();
    let name = node.name().to_string();
    let history = History::new();
    let (v4, v6) = (IpAddr::V4(V4), IpAddr::V6(V6));

    // No table yet: the first dump says nothing. The address monitor runs too (holders).
    let mon = vrrplab::observe::start_node(node, history.clone())
        .await
        .unwrap();
    assert!(gate_events(&history, &name).is_empty());
    node.add_address(v4, 24).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !history
        .events()
        .iter()
        .any(|e| matches!(e.kind, EventKind::Addr { addr, .. } if addr == v4))
    {
        assert!(
            Instant::now() < deadline,
            "the address monitor never saw {v4}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // vrrpd's start-up: table, sets, the managed VIPs, in one batch.
    write(node, batch(|b| b.reconcile(&[v4, v6]))).unwrap();
    let ev = wait_events(&history, &name, 2).await;
    assert_eq!(
        ev.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(v4, GateChange::Managed), (v6, GateChange::Managed)]
    );

    // Open for 300 ms, then refresh in place (no NLM_F_EXCL): a second notification.
    let t0 = history.clock().now_ns();
    write(node, open(v4, 300)).unwrap();
    let ev = wait_events(&history, &name, 3).await;
    let first = until_of(ev[2].2);
    assert!(
        first >= t0 + 300_000_000,
        "until {first} before {t0} + 300 ms"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    write(node, open(v4, 300)).unwrap();
    let ev = wait_events(&history, &name, 4).await;
    let until = until_of(ev[3].2);
    assert!(
        until >= first + 90_000_000,
        "refresh did not extend: {first} -> {until}"
    );

    // An IPv6 lease opened and closed on purpose.
    write(node, open(v6, 5000)).unwrap();
    write(node, batch(|b| b.close(&[v6]))).unwrap();
    let ev = wait_events(&history, &name, 6).await;
    assert!(
        matches!(ev[4], (_, a, GateChange::OpenUntil { .. }) if a == v6),
        "{ev:?}"
    );
    assert_eq!((ev[5].1, ev[5].2), (v6, GateChange::Closed));

    // Let the v4 lease expire: no notification, and the kernel agrees (a fresh dump).
    while history.clock().now_ns() < until + 50_000_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        gate_events(&history, &name).len(),
        6,
        "expiry must send nothing"
    );
    let second = History::new();
    let check = gate::start(node, second.clone()).await.unwrap();
    assert_eq!(
        gate_events(&second, &name)
            .into_iter()
            .map(|e| (e.1, e.2))
            .collect::<Vec<_>>(),
        vec![(v4, GateChange::Managed), (v6, GateChange::Managed)],
        "the kernel still has a live element after the computed expiry"
    );
    drop(check);

    // The judge: held from the open until the computed expiry, gated after it.
    let now = history.clock().now_ns();
    let events: Vec<Event> = history.events();
    let tl = holders_until(&events, v4, now);
    let set = |n: &[&str]| {
        n.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        tl.at(ev[2].0 - 1),
        set(&[]),
        "managed, address there, gate not yet open"
    );
    assert_eq!(tl.at(ev[2].0), set(&["node1"]));
    assert_eq!(tl.at(until - 1), set(&["node1"]));
    assert_eq!(
        tl.at(until),
        set(&[]),
        "expired at {until}: {:?}",
        tl.intervals
    );
    let last = tl.intervals.last().unwrap();
    assert_eq!(last.gated, set(&["node1"]), "{:?}", tl.intervals);

    // Clean exit: the table goes, the VIPs are no longer managed, the address counts.
    write(node, batch(Batch::teardown)).unwrap();
    let ev = wait_events(&history, &name, 8).await;
    let mut tail: Vec<_> = ev[6..].iter().map(|e| (e.1, e.2)).collect();
    tail.sort_by_key(|e| e.0);
    assert_eq!(
        tail,
        vec![(v4, GateChange::Unmanaged), (v6, GateChange::Unmanaged)]
    );
    let events = history.events();
    assert_eq!(
        holders_until(&events, v4, history.clock().now_ns()).at_end(),
        set(&["node1"])
    );
    drop(mon);
    drop(lab);
}

/// A burst of notifications the monitor cannot read in time (its runtime is busy) overruns
/// its socket: the monitor records a gap, re-reads the sets and ends up knowing all of
/// them; holder checks over the gap are unknown.
#[tokio::test(flavor = "current_thread")]
async fn overrun_is_a_gap_and_the_sets_are_re_read() {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, true)).await.unwrap();
    let node = lab.node("node1").unwrap();
    let history = History::new();
    let mon = gate::start(node, history.clone()).await.unwrap();
    write(node, batch(|b| b.reconcile(&[]))).unwrap();
    // While this thread writes, the monitor (same runtime) cannot read.
    let vips: Vec<IpAddr> = (0..20_000u16)
        .map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i)))
        .collect();
    for chunk in vips.chunks(500) {
        write(node, batch(|b| b.manage(chunk, true))).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let managed: std::collections::BTreeSet<IpAddr> = gate_events(&history, "node1")
            .into_iter()
            .filter(|e| e.2 == GateChange::Managed)
            .map(|e| e.1)
            .collect();
        let gap = history
            .events()
            .into_iter()
            .find(|e| matches!(e.kind, EventKind::GateGap { .. }));
        if let (true, Some(g)) = (managed.len() == vips.len(), &gap) {
            let tl = holders_until(&history.events(), vips[0], history.clock().now_ns());
            assert!(
                !tl.holes_in(g.t_ns - 1, g.t_ns).is_empty(),
                "the overrun must make the holders unknown: {:?}",
                tl.holes
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the burst: {} of {} managed VIPs known, gap recorded: {}",
            managed.len(),
            vips.len(),
            gap.is_some()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(mon);
    drop(lab);
}
