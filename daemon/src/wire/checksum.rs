//! The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-header sums.
//!
//! Sums are kept as folded 16-bit one's complement values so partial sums can be
//! combined in any order; [`finish`] turns a sum into the value written on the wire.

use std::net::IpAddr;

/// One's complement sum of `data` as big-endian 16-bit words, folded to 16 bits.
///
/// An odd trailing byte is padded with a zero byte, as RFC 1071 prescribes.
pub fn sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// One's complement addition of two folded sums.
pub fn combine(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// The checksum field value for a (folded) sum: its one's complement.
pub fn finish(sum: u16) -> u16 {
    !sum
}

/// Sum of the pseudo-header used by upper-layer checksums.
///
/// For IPv4 this is source, destination, a zero byte, the protocol and the 16-bit
/// upper-layer length (RFC 768 layout); for IPv6 it is source, destination, the 32-bit
/// upper-layer length, three zero bytes and the next header (RFC 8200 §8.1). Both give
/// the same sum for the same values, so the family only decides the address bytes.
/// If `src` and `dst` have different families, both are summed as they are; such a
/// packet cannot exist, and the caller rejects it before this matters.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: u8, length: u32) -> u16 {
    let mut s = combine(addr_sum(src), addr_sum(dst));
    s = combine(s, u16::from(protocol));
    s = combine(s, sum(&length.to_be_bytes()));
    s
}

fn addr_sum(addr: &IpAddr) -> u16 {
    match addr {
        IpAddr::V4(a) => sum(&a.octets()),
        IpAddr::V6(a) => sum(&a.octets()),
    }
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 16 significant bits.
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn rfc1071_example() {
        // The worked example of RFC 1071 §3: sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(finish(sum(&data)), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn carries_wrap_around() {
        assert_eq!(sum(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        assert_eq!(combine(0xffff, 0x0002), 0x0002);
    }

    #[test]
    fn ipv4_pseudo_header() {
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
        let dst = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
        // c000 + 020b + e000 + 0012 + 0070 + 000c = 1a299 -> a29a
        assert_eq!(pseudo_header(&src, &dst, 112, 12), 0xa29a);
    }
}
