//! The invariants explore holds every schedule to, written as the catalogue's own
//! `[expect]` checks: no new pass/fail vocabulary, the same checkers over the same
//! history.
//!
//! | invariant | check |
//! |---|---|
//! | never two live holders for longer than the daemon's declared bound (plus what the faults themselves allow: a partition, a link or daemon coming back) | `conflict_max` |
//! | after every fault healed and one Master_Down_Interval plus slack, exactly one holder, and the client answered by one node | `single_holder_at_end`, `no_conflict_at_end`, `client_single_mac_at_end` |
//! | no outage longer than the RFC allows for the faults applied | `outage_max` |
//! | a takeover within the RFC bound (when the first fault takes the MASTER down for long enough to measure one) | `failover` |
//! | the catalogue's protocol checks where the lab can observe them | `priority_zero_on_stop`, `garp_on_takeover`, `ttl_255` |
//!
//! A check that could not be decided is unknown, never a pass.

use std::time::Duration;

use crate::check::adverts::failover_tolerance;
use crate::check::{Classification, Outcome};
use crate::run::RunResult;
use crate::scenario::FaultKind;

use super::schedule::{Action, Caps, NodeState, Schedule};

/// How long two holders may overlap when a higher priority takes the VIP back
/// (preemption, a thawed MASTER announcing itself): the new MASTER adds the VIP as it
/// sends its first advert and the old one drops it when that advert arrives, well under
/// a millisecond on the lab's segment. The catalogue states the same bound
/// (`preempt-higher-returns.toml`).
pub const PREEMPT_OVERLAP: Duration = Duration::from_millis(50);

/// Slack for scheduling on a loaded machine, added to every time bound.
pub const SLACK: Duration = Duration::from_millis(500);

/// What a daemon declares about itself: the faults it can be put through and how long
/// it may leave a stale VIP behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The faults it can be put through.
    pub caps: Caps,
    /// A MASTER's VIP lapses by itself when the daemon dies or freezes (vrrpd's kernel
    /// lease): no stale VIP beyond the lease bound. Without it, a SIGKILLed or frozen
    /// MASTER keeps its VIP until it is started again or thawed (keepalived's and FRR's
    /// known behaviour), and the conflict bound allows for that.
    pub lease: bool,
    /// One line for the scenario file's comment.
    pub note: &'static str,
}

/// The declared behaviour of a daemon, by the name `--daemon` takes. vrrpd's negative
/// controls are judged by vrrpd's declaration, so that the layer they switch off shows.
pub fn declared(daemon: &str) -> Declared {
    if daemon == "vrrpd" || daemon.starts_with("vrrpd:") {
        Declared {
            caps: Caps {
                forks: false,
                reload: true,
                restores_deleted_vip: true,
            },
            lease: true,
            note: "vrrpd: its kernel lease removes a dead or frozen MASTER's VIP before a peer takes over (0 overlap at >= 1 s adverts, the lease bound below); a MASTER re-adds a VIP the operator deleted",
        }
    } else if daemon.starts_with("keepalived") {
        Declared {
            caps: Caps {
                forks: true,
                reload: true,
                restores_deleted_vip: false,
            },
            lease: false,
            note: "keepalived: a SIGKILLed or frozen MASTER keeps its VIP until it starts again or is thawed (its known behaviour); a restart removes stale VIPs",
        }
    } else {
        Declared {
            caps: Caps {
                forks: false,
                reload: false,
                restores_deleted_vip: false,
            },
            lease: false,
            note: "no lease declared: a SIGKILLed or frozen MASTER may keep its VIP until it starts again or is thawed",
        }
    }
}

/// The expectations of one schedule against one daemon, with the reasoning for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// `conflict_max`.
    pub conflict_max: Duration,
    /// `outage_max`.
    pub outage_max: Duration,
    /// Whether `failover = "rfc"` is judged.
    pub failover: bool,
    /// Whether `priority_zero_on_stop` and `garp_on_takeover` are judged: they need every
    /// frame on the segment, which an isolated or link-down node's frames are not, and a
    /// node's MAC, which a reboot changes.
    pub announce: bool,
    /// One line per bound, for the file's comment.
    pub why: Vec<String>,
}

/// Rough time one fault step takes to apply, for the windows below (generous: the
/// machine may be loaded).
fn step_cost(kind: FaultKind) -> u64 {
    match kind {
        FaultKind::Reboot => 1500,
        // A clean stop, the start's check that the daemon lives, and its start-up.
        FaultKind::Restart => 1000,
        FaultKind::Stop | FaultKind::Sigkill | FaultKind::Crash => 500,
        _ => 200,
    }
}

