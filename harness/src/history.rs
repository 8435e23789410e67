//! One time-ordered history of a run: faults, steps and every observation, with a
//! monotonic timestamp (nanoseconds since the run began) and the wall clock.
//!
//! Observers append; checkers read. Events can arrive slightly out of order (a packet's
//! kernel timestamp is older than the moment it is read), so [`History::events`] returns
//! them sorted by time.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use vrrpd::wire::Mac;

/// The run's clock: a monotonic origin and the wall-clock time at that origin.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    mono0: Instant,
    wall0_ns: u128,
}

impl Clock {
    /// Starts the clock now.
    pub fn start() -> Clock {
        let wall0_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Clock {
            mono0: Instant::now(),
            wall0_ns,
        }
    }

    /// Nanoseconds since the origin.
    pub fn now_ns(&self) -> u64 {
        self.at(Instant::now())
    }

    /// Nanoseconds since the origin for a monotonic instant (0 if it is earlier).
    pub fn at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.mono0).as_nanos() as u64
    }

    /// Converts a wall-clock timestamp (such as a packet's kernel timestamp) into run time.
    pub fn from_wall(&self, wall_ns: u128) -> u64 {
        wall_ns.saturating_sub(self.wall0_ns) as u64
    }

    /// The monotonic instant of a run time.
    pub fn instant(&self, t_ns: u64) -> Instant {
        self.mono0 + Duration::from_nanos(t_ns)
    }

    /// Wall-clock nanoseconds since the Unix epoch for a run time.
    pub fn wall_ns(&self, t_ns: u64) -> u128 {
        self.wall0_ns + u128::from(t_ns)
    }
}

/// How an address changed, as seen through netlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrChange {
    /// Present in the first dump of the monitor.
    Initial,
    /// RTM_NEWADDR for an address the node did not have.
    Added,
    /// RTM_NEWADDR for an address it had (a lifetime refresh).
    Refreshed,
    /// RTM_DELADDR.
    Removed,
}

/// How a link changed, as seen through netlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkChange {
    /// Present in the first dump of the monitor.
    Initial,
    /// RTM_NEWLINK for a new link, or one whose state changed.
    Changed,
    /// RTM_DELLINK.
    Removed,
}

/// How a node's nftables gate for one VIP changed (the `inet vrrpd` table of the
/// vrrpd gate contract, `docs/gate.md`), as seen through nfnetlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GateChange {
    /// The VIP is in the node's `vips4`/`vips6` set: its traffic passes only while the
    /// gate is open.
    Managed,
    /// The VIP left the `vips` set (or the table went away): never gated.
    Unmanaged,
    /// The VIP's element in `live4`/`live6` was added or refreshed: open until `until_ns`
    /// (run time), when the kernel drops it without telling anyone.
    OpenUntil {
        /// Receive (or dump) time plus the element's remaining expiration.
        until_ns: u64,
    },
    /// The VIP's live element carries no timeout: open until it is deleted.
    Open,
    /// The live element was deleted (or its set or table was).
    Closed,
}

