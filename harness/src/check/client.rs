//! What the client on the segment saw: which **nodes** answered its ARP/ND probes for
//! each VIP, each answer attributed by the bridge port it came in by. Two nodes
//! answering is the conflict a user feels, even when both answer with the same virtual
//! MAC (the bridge's forwarding table then flips between their ports); none answering is
//! an outage. One node answering with two MACs (its own and a virtual MAC) is one
//! holder.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use super::timeline::Window;
use super::{t_str, CheckName, CheckResult, Ctx, Findings};
use crate::history::{Event, EventKind, ProbeAnswer};

/// One client probe for a VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// When it was recorded (ns since the run began).
    pub t_ns: u64,
    /// Its sequence number.
    pub seq: u64,
    /// The answers; empty = nobody answered.
    pub answers: Vec<ProbeAnswer>,
}

impl Probe {
    /// The nodes that answered (an answer from a port the lab does not know counts as
    /// the node `?`).
    pub fn nodes(&self) -> BTreeSet<String> {
        self.answers
            .iter()
            .map(|a| a.node.clone().unwrap_or_else(|| "?".to_string()))
            .collect()
    }

    /// The MACs the answers carried.
    pub fn macs(&self) -> BTreeSet<&str> {
        self.answers.iter().map(|a| a.mac.as_str()).collect()
    }
}

/// The client's view of one VIP over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientView {
    /// The VIP.
    pub vip: IpAddr,
    /// Every probe for it, in time order.
    pub probes: Vec<Probe>,
    /// When the prober reported it could not probe (time and reason).
    pub gaps: Vec<(u64, String)>,
}

impl ClientView {
    /// Maximal windows of consecutive probes for which `pred` holds: from the first such
    /// probe to the next probe for which it does not (open if none did).
    fn windows(&self, since_ns: u64, pred: impl Fn(&Probe) -> bool) -> Vec<Window> {
        let mut out = Vec::new();
        let mut cur: Option<Window> = None;
        for p in self.probes.iter().filter(|p| p.t_ns >= since_ns) {
            if pred(p) {
                cur.get_or_insert_with(|| Window {
                    from_ns: p.t_ns,
                    to_ns: None,
                    nodes: BTreeSet::new(),
                })
                .nodes
                .extend(p.nodes());
            } else if let Some(mut w) = cur.take() {
                w.to_ns = Some(p.t_ns);
                out.push(w);
            }
        }
        out.extend(cur);
        out
    }

    /// Windows in which the client's probes were answered by two or more nodes.
    pub fn multi_node_windows(&self) -> Vec<Window> {
        self.windows(0, |p| p.nodes().len() >= 2)
    }

    /// Windows in which nobody answered, after the first probe that was answered.
    pub fn silent_windows(&self) -> Vec<Window> {
        match self.probes.iter().find(|p| !p.answers.is_empty()) {
            Some(first) => self.windows(first.t_ns, |p| p.answers.is_empty()),
            None => Vec::new(),
        }
    }

    /// The first probe at or after `t_ns`.
    pub fn first_from(&self, t_ns: u64) -> Option<&Probe> {
        self.probes.iter().find(|p| p.t_ns >= t_ns)
    }

    /// Probe gaps reported in `[from_ns, to_ns]`.
    pub fn gaps_in(&self, from_ns: u64, to_ns: u64) -> Vec<&(u64, String)> {
        self.gaps
            .iter()
            .filter(|(t, _)| *t >= from_ns && *t <= to_ns)
            .collect()
    }
}

/// The client's view of `vip`. `events` must be sorted by `t_ns`.
pub fn client_view(events: &[Event], vip: IpAddr) -> ClientView {
    let mut probes = Vec::new();
    let mut gaps = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::Probe {
                vip: v,
                seq,
                answers,
            } if *v == vip => {
                let mut answers = answers.clone();
                answers.sort();
                answers.dedup_by(|a, b| a.node == b.node && a.mac == b.mac);
                probes.push(Probe {
                    t_ns: e.t_ns,
                    seq: *seq,
                    answers,
                });
            }
            EventKind::ProbeGap { vip: v, reason } if *v == vip => {
                gaps.push((e.t_ns, reason.clone()));
            }
            _ => {}
        }
    }
    ClientView { vip, probes, gaps }
}

