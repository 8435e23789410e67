//! Subcommand implementations of the `vrrplab` command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use vrrplab::lab::Lab;
use vrrplab::process::ProcessSpec;
use vrrplab::scenario::Scenario;
use vrrplab::topology::Topology;

/// Arguments of `vrrplab check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `vrrplab check FILE|DIR...`: validates scenario files without root and without
/// creating anything. Prints `ok <path> (<n> steps)` per good file and one
/// `path:line:col: message` line on stderr per bad one; exit 0 if all are good, 2 if not.
pub fn check(args: CheckArgs) -> Result<ExitCode> {
    let files = vrrplab::scenario::collect_files(&args.files)?;
    if files.is_empty() {
        eprintln!("vrrplab check: no scenario files found");
        return Ok(ExitCode::from(2));
    }
    let mut bad = 0usize;
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => println!("ok {} ({} steps)", f.display(), s.steps.len()),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Arguments of `vrrplab lab`.
#[derive(Args, Debug)]
pub struct LabArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Give nodes IPv6 addresses too.
    #[arg(long)]
    pub ipv6: bool,
    /// Directory for process logs (default: a temporary directory).
    #[arg(long)]
    pub logs: Option<PathBuf>,
    /// A command to start on every node, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `vrrplab lab`: builds a lab, optionally starts a command on every node, prints one JSON
/// line describing it (namespaces, PIDs, nsenter commands), and keeps it up until
/// SIGINT/SIGTERM, then tears it down.
pub fn lab(args: LabArgs) -> Result<ExitCode> {
    vrrplab::privilege::require_root_cli()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let lab = Lab::build(Topology::with_nodes(args.nodes, args.ipv6)).await?;
        let tmp = tempfile::tempdir().context("temp dir")?;
        let logs = args
            .logs
            .clone()
            .unwrap_or_else(|| tmp.path().to_path_buf());
        let mut pids = Vec::new();
        if let Some((prog, rest)) = args.command.split_first() {
            for n in lab.nodes() {
                let spec = ProcessSpec {
                    program: prog.into(),
                    args: rest.iter().map(Into::into).collect(),
                    env: Vec::new(),
                    log: logs.join(format!("{}.log", n.name())),
                };
                pids.push(serde_json::json!({"node": n.name(), "pid": n.spawn(&spec)?}));
            }
        }
        let mut namespaces = Vec::new();
        for h in std::iter::once(lab.segment())
            .chain(std::iter::once(lab.client()))
            .chain(lab.nodes().iter())
        {
            namespaces.push(serde_json::json!({
                "name": h.name(),
                "inode": vrrplab::netns::ns_inode(h.ns().fd())?,
                "enter": h.ns().nsenter_hint(),
            }));
        }
        println!(
            "{}",
            serde_json::json!({"ready": true, "namespaces": namespaces, "processes": pids})
        );
        eprintln!("lab is up; enter a node with the `enter` command above. Ctrl-C tears it down.");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        drop(lab);
        eprintln!("lab torn down");
        Ok(ExitCode::SUCCESS)
    })
}
