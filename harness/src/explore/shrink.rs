//! Shrinking: from a failing schedule to a smaller one that still fails the same way.
//!
//! Candidates are tried from the largest reduction to the smallest: drop a node, drop
//! runs of actions (halves, quarters, ... single steps), merge a fault with the step that
//! undoes it, shorten holds. Every candidate is repaired to a valid schedule
//! ([`Schedule::normalized`]) and must be strictly smaller (fewer steps, then fewer
//! nodes, then less hold time). The first candidate that still fails becomes the new
//! schedule and the search starts over; it stops when no candidate fails (a local
//! minimum: no single edit gives a smaller failing schedule) or the budget runs out.
//!
//! Whether a candidate fails is the caller's predicate: for explore, the same invariant
//! failing in each of k fresh labs (a flaky reproduction counts as not failing).

use std::collections::HashSet;
use std::future::Future;

use super::schedule::{Action, Caps, Schedule};
use crate::scenario::FaultKind;

/// The shortest hold a shrink produces, in milliseconds.
pub const MIN_HOLD_MS: u64 = 10;

/// How a shrink went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShrinkStats {
    /// Candidates tried.
    pub tried: usize,
    /// Candidates that still failed and were taken.
    pub taken: usize,
    /// The budget ran out before a local minimum was reached.
    pub budget_exhausted: bool,
}

/// Size order: fewer steps, then fewer nodes, then less hold time.
fn size(s: &Schedule, caps: Caps) -> (usize, usize, u64) {
    (s.steps().len() + s.heal(caps).len(), s.nodes(), s.hold_ms())
}

/// `s` without node `drop` (its actions go; later nodes are renumbered).
fn without_node(s: &Schedule, drop: usize) -> Schedule {
    let mut priorities = s.priorities.clone();
    priorities.remove(drop);
    let actions = s
        .actions
        .iter()
        .filter_map(|a| match *a {
            Action::Fault { node, .. } if node == drop => None,
            Action::Fault { node, kind, change } if node > drop => Some(Action::Fault {
                node: node - 1,
                kind,
                change,
            }),
            other => Some(other),
        })
        .collect();
    Schedule {
        priorities,
        actions,
        ..s.clone()
    }
}

/// Every candidate one edit away from `s`, largest reduction first (not yet filtered).
pub fn candidates(s: &Schedule, caps: Caps) -> Vec<Schedule> {
    let mut out = Vec::new();
    if s.nodes() > 2 {
        for i in (0..s.nodes()).rev() {
            out.push(without_node(s, i));
        }
    }
    let n = s.actions.len();
    let mut chunk = n;
    while chunk >= 1 {
        let mut start = 0;
        while start < n {
            let mut c = s.clone();
            c.actions.drain(start..(start + chunk).min(n));
            out.push(c);
            start += chunk;
        }
        chunk /= 2;
    }
    // Merge a fault with the step that undoes it into one fault.
    for (i, a) in s.actions.iter().enumerate() {
        let Action::Fault { node, kind, .. } = *a else {
            continue;
        };
        let (undo, merged) = match kind {
            FaultKind::Stop | FaultKind::Sigkill | FaultKind::SigkillParent => {
                (FaultKind::Start, FaultKind::Restart)
            }
            FaultKind::Crash => (FaultKind::Reboot, FaultKind::Reboot),
            _ => continue,
        };
        let j = s.actions[i + 1..]
            .iter()
            .position(|b| matches!(*b, Action::Fault { node: m, .. } if m == node));
        if let Some(j) = j.map(|j| j + i + 1) {
            if matches!(s.actions[j], Action::Fault { kind: k, .. } if k == undo) {
                let mut c = s.clone();
                c.actions[i] = Action::Fault {
                    node,
                    kind: merged,
                    change: None,
                };
                c.actions.remove(j);
                out.push(c);
            }
        }
    }
    for (i, a) in s.actions.iter().enumerate() {
        if let Action::Hold(ms) = *a {
            for shorter in [MIN_HOLD_MS, ms / 2] {
                if shorter >= MIN_HOLD_MS && shorter < ms {
                    let mut c = s.clone();
                    c.actions[i] = Action::Hold(shorter);
                    out.push(c);
                }
            }
        }
    }
    out.into_iter().map(|c| c.normalized(caps)).collect()
}

/// Shrinks `start` (which fails) as long as `fails` says a smaller candidate fails too,
/// trying up to `jobs` candidates at once and at most `budget` in all.
pub async fn shrink<F, Fut>(
    start: Schedule,
    caps: Caps,
    jobs: usize,
    budget: usize,
    mut fails: F,
) -> (Schedule, ShrinkStats)
where
    F: FnMut(Schedule) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut stats = ShrinkStats::default();
    let mut cur = start.normalized(caps);
    let mut seen: HashSet<String> = HashSet::new();
    seen.insert(format!("{cur:?}"));
    'outer: loop {
        let here = size(&cur, caps);
        let cands: Vec<Schedule> = candidates(&cur, caps)
            .into_iter()
            .filter(|c| size(c, caps) < here && seen.insert(format!("{c:?}")))
            .collect();
        for batch in cands.chunks(jobs.max(1)) {
            if stats.tried >= budget {
                stats.budget_exhausted = true;
                break 'outer;
            }
            let results = futures::future::join_all(batch.iter().cloned().map(&mut fails)).await;
            stats.tried += batch.len();
            if let Some(i) = results.iter().position(|f| *f) {
                cur = batch[i].clone();
                stats.taken += 1;
                continue 'outer;
            }
        }
        break;
    }
    (cur, stats)
}

