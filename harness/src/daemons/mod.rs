//! Daemon drivers: how to configure, start, reload and query each daemon under test.
//!
//! - `vrrpd`: the bundled daemon, configured in its own TOML format;
//! - `vrrpd:<misbehaviour>`: the bundled daemon with a negative control switched on;
//! - `keepalived`: Debian's keepalived, configured with a keepalived.conf rendered from the
//!   scenario, run in the foreground with its pid files in the run's own directory.
//!
//! A node with a tracked check ([`track`]) runs both daemons on the same keepalived.conf.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::lab::process::ProcessSpec;
use crate::scenario::{InitialState, NodeVrrp, NotifyAction, VrrpState};

pub mod track;

/// Negative controls of the bundled daemon (built with its `negative-controls` feature).
pub const MISBEHAVIOURS: &[&str] = &[
    "no-lease",
    "no-startup-reconcile",
    "no-release-on-stop",
    "no-priority-zero",
    "keepalived-1.2",
];

/// A daemon under test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Daemon {
    /// The bundled daemon, optionally with a negative control.
    Vrrpd {
        /// The misbehaviour switched on, if any.
        misbehave: Option<String>,
    },
    /// keepalived.
    Keepalived,
}

impl Daemon {
    /// Parses `vrrpd`, `vrrpd:<misbehaviour>` or `keepalived`.
    pub fn parse(name: &str) -> Result<Daemon> {
        match name {
            "vrrpd" => Ok(Daemon::Vrrpd { misbehave: None }),
            "keepalived" => Ok(Daemon::Keepalived),
            other => match other.strip_prefix("vrrpd:") {
                Some(m) if MISBEHAVIOURS.contains(&m) => Ok(Daemon::Vrrpd {
                    misbehave: Some(m.to_string()),
                }),
                _ => bail!(
                    "unknown daemon {other:?}: use vrrpd, keepalived or vrrpd:<{}>",
                    MISBEHAVIOURS.join("|")
                ),
            },
        }
    }

    /// The daemon's name as scenarios and reports spell it.
    pub fn name(&self) -> String {
        match self {
            Daemon::Vrrpd { misbehave: None } => "vrrpd".into(),
            Daemon::Vrrpd { misbehave: Some(m) } => format!("vrrpd:{m}"),
            Daemon::Keepalived => "keepalived".into(),
        }
    }

    /// Every negative control as a daemon.
    pub fn negative_controls() -> Vec<Daemon> {
        MISBEHAVIOURS
            .iter()
            .map(|m| Daemon::Vrrpd {
                misbehave: Some((*m).to_string()),
            })
            .collect()
    }

    /// Checks the daemon's program is there; the error says how to get it.
    pub fn binary(&self) -> Result<PathBuf> {
        match self {
            Daemon::Vrrpd { misbehave: None } => vrrpd_binary(),
            Daemon::Vrrpd { misbehave: Some(_) } => vrrpd_nc_binary(),
            Daemon::Keepalived => keepalived_binary(),
        }
    }

