//! More end-to-end tests of `vrrpd` (root only): BACKUP self-check, conflict detection
//! with `notify_conflict`, SIGHUP reload, link loss, and interoperation with keepalived.

#[allow(dead_code)]
mod common;

use common::instance;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use vrrpd::instance::{master_down_interval, skew_time};
use vrrpd::wire::vrrp::Version;
use vrrplab::lab::process::ProcessSpec;
use vrrplab::lab::topology::Topology;
use vrrplab::lab::{Host, Lab};

const POLL: Duration = Duration::from_millis(10);
const SEC: Duration = Duration::from_secs(1);
const SLACK: Duration = Duration::from_secs(2);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

struct Proc {
    pid: u32,
    state: PathBuf,
    log: PathBuf,
    config: PathBuf,
}

impl Proc {
    fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(&self.state).ok()?).ok()
    }
    fn inst(&self, name: &str) -> Option<serde_json::Value> {
        let v = self.json()?;
        v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
    }
    fn state_of(&self, name: &str) -> Option<String> {
        self.inst(name)?["state"].as_str().map(str::to_owned)
    }
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn spawn_vrrpd(lab: &Lab, dir: &Path, node: &str, flag: &str, config: &str) -> Result<Proc> {
    let ext = if flag == "--config" { "toml" } else { "conf" };
    let cfg = dir.join(format!("{node}.{ext}"));
    std::fs::write(&cfg, config)?;
    let state = dir.join(format!("{node}.state.json"));
    let log = dir.join(format!("{node}.log"));
    let pid = lab.node(node)?.spawn(&ProcessSpec {
        program: common::vrrpd_binary(),
        args: vec![
            flag.into(),
            cfg.clone().into(),
            "--state-file".into(),
            state.clone().into(),
        ],
        env: vec![],
        log: log.clone(),
    })?;
    Ok(Proc {
        pid,
        state,
        log,
        config: cfg,
    })
}

