//! IPv6 neighbour discovery (RFC 4861): Neighbor Solicitation and Neighbor
//! Advertisement, the IPv6 counterparts of ARP requests and gratuitous ARP.
//!
//! ```text
//!  0               8              16                              32
//! +---------------+---------------+-------------------------------+
//! | Type 135/136  |   Code 0      |           Checksum            |
//! +---------------+---------------+-------------------------------+
//! |R|S|O|            Reserved (NA flags; all reserved in NS)      |
//! +---------------------------------------------------------------+
//! |                   Target Address (16 bytes)                   |
//! +---------------------------------------------------------------+
//! | Options: type, length in units of 8 bytes, value ...          |
//! +---------------------------------------------------------------+
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::checksum;
use super::ethernet::{self, EtherType, Mac};
use super::ipv6;

mod field {
    use std::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const FLAGS: usize = 4;
    pub const RESERVED: Range<usize> = 4..8;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPTIONS: RangeFrom<usize> = 24..;
}

/// Length of an NS/NA message without options.
pub const HEADER_LEN: usize = field::OPTIONS.start;
/// ICMPv6 type of a Neighbor Solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
/// Hop limit every neighbour discovery message is sent with and must arrive with.
pub const HOP_LIMIT: u8 = 255;
/// All-nodes multicast, ff02::1: the destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

const OPT_SOURCE_LLA: u8 = 1;
const OPT_TARGET_LLA: u8 = 2;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// The solicited-node multicast address of `target`: ff02::1:ffXX:XXXX with the low
/// 24 bits of `target` (RFC 4291 §2.7.1).
pub fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let o = target.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// Why bytes are not a valid Neighbor Solicitation or Advertisement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Shorter than the 24-byte message, or (frames) than the headers before it.
    #[error("truncated neighbour discovery message")]
    Truncated,
    /// An ICMPv6 type other than 135 or 136.
    #[error("ICMPv6 type {0} is not NS/NA")]
    BadType(u8),
    /// A code other than 0.
    #[error("neighbour discovery code {0}, expected 0")]
    BadCode(u8),
    /// The ICMPv6 checksum does not verify.
    #[error("bad ICMPv6 checksum 0x{got:04x}, expected 0x{expected:04x}")]
    BadChecksum {
        /// The checksum in the message.
        got: u16,
        /// The checksum the message should carry.
        expected: u16,
    },
    /// An option of length zero, or running past the end.
    #[error("malformed neighbour discovery option")]
    BadOption,
    /// The target is a multicast address.
    #[error("multicast target address {0}")]
    MulticastTarget(Ipv6Addr),
    /// An NS from :: with a source link-layer address option (RFC 4861 §7.1.1).
    #[error("solicitation from :: carries a source link-layer address")]
    LlaFromUnspecified,
    /// An NA to a multicast address with the Solicited flag set (RFC 4861 §7.1.2).
    #[error("solicited advertisement sent to multicast")]
    SolicitedToMulticast,
    /// Frames: not Ethernet/IPv6/ICMPv6, or the IPv6 header is bad.
    #[error("not an ICMPv6 frame: {0}")]
    NotIcmpv6(String),
    /// Emit: the buffer is too small.
    #[error("buffer too small for a neighbour discovery message")]
    BufferTooSmall,
}

