//! Decoding captured Ethernet frames into what the harness cares about (VRRP adverts,
//! ARP, NS/NA), and building complete VRRP frames.
//!
//! [`decode`] never panics: whatever the bytes, the answer is a [`Decoded`] value,
//! with [`Decoded::Malformed`] saying what was wrong.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::ethernet::{self, EtherType, Mac};
use super::{arp, ipv4, ipv6, ndisc, vrrp};

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Shorter than an Ethernet header (or its 802.1Q tag).
    #[error("truncated Ethernet frame")]
    Ethernet,
    /// A bad IPv4 header.
    #[error("IPv4: {0}")]
    Ipv4(#[from] ipv4::Error),
    /// A bad IPv6 header.
    #[error("IPv6: {0}")]
    Ipv6(#[from] ipv6::Error),
    /// A bad ARP packet.
    #[error("ARP: {0}")]
    Arp(#[from] arp::Error),
    /// A bad Neighbor Solicitation or Advertisement.
    #[error("neighbour discovery: {0}")]
    Ndisc(#[from] ndisc::Error),
}

/// What a captured frame holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// An IP packet with protocol / next header 112. The IP layer was fine; `result`
    /// says whether the VRRP message was.
    Vrrp {
        /// Ethernet source (the virtual MAC when a master sends).
        src_mac: Mac,
        /// Ethernet destination.
        dst_mac: Mac,
        /// IP source.
        src_ip: IpAddr,
        /// IP destination.
        dst_ip: IpAddr,
        /// IPv4 TTL or IPv6 hop limit (must be 255).
        ttl_or_hop_limit: u8,
        /// The parsed advertisement or why it is invalid.
        result: Result<vrrp::Repr, vrrp::Error>,
    },
    /// An Ethernet/IPv4 ARP packet.
    Arp {
        /// Ethernet source.
        src_mac: Mac,
        /// Ethernet destination.
        dst_mac: Mac,
        /// The ARP packet.
        repr: arp::Repr,
    },
    /// An ICMPv6 Neighbor Advertisement.
    NeighborAdvert {
        /// Ethernet source.
        src_mac: Mac,
        /// Ethernet destination.
        dst_mac: Mac,
        /// IPv6 source.
        src_ip: Ipv6Addr,
        /// IPv6 destination.
        dst_ip: Ipv6Addr,
        /// IPv6 hop limit (must be 255).
        hop_limit: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// Router flag.
        router: bool,
        /// Solicited flag.
        solicited: bool,
        /// Override flag.
        override_: bool,
        /// Target link-layer address option.
        target_mac: Option<Mac>,
    },
    /// An ICMPv6 Neighbor Solicitation.
    NeighborSolicit {
        /// Ethernet source.
        src_mac: Mac,
        /// Ethernet destination.
        dst_mac: Mac,
        /// IPv6 source (:: for duplicate address detection).
        src_ip: Ipv6Addr,
        /// IPv6 destination.
        dst_ip: Ipv6Addr,
        /// IPv6 hop limit (must be 255).
        hop_limit: u8,
        /// The address asked about.
        target: Ipv6Addr,
        /// Source link-layer address option.
        source_mac: Option<Mac>,
    },
    /// Anything else (other EtherTypes, other IP protocols, other ICMPv6 messages,
    /// IPv6 extension headers).
    Other {
        /// The frame's EtherType (after an 802.1Q tag, if any).
        ethertype: EtherType,
    },
    /// A frame this decoder should understand but whose headers are broken.
    Malformed(Error),
}

/// Decodes a captured Ethernet II frame (optionally with one 802.1Q tag).
pub fn decode(frame: &[u8]) -> Decoded {
    match decode_inner(frame) {
        Ok(d) => d,
        Err(e) => Decoded::Malformed(e),
    }
}

fn decode_inner(frame: &[u8]) -> Result<Decoded, Error> {
    let eth = ethernet::Frame::new_checked(frame).map_err(|_| Error::Ethernet)?;
    let (src_mac, dst_mac) = (eth.src_addr(), eth.dst_addr());
    let (mut ethertype, mut payload) = (eth.ethertype(), eth.payload());
    if ethertype == EtherType::VLAN {
        let [_, _, hi, lo, rest @ ..] = payload else {
            return Err(Error::Ethernet);
        };
        ethertype = EtherType(u16::from_be_bytes([*hi, *lo]));
        payload = rest;
    }
    match ethertype {
        EtherType::ARP => {
            let repr = arp::Repr::parse(&arp::Packet::new_unchecked(payload))?;
            Ok(Decoded::Arp {
                src_mac,
                dst_mac,
                repr,
            })
        }
        EtherType::IPV4 => {
            let ip = ipv4::Packet::new_unchecked(payload);
            let r = ipv4::Repr::parse(&ip)?;
            if r.protocol != vrrp::PROTOCOL {
                return Ok(Decoded::Other { ethertype });
            }
            let (src_ip, dst_ip) = (IpAddr::V4(r.src), IpAddr::V4(r.dst));
            let result =
                vrrp::Repr::parse(&vrrp::Packet::new_unchecked(ip.payload()), src_ip, dst_ip);
            Ok(Decoded::Vrrp {
                src_mac,
                dst_mac,
                src_ip,
                dst_ip,
                ttl_or_hop_limit: r.ttl,
                result,
            })
        }
        EtherType::IPV6 => {
            let ip = ipv6::Packet::new_unchecked(payload);
            let r = ipv6::Repr::parse(&ip)?;
            match r.next_header {
                vrrp::PROTOCOL => {
                    let (src_ip, dst_ip) = (IpAddr::V6(r.src), IpAddr::V6(r.dst));
                    let result = vrrp::Repr::parse(
                        &vrrp::Packet::new_unchecked(ip.payload()),
                        src_ip,
                        dst_ip,
                    );
                    Ok(Decoded::Vrrp {
                        src_mac,
                        dst_mac,
                        src_ip,
                        dst_ip,
                        ttl_or_hop_limit: r.hop_limit,
                        result,
                    })
                }
                ipv6::NEXT_HEADER_ICMPV6 => {
                    let icmp = ip.payload();
                    let is_nd = matches!(
                        icmp.first(),
                        Some(&ndisc::TYPE_NEIGHBOR_SOLICIT | &ndisc::TYPE_NEIGHBOR_ADVERT)
                    );
                    if !is_nd {
                        return Ok(Decoded::Other { ethertype });
                    }
                    let nd = ndisc::Repr::parse(&ndisc::Packet::new_unchecked(icmp), r.src, r.dst)?;
                    Ok(match nd {
                        ndisc::Repr::NeighborAdvert {
                            router,
                            solicited,
                            override_,
                            target,
                            target_lla,
                        } => Decoded::NeighborAdvert {
                            src_mac,
                            dst_mac,
                            src_ip: r.src,
                            dst_ip: r.dst,
                            hop_limit: r.hop_limit,
                            target,
                            router,
                            solicited,
                            override_,
                            target_mac: target_lla,
                        },
                        ndisc::Repr::NeighborSolicit { target, source_lla } => {
                            Decoded::NeighborSolicit {
                                src_mac,
                                dst_mac,
                                src_ip: r.src,
                                dst_ip: r.dst,
                                hop_limit: r.hop_limit,
                                target,
                                source_mac: source_lla,
                            }
                        }
                    })
                }
                _ => Ok(Decoded::Other { ethertype }),
            }
        }
        _ => Ok(Decoded::Other { ethertype }),
    }
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decoded::Vrrp {
                src_mac,
                src_ip,
                dst_ip,
                ttl_or_hop_limit,
                result,
                ..
            } => {
                write!(
                    f,
                    "{src_ip} ({src_mac}) > {dst_ip} ttl {ttl_or_hop_limit}: "
                )?;
                match result {
                    Ok(r) => write!(f, "{r}"),
                    Err(e) => write!(f, "invalid VRRP: {e}"),
                }
            }
            Decoded::Arp { src_mac, repr, .. } => write!(f, "{src_mac}: {repr}"),
            Decoded::NeighborAdvert {
                src_mac,
                src_ip,
                dst_ip,
                hop_limit,
                target,
                router,
                solicited,
                override_,
                target_mac,
                ..
            } => {
                let repr = ndisc::Repr::NeighborAdvert {
                    router: *router,
                    solicited: *solicited,
                    override_: *override_,
                    target: *target,
                    target_lla: *target_mac,
                };
                write!(
                    f,
                    "{src_ip} ({src_mac}) > {dst_ip} hlim {hop_limit}: {repr}"
                )
            }
            Decoded::NeighborSolicit {
                src_mac,
                src_ip,
                dst_ip,
                hop_limit,
                target,
                source_mac,
                ..
            } => {
                let repr = ndisc::Repr::NeighborSolicit {
                    target: *target,
                    source_lla: *source_mac,
                };
                write!(
                    f,
                    "{src_ip} ({src_mac}) > {dst_ip} hlim {hop_limit}: {repr}"
                )
            }
            Decoded::Other { ethertype } => write!(f, "other ({ethertype})"),
            Decoded::Malformed(e) => write!(f, "malformed: {e}"),
        }
    }
}

