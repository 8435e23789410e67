//! Address monitor: an initial dump of a node's addresses, then every RTM_NEWADDR and
//! RTM_DELADDR as *added*, *refreshed* (a lifetime refresh of a known address) or
//! *removed*. A netlink overrun (lost events) triggers a re-dump, records the hole as an
//! [`EventKind::AddrGap`] and reconstructs the differences.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use anyhow::{Context, Result};
use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use tokio::task::JoinHandle;

use crate::history::{AddrChange, EventKind, History};
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
    };
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
                NetlinkPayload::Overrun(_) => {
                    let from_ns = st.history.clock().now_ns();
                    match addrs::snapshot(&handle).await {
                        Ok(snap) => {
                            st.history.record(EventKind::AddrGap {
                                node: st.node.clone(),
                                from_ns,
                                reason: "netlink overrun: events lost, state re-read".into(),
                            });
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
