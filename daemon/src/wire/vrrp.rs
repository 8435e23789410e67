//! VRRP advertisements: VRRPv3 (RFC 5798) and VRRPv2 (RFC 3768).
//!
//! ```text
//!  VRRPv3                                 VRRPv2
//!  0       4       8      16      24      0       4       8      16      24
//! +-------+-------+-------+-------+       +-------+-------+-------+-------+
//! |Ver=3  |Type=1 | VRID  | Prio  |Count| |Ver=2  |Type=1 | VRID  | Prio  |Count|
//! +-------+-------+-------+-------+       +-------+-------+-------+-------+
//! | Rsvd  |  Max Adver Int  |  Checksum | |AuthType|AdverInt|  Checksum    |
//! +-------+-----------------+-----------+ +--------+--------+--------------+
//! |        Count addresses (4 or 16 bytes each)  ...                       |
//! +------------------------------------------------------------------------+
//!                                         | v2 only: Authentication Data   |
//!                                         | (8 bytes)                      |
//!                                         +--------------------------------+
//! ```
//!
//! The v3 checksum covers an IPv4 or IPv6 pseudo-header (RFC 5798 §5.2.8) followed by
//! the VRRP message; the v2 checksum covers the VRRP message only, authentication data
//! included (RFC 3768 §5.3.8). VRRPv2 exists for IPv4 only.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum;
use super::{Family, Mac};

/// IP protocol number of VRRP.
pub const PROTOCOL: u8 = 112;
/// The TTL (IPv4) or hop limit (IPv6) every advertisement is sent with and must arrive
/// with.
pub const TTL: u8 = 255;
/// The IPv4 multicast group of VRRP, 224.0.0.18.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP, ff02::12.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Length of the fixed VRRP header, before the addresses.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data that follows the addresses.
pub const AUTH_LEN: usize = 8;
/// The Type value of an advertisement, the only type VRRP defines.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// VRRPv2 Auth Type "no authentication".
pub const AUTH_NONE: u8 = 0;
/// VRRPv2 Auth Type "simple text password".
pub const AUTH_SIMPLE: u8 = 1;
/// Largest VRRPv3 Max Adver Int, in centiseconds (12 bits).
pub const MAX_ADVERT_INT_V3: u16 = 0x0fff;

/// The VRRP multicast group for `family`.
pub fn group(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(GROUP_V4),
        Family::Ipv6 => IpAddr::V6(GROUP_V6),
    }
}

/// The virtual router MAC address of `vrid`: 00-00-5E-00-01-{VRID} for IPv4 and
/// 00-00-5E-00-02-{VRID} for IPv6 (RFC 5798 §7.3).
pub fn virtual_mac(vrid: u8, family: Family) -> Mac {
    let kind = match family {
        Family::Ipv4 => 0x01,
        Family::Ipv6 => 0x02,
    };
    Mac([0x00, 0x00, 0x5e, 0x00, kind, vrid])
}

/// The VRRPv2 simple-password authentication data for `password`, as keepalived
/// builds it: the first eight bytes, zero padded.
pub fn pass_auth(password: &[u8]) -> [u8; 8] {
    let mut out = [0u8; AUTH_LEN];
    for (slot, b) in out.iter_mut().zip(password) {
        *slot = *b;
    }
    out
}

/// The VRRP protocol version: the one version type of the crate (configuration, state
/// machine and wire all use it). Serialises as `"2"` / `"3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Version {
    /// VRRPv2, RFC 3768 (IPv4 only, advert interval in whole seconds, optional
    /// simple-text password).
    #[serde(rename = "2")]
    V2,
    /// VRRPv3, RFC 5798 (IPv4 and IPv6, advert interval in centiseconds, no
    /// authentication).
    #[serde(rename = "3")]
    V3,
}

impl Version {
    /// The value of the Version field.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with Version field `n`, if VRRP defines it.
    pub fn from_number(n: u8) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.number())
    }
}

