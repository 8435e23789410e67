//! The generator: from a seed and a schedule number, a random but valid schedule over the
//! whole fault vocabulary. The same seed, number and options always give the same
//! schedule.

use super::rng::Rng;
use super::schedule::{vip_change_allowed, Action, Caps, Change, NodeState, Schedule};
use crate::scenario::FaultKind;

/// Which advertisement intervals to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adverts {
    /// 1 s (VRRPv2 or v3) or sub-second (v3).
    Any,
    /// 1 s only, VRRPv2 or v3.
    #[value(name = "1s")]
    OneSecond,
    /// Sub-second only (VRRPv3).
    SubSecond,
}

/// Sub-second intervals a VRRPv3 schedule may use, in milliseconds.
pub const SUB_SECOND_MS: [u64; 4] = [100, 200, 300, 500];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// Fewest nodes (at least 2).
    pub min_nodes: usize,
    /// Most nodes.
    pub max_nodes: usize,
    /// Most fault actions per schedule (at least 1).
    pub max_faults: usize,
    /// Advertisement intervals.
    pub adverts: Adverts,
    /// What the daemon under test can be put through.
    pub caps: Caps,
    /// The faults to draw from (empty: the whole vocabulary). The heal at the end uses
    /// whatever undoes them.
    pub faults: Vec<FaultKind>,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            min_nodes: 2,
            max_nodes: 4,
            max_faults: 6,
            adverts: Adverts::Any,
            caps: Caps {
                forks: false,
                reload: true,
                restores_deleted_vip: true,
            },
            faults: Vec::new(),
        }
    }
}

/// Every fault the generator may draw (all of the vocabulary but `addr-add`, which only
/// an operator does).
pub const FAULTS: [FaultKind; 16] = [
    FaultKind::Sigkill,
    FaultKind::SigkillParent,
    FaultKind::SigkillChild,
    FaultKind::Stop,
    FaultKind::Start,
    FaultKind::Restart,
    FaultKind::Freeze,
    FaultKind::Thaw,
    FaultKind::LinkDown,
    FaultKind::LinkUp,
    FaultKind::Isolate,
    FaultKind::Rejoin,
    FaultKind::Crash,
    FaultKind::Reboot,
    FaultKind::Reload,
    FaultKind::AddrDel,
];

/// Schedule `index` of `seed`.
pub fn generate(seed: u64, index: u64, opts: &GenOptions) -> Schedule {
    let mut rng = Rng::for_schedule(seed, index);
    let lo = opts.min_nodes.max(2);
    let hi = opts.max_nodes.max(lo);
    let nodes = rng.range(lo as u64, hi as u64) as usize;
    let sub = |rng: &mut Rng| *rng.pick(&SUB_SECOND_MS).unwrap_or(&100);
    let (version, advert_ms) = match opts.adverts {
        Adverts::SubSecond => (3, sub(&mut rng)),
        Adverts::OneSecond => (if rng.chance(50) { 3 } else { 2 }, 1000),
        Adverts::Any => {
            if rng.chance(50) {
                (2, 1000)
            } else if rng.chance(50) {
                (3, 1000)
            } else {
                (3, sub(&mut rng))
            }
        }
    };
    let mut priorities: Vec<u8> = Vec::with_capacity(nodes);
    while priorities.len() < nodes {
        let p = rng.range(50, 250) as u8;
        if !priorities.contains(&p) {
            priorities.push(p);
        }
    }
    let mut s = Schedule {
        version,
        advert_ms,
        priorities,
        actions: Vec::new(),
    };
    let mdi = u64::try_from(s.master_down().as_millis()).unwrap_or(u64::MAX);
    let mut state: Vec<NodeState> = s.priorities.iter().map(|p| NodeState::new(*p)).collect();
    let faults = rng.range(1, opts.max_faults.max(1) as u64);
    for _ in 0..faults {
        if rng.chance(25) {
            s.actions.push(Action::Hold(hold(&mut rng, mdi)));
        }
        let drawn = |k: &FaultKind| opts.faults.is_empty() || opts.faults.contains(k);
        if rng.chance(8) && drawn(&FaultKind::Reload) {
            let on = !state[0].extra_vip;
            if vip_change_allowed(&state, on, opts.caps) {
                for n in state.iter_mut() {
                    n.apply(FaultKind::Reload, Some(Change::ExtraVip(on)));
                }
                s.actions.push(Action::VipChange(on));
                continue;
            }
        }
        let node = rng.range(0, nodes as u64 - 1) as usize;
        let n = &mut state[node];
        let allowed: Vec<FaultKind> = FAULTS
            .iter()
            .copied()
            .filter(|k| drawn(k) && n.allows(*k, opts.caps))
            .collect();
        let Some(kind) = rng.pick(&allowed).copied() else {
            continue;
        };
        let change =
            (kind == FaultKind::Reload).then(|| Change::Priority(rng.range(50, 250) as u8));
        n.apply(kind, change);
        s.actions.push(Action::Fault { node, kind, change });
        if rng.chance(70) {
            s.actions.push(Action::Hold(hold(&mut rng, mdi)));
        }
    }
    s.normalized(opts.caps)
}

/// A hold: a few milliseconds, about one Master_Down_Interval, or several.
fn hold(rng: &mut Rng, mdi: u64) -> u64 {
    match rng.range(0, 9) {
        0..=2 => rng.range(5, 200),
        3..=6 => rng.range(mdi / 2, mdi * 3 / 2),
        _ => rng.range(mdi * 3 / 2, mdi * 5 / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule() {
        let o = GenOptions::default();
        for i in 0..50 {
            assert_eq!(generate(42, i, &o), generate(42, i, &o));
        }
        let differ = (0..50).filter(|i| generate(42, *i, &o) != generate(43, *i, &o));
        assert!(differ.count() > 40);
    }

    #[test]
    fn options_are_honoured() {
        let o = GenOptions {
            min_nodes: 3,
            max_nodes: 3,
            max_faults: 2,
            adverts: Adverts::SubSecond,
            ..GenOptions::default()
        };
        for i in 0..100 {
            let s = generate(1, i, &o);
            assert_eq!(s.nodes(), 3);
            assert_eq!(s.version, 3);
            assert!(s.advert_ms < 1000);
            let faults = s
                .actions
                .iter()
                .filter(|a| !matches!(a, Action::Hold(_)))
                .count();
            assert!((1..=2).contains(&faults), "{s:?}");
        }
    }

    #[test]
    fn only_the_chosen_faults_are_drawn() {
        let chosen = vec![FaultKind::Sigkill, FaultKind::Start, FaultKind::Freeze];
        let o = GenOptions {
            faults: chosen.clone(),
            ..GenOptions::default()
        };
        for i in 0..200 {
            for a in generate(3, i, &o).actions {
                match a {
                    Action::Fault { kind, .. } => assert!(chosen.contains(&kind), "{kind}"),
                    Action::VipChange(_) => panic!("reload not chosen"),
                    Action::Hold(_) => {}
                }
            }
        }
    }

    #[test]
    fn the_whole_vocabulary_is_drawn() {
        let o = GenOptions {
            caps: Caps {
                forks: true,
                reload: true,
                restores_deleted_vip: false,
            },
            ..GenOptions::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..400 {
            for a in generate(9, i, &o).actions {
                if let Action::Fault { kind, .. } = a {
                    seen.insert(kind.name());
                }
            }
        }
        let want: std::collections::BTreeSet<&str> = FAULTS.iter().map(|k| k.name()).collect();
        assert_eq!(seen, want);
    }
}
