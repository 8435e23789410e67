//! The nftables gate of GATE.md, built over netlink for the `gate` bench section: tables
//! `inet vrrpd` and `arp vrrpd`, sets of managed VIPs (`vips4`, `vips6`) and of live ones
//! (`live4`, `live6`, elements with a timeout), and the chains that drop a managed VIP's
//! traffic, ARP replies and neighbour adverts unless it is live.
//!
//! A bench-local builder: vrrpd's own (`vrrpd::gate`, branch `gate`) was not there when
//! this was written; the two are to be made one at merge.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use netlink_packet_core::{NetlinkMessage, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, Cmp, DataAttribute, Expressions, Hook, HookNumber, Immediate, InetHookNumber,
    ListAttribute, Lookup, Meta, MetaKey, NfTablesMessage, Operator, Payload, Register,
    RuleAttribute, RuleMessage, SetAttribute, SetElementAttribute, SetElementList,
    SetElementMessage, SetFlags, SetMessage, TableAttribute, TableMessage, Verdict,
    VerdictAttribute,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

/// The tables' name.
pub const TABLE: &str = "vrrpd";
/// nftables datatype of an IPv4 address.
const TYPE_IPV4: u32 = 7;
/// nftables datatype of an IPv6 address.
const TYPE_IPV6: u32 = 8;
/// Chain priority of both hooks.
const PRIORITY: i32 = -300;
/// `NF_ARP_OUT`.
const ARP_OUT: u32 = 1;
/// `NF_DROP`: the verdict code of `drop`.
const NF_DROP: u32 = 0;
/// `NF_ACCEPT`: the chains' policy.
const NF_ACCEPT: u32 = 1;
/// `NFT_LOOKUP_F_INV`: the lookup matches when the key is absent.
const LOOKUP_INV: u32 = 1;
/// `NFT_PAYLOAD_NETWORK_HEADER`.
const NETWORK: u32 = 1;
/// `NFT_PAYLOAD_TRANSPORT_HEADER`.
const TRANSPORT: u32 = 2;
/// `NFNL_SUBSYS_NFTABLES`.
const SUBSYS_NFTABLES: u8 = 10;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;

/// One nftables object to create or change, with the family of its table.
#[derive(Debug, Clone)]
struct Op {
    family: NetfilterProtoFamily,
    msg: NfTablesMessage,
    flags: u16,
}

/// A batch of nftables changes, applied all or nothing.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<Op>,
}

fn table(family: NetfilterProtoFamily) -> Op {
    Op {
        family,
        msg: NfTablesMessage::NewTable(TableMessage {
            attributes: vec![TableAttribute::Name(TABLE.into())],
        }),
        flags: NLM_F_CREATE,
    }
}

fn set(family: NetfilterProtoFamily, name: &str, v6: bool, timeout: bool, id: u32) -> Op {
    let mut attributes = vec![
        SetAttribute::Table(TABLE.into()),
        SetAttribute::Name(name.into()),
        SetAttribute::KeyType(if v6 { TYPE_IPV6 } else { TYPE_IPV4 }),
        SetAttribute::KeyLen(if v6 { 16 } else { 4 }),
        SetAttribute::Id(id),
    ];
    if timeout {
        attributes.push(SetAttribute::Flags(SetFlags::Timeout));
    }
    Op {
        family,
        msg: NfTablesMessage::NewSet(SetMessage { attributes }),
        flags: NLM_F_CREATE,
    }
}

fn chain(family: NetfilterProtoFamily, name: &str, hook: u32) -> Op {
    Op {
        family,
        msg: NfTablesMessage::NewChain(netlink_packet_netfilter::nftables::ChainMessage {
            attributes: vec![
                ChainAttribute::Table(TABLE.into()),
                ChainAttribute::Name(name.into()),
                ChainAttribute::Type("filter".into()),
                ChainAttribute::Hook(vec![
                    Hook::Number(HookNumber::Other(hook)),
                    Hook::Priority(PRIORITY as u32),
                ]),
                ChainAttribute::Policy(NF_ACCEPT),
            ],
        }),
        flags: NLM_F_CREATE,
    }
}

