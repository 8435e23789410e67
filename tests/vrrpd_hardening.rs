//! End-to-end tests of what hostile testing broke in vrrpd (issue 13), in namespace
//! labs (root only). Every wait polls with a deadline derived from the VRRP timers.

#[allow(dead_code)] // not every helper is used here
mod common;

use common::instance;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use vrrpd::instance::{master_down_interval, ProtoVersion};
use vrrpd::wire::{ipv4, vrrp};
use vrrplab::lab::process::ProcessSpec;
use vrrplab::lab::topology::{Topology, CLIENT_V4};
use vrrplab::lab::{Host, Lab};

const POLL: Duration = Duration::from_millis(20);
const SEC: Duration = Duration::from_secs(1);
/// Allowance for process start, a loaded CI machine and netlink round trips.
const SLACK: Duration = Duration::from_secs(3);

/// The interface the interface-lifecycle tests create, delete and re-create inside a
/// node (a veth pair whose both ends stay in the node).
const HV: &str = "hv0";
const HV_PEER: &str = "hv0p";
const HV_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
const HV_VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);

/// One vrrpd process on a node.
struct Vrrpd {
    pid: u32,
    state: PathBuf,
    log: PathBuf,
}

impl Vrrpd {
    fn state_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(&self.state).ok()?).ok()
    }

    fn instance(&self, name: &str) -> Option<serde_json::Value> {
        self.state_json()?["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
    }

    fn instance_state(&self, name: &str) -> Option<String> {
        self.instance(name)
            .and_then(|i| i["state"].as_str().map(str::to_owned))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn spawn(lab: &Lab, dir: &Path, node: &str, run: &str, config: &str) -> Result<Vrrpd> {
    let cfg = dir.join(format!("{node}-{run}.toml"));
    std::fs::write(&cfg, config)?;
    let state = dir.join(format!("{node}-{run}.state.json"));
    let log = dir.join(format!("{node}-{run}.log"));
    let args: Vec<std::ffi::OsString> = vec![
        "--config".into(),
        cfg.into(),
        "--state-file".into(),
        state.clone().into(),
    ];
    let pid = lab.node(node)?.spawn(&ProcessSpec {
        program: common::vrrpd_binary(),
        args,
        env: vec![("VRRPD_LOG".into(), "info".into())],
        log: log.clone(),
    })?;
    Ok(Vrrpd { pid, state, log })
}

/// Polls `cond` until it holds or `within` passes.
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
    master_down_interval(ProtoVersion::V3, priority, SEC) + SLACK
}

/// Whether interface `ifname` of `host` holds `addr` (false when it does not exist).
async fn holds_on(host: &Host, ifname: &str, addr: IpAddr) -> Result<bool> {
    let Ok((index, _)) = vrrplab::lab::link_by_name(&host.netlink(), ifname).await else {
        return Ok(false);
    };
    Ok(host
        .addresses()
        .await?
        .entries
        .iter()
        .any(|e| e.ifindex == index && e.addr == addr))
}

/// Creates the veth pair `hv0`/`hv0p` inside `host`, both up, with `HV_ADDR` on hv0.
async fn create_hv(host: &Host) -> Result<u32> {
    use rtnetlink::{LinkUnspec, LinkVeth};
    let h = host.netlink();
    h.link()
        .add(LinkVeth::new(HV, HV_PEER).build())
        .execute()
        .await
        .context("create hv0")?;
    for name in [HV_PEER, HV] {
        let (index, _) = vrrplab::lab::link_by_name(&h, name).await?;
        h.link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .with_context(|| format!("set {name} up"))?;
    }
    let (index, _) = vrrplab::lab::link_by_name(&h, HV).await?;
    h.address()
        .add(index, IpAddr::V4(HV_ADDR), 24)
        .execute()
        .await
        .context("address on hv0")?;
    Ok(index)
}

async fn delete_hv(host: &Host) -> Result<()> {
    let h = host.netlink();
    let (index, _) = vrrplab::lab::link_by_name(&h, HV).await?;
    h.link().del(index).execute().await.context("delete hv0")
}

fn hv_config(name: &str, priority: u8) -> String {
    format!(
        "[[instance]]\nname = \"{name}\"\ninterface = \"{HV}\"\nvrid = 51\npriority = {priority}\n\
         advert_interval = \"1s\"\nvips = [\"{HV_VIP}/32\"]\n"
    )
}

async fn stop(host: &Host, d: &Vrrpd) -> Result<Option<std::process::ExitStatus>> {
    host.signal(d.pid, "SIGTERM".parse()?)?;
    host.wait_exit(d.pid, Instant::now() + SLACK * 2).await
}

/// Item 1: 256 VIPs in one instance are refused before anything is touched (exit 2,
/// file:line:col); 255 VIPs elect one Master whose adverts the Backup accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_255_vips_refused_and_255_elect_one_master() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vips = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                let net = if i < 256 { "198.51.100" } else { "203.0.113" };
                format!("{net}.{}/32", i % 256)
            })
            .collect()
    };
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);

    let too_many = vips(256);
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let d = spawn(
        &lab,
        dir.path(),
        "node1",
        "big",
        &instance("VI_1", 51, 150, "", &refs),
    )?;
    let status = h1.wait_exit(d.pid, Instant::now() + SLACK * 2).await?;
    ensure!(
        status.and_then(|s| s.code()) == Some(2),
        "256 VIPs: exit {status:?}\n{}",
        d.log_text()
    );
    ensure!(
        d.log_text()
            .contains("has 256 virtual IPs; an advert lists at most 255"),
        "no clear error:\n{}",
        d.log_text()
    );
    ensure!(
        h1.addresses()
            .await?
            .entries
            .iter()
            .all(|e| e.proto != Some(vrrpd::vip::VRPD_IFA_PROTO)),
        "a refused configuration added addresses"
    );

    let ok = vips(255);
    let refs: Vec<&str> = ok.iter().map(String::as_str).collect();
    let n1 = spawn(
        &lab,
        dir.path(),
        "node1",
        "ok",
        &instance("VI_1", 51, 150, "", &refs),
    )?;
    let n2 = spawn(
        &lab,
        dir.path(),
        "node2",
        "ok",
        &instance("VI_1", 51, 100, "", &refs),
    )?;
    let last: IpAddr = "198.51.100.254".parse()?;
    let elected = wait_for(election(150) + SLACK, || async {
        Ok(n1.instance_state("VI_1").as_deref() == Some("MASTER")
            && n2.instance_state("VI_1").as_deref() == Some("BACKUP")
            && h1.holds(last).await?)
    })
    .await?;
    let show = || format!("--- node1\n{}\n--- node2\n{}", n1.log_text(), n2.log_text());
    ensure!(elected, "255 VIPs: no single master\n{}", show());
    // The Backup hears the adverts (so it stays Backup past Master_Down_Interval) and
    // holds none of the VIPs.
    tokio::time::sleep(master_down_interval(ProtoVersion::V3, 100, SEC)).await;
    ensure!(
        n2.instance_state("VI_1").as_deref() == Some("BACKUP"),
        "node2 left BACKUP: adverts with 255 addresses were not received\n{}",
        show()
    );
    ensure!(!h2.holds(last).await?, "the backup holds a VIP");
    let sent = n1
        .instance("VI_1")
        .map(|i| i["counters"]["adverts_sent"].clone());
    ensure!(
        sent.and_then(|v| v.as_u64()).unwrap_or(0) >= 3,
        "master sent too few adverts\n{}",
        show()
    );
    stop(h1, &n1).await?;
    stop(h2, &n2).await?;
    Ok(())
}

