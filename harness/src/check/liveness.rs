//! When a VIP on a node is *live*: the model behind the holder timeline.
//!
//! A node holds a VIP when the address is on a link of the segment that can answer for
//! it: the segment interface itself ([`SEGMENT_IFNAME`]) or a link stacked on it (a
//! macvlan whose lower link is `eth1`), and that link is administratively up,
//! operationally up and not protodown, and its lower link is up too. A VIP that is on
//! such a link while it is not live (a protodown macvlan of a FRR backup, a macvlan over
//! a downed `eth1`) is *present*: shown apart, never counted as held.
//!
//! The model is fed the history's [`EventKind::Addr`] and [`EventKind::Link`] events in
//! order. A link the history never described (a history recorded without link events)
//! counts as up, which is what holders meant before link events existed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::history::{AddrChange, EventKind, LinkChange};

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

/// One node's links and where the watched VIP sits.
#[derive(Debug, Clone, Default)]
struct Node {
    links: BTreeMap<String, LinkState>,
    /// Links the VIP is on.
    on: BTreeSet<String>,
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

    fn live(&self) -> bool {
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
}

impl Liveness {
    /// An empty model watching `vip`.
    pub fn new(vip: IpAddr) -> Liveness {
        Liveness {
            vip,
            nodes: BTreeMap::new(),
        }
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
            _ => false,
        }
    }

    /// The nodes where the VIP is live.
    pub fn holders(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.live())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The nodes where the VIP is on a segment link but not live on any.
    pub fn dormant(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.present() && !n.live())
            .map(|(name, _)| name.clone())
            .collect()
    }
}