/// One answer to a client probe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProbeAnswer {
    /// The node whose bridge port the answer came in by (`None`: a port the lab does
    /// not know).
    pub node: Option<String>,
    /// The MAC it answered with (ARP sender / NA target link-layer address).
    pub mac: Mac,
    /// Microseconds from sending the probe to the answer's kernel timestamp.
    pub after_us: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// An address appeared, was refreshed or disappeared on a node.
    Addr {
        /// The node.
        node: String,
        /// Interface name (eth1, lo).
        ifname: String,
        /// The change.
        change: AddrChange,
        /// The address.
        addr: IpAddr,
        /// Prefix length.
        prefix_len: u8,
        /// Valid lifetime in seconds (u32::MAX = forever).
        valid_lft: u32,
        /// IFA_PROTO mark, if any.
        proto: Option<u8>,
        /// IPv4 label, if any.
        label: Option<String>,
    },
    /// A link of a node appeared, changed in a way that matters for holding a VIP, or
    /// disappeared.
    Link {
        /// The node.
        node: String,
        /// Interface name.
        ifname: String,
        /// The change.
        change: LinkChange,
        /// Administratively up.
        up: bool,
        /// Operationally up.
        oper_up: bool,
        /// Protodown.
        protodown: bool,
        /// The lower link in the same namespace (a macvlan's parent), by name.
        lower: Option<String>,
        /// Link kind (`macvlan`, `veth`...).
        link_kind: Option<String>,
        /// Hardware address (aa:bb:..).
        mac: Option<Mac>,
    },
    /// The observation of a node's addresses and links has a hole from `from_ns` to this event:
    /// events were lost (netlink overrun) and the state was re-read. Whatever happened in
    /// between is unknown.
    AddrGap {
        /// The node.
        node: String,
        /// Start of the hole.
        from_ns: u64,
        /// Why.
        reason: String,
    },
    /// A node's nftables gate for a VIP changed (see [`GateChange`]).
    Gate {
        /// The node.
        node: String,
        /// The VIP.
        vip: IpAddr,
        /// The change.
        change: GateChange,
    },
    /// The observation of a node's nftables gate has a hole from `from_ns` to this event:
    /// notifications were lost (netlink overrun) and the sets were re-read. Whatever
    /// happened in between is unknown.
    GateGap {
        /// The node.
        node: String,
        /// Start of the hole.
        from_ns: u64,
        /// Why.
        reason: String,
    },
    /// A frame seen on the segment.
    Frame {
        /// Index of the frame in capture.pcap (0-based).
        index: u64,
        /// The host whose bridge port it came in by (`None`: not known).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Decoded summary.
        frame: FrameSummary,
    },
    /// One client ARP/ND probe for a VIP and who answered within the interval.
    Probe {
        /// The VIP asked for.
        vip: IpAddr,
        /// Sequence number of the probe.
        seq: u64,
        /// The answers, one per node and MAC, sorted.
        answers: Vec<ProbeAnswer>,
    },
    /// The client probe could not send or receive for a while: its view is unknown.
    ProbeGap {
        /// The VIP.
        vip: IpAddr,
        /// Why.
        reason: String,
    },
    /// The capture lost frames (kernel drops): frame-based checks are unknown.
    CaptureGap {
        /// Frames the kernel dropped.
        dropped: u64,
    },
    /// A fault or operator action was applied.
    Fault {
        /// The node it applied to (or "lab").
        node: String,
        /// Fault name (sigkill, stop, freeze...).
        fault: String,
        /// Details (signal, pids, result).
        detail: String,
    },
    /// A daemon process started or exited.
    Daemon {
        /// The node.
        node: String,
        /// Started or exited.
        what: DaemonEvent,
        /// Host PID.
        pid: u32,
        /// Exit status text, when exited.
        detail: String,
    },
    /// A scenario step began or ended.
    Step {
        /// Index in the scenario.
        index: usize,
        /// Human description.
        text: String,
        /// Began, ended or failed.
        phase: StepPhase,
    },
    /// Free text from the runner.
    Note {
        /// The text.
        text: String,
    },
}

/// What happened to a daemon process (serialised `started` / `exited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonEvent {
    /// The harness started it.
    Started,
    /// It exited (the event's detail says how).
    Exited,
}

/// Where a scenario step is (serialised `begin` / `end` / `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepPhase {
    /// The step began.
    Begin,
    /// The step ended as it should.
    End,
    /// The step failed (or could not be decided).
    Failed,
}

impl StepPhase {
    /// `begin`, `end` or `failed`, as in the history file.
    pub fn as_str(self) -> &'static str {
        match self {
            StepPhase::Begin => "begin",
            StepPhase::End => "end",
            StepPhase::Failed => "failed",
        }
    }
}

