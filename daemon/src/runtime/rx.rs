//! Receive-path validation of VRRP advertisements, and the named drop counters.
//!
//! A received packet goes through [`parse_advert`] (hop limit, then the wire checks of
//! [`vrrp::Repr::parse`]) and, once the VRID has picked an instance, through
//! [`check_for_instance`] (version, v2 password, address list). Every rejection is a
//! [`DropReason`] that the caller counts in [`DropCounters`]; a rejected packet never
//! reaches the state machine.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::instance::Advert;
use crate::wire::vrrp;

/// Why a received packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Too short for its headers, or its length disagrees with its address count.
    Truncated,
    /// IP TTL / hop limit other than 255 (RFC 5798 §7.1): it crossed a router.
    BadTtl,
    /// The VRRP checksum does not verify.
    BadChecksum,
    /// The version is not 2 or 3, or not the version of the instance with this VRID.
    BadVersion,
    /// The VRRP type is not 1 (advertisement).
    BadType,
    /// VRRPv2 over IPv6, or IP source and destination of different families.
    BadFamily,
    /// No instance on this interface and family has this VRID.
    UnknownVrid,
    /// VRRPv2 authentication type or password differs from ours.
    BadAuth,
    /// A non-owner advertisement whose address list differs from ours.
    AddressMismatch,
    /// One of our own packets (sent from our own address).
    OwnPacket,
    /// An interval field of 0 (v3 Max Adver Int or v2 Adver Int): no valid router sends
    /// it, and following it would shrink Master_Down_Interval to nothing.
    BadInterval,
}

impl DropReason {
    /// Every reason, in the order the counters are listed.
    pub const ALL: [DropReason; 11] = [
        DropReason::Truncated,
        DropReason::BadTtl,
        DropReason::BadChecksum,
        DropReason::BadVersion,
        DropReason::BadType,
        DropReason::BadFamily,
        DropReason::UnknownVrid,
        DropReason::BadAuth,
        DropReason::AddressMismatch,
        DropReason::OwnPacket,
        DropReason::BadInterval,
    ];

    /// The counter's name in logs and in the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadTtl => "bad_ttl",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::BadVersion => "bad_version",
            DropReason::BadType => "bad_type",
            DropReason::BadFamily => "bad_family",
            DropReason::UnknownVrid => "unknown_vrid",
            DropReason::BadAuth => "bad_auth",
            DropReason::AddressMismatch => "address_mismatch",
            DropReason::OwnPacket => "own_packet",
            DropReason::BadInterval => "bad_interval",
        }
    }

    /// The reason a wire-level parse error stands for.
    pub fn of_wire_error(e: &vrrp::Error) -> DropReason {
        match e {
            vrrp::Error::Truncated { .. } | vrrp::Error::AddressCount { .. } => {
                DropReason::Truncated
            }
            vrrp::Error::BadVersion(_) => DropReason::BadVersion,
            vrrp::Error::BadType(_) => DropReason::BadType,
            vrrp::Error::MixedFamily | vrrp::Error::WrongFamily { .. } => DropReason::BadFamily,
            vrrp::Error::BadAuthType(_) => DropReason::BadAuth,
            vrrp::Error::BadChecksum { .. } => DropReason::BadChecksum,
            // Emit-side errors cannot come out of parse; count them as malformed.
            vrrp::Error::BufferTooSmall { .. }
            | vrrp::Error::NoAddresses
            | vrrp::Error::TooManyAddresses(_)
            | vrrp::Error::AddressFamily(_)
            | vrrp::Error::IntervalOutOfRange { .. }
            | vrrp::Error::AuthOnV3 => DropReason::Truncated,
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many packets were dropped, per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DropCounters {
    /// See [`DropReason::Truncated`].
    pub truncated: u64,
    /// See [`DropReason::BadTtl`].
    pub bad_ttl: u64,
    /// See [`DropReason::BadChecksum`].
    pub bad_checksum: u64,
    /// See [`DropReason::BadVersion`].
    pub bad_version: u64,
    /// See [`DropReason::BadType`].
    pub bad_type: u64,
    /// See [`DropReason::BadFamily`].
    pub bad_family: u64,
    /// See [`DropReason::UnknownVrid`].
    pub unknown_vrid: u64,
    /// See [`DropReason::BadAuth`].
    pub bad_auth: u64,
    /// See [`DropReason::AddressMismatch`].
    pub address_mismatch: u64,
    /// See [`DropReason::OwnPacket`].
    pub own_packet: u64,
    /// See [`DropReason::BadInterval`].
    pub bad_interval: u64,
}

impl DropCounters {
    /// Counts one drop.
    pub fn bump(&mut self, reason: DropReason) {
        *self.slot(reason) += 1;
    }

    /// The count for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        let mut copy = *self;
        *copy.slot(reason)
    }

    /// Sum over every reason.
    pub fn total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.get(*r)).sum()
    }

    fn slot(&mut self, reason: DropReason) -> &mut u64 {
        match reason {
            DropReason::Truncated => &mut self.truncated,
            DropReason::BadTtl => &mut self.bad_ttl,
            DropReason::BadChecksum => &mut self.bad_checksum,
            DropReason::BadVersion => &mut self.bad_version,
            DropReason::BadType => &mut self.bad_type,
            DropReason::BadFamily => &mut self.bad_family,
            DropReason::UnknownVrid => &mut self.unknown_vrid,
            DropReason::BadAuth => &mut self.bad_auth,
            DropReason::AddressMismatch => &mut self.address_mismatch,
            DropReason::OwnPacket => &mut self.own_packet,
            DropReason::BadInterval => &mut self.bad_interval,
        }
    }
}

