//! The one registry of check names: what a check result is called, what a scenario's
//! `known_failures` may list, and what reports print.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

/// The name of a check. Written (and serialised) in snake case, `step:N` for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckName {
    /// `no_conflict_at_end`.
    NoConflictAtEnd,
    /// `single_holder_at_end`.
    SingleHolderAtEnd,
    /// `conflict_max`.
    ConflictMax,
    /// `outage_max`.
    OutageMax,
    /// `failover`.
    Failover,
    /// `priority_zero_on_stop`.
    PriorityZeroOnStop,
    /// `garp_on_takeover`.
    GarpOnTakeover,
    /// `ttl_255`.
    Ttl255,
    /// `client_single_mac_at_end`.
    ClientSingleMacAtEnd,
    /// `expect_holders` (an expect step; the runner names its result after the step).
    ExpectHolders,
    /// `expect_client_macs` (an expect step; the runner names its result after the step).
    ExpectClientMacs,
    /// `step:N`: wait or expect step N (1-based) of the scenario.
    Step(usize),
    /// `interrupted`: the run was stopped by SIGINT/SIGTERM before it ended (unknown).
    Interrupted,
}

impl CheckName {
    /// The end-of-run checks, as `[expect]` keys and `known_failures` entries.
    pub const END_OF_RUN: [CheckName; 9] = [
        CheckName::NoConflictAtEnd,
        CheckName::SingleHolderAtEnd,
        CheckName::ConflictMax,
        CheckName::OutageMax,
        CheckName::Failover,
        CheckName::PriorityZeroOnStop,
        CheckName::GarpOnTakeover,
        CheckName::Ttl255,
        CheckName::ClientSingleMacAtEnd,
    ];

    /// The snake-case name (`step` for a step, without its number).
    fn snake(self) -> &'static str {
        match self {
            CheckName::NoConflictAtEnd => "no_conflict_at_end",
            CheckName::SingleHolderAtEnd => "single_holder_at_end",
            CheckName::ConflictMax => "conflict_max",
            CheckName::OutageMax => "outage_max",
            CheckName::Failover => "failover",
            CheckName::PriorityZeroOnStop => "priority_zero_on_stop",
            CheckName::GarpOnTakeover => "garp_on_takeover",
            CheckName::Ttl255 => "ttl_255",
            CheckName::ClientSingleMacAtEnd => "client_single_mac_at_end",
            CheckName::ExpectHolders => "expect_holders",
            CheckName::ExpectClientMacs => "expect_client_macs",
            CheckName::Step(_) => "step",
            CheckName::Interrupted => "interrupted",
        }
    }

    /// An end-of-run check's name or `step:N` (any N: whether the step exists is the
    /// scenario's to check). Expect checks are not nameable on their own.
    pub fn parse(s: &str) -> Option<CheckName> {
        if let Some(n) = s.strip_prefix("step:") {
            return n.parse().ok().map(CheckName::Step);
        }
        CheckName::END_OF_RUN.into_iter().find(|c| c.snake() == s)
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckName::Step(n) => write!(f, "step:{n}"),
            c => f.write_str(c.snake()),
        }
    }
}

/// Ordered as the names are written, so sets of names list as they always have.
impl Ord for CheckName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl PartialOrd for CheckName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for CheckName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in CheckName::END_OF_RUN {
            assert_eq!(CheckName::parse(&c.to_string()), Some(c));
        }
        assert_eq!(CheckName::parse("step:4"), Some(CheckName::Step(4)));
        assert_eq!(CheckName::Step(4).to_string(), "step:4");
        assert_eq!(CheckName::parse("step:x"), None);
        assert_eq!(CheckName::parse("expect_holders"), None);
        assert_eq!(CheckName::parse("nope"), None);
    }

    #[test]
    fn ordered_as_written() {
        assert!(CheckName::Step(10) < CheckName::Step(9));
        assert!(CheckName::ConflictMax < CheckName::Failover);
    }
}
