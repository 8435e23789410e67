//! Virtual IP ownership over rtnetlink.
//!
//! This module is the only place where vrrpd puts addresses on, or takes them off, an
//! interface. It serves three of the four "never leaves a stale VIP" layers:
//!
//! * **Lease.** A MASTER adds each VIP with a finite valid/preferred lifetime
//!   (`IFA_CACHEINFO`) and [`VipManager::refresh`]es it every advert interval. If the
//!   daemon dies or freezes, the kernel removes the address itself when the lease runs
//!   out. Lifetimes are whole seconds; a lease is rounded *up*. The kernel checks
//!   lifetimes from one timer shared by all namespaces, which it may fire up to 20 ms
//!   early and, to batch work, up to half a second late; so an address with a lease of
//!   `n` seconds disappears within `n - 0.02 ..= n + 0.5` seconds of its last add or
//!   refresh. Measured (kernel 6.18, 2 s lease, IPv4 and IPv6, tests running in
//!   parallel): 2.005 to 2.44 s, most within 2.07 s.
//! * **Ownership mark.** Every address added here carries [`VRPD_IFA_PROTO`] in
//!   `IFA_PROTO` (Linux >= 6.1), and IPv4 addresses also get a label `<ifname>:vr<vrid>`.
//!   [`VipManager::reconcile_marked`] removes every address with the mark at start-up,
//!   including VIPs that were dropped from the configuration between a crash and a
//!   restart. The mark, not the label, is what reconcile trusts: IPv6 has no labels and a
//!   15-byte interface name leaves no room for a suffix.
//! * **Self-check.** [`VipManager::holds`] tells a BACKUP whether a VIP is still on its
//!   interface so it can [`VipManager::remove`] it.
//!
//! Everything goes through one [`rtnetlink::Handle`]; the socket behind it decides
//! which network namespace is acted on, so the caller creates it in the right one.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressProtocol, CacheInfo,
};
use netlink_packet_route::link::LinkAttribute;
use rtnetlink::AddressMessageBuilder;

/// The ownership mark vrrpd puts in `IFA_PROTO` on every address it adds.
///
/// The kernel assigns 0 (unspec), 1 (`kernel_lo`), 2 (`kernel_ra`) and 3 (`kernel_ll`);
/// everything above is free for user space and the kernel stores it verbatim. `0x56` is
/// ASCII `'V'` (for VRRP). `ip address show` prints it as `proto 86`. Another program
/// that picks the same value would have its addresses removed by
/// [`VipManager::reconcile_marked`]; none is known to.
pub const VRPD_IFA_PROTO: u8 = 0x56;

// 0..=3 are the kernel's own values; the mark must never collide with them.
const _: () = assert!(VRPD_IFA_PROTO > 3);

/// Longest IPv4 address label the kernel keeps (`IFNAMSIZ` minus the terminating NUL).
pub const MAX_LABEL_LEN: usize = 15;

/// `IFA_CACHEINFO` value meaning "forever".
const INFINITY_LIFE_TIME: u32 = u32::MAX;

/// Why a VIP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    /// No interface has this name (in the namespace of the netlink socket).
    #[error("no interface named {0:?}")]
    NoSuchInterfaceName(String),
    /// No interface has this index (in the namespace of the netlink socket).
    #[error("no interface with index {0}")]
    NoSuchInterface(u32),
    /// A lease of zero seconds was asked for; the kernel rejects a zero lifetime, and a
    /// VIP that expires at once is a caller bug.
    #[error("a VIP lease must be longer than zero")]
    ZeroLease,
    /// The prefix length does not fit the address family.
    #[error("prefix length /{prefix_len} is too long for {addr}")]
    BadPrefixLen {
        /// The address.
        addr: IpAddr,
        /// The prefix length that was asked for.
        prefix_len: u8,
    },
    /// An explicit IPv4 label is empty, longer than [`MAX_LABEL_LEN`] bytes or has a NUL.
    #[error("invalid address label {0:?}: must be 1 to 15 bytes without NUL")]
    BadLabel(String),
    /// The kernel (or the netlink connection) refused a request.
    #[error("netlink {op} failed: {source}")]
    Netlink {
        /// What was being done, e.g. `"add 192.0.2.20/24"`.
        op: String,
        /// The error from rtnetlink; see [`VipError::errno`].
        #[source]
        source: rtnetlink::Error,
    },
}