/// A typed view of an NS or NA message (the ICMPv6 payload of IPv6).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking it holds the 24-byte message.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the 24-byte message.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// ICMPv6 type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// ICMPv6 code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// ICMPv6 checksum.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// NA Router flag.
    pub fn router_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_ROUTER != 0
    }

    /// NA Solicited flag.
    pub fn solicited_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_SOLICITED != 0
    }

    /// NA Override flag.
    pub fn override_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_OVERRIDE != 0
    }

    /// Target address.
    pub fn target(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        Ipv6Addr::from(o)
    }

    /// The options area.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS]
    }

    /// The checksum this message should carry between `src` and `dst`.
    pub fn compute_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> u16 {
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut sum = checksum::combine(
            checksum::sum(&data[..field::CHECKSUM.start]),
            checksum::sum(&data[field::CHECKSUM.end..]),
        );
        sum = checksum::combine(
            sum,
            checksum::pseudo_header(
                &IpAddr::V6(src),
                &IpAddr::V6(dst),
                ipv6::NEXT_HEADER_ICMPV6,
                len,
            ),
        );
        checksum::finish(sum)
    }

    /// The link-layer address carried in the first option of type `kind`.
    fn lla_option(&self, kind: u8) -> Result<Option<Mac>, Error> {
        let mut rest = self.options();
        let mut found = None;
        while !rest.is_empty() {
            let (&t, &units) = match rest {
                [t, units, ..] => (t, units),
                _ => return Err(Error::BadOption),
            };
            let len = usize::from(units) * 8;
            if len == 0 || len > rest.len() {
                return Err(Error::BadOption);
            }
            if t == kind && found.is_none() {
                // Ethernet: 2 bytes of type/length then the 6-byte MAC.
                found = Mac::from_slice(&rest[2..8]);
            }
            rest = &rest[len..];
        }
        Ok(found)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets type and code.
    pub fn set_type_code(&mut self, msg_type: u8, code: u8) {
        let b = self.buffer.as_mut();
        b[field::TYPE] = msg_type;
        b[field::CODE] = code;
    }

    /// Sets the NA flags and clears the reserved bits.
    pub fn set_flags(&mut self, router: bool, solicited: bool, override_: bool) {
        let mut f = 0;
        if router {
            f |= FLAG_ROUTER;
        }
        if solicited {
            f |= FLAG_SOLICITED;
        }
        if override_ {
            f |= FLAG_OVERRIDE;
        }
        let b = &mut self.buffer.as_mut()[field::RESERVED];
        b.copy_from_slice(&[f, 0, 0, 0]);
    }

    /// Sets the target address.
    pub fn set_target(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&a.octets());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Mutable access to the options area.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS]
    }

    /// Computes and writes the checksum.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let c = self.compute_checksum(src, dst);
        self.set_checksum(c);
    }
}

/// A parsed Neighbor Solicitation or Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    /// Neighbor Solicitation: "who has `target`?".
    NeighborSolicit {
        /// The address asked about.
        target: Ipv6Addr,
        /// Source link-layer address option (absent in DAD probes from ::).
        source_lla: Option<Mac>,
    },
    /// Neighbor Advertisement: "`target` is at `target_lla`".
    NeighborAdvert {
        /// Router flag.
        router: bool,
        /// Solicited flag: answers a solicitation.
        solicited: bool,
        /// Override flag: replace cached link-layer addresses.
        override_: bool,
        /// The address advertised.
        target: Ipv6Addr,
        /// Target link-layer address option.
        target_lla: Option<Mac>,
    },
}

