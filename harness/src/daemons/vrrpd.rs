//! The bundled daemon, configured in its own TOML format; optionally with one negative
//! control switched on (`vrrpd:<misbehaviour>`, the `vrrpd-nc` build).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::caps::{Caps, Feature};
use super::driver::{ConfigFile, Driver, Launch};
use crate::lab::process::ProcessSpec;
use crate::scenario::{InitialState, NodeVrrp, Version, VrrpState};

/// The config file name in a node's directory.
pub const CONFIG: &str = "vrrpd.toml";

/// The bundled daemon.
#[derive(Debug, Clone)]
pub struct Vrrpd {
    /// The negative control switched on, if any.
    pub misbehave: Option<String>,
    program: PathBuf,
    version: Option<Version>,
}

impl Vrrpd {
    /// The bundled daemon (`misbehave`: a negative control, which needs `vrrpd-nc`).
    pub fn new(misbehave: Option<String>) -> Result<Vrrpd> {
        let program = match misbehave {
            None => vrrpd_binary()?,
            Some(_) => vrrpd_nc_binary()?,
        };
        let version = super::program::read_version(&program, &["--version"]).ok();
        Ok(Vrrpd {
            misbehave,
            program,
            version,
        })
    }
}

impl Driver for Vrrpd {
    fn name(&self) -> String {
        match &self.misbehave {
            None => "vrrpd".into(),
            Some(m) => format!("vrrpd:{m}"),
        }
    }

    fn version(&self) -> Option<&Version> {
        self.version.as_ref()
    }

    fn program(&self) -> &Path {
        &self.program
    }

    fn caps(&self) -> Caps {
        Caps::of(&[
            Feature::V2,
            Feature::V3,
            Feature::Ipv6,
            Feature::Unicast,
            Feature::Auth,
            Feature::PreemptDelay,
            Feature::Notify,
        ])
    }

    fn render(&self, node: &NodeVrrp, notify_backup: Option<&Path>) -> Result<Vec<ConfigFile>> {
        Ok(vec![ConfigFile {
            name: CONFIG.into(),
            text: render_vrrpd(node, notify_backup),
        }])
    }

    fn launch(&self, dir: &Path) -> Result<Launch> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--config".into(),
            dir.join(CONFIG).into(),
            "--state-file".into(),
            dir.join("state.json").into(),
            "--pid-file".into(),
            dir.join("vrrpd.pid").into(),
        ];
        if let Some(m) = &self.misbehave {
            args.push("--misbehave".into());
            args.push(m.into());
        }
        Ok(Launch {
            helpers: Vec::new(),
            main: ProcessSpec {
                program: self.program.clone(),
                args,
                env: vec![("VRRPD_LOG".into(), "info".into())],
                log: dir.join("daemon.log"),
            },
        })
    }

    fn reports_state(&self) -> bool {
        true
    }

    fn state(&self, dir: &Path) -> Option<VrrpState> {
        let text = std::fs::read_to_string(dir.join("state.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let s = v
            .get("instances")?
            .as_array()?
            .first()?
            .get("state")?
            .as_str()?
            .to_ascii_uppercase();
        match s.as_str() {
            "MASTER" => Some(VrrpState::Master),
            "BACKUP" => Some(VrrpState::Backup),
            "FAULT" => Some(VrrpState::Fault),
            _ => None,
        }
    }

    fn clear_runtime_files(&self, dir: &Path) {
        let _ = std::fs::remove_file(dir.join("vrrpd.pid"));
    }
}

/// The bundled daemon: `VRRPD_BIN`, else next to the running program (target/debug/vrrplab
/// → target/debug/vrrpd), else one directory up (a test in target/debug/deps).
pub fn vrrpd_binary() -> Result<PathBuf> {
    sibling_binary("vrrpd", "VRRPD_BIN", "cargo build --workspace")
}

/// The bundled daemon with its negative controls compiled in (`vrrpd-nc`, built only with
/// the `negative-controls` feature, which test builds turn on): `VRRPD_NC_BIN`, else found
/// like [`vrrpd_binary`].
pub fn vrrpd_nc_binary() -> Result<PathBuf> {
    sibling_binary(
        "vrrpd-nc",
        "VRRPD_NC_BIN",
        "cargo build --workspace --features vrrpd/negative-controls",
    )
}

fn sibling_binary(name: &str, env: &str, build: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().context("current_exe")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("no parent of {}", exe.display()))?;
    for cand in [dir.join(name), dir.join("..").join(name)] {
        if cand.is_file() {
            return Ok(cand);
        }
    }
    bail!(
        "{name} binary not found next to {}: build it with `{build}` (or set {env})",
        exe.display()
    )
}

fn dur(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// vrrpd's TOML configuration for one node.
pub fn render_vrrpd(node: &NodeVrrp, notify_backup: Option<&Path>) -> String {
    let mut s = String::new();
    if node.vips.is_empty() {
        // The VIPs were taken out of the configuration: nothing left to run.
        return "instance = []\n".into();
    }
    let _ = writeln!(s, "[[instance]]");
    let _ = writeln!(s, "name = \"VI_1\"");
    let _ = writeln!(s, "interface = \"eth1\"");
    let _ = writeln!(s, "vrid = {}", node.vrid);
    let _ = writeln!(s, "version = {}", super::version_num(node.version));
    let _ = writeln!(s, "priority = {}", node.priority);
    let _ = writeln!(s, "advert_interval = \"{}\"", dur(node.advert_interval));
    let _ = writeln!(s, "preempt = {}", node.preempt);
    let _ = writeln!(s, "preempt_delay = \"{}\"", dur(node.preempt_delay));
    let _ = writeln!(
        s,
        "initial_state = \"{}\"",
        match node.initial_state {
            InitialState::Master => "master",
            InitialState::Backup => "backup",
        }
    );
    if let Some(p) = &node.auth_pass {
        let _ = writeln!(s, "auth_pass = {}", toml_str(p));
    }
    let vips: Vec<String> = node
        .vips
        .iter()
        .map(|(a, p)| format!("\"{a}/{p}\""))
        .collect();
    let _ = writeln!(s, "vips = [{}]", vips.join(", "));
    if !node.unicast_peers.is_empty() {
        if node.own_addr.is_ipv4() == node.unicast_peers[0].is_ipv4() {
            let _ = writeln!(s, "unicast_src = \"{}\"", node.own_addr);
        }
        let peers: Vec<String> = node
            .unicast_peers
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect();
        let _ = writeln!(s, "unicast_peers = [{}]", peers.join(", "));
    }
    if node.track_interface {
        let _ = writeln!(s, "track_interfaces = [\"eth1\"]");
    }
    if let Some(p) = notify_backup {
        let _ = writeln!(s, "notify_backup = [{}]", toml_str(&p.to_string_lossy()));
    }
    s
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_vrrpd_config_loads_in_vrrpd() {
        let text = render_vrrpd(
            &super::super::tests::node(),
            Some(Path::new("/x/notify-backup.sh")),
        );
        let cfg = vrrpd::config::parse_toml(&text, "rendered.toml").unwrap();
        assert_eq!(cfg.instances.len(), 1);
        assert_eq!(cfg.instances[0].vrid, 51);
        assert_eq!(cfg.instances[0].unicast_peers.len(), 1);
    }
}
