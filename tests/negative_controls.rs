//! Negative controls: vrrpd with one protection switched off must be caught by the
//! harness, with a failure message that names the broken property and its time window.
//! The `keepalived-1.2` control must reproduce the seed article's four observations.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rstest::rstest;
use vrrplab::check::{Classification, Outcome};
use vrrplab::daemons::{Lineup, Registry};
use vrrplab::run::{self, RunOptions, RunResult};
use vrrplab::scenario::Scenario;

/// This test process's own artifact folder under `target/tmp/negative-controls/`, so
/// concurrent `cargo test` runs never share one.
fn out_dir() -> PathBuf {
    common::process_out_dir("negative-controls")
}

fn run_control(control: &str, scenario: &str) -> RunResult {
    vrrplab::lab::privilege::require_root();
    common::require_negative_controls();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(scenario);
    let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::default();
    let d = registry.resolve(&format!("vrrpd:{control}")).unwrap();
    let cast = Lineup::uniform(d).cast(&sc, &registry).unwrap();
    let opts = RunOptions {
        out_dir: out_dir(),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(run::run(&sc, &cast, &opts));
    assert!(r.error.is_none(), "run broke: {:?}", r.error);
    r
}

fn failed(r: &RunResult) -> BTreeSet<String> {
    r.verdict
        .checks
        .iter()
        .filter(|j| matches!(j.result.outcome, Outcome::Fail(_)))
        .map(|j| j.result.name.to_string())
        .collect()
}

fn message(r: &RunResult, check: &str) -> String {
    r.verdict
        .checks
        .iter()
        .find(|j| j.result.name.to_string() == check)
        .map(|j| match &j.result.outcome {
            Outcome::Fail(m) | Outcome::Unknown(m) => m.clone(),
            Outcome::Pass => String::new(),
        })
        .unwrap_or_default()
}

#[rstest]
#[case::no_lease("no-lease", "scenarios/seed/02-sigkill-master.toml", &["conflict_max", "no_conflict_at_end"])]
#[case::no_startup_reconcile("no-startup-reconcile", "scenarios/restart-quick-vip-removed.toml", &["step:7"])]
#[case::no_release_on_stop("no-release-on-stop", "scenarios/seed/01-clean-stop-master.toml", &["conflict_max"])]
#[case::no_priority_zero("no-priority-zero", "scenarios/seed/01-clean-stop-master.toml", &["priority_zero_on_stop"])]
fn each_control_is_caught(
    #[case] control: &str,
    #[case] scenario: &str,
    #[case] must_fail: &[&str],
) {
    let r = run_control(control, scenario);
    let failed = failed(&r);
    for check in must_fail {
        assert!(
            failed.contains(*check),
            "vrrpd:{control} on {scenario}: {check} did not fail (failed: {failed:?})"
        );
        let msg = message(&r, check);
        // The message names the property (or the step's condition) and when.
        assert!(msg.contains("t="), "no time window in {check}: {msg}");
        if !check.starts_with("step:") {
            assert!(msg.starts_with(check), "property not named in: {msg}");
        }
    }
    // The scenario does not expect this misbehaviour: the run is a failure, not an
    // "expected failure".
    assert!(!r.ok(), "vrrpd:{control} passed {scenario}");
    assert!(r
        .verdict
        .checks
        .iter()
        .any(|j| j.class == Classification::Fail));
}

/// The seed article with keepalived 1.2.13, observation by observation.
#[rstest]
// 1. A clean stop of the MASTER releases the VIP: nothing to catch.
#[case::clean_stop_releases("scenarios/seed/01-clean-stop-master.toml", &[])]
// 2. kill -9 of the MASTER keeps the VIP; the peer takes it too.
#[case::sigkill_keeps_vip("scenarios/seed/02-sigkill-master.toml", &["conflict_max", "no_conflict_at_end", "client_single_mac_at_end"])]
// 3. Restarted without cleanup it enters BACKUP and still keeps the VIP.
#[case::restart_keeps_vip("scenarios/seed/03-restart-after-sigkill.toml", &["no_conflict_at_end", "single_holder_at_end"])]
// 4. Even a later clean stop does not remove it.
#[case::stop_after_restart_keeps_vip("scenarios/seed/04-stop-after-restart.toml", &["no_conflict_at_end"])]
fn keepalived_1_2_reproduces_the_article(#[case] scenario: &str, #[case] must_fail: &[&str]) {
    let r = run_control("keepalived-1.2", scenario);
    let failed = failed(&r);
    if must_fail.is_empty() {
        assert!(
            failed.is_empty(),
            "{scenario}: unexpected failures {failed:?}"
        );
    }
    for check in must_fail {
        assert!(
            failed.contains(*check),
            "{scenario}: {check} did not fail ({failed:?})"
        );
    }
}