/// A decoded frame, as much as the checkers need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "proto", rename_all = "snake_case")]
pub enum FrameSummary {
    /// A VRRP advertisement (valid or not).
    Vrrp {
        /// Source MAC.
        src_mac: Mac,
        /// Source IP.
        src: IpAddr,
        /// Destination IP.
        dst: IpAddr,
        /// IP TTL or hop limit.
        ttl: u8,
        /// VRRP version.
        version: u8,
        /// VRID.
        vrid: u8,
        /// Priority.
        priority: u8,
        /// Advertisement interval in centiseconds (v3) or seconds (v2).
        interval: u16,
        /// The virtual addresses carried.
        addrs: Vec<IpAddr>,
        /// Why the packet is invalid, if it is.
        error: Option<String>,
    },
    /// An ARP frame.
    Arp {
        /// 1 request, 2 reply.
        op: u16,
        /// Source MAC of the Ethernet frame.
        src_mac: Mac,
        /// Sender hardware address.
        sender_mac: Mac,
        /// Sender IP.
        sender_ip: IpAddr,
        /// Target IP.
        target_ip: IpAddr,
        /// Whether this is a gratuitous ARP (sender IP == target IP).
        gratuitous: bool,
    },
    /// An IPv6 Neighbor Advertisement.
    NeighborAdvert {
        /// Source MAC.
        src_mac: Mac,
        /// Target address advertised.
        target: IpAddr,
        /// Unsolicited (not a reply to a solicitation).
        unsolicited: bool,
    },
    /// Anything else.
    Other {
        /// Length in bytes.
        len: usize,
        /// What it is, briefly.
        what: String,
    },
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds since the run began (monotonic).
    pub t_ns: u64,
    /// Wall clock, nanoseconds since the Unix epoch.
    pub wall_ns: u128,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The shared, append-only history of one run.
#[derive(Debug, Clone)]
pub struct History {
    clock: Clock,
    events: Arc<Mutex<Vec<Event>>>,
}

impl History {
    /// An empty history whose clock starts now.
    pub fn new() -> History {
        History {
            clock: Clock::start(),
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The run's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Appends an event that happened now.
    pub fn record(&self, kind: EventKind) -> u64 {
        let t = self.clock.now_ns();
        self.record_at(t, kind);
        t
    }

    /// Appends an event that happened at run time `t_ns`.
    pub fn record_at(&self, t_ns: u64, kind: EventKind) {
        let ev = Event {
            t_ns,
            wall_ns: self.clock.wall_ns(t_ns),
            kind,
        };
        if let Ok(mut v) = self.events.lock() {
            v.push(ev);
        }
    }

    /// Every event so far, sorted by time (stable for equal times).
    pub fn events(&self) -> Vec<Event> {
        let mut v = self.events.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort_by_key(|e| e.t_ns);
        v
    }

    /// Writes the history as JSON lines.
    pub fn write_jsonl(&self, path: &Path) -> Result<()> {
        let f = File::create(path).with_context(|| format!("create {}", path.display()))?;
        let mut w = BufWriter::new(f);
        for e in self.events() {
            serde_json::to_writer(&mut w, &e)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        Ok(())
    }
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_events_serialise_like_the_others() {
        let e = Event {
            t_ns: 5,
            wall_ns: 7,
            kind: EventKind::Gate {
                node: "node1".into(),
                vip: "192.0.2.20".parse().unwrap(),
                change: GateChange::OpenUntil { until_ns: 300 },
            },
        };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"t_ns":5,"wall_ns":7,"kind":"gate","node":"node1","vip":"192.0.2.20","change":{"state":"open_until","until_ns":300}}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
        let gap = EventKind::GateGap {
            node: "node1".into(),
            from_ns: 1,
            reason: "overrun".into(),
        };
        let text = serde_json::to_string(&gap).unwrap();
        assert!(text.starts_with(r#"{"kind":"gate_gap""#), "{text}");
        assert_eq!(serde_json::from_str::<EventKind>(&text).unwrap(), gap);
    }
}