/// The IP-level facts of a received VRRP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// IP source.
    pub src: IpAddr,
    /// IP destination (the group, or our unicast address).
    pub dst: IpAddr,
    /// IPv4 TTL / IPv6 hop limit, when the kernel reported it.
    pub ttl: Option<u8>,
}

/// First stage: the checks that need no instance. A missing TTL counts as wrong: the
/// sockets always ask for it, so its absence means something is off.
pub fn parse_advert(payload: &[u8], meta: &RxMeta) -> Result<vrrp::Repr, DropReason> {
    if meta.ttl != Some(vrrp::TTL) {
        return Err(DropReason::BadTtl);
    }
    vrrp::Repr::parse(&vrrp::Packet::new_unchecked(payload), meta.src, meta.dst)
        .map_err(|e| DropReason::of_wire_error(&e))
}

/// What an instance expects of the advertisements for its VRID.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The instance's version.
    pub version: vrrp::Version,
    /// v2: the zero-padded password ([`vrrp::pass_auth`]), `None` for no authentication.
    pub auth: Option<[u8; 8]>,
    /// The instance's virtual addresses.
    pub addrs: &'a [IpAddr],
}

/// Second stage: version and v2 password must match the instance; the address list is
/// compared (as a set) into [`Advert::addrs_match`]. A non-owner advert whose list
/// differs is still returned: the caller counts [`DropReason::AddressMismatch`] and
/// hands it to the state machine, which counts and discards it (RFC 5798 §7.1) and
/// never acts on it.
pub fn check_for_instance(
    repr: &vrrp::Repr,
    meta: &RxMeta,
    expect: &Expect<'_>,
) -> Result<Advert, DropReason> {
    if repr.version != expect.version {
        return Err(DropReason::BadVersion);
    }
    if repr.version == vrrp::Version::V2 && repr.auth != expect.auth {
        return Err(DropReason::BadAuth);
    }
    if repr.max_advert_int == 0 {
        return Err(DropReason::BadInterval);
    }
    let max_advert_interval = match repr.version {
        vrrp::Version::V3 => Duration::from_millis(u64::from(repr.max_advert_int) * 10),
        vrrp::Version::V2 => Duration::from_secs(u64::from(repr.max_advert_int)),
    };
    Ok(Advert {
        src: meta.src,
        priority: repr.priority,
        max_advert_interval,
        addrs_match: same_set(&repr.addrs, expect.addrs),
    })
}

