//! Builders for synthetic histories in the checkers' tests.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::check::Ctx;
use crate::history::{AddrChange, DaemonEvent, Event, EventKind, FrameSummary};

pub const MAC1: &str = "02:00:00:00:00:01";
pub const MAC2: &str = "02:00:00:00:00:02";
pub const IP1: &str = "192.0.2.11";
pub const IP2: &str = "192.0.2.12";

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

pub fn note(t_ns: u64) -> Event {
    ev(t_ns, EventKind::Note { text: "end".into() })
}

pub fn frame(t_ns: u64, frame: FrameSummary) -> Event {
    ev(t_ns, EventKind::Frame { index: 0, frame })
}

/// A valid VRRPv3 advert for VRID 1 carrying the test VIP.
pub fn advert(t_ns: u64, mac: &str, src: &str, priority: u8) -> Event {
    frame(
        t_ns,
        FrameSummary::Vrrp {
            src_mac: mac.into(),
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
            src_mac: mac.into(),
            sender_mac: mac.into(),
            sender_ip: a,
            target_ip: a,
            gratuitous: true,
        },
    )
}

pub fn probe(t_ns: u64, seq: u64, macs: &[&str]) -> Event {
    ev(
        t_ns,
        EventKind::Probe {
            vip: vip4(),
            seq,
            macs: macs.iter().map(|m| m.to_string()).collect(),
        },
    )
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
    let macs: BTreeMap<String, String> = [("node1", MAC1), ("node2", MAC2)]
        .into_iter()
        .map(|(n, m)| (n.to_string(), m.to_string()))
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
