//! vrrpd runs keepalived.conf features end to end (root only): a failing track script
//! moves the VIP within the RFC bound, a sync group fails over together, a virtual
//! route follows the MASTER and is gone after SIGKILL plus the lease, and
//! `virtual_ipaddress_excluded` interoperates with keepalived 2.2.7 (one MASTER).
//!
//! Every wait polls with a deadline derived from the VRRP timers; nothing sleeps blindly.

#[allow(dead_code)] // not every helper is used here
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use futures::TryStreamExt;
use vrrpd::instance::{lease_for, master_down_interval, ProtoVersion};
use vrrplab::lab::process::ProcessSpec;
use vrrplab::lab::topology::Topology;
use vrrplab::lab::{Host, Lab};

const POLL: Duration = Duration::from_millis(10);
const SEC: Duration = Duration::from_secs(1);
/// Allowance for process start, a loaded CI machine and netlink round trips.
const SLACK: Duration = Duration::from_secs(2);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// One daemon process on a node.
struct Proc {
    node: String,
    pid: u32,
    state: PathBuf,
    log: PathBuf,
}

impl Proc {
    fn instance(&self, name: &str) -> Option<serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&self.state).ok()?).ok()?;
        v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
    }

    fn state(&self, name: &str) -> Option<String> {
        self.instance(name)
            .and_then(|i| i["state"].as_str().map(str::to_owned))
    }

    fn log_text(&self) -> String {
        format!(
            "--- {} ({}) ---\n{}",
            self.node,
            self.log.display(),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

fn logs(ps: &[&Proc]) -> String {
    ps.iter()
        .map(|p| p.log_text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts vrrpd on `node` with a keepalived.conf.
fn vrrpd(lab: &Lab, dir: &Path, node: &str, run: &str, conf: &str) -> Result<Proc> {
    let cfg = dir.join(format!("{node}-{run}.conf"));
    std::fs::write(&cfg, conf)?;
    let check = std::process::Command::new(common::vrrpd_binary())
        .arg("--check")
        .arg("--keepalived-conf")
        .arg(&cfg)
        .output()
        .context("run vrrpd --check")?;
    ensure!(
        check.status.success(),
        "{node}: vrrpd --check rejected the configuration:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let state = dir.join(format!("{node}-{run}.state.json"));
    let log = dir.join(format!("{node}-{run}.log"));
    let pid = lab.node(node)?.spawn(&ProcessSpec {
        program: common::vrrpd_binary(),
        args: vec![
            "--keepalived-conf".into(),
            cfg.into(),
            "--state-file".into(),
            state.clone().into(),
        ],
        env: vec![("VRRPD_LOG".into(), "info".into())],
        log: log.clone(),
    })?;
    Ok(Proc {
        node: node.into(),
        pid,
        state,
        log,
    })
}

/// Starts keepalived 2.2.7 (VRRP only) on `node`.
fn keepalived(lab: &Lab, dir: &Path, node: &str, conf: &str) -> Result<Proc> {
    let bin = vrrplab::daemons::keepalived_binary()?;
    let run = dir.join(format!("{node}-run"));
    std::fs::create_dir_all(&run)?;
    let cfg = run.join("keepalived.conf");
    std::fs::write(&cfg, conf)?;
    let log = run.join("keepalived.log");
    let pid = lab.node(node)?.spawn(&ProcessSpec {
        program: bin,
        args: vec![
            "--dont-fork".into(),
            "--log-console".into(),
            "--log-detail".into(),
            "--vrrp".into(),
            "--use-file".into(),
            cfg.into(),
            "--pid".into(),
            run.join("keepalived.pid").into(),
            "--vrrp_pid".into(),
            run.join("vrrp.pid").into(),
            "--checkers_pid".into(),
            run.join("checkers.pid").into(),
        ],
        env: Vec::new(),
        log: log.clone(),
    })?;
    Ok(Proc {
        node: node.into(),
        pid,
        state: run.join("none.json"),
        log,
    })
}

/// Polls `cond` until it holds or `within` passes; returns when it first held.
async fn wait_for<F, Fut>(within: Duration, mut cond: F) -> Result<Option<Instant>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + within;
    loop {
        if cond().await? {
            return Ok(Some(Instant::now()));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn election(priority: u8) -> Duration {
    master_down_interval(ProtoVersion::V2, priority, SEC) + SLACK
}

/// Routes on `host` carrying vrrpd's mark: (destination, prefix length).
async fn marked_routes(host: &Host) -> Result<Vec<(IpAddr, u8)>> {
    use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
    let h = host.netlink();
    let mut out = Vec::new();
    let mut dump = h
        .route()
        .get(rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute();
    while let Some(m) = dump.try_next().await? {
        if u8::from(m.header.protocol) != vrrpd::runtime::routes::VRPD_RT_PROTO {
            continue;
        }
        for a in &m.attributes {
            if let RouteAttribute::Destination(RouteAddress::Inet(d)) = a {
                out.push((IpAddr::V4(*d), m.header.destination_prefix_length));
            }
        }
    }
    Ok(out)
}

/// A root-owned check script that fails while `flag` exists.
fn flag_script(dir: &Path, flag: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntest ! -e {}\n", flag.display()),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

fn instance(name: &str, vrid: u8, prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface eth1\n    virtual_router_id {vrid}\n    priority {prio}\n    advert_int 1\n    virtual_ipaddress {{\n        {vip}\n    }}\n{extra}}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_track_script_lowers_priority_and_vip_moves_within_rfc_bound() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let flag = dir.path().join("broken");
    let script = flag_script(dir.path(), &flag)?;
    let vip = ip(20);
    let track = "    track_script {\n        chk\n    }\n";
    let conf1 = format!(
        "vrrp_script chk {{\n    script \"{}\"\n    interval 1\n    timeout 1\n    weight -60\n    fall 1\n    rise 1\n}}\n{}",
        script.display(),
        instance("VI_1", 51, 150, "192.0.2.20/32", track)
    );
    let n1 = vrrpd(&lab, dir.path(), "node1", "a", &conf1)?;
    let n2 = vrrpd(
        &lab,
        dir.path(),
        "node2",
        "a",
        &instance("VI_1", 51, 100, "192.0.2.20/32", ""),
    )?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let m = wait_for(election(150), || async {
        Ok(h1.holds(vip).await? && !h2.holds(vip).await?)
    })
    .await?;
    ensure!(
        m.is_some(),
        "node1 never became sole master\n{}",
        logs(&[&n1, &n2])
    );

    // Break the check: priority 150 - 60 = 90 < 100. node2 discards the lower adverts
    // and takes over when its Master_Down_Interval runs out; the script runs every
    // second, so the bound is one interval plus MDI(100).
    std::fs::write(&flag, "")?;
    let broken = Instant::now();
    let bound = SEC + master_down_interval(ProtoVersion::V2, 100, SEC) + SLACK;
    let moved = wait_for(bound, || async {
        Ok(h2.holds(vip).await? && !h1.holds(vip).await?)
    })
    .await?;
    let Some(moved) = moved else {
        bail!(
            "the VIP did not move within {bound:?}\n{}",
            logs(&[&n1, &n2])
        );
    };
    println!("VIP moved {:?} after the check broke", moved - broken);
    let prio = wait_for(SLACK, || async {
        Ok(n1.instance("VI_1").is_some_and(|i| i["priority"] == 90))
    })
    .await?;
    ensure!(
        prio.is_some(),
        "node1 priority not 90: {:?}",
        n1.instance("VI_1")
    );
    ensure!(
        n1.state("VI_1").as_deref() == Some("BACKUP"),
        "{:?}",
        n1.state("VI_1")
    );

    // Repair: node1 (150 again, preempt) takes the VIP back.
    std::fs::remove_file(&flag)?;
    let back = wait_for(bound, || async {
        Ok(h1.holds(vip).await? && !h2.holds(vip).await?)
    })
    .await?;
    ensure!(
        back.is_some(),
        "node1 did not take the VIP back\n{}",
        logs(&[&n1, &n2])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_group_fails_over_together_with_group_notify() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let flag = dir.path().join("broken");
    let script = flag_script(dir.path(), &flag)?;
    let notify_out = dir.path().join("group-notify.txt");
    let notify = dir.path().join("notify.sh");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            &notify,
            format!("#!/bin/sh\necho \"$@\" >> {}\n", notify_out.display()),
        )?;
        std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o755))?;
    }
    let (a, b) = (ip(20), ip(21));
    let group = |notify: &str| {
        format!(
            "vrrp_sync_group G1 {{\n    group {{\n        VI_A\n        VI_B\n    }}\n{notify}}}\n"
        )
    };
    // Only VI_A tracks the script; in a sync group its failure puts both in FAULT.
    let conf1 = format!(
        "vrrp_script chk {{\n    script \"{}\"\n    interval 1\n    weight -60\n}}\n{}{}{}",
        script.display(),
        group(&format!("    notify \"{}\"\n", notify.display())),
        instance(
            "VI_A",
            51,
            150,
            "192.0.2.20/32",
            "    track_script {\n        chk\n    }\n"
        ),
        instance("VI_B", 52, 150, "192.0.2.21/32", ""),
    );
    let conf2 = format!(
        "{}{}{}",
        group(""),
        instance("VI_A", 51, 100, "192.0.2.20/32", ""),
        instance("VI_B", 52, 100, "192.0.2.21/32", ""),
    );
    let n1 = vrrpd(&lab, dir.path(), "node1", "a", &conf1)?;
    let n2 = vrrpd(&lab, dir.path(), "node2", "a", &conf2)?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let m = wait_for(election(150), || async {
        Ok(h1.holds(a).await? && h1.holds(b).await? && !h2.holds(a).await? && !h2.holds(b).await?)
    })
    .await?;
    ensure!(
        m.is_some(),
        "node1 is not master of both\n{}",
        logs(&[&n1, &n2])
    );

    std::fs::write(&flag, "")?;
    let bound = SEC + master_down_interval(ProtoVersion::V2, 100, SEC) + SLACK;
    let moved = wait_for(bound, || async {
        Ok(h2.holds(a).await? && h2.holds(b).await? && !h1.holds(a).await? && !h1.holds(b).await?)
    })
    .await?;
    ensure!(
        moved.is_some(),
        "the group did not fail over together\n{}",
        logs(&[&n1, &n2])
    );
    ensure!(
        n1.state("VI_A").as_deref() == Some("FAULT"),
        "{:?}",
        n1.state("VI_A")
    );
    ensure!(
        n1.state("VI_B").as_deref() == Some("FAULT"),
        "{:?}",
        n1.state("VI_B")
    );
    // keepalived's group notify arguments: GROUP <name> <STATE> 0.
    let notified = wait_for(SLACK, || async {
        Ok(std::fs::read_to_string(&notify_out)
            .unwrap_or_default()
            .contains("GROUP G1 FAULT 0"))
    })
    .await?;
    ensure!(
        notified.is_some(),
        "group notify: {:?}\n{}",
        std::fs::read_to_string(&notify_out),
        logs(&[&n1])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_route_follows_master_and_is_gone_after_sigkill_plus_lease() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = ip(20);
    let dest: IpAddr = "198.51.100.0".parse()?;
    // `src` is the VIP: the kernel removes the route with the VIP when its lease ends.
    let routes =
        "    virtual_routes {\n        src 192.0.2.20 198.51.100.0/24 via 192.0.2.1\n        src 192.0.2.20 203.0.113.0/24 via 192.0.2.1 or 192.0.2.2\n    }\n";
    let multipath = ("203.0.113.0".parse::<IpAddr>()?, 24);
    let statics = "static_ipaddress {\n    198.51.100.7/32 dev eth1 scope link\n}\n";
    let n1 = vrrpd(
        &lab,
        dir.path(),
        "node1",
        "a",
        &format!(
            "{statics}{}",
            instance("VI_1", 51, 150, "192.0.2.20/24", routes)
        ),
    )?;
    let n2 = vrrpd(
        &lab,
        dir.path(),
        "node2",
        "a",
        &instance("VI_1", 51, 100, "192.0.2.20/24", routes),
    )?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let m = wait_for(election(150), || async {
        let r1 = marked_routes(h1).await?;
        Ok(r1.contains(&(dest, 24))
            && r1.contains(&multipath)
            && marked_routes(h2).await?.is_empty())
    })
    .await?;
    ensure!(
        m.is_some(),
        "the route is not on the master only\n{}",
        logs(&[&n1, &n2])
    );
    ensure!(
        h1.holds("198.51.100.7".parse()?).await?,
        "static_ipaddress not added\n{}",
        logs(&[&n1])
    );

    // SIGKILL: no clean-up code runs; the VIP's lease ends and takes the route along.
    let killed = Instant::now();
    h1.signal(n1.pid, "SIGKILL".parse()?)?;
    let within = lease_for(ProtoVersion::V2, 150, SEC) + SLACK;
    let gone = wait_for(within, || async {
        Ok(!marked_routes(h1).await?.contains(&(dest, 24)) && !h1.holds(vip).await?)
    })
    .await?;
    let Some(gone) = gone else {
        bail!(
            "route still on node1 {within:?} after SIGKILL: {:?}",
            marked_routes(h1).await?
        );
    };
    println!("route gone {:?} after SIGKILL", gone - killed);
    let follows = wait_for(
        master_down_interval(ProtoVersion::V2, 100, SEC) + SLACK,
        || async { Ok(marked_routes(h2).await?.contains(&(dest, 24))) },
    )
    .await?;
    ensure!(
        follows.is_some(),
        "node2 did not install the route\n{}",
        logs(&[&n2])
    );
    let _ = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;

    // A restart finds nothing left to reconcile, and the route is only on the master.
    ensure!(marked_routes(h1).await?.is_empty());
    Ok(())
}

async fn excluded_pair(vrrpd_prio: u8, keepalived_prio: u8) -> Result<()> {
    vrrplab::lab::privilege::require_root();
    vrrplab::daemons::keepalived_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let (vip, excl) = (ip(20), ip(30));
    let excluded = "    virtual_ipaddress_excluded {\n        192.0.2.30/32\n    }\n";
    let n1 = vrrpd(
        &lab,
        dir.path(),
        "node1",
        "a",
        &instance("VI_1", 51, vrrpd_prio, "192.0.2.20/32", excluded),
    )?;
    let n2 = keepalived(
        &lab,
        dir.path(),
        "node2",
        &instance("VI_1", 51, keepalived_prio, "192.0.2.20/32", excluded),
    )?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let (master, backup) = if vrrpd_prio > keepalived_prio {
        (h1, h2)
    } else {
        (h2, h1)
    };
    let top = vrrpd_prio.max(keepalived_prio);
    let low = vrrpd_prio.min(keepalived_prio);
    let m = wait_for(election(top), || async {
        Ok(master.holds(vip).await? && master.holds(excl).await?)
    })
    .await?;
    ensure!(m.is_some(), "no master\n{}", logs(&[&n1, &n2]));
    // Hold on for longer than the backup's Master_Down_Interval: with the address lists
    // compared (the old bug) the backup would have become a second MASTER by then.
    let until = Instant::now() + master_down_interval(ProtoVersion::V2, low, SEC) + SLACK;
    while Instant::now() < until {
        ensure!(
            !backup.holds(vip).await? && !backup.holds(excl).await?,
            "two masters\n{}",
            logs(&[&n1, &n2])
        );
        ensure!(
            master.holds(vip).await?,
            "master lost the VIP\n{}",
            logs(&[&n1, &n2])
        );
        tokio::time::sleep(POLL).await;
    }
    let want = if vrrpd_prio > keepalived_prio {
        "MASTER"
    } else {
        "BACKUP"
    };
    ensure!(
        n1.state("VI_1").as_deref() == Some(want),
        "vrrpd is {:?}",
        n1.state("VI_1")
    );
    let drops = n1.instance("VI_1").map(|i| i["drops"].clone());
    println!("vrrpd drops: {drops:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_addresses_interop_keepalived_master_vrrpd_backup() -> Result<()> {
    excluded_pair(100, 150).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_addresses_interop_vrrpd_master_keepalived_backup() -> Result<()> {
    excluded_pair(150, 100).await
}