/// Whether `run` fails `k` times in a row (stops at the first pass: a flaky
/// reproduction counts as not failing).
pub async fn fails_every_time<F, Fut>(k: usize, mut run: F) -> bool
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    for i in 0..k.max(1) {
        if !run(i).await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::generate::{generate, GenOptions};
    use std::cell::Cell;

    const CAPS: Caps = Caps {
        forks: false,
        reload: true,
        restores_deleted_vip: true,
    };

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// The synthetic failure: some node is SIGKILLed and then left dead for at least a
    /// second of holds (a stale VIP of a daemon without a lease).
    fn killed_and_left(s: &Schedule) -> bool {
        s.actions.iter().enumerate().any(|(i, a)| {
            let Action::Fault {
                node,
                kind: FaultKind::Sigkill,
                ..
            } = *a
            else {
                return false;
            };
            let mut held = 0;
            for b in &s.actions[i + 1..] {
                match *b {
                    Action::Hold(ms) => held += ms,
                    Action::Fault { node: m, .. } if m == node => break,
                    _ => {}
                }
            }
            held >= 1000
        })
    }

    fn fault(node: usize, kind: FaultKind) -> Action {
        Action::Fault {
            node,
            kind,
            change: None,
        }
    }

    #[test]
    fn shrinks_to_the_two_steps_that_matter() {
        let big = Schedule {
            version: 2,
            advert_ms: 1000,
            priorities: vec![120, 200, 90, 150],
            actions: vec![
                fault(0, FaultKind::Freeze),
                Action::Hold(300),
                fault(2, FaultKind::Isolate),
                fault(1, FaultKind::Sigkill),
                Action::Hold(2500),
                fault(3, FaultKind::LinkDown),
                Action::Hold(4000),
                fault(0, FaultKind::Thaw),
                fault(1, FaultKind::Start),
                fault(2, FaultKind::Rejoin),
            ],
        };
        assert!(killed_and_left(&big));
        let calls = Cell::new(0);
        let (small, stats) = block_on(shrink(big, CAPS, 3, 1000, |c| {
            calls.set(calls.get() + 1);
            let f = killed_and_left(&c);
            async move { f }
        }));
        assert!(!stats.budget_exhausted);
        assert_eq!(stats.tried, calls.get());
        assert_eq!(small.nodes(), 2);
        // SIGKILL, hold, and the start that heals it: written out or added by the heal,
        // the file has the same steps either way.
        assert_eq!(small.actions.len() + small.heal(CAPS).len(), 3, "{small:?}");
        assert!(matches!(
            small.actions[0],
            Action::Fault {
                kind: FaultKind::Sigkill,
                ..
            }
        ));
        let Action::Hold(ms) = small.actions[1] else {
            panic!("{small:?}")
        };
        assert!((1000..2000).contains(&ms), "{ms}");
        // Local minimum: no candidate of the result fails.
        assert!(candidates(&small, CAPS)
            .iter()
            .filter(|c| size(c, CAPS) < size(&small, CAPS))
            .all(|c| !killed_and_left(c)));
    }

    #[test]
    fn generated_failures_shrink_to_a_local_minimum() {
        let o = GenOptions::default();
        let mut shrunk = 0;
        for i in 0..200 {
            let s = generate(5, i, &o);
            if !killed_and_left(&s) {
                continue;
            }
            let (small, _) = block_on(shrink(s, CAPS, 4, 10_000, |c| {
                let f = killed_and_left(&c);
                async move { f }
            }));
            assert!(killed_and_left(&small));
            assert!(small.actions.len() <= 3, "{small:?}");
            shrunk += 1;
        }
        assert!(
            shrunk >= 5,
            "only {shrunk} generated schedules had the failure"
        );
    }

    #[test]
    fn budget_stops_the_search() {
        let s = generate(5, 1, &GenOptions::default());
        let (_, stats) = block_on(shrink(s, CAPS, 2, 3, |_| async { false }));
        assert!(stats.tried <= 4);
    }

    #[test]
    fn flaky_is_not_failing() {
        let n = Cell::new(0);
        let flaky = block_on(fails_every_time(3, |_| {
            n.set(n.get() + 1);
            let v = n.get() % 2 == 1;
            async move { v }
        }));
        assert!(!flaky);
        assert_eq!(n.get(), 2);
        assert!(block_on(fails_every_time(3, |_| async { true })));
    }
}
