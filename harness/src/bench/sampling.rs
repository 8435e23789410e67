//! What the footprint and scale sections measure on a node, shared by both: CPU time
//! of its processes (schedstat ns), their peak RSS (`VmHWM`), how many VIPs it holds,
//! and the launch of a daemon with a configuration generated in code.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::unistd::Pid;

use super::Stats;
use crate::daemons::Daemon;
use crate::lab::process::ProcessSpec;
use crate::lab::Host;

/// A node's configuration for each daemon the benches compare, as file text.
pub(crate) struct Configs {
    /// vrrpd's TOML.
    pub vrrpd: String,
    /// keepalived.conf.
    pub keepalived: String,
}

/// Writes the configuration for `d` where its driver expects it and returns how the
/// driver starts the daemon (the one launcher the runner uses too).
pub(crate) fn spec(d: &Daemon, dir: &Path, confs: Configs) -> Result<ProcessSpec> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let (file, text) = match d.name().as_str() {
        "vrrpd" => (crate::daemons::vrrpd::CONFIG, confs.vrrpd),
        "keepalived" => (crate::daemons::keepalived::CONFIG, confs.keepalived),
        other => bail!("this benchmark compares vrrpd and keepalived, not {other}"),
    };
    let conf = dir.join(file);
    std::fs::write(&conf, text).with_context(|| format!("write {}", conf.display()))?;
    Ok(d.driver().launch(None, dir)?.main)
}

/// How many of `vips` the host holds on any of the interfaces `ifindexes`.
pub(crate) async fn count_held(
    h: &Host,
    vips: &HashSet<IpAddr>,
    ifindexes: &[u32],
) -> Result<usize> {
    let snap = h.addresses().await?;
    Ok(snap
        .entries
        .iter()
        .filter(|e| ifindexes.contains(&e.ifindex) && vips.contains(&e.addr))
        .count())
}

/// Waits until `n1` holds every VIP and `n2` none (and, with `both`, both daemons
/// run), polling every `poll`; fails at `deadline` after `t0` or when a daemon exits.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn converge(
    d: &Daemon,
    (n1, n2): (&Host, &Host),
    all: &HashSet<IpAddr>,
    ifindexes: &[u32],
    both: bool,
    (t0, deadline): (Instant, Duration),
    poll: Duration,
    log1: &Path,
) -> Result<()> {
    loop {
        let held1 = count_held(n1, all, ifindexes).await?;
        let held2 = count_held(n2, all, ifindexes).await?;
        if held1 == all.len() && held2 == 0 {
            return Ok(());
        }
        if n1.processes().is_empty() || (both && n2.processes().is_empty()) {
            bail!(
                "{} exited before converging (node1 held {held1} VIPs, node2 {held2}); log: {}",
                d.name(),
                tail(log1)
            );
        }
        if t0.elapsed() > deadline {
            bail!(
                "after {deadline:?} node1 held {held1} of {} VIPs and node2 {held2}; log: {}",
                all.len(),
                tail(log1)
            );
        }
        tokio::time::sleep(poll).await;
    }
}

/// CPU use of both nodes over one sampling time: each window's % of one core and the
/// whole time's.
pub(crate) struct CpuSample {
    /// MASTER (`n1`) per window.
    pub master_windows: Vec<f64>,
    /// BACKUP (`n2`) per window.
    pub backup_windows: Vec<f64>,
    /// MASTER over the whole time.
    pub master_pct: f64,
    /// BACKUP over the whole time.
    pub backup_pct: f64,
}

/// Cuts `secs` into `windows` equal windows and measures the CPU % of one core of each
/// node's processes in each window and over the whole time (MASTER `n1`, BACKUP `n2`).
pub(crate) async fn cpu_windows(n1: &Host, n2: &Host, windows: usize, secs: Duration) -> CpuSample {
    let windows = windows.max(1);
    let window = secs / u32::try_from(windows).unwrap_or(u32::MAX);
    let (mut m, mut b) = (Vec::new(), Vec::new());
    let first = (cpu_ns(n1), cpu_ns(n2));
    let start = Instant::now();
    let mut prev = first.clone();
    let mut prev_t = start;
    for k in 1..=windows {
        // Sleep to the window's planned end, so a late wake-up does not shift the rest.
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        tokio::time::sleep_until((start + window * k).into()).await;
        let now = (cpu_ns(n1), cpu_ns(n2));
        let t = Instant::now();
        let dt = (t - prev_t).as_secs_f64();
        prev_t = t;
        m.push(percent(&prev.0, &now.0, dt));
        b.push(percent(&prev.1, &now.1, dt));
        prev = now;
    }
    let total = (prev_t - start).as_secs_f64();
    CpuSample {
        master_pct: percent(&first.0, &prev.0, total),
        backup_pct: percent(&first.1, &prev.1, total),
        master_windows: m,
        backup_windows: b,
    }
}

/// CPU time in ns of every process of the host (all its threads), by PID.
pub(crate) fn cpu_ns(h: &Host) -> Vec<(Pid, u64)> {
    h.processes()
        .into_iter()
        .filter_map(|p| Some((p, process_cpu_ns(p)?)))
        .collect()
}

/// The sum of `schedstat`'s run time over the threads of `pid`.
fn process_cpu_ns(pid: Pid) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut sum = 0;
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("schedstat")) {
            sum += schedstat_ns(&text)?;
        }
    }
    Some(sum)
}

/// The first field of a `schedstat` line: time spent on the CPU, ns.
pub fn schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// CPU % of one core between two samples, over processes present in both.
pub(crate) fn percent(before: &[(Pid, u64)], after: &[(Pid, u64)], secs: f64) -> f64 {
    let used: u64 = after
        .iter()
        .filter_map(|(p, t)| {
            before
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, t0)| t.saturating_sub(*t0))
        })
        .sum();
    used as f64 / 1e9 / secs * 100.0
}

/// (largest − smallest) / median of the windows, in per cent of the median.
pub fn spread(windows: &[f64]) -> Option<f64> {
    let st = Stats::of(windows)?;
    let max = windows.iter().copied().fold(f64::MIN, f64::max);
    (st.median > 0.0).then(|| (max - st.min) / st.median * 100.0)
}

/// Sum of `VmHWM` over the host's processes, kB.
pub(crate) fn peak_rss_kb(h: &Host) -> u64 {
    h.processes()
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            status_kb(&text, "VmHWM")
        })
        .sum()
}

/// A `Key:   123 kB` line of `/proc/<pid>/status`.
pub fn status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

/// The last lines of a log, for error messages.
pub(crate) fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_parsing() {
        assert_eq!(schedstat_ns("123456789 2000 31\n"), Some(123_456_789));
        assert_eq!(schedstat_ns(""), None);
        let status = "Name:\tvrrpd\nVmHWM:\t    4242 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(status_kb(status, "VmHWM"), Some(4242));
        assert_eq!(status_kb(status, "VmRSS"), Some(4000));
        assert_eq!(status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn cpu_percent() {
        let p = Pid::from_raw;
        let before = [(p(1), 100), (p(2), 50)];
        let after = [(p(1), 100_000_100), (p(3), 999)];
        // 100 ms of CPU in 2 s = 5 %; pid 3 was not there before, pid 2 is gone.
        assert!((percent(&before, &after, 2.0) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn spread_of_windows() {
        assert_eq!(spread(&[4.0, 5.0, 6.0]), Some(40.0));
        assert_eq!(spread(&[0.0, 0.0]), None);
    }
}
