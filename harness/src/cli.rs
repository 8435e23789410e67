//! Subcommand implementations of the `vrrplab` command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use vrrplab::lab::process::ProcessSpec;
use vrrplab::lab::topology::Topology;
use vrrplab::lab::Lab;
use vrrplab::run::batch;
use vrrplab::run::merge::Manifest;
use vrrplab::run::progress::ProgressMode;
use vrrplab::run::shard::Shard;
use vrrplab::scenario::Scenario;

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
    vrrplab::lab::privilege::require_root_cli()?;
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
                "inode": vrrplab::lab::netns::ns_inode(h.ns().fd())?,
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

/// Arguments of `vrrplab run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/seed and scenarios/seed-multicast).
    pub paths: Vec<PathBuf>,
    /// Daemons, comma-separated: vrrpd, keepalived, keepalived=/path/to/keepalived, frr,
    /// frr=/dir/with/zebra-and-vrrpd, vrrpd:<negative control>, a driver file's name;
    /// `node1=keepalived` gives one node its own daemon (default: vrrpd, plus keepalived
    /// and FRR when installed; with --daemon-file, the files' daemons).
    #[arg(long, value_delimiter = ',')]
    pub daemon: Vec<String>,
    /// A driver file (TOML) describing your own daemon, or a directory of them.
    #[arg(long)]
    pub daemon_file: Vec<PathBuf>,
    /// Also run every negative control of vrrpd.
    #[arg(long)]
    pub negative_controls: bool,
    /// Artifact directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Runs at once (at least 1).
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub jobs: usize,
    /// Run every scenario × daemon this many times (a soak against flaky verdicts; at
    /// least 1).
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub repeat: usize,
    /// Keep each lab up after its run, print how to enter its nodes, and tear it down on
    /// Ctrl-C (use with one scenario and one daemon).
    #[arg(long)]
    pub keep: bool,
    /// Run only shard K of N of the runs × repeats (join the shards' folders with
    /// `vrrplab report merge`).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<vrrplab::run::shard::Shard>,
}

/// A count that must be at least 1 (`--jobs 0` and `--repeat 0` are mistakes, not
/// requests for one; clap turns the error into exit status 2).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// `vrrplab run`: every scenario × every daemon, in parallel; prints a summary table;
/// exit 0 when everything went as expected, 1 when a verdict failed, 2 on bad input.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    use vrrplab::scenario::{collect_files, Scenario};

    let paths = if args.paths.is_empty() {
        vec![
            PathBuf::from("scenarios/seed"),
            PathBuf::from("scenarios/seed-multicast"),
        ]
    } else {
        args.paths.clone()
    };
    let files = match collect_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("vrrplab: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut scenarios = Vec::new();
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    if let Some(e) = vrrplab::run::batch::duplicate_name(&scenarios) {
        eprintln!("vrrplab: {e}");
        return Ok(ExitCode::from(2));
    }
    let plan = match plan_runs(&args, &scenarios) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vrrplab: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    vrrplab::lab::privilege::require_root_cli()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    // With --keep, Ctrl-C is how a kept lab is torn down, not an interruption.
    let interrupt = if args.keep {
        None
    } else {
        Some(rt.block_on(async { vrrplab::run::interrupt::Interrupt::install() })?)
    };
    let opts = vrrplab::run::RunOptions {
        out_dir: args.out.clone(),
        keep: args.keep,
        stop: interrupt.as_ref().map(|i| i.receiver()),
        ..Default::default()
    };
    let jobs = if args.keep { 1 } else { args.jobs };
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let whole = batch::schedule(&plan, args.repeat);
    let mine = shard.take(whole.iter().cloned());
    let mut manifest = Manifest {
        shard,
        batch_runs: whole.len(),
        runs: mine.iter().map(|p| p.dir.display().to_string()).collect(),
        finished: false,
        exit_code: None,
    };
    manifest.write(&args.out)?;
    if shard != Shard::WHOLE {
        eprintln!(
            "shard {shard}: {} of the batch's {} runs",
            mine.len(),
            whole.len()
        );
    }
    let results = rt.block_on(batch::run_planned(
        &plan,
        &opts,
        jobs,
        &mine,
        ProgressMode::detect(),
    ));
    let subtitle = format!(
        "{} runs{}: {}",
        results.len(),
        if shard == Shard::WHOLE {
            String::new()
        } else {
            format!(" (shard {shard} of a batch of {})", whole.len())
        },
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    let code = batch::finish(&results, &args.out, args.junit.as_deref(), &subtitle)?;
    if let Some(signo) = interrupt.as_ref().and_then(|i| i.signal()) {
        eprintln!(
            "vrrplab: interrupted: {} run(s) written to {}",
            results.len(),
            args.out.display()
        );
        // The manifest stays unfinished: a merge reports this shard as broken off.
        return Ok(ExitCode::from(u8::try_from(128 + signo).unwrap_or(130)));
    }
    manifest.finished = true;
    manifest.exit_code = Some(if code == ExitCode::SUCCESS { 0 } else { 1 });
    manifest.write(&args.out)?;
    Ok(code)
}

/// Arguments of `vrrplab report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// Subcommands of `vrrplab report`.
#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Join the output folders of `vrrplab run --shard K/N` into one report (index.html,
    /// summary.md, junit.xml); exit 1 if a run failed or a shard is missing or broke off.
    Merge(MergeArgs),
}

