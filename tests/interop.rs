//! vrrpd and keepalived 2.2.7 on one segment, each as MASTER and as BACKUP: the right
//! master is elected both ways, a clean stop hands over within Skew_Time, a SIGKILL
//! within Master_Down_Interval (both measured from the capture, each with the failover
//! check's tolerance of half an advert interval), and tcpdump — which nobody here
//! wrote — decodes vrrpd's adverts as valid VRRP.
//!
//! Every wait polls with a deadline derived from the VRRP timers. A failover is judged
//! only once the capture holds the new master's first advert: keepalived adds the VIP
//! before it sends that advert, so seeing the VIP proves nothing about the capture, and a
//! history cut off there ends before the failover deadline (an "unknown", which fails).

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rstest::rstest;
use vrrplab::check::adverts::failover_tolerance;
use vrrplab::check::{self, Ctx, FailoverKind, Outcome};
use vrrplab::daemons::{self, Daemon};
use vrrplab::history::{Event, EventKind, FrameSummary, History};
use vrrplab::lab::{Host, Lab};
use vrrplab::observe::{addr, capture};
use vrrplab::scenario::{Scenario, Timers};

const VIP: &str = "192.0.2.20";
const VRID: u8 = 51;
const POLL: Duration = Duration::from_millis(10);
/// Allowance for process start, a loaded CI machine, netlink round trips and the capture
/// thread catching up.
const SLACK: Duration = Duration::from_secs(2);

fn scenario(version: u8) -> Scenario {
    let auth = if version == 2 {
        "auth_pass = \"1111\"\n"
    } else {
        ""
    };
    let text = format!(
        "[vrrp]\nversion = {version}\nvrid = {VRID}\nadvert_interval = \"1s\"\nvips = [\"{VIP}/32\"]\n{auth}\
         [nodes.node1]\npriority = 150\n[[steps]]\nstart = \"all\"\n"
    );
    Scenario::parse(&text, Path::new("interop.toml")).unwrap()
}

