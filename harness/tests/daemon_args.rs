//! Bad daemons on the command line, through the real `vrrplab run`: each is a clear
//! error with its location, exit 2, and nothing is built (the output folder is never
//! created). None of these needs root: input is checked before anything else.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

/// Runs `vrrplab run seed/01 --out <tmp>/out ARGS...`; returns stderr, after checking
/// exit 2 and that the output folder was never created.
fn bad_run(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_vrrplab"))
        .arg("run")
        .arg("scenarios/seed/01-clean-stop-master.toml")
        .arg("--out")
        .arg(&out)
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run vrrplab");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!out.exists(), "{args:?} created {}", out.display());
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    p
}

#[test]
fn unknown_daemon() {
    let e = bad_run(&["--daemon", "bird"]);
    assert!(e.contains("unknown daemon \"bird\""), "{e}");
    assert!(e.contains("frr"), "the error lists the known daemons: {e}");
}

#[test]
fn path_that_is_not_executable() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let p = file(tmp.path(), "keepalived", "#!/bin/sh\n", 0o644);
    let e = bad_run(&["--daemon", &format!("keepalived={}", p.display())]);
    assert!(
        e.contains(&format!("{}: not executable", p.display())),
        "{e}"
    );
    let e = bad_run(&["--daemon", "keepalived=/nonexistent/sbin/keepalived"]);
    assert!(e.contains("/nonexistent/sbin/keepalived"), "{e}");
}

#[test]
fn binary_whose_version_cannot_be_read() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let p = file(
        tmp.path(),
        "keepalived",
        "#!/bin/sh\necho 'hello there'\n",
        0o755,
    );
    let e = bad_run(&["--daemon", &format!("keepalived={}", p.display())]);
    assert!(e.contains("cannot read a version"), "{e}");
    assert!(e.contains("hello there"), "says what it printed: {e}");
}

#[test]
fn driver_file_with_an_unknown_key() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let p = file(
        tmp.path(),
        "mine.toml",
        "name = \"mine\"\nprogram = \"/bin/true\"\ntemplate = ''\ncolour = \"red\"\n",
        0o644,
    );
    let e = bad_run(&["--daemon-file", &p.display().to_string()]);
    assert!(e.contains(&format!("{}:4:1: ", p.display())), "{e}");
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn driver_file_template_naming_an_unknown_setting() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let p = file(
        tmp.path(),
        "mine.toml",
        "name = \"mine\"\nprogram = \"/bin/true\"\ntemplate = '''\nvrid {{ vrid }}\nprio {{ prio }}\n'''\n",
        0o644,
    );
    let e = bad_run(&["--daemon-file", &p.display().to_string()]);
    assert!(
        e.contains(&format!(
            "{}:5:9: the template names an unknown setting \"prio\"",
            p.display()
        )),
        "{e}"
    );
}

#[test]
fn bench_refuses_a_bad_keepalived_too() {
    let o = Command::new(env!("CARGO_BIN_EXE_vrrplab"))
        .args([
            "bench",
            "--only",
            "footprint",
            "--daemon",
            "keepalived=/nonexistent/k",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run vrrplab");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/k"));
}
