//! `vrrplab explore`: random fault schedules, the catalogue's invariants, and a minimal
//! failing scenario file (the Jepsen way round: generate, check, shrink).
//!
//! Data flow, one schedule at a time and several at once:
//!
//! ```text
//! seed, n ─► generate ─► Schedule ─► render (scenario raw model → TOML → Scenario::parse)
//!        ─► run::run in a fresh lab ─► the catalogue's checkers ─► invariants::judge
//!        ─► violation? ─► shrink (re-run candidates k times in fresh labs)
//!        ─► out/explore/<daemon>-<seed>-<n>.toml + its run's artifacts ─► summary
//! ```
//!
//! * [`generate`]: a seeded, deterministic generator over the whole fault vocabulary;
//! * [`schedule`]: the schedule model and each node's state (what may come next, what
//!   heals the rest);
//! * [`invariants`]: the daemon's declared behaviour and the `[expect]` bounds a schedule
//!   is held to, and the judgement of a run;
//! * [`render`]: a schedule as a scenario file, through the scenario's own raw model;
//! * [`shrink`]: smaller failing schedules;
//! * [`summary`]: the closing table and the JSON for CI.
//! * [`page`]: the HTML page (`index.html`) next to the summary.

pub mod generate;
pub mod invariants;
pub mod page;
pub mod render;
pub mod rng;
pub mod schedule;
pub mod shrink;
pub mod summary;

use crate::run::shard::Shard;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::daemons::Daemon;
use crate::run::{self, daemon_dir_name, RunOptions, RunResult};
use crate::scenario::Scenario;

use generate::GenOptions;
use invariants::{Declared, Judgement, Target};
use schedule::Schedule;
use summary::{Finding, Summary, Unjudged};

/// When to stop generating schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// After this many schedules.
    Schedules(u64),
    /// Once this much wall time has passed (schedules already running finish).
    Budget(Duration),
}

/// How to explore.
#[derive(Debug, Clone)]
pub struct Options {
    /// The daemon under test.
    pub daemon: Daemon,
    /// The seed: the same seed and options give the same schedules.
    pub seed: u64,
    /// When to stop.
    pub limit: Limit,
    /// Labs at once.
    pub jobs: usize,
    /// Runs a shrink candidate (and the first violation) must fail in a row to count as
    /// failing (`k`).
    pub repro: usize,
    /// What to generate (its `caps` are replaced by the daemon's declaration).
    pub gen: GenOptions,
    /// Where the files and artifacts go (`out/explore`).
    pub out_dir: PathBuf,
    /// Most shrink candidates per violation.
    pub shrink_budget: usize,
    /// Stop generating after the first violation (it is still shrunk).
    pub first: bool,
    /// The command line, for the summary.
    pub command: String,
    /// Which schedules this process runs: schedule n (1-based) belongs to the shard
    /// that contains index n - 1 (`--shard K/N`; [`Shard::WHOLE`] runs them all).
    pub shard: Shard,
}

/// Everything the concurrent runs share.
struct Shared {
    opts: Options,
    declared: Declared,
    gen: GenOptions,
    runs: AtomicU64,
}

/// What one schedule's run gave.
struct Ran {
    n: u64,
    schedule: Schedule,
    file: PathBuf,
    steps: usize,
    result: RunResult,
}

impl Shared {
    fn name(&self, n: u64) -> String {
        format!(
            "{}-{}-{n}",
            daemon_dir_name(&self.opts.daemon.name()),
            self.opts.seed
        )
    }

    /// Where each run's artifacts go (removed when it passes).
    fn runs_dir(&self) -> PathBuf {
        self.opts.out_dir.join("runs")
    }

    /// Where every generated schedule's scenario file goes.
    fn schedules_dir(&self) -> PathBuf {
        self.opts.out_dir.join("schedules")
    }

