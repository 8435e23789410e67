//! The headline numbers of a run: how long two nodes held a VIP at once (conflict) and
//! how long nobody held it (outage), measured on the checkers' holder timelines.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::check::{holders, t_str, Timeline, Window};
use crate::history::Event;

/// One measured duration of a run, as honest as the observation allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// No such window at all: 0 ms.
    None,
    /// The longest window, which closed before the run ended, in milliseconds.
    Ms(f64),
    /// A window still open when the run ended: its true length is unknown, only a lower
    /// bound. Never shown as a plain number.
    Open {
        /// When the window opened, in ms since the run began.
        since_ms: f64,
        /// How long it had lasted when the run ended.
        at_least_ms: f64,
    },
    /// The figure could not be measured; the text says why.
    Unknown(String),
}

impl fmt::Display for Figure {
    /// `0`, `1688`, `open ≥ 5000` or `?`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::None => f.write_str("0"),
            Figure::Ms(ms) => f.write_str(&fmt_ms(*ms)),
            Figure::Open { at_least_ms, .. } => write!(f, "open ≥ {}", fmt_ms(*at_least_ms)),
            Figure::Unknown(_) => f.write_str("?"),
        }
    }
}

/// Milliseconds without trailing zeros, to the microsecond: `1688`, `609.375`; `?` for
/// a value that is not a finite number.
pub(crate) fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".to_string();
    }
    let s = format!("{ms:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Nanoseconds as milliseconds.
pub(crate) fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The longest conflict and the longest outage over every VIP in `vips`, counting only
/// windows still going on after `after_ns` (the first fault; `None` = the whole run).
/// A window that began before `after_ns` and lasted past it counts with its whole
/// length. An open window wins over any closed one: the figure is then
/// [`Figure::Open`] from the earliest open window to `end_ns`.
///
/// Both figures are [`Figure::Unknown`] when there is no VIP, when the address monitor
/// saw nothing at all, or when address events were lost after `after_ns` (any window
/// could then be longer, shorter or missing).
pub fn figures(
    events: &[Event],
    vips: &[IpAddr],
    after_ns: Option<u64>,
    end_ns: u64,
) -> (Figure, Figure) {
    let after = after_ns.unwrap_or(0);
    let timelines: Vec<Timeline> = vips.iter().map(|v| holders(events, *v)).collect();
    if let Some(why) = unmeasurable(&timelines, after, end_ns) {
        return (Figure::Unknown(why.clone()), Figure::Unknown(why));
    }
    let conflicts: Vec<Window> = timelines
        .iter()
        .flat_map(Timeline::conflict_windows)
        .collect();
    let outages: Vec<Window> = timelines
        .iter()
        .flat_map(Timeline::outage_windows)
        .collect();
    (
        longest(&conflicts, after, end_ns),
        longest(&outages, after, end_ns),
    )
}

/// Why nothing can be measured over `[after, end_ns]`, if it cannot.
fn unmeasurable(timelines: &[Timeline], after: u64, end_ns: u64) -> Option<String> {
    let Some(first) = timelines.first() else {
        return Some("no VIP to measure".to_string());
    };
    if !first.observed {
        return Some("no address event in the history".to_string());
    }
    // Holes are per node, not per VIP: every timeline carries the same ones.
    let holes = first.holes_in(after, end_ns.max(after));
    if holes.is_empty() {
        return None;
    }
    let list: Vec<String> = holes
        .iter()
        .map(|h| format!("{} {}..{}", h.node, t_str(h.from_ns), t_str(h.to_ns)))
        .collect();
    Some(format!("address events were lost: {}", list.join(", ")))
}

/// The longest of `windows` going on after `after`, see [`figures`].
fn longest(windows: &[Window], after: u64, end_ns: u64) -> Figure {
    let relevant = windows
        .iter()
        .filter(|w| w.to_ns.is_none_or(|to| to > after));
    let mut open_since: Option<u64> = None;
    let mut closed_max: Option<u64> = None;
    for w in relevant {
        match w.to_ns {
            None => open_since = Some(open_since.map_or(w.from_ns, |s| s.min(w.from_ns))),
            Some(to) => {
                let len = to.saturating_sub(w.from_ns);
                closed_max = Some(closed_max.map_or(len, |m| m.max(len)));
            }
        }
    }
    match (open_since, closed_max) {
        (Some(since), _) => Figure::Open {
            since_ms: ns_to_ms(since),
            at_least_ms: ns_to_ms(end_ns.saturating_sub(since)),
        },
        (None, Some(len)) => Figure::Ms(ns_to_ms(len)),
        (None, None) => Figure::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::history::AddrChange;

    #[test]
    fn display() {
        assert_eq!(Figure::None.to_string(), "0");
        assert_eq!(Figure::Ms(1688.0).to_string(), "1688");
        assert_eq!(Figure::Ms(609.375).to_string(), "609.375");
        assert_eq!(Figure::Ms(1.5).to_string(), "1.5");
        assert_eq!(
            Figure::Open {
                since_ms: 7000.0,
                at_least_ms: 5000.0
            }
            .to_string(),
            "open ≥ 5000"
        );
        assert_eq!(Figure::Unknown("x".into()).to_string(), "?");
        assert_eq!(fmt_ms(f64::NAN), "?");
        assert_eq!(fmt_ms(0.0), "0");
        assert_eq!(fmt_ms(-0.0001), "0");
    }

    #[test]
    fn serde_round_trip() {
        for f in [
            Figure::None,
            Figure::Ms(12.5),
            Figure::Open {
                since_ms: 1.0,
                at_least_ms: 2.0,
            },
            Figure::Unknown("why".into()),
        ] {
            let s = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<Figure>(&s).unwrap(), f, "{s}");
        }
    }

    #[test]
    fn closed_conflict_and_outage_after_fault() {
        let ev = sorted(vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            // A start-up conflict that ends before the fault does not count.
            addr(ms(500), "node2", AddrChange::Added, vip4()),
            addr(ms(800), "node2", AddrChange::Removed, vip4()),
            fault(ms(5000), "node1", "stop"),
            addr(ms(5100), "node1", AddrChange::Removed, vip4()),
            addr(ms(5720), "node2", AddrChange::Added, vip4()),
            addr(ms(7000), "node1", AddrChange::Added, vip4()),
            addr(ms(8688), "node2", AddrChange::Removed, vip4()),
            note(ms(10_000)),
        ]);
        let (c, o) = figures(&ev, &[vip4()], Some(ms(5000)), ms(10_000));
        assert_eq!(c, Figure::Ms(1688.0));
        assert_eq!(o, Figure::Ms(620.0));
        // Over the whole run the start-up conflict is there too, but shorter.
        let (c, _) = figures(&ev, &[vip4()], None, ms(10_000));
        assert_eq!(c, Figure::Ms(1688.0));
    }

    #[test]
    fn open_conflict_is_never_a_number() {
        let ev = sorted(vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            fault(ms(5200), "node1", "sigkill"),
            addr(ms(7000), "node2", AddrChange::Added, vip4()),
            note(ms(12_000)),
        ]);
        let (c, o) = figures(&ev, &[vip4()], Some(ms(5200)), ms(12_000));
        assert_eq!(
            c,
            Figure::Open {
                since_ms: 7000.0,
                at_least_ms: 5000.0
            }
        );
        assert_eq!(c.to_string(), "open ≥ 5000");
        assert_eq!(o, Figure::None);
    }

    #[test]
    fn open_wins_over_longer_closed_window_across_vips() {
        let v6 = ip("2001:db8::20");
        let ev = sorted(vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            addr(ms(100), "node1", AddrChange::Initial, v6),
            addr(ms(1000), "node2", AddrChange::Added, vip4()),
            addr(ms(9000), "node1", AddrChange::Removed, vip4()),
            addr(ms(9500), "node2", AddrChange::Added, v6),
        ]);
        let (c, _) = figures(&ev, &[vip4(), v6], None, ms(10_000));
        assert_eq!(
            c,
            Figure::Open {
                since_ms: 9500.0,
                at_least_ms: 500.0
            }
        );
    }

    #[test]
    fn window_spanning_the_fault_counts_whole() {
        let ev = sorted(vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            addr(ms(1000), "node2", AddrChange::Added, vip4()),
            fault(ms(2000), "node1", "stop"),
            addr(ms(3000), "node1", AddrChange::Removed, vip4()),
        ]);
        let (c, _) = figures(&ev, &[vip4()], Some(ms(2000)), ms(4000));
        assert_eq!(c, Figure::Ms(2000.0));
    }

    #[test]
    fn unknown_without_observation_or_with_holes() {
        let (c, o) = figures(&[note(ms(1))], &[vip4()], None, ms(10));
        assert!(matches!(c, Figure::Unknown(_)), "{c:?}");
        assert!(matches!(o, Figure::Unknown(_)), "{o:?}");
        let (c, _) = figures(&[], &[], None, 0);
        assert_eq!(c, Figure::Unknown("no VIP to measure".into()));

        let ev = sorted(vec![
            addr(ms(100), "node1", AddrChange::Initial, vip4()),
            fault(ms(2000), "node1", "freeze"),
            gap(ms(4000), "node2", ms(3000)),
        ]);
        let (c, o) = figures(&ev, &[vip4()], Some(ms(2000)), ms(5000));
        let Figure::Unknown(why) = c else {
            panic!("{c:?}")
        };
        assert!(why.contains("node2"), "{why}");
        assert!(matches!(o, Figure::Unknown(_)));
        // A hole before the fault does not matter.
        let (c, _) = figures(&ev, &[vip4()], Some(ms(4500)), ms(5000));
        assert_eq!(c, Figure::None);
    }
}
