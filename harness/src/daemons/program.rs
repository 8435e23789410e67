//! Finding a daemon's program and asking it for its version, with errors that say what
//! to do. Nothing here starts a lab.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::scenario::Version;

/// How long `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that `path` is a regular file with an execute bit.
pub fn executable(path: &Path) -> Result<PathBuf> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a file", path.display());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        bail!("{}: not executable (chmod +x it)", path.display());
    }
    Ok(path.to_path_buf())
}

/// The first file named `name` on PATH, then in /usr/sbin and /sbin.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs `program --version` (or the given arguments) and finds the version in what it
/// prints on stdout and stderr. A program that hangs is killed after a few seconds.
pub fn read_version(program: &Path, args: &[&str]) -> Result<Version> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {} {}", program.display(), args.join(" ")))?;
    let until = Instant::now() + VERSION_TIMEOUT;
    loop {
        if child.try_wait().context("wait")?.is_some() {
            break;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} {} did not finish within {VERSION_TIMEOUT:?}",
                program.display(),
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut text = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut text);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    Version::find_in(&text).ok_or_else(|| {
        let first = text.lines().next().unwrap_or("").trim();
        anyhow!(
            "cannot read a version from `{} {}` (it printed {:?})",
            program.display(),
            args.join(" "),
            first
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn versions_are_read_from_stdout_or_stderr() {
        let d = tempfile::tempdir().unwrap();
        let k = script(
            d.path(),
            "k",
            "#!/bin/sh\necho 'Keepalived v1.2.13 (11/30,2026)' >&2\n",
            0o755,
        );
        assert_eq!(read_version(&k, &["--version"]).unwrap().to_string(), "1.2.13");
        let bad = script(d.path(), "b", "#!/bin/sh\necho hello\n", 0o755);
        let e = read_version(&bad, &["--version"]).unwrap_err().to_string();
        assert!(e.contains("cannot read a version"), "{e}");
        assert!(e.contains("hello"), "{e}");
    }

    #[test]
    fn non_executables_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = script(d.path(), "k", "#!/bin/sh\n", 0o644);
        let e = executable(&p).unwrap_err().to_string();
        assert!(e.contains("not executable"), "{e}");
        assert!(executable(&d.path().join("missing")).is_err());
        assert!(executable(d.path()).unwrap_err().to_string().contains("not a file"));
    }
}
