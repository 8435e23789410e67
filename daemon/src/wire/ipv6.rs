//! The IPv6 fixed header (RFC 8200), as far as VRRP and neighbour discovery need it.
//! Extension headers are not interpreted: the next header is reported as it is.

use std::fmt;
use std::net::Ipv6Addr;

mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the IPv6 fixed header.
pub const HEADER_LEN: usize = field::DST.end;

/// Next header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;

/// Why bytes are not a usable IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the fixed header plus Payload Length.
    #[error("truncated IPv6 packet")]
    Truncated,
    /// The Version field is not 6.
    #[error("IPv6 header with version {0}")]
    BadVersion(u8),
    /// Emit: the payload does not fit the 16-bit Payload Length.
    #[error("IPv6 payload of {0} bytes is too long")]
    TooLong(usize),
}

/// A typed view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(b);
    Ipv6Addr::from(o)
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Packet::check_len).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the fixed header and Payload Length bytes after
    /// it. Trailing bytes (Ethernet padding) are allowed.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || HEADER_LEN + usize::from(self.payload_len()) > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Version field.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The Traffic Class.
    pub fn traffic_class(&self) -> u8 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        (b[0] << 4) | (b[1] >> 4)
    }

    /// The Payload Length field.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PAYLOAD_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The Next Header field.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// The Hop Limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST])
    }

    /// The payload (Payload Length bytes after the fixed header). Needs a checked view.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets Version 6, a traffic class and a zero flow label.
    pub fn set_version_traffic_class(&mut self, tc: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TC_FLOW];
        b[0] = 0x60 | (tc >> 4);
        b[1] = tc << 4;
        b[2] = 0;
        b[3] = 0;
    }

    /// Sets Payload Length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets Next Header.
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = nh;
    }

    /// Sets the Hop Limit.
    pub fn set_hop_limit(&mut self, hl: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hl;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
}

/// A parsed IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header (not followed through extension headers).
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Payload Length.
    pub payload_len: usize,
}

impl Repr {
    /// Parses the fixed header: version 6 and lengths.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        if !packet.buffer.as_ref().is_empty() && packet.version() != 6 {
            return Err(Error::BadVersion(packet.version()));
        }
        packet.check_len()?;
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            payload_len: usize::from(packet.payload_len()),
        })
    }

    /// Header length emitted: 40.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header (traffic class and flow label zero) into the start of
    /// `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = u16::try_from(self.payload_len).map_err(|_| Error::TooLong(self.payload_len))?;
        packet.set_version_traffic_class(0);
        packet.set_payload_len(len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        Ok(())
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv6 {} > {} next {} hlim {} len {}",
            self.src, self.dst, self.next_header, self.hop_limit, self.payload_len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x70, 0xff, //
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12,
    ];

    fn repr() -> Repr {
        Repr {
            src: "fe80::1".parse().unwrap(),
            dst: "ff02::12".parse().unwrap(),
            next_header: 112,
            hop_limit: 255,
            payload_len: 40,
        }
    }

    #[test]
    fn parse_and_emit() {
        let mut bytes = HEADER.to_vec();
        bytes.extend_from_slice(&[7; 40]);
        bytes.extend_from_slice(&[0; 3]);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.traffic_class(), 0);
        assert_eq!(Repr::parse(&p), Ok(repr()));
        assert_eq!(p.payload(), &[7; 40]);
        let mut buf = [0u8; 40];
        repr()
            .emit(&mut Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, HEADER);
        assert_eq!(
            repr().to_string(),
            "IPv6 fe80::1 > ff02::12 next 112 hlim 255 len 40"
        );
    }

    #[test]
    fn errors() {
        let parse = |b: &[u8]| Repr::parse(&Packet::new_unchecked(b));
        assert_eq!(parse(&[]), Err(Error::Truncated));
        assert_eq!(parse(&HEADER[..39]), Err(Error::Truncated));
        assert_eq!(parse(&HEADER), Err(Error::Truncated));
        let mut b = HEADER;
        b[0] = 0x45;
        assert_eq!(parse(&b), Err(Error::BadVersion(4)));
        let r = Repr {
            payload_len: 65_536,
            ..repr()
        };
        let mut buf = [0u8; 40];
        assert_eq!(
            r.emit(&mut Packet::new_unchecked(&mut buf[..])),
            Err(Error::TooLong(65_536))
        );
        assert_eq!(
            repr().emit(&mut Packet::new_unchecked(&mut buf[..39])),
            Err(Error::Truncated)
        );
    }
}