    /// The scenario text and model of `s`; an invalid file is a bug of explore.
    fn render(
        &self,
        name: &str,
        description: &str,
        s: &Schedule,
        comment: &[String],
        path: &Path,
    ) -> Result<(String, Scenario)> {
        let b = invariants::bounds(s, &self.declared);
        let mut lines = comment.to_vec();
        lines.push(format!("declared: {}", self.declared.note));
        lines.extend(b.why.iter().map(|w| format!("bound: {w}")));
        let text = render::to_toml(name, description, s, self.gen.caps, &b, &lines)?;
        let sc = render::load(&text, path)
            .map_err(|e| anyhow!("explore generated a scenario its loader rejects: {e}"))?;
        Ok((text, sc))
    }

    async fn run(&self, sc: &Scenario, out_dir: &Path) -> RunResult {
        let opts = RunOptions {
            out_dir: out_dir.to_path_buf(),
            ..Default::default()
        };
        let cast = crate::daemons::Cast::uniform(&self.opts.daemon, sc);
        let r = run::run(sc, &cast, &opts).await;
        self.runs.fetch_add(1, Ordering::Relaxed);
        r
    }

    /// Generates, writes and runs schedule `n`.
    async fn run_schedule(self: Arc<Self>, n: u64) -> Result<Ran> {
        let s = generate::generate(self.opts.seed, n, &self.gen);
        let name = self.name(n);
        let file = self.schedules_dir().join(format!("{name}.toml"));
        let comment = vec![format!(
            "vrrplab explore: schedule {n} of seed {} for {}",
            self.opts.seed,
            self.opts.daemon.name()
        )];
        let description = format!(
            "explore schedule {n} of seed {} ({} faults on {} nodes)",
            self.opts.seed,
            s.faults(),
            s.nodes()
        );
        let (text, sc) = self.render(&name, &description, &s, &comment, &file)?;
        std::fs::write(&file, text).with_context(|| format!("write {}", file.display()))?;
        let result = self.run(&sc, &self.runs_dir()).await;
        Ok(Ran {
            n,
            steps: sc.steps.len(),
            schedule: s,
            file,
            result,
        })
    }

    /// Runs `s` once under `name` in `dir` (artifacts removed afterwards) and says whether
    /// it failed `target`.
    async fn fails_once(
        &self,
        s: &Schedule,
        name: &str,
        dir: &Path,
        target: &Target,
    ) -> Result<bool> {
        let file = dir.join(format!("{name}.toml"));
        let (_, sc) = self.render(name, "explore shrink candidate", s, &[], &file)?;
        let r = self.run(&sc, dir).await;
        let _ = std::fs::remove_dir_all(dir.join(name));
        Ok(invariants::judge(&r).fails(target))
    }

    /// Whether candidate `id` fails `target` k times in a row.
    async fn candidate_fails(
        self: Arc<Self>,
        s: Schedule,
        id: usize,
        base: String,
        target: Target,
    ) -> bool {
        let dir = self.opts.out_dir.join("shrink");
        let steps = render::step_count(&s, self.gen.caps);
        let this = self.clone();
        let failed = shrink::fails_every_time(self.opts.repro, |i| {
            let (this, s, target) = (this.clone(), s.clone(), target.clone());
            let name = format!("{base}-c{id}-r{i}");
            let dir = dir.clone();
            async move {
                this.fails_once(&s, &name, &dir, &target)
                    .await
                    .unwrap_or(false)
            }
        })
        .await;
        eprintln!(
            "[explore] shrinking {base} ({target}): candidate {id} with {steps} steps {}",
            if failed {
                "still fails: taken"
            } else {
                "passes"
            }
        );
        failed
    }

