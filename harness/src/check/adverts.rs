//! Checks over the VRRP advertisements captured on the segment: failover time against the
//! RFC timers, the priority-0 advert of a clean stop, and the IP TTL / validity of every
//! advert.
//!
//! A capture that saw no frame, or lost frames ([`EventKind::CaptureGap`], position
//! unknown), makes these checks unknown unless a violation was observed anyway.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::timeline::holders;
use super::{
    capture_missing, dur_ns, ms_str, node_ips, t_str, CheckName, CheckResult, Ctx, Findings,
    Outcome,
};
use crate::history::{DaemonEvent, Event, EventKind, FrameSummary};

/// How a failover is expected to happen, which decides the RFC value it is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverKind {
    /// The master vanished silently (SIGKILL, freeze, link down): the backup takes over
    /// after `Master_Down_Interval`.
    Kill,
    /// The master stopped cleanly and sent a priority-0 advert: the backup takes over
    /// after `Skew_Time`. A missing priority-0 advert fails the check.
    Handover,
    /// Decide from the capture: a handover if the old master sent a priority-0 advert
    /// between its last regular advert and the new master's first, else a kill.
    Auto,
}

impl fmt::Display for FailoverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailoverKind::Kill => "kill",
            FailoverKind::Handover => "handover",
            FailoverKind::Auto => "auto",
        })
    }
}

/// The slack a measured failover gets over its RFC value: half an advertisement
/// interval, and at least 100 ms.
///
/// Both ends of the measurement are capture timestamps, but the backup's timer runs in a
/// daemon's event loop (keepalived rounds its timers, vrrpd's timer wheel and scheduler
/// add latency), and the advert that ends the window is sent only after the state change
/// is processed. Half an interval absorbs that at slow intervals without hiding a missed
/// whole interval; the 100 ms floor keeps sub-second intervals from failing on scheduling
/// noise alone.
pub fn failover_tolerance(advert_interval: Duration) -> Duration {
    (advert_interval / 2).max(Duration::from_millis(100))
}

/// A valid advert as the checks need it.
#[derive(Debug, Clone)]
struct Advert {
    t_ns: u64,
    src_mac: String,
    src: IpAddr,
    vrid: u8,
    priority: u8,
}

/// Valid adverts that carry one of the context's VIPs (any advert if it has none).
fn adverts(ctx: &Ctx, events: &[Event]) -> Vec<Advert> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Frame {
                frame:
                    FrameSummary::Vrrp {
                        src_mac,
                        src,
                        vrid,
                        priority,
                        addrs,
                        error: None,
                        ..
                    },
                ..
            } if ctx.vips.is_empty() || addrs.iter().any(|a| ctx.vips.contains(a)) => {
                Some(Advert {
                    t_ns: e.t_ns,
                    src_mac: src_mac.clone(),
                    src: *src,
                    vrid: *vrid,
                    priority: *priority,
                })
            }
            _ => None,
        })
        .collect()
}

/// `192.0.2.11 (node1)`: an advert's source, with the node it belongs to if known.
fn src_label(ctx: &Ctx, ips: &BTreeMap<IpAddr, String>, a: &Advert) -> String {
    match ips
        .get(&a.src)
        .map(String::as_str)
        .or_else(|| ctx.node_of_mac(&a.src_mac))
    {
        Some(n) => format!("{} ({n})", a.src),
        None => a.src.to_string(),
    }
}