/// Who answered, in words: `nobody answered`; `node1 answered with MAC aa`; `2 nodes
/// answered (node1, node2), both with MAC 00:00:5e:00:01:33`; `2 nodes answered (node1
/// with MAC aa, node2 with MAC bb)`.
pub fn answered_by(p: &Probe) -> String {
    let nodes = p.nodes();
    if nodes.is_empty() {
        return "nobody answered".to_string();
    }
    let macs_of = |n: &str| -> Vec<&str> {
        let mut v: Vec<&str> = p
            .answers
            .iter()
            .filter(|a| a.node.as_deref().unwrap_or("?") == n)
            .map(|a| a.mac.as_str())
            .collect();
        v.dedup();
        v
    };
    let with = |macs: &[&str]| match macs {
        [m] => format!("MAC {m}"),
        ms => format!("MACs {}", ms.join(" and ")),
    };
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    if let [one] = names.as_slice() {
        return format!("{one} answered with {}", with(&macs_of(one)));
    }
    let all = p.macs();
    if all.len() == 1 {
        let both = if names.len() == 2 { "both" } else { "all" };
        let mac = all.iter().next().copied().unwrap_or_default();
        return format!(
            "{} nodes answered ({}), {both} with MAC {mac}",
            names.len(),
            names.join(", ")
        );
    }
    let each: Vec<String> = names
        .iter()
        .map(|n| format!("{n} with {}", with(&macs_of(n))))
        .collect();
    format!("{} nodes answered ({})", names.len(), each.join(", "))
}

