//! The health check a scenario node tracks (`track` in a scenario): the files and the
//! service process it uses in the node's directory, and the keepalived.conf lines that
//! make a daemon track it. The `break-check` / `repair-check` faults
//! ([`crate::run`]) act on the same paths.
//!
//! Both daemons get the same keepalived.conf lines (vrrpd reads keepalived.conf), so a
//! tracking scenario compares them on one configuration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::lab::process::ProcessSpec;
use crate::scenario::{Track, TrackKind};

/// The tracked service's process name (`/proc/PID/comm`).
pub const SERVICE_NAME: &str = "vrrplab-svc";

/// The interface a `track = "interface"` node tracks (the lab link stays up).
pub const TRACKED_INTERFACE: &str = "lo";

/// The check script (`track = "script"`): fails while [`flag_path`] exists.
pub fn script_path(dir: &Path) -> PathBuf {
    dir.join("check.sh")
}

/// The file whose existence makes the check script fail.
pub fn flag_path(dir: &Path) -> PathBuf {
    dir.join("check-broken")
}

/// The tracked file (`track = "file"`): `0` healthy, `1` broken.
pub fn value_path(dir: &Path) -> PathBuf {
    dir.join("track-value")
}

/// The service binary (a copy of `sleep` under [`SERVICE_NAME`]).
pub fn service_path(dir: &Path) -> PathBuf {
    dir.join(SERVICE_NAME)
}

/// Writes what the check needs, healthy. Scripts and the service are root-owned and
/// not writable by others (the harness runs as root), as both daemons demand.
pub fn prepare(track: &Track, dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", p.display()))
    };
    match track.kind {
        TrackKind::Script => {
            let script = script_path(dir);
            std::fs::write(
                &script,
                format!("#!/bin/sh\ntest ! -e '{}'\n", flag_path(dir).display()),
            )
            .with_context(|| format!("write {}", script.display()))?;
            mode(&script)?;
        }
        TrackKind::File => {
            let f = value_path(dir);
            if !f.exists() {
                std::fs::write(&f, "0\n").with_context(|| format!("write {}", f.display()))?;
            }
        }
        TrackKind::Process => {
            let svc = service_path(dir);
            if !svc.exists() {
                let sleep = ["/usr/bin/sleep", "/bin/sleep"]
                    .into_iter()
                    .find(|p| Path::new(p).is_file())
                    .context("no sleep binary for the tracked service")?;
                std::fs::copy(sleep, &svc)
                    .with_context(|| format!("copy {sleep} to {}", svc.display()))?;
                mode(&svc)?;
            }
        }
        TrackKind::Interface => {}
    }
    Ok(())
}

/// How to start the tracked service inside the node.
pub fn service_spec(dir: &Path) -> ProcessSpec {
    ProcessSpec {
        program: service_path(dir),
        args: vec!["infinity".into()],
        env: Vec::new(),
        log: dir.join("service.log"),
    }
}

/// The keepalived.conf text for the check: top-level definitions, and the lines for
/// inside `vrrp_instance`.
pub fn keepalived_lines(track: &Track, dir: &Path) -> (String, String) {
    let w = track.weight;
    let mut defs = String::new();
    let inst = match track.kind {
        TrackKind::Script => {
            let _ = writeln!(
                defs,
                "vrrp_script chk {{\n    script \"{}\"\n    interval 1\n    timeout 1\n    rise 1\n    fall 1\n    weight {w}\n}}\n",
                script_path(dir).display()
            );
            "    track_script {\n        chk\n    }\n".to_string()
        }
        TrackKind::Process => {
            let _ = writeln!(
                defs,
                "vrrp_track_process svc {{\n    process {SERVICE_NAME}\n    weight {w}\n}}\n"
            );
            "    track_process {\n        svc\n    }\n".to_string()
        }
        TrackKind::File => {
            let _ = writeln!(
                defs,
                "vrrp_track_file tf {{\n    file {}\n    weight {w}\n}}\n",
                value_path(dir).display()
            );
            "    track_file {\n        tf\n    }\n".to_string()
        }
        TrackKind::Interface => {
            format!("    track_interface {{\n        {TRACKED_INTERFACE} weight {w}\n    }}\n")
        }
    };
    (defs, inst)
}
