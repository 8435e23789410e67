//! Helpers shared by the root end-to-end tests.

use std::path::PathBuf;

#[allow(dead_code)] // used by the vrrpd end-to-end files, not by every includer
pub mod vrrpd;

/// The `vrrpd` binary under test: `$VRRPD_BIN` if set, else `vrrpd` next to the test
/// executable's directory (`target/debug/deps/../vrrpd`).
///
/// Cargo builds that binary for `cargo test --workspace` (the daemon crate has
/// integration tests), with the `negative-controls` feature the root dev-dependency
/// turns on. When running one root test alone, build it first:
/// `cargo build -p vrrpd --features negative-controls`.
#[allow(dead_code)] // not every test file that includes this module starts vrrpd itself
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

/// The `vrrpd-nc` binary (vrrpd with its negative controls compiled in), found like
/// [`vrrpd_binary`]; `$VRRPD_NC_BIN` overrides. Cargo builds it for test builds only.
#[allow(dead_code)] // used where negative controls run
pub fn vrrpd_nc_binary() -> PathBuf {
    vrrplab::daemons::vrrpd_nc_binary().unwrap_or_else(|e| panic!("{e:#}"))
}

/// Panics with instructions unless [`vrrpd_nc_binary`] accepts `--misbehave` (was built
/// with the `negative-controls` feature, as `cargo test --workspace` does).
#[allow(dead_code)] // used where negative controls run
pub fn require_negative_controls() {
    let bin = vrrpd_nc_binary();
    // A directory of its own per call: tests of one binary run this in parallel.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let cfg = dir.path().join("probe.toml");
    std::fs::write(
        &cfg,
        "[[instance]]\nname = \"p\"\ninterface = \"eth1\"\nvrid = 1\nvips = [\"192.0.2.20\"]\n",
    )
    .unwrap_or_else(|e| panic!("write {}: {e}", cfg.display()));
    let out = std::process::Command::new(&bin)
        .args(["--check", "--misbehave", "no-lease", "--config"])
        .arg(&cfg)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{} lacks negative controls ({}): run `cargo build -p vrrpd --features negative-controls` \
             (or `cargo test --workspace`) first, or set VRRPD_NC_BIN",
            bin.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run {}: {e}", bin.display()),
    }
}

/// A vrrpd TOML `[[instance]]` block on eth1 at a 1 s interval.
#[allow(dead_code)] // used by the vrrpd end-to-end files, not by every includer
pub fn instance(name: &str, vrid: u8, priority: u8, extra: &str, vips: &[&str]) -> String {
    let vips: Vec<String> = vips.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        "[[instance]]\nname = \"{name}\"\ninterface = \"eth1\"\nvrid = {vrid}\npriority = {priority}\n\
         advert_interval = \"1s\"\nvips = [{}]\n{extra}\n",
        vips.join(", ")
    )
}

/// This test process's own artifact folder under `target/tmp/<kind>/` (kept for
/// inspection after a failure), so two `cargo test` runs in one checkout never share pid
/// files or artifacts. One per process: every call returns the same folder.
#[allow(dead_code)] // used by the scenario-running files, not by every includer
pub fn process_out_dir(kind: &str) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(kind);
        std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
        tempfile::Builder::new()
            .prefix(&format!("run-{}-", std::process::id()))
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
            .keep()
    })
    .clone()
}
