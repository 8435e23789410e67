//! Joining the folders of a sharded batch (`vrrplab run --shard K/N` on N machines) into
//! one report: one folder with every run, one `index.html`, one `summary.md`, one
//! `junit.xml`. Every batch folder carries a manifest (`shard.json`) naming its shard
//! and its runs, so a missing shard, a missing run or a shard that broke off is found
//! and reported, never papered over.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::shard::Shard;
use crate::report::{self, RunRecord, VERDICT_FILE};

/// The manifest's file name, at the root of a batch's output folder.
pub const MANIFEST_FILE: &str = "shard.json";

/// What a batch (one shard, or the whole as shard 1/1) ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Which shard this folder holds.
    pub shard: Shard,
    /// How many runs the whole batch (every shard together) has.
    pub batch_runs: usize,
    /// This shard's runs: each run's folder, relative to the output folder.
    pub runs: Vec<String>,
    /// Whether the batch got to the end (written `false` before the first run).
    pub finished: bool,
    /// The batch's exit code, once finished.
    pub exit_code: Option<u8>,
}

impl Manifest {
    /// Writes the manifest into `out`.
    pub fn write(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
        let path = out.join(MANIFEST_FILE);
        let text = serde_json::to_string_pretty(self).context("serialise the manifest")?;
        std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))
    }

    /// Reads the manifest of the batch folder `dir`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: no {MANIFEST_FILE} (not a `vrrplab run` output folder, or its shard never started)",
                dir.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("{}: unreadable", path.display()))
    }
}

/// The result of a merge: the joined runs and everything that was wrong.
#[derive(Debug)]
pub struct Merged {
    /// Every run found, its `out_dir` pointing into the merged folder.
    pub records: Vec<RunRecord>,
    /// Missing shards, missing or unreadable runs, shards that did not finish or failed.
    pub problems: Vec<String>,
}

impl Merged {
    /// Whether the merged batch lets a gate pass: every shard there and finished, every
    /// run there and as expected.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.records.iter().all(|r| r.status().is_ok())
    }
}

/// Reads a run's `verdict.json` back.
pub fn read_record(run_dir: &Path) -> Result<RunRecord> {
    let path = run_dir.join(VERDICT_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let mut r: RunRecord =
        serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    r.out_dir = run_dir.to_path_buf();
    Ok(r)
}

/// Copies the folder `from` to `to` (which must not exist yet), files and subfolders.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&src, &dst)?;
        } else if t.is_file() {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// Joins the batch folders `dirs` into `out`: copies every run's folder (keeping its
/// relative path), and writes `index.html`, `summary.md` and `junit.xml` over all of
/// them. `shards` is how many shards there should be (default: what the manifests say).
/// Bad arguments (no folder, `out` among the inputs, runs of two shards in one place)
/// are errors; missing shards and runs are [`Merged::problems`].
pub fn merge(dirs: &[PathBuf], out: &Path, shards: Option<usize>) -> Result<Merged> {
    if dirs.is_empty() {
        bail!("report merge: no shard folder given");
    }
    let out_abs = std::path::absolute(out).with_context(|| format!("{}", out.display()))?;
    let mut problems = Vec::new();
    let mut manifests = Vec::new();
    for d in dirs {
        let d_abs = std::path::absolute(d).with_context(|| format!("{}", d.display()))?;
        if out_abs.starts_with(&d_abs) || d_abs.starts_with(&out_abs) {
            bail!(
                "report merge: the output folder {} overlaps the shard folder {}",
                out.display(),
                d.display()
            );
        }
        match Manifest::read(d) {
            Ok(m) => manifests.push((d.clone(), m)),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    let n = shards
        .or_else(|| manifests.first().map(|(_, m)| m.shard.n))
        .unwrap_or(dirs.len());
    let mut seen: BTreeSet<usize> = BTreeSet::new();
    for (d, m) in &manifests {
        if m.shard.n != n {
            problems.push(format!(
                "{}: shard {} is not one of {n} shards",
                d.display(),
                m.shard
            ));
        } else if !seen.insert(m.shard.k) {
            problems.push(format!("{}: shard {} given twice", d.display(), m.shard));
        }
        if !m.finished {
            problems.push(format!(
                "{}: shard {} did not finish (it broke off or is still running)",
                d.display(),
                m.shard
            ));
        } else if m.exit_code.is_some_and(|c| c > 1) {
            problems.push(format!(
                "{}: shard {} exited with {}",
                d.display(),
                m.shard,
                m.exit_code.unwrap_or_default()
            ));
        }
    }
    for k in 1..=n {
        if !seen.contains(&k) {
            problems.push(format!("shard {k}/{n} is missing"));
        }
    }
    let expected: BTreeSet<usize> = manifests.iter().map(|(_, m)| m.batch_runs).collect();
    let planned: usize = manifests.iter().map(|(_, m)| m.runs.len()).sum();
    if expected.len() > 1 {
        problems.push(format!(
            "the shards disagree on the batch's size ({expected:?}): were they run with the same scenarios, daemons and --repeat?"
        ));
    } else if let Some(total) = expected.first() {
        if seen.len() == n && planned != *total {
            problems.push(format!(
                "the shards planned {planned} runs, the batch has {total}"
            ));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let mut records = Vec::new();
    for (d, m) in &manifests {
        for rel in &m.runs {
            let src = d.join(rel);
            let dst = out.join(rel);
            if dst.exists() {
                bail!(
                    "report merge: run folder {rel} exists twice (in {} and an earlier shard)",
                    d.display()
                );
            }
            match read_record(&src) {
                Ok(mut r) => {
                    copy_tree(&src, &dst)?;
                    r.out_dir = dst;
                    records.push(r);
                }
                Err(e) => problems.push(format!(
                    "shard {}: run {rel} is missing or unreadable: {e:#}",
                    m.shard
                )),
            }
        }
    }
    records.sort_by(|a, b| {
        (&a.scenario, &a.daemon, &a.out_dir).cmp(&(&b.scenario, &b.daemon, &b.out_dir))
    });
    Ok(Merged { records, problems })
}

/// Writes the merged report's files into `out`: `summary.md` (with the problems listed
/// under the table), `junit.xml` and `index.html`.
pub fn write_merged(merged: &Merged, out: &Path, subtitle: &str) -> Result<()> {
    let mut summary = report::summary_table(&merged.records);
    if !merged.problems.is_empty() {
        summary.push_str("\n**The merge is incomplete:**\n\n");
        for p in &merged.problems {
            summary.push_str(&format!("- {p}\n"));
        }
    }
    std::fs::write(out.join("summary.md"), &summary)
        .with_context(|| format!("write {}", out.join("summary.md").display()))?;
    std::fs::write(out.join("junit.xml"), report::junit_xml(&merged.records))
        .with_context(|| format!("write {}", out.join("junit.xml").display()))?;
    report::html::write_index(out, &merged.records, subtitle, &merged.problems)?;
    Ok(())
}