fn load(
    base: u32,
    offset: u32,
    len: u32,
) -> ListAttribute<netlink_packet_netfilter::nftables::ExpressionAttribute> {
    Expressions::Payload(vec![
        Payload::DestinationRegister(Register::Reg1),
        Payload::Base(base),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
    .into()
}

fn equals(bytes: &[u8]) -> ListAttribute<netlink_packet_netfilter::nftables::ExpressionAttribute> {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(Register::Reg1),
        Cmp::Op(Operator::Equal),
        Cmp::Data(DataAttribute::Value(bytes.to_vec())),
    ])
    .into()
}

fn meta(key: MetaKey) -> ListAttribute<netlink_packet_netfilter::nftables::ExpressionAttribute> {
    Expressions::Meta(vec![
        Meta::Key(key),
        Meta::DestinationRegister(Register::Reg1),
    ])
    .into()
}

fn lookup(
    set: &str,
    inverted: bool,
) -> ListAttribute<netlink_packet_netfilter::nftables::ExpressionAttribute> {
    let mut l = vec![
        Lookup::Set(set.into()),
        Lookup::SourceRegister(Register::Reg1),
    ];
    if inverted {
        l.push(Lookup::Flags(LOOKUP_INV));
    }
    Expressions::Lookup(l).into()
}

fn drop_verdict() -> ListAttribute<netlink_packet_netfilter::nftables::ExpressionAttribute> {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(Register::Verdict),
        Immediate::Data(DataAttribute::Verdict(vec![VerdictAttribute::Code(
            Verdict::Other(NF_DROP),
        )])),
    ])
    .into()
}

/// A rule: `prefix…`, key in `vips`, key not in `live`: drop.
fn gate_rule(
    family: NetfilterProtoFamily,
    chain: &str,
    mut prefix: Vec<ListAttribute<netlink_packet_netfilter::nftables::ExpressionAttribute>>,
    v6: bool,
) -> Op {
    let (vips, live) = if v6 {
        ("vips6", "live6")
    } else {
        ("vips4", "live4")
    };
    prefix.push(lookup(vips, false));
    prefix.push(lookup(live, true));
    prefix.push(drop_verdict());
    Op {
        family,
        msg: NfTablesMessage::NewRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(TABLE.into()),
                RuleAttribute::Chain(chain.into()),
                RuleAttribute::Expressions(prefix),
            ],
        }),
        flags: NLM_F_CREATE | NLM_F_APPEND,
    }
}

fn elements(
    family: NetfilterProtoFamily,
    set: &str,
    addrs: &[IpAddr],
    timeout: Option<Duration>,
) -> Op {
    let list = addrs
        .iter()
        .map(|a| {
            let key = match a {
                IpAddr::V4(v) => v.octets().to_vec(),
                IpAddr::V6(v) => v.octets().to_vec(),
            };
            let mut e = vec![SetElementAttribute::Key(DataAttribute::Value(key))];
            if let Some(t) = timeout {
                let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
                e.push(SetElementAttribute::Timeout(ms));
                e.push(SetElementAttribute::Expiration(ms));
            }
            ListAttribute::Element(e)
        })
        .collect();
    Op {
        family,
        msg: NfTablesMessage::NewSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(TABLE.into()),
                SetElementList::Set(set.into()),
                SetElementList::Elements(list),
            ],
        }),
        flags: NLM_F_CREATE,
    }
}

