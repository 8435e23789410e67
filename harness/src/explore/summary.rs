//! What an exploration found: one record per violation (with its minimal file), the
//! closing table by invariant, and the JSON summary for CI.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::invariants::Target;
use super::shrink::ShrinkStats;

/// One schedule that violated an invariant.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The schedule's number under the seed.
    pub schedule: u64,
    /// The invariant (check name) it violated, or a broken run.
    pub invariant: Target,
    /// The check's failure message in the first run.
    pub message: String,
    /// Steps in the generated file.
    pub steps: usize,
    /// Whether it was shrunk (only the first violation of each invariant is; the rest are
    /// listed with their generated file).
    pub shrunk: bool,
    /// Steps in the minimal file (the generated file's when not shrunk).
    pub minimal_steps: usize,
    /// The file to hand to `vrrplab run`.
    pub file: PathBuf,
    /// Runs of the generated schedule that failed the same invariant, out of how many.
    pub reproduced: (usize, usize),
    /// How the shrink went.
    pub shrink: ShrinkStats,
    /// Wall time of the shrink, seconds.
    pub shrink_secs: f64,
    /// The minimal file's own run (its artifacts next to it) failed the same invariant.
    pub minimal_run_failed: Option<bool>,
}

/// A schedule that could not be judged completely (never a pass).
#[derive(Debug, Clone, Serialize)]
pub struct Unjudged {
    /// The schedule's number.
    pub schedule: u64,
    /// Its file.
    pub file: PathBuf,
    /// What could not be decided.
    pub why: Vec<String>,
}

/// The whole exploration.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The daemon explored.
    pub daemon: String,
    /// The seed.
    pub seed: u64,
    /// The command line.
    pub command: String,
    /// Schedules generated and run.
    pub schedules: u64,
    /// Schedules whose every check passed.
    pub passed: u64,
    /// Violations, in the order found.
    pub violations: Vec<Finding>,
    /// Schedules with an undecided check and no violation.
    pub unknown: Vec<Unjudged>,
    /// Schedules run before the first violation was found (the first included), if any.
    pub schedules_to_first_violation: Option<u64>,
    /// Lab runs in all (schedules, reproductions, shrink candidates).
    pub lab_runs: u64,
    /// Wall time, seconds.
    pub elapsed_secs: f64,
    /// Schedules (not counting shrink runs) per minute of exploring.
    pub schedules_per_minute: f64,
    /// 0: every schedule passed; 1: a violation or an unknown.
    pub exit_code: u8,
}

impl Summary {
    /// The closing table: violations by invariant, each with its minimal file.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "explore {} seed {}: {} schedules, {} passed, {} violations, {} unknown ({:.1} schedules/min, {} lab runs, {:.0} s)",
            self.daemon,
            self.seed,
            self.schedules,
            self.passed,
            self.violations.len(),
            self.unknown.len(),
            self.schedules_per_minute,
            self.lab_runs,
            self.elapsed_secs
        );
        if self.violations.is_empty() {
            let _ = writeln!(out, "no violations");
        } else {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| invariant | violations | first schedule | steps → minimal | reproduced | minimal file |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|");
            let mut targets: Vec<&Target> = self.violations.iter().map(|f| &f.invariant).collect();
            targets.sort();
            targets.dedup();
            for t in targets {
                let all: Vec<&Finding> = self
                    .violations
                    .iter()
                    .filter(|f| &f.invariant == t)
                    .collect();
                let first = all.iter().find(|f| f.shrunk).unwrap_or(&all[0]);
                let _ = writeln!(
                    out,
                    "| {t} | {} | {} | {} → {} | {}/{} | {} |",
                    all.len(),
                    first.schedule,
                    first.steps,
                    first.minimal_steps,
                    first.reproduced.0,
                    first.reproduced.1,
                    first.file.display()
                );
            }
        }
        for u in &self.unknown {
            let _ = writeln!(
                out,
                "unknown: schedule {} ({}): {}",
                u.schedule,
                u.file.display(),
                u.why.join("; ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(schedule: u64, shrunk: bool) -> Finding {
        Finding {
            schedule,
            invariant: Target::Check("conflict_max".into()),
            message: "conflict_max: node1+node2 both held 192.0.2.20".into(),
            steps: 11,
            shrunk,
            minimal_steps: if shrunk { 6 } else { 11 },
            file: PathBuf::from(format!("out/explore/vrrpd-1-{schedule}.toml")),
            reproduced: (2, 2),
            shrink: ShrinkStats::default(),
            shrink_secs: 1.0,
            minimal_run_failed: shrunk.then_some(true),
        }
    }

    #[test]
    fn table_groups_by_invariant_with_the_minimal_file() {
        let s = Summary {
            daemon: "vrrpd:no-lease".into(),
            seed: 1,
            command: "vrrplab explore".into(),
            schedules: 10,
            passed: 8,
            violations: vec![finding(3, true), finding(7, false)],
            unknown: Vec::new(),
            schedules_to_first_violation: Some(2),
            lab_runs: 30,
            elapsed_secs: 60.0,
            schedules_per_minute: 10.0,
            exit_code: 1,
        };
        let t = s.table();
        assert!(
            t.contains("| conflict_max | 2 | 3 | 11 → 6 | 2/2 | out/explore/vrrpd-1-3.toml |"),
            "{t}"
        );
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(json["violations"][0]["invariant"]["name"], "conflict_max");
        assert_eq!(json["exit_code"], 1);
    }
}