/// Why bytes are not a valid advertisement, or a [`Repr`] cannot be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the fixed header.
    #[error("truncated VRRP packet: {len} bytes, header needs {HEADER_LEN}")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The Version field is neither 2 nor 3.
    #[error("unsupported VRRP version {0}")]
    BadVersion(u8),
    /// The Type field is not 1 (advertisement).
    #[error("unknown VRRP type {0}, only 1 (advertisement) exists")]
    BadType(u8),
    /// The IP source and destination are of different families.
    #[error("IP source and destination are of different families")]
    MixedFamily,
    /// VRRPv2 received over (or to be sent over) IPv6.
    #[error("{version} cannot be carried over {family}")]
    WrongFamily {
        /// The advertisement's version.
        version: Version,
        /// The IP family it came with.
        family: Family,
    },
    /// The address count does not match the packet length.
    #[error("address count {count} needs a {expected}-byte packet, got {len} bytes")]
    AddressCount {
        /// The Count IPvX Addr field.
        count: u8,
        /// Bytes in the packet.
        len: usize,
        /// Bytes a packet with that count has.
        expected: usize,
    },
    /// A VRRPv2 Auth Type other than 0 (none) or 1 (simple password).
    #[error("unsupported VRRPv2 auth type {0}")]
    BadAuthType(u8),
    /// The checksum does not verify.
    #[error("bad VRRP checksum 0x{got:04x}, expected 0x{expected:04x}")]
    BadChecksum {
        /// The checksum in the packet.
        got: u16,
        /// The checksum the packet should carry.
        expected: u16,
    },
    /// Emit: the buffer is shorter than [`Repr::buffer_len`].
    #[error("buffer of {have} bytes is too small for a {need}-byte VRRP packet")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// Emit: no virtual address (RFC 5798 requires at least one).
    #[error("an advertisement needs at least one address")]
    NoAddresses,
    /// Emit: more than 255 addresses.
    #[error("{0} addresses do not fit the 8-bit count")]
    TooManyAddresses(usize),
    /// Emit: an address whose family differs from the IP source's.
    #[error("address {0} is not of the advertisement's family")]
    AddressFamily(IpAddr),
    /// Emit: the interval is outside 1..=4095 (v3) or 1..=255 (v2).
    #[error("advertisement interval {value} out of range for {version}")]
    IntervalOutOfRange {
        /// The advertisement's version.
        version: Version,
        /// The interval asked for.
        value: u16,
    },
    /// Emit: a password on a VRRPv3 advertisement, which has no authentication.
    #[error("VRRPv3 has no authentication")]
    AuthOnV3,
}

mod field {
    use std::ops::{Range, RangeFrom};
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v3: 4 reserved bits then the 12-bit Max Adver Int.
    pub const MAX_ADVERT_INT: Range<usize> = 4..6;
    /// v2: Auth Type.
    pub const AUTH_TYPE: usize = 4;
    /// v2: Adver Int (seconds).
    pub const ADVER_INT: usize = 5;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const ADDRS: RangeFrom<usize> = 8..;
}

/// A typed view of a VRRP packet (the IP payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that it holds at least the fixed header.
    ///
    /// Whether the length matches the address count depends on the address family,
    /// which comes from the IP header; [`Repr::parse`] checks that.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds at least the fixed header, so that the field
    /// getters cannot index out of range.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Error::Truncated { len })
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The Version field (high nibble of byte 0).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The Type field (low nibble of byte 0).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    /// The Virtual Router ID.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// The priority.
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// The Count IPvX Addr field.
    pub fn addr_count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// v3: the 12-bit Max Adver Int in centiseconds (the reserved bits are dropped).
    pub fn max_advert_int(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::MAX_ADVERT_INT];
        u16::from_be_bytes([b[0], b[1]]) & MAX_ADVERT_INT_V3
    }

    /// v2: the Auth Type field.
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// v2: the Adver Int field in seconds.
    pub fn adver_int(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// The Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Everything after the fixed header: the addresses, then (v2) the auth data.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::ADDRS]
    }

    /// The checksum this packet should carry, given the IP source and destination
    /// (used for the v3 pseudo-header only). The version is read from the packet:
    /// anything but 2 gets the v3 pseudo-header.
    pub fn compute_checksum(&self, src: &IpAddr, dst: &IpAddr) -> u16 {
        let data = self.buffer.as_ref();
        // The checksum field is at an even offset, so leaving it out keeps every
        // other word aligned, which is the same as summing it as zero.
        let mut sum = checksum::combine(
            checksum::sum(&data[..field::CHECKSUM.start]),
            checksum::sum(&data[field::CHECKSUM.end..]),
        );
        if self.version() != 2 {
            let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
            sum = checksum::combine(sum, checksum::pseudo_header(src, dst, PROTOCOL, len));
        }
        checksum::finish(sum)
    }

    /// True when the Checksum field is right for this packet and IP addresses.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        self.checksum() == self.compute_checksum(src, dst)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Version and Type fields.
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.buffer.as_mut()[field::VER_TYPE] = (version << 4) | (msg_type & 0x0f);
    }

    /// Sets the Virtual Router ID.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    /// Sets the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    /// Sets the Count IPvX Addr field.
    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    /// v3: sets Max Adver Int (low 12 bits of `cs`) and clears the reserved bits.
    pub fn set_max_advert_int(&mut self, cs: u16) {
        let v = cs & MAX_ADVERT_INT_V3;
        self.buffer.as_mut()[field::MAX_ADVERT_INT].copy_from_slice(&v.to_be_bytes());
    }

    /// v2: sets the Auth Type field.
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = auth_type;
    }

    /// v2: sets the Adver Int field (seconds).
    pub fn set_adver_int(&mut self, secs: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = secs;
    }

    /// Sets the Checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Mutable access to everything after the fixed header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::ADDRS]
    }

    /// Computes and writes the checksum.
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        let c = self.compute_checksum(src, dst);
        self.set_checksum(c);
    }
}

