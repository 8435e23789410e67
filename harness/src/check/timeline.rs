//! Who held a VIP when, from the address monitor's address and link events.
//!
//! A node holds a VIP while the VIP is *live* there ([`super::liveness`]): on the segment
//! interface ([`SEGMENT_IFNAME`]) or a macvlan over it, on a link that is up,
//! operationally up and not protodown, over a lower link that is up. A VIP on such a
//! link while it is not live is *dormant* (kept apart in [`Interval::dormant`]). Events
//! at the same instant are applied together, so a hand-over inside one nanosecond never
//! shows up as a conflict or outage of length zero.
//!
//! An [`EventKind::AddrGap`] means netlink events of a node were lost. The lost events
//! happened at some point after the last event the monitor *did* receive from that node,
//! so the hole is taken to start there (or at the gap's `from_ns`, if earlier) and to end
//! at the gap event, after which the monitor has re-read the state.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::liveness::Liveness;
use crate::history::{Event, EventKind};

pub use super::liveness::SEGMENT_IFNAME;

/// The holders of a VIP over one stretch of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// Start (ns since the run began).
    pub from_ns: u64,
    /// End, exclusive; `None` = still so at the end of the history.
    pub to_ns: Option<u64>,
    /// The nodes holding the VIP (live).
    pub nodes: BTreeSet<String>,
    /// The nodes where the VIP is on a segment link that is not live (down, protodown,
    /// lower link down): present, but not held.
    pub dormant: BTreeSet<String>,
    /// The nodes where the VIP is on a usable segment link but the node's nftables gate
    /// for it is closed: present, traffic dropped, not held.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub gated: BTreeSet<String>,
}

/// A stretch of a node's address (or gate) observation that is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddrHole {
    /// The node.
    pub node: String,
    /// Start of the hole.
    pub from_ns: u64,
    /// End of the hole (state re-read).
    pub to_ns: u64,
    /// Why, as the monitor said.
    pub reason: String,
}

/// A window in which some property of the holder set (or of the client's view) held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start (ns since the run began).
    pub from_ns: u64,
    /// End; `None` = still open when the history ends.
    pub to_ns: Option<u64>,
    /// Every node (or, for client windows, every MAC) involved during the window.
    pub nodes: BTreeSet<String>,
}

impl Window {
    /// Whether the window was still open at the end of the history.
    pub fn is_open(&self) -> bool {
        self.to_ns.is_none()
    }

    /// The window's length if it closed.
    pub fn duration(&self) -> Option<Duration> {
        self.to_ns
            .map(|to| Duration::from_nanos(to.saturating_sub(self.from_ns)))
    }

    /// The window's length up to `end_ns` for an open window: a lower bound of its true
    /// length. For a closed window, its length.
    pub fn duration_until(&self, end_ns: u64) -> Duration {
        let to = self.to_ns.unwrap_or(end_ns);
        Duration::from_nanos(to.saturating_sub(self.from_ns))
    }
}

/// The holders of one VIP over the whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The VIP.
    pub vip: IpAddr,
    /// Consecutive intervals from t=0; the last one is open. Adjacent intervals differ.
    pub intervals: Vec<Interval>,
    /// Unknown stretches of any node's address observation.
    pub holes: Vec<AddrHole>,
    /// Whether the history holds any address event at all (the monitor ran).
    pub observed: bool,
}

impl Timeline {
    /// The nodes holding the VIP at `t_ns`.
    pub fn at(&self, t_ns: u64) -> BTreeSet<String> {
        self.intervals
            .iter()
            .rev()
            .find(|i| i.from_ns <= t_ns)
            .map(|i| i.nodes.clone())
            .unwrap_or_default()
    }

    /// The holders at the end of the history.
    pub fn at_end(&self) -> BTreeSet<String> {
        self.intervals
            .last()
            .map(|i| i.nodes.clone())
            .unwrap_or_default()
    }