async fn wait_for<F, Fut>(within: Duration, mut cond: F) -> Result<bool>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + within;
    loop {
        if cond().await? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn election(priority: u8) -> Duration {
    master_down_interval(Version::V3, priority, SEC) + SLACK
}

async fn holds(h: &Host, a: IpAddr) -> Result<bool> {
    h.holds(a).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_removes_its_vip_found_on_its_interface() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = ip("192.0.2.20");
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let n1 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node1",
        "--config",
        &instance("VI_1", 51, 150, "", &["192.0.2.20/32"]),
    )?;
    let n2 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node2",
        "--config",
        &instance("VI_1", 51, 100, "", &["192.0.2.20/32"]),
    )?;
    ensure!(
        wait_for(election(150), || async {
            Ok(holds(h1, vip).await? && n2.state_of("VI_1").as_deref() == Some("BACKUP"))
        })
        .await?,
        "{}\n{}",
        n1.log_text(),
        n2.log_text()
    );
    // An operator (or a crashed earlier run without the mark) leaves the VIP on the
    // backup: the self-check removes it within about one advert interval.
    h2.add_address(vip, 32).await?;
    let added = Instant::now();
    ensure!(
        wait_for(SEC + SLACK, || async { Ok(!holds(h2, vip).await?) }).await?,
        "backup kept the VIP\n{}",
        n2.log_text()
    );
    println!("self-check removed the VIP after {:?}", added.elapsed());
    ensure!(
        wait_for(SLACK, || async {
            Ok(n2
                .inst("VI_1")
                .is_some_and(|i| i["counters"]["vips_removed_while_backup"] == 1))
        })
        .await?
    );
    ensure!(holds(h1, vip).await?, "master lost its VIP");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_detects_another_holder_and_runs_notify_conflict() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = ip("192.0.2.20");
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    // The notify program must be root-owned and not group/other-writable.
    let marker = dir.path().join("conflict.args");
    let script = dir.path().join("conflict.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", marker.display()),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    let extra = format!("notify_conflict = [\"{}\"]", script.display());
    let n1 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node1",
        "--config",
        &instance("VI_1", 51, 255, &extra, &["192.0.2.20/32"]),
    )?;
    ensure!(
        wait_for(SLACK * 2, || async { holds(h1, vip).await }).await?,
        "{}",
        n1.log_text()
    );
    // node2 runs no daemon but holds the VIP: the duplicate a stale keepalived leaves.
    h2.add_address(vip, 32).await?;
    ensure!(
        wait_for(2 * SEC + SLACK, || async {
            Ok(n1
                .inst("VI_1")
                .is_some_and(|i| i["counters"]["conflicts"].as_u64() >= Some(1)))
        })
        .await?,
        "no conflict seen\n{}",
        n1.log_text()
    );
    let mac = h2.mac().map(|b| format!("{b:02x}")).join(":");
    ensure!(
        wait_for(SLACK, || async {
            Ok(std::fs::read_to_string(&marker).is_ok_and(|t| t.contains(&mac)))
        })
        .await?,
        "notify_conflict did not run with {mac}: {:?}\n{}",
        std::fs::read_to_string(&marker),
        n1.log_text()
    );
    let args = std::fs::read_to_string(&marker)?;
    ensure!(args.starts_with("INSTANCE VI_1 CONFLICT "), "{args}");
    ensure!(n1.log_text().contains("conflict"), "no warning logged");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reload_keeps_stops_and_starts_instances() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let (a, b, c) = (ip("192.0.2.20"), ip("192.0.2.21"), ip("192.0.2.22"));
    let first = format!(
        "{}{}",
        instance("A", 1, 255, "", &["192.0.2.20/32"]),
        instance("B", 2, 255, "", &["192.0.2.21/32"])
    );
    let n1 = spawn_vrrpd(&lab, dir.path(), "node1", "--config", &first)?;
    ensure!(
        wait_for(SLACK * 2, || async {
            Ok(holds(h1, a).await? && holds(h1, b).await?)
        })
        .await?,
        "{}",
        n1.log_text()
    );
    let second = format!(
        "{}{}",
        instance("A", 1, 255, "", &["192.0.2.20/32"]),
        instance("C", 3, 255, "", &["192.0.2.22/32"])
    );
    std::fs::write(&n1.config, second)?;
    h1.signal(n1.pid, "SIGHUP".parse()?)?;
    // vrrpd rewrites its state file after the VIP changes of the same loop turn: wait for
    // both rather than read the file the moment the addresses are right.
    let names = || -> Vec<serde_json::Value> {
        n1.json()
            .and_then(|st| st["instances"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|i| i["name"].clone())
            .collect()
    };
    ensure!(
        wait_for(SLACK * 2, || async {
            Ok(holds(h1, a).await?
                && !holds(h1, b).await?
                && holds(h1, c).await?
                && names() == ["A", "C"])
        })
        .await?,
        "reload did not apply (instances {:?})\n{}",
        names(),
        n1.log_text()
    );
    let st = n1.json().context("state")?;
    // A kept its state: it never left Master.
    ensure!(st["instances"][0]["counters"]["became_master"] == 1, "{st}");
    ensure!(st["instances"][0]["counters"]["transitions"] == 1, "{st}");

    // A broken config is refused and the running one kept.
    std::fs::write(&n1.config, "[[instance]]\nname = \"A\"\nvrid = 0\n")?;
    h1.signal(n1.pid, "SIGHUP".parse()?)?;
    ensure!(
        wait_for(SLACK, || async {
            Ok(n1.log_text().contains("keeping the running configuration"))
        })
        .await?,
        "{}",
        n1.log_text()
    );
    ensure!(
        h1.try_wait(n1.pid)?.is_none(),
        "daemon died on a bad reload"
    );
    ensure!(holds(h1, a).await? && holds(h1, c).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_down_means_fault_and_release() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = ip("192.0.2.20");
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let n1 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node1",
        "--config",
        &instance("VI_1", 51, 150, "", &["192.0.2.20/32"]),
    )?;
    let n2 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node2",
        "--config",
        &instance("VI_1", 51, 100, "", &["192.0.2.20/32"]),
    )?;
    ensure!(
        wait_for(election(150), || async {
            Ok(holds(h1, vip).await? && n2.state_of("VI_1").as_deref() == Some("BACKUP"))
        })
        .await?
    );
    h1.set_link(false).await?;
    ensure!(
        wait_for(SLACK, || async {
            Ok(n1.state_of("VI_1").as_deref() == Some("FAULT") && !holds(h1, vip).await?)
        })
        .await?,
        "{}",
        n1.log_text()
    );
    ensure!(
        wait_for(
            master_down_interval(Version::V3, 100, SEC) + SLACK,
            || async { holds(h2, vip).await }
        )
        .await?
    );
    h1.set_link(true).await?;
    // Back up, node1 preempts again.
    ensure!(
        wait_for(election(150) + SLACK, || async {
            Ok(holds(h1, vip).await? && !holds(h2, vip).await?)
        })
        .await?,
        "{}\n{}",
        n1.log_text(),
        n2.log_text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interoperates_with_keepalived_v2_pass() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    // Never a silent pass: without keepalived this test fails and says what to do.
    let keepalived = vrrplab::daemons::keepalived_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = ip("192.0.2.20");
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let conf = |prio: u8| {
        format!(
            "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth1\n  virtual_router_id 51\n  \
             priority {prio}\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    auth_pass 1111\n  }}\n  \
             virtual_ipaddress {{\n    192.0.2.20\n  }}\n}}\n"
        )
    };
    let kconf = dir.path().join("keepalived.conf");
    std::fs::write(&kconf, conf(150))?;
    let run = |f: &str| dir.path().join(f).into_os_string();
    let kpid = h1.spawn(&ProcessSpec {
        program: keepalived,
        args: vec![
            "--dont-fork".into(),
            "--log-console".into(),
            "--vrrp".into(),
            "-f".into(),
            kconf.into(),
            "--pid".into(),
            run("k.pid"),
            "--vrrp_pid".into(),
            run("kv.pid"),
            "--checkers_pid".into(),
            run("kc.pid"),
        ],
        env: vec![],
        log: dir.path().join("keepalived.log"),
    })?;
    // The same keepalived.conf, imported by vrrpd (VRRPv2, PASS auth).
    let n2 = spawn_vrrpd(&lab, dir.path(), "node2", "--keepalived-conf", &conf(100))?;
    let klog = || std::fs::read_to_string(dir.path().join("keepalived.log")).unwrap_or_default();
    ensure!(
        wait_for(
            master_down_interval(Version::V2, 150, SEC) + 2 * SLACK,
            || async {
                Ok(holds(h1, vip).await?
                    && n2.inst("VI_1").is_some_and(|i| {
                        i["state"] == "BACKUP"
                            && i["master"] == "192.0.2.11"
                            && i["counters"]["adverts_received"].as_u64() >= Some(2)
                    }))
            }
        )
        .await?,
        "keepalived master / vrrpd backup not reached\n{}\n{}\n{:?}",
        klog(),
        n2.log_text(),
        n2.json()
    );
    let st = n2.json().context("state")?;
    ensure!(
        st["drops"]["bad_auth"] == 0 && st["drops"]["bad_checksum"] == 0,
        "{st}"
    );
    ensure!(!holds(h2, vip).await?);
    // keepalived stops cleanly (priority 0): vrrpd takes over after Skew_Time.
    h1.signal(kpid, "SIGTERM".parse()?)?;
    ensure!(
        wait_for(skew_time(Version::V2, 100, SEC) + SLACK, || async {
            Ok(holds(h2, vip).await? && !holds(h1, vip).await?)
        })
        .await?,
        "no takeover from keepalived\n{}\n{}",
        klog(),
        n2.log_text()
    );
    let _ = h1.wait_exit(kpid, Instant::now() + SLACK).await?;
    Ok(())
}