impl Batch {
    /// Both tables of GATE.md with every set, chain and rule, `vips` managed and none
    /// live.
    pub fn install(vips: &[IpAddr]) -> Batch {
        use NetfilterProtoFamily::{Inet, ARP};
        let v4: Vec<IpAddr> = vips.iter().copied().filter(IpAddr::is_ipv4).collect();
        let v6: Vec<IpAddr> = vips.iter().copied().filter(IpAddr::is_ipv6).collect();
        let nfproto = |p: u8| vec![meta(MetaKey::Nfproto), equals(&[p])];
        let mut ops = vec![
            table(Inet),
            set(Inet, "vips4", false, false, 1),
            set(Inet, "vips6", true, false, 2),
            set(Inet, "live4", false, true, 3),
            set(Inet, "live6", true, true, 4),
            chain(Inet, "out", InetHookNumber::LocalOut.into()),
            chain(Inet, "in", InetHookNumber::LocalIn.into()),
        ];
        // ip saddr @vips4 ip saddr != @live4 drop
        let mut p = nfproto(libc::NFPROTO_IPV4 as u8);
        p.push(load(NETWORK, 12, 4));
        ops.push(gate_rule(Inet, "out", p, false));
        // ip6 saddr @vips6 ip6 saddr != @live6 drop
        let mut p = nfproto(libc::NFPROTO_IPV6 as u8);
        p.push(load(NETWORK, 8, 16));
        ops.push(gate_rule(Inet, "out", p, true));
        // icmpv6 type nd-neighbor-advert, target @vips6 and not @live6: drop
        let mut p = nfproto(libc::NFPROTO_IPV6 as u8);
        p.extend([
            meta(MetaKey::L4Proto),
            equals(&[libc::IPPROTO_ICMPV6 as u8]),
            load(TRANSPORT, 0, 1),
            equals(&[136]),
            load(TRANSPORT, 8, 16),
        ]);
        ops.push(gate_rule(Inet, "out", p, true));
        // ip daddr @vips4 ip daddr != @live4 drop; the same for ip6
        let mut p = nfproto(libc::NFPROTO_IPV4 as u8);
        p.push(load(NETWORK, 16, 4));
        ops.push(gate_rule(Inet, "in", p, false));
        let mut p = nfproto(libc::NFPROTO_IPV6 as u8);
        p.push(load(NETWORK, 24, 16));
        ops.push(gate_rule(Inet, "in", p, true));
        // arp: htype 1, ptype 0x0800, hlen 6, plen 4, sender IP @vips4 and not @live4.
        ops.extend([
            table(ARP),
            set(ARP, "vips4", false, false, 5),
            set(ARP, "live4", false, true, 6),
            chain(ARP, "out", ARP_OUT),
        ]);
        let p = vec![
            load(NETWORK, 0, 6),
            equals(&[0, 1, 8, 0, 6, 4]),
            load(NETWORK, 14, 4),
        ];
        ops.push(gate_rule(ARP, "out", p, false));
        if !v4.is_empty() {
            ops.push(elements(Inet, "vips4", &v4, None));
            ops.push(elements(ARP, "vips4", &v4, None));
        }
        if !v6.is_empty() {
            ops.push(elements(Inet, "vips6", &v6, None));
        }
        Batch { ops }
    }

    /// Opens (or refreshes) the gate of `vip` for `timeout`: its element in `live4`
    /// of both tables, or in `live6`.
    pub fn open(vip: IpAddr, timeout: Duration) -> Batch {
        use NetfilterProtoFamily::{Inet, ARP};
        let ops = match vip {
            IpAddr::V4(_) => vec![
                elements(Inet, "live4", &[vip], Some(timeout)),
                elements(ARP, "live4", &[vip], Some(timeout)),
            ],
            IpAddr::V6(_) => vec![elements(Inet, "live6", &[vip], Some(timeout))],
        };
        Batch { ops }
    }

    /// The batch as bytes: BEGIN, every change with an ack requested, END; sequence
    /// numbers from `seq`.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = seq;
        let control = |m: ControlMessage, n: u32| {
            let mut msg = NetlinkMessage::from(NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, u16::from(SUBSYS_NFTABLES)),
                m,
            ));
            msg.header.flags = NLM_F_REQUEST;
            msg.header.sequence_number = n;
            msg
        };
        let mut emit = |mut msg: NetlinkMessage<NetfilterMessage>| {
            msg.finalize();
            let start = out.len();
            out.resize(start + msg.buffer_len(), 0);
            msg.serialize(&mut out[start..]);
        };
        emit(control(ControlMessage::BatchBegin, n));
        for op in &self.ops {
            n += 1;
            let mut msg = NetlinkMessage::from(NetfilterMessage::new(
                NetfilterHeader::new(op.family, 0, 0),
                op.msg.clone(),
            ));
            msg.header.flags = NLM_F_REQUEST | NLM_F_ACK | op.flags;
            msg.header.sequence_number = n;
            emit(msg);
        }
        emit(control(ControlMessage::BatchEnd, n + 1));
        out
    }

    /// Changes in the batch (each is acknowledged).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// An nfnetlink socket in the namespace it was opened in.
