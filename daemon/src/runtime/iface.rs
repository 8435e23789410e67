//! What the daemon needs to know about its interfaces, read over rtnetlink: index,
//! MAC, whether the link is up, the primary IPv4 address and the IPv6 link-local
//! address; and link events (`RTNLGRP_LINK`) for track_interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;

use crate::vip::{AddrEntry, VipManager};
use crate::wire::Mac;

/// `IFA_F_SECONDARY`.
const IFA_F_SECONDARY: u32 = 0x01;
/// `IFA_F_DADFAILED`.
const IFA_F_DADFAILED: u32 = 0x08;
/// `IFA_F_TENTATIVE`.
const IFA_F_TENTATIVE: u32 = 0x40;

/// One interface as the daemon uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfInfo {
    /// Name.
    pub name: String,
    /// Index.
    pub index: u32,
    /// Hardware address (zero when the link has none).
    pub mac: Mac,
    /// Administratively up and carrier present.
    pub up: bool,
    /// Primary IPv4 address (first non-secondary address not added by vrrpd).
    pub v4: Option<Ipv4Addr>,
    /// Usable (not tentative) IPv6 link-local address.
    pub ll6: Option<Ipv6Addr>,
}

/// Why an interface could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum IfError {
    /// No such interface.
    #[error("no interface named {0:?}")]
    Missing(String),
    /// Netlink failed.
    #[error("netlink: {0}")]
    Netlink(String),
}

/// Whether link flags mean "usable": up and with carrier.
pub fn flags_up(flags: LinkFlags) -> bool {
    flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp)
}

/// Name, index and up-ness of a link message.
pub fn link_state(msg: &LinkMessage) -> (u32, Option<String>, bool) {
    let name = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    });
    (msg.header.index, name, flags_up(msg.header.flags))
}

/// A link event from the kernel: `(index, name, up)`, or `None` for other messages.
/// A deleted link reports `up = false`.
pub fn link_event(msg: &RouteNetlinkMessage) -> Option<(u32, Option<String>, bool)> {
    match msg {
        RouteNetlinkMessage::NewLink(l) => Some(link_state(l)),
        RouteNetlinkMessage::DelLink(l) => {
            let (i, n, _) = link_state(l);
            Some((i, n, false))
        }
        _ => None,
    }
}

/// Picks the primary IPv4 and the usable link-local IPv6 address of `ifindex`.
pub fn pick_addresses(entries: &[AddrEntry], ifindex: u32) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    let mut v4 = None;
    let mut ll6 = None;
    for e in entries
        .iter()
        .filter(|e| e.ifindex == ifindex && !e.is_marked())
    {
        match e.addr {
            IpAddr::V4(a) if v4.is_none() && e.flags & IFA_F_SECONDARY == 0 => v4 = Some(a),
            IpAddr::V6(a)
                if ll6.is_none()
                    && (a.segments()[0] & 0xffc0) == 0xfe80
                    && e.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0 =>
            {
                ll6 = Some(a)
            }
            _ => {}
        }
    }
    (v4, ll6)
}

/// Looks `name` up.
pub async fn lookup(
    handle: &rtnetlink::Handle,
    vips: &VipManager,
    name: &str,
) -> Result<IfInfo, IfError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    let link = match links.try_next().await {
        Ok(Some(l)) => l,
        Ok(None) => return Err(IfError::Missing(name.to_owned())),
        Err(rtnetlink::Error::NetlinkError(e))
            if e.code.map(|c| c.get().abs()) == Some(libc::ENODEV) =>
        {
            return Err(IfError::Missing(name.to_owned()))
        }
        Err(e) => return Err(IfError::Netlink(e.to_string())),
    };
    let mac = link
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(b) => Mac::from_slice(b),
            _ => None,
        })
        .unwrap_or(Mac::ZERO);
    let index = link.header.index;
    let entries = vips
        .list(Some(index))
        .await
        .map_err(|e| IfError::Netlink(e.to_string()))?;
    let (v4, ll6) = pick_addresses(&entries, index);
    Ok(IfInfo {
        name: name.to_owned(),
        index,
        mac,
        up: flags_up(link.header.flags),
        v4,
        ll6,
    })
}

/// Looks `name` up, waiting up to `patience` for the addresses `need_v4` / `need_ll6`
/// asks for (a fresh link-local address is tentative for a while).
pub async fn lookup_ready(
    handle: &rtnetlink::Handle,
    vips: &VipManager,
    name: &str,
    need_v4: bool,
    need_ll6: bool,
    patience: Duration,
) -> Result<IfInfo, IfError> {
    let deadline = Instant::now() + patience;
    loop {
        let info = lookup(handle, vips, name).await?;
        let ready = (!need_v4 || info.v4.is_some()) && (!need_ll6 || info.ll6.is_some());
        if ready || Instant::now() >= deadline {
            return Ok(info);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ifindex: u32, addr: &str, flags: u32, proto: Option<u8>) -> AddrEntry {
        AddrEntry {
            ifindex,
            addr: addr.parse().unwrap(),
            prefix_len: 24,
            proto,
            label: None,
            valid_lft: None,
            preferred_lft: None,
            flags,
        }
    }

    #[test]
    fn primary_and_link_local_are_chosen_carefully() {
        let entries = [
            entry(2, "192.0.2.20", 0, Some(crate::vip::VRPD_IFA_PROTO)),
            entry(3, "198.51.100.1", 0, None),
            entry(2, "192.0.2.99", IFA_F_SECONDARY, None),
            entry(2, "192.0.2.11", 0, None),
            entry(2, "fe80::1", IFA_F_TENTATIVE, None),
            entry(2, "2001:db8::11", 0, None),
            entry(2, "fe80::2", 0, None),
        ];
        let (v4, ll6) = pick_addresses(&entries, 2);
        assert_eq!(v4, Some("192.0.2.11".parse().unwrap()));
        assert_eq!(ll6, Some("fe80::2".parse().unwrap()));
        assert_eq!(pick_addresses(&entries, 9), (None, None));
    }

    #[test]
    fn up_needs_admin_up_and_carrier() {
        assert!(flags_up(
            LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running
        ));
        assert!(!flags_up(LinkFlags::Up));
        assert!(!flags_up(LinkFlags::LowerUp));
    }
}
