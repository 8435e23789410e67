use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rstest::rstest;
use vrrpd::wire::vrrp::Version;

use super::*;

const MIN: &str = "[[steps]]\nstart = \"all\"\n";

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, Path::new("dir/my-scenario.toml"))
}

fn error(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(s) => panic!("expected an error, got {s:#?}"),
        Err(e) => e,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn defaults_of_a_minimal_file() {
    let s = parse(MIN).unwrap();
    assert_eq!(s.name, "my-scenario");
    assert_eq!(s.description, "");
    assert_eq!(s.topology, Topology::with_nodes(2, false));
    assert_eq!(s.nodes.len(), 2);
    let n = &s.nodes[0];
    assert_eq!(n.name, "node1");
    assert_eq!(n.version, Version::V2);
    assert_eq!((n.vrid, n.priority), (51, 100));
    assert_eq!(n.advert_interval, Duration::from_secs(1));
    assert_eq!(n.vips, vec![("192.0.2.20".parse().unwrap(), 32)]);
    assert_eq!(n.auth_pass, None);
    assert!(n.unicast_peers.is_empty());
    assert_eq!(n.own_addr, "192.0.2.11".parse::<IpAddr>().unwrap());
    assert!(n.preempt);
    assert_eq!(n.preempt_delay, Duration::ZERO);
    assert_eq!(n.initial_state, InitialState::Backup);
    assert!(!n.track_interface);
    assert_eq!(n.notify_backup, NotifyAction::None);
    assert_eq!(s.expect, Expectations::default());
    assert!(s.known_failures.is_empty());
    assert_eq!(s.steps.len(), 1);
    assert_eq!(
        s.steps[0].kind,
        StepKind::Start(vec!["node1".into(), "node2".into()])
    );
    assert_eq!(s.steps[0].line, 1);
    assert_eq!(s.steps[0].index, 1);
}

#[test]
fn layers_resolve_per_node() {
    let s = parse(
        r#"
name = "layers"
[topology]
nodes = 3
[vrrp]
priority = 100
auth_pass = "1111"
unicast = true
notify_backup = "remove-vips"
[nodes.node1]
priority = 150
initial_state = "master"
[nodes.node3]
preempt = false
preempt_delay = "1.5s"
[[steps]]
start = ["node2", "node1"]
"#,
    )
    .unwrap();
    assert_eq!(s.name, "layers");
    let p: Vec<u8> = s.nodes.iter().map(|n| n.priority).collect();
    assert_eq!(p, [150, 100, 100]);
    assert_eq!(s.nodes[0].initial_state, InitialState::Master);
    assert_eq!(s.nodes[1].initial_state, InitialState::Backup);
    assert!(!s.nodes[2].preempt && s.nodes[0].preempt);
    assert_eq!(s.nodes[2].preempt_delay, ms(1500));
    assert_eq!(s.nodes[1].auth_pass.as_deref(), Some("1111"));
    assert_eq!(s.nodes[1].notify_backup, NotifyAction::RemoveVips);
    let peers: Vec<IpAddr> = ["192.0.2.11", "192.0.2.13"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(s.nodes[1].unicast_peers, peers);
    assert_eq!(
        s.steps[0].kind,
        StepKind::Start(vec!["node2".into(), "node1".into()])
    );
    assert_eq!(s.steps[0].line, 16);
}

#[test]
fn ipv6_v3_unicast_uses_v6_addresses() {
    let s = parse(
        r#"
[topology]
ipv6 = true
[vrrp]
version = 3
advert_interval = "100ms"
vips = ["2001:db8::20/128", "2001:db8::21"]
unicast = true
[[steps]]
start = "all"
"#,
    )
    .unwrap();
    let n = &s.nodes[0];
    assert!(n.is_ipv6());
    assert_eq!(n.version, Version::V3);
    assert_eq!(n.advert_interval, ms(100));
    assert_eq!(n.vips[1], ("2001:db8::21".parse().unwrap(), 128));
    assert_eq!(n.own_addr, "2001:db8::11".parse::<IpAddr>().unwrap());
    assert_eq!(
        n.unicast_peers,
        vec!["2001:db8::12".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn timers_and_deadlines() {
    let s = parse(
        r#"
[vrrp]
priority = 100
[nodes.node1]
priority = 200
[[steps]]
start = "all"
[[steps]]
wait = "holder"
node = "node1"
[[steps]]
hold = "2 master_down"
[[steps]]
wait = "no-holder"
within = "master_down + 1s"
[[steps]]
hold = "500ms + skew_time"
[[steps]]
wait = "converged"
within = "3s"
"#,
    )
    .unwrap();
    // v2, priority 100: skew = 156/256 s, master_down = 3 s + skew.
    let skew = Duration::from_nanos(156 * 1_000_000_000 / 256);
    let down = Duration::from_secs(3) + skew;
    let t = s.timers();
    assert_eq!(t.advert_interval, Duration::from_secs(1));
    assert_eq!(t.skew_time, skew);
    assert_eq!(t.master_down, down);
    assert_eq!(t.auto_deadline(), down * 3 + AUTO_SLACK);
    let kinds: Vec<&StepKind> = s.steps.iter().map(|s| &s.kind).collect();
    assert_eq!(
        kinds[1],
        &StepKind::Wait {
            cond: WaitCond::Holder("node1".into()),
            deadline: down * 3 + Duration::from_secs(2)
        }
    );
    assert_eq!(kinds[2], &StepKind::Hold(down * 2));
    assert_eq!(
        kinds[3],
        &StepKind::Wait {
            cond: WaitCond::NoHolder,
            deadline: down + Duration::from_secs(1)
        }
    );
    assert_eq!(kinds[4], &StepKind::Hold(ms(500) + skew));
    assert_eq!(
        kinds[5],
        &StepKind::Wait {
            cond: WaitCond::Converged,
            deadline: Duration::from_secs(3)
        }
    );
    assert!(
        s.steps[2].text.starts_with("hold 7.2"),
        "{}",
        s.steps[2].text
    );
}

#[test]
fn config_step_changes_later_timers_and_keeps_others() {
    let s = parse(
        r#"
[vrrp]
version = 3
advert_interval = "100ms"
[[steps]]
start = "all"
[[steps]]
fault = "restart"
node = "node2"
[steps.config]
advert_interval = "1s"
vips = []
[[steps]]
hold = "1 advert_interval"
"#,
    )
    .unwrap();
    let StepKind::Fault {
        node,
        fault,
        config: Some(cfg),
        addr: None,
    } = &s.steps[1].kind
    else {
        panic!("{:?}", s.steps[1].kind)
    };
    assert_eq!((node.as_str(), *fault), ("node2", FaultKind::Restart));
    assert_eq!(cfg[0], s.nodes[0]);
    assert_eq!(cfg[1].advert_interval, Duration::from_secs(1));
    assert!(cfg[1].vips.is_empty());
    assert_eq!(s.nodes[1].advert_interval, ms(100));
    assert_eq!(s.steps[2].kind, StepKind::Hold(Duration::from_secs(1)));
    assert!(s.steps[1].text.contains("advert_interval, vips"));
}

#[test]
fn faults_expects_and_known_failures() {
    let s = parse(
        r#"
[[steps]]
start = "all"
[[steps]]
fault = "addr-del"
node = "node1"
addr = "192.0.2.20/32"
[[steps]]
wait = "state"
node = "node2"
state = "MASTER"
[[steps]]
expect = "holders"
nodes = ["node2", "node1"]
[[steps]]
expect = "holders"
nodes = []
[[steps]]
expect = "client-macs"
count = 2
[expect]
conflict_max = "0ms"
outage_max = "off"
failover = "rfc"
ttl_255 = false
[expect.daemon.keepalived]
known_failures = ["no_conflict_at_end", "step:4"]
[expect.daemon."vrrpd:no-lease"]
known_failures = []
"#,
    )
    .unwrap();
    assert_eq!(
        s.steps[1].kind,
        StepKind::Fault {
            node: "node1".into(),
            fault: FaultKind::AddrDel,
            addr: Some(("192.0.2.20".parse().unwrap(), 32)),
            config: None
        }
    );
    assert_eq!(s.steps[1].text, "addr-del node1 192.0.2.20/32");
    assert!(matches!(
        &s.steps[2].kind,
        StepKind::Wait { cond: WaitCond::State { node, state: VrrpState::Master }, .. } if node == "node2"
    ));
    assert_eq!(
        s.steps[3].kind,
        StepKind::Expect(ExpectNow::Holders(
            ["node1".to_string(), "node2".to_string()].into()
        ))
    );
    assert_eq!(
        s.steps[4].kind,
        StepKind::Expect(ExpectNow::Holders(Default::default()))
    );
    assert_eq!(s.steps[5].kind, StepKind::Expect(ExpectNow::ClientMacs(2)));
    assert_eq!(s.expect.conflict_max, Some(Duration::ZERO));
    assert_eq!(s.expect.outage_max, None);
    assert_eq!(s.expect.failover, FailoverCheck::Rfc);
    assert!(!s.expect.ttl_255 && s.expect.garp_on_takeover);
    assert!(s.is_known_failure("keepalived", CheckName::Step(4)));
    assert!(s.is_known_failure("keepalived", CheckName::NoConflictAtEnd));
    assert!(!s.is_known_failure("vrrpd", CheckName::NoConflictAtEnd));
    assert!(s.known_failures["vrrpd:no-lease"].is_empty());
}

#[test]
fn every_fault_name_round_trips() {
    for (name, f) in FaultKind::ALL {
        assert_eq!(FaultKind::from_name(name), Some(f));
        assert_eq!(f.to_string(), name);
        let extra = if f.takes_addr() {
            "addr = \"192.0.2.30/32\"\n"
        } else {
            ""
        };
        let track = if matches!(f, FaultKind::BreakCheck | FaultKind::RepairCheck) {
            "[vrrp]\ntrack = \"script\"\n"
        } else {
            ""
        };
        let text = format!("{track}{MIN}[[steps]]\nfault = \"{name}\"\nnode = \"node2\"\n{extra}");
        parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[rstest]
#[case("1s", 1_000)]
#[case("500ms", 500)]
#[case("1.5s", 1_500)]
#[case("0.25s", 250)]
#[case("0s", 0)]
#[case("10 ms", 10)]
#[case("40.95s", 40_950)]
fn durations(#[case] s: &str, #[case] want_ms: u64) {
    assert_eq!(parse_duration(s), Ok(ms(want_ms)));
}

#[rstest]
#[case("")]
#[case("1")]
#[case("s")]
#[case("1.s")]
#[case(".5s")]
#[case("-1s")]
#[case("1m")]
#[case("1h")]
#[case("1.0000000001s")]
#[case("99999999999999999999s")]
#[case("2 days")]
fn bad_durations(#[case] s: &str) {
    assert!(parse_duration(s).is_err(), "{s}");
}

#[rstest]
#[case("2 master_down", 2_000 * 3 + 2 * 609)]
#[case("master_down", 3_609)]
#[case("advert_interval + 250ms", 1_250)]
#[case("1s + 2 skew_time", 1_000 + 2 * 609)]
#[case("1.5 advert_interval", 1_500)]
fn time_expressions(#[case] s: &str, #[case] want_ms: u64) {
    let t = Timers {
        advert_interval: Duration::from_secs(1),
        skew_time: ms(609),
        master_down: ms(3_609),
    };
    let e = TimeExpr::parse(s).unwrap();
    assert_eq!(e.eval(&t), ms(want_ms), "{s}");
    assert!(e.uses_timers());
}

#[rstest]
#[case("2 master_dwn", "unknown timer")]
#[case("down", "unknown timer")]
#[case("x master_down", "bad multiplier")]
#[case("1s +", "empty term")]
#[case("1 2 3", "bad time expression")]
#[case("3sec", "bad duration")]
fn bad_time_expressions(#[case] s: &str, #[case] msg: &str) {
    let e = TimeExpr::parse(s).unwrap_err();
    assert!(e.contains(msg), "{s}: {e}");
}

#[test]
fn line_col_counts_characters() {
    let t = "ab\nçd = 1\n";
    assert_eq!(line_col(t, 0), (1, 1));
    assert_eq!(line_col(t, 3), (2, 1));
    // 'ç' is two bytes, one column.
    assert_eq!(line_col(t, 5), (2, 2));
    assert_eq!(line_col(t, 1000), (3, 1));
}

#[test]
fn error_is_one_line_with_location() {
    let e = error("[vrrp]\nvrid = 300\n[[steps]]\nstart = \"all\"\n");
    assert_eq!((e.line, e.column), (2, 8));
    assert_eq!(
        e.to_string(),
        "dir/my-scenario.toml:2:8: vrid must be 1 to 255, got 300"
    );
    let e = error("name = [\n");
    assert!(!e.to_string().contains('\n'), "{e}");
}

#[rstest]
#[case::auth_empty("[vrrp]\nauth_pass = \"\"\n", 2, "must not be empty")]
#[case::bad_prefix("[vrrp]\nvips = [\"192.0.2.20/33\"]\n", 2, "bad prefix length")]
#[case::dup_vip(
    "[vrrp]\nvips = [\"192.0.2.20\", \"192.0.2.20/32\"]\n",
    2,
    "listed twice"
)]
#[case::client_addr("[vrrp]\nvips = [\"192.0.2.250\"]\n", 2, "the client's own address")]
#[case::empty_vips("[vrrp]\nvips = []\n", 2, "at least one VIP")]
#[case::v2_too_long("[vrrp]\nadvert_interval = \"256s\"\n", 2, "whole seconds")]
#[case::v2_zero("[vrrp]\nadvert_interval = \"0s\"\n", 2, "longer than 0")]
#[case::v3_too_long("[vrrp]\nversion = 3\nadvert_interval = \"41s\"\n", 3, "40.95s")]
#[case::v3_too_short("[vrrp]\nversion = 3\nadvert_interval = \"5ms\"\n", 3, "10ms")]
#[case::bad_state("[vrrp]\ninitial_state = \"MASTER\"\n", 2, "unknown initial_state")]
#[case::bad_notify("[vrrp]\nnotify_backup = \"script\"\n", 2, "unknown notify_backup")]
#[case::bad_name("name = \"a b\"\n", 1, "letters, digits")]
#[case::dotdot_name("name = \"..\"\n", 1, "must not start with '.'")]
#[case::dot_name("name = \".\"\n", 1, "must not start with '.'")]
#[case::hidden_name("name = \".x\"\n", 1, "must not start with '.'")]
#[case::slash_name("name = \"../x\"\n", 1, "must not start with '.'")]
#[case::long_name(
    "name = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
    1,
    "1..=100 bytes"
)]
#[case::node_override_v3_auth(
    "[vrrp]\nauth_pass = \"x\"\n[nodes.node2]\nversion = 3\n",
    2,
    "node2: auth_pass is VRRPv2 only"
)]
fn layer_errors(#[case] head: &str, #[case] line: usize, #[case] msg: &str) {
    let e = error(&format!("{head}{MIN}"));
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(msg), "{e}");
}

