//! Observers: they watch the lab and append to the history; they never judge.
//!
//! - [`addr`]: every address change and every link change that matters for holding a
//!   VIP (admin and operational state, protodown, a macvlan's lower link) on every node,
//!   through netlink events;
//! - [`capture`]: every frame on the segment, into `capture.pcap` (pcapng, one interface
//!   per bridge port) and the history, each attributed to the port it came in by;
//! - [`probe`]: what a client sees, asking the segment who holds each VIP, each answer
//!   attributed to the node whose port it came in by ([`ingress`]).

pub mod addr;
pub mod capture;
pub mod decode;
pub mod ingress;
pub mod link;
pub mod packet;
pub mod probe;
