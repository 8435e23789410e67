//! ARP for IPv4 over Ethernet (RFC 826), with builders for the frames a VRRP master
//! sends: gratuitous ARP announcing a virtual IP, and requests/probes (RFC 5227).

use std::fmt;
use std::net::Ipv4Addr;

use super::ethernet::{self, EtherType, Mac};

mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = field::TPA.end;
/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// The ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// 1: request ("who-has").
    Request,
    /// 2: reply ("is-at").
    Reply,
    /// Any other value.
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Operation {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(op: Operation) -> u16 {
        match op {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(v) => v,
        }
    }
}

/// Why bytes are not an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer than 28 bytes of ARP (or 14 of Ethernet header).
    #[error("truncated ARP packet")]
    Truncated,
    /// Hardware/protocol type or address lengths are not Ethernet/IPv4.
    #[error(
        "ARP for htype {htype} ptype 0x{ptype:04x} hlen {hlen} plen {plen}, not Ethernet/IPv4"
    )]
    NotEthernetIpv4 {
        /// Hardware type.
        htype: u16,
        /// Protocol type.
        ptype: u16,
        /// Hardware address length.
        hlen: u8,
        /// Protocol address length.
        plen: u8,
    },
    /// The Ethernet frame does not carry ARP.
    #[error("EtherType {0} is not ARP")]
    NotArp(EtherType),
}

/// A typed view of an ARP packet (the Ethernet payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn mac(b: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    Mac(m)
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking it holds 28 bytes (more is allowed: padding).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds an Ethernet/IPv4-sized ARP packet.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type.
    pub fn hardware_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::HTYPE])
    }

    /// Protocol type.
    pub fn protocol_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PTYPE])
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation.
    pub fn operation(&self) -> Operation {
        Operation::from(be16(&self.buffer.as_ref()[field::OPER]))
    }

    /// Sender hardware address.
    pub fn sender_mac(&self) -> Mac {
        mac(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip(&self.buffer.as_ref()[field::SPA])
    }

    /// Target hardware address.
    pub fn target_mac(&self) -> Mac {
        mac(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address.
    pub fn target_ip(&self) -> Ipv4Addr {
        ip(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets hardware/protocol types and lengths to Ethernet (1, 6) and IPv4 (0x0800, 4).
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&EtherType::IPV4.0.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, op: Operation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&u16::from(op).to_be_bytes());
    }

    /// Sets the sender hardware address.
    pub fn set_sender_mac(&mut self, m: Mac) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&m.0);
    }

    /// Sets the sender protocol address.
    pub fn set_sender_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_mac(&mut self, m: Mac) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&m.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// A parsed Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Operation.
    pub op: Operation,
    /// Sender hardware address.
    pub sender_mac: Mac,
    /// Sender protocol address (0.0.0.0 in a probe).
    pub sender_ip: Ipv4Addr,
    /// Target hardware address (ignored in requests; zero here).
    pub target_mac: Mac,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// Parses an ARP packet; only Ethernet/IPv4 ARP is accepted.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        packet.check_len()?;
        let (htype, ptype, hlen, plen) = (
            packet.hardware_type(),
            packet.protocol_type(),
            packet.hardware_len(),
            packet.protocol_len(),
        );
        if htype != HTYPE_ETHERNET || ptype != EtherType::IPV4.0 || hlen != 6 || plen != 4 {
            return Err(Error::NotEthernetIpv4 {
                htype,
                ptype,
                hlen,
                plen,
            });
        }
        Ok(Repr {
            op: packet.operation(),
            sender_mac: packet.sender_mac(),
            sender_ip: packet.sender_ip(),
            target_mac: packet.target_mac(),
            target_ip: packet.target_ip(),
        })
    }

    /// Length of the packet: 28.
    pub fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet into the first 28 bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        packet.check_len()?;
        packet.set_ethernet_ipv4();
        packet.set_operation(self.op);
        packet.set_sender_mac(self.sender_mac);
        packet.set_sender_ip(self.sender_ip);
        packet.set_target_mac(self.target_mac);
        packet.set_target_ip(self.target_ip);
        Ok(())
    }

    /// True for a gratuitous ARP: sender and target IP are the same address.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip && !self.sender_ip.is_unspecified()
    }

    /// True for an RFC 5227 probe: a request from 0.0.0.0.
    pub fn is_probe(&self) -> bool {
        self.op == Operation::Request && self.sender_ip.is_unspecified()
    }

    /// A complete Ethernet frame carrying this packet, from `src_mac` to `dst_mac`.
    /// Not padded to 60 bytes: the NIC or kernel pads short frames.
    pub fn to_frame(&self, src_mac: Mac, dst_mac: Mac) -> Vec<u8> {
        let mut arp = [0u8; PACKET_LEN];
        // The buffer has exactly PACKET_LEN bytes, so emit cannot fail.
        let _ = self.emit(&mut Packet::new_unchecked(&mut arp[..]));
        ethernet::Repr {
            src: src_mac,
            dst: dst_mac,
            ethertype: EtherType::ARP,
        }
        .to_frame(&arp)
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            Operation::Request if self.is_gratuitous() => write!(
                f,
                "ARP gratuitous {} is-at {}",
                self.sender_ip, self.sender_mac
            ),
            Operation::Request => write!(
                f,
                "ARP who-has {} tell {} ({})",
                self.target_ip, self.sender_ip, self.sender_mac
            ),
            Operation::Reply => write!(
                f,
                "ARP reply {} is-at {} to {}",
                self.sender_ip, self.sender_mac, self.target_ip
            ),
            Operation::Unknown(v) => write!(
                f,
                "ARP op {v} {} ({}) -> {} ({})",
                self.sender_ip, self.sender_mac, self.target_ip, self.target_mac
            ),
        }
    }
}

