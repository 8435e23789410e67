//! Tests of the run record, its status, step outcomes and the artifacts.

use std::time::Duration;

use super::testdata::*;
use super::*;
use crate::check::testutil::*;
use crate::check::{judge, CheckResult, Outcome};
use crate::history::AddrChange;
use crate::scenario::StepKind as ScenarioStepKind;

fn scenario_step(index: usize, text: &str) -> Step {
    Step {
        index,
        line: index * 3,
        kind: ScenarioStepKind::Hold(Duration::from_secs(1)),
        text: text.into(),
    }
}

fn step_event(t_ns: u64, index: usize, text: &str, phase: &str) -> Event {
    ev(
        t_ns,
        EventKind::Step {
            index,
            text: text.into(),
            phase: phase.into(),
        },
    )
}

#[test]
fn status_of_each_kind_of_run() {
    assert_eq!(record("s", "d", passing()).status(), Status::Pass);
    assert_eq!(record("s", "d", failing()).status(), Status::Fail);
    assert_eq!(
        record("s", "d", expected_failure()).status(),
        Status::ExpectedFail
    );
    assert_eq!(record("s", "d", unknown()).status(), Status::Unknown);

    let mut r = record("s", "d", passing());
    r.error = Some("lab broke".into());
    assert_eq!(r.status(), Status::Error);

    // A failed step fails an otherwise passing run; an unknown step makes it unknown.
    let mut r = record("s", "d", passing());
    r.steps.push(StepOutcome::failed(3, "wait", "timed out"));
    assert_eq!(r.status(), Status::Fail);
    let mut r = record("s", "d", expected_failure());
    r.steps.push(StepOutcome::unknown(3, "wait", "not reached"));
    assert_eq!(r.status(), Status::Unknown);

    // Stale and unmatched known failures fail.
    let v = judge(
        vec![CheckResult::new("a", Outcome::Pass, "")],
        &["a".to_string()].into(),
    );
    assert_eq!(record("s", "d", v).status(), Status::Fail);
    let v = judge(
        vec![CheckResult::new("a", Outcome::Pass, "")],
        &["b".to_string()].into(),
    );
    assert_eq!(record("s", "d", v).status(), Status::Fail);

    // A verdict that is not ok for a reason not visible here is still not a pass.
    let mut v = passing();
    v.ok = false;
    assert_eq!(record("s", "d", v).status(), Status::Fail);

    // A scenario the daemon cannot run is not applicable, whatever the (empty) verdict.
    let mut r = record("s", "d", passing());
    r.not_applicable = Some("frr has no unicast peers".into());
    assert_eq!(r.status(), Status::NotApplicable);

    assert!(Status::Pass.is_ok() && Status::ExpectedFail.is_ok());
    assert!(
        Status::NotApplicable.is_ok(),
        "counted apart, it does not fail the gate"
    );
    assert!(!Status::Unknown.is_ok() && !Status::Fail.is_ok() && !Status::Error.is_ok());
    let names: Vec<String> = Status::ALL.iter().map(Status::to_string).collect();
    assert_eq!(
        names,
        ["pass", "expected-fail", "FAIL", "unknown", "ERROR", "n/a"]
    );
}

#[test]
fn step_outcome_classes() {
    assert_eq!(StepOutcome::ok(1, "x").class(), StepClass::Ok);
    assert_eq!(StepOutcome::failed(1, "x", "y").outcome, "failed: y");
    assert_eq!(StepOutcome::failed(1, "x", "y").class(), StepClass::Failed);
    assert_eq!(
        StepOutcome::unknown(1, "x", "y").class(),
        StepClass::Unknown
    );
    let odd = StepOutcome {
        index: 1,
        text: "x".into(),
        outcome: "OK!".into(),
    };
    assert_eq!(odd.class(), StepClass::Unknown);
}

#[test]
fn step_outcomes_from_history() {
    let steps = [
        scenario_step(1, "start node1 node2"),
        scenario_step(2, "wait until node1 holds the VIPs"),
        scenario_step(3, "sigkill node1"),
        scenario_step(4, "hold 5s"),
        scenario_step(5, "expect node2"),
    ];
    let events = vec![
        step_event(ms(0), 1, "start node1 node2", "begin"),
        step_event(ms(10), 1, "start node1 node2", "end"),
        step_event(ms(10), 2, "wait until node1 holds the VIPs", "begin"),
        step_event(ms(5010), 2, "timed out after 5 s", "failed"),
        step_event(ms(5010), 3, "sigkill node1", "begin"),
        step_event(ms(5020), 3, "sigkill node1", "failed"),
        step_event(ms(5020), 4, "hold 5s", "begin"),
    ];
    let out = step_outcomes(&steps, &events);
    let got: Vec<(usize, &str)> = out.iter().map(|s| (s.index, s.outcome.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "ok"),
            (2, "failed: timed out after 5 s"),
            (3, "failed: the step failed"),
            (4, "unknown: began but never finished"),
            (5, "unknown: not reached"),
        ]
    );
    assert_eq!(out[1].text, "wait until node1 holds the VIPs");
}

#[test]
fn record_serializes_without_deserialize() {
    let r = record("seed/sigkill", "vrrpd", passing());
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["daemon"], "vrrpd");
    assert_eq!(v["scenario_path"], "/work/scenarios/seed/sigkill.toml");
    assert_eq!(v["conflict"], "none");
    assert_eq!(v["failover_ms"], serde_json::Value::Null);
}

#[test]
fn artifacts_are_written() {
    let ev = sorted(vec![
        addr(ms(100), "node1", AddrChange::Added, vip4()),
        fault(ms(2000), "node1", "sigkill"),
        addr(ms(5000), "node2", AddrChange::Added, vip4()),
        note(ms(6000)),
    ]);
    let (conflict, outage) = figures(&ev, &[vip4()], Some(ms(2000)), ms(6000));
    let mut r = record("seed/sigkill", "keepalived", expected_failure());
    r.conflict = conflict;
    r.outage = outage;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs").join("one");
    let nodes = ["node1".to_string(), "node2".to_string()];
    write_artifacts(&out, &r, &ev, &nodes, &[vip4()], ms(6000)).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(VERDICT_FILE)).unwrap()).unwrap();
    assert_eq!(v["status"], "expected-fail");
    assert_eq!(v["conflict"]["open"]["since_ms"], 5000.0);
    let svg = std::fs::read_to_string(out.join(TIMELINE_FILE)).unwrap();
    assert!(svg.contains("seed/sigkill / keepalived: expected-fail"));
    assert!(svg.contains(">sigkill node1</text>"));
}
