//! The verdict of a run: every check's result, classified against the scenario's known
//! failures (a daemon *expected* to fail a check, such as keepalived after SIGKILL).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::{CheckName, CheckResult, Outcome};

/// How a check's outcome counts, given the known failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Passed, and was expected to.
    Pass,
    /// Failed, and was not expected to.
    Fail,
    /// Could not be decided (known failure or not): never counts as ok.
    Unknown,
    /// A known failure that failed again: the bug is still reproduced (ok).
    ExpectedFail,
    /// A known failure that passed: the expectation is stale or the check went blind
    /// (not ok, until the known failure is removed).
    UnexpectedPass,
}

impl Classification {
    /// Whether this classification lets the run pass.
    pub fn is_ok(self) -> bool {
        matches!(self, Classification::Pass | Classification::ExpectedFail)
    }

    /// Classifies an outcome; `known` says whether the check is a known failure.
    pub fn of(outcome: &Outcome, known: bool) -> Classification {
        match (outcome, known) {
            (Outcome::Unknown(_), _) => Classification::Unknown,
            (Outcome::Pass, false) => Classification::Pass,
            (Outcome::Pass, true) => Classification::UnexpectedPass,
            (Outcome::Fail(_), false) => Classification::Fail,
            (Outcome::Fail(_), true) => Classification::ExpectedFail,
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Classification::Pass => "pass",
            Classification::Fail => "FAIL",
            Classification::Unknown => "UNKNOWN",
            Classification::ExpectedFail => "expected failure reproduced",
            Classification::UnexpectedPass => "known failure no longer reproduces",
        })
    }
}

/// One check's result with its classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judged {
    /// The result.
    #[serde(flatten)]
    pub result: CheckResult,
    /// How it counts.
    pub class: Classification,
}

/// The verdict of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Every check, in the order it ran.
    pub checks: Vec<Judged>,
    /// Known failures that name no check that ran (a typo, or a check that was dropped):
    /// they make the verdict not ok, since they would otherwise hide nothing silently.
    pub unmatched_known_failures: Vec<CheckName>,
    /// Whether the run passes: every check is pass or expected failure, and every known
    /// failure matched a check.
    pub ok: bool,
}

/// Classifies `results` against the names in `known_failures`.
pub fn judge(results: Vec<CheckResult>, known_failures: &BTreeSet<CheckName>) -> Verdict {
    let names: BTreeSet<CheckName> = results.iter().map(|r| r.name).collect();
    let unmatched_known_failures: Vec<CheckName> = known_failures
        .iter()
        .filter(|k| !names.contains(k))
        .copied()
        .collect();
    let checks: Vec<Judged> = results
        .into_iter()
        .map(|r| {
            let class = Classification::of(&r.outcome, known_failures.contains(&r.name));
            Judged { result: r, class }
        })
        .collect();
    let ok = unmatched_known_failures.is_empty() && checks.iter().all(|j| j.class.is_ok());
    Verdict {
        checks,
        unmatched_known_failures,
        ok,
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for j in &self.checks {
            write!(f, "{:<24} {}", j.result.name.to_string(), j.class)?;
            match &j.result.outcome {
                Outcome::Pass => {}
                Outcome::Fail(why) | Outcome::Unknown(why) => write!(f, ": {why}")?,
            }
            writeln!(f)?;
        }
        for k in &self.unmatched_known_failures {
            writeln!(
                f,
                "{:<24} known failure names no check that ran",
                k.to_string()
            )?;
        }
        write!(f, "verdict: {}", if self.ok { "ok" } else { "NOT OK" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> CheckName {
        CheckName::parse(s).expect("a check name")
    }

    fn r(n: &str, outcome: Outcome) -> CheckResult {
        CheckResult::new(name(n), outcome, "")
    }

    fn known(names: &[&str]) -> BTreeSet<CheckName> {
        names.iter().map(|s| name(s)).collect()
    }

    #[test]
    fn plain_results() {
        let v = judge(
            vec![r("ttl_255", Outcome::Pass), r("failover", Outcome::Pass)],
            &known(&[]),
        );
        assert!(v.ok);
        let v = judge(
            vec![
                r("ttl_255", Outcome::Pass),
                r("failover", Outcome::Fail("b: x".into())),
            ],
            &known(&[]),
        );
        assert!(!v.ok);
        assert_eq!(v.checks[1].class, Classification::Fail);
        let v = judge(
            vec![r("ttl_255", Outcome::Unknown("a: y".into()))],
            &known(&[]),
        );
        assert!(!v.ok);
        assert_eq!(v.checks[0].class, Classification::Unknown);
    }

    #[test]
    fn known_failures() {
        let v = judge(
            vec![
                r("no_conflict_at_end", Outcome::Fail("conflict".into())),
                r("ttl_255", Outcome::Pass),
            ],
            &known(&["no_conflict_at_end"]),
        );
        assert!(v.ok, "{v}");
        assert_eq!(v.checks[0].class, Classification::ExpectedFail);
        assert_eq!(v.checks[0].class.to_string(), "expected failure reproduced");

        let v = judge(
            vec![r("no_conflict_at_end", Outcome::Pass)],
            &known(&["no_conflict_at_end"]),
        );
        assert!(!v.ok);
        assert_eq!(v.checks[0].class, Classification::UnexpectedPass);
        assert_eq!(
            v.checks[0].class.to_string(),
            "known failure no longer reproduces"
        );

        let v = judge(
            vec![r(
                "no_conflict_at_end",
                Outcome::Unknown("no events".into()),
            )],
            &known(&["no_conflict_at_end"]),
        );
        assert!(!v.ok);
        assert_eq!(v.checks[0].class, Classification::Unknown);
    }

    #[test]
    fn unmatched_known_failure_is_not_ok() {
        let v = judge(vec![r("ttl_255", Outcome::Pass)], &known(&["step:9"]));
        assert!(!v.ok);
        assert_eq!(v.unmatched_known_failures, vec![CheckName::Step(9)]);
        assert!(v.to_string().contains("step:9"), "{v}");
    }

    #[test]
    fn serializes() {
        let v = judge(
            vec![r("ttl_255", Outcome::Fail("a: broke".into()))],
            &known(&["ttl_255"]),
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["checks"][0]["name"], "ttl_255");
        assert_eq!(json["checks"][0]["class"], "expected_fail");
        assert_eq!(json["checks"][0]["outcome"]["status"], "fail");
        assert_eq!(json["checks"][0]["outcome"]["reason"], "a: broke");
    }
}
