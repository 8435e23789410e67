//! The judge: from a played run's history to its verdict. Pure: it needs no lab and no
//! root, only the scenario, what the steps left to judge, and the events.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{anyhow, Result};
use vrrpd::wire::Mac;

use super::steps::Played;
use crate::check::{self, Check, CheckName, Ctx, FailoverKind, Verdict};
use crate::history::Event;
use crate::scenario::{FailoverCheck, Scenario};

/// Judges a run of `sc`: builds the checkers' context (RFC timers of the
/// lowest-priority node, the longest advert interval), runs the expect steps' checks and
/// the end-of-run checks the run made applicable, and classifies everything against
/// `known`, the known failures of the run's daemons
/// ([`Scenario::known_failures_for`]).
pub fn judge(
    sc: &Scenario,
    known: &BTreeSet<CheckName>,
    played: Played,
    vips: Vec<IpAddr>,
    node_macs: BTreeMap<String, Mac>,
    events: &[Event],
) -> Result<(Verdict, Ctx)> {
    let first = sc
        .nodes
        .first()
        .ok_or_else(|| anyhow!("scenario has no nodes"))?;
    let backup_priority = sc.nodes.iter().map(|n| n.priority).min().unwrap_or(100);
    let interval = sc
        .nodes
        .iter()
        .map(|n| n.advert_interval)
        .max()
        .unwrap_or(Duration::from_secs(1));
    let ctx = Ctx::new(
        vips,
        node_macs,
        first.version,
        backup_priority,
        interval,
        events,
    );
    let mut results = played.step_checks;
    for (name, c) in played.deferred {
        results.push(c.run(&ctx, events).renamed(name));
    }
    results.extend(check::run_checks(
        &ctx,
        events,
        &end_checks(
            sc,
            played.stopped_holder,
            takeover_after_fault(events, &ctx),
        ),
    ));
    Ok((check::judge(results, known), ctx))
}

/// Whether some node newly held a VIP after the first fault (a takeover happened).
pub fn takeover_after_fault(events: &[Event], ctx: &Ctx) -> bool {
    let Some(fault) = ctx.first_fault_ns else {
        return false;
    };
    ctx.vips.iter().any(|vip| {
        let tl = check::holders(events, *vip);
        tl.intervals
            .windows(2)
            .any(|w| w[1].from_ns >= fault && w[1].nodes.iter().any(|n| !w[0].nodes.contains(n)))
    })
}

