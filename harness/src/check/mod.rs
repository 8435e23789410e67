//! Checkers over a run's history, and the verdict they add up to.
//!
//! Every checker is a pure function of a [`Ctx`] (what the run was configured with) and
//! the history's events, sorted by `t_ns` as [`crate::history::History::events`] returns
//! them. Checkers never touch the lab.
//!
//! Each returns a [`CheckResult`] whose [`Outcome`] is pass, fail or unknown. *Unknown is
//! never pass*: when an observation the property depends on is missing (no capture, lost
//! frames, lost netlink events, no client probes) the checker says so instead of passing
//! on silence. A violation that *was* observed still fails even when other parts of the
//! run are unobserved.
//!
//! Every failure message starts with the check's name, states the broken property and the
//! time window in seconds since the run began (`t=3.412s`).
//!
//! Families:
//! * [`liveness`]: when a VIP on a node is live (address and link events);
//! * [`timeline`]: who held each VIP when, as intervals and windows;
//! * [`holding`]: conflict / outage / end-state checks over that timeline;
//! * [`adverts`]: checks over the captured VRRP adverts (failover time, priority 0, TTL);
//! * [`announce`]: gratuitous ARP / unsolicited NA after a takeover;
//! * [`client`]: what the client's ARP/ND probes saw;
//! * [`verdict`]: known failures and the overall verdict.

pub mod adverts;
pub mod announce;
pub mod client;
pub mod holding;
pub mod liveness;
pub mod names;
pub mod timeline;
pub mod verdict;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use vrrpd::wire::Mac;

use crate::history::{Event, EventKind};

pub use adverts::{failover, priority_zero_on_stop, ttl_255, FailoverKind};
pub use announce::garp_on_takeover;
pub use client::{client_single_mac_at_end, client_view, expect_client_macs, ClientView, Probe};
pub use holding::{
    conflict_max, expect_holders, no_conflict_at_end, outage_max, single_holder_at_end,
};
pub use names::CheckName;
pub use timeline::{
    conflict_windows, holders, holders_at, holders_until, outage_windows, AddrHole, Interval,
    Timeline, Window,
};
pub use verdict::{judge, Classification, Judged, Verdict};

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// The property held over everything that was observed, and everything it depends on
    /// was observed.
    Pass,
    /// The property was broken; the text says what broke and when.
    Fail(String),
    /// The property could not be decided; the text says which observation is missing.
    Unknown(String),
}

impl Outcome {
    /// Whether this is [`Outcome::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pass => f.write_str("pass"),
            Outcome::Fail(why) => write!(f, "fail: {why}"),
            Outcome::Unknown(why) => write!(f, "unknown: {why}"),
        }
    }
}

/// What happened to one scenario step: the one step outcome, from the runner (which
/// records it) through the verdict (which may excuse a known failure) to every report.
///
/// Serialises as `{"index", "text", "outcome"}` with `outcome` one of `ok`,
/// `failed: <why>` or `unknown: <why>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StepOutcome {
    /// The step's 1-based index in the scenario.
    pub index: usize,
    /// The step's human description.
    pub text: String,
    /// Pass (`ok`), fail or unknown, with why.
    #[serde(
        serialize_with = "step_outcome_text",
        deserialize_with = "step_outcome_from_text"
    )]
    pub outcome: Outcome,
}

impl StepOutcome {
    /// A step that succeeded.
    pub fn ok(index: usize, text: impl Into<String>) -> StepOutcome {
        StepOutcome {
            index,
            text: text.into(),
            outcome: Outcome::Pass,
        }
    }

    /// A step that failed, and why.
    pub fn failed(index: usize, text: impl Into<String>, why: &str) -> StepOutcome {
        StepOutcome {
            index,
            text: text.into(),
            outcome: Outcome::Fail(why.to_string()),
        }
    }

    /// A step whose outcome is not known, and why.
    pub fn unknown(index: usize, text: impl Into<String>, why: &str) -> StepOutcome {
        StepOutcome {
            index,
            text: text.into(),
            outcome: Outcome::Unknown(why.to_string()),
        }
    }

    /// `ok`, `failed` or `unknown`, without the explanation.
    pub fn word(&self) -> &'static str {
        step_word(&self.outcome)
    }

    /// `ok`, `failed: <why>` or `unknown: <why>`.
    pub fn outcome_text(&self) -> String {
        step_text(&self.outcome)
    }
}

/// A step outcome's word: `ok`, `failed` or `unknown`.
fn step_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Pass => "ok",
        Outcome::Fail(_) => "failed",
        Outcome::Unknown(_) => "unknown",
    }
}

