//! Virtual-MAC mode: a macvlan per virtual router that carries its VIPs and answers
//! for them with the RFC 5798 virtual MAC (00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID),
//! as keepalived's `use_vmac` does.
//!
//! The link is vrrpd's the way its VIPs are: created and removed here over rtnetlink,
//! and marked so a later run can tell it apart from anybody else's. A link is ours when
//! all of these hold (see [`is_ours`]):
//!
//! * its name starts with [`NAME_PREFIX`] (`vrrpd4.<VRID>` / `vrrpd6.<VRID>`);
//! * it is a macvlan;
//! * its MAC is a VRRP virtual MAC;
//! * its alias (`IFLA_IFALIAS`) is [`ALIAS_MARK`].
//!
//! Lifecycle and the stale-VIP promise:
//!
//! * The link is created (mode bridge, down), its IPv6 address generation is switched
//!   off in a second request (no link-local: two nodes share the MAC, so an EUI-64
//!   link-local would be a duplicate), `arp_ignore=1` is set on it and on its lower
//!   link (so neither answers ARP for the other's addresses), and it is set up. It stays
//!   up, without addresses, while the router is BACKUP.
//! * The VIPs go on it exactly as on the interface in the plain mode: added by a MASTER
//!   with a lease refreshed every advert. After SIGKILL the lease removes the VIP; the
//!   link stays, up and empty. A link without the VIP answers for nothing (`arp_ignore=1`),
//!   so the VIP has no live holder there: the promise holds with the same bound.
//! * Clean stop removes the VIPs, then the link, and puts `arp_ignore` of the lower
//!   link back to what it was.
//! * Start-up reconcile removes every link that is ours, so what a crash left behind
//!   is gone before the routers start.
//!
//! A link is named per family and VRID, so one namespace can give a VRID a virtual MAC
//! on one interface only; a second one is refused at start-up with an error naming both.

use futures::TryStreamExt;
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoKind, LinkAttribute, LinkInfo, LinkMessage,
    MacVlanMode,
};
use rtnetlink::{LinkMacVlan, LinkUnspec};

use crate::wire::{vrrp, Family, Mac};

/// Every virtual-MAC link vrrpd creates is named `vrrpd4.<VRID>` or `vrrpd6.<VRID>`.
pub const NAME_PREFIX: &str = "vrrpd";

/// The alias (`IFLA_IFALIAS`, `ip link` shows it as `alias`) that marks a link as
/// vrrpd's. Like the address mark it is what start-up reconcile trusts, together with
/// the name, the kind and the MAC.
pub const ALIAS_MARK: &str = "vrrpd virtual MAC (removed by vrrpd)";

/// Why a virtual-MAC operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VmacError {
    /// A link with our name exists but is not ours (another program, or by hand).
    #[error("interface {0} exists and is not vrrpd's virtual-MAC link; remove or rename it")]
    NameTaken(String),
    /// Our link for this VRID already serves another lower link.
    #[error(
        "interface {name} already gives VRID {vrid} a virtual MAC on interface index {lower}; \
         a virtual MAC is per VRID and family in one namespace"
    )]
    OtherLower {
        /// The link's name.
        name: String,
        /// The VRID.
        vrid: u8,
        /// The lower link it is on.
        lower: u32,
    },
    /// The kernel (or the netlink connection) refused a request.
    #[error("netlink {op} failed: {source}")]
    Netlink {
        /// What was being done.
        op: String,
        /// The error from rtnetlink.
        #[source]
        source: rtnetlink::Error,
    },
    /// A sysctl could not be read or written.
    #[error("{path}: {source}")]
    Sysctl {
        /// The file under /proc/sys.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

/// The name of the virtual-MAC link of `vrid` in `family`: `vrrpd4.51`, `vrrpd6.51`.
pub fn link_name(family: Family, vrid: u8) -> String {
    let f = match family {
        Family::Ipv4 => 4,
        Family::Ipv6 => 6,
    };
    format!("{NAME_PREFIX}{f}.{vrid}")
}

/// What a link message says about a link, as far as ownership is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// Index.
    pub index: u32,
    /// Name.
    pub name: Option<String>,
    /// Whether its kind is macvlan.
    pub macvlan: bool,
    /// Hardware address.
    pub mac: Option<Mac>,
    /// `IFLA_IFALIAS`.
    pub alias: Option<String>,
    /// `IFLA_LINK`: the lower link's index.
    pub lower: Option<u32>,
}

