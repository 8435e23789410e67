//! The fault vocabulary and how each fault is applied to a node of a running lab.
//!
//! Every fault is recorded in the history at the moment it is injected, before it acts.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::Signal;

use super::live::Runner;
use crate::daemons::{macvlan, track, VipModel};
use crate::history::{AddrChange, DaemonEvent, EventKind, GateChange};
use crate::observe;
use crate::scenario::{FaultKind, NodeVrrp, TrackKind};

/// How long a clean stop may take: a daemon sends its priority-0 advert and removes its
/// VIPs at once, so a few advert intervals plus process exit is generous.
fn stop_deadline(cfg: &NodeVrrp) -> Duration {
    cfg.advert_interval.saturating_mul(3) + Duration::from_secs(5)
}

/// How long a helper (FRR's zebra) may take to become ready.
const HELPER_READY: Duration = Duration::from_secs(10);

/// Starts the daemon on `node` with its current settings: the daemon its settings name
/// (a step that swaps a node's daemon), else the node's own. Helpers that are not running
/// start first, each until ready; a daemon holding its VIP on an operator's macvlan gets
/// that macvlan first.
pub(crate) async fn start(rt: &mut Runner<'_>, node: &str) -> Result<()> {
    let (cfg, dir) = {
        let n = rt.rt(node)?;
        (n.cfg.clone(), n.dir.clone())
    };
    let daemon = match &cfg.daemon {
        Some(name) => rt
            .cast
            .by_name
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("daemon {name:?} of {node} was not resolved"))?,
        None => rt.rt(node)?.daemon.clone(),
    };
    rt.rt(node)?.daemon = daemon.clone();
    if daemon.driver().vip_model() == VipModel::OperatorMacvlan {
        macvlan::ensure(rt.host(node)?, &cfg).await?;
    }
    let launch = daemon.prepare(&cfg, &dir)?;
    if rt.rt(node)?.helpers.is_empty() {
        for h in &launch.helpers {
            let pid = rt.host(node)?.spawn(&h.spec)?;
            rt.rt(node)?.helpers.push(pid);
            rt.history.record(EventKind::Daemon {
                node: node.to_string(),
                what: DaemonEvent::Started,
                pid,
                detail: format!(
                    "{} helper {} ({})",
                    daemon.label(),
                    h.spec.program.display(),
                    dir.display()
                ),
            });
            let until = Instant::now() + HELPER_READY;
            while !h.ready.exists() {
                if let Some(st) = rt.host(node)?.try_wait(pid)? {
                    rt.rt(node)?.helpers.retain(|p| *p != pid);
                    bail!(
                        "{} on {node} exited at once ({st}); log tail: {}",
                        h.spec.program.display(),
                        log_tail(&h.spec.log)
                    );
                }
                if Instant::now() >= until {
                    bail!(
                        "{} on {node} did not create {} within {HELPER_READY:?}; log tail: {}",
                        h.spec.program.display(),
                        h.ready.display(),
                        log_tail(&h.spec.log)
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    if cfg.track.is_some_and(|t| t.kind == TrackKind::Process) && service_pids(rt, node)?.is_empty()
    {
        // The tracked service runs before the daemon, as on a real host.
        rt.host(node)?.spawn(&track::service_spec(&dir))?;
    }
    let spec = launch.main;
    let pid = rt.host(node)?.spawn(&spec)?;
    rt.rt(node)?.pid = Some(pid);
    rt.history.record(EventKind::Daemon {
        node: node.to_string(),
        what: DaemonEvent::Started,
        pid,
        detail: format!(
            "{} {} ({})",
            daemon.label(),
            spec.program.display(),
            dir.display()
        ),
    });
    // A daemon that dies at once (bad config, missing capability) is a broken run, not a
    // failover: say so with its log.
    tokio::time::sleep(Duration::from_millis(50)).await;
    if let Some(st) = rt.host(node)?.try_wait(pid)? {
        rt.rt(node)?.pid = None;
        bail!(
            "{} on {node} exited at once ({st}); log tail: {}",
            daemon.label(),
            log_tail(&spec.log)
        );
    }
    Ok(())
}

/// The last lines of a log, for error messages.
fn log_tail(path: &std::path::Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(5).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Waits for the daemon's main process to exit and records it.
async fn reap(rt: &mut Runner<'_>, node: &str, limit: Duration) -> Result<bool> {
    let Some(pid) = rt.rt(node)?.pid else {
        return Ok(true);
    };
    let st = rt
        .host(node)?
        .wait_exit(pid, Instant::now() + limit)
        .await?;
    match st {
        Some(st) => {
            rt.rt(node)?.pid = None;
            rt.history.record(EventKind::Daemon {
                node: node.to_string(),
                what: DaemonEvent::Exited,
                pid,
                detail: st.to_string(),
            });
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Waits for the daemon's helpers to exit and records each; `false` if one still runs.
async fn reap_helpers(rt: &mut Runner<'_>, node: &str, limit: Duration) -> Result<bool> {
    let until = Instant::now() + limit;
    for pid in rt.rt(node)?.helpers.clone() {
        match rt.host(node)?.wait_exit(pid, until).await? {
            Some(st) => {
                rt.rt(node)?.helpers.retain(|p| *p != pid);
                rt.history.record(EventKind::Daemon {
                    node: node.to_string(),
                    what: DaemonEvent::Exited,
                    pid,
                    detail: format!("helper: {st}"),
                });
            }
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Applies `fault` to `node`. `config`, when present, replaces every node's settings
/// from now on (only `node`'s differ).
pub(crate) async fn apply(
    rt: &mut Runner<'_>,
    node: &str,
    fault: FaultKind,
    addr: Option<(IpAddr, u8)>,
    config: Option<&[NodeVrrp]>,
) -> Result<()> {
    if let Some(cfgs) = config {
        for c in cfgs {
            rt.rt(&c.name)?.cfg = c.clone();
        }
    }
    let pid = rt.rt(node)?.pid;
    rt.history.record(EventKind::Fault {
        node: node.to_string(),
        fault: fault.name().to_string(),
        detail: match (addr, pid) {
            (Some((a, p)), _) => format!("{a}/{p}"),
            (None, Some(pid)) => format!("daemon pid {pid}"),
            (None, None) => String::new(),
        },
    });
    let cfg = rt.rt(node)?.cfg.clone();
    match fault {
        FaultKind::Sigkill => {
            // Every process of the node at once, like `pkill -9 keepalived`.
            kill_all(rt, node).await?;
        }
        FaultKind::SigkillParent => {
            let before = rt.host(node)?.processes();
            rt.signal_main(node, Signal::SIGKILL)?;
            reap(rt, node, Duration::from_secs(5)).await?;
            // Children that die with their parent (keepalived's VRRP child has
            // PR_SET_PDEATHSIG) take a moment to go; a start right after must not find
            // them (keepalived refuses: "daemon is already running"). Children that
            // outlive their parent are the daemon's own behaviour and stay.
            gone_within(&before, Duration::from_secs(2)).await;
        }
        FaultKind::SigkillChild => {
            let main = rt
                .rt(node)?
                .pid
                .ok_or_else(|| anyhow!("no daemon on {node}"))?;
            let child = rt
                .host(node)?
                .processes()
                .into_iter()
                .find(|p| p.as_raw() as u32 != main)
                .ok_or_else(|| anyhow!("the daemon on {node} has no child process"))?;
            rt.host(node)?
                .signal(child.as_raw() as u32, Signal::SIGKILL)
                .context("kill the daemon's child")?;
        }
        FaultKind::Stop => stop(rt, node, &cfg).await?,
        FaultKind::Start => start(rt, node).await?,
        FaultKind::Restart => {
            stop(rt, node, &cfg).await?;
            start(rt, node).await?;
        }
        FaultKind::Freeze => {
            rt.host(node)?.signal_all(Signal::SIGSTOP);
        }
        FaultKind::Thaw => {
            rt.host(node)?.signal_all(Signal::SIGCONT);
        }
        FaultKind::LinkDown => rt.host(node)?.set_link(false).await?,
        FaultKind::LinkUp => rt.host(node)?.set_link(true).await?,
        FaultKind::Isolate => rt.lab.isolate(node).await?,
        FaultKind::Rejoin => rt.lab.rejoin(node).await?,
        FaultKind::Crash => {
            // The server goes down: everything dies and its link drops, but what the
            // kernel held (addresses) is frozen in place until the link comes back.
            kill_all(rt, node).await?;
            rt.host(node)?.set_link(false).await?;
        }
        FaultKind::Reboot => {
            // Every VIP present on the node, held or not (dormant, gated).
            let held = {
                let events = rt.history.events();
                let now = rt.history.clock().now_ns();
                rt.vips
                    .iter()
                    .map(|v| {
                        let tl = crate::check::holders_until(&events, *v, now);
                        let present = tl.intervals.last().map(|i| {
                            i.nodes
                                .iter()
                                .chain(&i.dormant)
                                .chain(&i.gated)
                                .cloned()
                                .collect::<std::collections::BTreeSet<String>>()
                        });
                        (*v, present.unwrap_or_default())
                    })
                    .collect::<Vec<_>>()
            };
            rt.monitors.remove(node);
            rt.rt(node)?.pid = None;
            rt.rt(node)?.helpers.clear();
            rt.lab.reboot(node).await?;
            // The old namespace is gone with every address in it; its monitor is gone
            // too, so say so in the history before the new node's monitor starts.
            for (vip, nodes) in held {
                if nodes.contains(node) {
                    let prefix_len = cfg
                        .vips
                        .iter()
                        .find(|(a, _)| *a == vip)
                        .map_or(if vip.is_ipv4() { 32 } else { 128 }, |(_, p)| *p);
                    rt.history.record(EventKind::Addr {
                        node: node.to_string(),
                        ifname: "eth1".into(),
                        change: AddrChange::Removed,
                        addr: vip,
                        prefix_len,
                        valid_lft: 0,
                        proto: None,
                        label: Some("node rebooted".into()),
                    });
                }
            }
            // Its nftables gate went with the namespace too; said after its addresses, so
            // the node never counts as an ungated holder in between.
            for vip in &rt.vips {
                for change in [GateChange::Closed, GateChange::Unmanaged] {
                    rt.history.record(EventKind::Gate {
                        node: node.to_string(),
                        vip: *vip,
                        change,
                    });
                }
            }
            // /run is a tmpfs on a real machine: a reboot clears pid files.
            let (dir, daemon) = {
                let n = rt.rt(node)?;
                (n.dir.clone(), n.daemon.clone())
            };
            daemon.clear_runtime_files(&dir);
            let mon = observe::start_node(rt.host(node)?, rt.history.clone()).await?;
            rt.monitors.insert(node.to_string(), mon);
            start(rt, node).await?;
        }
        FaultKind::Reload => {
            let (dir, daemon) = {
                let n = rt.rt(node)?;
                (n.dir.clone(), n.daemon.clone())
            };
            daemon.write_config(&cfg, &dir)?;
            rt.signal_main(node, daemon.driver().reload_signal())?;
        }
        FaultKind::AddrDel => {
            let (a, _) = addr.ok_or_else(|| anyhow!("addr-del needs an address"))?;
            rt.host(node)?.del_address(a).await?;
        }
        FaultKind::AddrAdd => {
            let (a, p) = addr.ok_or_else(|| anyhow!("addr-add needs an address"))?;
            rt.host(node)?.add_address(a, p).await?;
        }
        FaultKind::BreakCheck => set_check(rt, node, &cfg, true).await?,
        FaultKind::RepairCheck => set_check(rt, node, &cfg, false).await?,
    }
    Ok(())
}

/// PIDs of the tracked service in `node`.
fn service_pids(rt: &mut Runner<'_>, node: &str) -> Result<Vec<u32>> {
    Ok(rt
        .host(node)?
        .processes()
        .into_iter()
        .map(|p| p.as_raw() as u32)
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim_end() == track::SERVICE_NAME)
        })
        .collect())
}

/// Breaks (or repairs) the node's tracked check: the script's flag file, the tracked
/// service process, the tracked file's value, or the tracked interface's link.
async fn set_check(rt: &mut Runner<'_>, node: &str, cfg: &NodeVrrp, broken: bool) -> Result<()> {
    let t = cfg.track.ok_or_else(|| anyhow!("{node} tracks no check"))?;
    let dir = rt.rt(node)?.dir.clone();
    match t.kind {
        TrackKind::Script => {
            let flag = track::flag_path(&dir);
            if broken {
                std::fs::write(&flag, "").with_context(|| format!("write {}", flag.display()))?;
            } else if flag.exists() {
                std::fs::remove_file(&flag)
                    .with_context(|| format!("remove {}", flag.display()))?;
            }
        }
        TrackKind::File => {
            let f = track::value_path(&dir);
            std::fs::write(&f, if broken { "1\n" } else { "0\n" })
                .with_context(|| format!("write {}", f.display()))?;
        }
        TrackKind::Process => {
            if broken {
                for pid in service_pids(rt, node)? {
                    rt.host(node)?.signal(pid, Signal::SIGKILL)?;
                    let _ = rt
                        .host(node)?
                        .wait_exit(pid, Instant::now() + Duration::from_secs(5))
                        .await;
                }
            } else if service_pids(rt, node)?.is_empty() {
                track::prepare(&t, &dir)?;
                rt.host(node)?.spawn(&track::service_spec(&dir))?;
            }
        }
        TrackKind::Interface => {
            rt.host(node)?
                .set_link_by_name(track::TRACKED_INTERFACE, !broken)
                .await?;
        }
    }
    Ok(())
}

/// SIGKILL to every process of the node, then wait until each is gone from the process
/// table, zombies included: a daemon started right after must not find its predecessor's
/// PID still taken (keepalived then refuses to start, "daemon is already running").
async fn kill_all(rt: &mut Runner<'_>, node: &str) -> Result<()> {
    let before = rt.host(node)?.processes();
    rt.host(node)?.signal_all(Signal::SIGKILL);
    reap(rt, node, Duration::from_secs(5)).await?;
    reap_helpers(rt, node, Duration::from_secs(5)).await?;
    if !gone_within(&before, Duration::from_secs(5)).await {
        bail!("processes of {node} still present 5 s after SIGKILL");
    }
    Ok(())
}

/// Waits until none of `pids` is in the process table any more (zombies included), for
/// at most `limit`; whether they all went.
async fn gone_within(pids: &[nix::unistd::Pid], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let alive = pids
            .iter()
            .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Stops every running daemon cleanly (SIGTERM, then SIGKILL after the stop
/// deadline), as a `stop` fault on each node; the first failure is returned after all
/// were tried.
pub(crate) async fn stop_all(rt: &mut Runner<'_>) -> Result<()> {
    let nodes: Vec<(String, NodeVrrp)> = rt
        .nodes
        .iter()
        .filter(|(_, n)| n.pid.is_some() || !n.helpers.is_empty())
        .map(|(k, n)| (k.clone(), n.cfg.clone()))
        .collect();
    let mut first = Ok(());
    for (node, cfg) in nodes {
        let r = stop(rt, &node, &cfg).await;
        if first.is_ok() {
            first = r;
        }
    }
    first
}

async fn stop(rt: &mut Runner<'_>, node: &str, cfg: &NodeVrrp) -> Result<()> {
    if rt.rt(node)?.pid.is_none() && rt.rt(node)?.helpers.is_empty() {
        return Ok(());
    }
    if rt.holders().await?.values().any(|s| s.contains(node)) {
        rt.stopped_holder = true;
    }
    let sig = rt.rt(node)?.daemon.driver().stop_signal();
    if rt.rt(node)?.pid.is_some() {
        rt.signal_main(node, sig)?;
    }
    let mut clean = reap(rt, node, stop_deadline(cfg)).await?;
    // Then its helpers (FRR's zebra), as `systemctl stop` of the whole package would.
    if clean {
        for pid in rt.rt(node)?.helpers.clone() {
            // A helper that died on its own is reaped below.
            let _ = rt.host(node)?.signal(pid, Signal::SIGTERM);
        }
        clean = reap_helpers(rt, node, stop_deadline(cfg)).await?;
    }
    if !clean {
        rt.host(node)?.signal_all(Signal::SIGKILL);
        reap(rt, node, Duration::from_secs(5)).await?;
        reap_helpers(rt, node, Duration::from_secs(5)).await?;
        bail!(
            "daemon on {node} did not exit within {:?} of {sig}",
            stop_deadline(cfg)
        );
    }
    Ok(())
}
