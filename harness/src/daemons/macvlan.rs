//! The operator's part of a virtual-MAC VIP (FRR): a macvlan on eth1 with the virtual
//! MAC 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID), `addrgenmode random` set in a
//! separate request after creation, the VIPs on it, and `arp_ignore=1` on eth1 so eth1
//! does not answer ARP for the macvlan's addresses. All through rtnetlink, inside the
//! node's namespace.

use std::net::IpAddr;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, MacVlanMode,
};
use rtnetlink::{LinkMacVlan, LinkUnspec};

use crate::lab::Host;
use crate::scenario::NodeVrrp;

/// The virtual MAC of a virtual router (RFC 5798 §7.3).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// The macvlan's name: `vrrp4-51`, `vrrp6-51`.
pub fn link_name(vrid: u8, ipv6: bool) -> String {
    format!("vrrp{}-{vrid}", if ipv6 { 6 } else { 4 })
}

/// Creates the node's macvlan with its VIPs (unless it exists: a restart keeps it, as an
/// operator's interface config would) and sets `arp_ignore=1` on eth1.
pub async fn ensure(host: &Host, node: &NodeVrrp) -> Result<()> {
    if node.vips.is_empty() {
        return Ok(());
    }
    let ipv6 = node.is_ipv6();
    let name = link_name(node.vrid, ipv6);
    let h = host.netlink();
    let index = match existing(&h, &name).await? {
        Some(i) => i,
        None => create(host, node, &name, ipv6).await?,
    };
    for (addr, prefix) in &node.vips {
        add_address(&h, index, *addr, *prefix)
            .await
            .with_context(|| format!("add {addr}/{prefix} on {name} of {}", host.name()))?;
    }
    arp_ignore(host)
}

async fn existing(h: &rtnetlink::Handle, name: &str) -> Result<Option<u32>> {
    let mut s = h.link().get().match_name(name.to_string()).execute();
    match s.try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        // ENODEV: no such link.
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(e).context("look up link"),
    }
}

async fn create(host: &Host, node: &NodeVrrp, name: &str, ipv6: bool) -> Result<u32> {
    let h = host.netlink();
    let mac = virtual_mac(node.vrid, ipv6);
    h.link()
        .add(
            LinkMacVlan::new(name, host.ifindex(), MacVlanMode::Bridge)
                .address(mac.to_vec())
                .build(),
        )
        .execute()
        .await
        .with_context(|| format!("create macvlan {name} on {}", host.name()))?;
    let index = existing(&h, name)
        .await?
        .with_context(|| format!("macvlan {name} vanished after creation"))?;
    // addrgenmode random in its own request: set at creation, the kernel ignores it.
    let mut msg = LinkUnspec::new_with_index(index).build();
    msg.attributes
        .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![
            AfSpecInet6::AddrGenMode(In6AddrGenMode::Random),
        ])]));
    h.link()
        .set(msg)
        .execute()
        .await
        .with_context(|| format!("set addrgenmode random on {name}"))?;
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .with_context(|| format!("set {name} up"))?;
    Ok(index)
}

async fn add_address(h: &rtnetlink::Handle, index: u32, addr: IpAddr, prefix: u8) -> Result<()> {
    let mut req = h.address().add(index, addr, prefix);
    if addr.is_ipv6() {
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `net.ipv4.conf.eth1.arp_ignore = 1` inside the node (sysctls under /proc/sys/net
/// follow the opening thread's network namespace).
fn arp_ignore(host: &Host) -> Result<()> {
    host.ns().run(|| {
        std::fs::write("/proc/sys/net/ipv4/conf/eth1/arp_ignore", "1")
            .context("set arp_ignore=1 on eth1")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_macs_follow_the_rfc() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(51, true), [0, 0, 0x5e, 0, 2, 51]);
        assert_eq!(link_name(51, false), "vrrp4-51");
    }
}
