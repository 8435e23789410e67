//! `vrrplab bench`: the numbers behind BENCHMARKS.md.
//!
//! The sections, each selectable with `--only`:
//!
//! 1. `lab`: [`crate::lab::Lab::build`] + teardown against the same lab built with
//!    iproute2 commands ([`iproute`]), for 2, 8, 32 and 64 nodes;
//! 2. `failover`: failover time from the capture against the RFC value, vrrpd and
//!    keepalived, SIGKILL and SIGTERM, VRRPv2 at 1 s and VRRPv3 at 100 ms;
//! 3. `conflict`: two-holder and two-answering-node windows after SIGKILL (same runs as 2);
//! 4. `catalogue`: wall time of the seed catalogue against both daemons;
//! 5. `footprint`: CPU and RSS of 255 VRRPv3 instances at 100 ms, vrrpd against
//!    keepalived; then, under the same load, the capture's drops and the client
//!    probe's answer latency ([`observers`]);
//! 6. `expiry`: how late the kernel removes an address after its lifetime ends; and
//!    `gate` (6b): how late an nftables set element's timeout stops a VIP's ARP
//!    replies and neighbour adverts ([`gate`]);
//! 7. `flood`: a hostile segment — CPU and advert jitter under a 50k packets/s flood
//!    of valid and invalid adverts for the instance's VRID and another, vrrpd against
//!    keepalived ([`flood`]);
//! 8. `scale`: convergence time, CPU and RSS of 1,000 VRRPv3 instances over 4
//!    interfaces with 8 IPv6 VIPs each, vrrpd against keepalived ([`scale`]).
//!
//! Every figure is a [`Stats`] (median, min, p95) over the runs of one invocation, and
//! every comparison is a ratio of two figures measured in that same invocation.

pub mod expiry;
pub mod failover;
pub mod flood;
pub mod footprint;
pub mod gate;
pub mod iproute;
pub mod labbuild;
pub mod observers;
pub mod sampling;
pub mod scale;
pub mod table;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// The sections of the benchmark, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Lab build + teardown against iproute2.
    Lab,
    /// Failover precision against the RFC timers.
    Failover,
    /// Conflict windows after SIGKILL of the MASTER.
    Conflict,
    /// Wall time of the seed catalogue.
    Catalogue,
    /// CPU and memory of 255 instances.
    Footprint,
    /// How late the kernel removes an address after its lifetime.
    Expiry,
    /// How late an nftables element timeout closes the gate.
    Gate,
    /// CPU and advert jitter under a packet flood.
    Flood,
    /// Convergence, CPU and memory of 1,000 instances over 4 interfaces.
    Scale,
}

impl Section {
    /// Every section.
    pub const ALL: [Section; 9] = [
        Section::Lab,
        Section::Failover,
        Section::Conflict,
        Section::Catalogue,
        Section::Footprint,
        Section::Expiry,
        Section::Gate,
        Section::Flood,
        Section::Scale,
    ];

    /// The name `--only` uses.
    pub fn name(self) -> &'static str {
        match self {
            Section::Lab => "lab",
            Section::Failover => "failover",
            Section::Conflict => "conflict",
            Section::Catalogue => "catalogue",
            Section::Footprint => "footprint",
            Section::Expiry => "expiry",
            Section::Gate => "gate",
            Section::Flood => "flood",
            Section::Scale => "scale",
        }
    }

    /// Parses a `--only` name.
    pub fn parse(s: &str) -> Result<Section> {
        match Section::ALL.iter().find(|x| x.name() == s.trim()) {
            Some(x) => Ok(*x),
            None => bail!(
                "unknown bench section {s:?}: use {}",
                Section::ALL.map(Section::name).join(",")
            ),
        }
    }
}

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Runs per figure.
    pub runs: usize,
    /// Sections to run.
    pub sections: Vec<Section>,
    /// Scenario runs at once (failover, conflict, catalogue).
    pub jobs: usize,
    /// Runs of the whole catalogue.
    pub catalogue_runs: usize,
    /// Seconds of sampling in the footprint section.
    pub footprint_secs: u64,
    /// Seconds per flood kind in the flood section.
    pub flood_secs: u64,
    /// The seed catalogue directory.
    pub catalogue_dir: PathBuf,
    /// The command line, as typed.
    pub command: String,
    /// The daemons to measure and compare: vrrpd, and the keepalived given with
    /// `--daemon keepalived=/path` (default: the one on PATH, when installed).
    pub daemons: Vec<crate::daemons::Daemon>,
    /// Runs of each of vrrpd's conflict rows (SIGKILL cases) in section 3.
    pub conflict_runs: usize,
    /// Independent footprint runs per daemon (a fresh lab each).
    pub footprint_runs: usize,
    /// Windows each footprint run's sampling time is cut into.
    pub footprint_windows: usize,
}

