//! Tests of the run record, its status, step outcomes and the artifacts.

use super::testdata::*;
use super::*;
use crate::check::testutil::*;
use crate::check::{judge, CheckName, CheckResult, Outcome};
use crate::history::AddrChange;

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
        vec![CheckResult::new(CheckName::Ttl255, Outcome::Pass, "")],
        &[CheckName::Ttl255].into(),
    );
    assert_eq!(record("s", "d", v).status(), Status::Fail);
    let v = judge(
        vec![CheckResult::new(CheckName::Ttl255, Outcome::Pass, "")],
        &[CheckName::Failover].into(),
    );
    assert_eq!(record("s", "d", v).status(), Status::Fail);

    // A verdict that is not ok for a reason not visible here is still not a pass.
    let mut v = passing();
    v.ok = false;
    assert_eq!(record("s", "d", v).status(), Status::Fail);

    assert!(Status::Pass.is_ok() && Status::ExpectedFail.is_ok());
    assert!(!Status::Unknown.is_ok() && !Status::Fail.is_ok() && !Status::Error.is_ok());
    let names: Vec<String> = Status::ALL.iter().map(Status::to_string).collect();
    assert_eq!(names, ["pass", "expected-fail", "FAIL", "unknown", "ERROR"]);
}

#[test]
fn step_outcome_words() {
    assert_eq!(StepOutcome::ok(1, "x").word(), "ok");
    assert_eq!(StepOutcome::failed(1, "x", "y").outcome_text(), "failed: y");
    assert_eq!(StepOutcome::failed(1, "x", "y").word(), "failed");
    assert_eq!(
        StepOutcome::unknown(1, "x", "y").outcome_text(),
        "unknown: y"
    );
    let json = serde_json::to_value(StepOutcome::failed(2, "wait", "timed out")).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"index": 2, "text": "wait", "outcome": "failed: timed out"})
    );
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
