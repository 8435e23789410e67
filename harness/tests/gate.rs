//! Privileged test of the gate observer (issue 14): a node's namespace gets vrrpd's
//! `inet vrrpd` table, written here through nfnetlink batches (as vrrpd does, no `nft`
//! CLI); the observer must see every change, and the holder timeline must end a lease
//! when it expires, which the kernel does without any notification.
//! Fails with one clear line when not run as root.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE,
    NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    DataAttribute, ListAttribute, NfTablesMessage, SetAttribute, SetElementAttribute,
    SetElementList, SetElementMessage, SetFlags, SetMessage, TableAttribute, TableMessage,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use vrrplab::check::holders_until;
use vrrplab::history::{Event, EventKind, GateChange, History};
use vrrplab::lab::topology::Topology;
use vrrplab::lab::{Host, Lab};
use vrrplab::observe::gate;

const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20);
const NFNL_SUBSYS_NFTABLES: u16 = 10;

fn msg(
    family: NetfilterProtoFamily,
    m: NfTablesMessage,
    flags: u16,
) -> NetlinkMessage<NetfilterMessage> {
    let mut n = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(NetfilterMessage::new(NetfilterHeader::new(family, 0, 0), m)),
    );
    n.header.flags = flags;
    n
}

fn control(c: ControlMessage) -> NetlinkMessage<NetfilterMessage> {
    let mut n = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
            c,
        )),
    );
    n.header.flags = NLM_F_REQUEST;
    n
}

