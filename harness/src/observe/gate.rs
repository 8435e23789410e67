//! Gate monitor: what a node's nftables gate (`docs/gate.md`, table `inet vrrpd`) lets
//! through, from nfnetlink notifications (group `NFNLGRP_NFTABLES`).
//!
//! - `NEWSETELEM` / `DELSETELEM` on `vips4`/`vips6`: the VIP is managed / not managed;
//! - `NEWSETELEM` on `live4`/`live6`: the gate is open until receive time plus the
//!   element's `NFTA_SET_ELEM_EXPIRATION` (a refresh extends it; expiry itself sends
//!   nothing, so the judge computes it); `DELSETELEM`: closed at receive time;
//! - `DELTABLE` / `NEWTABLE` of `inet vrrpd` (or `DELSET` of one of its sets): what it
//!   held is gone.
//!
//! At start and after a netlink overrun (ENOBUFS) the four sets are dumped
//! (`GETSETELEM`, whose expiration is the remaining time); an overrun is recorded as an
//! [`EventKind::GateGap`]. Receive time is a little after the kernel's write, so the
//! gate is taken to close a little late: never a conflict hidden, at worst one of a few
//! microseconds shown too long.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{anyhow, Context, Result};
use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    DataAttribute, ListAttribute, NfTablesMessage, SetAttribute, SetElementAttribute,
    SetElementList, SetElementMessage, TableAttribute,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, AsyncSocket, AsyncSocketExt, TokioSocket};
use tokio::task::JoinHandle;

use crate::history::{EventKind, GateChange, History};
use crate::lab::Host;

/// The gate's table name (family `inet`).
pub const TABLE: &str = "vrrpd";
/// Errors that mean "no gate here": no such table or set, or no nftables in this kernel
/// (then no daemon can gate either).
const NO_GATE_ERRNOS: [i32; 4] = [
    libc::ENOENT,
    libc::EOPNOTSUPP,
    libc::EAFNOSUPPORT,
    libc::EPROTONOSUPPORT,
];
/// nfnetlink multicast group of nftables notifications (`NFNLGRP_NFTABLES`).
const NFNLGRP_NFTABLES: u32 = 7;

/// One of the four sets of the gate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GateSet {
    /// `vips4`: managed IPv4 VIPs.
    Vips4,
    /// `vips6`: managed IPv6 VIPs.
    Vips6,
    /// `live4`: IPv4 VIPs whose gate is open.
    Live4,
    /// `live6`: IPv6 VIPs whose gate is open.
    Live6,
}

impl GateSet {
    /// All four, in dump order.
    pub const ALL: [GateSet; 4] = [
        GateSet::Vips4,
        GateSet::Vips6,
        GateSet::Live4,
        GateSet::Live6,
    ];

    /// The set's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            GateSet::Vips4 => "vips4",
            GateSet::Vips6 => "vips6",
            GateSet::Live4 => "live4",
            GateSet::Live6 => "live6",
        }
    }

    fn from_name(name: &str) -> Option<GateSet> {
        GateSet::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether it is a `live` set (elements with timeouts).
    pub fn is_live(self) -> bool {
        matches!(self, GateSet::Live4 | GateSet::Live6)
    }

    fn is_v4(self) -> bool {
        matches!(self, GateSet::Vips4 | GateSet::Live4)
    }
}

/// One element of a gate set: the VIP and, for `live` sets, the remaining time in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elem {
    /// The address.
    pub vip: IpAddr,
    /// `NFTA_SET_ELEM_EXPIRATION`, if present.
    pub expires_ms: Option<u64>,
}

/// What one nfnetlink message says about the gate table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Elements added (or refreshed, or listed by a dump) to a set.
    Added(GateSet, Vec<Elem>),
    /// Elements deleted from a set.
    Deleted(GateSet, Vec<Elem>),
    /// A set was deleted.
    SetGone(GateSet),
    /// The table was deleted or created afresh: it holds nothing.
    TableReset,
    /// End of a dump.
    Done,
    /// An error answer (negative errno; `ENOENT`: no such table or set).
    Error(i32),
}