#[rstest]
#[case::start_bad("start = \"some\"\n", "must be \"all\" or a list")]
#[case::start_twice("start = [\"node1\", \"node1\"]\n", "started twice")]
#[case::start_empty("start = []\n", "lists no node")]
#[case::wait_needs_node("wait = \"holder\"\n", "needs `node`")]
#[case::wait_state_needs_state("wait = \"state\"\nnode = \"node1\"\n", "needs `state`")]
#[case::wait_bad_state(
    "wait = \"state\"\nnode = \"node1\"\nstate = \"UP\"\n",
    "unknown state"
)]
#[case::wait_node_not_taken("wait = \"converged\"\nnode = \"node1\"\n", "`node` does not apply")]
#[case::wait_zero("wait = \"converged\"\nwithin = \"0s\"\n", "longer than 0")]
#[case::hold_zero("hold = \"0ms\"\n", "longer than 0")]
#[case::hold_extra("hold = \"1s\"\nnode = \"node1\"\n", "takes no other key")]
#[case::addr_outside(
    "fault = \"addr-add\"\nnode = \"node1\"\naddr = \"10.1.1.1/32\"\n",
    "outside the lab"
)]
#[case::holders_need_nodes("expect = \"holders\"\n", "needs `nodes`")]
#[case::holders_twice(
    "expect = \"holders\"\nnodes = [\"node1\", \"node1\"]\n",
    "listed twice"
)]
#[case::macs_need_count("expect = \"client-macs\"\n", "needs `count`")]
#[case::macs_too_many("expect = \"client-macs\"\ncount = 3\n", "count must be 0 to 2")]
#[case::config_bad_value(
    "fault = \"reload\"\nnode = \"node1\"\n[steps.config]\npriority = 0\n",
    "priority must be 1 to 255"
)]
fn step_errors(#[case] body: &str, #[case] msg: &str) {
    let e = error(&format!("{MIN}[[steps]]\n{body}"));
    assert!(e.message.contains(msg), "{e}");
    assert!(e.line >= 3, "{e}");
}

