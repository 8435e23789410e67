//! Builders for synthetic histories in the checkers' tests.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::check::Ctx;
use vrrpd::wire::Mac;

use crate::history::{
    AddrChange, DaemonEvent, Event, EventKind, FrameSummary, GateChange, LinkChange, ProbeAnswer,
};

pub const MAC1: &str = "02:00:00:00:00:01";
pub const MAC2: &str = "02:00:00:00:00:02";
pub const IP1: &str = "192.0.2.11";
pub const IP2: &str = "192.0.2.12";

/// A MAC from its text.
pub fn to_mac(s: &str) -> Mac {
    s.parse().expect("a MAC address")
}

pub fn ms(v: u64) -> u64 {
    v * 1_000_000
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn vip4() -> IpAddr {
    ip("192.0.2.20")
}

pub fn ev(t_ns: u64, kind: EventKind) -> Event {
    Event {
        t_ns,
        wall_ns: u128::from(t_ns),
        kind,
    }
}

pub fn addr(t_ns: u64, node: &str, change: AddrChange, a: IpAddr) -> Event {
    ev(
        t_ns,
        EventKind::Addr {
            node: node.into(),
            ifname: "eth1".into(),
            change,
            addr: a,
            prefix_len: 24,
            valid_lft: u32::MAX,
            proto: None,
            label: None,
        },
    )
}

pub fn gap(t_ns: u64, node: &str, from_ns: u64) -> Event {
    ev(
        t_ns,
        EventKind::AddrGap {
            node: node.into(),
            from_ns,
            reason: "netlink overrun".into(),
        },
    )
}

/// A gate event of `node` for the test VIP.
pub fn gate(t_ns: u64, node: &str, change: GateChange) -> Event {
    ev(
        t_ns,
        EventKind::Gate {
            node: node.into(),
            vip: vip4(),
            change,
        },
    )
}

/// The gate of `node` opened (or refreshed) at `t_ns` for `for_ms`.
pub fn open_for(t_ns: u64, node: &str, for_ms: u64) -> Event {
    gate(
        t_ns,
        node,
        GateChange::OpenUntil {
            until_ns: t_ns + ms(for_ms),
        },
    )
}

pub fn note(t_ns: u64) -> Event {
    ev(t_ns, EventKind::Note { text: "end".into() })
}

pub fn frame(t_ns: u64, frame: FrameSummary) -> Event {
    ev(
        t_ns,
        EventKind::Frame {
            index: 0,
            from: None,
            frame,
        },
    )
}

/// A valid VRRPv3 advert for VRID 1 carrying the test VIP.
pub fn advert(t_ns: u64, mac: &str, src: &str, priority: u8) -> Event {
    frame(
        t_ns,
        FrameSummary::Vrrp {
            src_mac: to_mac(mac),
            src: ip(src),
            dst: ip("224.0.0.18"),
            ttl: 255,
            version: 3,
            vrid: 1,
            priority,
            interval: 100,
            addrs: vec![vip4()],
            error: None,
        },
    )
}

/// Adverts from `mac`/`src` every second in `[from_ms, to_ms]`.
pub fn adverts_every_second(from_ms: u64, to_ms: u64, mac: &str, src: &str) -> Vec<Event> {
    (from_ms..=to_ms)
        .step_by(1000)
        .map(|t| advert(ms(t), mac, src, 100))
        .collect()
}

pub fn garp(t_ns: u64, mac: &str, a: IpAddr) -> Event {
    frame(
        t_ns,
        FrameSummary::Arp {
            op: 1,
            src_mac: to_mac(mac),
            sender_mac: to_mac(mac),
            sender_ip: a,
            target_ip: a,
            gratuitous: true,
        },
    )
}

/// A probe answered by the nodes owning `macs` (MAC1: node1, MAC2: node2), each with
/// its own MAC.
pub fn probe(t_ns: u64, seq: u64, macs: &[&str]) -> Event {
    let answers: Vec<(&str, &str)> = macs
        .iter()
        .map(|m| (if *m == MAC1 { "node1" } else { "node2" }, *m))
        .collect();
    probe_from(t_ns, seq, &answers)
}

/// A probe answered by `(node, mac)` pairs, each attributed to the node's port.
pub fn probe_from(t_ns: u64, seq: u64, answers: &[(&str, &str)]) -> Event {
    ev(
        t_ns,
        EventKind::Probe {
            vip: vip4(),
            seq,
            answers: answers
                .iter()
                .map(|(n, m)| ProbeAnswer {
                    node: Some(n.to_string()),
                    mac: to_mac(m),
                    after_us: 300,
                })
                .collect(),
        },
    )
}

/// The RFC 5798 virtual MAC of VRID 51.
pub const VMAC: &str = "00:00:5e:00:01:33";

/// A link event: `ifname` on `node`, `up`/`oper_up`/`protodown` as given, over `lower`.
pub fn link(
    t_ns: u64,
    node: &str,
    ifname: &str,
    (up, oper_up, protodown): (bool, bool, bool),
    lower: Option<&str>,
) -> Event {
    ev(
        t_ns,
        EventKind::Link {
            node: node.into(),
            ifname: ifname.into(),
            change: LinkChange::Changed,
            up,
            oper_up,
            protodown,
            lower: lower.map(str::to_string),
            link_kind: lower.map(|_| "macvlan".to_string()),
            mac: Some(to_mac(if lower.is_some() { VMAC } else { MAC1 })),
        },
    )
}

/// An address event for `a` on interface `ifname`.
pub fn addr_on(t_ns: u64, node: &str, ifname: &str, change: AddrChange, a: IpAddr) -> Event {
    let mut e = addr(t_ns, node, change, a);
    if let EventKind::Addr { ifname: i, .. } = &mut e.kind {
        *i = ifname.to_string();
    }
    e
}

pub fn fault(t_ns: u64, node: &str, fault: &str) -> Event {
    ev(
        t_ns,
        EventKind::Fault {
            node: node.into(),
            fault: fault.into(),
            detail: String::new(),
        },
    )
}

pub fn daemon(t_ns: u64, node: &str, what: DaemonEvent) -> Event {
    ev(
        t_ns,
        EventKind::Daemon {
            node: node.into(),
            what,
            pid: 42,
            detail: String::new(),
        },
    )
}

/// Two nodes at priority 100 (backup) on VRRPv3 with 1 s adverts; the span and first
/// fault are read from `events`.
pub fn ctx(events: &[Event]) -> Ctx {
    let macs: BTreeMap<String, Mac> = [("node1", MAC1), ("node2", MAC2)]
        .into_iter()
        .map(|(n, m)| (n.to_string(), to_mac(m)))
        .collect();
    Ctx::new(
        vec![vip4()],
        macs,
        vrrpd::wire::vrrp::Version::V3,
        100,
        Duration::from_secs(1),
        events,
    )
}

/// Sorts by time, as `History::events` does.
pub fn sorted(mut v: Vec<Event>) -> Vec<Event> {
    v.sort_by_key(|e| e.t_ns);
    v
}
