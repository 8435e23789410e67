//! Wire formats: typed views over raw bytes plus parsed representations.
//!
//! Every protocol module follows the same shape:
//!
//! * a private `field` module with the byte ranges of each header field;
//! * a typed view `Packet<T: AsRef<[u8]>>` (or `Frame`) with `new_unchecked`,
//!   `new_checked` (length checks), field getters, and setters when
//!   `T: AsMut<[u8]>`;
//! * a parsed `Repr` with `parse`, `emit` and `buffer_len`, and `Display`;
//! * a plain error enum.
//!
//! Parsing never panics, whatever the bytes: every `parse` checks lengths before it
//! touches a field. The getters of a view built with `new_unchecked` index the buffer
//! directly, so only use them on a view that passed `new_checked` (or `check_len`).
//!
//! [`frame::decode`] ties the modules together for captured Ethernet frames; the
//! harness uses it on pcap captures and the daemon uses the same code on the wire.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod frame;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod vrrp;

pub use ethernet::{EtherType, Mac, MacParseError};

use std::net::IpAddr;

/// An IP address family: the one family type of the crate (an instance's family is that
/// of its VIPs). Serialises as `"ipv4"` / `"ipv6"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (VRRP over IPv4, ARP announcements).
    Ipv4,
    /// IPv6 (VRRPv3 over IPv6, neighbour advertisements).
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Human name used in messages: `IPv4` or `IPv6` (as [`Display`](std::fmt::Display)).
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }

    /// Length in bytes of one address of this family (4 or 16).
    pub fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