    /// When the VIP was first held by anyone.
    pub fn first_held_ns(&self) -> Option<u64> {
        self.intervals
            .iter()
            .find(|i| !i.nodes.is_empty())
            .map(|i| i.from_ns)
    }

    /// Maximal windows where `pred` holds of the holder set, starting at `from_ns` or
    /// later (intervals that began earlier are skipped entirely).
    fn windows(&self, since_ns: u64, pred: impl Fn(&BTreeSet<String>) -> bool) -> Vec<Window> {
        let mut out: Vec<Window> = Vec::new();
        let mut cur: Option<Window> = None;
        for i in self.intervals.iter().filter(|i| i.from_ns >= since_ns) {
            if pred(&i.nodes) {
                let w = cur.get_or_insert_with(|| Window {
                    from_ns: i.from_ns,
                    to_ns: None,
                    nodes: BTreeSet::new(),
                });
                w.nodes.extend(i.nodes.iter().cloned());
                w.to_ns = i.to_ns;
            } else if let Some(w) = cur.take() {
                out.push(w);
            }
        }
        out.extend(cur);
        out
    }

    /// Windows where two or more nodes held the VIP.
    pub fn conflict_windows(&self) -> Vec<Window> {
        self.windows(0, |n| n.len() >= 2)
    }

    /// Windows where nobody held the VIP, after someone first held it.
    pub fn outage_windows(&self) -> Vec<Window> {
        match self.first_held_ns() {
            Some(t) => self.windows(t, BTreeSet::is_empty),
            None => Vec::new(),
        }
    }

    /// Whether `node` had the VIP present but gated at every instant of `[from_ns, to_ns]`.
    pub fn gated_throughout(&self, node: &str, from_ns: u64, to_ns: u64) -> bool {
        let mut any = false;
        for i in &self.intervals {
            let overlaps = i.from_ns <= to_ns && i.to_ns.is_none_or(|t| t > from_ns);
            if overlaps {
                any = true;
                if !i.gated.contains(node) {
                    return false;
                }
            }
        }
        any
    }

    /// The holes that share any instant with `[from_ns, to_ns]`.
    pub fn holes_in(&self, from_ns: u64, to_ns: u64) -> Vec<&AddrHole> {
        self.holes
            .iter()
            .filter(|h| h.from_ns <= to_ns && h.to_ns >= from_ns)
            .collect()
    }
}

/// Live, dormant and gated nodes at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sets {
    nodes: BTreeSet<String>,
    dormant: BTreeSet<String>,
    gated: BTreeSet<String>,
}

impl Sets {
    fn of(model: &Liveness) -> Sets {
        Sets {
            nodes: model.holders(),
            dormant: model.dormant(),
            gated: model.gated(),
        }
    }
}

/// Builds the intervals: `cur` holds since `start`; `next` is the state after everything
/// at `work_t`.
struct Builder {
    model: Liveness,
    cur: Sets,
    next: Sets,
    start: u64,
    work_t: u64,
    intervals: Vec<Interval>,
}

impl Builder {
    /// Closes the interval that began at `start` at `work_t` if the sets changed.
    fn commit(&mut self) {
        if self.next == self.cur {
            return;
        }
        if self.work_t > self.start {
            let Sets {
                nodes,
                dormant,
                gated,
            } = std::mem::take(&mut self.cur);
            self.intervals.push(Interval {
                from_ns: self.start,
                to_ns: Some(self.work_t),
                nodes,
                dormant,
                gated,
            });
            self.start = self.work_t;
        }
        self.cur = self.next.clone();
    }

    /// Moves time on to `t`, through every gate expiry on the way (expiries send no event).
    fn advance(&mut self, t: u64) {
        if t <= self.work_t {
            return;
        }
        self.commit();
        while let Some(u) = self
            .model
            .next_expiry_after(self.work_t)
            .filter(|u| *u <= t)
        {
            self.work_t = u;
            self.model.set_now(u);
            self.next = Sets::of(&self.model);
            if u < t {
                self.commit();
            }
        }
        self.work_t = t;
        self.model.set_now(t);
        self.next = Sets::of(&self.model);
    }
}

