//! FRR's vrrpd (Debian's `frr`, 8.4.x): zebra and vrrpd per node, in the foreground,
//! with the node's own directory for config, pid files, the zserv socket and the vty
//! sockets, and no TCP vty (`-P 0`). The directory is owned by the user FRR drops to.
//!
//! FRR neither creates the macvlan nor the VIP: the driver does it as an operator would
//! ([`super::macvlan`]), and FRR switches the macvlan with protodown through zebra, so the
//! VIP sits on every node all the time and only a live link holds it. FRR 8.4 has no
//! unicast peers, no VRRPv2 authentication, no preempt delay and no notify scripts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::unistd::{chown, User};

use super::caps::{Caps, Feature, VipModel};
use super::driver::{ConfigFile, Driver, Helper, Launch};
use super::program;
use crate::lab::process::ProcessSpec;
use crate::scenario::{NodeVrrp, Version, VrrpState};

/// Where Debian installs FRR's daemons.
pub const DEFAULT_DIR: &str = "/usr/lib/frr";

/// The user FRR drops to.
const FRR_USER: &str = "frr";

/// Unix socket paths are limited to 108 bytes.
const MAX_SOCKET_PATH: usize = 100;

/// FRR: zebra plus vrrpd.
#[derive(Debug, Clone)]
pub struct Frr {
    zebra: PathBuf,
    vrrpd: PathBuf,
    version: Version,
    explicit: bool,
}

impl Frr {
    /// FRR from `dir` (default /usr/lib/frr): both programs checked, the version read
    /// from vrrpd, and the user `frr` looked up.
    pub fn new(dir: Option<&Path>) -> Result<Frr> {
        let base = dir.unwrap_or(Path::new(DEFAULT_DIR));
        let check = |name: &str| {
            program::executable(&base.join(name)).with_context(|| {
                if dir.is_none() {
                    "FRR is not installed: `apt-get install frr` (as .ci/run does)".to_string()
                } else {
                    format!("no FRR {name} in {}", base.display())
                }
            })
        };
        let zebra = check("zebra")?;
        let vrrpd = check("vrrpd")?;
        let version = program::read_version(&vrrpd, &["--version"])?;
        frr_user()?;
        Ok(Frr {
            zebra,
            vrrpd,
            version,
            explicit: dir.is_some(),
        })
    }
}

fn frr_user() -> Result<User> {
    User::from_name(FRR_USER)
        .context("look up user frr")?
        .with_context(|| {
            format!("there is no user {FRR_USER:?} for FRR to drop to: install the frr package")
        })
}

/// The common arguments of zebra and vrrpd for a node directory.
fn common_args(dir: &Path, name: &str) -> Vec<std::ffi::OsString> {
    vec![
        "-f".into(),
        dir.join(format!("{name}.conf")).into(),
        "-i".into(),
        dir.join(format!("{name}.pid")).into(),
        "-z".into(),
        dir.join("zserv.api").into(),
        "--vty_socket".into(),
        dir.into(),
        "-P".into(),
        "0".into(),
    ]
}

impl Driver for Frr {
    fn name(&self) -> String {
        "frr".into()
    }

    fn version(&self) -> Option<&Version> {
        Some(&self.version)
    }

    fn program(&self) -> &Path {
        &self.vrrpd
    }

    fn explicit_path(&self) -> bool {
        self.explicit
    }

    fn caps(&self) -> Caps {
        Caps::of(&[Feature::V2, Feature::V3, Feature::Ipv6, Feature::VirtualMac])
    }

    fn vip_model(&self) -> VipModel {
        VipModel::OperatorMacvlan
    }

    fn render(&self, node: &NodeVrrp, _notify: Option<&Path>) -> Result<Vec<ConfigFile>> {
        Ok(vec![
            ConfigFile {
                name: "zebra.conf".into(),
                text: format!("hostname {}\n", node.name),
            },
            ConfigFile {
                name: "vrrpd.conf".into(),
                text: render_frr(node),
            },
        ])
    }