/// The last client probe for each VIP was answered by exactly one node.
pub fn client_single_mac_at_end(ctx: &Ctx, events: &[Event]) -> CheckResult {
    const NAME: CheckName = CheckName::ClientSingleMacAtEnd;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    for vip in &ctx.vips {
        let view = client_view(events, *vip);
        let Some(last) = view.probes.last() else {
            f.unknowns.push(format!("the client never probed {vip}"));
            continue;
        };
        detail.push(format!(
            "{vip}: last probe #{} at {}: {}",
            last.seq,
            t_str(last.t_ns),
            answered_by(last)
        ));
        if let Some((t, why)) = view.gaps_in(last.t_ns, u64::MAX).first() {
            f.unknowns.push(format!(
                "the client could not probe {vip} at {} after its last probe: {why}",
                t_str(*t)
            ));
            continue;
        }
        if last.nodes().len() == 1 {
            continue;
        }
        let since = if last.answers.is_empty() {
            view.silent_windows()
        } else {
            view.multi_node_windows()
        }
        .into_iter()
        .find(|w| w.is_open())
        .map_or(last.t_ns, |w| w.from_ns);
        f.fails.push(format!(
            "the client's last probe for {vip} (#{} at {}): {}, since {}; expected exactly one node",
            last.seq,
            t_str(last.t_ns),
            answered_by(last),
            t_str(since)
        ));
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// The first client probe for each VIP at or after `t_ns` was answered by exactly `n`
/// nodes.
pub fn expect_client_macs(ctx: &Ctx, events: &[Event], t_ns: u64, n: usize) -> CheckResult {
    const NAME: CheckName = CheckName::ExpectClientMacs;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    for vip in &ctx.vips {
        let view = client_view(events, *vip);
        let Some(p) = view.first_from(t_ns) else {
            f.unknowns.push(format!(
                "the client did not probe {vip} at or after {}",
                t_str(t_ns)
            ));
            continue;
        };
        detail.push(format!(
            "{vip}: probe #{} at {}: {}",
            p.seq,
            t_str(p.t_ns),
            answered_by(p)
        ));
        if let Some((t, why)) = view.gaps_in(t_ns, p.t_ns).first() {
            f.unknowns.push(format!(
                "the client could not probe {vip} at {}: {why}",
                t_str(*t)
            ));
        } else if p.nodes().len() != n {
            f.fails.push(format!(
                "at {} the client's probe for {vip} (#{} at {}): {}; expected {n} node(s)",
                t_str(t_ns),
                p.seq,
                t_str(p.t_ns),
                answered_by(p)
            ));
        }
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::check::Outcome;

    fn run() -> Vec<Event> {
        vec![
            probe(ms(1000), 1, &[]),
            probe(ms(2000), 2, &[MAC1]),
            probe(ms(3000), 3, &[MAC1, MAC2]),
            probe(ms(4000), 4, &[MAC1, MAC2]),
            probe(ms(5000), 5, &[MAC2]),
            probe(ms(6000), 6, &[]),
            probe(ms(7000), 7, &[MAC2]),
            note(ms(8000)),
        ]
    }

    #[test]
    fn client_windows() {
        let v = client_view(&run(), vip4());
        let multi = v.multi_node_windows();
        assert_eq!(multi.len(), 1);
        assert_eq!(
            (multi[0].from_ns, multi[0].to_ns),
            (ms(3000), Some(ms(5000)))
        );
        assert_eq!(multi[0].nodes.len(), 2);
        let silent = v.silent_windows();
        assert_eq!(silent.len(), 1);
        assert_eq!(
            (silent[0].from_ns, silent[0].to_ns),
            (ms(6000), Some(ms(7000)))
        );
    }

    #[test]
    fn single_mac_at_end() {
        let ev = run();
        let c = ctx(&ev);
        assert!(client_single_mac_at_end(&c, &ev).outcome.is_pass());
        let mut ev = run();
        ev.insert(7, probe(ms(7500), 8, &[MAC1, MAC2]));
        let r = client_single_mac_at_end(&c, &ev);
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "client_single_mac_at_end: the client's last probe for 192.0.2.20 (#8 at t=7.500s): 2 nodes answered (node1 with MAC 02:00:00:00:00:01, node2 with MAC 02:00:00:00:00:02), since t=7.500s; expected exactly one node"
                    .into()
            )
        );
    }

    #[test]
    fn no_probes_or_gap_is_unknown() {
        let ev = vec![note(ms(8000))];
        let r = client_single_mac_at_end(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
        let mut ev = run();
        ev.push(crate::check::testutil::ev(
            ms(7500),
            EventKind::ProbeGap {
                vip: vip4(),
                reason: "send failed".into(),
            },
        ));
        let r = client_single_mac_at_end(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    #[test]
    fn expected_client_macs_at_time() {
        let ev = run();
        let c = ctx(&ev);
        assert!(expect_client_macs(&c, &ev, ms(2500), 2).outcome.is_pass());
        assert!(expect_client_macs(&c, &ev, ms(5000), 1).outcome.is_pass());
        let r = expect_client_macs(&c, &ev, ms(5500), 1);
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(
            msg.contains("at t=5.500s the client's probe for 192.0.2.20 (#6 at t=6.000s): nobody answered; expected 1 node(s)"),
            "{msg}"
        );
        let r = expect_client_macs(&c, &ev, ms(7500), 1);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    /// keepalived with use_vmac after SIGKILL of the master, or FRR: both macvlans
    /// answer the client's ARP from the same virtual MAC.
    #[test]
    fn two_ports_answering_with_one_mac_are_a_conflict() {
        let ev = vec![
            probe_from(ms(1000), 1, &[("node1", VMAC)]),
            probe_from(ms(5000), 2, &[("node1", VMAC), ("node2", VMAC)]),
            note(ms(6000)),
        ];
        let c = ctx(&ev);
        let r = client_single_mac_at_end(&c, &ev);
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "client_single_mac_at_end: the client's last probe for 192.0.2.20 (#2 at t=5.000s): 2 nodes answered (node1, node2), both with MAC 00:00:5e:00:01:33, since t=5.000s; expected exactly one node"
                    .into()
            )
        );
        let v = client_view(&ev, vip4());
        assert_eq!(v.multi_node_windows().len(), 1);
        assert!(expect_client_macs(&c, &ev, ms(4000), 2).outcome.is_pass());
    }

    #[test]
    fn one_port_answering_with_the_virtual_mac_after_a_takeover_is_not_a_conflict() {
        let ev = vec![
            probe_from(ms(1000), 1, &[("node1", VMAC)]),
            probe_from(ms(2000), 2, &[]),
            probe_from(ms(3000), 3, &[("node2", VMAC)]),
            // node2 also answers from eth1 with its own MAC: still one node.
            probe_from(ms(4000), 4, &[("node2", VMAC), ("node2", MAC2)]),
            note(ms(5000)),
        ];
        let c = ctx(&ev);
        let r = client_single_mac_at_end(&c, &ev);
        assert!(r.outcome.is_pass(), "{r:?}");
        assert_eq!(
            r.detail,
            "192.0.2.20: last probe #4 at t=4.000s: node2 answered with MACs 00:00:5e:00:01:33 and 02:00:00:00:00:02"
        );
        assert!(client_view(&ev, vip4()).multi_node_windows().is_empty());
        assert!(expect_client_macs(&c, &ev, ms(2500), 1).outcome.is_pass());
    }

    #[test]
    fn answers_in_words() {
        let p = |answers: &[(&str, &str)]| {
            let EventKind::Probe { answers, .. } = probe_from(0, 1, answers).kind else {
                unreachable!()
            };
            answered_by(&Probe {
                t_ns: 0,
                seq: 1,
                answers,
            })
        };
        assert_eq!(p(&[]), "nobody answered");
        assert_eq!(
            p(&[("node1", MAC1)]),
            "node1 answered with MAC 02:00:00:00:00:01"
        );
        assert_eq!(
            p(&[("node1", MAC1), ("node2", MAC2)]),
            "2 nodes answered (node1 with MAC 02:00:00:00:00:01, node2 with MAC 02:00:00:00:00:02)"
        );
        assert_eq!(
            p(&[("node1", VMAC), ("node2", VMAC), ("node3", VMAC)]),
            "3 nodes answered (node1, node2, node3), all with MAC 00:00:5e:00:01:33"
        );
    }
}