/// Item 2: the interface is deleted and re-created under a running Master: vrrpd goes
/// to FAULT, re-resolves the new index and is Master again with its VIP on the new
/// interface, sending adverts; no restart needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_deleted_and_recreated_recovers() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let first = create_hv(h1).await?;
    let d = spawn(&lab, dir.path(), "node1", "a", &hv_config("HV", 150))?;
    let vip = IpAddr::V4(HV_VIP);
    let master = wait_for(election(150), || async {
        Ok(d.instance_state("HV").as_deref() == Some("MASTER") && holds_on(h1, HV, vip).await?)
    })
    .await?;
    ensure!(master, "never master on hv0\n{}", d.log_text());

    delete_hv(h1).await?;
    let fault = wait_for(SLACK, || async {
        Ok(d.instance_state("HV").as_deref() == Some("FAULT"))
    })
    .await?;
    ensure!(
        fault,
        "no FAULT after the interface was deleted\n{}",
        d.log_text()
    );

    let second = create_hv(h1).await?;
    ensure!(second != first, "the kernel reused ifindex {first}");
    let back = wait_for(election(150) + SLACK, || async {
        Ok(d.instance_state("HV").as_deref() == Some("MASTER") && holds_on(h1, HV, vip).await?)
    })
    .await?;
    ensure!(
        back,
        "not master again on the re-created hv0\n{}",
        d.log_text()
    );
    let adverts = wait_for(SLACK, || async {
        Ok(d.instance("HV")
            .and_then(|i| i["counters"]["adverts_sent"].as_u64())
            .unwrap_or(0)
            >= 2)
    })
    .await?;
    ensure!(
        adverts,
        "no adverts on the re-created hv0\n{}",
        d.log_text()
    );
    let log = d.log_text();
    ensure!(
        !log.contains("no interface with index"),
        "VIP operations used the dead index:\n{log}"
    );
    let status = stop(h1, &d).await?;
    ensure!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}\n{log}"
    );
    ensure!(!holds_on(h1, HV, vip).await?, "VIP left after a clean stop");
    Ok(())
}