impl Repr {
    /// Parses an NS or NA that arrived from `src` to `dst`, checking type, code,
    /// checksum, options and the RFC 4861 §7.1 consistency rules that concern the
    /// message itself. The hop limit (255) is the IP layer's; check it there.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<Repr, Error> {
        packet.check_len()?;
        let t = packet.msg_type();
        if t != TYPE_NEIGHBOR_SOLICIT && t != TYPE_NEIGHBOR_ADVERT {
            return Err(Error::BadType(t));
        }
        if packet.code() != 0 {
            return Err(Error::BadCode(packet.code()));
        }
        let expected = packet.compute_checksum(src, dst);
        if packet.checksum() != expected {
            return Err(Error::BadChecksum {
                got: packet.checksum(),
                expected,
            });
        }
        let target = packet.target();
        if target.is_multicast() {
            return Err(Error::MulticastTarget(target));
        }
        if t == TYPE_NEIGHBOR_SOLICIT {
            let source_lla = packet.lla_option(OPT_SOURCE_LLA)?;
            if src.is_unspecified() && source_lla.is_some() {
                return Err(Error::LlaFromUnspecified);
            }
            Ok(Repr::NeighborSolicit { target, source_lla })
        } else {
            let solicited = packet.solicited_flag();
            if solicited && dst.is_multicast() {
                return Err(Error::SolicitedToMulticast);
            }
            Ok(Repr::NeighborAdvert {
                router: packet.router_flag(),
                solicited,
                override_: packet.override_flag(),
                target,
                target_lla: packet.lla_option(OPT_TARGET_LLA)?,
            })
        }
    }

    /// The target address.
    pub fn target(&self) -> Ipv6Addr {
        match *self {
            Repr::NeighborSolicit { target, .. } | Repr::NeighborAdvert { target, .. } => target,
        }
    }

    fn lla(&self) -> Option<(u8, Mac)> {
        match *self {
            Repr::NeighborSolicit { source_lla, .. } => source_lla.map(|m| (OPT_SOURCE_LLA, m)),
            Repr::NeighborAdvert { target_lla, .. } => target_lla.map(|m| (OPT_TARGET_LLA, m)),
        }
    }

    /// Length of the message: 24, plus 8 with a link-layer address option.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + if self.lla().is_some() { 8 } else { 0 }
    }

    /// Writes the message, checksum included, into the first
    /// [`buffer_len`](Repr::buffer_len) bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<(), Error> {
        let need = self.buffer_len();
        if packet.buffer.as_ref().len() < need {
            return Err(Error::BufferTooSmall);
        }
        let mut p = Packet::new_unchecked(&mut packet.buffer.as_mut()[..need]);
        match *self {
            Repr::NeighborSolicit { .. } => {
                p.set_type_code(TYPE_NEIGHBOR_SOLICIT, 0);
                p.set_flags(false, false, false);
            }
            Repr::NeighborAdvert {
                router,
                solicited,
                override_,
                ..
            } => {
                p.set_type_code(TYPE_NEIGHBOR_ADVERT, 0);
                p.set_flags(router, solicited, override_);
            }
        }
        p.set_target(self.target());
        if let Some((kind, mac)) = self.lla() {
            let o = p.options_mut();
            o[0] = kind;
            o[1] = 1;
            o[2..8].copy_from_slice(&mac.0);
        }
        p.set_checksum(0);
        p.fill_checksum(src, dst);
        Ok(())
    }

    /// A complete Ethernet + IPv6 (hop limit 255) frame carrying this message.
    pub fn to_frame(&self, src_mac: Mac, dst_mac: Mac, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let icmp_len = self.buffer_len();
        let mut buf = vec![0u8; ipv6::HEADER_LEN + icmp_len];
        let ip = ipv6::Repr {
            src,
            dst,
            next_header: ipv6::NEXT_HEADER_ICMPV6,
            hop_limit: HOP_LIMIT,
            payload_len: icmp_len,
        };
        // Both emits get buffers of exactly their length, so they cannot fail.
        let _ = ip.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..]));
        let _ = self.emit(
            &mut Packet::new_unchecked(&mut buf[ipv6::HEADER_LEN..]),
            src,
            dst,
        );
        ethernet::Repr {
            src: src_mac,
            dst: dst_mac,
            ethertype: EtherType::IPV6,
        }
        .to_frame(&buf)
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Repr::NeighborSolicit { target, source_lla } => {
                write!(f, "NS who-has {target}")?;
                if let Some(m) = source_lla {
                    write!(f, " from {m}")?;
                }
                Ok(())
            }
            Repr::NeighborAdvert {
                router,
                solicited,
                override_,
                target,
                target_lla,
            } => {
                write!(f, "NA {target}")?;
                if let Some(m) = target_lla {
                    write!(f, " is-at {m}")?;
                }
                let flags: String = [(router, 'R'), (solicited, 'S'), (override_, 'O')]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, c)| *c)
                    .collect();
                if !flags.is_empty() {
                    write!(f, " [{flags}]")?;
                }
                Ok(())
            }
        }
    }
}

/// An unsolicited Neighbor Advertisement announcing `vip` at `src_mac` (RFC 4861
/// §7.2.6): from `src_ip` (an address of the interface, usually its link-local) to
/// ff02::1, Override set, Solicited clear, Router as given, with a target link-layer
/// address option.
pub fn unsolicited_na(src_mac: Mac, src_ip: Ipv6Addr, vip: Ipv6Addr, router: bool) -> Vec<u8> {
    Repr::NeighborAdvert {
        router,
        solicited: false,
        override_: true,
        target: vip,
        target_lla: Some(src_mac),
    }
    .to_frame(
        src_mac,
        Mac::from_ipv6_multicast(ALL_NODES),
        src_ip,
        ALL_NODES,
    )
}

/// A Neighbor Solicitation for `target`, to its solicited-node multicast group.
/// With `src_ip` `None` it is sent from :: without a source link-layer address, as a
/// duplicate address detection probe is (RFC 4862 §5.4.2).
pub fn solicitation(src_mac: Mac, src_ip: Option<Ipv6Addr>, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    Repr::NeighborSolicit {
        target,
        source_lla: src_ip.map(|_| src_mac),
    }
    .to_frame(
        src_mac,
        Mac::from_ipv6_multicast(group),
        src_ip.unwrap_or(Ipv6Addr::UNSPECIFIED),
        group,
    )
}

/// An NS or NA frame with its Ethernet and IPv6 addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdiscFrame {
    /// Ethernet source.
    pub src_mac: Mac,
    /// Ethernet destination.
    pub dst_mac: Mac,
    /// IPv6 source.
    pub src_ip: Ipv6Addr,
    /// IPv6 destination.
    pub dst_ip: Ipv6Addr,
    /// IPv6 hop limit (255 unless the message was forwarded, which makes it invalid).
    pub hop_limit: u8,
    /// The message.
    pub repr: Repr,
}