/// The Ethernet multicast MAC of an IP multicast group, `None` for other addresses.
pub fn multicast_mac(group: IpAddr) -> Option<Mac> {
    match group {
        IpAddr::V4(g) if g.is_multicast() => Some(Mac::from_ipv4_multicast(g)),
        IpAddr::V6(g) if g.is_multicast() => Some(Mac::from_ipv6_multicast(g)),
        _ => None,
    }
}

/// A complete Ethernet frame carrying `repr` from `src_ip` to `dst_ip` with TTL / hop
/// limit 255: IPv4 with TOS 0xc0, or IPv6 with traffic class 0xc0 (network control).
/// `src_mac` should be the virtual router MAC ([`vrrp::virtual_mac`]); `dst_mac` the
/// group's ([`multicast_mac`]) or the unicast peer's.
pub fn vrrp_frame(
    src_mac: Mac,
    dst_mac: Mac,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    repr: &vrrp::Repr,
) -> Result<Vec<u8>, vrrp::Error> {
    let msg = repr.to_bytes(src_ip, dst_ip)?;
    let ip_bytes = match (src_ip, dst_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let mut buf = vec![0u8; ipv4::HEADER_LEN + msg.len()];
            let r = ipv4::Repr {
                src,
                dst,
                protocol: vrrp::PROTOCOL,
                ttl: vrrp::TTL,
                payload_len: msg.len(),
            };
            // The buffer fits the header and to_bytes bounded the payload (255
            // addresses at most), so emit cannot fail.
            let _ = r.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
            buf[ipv4::HEADER_LEN..].copy_from_slice(&msg);
            buf
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let mut buf = vec![0u8; ipv6::HEADER_LEN + msg.len()];
            let r = ipv6::Repr {
                src,
                dst,
                next_header: vrrp::PROTOCOL,
                hop_limit: vrrp::TTL,
                payload_len: msg.len(),
            };
            let mut p = ipv6::Packet::new_unchecked(&mut buf[..]);
            let _ = r.emit(&mut p);
            p.set_version_traffic_class(0xc0);
            buf[ipv6::HEADER_LEN..].copy_from_slice(&msg);
            buf
        }
        // to_bytes already rejected mixed families.
        _ => return Err(vrrp::Error::MixedFamily),
    };
    let ethertype = if src_ip.is_ipv4() {
        EtherType::IPV4
    } else {
        EtherType::IPV6
    };
    Ok(ethernet::Repr {
        src: src_mac,
        dst: dst_mac,
        ethertype,
    }
    .to_frame(&ip_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Family;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const VMAC: Mac = Mac([0x00, 0x00, 0x5e, 0x00, 0x01, 0x33]);

    /// keepalived's advert (see vrrp.rs) in a full frame, as tcpdump -xx shows it.
    /// IPv4 header checksum: 45c0 + 0020 + ff70 + c000 + 020b + e000 + 0012 = 2e76d
    /// -> e76f -> 1890.
    const V4_FRAME: [u8; 46] = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x08, 0x00, //
        0x45, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0x18, 0x90, //
        0xc0, 0x00, 0x02, 0x0b, 0xe0, 0x00, 0x00, 0x12, //
        0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x05, 0xb8, 0xc0, 0x00, 0x02, 0x14,
    ];

    fn v4_repr() -> vrrp::Repr {
        vrrp::Repr {
            version: vrrp::Version::V3,
            vrid: 51,
            priority: 100,
            max_advert_int: 100,
            addrs: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20))],
            auth: None,
        }
    }

    #[test]
    fn decode_ipv4_vrrp() {
        let src: IpAddr = "192.0.2.11".parse().unwrap();
        let dst = vrrp::group(Family::Ipv4);
        let built = vrrp_frame(VMAC, multicast_mac(dst).unwrap(), src, dst, &v4_repr()).unwrap();
        assert_eq!(built, V4_FRAME.to_vec());
        let want = Decoded::Vrrp {
            src_mac: VMAC,
            dst_mac: Mac([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]),
            src_ip: src,
            dst_ip: dst,
            ttl_or_hop_limit: 255,
            result: Ok(v4_repr()),
        };
        assert_eq!(decode(&V4_FRAME), want);
        // Ethernet padding to 60 bytes is ignored.
        let mut padded = V4_FRAME.to_vec();
        padded.resize(60, 0);
        assert_eq!(decode(&padded), want);
        assert_eq!(
            want.to_string(),
            "192.0.2.11 (00:00:5e:00:01:33) > 224.0.0.18 ttl 255: \
             VRRPv3 vrid 51 prio 100 intvl 100cs addrs 192.0.2.20"
        );
    }

    #[test]
    fn decode_ipv4_with_options_vlan_and_bad_vrrp() {
        // IHL 6 with a router-alert-like 4-byte option, behind an 802.1Q tag, with a
        // corrupted VRRP checksum: the IP layer decodes, the VRRP result is an error.
        let mut f = V4_FRAME[..12].to_vec();
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
        let mut ip = vec![0x46, 0xc0, 0x00, 0x24, 0, 0, 0, 0, 0xfe, 0x70, 0, 0];
        ip.extend_from_slice(&V4_FRAME[26..34]);
        ip.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        ip.extend_from_slice(&V4_FRAME[34..]);
        ip[24 + 7] ^= 0xff;
        ipv4::Packet::new_unchecked(&mut ip[..]).fill_checksum();
        f.extend_from_slice(&ip);
        match decode(&f) {
            Decoded::Vrrp {
                ttl_or_hop_limit,
                result,
                ..
            } => {
                assert_eq!(ttl_or_hop_limit, 254);
                assert!(matches!(result, Err(vrrp::Error::BadChecksum { .. })));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decode_ipv6_vrrp() {
        let src: IpAddr = "fe80::1".parse().unwrap();
        let dst = vrrp::group(Family::Ipv6);
        let repr = vrrp::Repr {
            version: vrrp::Version::V3,
            vrid: 1,
            priority: 200,
            max_advert_int: 100,
            addrs: vec![
                "2001:db8::20".parse().unwrap(),
                "2001:db8::21".parse().unwrap(),
            ],
            auth: None,
        };
        let vmac = vrrp::virtual_mac(1, Family::Ipv6);
        let f = vrrp_frame(vmac, multicast_mac(dst).unwrap(), src, dst, &repr).unwrap();
        let mut want = vec![
            0x33, 0x33, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x02, 0x01, 0x86,
            0xdd, //
            0x6c, 0x00, 0x00, 0x00, 0x00, 0x28, 0x70, 0xff, //
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, //
            // the v3/IPv6 vector of vrrp.rs, checksum acb5
            0x31, 0x01, 0xc8, 0x02, 0x00, 0x64, 0xac, 0xb5,
        ];
        for last in [0x20, 0x21] {
            want.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            want.push(last);
        }
        assert_eq!(f, want);
        assert_eq!(
            decode(&f),
            Decoded::Vrrp {
                src_mac: vmac,
                dst_mac: Mac([0x33, 0x33, 0, 0, 0, 0x12]),
                src_ip: src,
                dst_ip: dst,
                ttl_or_hop_limit: 255,
                result: Ok(repr),
            }
        );
    }

    #[test]
    fn decode_arp() {
        let mac = Mac([0x02, 0, 0, 0, 0, 0x0b]);
        let vip = Ipv4Addr::new(192, 0, 2, 20);
        let d = decode(&arp::gratuitous(mac, vip));
        assert_eq!(
            d,
            Decoded::Arp {
                src_mac: mac,
                dst_mac: Mac::BROADCAST,
                repr: arp::Repr {
                    op: arp::Operation::Request,
                    sender_mac: mac,
                    sender_ip: vip,
                    target_mac: Mac::ZERO,
                    target_ip: vip,
                },
            }
        );
        assert_eq!(
            d.to_string(),
            "02:00:00:00:00:0b: ARP gratuitous 192.0.2.20 is-at 02:00:00:00:00:0b"
        );
        assert!(matches!(
            decode(&arp::probe(mac, vip)),
            Decoded::Arp { repr, .. } if repr.is_probe()
        ));
    }

    #[test]
    fn decode_ndisc() {
        let mac = Mac([0x02, 0, 0, 0, 0, 0x0b]);
        let ll: Ipv6Addr = "fe80::b".parse().unwrap();
        let vip: Ipv6Addr = "2001:db8::20".parse().unwrap();
        let d = decode(&ndisc::unsolicited_na(mac, ll, vip, false));
        assert_eq!(
            d,
            Decoded::NeighborAdvert {
                src_mac: mac,
                dst_mac: Mac([0x33, 0x33, 0, 0, 0, 1]),
                src_ip: ll,
                dst_ip: ndisc::ALL_NODES,
                hop_limit: 255,
                target: vip,
                router: false,
                solicited: false,
                override_: true,
                target_mac: Some(mac),
            }
        );
        assert_eq!(
            d.to_string(),
            "fe80::b (02:00:00:00:00:0b) > ff02::1 hlim 255: \
             NA 2001:db8::20 is-at 02:00:00:00:00:0b [O]"
        );
        let d = decode(&ndisc::solicitation(mac, None, vip));
        assert_eq!(
            d,
            Decoded::NeighborSolicit {
                src_mac: mac,
                dst_mac: Mac([0x33, 0x33, 0xff, 0, 0, 0x20]),
                src_ip: Ipv6Addr::UNSPECIFIED,
                dst_ip: ndisc::solicited_node(vip),
                hop_limit: 255,
                target: vip,
                source_mac: None,
            }
        );
        assert_eq!(
            d.to_string(),
            ":: (02:00:00:00:00:0b) > ff02::1:ff00:20 hlim 255: NS who-has 2001:db8::20"
        );
    }

    #[test]
    fn other_and_malformed() {
        assert_eq!(decode(&[0; 13]), Decoded::Malformed(Error::Ethernet));
        let mut f = V4_FRAME;
        f[12..14].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(
            decode(&f),
            Decoded::Other {
                ethertype: EtherType(0x88cc)
            }
        );
        let mut f = V4_FRAME.to_vec();
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        f.truncate(15);
        assert_eq!(decode(&f), Decoded::Malformed(Error::Ethernet));
        // IPv4 UDP is "other".
        let mut f = V4_FRAME;
        f[23] = 17;
        ipv4::Packet::new_unchecked(&mut f[14..]).fill_checksum();
        assert_eq!(
            decode(&f),
            Decoded::Other {
                ethertype: EtherType::IPV4
            }
        );
        let mut f = V4_FRAME;
        f[24] ^= 1;
        assert_eq!(
            decode(&f),
            Decoded::Malformed(Error::Ipv4(ipv4::Error::BadChecksum))
        );
        assert_eq!(
            decode(&V4_FRAME[..40]),
            Decoded::Malformed(Error::Ipv4(ipv4::Error::Truncated))
        );
        // A broken ARP packet.
        let g = arp::gratuitous(Mac::ZERO, Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            decode(&g[..30]),
            Decoded::Malformed(Error::Arp(arp::Error::Truncated))
        );
        // IPv6: hop-by-hop header (MLD reports), other ICMPv6, broken NA.
        let mac = Mac([0x02, 0, 0, 0, 0, 0x0b]);
        let na = ndisc::unsolicited_na(
            mac,
            "fe80::b".parse().unwrap(),
            "2001:db8::20".parse().unwrap(),
            false,
        );
        let mut f = na.clone();
        f[20] = 0;
        assert_eq!(
            decode(&f),
            Decoded::Other {
                ethertype: EtherType::IPV6
            }
        );
        let mut f = na.clone();
        f[54] = 134;
        assert_eq!(
            decode(&f),
            Decoded::Other {
                ethertype: EtherType::IPV6
            }
        );
        let mut f = na.clone();
        f[57] ^= 1;
        assert!(matches!(
            decode(&f),
            Decoded::Malformed(Error::Ndisc(ndisc::Error::BadChecksum { .. }))
        ));
        assert_eq!(
            decode(&na[..50]),
            Decoded::Malformed(Error::Ipv6(ipv6::Error::Truncated))
        );
        assert_eq!(
            Decoded::Malformed(Error::Ethernet).to_string(),
            "malformed: truncated Ethernet frame"
        );
    }

    #[test]
    fn vrrp_frame_rejects_bad_repr() {
        let r = vrrp::Repr {
            addrs: vec![],
            ..v4_repr()
        };
        let s: IpAddr = "192.0.2.11".parse().unwrap();
        assert_eq!(
            vrrp_frame(VMAC, VMAC, s, s, &r),
            Err(vrrp::Error::NoAddresses)
        );
        assert_eq!(multicast_mac(s), None);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes).to_string();
        }

        #[test]
        fn decode_never_panics_below_valid_headers(
            which in 0usize..4,
            cut in 0usize..120,
            flip in prop::collection::vec((0usize..120, any::<u8>()), 0..4),
        ) {
            // Start from a valid frame of each kind, then truncate and corrupt it.
            let mac = Mac([0x02, 0, 0, 0, 0, 0x0b]);
            let mut f = match which {
                0 => V4_FRAME.to_vec(),
                1 => arp::gratuitous(mac, Ipv4Addr::new(192, 0, 2, 20)),
                2 => ndisc::unsolicited_na(mac, Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, true),
                _ => ndisc::solicitation(mac, None, Ipv6Addr::LOCALHOST),
            };
            for (i, v) in flip {
                if let Some(b) = f.get_mut(i) {
                    *b = v;
                }
            }
            f.truncate(cut);
            let _ = decode(&f).to_string();
        }
    }
}
