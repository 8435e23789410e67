//! The shape of a lab: its nodes, their names and addresses, validated before anything
//! is created.
//!
//! Default addressing (the seed article's hosts 192.168.33.11/.12 mapped into
//! documentation space): node *i* gets 192.0.2.(10+*i*) for *i* ≤ 9 and 192.0.2.(100+*i*)
//! above, so 192.0.2.20–.99 stay free for virtual IPs; the client is 192.0.2.250. IPv6,
//! when enabled, mirrors the last octet: node1 is 2001:db8::11.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// Largest lab the harness builds.
pub const MAX_NODES: usize = 64;

/// Longest node name: a Linux interface name is at most 15 bytes.
pub const MAX_NAME: usize = 15;

/// The client namespace's IPv4 address.
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 250);

/// The client namespace's IPv6 address.
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x250);

/// Prefix length of the segment (IPv4).
pub const PREFIX_V4: u8 = 24;

/// Prefix length of the segment (IPv6).
pub const PREFIX_V6: u8 = 64;

/// One node of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Its name (node1, node2, ...), at most 15 bytes.
    pub name: String,
    /// Its address on the segment.
    pub v4: Ipv4Addr,
    /// Its IPv6 address on the segment, if the lab has IPv6.
    pub v6: Option<Ipv6Addr>,
}

/// A whole lab: nodes on one segment, plus a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The nodes, in order.
    pub nodes: Vec<NodeSpec>,
    /// Whether nodes and client get IPv6 addresses too.
    pub ipv6: bool,
}

/// Why a topology cannot be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopologyError {
    /// Zero nodes, or more than [`MAX_NODES`].
    #[error("a lab needs 1 to {MAX_NODES} nodes, got {0}")]
    NodeCount(usize),
    /// Two nodes with one name.
    #[error("node name {0:?} is used twice")]
    DuplicateName(String),
    /// Empty name, over 15 bytes, or characters an interface name cannot hold.
    #[error("node name {0:?} is invalid: 1 to 15 bytes of letters, digits, '-' or '_'")]
    BadName(String),
    /// An address outside the documentation ranges the lab may use.
    #[error("address {0} is outside the lab ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)")]
    OutsideLab(IpAddr),
    /// Two nodes (or a node and the client) with one address.
    #[error("address {0} is used twice")]
    DuplicateAddress(IpAddr),
}

/// Whether an address is in the documentation ranges the lab is allowed to use.
pub fn in_lab_range(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            matches!(
                (o[0], o[1], o[2]),
                (192, 0, 2) | (198, 51, 100) | (203, 0, 113)
            )
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            s[0] == 0x2001 && s[1] == 0x0db8
        }
    }
}

/// The default address of node number `i` (1-based).
pub fn default_v4(i: usize) -> Ipv4Addr {
    let last = if i <= 9 { 10 + i } else { 100 + i };
    Ipv4Addr::new(192, 0, 2, last as u8)
}

/// The default IPv6 address of node `i`: the IPv4 last octet written as hex digits.
pub fn default_v6(i: usize) -> Ipv6Addr {
    let last = default_v4(i).octets()[3];
    let digits = format!("{last}");
    let seg = u16::from_str_radix(&digits, 16).unwrap_or(0);
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, seg)
}

impl Topology {
    /// `n` nodes named node1..nodeN with default addresses.
    pub fn with_nodes(n: usize, ipv6: bool) -> Topology {
        Topology {
            nodes: (1..=n)
                .map(|i| NodeSpec {
                    name: format!("node{i}"),
                    v4: default_v4(i),
                    v6: ipv6.then(|| default_v6(i)),
                })
                .collect(),
            ipv6,
        }
    }

