//! When a VIP on a node is *live*: the model behind the holder timeline.
//!
//! A node holds a VIP when the address is on a link of the segment that can answer for
//! it: the segment interface itself ([`SEGMENT_IFNAME`]) or a link stacked on it (a
//! macvlan whose lower link is `eth1`), and that link is administratively up,
//! operationally up and not protodown, and its lower link is up too. A VIP that is on
//! such a link while it is not live (a protodown macvlan of a FRR backup, a macvlan over
//! a downed `eth1`) is *present*: shown apart, never counted as held.
//!
//! A VIP that vrrpd gates with nftables (`docs/gate.md`) is live only while its gate is open:
//! it is *managed* (in the node's `vips` set) and then live iff its `live` element has
//! not expired nor been deleted. A present, usable address whose gate is closed is
//! *gated*: shown apart, never counted as held. A node the history has no gate event for
//! (keepalived, FRR) is never gated.
//!
//! The model is fed the history's [`EventKind::Addr`], [`EventKind::Link`] and
//! [`EventKind::Gate`] events in order, and the time ([`Liveness::set_now`]): a gate
//! expires without any event. A link the history never described (a history recorded
//! without link events) counts as up, which is what holders meant before link events
//! existed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::history::{AddrChange, EventKind, GateChange, LinkChange};

/// The interface on the shared segment that carries the VIPs.
pub const SEGMENT_IFNAME: &str = "eth1";

/// What the history says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LinkState {
    up: bool,
    oper_up: bool,
    protodown: bool,
    lower: Option<String>,
}

impl LinkState {
    fn usable(&self) -> bool {
        self.up && self.oper_up && !self.protodown
    }
}

/// Whether a node's gate lets the watched VIP's traffic through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Gate {
    /// The VIP is in the node's `vips` set.
    managed: bool,
    /// Its live element: `None` none, `Some(None)` without timeout, `Some(Some(t))`
    /// until run time `t` (exclusive).
    open: Option<Option<u64>>,
}

impl Gate {
    fn passes(&self, now_ns: u64) -> bool {
        !self.managed || self.open.is_some_and(|u| u.is_none_or(|u| now_ns < u))
    }
}

/// One node's links and where the watched VIP sits.
#[derive(Debug, Clone, Default)]
struct Node {
    links: BTreeMap<String, LinkState>,
    /// Links the VIP is on.
    on: BTreeSet<String>,
    gate: Gate,
}

impl Node {
    fn usable(&self, ifname: &str) -> bool {
        self.links.get(ifname).is_none_or(LinkState::usable)
    }

    /// Whether `ifname` reaches the segment: `eth1`, or a link whose lower link is.
    fn on_segment(&self, ifname: &str) -> bool {
        ifname == SEGMENT_IFNAME
            || self
                .links
                .get(ifname)
                .and_then(|l| l.lower.as_deref())
                .is_some_and(|lower| lower == SEGMENT_IFNAME)
    }

    fn live_on(&self, ifname: &str) -> bool {
        let lower_ok = self
            .links
            .get(ifname)
            .and_then(|l| l.lower.as_deref())
            .is_none_or(|lower| self.usable(lower));
        self.on_segment(ifname) && self.usable(ifname) && lower_ok
    }

    /// Live by its links alone (the gate aside).
    fn usable_here(&self) -> bool {
        self.on.iter().any(|i| self.live_on(i))
    }

    fn present(&self) -> bool {
        self.on.iter().any(|i| self.on_segment(i))
    }
}

/// The model for one VIP over all nodes.
#[derive(Debug, Clone)]
pub struct Liveness {
    vip: IpAddr,
    nodes: BTreeMap<String, Node>,
    now_ns: u64,
}

impl Liveness {
    /// An empty model watching `vip`.
    pub fn new(vip: IpAddr) -> Liveness {
        Liveness {
            vip,
            nodes: BTreeMap::new(),
            now_ns: 0,
        }
    }

    /// Sets the time at which [`Liveness::holders`] and the other sets are judged (gates
    /// expire with time).
    pub fn set_now(&mut self, now_ns: u64) {
        self.now_ns = now_ns;
    }

    /// The earliest instant after `after_ns` at which a node's gate for the VIP expires,
    /// if any.
    pub fn next_expiry_after(&self, after_ns: u64) -> Option<u64> {
        self.nodes
            .values()
            .filter(|n| n.gate.managed)
            .filter_map(|n| n.gate.open.flatten())
            .filter(|u| *u > after_ns)
            .min()
    }

    /// Applies one event; returns whether it can have changed who holds the VIP.
    pub fn apply(&mut self, kind: &EventKind) -> bool {
        match kind {
            EventKind::Addr {
                node,
                ifname,
                change,
                addr,
                ..
            } if *addr == self.vip => {
                let n = self.nodes.entry(node.clone()).or_default();
                match change {
                    AddrChange::Initial | AddrChange::Added | AddrChange::Refreshed => {
                        n.on.insert(ifname.clone());
                    }
                    AddrChange::Removed => {
                        n.on.remove(ifname);
                    }
                }
                true
            }
            EventKind::Link {
                node,
                ifname,
                change,
                up,
                oper_up,
                protodown,
                lower,
                ..
            } => {
                let n = self.nodes.entry(node.clone()).or_default();
                match change {
                    LinkChange::Removed => {
                        n.links.remove(ifname);
                        // Its addresses went with it.
                        n.on.remove(ifname);
                    }
                    LinkChange::Initial | LinkChange::Changed => {
                        n.links.insert(
                            ifname.clone(),
                            LinkState {
                                up: *up,
                                oper_up: *oper_up,
                                protodown: *protodown,
                                lower: lower.clone(),
                            },
                        );
                    }
                }
                true
            }
            EventKind::Gate { node, vip, change } if *vip == self.vip => {
                let g = &mut self.nodes.entry(node.clone()).or_default().gate;
                match change {
                    GateChange::Managed => g.managed = true,
                    GateChange::Unmanaged => g.managed = false,
                    GateChange::OpenUntil { until_ns } => g.open = Some(Some(*until_ns)),
                    GateChange::Open => g.open = Some(None),
                    GateChange::Closed => g.open = None,
                }
                true
            }
            _ => false,
        }
    }

    fn live(&self, n: &Node) -> bool {
        n.usable_here() && n.gate.passes(self.now_ns)
    }

    /// The nodes where the VIP is live.
    pub fn holders(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| self.live(n))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The nodes where the VIP is on a segment link but not live on any.
    pub fn dormant(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.present() && !n.usable_here())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The nodes where the VIP is on a usable segment link but its gate is closed.
    pub fn gated(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.usable_here() && !n.gate.passes(self.now_ns))
            .map(|(name, _)| name.clone())
            .collect()
    }
}