/// The address in a set element's key.
fn key_addr(set: GateSet, attrs: &[SetElementAttribute]) -> Option<IpAddr> {
    attrs.iter().find_map(|a| match a {
        SetElementAttribute::Key(DataAttribute::Value(b)) if set.is_v4() => {
            let o: [u8; 4] = b.as_slice().try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(o)))
        }
        SetElementAttribute::Key(DataAttribute::Value(b)) => {
            let o: [u8; 16] = b.as_slice().try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    })
}

/// The set and elements of a set-element message of the gate table, if it is one.
fn elems_of(m: &SetElementMessage) -> Option<(GateSet, Vec<Elem>)> {
    let mut table = None;
    let mut set = None;
    let mut lists = Vec::new();
    for a in &m.attributes {
        match a {
            SetElementList::Table(t) => table = Some(t.as_str()),
            SetElementList::Set(s) => set = GateSet::from_name(s),
            SetElementList::Elements(l) => lists.extend(l.iter()),
            _ => {}
        }
    }
    if table != Some(TABLE) {
        return None;
    }
    let set = set?;
    let elems = lists
        .into_iter()
        .filter_map(|l| match l {
            ListAttribute::Element(attrs) => Some(Elem {
                vip: key_addr(set, attrs)?,
                expires_ms: attrs.iter().find_map(|a| match a {
                    SetElementAttribute::Expiration(ms) => Some(*ms),
                    _ => None,
                }),
            }),
            _ => None,
        })
        .collect();
    Some((set, elems))
}

fn names_table(attrs: &[TableAttribute]) -> bool {
    attrs
        .iter()
        .any(|a| matches!(a, TableAttribute::Name(n) if n == TABLE))
}

/// The gate-relevant content of one netlink message (`None`: nothing about the gate).
pub fn notice(msg: &NetlinkMessage<NetfilterMessage>) -> Option<Notice> {
    let m = match &msg.payload {
        NetlinkPayload::Done(_) => return Some(Notice::Done),
        NetlinkPayload::Error(e) => return e.code.map(|c| Notice::Error(c.get())),
        NetlinkPayload::InnerMessage(m) => m,
        _ => return None,
    };
    if m.header.family != NetfilterProtoFamily::Inet {
        return None;
    }
    let NetfilterMessageInner::NfTables(nft) = &m.inner else {
        return None;
    };
    match nft {
        NfTablesMessage::NewSetElement(e) => elems_of(e).map(|(s, v)| Notice::Added(s, v)),
        NfTablesMessage::DeleteSetElement(e) => elems_of(e).map(|(s, v)| Notice::Deleted(s, v)),
        NfTablesMessage::DeleteTable(t) | NfTablesMessage::NewTable(t)
            if names_table(&t.attributes) =>
        {
            Some(Notice::TableReset)
        }
        NfTablesMessage::DeleteSet(s) => {
            let mut table = false;
            let mut set = None;
            for a in &s.attributes {
                match a {
                    SetAttribute::Table(t) => table = t == TABLE,
                    SetAttribute::Name(n) => set = GateSet::from_name(n),
                    _ => {}
                }
            }
            set.filter(|_| table).map(Notice::SetGone)
        }
        _ => None,
    }
}

/// Every notice in one datagram (which may hold several netlink messages). A message
/// that does not parse is skipped; the error says how many.
pub fn notices(datagram: &[u8]) -> (Vec<Notice>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    let mut off = 0;
    while off + 16 <= datagram.len() {
        let buf = NetlinkBuffer::new(&datagram[off..]);
        let len = buf.length() as usize;
        if len < 16 || off + len > datagram.len() {
            bad += 1;
            break;
        }
        match NetlinkMessage::<NetfilterMessage>::deserialize(&datagram[off..off + len]) {
            Ok(m) => out.extend(notice(&m)),
            Err(_) => bad += 1,
        }
        off += (len + 3) & !3;
    }
    (out, bad)
}