async fn wait_holder(h: &Host, want: bool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let vip = VIP.parse().unwrap();
    loop {
        if h.holds(vip).await.unwrap() == want {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls for `within` that `master` holds the VIP and `backup` does not, at every poll;
/// the message of the first poll that saw otherwise.
async fn hold_roles(master: &Host, backup: &Host, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let vip = VIP.parse().unwrap();
    while Instant::now() < deadline {
        if !master.holds(vip).await.unwrap() {
            return Err("node1 lost mastership".into());
        }
        if backup.holds(vip).await.unwrap() {
            return Err("node2 took the VIP too".into());
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Run time of the first valid advert for [`VRID`] with a non-zero priority from `src`
/// at or after run time `from_ns`, as recorded in `events`.
fn advert_from(events: &[Event], src: IpAddr, from_ns: u64) -> Option<u64> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::Frame {
            frame:
                FrameSummary::Vrrp {
                    src: s,
                    vrid,
                    priority,
                    error: None,
                    ..
                },
            ..
        } if *s == src && *vrid == VRID && *priority > 0 && e.t_ns >= from_ns => Some(e.t_ns),
        _ => None,
    })
}

/// Polls the history (fed by the capture) until it holds an advert from `src` at or
/// after run time `from_ns`, until run time `from_ns + within`. The capture thread
/// records frames after the fact, so a daemon's own view (a VIP on its interface) may be
/// ahead of what the history shows.
async fn wait_advert(
    history: &History,
    src: IpAddr,
    from_ns: u64,
    within: Duration,
) -> Option<u64> {
    let deadline = history.clock().instant(from_ns) + within;
    loop {
        if let Some(t) = advert_from(&history.events(), src, from_ns) {
            return Some(t);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[rstest]
#[case::vrrpd_master_keepalived_backup_v2("vrrpd", "keepalived", 2)]
#[case::keepalived_master_vrrpd_backup_v2("keepalived", "vrrpd", 2)]
#[case::vrrpd_master_keepalived_backup_v3("vrrpd", "keepalived", 3)]
#[case::keepalived_master_vrrpd_backup_v3("keepalived", "vrrpd", 3)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pair(#[case] master: &str, #[case] backup: &str, #[case] version: u8) {
    vrrplab::lab::privilege::require_root();
    daemons::keepalived_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let tcpdump = which("tcpdump").expect("tcpdump is missing: `apt-get install tcpdump`");
    let sc = scenario(version);
    let (d1, d2) = (
        Daemon::parse(master).unwrap(),
        Daemon::parse(backup).unwrap(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::build(sc.topology.clone()).await.unwrap();
    let history = History::new();
    let _m1 = addr::start(lab.node("node1").unwrap(), history.clone())
        .await
        .unwrap();
    let _m2 = addr::start(lab.node("node2").unwrap(), history.clone())
        .await
        .unwrap();
    let pcap = tmp.path().join("capture.pcap");
    let cap = capture::start(&lab, &pcap, history.clone()).unwrap();
    let (n1, n2) = (lab.node("node1").unwrap(), lab.node("node2").unwrap());
    let spec1 = d1.prepare(&sc.nodes[0], &tmp.path().join("node1")).unwrap();
    let spec2 = d2.prepare(&sc.nodes[1], &tmp.path().join("node2")).unwrap();
    let md = sc.timers().master_down;
    // node2 is the backup that takes over: its timers bound both failovers.
    let t2 = Timers::of(&sc.nodes[1]);
    let tolerance = failover_tolerance(t2.advert_interval);
    let ip_of = |n: &str| IpAddr::V4(sc.topology.node(n).unwrap().v4);
    let (ip1, ip2) = (ip_of("node1"), ip_of("node2"));
    let logs = || {
        format!(
            "node1 log:\n{}\nnode2 log:\n{}",
            std::fs::read_to_string(&spec1.log).unwrap_or_default(),
            std::fs::read_to_string(&spec2.log).unwrap_or_default()
        )
    };

    // Election: node1 (priority 150) wins whichever daemon runs where.
    let p1 = n1.spawn(&spec1).unwrap();
    assert!(
        wait_holder(n1, true, md * 2).await,
        "node1 never master\n{}",
        logs()
    );
    n2.spawn(&spec2).unwrap();
    // Watch node2's whole Master_Down_Interval with both up (SLACK covers its start-up):
    // had it not heard node1, it would take the VIP by then.
    if let Err(what) = hold_roles(n1, n2, t2.master_down + SLACK).await {
        panic!("{what}\n{}", logs());
    }

    // Clean stop of the master: handover within Skew_Time.
    let stop_ns = history.record(EventKind::Fault {
        node: "node1".into(),
        fault: "stop".into(),
        detail: String::new(),
    });
    n1.signal(p1, Signal::SIGTERM).unwrap();
    assert!(
        wait_holder(n2, true, md * 2).await,
        "no takeover after SIGTERM\n{}",
        logs()
    );
    n1.wait_exit(p1, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    // Judge the handover only once the capture shows node2's first advert: within
    // Skew_Time + tolerance of the priority-0 advert, which follows the SIGTERM within SLACK.
    let within = t2.skew_time + tolerance + SLACK;
    if wait_advert(&history, ip2, stop_ns, within).await.is_none() {
        panic!(
            "the capture holds no advert from node2 ({ip2}) within {within:?} of the SIGTERM at \
             run time {:?}, though node2 holds the VIP: the handover is unobserved\n{}",
            Duration::from_nanos(stop_ns),
            logs()
        );
    }
    let stop_events = history.events();

    // Back, preempt, then SIGKILL: takeover within Master_Down_Interval.
    let p1 = n1.spawn(&spec1).unwrap();
    assert!(
        wait_holder(n1, true, md * 2).await,
        "node1 did not preempt back\n{}",
        logs()
    );
    assert!(
        wait_holder(n2, false, md * 2).await,
        "node2 kept the VIP\n{}",
        logs()
    );
    // The kill phase's history starts here, so it holds node1's adverts before the kill
    // and not the earlier stop. The failover is measured from node1's last advert before
    // the kill: wait until the capture holds one (one interval, plus SLACK).
    let kill_from = history.record(EventKind::Note {
        text: "kill phase".into(),
    });
    let within = t2.advert_interval + SLACK;
    if wait_advert(&history, ip1, kill_from, within)
        .await
        .is_none()
    {
        panic!(
            "the capture holds no advert from node1 ({ip1}) within {within:?} of becoming master \
             again: nothing to measure a SIGKILL failover from\n{}",
            logs()
        );
    }
    let kill_ns = history.record(EventKind::Fault {
        node: "node1".into(),
        fault: "sigkill".into(),
        detail: String::new(),
    });
    n1.signal_all(Signal::SIGKILL);
    let _ = n1
        .wait_exit(p1, Instant::now() + Duration::from_secs(5))
        .await;
    assert!(
        wait_holder(n2, true, md * 2).await,
        "no takeover after SIGKILL\n{}",
        logs()
    );
    // As for the stop: the VIP on node2 is not yet its advert in the capture. The
    // deadline counts from the kill, as Master_Down_Interval does (from node1's last
    // advert, which precedes it).
    let within = t2.master_down + tolerance + SLACK;
    if wait_advert(&history, ip2, kill_ns, within).await.is_none() {
        panic!(
            "the capture holds no advert from node2 ({ip2}) within {within:?} of the SIGKILL at \
             run time {:?}, though node2 holds the VIP: the failover is unobserved\n{}",
            Duration::from_nanos(kill_ns),
            logs()
        );
    }
    cap.stop().unwrap();
    let all = history.events();
    let kill_events: Vec<_> = all
        .iter()
        .filter(|e| e.t_ns >= kill_from)
        .cloned()
        .collect();

    let macs = [("node1", n1.mac()), ("node2", n2.mac())]
        .into_iter()
        .map(|(n, m)| (n.to_string(), vrrpd::wire::Mac(m).to_string()))
        .collect();
    let ctx = |events: &[vrrplab::history::Event]| {
        Ctx::new(
            vec![VIP.parse().unwrap()],
            std::collections::BTreeMap::clone(&macs),
            sc.nodes[1].version,
            100,
            Duration::from_secs(1),
            events,
        )
    };
    // Judged as `vrrplab run` judges them: the RFC value plus `failover_tolerance` (half
    // an interval), which tells a Skew_Time handover from one that waited out
    // Master_Down_Interval. The measured times are printed, not held to a tighter bound:
    // on a starved CI machine a daemon's own scheduling adds tens of milliseconds.
    for (what, kind, events) in [
        ("SIGTERM", FailoverKind::Handover, &stop_events),
        ("SIGKILL", FailoverKind::Kill, &kill_events),
    ] {
        let r = check::failover(&ctx(events), events, kind);
        println!("{what}: {}", r.detail);
        match &r.outcome {
            Outcome::Pass if r.measured_ns.is_some() => {}
            Outcome::Pass => panic!("{what}: a pass without a measurement: {r:?}"),
            Outcome::Fail(why) => panic!("{what}: {why}\n{}\n{}", r.detail, logs()),
            Outcome::Unknown(why) => {
                panic!(
                    "{what}: not observed (an unknown is not a pass): {why}\n{}",
                    r.detail
                )
            }
        }
    }

    // tcpdump decodes vrrpd's adverts as valid VRRP (no checksum complaint).
    let vrrpd_ip = if master == "vrrpd" {
        "192.0.2.11"
    } else {
        "192.0.2.12"
    };
    let out = vrrplab::lab::userns::tool_command(tcpdump)
        .args(["-n", "-v", "-r"])
        .arg(&pcap)
        .arg("ip proto 112")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let from_vrrpd: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("{vrrpd_ip} >")))
        .collect();
    assert!(!from_vrrpd.is_empty(), "no adverts from vrrpd in:\n{text}");
    assert!(
        from_vrrpd
            .iter()
            .all(|l| l.contains(&format!("VRRPv{version}, Advertisement")) && !l.contains("bad")),
        "tcpdump objects to vrrpd's adverts:\n{}",
        from_vrrpd.join("\n")
    );
    assert!(text.contains("ttl 255"), "adverts without TTL 255:\n{text}");
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}