/// A step outcome as text: `ok`, `failed: <why>` or `unknown: <why>`.
fn step_text(o: &Outcome) -> String {
    match o {
        Outcome::Pass => "ok".to_string(),
        Outcome::Fail(why) | Outcome::Unknown(why) => format!("{}: {why}", step_word(o)),
    }
}

/// Reads back what [`step_outcome_text`] wrote; text it cannot read is unknown, never ok.
fn step_outcome_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    Ok(if text == "ok" {
        Outcome::Pass
    } else if let Some(why) = text.strip_prefix("failed: ") {
        Outcome::Fail(why.to_string())
    } else if let Some(why) = text.strip_prefix("unknown: ") {
        Outcome::Unknown(why.to_string())
    } else {
        Outcome::Unknown(text)
    })
}

fn step_outcome_text<S: serde::Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&step_text(o))
}

/// One check's name, outcome and what it measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// The check's name (`conflict_max`, `failover`, `step:3`...), the key of known
    /// failures.
    pub name: CheckName,
    /// Pass, fail or unknown.
    pub outcome: Outcome,
    /// What was measured, whatever the outcome (for reports).
    pub detail: String,
    /// The number the check measured, in nanoseconds, when it measures one (the failover
    /// time), for tables and benchmarks.
    pub measured_ns: Option<u64>,
}

impl CheckResult {
    /// A result named `name`.
    pub fn new(name: CheckName, outcome: Outcome, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            name,
            outcome,
            detail: detail.into(),
            measured_ns: None,
        }
    }

    /// The same result carrying the number it measured.
    pub fn with_measure(mut self, ns: u64) -> CheckResult {
        self.measured_ns = Some(ns);
        self
    }

    /// The same result under another name (for instance to tell two in-run expectations
    /// apart in a known-failures list).
    pub fn renamed(mut self, name: CheckName) -> CheckResult {
        self.name = name;
        self
    }
}

/// What the checkers know about the run besides its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Ctx {
    /// The virtual addresses of the virtual router under test.
    pub vips: Vec<IpAddr>,
    /// The router nodes (not the client).
    pub nodes: Vec<String>,
    /// Each node's MAC on the segment (aa:bb:..), to attribute frames to nodes.
    pub node_macs: BTreeMap<String, Mac>,
    /// The configured advertisement interval.
    pub advert_interval: Duration,
    /// RFC `Master_Down_Interval` of the backup expected to take over.
    pub master_down: Duration,
    /// RFC `Skew_Time` of the backup expected to take over.
    pub skew_time: Duration,
    /// Run time at which observation ended (ns since the run began).
    pub end_ns: u64,
    /// Run time of the first fault, if any.
    pub first_fault_ns: Option<u64>,
}

impl Ctx {
    /// A context with the RFC timers of a backup of `backup_priority` under `version`
    /// advertising every `advert_interval`; `end_ns` and `first_fault_ns` are taken from
    /// `events` (last event, first [`EventKind::Fault`]).
    pub fn new(
        vips: Vec<IpAddr>,
        node_macs: BTreeMap<String, Mac>,
        version: vrrpd::wire::vrrp::Version,
        backup_priority: u8,
        advert_interval: Duration,
        events: &[Event],
    ) -> Ctx {
        Ctx {
            vips,
            nodes: node_macs.keys().cloned().collect(),
            node_macs,
            advert_interval,
            master_down: vrrpd::instance::master_down_interval(
                version,
                backup_priority,
                advert_interval,
            ),
            skew_time: vrrpd::instance::skew_time(version, backup_priority, advert_interval),
            end_ns: events.iter().map(|e| e.t_ns).max().unwrap_or(0),
            first_fault_ns: events
                .iter()
                .find(|e| matches!(e.kind, EventKind::Fault { .. }))
                .map(|e| e.t_ns),
        }
    }

    /// The node whose segment MAC is `mac`.
    pub fn node_of_mac(&self, mac: Mac) -> Option<&str> {
        self.node_macs
            .iter()
            .find(|(_, m)| **m == mac)
            .map(|(n, _)| n.as_str())
    }

    /// The segment MAC of `node`.
    pub fn mac_of(&self, node: &str) -> Option<Mac> {
        self.node_macs.get(node).copied()
    }
}

/// One check, as data: what a scenario's expectations compile into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// [`no_conflict_at_end`].
    NoConflictAtEnd,
    /// [`conflict_max`] with this bound.
    ConflictMax(Duration),
    /// [`outage_max`] with this bound.
    OutageMax(Duration),
    /// [`single_holder_at_end`].
    SingleHolderAtEnd,
    /// [`failover`] of this kind.
    Failover(FailoverKind),
    /// [`priority_zero_on_stop`].
    PriorityZeroOnStop,
    /// [`garp_on_takeover`].
    GarpOnTakeover,
    /// [`ttl_255`].
    Ttl255,
    /// [`client_single_mac_at_end`].
    ClientSingleMacAtEnd,
    /// [`expect_holders`] at `t_ns`.
    ExpectHolders {
        /// Run time of the expectation.
        t_ns: u64,
        /// The nodes expected to hold every VIP.
        nodes: BTreeSet<String>,
    },
    /// [`expect_client_macs`] at `t_ns`.
    ExpectClientMacs {
        /// Run time of the expectation.
        t_ns: u64,
        /// How many MACs the client should see answer for each VIP.
        n: usize,
    },
}

