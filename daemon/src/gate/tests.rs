//! The batches parsed back with the crate that built them: the fields the kernel acts on.

use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{
    DefaultNla, NetlinkMessage, NetlinkPayload, Nla, NLM_F_ACK, NLM_F_CREATE,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, DataAttribute, ExpressionAttribute, Hook, ListAttribute, Lookup,
    NfTablesMessage, RuleAttribute, SetAttribute, SetElementAttribute, SetElementList, SetFlags,
};
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily};

use super::*;

fn parse(bytes: &[u8]) -> Vec<NetlinkMessage<NetfilterMessage>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        assert!(
            len >= 16 && at + len <= bytes.len(),
            "bad length {len} at {at}"
        );
        let m = NetlinkMessage::<NetfilterMessage>::deserialize(&bytes[at..at + len]).unwrap();
        out.push(m);
        at += len;
    }
    out
}

fn inner(m: &NetlinkMessage<NetfilterMessage>) -> &NetfilterMessageInner {
    match &m.payload {
        NetlinkPayload::InnerMessage(n) => &n.inner,
        p => panic!("not an inner message: {p:?}"),
    }
}

fn nft(m: &NetlinkMessage<NetfilterMessage>) -> &NfTablesMessage {
    match inner(m) {
        NetfilterMessageInner::NfTables(n) => n,
        i => panic!("not nftables: {i:?}"),
    }
}

fn family(m: &NetlinkMessage<NetfilterMessage>) -> NetfilterProtoFamily {
    match &m.payload {
        NetlinkPayload::InnerMessage(n) => n.header.family,
        _ => unreachable!(),
    }
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Begin and end frame the messages, sequence numbers follow each other, and the last
/// message before the end (only) asks for an ack.
fn check_frame(msgs: &[NetlinkMessage<NetfilterMessage>], first: u32) {
    assert!(matches!(
        inner(&msgs[0]),
        NetfilterMessageInner::None(netlink_packet_netfilter::none::ControlMessage::BatchBegin)
    ));
    assert!(matches!(
        inner(msgs.last().unwrap()),
        NetfilterMessageInner::None(netlink_packet_netfilter::none::ControlMessage::BatchEnd)
    ));
    // The batch messages name the nftables subsystem in res_id.
    let NetlinkPayload::InnerMessage(b) = &msgs[0].payload else {
        unreachable!()
    };
    assert_eq!(b.header.res_id, 10);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.header.sequence_number, first + i as u32);
        let acks = m.header.flags & NLM_F_ACK != 0;
        assert_eq!(acks, i + 2 == msgs.len(), "message {i}");
    }
}

