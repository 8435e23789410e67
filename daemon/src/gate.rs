//! The nftables gate: nfnetlink messages (no IO) for a lease the kernel enforces with
//! millisecond precision and that survives SIGKILL of vrrpd (contract: docs/gate.md).
//!
//! Two tables named `vrrpd`, one per family, hold the VIPs this daemon manages
//! (`vips4`/`vips6`, no timeout) and the ones whose gate is open (`live4`/`live6`,
//! elements with a timeout). Rules at priority -300 drop what a managed, not live VIP
//! would send or receive:
//!
//! * `inet vrrpd out` (hook output): `ip saddr @vips4 ip saddr != @live4 drop`,
//!   the same for `ip6 saddr`, and ICMPv6 neighbour adverts whose target is a managed,
//!   not live VIP;
//! * `inet vrrpd in` (hook input): the same on `ip daddr` / `ip6 daddr`;
//! * `arp vrrpd out` (hook output): ARP for IPv4 over Ethernet whose sender IP is a
//!   managed, not live VIP (the kernel's ARP replies and requests).
//!
//! A Master refreshes its elements after its adverts; an element's timeout ends the
//! gate a little before the earliest takeover by a peer
//! ([`crate::instance::gate_end`]). A killed daemon stops refreshing and the kernel
//! stops matching the element at its end: the node goes quiet for the VIP even though
//! the address is still there (the address lifetime stays as the backstop).
//!
//! Every change is one nfnetlink batch ([`Batch`]), so both tables always agree.

use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{DefaultNla, NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Cmp, DataAttribute, Expressions, Hook, HookNumber, ListAttribute,
    Lookup, Meta, MetaKey, NfTablesMessage, Operator, Payload, Register, RuleAttribute,
    RuleMessage, SetAttribute, SetElementAttribute, SetElementList, SetElementMessage, SetFlags,
    SetMessage, TableAttribute, TableFlags, TableMessage, VerdictAttribute,
};
use netlink_packet_netfilter::nftables::{InetHookNumber, Verdict};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

/// Name of both tables.
pub const TABLE: &str = "vrrpd";
/// `NFNL_SUBSYS_NFTABLES`: the subsystem of a batch.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NFT_MSG_DESTROYTABLE` (kernel >= 6.3): delete a table, no error when absent.
pub const NFT_MSG_DESTROYTABLE: u8 = 26;
/// `NFT_MSG_DESTROYSETELEM` (kernel >= 6.3): delete elements, no error when absent
/// (an expired element may still be in the set until garbage collection, or gone).
pub const NFT_MSG_DESTROYSETELEM: u8 = 30;
/// `NFTA_TABLE_NAME`.
const NFTA_TABLE_NAME: u16 = 1;
/// `NFTA_SET_ELEM_LIST_TABLE`, `NFTA_SET_ELEM_LIST_SET`, `NFTA_SET_ELEM_LIST_ELEMENTS`.
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
/// `NFT_DATA_VALUE`-typed key types: `ipv4_addr`, `ipv6_addr`.
const TYPE_IPV4_ADDR: u32 = 7;
const TYPE_IPV6_ADDR: u32 = 8;
/// `NF_DROP`, `NF_ACCEPT`.
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
/// `NFT_LOOKUP_F_INV`: the lookup matches when the key is absent.
const NFT_LOOKUP_F_INV: u32 = 1;
/// `NFT_PAYLOAD_NETWORK_HEADER`, `NFT_PAYLOAD_TRANSPORT_HEADER`.
const BASE_NETWORK: u32 = 1;
const BASE_TRANSPORT: u32 = 2;
/// `NF_ARP_OUT`.
const NF_ARP_OUT: u32 = 1;
/// Hook priority of the chains: before conntrack and every usual filter.
pub const PRIORITY: i32 = -300;
/// `NFPROTO_IPV4`, `NFPROTO_IPV6` as `meta nfproto` reads them.
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
/// `IPPROTO_ICMPV6` and the neighbour advertisement type.
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_ADVERT: u8 = 136;

/// The family of one of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `inet vrrpd`: IPv4 and IPv6 traffic, neighbour adverts.
    Inet,
    /// `arp vrrpd`: ARP.
    Arp,
}

impl Family {
    fn proto(self) -> NetfilterProtoFamily {
        match self {
            Family::Inet => NetfilterProtoFamily::Inet,
            Family::Arp => NetfilterProtoFamily::ARP,
        }
    }
}

/// Which set of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// The managed VIPs (`vips4`/`vips6`).
    Managed,
    /// The VIPs whose gate is open (`live4`/`live6`).
    Live,
}

/// The name of the set of `kind` holding addresses like `v6` says.
pub fn set_name(kind: SetKind, v6: bool) -> &'static str {
    match (kind, v6) {
        (SetKind::Managed, false) => "vips4",
        (SetKind::Managed, true) => "vips6",
        (SetKind::Live, false) => "live4",
        (SetKind::Live, true) => "live6",
    }
}