/// A gratuitous ARP announcing `vip` at `mac`, in request form (RFC 5227 §3
/// "ARP Announcement"): broadcast, sender and target IP both `vip`, target MAC zero.
pub fn gratuitous(mac: Mac, vip: Ipv4Addr) -> Vec<u8> {
    Repr {
        op: Operation::Request,
        sender_mac: mac,
        sender_ip: vip,
        target_mac: Mac::ZERO,
        target_ip: vip,
    }
    .to_frame(mac, Mac::BROADCAST)
}

/// A broadcast ARP request "who-has `target_ip` tell `sender_ip`". Pass
/// `Ipv4Addr::UNSPECIFIED` as `sender_ip` for a probe (see [`probe`]).
pub fn request(sender_mac: Mac, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    Repr {
        op: Operation::Request,
        sender_mac,
        sender_ip,
        target_mac: Mac::ZERO,
        target_ip,
    }
    .to_frame(sender_mac, Mac::BROADCAST)
}

/// An RFC 5227 ARP probe for `target_ip`: a request from 0.0.0.0, which asks who holds
/// an address without claiming it.
pub fn probe(sender_mac: Mac, target_ip: Ipv4Addr) -> Vec<u8> {
    request(sender_mac, Ipv4Addr::UNSPECIFIED, target_ip)
}

/// Parses a whole Ethernet frame carrying ARP (untagged).
pub fn parse_frame(frame: &[u8]) -> Result<(ethernet::Repr, Repr), Error> {
    let eth = ethernet::Frame::new_checked(frame).map_err(|_| Error::Truncated)?;
    let eth_repr = ethernet::Repr::parse(&eth).map_err(|_| Error::Truncated)?;
    if eth_repr.ethertype != EtherType::ARP {
        return Err(Error::NotArp(eth_repr.ethertype));
    }
    let repr = Repr::parse(&Packet::new_unchecked(eth.payload()))?;
    Ok((eth_repr, repr))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = Mac([0x02, 0x00, 0x00, 0x00, 0x00, 0x0b]);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

    const GARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x08, 0x06, //
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0b, 0xc0, 0x00, 0x02, 0x14, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x14,
    ];

    #[test]
    fn gratuitous_bytes() {
        let f = gratuitous(MAC, VIP);
        assert_eq!(f, GARP.to_vec());
        let (eth, repr) = parse_frame(&f).unwrap();
        assert_eq!(eth.dst, Mac::BROADCAST);
        assert_eq!(eth.src, MAC);
        assert!(repr.is_gratuitous());
        assert!(!repr.is_probe());
        assert_eq!(
            repr.to_string(),
            "ARP gratuitous 192.0.2.20 is-at 02:00:00:00:00:0b"
        );
    }

    #[test]
    fn request_and_probe_bytes() {
        let f = request(MAC, Ipv4Addr::new(192, 0, 2, 11), VIP);
        let mut want = GARP;
        want[28..32].copy_from_slice(&[192, 0, 2, 11]);
        assert_eq!(f, want.to_vec());
        let (_, r) = parse_frame(&f).unwrap();
        assert_eq!(
            r.to_string(),
            "ARP who-has 192.0.2.20 tell 192.0.2.11 (02:00:00:00:00:0b)"
        );
        assert!(!r.is_gratuitous());

        let f = probe(MAC, VIP);
        want[28..32].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(f, want.to_vec());
        let (_, r) = parse_frame(&f).unwrap();
        assert!(r.is_probe() && !r.is_gratuitous());
        assert_eq!(r.sender_ip, Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn reply_with_padding() {
        let other = Mac([0x02, 0, 0, 0, 0, 0x0c]);
        let r = Repr {
            op: Operation::Reply,
            sender_mac: other,
            sender_ip: VIP,
            target_mac: MAC,
            target_ip: Ipv4Addr::new(192, 0, 2, 11),
        };
        let mut f = r.to_frame(other, MAC);
        f.resize(60, 0);
        assert_eq!(f[20..22], [0x00, 0x02]);
        let (eth, back) = parse_frame(&f).unwrap();
        assert_eq!(back, r);
        assert_eq!(eth.dst, MAC);
        assert_eq!(
            r.to_string(),
            "ARP reply 192.0.2.20 is-at 02:00:00:00:00:0c to 192.0.2.11"
        );
        let odd = Repr {
            op: Operation::Unknown(9),
            ..r
        };
        assert_eq!(u16::from(odd.op), 9);
        assert_eq!(parse_frame(&odd.to_frame(other, MAC)).unwrap().1, odd);
    }

    #[test]
    fn errors() {
        assert_eq!(parse_frame(&GARP[..13]), Err(Error::Truncated));
        assert_eq!(parse_frame(&GARP[..41]), Err(Error::Truncated));
        let mut f = GARP;
        f[13] = 0x00;
        assert_eq!(parse_frame(&f), Err(Error::NotArp(EtherType::IPV4)));
        for (i, v) in [(15usize, 6u8), (17, 0xdd), (18, 8), (19, 16)] {
            let mut f = GARP;
            f[i] = v;
            assert!(
                matches!(parse_frame(&f), Err(Error::NotEthernetIpv4 { .. })),
                "byte {i}"
            );
        }
        let mut buf = [0u8; 27];
        let r = parse_frame(&GARP).unwrap().1;
        assert_eq!(
            r.emit(&mut Packet::new_unchecked(&mut buf[..])),
            Err(Error::Truncated)
        );
    }
}