/// Item 3: the interface does not exist at start: `--check` warns (exit 0), the daemon
/// waits in FAULT instead of exiting, and starts when the interface appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_interface_at_start_waits_in_fault() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let cfg = dir.path().join("check.toml");
    std::fs::write(&cfg, hv_config("HV", 150))?;
    let bin = common::vrrpd_binary();
    let out = h1.ns().run(move || {
        Ok(std::process::Command::new(&bin)
            .arg("--check")
            .arg("--config")
            .arg(&cfg)
            .output()?)
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success() && stderr.contains("interface `hv0` does not exist"),
        "--check: {:?}\n{stderr}",
        out.status
    );

    let d = spawn(&lab, dir.path(), "node1", "a", &hv_config("HV", 150))?;
    let fault = wait_for(SLACK, || async {
        Ok(d.instance_state("HV").as_deref() == Some("FAULT"))
    })
    .await?;
    ensure!(fault, "not waiting in FAULT\n{}", d.log_text());
    ensure!(
        h1.try_wait(d.pid)?.is_none(),
        "vrrpd exited\n{}",
        d.log_text()
    );
    create_hv(h1).await?;
    let vip = IpAddr::V4(HV_VIP);
    let master = wait_for(election(150) + SLACK, || async {
        Ok(d.instance_state("HV").as_deref() == Some("MASTER") && holds_on(h1, HV, vip).await?)
    })
    .await?;
    ensure!(master, "did not start when hv0 appeared\n{}", d.log_text());
    stop(h1, &d).await?;
    Ok(())
}

/// A v3 advert for VRID 51 from the client, TTL 255, with raw interval field `cs`.
fn rogue_advert(priority: u8, cs: u16) -> Result<Vec<u8>> {
    let src = IpAddr::V4(CLIENT_V4);
    let dst = IpAddr::V4(vrrp::GROUP_V4);
    let mut bytes = vrrp::Repr {
        version: vrrp::Version::V3,
        vrid: 51,
        priority,
        max_advert_int: 100,
        addrs: vec!["192.0.2.20".parse()?],
        auth: None,
    }
    .to_bytes(src, dst)
    .map_err(|e| anyhow!("{e}"))?;
    {
        let mut p = vrrp::Packet::new_unchecked(&mut bytes[..]);
        p.set_max_advert_int(cs);
        p.fill_checksum(&src, &dst);
    }
    let ip = ipv4::Repr {
        src: CLIENT_V4,
        dst: vrrp::GROUP_V4,
        protocol: vrrp::PROTOCOL,
        ttl: 255,
        payload_len: bytes.len(),
    };
    let mut buf = vec![0u8; ip.buffer_len() + bytes.len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]))
        .map_err(|e| anyhow!("{e}"))?;
    buf[ip.buffer_len()..].copy_from_slice(&bytes);
    Ok(buf)
}

fn send_from_client(lab: &Lab, packet: Vec<u8>, times: usize, gap: Duration) -> Result<()> {
    lab.client().ns().run(move || {
        for _ in 0..times {
            vrrpd::runtime::sockets::send_raw_ipv4(&packet, "eth1")?;
            std::thread::sleep(gap);
        }
        Ok(())
    })
}