impl Check {
    /// Runs the check over `events`.
    pub fn run(&self, ctx: &Ctx, events: &[Event]) -> CheckResult {
        match self {
            Check::NoConflictAtEnd => no_conflict_at_end(ctx, events),
            Check::ConflictMax(b) => conflict_max(ctx, events, *b),
            Check::OutageMax(b) => outage_max(ctx, events, *b),
            Check::SingleHolderAtEnd => single_holder_at_end(ctx, events),
            Check::Failover(k) => failover(ctx, events, *k),
            Check::PriorityZeroOnStop => priority_zero_on_stop(ctx, events),
            Check::GarpOnTakeover => garp_on_takeover(ctx, events),
            Check::Ttl255 => ttl_255(ctx, events),
            Check::ClientSingleMacAtEnd => client_single_mac_at_end(ctx, events),
            Check::ExpectHolders { t_ns, nodes } => expect_holders(ctx, events, *t_ns, nodes),
            Check::ExpectClientMacs { t_ns, n } => expect_client_macs(ctx, events, *t_ns, *n),
        }
    }
}

/// Runs every check in order.
pub fn run_checks(ctx: &Ctx, events: &[Event], checks: &[Check]) -> Vec<CheckResult> {
    checks.iter().map(|c| c.run(ctx, events)).collect()
}

/// How many violations a failure message lists before summarising the rest.
const MAX_LISTED: usize = 5;

/// Collects violations and reasons for not knowing, then decides: any violation fails,
/// else any reason unknown, else pass.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) fails: Vec<String>,
    pub(crate) unknowns: Vec<String>,
}

impl Findings {
    pub(crate) fn outcome(self, name: CheckName) -> Outcome {
        if !self.fails.is_empty() {
            let n = self.fails.len();
            let mut listed: Vec<String> = self.fails.into_iter().take(MAX_LISTED).collect();
            if n > MAX_LISTED {
                listed.push(format!("and {} more", n - MAX_LISTED));
            }
            Outcome::Fail(format!("{name}: {}", listed.join("; ")))
        } else if !self.unknowns.is_empty() {
            Outcome::Unknown(format!("{name}: {}", self.unknowns.join("; ")))
        } else {
            Outcome::Pass
        }
    }
}

/// `t=3.412s`: a run time in seconds, millisecond precision.
pub fn t_str(t_ns: u64) -> String {
    format!(
        "t={}.{:03}s",
        t_ns / 1_000_000_000,
        (t_ns % 1_000_000_000) / 1_000_000
    )
}

/// `1688 ms` or `3609.375 ms`: a duration in milliseconds, up to microsecond precision,
/// without trailing zeros.
pub fn ms_str(ns: u64) -> String {
    let whole = ns / 1_000_000;
    let frac = (ns % 1_000_000) / 1_000;
    if frac == 0 {
        format!("{whole} ms")
    } else {
        let f = format!("{frac:03}");
        format!("{whole}.{} ms", f.trim_end_matches('0'))
    }
}

/// A duration as nanoseconds, saturating.
pub(crate) fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `node1+node2`.
pub(crate) fn join_nodes(nodes: &BTreeSet<String>) -> String {
    if nodes.is_empty() {
        return "nobody".to_string();
    }
    nodes.iter().cloned().collect::<Vec<_>>().join("+")
}

/// Why frame-based checks cannot be decided, if they cannot: no frame captured at all,
/// or the kernel dropped frames (where is not known, so anywhere).
pub(crate) fn capture_missing(events: &[Event]) -> Option<String> {
    let mut frames = 0usize;
    let mut dropped = 0u64;
    for e in events {
        match &e.kind {
            EventKind::Frame { .. } => frames += 1,
            EventKind::CaptureGap { dropped: d } => dropped += d,
            _ => {}
        }
    }
    if dropped > 0 {
        Some(format!(
            "the capture lost {dropped} frame(s): any of them may be the one that matters"
        ))
    } else if frames == 0 {
        Some("no frame was captured on the segment".to_string())
    } else {
        None
    }
}