impl LinkFacts {
    /// Reads the facts from a kernel link message.
    pub fn of(msg: &LinkMessage) -> LinkFacts {
        let mut f = LinkFacts {
            index: msg.header.index,
            name: None,
            macvlan: false,
            mac: None,
            alias: None,
            lower: None,
        };
        for a in &msg.attributes {
            match a {
                LinkAttribute::IfName(n) => f.name = Some(n.clone()),
                LinkAttribute::Address(b) => f.mac = Mac::from_slice(b),
                LinkAttribute::IfAlias(s) => f.alias = Some(s.clone()),
                LinkAttribute::Link(l) => f.lower = Some(*l),
                LinkAttribute::LinkInfo(infos) => {
                    f.macvlan |= infos
                        .iter()
                        .any(|i| matches!(i, LinkInfo::Kind(InfoKind::MacVlan)));
                }
                _ => {}
            }
        }
        f
    }
}

/// Whether a MAC is a VRRP virtual MAC (either family, any VRID).
pub fn is_virtual_mac(mac: Mac) -> bool {
    matches!(mac.0, [0x00, 0x00, 0x5e, 0x00, 0x01 | 0x02, _])
}

/// Whether a link is one vrrpd made: name prefix, macvlan, virtual MAC and the mark.
pub fn is_ours(f: &LinkFacts) -> bool {
    f.name
        .as_deref()
        .is_some_and(|n| n.starts_with(NAME_PREFIX))
        && f.macvlan
        && f.mac.is_some_and(is_virtual_mac)
        && f.alias.as_deref() == Some(ALIAS_MARK)
}

fn netlink(op: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> VmacError {
    let op = op.into();
    move |source| VmacError::Netlink { op, source }
}

fn arp_ignore_path(ifname: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{ifname}/arp_ignore")
}

/// Reads `arp_ignore` of `ifname` (in the namespace this process runs in).
pub fn arp_ignore(ifname: &str) -> Result<u8, VmacError> {
    let path = arp_ignore_path(ifname);
    let text = std::fs::read_to_string(&path).map_err(|source| VmacError::Sysctl {
        path: path.clone(),
        source,
    })?;
    text.trim().parse().map_err(|_| VmacError::Sysctl {
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a number"),
    })
}

/// Sets `arp_ignore` of `ifname`.
pub fn set_arp_ignore(ifname: &str, value: u8) -> Result<(), VmacError> {
    let path = arp_ignore_path(ifname);
    std::fs::write(&path, format!("{value}\n")).map_err(|source| VmacError::Sysctl { path, source })
}

/// One virtual-MAC link this run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacLink {
    /// Its index.
    pub index: u32,
    /// Its name (`vrrpd4.51`).
    pub name: String,
    /// The lower link's name.
    pub lower_name: String,
    /// `arp_ignore` of the lower link before this run changed it, to put back on a
    /// clean stop; `None` when this run did not change it.
    pub lower_arp_ignore_was: Option<u8>,
}

/// Creates, finds and removes vrrpd's virtual-MAC links through rtnetlink.
#[derive(Debug, Clone)]
pub struct VmacManager {
    handle: rtnetlink::Handle,
}

impl VmacManager {
    /// A manager acting in the namespace of `handle`'s netlink socket.
    pub fn new(handle: rtnetlink::Handle) -> Self {
        Self { handle }
    }

