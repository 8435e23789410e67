//! Scenario files: the TOML format, its resolved model, and validation with precise
//! errors.
//!
//! A scenario file is data: a topology, VRRP settings with per-node overrides, an
//! ordered list of steps (start, wait, fault, hold, expect) and end-of-run expectations.
//! [`Scenario::load`] reads one, checks everything that can be checked without a lab,
//! and resolves it into a model the runner uses without knowing any TOML: every node's
//! full VRRP settings, every step's deadline as a plain [`Duration`], every VIP parsed.
//! Any problem is one [`ScenarioError`] that prints as one line `path:line:col: message`.
//!
//! The format is documented, with a worked example, in `scenarios/README.md`.

pub(crate) mod raw;
mod resolve;
mod time;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use thiserror::Error;
use vrrpd::wire::vrrp::Version;

use crate::check::CheckName;
use crate::lab::topology::Topology;

pub use time::{fmt_duration, parse_duration, TimeExpr, Timer, Timers, AUTO_SLACK};

/// Daemons a scenario can name in `[expect.daemon.NAME]`: the bundled daemon, keepalived,
/// and the bundled daemon's negative controls (each with one safety layer switched off).
pub const DAEMONS: &[&str] = &[
    "vrrpd",
    "keepalived",
    "vrrpd:no-lease",
    "vrrpd:no-startup-reconcile",
    "vrrpd:no-release-on-stop",
    "vrrpd:no-priority-zero",
    "vrrpd:keepalived-1.2",
];

/// A scenario file that could not be read or is not valid: one line,
/// `path:line:col: message`, pointing at the offending value or key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct ScenarioError {
    /// The file, as given.
    pub path: PathBuf,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong, on one line.
    pub message: String,
}

/// A validated, resolved scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name (`name`, or the file stem).
    pub name: String,
    /// What it shows, in a sentence or two (may be empty).
    pub description: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The lab: node1..nodeN with default addresses.
    pub topology: Topology,
    /// Each node's VRRP settings at the start of the run, in topology order.
    pub nodes: Vec<NodeVrrp>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// End-of-run expectations.
    pub expect: Expectations,
    /// Per daemon (a [`DAEMONS`] name): the checks expected to fail for it, an
    /// end-of-run check or a wait or expect step.
    pub known_failures: BTreeMap<String, BTreeSet<CheckName>>,
}

/// One node's complete VRRP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeVrrp {
    /// The node (`node1`, ...).
    pub name: String,
    /// VRRP version.
    pub version: Version,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// Priority, 1..=255.
    pub priority: u8,
    /// Advertisement interval (v2: whole seconds; v3: a multiple of 10 ms).
    pub advert_interval: Duration,
    /// Virtual addresses with prefix lengths, all of one family (may be empty only after
    /// a config change step).
    pub vips: Vec<(IpAddr, u8)>,
    /// VRRPv2 simple password (at most 8 bytes), if any.
    pub auth_pass: Option<String>,
    /// With unicast: every other node's address in the VIPs' family. Empty: multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// This node's own address in the VIPs' family.
    pub own_addr: IpAddr,
    /// Whether a higher priority takes over from a lower-priority master.
    pub preempt: bool,
    /// How long to wait before preempting.
    pub preempt_delay: Duration,
    /// The state the daemon is configured to start in (keepalived `state`).
    pub initial_state: InitialState,
    /// Whether losing the lab link (eth1) puts the instance in FAULT.
    pub track_interface: bool,
    /// What the runner's notify script does on entering BACKUP.
    pub notify_backup: NotifyAction,
    /// A health check the daemon tracks (keepalived `track_*`), which the
    /// `break-check` / `repair-check` faults break and repair.
    pub track: Option<Track>,
}

/// A tracked health check and the priority change its failure makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    /// What is tracked.
    pub kind: TrackKind,
    /// keepalived's weight: added to the priority while the check fails (negative), or
    /// 0 for FAULT on failure.
    pub weight: i32,
}

/// The kinds of tracked check the lab can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// A `vrrp_script` that fails while a flag file exists.
    Script,
    /// A `vrrp_track_process` on a service process the runner starts in the node.
    Process,
    /// A `vrrp_track_file` whose value goes from 0 to 1.
    File,
    /// A `track_interface` on the node's `lo`, set down and up again.
    Interface,
}

impl TrackKind {
    /// The name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Script => "script",
            TrackKind::Process => "process",
            TrackKind::File => "file",
            TrackKind::Interface => "interface",
        }
    }
}

impl NodeVrrp {
    /// Whether the VIPs are IPv6 (`false` for IPv4 or no VIPs).
    pub fn is_ipv6(&self) -> bool {
        self.vips.first().is_some_and(|(a, _)| a.is_ipv6())
    }
}

