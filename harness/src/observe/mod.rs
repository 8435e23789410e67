//! Observers: they watch the lab and append to the history; they never judge.
//!
//! - [`addr`]: every address change on every node, through netlink events;
//! - [`capture`]: every frame on the segment, into `capture.pcap` and the history;
//! - [`probe`]: what a client sees, asking the segment who holds each VIP.

pub mod addr;
pub mod capture;
pub mod decode;
pub mod packet;
pub mod probe;
