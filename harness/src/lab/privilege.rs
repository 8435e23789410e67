//! The privilege check every root-only test and command starts with.

/// The one line a privileged test prints when it cannot run.
pub const NEEDS_ROOT: &str =
    "needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN) or a user namespace: run the README's test \
     command `ci/test.sh` (cargo test through ci/userns-runner), or `sudo -E cargo test`";

/// Whether this process runs as root (the lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Fails (panics, in a test) with one clear line when not root. Never a silent pass.
pub fn require_root() {
    assert!(is_root(), "{NEEDS_ROOT}");
}

/// For commands: an error carrying [`NEEDS_ROOT`] when not root.
pub fn require_root_cli() -> anyhow::Result<()> {
    if is_root() {
        Ok(())
    } else {
        anyhow::bail!("{NEEDS_ROOT}")
    }
}