    fn prepare_dir(&self, dir: &Path) -> Result<()> {
        let sock = dir.join("zserv.api");
        if sock.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "FRR's socket path {} is longer than {MAX_SOCKET_PATH} bytes: use a shorter --out",
                sock.display()
            );
        }
        let u = frr_user()?;
        for p in std::iter::once(dir.to_path_buf()).chain(
            ["zebra.conf", "vrrpd.conf"]
                .iter()
                .map(|f| dir.join(f)),
        ) {
            chown(&p, Some(u.uid), Some(u.gid))
                .with_context(|| format!("chown {} to {FRR_USER}", p.display()))?;
        }
        // Stale sockets of a killed predecessor would make zebra look ready at once.
        for f in ["zserv.api", "zebra.vty", "vrrpd.vty"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        Ok(())
    }

    fn launch(&self, dir: &Path) -> Result<Launch> {
        Ok(Launch {
            helpers: vec![Helper {
                spec: ProcessSpec {
                    program: self.zebra.clone(),
                    args: common_args(dir, "zebra"),
                    env: Vec::new(),
                    log: dir.join("zebra.log"),
                },
                ready: dir.join("zserv.api"),
            }],
            main: ProcessSpec {
                program: self.vrrpd.clone(),
                args: common_args(dir, "vrrpd"),
                env: Vec::new(),
                log: dir.join("daemon.log"),
            },
        })
    }

    fn reports_state(&self) -> bool {
        true
    }

    fn state(&self, dir: &Path) -> Option<VrrpState> {
        let out = std::process::Command::new("vtysh")
            .arg("--vty_socket")
            .arg(dir)
            .args(["-d", "vrrpd", "-c", "show vrrp json"])
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        state_of_json(&String::from_utf8_lossy(&out.stdout))
    }

    fn clear_runtime_files(&self, dir: &Path) {
        for f in ["zebra.pid", "vrrpd.pid", "zserv.api", "zebra.vty", "vrrpd.vty"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
    }
}

/// The state of the first virtual router in `show vrrp json`.
fn state_of_json(text: &str) -> Option<VrrpState> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let vr = v.as_array()?.first()?;
    let fam = ["v4", "v6"]
        .iter()
        .filter_map(|k| vr.get(*k)?.get("status")?.as_str())
        .find(|s| *s != "Initialize")?;
    match fam {
        "Master" => Some(VrrpState::Master),
        "Backup" => Some(VrrpState::Backup),
        _ => None,
    }
}

/// FRR's vrrpd.conf for one node: the virtual router on eth1 (FRR finds the macvlan by
/// its virtual MAC).
pub fn render_frr(node: &NodeVrrp) -> String {
    let mut s = String::from("interface eth1\n");
    if node.vips.is_empty() {
        return s;
    }
    let id = node.vrid;
    let _ = writeln!(s, " vrrp {id} version {}", super::version_num(node.version));
    let _ = writeln!(s, " vrrp {id} priority {}", node.priority);
    let _ = writeln!(
        s,
        " vrrp {id} advertisement-interval {}",
        node.advert_interval.as_millis()
    );
    if !node.preempt {
        let _ = writeln!(s, " no vrrp {id} preempt");
    }
    for (a, _) in &node.vips {
        let fam = if a.is_ipv6() { "ipv6" } else { "ip" };
        let _ = writeln!(s, " vrrp {id} {fam} {a}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_virtual_router_on_eth1() {
        let text = render_frr(&super::super::tests::multicast_node());
        assert_eq!(
            text,
            "interface eth1\n vrrp 51 version 2\n vrrp 51 priority 100\n \
             vrrp 51 advertisement-interval 1000\n vrrp 51 ip 192.0.2.20\n"
        );
    }

    #[test]
    fn state_is_read_from_show_vrrp_json() {
        let j = r#"[{"vrid":51,"version":2,"v4":{"interface":"vrrp4-51","status":"Master"},"v6":{"status":"Initialize"}}]"#;
        assert_eq!(state_of_json(j), Some(VrrpState::Master));
        let j = r#"[{"vrid":51,"v4":{"status":"Backup"}}]"#;
        assert_eq!(state_of_json(j), Some(VrrpState::Backup));
        assert_eq!(state_of_json("[]"), None);
        assert_eq!(state_of_json("% vrrpd is not running"), None);
    }
}