/// The configured start-up state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    /// Start as MASTER (`initial_state = "master"`).
    Master,
    /// Start as BACKUP (`initial_state = "backup"`, the default).
    Backup,
}

/// A built-in notify action the runner renders as a root-owned script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyAction {
    /// No script (`"none"`, the default).
    None,
    /// Delete every configured VIP from the node's interface (`"remove-vips"`): the
    /// article's workaround for a stale VIP kept by a BACKUP.
    RemoveVips,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based position in the file (the `N` of `step:N`).
    pub index: usize,
    /// 1-based line where the step starts.
    pub line: usize,
    /// What to do.
    pub kind: StepKind,
    /// A human description, like `sigkill node1` or `wait until node2 holds the VIPs`.
    pub text: String,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Start the daemon on these nodes (in order).
    Start(Vec<String>),
    /// Poll until the condition holds; failing after the deadline.
    Wait {
        /// The condition.
        cond: WaitCond,
        /// How long to wait at most.
        deadline: Duration,
    },
    /// Inject a fault on one node.
    Fault {
        /// The node.
        node: String,
        /// The fault.
        fault: FaultKind,
        /// The address for [`FaultKind::AddrDel`] / [`FaultKind::AddrAdd`].
        addr: Option<(IpAddr, u8)>,
        /// With `[steps.config]` (start, restart, reload, reboot only): every node's
        /// settings from this step on; only `node`'s differ from before. The daemon
        /// (re)starts with them, or for reload gets them and SIGHUP.
        config: Option<Vec<NodeVrrp>>,
    },
    /// Observe without acting for this long.
    Hold(Duration),
    /// Check the lab's state now.
    Expect(ExpectNow),
}

/// The condition of a wait step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitCond {
    /// The node holds every VIP (others may too).
    Holder(String),
    /// The node holds every VIP and no other node holds any.
    OnlyHolder(String),
    /// No node holds any VIP.
    NoHolder,
    /// The node's daemon reports this state (bundled daemon only; unknown otherwise).
    State {
        /// The node.
        node: String,
        /// The state.
        state: VrrpState,
    },
    /// Exactly one node holds every VIP and no other node holds any.
    Converged,
}

/// A VRRP state a wait step can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrrpState {
    /// MASTER.
    Master,
    /// BACKUP.
    Backup,
    /// FAULT (interface down while tracked).
    Fault,
}

/// A fault a step injects on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// SIGKILL every daemon process of the node.
    Sigkill,
    /// SIGKILL the daemon's parent process only.
    SigkillParent,
    /// SIGKILL the daemon's child process(es) only.
    SigkillChild,
    /// Clean stop (SIGTERM), waiting for the daemon to exit.
    Stop,
    /// Start the daemon again (without any cleanup).
    Start,
    /// Stop cleanly, then start.
    Restart,
    /// SIGSTOP every daemon process.
    Freeze,
    /// SIGCONT every daemon process.
    Thaw,
    /// Set the node's lab link down.
    LinkDown,
    /// Set the node's lab link up.
    LinkUp,
    /// Cut the node off the segment (its link stays up).
    Isolate,
    /// Undo [`FaultKind::Isolate`].
    Rejoin,
    /// Server down: SIGKILL every process and set the link down.
    Crash,
    /// After a crash: link up, then start the daemon.
    Reboot,
    /// Apply `[steps.config]` (if any) and send SIGHUP.
    Reload,
    /// Delete an address from the node's interface (an operator's `ip addr del`).
    AddrDel,
    /// Add an address to the node's interface.
    AddrAdd,
    /// Make the node's tracked check fail (`track`): the script fails, the tracked
    /// process is killed, the tracked file reads 1, the tracked interface goes down.
    BreakCheck,
    /// Undo [`FaultKind::BreakCheck`].
    RepairCheck,
}

