//! The JSON state file (`--state-file`): what every instance is doing, for operators
//! and for the harness. Rewritten atomically (write a temporary file next to it, then
//! rename) so a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::rx::DropCounters;
use crate::instance::Counters;

/// The whole file.
#[derive(Debug, Clone, Serialize)]
pub struct StateFile {
    /// The daemon's process id.
    pub pid: u32,
    /// Whether the daemon is shutting down (the last write before exit says `true`).
    pub stopping: bool,
    /// Every instance, in configuration order.
    pub instances: Vec<InstanceState>,
    /// Packets dropped before an instance could be chosen, plus all per-instance drops.
    pub drops: DropCounters,
    /// Packets the daemon failed to send.
    pub send_errors: u64,
    /// VIP operations (netlink) that failed.
    pub vip_errors: u64,
    /// Notify commands refused by the ownership/mode check.
    pub notify_refused: u64,
}

/// One instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceState {
    /// Instance name.
    pub name: String,
    /// VRRP interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// `INIT`, `BACKUP`, `MASTER`, `FAULT` or `STOP`.
    pub state: &'static str,
    /// Priority in use.
    pub priority: u8,
    /// The current Master's address, if known.
    pub master: Option<String>,
    /// The virtual addresses.
    pub vips: Vec<String>,
    /// Protocol counters of the state machine.
    pub counters: Counters,
    /// Drops attributed to this instance (its VRID was known).
    pub drops: DropCounters,
}

/// The temporary file written before the rename: `<path>.tmp` in the same directory,
/// so the rename cannot cross file systems.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Serialises `state` (pretty JSON plus a newline).
pub fn render(state: &StateFile) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(state)?;
    out.push(b'\n');
    Ok(out)
}

/// Writes `bytes` to `path` atomically, without ever writing through a link.
///
/// The temporary file is created with `O_CREAT | O_EXCL | O_NOFOLLOW` (a planted
/// symlink or file at `<path>.tmp` is unlinked — which removes the link, not its
/// target — and creation retried once; if something is planted again the write fails),
/// then renamed over `path`; `rename` replaces a symlink at `path` instead of following
/// it. vrrpd runs as root, so this is what keeps a state or pid file path in a
/// writable directory from overwriting another file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let mut file = match create_exclusive(&tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            create_exclusive(&tmp)?
        }
        other => other?,
    };
    let result = file
        .write_all(bytes)
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` as a new regular file (mode 0644), refusing to follow or reuse
/// anything already there.
fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::rx::DropReason;

    fn sample() -> StateFile {
        let mut drops = DropCounters::default();
        drops.bump(DropReason::BadTtl);
        StateFile {
            pid: 42,
            stopping: false,
            instances: vec![InstanceState {
                name: "VI_1".into(),
                interface: "eth1".into(),
                vrid: 51,
                family: "ipv4",
                version: 3,
                state: "MASTER",
                priority: 150,
                master: Some("192.0.2.11".into()),
                vips: vec!["192.0.2.20/32".into()],
                counters: Counters::default(),
                drops: DropCounters::default(),
            }],
            drops,
            send_errors: 0,
            vip_errors: 0,
            notify_refused: 0,
        }
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_slice(&render(&sample()).unwrap()).unwrap();
        assert_eq!(v["pid"], 42);
        assert_eq!(v["drops"]["bad_ttl"], 1);
        assert_eq!(v["drops"]["bad_checksum"], 0);
        let i = &v["instances"][0];
        assert_eq!(i["name"], "VI_1");
        assert_eq!(i["interface"], "eth1");
        assert_eq!(i["vrid"], 51);
        assert_eq!(i["family"], "ipv4");
        assert_eq!(i["state"], "MASTER");
        assert_eq!(i["priority"], 150);
        assert_eq!(i["master"], "192.0.2.11");
        assert_eq!(i["counters"]["adverts_sent"], 0);
        assert_eq!(i["drops"]["bad_auth"], 0);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one\n").unwrap();
        write_atomic(&path, b"two\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
        assert!(!tmp_path(&path).exists());
    }

    /// Issue 13 item 4: links planted at the temporary and at the final path are
    /// replaced, never written through.
    #[test]
    fn planted_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious\n").unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, tmp_path(&path)).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomic(&path, b"state\n").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&path).unwrap(), b"state\n");
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn failed_write_reports_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("state.json");
        assert!(write_atomic(&path, b"x").is_err());
    }
}