fn key(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn elems(set: &str, a: IpAddr, timeout_ms: Option<u64>) -> SetElementMessage {
    let mut attrs = vec![SetElementAttribute::Key(DataAttribute::Value(key(a)))];
    if let Some(t) = timeout_ms {
        attrs.push(SetElementAttribute::Timeout(t));
        attrs.push(SetElementAttribute::Expiration(t));
    }
    SetElementMessage {
        attributes: vec![
            SetElementList::Table("vrrpd".into()),
            SetElementList::Set(set.into()),
            SetElementList::Elements(vec![ListAttribute::Element(attrs)]),
        ],
    }
}

/// One change to the gate table, as vrrpd would write it.
enum Op {
    Create,
    Add(&'static str, IpAddr, Option<u64>),
    Del(&'static str, IpAddr),
    DropTable,
}

fn to_msg(op: &Op) -> NetlinkMessage<NetfilterMessage> {
    let inet = NetfilterProtoFamily::Inet;
    let req = NLM_F_REQUEST | NLM_F_ACK;
    match op {
        Op::Create => unreachable!("expanded by batch()"),
        Op::Add(set, a, t) => msg(
            inet,
            NfTablesMessage::NewSetElement(elems(set, *a, *t)),
            req | NLM_F_CREATE,
        ),
        Op::Del(set, a) => msg(
            inet,
            NfTablesMessage::DeleteSetElement(elems(set, *a, None)),
            req,
        ),
        Op::DropTable => msg(
            inet,
            NfTablesMessage::DeleteTable(TableMessage {
                attributes: vec![TableAttribute::Name("vrrpd".into())],
            }),
            req,
        ),
    }
}

fn create_msgs() -> Vec<NetlinkMessage<NetfilterMessage>> {
    let inet = NetfilterProtoFamily::Inet;
    let req = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
    let mut v = vec![msg(
        inet,
        NfTablesMessage::NewTable(TableMessage {
            attributes: vec![TableAttribute::Name("vrrpd".into())],
        }),
        req,
    )];
    for (id, (name, ty, len, timeout)) in [
        ("vips4", 7, 4, false),
        ("vips6", 8, 16, false),
        ("live4", 7, 4, true),
        ("live6", 8, 16, true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut attributes = vec![
            SetAttribute::Table("vrrpd".into()),
            SetAttribute::Name(name.into()),
            SetAttribute::KeyType(ty),
            SetAttribute::KeyLen(len),
            SetAttribute::Id(id as u32 + 1),
        ];
        if timeout {
            attributes.push(SetAttribute::Flags(SetFlags::Timeout));
        }
        v.push(msg(
            inet,
            NfTablesMessage::NewSet(SetMessage { attributes }),
            req,
        ));
    }
    v
}

/// Writes `ops` in one nfnetlink batch in `host`'s namespace; fails on any error answer.
fn batch(host: &Host, ops: &[Op]) -> Result<()> {
    let mut msgs = vec![control(ControlMessage::BatchBegin)];
    for op in ops {
        match op {
            Op::Create => msgs.extend(create_msgs()),
            op => msgs.push(to_msg(op)),
        }
    }
    // Only the last change asks for an ack (errors come anyway): a big batch must not
    // overrun this socket with acks.
    let last = msgs.len() - 1;
    for m in &mut msgs[1..last] {
        m.header.flags &= !NLM_F_ACK;
    }
    msgs[last].header.flags |= NLM_F_ACK;
    msgs.push(control(ControlMessage::BatchEnd));
    let mut buf = Vec::new();
    let mut acks = 0;
    for (seq, m) in msgs.iter_mut().enumerate() {
        m.header.sequence_number = seq as u32 + 1;
        m.finalize();
        if m.header.flags & NLM_F_ACK != 0 {
            acks += 1;
        }
        let mut b = vec![0; m.buffer_len()];
        m.serialize(&mut b);
        buf.extend(b);
    }
    host.ns().run(move || {
        let mut s = Socket::new(NETLINK_NETFILTER).context("nfnetlink socket")?;
        s.bind_auto()?;
        s.connect(&SocketAddr::new(0, 0))?;
        s.send(&buf, 0).context("send batch")?;
        while acks > 0 {
            let (data, _) = s.recv_from_full().context("batch answer")?;
            let mut off = 0;
            while off < data.len() {
                let len = NetlinkBuffer::new(&data[off..]).length() as usize;
                let m = NetlinkMessage::<NetfilterMessage>::deserialize(&data[off..off + len])
                    .context("parse answer")?;
                if let NetlinkPayload::Error(e) = m.payload {
                    if let Some(code) = e.code {
                        bail!(
                            "nfnetlink error on message {}: {}",
                            m.header.sequence_number,
                            std::io::Error::from_raw_os_error(-code.get())
                        );
                    }
                    acks -= 1;
                }
                off += (len + 3) & !3;
            }
        }
        Ok(())
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
    batch(
        node,
        &[
            Op::Create,
            Op::Add("vips4", v4, None),
            Op::Add("vips6", v6, None),
        ],
    )
    .unwrap();
    let ev = wait_events(&history, &name, 2).await;
    assert_eq!(
        ev.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(v4, GateChange::Managed), (v6, GateChange::Managed)]
    );

    // Open for 300 ms, then refresh in place (no NLM_F_EXCL): a second notification.
    let t0 = history.clock().now_ns();
    batch(node, &[Op::Add("live4", v4, Some(300))]).unwrap();
    let ev = wait_events(&history, &name, 3).await;
    let first = until_of(ev[2].2);
    assert!(
        first >= t0 + 300_000_000,
        "until {first} before {t0} + 300 ms"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    batch(node, &[Op::Add("live4", v4, Some(300))]).unwrap();
    let ev = wait_events(&history, &name, 4).await;
    let until = until_of(ev[3].2);
    assert!(
        until >= first + 90_000_000,
        "refresh did not extend: {first} -> {until}"
    );

    // An IPv6 lease opened and closed on purpose.
    batch(node, &[Op::Add("live6", v6, Some(5000))]).unwrap();
    batch(node, &[Op::Del("live6", v6)]).unwrap();
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
    batch(node, &[Op::DropTable]).unwrap();
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
    batch(node, &[Op::Create]).unwrap();
    // While this thread writes, the monitor (same runtime) cannot read.
    let vips: Vec<IpAddr> = (0..20_000u16)
        .map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i)))
        .collect();
    for chunk in vips.chunks(500) {
        let ops: Vec<Op> = chunk.iter().map(|a| Op::Add("vips6", *a, None)).collect();
        batch(node, &ops).unwrap();
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