/// Each node's own (non-VIP) addresses on eth1, as seen by the address monitor, to
/// attribute frames by source IP.
pub(crate) fn node_ips(ctx: &Ctx, events: &[Event]) -> BTreeMap<IpAddr, String> {
    let mut out = BTreeMap::new();
    for e in events {
        if let EventKind::Addr {
            node, ifname, addr, ..
        } = &e.kind
        {
            if ifname == timeline::SEGMENT_IFNAME && !ctx.vips.contains(addr) {
                out.entry(*addr).or_insert_with(|| node.clone());
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        assert_eq!(t_str(3_412_000_000), "t=3.412s");
        assert_eq!(t_str(0), "t=0.000s");
        assert_eq!(ms_str(1_688_000_000), "1688 ms");
        assert_eq!(ms_str(3_609_375_000), "3609.375 ms");
        assert_eq!(ms_str(609_375_000), "609.375 ms");
        assert_eq!(ms_str(1_500_000), "1.5 ms");
        assert_eq!(ms_str(0), "0 ms");
    }

    /// The seed's story: keepalived SIGKILLed while master keeps the VIP; the peer takes
    /// it over after Master_Down_Interval and both hold it until the end.
    fn sigkill_story() -> Vec<Event> {
        use crate::history::AddrChange;
        use testutil::*;
        let mut ev = vec![
            addr(ms(100), "node1", AddrChange::Initial, ip(IP1)),
            addr(ms(100), "node2", AddrChange::Initial, ip(IP2)),
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
            garp(ms(1001), MAC1, vip4()),
            probe(ms(4500), 1, &[MAC1]),
            fault(ms(5200), "node1", "sigkill"),
            addr(ms(8650), "node2", AddrChange::Added, vip4()),
            garp(ms(8651), MAC2, vip4()),
            probe(ms(9500), 2, &[MAC1, MAC2]),
            note(ms(12_000)),
        ];
        ev.extend(adverts_every_second(1000, 5000, MAC1, IP1));
        ev.extend(adverts_every_second(8650, 11_650, MAC2, IP2));
        sorted(ev)
    }

    #[test]
    fn sigkill_story_is_judged_with_known_failures() {
        let ev = sigkill_story();
        let ctx = testutil::ctx(&ev);
        let checks = [
            Check::NoConflictAtEnd,
            Check::ConflictMax(Duration::ZERO),
            Check::OutageMax(Duration::from_secs(4)),
            Check::SingleHolderAtEnd,
            Check::Failover(FailoverKind::Kill),
            Check::GarpOnTakeover,
            Check::Ttl255,
            Check::ClientSingleMacAtEnd,
            Check::ExpectHolders {
                t_ns: testutil::ms(4000),
                nodes: ["node1".to_string()].into(),
            },
            Check::ExpectClientMacs {
                t_ns: testutil::ms(9000),
                n: 2,
            },
        ];
        let results = run_checks(&ctx, &ev, &checks);
        let failed: Vec<String> = results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .map(|r| r.name.to_string())
            .collect();
        assert_eq!(
            failed,
            [
                "no_conflict_at_end",
                "conflict_max",
                "single_holder_at_end",
                "client_single_mac_at_end"
            ]
        );
        assert!(
            results
                .iter()
                .all(|r| !matches!(r.outcome, Outcome::Unknown(_))),
            "{results:#?}"
        );
        let Outcome::Fail(msg) = &results[1].outcome else {
            panic!("{results:?}")
        };
        assert_eq!(
            msg,
            "conflict_max: node1+node2 both held 192.0.2.20, open since t=8.650s, at least 3350 ms at the end of the run (t=12.000s) > 0 ms"
        );

        let known: BTreeSet<CheckName> = failed
            .iter()
            .map(|s| CheckName::parse(s).expect("a check name"))
            .collect();
        let v = judge(results.clone(), &known);
        assert!(v.ok, "{v}");
        assert!(v.to_string().contains("expected failure reproduced"), "{v}");
        // The fixed daemon passes them: the known failures no longer reproduce.
        let fixed: Vec<CheckResult> = results
            .into_iter()
            .map(|mut r| {
                r.outcome = Outcome::Pass;
                r
            })
            .collect();
        let v = judge(fixed, &known);
        assert!(!v.ok);
        assert_eq!(
            v.checks
                .iter()
                .filter(|j| j.class == Classification::UnexpectedPass)
                .count(),
            4
        );
    }

    #[test]
    fn ctx_uses_the_daemon_timers() {
        let ctx = Ctx::new(
            vec![],
            BTreeMap::new(),
            vrrpd::wire::vrrp::Version::V3,
            100,
            Duration::from_secs(1),
            &[],
        );
        assert_eq!(ctx.master_down, Duration::from_nanos(3_609_375_000));
        assert_eq!(ctx.skew_time, Duration::from_nanos(609_375_000));
        assert_eq!(ctx.first_fault_ns, None);
    }
}