#[rstest]
#[case::unknown_step(
    "[expect.daemon.vrrpd]\nknown_failures = [\"step:9\"]\n",
    "there is no step 9"
)]
#[case::bad_window("[expect]\noutage_max = \"soon\"\n", "unknown timer")]
#[case::bad_failover("[expect]\nfailover = \"fast\"\n", "unknown failover")]
#[case::unknown_key("[expect]\nconflict = \"0s\"\n", "unknown field `conflict`")]
#[case::unknown_daemon_key("[expect.daemon.vrrpd]\nknown = []\n", "unknown field `known`")]
fn expect_errors(#[case] tail: &str, #[case] msg: &str) {
    let e = error(&format!("{MIN}{tail}"));
    assert!(e.message.contains(msg), "{e}");
}

#[test]
fn no_steps_is_an_error() {
    assert!(error("steps = []\n").message.contains("at least one step"));
    assert!(error("").message.contains("at least one"));
}

#[test]
fn load_reports_missing_file() {
    let e = Scenario::load(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains("cannot read"));
}

#[test]
fn collect_files_walks_directories_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("b");
    std::fs::create_dir(&sub).unwrap();
    for p in ["z.toml", "a.toml", "notes.md", "b/c.toml"] {
        std::fs::write(dir.path().join(p), MIN).unwrap();
    }
    let single = dir.path().join("notes.md");
    let files = collect_files(&[dir.path().to_path_buf(), single.clone()]).unwrap();
    let want = vec![
        dir.path().join("a.toml"),
        dir.path().join("b/c.toml"),
        dir.path().join("z.toml"),
        single,
    ];
    assert_eq!(files, want);
    assert!(collect_files(&[dir.path().join("missing")]).is_err());
}