#[test]
fn reconcile_destroys_then_creates_everything_in_one_batch() {
    let mut b = Batch::new();
    b.reconcile(&[v4("192.0.2.100"), v4("2001:db8::100")]);
    let (bytes, what) = b.finish(7);
    let msgs = parse(&bytes);
    check_frame(&msgs, 7);
    assert_eq!(what.len(), msgs.len());
    // Both destroys first, by type 26 (no error when absent), then both tables.
    for m in &msgs[1..3] {
        match nft(m) {
            NfTablesMessage::Other {
                message_type,
                attributes,
            } => {
                assert_eq!(*message_type, NFT_MSG_DESTROYTABLE);
                assert_eq!(attributes.len(), 1);
            }
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(family(&msgs[1]), NetfilterProtoFamily::Inet);
    assert_eq!(family(&msgs[2]), NetfilterProtoFamily::ARP);
    let mut sets = Vec::new();
    let mut chains = Vec::new();
    let mut rules = 0;
    let mut lookups_inv = 0;
    for m in &msgs[3..msgs.len() - 1] {
        match nft(m) {
            NfTablesMessage::NewTable(t) => {
                assert!(t.attributes.contains(
                    &netlink_packet_netfilter::nftables::TableAttribute::Name("vrrpd".into())
                ));
            }
            NfTablesMessage::NewSet(s) => {
                let name = s.attributes.iter().find_map(|a| match a {
                    SetAttribute::Name(n) => Some(n.clone()),
                    _ => None,
                });
                let flags = s.attributes.iter().find_map(|a| match a {
                    SetAttribute::Flags(f) => Some(*f),
                    _ => None,
                });
                let key = s.attributes.iter().find_map(|a| match a {
                    SetAttribute::KeyType(t) => Some(*t),
                    _ => None,
                });
                let name = name.unwrap();
                assert_eq!(
                    flags.unwrap().contains(SetFlags::Timeout),
                    name.starts_with("live"),
                    "{name}"
                );
                assert_eq!(key, Some(if name.ends_with('6') { 8 } else { 7 }), "{name}");
                sets.push((family(m), name));
            }
            NfTablesMessage::NewChain(c) => {
                let hook = c.attributes.iter().find_map(|a| match a {
                    ChainAttribute::Hook(h) => Some(h.clone()),
                    _ => None,
                });
                assert!(hook.unwrap().contains(&Hook::Priority((-300i32) as u32)));
                assert!(c.attributes.contains(&ChainAttribute::Policy(1)));
                chains.push(family(m));
            }
            NfTablesMessage::NewRule(r) => {
                rules += 1;
                let Some(RuleAttribute::Expressions(exprs)) = r
                    .attributes
                    .iter()
                    .find(|a| matches!(a, RuleAttribute::Expressions(_)))
                else {
                    panic!("no expressions");
                };
                let lookups: Vec<&Vec<Lookup>> = exprs
                    .iter()
                    .filter_map(|e| match e {
                        ListAttribute::Element(attrs) => attrs.iter().find_map(|a| match a {
                            ExpressionAttribute::Data(
                                netlink_packet_netfilter::nftables::Expressions::Lookup(l),
                            ) => Some(l),
                            _ => None,
                        }),
                        _ => None,
                    })
                    .collect();
                assert_eq!(lookups.len(), 2, "managed, then not live");
                assert!(!lookups[0].iter().any(|a| matches!(a, Lookup::Flags(1))));
                assert!(lookups[1].contains(&Lookup::Flags(1)));
                lookups_inv += 1;
            }
            NfTablesMessage::NewSetElement(e) => {
                assert!(e
                    .attributes
                    .iter()
                    .any(|a| matches!(a, SetElementList::Set(s) if s.starts_with("vips"))));
            }
            o => panic!("unexpected {o:?}"),
        }
    }
    assert_eq!(sets.len(), 6);
    assert_eq!(chains.len(), 3);
    assert_eq!(rules, 6, "4 address rules, NA, ARP");
    assert_eq!(lookups_inv, 6);
    assert!(sets.contains(&(NetfilterProtoFamily::ARP, "live4".into())));
    assert!(!sets
        .iter()
        .any(|(f, n)| *f == NetfilterProtoFamily::ARP && n.ends_with('6')));
}

fn elements(m: &NetlinkMessage<NetfilterMessage>) -> (String, Vec<Vec<SetElementAttribute>>) {
    let NfTablesMessage::NewSetElement(e) = nft(m) else {
        panic!("not NEWSETELEM: {:?}", nft(m));
    };
    let mut set = String::new();
    let mut out = Vec::new();
    for a in &e.attributes {
        match a {
            SetElementList::Set(s) => set = s.clone(),
            SetElementList::Elements(l) => {
                for el in l {
                    if let ListAttribute::Element(attrs) = el {
                        out.push(attrs.clone());
                    }
                }
            }
            _ => {}
        }
    }
    (set, out)
}

#[test]
fn refresh_writes_both_tables_with_timeout_and_expiration_in_ms() {
    let mut b = Batch::new();
    b.open(&[
        LiveElem {
            addr: v4("192.0.2.100"),
            timeout: Duration::from_micros(321_400),
        },
        LiveElem {
            addr: v4("2001:db8::100"),
            timeout: Duration::from_millis(250),
        },
    ]);
    let (bytes, _) = b.finish(1);
    let msgs = parse(&bytes);
    check_frame(&msgs, 1);
    assert_eq!(msgs.len(), 5, "inet live4, arp live4, inet live6");
    let fams: Vec<_> = msgs[1..4].iter().map(family).collect();
    assert_eq!(
        fams,
        [
            NetfilterProtoFamily::Inet,
            NetfilterProtoFamily::ARP,
            NetfilterProtoFamily::Inet
        ]
    );
    for (m, set, key, ms) in [
        (&msgs[1], "live4", vec![192, 0, 2, 100], 321u64),
        (&msgs[2], "live4", vec![192, 0, 2, 100], 321),
        (
            &msgs[3],
            "live6",
            "2001:db8::100"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
                .to_vec(),
            250,
        ),
    ] {
        // No NLM_F_EXCL: an existing element is updated in place.
        assert_eq!(m.header.flags & netlink_packet_core::NLM_F_EXCL, 0);
        assert_ne!(m.header.flags & NLM_F_CREATE, 0);
        let (s, els) = elements(m);
        assert_eq!(s, set);
        assert_eq!(els.len(), 1);
        assert!(els[0].contains(&SetElementAttribute::Key(DataAttribute::Value(key))));
        assert!(els[0].contains(&SetElementAttribute::Timeout(ms)));
        assert!(els[0].contains(&SetElementAttribute::Expiration(ms)));
    }
}

#[test]
fn a_timeout_below_a_millisecond_is_never_zero() {
    // 0 would mean "never expires".
    let mut b = Batch::new();
    b.open(&[LiveElem {
        addr: v4("192.0.2.1"),
        timeout: Duration::from_micros(300),
    }]);
    let (bytes, _) = b.finish(1);
    let msgs = parse(&bytes);
    let (_, els) = elements(&msgs[1]);
    assert!(els[0].contains(&SetElementAttribute::Timeout(1)));
}

#[test]
fn close_destroys_live_elements_without_error_when_absent() {
    let mut b = Batch::new();
    b.close(&[v4("192.0.2.100")]);
    let (bytes, what) = b.finish(1);
    let msgs = parse(&bytes);
    check_frame(&msgs, 1);
    assert_eq!(msgs.len(), 4, "inet and arp live4");
    assert_eq!(what[1].1, "close gate");
    for m in &msgs[1..3] {
        let NfTablesMessage::Other {
            message_type,
            attributes,
        } = nft(m)
        else {
            panic!("{:?}", nft(m));
        };
        assert_eq!(*message_type, NFT_MSG_DESTROYSETELEM);
        let value = |a: &DefaultNla| {
            let mut v = vec![0; a.value_len()];
            a.emit_value(&mut v);
            v
        };
        let set = attributes.iter().find(|a| a.kind() == 2).unwrap();
        assert_eq!(value(set), b"live4\0");
        // The nested element list carries the key.
        let list = attributes.iter().find(|a| a.kind() & 0x3fff == 3).unwrap();
        assert!(value(list).windows(4).any(|w| w == [192, 0, 2, 100]));
    }
}

#[test]
fn manage_and_teardown() {
    let mut b = Batch::new();
    b.manage(&[v4("2001:db8::1")], true);
    b.manage(&[v4("192.0.2.1")], false);
    b.teardown();
    let (bytes, what) = b.finish(100);
    let msgs = parse(&bytes);
    check_frame(&msgs, 100);
    let (set, _) = elements(&msgs[1]);
    assert_eq!(set, "vips6");
    let names: Vec<&str> = what.iter().map(|w| w.1).collect();
    assert_eq!(
        names,
        [
            "batch begin",
            "add managed VIPs",
            "remove managed VIPs",
            "remove managed VIPs",
            "destroy table",
            "destroy table",
            "batch end"
        ]
    );
}

#[test]
fn an_empty_batch_is_empty() {
    let mut b = Batch::new();
    b.open(&[]);
    b.close(&[]);
    assert!(b.is_empty());
}
