//! Run records and verdicts for the report tests.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::check::{judge, CheckName, CheckResult, Outcome, Verdict};
use crate::report::{Figure, RunRecord, StepOutcome};

fn known(names: &[CheckName]) -> BTreeSet<CheckName> {
    names.iter().copied().collect()
}

pub fn passing() -> Verdict {
    judge(
        vec![
            CheckResult::new(CheckName::NoConflictAtEnd, Outcome::Pass, "none"),
            CheckResult::new(CheckName::Ttl255, Outcome::Pass, "12 adverts"),
        ],
        &known(&[]),
    )
}

pub fn failing() -> Verdict {
    judge(
        vec![
            CheckResult::new(CheckName::ConflictMax,
                Outcome::Fail(
                    "conflict_max: node1+node2 both held 192.0.2.20 from t=8.650s to t=10.338s (1688 ms > 0 ms)"
                        .into(),
                ),
                "1 window(s), longest 1688 ms from t=8.650s",
            ),
            CheckResult::new(CheckName::Ttl255, Outcome::Pass, "12 adverts"),
            CheckResult::new(CheckName::GarpOnTakeover,
                Outcome::Unknown("garp_on_takeover: the capture lost 3 frame(s)".into()),
                "",
            ),
        ],
        &known(&[]),
    )
}

pub fn expected_failure() -> Verdict {
    judge(
        vec![
            CheckResult::new(
                CheckName::NoConflictAtEnd,
                Outcome::Fail(
                    "no_conflict_at_end: node1+node2 both held 192.0.2.20, open since t=8.650s"
                        .into(),
                ),
                "",
            ),
            CheckResult::new(CheckName::Ttl255, Outcome::Pass, ""),
        ],
        &known(&[CheckName::NoConflictAtEnd]),
    )
}

pub fn unknown() -> Verdict {
    judge(
        vec![CheckResult::new(
            CheckName::ClientSingleMacAtEnd,
            Outcome::Unknown("client_single_mac_at_end: the client never probed 192.0.2.20".into()),
            "",
        )],
        &known(&[]),
    )
}

pub fn record(scenario: &str, daemon: &str, verdict: Verdict) -> RunRecord {
    RunRecord {
        scenario: scenario.into(),
        scenario_path: PathBuf::from(format!("/work/scenarios/{scenario}.toml")),
        daemon: daemon.into(),
        verdict,
        failover_ms: None,
        conflict: Figure::None,
        outage: Figure::None,
        duration_ms: 12_345.6,
        steps: vec![
            StepOutcome::ok(1, "start node1 node2"),
            StepOutcome::ok(2, "sigkill node1"),
        ],
        error: None,
        out_dir: PathBuf::from(format!("/tmp/vrrplab/{scenario}/{daemon}")),
    }
}
