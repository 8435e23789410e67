//! The client's view: from the client namespace, ask the segment who holds each VIP
//! (ARP request for IPv4, Neighbor Solicitation for IPv6) every interval, and record
//! which MACs answered each round. Two MACs answering is the conflict a user of the VIP
//! actually feels.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use vrrpd::wire::{arp, ndisc, Mac};

use super::packet;
use crate::history::{EventKind, History};
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
    let mac = Mac(client.mac());
    let fd = client
        .ns()
        .run(move || packet::open(ifindex, packet::ETH_P_ALL, Duration::from_millis(5)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let vips = vips.to_vec();
    let thread = std::thread::Builder::new()
        .name("client-probe".into())
        .spawn(move || run(fd, mac, vips, interval, history, stop2))
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

fn run(
    fd: OwnedFd,
    me: Mac,
    vips: Vec<IpAddr>,
    interval: Duration,
    history: History,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 2048];
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let round_end = Instant::now() + interval;
        let mut seen: Vec<BTreeSet<Mac>> = vec![BTreeSet::new(); vips.len()];
        let mut failed = None;
        for vip in &vips {
            if let Err(e) = packet::send(&fd, &request(me, *vip)) {
                failed = Some(format!("send probe for {vip}: {e}"));
            }
        }
        while Instant::now() < round_end {
            match nix::unistd::read(&fd, &mut buf) {
                Ok(n) => {
                    for (i, vip) in vips.iter().enumerate() {
                        if let Some(m) = answer(&buf[..n], *vip, me) {
                            seen[i].insert(m);
                        }
                    }
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    failed = Some(format!("receive: {e}"));
                    break;
                }
            }
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
                    macs: seen[i].iter().cloned().collect(),
                }),
            };
        }
        seq += 1;
    }
}