    /// Confirms, shrinks and writes out the violation found by `ran`.
    async fn shrink_finding(
        self: Arc<Self>,
        ran: &Ran,
        target: Target,
        message: String,
    ) -> Result<Finding> {
        let started = Instant::now();
        let base = self.name(ran.n);
        let dir = self.opts.out_dir.join("shrink");
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let k = self.opts.repro.max(1);
        let mut reproduced = 1;
        for i in 1..k {
            if self
                .fails_once(&ran.schedule, &format!("{base}-r{i}"), &dir, &target)
                .await?
            {
                reproduced += 1;
            }
        }
        let (minimal, stats) = if reproduced == k {
            eprintln!(
                "[explore] shrinking {base} ({target}): reproduced {k}/{k}, {} steps",
                ran.steps
            );
            let counter = Arc::new(AtomicUsize::new(0));
            let this = self.clone();
            shrink::shrink(
                ran.schedule.clone(),
                self.gen.caps,
                self.opts.jobs,
                self.opts.shrink_budget,
                |c| {
                    let id = counter.fetch_add(1, Ordering::Relaxed) + 1;
                    let fut = this
                        .clone()
                        .candidate_fails(c, id, base.clone(), target.clone());
                    async move { tokio::spawn(fut).await.unwrap_or(false) }
                },
            )
            .await
        } else {
            eprintln!("[explore] {base} ({target}) reproduced {reproduced}/{k}: flaky, not shrunk");
            (ran.schedule.clone(), shrink::ShrinkStats::default())
        };
        let _ = std::fs::remove_dir_all(&dir);
        let shrink_secs = started.elapsed().as_secs_f64();
        let file = self.opts.out_dir.join(format!("{base}.toml"));
        let daemon = self.opts.daemon.name();
        let steps_now = render::step_count(&minimal, self.gen.caps);
        let mut comment = vec![
            format!("vrrplab explore: {daemon} violates {target} in this schedule."),
            format!("first run: {message}"),
            format!(
                "schedule {} of seed {}: {} steps, shrunk to {steps_now} ({} candidates tried, {} taken{}; each taken candidate failed {k} runs in a row)",
                ran.n,
                self.opts.seed,
                ran.steps,
                stats.tried,
                stats.taken,
                if stats.budget_exhausted { ", shrink budget exhausted" } else { "" }
            ),
        ];
        if reproduced < k {
            comment.push(format!(
                "flaky: the generated schedule failed {target} in {reproduced} of {k} runs; not shrunk"
            ));
        }
        comment.push(format!(
            "reproduce: vrrplab run {} --daemon {daemon}",
            file.display()
        ));
        let description = format!(
            "Found by vrrplab explore (seed {}, schedule {}): {daemon} violates {target}.",
            self.opts.seed, ran.n
        );
        let (text, sc) = self.render(&base, &description, &minimal, &comment, &file)?;
        std::fs::write(&file, text).with_context(|| format!("write {}", file.display()))?;
        let r = self.run(&sc, &self.opts.out_dir).await;
        let rec = crate::run::batch::record(&r);
        crate::report::write_artifacts(&r.out_dir, &rec, &r.events, &r.nodes, &r.vips, r.end_ns)?;
        let times = crate::report::html::step_times(&r.events);
        crate::report::html::write_run_page(&crate::report::html::RunPage {
            record: &rec,
            step_times: &times,
            index_href: crate::report::html::index_href_from(&self.opts.out_dir, &r.out_dir),
        })?;
        let failed = invariants::judge(&r).fails(&target);
        eprintln!(
            "[explore] {base}: minimal file {} ({steps_now} steps) {} {target} in its own run (artifacts in {})",
            file.display(),
            if failed { "fails" } else { "did NOT fail" },
            r.out_dir.display()
        );
        Ok(Finding {
            schedule: ran.n,
            invariant: target,
            message,
            steps: ran.steps,
            shrunk: reproduced == k,
            minimal_steps: steps_now,
            file,
            reproduced: (reproduced, k),
            shrink: stats,
            shrink_secs,
            minimal_run_failed: Some(failed),
        })
    }
}