/// What the monitor knows of one node's gate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateState {
    /// VIPs in `vips4`/`vips6`.
    pub managed: BTreeSet<IpAddr>,
    /// VIPs in `live4`/`live6`, each open until (run time; `None`: no timeout).
    pub open: BTreeMap<IpAddr, Option<u64>>,
}

fn until(now_ns: u64, e: &Elem) -> Option<u64> {
    e.expires_ms
        .map(|ms| now_ns.saturating_add(ms.saturating_mul(1_000_000)))
}

fn open_change(u: Option<u64>) -> GateChange {
    match u {
        Some(until_ns) => GateChange::OpenUntil { until_ns },
        None => GateChange::Open,
    }
}

impl GateState {
    /// Applies a notice received at run time `now_ns`; returns the changes to record.
    pub fn apply(&mut self, n: &Notice, now_ns: u64) -> Vec<(IpAddr, GateChange)> {
        // Leases that ran out are gone from the kernel already (it said nothing).
        self.open.retain(|_, u| u.is_none_or(|u| u > now_ns));
        let mut out = Vec::new();
        match n {
            Notice::Added(set, elems) if set.is_live() => {
                for e in elems {
                    let u = until(now_ns, e);
                    self.open.insert(e.vip, u);
                    out.push((e.vip, open_change(u)));
                }
            }
            Notice::Added(_, elems) => {
                for e in elems {
                    if self.managed.insert(e.vip) {
                        out.push((e.vip, GateChange::Managed));
                    }
                }
            }
            Notice::Deleted(set, elems) if set.is_live() => {
                for e in elems {
                    if self.open.remove(&e.vip).is_some() {
                        out.push((e.vip, GateChange::Closed));
                    }
                }
            }
            Notice::Deleted(_, elems) => {
                for e in elems {
                    if self.managed.remove(&e.vip) {
                        out.push((e.vip, GateChange::Unmanaged));
                    }
                }
            }
            Notice::SetGone(set) => {
                let v4 = set.is_v4();
                if set.is_live() {
                    let gone: Vec<IpAddr> = self
                        .open
                        .keys()
                        .filter(|a| a.is_ipv4() == v4)
                        .copied()
                        .collect();
                    for a in gone {
                        self.open.remove(&a);
                        out.push((a, GateChange::Closed));
                    }
                } else {
                    let gone: Vec<IpAddr> = self
                        .managed
                        .iter()
                        .filter(|a| a.is_ipv4() == v4)
                        .copied()
                        .collect();
                    for a in gone {
                        self.managed.remove(&a);
                        out.push((a, GateChange::Unmanaged));
                    }
                }
            }
            Notice::TableReset => out = self.resync(GateState::default()),
            Notice::Done | Notice::Error(_) => {}
        }
        out
    }

    /// Replaces the state by a fresh dump's; returns the changes to record (every open
    /// element again, as its expiry was re-read).
    pub fn resync(&mut self, now: GateState) -> Vec<(IpAddr, GateChange)> {
        let mut out = Vec::new();
        for a in self.open.keys().filter(|a| !now.open.contains_key(a)) {
            out.push((*a, GateChange::Closed));
        }
        for a in self.managed.difference(&now.managed) {
            out.push((*a, GateChange::Unmanaged));
        }
        for a in now.managed.difference(&self.managed) {
            out.push((*a, GateChange::Managed));
        }
        for (a, u) in &now.open {
            out.push((*a, open_change(*u)));
        }
        *self = now;
        out
    }
}

