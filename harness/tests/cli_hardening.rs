//! What hostile testing broke in the `vrrplab` command (issue 13): counts of zero,
//! duplicate scenario names, and signals during `vrrplab run` (the last need root and
//! the `vrrpd` binary: `cargo build --workspace` first).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn vrrplab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vrrplab"))
}

const SCENARIO: &str = "[[steps]]\nstart = \"all\"\n";

/// Item 14: `--jobs 0` and `--repeat 0` are errors (exit 2), not silently 1.
#[test]
fn zero_jobs_or_repeat_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    for flag in ["--jobs", "--repeat"] {
        let out = vrrplab()
            .args(["run", flag, "0", "--out"])
            .arg(dir.path().join("out"))
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} 0: {stderr}");
        assert!(stderr.contains("must be at least 1"), "{flag} 0: {stderr}");
        assert!(!dir.path().join("out").exists());
    }
}

/// Item 10: two scenarios with one name in different folders would share an artifact
/// folder; the run refuses them (exit 2) and names both files.
#[test]
fn duplicate_scenario_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        std::fs::write(
            dir.path().join(sub).join("s.toml"),
            format!("name = \"same\"\n{SCENARIO}"),
        )
        .unwrap();
    }
    let out = vrrplab()
        .args(["run", "--out"])
        .arg(dir.path().join("out"))
        .arg(dir.path().join("a"))
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("are both named \"same\"") && stderr.contains("a/s.toml"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Item 11: signals during `vrrplab run` (root)

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests build network namespaces: run them as root (sudo -E cargo test)"
    );
}

/// A scenario that elects, then holds for two minutes: long enough to interrupt.
const LONG: &str = "name = \"interrupt-me\"\n[[steps]]\nstart = \"all\"\n[[steps]]\n\
    wait = \"converged\"\n[[steps]]\nhold = \"120s\"\n";

/// Sets SIGINT to ignored in the child before exec, as a non-interactive shell does
/// for `cmd &`.
fn ignore_sigint(cmd: &mut Command) {
    use nix::sys::signal::{signal, SigHandler, Signal};
    let ignore = || {
        // SAFETY: setting SIG_IGN installs no handler code, so no handler can observe
        // inconsistent state; signal(2) is async-signal-safe between fork and exec.
        unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) }
            .map(|_| ())
            .map_err(std::io::Error::from)
    };
    // SAFETY: between fork and exec the closure only calls signal(2), which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(ignore);
    }
}

struct Run {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn start(ignored: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("interrupt-me.toml");
    std::fs::write(&file, LONG).unwrap();
    let out = dir.path().join("out");
    let mut cmd = vrrplab();
    cmd.args(["run", "--daemon", "vrrpd", "--jobs", "1", "--out"])
        .arg(&out)
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if ignored {
        ignore_sigint(&mut cmd);
    }
    Run {
        child: cmd.spawn().unwrap(),
        out,
        _dir: dir,
    }
}

/// Polls until `path` holds `needle`, or panics after `within`.
fn wait_for_text(path: &Path, needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never held {needle:?}", path.display());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::Output {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        panic!("vrrplab did not exit within {within:?} of the signal");
    }
    let mut out = std::process::Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut out.stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut out.stderr);
    }
    out
}

fn interrupt_once(ignored: bool) {
    require_root();
    let mut run = start(ignored);
    let art = run.out.join("interrupt-me").join("vrrpd");
    // Elected: node1 (the higher priority) reports MASTER.
    wait_for_text(
        &art.join("node1/state.json"),
        "MASTER",
        Duration::from_secs(60),
    );
    let pid = nix::unistd::Pid::from_raw(run.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = wait_exit(&mut run.child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let verdict = std::fs::read_to_string(art.join("verdict.json"))
        .unwrap_or_else(|e| panic!("no verdict.json ({e}):\n{stderr}"));
    assert!(verdict.contains("interrupted"), "{verdict}");
    let history = std::fs::read_to_string(art.join("history.jsonl")).unwrap();
    assert!(
        history.contains("interrupted by a signal during step "),
        "{history}"
    );
    assert!(run.out.join("summary.md").exists());
    for node in ["node1", "node2"] {
        let log = std::fs::read_to_string(art.join(node).join("daemon.log")).unwrap();
        assert!(
            log.contains("vrrpd stopped"),
            "{node}'s vrrpd was not stopped cleanly:\n{log}"
        );
    }
}

#[test]
fn sigint_stops_judges_and_writes_artifacts() {
    interrupt_once(false);
}

/// Started with SIGINT ignored (a script's `vrrplab run &`), Ctrl-C still stops it.
#[test]
fn sigint_works_even_when_ignored_by_the_parent() {
    interrupt_once(true);
}

/// A second SIGINT aborts at once, with the same exit code.
#[test]
fn second_sigint_aborts() {
    require_root();
    let mut run = start(false);
    let art = run.out.join("interrupt-me").join("vrrpd");
    wait_for_text(
        &art.join("node1/state.json"),
        "MASTER",
        Duration::from_secs(60),
    );
    let pid = nix::unistd::Pid::from_raw(run.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = wait_exit(&mut run.child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("aborting"), "{stderr}");
}