/// Parses a whole untagged Ethernet frame carrying an NS or NA directly after the
/// IPv6 header.
pub fn parse_frame(frame: &[u8]) -> Result<NdiscFrame, Error> {
    let not = |why: &str| Error::NotIcmpv6(why.to_owned());
    let eth = ethernet::Frame::new_checked(frame).map_err(|_| Error::Truncated)?;
    if eth.ethertype() != EtherType::IPV6 {
        return Err(not("EtherType is not IPv6"));
    }
    let ip = ipv6::Packet::new_unchecked(eth.payload());
    let ip_repr = ipv6::Repr::parse(&ip).map_err(|e| Error::NotIcmpv6(e.to_string()))?;
    if ip_repr.next_header != ipv6::NEXT_HEADER_ICMPV6 {
        return Err(not("next header is not ICMPv6"));
    }
    let repr = Repr::parse(
        &Packet::new_unchecked(ip.payload()),
        ip_repr.src,
        ip_repr.dst,
    )?;
    Ok(NdiscFrame {
        src_mac: eth.src_addr(),
        dst_mac: eth.dst_addr(),
        src_ip: ip_repr.src,
        dst_ip: ip_repr.dst,
        hop_limit: ip_repr.hop_limit,
        repr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = Mac([0x02, 0x00, 0x00, 0x00, 0x00, 0x0b]);

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    // ICMPv6 part of the unsolicited NA for 2001:db8::20 from fe80::b to ff02::1.
    //   message  8800 + 2000 + (2001 + 0db8 + 0020) + 0201 + 0200 + 0000 + 000b = d9e5
    //   pseudo   fe80 + 000b + ff02 + 0001 + 0020 (len 32) + 003a (58)       = 1fde8
    //   total 2d7cd -> d7cf -> 2830
    const NA_ICMP: [u8; 32] = [
        0x88, 0x00, 0x28, 0x30, 0x20, 0x00, 0x00, 0x00, //
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, //
        0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b,
    ];

    fn na_frame_bytes() -> Vec<u8> {
        let mut v = vec![
            0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x86,
            0xdd, //
            0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, //
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, //
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        ];
        v.extend_from_slice(&NA_ICMP);
        v
    }

    #[test]
    fn unsolicited_na_bytes() {
        let f = unsolicited_na(MAC, ip("fe80::b"), ip("2001:db8::20"), false);
        assert_eq!(f, na_frame_bytes());
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.dst_mac, Mac([0x33, 0x33, 0, 0, 0, 1]));
        assert_eq!(p.src_mac, MAC);
        assert_eq!(p.src_ip, ip("fe80::b"));
        assert_eq!(p.dst_ip, ALL_NODES);
        assert_eq!(p.hop_limit, 255);
        assert_eq!(
            p.repr,
            Repr::NeighborAdvert {
                router: false,
                solicited: false,
                override_: true,
                target: ip("2001:db8::20"),
                target_lla: Some(MAC),
            }
        );
        assert_eq!(
            p.repr.to_string(),
            "NA 2001:db8::20 is-at 02:00:00:00:00:0b [O]"
        );
        // Router flag: 2830 - 8000 in one's complement -> a82f (checked independently).
        let f = unsolicited_na(MAC, ip("fe80::b"), ip("2001:db8::20"), true);
        assert_eq!(f[14 + 40 + 2..14 + 40 + 5], [0xa8, 0x2f, 0xa0]);
    }

    #[test]
    fn solicitation_bytes() {
        let target = ip("2001:db8::20");
        assert_eq!(solicited_node(target), ip("ff02::1:ff00:20"));
        // DAD-style probe from ::, no option. Checksum 4caf computed independently.
        let f = solicitation(MAC, None, target);
        let mut want = vec![
            0x33, 0x33, 0xff, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x86,
            0xdd, //
            0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff,
        ];
        want.extend_from_slice(&[0; 16]);
        want.extend_from_slice(&ip("ff02::1:ff00:20").octets());
        want.extend_from_slice(&[0x87, 0x00, 0x4c, 0xaf, 0, 0, 0, 0]);
        want.extend_from_slice(&target.octets());
        assert_eq!(f, want);
        let p = parse_frame(&f).unwrap();
        assert_eq!(
            p.repr,
            Repr::NeighborSolicit {
                target,
                source_lla: None
            }
        );
        assert!(p.src_ip.is_unspecified());
        assert_eq!(p.repr.to_string(), "NS who-has 2001:db8::20");

        // From a real address: with the source link-layer option, checksum 4b0f.
        let f = solicitation(MAC, Some(ip("fe80::b")), target);
        assert_eq!(f.len(), 14 + 40 + 32);
        assert_eq!(f[56..58], [0x4b, 0x0f]);
        assert_eq!(f[78..86], [0x01, 0x01, 0x02, 0, 0, 0, 0, 0x0b]);
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.repr.target(), target);
        assert_eq!(
            p.repr.to_string(),
            "NS who-has 2001:db8::20 from 02:00:00:00:00:0b"
        );
    }

    #[test]
    fn options_are_skipped_and_checked() {
        let (s, d) = (ip("fe80::b"), ALL_NODES);
        // A nonce option (type 14, 8 bytes) before the target link-layer option.
        let mut m = NA_ICMP[..24].to_vec();
        m.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
        m.extend_from_slice(&NA_ICMP[24..]);
        Packet::new_unchecked(&mut m[..]).fill_checksum(s, d);
        let r = Repr::parse(&Packet::new_unchecked(&m[..]), s, d).unwrap();
        assert!(matches!(r, Repr::NeighborAdvert { target_lla: Some(m), .. } if m == MAC));
        for bad in [
            &[2u8, 0, 0, 0, 0, 0, 0, 0][..],
            &[2, 2, 0, 0, 0, 0, 0, 0],
            &[2],
        ] {
            let mut m = NA_ICMP[..24].to_vec();
            m.extend_from_slice(bad);
            Packet::new_unchecked(&mut m[..]).fill_checksum(s, d);
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&m[..]), s, d),
                Err(Error::BadOption)
            );
        }
    }

    #[test]
    fn errors() {
        let (s, d) = (ip("fe80::b"), ALL_NODES);
        let parse = |m: &[u8], s, d| Repr::parse(&Packet::new_unchecked(m), s, d);
        let refill = |m: &mut [u8], s, d| Packet::new_unchecked(m).fill_checksum(s, d);
        assert_eq!(parse(&NA_ICMP[..23], s, d), Err(Error::Truncated));
        let mut m = NA_ICMP;
        m[0] = 128;
        assert_eq!(parse(&m, s, d), Err(Error::BadType(128)));
        let mut m = NA_ICMP;
        m[1] = 1;
        assert_eq!(parse(&m, s, d), Err(Error::BadCode(1)));
        assert_eq!(
            parse(&NA_ICMP, ip("fe80::c"), d),
            Err(Error::BadChecksum {
                got: 0x2830,
                expected: 0x282f
            })
        );
        let mut m = NA_ICMP;
        m[8] = 0xff;
        refill(&mut m, s, d);
        assert!(matches!(parse(&m, s, d), Err(Error::MulticastTarget(_))));
        let mut m = NA_ICMP;
        m[4] = 0x60;
        refill(&mut m, s, d);
        assert_eq!(parse(&m, s, d), Err(Error::SolicitedToMulticast));
        // Solicited to a unicast address is fine.
        refill(&mut m, s, ip("fe80::c"));
        assert!(parse(&m, s, ip("fe80::c")).is_ok());
        let mut m = NA_ICMP;
        m[0] = TYPE_NEIGHBOR_SOLICIT;
        m[4] = 0;
        m[24] = OPT_SOURCE_LLA;
        let u = Ipv6Addr::UNSPECIFIED;
        refill(&mut m, u, d);
        assert_eq!(parse(&m, u, d), Err(Error::LlaFromUnspecified));

        let mut f = na_frame_bytes();
        f[12] = 0x08;
        assert!(matches!(parse_frame(&f), Err(Error::NotIcmpv6(_))));
        let mut f = na_frame_bytes();
        f[20] = 17;
        assert!(matches!(parse_frame(&f), Err(Error::NotIcmpv6(_))));
        assert!(matches!(
            parse_frame(&na_frame_bytes()[..60]),
            Err(Error::NotIcmpv6(_))
        ));
        assert_eq!(parse_frame(&[0; 10]), Err(Error::Truncated));
        let r = parse_frame(&na_frame_bytes()).unwrap().repr;
        let mut small = [0u8; 31];
        assert_eq!(
            r.emit(&mut Packet::new_unchecked(&mut small[..]), s, d),
            Err(Error::BufferTooSmall)
        );
    }
}
