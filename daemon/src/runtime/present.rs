//! Which of our VIPs the kernel reported deleted since vrrpd last added them.
//!
//! A Master's refresh must notice a VIP that an operator deleted (it re-adds it and
//! announces it). Dumping every address before each refresh cost O(routers ×
//! addresses) per interval: with 255 instances at 100 ms, 2,550 dumps of 255 addresses
//! a second, most of vrrpd's CPU. vrrpd now listens to the kernel's address events
//! (`RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`) and remembers each deletion until
//! it adds that address again: the check costs nothing, and it sees a deletion
//! however shortly before the refresh it happened. Events lost to a socket overrun
//! can hide a deletion: the refresh still re-adds the VIP, only without the announce.

use std::collections::HashSet;
use std::net::IpAddr;

/// The (ifindex, address) pairs deleted since vrrpd last added them.
#[derive(Debug, Default)]
pub struct Deleted {
    gone: HashSet<(u32, IpAddr)>,
}

impl Deleted {
    /// The kernel reported `addr` deleted from `ifindex` (by anyone, vrrpd included).
    pub fn on_deleted(&mut self, ifindex: u32, addr: IpAddr) {
        self.gone.insert((ifindex, addr));
    }

    /// `addr` is on `ifindex` again: vrrpd added or refreshed it, or the kernel
    /// reported it added.
    pub fn on_present(&mut self, ifindex: u32, addr: IpAddr) {
        self.gone.remove(&(ifindex, addr));
    }

    /// Whether any of `pairs` was deleted and not added since.
    pub fn any_gone(&self, mut pairs: impl Iterator<Item = (u32, IpAddr)>) -> bool {
        !self.gone.is_empty() && pairs.any(|p| self.gone.contains(&p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_deletion_is_remembered_until_the_address_is_back() {
        let mut d = Deleted::default();
        assert!(!d.any_gone([(2, a(20))].into_iter()));
        d.on_deleted(2, a(20));
        assert!(d.any_gone([(2, a(21)), (2, a(20))].into_iter()));
        // Same address on another interface is another pair.
        assert!(!d.any_gone([(3, a(20))].into_iter()));
        d.on_present(2, a(20));
        assert!(!d.any_gone([(2, a(20))].into_iter()));
    }
}