/// A `GETSETELEM` dump request for one set of the gate table.
pub fn dump_request(set: GateSet, seq: u32) -> Vec<u8> {
    let mut msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::Inet, 0, 0),
            NfTablesMessage::GetSetElement(SetElementMessage {
                attributes: vec![
                    SetElementList::Table(TABLE.to_string()),
                    SetElementList::Set(set.name().to_string()),
                ],
            }),
        )),
    );
    msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Reads the four sets through `sock` (a socket of the node's namespace); the time of
/// the dump is `now_ns` (remaining expirations count from it). A missing table or set
/// is empty.
async fn dump(sock: &mut TokioSocket, now_ns: impl Fn() -> u64) -> Result<GateState> {
    let mut st = GateState::default();
    for (i, set) in GateSet::ALL.into_iter().enumerate() {
        let req = dump_request(set, i as u32 + 1);
        sock.send(&req).await.context("send GETSETELEM")?;
        'reply: loop {
            let (data, _) = sock.recv_from_full().await.context("GETSETELEM reply")?;
            let t = now_ns();
            let (ns, _) = notices(&data);
            for n in ns {
                match n {
                    Notice::Done => break 'reply,
                    Notice::Error(e) if NO_GATE_ERRNOS.contains(&-e) => break 'reply,
                    Notice::Error(e) => {
                        return Err(anyhow!(
                            "GETSETELEM {}: {}",
                            set.name(),
                            std::io::Error::from_raw_os_error(-e)
                        ))
                    }
                    n => {
                        st.apply(&n, t);
                    }
                }
            }
        }
    }
    Ok(st)
}

/// A running gate monitor; stops when dropped.
#[derive(Debug)]
pub struct GateMonitor {
    /// `None`: this kernel has no nfnetlink, so nothing can be gated.
    task: Option<JoinHandle<()>>,
}

