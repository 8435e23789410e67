//! Observers: they watch the lab and append to the history; they never judge.
//!
//! - [`addr`]: every address change and every link change that matters for holding a
//!   VIP (admin and operational state, protodown, a macvlan's lower link) on every node,
//!   through netlink events;
//! - [`gate`]: what each node's nftables gate (vrrpd's `inet vrrpd` table) lets through,
//!   through nfnetlink notifications;
//! - [`capture`]: every frame on the segment, into `capture.pcap` (pcapng, one interface
//!   per bridge port) and the history, each attributed to the port it came in by;
//! - [`probe`]: what a client sees, asking the segment who holds each VIP, each answer
//!   attributed to the node whose port it came in by ([`ingress`]).

pub mod addr;
pub mod capture;
pub mod decode;
pub mod gate;
pub mod ingress;
pub mod link;
pub mod packet;
pub mod probe;

use anyhow::Result;

use crate::history::History;
use crate::lab::Host;

/// The observers of one node's state (addresses and links, gate); they stop when dropped.
#[derive(Debug)]
pub struct NodeMonitor {
    /// Addresses and links.
    pub addr: addr::AddrMonitor,
    /// The nftables gate.
    pub gate: gate::GateMonitor,
}

/// Starts every per-node observer of `host`; returns once each has read the initial state.
pub async fn start_node(host: &Host, history: History) -> Result<NodeMonitor> {
    Ok(NodeMonitor {
        gate: gate::start(host, history.clone()).await?,
        addr: addr::start(host, history).await?,
    })
}