/// One live element: a VIP and how long its gate stays open from the batch's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveElem {
    /// The VIP.
    pub addr: IpAddr,
    /// Its element's timeout (and expiration); at least 1 ms (0 would mean "never").
    pub timeout: Duration,
}

/// An nfnetlink batch under construction: `NFNL_MSG_BATCH_BEGIN`, the messages,
/// `NFNL_MSG_BATCH_END`. Only the last message asks for an ack: the kernel reports an
/// error of any message anyway (naming it by its sequence number), and the ack of the
/// last one tells the whole batch was committed, with one read.
#[derive(Debug, Default)]
pub struct Batch {
    msgs: Vec<(NetfilterMessage, u16, &'static str)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Number of messages between begin and end.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    fn push(&mut self, family: Family, msg: NfTablesMessage, flags: u16, what: &'static str) {
        let header = NetfilterHeader::new(family.proto(), 0, 0);
        self.msgs
            .push((NetfilterMessage::new(header, msg), flags, what));
    }

    /// Deletes both tables if present (`NFT_MSG_DESTROYTABLE`, kernel >= 6.3: a plain
    /// `DELTABLE` of a missing table would fail the whole batch).
    pub fn destroy_tables(&mut self) {
        for family in [Family::Inet, Family::Arp] {
            let name = DefaultNla::new(NFTA_TABLE_NAME, c_string(TABLE));
            self.push(
                family,
                NfTablesMessage::Other {
                    message_type: NFT_MSG_DESTROYTABLE,
                    attributes: vec![name],
                },
                0,
                "destroy table",
            );
        }
    }

    /// Start-up: deletes both tables if present (left by a killed run) and creates
    /// them again with their sets, chains and rules, and `managed` in `vips4`/`vips6`.
    pub fn reconcile(&mut self, managed: &[IpAddr]) {
        self.destroy_tables();
        self.create_tables();
        self.manage(managed, true);
    }

    fn create_tables(&mut self) {
        for family in [Family::Inet, Family::Arp] {
            self.push(
                family,
                NfTablesMessage::NewTable(TableMessage {
                    attributes: vec![
                        TableAttribute::Name(TABLE.into()),
                        // Not NFT_TABLE_F_OWNER: the table must outlive a killed vrrpd.
                        TableAttribute::Flags(TableFlags::empty()),
                    ],
                }),
                NLM_F_CREATE,
                "create table",
            );
        }
        let mut id = 0;
        let mut set = |b: &mut Batch, family: Family, kind: SetKind, v6: bool| {
            id += 1;
            let (ty, len) = if v6 {
                (TYPE_IPV6_ADDR, 16)
            } else {
                (TYPE_IPV4_ADDR, 4)
            };
            let flags = match kind {
                SetKind::Managed => SetFlags::empty(),
                SetKind::Live => SetFlags::Timeout,
            };
            b.push(
                family,
                NfTablesMessage::NewSet(SetMessage {
                    attributes: vec![
                        SetAttribute::Table(TABLE.into()),
                        SetAttribute::Name(set_name(kind, v6).into()),
                        SetAttribute::Flags(flags),
                        SetAttribute::KeyType(ty),
                        SetAttribute::KeyLen(len),
                        SetAttribute::Id(id),
                    ],
                }),
                NLM_F_CREATE,
                "create set",
            );
        };
        for (family, v6) in [
            (Family::Inet, false),
            (Family::Inet, true),
            (Family::Arp, false),
        ] {
            set(self, family, SetKind::Managed, v6);
            set(self, family, SetKind::Live, v6);
        }
        self.chain(Family::Inet, "out", InetHookNumber::LocalOut.into());
        self.chain(Family::Inet, "in", InetHookNumber::LocalIn.into());
        self.chain(Family::Arp, "out", HookNumber::Other(NF_ARP_OUT));
        // inet out: traffic from a gated VIP, and neighbour adverts for it.
        let v4 = nfproto(NFPROTO_IPV4);
        let v6 = nfproto(NFPROTO_IPV6);
        let saddr4 = payload(BASE_NETWORK, 12, 4);
        let daddr4 = payload(BASE_NETWORK, 16, 4);
        let saddr6 = payload(BASE_NETWORK, 8, 16);
        let daddr6 = payload(BASE_NETWORK, 24, 16);
        self.rule(
            Family::Inet,
            "out",
            [v4.clone(), vec![saddr4]].concat(),
            false,
        );
        self.rule(
            Family::Inet,
            "out",
            [v6.clone(), vec![saddr6]].concat(),
            true,
        );
        let mut na = v6.clone();
        na.extend([
            Expressions::Meta(vec![
                Meta::Key(MetaKey::L4Proto),
                Meta::DestinationRegister(Register::Reg1),
            ]),
            eq(vec![IPPROTO_ICMPV6]),
            payload(BASE_TRANSPORT, 0, 1),
            eq(vec![ND_NEIGHBOR_ADVERT]),
            // The target address (RFC 4861 §4.4).
            payload(BASE_TRANSPORT, 8, 16),
        ]);
        self.rule(Family::Inet, "out", na, true);
        // inet in: traffic to a gated VIP.
        self.rule(Family::Inet, "in", [v4, vec![daddr4]].concat(), false);
        self.rule(Family::Inet, "in", [v6, vec![daddr6]].concat(), true);
        // arp out: htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, then the sender
        // IP at offset 14.
        self.rule(
            Family::Arp,
            "out",
            vec![
                payload(BASE_NETWORK, 0, 6),
                eq(vec![0, 1, 8, 0, 6, 4]),
                payload(BASE_NETWORK, 14, 4),
            ],
            false,
        );
    }

