//! Address snapshots of one namespace: structured, and rendered as stable text in the
//! manner of `ip addr` with everything that changes between runs normalised (ifindex,
//! MAC, IPv6 link-local addresses, exact lifetimes), fit for insta snapshots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags};
use serde::Serialize;

/// Lifetime value the kernel uses for "forever".
pub const INFINITE: u32 = u32::MAX;

/// One address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddrEntry {
    /// Interface index.
    pub ifindex: u32,
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// IPv4 label (`eth1:vr51`), if any.
    pub label: Option<String>,
    /// IFA_PROTO: who added it (vrrpd marks its VIPs), if set.
    pub proto: Option<u8>,
    /// Valid lifetime in seconds; [`INFINITE`] is forever.
    pub valid_lft: u32,
    /// Preferred lifetime in seconds; [`INFINITE`] is forever.
    pub preferred_lft: u32,
}

impl AddrEntry {
    /// Parses a kernel address message with vrrpd's parser (the one netlink address
    /// parser of the workspace). Messages without an address give `None`.
    pub fn from_message(m: &AddressMessage) -> Option<AddrEntry> {
        let e = vrrpd::vip::AddrEntry::from_message(m)?;
        Some(AddrEntry {
            ifindex: e.ifindex,
            addr: e.addr,
            prefix_len: e.prefix_len,
            label: e.label,
            proto: e.proto,
            valid_lft: e.valid_lft.unwrap_or(INFINITE),
            preferred_lft: e.preferred_lft.unwrap_or(INFINITE),
        })
    }

    /// Whether the kernel will remove this address by itself.
    pub fn is_leased(&self) -> bool {
        self.valid_lft != INFINITE
    }
}

/// One link of the namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkEntry {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub name: String,
    /// Administratively up.
    pub up: bool,
    /// MAC address, if the link has one.
    pub mac: Option<[u8; 6]>,
}

/// Every link and address of one namespace at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AddrSnapshot {
    /// Links, by ifindex.
    pub links: Vec<LinkEntry>,
    /// Addresses, in kernel order.
    pub entries: Vec<AddrEntry>,
}

/// Dumps links and addresses through `handle`.
pub async fn snapshot(handle: &rtnetlink::Handle) -> Result<AddrSnapshot> {
    let links: Vec<_> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .context("link dump")?;
    let addrs: Vec<_> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .context("address dump")?;
    let mut snap = AddrSnapshot::default();
    for l in &links {
        let mut name = String::new();
        let mut mac = None;
        for a in &l.attributes {
            match a {
                LinkAttribute::IfName(n) => name = n.clone(),
                LinkAttribute::Address(b) if b.len() == 6 => {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(b);
                    mac = Some(m);
                }
                _ => {}
            }
        }
        snap.links.push(LinkEntry {
            ifindex: l.header.index,
            name,
            up: l.header.flags.contains(LinkFlags::Up),
            mac,
        });
    }
    snap.entries = addrs.iter().filter_map(AddrEntry::from_message).collect();
    Ok(snap)
}

impl AddrSnapshot {
    /// Name of the link with this index.
    pub fn link_name(&self, ifindex: u32) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.ifindex == ifindex)
            .map(|l| l.name.as_str())
    }

    /// Stable text in the manner of `ip addr`: links by name, no ifindex, MAC as
    /// `<mac>`, IPv6 link-local as `fe80::<ll>/64`, lifetimes as `forever` or `finite`.
    pub fn render(&self) -> String {
        let mut by_link: BTreeMap<&str, (&LinkEntry, Vec<&AddrEntry>)> = BTreeMap::new();
        for l in &self.links {
            by_link.insert(&l.name, (l, Vec::new()));
        }
        for e in &self.entries {
            let name = self.link_name(e.ifindex).unwrap_or("?");
            if let Some((_, v)) = by_link.get_mut(name) {
                v.push(e);
            }
        }
        let mut out = String::new();
        for (name, (link, mut addrs)) in by_link {
            let state = if link.up { "UP" } else { "DOWN" };
            let _ = write!(out, "{name}: <{state}>");
            if link.mac.is_some() && name != "lo" {
                out.push_str(" link/ether <mac>");
            }
            out.push('\n');
            addrs.sort_by_key(|e| (e.addr.is_ipv6(), e.addr, e.prefix_len));
            for e in addrs {
                let fam = if e.addr.is_ipv4() { "inet" } else { "inet6" };
                let addr = match e.addr {
                    IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => "fe80::<ll>".into(),
                    a => a.to_string(),
                };
                let _ = write!(out, "    {fam} {addr}/{}", e.prefix_len);
                if let Some(l) = &e.label {
                    if l != name {
                        let _ = write!(out, " label {l}");
                    }
                }
                if let Some(p) = e.proto {
                    let _ = write!(out, " proto {p:#04x}");
                }
                let lft = if e.is_leased() { "finite" } else { "forever" };
                let _ = writeln!(out, " valid_lft {lft}");
            }
        }
        out
    }
}
