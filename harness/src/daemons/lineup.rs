//! Which daemon runs on which node: the names users and scenarios give
//! (`keepalived=/opt/k/sbin/keepalived`, `node1=keepalived`, `[nodes.node1] daemon = "frr"`,
//! a step that restarts a node as another daemon), resolved to drivers before any lab is
//! built, so a bad name is an input error (exit 2), never a broken run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{anyhow, bail, Result};

use super::driver::Daemon;
use super::file::FileDriver;
use super::frr::Frr;
use super::keepalived::Keepalived;
use super::vrrpd::Vrrpd;
use super::{BUILTIN, MISBEHAVIOURS};
use crate::scenario::{most_specific, Scenario, StepKind};

/// Turns daemon names into drivers: the built-in ones and those of driver files. Each
/// name is resolved once (a keepalived's `--version` is read once per invocation).
#[derive(Debug, Default)]
pub struct Registry {
    files: Vec<FileDriver>,
    cache: Mutex<BTreeMap<String, Daemon>>,
}

impl Registry {
    /// The built-in daemons plus the daemons of these driver files.
    pub fn new(files: Vec<FileDriver>) -> Registry {
        Registry {
            files,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The driver files' daemons.
    pub fn file_daemons(&self) -> Vec<Daemon> {
        self.files.iter().cloned().map(Daemon::new).collect()
    }

    /// Resolves one daemon: `vrrpd`, `vrrpd:<negative control>`, `keepalived`,
    /// `keepalived=/path/to/keepalived`, `frr`, `frr=/dir/of/zebra-and-vrrpd`, or a driver
    /// file's name. Checks the program and reads its version.
    pub fn resolve(&self, spec: &str) -> Result<Daemon> {
        if let Ok(c) = self.cache.lock() {
            if let Some(d) = c.get(spec) {
                return Ok(d.clone());
            }
        }
        let d = self.resolve_uncached(spec)?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(spec.to_string(), d.clone());
        }
        Ok(d)
    }

    fn resolve_uncached(&self, spec: &str) -> Result<Daemon> {
        let (name, path) = match spec.split_once('=') {
            Some((n, p)) if !p.is_empty() => (n, Some(Path::new(p))),
            Some((n, _)) => bail!("{n}= names no path"),
            None => (spec, None),
        };
        match (name, path) {
            ("vrrpd", None) => Ok(Daemon::new(Vrrpd::new(None)?)),
            ("keepalived", p) => Ok(Daemon::new(Keepalived::new(p)?)),
            ("frr", p) => Ok(Daemon::new(Frr::new(p)?)),
            (n, None) if n.starts_with("vrrpd:") => {
                let m = &n["vrrpd:".len()..];
                if !MISBEHAVIOURS.contains(&m) {
                    bail!(
                        "unknown negative control {m:?}: vrrpd:<{}>",
                        MISBEHAVIOURS.join("|")
                    );
                }
                Ok(Daemon::new(Vrrpd::new(Some(m.to_string()))?))
            }
            (n, None) => match self.files.iter().find(|f| f.name_is(n)) {
                Some(f) => Ok(Daemon::new(f.clone())),
                None => bail!("{}", unknown(n, &self.files)),
            },
            (n, Some(_)) => bail!(
                "only keepalived and frr take a path (keepalived=/path/to/keepalived); {n:?} does not"
            ),
        }
    }
}

fn unknown(name: &str, files: &[FileDriver]) -> String {
    let mut known: Vec<String> = BUILTIN.iter().map(|s| s.to_string()).collect();
    known.push("vrrpd:<negative control>".into());
    known.extend(files.iter().map(|f| f.name_of()));
    format!(
        "unknown daemon {name:?} (known: {}; or a driver file with --daemon-file)",
        known.join(", ")
    )
}

/// One line-up of daemons for a batch: a default daemon and per-node choices from the
/// command line (`--daemon node1=keepalived,node2=vrrpd`).
#[derive(Debug, Clone)]
pub struct Lineup {
    /// The daemon of every node nothing else names.
    pub default: Daemon,
    /// Nodes the command line gave a daemon of their own.
    pub nodes: BTreeMap<String, Daemon>,
}

impl Lineup {
    /// The same daemon everywhere.
    pub fn uniform(d: Daemon) -> Lineup {
        Lineup {
            default: d,
            nodes: BTreeMap::new(),
        }
    }

    /// The line-ups of a `--daemon` list: each plain daemon is one line-up, with every
    /// `nodeN=daemon` entry applied to all of them. With only per-node entries, the other
    /// nodes run vrrpd. An empty list is `defaults`.
    pub fn from_args(
        args: &[String],
        registry: &Registry,
        defaults: impl FnOnce() -> Result<Vec<Daemon>>,
    ) -> Result<Vec<Lineup>> {
        let mut plain = Vec::new();
        let mut nodes = BTreeMap::new();
        for a in args {
            match a.split_once('=') {
                Some((node, spec)) if is_node_name(node) => {
                    nodes.insert(node.to_string(), registry.resolve(spec)?);
                }
                _ => plain.push(registry.resolve(a)?),
            }
        }
        if plain.is_empty() {
            if nodes.is_empty() {
                plain = defaults()?;
            } else {
                plain.push(registry.resolve("vrrpd")?);
            }
        }
        Ok(plain
            .into_iter()
            .map(|d| Lineup {
                default: d,
                nodes: nodes.clone(),
            })
            .collect())
    }

