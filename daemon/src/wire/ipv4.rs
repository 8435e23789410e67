//! The IPv4 header (RFC 791), as far as VRRP captures and frames need it.

use std::fmt;
use std::net::Ipv4Addr;

use super::checksum;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST.end;

/// Why bytes are not a usable IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the header (with its options) or the total length says.
    #[error("truncated IPv4 packet")]
    Truncated,
    /// The Version field is not 4.
    #[error("IPv4 header with version {0}")]
    BadVersion(u8),
    /// IHL below 5, or a total length shorter than the header.
    #[error("bad IPv4 header or total length")]
    BadLength,
    /// The header checksum does not verify.
    #[error("bad IPv4 header checksum")]
    BadChecksum,
    /// A fragment; nothing this crate handles is ever fragmented.
    #[error("IPv4 fragment")]
    Fragmented,
    /// Emit: the payload does not fit the 16-bit total length.
    #[error("IPv4 payload of {0} bytes is too long")]
    TooLong(usize),
}

/// A typed view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
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

    /// Checks that the buffer holds the fixed header, that IHL is at least 5, and that
    /// header and total length fit the buffer. Trailing bytes (Ethernet padding) are
    /// allowed; [`payload`](Packet::payload) leaves them out.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        let total = usize::from(self.total_len());
        if header_len < HEADER_LEN || total < header_len {
            return Err(Error::BadLength);
        }
        if header_len > len || total > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Version field.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The Type of Service / DSCP+ECN byte.
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// The Total Length field.
    pub fn total_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The Identification field.
    pub fn ident(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::IDENT];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn flg_off(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::FLG_OFF];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flg_off() & 0x4000 != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flg_off() & 0x2000 != 0
    }

    /// The fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (self.flg_off() & 0x1fff) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The Protocol field.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// True when the header checksum verifies. Needs a checked view.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }

    /// The payload: from the end of the header (options included) to Total Length.
    /// Needs a checked view.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets Version 4 and the header length (a multiple of 4, at most 60).
    pub fn set_version_header_len(&mut self, header_len: usize) {
        let ihl = u8::try_from(header_len / 4).unwrap_or(0x0f) & 0x0f;
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ihl;
    }

    /// Sets the Type of Service byte.
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    /// Sets Total Length.
    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets Identification.
    pub fn set_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&ident.to_be_bytes());
    }

    /// Sets flags and fragment offset: DF as given, MF clear, offset zero.
    pub fn set_unfragmented(&mut self, dont_frag: bool) {
        let v: u16 = if dont_frag { 0x4000 } else { 0 };
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the TTL.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the Protocol field.
    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Computes and writes the header checksum (over [`header_len`](Packet::header_len)).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len().min(self.buffer.as_ref().len());
        let c = checksum::finish(checksum::sum(&self.buffer.as_ref()[..hl]));
        self.set_checksum(c);
    }
}

/// A parsed IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Upper-layer protocol number.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Payload length (Total Length minus header length).
    pub payload_len: usize,
}

impl Repr {
    /// Parses a header: lengths, version 4, checksum, and no fragmentation.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        if packet.buffer.as_ref().len() >= HEADER_LEN && packet.version() != 4 {
            return Err(Error::BadVersion(packet.version()));
        }
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Fragmented);
        }
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
        })
    }

    /// Header length emitted: 20 (no options).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header (no options, TOS 0xc0 "internetwork control" as
    /// routing protocols use, ID 0, DF clear) with its checksum into the start of
    /// `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let total = u16::try_from(HEADER_LEN + self.payload_len)
            .map_err(|_| Error::TooLong(self.payload_len))?;
        packet.set_version_header_len(HEADER_LEN);
        packet.set_tos(0xc0);
        packet.set_total_len(total);
        packet.set_ident(0);
        packet.set_unfragmented(false);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.fill_checksum();
        Ok(())
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 {} > {} proto {} ttl {} len {}",
            self.src, self.dst, self.protocol, self.ttl, self.payload_len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 4500 + 0020 + 0000 + 0000 + ff70 + 0000 + c000 + 020b + e000 + 0012 = 2e6ad
    //   -> e6af -> 1950; with TOS c0: 45c0 instead of 4500 -> 2e76d -> e76f -> 1890
    const HEADER: [u8; 20] = [
        0x45, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0x18, 0x90, 0xc0, 0x00, 0x02,
        0x0b, 0xe0, 0x00, 0x00, 0x12,
    ];

    fn repr() -> Repr {
        Repr {
            src: Ipv4Addr::new(192, 0, 2, 11),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            protocol: 112,
            ttl: 255,
            payload_len: 12,
        }
    }

    fn packet() -> Vec<u8> {
        let mut v = HEADER.to_vec();
        v.extend_from_slice(&[0; 12]);
        v
    }

    #[test]
    fn parse_and_emit() {
        let bytes = packet();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.checksum(), 0x1890);
        assert_eq!(Repr::parse(&p), Ok(repr()));
        assert_eq!(p.payload().len(), 12);
        let mut buf = [0u8; 20];
        repr()
            .emit(&mut Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, HEADER);
        assert_eq!(
            repr().to_string(),
            "IPv4 192.0.2.11 > 224.0.0.18 proto 112 ttl 255 len 12"
        );
    }

    #[test]
    fn options_and_padding() {
        // IHL 6 (one 4-byte option: NOP NOP NOP EOL) and 6 bytes of Ethernet padding.
        let mut bytes = vec![0x46, 0xc0, 0x00, 0x24, 0, 0, 0, 0, 0xff, 0x70, 0, 0];
        bytes.extend_from_slice(&HEADER[12..]);
        bytes.extend_from_slice(&[1, 1, 1, 0]);
        bytes.extend_from_slice(&[0xab; 12]);
        bytes.extend_from_slice(&[0; 6]);
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload(), &[0xab; 12]);
        assert_eq!(Repr::parse(&p), Ok(repr()));
    }

    #[test]
    fn errors() {
        let parse = |b: &[u8]| Repr::parse(&Packet::new_unchecked(b));
        let good = packet();
        assert_eq!(parse(&good[..19]), Err(Error::Truncated));
        assert_eq!(parse(&good[..31]), Err(Error::Truncated));
        let mut b = good.clone();
        b[0] = 0x65;
        assert_eq!(parse(&b), Err(Error::BadVersion(6)));
        let mut b = good.clone();
        b[0] = 0x44;
        assert_eq!(parse(&b), Err(Error::BadLength));
        let mut b = good.clone();
        b[3] = 19;
        assert_eq!(parse(&b), Err(Error::BadLength));
        let mut b = good.clone();
        b[8] = 254;
        assert_eq!(parse(&b), Err(Error::BadChecksum));
        for flags in [[0x20, 0x00], [0x00, 0x01]] {
            let mut b = good.clone();
            b[6..8].copy_from_slice(&flags);
            Packet::new_unchecked(&mut b[..]).fill_checksum();
            assert_eq!(parse(&b), Err(Error::Fragmented));
        }
        let r = Repr {
            payload_len: 70_000,
            ..repr()
        };
        let mut buf = [0u8; 20];
        assert_eq!(
            r.emit(&mut Packet::new_unchecked(&mut buf[..])),
            Err(Error::TooLong(70_000))
        );
        assert_eq!(
            repr().emit(&mut Packet::new_unchecked(&mut buf[..10])),
            Err(Error::Truncated)
        );
    }
}
