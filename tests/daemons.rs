//! Daemons under test: keepalived given by path (its version in every report), FRR's
//! vrrpd with zebra and the operator's macvlan, a daemon described by a driver file, a
//! different daemon on each node. Needs root, keepalived and FRR (`apt-get install
//! keepalived frr`; .ci/run installs them).

use std::path::{Path, PathBuf};

use vrrplab::check::CheckName;
use vrrplab::daemons::{self, file::FileDriver, Lineup, Registry};
use vrrplab::history::{DaemonEvent, EventKind};
use vrrplab::report::{self, Status};
use vrrplab::run::batch::{self, Job};
use vrrplab::run::{RunOptions, RunResult};
use vrrplab::scenario::Scenario;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scenario(rel: &str) -> Scenario {
    Scenario::load(&repo().join(rel)).unwrap_or_else(|e| panic!("{e}"))
}

fn require_keepalived() -> PathBuf {
    vrrplab::lab::privilege::require_root();
    daemons::keepalived_binary().unwrap_or_else(|e| panic!("{e:#}"))
}

fn require_frr() {
    vrrplab::lab::privilege::require_root();
    assert!(
        daemons::frr_installed(),
        "FRR is missing: `apt-get install frr` (.ci/run installs it)"
    );
}

/// Runs the jobs, writes every report (artifacts, summary.md, JUnit) into `out`, and
/// returns the results with their records.
fn run_and_report(jobs: &[Job], out: &Path) -> Vec<(RunResult, report::RunRecord)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        out_dir: out.to_path_buf(),
        ..Default::default()
    };
    let results = rt.block_on(batch::run_all(jobs, &opts, 2));
    batch::finish(&results, out, Some(&out.join("junit.xml")), "daemons test").unwrap();
    results
        .into_iter()
        .map(|r| {
            let rec = batch::record(&r);
            (r, rec)
        })
        .collect()
}

