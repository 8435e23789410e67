//! Decoder for captured frames: Ethernet, ARP, IPv4/IPv6 and VRRP, through the daemon
//! crate's wire module, into the history's [`FrameSummary`].

use std::net::IpAddr;

use vrrpd::wire::arp::Operation;
use vrrpd::wire::frame::{decode, Decoded};

use crate::history::FrameSummary;

/// Summarises one Ethernet frame.
pub fn summarize(frame: &[u8]) -> FrameSummary {
    match decode(frame) {
        Decoded::Vrrp {
            src_mac,
            src_ip,
            dst_ip,
            ttl_or_hop_limit,
            result,
            ..
        } => match result {
            Ok(r) => FrameSummary::Vrrp {
                src_mac,
                src: src_ip,
                dst: dst_ip,
                ttl: ttl_or_hop_limit,
                version: r.version.number(),
                vrid: r.vrid,
                priority: r.priority,
                interval: r.max_advert_int,
                addrs: r.addrs,
                error: None,
            },
            Err(e) => FrameSummary::Vrrp {
                src_mac,
                src: src_ip,
                dst: dst_ip,
                ttl: ttl_or_hop_limit,
                version: 0,
                vrid: 0,
                priority: 0,
                interval: 0,
                addrs: Vec::new(),
                error: Some(e.to_string()),
            },
        },
        Decoded::Arp { src_mac, repr, .. } => FrameSummary::Arp {
            op: match repr.op {
                Operation::Request => 1,
                Operation::Reply => 2,
                Operation::Unknown(x) => x,
            },
            src_mac,
            sender_mac: repr.sender_mac,
            sender_ip: IpAddr::V4(repr.sender_ip),
            target_ip: IpAddr::V4(repr.target_ip),
            gratuitous: repr.is_gratuitous(),
        },
        Decoded::NeighborAdvert {
            src_mac,
            target,
            solicited,
            ..
        } => FrameSummary::NeighborAdvert {
            src_mac,
            target: IpAddr::V6(target),
            unsolicited: !solicited,
        },
        Decoded::NeighborSolicit { target, .. } => FrameSummary::Other {
            len: frame.len(),
            what: format!("NS who-has {target}"),
        },
        Decoded::Other { ethertype } => FrameSummary::Other {
            len: frame.len(),
            what: format!("ethertype {:#06x}", ethertype.0),
        },
        Decoded::Malformed(e) => FrameSummary::Other {
            len: frame.len(),
            what: format!("malformed: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use vrrpd::wire::{arp, Mac};

    #[test]
    fn gratuitous_arp_is_recognised() {
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let f = arp::gratuitous(mac, Ipv4Addr::new(192, 0, 2, 20));
        match summarize(&f) {
            FrameSummary::Arp {
                gratuitous,
                op,
                sender_ip,
                ..
            } => {
                assert!(gratuitous);
                assert_eq!(op, 1);
                assert_eq!(sender_ip, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_is_other_not_panic() {
        assert!(matches!(summarize(&[1, 2, 3]), FrameSummary::Other { .. }));
    }
}