/// Whether two address lists hold the same addresses, ignoring order (and
/// multiplicity, which validation keeps at one on our side). Allocation free.
pub fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vrrp::{Repr, Version};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn meta(ttl: Option<u8>) -> RxMeta {
        RxMeta {
            src: ip("192.0.2.12"),
            dst: ip("224.0.0.18"),
            ttl,
        }
    }

    fn repr(version: Version, auth: Option<[u8; 8]>) -> Repr {
        Repr {
            version,
            vrid: 51,
            priority: 100,
            max_advert_int: if version == Version::V3 { 100 } else { 1 },
            addrs: vec![ip("192.0.2.20")],
            auth,
        }
    }

    fn bytes(r: &Repr) -> Vec<u8> {
        r.to_bytes(ip("192.0.2.12"), ip("224.0.0.18")).unwrap()
    }

    #[test]
    fn good_v3_advert_passes_both_stages() {
        let r = repr(Version::V3, None);
        let m = meta(Some(255));
        let parsed = parse_advert(&bytes(&r), &m).unwrap();
        let addrs = [ip("192.0.2.20")];
        let adv = check_for_instance(
            &parsed,
            &m,
            &Expect {
                version: Version::V3,
                auth: None,
                addrs: &addrs,
            },
        )
        .unwrap();
        assert_eq!(adv.priority, 100);
        assert_eq!(adv.max_advert_interval, Duration::from_secs(1));
        assert!(adv.addrs_match);
    }

    /// Issue 13 item 6: Max Adver Int 0 is dropped with its own counter, never handed
    /// to the state machine.
    #[test]
    fn zero_interval_is_dropped_as_bad_interval() {
        let addrs = [ip("192.0.2.20")];
        for version in [Version::V3, Version::V2] {
            let mut r = repr(version, None);
            r.max_advert_int = 0;
            let expect = Expect {
                version,
                auth: None,
                addrs: &addrs,
            };
            assert_eq!(
                check_for_instance(&r, &meta(Some(255)), &expect),
                Err(DropReason::BadInterval)
            );
        }
        let mut c = DropCounters::default();
        c.bump(DropReason::BadInterval);
        assert_eq!((c.bad_interval, c.total()), (1, 1));
    }

    #[test]
    fn ttl_other_than_255_or_missing_is_dropped() {
        let b = bytes(&repr(Version::V3, None));
        assert_eq!(parse_advert(&b, &meta(Some(254))), Err(DropReason::BadTtl));
        assert_eq!(parse_advert(&b, &meta(Some(1))), Err(DropReason::BadTtl));
        assert_eq!(parse_advert(&b, &meta(None)), Err(DropReason::BadTtl));
    }

    #[test]
    fn wire_errors_map_to_named_counters() {
        let good = bytes(&repr(Version::V3, None));
        let m = meta(Some(255));
        let mut bad_sum = good.clone();
        bad_sum[7] ^= 1;
        assert_eq!(parse_advert(&bad_sum, &m), Err(DropReason::BadChecksum));
        assert_eq!(parse_advert(&good[..5], &m), Err(DropReason::Truncated));
        assert_eq!(parse_advert(&good[..10], &m), Err(DropReason::Truncated));
        let mut v4 = good.clone();
        v4[0] = 0x41;
        assert_eq!(parse_advert(&v4, &m), Err(DropReason::BadVersion));
        let mut t2 = good;
        t2[0] = 0x32;
        assert_eq!(parse_advert(&t2, &m), Err(DropReason::BadType));
    }

    #[test]
    fn v2_password_must_match_exactly() {
        let pass = vrrp::pass_auth(b"1111");
        let addrs = [ip("192.0.2.20")];
        let expect = Expect {
            version: Version::V2,
            auth: Some(pass),
            addrs: &addrs,
        };
        let m = meta(Some(255));
        let ok = parse_advert(&bytes(&repr(Version::V2, Some(pass))), &m).unwrap();
        let adv = check_for_instance(&ok, &m, &expect).unwrap();
        assert_eq!(adv.max_advert_interval, Duration::from_secs(1));
        let wrong = parse_advert(
            &bytes(&repr(Version::V2, Some(vrrp::pass_auth(b"2222")))),
            &m,
        )
        .unwrap();
        assert_eq!(
            check_for_instance(&wrong, &m, &expect),
            Err(DropReason::BadAuth)
        );
        let none = parse_advert(&bytes(&repr(Version::V2, None)), &m).unwrap();
        assert_eq!(
            check_for_instance(&none, &m, &expect),
            Err(DropReason::BadAuth)
        );
        // The other way round: we have no password, the packet has one.
        let open = Expect {
            auth: None,
            ..expect
        };
        assert_eq!(check_for_instance(&ok, &m, &open), Err(DropReason::BadAuth));
    }

    #[test]
    fn version_must_match_the_instance() {
        let m = meta(Some(255));
        let p = parse_advert(&bytes(&repr(Version::V2, None)), &m).unwrap();
        let addrs = [ip("192.0.2.20")];
        let expect = Expect {
            version: Version::V3,
            auth: None,
            addrs: &addrs,
        };
        assert_eq!(
            check_for_instance(&p, &m, &expect),
            Err(DropReason::BadVersion)
        );
    }

    #[test]
    fn address_lists_compare_as_sets() {
        let a = [ip("192.0.2.20"), ip("192.0.2.21")];
        let b = [ip("192.0.2.21"), ip("192.0.2.20")];
        let c = [ip("192.0.2.20")];
        let d = [ip("192.0.2.20"), ip("192.0.2.22")];
        assert!(same_set(&a, &b));
        assert!(!same_set(&a, &c));
        assert!(!same_set(&a, &d));
    }

    #[test]
    fn counters_count_by_name() {
        let mut c = DropCounters::default();
        for r in DropReason::ALL {
            c.bump(r);
        }
        c.bump(DropReason::BadTtl);
        assert_eq!(c.get(DropReason::BadTtl), 2);
        assert_eq!(c.total(), 12);
        let json = serde_json::to_value(c).unwrap();
        for r in DropReason::ALL {
            assert!(json.get(r.as_str()).is_some(), "{r} missing in {json}");
        }
    }
}