/// Arguments of `vrrplab report merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' output folders.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged report goes.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// How many shards there must be (default: what the shards' manifests say).
    #[arg(long)]
    pub shards: Option<usize>,
}

/// `vrrplab report merge DIR...`: see [`ReportCommand::Merge`]. Needs no root. Exit 0
/// when every shard is there and every run went as expected, 1 otherwise, 2 on bad input.
pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let ReportCommand::Merge(args) = args.command;
    let merged = match vrrplab::run::merge::merge(&args.dirs, &args.out, args.shards) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("vrrplab: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let subtitle = format!(
        "{} runs merged from {}",
        merged.records.len(),
        args.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    vrrplab::run::merge::write_merged(&merged, &args.out, &subtitle)?;
    println!("{}", vrrplab::report::summary_table(&merged.records));
    for p in &merged.problems {
        eprintln!("vrrplab report merge: {p}");
    }
    eprintln!("report: {}", args.out.join("index.html").display());
    Ok(if merged.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Resolves the daemons of `vrrplab run` (driver files, `--daemon`, negative controls)
/// and plans every scenario × line-up. Every problem here is bad input: nothing is built.
fn plan_runs(
    args: &RunArgs,
    scenarios: &[vrrplab::scenario::Scenario],
) -> Result<Vec<vrrplab::run::batch::Job>> {
    use vrrplab::daemons::{self, file::FileDriver, Lineup, Registry};
    let mut files = Vec::new();
    for p in &args.daemon_file {
        files.extend(FileDriver::load_all(p)?);
    }
    let registry = Registry::new(files);
    let mut lineups = Lineup::from_args(&args.daemon, &registry, || {
        let from_files = registry.file_daemons();
        if !from_files.is_empty() {
            return Ok(from_files);
        }
        if !daemons::keepalived_installed() {
            eprintln!("note: keepalived is not installed, running vrrpd only (apt-get install keepalived)");
        }
        let mut v = daemons::default_daemons(&registry)?;
        // The main job runs FRR's vrrpd too where it is installed; it runs the seed
        // story through seed-multicast (FRR 8.4 has no unicast and no v2 auth, so the
        // seed files themselves are not applicable to it, with that reason).
        if daemons::frr_installed() {
            v.push(registry.resolve("frr")?);
        } else {
            eprintln!("note: FRR is not installed, not running it (apt-get install frr)");
        }
        Ok(v)
    })?;
    if args.negative_controls {
        lineups.extend(
            daemons::negative_controls(&registry)?
                .into_iter()
                .map(Lineup::uniform),
        );
    }
    vrrplab::run::batch::plan(scenarios, &lineups, &registry)
}

/// Arguments of `vrrplab bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Runs per figure (median, min and p95 are over these).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Runs of each of vrrpd's conflict rows (SIGKILL at v2 1 s, v3 1 s, v3 1 s IPv6,
    /// v3 100 ms); keepalived's rows and section 2's other rows use --runs.
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub conflict_runs: usize,
    /// Sections, comma-separated: lab, failover, conflict, catalogue, footprint, expiry,
    /// gate, flood, scale
    /// (default: all).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Write the results as JSON here.
    #[arg(long, default_value = "target/bench/bench.json")]
    pub json: PathBuf,
    /// Also write the markdown table here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Seconds of CPU/RSS sampling per footprint run (60: at vrrpd's 0.8 % of a core a
    /// 30 s run is ~240 ms of CPU, and a few ms of noise made a 10 % spread).
    #[arg(long, default_value_t = 60)]
    pub footprint_secs: u64,
    /// Footprint runs per daemon, each in a fresh lab (the spread between runs is over
    /// these).
    #[arg(long, default_value_t = 3, value_parser = at_least_one)]
    pub footprint_runs: usize,
    /// Windows each footprint run's sampling is cut into (window = secs / windows).
    #[arg(long, default_value_t = 3, value_parser = at_least_one)]
    pub footprint_windows: usize,
    /// Seconds per flood kind in the flood section.
    #[arg(long, default_value_t = 5)]
    pub flood_secs: u64,
    /// Scenario runs at once (failover, conflict, catalogue; at least 1).
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub jobs: usize,
    /// Runs of the whole catalogue.
    #[arg(long, default_value_t = 1)]
    pub catalogue_runs: usize,
    /// The catalogue to time.
    #[arg(long, default_value = "scenarios/seed")]
    pub catalogue: PathBuf,
    /// The daemons to compare, comma-separated (default: vrrpd, plus the keepalived on
    /// PATH); name a keepalived build with keepalived=/path/to/keepalived.
    #[arg(long, value_delimiter = ',')]
    pub daemon: Vec<String>,
}

/// `vrrplab bench`: runs the selected benchmark sections, prints the markdown table,
/// writes the JSON (and the markdown when asked). Exit 0 when every target was met,
/// 1 when one was missed or could not be judged, 2 on bad input.
pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    use vrrplab::bench::{self, Section, Verdict};

    let sections = if args.only.is_empty() {
        Section::ALL.to_vec()
    } else {
        let mut v = Vec::new();
        for s in &args.only {
            match Section::parse(s) {
                Ok(s) => v.push(s),
                Err(e) => {
                    eprintln!("vrrplab: {e:#}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        v
    };
    let registry = vrrplab::daemons::Registry::default();
    let daemons = if args.daemon.is_empty() {
        vrrplab::daemons::default_daemons(&registry)
    } else {
        args.daemon.iter().map(|d| registry.resolve(d)).collect()
    };
    let daemons = match daemons {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vrrplab: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    vrrplab::lab::privilege::require_root_cli()?;
    let opts = bench::BenchOptions {
        daemons,
        runs: args.runs,
        sections,
        jobs: args.jobs,
        catalogue_runs: args.catalogue_runs,
        footprint_secs: args.footprint_secs,
        conflict_runs: args.conflict_runs,
        footprint_runs: args.footprint_runs,
        footprint_windows: args.footprint_windows,
        flood_secs: args.flood_secs,
        catalogue_dir: args.catalogue.clone(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let report = bench::run(&opts)?;
    let md = bench::table::render(&report);
    println!("{md}");
    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(&report).context("serialise bench report")?;
    std::fs::write(&args.json, json).with_context(|| format!("write {}", args.json.display()))?;
    if let Some(m) = &args.markdown {
        std::fs::write(m, &md).with_context(|| format!("write {}", m.display()))?;
    }
    let all_met = report.targets.iter().all(|t| t.verdict == Verdict::Met);
    Ok(if all_met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Arguments of `vrrplab explore`.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The daemon under test: any name `vrrplab run --daemon` takes (vrrpd, keepalived,
    /// vrrpd:<negative control>, ...).
    #[arg(long, default_value = "vrrpd")]
    pub daemon: String,
    /// The seed: the same seed and options give the same schedules.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many schedules (default 20 when --budget is not given).
    #[arg(long, conflicts_with = "budget")]
    pub schedules: Option<u64>,
    /// Stop starting schedules after this much wall time: `90s`, `10m`, `1h`.
    #[arg(long)]
    pub budget: Option<String>,
    /// Labs at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Runs in a row a violation and each shrink candidate must fail to count as failing
    /// (a flaky reproduction counts as passing).
    #[arg(long, default_value_t = 2)]
    pub repro: usize,
    /// Fewest nodes per schedule (at least 2).
    #[arg(long, default_value_t = 2)]
    pub min_nodes: usize,
    /// Most nodes per schedule (at most 8).
    #[arg(long, default_value_t = 4)]
    pub max_nodes: usize,
    /// Most faults per schedule.
    #[arg(long, default_value_t = 6)]
    pub max_faults: usize,
    /// Advertisement intervals to draw: any (1 s v2/v3 or sub-second v3), 1s, sub-second.
    #[arg(long, value_enum, default_value = "any")]
    pub adverts: vrrplab::explore::generate::Adverts,
    /// Faults to draw from, comma-separated (default: the whole vocabulary but
    /// addr-add): sigkill, sigkill-parent, sigkill-child, stop, start, restart, freeze,
    /// thaw, link-down, link-up, isolate, rejoin, crash, reboot, reload, addr-del.
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Most shrink candidates per violation.
    #[arg(long, default_value_t = 60)]
    pub shrink_budget: usize,
    /// Stop generating after the first violation (it is still shrunk).
    #[arg(long)]
    pub first: bool,
    /// Run only shard K of N of the schedules (schedule n goes to shard (n - 1) mod N + 1),
    /// so N machines with the same seed and options together run each schedule once.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<vrrplab::run::shard::Shard>,
    /// Where the minimal files, their artifacts and the summary go.
    #[arg(long, default_value = "out/explore")]
    pub out: PathBuf,
}

/// A wall-time budget: a duration as scenarios write it (`90s`, `500ms`), or whole or
/// decimal minutes or hours (`10m`, `1.5h`).
fn parse_budget(s: &str) -> std::result::Result<std::time::Duration, String> {
    use vrrplab::scenario::parse_duration;
    let t = s.trim();
    let scaled = |num: &str, factor: u32| {
        parse_duration(&format!("{num}s"))
            .map(|d| d * factor)
            .map_err(|_| format!("bad budget {s:?}: expected like \"90s\", \"10m\" or \"1h\""))
    };
    if t.ends_with("ms") || t.ends_with('s') {
        parse_duration(t)
    } else if let Some(n) = t.strip_suffix('m') {
        scaled(n, 60)
    } else if let Some(n) = t.strip_suffix('h') {
        scaled(n, 3600)
    } else {
        Err(format!(
            "bad budget {s:?}: expected like \"90s\", \"10m\" or \"1h\""
        ))
    }
}

/// `vrrplab explore`: random fault schedules against one daemon, judged by the
/// catalogue's checkers; violations are shrunk to a minimal scenario file. Exit 0 when
/// every schedule passed, 1 on a violation (or an undecided schedule), 2 on bad input.
pub fn explore(args: ExploreArgs) -> Result<ExitCode> {
    use vrrplab::daemons::Daemon;
    use vrrplab::explore::{self, generate::GenOptions, Limit};

    let bad = |msg: String| {
        eprintln!("vrrplab explore: {msg}");
        Ok(ExitCode::from(2))
    };
    let daemon = match Daemon::parse(&args.daemon) {
        Ok(d) => d,
        // Resolving checks the program and reads its version.
        Err(e) => return bad(format!("{e:#}")),
    };
    if args.min_nodes < 2 || args.max_nodes > 8 || args.min_nodes > args.max_nodes {
        return bad(format!(
            "nodes must satisfy 2 <= --min-nodes <= --max-nodes <= 8, got {} and {}",
            args.min_nodes, args.max_nodes
        ));
    }
    if args.jobs == 0 || args.repro == 0 || args.max_faults == 0 {
        return bad("--jobs, --repro and --max-faults must be at least 1".into());
    }
    let mut faults = Vec::new();
    for f in &args.faults {
        match vrrplab::scenario::FaultKind::from_name(f) {
            Some(k) if vrrplab::explore::generate::FAULTS.contains(&k) => faults.push(k),
            _ => {
                let names: Vec<&str> = vrrplab::explore::generate::FAULTS
                    .iter()
                    .map(|k| k.name())
                    .collect();
                return bad(format!(
                    "unknown fault {f:?} for --faults (expected {})",
                    names.join(", ")
                ));
            }
        }
    }
    let limit = match (&args.budget, args.schedules) {
        (Some(b), _) => match parse_budget(b) {
            Ok(d) => Limit::Budget(d),
            Err(e) => return bad(e),
        },
        (None, Some(0)) => return bad("--schedules must be at least 1".into()),
        (None, Some(n)) => Limit::Schedules(n),
        (None, None) => Limit::Schedules(20),
    };
    vrrplab::lab::privilege::require_root_cli()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let opts = explore::Options {
        daemon,
        seed: args.seed,
        limit,
        jobs: args.jobs,
        repro: args.repro,
        gen: GenOptions {
            min_nodes: args.min_nodes,
            max_nodes: args.max_nodes,
            max_faults: args.max_faults,
            adverts: args.adverts,
            faults,
            ..GenOptions::default()
        },
        out_dir: args.out.clone(),
        shrink_budget: args.shrink_budget,
        first: args.first,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        shard: args.shard.unwrap_or(Shard::WHOLE),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let summary = rt.block_on(explore::explore(opts))?;
    print!("{}", summary.table());
    println!("summary: {}", args.out.join("summary.json").display());
    Ok(ExitCode::from(summary.exit_code))
}