/// The end-of-run checks a scenario's expectations ask for, limited to those the run made
/// applicable: a priority-0 advert needs a clean stop of a VIP holder, a takeover
/// announcement needs a takeover. An inapplicable check would only ever say "unknown".
pub fn end_checks(sc: &Scenario, stopped_holder: bool, takeover: bool) -> Vec<Check> {
    let e = &sc.expect;
    let mut v = Vec::new();
    if e.no_conflict_at_end {
        v.push(Check::NoConflictAtEnd);
    }
    if e.single_holder_at_end {
        v.push(Check::SingleHolderAtEnd);
    }
    if let Some(b) = e.conflict_max {
        v.push(Check::ConflictMax(b));
    }
    if let Some(b) = e.outage_max {
        v.push(Check::OutageMax(b));
    }
    if e.failover == FailoverCheck::Rfc {
        v.push(Check::Failover(FailoverKind::Auto));
    }
    if e.priority_zero_on_stop && stopped_holder {
        v.push(Check::PriorityZeroOnStop);
    }
    if e.garp_on_takeover && takeover {
        v.push(Check::GarpOnTakeover);
    }
    if e.ttl_255 {
        v.push(Check::Ttl255);
    }
    if e.client_single_mac_at_end {
        v.push(Check::ClientSingleMacAtEnd);
    }
    v
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::check::testutil::*;
    use crate::check::{CheckName, CheckResult, Classification, Outcome};
    use crate::history::AddrChange;

    /// node1 is SIGKILLed and keeps the VIP; node2 takes it too: a conflict to the end.
    fn split_brain() -> Vec<Event> {
        sorted(vec![
            addr(ms(0), "node1", AddrChange::Initial, vip4()),
            fault(ms(5000), "node1", "sigkill"),
            addr(ms(8650), "node2", AddrChange::Added, vip4()),
            note(ms(12_000)),
        ])
    }

    fn scenario() -> Scenario {
        Scenario::parse(
            r#"
[vrrp]
vips = ["192.0.2.20"]
[[steps]]
start = "all"
[[steps]]
wait = "holder"
node = "node1"
[[steps]]
fault = "sigkill"
node = "node1"
[[steps]]
expect = "holders"
nodes = ["node2"]
[expect]
failover = "off"
ttl_255 = false
garp_on_takeover = false
client_single_mac_at_end = false
[expect.daemon.keepalived]
known_failures = ["no_conflict_at_end", "step:4"]
"#,
            Path::new("judge-test.toml"),
        )
        .expect("a valid scenario")
    }

    fn played() -> Played {
        Played {
            step_checks: vec![CheckResult::new(CheckName::Step(2), Outcome::Pass, "wait")],
            deferred: vec![(
                CheckName::Step(4),
                Check::ExpectHolders {
                    t_ns: ms(11_000),
                    nodes: ["node2".to_string()].into(),
                },
            )],
            stopped_holder: false,
            interrupted: None,
        }
    }

    fn macs() -> BTreeMap<String, Mac> {
        [("node1", MAC1), ("node2", MAC2)]
            .into_iter()
            .map(|(n, m)| (n.to_string(), to_mac(m)))
            .collect()
    }

    fn known(sc: &Scenario, daemon: &str) -> BTreeSet<CheckName> {
        sc.known_failures_for(daemon, None).1
    }

    fn class(v: &Verdict, name: CheckName) -> Classification {
        v.checks
            .iter()
            .find(|j| j.result.name == name)
            .unwrap_or_else(|| panic!("no {name} in {v}"))
            .class
    }

    #[test]
    fn a_split_brain_fails_unless_it_is_a_known_failure() {
        let ev = split_brain();
        let sc = scenario();
        let (v, ctx) = judge(
            &sc,
            &known(&sc, "vrrpd"),
            played(),
            vec![vip4()],
            macs(),
            &ev,
        )
        .unwrap();
        assert!(!v.ok, "{v}");
        assert_eq!(ctx.first_fault_ns, Some(ms(5000)));
        assert_eq!(class(&v, CheckName::Step(2)), Classification::Pass);
        assert_eq!(class(&v, CheckName::Step(4)), Classification::Fail);
        assert_eq!(class(&v, CheckName::NoConflictAtEnd), Classification::Fail);
        // Not asked for, or not applicable: never run.
        for absent in [CheckName::Failover, CheckName::PriorityZeroOnStop] {
            assert!(v.checks.iter().all(|j| j.result.name != absent), "{v}");
        }

        let (v, _) = judge(
            &sc,
            &known(&sc, "keepalived"),
            played(),
            vec![vip4()],
            macs(),
            &ev,
        )
        .unwrap();
        assert_eq!(class(&v, CheckName::Step(4)), Classification::ExpectedFail);
        assert_eq!(
            class(&v, CheckName::NoConflictAtEnd),
            Classification::ExpectedFail
        );
    }

    #[test]
    fn end_checks_follow_what_the_run_made_applicable() {
        let sc = scenario();
        let none = end_checks(&sc, false, false);
        assert!(!none.contains(&Check::PriorityZeroOnStop));
        let mut sc = sc;
        sc.expect.priority_zero_on_stop = true;
        sc.expect.garp_on_takeover = true;
        let both = end_checks(&sc, true, true);
        assert!(both.contains(&Check::PriorityZeroOnStop));
        assert!(both.contains(&Check::GarpOnTakeover));
        assert!(!end_checks(&sc, false, false).contains(&Check::GarpOnTakeover));
    }

    #[test]
    fn a_takeover_is_a_new_holder_after_the_first_fault() {
        let ev = split_brain();
        assert!(takeover_after_fault(&ev, &ctx(&ev)));
        let before: Vec<Event> = sorted(vec![
            addr(ms(0), "node1", AddrChange::Initial, vip4()),
            addr(ms(100), "node2", AddrChange::Added, vip4()),
            fault(ms(5000), "node1", "sigkill"),
            note(ms(12_000)),
        ]);
        assert!(!takeover_after_fault(&before, &ctx(&before)));
    }
}