impl Drop for GateMonitor {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

fn record(history: &History, node: &str, changes: Vec<(IpAddr, GateChange)>, t_ns: u64) {
    for (vip, change) in changes {
        history.record_at(
            t_ns,
            EventKind::Gate {
                node: node.to_string(),
                vip,
                change,
            },
        );
    }
}

/// Starts monitoring `host`'s gate into `history`. Returns once the sets are read, so
/// every later change is seen.
pub async fn start(host: &Host, history: History) -> Result<GateMonitor> {
    let rt = tokio::runtime::Handle::current();
    let sockets = host.ns().run(move || {
        let _g = rt.enter();
        let mut mon = match TokioSocket::new(NETLINK_NETFILTER) {
            Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => return Ok(None),
            r => r.context("nfnetlink socket")?,
        };
        mon.socket_mut()
            .bind_auto()
            .context("bind nfnetlink socket")?;
        mon.socket_ref()
            .add_membership(NFNLGRP_NFTABLES)
            .context("join NFNLGRP_NFTABLES")?;
        // Room for bursts (a lab's reconcile); an overrun is still handled.
        let _ = mon.socket_ref().set_rx_buf_sz(1 << 20);
        let mut dumper = TokioSocket::new(NETLINK_NETFILTER).context("nfnetlink socket")?;
        dumper
            .socket_mut()
            .bind_auto()
            .context("bind nfnetlink socket")?;
        dumper
            .socket_mut()
            .connect(&netlink_sys::SocketAddr::new(0, 0))
            .context("connect nfnetlink socket")?;
        Ok(Some((mon, dumper)))
    })?;
    let Some((mon, mut dumper)) = sockets else {
        return Ok(GateMonitor { task: None });
    };
    let node = host.name().to_string();
    let clock = history.clock();
    let mut st = GateState::default();
    let first = dump(&mut dumper, || clock.now_ns()).await?;
    let t = clock.now_ns();
    let changes = st.resync(first);
    record(&history, &node, changes, t);
    let task = tokio::spawn(async move {
        loop {
            match mon.recv_from_full().await {
                Ok((data, _)) => {
                    let t = clock.now_ns();
                    let (ns, _) = notices(&data);
                    for n in &ns {
                        let changes = st.apply(n, t);
                        record(&history, &node, changes, t);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    let from_ns = clock.now_ns();
                    match dump(&mut dumper, || clock.now_ns()).await {
                        Ok(now) => {
                            let t = clock.now_ns();
                            history.record_at(
                                t,
                                EventKind::GateGap {
                                    node: node.clone(),
                                    from_ns,
                                    reason:
                                        "nfnetlink overrun: gate notifications lost, sets re-read"
                                            .into(),
                                },
                            );
                            let changes = st.resync(now);
                            record(&history, &node, changes, t);
                        }
                        Err(e) => {
                            history.record(EventKind::GateGap {
                                node: node.clone(),
                                from_ns,
                                reason: format!("nfnetlink overrun and re-dump failed: {e:#}"),
                            });
                        }
                    }
                }
                Err(e) => {
                    // The observation ends here: the rest of the run's gate is unknown.
                    history.record(EventKind::GateGap {
                        node: node.clone(),
                        from_ns: clock.now_ns(),
                        reason: format!("nfnetlink receive failed, monitor stopped: {e}"),
                    });
                    return;
                }
            }
        }
    });
    Ok(GateMonitor { task: Some(task) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::ErrorMessage;
    use netlink_packet_netfilter::nftables::TableMessage;
    use std::num::NonZeroI32;

    fn bytes(family: NetfilterProtoFamily, m: NfTablesMessage) -> Vec<u8> {
        let mut msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(NetfilterMessage::new(
                NetfilterHeader::new(family, 0, 0),
                m,
            )),
        );
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    fn elem(key: &[u8], expires_ms: Option<u64>) -> ListAttribute<SetElementAttribute> {
        let mut attrs = vec![SetElementAttribute::Key(DataAttribute::Value(key.to_vec()))];
        if let Some(e) = expires_ms {
            attrs.push(SetElementAttribute::Timeout(e));
            attrs.push(SetElementAttribute::Expiration(e));
        }
        ListAttribute::Element(attrs)
    }

    fn setelem(
        table: &str,
        set: &str,
        elems: Vec<ListAttribute<SetElementAttribute>>,
    ) -> SetElementMessage {
        SetElementMessage {
            attributes: vec![
                SetElementList::Table(table.into()),
                SetElementList::Set(set.into()),
                SetElementList::Elements(elems),
            ],
        }
    }

    fn v4() -> IpAddr {
        "192.0.2.20".parse().unwrap()
    }

    fn v6() -> IpAddr {
        "2001:db8::20".parse().unwrap()
    }

    fn v6_bytes() -> [u8; 16] {
        match v6() {
            IpAddr::V6(a) => a.octets(),
            IpAddr::V4(_) => unreachable!(),
        }
    }

    #[test]
    fn refresh_of_a_live_element_parses_with_its_expiration() {
        let b = bytes(
            NetfilterProtoFamily::Inet,
            NfTablesMessage::NewSetElement(setelem(
                "vrrpd",
                "live4",
                vec![elem(&[192, 0, 2, 20], Some(312))],
            )),
        );
        let (n, bad) = notices(&b);
        assert_eq!(bad, 0);
        assert_eq!(
            n,
            vec![Notice::Added(
                GateSet::Live4,
                vec![Elem {
                    vip: v4(),
                    expires_ms: Some(312)
                }]
            )]
        );
        let mut st = GateState::default();
        assert_eq!(
            st.apply(&n[0], 1_000),
            vec![(
                v4(),
                GateChange::OpenUntil {
                    until_ns: 1_000 + 312_000_000
                }
            )]
        );
    }

    #[test]
    fn several_messages_in_one_datagram_and_other_tables_ignored() {
        let mut b = bytes(
            NetfilterProtoFamily::Inet,
            NfTablesMessage::NewSetElement(setelem(
                "vrrpd",
                "vips6",
                vec![elem(&v6_bytes(), None)],
            )),
        );
        // The arp table's mirror and another inet table say nothing about the gate.
        b.extend(bytes(
            NetfilterProtoFamily::ARP,
            NfTablesMessage::NewSetElement(setelem(
                "vrrpd",
                "live4",
                vec![elem(&[192, 0, 2, 20], Some(5))],
            )),
        ));
        b.extend(bytes(
            NetfilterProtoFamily::Inet,
            NfTablesMessage::NewSetElement(setelem(
                "other",
                "live4",
                vec![elem(&[192, 0, 2, 20], Some(5))],
            )),
        ));
        b.extend(bytes(
            NetfilterProtoFamily::Inet,
            NfTablesMessage::DeleteSetElement(setelem(
                "vrrpd",
                "live6",
                vec![elem(&v6_bytes(), None)],
            )),
        ));
        b.extend(bytes(
            NetfilterProtoFamily::Inet,
            NfTablesMessage::DeleteTable(TableMessage {
                attributes: vec![TableAttribute::Name("vrrpd".into())],
            }),
        ));
        let (n, bad) = notices(&b);
        assert_eq!(bad, 0);
        let e6 = Elem {
            vip: v6(),
            expires_ms: None,
        };
        assert_eq!(
            n,
            vec![
                Notice::Added(GateSet::Vips6, vec![e6]),
                Notice::Deleted(GateSet::Live6, vec![e6]),
                Notice::TableReset,
            ]
        );
        let mut st = GateState::default();
        assert_eq!(st.apply(&n[0], 0), vec![(v6(), GateChange::Managed)]);
        assert_eq!(
            st.apply(&Notice::Added(GateSet::Live6, vec![e6]), 0),
            vec![(v6(), GateChange::Open)]
        );
        assert_eq!(st.apply(&n[1], 0), vec![(v6(), GateChange::Closed)]);
        st.apply(&Notice::Added(GateSet::Live6, vec![e6]), 0);
        assert_eq!(
            st.apply(&n[2], 0),
            vec![(v6(), GateChange::Closed), (v6(), GateChange::Unmanaged)]
        );
        assert_eq!(st, GateState::default());
    }

    #[test]
    fn errors_done_and_garbage() {
        let mut err = NetlinkMessage::<NetfilterMessage>::new(
            NetlinkHeader::default(),
            NetlinkPayload::Error({
                let mut e = ErrorMessage::default();
                e.code = NonZeroI32::new(-libc::ENOENT);
                e
            }),
        );
        err.finalize();
        let mut b = vec![0; err.buffer_len()];
        err.serialize(&mut b);
        assert_eq!(notices(&b).0, vec![Notice::Error(-libc::ENOENT)]);
        // A truncated message is counted, never a panic.
        let (n, bad) = notices(&b[..b.len() - 3]);
        assert!(n.is_empty());
        assert_eq!(bad, 1);
    }

    #[test]
    fn resync_reports_the_differences() {
        let mut st = GateState::default();
        st.managed.insert(v4());
        st.open.insert(v4(), Some(5));
        let mut now = GateState::default();
        now.managed.insert(v6());
        now.open.insert(v6(), Some(9));
        assert_eq!(
            st.resync(now.clone()),
            vec![
                (v4(), GateChange::Closed),
                (v4(), GateChange::Unmanaged),
                (v6(), GateChange::Managed),
                (v6(), GateChange::OpenUntil { until_ns: 9 }),
            ]
        );
        assert_eq!(st, now);
    }

    #[test]
    fn dump_request_round_trips() {
        let b = dump_request(GateSet::Live6, 3);
        let m = NetlinkMessage::<NetfilterMessage>::deserialize(&b).unwrap();
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(m.header.sequence_number, 3);
        let NetlinkPayload::InnerMessage(inner) = m.payload else {
            panic!("{m:?}")
        };
        assert_eq!(inner.header.family, NetfilterProtoFamily::Inet);
        assert_eq!(
            inner.inner,
            NetfilterMessageInner::NfTables(NfTablesMessage::GetSetElement(SetElementMessage {
                attributes: vec![
                    SetElementList::Table("vrrpd".into()),
                    SetElementList::Set("live6".into()),
                ]
            }))
        );
    }
}
