//! The client's view: from the client namespace, ask the segment who holds each VIP
//! (ARP request for IPv4, Neighbor Solicitation for IPv6) every interval, and record who
//! answered each round. Answers are read in the segment namespace at the bridge port
//! they came in by ([`super::ingress`]), so each is attributed to the node that sent it
//! even when two nodes answer with the same virtual MAC. Two nodes answering is the
//! conflict a user of the VIP actually feels.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use nix::sys::socket::MsgFlags;
use vrrpd::wire::{arp, ndisc, Mac};

use super::ingress::{self, Keep};
use super::packet;
use crate::history::{EventKind, History, ProbeAnswer};
use crate::lab::ports::Ports;
use crate::lab::topology::{CLIENT_V4, CLIENT_V6};
use crate::lab::Lab;

/// Default time between probe rounds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(50);

/// A running client probe; stops when dropped.
#[derive(Debug)]
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts probing `vips` from the lab's client every `interval`.
pub fn start(lab: &Lab, vips: &[IpAddr], interval: Duration, history: History) -> Result<Probe> {
    let client = lab.client();
    let ifindex = client.ifindex();
    let sockets = Sockets {
        // Sends only: protocol 0 receives nothing.
        send: client
            .ns()
            .run(move || packet::open(ifindex, 0, Duration::from_millis(5)))?,
        answers: {
            let bridge = lab.bridge_index();
            lab.segment()
                .ns()
                .run(move || ingress::open(bridge, Keep::Neighbour, Duration::from_millis(5)))?
        },
        me: Mac(client.mac()),
        client_port: client.port(),
        ports: lab.ports(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let vips = vips.to_vec();
    let thread = std::thread::Builder::new()
        .name("client-probe".into())
        .spawn(move || run(sockets, vips, interval, history, stop2))
        .context("probe thread")?;
    Ok(Probe {
        stop,
        thread: Some(thread),
    })
}

impl Probe {
    /// Stops probing (the last round is recorded).
    pub fn stop(mut self) -> Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("probe thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

fn request(mac: Mac, vip: IpAddr) -> Vec<u8> {
    match vip {
        IpAddr::V4(v) => arp::request(mac, CLIENT_V4, v),
        IpAddr::V6(v) => ndisc::solicitation(mac, Some(CLIENT_V6), v),
    }
}

/// The MAC that answered for `vip` in this frame, if it is such an answer.
fn answer(frame: &[u8], vip: IpAddr, me: Mac) -> Option<Mac> {
    match vip {
        IpAddr::V4(v) => {
            let (eth, r) = arp::parse_frame(frame).ok()?;
            (r.op == arp::Operation::Reply && r.sender_ip == v && eth.src != me)
                .then_some(r.sender_mac)
        }
        IpAddr::V6(v) => {
            let f = ndisc::parse_frame(frame).ok()?;
            match f.repr {
                ndisc::Repr::NeighborAdvert {
                    target, target_lla, ..
                } if target == v && f.src_mac != me => Some(target_lla.unwrap_or(f.src_mac)),
                _ => None,
            }
        }
    }
}

/// Where the probe sends from and reads answers at.
struct Sockets {
    /// On the client's `eth1`.
    send: OwnedFd,
    /// In the segment namespace, every ARP/ICMPv6 frame at its ingress port.
    answers: OwnedFd,
    /// The client's MAC.
    me: Mac,
    /// The client's bridge port (its own requests come in there).
    client_port: u32,
    /// The host behind each port.
    ports: Ports,
}

fn wall_now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn run(s: Sockets, vips: Vec<IpAddr>, interval: Duration, history: History, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 2048];
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let round_end = Instant::now() + interval;
        // Per VIP: (node, mac) -> the earliest answer's latency.
        let mut seen: Vec<BTreeMap<(Option<String>, String), u64>> =
            vec![BTreeMap::new(); vips.len()];
        let mut failed = None;
        let sent_ns = wall_now_ns();
        for vip in &vips {
            if let Err(e) = packet::send(&s.send, &request(s.me, *vip)) {
                failed = Some(format!("send probe for {vip}: {e}"));
            }
        }
        while Instant::now() < round_end {
            match ingress::recv(&s.answers, &mut buf, &mut cmsg, MsgFlags::empty()) {
                Ok(Some(r)) if r.ifindex != s.client_port => {
                    for (i, vip) in vips.iter().enumerate() {
                        if let Some(m) = answer(&buf[..r.len], *vip, s.me) {
                            let after_us = u64::try_from(r.wall_ns.saturating_sub(sent_ns) / 1000)
                                .unwrap_or(u64::MAX);
                            seen[i]
                                .entry((s.ports.host(r.ifindex), m.to_string()))
                                .and_modify(|t| *t = (*t).min(after_us))
                                .or_insert(after_us);
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    failed = Some(format!("receive: {e:#}"));
                    break;
                }
            }
        }
        let dropped = packet::drops(&s.answers);
        if dropped > 0 && failed.is_none() {
            failed = Some(format!(
                "the segment socket dropped {dropped} frame(s): answers may be missing"
            ));
        }
        for (i, vip) in vips.iter().enumerate() {
            match &failed {
                Some(reason) => history.record(EventKind::ProbeGap {
                    vip: *vip,
                    reason: reason.clone(),
                }),
                None => history.record(EventKind::Probe {
                    vip: *vip,
                    seq,
                    answers: std::mem::take(&mut seen[i])
                        .into_iter()
                        .map(|((node, mac), after_us)| ProbeAnswer {
                            node,
                            mac,
                            after_us,
                        })
                        .collect(),
                }),
            };
        }
        seq += 1;
    }
}
