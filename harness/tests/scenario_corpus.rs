//! The scenario catalogue and the malformed corpus, checked through the real
//! `vrrplab check` command.
//!
//! Every file in `tests/malformed/` holds exactly one mistake and starts with
//! `# expect: LINE:COL: SUBSTRING`; `vrrplab check FILE` must exit 2 and print exactly
//! one stderr line `FILE:LINE:COL: ...` containing SUBSTRING.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

fn vrrplab(args: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vrrplab"))
        .arg("check")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run vrrplab")
}

fn malformed_files() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/malformed exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            p.strip_prefix(repo_root())
                .expect("under the repo")
                .to_path_buf()
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_big_enough() {
    assert!(malformed_files().len() >= 18, "{:?}", malformed_files());
}

#[test]
fn every_malformed_file_gives_one_precise_error() {
    let mut failures = Vec::new();
    for file in malformed_files() {
        let text = std::fs::read_to_string(repo_root().join(&file)).expect("read");
        let first = text.lines().next().unwrap_or_default();
        let expect = first
            .strip_prefix("# expect: ")
            .unwrap_or_else(|| panic!("{}: first line is not `# expect: ...`", file.display()));
        let mut parts = expect.splitn(3, ':');
        let (line, col, substring) = match (parts.next(), parts.next(), parts.next()) {
            (Some(l), Some(c), Some(s)) => (l.trim(), c.trim(), s.trim()),
            _ => panic!("{}: bad expect line {expect:?}", file.display()),
        };
        let out = vrrplab(&[&file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let prefix = format!("{}:{line}:{col}:", file.display());
        let lines: Vec<&str> = stderr.lines().collect();
        let ok = out.status.code() == Some(2)
            && lines.len() == 1
            && lines[0].starts_with(&prefix)
            && lines[0].contains(substring)
            && out.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: want exit 2 and `{prefix} ...{substring}...`, got exit {:?} and stderr {stderr:?}",
                file.display(),
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn catalogue_passes_check() {
    let out = vrrplab(&[Path::new("scenarios/")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    for line in stdout.lines() {
        assert!(line.starts_with("ok scenarios/"), "{line}");
        assert!(line.ends_with(" steps)"), "{line}");
    }
    assert!(stdout.contains("ok scenarios/seed/02-sigkill-master.toml ("));
    assert!(stdout.lines().count() >= 17, "{stdout}");
}

#[test]
fn a_bad_file_among_good_ones_fails_the_run() {
    let out = vrrplab(&[
        Path::new("scenarios/seed/01-clean-stop-master.toml"),
        Path::new("tests/malformed/vrid-zero.toml"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok scenarios/seed/01-clean-stop-master.toml ("));
}

#[test]
fn missing_path_is_bad_input() {
    let out = vrrplab(&[Path::new("scenarios/does-not-exist.toml")]);
    assert_eq!(out.status.code(), Some(2));
}