    fn chain(&mut self, family: Family, name: &str, hook: HookNumber) {
        self.push(
            family,
            NfTablesMessage::NewChain(ChainMessage {
                attributes: vec![
                    ChainAttribute::Table(TABLE.into()),
                    ChainAttribute::Name(name.into()),
                    ChainAttribute::Hook(vec![
                        Hook::Number(hook),
                        // Two's complement, as the kernel reads NFTA_HOOK_PRIORITY.
                        Hook::Priority(PRIORITY as u32),
                    ]),
                    ChainAttribute::Policy(NF_ACCEPT),
                    ChainAttribute::Type("filter".into()),
                ],
            }),
            NLM_F_CREATE,
            "create chain",
        );
    }

    /// `match… <key in reg1> @vipsN <key> != @liveN drop`.
    fn rule(&mut self, family: Family, chain: &str, mut exprs: Vec<Expressions>, v6: bool) {
        exprs.push(lookup(set_name(SetKind::Managed, v6), false));
        exprs.push(lookup(set_name(SetKind::Live, v6), true));
        exprs.push(Expressions::Immediate(vec![
            netlink_packet_netfilter::nftables::Immediate::DestinationRegister(Register::Verdict),
            netlink_packet_netfilter::nftables::Immediate::Data(DataAttribute::Verdict(vec![
                VerdictAttribute::Code(Verdict::Other(NF_DROP)),
            ])),
        ]));
        self.push(
            family,
            NfTablesMessage::NewRule(RuleMessage {
                attributes: vec![
                    RuleAttribute::Table(TABLE.into()),
                    RuleAttribute::Chain(chain.into()),
                    RuleAttribute::Expressions(
                        exprs.into_iter().map(ListAttribute::from).collect(),
                    ),
                ],
            }),
            NLM_F_CREATE | netlink_packet_core::NLM_F_APPEND,
            "create rule",
        );
    }

    /// Adds (`add`) or removes `addrs` from the managed sets (`vips4`/`vips6` of both
    /// tables for IPv4). Removing an absent address is no error.
    pub fn manage(&mut self, addrs: &[IpAddr], add: bool) {
        let elems: Vec<(IpAddr, Option<Duration>)> = addrs.iter().map(|a| (*a, None)).collect();
        self.elements(SetKind::Managed, &elems, add);
    }

    /// Opens or refreshes the gates of `elems`: `NEWSETELEM` on `live4`/`live6` (both
    /// tables for IPv4) with `NFTA_SET_ELEM_TIMEOUT` = `NFTA_SET_ELEM_EXPIRATION` = the
    /// element's timeout in ms, no `NLM_F_EXCL` (kernel >= 6.10 updates an existing
    /// element in place).
    pub fn open(&mut self, elems: &[LiveElem]) {
        let elems: Vec<(IpAddr, Option<Duration>)> =
            elems.iter().map(|e| (e.addr, Some(e.timeout))).collect();
        self.elements(SetKind::Live, &elems, true);
    }

    /// Closes the gates of `addrs` on purpose (step down, stop, FAULT, VIP removed):
    /// deletes their live elements; an absent or expired one is no error.
    pub fn close(&mut self, addrs: &[IpAddr]) {
        let elems: Vec<(IpAddr, Option<Duration>)> = addrs.iter().map(|a| (*a, None)).collect();
        self.elements(SetKind::Live, &elems, false);
    }

    /// Clean exit: deletes both tables (nothing of ours is gated any more).
    pub fn teardown(&mut self) {
        self.destroy_tables();
    }

