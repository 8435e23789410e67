//! The gate: every scenario file × every daemon is its own test case. Each run is judged
//! against the scenario's expectations for that daemon (keepalived's and FRR's known
//! failures are expected; a scenario a daemon cannot run is pinned as not applicable),
//! and the normalised verdict (check classes and step outcomes, no timings) is pinned
//! with insta. Needs root; keepalived and FRR cases need them installed.

mod common;

use std::path::PathBuf;

use rstest::rstest;
use vrrplab::daemons::{self, Lineup, Registry};
use vrrplab::report;
use vrrplab::run::batch;
use vrrplab::run::{self, RunOptions};
use vrrplab::scenario::Scenario;

/// Where test runs leave their artifacts (kept for inspection after a failure): a
/// folder of this test process's own under `target/tmp/catalogue/`, so two `cargo test`
/// runs in one checkout never share pid files or artifacts.
fn out_dir() -> PathBuf {
    common::process_out_dir("catalogue")
}

#[rstest]
fn scenario_against_daemon(
    #[files("scenarios/**/*.toml")] path: PathBuf,
    #[values("vrrpd", "keepalived", "frr")] daemon: &str,
) {
    vrrplab::lab::privilege::require_root();
    if daemon == "keepalived" {
        assert!(
            daemons::keepalived_installed(),
            "keepalived is missing: `apt-get install keepalived` (.ci/run installs it)"
        );
    }
    if daemon == "frr" {
        assert!(
            daemons::frr_installed(),
            "FRR is missing: `apt-get install frr` (.ci/run installs it)"
        );
    }
    let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::default();
    let d = registry.resolve(daemon).unwrap_or_else(|e| panic!("{e:#}"));
    let cast = Lineup::uniform(d)
        .cast(&sc, &registry)
        .unwrap_or_else(|e| panic!("{e:#}"));
    // A scenario that names every node's daemon itself (the mixed ones) is the same run
    // whichever daemon this case names: it runs once, in the vrrpd case.
    if daemon != "vrrpd" {
        let vrrpd = Lineup::uniform(registry.resolve("vrrpd").unwrap())
            .cast(&sc, &registry)
            .unwrap();
        if vrrpd.dir_name() == cast.dir_name() {
            assert!(cast.single().is_none(), "{} pins one daemon", sc.name);
            return;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        out_dir: out_dir(),
        ..Default::default()
    };
    let result = rt.block_on(run::run(&sc, &cast, &opts));
    let rec = batch::record(&result);
    report::write_artifacts(
        &result.out_dir,
        &rec,
        &result.events,
        &result.nodes,
        &result.vips,
        result.end_ns,
    )
    .unwrap();
    let status = rec.status();
    if !status.is_ok() {
        let mut msg = format!("{} × {daemon}: {status}\n", sc.name,);
        if let Some(e) = &rec.error {
            msg.push_str(&format!("  error: {e}\n"));
        }
        for j in &rec.verdict.checks {
            if !j.class.is_ok() {
                msg.push_str(&format!(
                    "  {} [{}]: {:?}\n",
                    j.result.name, j.class, j.result.outcome
                ));
            }
        }
        msg.push_str(&format!("  artifacts: {}\n", result.out_dir.display()));
        panic!("{msg}");
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_suffix(format!("{}-{}", sc.name, cast.dir_name()));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_json_snapshot!("verdict", report::normalized_verdict(&rec));
    });
}
