//! End-to-end tests of the `vrrpd` binary in namespace labs (root only).
//!
//! Every wait polls with a deadline derived from the VRRP timers of the scenario
//! (Master_Down_Interval, Skew_Time, the lease); nothing sleeps blindly.

mod common;

use common::instance;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use vrrpd::instance::{lease_for, master_down_interval, skew_time, KERNEL_EXPIRY_LATE_ROUNDED};
use vrrpd::wire::vrrp::Version;
use vrrpd::wire::{ipv4, vrrp};
use vrrplab::lab::process::ProcessSpec;
use vrrplab::lab::topology::{Topology, CLIENT_V4};
use vrrplab::lab::{Host, Lab};

const POLL: Duration = Duration::from_millis(10);
const SEC: Duration = Duration::from_secs(1);
/// Allowance for process start, a loaded CI machine and netlink round trips.
const SLACK: Duration = Duration::from_secs(2);

fn vip4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// One vrrpd process on a node.
struct Vrrpd {
    node: String,
    pid: u32,
    state: PathBuf,
    log: PathBuf,
}

impl Vrrpd {
    fn state_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(&self.state).ok()?).ok()
    }

    fn instance_state(&self, name: &str) -> Option<String> {
        let v = self.state_json()?;
        v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .and_then(|i| i["state"].as_str().map(str::to_owned))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn spawn(
    lab: &Lab,
    dir: &Path,
    node: &str,
    run: &str,
    config: &str,
    extra: &[&str],
) -> Result<Vrrpd> {
    let cfg = dir.join(format!("{node}-{run}.toml"));
    std::fs::write(&cfg, config)?;
    let state = dir.join(format!("{node}-{run}.state.json"));
    let log = dir.join(format!("{node}-{run}.log"));
    let mut args: Vec<std::ffi::OsString> = vec![
        "--config".into(),
        cfg.into(),
        "--state-file".into(),
        state.clone().into(),
        "--pid-file".into(),
        dir.join(format!("{node}-{run}.pid")).into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let program = if extra.contains(&"--misbehave") {
        common::vrrpd_nc_binary()
    } else {
        common::vrrpd_binary()
    };
    let pid = lab.node(node)?.spawn(&ProcessSpec {
        program,
        args,
        env: vec![("VRRPD_LOG".into(), "info".into())],
        log: log.clone(),
    })?;
    Ok(Vrrpd {
        node: node.to_owned(),
        pid,
        state,
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

async fn holds(host: &Host, ip: IpAddr) -> Result<bool> {
    host.holds(ip).await
}

/// Time for a fresh pair to elect: both start as Backup, the higher priority's
/// Master_Down_Interval runs out first.
fn election_deadline(priority: u8) -> Duration {
    master_down_interval(Version::V3, priority, SEC) + SLACK
}

fn logs(ds: &[&Vrrpd]) -> String {
    ds.iter()
        .map(|d| format!("--- {} ({}) ---\n{}", d.node, d.log.display(), d.log_text()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn start_pair(lab: &Lab, dir: &Path, run: &str, vip: &str) -> Result<(Vrrpd, Vrrpd)> {
    let n1 = spawn(
        lab,
        dir,
        "node1",
        run,
        &instance("VI_1", 51, 150, "", &[vip]),
        &[],
    )?;
    let n2 = spawn(
        lab,
        dir,
        "node2",
        run,
        &instance("VI_1", 51, 100, "", &[vip]),
        &[],
    )?;
    Ok((n1, n2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elects_higher_priority_and_hands_over_on_sigterm() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = vip4(20);
    let (n1, n2) = start_pair(&lab, dir.path(), "a", "192.0.2.20/32").await?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);

    let elected = wait_for(election_deadline(150), || async {
        Ok(holds(h1, vip).await? && n1.instance_state("VI_1").as_deref() == Some("MASTER"))
    })
    .await?;
    ensure!(
        elected.is_some(),
        "node1 never became master\n{}",
        logs(&[&n1, &n2])
    );
    let backup = wait_for(SLACK, || async {
        Ok(n2.instance_state("VI_1").as_deref() == Some("BACKUP"))
    })
    .await?;
    ensure!(
        backup.is_some(),
        "node2 is not BACKUP\n{}",
        logs(&[&n1, &n2])
    );
    ensure!(!holds(h2, vip).await?, "backup holds the VIP");

    // Clean stop: priority 0 makes node2 take over after Skew_Time.
    let stopped_at = Instant::now();
    h1.signal(n1.pid, "SIGTERM".parse()?)?;
    let took = wait_for(skew_time(Version::V3, 100, SEC) + SLACK, || async {
        holds(h2, vip).await
    })
    .await?;
    let Some(took) = took else {
        bail!(
            "node2 did not take over after SIGTERM\n{}",
            logs(&[&n1, &n2])
        );
    };
    println!("clean stop handover: {:?}", took - stopped_at);
    let status = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;
    ensure!(
        status.is_some_and(|s| s.success()),
        "node1 exit: {status:?}\n{}",
        logs(&[&n1])
    );
    ensure!(!holds(h1, vip).await?, "stopped node1 still holds the VIP");
    let st = n1.state_json().context("node1 state file")?;
    ensure!(
        st["stopping"] == true && st["instances"][0]["state"] == "STOP",
        "{st}"
    );
    ensure!(
        st["instances"][0]["counters"]["priority_zero_sent"] == 1,
        "{st}"
    );
    ensure!(
        !dir.path().join("node1-a.pid").exists(),
        "pid file left behind"
    );
    Ok(())
}

/// The issue asks for 20 of 20 runs with no instant of two holders, for VRRPv3 and
/// VRRPv2 at 1 s and for IPv6.
const SIGKILL_ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_lease_expires_before_peer_takes_over() -> Result<()> {
    sigkill_rounds(Version::V3, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_lease_expires_before_peer_takes_over_v2() -> Result<()> {
    sigkill_rounds(Version::V2, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_lease_expires_before_peer_takes_over_ipv6() -> Result<()> {
    sigkill_rounds(Version::V3, true).await
}

/// node1 (150) and node2 (100) at 1 s; node1 is SIGKILLed [`SIGKILL_ROUNDS`] times and
/// restarted. After every kill the VIP must leave node1 before node2 takes it (polled
/// every 10 ms, so an overlap of more than a poll would show), and within the lease
/// plus the kernel's lateness.
async fn sigkill_rounds(version: Version, ipv6: bool) -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, ipv6)).await?;
    let dir = tempfile::tempdir()?;
    let (vip, vip_cfg) = if ipv6 {
        (IpAddr::V6("2001:db8::20".parse()?), "2001:db8::20/128")
    } else {
        (vip4(20), "192.0.2.20/32")
    };
    let extra = match version {
        Version::V2 => "version = 2",
        Version::V3 => "version = 3",
    };
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let cfg1 = instance("VI_1", 51, 150, extra, &[vip_cfg]);
    let n2 = spawn(
        &lab,
        dir.path(),
        "node2",
        "a",
        &instance("VI_1", 51, 100, extra, &[vip_cfg]),
        &[],
    )?;
    // The lease must run out before the peer's Master_Down_Interval.
    let lease = lease_for(version, 150, SEC);
    let takeover_after_last_advert = master_down_interval(version, 100, SEC);
    ensure!(lease + KERNEL_EXPIRY_LATE_ROUNDED < takeover_after_last_advert);

    for round in 0..SIGKILL_ROUNDS {
        let n1 = spawn(&lab, dir.path(), "node1", &format!("r{round}"), &cfg1, &[])?;
        // node1 preempts node2 (or wins the first election).
        let master = wait_for(election_deadline(150) + SEC, || async {
            Ok(holds(h1, vip).await? && !holds(h2, vip).await?)
        })
        .await?;
        ensure!(
            master.is_some(),
            "round {round}: node1 not sole master\n{}",
            logs(&[&n1, &n2])
        );
        // Let a few adverts and refreshes go by.
        let settle = Instant::now() + 2 * SEC;
        wait_for(3 * SEC, || async { Ok(Instant::now() >= settle) }).await?;

        let killed = Instant::now();
        h1.signal(n1.pid, "SIGKILL".parse()?)?;
        let mut gone = None;
        let mut taken = None;
        let deadline = killed + lease + takeover_after_last_advert + SLACK;
        while (gone.is_none() || taken.is_none()) && Instant::now() < deadline {
            let (a, b) = (holds(h1, vip).await?, holds(h2, vip).await?);
            let now = Instant::now();
            if !a && gone.is_none() {
                gone = Some(now);
            }
            if b && taken.is_none() {
                taken = Some(now);
            }
            tokio::time::sleep(POLL).await;
        }
        let (Some(gone), Some(taken)) = (gone, taken) else {
            bail!(
                "round {round}: gone {gone:?} taken {taken:?}\n{}",
                logs(&[&n1, &n2])
            );
        };
        println!(
            "{version:?} ipv6={ipv6} round {round}: VIP gone from node1 {:?} after SIGKILL, node2 took it {:?} after; gap {:?}",
            gone - killed,
            taken - killed,
            taken - gone
        );
        ensure!(
            gone < taken,
            "round {round}: both held the VIP (gone {gone:?} >= taken {taken:?})"
        );
        ensure!(
            gone <= killed + lease + KERNEL_EXPIRY_LATE_ROUNDED + SLACK,
            "round {round}: the lease outlived the daemon by {:?}",
            gone - killed
        );
        let _ = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_sigkill_removes_vip_dropped_from_config() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    common::require_negative_controls();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let (a, b) = (vip4(20), vip4(21));
    // First run: permanent VIPs (no-lease control), so SIGKILL leaves both behind
    // whatever the timing; owner priority makes it Master at once.
    let first = instance("VI_1", 51, 255, "", &["192.0.2.20/32", "192.0.2.21/32"]);
    let n1 = spawn(
        &lab,
        dir.path(),
        "node1",
        "a",
        &first,
        &["--misbehave", "no-lease"],
    )?;
    let up = wait_for(SLACK * 2, || async {
        Ok(holds(h1, a).await? && holds(h1, b).await?)
    })
    .await?;
    ensure!(up.is_some(), "VIPs never added\n{}", logs(&[&n1]));
    h1.signal(n1.pid, "SIGKILL".parse()?)?;
    let _ = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;
    ensure!(
        holds(h1, a).await? && holds(h1, b).await?,
        "no stale VIPs to clean up"
    );

    // Restart with a config that no longer mentions either VIP.
    let second = instance("VI_1", 51, 100, "", &["192.0.2.22/32"]);
    let n1b = spawn(&lab, dir.path(), "node1", "b", &second, &[])?;
    let clean = wait_for(SLACK * 2, || async {
        Ok(!holds(h1, a).await? && !holds(h1, b).await?)
    })
    .await?;
    ensure!(
        clean.is_some(),
        "stale VIPs survived the restart\n{}",
        logs(&[&n1b])
    );
    ensure!(
        n1b.log_text().contains("start-up reconcile"),
        "{}",
        logs(&[&n1b])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_control_keepalived_1_2_keeps_stale_vip() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    common::require_negative_controls();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let vip = vip4(20);
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let ka = ["--misbehave", "keepalived-1.2"];
    let cfg = |p| instance("VI_1", 51, p, "", &["192.0.2.20/32"]);
    let n1 = spawn(&lab, dir.path(), "node1", "a", &cfg(150), &ka)?;
    let n2 = spawn(&lab, dir.path(), "node2", "a", &cfg(100), &ka)?;
    let m = wait_for(election_deadline(150), || async { holds(h1, vip).await }).await?;
    ensure!(m.is_some(), "no master\n{}", logs(&[&n1, &n2]));
    h1.signal(n1.pid, "SIGKILL".parse()?)?;
    let both = wait_for(
        master_down_interval(Version::V3, 100, SEC) + SLACK,
        || async { Ok(holds(h1, vip).await? && holds(h2, vip).await?) },
    )
    .await?;
    ensure!(
        both.is_some(),
        "the seed bug did not reproduce\n{}",
        logs(&[&n1, &n2])
    );
    // Restart as in the article: node1 comes back as BACKUP and keeps the VIP, even
    // through a later clean stop.
    let n1b = spawn(&lab, dir.path(), "node1", "b", &cfg(90), &ka)?;
    let backup = wait_for(SLACK * 2, || async {
        Ok(n1b.instance_state("VI_1").as_deref() == Some("BACKUP"))
    })
    .await?;
    ensure!(backup.is_some(), "{}", logs(&[&n1b]));
    h1.signal(n1b.pid, "SIGTERM".parse()?)?;
    let st = h1.wait_exit(n1b.pid, Instant::now() + SLACK).await?;
    ensure!(st.is_some_and(|s| s.success()), "{st:?}");
    ensure!(
        holds(h1, vip).await?,
        "control failed: the stale VIP was removed"
    );
    Ok(())
}

/// A VRRP advert wrapped in an IPv4 header from the client.
fn datagram(vrrp_bytes: &[u8], ttl: u8) -> Result<Vec<u8>> {
    let ip = ipv4::Repr {
        src: CLIENT_V4,
        dst: vrrp::GROUP_V4,
        protocol: vrrp::PROTOCOL,
        ttl,
        payload_len: vrrp_bytes.len(),
    };
    let mut buf = vec![0u8; ip.buffer_len() + vrrp_bytes.len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    buf[ip.buffer_len()..].copy_from_slice(vrrp_bytes);
    Ok(buf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_packets_change_nothing_and_are_counted() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(1, false)).await?;
    let dir = tempfile::tempdir()?;
    let h1 = lab.node("node1")?;
    let config = format!(
        "{}{}",
        instance("V3", 51, 150, "", &["192.0.2.20/32"]),
        instance(
            "V2",
            52,
            150,
            "version = 2\nauth_pass = \"1111\"",
            &["192.0.2.21/32"]
        )
    );
    let n1 = spawn(&lab, dir.path(), "node1", "a", &config, &[])?;
    let m = wait_for(election_deadline(150), || async {
        Ok(n1.instance_state("V3").as_deref() == Some("MASTER")
            && n1.instance_state("V2").as_deref() == Some("MASTER"))
    })
    .await?;
    ensure!(m.is_some(), "{}", logs(&[&n1]));

    // Each of these would make the Master step down if it were accepted (priority 254).
    let src = IpAddr::V4(CLIENT_V4);
    let dst = IpAddr::V4(vrrp::GROUP_V4);
    let v3 = vrrp::Repr {
        version: vrrp::Version::V3,
        vrid: 51,
        priority: 254,
        max_advert_int: 100,
        addrs: vec![vip4(20)],
        auth: None,
    };
    let good_v3 = v3.to_bytes(src, dst).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bad_sum = good_v3.clone();
    bad_sum[7] ^= 0x55;
    let v2_wrong_pass = vrrp::Repr {
        version: vrrp::Version::V2,
        vrid: 52,
        priority: 254,
        max_advert_int: 1,
        addrs: vec![vip4(21)],
        auth: Some(vrrp::pass_auth(b"2222")),
    }
    .to_bytes(src, dst)
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let unknown = vrrp::Repr {
        vrid: 99,
        ..v3.clone()
    }
    .to_bytes(src, dst)
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let packets = vec![
        datagram(&good_v3, 64)?,
        datagram(&bad_sum, 255)?,
        datagram(&v2_wrong_pass, 255)?,
        datagram(&good_v3[..6], 255)?,
        datagram(&unknown, 255)?,
    ];
    for _ in 0..3 {
        let pk = packets.clone();
        lab.client().ns().run(move || {
            for p in &pk {
                vrrpd::runtime::sockets::send_raw_ipv4(p, "eth1")?;
            }
            Ok(())
        })?;
    }
    let expected = [
        "bad_ttl",
        "bad_checksum",
        "bad_auth",
        "truncated",
        "unknown_vrid",
    ];
    let counted = wait_for(SLACK * 2, || async {
        let Some(v) = n1.state_json() else {
            return Ok(false);
        };
        Ok(expected.iter().all(|k| v["drops"][k].as_u64() == Some(3)))
    })
    .await?;
    let st = n1.state_json().context("state file")?;
    ensure!(
        counted.is_some(),
        "drops not counted: {}\n{}",
        st["drops"],
        logs(&[&n1])
    );
    for i in st["instances"].as_array().context("instances")? {
        ensure!(i["state"] == "MASTER", "{i}");
        // The one Backup transition is the start-up one; no step down since.
        ensure!(i["counters"]["became_backup"] == 1, "{i}");
        ensure!(i["counters"]["became_master"] == 1, "{i}");
        ensure!(i["counters"]["adverts_received"] == 0, "{i}");
    }
    ensure!(
        st["instances"][1]["drops"]["bad_auth"] == 3,
        "{}",
        st["instances"][1]
    );
    ensure!(holds(h1, vip4(20)).await? && holds(h1, vip4(21)).await?);
    println!("drops: {}", st["drops"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_vip_with_v3_elects_and_hands_over() -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, true)).await?;
    let dir = tempfile::tempdir()?;
    let vip: IpAddr = "2001:db8::20".parse()?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let (n1, n2) = start_pair(&lab, dir.path(), "a", "2001:db8::20/64").await?;
    // Link-local addresses may still be tentative when the daemons start.
    let m = wait_for(election_deadline(150) + SLACK, || async {
        Ok(holds(h1, vip).await? && n2.instance_state("VI_1").as_deref() == Some("BACKUP"))
    })
    .await?;
    ensure!(m.is_some(), "no IPv6 master\n{}", logs(&[&n1, &n2]));
    ensure!(!holds(h2, vip).await?);
    let st = n2.state_json().context("state")?;
    let master = st["instances"][0]["master"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        master.starts_with("fe80:"),
        "master should be a link-local source: {st}"
    );
    h1.signal(n1.pid, "SIGTERM".parse()?)?;
    let took = wait_for(skew_time(Version::V3, 100, SEC) + SLACK, || async {
        Ok(holds(h2, vip).await? && !holds(h1, vip).await?)
    })
    .await?;
    ensure!(took.is_some(), "no IPv6 handover\n{}", logs(&[&n1, &n2]));
    Ok(())
}

#[test]
fn check_reports_malformed_config_with_position() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[instance]]\nname = \"a\"\ninterface = \"eth1\"\nvrid = 300\nvips = [\"192.0.2.20\"]\n",
    )?;
    let out = std::process::Command::new(common::vrrpd_binary())
        .args(["--check", "--config"])
        .arg(&bad)
        .output()
        .context("run vrrpd --check")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(2),
        "status {:?}: {stderr}",
        out.status
    );
    let prefix = format!("{}:4:", bad.display());
    ensure!(stderr.contains(&prefix), "no file:line:col in {stderr:?}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, instance("a", 1, 100, "", &["192.0.2.20"]))?;
    let out = std::process::Command::new(common::vrrpd_binary())
        .args(["--check", "--config"])
        .arg(&good)
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