/// One figure over N runs. `open` marks a statistic that is only a lower bound (a
/// window still open when a run ended could have lasted longer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Number of samples.
    pub n: usize,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// 95th percentile, nearest rank.
    pub p95: f64,
    /// Whether the median is only a lower bound.
    pub median_open: bool,
    /// Whether the minimum is only a lower bound.
    pub min_open: bool,
    /// Whether the p95 is only a lower bound.
    pub p95_open: bool,
}

/// One sample: a value, or only a lower bound of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// The value (the lower bound when `open`).
    pub value: f64,
    /// The true value may be larger.
    pub open: bool,
}

impl Sample {
    /// An exact sample.
    pub fn exact(value: f64) -> Sample {
        Sample { value, open: false }
    }

    /// A lower bound.
    pub fn at_least(value: f64) -> Sample {
        Sample { value, open: true }
    }
}

impl Stats {
    /// Median, min and p95 of exact samples; `None` when there are none (or any is not
    /// a finite number).
    pub fn of(values: &[f64]) -> Option<Stats> {
        let samples: Vec<Sample> = values.iter().map(|v| Sample::exact(*v)).collect();
        Stats::of_samples(&samples)
    }

    /// Median, min and p95 of samples some of which may be lower bounds. A statistic is
    /// marked open when a lower-bound sample at or below its rank could, being larger
    /// in truth, raise it.
    pub fn of_samples(samples: &[Sample]) -> Option<Stats> {
        if samples.is_empty() || samples.iter().any(|s| !s.value.is_finite()) {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(|a, b| a.value.total_cmp(&b.value));
        let n = s.len();
        let open_upto = |idx: usize| s[..=idx].iter().any(|x| x.open);
        let (median, mid_hi) = if n % 2 == 1 {
            (s[n / 2].value, n / 2)
        } else {
            ((s[n / 2 - 1].value + s[n / 2].value) / 2.0, n / 2)
        };
        let p95_idx = p95_rank(n);
        Some(Stats {
            n,
            median,
            min: s[0].value,
            p95: s[p95_idx].value,
            median_open: open_upto(mid_hi),
            min_open: s[0].open,
            p95_open: open_upto(p95_idx),
        })
    }

    /// `median / other.median`, for "x times" comparisons.
    pub fn ratio_to(&self, other: &Stats) -> f64 {
        self.median / other.median
    }
}

/// Index of the 95th percentile by nearest rank: ⌈0.95 n⌉ − 1.
fn p95_rank(n: usize) -> usize {
    ((n * 95).div_ceil(100)).clamp(1, n) - 1
}

/// Whether a target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The target was met.
    Met,
    /// The target was missed.
    Missed,
    /// It could not be judged (no data); never counted as met.
    Unknown,
}

impl Verdict {
    /// Met when `ok`, else missed.
    pub fn from_bool(ok: bool) -> Verdict {
        if ok {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Unknown => "unknown",
        })
    }
}

/// One target and how it fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// What was promised, in words.
    pub what: String,
    /// What was measured, in words.
    pub measured: String,
    /// The outcome.
    pub verdict: Verdict,
}

/// The machine and versions the numbers come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    /// CPU model (`model name` in /proc/cpuinfo).
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// vrrplab's version.
    pub vrrplab: String,
    /// `vrrpd --version`.
    pub vrrpd: String,
    /// `keepalived --version`, first line.
    pub keepalived: String,
    /// The exact command line.
    pub command: String,
}

