//! Address and link monitor: an initial dump of a node's links and addresses, then every
//! RTM_NEWADDR and RTM_DELADDR as *added*, *refreshed* (a lifetime refresh of a known
//! address) or *removed*, and every RTM_NEWLINK / RTM_DELLINK that changes what decides
//! whether a VIP on the link is live ([`LinkFacts`]). Links and addresses come through
//! one socket, so their order is the kernel's: a macvlan is known before the VIP added
//! to it. A netlink overrun (lost events) triggers a re-dump, records the hole as an
//! [`EventKind::AddrGap`] and reconstructs the differences of both.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use anyhow::{Context, Result};
use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use tokio::task::JoinHandle;

use super::link::LinkFacts;
use crate::history::{AddrChange, EventKind, History, LinkChange};
use crate::lab::addrs::{self, AddrEntry};
use crate::lab::Host;

/// A running address monitor; stops when dropped.
#[derive(Debug)]
pub struct AddrMonitor {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AddrMonitor {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

type Key = (u32, IpAddr, u8);

struct State {
    node: String,
    history: History,
    names: HashMap<u32, String>,
    known: HashSet<Key>,
    links: HashMap<u32, LinkFacts>,
}

impl State {
    fn ifname(&self, ifindex: u32) -> String {
        self.names
            .get(&ifindex)
            .cloned()
            .unwrap_or_else(|| format!("if{ifindex}"))
    }

    fn emit(&self, change: AddrChange, e: &AddrEntry) {
        self.history.record(EventKind::Addr {
            node: self.node.clone(),
            ifname: self.ifname(e.ifindex),
            change,
            addr: e.addr,
            prefix_len: e.prefix_len,
            valid_lft: e.valid_lft,
            proto: e.proto,
            label: e.label.clone(),
        });
    }

    fn on_new(&mut self, e: &AddrEntry) {
        let change = if self.known.insert((e.ifindex, e.addr, e.prefix_len)) {
            AddrChange::Added
        } else {
            AddrChange::Refreshed
        };
        self.emit(change, e);
    }

    fn on_del(&mut self, e: &AddrEntry) {
        self.known.remove(&(e.ifindex, e.addr, e.prefix_len));
        self.emit(AddrChange::Removed, e);
    }

    fn link_event(&self, f: &LinkFacts, change: LinkChange) {
        self.history
            .record(f.event(&self.node, change, &self.names));
    }

    fn on_link(&mut self, f: LinkFacts, initial: bool) {
        self.names.insert(f.ifindex, f.name.clone());
        let change = match self.links.get(&f.ifindex) {
            _ if initial => LinkChange::Initial,
            Some(old) if !f.differs(old) => return,
            _ => LinkChange::Changed,
        };
        self.link_event(&f, change);
        self.links.insert(f.ifindex, f);
    }

    fn on_dellink(&mut self, ifindex: u32) {
        if let Some(f) = self.links.remove(&ifindex) {
            self.link_event(&f, LinkChange::Removed);
        }
    }

    /// Applies a full link dump: what changed or appeared is recorded, what vanished
    /// removed.
    fn resync_links(&mut self, links: Vec<LinkFacts>) {
        let now: HashSet<u32> = links.iter().map(|l| l.ifindex).collect();
        let gone: Vec<u32> = self
            .links
            .keys()
            .filter(|i| !now.contains(i))
            .copied()
            .collect();
        for i in gone {
            self.on_dellink(i);
        }
        for l in links {
            self.on_link(l, false);
        }
    }

    /// Applies a full dump: what appeared is added, what vanished removed.
    fn resync(&mut self, entries: &[AddrEntry]) {
        let now: HashSet<Key> = entries
            .iter()
            .map(|e| (e.ifindex, e.addr, e.prefix_len))
            .collect();
        let gone: Vec<Key> = self.known.difference(&now).cloned().collect();
        for (ifindex, addr, prefix_len) in gone {
            self.on_del(&AddrEntry {
                ifindex,
                addr,
                prefix_len,
                label: None,
                proto: None,
                valid_lft: addrs::INFINITE,
                preferred_lft: addrs::INFINITE,
            });
        }
        for e in entries {
            if !self.known.contains(&(e.ifindex, e.addr, e.prefix_len)) {
                self.on_new(e);
            }
        }
    }
}

/// Starts monitoring `host`'s addresses into `history`. Returns once the initial dump
/// is recorded, so every later change is seen.
pub async fn start(host: &Host, history: History) -> Result<AddrMonitor> {
    let rt = tokio::runtime::Handle::current();
    let (conn, handle, mut messages) = host.ns().run(move || {
        let _g = rt.enter();
        rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .context("netlink multicast socket")
    })?;
    let conn_task = tokio::spawn(conn);
    let snap = addrs::snapshot(&handle).await?;
    let mut st = State {
        node: host.name().to_string(),
        history,
        names: snap
            .links
            .iter()
            .map(|l| (l.ifindex, l.name.clone()))
            .collect(),
        known: HashSet::new(),
        links: HashMap::new(),
    };
    for l in link_facts(&handle).await? {
        st.on_link(l, true);
    }
    for e in &snap.entries {
        st.known.insert((e.ifindex, e.addr, e.prefix_len));
        st.emit(AddrChange::Initial, e);
    }
    let task = tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(m)) => {
                    if let Some(e) = AddrEntry::from_message(&m) {
                        st.on_new(&e);
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(m)) => {
                    if let Some(e) = AddrEntry::from_message(&m) {
                        st.on_del(&e);
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    if let Some(f) = LinkFacts::of(&m) {
                        st.on_link(f, false);
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => {
                    st.on_dellink(m.header.index);
                }
                NetlinkPayload::Overrun(_) => {
                    let from_ns = st.history.clock().now_ns();
                    let dumps = match link_facts(&handle).await {
                        Ok(links) => addrs::snapshot(&handle).await.map(|s| (links, s)),
                        Err(e) => Err(e),
                    };
                    match dumps {
                        Ok((links, snap)) => {
                            st.history.record(EventKind::AddrGap {
                                node: st.node.clone(),
                                from_ns,
                                reason: "netlink overrun: events lost, state re-read".into(),
                            });
                            st.resync_links(links);
                            st.resync(&snap.entries);
                        }
                        Err(e) => {
                            st.history.record(EventKind::AddrGap {
                                node: st.node.clone(),
                                from_ns,
                                reason: format!("netlink overrun and re-dump failed: {e:#}"),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    });
    Ok(AddrMonitor {
        tasks: vec![conn_task, task],
    })
}

/// Every link of the namespace, as [`LinkFacts`].
async fn link_facts(handle: &rtnetlink::Handle) -> Result<Vec<LinkFacts>> {
    use futures::TryStreamExt;
    let msgs: Vec<_> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .context("link dump")?;
    Ok(msgs.iter().filter_map(LinkFacts::of).collect())
}