/// The holder timeline of `vip` up to the last event. `events` must be sorted by `t_ns`.
pub fn holders(events: &[Event], vip: IpAddr) -> Timeline {
    let end = events.iter().map(|e| e.t_ns).max().unwrap_or(0);
    holders_until(events, vip, end)
}

/// The holder timeline of `vip` up to `end_ns` (or the last event, if later): gates that
/// expire by then without a refresh in `events` are closed. The single place that decides
/// who holds a VIP. `events` must be sorted by `t_ns`.
pub fn holders_until(events: &[Event], vip: IpAddr, end_ns: u64) -> Timeline {
    let mut holes = Vec::new();
    let mut last_seen: BTreeMap<&str, u64> = BTreeMap::new();
    let mut last_gate: BTreeMap<&str, u64> = BTreeMap::new();
    let mut observed = false;
    let mut b = Builder {
        model: Liveness::new(vip),
        cur: Sets::default(),
        next: Sets::default(),
        start: 0,
        work_t: 0,
        intervals: Vec::new(),
    };

    for e in events {
        match &e.kind {
            EventKind::Addr { node, .. } | EventKind::Link { node, .. } => {
                observed = true;
                last_seen.insert(node.as_str(), e.t_ns);
                b.advance(e.t_ns);
                if b.model.apply(&e.kind) {
                    b.next = Sets::of(&b.model);
                }
            }
            EventKind::Gate { node, .. } => {
                last_gate.insert(node.as_str(), e.t_ns);
                b.advance(e.t_ns);
                if b.model.apply(&e.kind) {
                    b.next = Sets::of(&b.model);
                }
            }
            EventKind::AddrGap {
                node,
                from_ns,
                reason,
            } => {
                let since = last_seen.get(node.as_str()).copied().unwrap_or(0);
                holes.push(AddrHole {
                    node: node.clone(),
                    from_ns: (*from_ns).min(since),
                    to_ns: e.t_ns,
                    reason: reason.clone(),
                });
                last_seen.insert(node.as_str(), e.t_ns);
            }
            EventKind::GateGap {
                node,
                from_ns,
                reason,
            } => {
                let since = last_gate.get(node.as_str()).copied().unwrap_or(0);
                holes.push(AddrHole {
                    node: node.clone(),
                    from_ns: (*from_ns).min(since),
                    to_ns: e.t_ns,
                    reason: reason.clone(),
                });
                last_gate.insert(node.as_str(), e.t_ns);
            }
            _ => {}
        }
    }
    b.advance(end_ns);
    b.commit();
    let Sets {
        nodes,
        dormant,
        gated,
    } = b.cur;
    b.intervals.push(Interval {
        from_ns: b.start,
        to_ns: None,
        nodes,
        dormant,
        gated,
    });
    Timeline {
        vip,
        intervals: b.intervals,
        holes,
        observed,
    }
}

/// The holders of each of `vips` at `t_ns` (gates that expired by `t_ns` are closed).
pub fn holders_at(
    events: &[Event],
    vips: &[IpAddr],
    t_ns: u64,
) -> BTreeMap<IpAddr, BTreeSet<String>> {
    vips.iter()
        .map(|v| (*v, holders_until(events, *v, t_ns).at(t_ns)))
        .collect()
}

/// Windows where two or more nodes held `vip`.
pub fn conflict_windows(events: &[Event], vip: IpAddr) -> Vec<Window> {
    holders(events, vip).conflict_windows()
}

