//! The GitHub workflow and the composite action: both parse and have what a runner needs
//! (actionlint is not installable from the package registries here), and the action's
//! steps run end to end on this machine through ci/run-action-locally.py (needs root).

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(repo().join(rel)).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

fn s<'a>(y: &'a Yaml, key: &str) -> Option<&'a str> {
    y[key].as_str()
}

/// Every `ci/...` script a `run:` line names exists and is executable.
fn assert_scripts_exist(run: &str) {
    for word in run.split(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        let rel = word.trim_start_matches("$GITHUB_ACTION_PATH/");
        if rel.starts_with("ci/") {
            let p = repo().join(rel);
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&p)
                    .unwrap_or_else(|_| panic!("{rel} is missing"))
                    .permissions(),
            );
            assert!(mode & 0o111 != 0, "{rel} is not executable");
        }
    }
}

#[test]
fn workflow_has_what_a_runner_needs() {
    let wf = load(".github/workflows/ci.yml");
    assert!(s(&wf, "name").is_some());
    // `on:` (yaml-rust2 keeps it a string key; YAML 1.1 tools read it as `true`).
    assert!(!wf["on"].is_badvalue(), "no `on:` trigger");
    let jobs = wf["jobs"].as_hash().expect("jobs");
    let shards: usize = wf["env"]["SHARDS"].as_i64().expect("env.SHARDS") as usize;
    let mut all_runs = String::new();
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        assert!(s(job, "runs-on").is_some(), "job {name}: runs-on");
        assert!(
            job["timeout-minutes"].as_i64().is_some(),
            "job {name}: timeout"
        );
        if let Some(needs) = s(job, "needs") {
            assert!(
                jobs.contains_key(&Yaml::String(needs.into())),
                "job {name} needs {needs}"
            );
        }
        if let Some(m) = job["strategy"]["matrix"]["shard"].as_vec() {
            let ks: Vec<i64> = m.iter().map(|k| k.as_i64().unwrap()).collect();
            assert_eq!(
                ks,
                (1..=shards as i64).collect::<Vec<_>>(),
                "job {name}: shard matrix"
            );
        }
        for step in job["steps"].as_vec().expect("steps") {
            let (uses, run) = (s(step, "uses"), s(step, "run"));
            assert!(
                uses.is_some() != run.is_some(),
                "job {name}: a step needs uses or run: {step:?}"
            );
            if let Some(u) = uses {
                assert!(u.contains('@'), "job {name}: unpinned action {u}");
            }
            if let Some(r) = run {
                assert_scripts_exist(r);
                all_runs.push_str(r);
                all_runs.push('\n');
            }
        }
    }
    for must in [
        "cargo nextest archive",
        "--archive-file",
        "--partition slice:${{ matrix.shard }}/${{ env.SHARDS }}",
        "sudo -E",
        "GITHUB_STEP_SUMMARY",
        "--shard ${{ matrix.shard }}/${{ env.SHARDS }}",
        "vrrplab report merge",
    ] {
        assert!(all_runs.contains(must), "the workflow never runs {must:?}");
    }
    let text = std::fs::read_to_string(repo().join(".github/workflows/ci.yml")).unwrap();
    assert!(text.contains("actions/upload-artifact@"), "no artifacts");
    assert!(text.contains("junit.xml"), "no JUnit artifact");
    let nextest = std::fs::read_to_string(repo().join(".config/nextest.toml")).unwrap();
    assert!(
        nextest.contains("[profile.ci.junit]"),
        "nextest writes no JUnit"
    );
}

#[test]
fn action_has_what_a_runner_needs() {
    let a = load("action.yml");
    for k in ["name", "description"] {
        assert!(s(&a, k).is_some(), "action.yml: {k}");
    }
    assert_eq!(s(&a["runs"], "using"), Some("composite"));
    let inputs = a["inputs"].as_hash().expect("inputs");
    for k in ["daemon", "scenarios", "out"] {
        let i = &a["inputs"][k];
        assert!(s(i, "description").is_some(), "input {k}: description");
        assert!(!i["default"].is_badvalue(), "input {k}: default");
    }
    let steps = a["runs"]["steps"].as_vec().expect("steps");
    let ids: Vec<&str> = steps.iter().filter_map(|st| s(st, "id")).collect();
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    // Every expression names a real input or step.
    for expr in text.split("${{").skip(1) {
        let e = expr.split("}}").next().unwrap().trim();
        if let Some(i) = e.strip_prefix("inputs.") {
            assert!(
                inputs.contains_key(&Yaml::String(i.into())),
                "unknown input {i}"
            );
        } else if let Some(st) = e.strip_prefix("steps.") {
            let id = st.split('.').next().unwrap();
            assert!(ids.contains(&id), "unknown step id {id}");
        }
    }
    let mut uploads = 0;
    for st in steps {
        if let Some(run) = s(st, "run") {
            assert!(
                s(st, "shell").is_some(),
                "composite run steps need a shell: {st:?}"
            );
            assert_scripts_exist(run);
        } else {
            let u = s(st, "uses").expect("uses or run");
            if u.starts_with("actions/upload-artifact@") {
                uploads += 1;
                assert_eq!(
                    s(st, "if"),
                    Some("always()"),
                    "the report uploads even on failure"
                );
            }
        }
    }
    assert_eq!(uploads, 1);
    // The last step turns a failed verdict into a failed job.
    assert!(s(steps.last().unwrap(), "run")
        .unwrap()
        .contains("verdict.sh"));
}

/// Runs action.yml's steps through ci/run-action-locally.py with the test build's
/// binaries; returns (exit code, combined output, work dir).
fn run_action(daemon: &str) -> (Option<i32>, String, tempfile::TempDir) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{}",
        vrrplab::lab::privilege::NEEDS_ROOT
    );
    let work = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_vrrplab")).parent().unwrap();
    let scenario = repo().join("scenarios/seed/01-clean-stop-master.toml");
    let out = Command::new("python3")
        .arg(repo().join("ci/run-action-locally.py"))
        .args(["--input", &format!("daemon={daemon}")])
        .args(["--input", &format!("scenarios={}", scenario.display())])
        .args(["--input", "out=report"])
        .arg("--workdir")
        .arg(work.path())
        .env("VRRPLAB_ACTION_BIN_DIR", bin_dir)
        .output()
        .expect("python3 (with PyYAML: apt-get install python3-yaml)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{text}");
    (out.status.code(), text, work)
}

#[test]
fn action_steps_run_locally_and_fail_on_a_failed_verdict() {
    let (code, text, work) = run_action("vrrpd");
    assert_eq!(code, Some(0), "{text}");
    assert!(work.path().join("report/index.html").is_file());
    assert!(
        work.path()
            .join("artifacts/vrrplab-report/index.html")
            .is_file(),
        "uploaded"
    );
    assert!(
        text.contains("| 01-clean-stop-master"),
        "summary table in the job summary"
    );

    // A daemon the scenario catches: the job fails, the summary and report still exist.
    let (code, text, work) = run_action("vrrpd:no-priority-zero");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL"), "{text}");
    assert!(work
        .path()
        .join("artifacts/vrrplab-report/01-clean-stop-master/vrrpd_no-priority-zero/report.html")
        .is_file());
}
