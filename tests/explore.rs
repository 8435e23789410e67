//! `vrrplab explore` against the no-lease negative control: it must find the conflict a
//! SIGKILLed or frozen MASTER leaves without its lease, shrink it to a scenario file of
//! at most 6 steps, and that file, run again the way `vrrplab run` runs it, must fail
//! the same check.

mod common;

use std::path::PathBuf;

use vrrplab::check::Outcome;
use vrrplab::daemons::Daemon;
use vrrplab::explore::generate::{Adverts, GenOptions};
use vrrplab::explore::invariants::Target;
use vrrplab::explore::{self, Limit, Options};
use vrrplab::run::{self, RunOptions};
use vrrplab::scenario::{FaultKind, Scenario};

#[test]
fn explore_finds_and_shrinks_the_no_lease_conflict() {
    vrrplab::lab::privilege::require_root();
    common::require_negative_controls();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explore-smoke");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let daemon = Daemon::parse("vrrpd:no-lease").expect("control");
    // Two nodes at 1 s adverts and the process faults only, so a conflict comes within
    // the first few schedules and a run takes seconds; the shrink re-runs in fresh labs.
    let opts = Options {
        daemon: daemon.clone(),
        seed: 7,
        limit: Limit::Schedules(12),
        jobs: 4,
        repro: 1,
        gen: GenOptions {
            min_nodes: 2,
            max_nodes: 2,
            max_faults: 4,
            adverts: Adverts::OneSecond,
            faults: vec![
                FaultKind::Sigkill,
                FaultKind::Stop,
                FaultKind::Start,
                FaultKind::Restart,
                FaultKind::Freeze,
                FaultKind::Thaw,
            ],
            ..GenOptions::default()
        },
        out_dir: out.clone(),
        shrink_budget: 40,
        first: true,
        command: "tests/explore.rs".into(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let summary = rt.block_on(explore::explore(opts)).expect("explore");
    let conflict = Target::Check("conflict_max".into());
    let found = summary
        .violations
        .iter()
        .find(|f| f.invariant == conflict)
        .unwrap_or_else(|| panic!("no conflict found against no-lease:\n{}", summary.table()));
    assert_eq!(summary.exit_code, 1);
    assert!(found.shrunk, "{found:?}");
    assert!(
        found.minimal_steps <= 6,
        "shrunk only to {} steps: {}",
        found.minimal_steps,
        found.file.display()
    );
    assert_eq!(found.minimal_run_failed, Some(true), "{found:?}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("summary JSON");
    assert_eq!(json["violations"][0]["invariant"]["name"], "conflict_max");

    // `vrrplab run FILE --daemon vrrpd:no-lease` on the minimal file.
    let sc = Scenario::load(&found.file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.steps.len(), found.minimal_steps);
    let r = rt.block_on(run::run(
        &sc,
        &daemon,
        &RunOptions {
            out_dir: out.join("rerun"),
            ..Default::default()
        },
    ));
    assert!(r.error.is_none(), "run broke: {:?}", r.error);
    let check = r
        .verdict
        .checks
        .iter()
        .find(|j| j.result.name == vrrplab::check::CheckName::ConflictMax)
        .expect("conflict_max judged");
    assert!(
        matches!(check.result.outcome, Outcome::Fail(_)),
        "{:?}",
        check.result.outcome
    );
}
