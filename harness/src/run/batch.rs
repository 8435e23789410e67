//! Many runs at once: every scenario × every daemon, a bounded number in parallel, with
//! progress on stderr, then the reports.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Result;

use crate::check::{CheckName, Outcome};
use crate::daemons::Daemon;
use crate::report::{self, RunRecord, StepOutcome};
use crate::run::{self, RunOptions, RunResult};
use crate::scenario::Scenario;

/// Two scenarios of one invocation with the same name would share
/// `<out>/<name>/<daemon>/` and mix their artifacts: the first such pair, as an error
/// message naming both files.
pub fn duplicate_name(scenarios: &[Scenario]) -> Option<String> {
    let mut seen: std::collections::HashMap<&str, &Path> = std::collections::HashMap::new();
    for sc in scenarios {
        if let Some(first) = seen.insert(&sc.name, &sc.path) {
            return Some(format!(
                "{} and {} are both named {:?}; scenario names must be unique in one run \
                 (each names its artifact folder)",
                first.display(),
                sc.path.display(),
                sc.name
            ));
        }
    }
    None
}

/// Runs every scenario against every daemon, at most `jobs` at once. Results come back
/// in scenario × daemon order.
pub async fn run_all(
    scenarios: &[Scenario],
    daemons: &[Daemon],
    opts: &RunOptions,
    jobs: usize,
) -> Vec<RunResult> {
    run_repeated(scenarios, daemons, opts, jobs, 1).await
}

/// Like [`run_all`], each combination `repeat` times (a soak against flakiness); the
/// repetitions write their artifacts under `<out>/rep<k>/`.
pub async fn run_repeated(
    scenarios: &[Scenario],
    daemons: &[Daemon],
    opts: &RunOptions,
    jobs: usize,
    repeat: usize,
) -> Vec<RunResult> {
    let sem = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let repeat = repeat.max(1);
    let total = scenarios.len() * daemons.len() * repeat;
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(total);
    for k in 1..=repeat {
        for sc in scenarios {
            for d in daemons {
                let (sc, d, mut opts) = (sc.clone(), d.clone(), opts.clone());
                if repeat > 1 {
                    opts.out_dir = opts.out_dir.join(format!("rep{k}"));
                }
                let (sem, done) = (sem.clone(), done.clone());
                handles.push(tokio::spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    if run::interrupt::requested(&opts.stop) {
                        // Interrupted before it started: nothing to judge or keep.
                        return None;
                    }
                    let r = run::run(&sc, &d, &opts).await;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    eprintln!(
                        "[{n}/{total}] {} × {}: {} ({:.1} s)",
                        r.scenario,
                        r.daemon,
                        short_verdict(&r),
                        r.duration.as_secs_f64()
                    );
                    Some(r)
                }));
            }
        }
    }
    let mut out = Vec::with_capacity(total);
    for h in handles {
        if let Ok(Some(r)) = h.await {
            out.push(r);
        }
    }
    if out.len() < total {
        eprintln!(
            "{} of {total} run(s) not started: interrupted",
            total - out.len()
        );
    }
    out
}

/// One word for a run's verdict.
pub fn short_verdict(r: &RunResult) -> String {
    match &r.error {
        Some(e) => format!("ERROR: {e}"),
        None => record(r).status().to_string(),
    }
}

/// The report's view of a run.
pub fn record(r: &RunResult) -> RunRecord {
    use crate::check::Classification as C;
    let (conflict, outage) = report::figures(&r.events, &r.vips, r.first_fault_ns, r.end_ns);
    let failover_ms = r
        .verdict
        .checks
        .iter()
        .find(|j| j.result.name == CheckName::Failover)
        .and_then(|j| j.result.measured_ns)
        .map(|ns| ns as f64 / 1e6);
    let steps = r
        .steps
        .iter()
        .map(|s| {
            let judged = r
                .verdict
                .checks
                .iter()
                .find(|j| j.result.name == CheckName::Step(s.index));
            match (judged.map(|j| j.class), &s.outcome) {
                (Some(C::Pass) | Some(C::ExpectedFail), _) | (None, Outcome::Pass) => {
                    StepOutcome::ok(s.index, s.text.clone())
                }
                (Some(C::Unknown), Outcome::Unknown(m)) | (None, Outcome::Unknown(m)) => {
                    StepOutcome::unknown(s.index, s.text.clone(), m)
                }
                (_, Outcome::Fail(m)) | (_, Outcome::Unknown(m)) => {
                    StepOutcome::failed(s.index, s.text.clone(), m)
                }
                (_, Outcome::Pass) => StepOutcome::failed(
                    s.index,
                    s.text.clone(),
                    "known failure no longer reproduces",
                ),
            }
        })
        .collect();
    RunRecord {
        scenario: r.scenario.clone(),
        scenario_path: r.scenario_path.clone(),
        daemon: r.daemon.clone(),
        verdict: r.verdict.clone(),
        failover_ms,
        conflict,
        outage,
        duration_ms: r.duration.as_secs_f64() * 1e3,
        steps,
        error: r.error.clone(),
        out_dir: r.out_dir.clone(),
    }
}

/// Writes the per-run artifacts (verdict.json, timeline.svg) and the summary
/// (`summary.md`, optional JUnit), prints the table, and returns the exit code: 0 when
/// every run went as its scenario expects for its daemon, 1 otherwise.
pub fn finish(results: &[RunResult], out: &Path, junit: Option<&Path>) -> Result<ExitCode> {
    let records: Vec<RunRecord> = results.iter().map(record).collect();
    for (r, rec) in results.iter().zip(&records) {
        report::write_artifacts(&r.out_dir, rec, &r.events, &r.nodes, &r.vips, r.end_ns)?;
    }
    let table = report::summary_table(&records);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("summary.md"), &table)?;
    println!("{table}");
    for rec in &records {
        if rec.status().is_ok() {
            continue;
        }
        println!("{} × {} ({}):", rec.scenario, rec.daemon, rec.status());
        if let Some(e) = &rec.error {
            println!("    error: {e}");
        }
        for j in &rec.verdict.checks {
            if !j.class.is_ok() {
                let msg = match &j.result.outcome {
                    Outcome::Fail(m) | Outcome::Unknown(m) => m.clone(),
                    Outcome::Pass => j.result.detail.clone(),
                };
                println!("    {} [{}] {msg}", j.result.name, j.class);
            }
        }
        for k in &rec.verdict.unmatched_known_failures {
            println!("    known failure {k:?} names no check that ran");
        }
        println!("    artifacts: {}", rec.out_dir.display());
    }
    if let Some(j) = junit {
        if let Some(parent) = j.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(j, report::junit_xml(&records))?;
    }
    let ok = records.iter().all(|r| r.status().is_ok());
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