    async fn by_name(&self, name: &str) -> Result<Option<LinkFacts>, VmacError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match links.try_next().await {
            Ok(l) => Ok(l.as_ref().map(LinkFacts::of)),
            Err(rtnetlink::Error::NetlinkError(e))
                if e.code.map(|c| c.get().abs()) == Some(libc::ENODEV) =>
            {
                Ok(None)
            }
            Err(e) => Err(netlink(format!("look up {name}"))(e)),
        }
    }

    /// Every link in the namespace that is ours.
    pub async fn list_ours(&self) -> Result<Vec<LinkFacts>, VmacError> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(netlink("list links"))?;
        Ok(links.iter().map(LinkFacts::of).filter(is_ours).collect())
    }

    /// The virtual-MAC link of `vrid` on `lower` (named `lower_name`): reused when it
    /// is already there and ours, created otherwise.
    pub async fn ensure(
        &self,
        lower: u32,
        lower_name: &str,
        family: Family,
        vrid: u8,
    ) -> Result<VmacLink, VmacError> {
        let mut link = VmacLink {
            index: 0,
            name: link_name(family, vrid),
            lower_name: lower_name.to_owned(),
            lower_arp_ignore_was: None,
        };
        let name = link.name.clone();
        if let Some(f) = self.by_name(&name).await? {
            if !is_ours(&f) {
                return Err(VmacError::NameTaken(name));
            }
            if f.lower != Some(lower) {
                return Err(VmacError::OtherLower {
                    name,
                    vrid,
                    lower: f.lower.unwrap_or(0),
                });
            }
            self.up(f.index, &name).await?;
            link.index = f.index;
            return Ok(link);
        }
        let mac = vrrp::virtual_mac(vrid, family);
        let msg = LinkMacVlan::new(&name, lower, MacVlanMode::Bridge)
            .address(mac.0.to_vec())
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(netlink(format!("create macvlan {name}")))?;
        let index = match self.by_name(&name).await? {
            Some(f) => f.index,
            None => {
                return Err(VmacError::NameTaken(name));
            }
        };
        // Separate request: the kernel applies neither IFLA_AF_SPEC nor IFLA_IFALIAS
        // when it creates a link. (A crash between the two requests leaves a link
        // without the mark; the next start refuses it by name rather than guess.)
        let gen = LinkUnspec::new_with_index(index)
            .alias(ALIAS_MARK)
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]))
            .build();
        let configured = async {
            self.handle
                .link()
                .set(gen)
                .execute()
                .await
                .map_err(netlink(format!("addrgenmode none on {name}")))?;
            set_arp_ignore(&name, 1)?;
            let was = arp_ignore(lower_name)?;
            if was == 0 {
                set_arp_ignore(lower_name, 1)?;
                link.lower_arp_ignore_was = Some(was);
            }
            self.up(index, &name).await
        }
        .await;
        if let Err(e) = configured {
            let _ = self.remove(index).await;
            return Err(e);
        }
        link.index = index;
        Ok(link)
    }

    async fn up(&self, index: u32, name: &str) -> Result<(), VmacError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(netlink(format!("set {name} up")))
    }

    /// Removes link `index` (its addresses go with it). A link that is already gone
    /// is not an error.
    pub async fn remove(&self, index: u32) -> Result<(), VmacError> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e))
                if e.code.map(|c| c.get().abs()) == Some(libc::ENODEV) =>
            {
                Ok(())
            }
            Err(e) => Err(netlink(format!("remove link {index}"))(e)),
        }
    }

    /// Clean stop: removes `link` and puts its lower link's `arp_ignore` back.
    pub async fn release(&self, link: &VmacLink) -> Result<(), VmacError> {
        self.remove(link.index).await?;
        if let Some(was) = link.lower_arp_ignore_was {
            set_arp_ignore(&link.lower_name, was)?;
        }
        Ok(())
    }

    /// Start-up reconcile: removes every link that is ours and returns their names.
    pub async fn reconcile(&self) -> Result<Vec<String>, VmacError> {
        let mut removed = Vec::new();
        for f in self.list_ours().await? {
            self.remove(f.index).await?;
            removed.push(f.name.unwrap_or_default());
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::link::LinkHeader;

    fn msg(name: &str, mac: [u8; 6], alias: Option<&str>, macvlan: bool) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header = LinkHeader {
            index: 7,
            ..LinkHeader::default()
        };
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        m.attributes.push(LinkAttribute::Link(2));
        if let Some(a) = alias {
            m.attributes.push(LinkAttribute::IfAlias(a.to_owned()));
        }
        if macvlan {
            m.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                    InfoKind::MacVlan,
                )]));
        }
        m
    }

    #[test]
    fn names_per_family_and_vrid_fit_ifnamsiz() {
        assert_eq!(link_name(Family::Ipv4, 51), "vrrpd4.51");
        assert_eq!(link_name(Family::Ipv6, 255), "vrrpd6.255");
        assert!(link_name(Family::Ipv6, 255).len() <= 15);
    }

    #[test]
    fn ours_needs_name_kind_mac_and_mark() {
        let vmac = [0, 0, 0x5e, 0, 1, 51];
        let f = LinkFacts::of(&msg("vrrpd4.51", vmac, Some(ALIAS_MARK), true));
        assert!(is_ours(&f));
        assert_eq!(f.lower, Some(2));
        assert_eq!(f.index, 7);
        // keepalived's own vmac link: same kind and MAC, other name, no mark.
        assert!(!is_ours(&LinkFacts::of(&msg("vrrp.51", vmac, None, true))));
        // Somebody's link with our name but without the mark.
        assert!(!is_ours(&LinkFacts::of(&msg(
            "vrrpd4.51",
            vmac,
            None,
            true
        ))));
        // Marked but not a macvlan, or not a virtual MAC.
        assert!(!is_ours(&LinkFacts::of(&msg(
            "vrrpd4.51",
            vmac,
            Some(ALIAS_MARK),
            false
        ))));
        assert!(!is_ours(&LinkFacts::of(&msg(
            "vrrpd4.51",
            [2, 0, 0, 0, 1, 51],
            Some(ALIAS_MARK),
            true
        ))));
    }

    #[test]
    fn virtual_macs_of_both_families() {
        assert!(is_virtual_mac(vrrp::virtual_mac(1, Family::Ipv4)));
        assert!(is_virtual_mac(vrrp::virtual_mac(255, Family::Ipv6)));
        assert!(!is_virtual_mac(Mac([0, 0, 0x5e, 0, 3, 1])));
    }
}