/// Explores: runs schedules until the limit, shrinks the first violation of each
/// invariant, writes the minimal files, `summary.json`, `summary.md` and `index.html` into the
/// output directory, and returns the summary.
pub async fn explore(opts: Options) -> Result<Summary> {
    let started = Instant::now();
    let declared = invariants::declared(&opts.daemon.name());
    let gen = GenOptions {
        caps: declared.caps,
        ..opts.gen.clone()
    };
    let shared = Arc::new(Shared {
        declared,
        gen,
        runs: AtomicU64::new(0),
        opts,
    });
    let runs_dir = shared.runs_dir();
    for d in [runs_dir.clone(), shared.schedules_dir()] {
        std::fs::create_dir_all(&d).with_context(|| format!("create {}", d.display()))?;
    }
    let o = &shared.opts;
    let mut summary = Summary {
        daemon: o.daemon.name(),
        seed: o.seed,
        command: o.command.clone(),
        schedules: 0,
        passed: 0,
        violations: Vec::new(),
        unknown: Vec::new(),
        schedules_to_first_violation: None,
        lab_runs: 0,
        elapsed_secs: 0.0,
        schedules_per_minute: 0.0,
        exit_code: 0,
    };
    let more = |next: u64| match o.limit {
        Limit::Schedules(n) => next < n,
        Limit::Budget(d) => started.elapsed() < d,
    };
    let mut shrinking_time = Duration::ZERO;
    let mut shrunk: BTreeSet<Target> = BTreeSet::new();
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0u64;
    let mut stop = false;
    loop {
        while !stop && set.len() < o.jobs.max(1) && more(next) {
            next += 1;
            if !o.shard.contains((next - 1) as usize) {
                continue;
            }
            set.spawn(shared.clone().run_schedule(next));
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let ran = joined.context("a schedule's task panicked")??;
        summary.schedules += 1;
        let verdict = invariants::judge(&ran.result);
        let word = match &verdict {
            Judgement::Pass => {
                summary.passed += 1;
                let _ = std::fs::remove_dir_all(runs_dir.join(shared.name(ran.n)));
                "pass".to_string()
            }
            Judgement::Unknown(why) => {
                summary.unknown.push(Unjudged {
                    schedule: ran.n,
                    file: ran.file.clone(),
                    why: why.clone(),
                });
                format!("UNKNOWN ({})", why.join("; "))
            }
            Judgement::Violated(v) => {
                let (target, message) = v[0].clone();
                summary
                    .schedules_to_first_violation
                    .get_or_insert(summary.schedules);
                let word = format!("VIOLATES {target}: {message}");
                eprintln!("[explore] schedule {}: {word}", ran.n);
                let finding = if !stop && shrunk.insert(target.clone()) {
                    let t0 = Instant::now();
                    let f = shared.clone().shrink_finding(&ran, target, message).await?;
                    shrinking_time += t0.elapsed();
                    f
                } else {
                    Finding {
                        schedule: ran.n,
                        invariant: target,
                        message,
                        steps: ran.steps,
                        shrunk: false,
                        minimal_steps: ran.steps,
                        file: ran.file.clone(),
                        reproduced: (1, 1),
                        shrink: shrink::ShrinkStats::default(),
                        shrink_secs: 0.0,
                        minimal_run_failed: None,
                    }
                };
                summary.violations.push(finding);
                if o.first {
                    stop = true;
                }
                word
            }
        };
        let limit = match o.limit {
            Limit::Schedules(n) => format!("/{n}"),
            Limit::Budget(d) => format!(
                " ({:.0} s of {:.0} s)",
                started.elapsed().as_secs_f64(),
                d.as_secs_f64()
            ),
        };
        eprintln!(
            "[explore] {}{limit} schedules · {} violations · {} unknown · schedule {} ({:.1} s): {word}",
            summary.schedules,
            summary.violations.len(),
            summary.unknown.len(),
            ran.n,
            ran.result.duration.as_secs_f64()
        );
    }
    let elapsed = started.elapsed();
    summary.elapsed_secs = elapsed.as_secs_f64();
    let exploring = elapsed.saturating_sub(shrinking_time).as_secs_f64();
    summary.schedules_per_minute = if exploring > 0.0 {
        summary.schedules as f64 * 60.0 / exploring
    } else {
        0.0
    };
    summary.lab_runs = shared.runs.load(Ordering::Relaxed);
    summary.exit_code = u8::from(!summary.violations.is_empty() || !summary.unknown.is_empty());
    let out = &shared.opts.out_dir;
    std::fs::write(out.join("summary.md"), summary.table())
        .with_context(|| format!("write {}", out.display()))?;
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )
    .with_context(|| format!("write {}", out.display()))?;
    page::write_explore_page(out, &summary)?;
    Ok(summary)
}
