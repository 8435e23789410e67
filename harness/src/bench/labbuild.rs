//! Section 1: how long [`Lab::build`] plus teardown takes, against the same lab built
//! with iproute2 commands ([`super::iproute`]).
//!
//! Build time runs from the call to a ready lab (segment, bridge, client, nodes, every
//! address added and every link up). Teardown runs from dropping the [`Lab`] until the
//! process holds no more descriptor than before the build (namespace descriptors and
//! the netlink sockets inside the namespaces all closed, so the namespaces are gone
//! from this process; the kernel frees them asynchronously afterwards).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{iproute, Stats, Target, Verdict};
use crate::lab::topology::Topology;
use crate::lab::Lab;

/// Lab sizes measured.
pub const SIZES: [usize; 4] = [2, 8, 32, 64];

/// How long to wait for the descriptors of a dropped lab to close.
const TEARDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// One lab size.
#[derive(Debug, Clone, Serialize)]
pub struct LabRow {
    /// Number of nodes.
    pub nodes: usize,
    /// vrrplab: build, ms.
    pub build_ms: Stats,
    /// vrrplab: teardown, ms.
    pub teardown_ms: Stats,
    /// vrrplab: build + teardown, ms.
    pub total_ms: Stats,
    /// iproute2: build, ms.
    pub ip_build_ms: Stats,
    /// iproute2: teardown, ms.
    pub ip_teardown_ms: Stats,
    /// iproute2: build + teardown, ms.
    pub ip_total_ms: Stats,
    /// Of vrrplab's total: creating and closing the N + 2 bare namespaces alone
    /// ([`crate::lab::netns::create_many`]: unshare, sysctls, a netlink socket each), ms.
    pub namespaces_ms: Stats,
    /// `ip` commands one iproute2 build + teardown runs.
    pub ip_commands: usize,
    /// iproute2 total median / vrrplab total median.
    pub speedup: f64,
}

/// The whole section.
#[derive(Debug, Clone, Serialize)]
pub struct LabSection {
    /// One row per size.
    pub rows: Vec<LabRow>,
}

impl LabSection {
    /// The section's targets: ≥ 10× iproute2 at every size, 2 nodes < 6 ms, 64 < 80 ms.
    pub fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for r in &self.rows {
            out.push(Target {
                what: format!("lab {} nodes: ≥ 10× faster than iproute2", r.nodes),
                measured: format!("{:.1}×", r.speedup),
                verdict: Verdict::from_bool(r.speedup >= 10.0),
            });
            let limit = match r.nodes {
                2 => Some(6.0),
                64 => Some(80.0),
                _ => None,
            };
            if let Some(limit) = limit {
                out.push(Target {
                    what: format!(
                        "lab {} nodes: build + teardown median < {limit} ms",
                        r.nodes
                    ),
                    measured: format!("{:.2} ms", r.total_ms.median),
                    verdict: Verdict::from_bool(r.total_ms.median < limit),
                });
            }
        }
        out
    }
}

/// Measures every size, `runs` times each, vrrplab then iproute2.
pub fn run(rt: &tokio::runtime::Runtime, runs: usize) -> Result<LabSection> {
    iproute::remove_stale();
    // One unmeasured build first: the first lab of a process pays for loading code and
    // the first netlink sockets.
    rt.block_on(one(2))?;
    let mut rows = Vec::new();
    for &n in &SIZES {
        let (mut b, mut t, mut tot) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (build, teardown) = rt.block_on(one(n))?;
            b.push(ms(build));
            t.push(ms(teardown));
            tot.push(ms(build + teardown));
        }
        let mut ns = Vec::new();
        for _ in 0..runs {
            ns.push(ms(rt.block_on(namespaces_only(n))?));
        }
        let (mut ib, mut it, mut itot) = (Vec::new(), Vec::new(), Vec::new());
        let mut commands = 0;
        for i in 0..runs {
            let m = iproute::build_and_teardown(n, i)?;
            ib.push(ms(m.build));
            it.push(ms(m.teardown));
            itot.push(ms(m.build + m.teardown));
            commands = m.commands;
        }
        let stats = |v: &[f64]| Stats::of(v).context("no samples");
        let total_ms = stats(&tot)?;
        let ip_total_ms = stats(&itot)?;
        let row = LabRow {
            nodes: n,
            build_ms: stats(&b)?,
            teardown_ms: stats(&t)?,
            speedup: ip_total_ms.ratio_to(&total_ms),
            total_ms,
            namespaces_ms: stats(&ns)?,
            ip_build_ms: stats(&ib)?,
            ip_teardown_ms: stats(&it)?,
            ip_total_ms,
            ip_commands: commands,
        };
        eprintln!(
            "bench lab: {n} nodes: vrrplab {:.2} ms, iproute2 {:.1} ms ({:.1}×)",
            row.total_ms.median, row.ip_total_ms.median, row.speedup
        );
        rows.push(row);
    }
    Ok(LabSection { rows })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One build and teardown of an `n`-node IPv4 lab: (build, teardown).
async fn one(n: usize) -> Result<(Duration, Duration)> {
    let before = open_fds()?;
    let t0 = Instant::now();
    let lab = Lab::build(Topology::with_nodes(n, false)).await?;
    let built = t0.elapsed();
    let t1 = Instant::now();
    drop(lab);
    // The netlink connection tasks are aborted by the drop; their sockets close when
    // the runtime drops the aborted futures, which needs this task to yield.
    loop {
        if open_fds()? <= before {
            break;
        }
        if t1.elapsed() > TEARDOWN_DEADLINE {
            bail!("a dropped {n}-node lab still holds descriptors after {TEARDOWN_DEADLINE:?}");
        }
        tokio::task::yield_now().await;
    }
    Ok((built, t1.elapsed()))
}

/// Creates and closes the bare namespaces of an `n`-node lab: the floor under
/// [`Lab::build`] that no netlink batching can lower.
async fn namespaces_only(n: usize) -> Result<Duration> {
    let mut labels = vec!["segment".to_string(), "client".to_string()];
    labels.extend((1..=n).map(|i| format!("node{i}")));
    let t0 = Instant::now();
    let fresh = crate::lab::netns::create_many(&labels)?;
    drop(fresh);
    Ok(t0.elapsed())
}

/// Number of open descriptors of this process.
fn open_fds() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")
        .context("read /proc/self/fd")?
        .count())
}