/// The worked example in scenarios/README.md is valid and its numbers are right.
#[test]
fn readme_worked_example() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/README.md"
    ))
    .unwrap();
    let start = readme.find("## Worked example").unwrap();
    let body = &readme[start..];
    let open = body.find("```toml\n").unwrap() + "```toml\n".len();
    let close = body[open..].find("```").unwrap();
    let s = parse(&body[open..open + close]).unwrap();
    assert_eq!(s.name, "sigkill-master");
    assert_eq!(s.steps.len(), 6);
    let down = Duration::from_secs(3) + Duration::from_nanos(156 * 1_000_000_000 / 256);
    assert_eq!(s.timers().master_down, down);
    assert!(
        matches!(s.steps[1].kind, StepKind::Wait { deadline, .. } if deadline == down * 3 + Duration::from_secs(2))
    );
    assert_eq!(s.expect.outage_max, Some(down + Duration::from_secs(1)));
    assert!(s.is_known_failure("keepalived", CheckName::Step(6)));
}

/// Issue 13 item 10: a file whose stem is no safe name needs `name`.
#[test]
fn file_stem_must_be_a_safe_name() {
    let e = Scenario::parse(MIN, Path::new("dir/..toml")).unwrap_err();
    assert!(e.message.contains("set `name`"), "{e}");
    let ok = Scenario::parse(&format!("name = \"fine\"\n{MIN}"), Path::new("dir/..toml"));
    assert_eq!(ok.map(|s| s.name).ok().as_deref(), Some("fine"));
}