    /// Writes the node's configuration (and notify scripts) into `dir` and returns how to
    /// start the daemon. `dir` is the node's own directory in the run's artifacts.
    pub fn prepare(&self, node: &NodeVrrp, dir: &Path) -> Result<ProcessSpec> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let notify = match node.notify_backup {
            NotifyAction::None => None,
            NotifyAction::RemoveVips => Some(write_remove_vips_script(node, dir)?),
        };
        let log = dir.join("daemon.log");
        match self {
            Daemon::Vrrpd { misbehave } => {
                // A tracked check is keepalived syntax: vrrpd then reads the same
                // keepalived.conf keepalived would.
                let (flag, conf) = match &node.track {
                    Some(t) => {
                        track::prepare(t, dir)?;
                        let conf = dir.join("keepalived.conf");
                        write(&conf, &render_keepalived_in(node, notify.as_deref(), dir))?;
                        ("--keepalived-conf", conf)
                    }
                    None => {
                        let conf = dir.join("vrrpd.toml");
                        write(&conf, &render_vrrpd(node, notify.as_deref()))?;
                        ("--config", conf)
                    }
                };
                let mut args: Vec<std::ffi::OsString> = vec![
                    flag.into(),
                    conf.into(),
                    "--state-file".into(),
                    dir.join("state.json").into(),
                    "--pid-file".into(),
                    dir.join("vrrpd.pid").into(),
                ];
                if let Some(m) = misbehave {
                    args.push("--misbehave".into());
                    args.push(m.into());
                }
                Ok(ProcessSpec {
                    program: self.binary()?,
                    args,
                    env: vec![("RUST_LOG".into(), "info".into())],
                    log,
                })
            }
            Daemon::Keepalived => {
                let conf = dir.join("keepalived.conf");
                if let Some(t) = &node.track {
                    track::prepare(t, dir)?;
                }
                write(&conf, &render_keepalived_in(node, notify.as_deref(), dir))?;
                // A fresh pid directory per start: a SIGKILLed keepalived leaves its pid
                // files behind, as on a real host.
                let run = dir.join("run");
                std::fs::create_dir_all(&run)?;
                let args: Vec<std::ffi::OsString> = vec![
                    "--dont-fork".into(),
                    "--log-console".into(),
                    "--log-detail".into(),
                    "--vrrp".into(),
                    "--use-file".into(),
                    conf.into(),
                    "--pid".into(),
                    run.join("keepalived.pid").into(),
                    "--vrrp_pid".into(),
                    run.join("vrrp.pid").into(),
                    "--checkers_pid".into(),
                    run.join("checkers.pid").into(),
                ];
                Ok(ProcessSpec {
                    program: keepalived_binary()?,
                    args,
                    env: Vec::new(),
                    log,
                })
            }
        }
    }

    /// Removes what a reboot clears (pid files, which live under /run on a real host).
    pub fn clear_runtime_files(&self, dir: &Path) {
        let _ = std::fs::remove_dir_all(dir.join("run"));
        let _ = std::fs::remove_file(dir.join("vrrpd.pid"));
    }

    /// Rewrites the node's configuration for a reload (SIGHUP follows).
    pub fn rewrite_config(&self, node: &NodeVrrp, dir: &Path) -> Result<()> {
        self.prepare(node, dir).map(|_| ())
    }

    /// The node's VRRP state as the daemon reports it: the bundled daemon writes a state
    /// file; keepalived offers nothing comparable, so `None` (unknown).
    pub fn state(&self, dir: &Path) -> Option<VrrpState> {
        match self {
            Daemon::Keepalived => None,
            Daemon::Vrrpd { .. } => {
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
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
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

/// keepalived from PATH (or /usr/sbin); the error says how to install it.
pub fn keepalived_binary() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("keepalived"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!("keepalived is not installed: `apt-get install keepalived` (as .ci/run does)")
        })
}

/// Whether keepalived is installed.
pub fn keepalived_installed() -> bool {
    keepalived_binary().is_ok()
}

/// The article's workaround: a notify_backup script that removes the VIPs. Root-owned,
/// not writable by others (vrrpd refuses anything else).
fn write_remove_vips_script(node: &NodeVrrp, dir: &Path) -> Result<PathBuf> {
    let mut s = String::from(
        "#!/bin/sh\n# notify_backup: remove the VIPs (the seed article's workaround)\n",
    );
    for (addr, prefix) in &node.vips {
        let _ = writeln!(s, "ip addr del {addr}/{prefix} dev eth1 2>/dev/null");
    }
    s.push_str("exit 0\n");
    let path = dir.join("notify-backup.sh");
    write(&path, &s)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
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
    let _ = writeln!(s, "version = {}", node.version.number());
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

/// keepalived.conf for one node, as an operator would write it for the same settings
/// (a tracked check is left out: see [`render_keepalived_in`]).
pub fn render_keepalived(node: &NodeVrrp, notify_backup: Option<&Path>) -> String {
    let mut n = node.clone();
    n.track = None;
    render_keepalived_in(&n, notify_backup, Path::new("."))
}

/// keepalived.conf for one node whose files live in `dir` (its tracked check's script,
/// file or service).
pub fn render_keepalived_in(node: &NodeVrrp, notify_backup: Option<&Path>, dir: &Path) -> String {
    let mut s = String::new();
    let tracked = node.track.as_ref().map(|t| track::keepalived_lines(t, dir));
    let security = if tracked.is_some() {
        "    enable_script_security\n    script_user root\n"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "global_defs {{\n    router_id {}\n{security}}}\n",
        node.name
    );
    if node.vips.is_empty() {
        return s;
    }
    if let Some((defs, _)) = &tracked {
        s.push_str(defs);
    }
    let _ = writeln!(s, "vrrp_instance VI_1 {{");
    let state = match node.initial_state {
        InitialState::Master => "MASTER",
        InitialState::Backup => "BACKUP",
    };
    let _ = writeln!(s, "    state {state}");
    let _ = writeln!(s, "    interface eth1");
    let _ = writeln!(s, "    version {}", node.version.number());
    let _ = writeln!(s, "    virtual_router_id {}", node.vrid);
    let _ = writeln!(s, "    priority {}", node.priority);
    let secs = node.advert_interval.as_secs_f64();
    let _ = writeln!(s, "    advert_int {}", trim_float(secs));
    if !node.preempt {
        let _ = writeln!(s, "    nopreempt");
    }
    if !node.preempt_delay.is_zero() {
        let _ = writeln!(s, "    preempt_delay {}", node.preempt_delay.as_secs());
    }
    if let Some(p) = &node.auth_pass {
        let _ = writeln!(
            s,
            "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}"
        );
    }
    let _ = writeln!(s, "    virtual_ipaddress {{");
    for (a, p) in &node.vips {
        let _ = writeln!(s, "        {a}/{p} dev eth1");
    }
    let _ = writeln!(s, "    }}");
    if !node.unicast_peers.is_empty() {
        let _ = writeln!(s, "    unicast_src_ip {}", node.own_addr);
        let _ = writeln!(s, "    unicast_peer {{");
        for p in &node.unicast_peers {
            let _ = writeln!(s, "        {p}");
        }
        let _ = writeln!(s, "    }}");
    }
    if node.track_interface {
        let _ = writeln!(s, "    track_interface {{\n        eth1\n    }}");
    }
    if let Some((_, lines)) = &tracked {
        s.push_str(lines);
    }
    if let Some(p) = notify_backup {
        let _ = writeln!(s, "    notify_backup \"{}\"", p.display());
    }
    let _ = writeln!(s, "}}");
    s
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
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

/// All VIPs of a node's configuration.
pub fn vips_of(node: &NodeVrrp) -> Vec<IpAddr> {
    node.vips.iter().map(|(a, _)| *a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeVrrp {
        let s = crate::scenario::Scenario::parse(
            "[vrrp]\nversion = 2\nvrid = 51\nauth_pass = \"1111\"\nunicast = true\n[[steps]]\nstart = \"all\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        s.nodes[0].clone()
    }

    #[test]
    fn daemon_names_round_trip() {
        for n in [
            "vrrpd",
            "keepalived",
            "vrrpd:no-lease",
            "vrrpd:keepalived-1.2",
        ] {
            assert_eq!(Daemon::parse(n).unwrap().name(), n);
        }
        assert!(Daemon::parse("vrrpd:bogus").is_err());
        assert!(Daemon::parse("bird").is_err());
    }

    #[test]
    fn rendered_vrrpd_config_loads_in_vrrpd() {
        let text = render_vrrpd(&node(), Some(Path::new("/x/notify-backup.sh")));
        let cfg = vrrpd::config::parse_toml(&text, "rendered.toml").unwrap();
        assert_eq!(cfg.instances.len(), 1);
        assert_eq!(cfg.instances[0].vrid, 51);
        assert_eq!(cfg.instances[0].unicast_peers.len(), 1);
    }

    #[test]
    fn rendered_keepalived_config_loads_in_the_importer() {
        let text = render_keepalived(&node(), None);
        let (cfg, warnings) = vrrpd::config::parse_keepalived(&text, "keepalived.conf").unwrap();
        // Only keywords outside vrrpd's scope (router_id) may warn.
        assert!(
            warnings
                .iter()
                .all(|w| w.kind == vrrpd::config::DiagnosticKind::OutOfScope),
            "{warnings:?}"
        );
        assert_eq!(cfg.instances[0].auth_pass.as_deref(), Some("1111"));
        assert!(text.contains("advert_int 1\n"), "{text}");
    }
}
