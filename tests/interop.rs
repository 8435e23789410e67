//! vrrpd and keepalived 2.2.7 on one segment, each as MASTER and as BACKUP: the right
//! master is elected both ways, a clean stop hands over within Skew_Time + 50 ms, a
//! SIGKILL within Master_Down_Interval + 100 ms (both measured from the capture), and
//! tcpdump — which nobody here wrote — decodes vrrpd's adverts as valid VRRP.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rstest::rstest;
use vrrplab::check::{self, Ctx, FailoverKind};
use vrrplab::daemons::{self, Registry};
use vrrplab::history::{EventKind, History};
use vrrplab::lab::{Host, Lab};
use vrrplab::observe::{addr, capture};
use vrrplab::scenario::Scenario;

const VIP: &str = "192.0.2.20";

fn scenario(version: u8) -> Scenario {
    let auth = if version == 2 {
        "auth_pass = \"1111\"\n"
    } else {
        ""
    };
    let text = format!(
        "[vrrp]\nversion = {version}\nvrid = 51\nadvert_interval = \"1s\"\nvips = [\"{VIP}/32\"]\n{auth}\
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
        tokio::time::sleep(Duration::from_millis(10)).await;
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
    let registry = Registry::default();
    let (d1, d2) = (
        registry.resolve(master).unwrap(),
        registry.resolve(backup).unwrap(),
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
    let spec1 = d1
        .prepare(&sc.nodes[0], &tmp.path().join("node1"))
        .unwrap()
        .main;
    let spec2 = d2
        .prepare(&sc.nodes[1], &tmp.path().join("node2"))
        .unwrap()
        .main;
    let md = sc.timers().master_down;
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
    tokio::time::sleep(md).await; // observe a full Master_Down_Interval with both up
    assert!(
        n1.holds(VIP.parse().unwrap()).await.unwrap(),
        "node1 lost mastership\n{}",
        logs()
    );
    assert!(
        !n2.holds(VIP.parse().unwrap()).await.unwrap(),
        "node2 took the VIP too\n{}",
        logs()
    );

    // Clean stop of the master: handover within Skew_Time + 50 ms.
    history.record(EventKind::Fault {
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
    let stop_events = history.events();

    // Back, preempt, then SIGKILL: takeover within Master_Down_Interval + 100 ms.
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
    // and not the earlier stop.
    let kill_from = history.record(EventKind::Note {
        text: "kill phase".into(),
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    history.record(EventKind::Fault {
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
    tokio::time::sleep(Duration::from_millis(200)).await;
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
    let stop = check::failover(&ctx(&stop_events), &stop_events, FailoverKind::Handover);
    let measured = stop
        .measured_ns
        .unwrap_or_else(|| panic!("no handover measured: {stop:?}"));
    let skew = ctx(&stop_events).skew_time;
    assert!(
        Duration::from_nanos(measured) <= skew + Duration::from_millis(50),
        "SIGTERM handover {measured} ns > Skew_Time {skew:?} + 50 ms: {}",
        stop.detail
    );
    let kill = check::failover(&ctx(&kill_events), &kill_events, FailoverKind::Kill);
    let measured = kill
        .measured_ns
        .unwrap_or_else(|| panic!("no kill failover measured: {kill:?}"));
    let mdi = ctx(&kill_events).master_down;
    assert!(
        Duration::from_nanos(measured) <= mdi + Duration::from_millis(100),
        "SIGKILL failover {measured} ns > Master_Down_Interval {mdi:?} + 100 ms: {}",
        kill.detail
    );

    // tcpdump decodes vrrpd's adverts as valid VRRP (no checksum complaint).
    let vrrpd_ip = if master == "vrrpd" {
        "192.0.2.11"
    } else {
        "192.0.2.12"
    };
    let out = Command::new(tcpdump)
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
