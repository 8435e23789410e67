//! Without sudo: the suite's lab tests (through the cargo runner ci/userns-runner) and
//! `vrrplab run` (which enters a user namespace itself) pass as an unprivileged user,
//! and every file they write belongs to that user. Needs root, to become `nobody` with a
//! temporary HOME and a copy of the test build it owns.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The unprivileged user the test becomes (`nobody`).
const NOBODY: u32 = 65534;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The newest test binary named `<stem>-<hash>` next to this one.
fn test_binary(deps: &Path, stem: &str) -> PathBuf {
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.strip_prefix(&format!("{stem}-"))
                .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!("no {stem} test binary in {}: build the suite first (`cargo test --workspace --no-run`)", deps.display())
        })
}

/// Copies `from` into `dir`, keeping its name and mode; returns the copy.
fn copy_into(from: &Path, dir: &Path) -> PathBuf {
    let to = dir.join(from.file_name().unwrap());
    std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    to
}

/// Runs `cmd` as nobody with a clean environment rooted in `home`.
fn as_nobody(home: &Path, cmd: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new("setpriv")
        .args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".into(),
        ])
        .args([
            "env",
            "-i",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ])
        .arg(format!("HOME={}", home.display()))
        .arg(format!("TMPDIR={}", home.join("tmp").display()))
        .arg(format!("CARGO_HOME={}", home.join(".cargo").display()))
        .args(cmd)
        .current_dir(repo())
        .output()
        .expect("setpriv (util-linux)");
    eprintln!(
        "as nobody: {cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file and folder under `dir` with an owner other than `uid`, and how many
/// there are in all.
fn foreign_files(dir: &Path, uid: u32) -> (Vec<PathBuf>, usize) {
    let (mut foreign, mut all) = (Vec::new(), 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            all += 1;
            if m.uid() != uid {
                foreign.push(p.clone());
            }
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    (foreign, all)
}

#[test]
fn lab_tests_and_vrrplab_run_pass_as_an_unprivileged_user() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root to become nobody: {}",
        vrrplab::lab::privilege::NEEDS_ROOT
    );
    let probe = Command::new("setpriv")
        .args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".into(),
        ])
        .args(["unshare", "--map-root-user", "--net", "true"])
        .status()
        .expect("setpriv");
    assert!(probe.success(), "{}", vrrplab::lab::userns::blocked_line());

    // A private copy of the test build, owned by nobody: target/debug/{deps/,vrrpd,...}.
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("target/debug");
    let deps = target.join("deps");
    std::fs::create_dir_all(&deps).unwrap();
    std::fs::create_dir_all(home.path().join("tmp")).unwrap();
    let here = std::env::current_exe().unwrap();
    let real_deps = here.parent().unwrap();
    let real_debug = real_deps.parent().unwrap();
    let vrrplab = copy_into(Path::new(env!("CARGO_BIN_EXE_vrrplab")), &target);
    for bin in ["vrrpd", "vrrpd-nc"] {
        copy_into(&real_debug.join(bin), &target);
    }
    // The lab's own tests, keepalived beside vrrpd (interop), and the bundled daemon's
    // end-to-end tests that exercise start, SIGTERM, SIGKILL, restart and raw packets
    // (the minute-long lease-expiry ones run in the root suite only).
    let suites: [(&str, &[&str]); 3] = [
        ("lab", &[]),
        ("interop", &[]),
        (
            "vrrpd_e2e",
            &[
                "elects_higher_priority_and_hands_over_on_sigterm",
                "restart_after_sigkill_removes_vip_dropped_from_config",
                "hostile_packets_change_nothing_and_are_counted",
            ],
        ),
    ];
    let tests: Vec<(PathBuf, &[&str])> = suites
        .iter()
        .map(|(stem, filters)| (copy_into(&test_binary(real_deps, stem), &deps), *filters))
        .collect();
    Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(home.path())
        .status()
        .unwrap();

    // 1. The lab tests, through the cargo runner, as cargo would start them.
    let runner = repo().join("ci/userns-runner");
    for (bin, filters) in &tests {
        let mut cmd = vec![runner.as_os_str(), bin.as_os_str()];
        cmd.extend(filters.iter().map(std::ffi::OsStr::new));
        let out = as_nobody(home.path(), &cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("test result: ok"),
            "{} failed as nobody",
            bin.display()
        );
        // Every named test ran (a renamed test must not pass by matching nothing).
        for f in filters.iter() {
            assert!(
                stdout.contains(&format!("test {f} ... ok")),
                "{f} did not run"
            );
        }
    }

    // 2. `vrrplab run` enters a user namespace by itself: vrrpd and keepalived.
    let out_dir = home.path().join("out");
    let out = as_nobody(
        home.path(),
        &[
            vrrplab.as_os_str(),
            "run".as_ref(),
            repo()
                .join("scenarios/seed/01-clean-stop-master.toml")
                .as_os_str(),
            "--daemon".as_ref(),
            "vrrpd,keepalived".as_ref(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "vrrplab run as nobody");
    for d in ["vrrpd", "keepalived"] {
        let run = out_dir.join("01-clean-stop-master").join(d);
        assert!(
            run.join("capture.pcap").is_file() && run.join("report.html").is_file(),
            "{}",
            run.display()
        );
    }

    // 3. Everything written belongs to nobody: the build copy, the runs, the temp files.
    let (foreign, all) = foreign_files(home.path(), NOBODY);
    assert!(all > 30, "only {all} files written");
    assert!(foreign.is_empty(), "files not owned by nobody: {foreign:?}");
}