/// Merges overlapping `(from, to)` windows and returns the longest.
fn longest(mut w: Vec<(u64, u64)>) -> Option<u64> {
    w.sort_unstable();
    let mut best: Option<u64> = None;
    let mut cur: Option<(u64, u64)> = None;
    for (a, b) in w {
        cur = match cur {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                best = best.max(Some(cb - ca));
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((a, b)) = cur {
        best = best.max(Some(b - a));
    }
    best
}

/// Whether `kind` leaves a daemon without a lease holding a stale VIP (if it was MASTER)
/// until it is started or thawed.
fn leaves_stale(kind: FaultKind, caps: Caps) -> bool {
    match kind {
        FaultKind::Sigkill | FaultKind::SigkillChild | FaultKind::Freeze => true,
        // keepalived's VRRP child dies with its parent (PR_SET_PDEATHSIG): a clean stop.
        FaultKind::SigkillParent => !caps.forks,
        _ => false,
    }
}

/// The bounds `s` is judged by against a daemon declaring `d`.
pub fn bounds(s: &Schedule, d: &Declared) -> Bounds {
    let adv = s.advert_interval();
    let mdi = s.master_down();
    let tol = failover_tolerance(adv);
    let caps = d.caps;
    let mut all = s.steps();
    all.extend(s.heal(caps));

    // Walk the schedule on a rough clock (ms), noting the windows the faults allow.
    let mut t = 0u64;
    let mut st: Vec<NodeState> = s.priorities.iter().map(|p| NodeState::new(*p)).collect();
    let mut conflict: Vec<(u64, u64)> = Vec::new();
    let mut outage: Vec<(u64, u64)> = Vec::new();
    let mut isolated_since: Vec<Option<u64>> = vec![None; st.len()];
    let mut stale_since: Vec<Option<u64>> = vec![None; st.len()];
    let mut deleted_since: Vec<Option<u64>> = vec![None; st.len()];
    let mut none_eligible_since: Option<u64> = None;
    for a in &all {
        let (node, kind, change) = match *a {
            Action::Hold(ms) => {
                t += ms;
                continue;
            }
            Action::Fault { node, kind, change } => (node, kind, change),
            Action::VipChange(_) => continue,
        };
        let others_eligible = st
            .iter()
            .enumerate()
            .any(|(i, o)| i != node && o.eligible());
        let Some(n) = st.get_mut(node) else { continue };
        let before = n.clone();
        n.apply(kind, change);
        let t0 = t;
        t += step_cost(kind);
        // A restart or reboot of the only node that could hold the VIP: it comes back
        // as BACKUP and waits Master_Down_Interval, nobody holding the VIP meanwhile.
        if matches!(kind, FaultKind::Restart | FaultKind::Reboot)
            && before.eligible()
            && !others_eligible
        {
            outage.push((t0, t));
        }
        let after = n.clone();
        // Partitions: split brain while isolated is expected.
        if !before.isolated && after.isolated {
            isolated_since[node] = Some(t);
        }
        if before.isolated && !after.isolated {
            conflict.push((isolated_since[node].take().unwrap_or(t), t));
        }
        // A link, a node or a daemon coming back may meet a MASTER elected without it:
        // the higher priority wins at its next advert.
        if (!before.link_up && after.link_up) || kind == FaultKind::Thaw {
            conflict.push((t, t));
        }
        // A MASTER that dies or freezes while a peer of higher (or equal) priority is
        // taking over by preemption (the start order can make a lower priority MASTER
        // for a moment; a reload or a returning node can too) cannot step back: with a
        // lease its VIP lasts until the lease runs out, since the peer does not wait
        // for Master_Down_Interval.
        if d.lease && leaves_stale(kind, caps) {
            let outranked = st
                .iter()
                .enumerate()
                .any(|(i, o)| i != node && o.eligible() && o.priority >= before.priority);
            if outranked {
                let lease = vrrpd::instance::lease_for(s.proto(), before.priority, adv)
                    + vrrpd::instance::KERNEL_EXPIRY_LATE_ROUNDED;
                let ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
                conflict.push((t, t + ms));
            }
        }
        // Stale VIPs a daemon without a lease is known to leave.
        if !d.lease {
            if leaves_stale(kind, caps) && stale_since[node].is_none() {
                stale_since[node] = Some(t.saturating_sub(step_cost(kind)));
            }
            let gone = matches!(
                kind,
                FaultKind::Start
                    | FaultKind::Restart
                    | FaultKind::Reboot
                    | FaultKind::Thaw
                    | FaultKind::Crash
            );
            if gone && after.proc != super::schedule::Proc::Frozen {
                if let Some(from) = stale_since[node].take() {
                    conflict.push((from, t));
                }
            }
        }
        // A deleted VIP the daemon does not put back stays missing until a restart.
        if !caps.restores_deleted_vip {
            if !before.vip_deleted && after.vip_deleted {
                deleted_since[node] = Some(t);
            }
            if before.vip_deleted && !after.vip_deleted {
                outage.push((deleted_since[node].take().unwrap_or(t), t));
            }
        }
        // No node able to hold the VIP: an outage as long as that lasts.
        let any = st.iter().any(NodeState::eligible);
        match (any, none_eligible_since) {
            (false, None) => none_eligible_since = Some(t.saturating_sub(step_cost(kind))),
            (true, Some(from)) => {
                outage.push((from, t));
                none_eligible_since = None;
            }
            _ => {}
        }
    }

    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let mut why = Vec::new();
    let lease_overlap = if d.lease {
        let version = if s.version == 2 {
            vrrpd::instance::ProtoVersion::V2
        } else {
            vrrpd::instance::ProtoVersion::V3
        };
        // The worst case over the nodes' priorities (a peer of equal priority).
        s.priorities
            .iter()
            .map(|&p| vrrpd::instance::lease_overlap_bound(version, p, adv))
            .max()
            .unwrap_or_default()
    } else {
        Duration::ZERO
    };
    let base = PREEMPT_OVERLAP + lease_overlap;
    why.push(format!(
        "conflict_max: {} ms preemption overlap{}",
        ms(PREEMPT_OVERLAP),
        if lease_overlap.is_zero() {
            String::new()
        } else {
            format!(
                " + {} ms lease bound at {} ms adverts",
                ms(lease_overlap),
                s.advert_ms
            )
        }
    ));
    let conflict_max = match longest(conflict) {
        Some(w) => {
            why.push(format!(
                "conflict_max: + {w} ms the faults allow (a partition, a MASTER frozen or killed while outranked, a stale VIP of a daemon without a lease) + one advert interval + {} ms tolerance + {} ms slack",
                ms(tol),
                ms(SLACK)
            ));
            base + Duration::from_millis(w) + adv + tol + SLACK
        }
        None => base,
    };
    let window = longest(outage);
    let outage_max = mdi + tol + SLACK + Duration::from_millis(window.unwrap_or(0));
    why.push(format!(
        "outage_max: Master_Down_Interval {} ms + {} ms tolerance + {} ms slack{}",
        ms(mdi),
        ms(tol),
        ms(SLACK),
        window.map_or(String::new(), |w| format!(
            " + {w} ms with no node able to hold the VIP"
        ))
    ));

    let failover = failover_applies(s, mdi + tol + Duration::from_millis(300));
    if failover {
        why.push(
            "failover: the first fault takes the MASTER down long enough to measure the takeover"
                .into(),
        );
    }
    let blind = [
        FaultKind::Isolate,
        FaultKind::Rejoin,
        FaultKind::LinkDown,
        FaultKind::LinkUp,
        FaultKind::Crash,
        FaultKind::Reboot,
    ];
    let announce = !all
        .iter()
        .any(|a| matches!(a, Action::Fault { kind, .. } if blind.contains(kind)));
    if !announce {
        why.push("priority_zero_on_stop, garp_on_takeover: off (a partition, link fault or reboot hides frames or changes a MAC)".into());
    }
    Bounds {
        conflict_max: ceil_ms(conflict_max),
        outage_max: ceil_ms(outage_max),
        failover,
        announce,
        why,
    }
}

/// `d` rounded up to whole milliseconds (as the file states it).
fn ceil_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Whether the first fault takes down the initial MASTER in a way the failover checker
/// measures, and nothing else happens for `window` after it. The MASTER must have
/// advertised before it (a hold of one advert interval after the setup converged), or
/// the checker finds no master to fail over from.
fn failover_applies(s: &Schedule, window: Duration) -> bool {
    let Some(first) = s.actions.iter().position(|a| !matches!(a, Action::Hold(_))) else {
        return false;
    };
    let Action::Fault { node, kind, .. } = s.actions[first] else {
        return false;
    };
    let takes_down = matches!(
        kind,
        FaultKind::Sigkill
            | FaultKind::SigkillParent
            | FaultKind::Stop
            | FaultKind::Restart
            | FaultKind::Freeze
            | FaultKind::LinkDown
            | FaultKind::Isolate
            | FaultKind::Crash
    );
    let settled: u64 = s.actions[..first]
        .iter()
        .map(|a| match a {
            Action::Hold(ms) => *ms,
            _ => 0,
        })
        .sum();
    if !takes_down
        || node != s.initial_master()
        || Duration::from_millis(settled) < s.advert_interval() + Duration::from_millis(100)
    {
        return false;
    }
    let quiet: u64 = s.actions[first + 1..]
        .iter()
        .take_while(|a| matches!(a, Action::Hold(_)))
        .map(|a| match a {
            Action::Hold(ms) => *ms,
            _ => 0,
        })
        .sum();
    Duration::from_millis(quiet) >= window
}

/// What explore looks for in a run: a named check failing, or the run breaking.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Target {
    /// The check of this name failed.
    Check(String),
    /// The run broke before it could be judged (a fault could not be applied, a daemon
    /// exited at once).
    Error,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Check(n) => f.write_str(n),
            Target::Error => f.write_str("error"),
        }
    }
}