impl FaultKind {
    /// Every fault with the name files use.
    pub const ALL: [(&'static str, FaultKind); 19] = [
        ("sigkill", FaultKind::Sigkill),
        ("sigkill-parent", FaultKind::SigkillParent),
        ("sigkill-child", FaultKind::SigkillChild),
        ("stop", FaultKind::Stop),
        ("start", FaultKind::Start),
        ("restart", FaultKind::Restart),
        ("freeze", FaultKind::Freeze),
        ("thaw", FaultKind::Thaw),
        ("link-down", FaultKind::LinkDown),
        ("link-up", FaultKind::LinkUp),
        ("isolate", FaultKind::Isolate),
        ("rejoin", FaultKind::Rejoin),
        ("crash", FaultKind::Crash),
        ("reboot", FaultKind::Reboot),
        ("reload", FaultKind::Reload),
        ("addr-del", FaultKind::AddrDel),
        ("addr-add", FaultKind::AddrAdd),
        ("break-check", FaultKind::BreakCheck),
        ("repair-check", FaultKind::RepairCheck),
    ];

    /// The name files use (`sigkill`, `link-down`, ...).
    pub fn name(self) -> &'static str {
        FaultKind::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// The fault with this name.
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// Whether the step needs `addr`.
    pub fn takes_addr(self) -> bool {
        matches!(self, FaultKind::AddrDel | FaultKind::AddrAdd)
    }

    /// Whether the step may carry `[steps.config]`.
    pub fn takes_config(self) -> bool {
        matches!(
            self,
            FaultKind::Start | FaultKind::Restart | FaultKind::Reload | FaultKind::Reboot
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check of the lab's state at one point of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectNow {
    /// Exactly these nodes hold the VIP(s) now (empty: none does).
    Holders(BTreeSet<String>),
    /// This many distinct MACs answered the client's ARP/ND probes in the last round.
    ClientMacs(usize),
}

/// Whether and how failover time is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverCheck {
    /// Not checked (the default).
    Off,
    /// The measured failover time must stay within the RFC value (Master_Down_Interval,
    /// or Skew_Time after a priority-0 advert) plus tolerance.
    Rfc,
}

/// End-of-run expectations. Defaults: the four "at end" and protocol checks on,
/// time-window and failover checks off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// No two nodes hold a VIP at the end (default on).
    pub no_conflict_at_end: bool,
    /// Exactly one node holds the VIPs at the end (default on).
    pub single_holder_at_end: bool,
    /// Longest conflict window allowed after the first fault (default unchecked).
    pub conflict_max: Option<Duration>,
    /// Longest outage window allowed after the first fault (default unchecked).
    pub outage_max: Option<Duration>,
    /// Failover time check (default off).
    pub failover: FailoverCheck,
    /// A clean stop of a MASTER sends a priority-0 advert (default on).
    pub priority_zero_on_stop: bool,
    /// A node taking over sends gratuitous ARP / unsolicited NA (default on).
    pub garp_on_takeover: bool,
    /// Every advert goes out with TTL / hop limit 255 (default on).
    pub ttl_255: bool,
    /// The client sees one MAC for the VIP at the end (default on).
    pub client_single_mac_at_end: bool,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            no_conflict_at_end: true,
            single_holder_at_end: true,
            conflict_max: None,
            outage_max: None,
            failover: FailoverCheck::Off,
            priority_zero_on_stop: true,
            garp_on_takeover: true,
            ttl_255: true,
            client_single_mac_at_end: true,
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read file: {e}"),
        })?;
        Scenario::parse(&text, path)
    }

    /// Validates scenario text; `path` names it in errors and gives the default name.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        resolve::parse(text, path).map_err(|at| {
            let (line, column) = line_col(text, at.offset);
            ScenarioError {
                path: path.to_path_buf(),
                line,
                column,
                message: at.message,
            }
        })
    }

    /// The timers of the nodes' initial settings (largest over nodes).
    pub fn timers(&self) -> Timers {
        Timers::max_over(&self.nodes)
    }

    /// The node's initial settings.
    pub fn node(&self, name: &str) -> Option<&NodeVrrp> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Whether `check` is expected to fail for `daemon`.
    pub fn is_known_failure(&self, daemon: &str, check: CheckName) -> bool {
        self.known_failures
            .get(daemon)
            .is_some_and(|s| s.contains(&check))
    }
}

/// The longest scenario name: it is one path component of every artifact folder.
pub const MAX_NAME_LEN: usize = 100;

/// Checks that a scenario name is a safe single path component: letters, digits, `-`,
/// `_` and `.`, at most [`MAX_NAME_LEN`] bytes, not starting with `.` (so never `.`,
/// `..` or a hidden folder). The name becomes `<out>/<name>/`, and a name like `..`
/// once made `vrrplab run --out X` delete and write a folder beside X.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("must be 1..={MAX_NAME_LEN} bytes long"));
    }
    if name.starts_with('.') {
        return Err("must not start with '.' (it names the run's artifact folder)".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(
            "must be letters, digits, '-', '_' or '.' (it names the run's artifact folder)".into(),
        );
    }
    Ok(())
}

/// 1-based line and column (in characters) of a byte offset. For one lookup; many
/// lookups in one text use [`vrrpd::config::LineIndex`].
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let p = vrrpd::config::Pos::from_offset(text, offset);
    (p.line, p.column)
}

/// The scenario files named by `paths`: files as given, directories searched
/// recursively for `*.toml`, each directory's files sorted by path.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else if meta.is_file() {
            out.push(p.clone());
        } else {
            bail!("{}: not a file or directory", p.display());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}", dir.display()))?;
        let path = entry.path();
        let ty = entry
            .file_type()
            .with_context(|| format!("{}", path.display()))?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}