impl VipError {
    /// The positive errno the kernel answered with, if this is a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Netlink { source, .. } => errno_of(source),
            _ => None,
        }
    }
}

/// A virtual IP address as configured for one virtual router.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length (e.g. 24 for `192.0.2.20/24`, 32 for a host address).
    pub prefix_len: u8,
    /// Explicit IPv4 label; `None` means `<ifname>:vr<vrid>`. Ignored for IPv6, which
    /// has no address labels in Linux.
    pub label: Option<String>,
}

impl Vip {
    /// A VIP with the default label.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Self {
        Self {
            addr,
            prefix_len,
            label: None,
        }
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// One address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrEntry {
    /// Interface index the address is on.
    pub ifindex: u32,
    /// The local address (`IFA_LOCAL`, or `IFA_ADDRESS` when there is no local).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// `IFA_PROTO`, if the kernel reported one; `Some(VRPD_IFA_PROTO)` marks ours.
    pub proto: Option<u8>,
    /// `IFA_LABEL` (IPv4 only).
    pub label: Option<String>,
    /// Seconds of validity left; `None` means permanent (no lifetime).
    pub valid_lft: Option<u32>,
    /// Seconds of preference left; `None` means forever.
    pub preferred_lft: Option<u32>,
    /// `IFA_F_*` flags (`IFA_FLAGS` if present, else the header byte).
    pub flags: u32,
}

impl AddrEntry {
    /// Whether this address carries vrrpd's ownership mark.
    pub fn is_marked(&self) -> bool {
        self.proto == Some(VRPD_IFA_PROTO)
    }

    /// Parse a kernel address message; `None` for messages without a unicast address.
    fn from_message(msg: &AddressMessage) -> Option<Self> {
        let mut local = None;
        let mut address = None;
        let mut entry = AddrEntry {
            ifindex: msg.header.index,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix_len: msg.header.prefix_len,
            proto: None,
            label: None,
            valid_lft: None,
            preferred_lft: None,
            flags: u32::from(msg.header.flags.bits()),
        };
        for attr in &msg.attributes {
            match attr {
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Address(a) => address = Some(*a),
                AddressAttribute::Protocol(p) => entry.proto = Some(u8::from(*p)),
                AddressAttribute::Label(l) => entry.label = Some(l.clone()),
                AddressAttribute::Flags(f) => entry.flags = f.bits(),
                AddressAttribute::CacheInfo(ci) => {
                    entry.valid_lft = finite(ci.ifa_valid);
                    entry.preferred_lft = finite(ci.ifa_preferred);
                }
                _ => {}
            }
        }
        entry.addr = local.or(address)?;
        Some(entry)
    }
}

fn finite(lft: u32) -> Option<u32> {
    (lft != INFINITY_LIFE_TIME).then_some(lft)
}

/// Whole seconds of a lease, rounded up; at most `u32::MAX - 1` (the largest finite
/// lifetime the kernel accepts).
pub fn lease_secs(lease: Duration) -> Result<u32, VipError> {
    if lease.is_zero() {
        return Err(VipError::ZeroLease);
    }
    let secs = lease
        .as_secs()
        .saturating_add(u64::from(lease.subsec_nanos() > 0));
    Ok(u32::try_from(secs)
        .unwrap_or(INFINITY_LIFE_TIME)
        .min(INFINITY_LIFE_TIME - 1))
}

/// The preferred lifetime that goes with a valid lifetime of `valid` seconds: one
/// second less from 3 s on, else the same.
///
/// The kernel's lifetime worker sleeps until the next lifetime that ends, on a timer
/// wheel whose granularity jumps from 32 ms to 256 ms for sleeps above 2.048 s (HZ=250;
/// `kernel/time/timer.c`, levels of 8× coarser buckets). A 3 s lease in one sleep can
/// therefore end up to 256 ms late; split by a preferred lifetime, the worker wakes at
/// 2 s (deprecates) and again 1 s later (removes), each sleep in the 32 ms level.
/// While the daemon lives it refreshes every advert interval, long before the address
/// could be deprecated (a lease of 3 s or more only happens at intervals of about 1 s
/// and above, see `instance::lease_plan`).
pub fn preferred_secs(valid: u32) -> u32 {
    if (3..INFINITY_LIFE_TIME).contains(&valid) {
        valid - 1
    } else {
        valid
    }
}

