//! Helpers shared by the root end-to-end tests.

use std::path::PathBuf;

/// The `vrrpd` binary under test: `$VRRPD_BIN` if set, else `vrrpd` next to the test
/// executable's directory (`target/debug/deps/../vrrpd`).
///
/// Cargo builds that binary for `cargo test --workspace` (the daemon crate has
/// integration tests), with the `negative-controls` feature the root dev-dependency
/// turns on. When running one root test alone, build it first:
/// `cargo build -p vrrpd --features negative-controls`.
pub fn vrrpd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("VRRPD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("vrrpd"))
        .unwrap_or_else(|| PathBuf::from("vrrpd"))
}