#[derive(Debug)]
pub struct Gate {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Gate {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open() -> Result<Gate> {
        let mut sock = Socket::new(NETLINK_NETFILTER).context("nfnetlink socket")?;
        sock.bind_auto().context("bind nfnetlink socket")?;
        sock.connect(&SocketAddr::new(0, 0))
            .context("connect nfnetlink socket")?;
        let tv = nix::sys::time::TimeVal::new(2, 0);
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimeout, &tv)
            .context("SO_RCVTIMEO")?;
        Ok(Gate {
            sock,
            seq: 1,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends `batch` and waits until the kernel acknowledged every change (an error
    /// for any aborts the whole batch and is returned).
    pub fn apply(&mut self, batch: &Batch) -> Result<()> {
        let bytes = batch.encode(self.seq);
        let first = self.seq + 1;
        let last = self.seq + u32::try_from(batch.len()).unwrap_or(u32::MAX);
        self.seq = last + 2;
        self.sock.send(&bytes, 0).context("send nftables batch")?;
        let mut acked = 0;
        while acked < batch.len() {
            self.buf.clear();
            let n = self
                .sock
                .recv(&mut self.buf, 0)
                .context("read nftables acknowledgements")?;
            for (seq, code) in acks(&self.buf[..n]) {
                if !(first..=last).contains(&seq) {
                    continue;
                }
                if code != 0 {
                    bail!(
                        "nftables refused change {} of the batch: {}",
                        seq - first + 1,
                        std::io::Error::from_raw_os_error(-code)
                    );
                }
                acked += 1;
            }
        }
        Ok(())
    }
}

/// `(sequence number, error code)` of every NLMSG_ERROR (an ack when the code is 0) in a
/// datagram of netlink messages.
pub fn acks(mut data: &[u8]) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    while data.len() >= 16 {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < 16 || len > data.len() {
            break;
        }
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        if kind == NLMSG_ERROR && len >= 20 {
            let code = i32::from_ne_bytes([data[16], data[17], data[18], data[19]]);
            let seq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
            // The echoed header of the failed request holds its sequence number.
            let req_seq = if len >= 36 {
                u32::from_ne_bytes([data[28], data[29], data[30], data[31]])
            } else {
                seq
            };
            out.push((req_seq, code));
        }
        data = &data[(len + 3) & !3..];
        if data.is_empty() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn install_batch_is_framed_by_begin_and_end() {
        let vips = [
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1)),
        ];
        let b = Batch::install(&vips);
        // 2 tables, 6 sets, 3 chains, 6 rules, 3 element lists.
        assert_eq!(b.len(), 20);
        let bytes = b.encode(7);
        // BEGIN: type NFNL_MSG_BATCH_BEGIN (0x10), res_id NFNL_SUBSYS_NFTABLES.
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 0x10);
        assert_eq!(
            u32::from_ne_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            7
        );
        assert_eq!(u16::from_be_bytes([bytes[18], bytes[19]]), 10);
        // Walk the messages: nftables changes, each with an ack requested, then END.
        let mut rest = &bytes[..];
        let mut kinds = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            let flags = u16::from_ne_bytes([rest[6], rest[7]]);
            if kind >> 8 == 10 {
                assert_ne!(flags & NLM_F_ACK, 0);
            }
            kinds.push(kind);
            rest = &rest[len..];
        }
        assert_eq!(kinds.len(), 22);
        assert_eq!(kinds[0], 0x10);
        assert_eq!(kinds[1], 0x0a00); // NEWTABLE
        assert_eq!(*kinds.last().unwrap(), 0x11);
    }

    #[test]
    fn open_writes_both_tables_for_ipv4_only_inet_for_ipv6() {
        let t = Duration::from_millis(300);
        assert_eq!(
            Batch::open(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), t).len(),
            2
        );
        let b = Batch::open(IpAddr::V6(Ipv6Addr::LOCALHOST), t);
        assert_eq!(b.len(), 1);
        let bytes = b.encode(1);
        // The element carries timeout and expiration of 300 ms, big endian.
        let ms = 300u64.to_be_bytes();
        assert_eq!(bytes.windows(8).filter(|w| *w == ms).count(), 2);
    }

    #[test]
    fn acks_are_read_with_the_request_sequence() {
        let mut d = Vec::new();
        for (seq, code) in [(5u32, 0i32), (6, -17)] {
            let mut m = vec![0u8; 36];
            m[0..4].copy_from_slice(&36u32.to_ne_bytes());
            m[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
            m[16..20].copy_from_slice(&code.to_ne_bytes());
            m[28..32].copy_from_slice(&seq.to_ne_bytes());
            d.extend(m);
        }
        assert_eq!(acks(&d), vec![(5, 0), (6, -17)]);
        assert!(acks(&[1, 2, 3]).is_empty());
    }
}
