//! The judge with virtual MACs (root; keepalived cases need keepalived): a daemon that
//! holds its VIP on a macvlan with the RFC 5798 virtual MAC is judged by live holders
//! (link up, not protodown, lower link up) and by which *nodes* answer the client,
//! whatever MAC they answer with.

use std::path::{Path, PathBuf};

use vrrplab::check::Outcome;
use vrrplab::daemons::{self, Daemon};
use vrrplab::history::{EventKind, LinkChange};
use vrrplab::run::{self, RunOptions, RunResult};
use vrrplab::scenario::Scenario;

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vmac")
}

fn run(file: &str, daemon: &str) -> RunResult {
    vrrplab::lab::privilege::require_root();
    if daemon == "keepalived" {
        assert!(
            daemons::keepalived_installed(),
            "keepalived is missing: `apt-get install keepalived` (.ci/run installs it)"
        );
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/vmac")
        .join(file);
    let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let d = Daemon::parse(daemon).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        out_dir: out_dir(),
        ..Default::default()
    };
    let r = rt.block_on(run::run(&sc, &d, &opts));
    assert!(r.error.is_none(), "{file} × {daemon}: {:?}", r.error);
    r
}

fn outcome<'a>(r: &'a RunResult, check: &str) -> &'a Outcome {
    &r.verdict
        .checks
        .iter()
        .find(|j| j.result.name.to_string() == check)
        .unwrap_or_else(|| panic!("no check {check} in {:#?}", r.verdict))
        .result
        .outcome
}

/// Link events of `node`'s `ifname`, in order.
fn link_changes(r: &RunResult, node: &str, ifname: &str) -> Vec<(u64, LinkChange, bool)> {
    r.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Link {
                node: n,
                ifname: i,
                change,
                up,
                ..
            } if n == node && i == ifname => Some((e.t_ns, *change, *up)),
            _ => None,
        })
        .collect()
}

fn fault_at(r: &RunResult, fault: &str, nth: usize) -> u64 {
    r.events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Fault { fault: f, .. } if f == fault))
        .nth(nth)
        .unwrap_or_else(|| panic!("no {fault} fault #{nth}"))
        .t_ns
}

#[test]
fn keepalived_use_vmac_sigkill_is_a_conflict_with_both_nodes_named() {
    let r = run("vmac-sigkill-master.toml", "keepalived");
    assert!(
        r.ok(),
        "the known failures must reproduce exactly: {:#?}",
        r.verdict
    );
    let Outcome::Fail(client) = outcome(&r, "client_single_mac_at_end") else {
        panic!("{:?}", outcome(&r, "client_single_mac_at_end"))
    };
    assert!(
        client.contains("2 nodes answered (node1, node2), both with MAC 00:00:5e:00:01:33"),
        "{client}"
    );
    let Outcome::Fail(conflict) = outcome(&r, "conflict_max") else {
        panic!("{:?}", outcome(&r, "conflict_max"))
    };
    assert!(
        conflict.contains("node1+node2 both held 192.0.2.20"),
        "{conflict}"
    );
}

#[test]
fn vrrpd_vmac_sigkill_leaves_no_conflict() {
    let r = run("vmac-sigkill-master.toml", "vrrpd");
    assert!(r.ok(), "{:#?}", r.verdict);
    assert_eq!(outcome(&r, "conflict_max"), &Outcome::Pass);
    assert_eq!(outcome(&r, "client_single_mac_at_end"), &Outcome::Pass);
    // The killed node's macvlan stays (nobody removes it), but without the VIP.
    let node1 = link_changes(&r, "node1", "vrrpd4.51");
    assert!(
        node1.iter().all(|(_, c, _)| *c != LinkChange::Removed),
        "{node1:?}"
    );
}

#[test]
fn vrrpd_vmac_clean_stop_removes_its_macvlan() {
    let r = run("vmac-clean-stop-master.toml", "vrrpd");
    assert!(r.ok(), "{:#?}", r.verdict);
    let stop = fault_at(&r, "stop", 0);
    let node1 = link_changes(&r, "node1", "vrrpd4.51");
    assert!(
        node1
            .iter()
            .any(|(t, c, _)| *c != LinkChange::Removed && *t < stop),
        "vrrpd created its macvlan: {node1:?}"
    );
    assert!(
        node1
            .iter()
            .any(|(t, c, _)| *c == LinkChange::Removed && *t > stop),
        "vrrpd removed its macvlan on the clean stop: {node1:?}"
    );
}

#[test]
fn vrrpd_vmac_restart_reconciles_the_macvlan_a_crash_left() {
    let r = run("vmac-restart-after-sigkill.toml", "vrrpd");
    assert!(r.ok(), "{:#?}", r.verdict);
    let restart = fault_at(&r, "start", 0);
    let node1 = link_changes(&r, "node1", "vrrpd4.51");
    let removed = node1
        .iter()
        .position(|(t, c, _)| *c == LinkChange::Removed && *t > restart)
        .unwrap_or_else(|| panic!("the left-behind macvlan was not removed: {node1:?}"));
    assert!(
        node1[removed + 1..].iter().any(|(_, _, up)| *up),
        "a fresh macvlan came up after the reconcile: {node1:?}"
    );
    let log = std::fs::read_to_string(r.out_dir.join("node1/daemon.log")).unwrap();
    assert!(
        log.contains("start-up reconcile: removed a virtual-MAC link left by an earlier run"),
        "{log}"
    );
}