/// Item 6: adverts with Max Adver Int 0 never steer the Master (no flap, counted as
/// bad_interval); a valid higher-priority advert makes it yield, and the log names the
/// sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_interval_adverts_are_dropped_and_yield_names_sender() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let d = spawn(
        &lab,
        dir.path(),
        "node1",
        "a",
        &instance("VI_1", 51, 150, "", &["192.0.2.20/32"]),
    )?;
    let vip: IpAddr = "192.0.2.20".parse()?;
    let master = wait_for(election(150), || async {
        Ok(d.instance_state("VI_1").as_deref() == Some("MASTER") && h1.holds(vip).await?)
    })
    .await?;
    ensure!(master, "never master\n{}", d.log_text());

    // 2 s of a rogue at priority 254 with interval 0, every 20 ms.
    send_from_client(&lab, rogue_advert(254, 0)?, 100, Duration::from_millis(20))?;
    let counted = wait_for(SLACK, || async {
        Ok(d.state_json()
            .and_then(|v| v["drops"]["bad_interval"].as_u64())
            .unwrap_or(0)
            >= 50)
    })
    .await?;
    ensure!(counted, "bad_interval not counted\n{}", d.log_text());
    let i = d.instance("VI_1").context("state file")?;
    ensure!(
        i["state"] == "MASTER" && i["counters"]["became_master"] == 1 && h1.holds(vip).await?,
        "the invalid adverts steered the master: {i}\n{}",
        d.log_text()
    );

    // A valid advert (1 s) at a higher priority: RFC 5798 says yield, and say to whom.
    send_from_client(&lab, rogue_advert(254, 100)?, 1, Duration::ZERO)?;
    let yielded = wait_for(SLACK, || async {
        Ok(d.instance_state("VI_1").as_deref() == Some("BACKUP"))
    })
    .await?;
    ensure!(
        yielded,
        "did not yield to a valid higher priority\n{}",
        d.log_text()
    );
    let log = d.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("state change") && l.contains("from=MASTER to=BACKUP"))
        .unwrap_or_default();
    ensure!(
        line.contains(&CLIENT_V4.to_string()),
        "the yield does not name the sender: {line:?}\n{log}"
    );
    stop(h1, &d).await?;
    Ok(())
}

/// Item 7: a second vrrpd in the same namespace refuses to start and leaves the
/// first one's live VIP alone; a vrrpd in another namespace is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_vrrpd_in_one_namespace_refuses_and_keeps_first_vip() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let vip: IpAddr = "192.0.2.20".parse()?;
    let first = spawn(
        &lab,
        dir.path(),
        "node1",
        "first",
        &instance("VI_1", 51, 150, "", &["192.0.2.20/32"]),
    )?;
    let master = wait_for(election(150), || async {
        Ok(first.instance_state("VI_1").as_deref() == Some("MASTER") && h1.holds(vip).await?)
    })
    .await?;
    ensure!(master, "never master\n{}", first.log_text());

    let second = spawn(
        &lab,
        dir.path(),
        "node1",
        "second",
        &instance("VI_2", 52, 100, "", &["192.0.2.21/32"]),
    )?;
    let status = h1.wait_exit(second.pid, Instant::now() + SLACK * 2).await?;
    ensure!(
        status.is_some_and(|s| !s.success()),
        "the second vrrpd kept running: {status:?}\n{}",
        second.log_text()
    );
    ensure!(
        second
            .log_text()
            .contains("another vrrpd is already running in this network namespace"),
        "no clear message:\n{}",
        second.log_text()
    );
    // The first one's VIP survived for longer than an advert interval.
    let lost = wait_for(SEC + SEC / 2, || async { Ok(!h1.holds(vip).await?) }).await?;
    ensure!(
        !lost,
        "the second vrrpd removed the first one's VIP\n{}",
        first.log_text()
    );

    // Another namespace has its own lock.
    let other = spawn(
        &lab,
        dir.path(),
        "node2",
        "other",
        &instance("VI_2", 52, 100, "", &["192.0.2.21/32"]),
    )?;
    let h2 = lab.node("node2")?;
    let running = wait_for(election(100), || async {
        Ok(other.instance_state("VI_2").as_deref() == Some("MASTER"))
    })
    .await?;
    ensure!(running, "vrrpd in node2 did not run\n{}", other.log_text());
    stop(h2, &other).await?;
    stop(h1, &first).await?;
    Ok(())
}