    /// Every node's daemon for this scenario, and every daemon its steps swap in. A
    /// scenario's own choice (`[nodes.node1] daemon = ...`) wins over the line-up's; a
    /// name the line-up also uses means the line-up's build (so `keepalived` in a scenario
    /// is the keepalived given by path).
    pub fn cast(&self, sc: &Scenario, registry: &Registry) -> Result<Cast> {
        let mut known: BTreeMap<String, Daemon> = BTreeMap::new();
        for d in std::iter::once(&self.default).chain(self.nodes.values()) {
            known.entry(d.name()).or_insert_with(|| d.clone());
        }
        let mut lookup = |name: &str| -> Result<Daemon> {
            if let Some(d) = known.get(name) {
                return Ok(d.clone());
            }
            let d = registry
                .resolve(name)
                .map_err(|e| anyhow!("{}: {e:#}", sc.path.display()))?;
            known.insert(name.to_string(), d.clone());
            Ok(d)
        };
        let mut start = BTreeMap::new();
        let mut history: BTreeMap<String, Vec<Daemon>> = BTreeMap::new();
        for n in &sc.nodes {
            let d = match &n.daemon {
                Some(name) => lookup(name)?,
                None => self.nodes.get(&n.name).unwrap_or(&self.default).clone(),
            };
            history.insert(n.name.clone(), vec![d.clone()]);
            start.insert(n.name.clone(), d);
        }
        for step in &sc.steps {
            if let StepKind::Fault {
                node,
                config: Some(cfgs),
                ..
            } = &step.kind
            {
                if let Some(name) = cfgs.iter().find(|c| &c.name == node).and_then(|c| c.daemon.as_deref()) {
                    let d = lookup(name)?;
                    let h = history.entry(node.clone()).or_default();
                    if h.last() != Some(&d) {
                        h.push(d);
                    }
                }
            }
        }
        Ok(Cast {
            start,
            by_name: known,
            history,
        })
    }
}

/// `node1`, `node2`, ...
fn is_node_name(s: &str) -> bool {
    s.strip_prefix("node")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The daemons of one run: each node's at the start, every one a step may swap in, and
/// the sequence each node runs through.
#[derive(Debug, Clone)]
pub struct Cast {
    /// Each node's daemon at the start.
    pub start: BTreeMap<String, Daemon>,
    /// Every daemon of the run by name (for steps that swap a node's daemon).
    pub by_name: BTreeMap<String, Daemon>,
    /// Per node, the daemons it runs in order.
    pub history: BTreeMap<String, Vec<Daemon>>,
}

impl Cast {
    /// One daemon on every node for the whole run.
    pub fn uniform(d: &Daemon, sc: &Scenario) -> Cast {
        let start: BTreeMap<String, Daemon> =
            sc.nodes.iter().map(|n| (n.name.clone(), d.clone())).collect();
        Cast {
            history: start.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect(),
            by_name: BTreeMap::from([(d.name(), d.clone())]),
            start,
        }
    }

    /// The single daemon of the run, if every node runs the same one throughout.
    pub fn single(&self) -> Option<&Daemon> {
        let mut all = self.history.values().flatten();
        let first = all.next()?;
        all.all(|d| d == first).then_some(first)
    }

    /// How reports name the run's daemons: `keepalived` when one daemon runs everywhere,
    /// else each node's sequence, `node1=keepalived→vrrpd,node2=keepalived`.
    pub fn label(&self) -> String {
        match self.single() {
            Some(d) => d.name(),
            None => self
                .history
                .iter()
                .map(|(n, ds)| {
                    let names: Vec<String> = ds.iter().map(Daemon::name).collect();
                    format!("{n}={}", names.join("→"))
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The run's folder name (no `:`, `=`, `,` or arrows).
    pub fn dir_name(&self) -> String {
        match self.single() {
            Some(d) => d.dir_name(),
            None => format!("mixed-{}", self.label())
                .replace('→', "-to-")
                .replace([',', ':'], "_")
                .replace('=', "-"),
        }
    }

    /// The name expectations use: the daemon's, or `mixed` when nodes differ.
    pub fn expectation_name(&self) -> String {
        match self.single() {
            Some(d) => d.name(),
            None => "mixed".into(),
        }
    }

    /// The `[expect.daemon."..."]` key whose known failures apply to this run (the most
    /// specific match), if any.
    pub fn expectation_key<'a>(&self, sc: &'a Scenario) -> Option<&'a str> {
        let version = self.single().and_then(Daemon::version);
        most_specific(sc.known_failures.keys(), &self.expectation_name(), version)
    }

    /// Why some node's daemon cannot run its settings (at the start or after any step
    /// that changes them), if so.
    pub fn not_applicable(&self, sc: &Scenario) -> Option<String> {
        for n in &sc.nodes {
            if let Some(why) = self.start.get(&n.name).and_then(|d| d.not_applicable(n)) {
                return Some(why);
            }
        }
        for step in &sc.steps {
            if let StepKind::Fault {
                config: Some(cfgs), ..
            } = &step.kind
            {
                for c in cfgs {
                    let d = match &c.daemon {
                        Some(name) => self.by_name.get(name),
                        None => self.start.get(&c.name),
                    };
                    if let Some(why) = d.and_then(|d| d.not_applicable(c)) {
                        return Some(format!("{why}, from step {}", step.index));
                    }
                }
            }
        }
        None
    }
}