/// Everything one invocation measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Where and with what.
    pub machine: Machine,
    /// Runs per figure.
    pub runs: usize,
    /// Section 1.
    pub lab: Option<labbuild::LabSection>,
    /// Sections 2 and 3.
    pub failover: Option<failover::FailoverSection>,
    /// Section 4.
    pub catalogue: Option<failover::CatalogueSection>,
    /// Section 5.
    pub footprint: Option<footprint::FootprintSection>,
    /// Section 6.
    pub expiry: Option<expiry::ExpirySection>,
    /// Section 7.
    pub flood: Option<flood::FloodSection>,
    /// Section 8.
    pub scale: Option<scale::ScaleSection>,
    /// Section 6b.
    pub gate: Option<gate::GateSection>,
    /// Wall time of each section that ran, in order.
    pub section_s: Vec<SectionTime>,
    /// Every target, in section order.
    pub targets: Vec<Target>,
    /// Wall time of the whole invocation, seconds.
    pub wall_s: f64,
}

/// How long one section took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionTime {
    /// The section's `--only` name (`failover+conflict` for the shared runs).
    pub section: String,
    /// Wall time, s.
    pub secs: f64,
}

/// Runs `f` as section `name`, printing and recording how long it took.
fn timed<T>(times: &mut Vec<SectionTime>, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t0 = Instant::now();
    let out = f();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!("bench: section {name} took {secs:.0} s");
    times.push(SectionTime {
        section: name.to_string(),
        secs,
    });
    out
}

/// Runs the selected sections and returns what they measured. Needs root.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let started = Instant::now();
    let machine = machine(&opts.command, &opts.daemons);
    let want = |s: Section| opts.sections.contains(&s);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let runs = opts.runs.max(1);
    let mut times = Vec::new();
    let lab = if want(Section::Lab) {
        Some(timed(&mut times, "lab", || labbuild::run(&rt, runs))?)
    } else {
        None
    };
    let failover = if want(Section::Failover) || want(Section::Conflict) {
        let name = match (want(Section::Failover), want(Section::Conflict)) {
            (true, true) => "failover+conflict",
            (true, false) => "failover",
            _ => "conflict",
        };
        Some(timed(&mut times, name, || {
            rt.block_on(failover::run(
                runs,
                opts.conflict_runs.max(1),
                opts.jobs,
                want(Section::Failover),
                want(Section::Conflict),
                &opts.daemons,
            ))
        })?)
    } else {
        None
    };
    let catalogue = if want(Section::Catalogue) {
        Some(timed(&mut times, "catalogue", || {
            rt.block_on(failover::catalogue(
                &opts.catalogue_dir,
                opts.catalogue_runs.max(1),
                opts.jobs,
                &opts.daemons,
            ))
        })?)
    } else {
        None
    };
    let footprint = if want(Section::Footprint) {
        Some(timed(&mut times, "footprint", || {
            rt.block_on(footprint::run(
                opts.footprint_runs.max(1),
                opts.footprint_windows.max(1),
                Duration::from_secs(opts.footprint_secs.max(1)),
                &opts.daemons,
            ))
        })?)
    } else {
        None
    };
    let expiry = if want(Section::Expiry) {
        Some(timed(&mut times, "expiry", || {
            rt.block_on(expiry::run(expiry::SAMPLES))
        })?)
    } else {
        None
    };
    let gate = if want(Section::Gate) {
        Some(timed(&mut times, "gate", || {
            rt.block_on(gate::run(gate::SAMPLES))
        })?)
    } else {
        None
    };
    let flood = if want(Section::Flood) {
        Some(timed(&mut times, "flood", || {
            rt.block_on(flood::run(
                Duration::from_secs(opts.flood_secs.max(1)),
                &opts.daemons,
            ))
        })?)
    } else {
        None
    };
    let scale = if want(Section::Scale) {
        Some(rt.block_on(scale::run(runs, &opts.daemons))?)
    } else {
        None
    };
    let mut targets = Vec::new();
    if let Some(l) = &lab {
        targets.extend(l.targets());
    }
    if let Some(f) = &failover {
        targets.extend(f.targets());
    }
    if let Some(c) = &catalogue {
        targets.extend(c.targets());
    }
    if let Some(f) = &footprint {
        targets.extend(f.targets());
    }
    if let Some(e) = &expiry {
        targets.extend(e.targets());
    }
    if let Some(g) = &gate {
        targets.extend(g.targets());
    }
    if let Some(f) = &flood {
        targets.extend(f.targets());
    }
    if let Some(s) = &scale {
        targets.extend(s.targets());
    }
    Ok(BenchReport {
        machine,
        runs,
        lab,
        failover,
        catalogue,
        footprint,
        expiry,
        flood,
        scale,
        gate,
        section_s: times,
        targets,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Reads the machine description and the daemons' versions. Anything unreadable is
/// `unknown (<why>)`, never an error: the numbers are still worth having.
pub fn machine(command: &str, daemons: &[crate::daemons::Daemon]) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| cpu_model(&t))
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let vrrpd = match crate::daemons::vrrpd_binary() {
        Ok(p) => version_of(&p),
        Err(e) => format!("unknown ({e})"),
    };
    let keepalived = match daemons.iter().find(|d| d.name() == "keepalived") {
        Some(d) => format!("{} ({})", d.label(), d.binary().display()),
        None => match crate::daemons::keepalived_binary() {
            Ok(p) => version_of(&p),
            Err(e) => format!("unknown ({e})"),
        },
    };
    Machine {
        cpu,
        cores,
        kernel,
        vrrplab: env!("CARGO_PKG_VERSION").to_string(),
        vrrpd,
        keepalived,
        command: command.to_string(),
    }
}

