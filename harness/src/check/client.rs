//! What the client on the segment saw: which MACs answered its ARP/ND probes for each
//! VIP. Two MACs answering is the conflict a user feels; none answering is an outage.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use super::timeline::Window;
use super::{t_str, CheckName, CheckResult, Ctx, Findings};
use crate::history::{Event, EventKind};

/// One client probe for a VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// When it was recorded (ns since the run began).
    pub t_ns: u64,
    /// Its sequence number.
    pub seq: u64,
    /// The MACs that answered; empty = nobody answered.
    pub macs: Vec<String>,
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
                .extend(p.macs.iter().cloned());
            } else if let Some(mut w) = cur.take() {
                w.to_ns = Some(p.t_ns);
                out.push(w);
            }
        }
        out.extend(cur);
        out
    }

    /// Windows in which the client's probes were answered by two or more MACs; the
    /// window's `nodes` are the MACs.
    pub fn multi_mac_windows(&self) -> Vec<Window> {
        self.windows(0, |p| p.macs.len() >= 2)
    }

    /// Windows in which nobody answered, after the first probe that was answered.
    pub fn silent_windows(&self) -> Vec<Window> {
        match self.probes.iter().find(|p| !p.macs.is_empty()) {
            Some(first) => self.windows(first.t_ns, |p| p.macs.is_empty()),
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
            EventKind::Probe { vip: v, seq, macs } if *v == vip => {
                let mut macs = macs.clone();
                macs.sort();
                macs.dedup();
                probes.push(Probe {
                    t_ns: e.t_ns,
                    seq: *seq,
                    macs,
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

/// `2 MACs (aa (node1), bb (node2))` / `nobody`.
fn answered_by(ctx: &Ctx, macs: &[String]) -> String {
    if macs.is_empty() {
        return "nobody".to_string();
    }
    let list: Vec<String> = macs.iter().map(|m| ctx.mac_label(m)).collect();
    format!("{} MAC(s) ({})", macs.len(), list.join(", "))
}

/// The last client probe for each VIP was answered by exactly one MAC.
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
            "{vip}: last probe #{} at {} answered by {}",
            last.seq,
            t_str(last.t_ns),
            answered_by(ctx, &last.macs)
        ));
        if let Some((t, why)) = view.gaps_in(last.t_ns, u64::MAX).first() {
            f.unknowns.push(format!(
                "the client could not probe {vip} at {} after its last probe: {why}",
                t_str(*t)
            ));
            continue;
        }
        if last.macs.len() == 1 {
            continue;
        }
        let since = if last.macs.is_empty() {
            view.silent_windows()
        } else {
            view.multi_mac_windows()
        }
        .into_iter()
        .find(|w| w.is_open())
        .map_or(last.t_ns, |w| w.from_ns);
        f.fails.push(format!(
            "the client's last probe for {vip} (#{} at {}) was answered by {}, since {}; expected exactly one MAC",
            last.seq,
            t_str(last.t_ns),
            answered_by(ctx, &last.macs),
            t_str(since)
        ));
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// The first client probe for each VIP at or after `t_ns` was answered by exactly `n`
/// MACs.
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
            "{vip}: probe #{} at {} answered by {}",
            p.seq,
            t_str(p.t_ns),
            answered_by(ctx, &p.macs)
        ));
        if let Some((t, why)) = view.gaps_in(t_ns, p.t_ns).first() {
            f.unknowns.push(format!(
                "the client could not probe {vip} at {}: {why}",
                t_str(*t)
            ));
        } else if p.macs.len() != n {
            f.fails.push(format!(
                "at {} the client's probe for {vip} (#{} at {}) was answered by {}, expected {n} MAC(s)",
                t_str(t_ns),
                p.seq,
                t_str(p.t_ns),
                answered_by(ctx, &p.macs)
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
        let multi = v.multi_mac_windows();
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
                "client_single_mac_at_end: the client's last probe for 192.0.2.20 (#8 at t=7.500s) was answered by 2 MAC(s) (02:00:00:00:00:01 (node1), 02:00:00:00:00:02 (node2)), since t=7.500s; expected exactly one MAC"
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
            msg.contains("at t=5.500s the client's probe for 192.0.2.20 (#6 at t=6.000s) was answered by nobody, expected 1 MAC(s)"),
            "{msg}"
        );
        let r = expect_client_macs(&c, &ev, ms(7500), 1);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }
}