/// Windows where nobody held `vip`, after someone first held it.
pub fn outage_windows(events: &[Event], vip: IpAddr) -> Vec<Window> {
    holders(events, vip).outage_windows()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::history::{AddrChange, GateChange};

    fn set(nodes: &[&str]) -> BTreeSet<String> {
        nodes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_history_has_one_open_empty_interval() {
        let t = holders(&[], vip4());
        assert_eq!(t.intervals.len(), 1);
        assert!(t.intervals[0].nodes.is_empty());
        assert!(!t.observed);
        assert!(t.outage_windows().is_empty());
        assert!(t.conflict_windows().is_empty());
    }

    #[test]
    fn closed_conflict_window() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            addr(ms(3412), "node2", AddrChange::Added, vip4()),
            addr(ms(4000), "node2", AddrChange::Refreshed, vip4()),
            addr(ms(5100), "node1", AddrChange::Removed, vip4()),
        ];
        let t = holders(&ev, vip4());
        let w = t.conflict_windows();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].from_ns, ms(3412));
        assert_eq!(w[0].to_ns, Some(ms(5100)));
        assert_eq!(w[0].nodes, set(&["node1", "node2"]));
        assert_eq!(w[0].duration(), Some(Duration::from_millis(1688)));
        assert!(t.outage_windows().is_empty());
        assert_eq!(t.at_end(), set(&["node2"]));
    }

    #[test]
    fn open_conflict_window() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            addr(ms(3000), "node2", AddrChange::Added, vip4()),
            note(ms(9000)),
        ];
        let w = conflict_windows(&ev, vip4());
        assert_eq!(w.len(), 1);
        assert!(w[0].is_open());
        assert_eq!(w[0].duration(), None);
        assert_eq!(w[0].duration_until(ms(9000)), Duration::from_millis(6000));
    }

    #[test]
    fn growing_conflict_is_one_window() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            addr(ms(200), "node2", AddrChange::Added, vip4()),
            addr(ms(300), "node3", AddrChange::Added, vip4()),
            addr(ms(400), "node3", AddrChange::Removed, vip4()),
            addr(ms(500), "node1", AddrChange::Removed, vip4()),
        ];
        let w = conflict_windows(&ev, vip4());
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].from_ns, w[0].to_ns), (ms(200), Some(ms(500))));
        assert_eq!(w[0].nodes, set(&["node1", "node2", "node3"]));
    }

    #[test]
    fn same_instant_handover_is_neither_conflict_nor_outage() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            addr(ms(200), "node1", AddrChange::Removed, vip4()),
            addr(ms(200), "node2", AddrChange::Added, vip4()),
        ];
        let t = holders(&ev, vip4());
        assert!(t.conflict_windows().is_empty());
        assert!(t.outage_windows().is_empty());
        assert_eq!(t.intervals.len(), 3);
    }

    #[test]
    fn outage_only_after_first_holder() {
        let ev = vec![
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
            addr(ms(2000), "node1", AddrChange::Removed, vip4()),
            addr(ms(2500), "node2", AddrChange::Added, vip4()),
            addr(ms(7000), "node2", AddrChange::Removed, vip4()),
        ];
        let w = outage_windows(&ev, vip4());
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].from_ns, w[0].to_ns), (ms(2000), Some(ms(2500))));
        assert_eq!((w[1].from_ns, w[1].to_ns), (ms(7000), None));
    }

    #[test]
    fn other_interfaces_and_addresses_do_not_count() {
        let mut lo = addr(ms(100), "node1", AddrChange::Added, vip4());
        if let EventKind::Addr { ifname, .. } = &mut lo.kind {
            *ifname = "lo".into();
        }
        let ev = vec![
            lo,
            addr(ms(100), "node2", AddrChange::Added, ip("192.0.2.12")),
        ];
        let t = holders(&ev, vip4());
        assert!(t.observed);
        assert!(t.at_end().is_empty());
    }

    #[test]
    fn holder_sets_at_times() {
        let v6 = ip("2001:db8::20");
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            addr(ms(100), "node1", AddrChange::Initial, v6),
            addr(ms(2000), "node2", AddrChange::Added, vip4()),
            addr(ms(2100), "node1", AddrChange::Removed, vip4()),
            addr(ms(2200), "node1", AddrChange::Removed, v6),
            addr(ms(2200), "node2", AddrChange::Added, v6),
        ];
        let at = |t| holders_at(&ev, &[vip4(), v6], t);
        assert_eq!(at(0)[&vip4()], set(&[]));
        assert_eq!(at(ms(100))[&vip4()], set(&["node1"]));
        assert_eq!(at(ms(2050))[&vip4()], set(&["node1", "node2"]));
        assert_eq!(at(ms(2100))[&vip4()], set(&["node2"]));
        assert_eq!(at(ms(2150))[&v6], set(&["node1"]));
        assert_eq!(at(ms(2200))[&v6], set(&["node2"]));
    }

    #[test]
    fn gap_reaches_back_to_last_seen_event() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            addr(ms(1000), "node1", AddrChange::Refreshed, vip4()),
            gap(ms(3000), "node1", ms(2900)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.holes.len(), 1);
        assert_eq!((t.holes[0].from_ns, t.holes[0].to_ns), (ms(1000), ms(3000)));
        assert_eq!(t.holes_in(ms(1500), ms(1600)).len(), 1);
        assert!(t.holes_in(ms(3001), ms(4000)).is_empty());
    }

    const UP: (bool, bool, bool) = (true, true, false);
    const PROTODOWN: (bool, bool, bool) = (true, false, true);
    const DOWN: (bool, bool, bool) = (false, false, false);

    /// FRR's way: the VIP sits on a macvlan over eth1 on both nodes all the time; only
    /// the master's macvlan is out of protodown.
    #[test]
    fn protodown_macvlan_holding_the_vip_is_not_live() {
        let mv = "vrrp4-2-51";
        let ev = vec![
            link(ms(100), "node1", "eth1", UP, None),
            link(ms(100), "node2", "eth1", UP, None),
            link(ms(100), "node1", mv, PROTODOWN, Some("eth1")),
            link(ms(100), "node2", mv, PROTODOWN, Some("eth1")),
            addr_on(ms(100), "node1", mv, AddrChange::Initial, vip4()),
            addr_on(ms(100), "node2", mv, AddrChange::Initial, vip4()),
            link(ms(1000), "node1", mv, UP, Some("eth1")),
            // Handover: node1 back to protodown, node2 out of it.
            link(ms(5000), "node1", mv, PROTODOWN, Some("eth1")),
            link(ms(5000), "node2", mv, UP, Some("eth1")),
            note(ms(6000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at(ms(500)), set(&[]), "nobody: both protodown");
        let first = t.intervals.iter().find(|i| i.from_ns == ms(100)).unwrap();
        assert_eq!(first.dormant, set(&["node1", "node2"]));
        assert_eq!(t.at(ms(2000)), set(&["node1"]));
        let i = t.intervals.iter().find(|i| i.from_ns == ms(1000)).unwrap();
        assert_eq!(
            i.dormant,
            set(&["node2"]),
            "node2's VIP is present, not held"
        );
        assert_eq!(t.at_end(), set(&["node2"]));
        assert!(t.conflict_windows().is_empty(), "{:?}", t.intervals);
        // The address on both nodes all the time would have been a conflict.
        assert_eq!(t.outage_windows().len(), 0);
    }

    #[test]
    fn macvlan_whose_lower_link_is_down_is_not_live() {
        let mv = "vrrp.51";
        let ev = vec![
            link(ms(100), "node1", "eth1", UP, None),
            link(ms(100), "node1", mv, UP, Some("eth1")),
            addr_on(ms(200), "node1", mv, AddrChange::Added, vip4()),
            // eth1 admin down; the macvlan itself still says up for a moment.
            link(ms(3000), "node1", "eth1", DOWN, None),
            link(ms(4000), "node1", "eth1", UP, None),
            note(ms(5000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at(ms(1000)), set(&["node1"]));
        assert_eq!(t.at(ms(3500)), set(&[]));
        let i = t.intervals.iter().find(|i| i.from_ns == ms(3000)).unwrap();
        assert_eq!(i.dormant, set(&["node1"]));
        assert_eq!(t.at(ms(4500)), set(&["node1"]));
        assert_eq!(t.outage_windows().len(), 1);
    }

    #[test]
    fn vip_on_a_macvlan_that_is_not_on_the_segment_does_not_count() {
        let ev = vec![
            link(ms(100), "node1", "eth2", UP, None),
            link(ms(100), "node1", "mv0", UP, Some("eth2")),
            addr_on(ms(200), "node1", "mv0", AddrChange::Added, vip4()),
            note(ms(1000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at_end(), set(&[]));
        assert!(t.intervals.iter().all(|i| i.dormant.is_empty()));
    }

    #[test]
    fn deleted_macvlan_takes_its_vip_along_and_eth1_down_ends_holding() {
        let mv = "vrrpd4.51";
        let mut del = link(ms(2000), "node1", mv, UP, Some("eth1"));
        if let EventKind::Link { change, .. } = &mut del.kind {
            *change = crate::history::LinkChange::Removed;
        }
        let ev = vec![
            link(ms(100), "node1", mv, UP, Some("eth1")),
            addr_on(ms(200), "node1", mv, AddrChange::Added, vip4()),
            addr(ms(300), "node2", AddrChange::Added, vip4()),
            del,
            link(ms(3000), "node2", "eth1", DOWN, None),
            note(ms(4000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at(ms(1000)), set(&["node1", "node2"]));
        assert_eq!(t.at(ms(2500)), set(&["node2"]));
        assert_eq!(t.at_end(), set(&[]));
        assert_eq!(t.intervals.last().unwrap().dormant, set(&["node2"]));
    }

    /// vrrpd's gate after a SIGKILL of node1 at 100 ms adverts: node1's address stays
    /// until its whole-second lifetime ends, but its gate expires first (no event), and
    /// node2 takes over after that.
    #[test]
    fn gate_expiry_without_event_ends_holding_before_the_address_goes() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            gate(ms(90), "node1", GateChange::Managed),
            open_for(ms(100), "node1", 350),
            open_for(ms(200), "node1", 350), // refresh extends to 550
            open_for(ms(300), "node1", 350), // to 650; SIGKILL after this
            gate(ms(500), "node2", GateChange::Managed),
            addr(ms(700), "node2", AddrChange::Added, vip4()),
            open_for(ms(700), "node2", 350),
            addr(ms(1400), "node1", AddrChange::Removed, vip4()),
            open_for(ms(1000), "node2", 350),
            note(ms(1500)),
        ];
        let t = holders(&sorted(ev), vip4());
        assert_eq!(t.at(ms(649)), set(&["node1"]));
        assert_eq!(t.at(ms(650)), set(&[]), "expired at 650 without an event");
        assert_eq!(t.at(ms(800)), set(&["node2"]));
        assert!(t.conflict_windows().is_empty(), "{:?}", t.intervals);
        let out = t.outage_windows();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!((out[0].from_ns, out[0].to_ns), (ms(650), Some(ms(700))));
        assert_eq!((out[1].from_ns, out[1].to_ns), (ms(1350), None));
        let i = t.intervals.iter().find(|i| i.from_ns == ms(700)).unwrap();
        assert_eq!(i.gated, set(&["node1"]), "present but gated is shown apart");
        // node2's gate expires at 1350 and the run ends at 1500: gone by then.
        assert_eq!(t.at(ms(1349)), set(&["node2"]));
        assert_eq!(t.at_end(), set(&[]));
    }

    #[test]
    fn without_its_gate_an_address_would_have_been_a_conflict() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            addr(ms(700), "node2", AddrChange::Added, vip4()),
            addr(ms(1400), "node1", AddrChange::Removed, vip4()),
            note(ms(1500)),
        ];
        let w = conflict_windows(&ev, vip4());
        assert_eq!((w[0].from_ns, w[0].to_ns), (ms(700), Some(ms(1400))));
    }

    #[test]
    fn closed_gate_and_table_deleted() {
        let ev = vec![
            gate(ms(0), "node1", GateChange::Managed),
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            open_for(ms(100), "node1", 10_000),
            gate(ms(300), "node1", GateChange::Closed),
            open_for(ms(500), "node1", 10_000),
            // Clean exit: table deleted (all closed, none managed), address still there.
            gate(ms(800), "node1", GateChange::Closed),
            gate(ms(800), "node1", GateChange::Unmanaged),
            note(ms(1000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at(ms(200)), set(&["node1"]));
        assert_eq!(t.at(ms(400)), set(&[]), "closed before its expiry");
        assert_eq!(
            t.intervals
                .iter()
                .find(|i| i.from_ns == ms(300))
                .unwrap()
                .gated,
            set(&["node1"])
        );
        assert_eq!(t.at(ms(600)), set(&["node1"]));
        assert_eq!(t.at(ms(900)), set(&["node1"]), "unmanaged: never gated");
    }

    #[test]
    fn managed_never_opened_and_unmanaged_again() {
        let ev = vec![
            gate(ms(0), "node1", GateChange::Managed),
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            gate(ms(300), "node1", GateChange::Unmanaged),
            gate(ms(600), "node1", GateChange::Managed),
            gate(ms(700), "node1", GateChange::Open),
            note(ms(1000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at(ms(200)), set(&[]));
        assert_eq!(t.at(ms(400)), set(&["node1"]));
        assert_eq!(t.at(ms(650)), set(&[]));
        assert_eq!(t.at_end(), set(&["node1"]), "open without timeout");
    }

    #[test]
    fn a_node_without_gate_events_is_never_gated_and_other_vips_do_not_count() {
        let mut other = gate(ms(50), "node2", GateChange::Managed);
        if let EventKind::Gate { vip, .. } = &mut other.kind {
            *vip = ip("192.0.2.99");
        }
        let ev = vec![
            gate(ms(50), "node1", GateChange::Managed),
            other,
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            addr(ms(100), "node2", AddrChange::Added, vip4()),
            note(ms(1000)),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.at_end(), set(&["node2"]));
        assert!(t.conflict_windows().is_empty());
    }

    #[test]
    fn gate_expiry_at_the_same_instant_as_a_takeover_is_neither_conflict_nor_outage() {
        let ev = vec![
            gate(ms(0), "node1", GateChange::Managed),
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            open_for(ms(100), "node1", 400),
            addr(ms(500), "node2", AddrChange::Added, vip4()),
            note(ms(1000)),
        ];
        let t = holders(&ev, vip4());
        assert!(t.conflict_windows().is_empty(), "{:?}", t.intervals);
        assert!(t.outage_windows().is_empty(), "{:?}", t.intervals);
    }

    #[test]
    fn holders_at_a_time_after_the_last_event_applies_expiries() {
        let ev = vec![
            gate(ms(0), "node1", GateChange::Managed),
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            open_for(ms(100), "node1", 400),
        ];
        assert_eq!(
            holders_at(&ev, &[vip4()], ms(499))[&vip4()],
            set(&["node1"])
        );
        assert_eq!(holders_at(&ev, &[vip4()], ms(500))[&vip4()], set(&[]));
        // Built only up to the last event, the timeline does not guess the future.
        assert_eq!(holders(&ev, vip4()).at(ms(600)), set(&["node1"]));
    }

    #[test]
    fn gate_gap_reaches_back_to_the_last_gate_event() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            open_for(ms(500), "node1", 350),
            addr(ms(2000), "node1", AddrChange::Refreshed, vip4()),
            ev(
                ms(3000),
                EventKind::GateGap {
                    node: "node1".into(),
                    from_ns: ms(2900),
                    reason: "nfnetlink overrun".into(),
                },
            ),
        ];
        let t = holders(&ev, vip4());
        assert_eq!(t.holes.len(), 1);
        assert_eq!((t.holes[0].from_ns, t.holes[0].to_ns), (ms(500), ms(3000)));
    }
}