/// The `model name` line of /proc/cpuinfo.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "model name").then(|| v.trim().to_string())
    })
}

/// First non-empty line of `<program> --version` (stdout, else stderr: keepalived
/// prints its version on stderr).
fn version_of(program: &std::path::Path) -> String {
    match std::process::Command::new(program)
        .arg("--version")
        .output()
    {
        Ok(out) => {
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("unknown (no output)")
                .to_string()
        }
        Err(e) => format!("unknown ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_odd_count() {
        let s = Stats::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.p95), (3, 3.0, 1.0, 5.0));
        assert!(!s.median_open && !s.min_open && !s.p95_open);
    }

    #[test]
    fn stats_even_count_averages_the_middle() {
        let s = Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.p95, 4.0);
    }

    #[test]
    fn p95_is_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        // ⌈0.95 × 20⌉ = 19th value.
        assert_eq!(Stats::of(&v).unwrap().p95, 19.0);
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        // ⌈9.5⌉ = 10th value.
        assert_eq!(Stats::of(&v).unwrap().p95, 10.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(Stats::of(&v).unwrap().p95, 95.0);
        assert_eq!(Stats::of(&[7.0]).unwrap().p95, 7.0);
        assert_eq!(p95_rank(1), 0);
    }

    #[test]
    fn stats_of_nothing_or_nan_is_none() {
        assert!(Stats::of(&[]).is_none());
        assert!(Stats::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn open_samples_make_lower_bounds() {
        // The open sample is the largest: only p95 can move.
        let s = Stats::of_samples(&[
            Sample::exact(1.0),
            Sample::exact(2.0),
            Sample::at_least(9.0),
        ])
        .unwrap();
        assert!(!s.median_open && !s.min_open && s.p95_open);
        // The open sample is the smallest: every statistic is a lower bound.
        let s = Stats::of_samples(&[
            Sample::at_least(0.5),
            Sample::exact(2.0),
            Sample::exact(3.0),
        ])
        .unwrap();
        assert!(s.median_open && s.min_open && s.p95_open);
    }

    #[test]
    fn ratio() {
        let a = Stats::of(&[10.0]).unwrap();
        let b = Stats::of(&[2.0]).unwrap();
        assert_eq!(a.ratio_to(&b), 5.0);
    }

    #[test]
    fn sections_parse() {
        assert_eq!(Section::parse("lab").unwrap(), Section::Lab);
        assert_eq!(Section::parse(" footprint").unwrap(), Section::Footprint);
        assert!(Section::parse("labs").is_err());
    }

    #[test]
    fn cpu_model_line() {
        let t = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(t).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("nothing"), None);
    }
}