    /// Checks everything that would make the lab impossible, before anything is created.
    pub fn validate(&self) -> Result<(), TopologyError> {
        if self.nodes.is_empty() || self.nodes.len() > MAX_NODES {
            return Err(TopologyError::NodeCount(self.nodes.len()));
        }
        let mut names = HashSet::new();
        let mut addrs: HashSet<IpAddr> = [IpAddr::V4(CLIENT_V4), IpAddr::V6(CLIENT_V6)].into();
        for n in &self.nodes {
            let ok = !n.name.is_empty()
                && n.name.len() <= MAX_NAME
                && n.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(TopologyError::BadName(n.name.clone()));
            }
            if !names.insert(n.name.as_str()) {
                return Err(TopologyError::DuplicateName(n.name.clone()));
            }
            let v4 = IpAddr::V4(n.v4);
            let all = std::iter::once(v4).chain(n.v6.map(IpAddr::V6));
            for a in all {
                if !in_lab_range(a) {
                    return Err(TopologyError::OutsideLab(a));
                }
                if !addrs.insert(a) {
                    return Err(TopologyError::DuplicateAddress(a));
                }
            }
        }
        Ok(())
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn seed_mapping() {
        let t = Topology::with_nodes(2, true);
        assert_eq!(t.nodes[0].v4, Ipv4Addr::new(192, 0, 2, 11));
        assert_eq!(t.nodes[1].v4, Ipv4Addr::new(192, 0, 2, 12));
        assert_eq!(t.nodes[0].v6, Some("2001:db8::11".parse().unwrap()));
        t.validate().unwrap();
    }

    #[test]
    fn largest_lab_keeps_vip_range_free() {
        let t = Topology::with_nodes(MAX_NODES, true);
        t.validate().unwrap();
        for n in &t.nodes {
            let last = n.v4.octets()[3];
            assert!(!(20..100).contains(&last), "{} took VIP space", n.name);
        }
    }

    #[rstest]
    #[case::zero(Topology::with_nodes(0, false), TopologyError::NodeCount(0))]
    #[case::too_many(Topology::with_nodes(65, false), TopologyError::NodeCount(65))]
    fn impossible_counts(#[case] t: Topology, #[case] e: TopologyError) {
        assert_eq!(t.validate(), Err(e));
    }

    #[test]
    fn duplicate_names() {
        let mut t = Topology::with_nodes(2, false);
        t.nodes[1].name = "node1".into();
        assert_eq!(
            t.validate(),
            Err(TopologyError::DuplicateName("node1".into()))
        );
    }

    #[rstest]
    #[case("a-name-of-16-byt")]
    #[case("")]
    #[case("bad name")]
    #[case("x/y")]
    fn bad_names(#[case] name: &str) {
        let mut t = Topology::with_nodes(2, false);
        t.nodes[0].name = name.into();
        assert_eq!(t.validate(), Err(TopologyError::BadName(name.into())));
    }

    #[rstest]
    #[case("10.0.0.1")]
    #[case("192.168.33.11")]
    #[case("8.8.8.8")]
    fn outside_lab(#[case] a: Ipv4Addr) {
        let mut t = Topology::with_nodes(2, false);
        t.nodes[0].v4 = a;
        assert_eq!(t.validate(), Err(TopologyError::OutsideLab(IpAddr::V4(a))));
    }

    #[test]
    fn outside_lab_v6_and_duplicates() {
        let mut t = Topology::with_nodes(2, true);
        t.nodes[0].v6 = Some("fd00::1".parse().unwrap());
        assert!(matches!(t.validate(), Err(TopologyError::OutsideLab(_))));
        let mut t = Topology::with_nodes(2, false);
        t.nodes[1].v4 = t.nodes[0].v4;
        assert!(matches!(
            t.validate(),
            Err(TopologyError::DuplicateAddress(_))
        ));
        let mut t = Topology::with_nodes(2, false);
        t.nodes[1].v4 = CLIENT_V4;
        assert!(matches!(
            t.validate(),
            Err(TopologyError::DuplicateAddress(_))
        ));
    }
}
