//! The one trait every daemon driver implements, the handle the runner holds, and the
//! one way a daemon's processes are described for launch.

use std::fmt;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use super::caps::{self, Caps, VipModel};
use crate::lab::process::ProcessSpec;
use crate::scenario::{NodeVrrp, NotifyAction, Version, VrrpState};

/// A process a daemon needs running before it starts (FRR's zebra), and the file whose
/// appearance says it is ready (its zserv socket).
#[derive(Debug, Clone)]
pub struct Helper {
    /// What to run.
    pub spec: ProcessSpec,
    /// Ready once this path exists.
    pub ready: PathBuf,
}

/// Everything to start one node's daemon: helpers first (each until ready), then the
/// daemon itself, whose process is the one faults and stops address.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Helpers, in start order.
    pub helpers: Vec<Helper>,
    /// The VRRP daemon.
    pub main: ProcessSpec,
}

/// A configuration file a driver renders for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// File name inside the node's directory.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// One daemon under test: how to configure, start, stop, reload and query it, what it
/// supports, and how it holds a VIP.
pub trait Driver: fmt::Debug + Send + Sync {
    /// The name scenarios and reports use (`vrrpd`, `vrrpd:no-lease`, `keepalived`,
    /// `frr`, or a driver file's `name`).
    fn name(&self) -> String;

    /// The version the program reported, if it reports one.
    fn version(&self) -> Option<&Version> {
        None
    }

    /// The program that is started (the VRRP daemon itself).
    fn program(&self) -> &Path;

    /// Whether the program was named by the user (`--daemon keepalived=/path`) rather than
    /// found by default.
    fn explicit_path(&self) -> bool {
        false
    }

    /// What it supports.
    fn caps(&self) -> Caps;

    /// How it holds a VIP.
    fn vip_model(&self) -> VipModel {
        VipModel::OnInterface
    }

    /// The node's configuration files. `notify_backup` is the path of the rendered
    /// notify script, when the settings ask for one.
    fn render(&self, node: &NodeVrrp, notify_backup: Option<&Path>) -> Result<Vec<ConfigFile>>;

    /// How to start it, its configuration already written into `dir`.
    fn launch(&self, dir: &Path) -> Result<Launch>;

    /// Called after the configuration is written, before launch (ownership changes).
    fn prepare_dir(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }

    /// The signal of a clean stop.
    fn stop_signal(&self) -> Signal {
        Signal::SIGTERM
    }

    /// The signal that makes it reread its configuration.
    fn reload_signal(&self) -> Signal {
        Signal::SIGHUP
    }

    /// Whether [`Driver::state`] can ever answer.
    fn reports_state(&self) -> bool {
        false
    }

    /// The node's VRRP state as the daemon reports it (`None`: unknown now).
    fn state(&self, _dir: &Path) -> Option<VrrpState> {
        None
    }

    /// Removes what a reboot clears (pid files, which live under /run on a real host).
    fn clear_runtime_files(&self, dir: &Path) {
        let _ = std::fs::remove_dir_all(dir.join("run"));
    }
}

/// A daemon under test, as the runner and reports hold it: a shared driver.
#[derive(Clone)]
pub struct Daemon(pub Arc<dyn Driver>);

impl fmt::Debug for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Daemon {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.0.program() == other.0.program()
    }
}

impl Eq for Daemon {}

impl Daemon {
    /// Wraps a driver.
    pub fn new(d: impl Driver + 'static) -> Daemon {
        Daemon(Arc::new(d))
    }

    /// The driver.
    pub fn driver(&self) -> &dyn Driver {
        &*self.0
    }

    /// Its name (see [`Driver::name`]).
    pub fn name(&self) -> String {
        self.0.name()
    }

    /// Its version, if known.
    pub fn version(&self) -> Option<&Version> {
        self.0.version()
    }

    /// Name and version, as reports show it: `keepalived 2.2.7`.
    pub fn label(&self) -> String {
        match self.version() {
            Some(v) => format!("{} {v}", self.name()),
            None => self.name(),
        }
    }

    /// The folder name of its runs: the name, with the version when the program was
    /// given by path (two keepalived builds in one batch must not share a folder).
    pub fn dir_name(&self) -> String {
        let base = self.name().replace(':', "_");
        match (self.0.explicit_path(), self.version()) {
            (true, Some(v)) => format!("{base}-{v}"),
            _ => base,
        }
    }

    /// The program it starts.
    pub fn binary(&self) -> PathBuf {
        self.0.program().to_path_buf()
    }

    /// Why it cannot run a node's settings, if it cannot.
    pub fn not_applicable(&self, node: &NodeVrrp) -> Option<String> {
        caps::not_applicable(&self.name(), &self.0.caps(), node)
    }

    /// Writes the node's configuration (and notify script) into `dir`, the node's own
    /// directory in the run's artifacts, and returns how to start the daemon.
    pub fn prepare(&self, node: &NodeVrrp, dir: &Path) -> Result<Launch> {
        self.write_config(node, dir)?;
        self.0.launch(dir)
    }

    /// Writes the node's configuration files into `dir` (before a start or a reload).
    pub fn write_config(&self, node: &NodeVrrp, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let notify = match node.notify_backup {
            NotifyAction::None => None,
            NotifyAction::RemoveVips => Some(write_remove_vips_script(node, dir)?),
        };
        for f in self.0.render(node, notify.as_deref())? {
            let path = dir.join(&f.name);
            std::fs::write(&path, &f.text).with_context(|| format!("write {}", path.display()))?;
        }
        self.0.prepare_dir(dir)
    }

    /// The node's VRRP state as the daemon reports it.
    pub fn state(&self, dir: &Path) -> Option<VrrpState> {
        self.0.state(dir)
    }

    /// Removes what a reboot clears.
    pub fn clear_runtime_files(&self, dir: &Path) {
        self.0.clear_runtime_files(dir)
    }
}

/// The article's workaround: a notify_backup script that removes the VIPs. Root-owned,
/// not writable by others (vrrpd refuses anything else).
fn write_remove_vips_script(node: &NodeVrrp, dir: &Path) -> Result<PathBuf> {
    use std::fmt::Write as _;
    let mut s = String::from(
        "#!/bin/sh\n# notify_backup: remove the VIPs (the seed article's workaround)\n",
    );
    for (addr, prefix) in &node.vips {
        let _ = writeln!(s, "ip addr del {addr}/{prefix} dev eth1 2>/dev/null");
    }
    s.push_str("exit 0\n");
    let path = dir.join("notify-backup.sh");
    std::fs::write(&path, &s).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(&path, Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(path)
}
