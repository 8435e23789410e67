//! The verdict as JSON: in full for people and tools, and normalized (nothing that
//! changes from one run of the same scenario to the next) for snapshot tests.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{RunRecord, Status};
use crate::check::Classification;

/// The record as written to `verdict.json`: its status first, then every field.
#[derive(Serialize)]
struct VerdictFile<'a> {
    status: Status,
    #[serde(flatten)]
    record: &'a RunRecord,
}

/// Writes `record` to `path` as pretty JSON with its [`Status`] added: every judged
/// check with its outcome, message and measured detail, the figures, the steps and the
/// run error if any.
pub fn write_verdict_json(record: &RunRecord, path: &Path) -> Result<()> {
    let file = VerdictFile {
        status: record.status(),
        record,
    };
    let mut text = serde_json::to_string_pretty(&file).context("serialize the verdict")?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

/// The stable name of a classification (the same as its serde name).
fn class_name(c: Classification) -> &'static str {
    match c {
        Classification::Pass => "pass",
        Classification::Fail => "fail",
        Classification::Unknown => "unknown",
        Classification::ExpectedFail => "expected_fail",
        Classification::UnexpectedPass => "unexpected_pass",
    }
}

/// What a snapshot of a run should pin down, and nothing that varies between runs:
/// scenario, daemon, status, whether the run broke, each check's name and
/// classification, the unmatched known failures, and each step's description and
/// `ok` / `failed` / `unknown`.
///
/// Left out on purpose: failure and unknown messages (they carry times and MACs),
/// figures and durations, paths, and the run error's text. A check name that occurs
/// twice gets ` #2`, ` #3`... so no result hides another.
pub fn normalized_verdict(record: &RunRecord) -> Value {
    let mut checks = Map::new();
    for j in &record.verdict.checks {
        let mut key = j.result.name.to_string();
        let mut n = 1;
        while checks.contains_key(&key) {
            n += 1;
            key = format!("{} #{n}", j.result.name);
        }
        checks.insert(key, Value::from(class_name(j.class)));
    }
    let steps: Vec<Value> = record
        .steps
        .iter()
        .map(|s| {
            json!({
                "index": s.index,
                "text": s.text,
                "outcome": s.word(),
            })
        })
        .collect();
    json!({
        "scenario": record.scenario,
        "daemon": record.daemon,
        "status": record.status().as_str(),
        "error": record.error.is_some(),
        "checks": checks,
        "unmatched_known_failures": record.verdict.unmatched_known_failures,
        "steps": steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{judge, CheckName, CheckResult, Outcome};
    use crate::report::testdata::*;
    use crate::report::{Figure, StepOutcome};

    #[test]
    fn full_json_has_every_check_and_message() {
        let mut r = record("seed/sigkill", "vrrpd", failing());
        r.conflict = Figure::Ms(1688.0);
        r.outage = Figure::Open {
            since_ms: 9000.0,
            at_least_ms: 1000.0,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdict.json");
        write_verdict_json(&r, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "FAIL");
        assert_eq!(v["scenario"], "seed/sigkill");
        assert_eq!(v["verdict"]["ok"], false);
        let checks = v["verdict"]["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 3);
        assert_eq!(checks[0]["name"], "conflict_max");
        assert_eq!(checks[0]["class"], "fail");
        assert!(checks[0]["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("t=8.650s"));
        assert_eq!(checks[2]["outcome"]["status"], "unknown");
        assert_eq!(v["conflict"]["ms"], 1688.0);
        assert_eq!(v["outage"]["open"]["at_least_ms"], 1000.0);
        assert_eq!(v["steps"][1]["outcome"], "ok");
        assert_eq!(v["error"], Value::Null);
        // Figures read back.
        let f: Figure = serde_json::from_value(v["outage"].clone()).unwrap();
        assert_eq!(f, r.outage);
    }

    #[test]
    fn write_error_names_the_path() {
        let r = record("s", "d", passing());
        let err = write_verdict_json(&r, Path::new("/nonexistent/dir/verdict.json")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/dir/verdict.json"));
    }

    #[test]
    fn normalized_form_has_names_and_classes_only() {
        let mut r = record("seed/sigkill", "keepalived", expected_failure());
        r.conflict = Figure::Open {
            since_ms: 8650.0,
            at_least_ms: 3350.0,
        };
        r.failover_ms = Some(3609.375);
        r.steps.push(StepOutcome::failed(
            3,
            "wait until node2 holds the VIPs",
            "timed out at t=9.000s after 5000 ms",
        ));
        r.steps
            .push(StepOutcome::unknown(4, "expect node2", "not reached"));
        let v = normalized_verdict(&r);
        assert_eq!(
            v,
            json!({
                "scenario": "seed/sigkill",
                "daemon": "keepalived",
                "status": "FAIL",
                "error": false,
                "checks": {
                    "no_conflict_at_end": "expected_fail",
                    "ttl_255": "pass",
                },
                "unmatched_known_failures": [],
                "steps": [
                    {"index": 1, "text": "start node1 node2", "outcome": "ok"},
                    {"index": 2, "text": "sigkill node1", "outcome": "ok"},
                    {"index": 3, "text": "wait until node2 holds the VIPs", "outcome": "failed"},
                    {"index": 4, "text": "expect node2", "outcome": "unknown"},
                ],
            })
        );
        let text = v.to_string();
        for leak in ["t=", " ms", "/tmp", "/work", "3609", "8650", "02:00"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }

    #[test]
    fn normalized_form_of_failures_and_errors() {
        let r = record("x", "vrrpd", failing());
        let v = normalized_verdict(&r);
        assert_eq!(v["checks"]["conflict_max"], "fail");
        assert_eq!(v["checks"]["garp_on_takeover"], "unknown");
        assert!(!v.to_string().contains("node1+node2"));

        let mut r = record("x", "vrrpd", judge(vec![], &Default::default()));
        r.error = Some("daemon vrrpd on node1 exited at t=0.120s: status 1".into());
        let v = normalized_verdict(&r);
        assert_eq!(v["status"], "ERROR");
        assert_eq!(v["error"], true);
        assert!(!v.to_string().contains("exited"));
    }

    #[test]
    fn duplicate_check_names_are_kept_apart() {
        let verdict = judge(
            vec![
                CheckResult::new(CheckName::ExpectHolders, Outcome::Pass, ""),
                CheckResult::new(CheckName::ExpectHolders, Outcome::Fail("x".into()), ""),
                CheckResult::new(CheckName::ExpectHolders, Outcome::Pass, ""),
            ],
            &[CheckName::Step(9)].into(),
        );
        let v = normalized_verdict(&record("s", "d", verdict));
        assert_eq!(
            v["checks"],
            json!({"expect_holders": "pass", "expect_holders #2": "fail", "expect_holders #3": "pass"})
        );
        assert_eq!(v["unmatched_known_failures"], json!(["step:9"]));
    }
}