/// A parsed VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Protocol version.
    pub version: Version,
    /// Virtual Router ID.
    pub vrid: u8,
    /// Priority: 255 for the address owner, 0 for "the master is stepping down".
    pub priority: u8,
    /// Advertisement interval. v3: Max Adver Int in centiseconds (1..=4095 on emit).
    /// v2: Adver Int in seconds (1..=255 on emit, as it fills an 8-bit field).
    /// Parse reports whatever the packet holds, zero included; judging it is the
    /// instance's job.
    pub max_advert_int: u16,
    /// The virtual addresses, all of the IP header's family.
    pub addrs: Vec<IpAddr>,
    /// v2 only: the simple password (Auth Type 1), zero padded to 8 bytes. `None`
    /// means Auth Type 0, and always for v3. Parse does not judge the value.
    pub auth: Option<[u8; 8]>,
}

impl Repr {
    /// Parses and validates an advertisement that arrived from `src` to `dst`.
    ///
    /// Checks, in order: header length, version (2 or 3), type (1), that `src` and
    /// `dst` share a family and that v2 is IPv4, that the length matches the address
    /// count, the v2 auth type (0 or 1), and the checksum. TTL, VRID and the password
    /// value are the receiver's business.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<Repr, Error> {
        packet.check_len()?;
        let version =
            Version::from_number(packet.version()).ok_or(Error::BadVersion(packet.version()))?;
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Error::BadType(packet.msg_type()));
        }
        let family = Family::of(&src);
        if family != Family::of(&dst) {
            return Err(Error::MixedFamily);
        }
        if version == Version::V2 && family != Family::Ipv4 {
            return Err(Error::WrongFamily { version, family });
        }
        let count = packet.addr_count();
        let addrs_len = usize::from(count) * family.addr_len();
        let auth_len = match version {
            Version::V2 => AUTH_LEN,
            Version::V3 => 0,
        };
        let expected = HEADER_LEN + addrs_len + auth_len;
        let len = packet.as_bytes().len();
        if len != expected {
            return Err(Error::AddressCount {
                count,
                len,
                expected,
            });
        }
        let (max_advert_int, auth) = match version {
            Version::V3 => (packet.max_advert_int(), None),
            Version::V2 => {
                let auth = match packet.auth_type() {
                    AUTH_NONE => None,
                    AUTH_SIMPLE => {
                        let mut pw = [0u8; AUTH_LEN];
                        pw.copy_from_slice(&packet.payload()[addrs_len..]);
                        Some(pw)
                    }
                    other => return Err(Error::BadAuthType(other)),
                };
                (u16::from(packet.adver_int()), auth)
            }
        };
        let expected_sum = packet.compute_checksum(&src, &dst);
        if packet.checksum() != expected_sum {
            return Err(Error::BadChecksum {
                got: packet.checksum(),
                expected: expected_sum,
            });
        }
        let addrs = packet.payload()[..addrs_len]
            .chunks_exact(family.addr_len())
            .filter_map(|c| match family {
                Family::Ipv4 => <[u8; 4]>::try_from(c).ok().map(IpAddr::from),
                Family::Ipv6 => <[u8; 16]>::try_from(c).ok().map(IpAddr::from),
            })
            .collect();
        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_advert_int,
            addrs,
            auth,
        })
    }

    /// The address family of the advertised addresses (of the first one), if any.
    pub fn family(&self) -> Option<Family> {
        self.addrs.first().map(Family::of)
    }

    /// The v2 password without its zero padding, if there is one.
    pub fn password(&self) -> Option<&[u8]> {
        self.auth.as_ref().map(|pw| {
            let end = pw.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            &pw[..end]
        })
    }

    /// Length of the emitted packet: header, addresses and (v2) auth data.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self.addrs.iter().map(|a| Family::of(a).addr_len()).sum();
        let auth = match self.version {
            Version::V2 => AUTH_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + auth
    }

    /// Checks that this advertisement can be emitted from `src` to `dst`.
    pub fn validate(&self, src: &IpAddr, dst: &IpAddr) -> Result<(), Error> {
        let family = Family::of(src);
        if family != Family::of(dst) {
            return Err(Error::MixedFamily);
        }
        if self.version == Version::V2 && family != Family::Ipv4 {
            return Err(Error::WrongFamily {
                version: self.version,
                family,
            });
        }
        if self.addrs.is_empty() {
            return Err(Error::NoAddresses);
        }
        if self.addrs.len() > usize::from(u8::MAX) {
            return Err(Error::TooManyAddresses(self.addrs.len()));
        }
        if let Some(a) = self.addrs.iter().find(|a| Family::of(a) != family) {
            return Err(Error::AddressFamily(*a));
        }
        let max = match self.version {
            Version::V2 => u16::from(u8::MAX),
            Version::V3 => MAX_ADVERT_INT_V3,
        };
        if self.max_advert_int == 0 || self.max_advert_int > max {
            return Err(Error::IntervalOutOfRange {
                version: self.version,
                value: self.max_advert_int,
            });
        }
        if self.version == Version::V3 && self.auth.is_some() {
            return Err(Error::AuthOnV3);
        }
        Ok(())
    }

    /// Writes this advertisement, checksum included, into the first
    /// [`buffer_len`](Repr::buffer_len) bytes of `packet`. Bytes after that are left
    /// alone and are not part of the message: pass a buffer of exactly that length
    /// (or slice it) when sending.
    ///
    /// Fails, writing nothing, when [`validate`](Repr::validate) fails or the buffer is
    /// too small.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(), Error> {
        self.validate(&src, &dst)?;
        let need = self.buffer_len();
        let have = packet.as_bytes().len();
        if have < need {
            return Err(Error::BufferTooSmall { need, have });
        }
        let mut p = Packet::new_unchecked(&mut packet.buffer.as_mut()[..need]);
        p.set_version_type(self.version.number(), TYPE_ADVERTISEMENT);
        p.set_vrid(self.vrid);
        p.set_priority(self.priority);
        // validate() bounds the count by 255.
        p.set_addr_count(u8::try_from(self.addrs.len()).unwrap_or(u8::MAX));
        match self.version {
            Version::V3 => p.set_max_advert_int(self.max_advert_int),
            Version::V2 => {
                p.set_auth_type(if self.auth.is_some() {
                    AUTH_SIMPLE
                } else {
                    AUTH_NONE
                });
                // validate() bounds the interval by 255.
                p.set_adver_int(u8::try_from(self.max_advert_int).unwrap_or(u8::MAX));
            }
        }
        p.set_checksum(0);
        let mut at = 0;
        let payload = p.payload_mut();
        for a in &self.addrs {
            match a {
                IpAddr::V4(v4) => {
                    payload[at..at + 4].copy_from_slice(&v4.octets());
                    at += 4;
                }
                IpAddr::V6(v6) => {
                    payload[at..at + 16].copy_from_slice(&v6.octets());
                    at += 16;
                }
            }
        }
        if self.version == Version::V2 {
            payload[at..at + AUTH_LEN].copy_from_slice(&self.auth.unwrap_or([0; AUTH_LEN]));
        }
        p.fill_checksum(&src, &dst);
        Ok(())
    }

    /// Emits into a new buffer of exactly [`buffer_len`](Repr::buffer_len) bytes.
    pub fn to_bytes(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst)?;
        Ok(buf)
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vrid {} prio {} intvl ",
            self.version, self.vrid, self.priority
        )?;
        match self.version {
            Version::V3 => write!(f, "{}cs", self.max_advert_int)?,
            Version::V2 => write!(f, "{}s", self.max_advert_int)?,
        }
        if self.auth.is_some() {
            // The password itself stays out of logs.
            f.write_str(" auth simple")?;
        }
        f.write_str(" addrs")?;
        for (i, a) in self.addrs.iter().enumerate() {
            write!(f, "{}{a}", if i == 0 { " " } else { "," })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    fn parse(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<Repr, Error> {
        Repr::parse(&Packet::new_unchecked(bytes), src, dst)
    }

    // Checksums below were summed by hand (and re-checked with a throw-away Python
    // script, not with this code):
    //
    // v3/IPv4 keepalived vector:
    //   message  3133 + 6401 + 0064 + c000 + 0214            = 157ac
    //   pseudo   c000 + 020b + e000 + 0012 + 0070 + 000c     = 1a299
    //   total 2fa45 -> fold fa47 -> complement 05b8
    // tcpdump -vv, reading this advert from a pcap in a full frame, accepts 05b8 and
    // reports "bad vrrp cksum 5b9" when it is off by one.
    /// VRRPv3 advert as keepalived 2.2.7 sends it: vrid 51, priority 100,
    /// advert_int 1 s (100 cs), VIP 192.0.2.20; from 192.0.2.11 to 224.0.0.18.
    const V3_V4_KEEPALIVED: [u8; 12] = [
        0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x05, 0xb8, 0xc0, 0x00, 0x02, 0x14,
    ];

    // v2, no auth: 2133 + 6401 + 0001 + c000 + 0214 = 14749 -> 474a -> b8b5
    const V2_NOAUTH: [u8; 20] = [
        0x21, 0x33, 0x64, 0x01, 0x00, 0x01, 0xb8, 0xb5, 0xc0, 0x00, 0x02, 0x14, 0, 0, 0, 0, 0, 0,
        0, 0,
    ];

    // v2, PASS "secret": 2133 + 6401 + 0101 + c000 + 0214 + 7365 + 6372 + 6574 + 0000
    //   = 28494 -> 8496 -> 7b69
    const V2_PASS: [u8; 20] = [
        0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0x7b, 0x69, 0xc0, 0x00, 0x02, 0x14, b's', b'e', b'c',
        b'r', b'e', b't', 0, 0,
    ];

    // v3/IPv6, vrid 1, prio 200, 100 cs, 2001:db8::20 and ::21, fe80::1 -> ff02::12:
    //   message  3101 + c802 + 0064 + (2001 + 0db8 + 0020) + (2001 + 0db8 + 0021) = 1551a
    //   pseudo   fe80 + 0001 + ff02 + 0012 + 0028 (len 40) + 0070 (next header) = 1fe2d
    //   total 35347 -> 534a -> acb5
    const V3_V6: [u8; 40] = [
        0x31, 0x01, 0xc8, 0x02, 0x00, 0x64, 0xac, 0xb5, //
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, //
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x21,
    ];

    fn keepalived_repr() -> Repr {
        Repr {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            max_advert_int: 100,
            addrs: vec![v4("192.0.2.20")],
            auth: None,
        }
    }

    fn v2_repr(auth: Option<[u8; 8]>) -> Repr {
        Repr {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            max_advert_int: 1,
            addrs: vec![v4("192.0.2.20")],
            auth,
        }
    }

    fn v6_repr() -> Repr {
        Repr {
            version: Version::V3,
            vrid: 1,
            priority: 200,
            max_advert_int: 100,
            addrs: vec![v6("2001:db8::20"), v6("2001:db8::21")],
            auth: None,
        }
    }

    const SRC4: &str = "192.0.2.11";
    const DST4: &str = "224.0.0.18";

    #[test]
    fn v3_ipv4_keepalived_vector() {
        let (s, d) = (v4(SRC4), v4(DST4));
        let p = Packet::new_checked(&V3_V4_KEEPALIVED[..]).unwrap();
        assert_eq!(p.version(), 3);
        assert_eq!(p.msg_type(), 1);
        assert_eq!(p.vrid(), 51);
        assert_eq!(p.priority(), 100);
        assert_eq!(p.addr_count(), 1);
        assert_eq!(p.max_advert_int(), 100);
        assert_eq!(p.checksum(), 0x05b8);
        assert!(p.verify_checksum(&s, &d));
        assert_eq!(Repr::parse(&p, s, d), Ok(keepalived_repr()));
        assert_eq!(
            keepalived_repr().to_bytes(s, d).unwrap(),
            V3_V4_KEEPALIVED.to_vec()
        );
        assert_eq!(keepalived_repr().buffer_len(), 12);
        assert_eq!(
            keepalived_repr().to_string(),
            "VRRPv3 vrid 51 prio 100 intvl 100cs addrs 192.0.2.20"
        );
    }

    #[test]
    fn v3_ipv4_checksum_needs_pseudo_header() {
        // The same message checksummed without the pseudo-header (as pre-RFC 5798
        // drafts and some old daemons did) must be rejected.
        let mut bytes = V3_V4_KEEPALIVED;
        let plain = checksum::finish(checksum::combine(
            checksum::sum(&bytes[..6]),
            checksum::sum(&bytes[8..]),
        ));
        bytes[6..8].copy_from_slice(&plain.to_be_bytes());
        assert!(matches!(
            parse(&bytes, v4(SRC4), v4(DST4)),
            Err(Error::BadChecksum { got, expected: 0x05b8 }) if got == plain
        ));
        // And the pseudo-header really uses the addresses.
        assert!(matches!(
            parse(&V3_V4_KEEPALIVED, v4("192.0.2.12"), v4(DST4)),
            Err(Error::BadChecksum { .. })
        ));
    }

    #[test]
    fn v3_reserved_bits_are_ignored() {
        let mut bytes = V3_V4_KEEPALIVED;
        bytes[4] |= 0xf0;
        // Fix the checksum for the changed word: recompute through the view.
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum(&v4(SRC4), &v4(DST4));
        assert_eq!(parse(&bytes, v4(SRC4), v4(DST4)), Ok(keepalived_repr()));
    }

    #[test]
    fn v2_without_auth() {
        let (s, d) = (v4(SRC4), v4(DST4));
        let p = Packet::new_checked(&V2_NOAUTH[..]).unwrap();
        assert_eq!(p.auth_type(), 0);
        assert_eq!(p.adver_int(), 1);
        assert_eq!(Repr::parse(&p, s, d), Ok(v2_repr(None)));
        assert_eq!(v2_repr(None).to_bytes(s, d).unwrap(), V2_NOAUTH.to_vec());
        assert_eq!(v2_repr(None).buffer_len(), 20);
        // No pseudo-header in v2: any addresses verify.
        assert_eq!(
            parse(&V2_NOAUTH, v4("198.51.100.1"), v4("203.0.113.9")),
            Ok(v2_repr(None))
        );
        assert_eq!(v2_repr(None).password(), None);
        assert_eq!(
            v2_repr(None).to_string(),
            "VRRPv2 vrid 51 prio 100 intvl 1s addrs 192.0.2.20"
        );
    }

    #[test]
    fn v2_auth_data_is_ignored_for_type_0() {
        let mut bytes = V2_NOAUTH;
        bytes[12..20].copy_from_slice(b"garbage!");
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum(&v4(SRC4), &v4(DST4));
        assert_eq!(parse(&bytes, v4(SRC4), v4(DST4)), Ok(v2_repr(None)));
    }

    #[test]
    fn v2_with_pass_auth() {
        let (s, d) = (v4(SRC4), v4(DST4));
        let repr = v2_repr(Some(pass_auth(b"secret")));
        assert_eq!(parse(&V2_PASS, s, d), Ok(repr.clone()));
        assert_eq!(repr.to_bytes(s, d).unwrap(), V2_PASS.to_vec());
        assert_eq!(repr.password(), Some(&b"secret"[..]));
        assert_eq!(
            repr.to_string(),
            "VRRPv2 vrid 51 prio 100 intvl 1s auth simple addrs 192.0.2.20"
        );
        // The checksum covers the auth data.
        let mut bytes = V2_PASS;
        bytes[12] = b'S';
        assert!(matches!(
            parse(&bytes, s, d),
            Err(Error::BadChecksum { got: 0x7b69, .. })
        ));
    }

    #[test]
    fn pass_auth_truncates_and_pads() {
        assert_eq!(pass_auth(b""), [0; 8]);
        assert_eq!(pass_auth(b"ab"), [b'a', b'b', 0, 0, 0, 0, 0, 0]);
        assert_eq!(pass_auth(b"0123456789"), *b"01234567");
        let r = v2_repr(Some(pass_auth(b"01234567")));
        assert_eq!(r.password(), Some(&b"01234567"[..]));
        assert_eq!(v2_repr(Some([0; 8])).password(), Some(&b""[..]));
    }

    #[test]
    fn v3_ipv6_two_addresses() {
        let (s, d) = (v6("fe80::1"), IpAddr::V6(GROUP_V6));
        assert_eq!(parse(&V3_V6, s, d), Ok(v6_repr()));
        assert_eq!(v6_repr().to_bytes(s, d).unwrap(), V3_V6.to_vec());
        assert_eq!(v6_repr().buffer_len(), 40);
        assert_eq!(
            v6_repr().to_string(),
            "VRRPv3 vrid 1 prio 200 intvl 100cs addrs 2001:db8::20,2001:db8::21"
        );
        assert!(matches!(
            parse(&V3_V6, v6("fe80::2"), d),
            Err(Error::BadChecksum { got: 0xacb5, .. })
        ));
    }

    #[test]
    fn emit_into_larger_buffer_leaves_the_rest() {
        let mut buf = [0xeeu8; 16];
        keepalived_repr()
            .emit(&mut Packet::new_unchecked(&mut buf[..]), v4(SRC4), v4(DST4))
            .unwrap();
        assert_eq!(buf[..12], V3_V4_KEEPALIVED);
        assert_eq!(buf[12..], [0xee; 4]);
    }

    #[test]
    fn constants() {
        assert_eq!(PROTOCOL, 112);
        assert_eq!(group(Family::Ipv4), v4("224.0.0.18"));
        assert_eq!(group(Family::Ipv6), v6("ff02::12"));
        assert_eq!(
            virtual_mac(51, Family::Ipv4),
            Mac([0x00, 0x00, 0x5e, 0x00, 0x01, 0x33])
        );
        assert_eq!(
            virtual_mac(7, Family::Ipv6).to_string(),
            "00:00:5e:00:02:07"
        );
        assert_eq!(Version::from_number(2), Some(Version::V2));
        assert_eq!(Version::from_number(4), None);
    }

    // ---- every parse error ----

    #[test]
    fn error_truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                parse(&V3_V4_KEEPALIVED[..n], v4(SRC4), v4(DST4)),
                Err(Error::Truncated { len: n })
            );
            assert!(Packet::new_checked(&V3_V4_KEEPALIVED[..n]).is_err());
        }
    }

    #[test]
    fn error_bad_version() {
        for ver in [0u8, 1, 4, 15] {
            let mut b = V3_V4_KEEPALIVED;
            b[0] = (ver << 4) | 1;
            assert_eq!(parse(&b, v4(SRC4), v4(DST4)), Err(Error::BadVersion(ver)));
        }
    }

    #[test]
    fn error_bad_type() {
        let mut b = V3_V4_KEEPALIVED;
        b[0] = 0x32;
        assert_eq!(parse(&b, v4(SRC4), v4(DST4)), Err(Error::BadType(2)));
        let mut b = V2_NOAUTH;
        b[0] = 0x20;
        assert_eq!(parse(&b, v4(SRC4), v4(DST4)), Err(Error::BadType(0)));
    }

    #[test]
    fn error_families() {
        assert_eq!(
            parse(&V3_V4_KEEPALIVED, v4(SRC4), v6("ff02::12")),
            Err(Error::MixedFamily)
        );
        assert_eq!(
            parse(&V2_NOAUTH, v6("fe80::1"), v6("ff02::12")),
            Err(Error::WrongFamily {
                version: Version::V2,
                family: Family::Ipv6
            })
        );
        // A v3 IPv4 message read as IPv6: 12 bytes cannot hold one IPv6 address.
        assert_eq!(
            parse(&V3_V4_KEEPALIVED, v6("fe80::1"), v6("ff02::12")),
            Err(Error::AddressCount {
                count: 1,
                len: 12,
                expected: 24
            })
        );
    }

    #[test]
    fn error_address_count() {
        let mut b = V3_V4_KEEPALIVED;
        b[3] = 2;
        assert_eq!(
            parse(&b, v4(SRC4), v4(DST4)),
            Err(Error::AddressCount {
                count: 2,
                len: 12,
                expected: 16
            })
        );
        // Trailing bytes are an error too.
        let mut long = V3_V4_KEEPALIVED.to_vec();
        long.push(0);
        assert_eq!(
            parse(&long, v4(SRC4), v4(DST4)),
            Err(Error::AddressCount {
                count: 1,
                len: 13,
                expected: 12
            })
        );
        // v2 without its auth data.
        assert_eq!(
            parse(&V2_NOAUTH[..12], v4(SRC4), v4(DST4)),
            Err(Error::AddressCount {
                count: 1,
                len: 12,
                expected: 20
            })
        );
    }

    #[test]
    fn error_bad_auth_type() {
        for t in [2u8, 3, 255] {
            let mut b = V2_NOAUTH;
            b[4] = t;
            assert_eq!(parse(&b, v4(SRC4), v4(DST4)), Err(Error::BadAuthType(t)));
        }
    }

    #[test]
    fn error_bad_checksum() {
        let mut b = V3_V4_KEEPALIVED;
        b[7] ^= 1;
        assert_eq!(
            parse(&b, v4(SRC4), v4(DST4)),
            Err(Error::BadChecksum {
                got: 0x05b9,
                expected: 0x05b8
            })
        );
    }

    #[test]
    fn zero_interval_and_count_parse_as_is() {
        // Judging them is the instance's job; parse reports what is there.
        let mut b = [0x31, 0x33, 0x00, 0x00, 0x00, 0x00, 0, 0];
        Packet::new_unchecked(&mut b[..]).fill_checksum(&v4(SRC4), &v4(DST4));
        let r = parse(&b, v4(SRC4), v4(DST4)).unwrap();
        assert_eq!((r.priority, r.max_advert_int, r.addrs.len()), (0, 0, 0));
    }

    // ---- every emit error ----

    #[test]
    fn emit_errors() {
        let (s, d) = (v4(SRC4), v4(DST4));
        let mut buf = [0u8; 64];
        let mut emit = |r: &Repr, s: IpAddr, d: IpAddr| {
            let before = buf;
            let res = r.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d);
            assert_eq!(before, buf, "a failed emit must not write");
            res
        };
        let base = keepalived_repr();
        assert_eq!(emit(&base, s, v6("ff02::12")), Err(Error::MixedFamily));
        assert_eq!(
            emit(&v2_repr(None), v6("fe80::1"), v6("ff02::12")),
            Err(Error::WrongFamily {
                version: Version::V2,
                family: Family::Ipv6
            })
        );
        let r = Repr {
            addrs: vec![],
            ..base.clone()
        };
        assert_eq!(emit(&r, s, d), Err(Error::NoAddresses));
        let r = Repr {
            addrs: vec![v4("192.0.2.1"); 256],
            ..base.clone()
        };
        assert_eq!(emit(&r, s, d), Err(Error::TooManyAddresses(256)));
        let r = Repr {
            addrs: vec![v4("192.0.2.1"), v6("2001:db8::1")],
            ..base.clone()
        };
        assert_eq!(emit(&r, s, d), Err(Error::AddressFamily(v6("2001:db8::1"))));
        for (version, value) in [
            (Version::V3, 0),
            (Version::V3, 4096),
            (Version::V2, 0),
            (Version::V2, 256),
        ] {
            let r = Repr {
                version,
                max_advert_int: value,
                ..base.clone()
            };
            assert_eq!(
                emit(&r, s, d),
                Err(Error::IntervalOutOfRange { version, value })
            );
        }
        let r = Repr {
            auth: Some([0; 8]),
            ..base.clone()
        };
        assert_eq!(emit(&r, s, d), Err(Error::AuthOnV3));
        let mut small = [0u8; 11];
        assert_eq!(
            base.emit(&mut Packet::new_unchecked(&mut small[..]), s, d),
            Err(Error::BufferTooSmall { need: 12, have: 11 })
        );
        assert_eq!(small, [0; 11]);
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            Error::BadChecksum {
                got: 1,
                expected: 2
            }
            .to_string(),
            "bad VRRP checksum 0x0001, expected 0x0002"
        );
        assert_eq!(
            Error::WrongFamily {
                version: Version::V2,
                family: Family::Ipv6
            }
            .to_string(),
            "VRRPv2 cannot be carried over IPv6"
        );
    }

    // ---- properties ----

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    /// A valid advertisement together with IP addresses it can travel between.
    fn valid() -> impl Strategy<Value = (Repr, IpAddr, IpAddr)> {
        let v4s = any::<[u8; 4]>().prop_map(IpAddr::from);
        let v6s = any::<[u8; 16]>().prop_map(IpAddr::from);
        let v2 = (
            any::<u8>(),
            any::<u8>(),
            1u16..=255,
            prop::collection::vec(v4s.clone(), 1..=20),
            any::<Option<[u8; 8]>>(),
            v4s.clone(),
            v4s.clone(),
        )
            .prop_map(|(vrid, priority, int, addrs, auth, s, d)| {
                let r = Repr {
                    version: Version::V2,
                    vrid,
                    priority,
                    max_advert_int: int,
                    addrs,
                    auth,
                };
                (r, s, d)
            });
        let v3 = (
            any::<u8>(),
            any::<u8>(),
            1u16..=4095,
            prop_oneof![
                (prop::collection::vec(v4s.clone(), 1..=20), v4s.clone(), v4s),
                (prop::collection::vec(v6s.clone(), 1..=20), v6s.clone(), v6s),
            ],
        )
            .prop_map(|(vrid, priority, int, (addrs, s, d))| {
                let r = Repr {
                    version: Version::V3,
                    vrid,
                    priority,
                    max_advert_int: int,
                    addrs,
                    auth: None,
                };
                (r, s, d)
            });
        prop_oneof![v2, v3]
    }

    proptest! {
        #[test]
        fn parse_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            src in any_ip(),
            dst in any_ip(),
        ) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = Repr::parse(&p, src, dst);
        }

        #[test]
        fn parse_never_panics_on_plausible_headers(
            first in prop::sample::select(vec![0x21u8, 0x31, 0x20, 0x32, 0x41]),
            mut bytes in prop::collection::vec(any::<u8>(), 8..120),
            count_ok in any::<bool>(),
            src in any_ip(),
            dst in any_ip(),
        ) {
            // Steer towards the deeper checks: valid version/type, a count that
            // matches, and a correct checksum.
            bytes[0] = first;
            if count_ok {
                let per = if src.is_ipv4() { 4 } else { 16 };
                let tail = if first >> 4 == 2 { AUTH_LEN } else { 0 };
                let n = (bytes.len().saturating_sub(HEADER_LEN + tail)) / per;
                bytes.truncate(HEADER_LEN + n * per + tail);
                bytes.resize(HEADER_LEN + n * per + tail, 0);
                bytes[3] = u8::try_from(n).unwrap_or(u8::MAX);
            }
            Packet::new_unchecked(&mut bytes[..]).fill_checksum(&src, &dst);
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]), src, dst);
        }

        #[test]
        fn valid_repr_round_trips((repr, src, dst) in valid()) {
            let bytes = repr.to_bytes(src, dst).unwrap();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            let back = Repr::parse(&Packet::new_checked(&bytes[..]).unwrap(), src, dst);
            prop_assert_eq!(back, Ok(repr));
        }
    }
}