/// Failover time, measured from the capture: from the old master's last advert before
/// the first fault (for a handover: its priority-0 advert) to the first advert of another
/// router for the same VRID, held to the RFC value (`Master_Down_Interval` for a kill,
/// `Skew_Time` for a handover) plus [`failover_tolerance`].
///
/// The old master is the source of the last valid advert with a non-zero priority before
/// the fault. A failover that never completed fails once it has overrun the limit by the
/// end of the run, and is unknown if the run ended before the limit.
pub fn failover(ctx: &Ctx, events: &[Event], kind: FailoverKind) -> CheckResult {
    const NAME: CheckName = CheckName::Failover;
    let unknown =
        |why: String| CheckResult::new(NAME, Outcome::Unknown(format!("{NAME}: {why}")), "");
    let fail = |why: String, detail: String| {
        CheckResult::new(NAME, Outcome::Fail(format!("{NAME}: {why}")), detail)
    };
    let Some(fault_ns) = ctx.first_fault_ns else {
        return unknown("no fault in the run, so no failover to measure".into());
    };
    if let Some(why) = capture_missing(events) {
        return unknown(why);
    }
    let ips = node_ips(ctx, events);
    let ads = adverts(ctx, events);
    let Some(old) = ads
        .iter()
        .rev()
        .find(|a| a.t_ns < fault_ns && a.priority > 0)
    else {
        return fail(
            format!(
                "no router advertised the VIPs before the fault at {}: there was no master to fail over from",
                t_str(fault_ns)
            ),
            String::new(),
        );
    };
    let same: Vec<&Advert> = ads.iter().filter(|a| a.vrid == old.vrid).collect();
    let new = same
        .iter()
        .find(|a| a.t_ns >= fault_ns && a.src != old.src && a.priority > 0);
    let until = new.map_or(ctx.end_ns, |n| n.t_ns);
    // `old` itself qualifies (it precedes the fault, hence `until`), so this finds one.
    let Some(last_regular) = same
        .iter()
        .rev()
        .find(|a| a.src == old.src && a.priority > 0 && a.t_ns < until.max(old.t_ns + 1))
    else {
        return unknown("the old master's adverts vanished while measuring".into());
    };
    let prio0 = same.iter().find(|a| {
        a.src == old.src && a.priority == 0 && a.t_ns > last_regular.t_ns && a.t_ns <= until
    });
    let effective = match kind {
        FailoverKind::Auto if prio0.is_some() => FailoverKind::Handover,
        FailoverKind::Auto => FailoverKind::Kill,
        k => k,
    };
    let old_label = src_label(ctx, &ips, last_regular);
    let (start, expected, rfc_name) = match effective {
        FailoverKind::Handover => {
            let Some(p0) = prio0 else {
                return fail(
                    format!(
                        "expected a priority-0 handover, but {old_label} sent no priority-0 advert between its last advert at {} and {}",
                        t_str(last_regular.t_ns),
                        new.map_or_else(
                            || format!("the end of the run ({})", t_str(ctx.end_ns)),
                            |n| format!("the new master's first advert at {}", t_str(n.t_ns))
                        )
                    ),
                    String::new(),
                );
            };
            (*p0, ctx.skew_time, "Skew_Time")
        }
        _ => (*last_regular, ctx.master_down, "Master_Down_Interval"),
    };
    let tol = failover_tolerance(ctx.advert_interval);
    let limit_ns = dur_ns(expected + tol);
    let start_what = if start.priority == 0 {
        "priority-0 advert"
    } else {
        "last advert"
    };
    let mut detail = format!(
        "{effective} failover of VRID {} after the fault at {}: {start_what} of {old_label} at {}",
        old.vrid,
        t_str(fault_ns),
        t_str(start.t_ns)
    );
    if effective == FailoverKind::Kill {
        if let Some(p0) = prio0 {
            detail.push_str(&format!(
                " (a priority-0 advert followed at {})",
                t_str(p0.t_ns)
            ));
        }
    }
    let expect_text = format!(
        "{} ({rfc_name}) + {} tolerance",
        ms_str(dur_ns(expected)),
        ms_str(dur_ns(tol))
    );
    match new {
        Some(n) => {
            let measured = n.t_ns.saturating_sub(start.t_ns);
            detail.push_str(&format!(
                ", first advert of {} at {}: measured {}, expected at most {expect_text}",
                src_label(ctx, &ips, n),
                t_str(n.t_ns),
                ms_str(measured)
            ));
            let r = if measured > limit_ns {
                fail(
                    format!(
                        "{start_what} of {old_label} at {} -> first advert of {} at {}: {} > {expect_text}",
                        t_str(start.t_ns),
                        src_label(ctx, &ips, n),
                        t_str(n.t_ns),
                        ms_str(measured)
                    ),
                    detail,
                )
            } else {
                CheckResult::new(NAME, Outcome::Pass, detail)
            };
            r.with_measure(measured)
        }
        None => {
            let elapsed = ctx.end_ns.saturating_sub(start.t_ns);
            detail.push_str(&format!(
                ", no other router advertised by the end of the run ({})",
                t_str(ctx.end_ns)
            ));
            if elapsed > limit_ns {
                fail(
                    format!(
                        "no router took over from {old_label}: open since its {start_what} at {}, at least {} at the end of the run ({}) > {expect_text}",
                        t_str(start.t_ns),
                        ms_str(elapsed),
                        t_str(ctx.end_ns)
                    ),
                    detail,
                )
            } else {
                let mut r = unknown(format!(
                    "the run ended {} after the {start_what} of {old_label} at {}, before the failover deadline ({expect_text})",
                    ms_str(elapsed),
                    t_str(start.t_ns)
                ));
                r.detail = detail;
                r
            }
        }
    }
}

