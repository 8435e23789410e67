//! Checks over the VIP holder timelines: conflicts (two holders), outages (none), the
//! state at the end of the run and at chosen instants.
//!
//! Whatever the address monitor did not see (no address event at all, or an
//! [`crate::history::EventKind::AddrGap`] overlapping the stretch a check looks at) makes
//! the check unknown, unless a violation was seen outside every hole.

use std::collections::BTreeSet;
use std::time::Duration;

use super::client::client_view;
use super::timeline::{holders, Timeline, Window};
use super::{dur_ns, join_nodes, ms_str, t_str, CheckName, CheckResult, Ctx, Findings};
use crate::history::Event;

/// Why the holders of `tl` over `[from_ns, to_ns]` are not known, if they are not.
fn unobserved(tl: &Timeline, from_ns: u64, to_ns: u64) -> Option<String> {
    if !tl.observed {
        return Some("no address event in the history (the address monitor did not run)".into());
    }
    let holes = tl.holes_in(from_ns, to_ns);
    if holes.is_empty() {
        return None;
    }
    let list: Vec<String> = holes
        .iter()
        .map(|h| {
            format!(
                "{} from {} to {} ({})",
                h.node,
                t_str(h.from_ns),
                t_str(h.to_ns),
                h.reason
            )
        })
        .collect();
    Some(format!(
        "address events of {} were lost between {} and {}: {}",
        tl.vip,
        t_str(from_ns),
        t_str(to_ns),
        list.join(", ")
    ))
}

/// `node1+node2 both held` / `node1+node2+node3 all held` / `node1 held`.
fn held_by(nodes: &BTreeSet<String>) -> String {
    match nodes.len() {
        0 => "nobody held".to_string(),
        1 => format!("{} held", join_nodes(nodes)),
        2 => format!("{} both held", join_nodes(nodes)),
        _ => format!("{} all held", join_nodes(nodes)),
    }
}

/// Which kind of window a bound applies to, for messages.
#[derive(Clone, Copy)]
enum WindowKind {
    Conflict,
    Outage,
}

/// Judges each window against `bound`: closed windows by their length, open ones by the
/// lower bound of theirs (and never as if they had closed).
fn judge_windows(
    tl: &Timeline,
    ctx: &Ctx,
    windows: &[Window],
    bound: Duration,
    kind: WindowKind,
    f: &mut Findings,
) {
    let bound_ns = dur_ns(bound);
    for w in windows {
        let who = match kind {
            WindowKind::Conflict => held_by(&w.nodes),
            WindowKind::Outage => "nobody held".to_string(),
        };
        let len = dur_ns(w.duration_until(ctx.end_ns));
        let holes = unobserved(tl, w.from_ns, w.to_ns.unwrap_or(ctx.end_ns));
        let text = match w.to_ns {
            Some(to) => format!(
                "{who} {} from {} to {} ({} > {})",
                tl.vip,
                t_str(w.from_ns),
                t_str(to),
                ms_str(len),
                ms_str(bound_ns)
            ),
            None => format!(
                "{who} {}, open since {}, at least {} at the end of the run ({}) > {}",
                tl.vip,
                t_str(w.from_ns),
                ms_str(len),
                t_str(ctx.end_ns),
                ms_str(bound_ns)
            ),
        };
        if len <= bound_ns {
            if w.is_open() {
                f.unknowns.push(format!(
                    "{who} {}, open since {}, only {} when the run ended ({}): the bound of {} may still be exceeded",
                    tl.vip,
                    t_str(w.from_ns),
                    ms_str(len),
                    t_str(ctx.end_ns),
                    ms_str(bound_ns)
                ));
            }
            continue;
        }
        match holes {
            Some(why) => f
                .unknowns
                .push(format!("{text}, but the window is uncertain: {why}")),
            None => f.fails.push(text),
        }
    }
}

/// Summary of the longest windows, for the detail line.
fn longest(windows: &[Window], end_ns: u64) -> String {
    match windows.iter().max_by_key(|w| w.duration_until(end_ns)) {
        None => "none".to_string(),
        Some(w) if w.is_open() => format!(
            "{} window(s), one open since {} (at least {})",
            windows.len(),
            t_str(w.from_ns),
            ms_str(dur_ns(w.duration_until(end_ns)))
        ),
        Some(w) => format!(
            "{} window(s), longest {} from {}",
            windows.len(),
            ms_str(dur_ns(w.duration_until(end_ns))),
            t_str(w.from_ns)
        ),
    }
}

