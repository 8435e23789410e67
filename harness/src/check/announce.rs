//! Gratuitous ARP (IPv4) / unsolicited Neighbor Advertisement (IPv6) after a takeover,
//! so that the segment's caches point at the new master at once.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use super::timeline::holders;
use super::{capture_missing, dur_ns, t_str, CheckName, CheckResult, Ctx, Findings};
use crate::history::{Event, EventKind, FrameSummary};

/// How far from the moment a node took a VIP its announcement may be (either side: the
/// address event is read from netlink later than the kernel added the address, while the
/// frame carries a kernel timestamp).
pub const ANNOUNCE_WINDOW: Duration = Duration::from_secs(1);

/// Whether `e` announces `vip` from `mac`: a gratuitous ARP (IPv4) or an unsolicited NA
/// (IPv6).
fn announces(e: &Event, vip: IpAddr, mac: &str) -> bool {
    let EventKind::Frame { frame, .. } = &e.kind else {
        return false;
    };
    match frame {
        FrameSummary::Arp {
            src_mac,
            sender_mac,
            sender_ip,
            gratuitous: true,
            ..
        } => {
            *sender_ip == vip
                && (src_mac.eq_ignore_ascii_case(mac) || sender_mac.eq_ignore_ascii_case(mac))
        }
        FrameSummary::NeighborAdvert {
            src_mac,
            target,
            unsolicited: true,
        } => *target == vip && src_mac.eq_ignore_ascii_case(mac),
        _ => false,
    }
}

/// Whenever a node newly holds a VIP after the first fault, it announces the VIP from
/// its own MAC (gratuitous ARP for IPv4, unsolicited NA for IPv6) within
/// [`ANNOUNCE_WINDOW`] of taking the address.
pub fn garp_on_takeover(ctx: &Ctx, events: &[Event]) -> CheckResult {
    const NAME: CheckName = CheckName::GarpOnTakeover;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    let Some(since) = ctx.first_fault_ns else {
        f.unknowns
            .push("no fault in the run, so no takeover to check".into());
        return CheckResult::new(NAME, f.outcome(NAME), "");
    };
    let capture = capture_missing(events);
    let window = dur_ns(ANNOUNCE_WINDOW);
    let mut takeovers = 0usize;
    for vip in &ctx.vips {
        let tl = holders(events, *vip);
        let holes = tl.holes_in(since, ctx.end_ns);
        if !tl.observed {
            f.unknowns.push(format!(
                "no address event in the history: who took {vip} is not known"
            ));
        } else if !holes.is_empty() {
            f.unknowns.push(format!(
                "address events of {} were lost between {} and {}: a takeover of {vip} may be missing",
                holes[0].node,
                t_str(holes[0].from_ns),
                t_str(holes[0].to_ns)
            ));
        }
        let pairs = tl.intervals.iter().zip(tl.intervals.iter().skip(1));
        for (prev, cur) in pairs.filter(|(_, c)| c.from_ns >= since) {
            let new: BTreeSet<&String> = cur.nodes.difference(&prev.nodes).collect();
            for node in new {
                takeovers += 1;
                let took = cur.from_ns;
                let what = if vip.is_ipv4() {
                    "gratuitous ARP"
                } else {
                    "unsolicited NA"
                };
                let Some(mac) = ctx.mac_of(node) else {
                    f.unknowns.push(format!(
                        "{node} took {vip} at {} but its MAC is not known",
                        t_str(took)
                    ));
                    continue;
                };
                let lo = took.saturating_sub(window);
                let hi = took.saturating_add(window);
                let found = events
                    .iter()
                    .filter(|e| e.t_ns >= lo && e.t_ns <= hi)
                    .find(|e| announces(e, *vip, mac));
                if let Some(a) = found {
                    detail.push(format!(
                        "{node} took {vip} at {}: {what} at {}",
                        t_str(took),
                        t_str(a.t_ns)
                    ));
                    continue;
                }
                let text = format!(
                    "{node} took {vip} at {} but sent no {what} for it from {mac} between {} and {}",
                    t_str(took),
                    t_str(lo),
                    t_str(hi)
                );
                if hi > ctx.end_ns {
                    f.unknowns.push(format!(
                        "{text}: the run ended at {} before the window closed",
                        t_str(ctx.end_ns)
                    ));
                } else if let Some(why) = &capture {
                    f.unknowns.push(format!("{text}, and {why}"));
                } else {
                    f.fails.push(text);
                }
            }
        }
    }
    if takeovers == 0 && f.unknowns.is_empty() {
        f.unknowns.push(format!(
            "no node took a VIP after the first fault at {}: nothing to check",
            t_str(since)
        ));
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::check::Outcome;
    use crate::history::AddrChange;

    fn takeover(garp_at_ms: Option<u64>, garp_mac: &str) -> Vec<Event> {
        let mut ev = vec![
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
            garp(ms(1001), MAC1, vip4()),
            fault(ms(5000), "node1", "sigkill"),
            addr(ms(8600), "node2", AddrChange::Added, vip4()),
            note(ms(12_000)),
        ];
        if let Some(t) = garp_at_ms {
            ev.push(garp(ms(t), garp_mac, vip4()));
        }
        sorted(ev)
    }

    #[test]
    fn garp_within_a_second_passes() {
        let ev = takeover(Some(8610), MAC2);
        let r = garp_on_takeover(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert!(
            r.detail.contains("gratuitous ARP at t=8.610s"),
            "{}",
            r.detail
        );
        // Captured slightly before the netlink event was read: still the announcement.
        let ev = takeover(Some(8590), MAC2);
        assert!(garp_on_takeover(&ctx(&ev), &ev).outcome.is_pass());
    }

    #[test]
    fn missing_late_or_foreign_garp_fails() {
        for ev in [
            takeover(None, MAC2),
            takeover(Some(9700), MAC2),
            takeover(Some(8610), MAC1),
        ] {
            let r = garp_on_takeover(&ctx(&ev), &ev);
            assert_eq!(
                r.outcome,
                Outcome::Fail(
                    "garp_on_takeover: node2 took 192.0.2.20 at t=8.600s but sent no gratuitous ARP for it from 02:00:00:00:00:02 between t=7.600s and t=9.600s"
                        .into()
                ),
            );
        }
    }

    #[test]
    fn ipv6_needs_unsolicited_na() {
        let v6 = ip("2001:db8::20");
        let na = |unsolicited| {
            frame(
                ms(8700),
                FrameSummary::NeighborAdvert {
                    src_mac: MAC2.into(),
                    target: v6,
                    unsolicited,
                },
            )
        };
        let base = vec![
            addr(ms(1000), "node1", AddrChange::Added, v6),
            fault(ms(5000), "node1", "sigkill"),
            addr(ms(8600), "node2", AddrChange::Added, v6),
            note(ms(12_000)),
        ];
        let mut c = ctx(&base);
        c.vips = vec![v6];
        let ev = sorted([base.clone(), vec![na(true)]].concat());
        assert!(garp_on_takeover(&c, &ev).outcome.is_pass());
        let ev = sorted([base, vec![na(false)]].concat());
        assert!(matches!(
            garp_on_takeover(&c, &ev).outcome,
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn unknown_without_capture_or_takeover() {
        let mut ev = takeover(None, MAC2);
        ev.retain(|e| !matches!(e.kind, EventKind::Frame { .. }));
        let r = garp_on_takeover(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
        let ev = vec![
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
            garp(ms(1001), MAC1, vip4()),
            fault(ms(5000), "node2", "sigkill"),
            note(ms(12_000)),
        ];
        let r = garp_on_takeover(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }
}
