//! keepalived, any build from 1.2.x to 2.4.x: from PATH or from a path the user gives
//! (`--daemon keepalived=/opt/k/sbin/keepalived`), with the version it reports deciding
//! what it supports and how its configuration is written.
//!
//! Every version runs in the foreground with `--vrrp` (there is no IPVS in the lab:
//! without it 1.2.x's checker child respawns many times a second) and with its pid files
//! in the node's own directory (a fresh `run/` per start: a SIGKILLed keepalived leaves
//! its pid files behind, as on a real host, and refuses to start while one names a live
//! process).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::caps::{Caps, Feature};
use super::driver::{ConfigFile, Driver, Launch};
use super::program;
use crate::lab::process::ProcessSpec;
use crate::scenario::{InitialState, NodeVrrp, Version};

/// The config file name in a node's directory.
pub const CONFIG: &str = "keepalived.conf";

/// The first version with the `version` keyword (VRRPv3, and so IPv6 per RFC 5798).
pub fn first_v3() -> Version {
    Version {
        parts: vec![1, 2, 17],
    }
}

/// A keepalived build.
#[derive(Debug, Clone)]
pub struct Keepalived {
    program: PathBuf,
    version: Version,
    explicit: bool,
}

impl Keepalived {
    /// keepalived at `path` (checked executable, version read), or the one on PATH.
    pub fn new(path: Option<&Path>) -> Result<Keepalived> {
        let (program, explicit) = match path {
            Some(p) => (program::executable(p)?, true),
            None => (keepalived_binary()?, false),
        };
        let version = program::read_version(&program, &["--version"])?;
        Ok(Keepalived {
            program,
            version,
            explicit,
        })
    }

    /// Whether this build knows the `version` keyword (VRRPv3).
    pub fn has_v3(&self) -> bool {
        self.version >= first_v3()
    }
}

impl Driver for Keepalived {
    fn name(&self) -> String {
        "keepalived".into()
    }

    fn version(&self) -> Option<&Version> {
        Some(&self.version)
    }

    fn program(&self) -> &Path {
        &self.program
    }

    fn explicit_path(&self) -> bool {
        self.explicit
    }

    fn caps(&self) -> Caps {
        let mut f = vec![
            Feature::V2,
            Feature::Unicast,
            Feature::Auth,
            Feature::PreemptDelay,
            Feature::Notify,
            Feature::VirtualMac,
        ];
        if self.has_v3() {
            f.extend([Feature::V3, Feature::Ipv6]);
        }
        Caps::of(&f)
    }

    fn render(&self, node: &NodeVrrp, notify_backup: Option<&Path>) -> Result<Vec<ConfigFile>> {
        Ok(vec![ConfigFile {
            name: CONFIG.into(),
            text: render_keepalived(node, notify_backup, self.has_v3()),
        }])
    }

    fn launch(&self, dir: &Path) -> Result<Launch> {
        let run = dir.join("run");
        std::fs::create_dir_all(&run).with_context(|| format!("create {}", run.display()))?;
        Ok(Launch {
            helpers: Vec::new(),
            main: ProcessSpec {
                program: self.program.clone(),
                args: args(&dir.join(CONFIG), &run),
                env: Vec::new(),
                log: dir.join("daemon.log"),
            },
        })
    }
}

/// keepalived's command line, the same for 1.2.x through 2.4.x: foreground, log to the
/// console, VRRP only, the given config, pid files in `run`.
pub fn args(conf: &Path, run: &Path) -> Vec<std::ffi::OsString> {
    vec![
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
    ]
}

/// keepalived from PATH (or /usr/sbin); the error says how to install it.
pub fn keepalived_binary() -> Result<PathBuf> {
    program::on_path("keepalived").ok_or_else(|| {
        anyhow!("keepalived is not installed: `apt-get install keepalived` (as .ci/run does)")
    })
}

/// keepalived.conf for one node, as an operator would write it for the same settings.
/// `version_keyword`: whether the build knows `version` (1.2.17 and later); older builds
/// speak VRRPv2 only and would ignore the keyword.
pub fn render_keepalived(
    node: &NodeVrrp,
    notify_backup: Option<&Path>,
    version_keyword: bool,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "global_defs {{\n    router_id {}\n}}\n", node.name);
    if node.vips.is_empty() {
        return s;
    }
    let _ = writeln!(s, "vrrp_instance VI_1 {{");
    let state = match node.initial_state {
        InitialState::Master => "MASTER",
        InitialState::Backup => "BACKUP",
    };
    let _ = writeln!(s, "    state {state}");
    let _ = writeln!(s, "    interface eth1");
    if version_keyword {
        let _ = writeln!(s, "    version {}", super::version_num(node.version));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_keepalived_config_loads_in_the_importer() {
        let text = render_keepalived(&super::super::tests::node(), None, true);
        let (cfg, warnings) = vrrpd::config::parse_keepalived(&text, "keepalived.conf").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.instances[0].auth_pass.as_deref(), Some("1111"));
        assert!(text.contains("advert_int 1\n"), "{text}");
        assert!(text.contains("    version 2\n"), "{text}");
    }

    #[test]
    fn builds_before_1_2_17_get_no_version_keyword_and_no_v3() {
        let text = render_keepalived(&super::super::tests::node(), None, false);
        assert!(!text.contains("version"), "{text}");
        let k = |v: &str| Keepalived {
            program: PathBuf::from("/x/keepalived"),
            version: Version::parse(v).unwrap(),
            explicit: true,
        };
        assert!(!k("1.2.13").caps().has(Feature::V3));
        assert!(!k("1.2.13").caps().has(Feature::Ipv6));
        assert!(k("1.2.13").caps().has(Feature::Unicast));
        assert!(k("1.2.17").caps().has(Feature::V3));
        assert!(k("2.2.7").caps().has(Feature::Ipv6));
    }

    #[test]
    fn command_line_always_has_vrrp_only_and_own_pid_files() {
        let a = args(Path::new("/d/keepalived.conf"), Path::new("/d/run"));
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert!(a.contains(&"--vrrp".to_string()));
        assert!(a.contains(&"--dont-fork".to_string()));
        assert!(a.contains(&"/d/run/vrrp.pid".to_string()));
    }
}