/// The order in which a run's failures are picked as the one to shrink: the properties a
/// user feels first.
const PRIORITY: &[&str] = &[
    "conflict_max",
    "no_conflict_at_end",
    "single_holder_at_end",
    "client_single_mac_at_end",
    "outage_max",
    "failover",
    "priority_zero_on_stop",
    "garp_on_takeover",
    "ttl_255",
];

/// The judgement of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Every check passed.
    Pass,
    /// These checks failed (first: the one to shrink), with their messages.
    Violated(Vec<(Target, String)>),
    /// Nothing failed, but these checks could not be decided.
    Unknown(Vec<String>),
}

impl Judgement {
    /// The failure to shrink, if any.
    pub fn target(&self) -> Option<&(Target, String)> {
        match self {
            Judgement::Violated(v) => v.first(),
            _ => None,
        }
    }

    /// Whether this run failed `t`.
    pub fn fails(&self, t: &Target) -> bool {
        matches!(self, Judgement::Violated(v) if v.iter().any(|(x, _)| x == t))
    }
}

/// Judges a finished run.
pub fn judge(r: &RunResult) -> Judgement {
    if let Some(e) = &r.error {
        return Judgement::Violated(vec![(Target::Error, e.clone())]);
    }
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    for j in &r.verdict.checks {
        match (&j.result.outcome, j.class) {
            (Outcome::Fail(m), Classification::Fail) => {
                fails.push((Target::Check(j.result.name.to_string()), m.clone()))
            }
            (Outcome::Unknown(m), _) => unknown.push(m.clone()),
            _ => {}
        }
    }
    if !fails.is_empty() {
        let rank = |t: &Target| match t {
            Target::Check(n) => PRIORITY
                .iter()
                .position(|p| p == n)
                .unwrap_or(PRIORITY.len()),
            Target::Error => PRIORITY.len() + 1,
        };
        fails.sort_by_key(|(t, _)| rank(t));
        return Judgement::Violated(fails);
    }
    if !unknown.is_empty() {
        return Judgement::Unknown(unknown);
    }
    Judgement::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::schedule::Change;
    use FaultKind as F;

    fn fault(node: usize, kind: FaultKind) -> Action {
        Action::Fault {
            node,
            kind,
            change: None,
        }
    }

    fn sched(actions: Vec<Action>) -> Schedule {
        Schedule {
            version: 2,
            advert_ms: 1000,
            priorities: vec![150, 100],
            actions,
        }
    }

    #[test]
    fn vrrpd_at_one_second_allows_only_preemption_overlap() {
        let s = sched(vec![
            Action::Hold(1500),
            fault(0, F::Sigkill),
            Action::Hold(5000),
        ]);
        let b = bounds(&s, &declared("vrrpd"));
        assert_eq!(b.conflict_max, PREEMPT_OVERLAP);
        assert!(b.failover, "{b:?}");
        assert!(b.announce);
        // The negative controls are held to vrrpd's declaration.
        assert_eq!(bounds(&s, &declared("vrrpd:no-lease")), b);
    }

    /// Found by explore (vrrpd, seed 2026, schedule 120): node2 (163) started before
    /// node3 (180) and was MASTER for 30 ms when it was frozen; node3 preempted at once
    /// and node2's VIP lasted until its 2 s lease ran out.
    #[test]
    fn a_master_frozen_while_outranked_keeps_its_vip_for_the_lease() {
        let s = sched(vec![fault(1, F::Freeze), Action::Hold(3000)]);
        let b = bounds(&s, &declared("vrrpd"));
        assert!(
            b.conflict_max
                >= vrrpd::instance::lease_for(s.proto(), 100, Duration::from_secs(1))
                    + vrrpd::instance::KERNEL_EXPIRY_LATE_ROUNDED,
            "{b:?}"
        );
        assert!(!b.failover);
        // The top priority killed: no preemption, so the lease protects fully.
        let top = sched(vec![fault(0, F::Sigkill), Action::Hold(3000)]);
        assert_eq!(
            bounds(&top, &declared("vrrpd")).conflict_max,
            PREEMPT_OVERLAP
        );
    }

    #[test]
    fn failover_needs_a_master_that_advertised() {
        let s = sched(vec![fault(0, F::Sigkill), Action::Hold(5000)]);
        assert!(!bounds(&s, &declared("vrrpd")).failover);
    }

    #[test]
    fn keepalived_is_allowed_its_stale_vip_until_restart() {
        let s = sched(vec![fault(0, F::Sigkill), Action::Hold(5000)]);
        let b = bounds(&s, &declared("keepalived"));
        assert!(b.conflict_max > Duration::from_millis(5000), "{b:?}");
    }

    #[test]
    fn a_partition_allows_its_split_brain() {
        let s = sched(vec![fault(1, F::Isolate), Action::Hold(4000)]);
        let b = bounds(&s, &declared("vrrpd"));
        assert!(b.conflict_max >= Duration::from_millis(5000), "{b:?}");
        assert!(!b.announce);
        assert!(!b.failover, "node2 is not the MASTER");
    }

    #[test]
    fn no_eligible_node_extends_the_outage_bound() {
        let s = sched(vec![
            fault(0, F::Stop),
            fault(1, F::Freeze),
            Action::Hold(6000),
        ]);
        let b = bounds(&s, &declared("vrrpd"));
        let mdi = s.master_down();
        assert!(b.outage_max >= mdi + Duration::from_millis(6000), "{b:?}");
        let quiet = sched(vec![fault(1, F::Stop), Action::Hold(6000)]);
        assert!(bounds(&quiet, &declared("vrrpd")).outage_max < mdi + Duration::from_secs(2));
    }

    /// Found by explore (vrrpd, seed 2026, schedule 66): node2, alone, restarted; it
    /// comes back as BACKUP and waits Master_Down_Interval after the restart itself.
    #[test]
    fn restarting_the_only_eligible_node_allows_the_restart_time() {
        let alone = sched(vec![
            fault(0, F::Sigkill),
            fault(1, F::Restart),
            Action::Hold(6000),
        ]);
        let with_peer = sched(vec![fault(1, F::Restart), Action::Hold(6000)]);
        let a = bounds(&alone, &declared("vrrpd")).outage_max;
        let b = bounds(&with_peer, &declared("vrrpd")).outage_max;
        assert!(
            a >= b + Duration::from_millis(step_cost(F::Restart)),
            "{a:?} {b:?}"
        );
    }

    #[test]
    fn sub_second_vrrpd_states_its_lease_bound() {
        let mut s = sched(vec![fault(0, F::Sigkill)]);
        s.version = 3;
        s.advert_ms = 100;
        let b = bounds(&s, &declared("vrrpd"));
        assert_eq!(
            b.conflict_max,
            ceil_ms(
                PREEMPT_OVERLAP
                    + s.priorities
                        .iter()
                        .map(|&p| vrrpd::instance::lease_overlap_bound(
                            vrrpd::instance::ProtoVersion::V3,
                            p,
                            Duration::from_millis(100)
                        ))
                        .max()
                        .unwrap_or_default()
            )
        );
        assert!(!b.failover, "no hold after the fault: nothing to measure");
        let _ = Change::Priority(1);
    }

    #[test]
    fn windows_merge() {
        assert_eq!(longest(vec![]), None);
        assert_eq!(longest(vec![(0, 10), (5, 20), (30, 31)]), Some(20));
        assert_eq!(longest(vec![(7, 7)]), Some(0));
    }
}