    fn elements(&mut self, kind: SetKind, elems: &[(IpAddr, Option<Duration>)], add: bool) {
        for (family, v6) in [
            (Family::Inet, false),
            (Family::Arp, false),
            (Family::Inet, true),
        ] {
            let list: Vec<ListAttribute<SetElementAttribute>> = elems
                .iter()
                .filter(|(a, _)| a.is_ipv6() == v6)
                .map(|(a, timeout)| {
                    let mut attrs = vec![SetElementAttribute::Key(DataAttribute::Value(
                        addr_bytes(a),
                    ))];
                    if let Some(t) = timeout {
                        let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1);
                        attrs.push(SetElementAttribute::Timeout(ms));
                        attrs.push(SetElementAttribute::Expiration(ms));
                    }
                    ListAttribute::Element(attrs)
                })
                .collect();
            if list.is_empty() {
                continue;
            }
            let set = set_name(kind, v6);
            let msg = if add {
                NfTablesMessage::NewSetElement(SetElementMessage {
                    attributes: vec![
                        SetElementList::Table(TABLE.into()),
                        SetElementList::Set(set.into()),
                        SetElementList::Elements(list),
                    ],
                })
            } else {
                // DESTROYSETELEM has no typed variant: the same attributes, raw.
                let typed = SetElementList::Elements(list);
                let mut nested = vec![0u8; netlink_packet_core::Nla::value_len(&typed)];
                netlink_packet_core::Nla::emit_value(&typed, &mut nested);
                NfTablesMessage::Other {
                    message_type: NFT_MSG_DESTROYSETELEM,
                    attributes: vec![
                        DefaultNla::new(NFTA_SET_ELEM_LIST_TABLE, c_string(TABLE)),
                        DefaultNla::new(NFTA_SET_ELEM_LIST_SET, c_string(set)),
                        DefaultNla::new(
                            NFTA_SET_ELEM_LIST_ELEMENTS | netlink_packet_core::NLA_F_NESTED,
                            nested,
                        ),
                    ],
                }
            };
            let (flags, what) = match (kind, add) {
                (SetKind::Managed, true) => (NLM_F_CREATE, "add managed VIPs"),
                (SetKind::Managed, false) => (0, "remove managed VIPs"),
                (SetKind::Live, true) => (NLM_F_CREATE, "open gate"),
                (SetKind::Live, false) => (0, "close gate"),
            };
            self.push(family, msg, flags, what);
        }
    }

    /// The batch's bytes, sequence numbers from `first_seq` (begin) on, and what each
    /// message in between does, by sequence number (for error reports).
    pub fn finish(self, first_seq: u32) -> (Vec<u8>, Vec<(u32, &'static str)>) {
        let control = |msg: netlink_packet_netfilter::none::ControlMessage| {
            NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
                msg,
            )
        };
        let mut all = Vec::with_capacity(self.msgs.len() + 2);
        all.push((
            control(netlink_packet_netfilter::none::ControlMessage::BatchBegin),
            0,
            "batch begin",
        ));
        all.extend(self.msgs);
        all.push((
            control(netlink_packet_netfilter::none::ControlMessage::BatchEnd),
            0,
            "batch end",
        ));
        let mut out = Vec::new();
        let mut what = Vec::with_capacity(all.len());
        let last = all.len() - 1;
        for (i, (msg, flags, w)) in all.into_iter().enumerate() {
            let seq = first_seq.wrapping_add(i as u32);
            let mut nl = NetlinkMessage::from(msg);
            nl.header.flags = NLM_F_REQUEST | flags;
            if i + 1 == last {
                nl.header.flags |= NLM_F_ACK;
            }
            nl.header.sequence_number = seq;
            nl.finalize();
            let start = out.len();
            out.resize(start + nl.buffer_len(), 0);
            nl.serialize(&mut out[start..]);
            what.push((seq, w));
        }
        (out, what)
    }
}

fn c_string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn payload(base: u32, offset: u32, len: u32) -> Expressions {
    Expressions::Payload(vec![
        Payload::DestinationRegister(Register::Reg1),
        Payload::Base(base),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
}

fn eq(data: Vec<u8>) -> Expressions {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(Register::Reg1),
        Cmp::Op(Operator::Equal),
        Cmp::Data(DataAttribute::Value(data)),
    ])
}

/// `meta nfproto == p`: the inet table sees both families.
fn nfproto(p: u8) -> Vec<Expressions> {
    vec![
        Expressions::Meta(vec![
            Meta::Key(MetaKey::Nfproto),
            Meta::DestinationRegister(Register::Reg1),
        ]),
        eq(vec![p]),
    ]
}

fn lookup(set: &str, invert: bool) -> Expressions {
    let mut attrs = vec![
        Lookup::Set(set.into()),
        Lookup::SourceRegister(Register::Reg1),
    ];
    if invert {
        attrs.push(Lookup::Flags(NFT_LOOKUP_F_INV));
    }
    Expressions::Lookup(attrs)
}

#[cfg(test)]
mod tests;
