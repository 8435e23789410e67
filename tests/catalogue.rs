//! The gate: every scenario file × every daemon is its own test case. Each run is judged
//! against the scenario's expectations for that daemon (keepalived's known failures are
//! expected), and the normalised verdict (check classes and step outcomes, no timings) is
//! pinned with insta. Needs root; keepalived cases need keepalived installed.

use std::path::PathBuf;

use rstest::rstest;
use vrrplab::daemons::{self, Daemon};
use vrrplab::report;
use vrrplab::run::batch;
use vrrplab::run::{self, RunOptions};
use vrrplab::scenario::Scenario;

/// Where test runs leave their artifacts (kept for inspection after a failure): a
/// folder of this test process's own under `target/tmp/catalogue/`, so two `cargo test`
/// runs in one checkout never share pid files or artifacts.
fn out_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("catalogue");
        std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
        tempfile::Builder::new()
            .prefix(&format!("run-{}-", std::process::id()))
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
            .keep()
    })
    .clone()
}

#[rstest]
fn scenario_against_daemon(
    #[files("scenarios/**/*.toml")] path: PathBuf,
    #[values("vrrpd", "keepalived")] daemon: &str,
) {
    vrrplab::lab::privilege::require_root();
    if daemon == "keepalived" {
        assert!(
            daemons::keepalived_installed(),
            "keepalived is missing: `apt-get install keepalived` (.ci/run installs it)"
        );
    }
    let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let d = Daemon::parse(daemon).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        out_dir: out_dir(),
        ..Default::default()
    };
    let result = rt.block_on(run::run(&sc, &d, &opts));
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
    settings.set_snapshot_suffix(format!("{}-{}", sc.name, daemon));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_json_snapshot!("verdict", report::normalized_verdict(&rec));
    });
}