fn plan(scenarios: &[&str], daemon_args: &[&str], registry: &Registry) -> Vec<Job> {
    let scs: Vec<Scenario> = scenarios.iter().map(|s| scenario(s)).collect();
    let args: Vec<String> = daemon_args.iter().map(|s| s.to_string()).collect();
    let lineups = Lineup::from_args(&args, registry, || unreachable!("daemons are given"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    batch::plan(&scs, &lineups, registry).unwrap_or_else(|e| panic!("{e:#}"))
}

fn explain(r: &RunResult, rec: &report::RunRecord) -> String {
    let mut s = format!("{} × {}: {}\n", r.scenario, r.daemon, rec.status());
    if let Some(e) = &r.error {
        s.push_str(&format!("  error: {e}\n"));
    }
    for j in &r.verdict.checks {
        if !j.class.is_ok() {
            s.push_str(&format!(
                "  {} [{}] {:?}\n",
                j.result.name, j.class, j.result.outcome
            ));
        }
    }
    s.push_str(&format!("  artifacts: {}\n", r.out_dir.display()));
    s
}

fn verdict_json(r: &RunResult) -> serde_json::Value {
    let text = std::fs::read_to_string(r.out_dir.join(report::VERDICT_FILE)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn keepalived_from_a_path_not_on_path_reports_its_version() {
    let installed = require_keepalived();
    // A keepalived build somewhere PATH does not reach, under a name that is not
    // `keepalived`: only the explicit path can find it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("opt/keepalived-test/sbin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived-under-test");
    std::fs::copy(&installed, &path).unwrap();
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("keepalived-under-test").exists());
    assert!(!on_path);
    let version = daemons::program::read_version(&installed, &["--version"])
        .unwrap()
        .to_string();

    let registry = Registry::default();
    let arg = format!("keepalived={}", path.display());
    let jobs = plan(
        &["scenarios/seed/01-clean-stop-master.toml"],
        &[&arg],
        &registry,
    );
    let out = tmp.path().join("out");
    let runs = run_and_report(&jobs, &out);
    let (r, rec) = &runs[0];
    assert_eq!(rec.status(), Status::Pass, "{}", explain(r, rec));

    let v = verdict_json(r);
    assert_eq!(v["daemon"], "keepalived");
    assert_eq!(v["daemon_version"], version.as_str());
    assert_eq!(v["daemons"][0]["program"], path.display().to_string());
    assert_eq!(v["daemons"][0]["version"], version.as_str());
    let label = format!("keepalived {version}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains(&label), "{summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(&format!("name=\"{label}\"")), "{junit}");
    let svg = std::fs::read_to_string(r.out_dir.join(report::TIMELINE_FILE)).unwrap();
    assert!(svg.contains(&label), "timeline title lacks {label}");
    // The build given by path has a folder of its own, with the version in its name.
    assert!(
        r.out_dir.ends_with(format!("keepalived-{version}")),
        "{}",
        r.out_dir.display()
    );
    // The keepalived that ran is the one given, not the one on PATH.
    let started = r.events.iter().find_map(|e| match &e.kind {
        EventKind::Daemon { what, detail, .. } if *what == DaemonEvent::Started => {
            Some(detail.clone())
        }
        _ => None,
    });
    assert!(
        started
            .as_deref()
            .is_some_and(|d| d.contains("keepalived-under-test")),
        "{started:?}"
    );
}

#[test]
fn debian_keepalived_given_by_path_reproduces_its_known_failure() {
    let installed = require_keepalived();
    let registry = Registry::default();
    let arg = format!("keepalived={}", installed.display());
    let jobs = plan(
        &["scenarios/seed/02-sigkill-master.toml"],
        &[&arg],
        &registry,
    );
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    let (r, rec) = &runs[0];
    assert_eq!(rec.status(), Status::ExpectedFail, "{}", explain(r, rec));
    // 2.x matches no version range of seed/02: the plain `keepalived` entry applies.
    assert_eq!(r.expectations.as_deref(), Some("keepalived"));
    assert_eq!(verdict_json(r)["expectations"], "keepalived");
}

#[test]
fn frr_clean_stop_passes() {
    require_frr();
    let registry = Registry::default();
    let jobs = plan(
        &["scenarios/seed-multicast/01-clean-stop-master-multicast.toml"],
        &["frr"],
        &registry,
    );
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    let (r, rec) = &runs[0];
    assert_eq!(rec.status(), Status::Pass, "{}", explain(r, rec));
    assert!(
        r.daemon_version.is_some(),
        "FRR's version is read from vrrpd --version"
    );
    // zebra and vrrpd ran on each node, in the node's own directory owned by frr.
    for node in ["node1", "node2"] {
        let dir = r.out_dir.join(node);
        for f in ["zebra.conf", "vrrpd.conf", "zebra.log", "daemon.log"] {
            assert!(dir.join(f).exists(), "{} lacks {f}", dir.display());
        }
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&dir).unwrap());
        let frr = nix::unistd::User::from_name("frr").unwrap().unwrap();
        assert_eq!(
            owner,
            frr.uid.as_raw(),
            "{} is not owned by frr",
            dir.display()
        );
    }
}

#[test]
fn frr_sigkill_story_is_run_and_judged() {
    require_frr();
    let registry = Registry::default();
    let jobs = plan(
        &[
            "scenarios/seed-multicast/02-sigkill-master-multicast.toml",
            "scenarios/seed-multicast/03-restart-after-sigkill-multicast.toml",
        ],
        &["frr"],
        &registry,
    );
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    // SIGKILL leaves the dead master's macvlan up next to the new master's: both nodes
    // hold the VIP, FRR's known failure, reproduced and judged.
    let (r, rec) = &runs[0];
    assert_eq!(rec.status(), Status::ExpectedFail, "{}", explain(r, rec));
    let conflict = r
        .verdict
        .checks
        .iter()
        .find(|j| j.result.name == CheckName::NoConflictAtEnd)
        .expect("no_conflict_at_end ran");
    let msg = format!("{:?}", conflict.result.outcome);
    assert!(msg.contains("node1") && msg.contains("node2"), "{msg}");
    // A restart clears it.
    let (r, rec) = &runs[1];
    assert_eq!(rec.status(), Status::Pass, "{}", explain(r, rec));
}

#[test]
fn frr_not_applicable_cases_are_listed_with_their_reason() {
    require_frr();
    let registry = Registry::default();
    let seed: Vec<String> = std::fs::read_dir(repo().join("scenarios/seed"))
        .unwrap()
        .map(|e| {
            format!(
                "scenarios/seed/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    let seed: Vec<&str> = seed.iter().map(String::as_str).collect();
    let jobs = plan(&seed, &["frr"], &registry);
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    assert_eq!(runs.len(), seed.len());
    for (r, rec) in &runs {
        assert_eq!(rec.status(), Status::NotApplicable, "{}", explain(r, rec));
        let why = r.not_applicable.as_deref().unwrap();
        assert!(
            why.contains("unicast peers") && why.contains("PASS authentication"),
            "{why}"
        );
        // Nothing was built: no capture, no history.
        assert!(!r.out_dir.join("capture.pcap").exists());
        assert!(r.events.is_empty());
        assert_eq!(verdict_json(r)["not_applicable"], why);
    }
    let summary = std::fs::read_to_string(tmp.path().join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("{} n/a", seed.len())),
        "{summary}"
    );
    assert!(summary.contains("Not applicable"), "{summary}");
    assert!(summary.contains("frr has no unicast peers"), "{summary}");
    let junit = std::fs::read_to_string(tmp.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains(&format!("skipped=\"{}\"", seed.len())),
        "{junit}"
    );
}

#[test]
fn driver_file_daemon_runs_a_scenario_end_to_end() {
    require_keepalived();
    let file = repo().join("examples/drivers/debian-keepalived.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    // The README's worked example is this very file.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(text.trim()),
        "README's driver-file example differs from {}",
        file.display()
    );
    let d = FileDriver::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::new(vec![d]);
    let jobs = plan(
        &["scenarios/seed/01-clean-stop-master.toml"],
        &["debian-keepalived"],
        &registry,
    );
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    let (r, rec) = &runs[0];
    assert_eq!(rec.status(), Status::Pass, "{}", explain(r, rec));
    assert_eq!(r.daemon, "debian-keepalived");
    let conf = std::fs::read_to_string(r.out_dir.join("node1/keepalived.conf")).unwrap();
    assert!(
        conf.contains("auth_pass 1111") && conf.contains("unicast_peer"),
        "{conf}"
    );
    // It is the same configuration the built-in driver writes for Debian's keepalived.
    let builtin = vrrplab::daemons::keepalived::render_keepalived(
        &scenario("scenarios/seed/01-clean-stop-master.toml").nodes[0],
        None,
        true,
    );
    let body = |t: &str| -> Vec<String> {
        t.lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && !l.starts_with("global_defs") && !l.starts_with("router_id")
            })
            .map(String::from)
            .collect()
    };
    let builtin_body: Vec<String> = body(&builtin).into_iter().skip(1).collect();
    assert_eq!(
        body(&conf),
        builtin_body,
        "rendered:\n{conf}\nbuilt-in:\n{builtin}"
    );
}

#[test]
fn rolling_migration_passes_mixed_and_history_names_each_nodes_daemon() {
    require_keepalived();
    let registry = Registry::default();
    let jobs = plan(
        &["scenarios/mixed/rolling-keepalived-to-vrrpd.toml"],
        &["vrrpd"],
        &registry,
    );
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    let (r, rec) = &runs[0];
    assert_eq!(rec.status(), Status::Pass, "{}", explain(r, rec));
    assert_eq!(r.daemon, "node1=keepalived→vrrpd,node2=keepalived→vrrpd");
    let summary = std::fs::read_to_string(tmp.path().join("summary.md")).unwrap();
    assert!(summary.contains("node1=keepalived→vrrpd"), "{summary}");
    // Which daemon ran where, in order, from the history itself.
    let started: Vec<(String, String)> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Daemon {
                node, what, detail, ..
            } if *what == DaemonEvent::Started => Some((
                node.clone(),
                detail.split_whitespace().next().unwrap_or("").to_string(),
            )),
            _ => None,
        })
        .collect();
    let want = [
        ("node1", "keepalived"),
        ("node2", "keepalived"),
        ("node2", "vrrpd"),
        ("node1", "vrrpd"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect();
    assert_eq!(started, want);
    let v = verdict_json(r);
    let per_node: Vec<String> = v["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}={}",
                d["node"].as_str().unwrap(),
                d["daemon"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        per_node,
        [
            "node1=keepalived",
            "node1=vrrpd",
            "node2=keepalived",
            "node2=vrrpd"
        ]
    );
    // Each node's folder holds the configuration of both daemons it ran.
    for node in ["node1", "node2"] {
        assert!(r.out_dir.join(node).join("keepalived.conf").exists());
        assert!(r.out_dir.join(node).join("vrrpd.toml").exists());
    }
}

#[test]
fn per_node_daemons_from_the_command_line() {
    require_keepalived();
    let registry = Registry::default();
    let jobs = plan(
        &["scenarios/preempt-higher-returns.toml"],
        &["node1=keepalived", "node2=vrrpd"],
        &registry,
    );
    assert_eq!(jobs.len(), 1);
    let tmp = tempfile::tempdir().unwrap();
    let runs = run_and_report(&jobs, tmp.path());
    let (r, rec) = &runs[0];
    assert_eq!(r.daemon, "node1=keepalived,node2=vrrpd");
    assert_eq!(rec.status(), Status::Pass, "{}", explain(r, rec));
    assert!(r.out_dir.join("node1/keepalived.conf").exists());
    assert!(r.out_dir.join("node2/vrrpd.toml").exists());
}