/// No conflict window (two or more holders of a VIP) is still open at the end of the run.
pub fn no_conflict_at_end(ctx: &Ctx, events: &[Event]) -> CheckResult {
    const NAME: CheckName = CheckName::NoConflictAtEnd;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    for vip in &ctx.vips {
        let tl = holders(events, *vip);
        let open = tl.conflict_windows().into_iter().find(|w| w.is_open());
        let last_from = tl.intervals.last().map(|i| i.from_ns).unwrap_or(0);
        detail.push(format!("{vip}: {} at the end", held_by(&tl.at_end())));
        match (open, unobserved(&tl, last_from, ctx.end_ns)) {
            (Some(w), None) => f.fails.push(format!(
                "{} {vip} at the end of the run ({}), open since {}, at least {}",
                held_by(&w.nodes),
                t_str(ctx.end_ns),
                t_str(w.from_ns),
                ms_str(dur_ns(w.duration_until(ctx.end_ns)))
            )),
            (_, Some(why)) => f.unknowns.push(why),
            (None, None) => {}
        }
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// Every conflict window that lasts past the first fault (the whole run if there was no
/// fault) is at most `bound` long. Conflicts that ended before the first fault (start-up)
/// are not judged.
pub fn conflict_max(ctx: &Ctx, events: &[Event], bound: Duration) -> CheckResult {
    const NAME: CheckName = CheckName::ConflictMax;
    let since = ctx.first_fault_ns.unwrap_or(0);
    let mut f = Findings::default();
    let mut detail = Vec::new();
    for vip in &ctx.vips {
        let tl = holders(events, *vip);
        let windows: Vec<Window> = tl
            .conflict_windows()
            .into_iter()
            .filter(|w| w.to_ns.is_none_or(|to| to > since))
            .collect();
        detail.push(format!(
            "{vip}: conflicts since {}: {}",
            t_str(since),
            longest(&windows, ctx.end_ns)
        ));
        judge_windows(&tl, ctx, &windows, bound, WindowKind::Conflict, &mut f);
        client_over_gate(&tl, events, ctx, since, bound, &mut f);
        if let Some(why) = unobserved(&tl, since, ctx.end_ns) {
            f.unknowns.push(why);
        }
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// The client's view is the final word: a window (lasting past `since`) in which two or
/// more nodes answered the client's probes, one of them while its nftables gate was closed
/// all along since the probe before (a gate that does not gate), is a conflict even though
/// the gate-aware holders deny it, and is judged against `bound` like one.
fn client_over_gate(
    tl: &Timeline,
    events: &[Event],
    ctx: &Ctx,
    since: u64,
    bound: Duration,
    f: &mut Findings,
) {
    let view = client_view(events, tl.vip);
    let bound_ns = dur_ns(bound);
    for w in view.multi_node_windows() {
        if w.to_ns.is_some_and(|to| to <= since) {
            continue;
        }
        let mut liars = BTreeSet::new();
        for pair in view.probes.windows(2) {
            let (q, p) = (&pair[0], &pair[1]);
            if p.t_ns < w.from_ns || w.to_ns.is_some_and(|to| p.t_ns >= to) {
                continue;
            }
            liars.extend(
                p.nodes()
                    .into_iter()
                    .filter(|n| tl.gated_throughout(n, q.t_ns, p.t_ns)),
            );
        }
        if liars.is_empty() {
            continue;
        }
        let len = dur_ns(w.duration_until(ctx.end_ns));
        let to = w
            .to_ns
            .map_or_else(|| "the end of the run (still open)".to_string(), t_str);
        let text = format!(
            "the client got answers for {} from {} from {} to {to} ({}; bound {}) although the nftables gate of {} was closed: the gate does not gate",
            tl.vip,
            join_nodes(&w.nodes),
            t_str(w.from_ns),
            ms_str(len),
            ms_str(bound_ns),
            join_nodes(&liars)
        );
        if len > bound_ns {
            f.fails.push(text);
        } else if w.is_open() {
            f.unknowns.push(text);
        }
    }
}

/// Every outage window (nobody holds a VIP), after the VIP was first held, is at most
/// `bound` long. A VIP nobody ever held is an outage of the whole run.
pub fn outage_max(ctx: &Ctx, events: &[Event], bound: Duration) -> CheckResult {
    const NAME: CheckName = CheckName::OutageMax;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    for vip in &ctx.vips {
        let tl = holders(events, *vip);
        let Some(first) = tl.first_held_ns() else {
            match unobserved(&tl, 0, ctx.end_ns) {
                Some(why) => f.unknowns.push(why),
                None => f.fails.push(format!(
                    "nobody held {vip} at any time from {} to {}",
                    t_str(0),
                    t_str(ctx.end_ns)
                )),
            }
            detail.push(format!("{vip}: never held"));
            continue;
        };
        let windows = tl.outage_windows();
        detail.push(format!(
            "{vip}: first held at {}; outages: {}",
            t_str(first),
            longest(&windows, ctx.end_ns)
        ));
        judge_windows(&tl, ctx, &windows, bound, WindowKind::Outage, &mut f);
        if let Some(why) = unobserved(&tl, first, ctx.end_ns) {
            f.unknowns.push(why);
        }
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// At the end of the run, each VIP is held by exactly one node.
pub fn single_holder_at_end(ctx: &Ctx, events: &[Event]) -> CheckResult {
    const NAME: CheckName = CheckName::SingleHolderAtEnd;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    for vip in &ctx.vips {
        let tl = holders(events, *vip);
        let (since, nodes) = tl
            .intervals
            .last()
            .map(|i| (i.from_ns, i.nodes.clone()))
            .unwrap_or_default();
        detail.push(format!("{vip}: {} at the end", held_by(&nodes)));
        if let Some(why) = unobserved(&tl, since, ctx.end_ns) {
            f.unknowns.push(why);
        } else if nodes.len() != 1 {
            f.fails.push(format!(
                "{} {vip} at the end of the run ({}), since {}; expected exactly one holder",
                held_by(&nodes),
                t_str(ctx.end_ns),
                t_str(since)
            ));
        }
    }
    CheckResult::new(NAME, f.outcome(NAME), detail.join("; "))
}

/// At `t_ns`, every VIP is held by exactly the nodes in `expected`.
pub fn expect_holders(
    ctx: &Ctx,
    events: &[Event],
    t_ns: u64,
    expected: &BTreeSet<String>,
) -> CheckResult {
    const NAME: CheckName = CheckName::ExpectHolders;
    let mut f = Findings::default();
    let mut detail = Vec::new();
    if t_ns > ctx.end_ns {
        f.unknowns.push(format!(
            "{} is after the end of the observation ({})",
            t_str(t_ns),
            t_str(ctx.end_ns)
        ));
    }
    for vip in &ctx.vips {
        let tl = holders(events, *vip);
        let got = tl.at(t_ns);
        detail.push(format!("{vip} at {}: {}", t_str(t_ns), held_by(&got)));
        if let Some(why) = unobserved(&tl, t_ns, t_ns) {
            f.unknowns.push(why);
        } else if &got != expected {
            f.fails.push(format!(
                "at {} {} {vip}, expected {}",
                t_str(t_ns),
                held_by(&got),
                join_nodes(expected)
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
    use crate::history::AddrChange;

    /// node1 holds from 0.1 s; node2 takes it at 3.412 s; node1 lets go at 5.1 s.
    fn overlap() -> Vec<Event> {
        vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            fault(ms(3000), "node1", "sigkill"),
            addr(ms(3412), "node2", AddrChange::Added, vip4()),
            addr(ms(5100), "node1", AddrChange::Removed, vip4()),
            note(ms(9000)),
        ]
    }

    #[test]
    fn closed_conflict_over_bound_fails_with_window() {
        let ev = overlap();
        let r = conflict_max(&ctx(&ev), &ev, Duration::ZERO);
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "conflict_max: node1+node2 both held 192.0.2.20 from t=3.412s to t=5.100s (1688 ms > 0 ms)"
                    .into()
            )
        );
        let r = conflict_max(&ctx(&ev), &ev, Duration::from_secs(2));
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        let r = no_conflict_at_end(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass);
        let r = single_holder_at_end(&ctx(&ev), &ev);
        assert_eq!(r.outcome, Outcome::Pass);
    }

    #[test]
    fn open_conflict_is_at_least_never_closed() {
        let mut ev = overlap();
        ev.remove(3);
        let c = ctx(&ev);
        let r = conflict_max(&c, &ev, Duration::from_secs(1));
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(
            msg.contains("open since t=3.412s, at least 5588 ms"),
            "{msg}"
        );
        assert!(!msg.contains(" to t="), "{msg}");
        // Not yet over the bound when the run ended: unknown, not pass.
        let r = conflict_max(&c, &ev, Duration::from_secs(10));
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
        let r = no_conflict_at_end(&c, &ev);
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(msg.starts_with("no_conflict_at_end: node1+node2 both held 192.0.2.20 at the end of the run (t=9.000s), open since t=3.412s"), "{msg}");
        assert!(matches!(
            single_holder_at_end(&c, &ev).outcome,
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn startup_conflict_before_fault_is_not_judged() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            addr(ms(150), "node2", AddrChange::Added, vip4()),
            addr(ms(300), "node2", AddrChange::Removed, vip4()),
            fault(ms(1000), "node2", "stop"),
            note(ms(2000)),
        ];
        let r = conflict_max(&ctx(&ev), &ev, Duration::ZERO);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }

    #[test]
    fn outage_bound() {
        let ev = vec![
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
            fault(ms(2000), "node1", "sigkill"),
            addr(ms(2000), "node1", AddrChange::Removed, vip4()),
            addr(ms(5609), "node2", AddrChange::Added, vip4()),
            note(ms(8000)),
        ];
        let c = ctx(&ev);
        let r = outage_max(&c, &ev, Duration::from_secs(4));
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        let r = outage_max(&c, &ev, Duration::from_secs(1));
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "outage_max: nobody held 192.0.2.20 from t=2.000s to t=5.609s (3609 ms > 1000 ms)"
                    .into()
            )
        );
    }

    #[test]
    fn never_held_is_an_outage_but_no_events_is_unknown() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, ip(IP1)),
            note(ms(5000)),
        ];
        let r = outage_max(&ctx(&ev), &ev, Duration::from_secs(1));
        assert!(matches!(r.outcome, Outcome::Fail(_)), "{r:?}");
        let ev = vec![note(ms(5000))];
        let r = outage_max(&ctx(&ev), &ev, Duration::from_secs(1));
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
        let r = no_conflict_at_end(&ctx(&ev), &ev);
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    #[test]
    fn addr_gap_makes_it_unknown() {
        let ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            fault(ms(1000), "node1", "sigkill"),
            gap(ms(2000), "node2", ms(1900)),
            addr(ms(4000), "node2", AddrChange::Added, vip4()),
            addr(ms(4000), "node1", AddrChange::Removed, vip4()),
            note(ms(6000)),
        ];
        let c = ctx(&ev);
        let r = conflict_max(&c, &ev, Duration::ZERO);
        let Outcome::Unknown(why) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(why.contains("node2 from t=0.000s to t=2.000s"), "{why}");
        let r = expect_holders(&c, &ev, ms(1500), &["node1".to_string()].into());
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
        // After the hole the state is known again.
        let r = expect_holders(&c, &ev, ms(5000), &["node2".to_string()].into());
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }

    #[test]
    fn expect_holders_at_times() {
        let ev = overlap();
        let c = ctx(&ev);
        let one = |n: &str| -> BTreeSet<String> { [n.to_string()].into() };
        assert!(expect_holders(&c, &ev, ms(1000), &one("node1"))
            .outcome
            .is_pass());
        let r = expect_holders(&c, &ev, ms(4000), &one("node2"));
        assert_eq!(
            r.outcome,
            Outcome::Fail(
                "expect_holders: at t=4.000s node1+node2 both held 192.0.2.20, expected node2"
                    .into()
            )
        );
        let r = expect_holders(&c, &ev, ms(99_000), &one("node2"));
        assert!(matches!(r.outcome, Outcome::Unknown(_)), "{r:?}");
    }

    /// node1 is SIGKILLed at 0.3 s; its address stays until 3 s but its gate expires at
    /// 0.65 s; node2 takes over at 0.7 s. `liar`: node1 keeps answering the client all
    /// the same (a gate that does not gate).
    fn gated_takeover(liar: bool) -> Vec<Event> {
        use crate::history::GateChange;
        let mut ev = vec![
            gate(ms(50), "node1", GateChange::Managed),
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            open_for(ms(100), "node1", 350),
            open_for(ms(300), "node1", 350),
            fault(ms(310), "node1", "sigkill"),
            addr(ms(700), "node2", AddrChange::Added, vip4()),
            addr(ms(3000), "node1", AddrChange::Removed, vip4()),
            note(ms(4000)),
        ];
        for (i, t) in (200..=3900).step_by(100).enumerate() {
            let mut who = Vec::new();
            if t < 700 || (liar && t <= 3000) {
                who.push(MAC1);
            }
            if t > 700 {
                who.push(MAC2);
            }
            ev.push(probe(ms(t), i as u64, &who));
        }
        sorted(ev)
    }

    #[test]
    fn a_gate_that_really_gates_hides_the_address_overlap() {
        let ev = gated_takeover(false);
        let r = conflict_max(&ctx(&ev), &ev, Duration::from_secs(1));
        assert!(r.outcome.is_pass(), "{r:?}");
    }

    #[test]
    fn the_client_seeing_a_gated_node_answer_is_still_a_conflict() {
        let ev = gated_takeover(true);
        assert!(
            holders(&ev, vip4()).conflict_windows().is_empty(),
            "the gate-aware holders alone see no conflict"
        );
        let r = conflict_max(&ctx(&ev), &ev, Duration::from_secs(1));
        let Outcome::Fail(msg) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(
            msg.contains("the client got answers for 192.0.2.20 from node1+node2 from t=0.800s to t=3.100s (2300 ms; bound 1000 ms) although the nftables gate of node1 was closed"),
            "{msg}"
        );
    }
}
