//! Ethernet II frames and MAC addresses.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A 48-bit Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    /// The all-zero address, used for "unknown" in ARP.
    pub const ZERO: Mac = Mac([0; 6]);

    /// The raw bytes.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Builds a MAC from a slice; `None` unless it holds exactly six bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Mac> {
        <[u8; 6]>::try_from(bytes).ok().map(Mac)
    }

    /// True for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == Mac::BROADCAST
    }

    /// True when the group bit (least significant bit of the first byte) is set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for an individual (unicast) address.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// The Ethernet multicast MAC for an IPv4 multicast group (RFC 1112 §6.4):
    /// 01:00:5e followed by the low 23 bits of the group.
    pub fn from_ipv4_multicast(group: Ipv4Addr) -> Mac {
        let o = group.octets();
        Mac([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }

    /// The Ethernet multicast MAC for an IPv6 multicast group (RFC 2464 §7):
    /// 33:33 followed by the low 32 bits of the group.
    pub fn from_ipv6_multicast(group: Ipv6Addr) -> Mac {
        let o = group.octets();
        Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Serialised as its text, `aa:bb:cc:dd:ee:ff`.
impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read back from its text (either separator, either case).
impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex pairs separated by ':' or '-'")]
pub struct MacParseError(pub String);

impl FromStr for Mac {
    type Err = MacParseError;

    /// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (either case).
    fn from_str(s: &str) -> Result<Mac, MacParseError> {
        let err = || MacParseError(s.to_owned());
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for slot in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Mac(out))
    }
}

/// An EtherType value, with the few this crate speaks as constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4 (0x0800).
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP (0x0806).
    pub const ARP: EtherType = EtherType(0x0806);
    /// IEEE 802.1Q VLAN tag (0x8100).
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IPv6 (0x86dd).
    pub const IPV6: EtherType = EtherType(0x86dd);
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EtherType::IPV4 => f.write_str("IPv4"),
            EtherType::ARP => f.write_str("ARP"),
            EtherType::VLAN => f.write_str("802.1Q"),
            EtherType::IPV6 => f.write_str("IPv6"),
            EtherType(other) => write!(f, "0x{other:04x}"),
        }
    }
}

mod field {
    use std::ops::{Range, RangeFrom};
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// The frame is shorter than an Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("truncated Ethernet frame")]
pub struct Truncated;

/// A typed view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking its length.
    pub fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps a buffer after checking that it holds at least a header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>, Truncated> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that the buffer holds at least an Ethernet header.
    pub fn check_len(&self) -> Result<(), Truncated> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst_addr(&self) -> Mac {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        Mac(m)
    }

    /// Source MAC.
    pub fn src_addr(&self) -> Mac {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        Mac(m)
    }

    /// EtherType.
    pub fn ethertype(&self) -> EtherType {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC.
    pub fn set_dst_addr(&mut self, mac: Mac) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac.0);
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, mac: Mac) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, t: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.0.to_be_bytes());
    }

    /// Mutable access to everything after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// The parsed header of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source MAC.
    pub src: Mac,
    /// Destination MAC.
    pub dst: Mac,
    /// EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads the header of a frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr, Truncated> {
        frame.check_len()?;
        Ok(Repr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length (14).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `frame`, which must hold at least [`HEADER_LEN`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        frame: &mut Frame<T>,
    ) -> Result<(), Truncated> {
        frame.check_len()?;
        frame.set_dst_addr(self.dst);
        frame.set_src_addr(self.src);
        frame.set_ethertype(self.ethertype);
        Ok(())
    }

    /// A new frame: this header followed by `payload`.
    pub fn to_frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(HEADER_LEN + payload.len());
        buf.extend_from_slice(&self.dst.0);
        buf.extend_from_slice(&self.src.0);
        buf.extend_from_slice(&self.ethertype.0.to_be_bytes());
        buf.extend_from_slice(payload);
        buf
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}, {}", self.src, self.dst, self.ethertype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_serialises_as_its_text() {
        let m = Mac([0x02, 0x57, 0, 0x0a, 0, 0xff]);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, "\"02:57:00:0a:00:ff\"");
        assert_eq!(serde_json::from_str::<Mac>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Mac>("\"02:57\"").is_err());
    }

    #[test]
    fn mac_display_and_parse() {
        let m = Mac([0x00, 0x00, 0x5e, 0x00, 0x01, 0x33]);
        assert_eq!(m.to_string(), "00:00:5e:00:01:33");
        assert_eq!("00:00:5E:00:01:33".parse::<Mac>(), Ok(m));
        assert_eq!("00-00-5e-00-01-33".parse::<Mac>(), Ok(m));
        for bad in [
            "",
            "00:00:5e:00:01",
            "00:00:5e:00:01:33:44",
            "0:00:5e:00:01:33",
            "00:00:5e:00:01:3g",
            "00:00:5e-00:01:33",
            "+0:00:5e:00:01:33",
            "00:00:5e:00:01:ü",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn multicast_macs() {
        assert_eq!(
            Mac::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 18)),
            Mac([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12])
        );
        assert_eq!(
            Mac::from_ipv4_multicast(Ipv4Addr::new(239, 255, 1, 2)),
            Mac([0x01, 0x00, 0x5e, 0x7f, 0x01, 0x02])
        );
        let g: Ipv6Addr = "ff02::1:ff00:14".parse().unwrap();
        assert_eq!(
            Mac::from_ipv6_multicast(g),
            Mac([0x33, 0x33, 0xff, 0x00, 0x00, 0x14])
        );
        assert!(Mac::BROADCAST.is_broadcast() && Mac::BROADCAST.is_multicast());
        assert!(Mac([0x02, 0, 0, 0, 0, 1]).is_unicast());
    }

    #[test]
    fn frame_round_trip() {
        let repr = Repr {
            src: Mac([0x02, 0, 0, 0, 0, 0x0b]),
            dst: Mac::BROADCAST,
            ethertype: EtherType::ARP,
        };
        let bytes = repr.to_frame(&[0xaa]);
        assert_eq!(
            bytes,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x0b, 0x08, 0x06, 0xaa]
        );
        let f = Frame::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&f), Ok(repr));
        assert_eq!(f.payload(), &[0xaa]);
        let mut buf = [0u8; 14];
        repr.emit(&mut Frame::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf[..], bytes[..14]);
        assert_eq!(Frame::new_checked(&bytes[..13]).err(), Some(Truncated));
        assert_eq!(
            repr.emit(&mut Frame::new_unchecked(&mut buf[..13])),
            Err(Truncated)
        );
    }
}