/// After each clean stop (`Fault { fault: "stop" }`, or the stop that begins a
/// `"restart"`) of a node that held a VIP at that moment, a valid priority-0 advert from that node (its segment MAC or one of its own
/// addresses) appears on the segment before its daemon exits (or by the end of the run
/// if no exit was recorded). The search starts at the daemon's last start, since the
/// advert's capture timestamp may precede the moment the fault was recorded.
pub fn priority_zero_on_stop(ctx: &Ctx, events: &[Event]) -> CheckResult {
    const NAME: CheckName = CheckName::PriorityZeroOnStop;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    let capture = capture_missing(events);
    let ips = node_ips(ctx, events);
    let timelines: Vec<_> = ctx.vips.iter().map(|v| holders(events, *v)).collect();
    let mut masters_stopped = 0usize;
    for (i, e) in events.iter().enumerate() {
        let EventKind::Fault { node, fault, .. } = &e.kind else {
            continue;
        };
        // A restart begins with the same clean stop (the runner counts it as one).
        if fault != "stop" && fault != "restart" {
            continue;
        }
        let mut held = Vec::new();
        for tl in &timelines {
            if !tl.observed || !tl.holes_in(e.t_ns, e.t_ns).is_empty() {
                f.unknowns.push(format!(
                    "whether {node} held {} when stopped at {} is not known (address events missing)",
                    tl.vip,
                    t_str(e.t_ns)
                ));
            } else if tl.at(e.t_ns).contains(node) {
                held.push(tl.vip.to_string());
            }
        }
        if held.is_empty() {
            detail.push(format!("{node} stopped at {} held no VIP", t_str(e.t_ns)));
            continue;
        }
        masters_stopped += 1;
        let mac = ctx.mac_of(node);
        let own: Vec<IpAddr> = ips
            .iter()
            .filter(|(_, n)| *n == node)
            .map(|(a, _)| *a)
            .collect();
        if mac.is_none() && own.is_empty() {
            f.unknowns.push(format!(
                "neither the MAC nor an address of {node} is known: its adverts cannot be recognised"
            ));
            continue;
        }
        let since = events[..i]
            .iter()
            .rev()
            .find(|d| matches!(&d.kind, EventKind::Daemon { node: n, what: DaemonEvent::Started, .. } if n == node))
            .map_or(0, |d| d.t_ns);
        let exit = events[i..].iter().find(
            |d| matches!(&d.kind, EventKind::Daemon { node: n, what: DaemonEvent::Exited, .. } if n == node),
        );
        let until = exit.map_or(ctx.end_ns, |d| d.t_ns);
        let found = adverts(ctx, events).into_iter().find(|a| {
            a.priority == 0
                && a.t_ns >= since
                && a.t_ns <= until
                && (mac.is_some_and(|m| m.eq_ignore_ascii_case(&a.src_mac)) || own.contains(&a.src))
        });
        let until_text = match exit {
            Some(d) => format!("its daemon exited at {}", t_str(d.t_ns)),
            None => format!(
                "the end of the run ({}; no exit recorded)",
                t_str(ctx.end_ns)
            ),
        };
        match found {
            Some(a) => detail.push(format!(
                "{node} (held {}) stopped at {}: priority-0 advert at {}, before {until_text}",
                held.join(", "),
                t_str(e.t_ns),
                t_str(a.t_ns)
            )),
            None => {
                let text = format!(
                    "{node} held {} when stopped at {}, but sent no priority-0 advert between {} and {until_text}",
                    held.join(", "),
                    t_str(e.t_ns),
                    t_str(since)
                );
                match &capture {
                    Some(why) => f.unknowns.push(format!("{text}, and {why}")),
                    None => f.fails.push(text),
                }
            }
        }
    }
    if masters_stopped == 0 && f.unknowns.is_empty() {
        f.unknowns
            .push("no clean stop of a node holding a VIP in this run: nothing to check".into());
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// Every VRRP frame on the segment has IP TTL / hop limit 255 (RFC 5798 §5.1.1.3) and
/// decoded without error.
pub fn ttl_255(ctx: &Ctx, events: &[Event]) -> CheckResult {
    const NAME: CheckName = CheckName::Ttl255;
    let mut f = Findings::default();
    let ips = node_ips(ctx, events);
    let mut count = 0usize;
    for e in events {
        let EventKind::Frame {
            index,
            frame:
                FrameSummary::Vrrp {
                    src_mac,
                    src,
                    ttl,
                    error,
                    ..
                },
        } = &e.kind
        else {
            continue;
        };
        count += 1;
        let from = match ips
            .get(src)
            .map(String::as_str)
            .or_else(|| ctx.node_of_mac(src_mac))
        {
            Some(n) => format!("{src} ({n})"),
            None => format!("{src} ({src_mac})"),
        };
        if *ttl != 255 {
            f.fails.push(format!(
                "VRRP frame #{index} from {from} at {} has TTL {ttl}, not 255",
                t_str(e.t_ns)
            ));
        }
        if let Some(err) = error {
            f.fails.push(format!(
                "VRRP frame #{index} from {from} at {} is invalid: {err}",
                t_str(e.t_ns)
            ));
        }
    }
    if let Some(why) = capture_missing(events) {
        f.unknowns.push(why);
    } else if count == 0 {
        f.unknowns.push("no VRRP frame was captured".into());
    }
    CheckResult::new(NAME, f.outcome(NAME), format!("{count} VRRP frame(s)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::history::AddrChange;

    /// node1 is master and advertises every second from 1 s; killed at 5.2 s; node2
    /// advertises from `takeover_ms`.
    fn kill_run(takeover_ms: u64) -> Vec<Event> {
        let mut ev = adverts_every_second(1000, 5000, MAC1, IP1);
        ev.push(fault(ms(5200), "node1", "sigkill"));
        ev.extend(adverts_every_second(
            takeover_ms,
            takeover_ms + 3000,
            MAC2,
            IP2,
        ));
        ev.push(note(ms(takeover_ms + 4000)));
        sorted(ev)
    }

    #[test]
    fn tolerance() {
        assert_eq!(
            failover_tolerance(Duration::from_secs(1)),
            Duration::from_millis(500)
        );
        assert_eq!(
            failover_tolerance(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn kill_failover_within_master_down() {
        // 3.609375 s after the last advert at 5.0 s, plus scheduling.
        let ev = kill_run(8650);
        let r = failover(&ctx(&ev), &ev, FailoverKind::Kill);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert!(r.detail.contains("measured 3650 ms"), "{}", r.detail);
        assert!(
            r.detail
                .contains("expected at most 3609.375 ms (Master_Down_Interval) + 500 ms tolerance"),
            "{}",
            r.detail
        );
        let auto = failover(&ctx(&ev), &ev, FailoverKind::Auto);
        assert_eq!(auto.outcome, Outcome::Pass);
        assert!(auto.detail.starts_with("kill failover"), "{}", auto.detail);
    }

    #[test]
    fn kill_failover_too_slow() {
        let ev = kill_run(9200);
        let r = failover(&ctx(&ev), &ev, FailoverKind::Kill);
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "failover: last advert of 192.0.2.11 (node1) at t=5.000s -> first advert of 192.0.2.12 (node2) at t=9.200s: 4200 ms > 3609.375 ms (Master_Down_Interval) + 500 ms tolerance"
                    .into()
            )
        );
    }

    #[test]
    fn handover_measured_from_priority_zero() {
        let mut ev = adverts_every_second(1000, 5000, MAC1, IP1);
        ev.push(fault(ms(5200), "node1", "stop"));
        ev.push(advert(ms(5210), MAC1, IP1, 0));
        ev.extend(adverts_every_second(5830, 8830, MAC2, IP2));
        ev.push(note(ms(9000)));
        let ev = sorted(ev);
        let c = ctx(&ev);
        let r = failover(&c, &ev, FailoverKind::Handover);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert!(r.detail.contains("measured 620 ms"), "{}", r.detail);
        assert!(r.detail.contains("609.375 ms (Skew_Time)"), "{}", r.detail);
        let r = failover(&c, &ev, FailoverKind::Auto);
        assert!(r.detail.starts_with("handover failover"), "{}", r.detail);

        // The same timing without the priority-0 advert is no handover.
        let ev: Vec<Event> = ev.into_iter().filter(|e| e.t_ns != ms(5210)).collect();
        let r = failover(&c, &ev, FailoverKind::Handover);
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(msg.contains("sent no priority-0 advert"), "{msg}");
    }

    #[test]
    fn handover_too_slow() {
        let mut ev = adverts_every_second(1000, 5000, MAC1, IP1);
        ev.push(fault(ms(5200), "node1", "stop"));
        ev.push(advert(ms(5210), MAC1, IP1, 0));
        ev.extend(adverts_every_second(8820, 9820, MAC2, IP2));
        let ev = sorted(ev);
        let r = failover(&ctx(&ev), &ev, FailoverKind::Auto);
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(
            msg.contains("priority-0 advert of 192.0.2.11 (node1) at t=5.210s -> first advert of 192.0.2.12 (node2) at t=8.820s: 3610 ms > 609.375 ms (Skew_Time) + 500 ms tolerance"),
            "{msg}"
        );
    }

    #[test]
    fn failover_that_never_happens() {
        let mut ev = adverts_every_second(1000, 5000, MAC1, IP1);
        ev.push(fault(ms(5200), "node1", "sigkill"));
        ev.push(note(ms(12_000)));
        let r = failover(&ctx(&ev), &ev, FailoverKind::Kill);
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(
            msg.contains("open since its last advert at t=5.000s, at least 7000 ms"),
            "{msg}"
        );
        // A run too short to tell.
        let mut ev = adverts_every_second(1000, 5000, MAC1, IP1);
        ev.push(fault(ms(5200), "node1", "sigkill"));
        ev.push(note(ms(6000)));
        let r = failover(&ctx(&ev), &ev, FailoverKind::Kill);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    #[test]
    fn missing_capture_is_unknown() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            fault(ms(5200), "node1", "sigkill"),
            note(ms(9000)),
        ];
        let c = ctx(&ev);
        for r in [
            failover(&c, &ev, FailoverKind::Kill),
            ttl_255(&c, &ev),
            priority_zero_on_stop(&c, &ev),
        ] {
            assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
        }
        let mut ev = kill_run(8650);
        ev.push(ev_gap(ms(13_000), 3));
        let r = failover(&ctx(&ev), &ev, FailoverKind::Kill);
        let Outcome::Unknown(why) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(why.contains("lost 3 frame(s)"), "{why}");
        assert!(!ttl_255(&ctx(&ev), &ev).outcome.is_pass());
    }

    fn ev_gap(t: u64, dropped: u64) -> Event {
        crate::check::testutil::ev(t, EventKind::CaptureGap { dropped })
    }

    #[test]
    fn no_fault_is_unknown() {
        let ev = adverts_every_second(1000, 5000, MAC1, IP1);
        let r = failover(&ctx(&ev), &ev, FailoverKind::Auto);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    fn stop_run(with_prio0: bool) -> Vec<Event> {
        let mut ev = vec![
            daemon(ms(10), "node1", DaemonEvent::Started),
            addr(ms(100), "node1", AddrChange::Initial, ip(IP1)),
            addr(ms(100), "node2", AddrChange::Initial, ip(IP2)),
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
        ];
        ev.extend(adverts_every_second(1000, 5000, MAC1, IP1));
        ev.push(fault(ms(5200), "node1", "stop"));
        if with_prio0 {
            ev.push(advert(ms(5199), MAC1, IP1, 0));
        }
        ev.push(addr(ms(5205), "node1", AddrChange::Removed, vip4()));
        ev.push(daemon(ms(5300), "node1", DaemonEvent::Exited));
        ev.push(note(ms(7000)));
        sorted(ev)
    }

    #[test]
    fn priority_zero_detected() {
        let ev = stop_run(true);
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert!(
            r.detail.contains("priority-0 advert at t=5.199s"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn priority_zero_missing() {
        let ev = stop_run(false);
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "priority_zero_on_stop: node1 held 192.0.2.20 when stopped at t=5.200s, but sent no priority-0 advert between t=0.010s and its daemon exited at t=5.300s"
                    .into()
            )
        );
    }

    /// Found by `vrrplab explore`: a restart of the MASTER made the runner ask for this
    /// check while the check only looked at "stop" faults, so it said "unknown".
    #[test]
    fn restart_of_the_master_is_judged_like_a_stop() {
        let as_restart = |with_prio0| -> Vec<Event> {
            stop_run(with_prio0)
                .into_iter()
                .map(|mut e| {
                    if let EventKind::Fault { fault, .. } = &mut e.kind {
                        *fault = "restart".into();
                    }
                    e
                })
                .collect()
        };
        let ev = as_restart(true);
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        let ev = as_restart(false);
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Fail(_)), "{r:?}");
    }

    #[test]
    fn priority_zero_from_another_node_does_not_count() {
        let mut ev = stop_run(false);
        ev.push(advert(ms(5250), MAC2, IP2, 0));
        let ev = sorted(ev);
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Fail(_)), "{r:?}");
    }

    #[test]
    fn stop_of_a_backup_only_is_unknown() {
        let mut ev = stop_run(true);
        ev.push(fault(ms(6000), "node2", "stop"));
        let ev = sorted(ev);
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        let ev: Vec<Event> = ev
            .into_iter()
            .filter(|e| !matches!(&e.kind, EventKind::Fault { node, .. } if node == "node1"))
            .collect();
        let r = priority_zero_on_stop(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    #[test]
    fn ttl_checks_every_frame() {
        let mut ev = adverts_every_second(1000, 3000, MAC1, IP1);
        let r = ttl_255(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        if let EventKind::Frame {
            frame: FrameSummary::Vrrp { ttl, .. },
            ..
        } = &mut ev[1].kind
        {
            *ttl = 64;
        }
        if let EventKind::Frame {
            frame: FrameSummary::Vrrp { error, .. },
            ..
        } = &mut ev[2].kind
        {
            *error = Some("bad checksum".into());
        }
        let r = ttl_255(&ctx(&ev), &ev);
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "ttl_255: VRRP frame #0 from 192.0.2.11 (node1) at t=2.000s has TTL 64, not 255; VRRP frame #0 from 192.0.2.11 (node1) at t=3.000s is invalid: bad checksum"
                    .into()
            )
        );
        // A violation seen is a failure even if frames were lost elsewhere.
        ev.push(crate::check::testutil::ev(
            ms(4000),
            EventKind::CaptureGap { dropped: 1 },
        ));
        assert!(matches!(ttl_255(&ctx(&ev), &ev).outcome, Outcome::Fail(_)));
    }
}