/// The default IPv4 label `<ifname>:vr<vrid>`, cut to [`MAX_LABEL_LEN`] bytes at a
/// character boundary.
pub fn default_label(ifname: &str, vrid: u8) -> String {
    let mut label = format!("{ifname}:vr{vrid}");
    let mut end = label.len().min(MAX_LABEL_LEN);
    while !label.is_char_boundary(end) {
        end -= 1;
    }
    label.truncate(end);
    label
}

fn errno_of(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| c.get().abs()),
        _ => None,
    }
}

fn max_prefix(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// An address message for `addr/prefix_len` on `ifindex`, as `ip address` builds it
/// (IPv4: local, address and broadcast).
fn base_message(ifindex: u32, addr: IpAddr, prefix_len: u8) -> AddressMessage {
    match addr {
        IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(ifindex)
            .address(a, prefix_len)
            .build(),
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(ifindex)
            .address(a, prefix_len)
            .build(),
    }
}

/// Adds, refreshes, lists and removes the daemon's virtual IPs through rtnetlink.
#[derive(Debug, Clone)]
pub struct VipManager {
    handle: rtnetlink::Handle,
}

impl VipManager {
    /// A manager acting in the namespace of `handle`'s netlink socket. The caller keeps
    /// the handle's connection task running.
    pub async fn new(handle: rtnetlink::Handle) -> Self {
        Self { handle }
    }

    /// The index of the interface called `name`.
    pub async fn ifindex(&self, name: &str) -> Result<u32, VipError> {
        let mut links = self.handle.link().get().match_name(name).execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(VipError::NoSuchInterfaceName(name.to_owned())),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => {
                Err(VipError::NoSuchInterfaceName(name.to_owned()))
            }
            Err(source) => Err(VipError::Netlink {
                op: format!("look up interface {name:?}"),
                source,
            }),
        }
    }

    /// The name of the interface with index `ifindex`.
    async fn ifname(&self, ifindex: u32) -> Result<String, VipError> {
        let mut links = self.handle.link().get().match_index(ifindex).execute();
        let link = match links.try_next().await {
            Ok(Some(link)) => link,
            Ok(None) => return Err(VipError::NoSuchInterface(ifindex)),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => {
                return Err(VipError::NoSuchInterface(ifindex))
            }
            Err(source) => {
                return Err(VipError::Netlink {
                    op: format!("look up interface {ifindex}"),
                    source,
                })
            }
        };
        link.attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            })
            .ok_or(VipError::NoSuchInterface(ifindex))
    }

    /// Add `vip` to interface `ifindex`, or replace it if it is already there
    /// (`NLM_F_REPLACE`, so this is also how a lease is renewed).
    ///
    /// The address carries [`VRPD_IFA_PROTO`]; an IPv4 address gets `vip.label` or
    /// `<ifname>:vr<vrid>` (cut to 15 bytes); an IPv6 address gets `IFA_F_NODAD`, since a
    /// VIP moving between routers must be usable at once. With `lease`, valid and
    /// preferred lifetimes are set to the lease in whole seconds rounded up, and the
    /// kernel deletes the address when it runs out; with `None` the address is
    /// permanent (this also turns a leased address permanent).
    ///
    /// A replace updates `IFA_PROTO`, the flags and the lifetimes, so adding a VIP that
    /// is already on the interface without the mark (say, configured by hand) takes it
    /// over: it gets the mark and the lease. The kernel keeps the label an IPv4 address
    /// was first added with; a replace does not change it.
    pub async fn add(
        &self,
        ifindex: u32,
        vip: &Vip,
        vrid: u8,
        lease: Option<Duration>,
    ) -> Result<(), VipError> {
        if vip.prefix_len > max_prefix(&vip.addr) {
            return Err(VipError::BadPrefixLen {
                addr: vip.addr,
                prefix_len: vip.prefix_len,
            });
        }
        let (valid, preferred) = match lease {
            Some(l) => {
                let valid = lease_secs(l)?;
                (valid, preferred_secs(valid))
            }
            None => (INFINITY_LIFE_TIME, INFINITY_LIFE_TIME),
        };
        let label = match (&vip.addr, &vip.label) {
            (IpAddr::V6(_), _) => None,
            (IpAddr::V4(_), Some(l)) => {
                if l.is_empty() || l.len() > MAX_LABEL_LEN || l.contains('\0') {
                    return Err(VipError::BadLabel(l.clone()));
                }
                Some(l.clone())
            }
            (IpAddr::V4(_), None) => Some(default_label(&self.ifname(ifindex).await?, vrid)),
        };

        let mut req = self
            .handle
            .address()
            .add(ifindex, vip.addr, vip.prefix_len)
            .replace();
        let msg = req.message_mut();
        msg.attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(
                VRPD_IFA_PROTO,
            )));
        if let Some(label) = label {
            msg.attributes.push(AddressAttribute::Label(label));
        }
        if vip.addr.is_ipv6() {
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        let mut ci = CacheInfo::default();
        ci.ifa_valid = valid;
        ci.ifa_preferred = preferred;
        msg.attributes.push(AddressAttribute::CacheInfo(ci));

        req.execute()
            .await
            .map_err(|source| match errno_of(&source) {
                Some(libc::ENODEV) => VipError::NoSuchInterface(ifindex),
                _ => VipError::Netlink {
                    op: format!("add {vip} on interface {ifindex}"),
                    source,
                },
            })
    }

    /// Renew the lease of `vip` (an [`add`](Self::add) with a lease): the lifetime
    /// starts again from now. Adds the address if it had already expired.
    pub async fn refresh(
        &self,
        ifindex: u32,
        vip: &Vip,
        vrid: u8,
        lease: Duration,
    ) -> Result<(), VipError> {
        self.add(ifindex, vip, vrid, Some(lease)).await
    }

    /// Remove exactly `vip.addr/vip.prefix_len` from `ifindex`. An address that is not
    /// there (already expired or removed) is not an error.
    ///
    /// With `promote_secondaries` off (the kernel default), removing the *primary*
    /// address of a subnet also removes its secondaries; a VIP inside the node's own
    /// subnet is secondary as long as the node's address was added first.
    pub async fn remove(&self, ifindex: u32, vip: &Vip) -> Result<(), VipError> {
        let msg = base_message(ifindex, vip.addr, vip.prefix_len);
        self.delete(msg, &vip.to_string()).await
    }

    async fn delete(&self, mut msg: AddressMessage, what: &str) -> Result<(), VipError> {
        let ifindex = msg.header.index;
        // Only what identifies the address; lifetimes, flags etc. would be ignored or,
        // for IFA_CACHEINFO on some kernels, rejected.
        msg.attributes
            .retain(|a| matches!(a, AddressAttribute::Address(_) | AddressAttribute::Local(_)));
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno_of(&e), Some(libc::ENOENT | libc::EADDRNOTAVAIL)) => Ok(()),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Err(VipError::NoSuchInterface(ifindex)),
            Err(source) => Err(VipError::Netlink {
                op: format!("remove {what} from interface {ifindex}"),
                source,
            }),
        }
    }

    /// All addresses (both families) on `ifindex`, or on every interface when `None`.
    pub async fn list(&self, ifindex: Option<u32>) -> Result<Vec<AddrEntry>, VipError> {
        Ok(self
            .dump(ifindex)
            .await?
            .iter()
            .filter_map(AddrEntry::from_message)
            .collect())
    }

    async fn dump(&self, ifindex: Option<u32>) -> Result<Vec<AddressMessage>, VipError> {
        let mut req = self.handle.address().get();
        if let Some(i) = ifindex {
            req = req.set_link_index_filter(i);
        }
        req.execute()
            .try_collect()
            .await
            .map_err(|source| VipError::Netlink {
                op: "list addresses".to_owned(),
                source,
            })
    }

    /// Start-up reconcile: remove every address carrying [`VRPD_IFA_PROTO`] from the
    /// given interfaces (all interfaces when `None`), whatever the configuration says,
    /// and return what was removed. Addresses without the mark are left alone.
    ///
    /// An address that vanishes between the listing and the removal (lease ran out) is
    /// still reported as removed.
    pub async fn reconcile_marked(
        &self,
        ifindexes: Option<&[u32]>,
    ) -> Result<Vec<AddrEntry>, VipError> {
        let mut removed = Vec::new();
        for msg in self.dump(None).await? {
            let Some(entry) = AddrEntry::from_message(&msg) else {
                continue;
            };
            if !entry.is_marked() || ifindexes.is_some_and(|ix| !ix.contains(&entry.ifindex)) {
                continue;
            }
            let what = format!("{}/{}", entry.addr, entry.prefix_len);
            self.delete(msg, &what).await?;
            removed.push(entry);
        }
        Ok(removed)
    }

    /// Whether `addr` (with any prefix length) is on interface `ifindex`.
    pub async fn holds(&self, ifindex: u32, addr: IpAddr) -> Result<bool, VipError> {
        Ok(self
            .list(Some(ifindex))
            .await?
            .iter()
            .any(|e| e.addr == addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_rounds_up_to_whole_seconds() {
        assert_eq!(lease_secs(Duration::from_secs(2)).unwrap(), 2);
        assert_eq!(lease_secs(Duration::from_millis(2001)).unwrap(), 3);
        assert_eq!(lease_secs(Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(lease_secs(Duration::from_millis(999)).unwrap(), 1);
        assert!(matches!(
            lease_secs(Duration::ZERO),
            Err(VipError::ZeroLease)
        ));
    }

    #[test]
    fn lease_never_becomes_infinite() {
        assert_eq!(lease_secs(Duration::MAX).unwrap(), u32::MAX - 1);
        assert_eq!(
            lease_secs(Duration::from_secs(u64::from(u32::MAX))).unwrap(),
            u32::MAX - 1
        );
    }

    #[test]
    fn default_label_format_and_truncation() {
        assert_eq!(default_label("eth1", 7), "eth1:vr7");
        assert_eq!(default_label("eth1", 255), "eth1:vr255");
        // 14-byte name: only the colon fits.
        assert_eq!(default_label("abcdefghijklmn", 42), "abcdefghijklmn:");
        // 15-byte name: the label is the name itself.
        assert_eq!(default_label("abcdefghijklmno", 1), "abcdefghijklmno");
        assert_eq!(default_label("ethernet01", 200), "ethernet01:vr20");
        assert_eq!(default_label("ethernet01", 200).len(), MAX_LABEL_LEN);
    }

    #[test]
    fn default_label_cuts_at_char_boundary() {
        // 13 ASCII bytes + a 3-byte character straddles the 15-byte limit.
        let name = "abcdefghijklm\u{20ac}";
        let label = default_label(name, 1);
        assert!(label.len() <= MAX_LABEL_LEN);
        assert_eq!(label, "abcdefghijklm");
    }

    #[test]
    fn entry_from_message_reads_mark_label_and_lifetimes() {
        let mut msg = base_message(3, "192.0.2.20".parse().unwrap(), 24);
        msg.attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(
                VRPD_IFA_PROTO,
            )));
        msg.attributes
            .push(AddressAttribute::Label("eth1:vr7".to_owned()));
        let mut ci = CacheInfo::default();
        ci.ifa_valid = 2;
        ci.ifa_preferred = INFINITY_LIFE_TIME;
        msg.attributes.push(AddressAttribute::CacheInfo(ci));
        let e = AddrEntry::from_message(&msg).unwrap();
        assert_eq!(e.ifindex, 3);
        assert_eq!(e.addr, "192.0.2.20".parse::<IpAddr>().unwrap());
        assert_eq!(e.prefix_len, 24);
        assert!(e.is_marked());
        assert_eq!(e.label.as_deref(), Some("eth1:vr7"));
        assert_eq!(e.valid_lft, Some(2));
        assert_eq!(e.preferred_lft, None);
    }

    #[test]
    fn mark_round_trips_through_the_crate_enum() {
        assert_eq!(u8::from(AddressProtocol::from(VRPD_IFA_PROTO)), 0x56);
    }
}