/// Issue 13 item 12: the one-day cap applies to timer multiples too.
#[rstest]
#[case("hold = \"99999999999999999999 master_down\"\n", 4)]
#[case("hold = \"30000 master_down\"\n", 4)]
#[case("hold = \"1s + 90000 advert_interval\"\n", 4)]
#[case(
    "wait = \"holder\"\nnode = \"node1\"\nwithin = \"99999999999 skew_time\"\n",
    6
)]
fn timer_expressions_are_capped_at_a_day(#[case] step: &str, #[case] line: usize) {
    let e = error(&format!("{MIN}[[steps]]\n{step}"));
    assert!(e.message.contains("longer than a day"), "{e}");
    assert_eq!(e.line, line, "{e}");
}

/// Issue 13 item 13: step lines are found in linear time (20,000 steps used to take
/// seconds with a rescan per step) and are still right.
#[test]
fn many_steps_load_in_linear_time() {
    let mut text = String::from(MIN);
    for _ in 0..20_000 {
        text.push_str("[[steps]]\nhold = \"10ms\"\n");
    }
    let started = std::time::Instant::now();
    let s = parse(&text).unwrap();
    assert_eq!(s.steps.len(), 20_001);
    assert_eq!(s.steps[20_000].line, 1 + 2 * 20_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn tracked_checks_and_their_faults() {
    let s = parse(
        "[vrrp]\ntrack = \"process\"\ntrack_weight = -60\n[nodes.node2]\ntrack = \"file\"\n[[steps]]\nstart = \"all\"\n[[steps]]\nfault = \"break-check\"\nnode = \"node1\"\n",
    )
    .unwrap();
    assert_eq!(
        s.nodes[0].track,
        Some(Track {
            kind: TrackKind::Process,
            weight: -60
        })
    );
    assert_eq!(s.nodes[1].track.map(|t| t.kind), Some(TrackKind::File));
    assert!(parse(MIN).unwrap().nodes[0].track.is_none());
    let e = error("[vrrp]\ntrack = \"cpu\"\n[[steps]]\nstart = \"all\"\n").to_string();
    assert!(e.contains("track"), "{e}");
    let e = error("[vrrp]\ntrack = \"file\"\ntrack_weight = 300\n[[steps]]\nstart = \"all\"\n")
        .to_string();
    assert!(e.contains("track_weight must be -253 to 253"), "{e}");
    let e = error(
        "[[steps]]\nstart = \"all\"\n[[steps]]\nfault = \"repair-check\"\nnode = \"node1\"\n",
    )
    .to_string();
    assert!(e.contains("node1 tracks no check"), "{e}");
}
