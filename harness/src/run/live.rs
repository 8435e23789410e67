//! The live state of a run: the lab, the history being written, and each node's daemon.
//! Steps and faults act on it; nothing here decides what a step means.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use nix::sys::signal::Signal;

use crate::check;
use crate::daemons::{Cast, Daemon};
use crate::history::History;
use crate::lab::{Host, Lab};
use crate::observe::NodeMonitor;
use crate::scenario::NodeVrrp;

/// Per-node state of the daemon under test.
#[derive(Debug)]
pub(crate) struct NodeRt {
    /// The node's artifact directory (configs, logs, state file).
    pub dir: PathBuf,
    /// Its current settings.
    pub cfg: NodeVrrp,
    /// The node's daemon: the one running, or the one its next start runs.
    pub daemon: Daemon,
    /// Host PID of the daemon's main process, while it runs.
    pub pid: Option<u32>,
    /// Host PIDs of the daemon's helpers (FRR's zebra), while they run.
    pub helpers: Vec<u32>,
}

/// Everything a step can touch.
pub(crate) struct Runner<'a> {
    /// Which daemon runs where, and every daemon a step may swap in.
    pub cast: &'a Cast,
    pub lab: Lab,
    pub history: History,
    pub nodes: BTreeMap<String, NodeRt>,
    pub monitors: BTreeMap<String, NodeMonitor>,
    pub vips: Vec<IpAddr>,
    /// A node was stopped cleanly while it held a VIP (the priority-0 check applies).
    pub stopped_holder: bool,
}

impl Runner<'_> {
    /// The node's host in the lab.
    pub(crate) fn host(&self, node: &str) -> Result<&Host> {
        self.lab.node(node)
    }

    /// The node's runtime state.
    pub(crate) fn rt(&mut self, node: &str) -> Result<&mut NodeRt> {
        self.nodes
            .get_mut(node)
            .ok_or_else(|| anyhow!("no node {node:?}"))
    }

    /// Which nodes hold each VIP right now, as the history (the address monitors) has
    /// it: waits and later checks then judge from the same view, so an expectation
    /// right after a wait can never see the world a few milliseconds older.
    pub(crate) async fn holders(&self) -> Result<BTreeMap<IpAddr, BTreeSet<String>>> {
        let events = self.history.events();
        let now = self.history.clock().now_ns();
        Ok(check::holders_at(&events, &self.vips, now))
    }

    /// Signals the daemon's main process.
    pub(crate) fn signal_main(&mut self, node: &str, sig: Signal) -> Result<u32> {
        let pid = self
            .rt(node)?
            .pid
            .ok_or_else(|| anyhow!("no daemon running on {node}"))?;
        self.host(node)?.signal(pid, sig)?;
        Ok(pid)
    }
}
