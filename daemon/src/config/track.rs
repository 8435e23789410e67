//! Health tracking and sync groups: what can lower, raise or fault an instance's priority,
//! and which instances change state together (keepalived's `vrrp_script`,
//! `vrrp_track_process`, `vrrp_track_file`, `track_interface ... weight`,
//! `vrrp_sync_group`).

use serde::Serialize;
use std::time::Duration;

/// Something the daemon checks periodically or watches, shared by every instance that
/// tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The name instances refer to it by (`vrrp_script NAME`, or the interface name).
    pub name: String,
    /// What is checked.
    pub kind: CheckKind,
    /// Weight used when an instance tracks it without giving one.
    pub weight: i32,
    /// keepalived's `reverse`: the weight counts when the check fails (positive
    /// weights) or succeeds (negative ones) instead.
    pub reverse: bool,
}

/// The kinds of check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Run a program; exit status 0 is success.
    Script(ScriptCheck),
    /// Count processes with this name in the daemon's PID namespace.
    Process(ProcessCheck),
    /// Read an integer from a file; the instance adds `value × weight`.
    File {
        /// The file (a missing or unreadable file reads as 0... see `init_file`).
        path: String,
    },
    /// An interface's link state; up is success.
    Interface,
}

/// A `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptCheck {
    /// Program and arguments, executed directly (no shell).
    pub argv: Vec<String>,
    /// Time between runs.
    #[serde(serialize_with = "super::ser_duration")]
    pub interval: Duration,
    /// A run that lasts longer is killed and counts as a failure.
    #[serde(serialize_with = "super::ser_duration")]
    pub timeout: Duration,
    /// Consecutive successes to go from failed to OK.
    pub rise: u32,
    /// Consecutive failures to go from OK to failed.
    pub fall: u32,
    /// `user USER [GROUP]`: run with this user's (and group's) ids.
    pub user: Option<(String, Option<String>)>,
    /// `init_fail`: start in the failed state until the first success.
    pub init_fail: bool,
}

/// A `vrrp_track_process`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessCheck {
    /// The process name (`/proc/PID/comm`, or the first word of `cmdline` when
    /// `full_command` is set).
    pub process: String,
    /// With `param_match`: the rest of the command line must be exactly this.
    pub params: Option<Vec<String>>,
    /// Whether to match the full command path (`full_command`).
    pub full_command: bool,
    /// At least this many processes for success.
    pub quorum: u32,
    /// At most this many processes for success.
    pub quorum_max: u32,
    /// How long a change in the count must last before it counts (`delay`).
    #[serde(serialize_with = "super::ser_duration")]
    pub delay: Duration,
}

/// One instance's use of a [`Check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracker {
    /// Index into [`super::Config::checks`].
    pub check: usize,
    /// Weight: 0 = FAULT on failure; > 0 added while OK; < 0 added while failed.
    /// For a file check: `value × weight` is added (and 0 with a non-zero value is FAULT).
    pub weight: i32,
    /// keepalived's per-track `reverse`.
    pub reverse: bool,
}

/// What a check reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success (up, exit 0, process count in quorum).
    Ok,
    /// Failure.
    Failed,
    /// A file check's value.
    Value(i64),
}

/// The priority change and fault one tracker contributes for a status.
///
/// Follows keepalived (`vrrp_track.c`): weight 0 means FAULT on failure; a positive
/// weight is added while OK, a negative one while failed; `reverse` swaps OK and failed.
/// For a file value `v`: weight 0 and `v != 0` is FAULT, else `v × weight` is added
/// (reversed: subtracted), and a result at or below -254 is FAULT.
pub fn contribution(weight: i32, reverse: bool, status: Status) -> (i64, bool) {
    let w = i64::from(weight);
    match status {
        Status::Value(v) => {
            if weight == 0 {
                return (0, v != 0);
            }
            let d = if reverse { -v * w } else { v * w };
            if d <= -254 {
                (0, true)
            } else {
                (d, false)
            }
        }
        Status::Ok | Status::Failed => {
            let ok = (status == Status::Ok) != reverse;
            match (weight, ok) {
                (0, ok) => (0, !ok),
                (w_, true) if w_ > 0 => (w, false),
                (w_, false) if w_ < 0 => (w, false),
                _ => (0, false),
            }
        }
    }
}

/// The priority an instance advertises: its configured priority plus the trackers'
/// changes, kept in 1..=254 (keepalived never tracks an owner at 255 up or down).
pub fn effective_priority(base: u8, delta: i64) -> u8 {
    if base == 255 {
        return 255;
    }
    let p = i64::from(base) + delta;
    u8::try_from(p.clamp(1, 254)).unwrap_or(1)
}

/// A `vrrp_sync_group`: its instances go to MASTER, BACKUP and FAULT together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncGroup {
    /// The group's name.
    pub name: String,
    /// Names of the member instances.
    pub members: Vec<String>,
    /// Group notify commands (keepalived runs them with no extra arguments, except the
    /// generic `notify`, which gets `GROUP <name> <STATE> <priority>`; priority is 0).
    pub notify: super::Notify,
    /// The generic `notify` command, if any.
    pub notify_generic: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_weight_rules() {
        assert_eq!(contribution(0, false, Status::Failed), (0, true));
        assert_eq!(contribution(0, false, Status::Ok), (0, false));
        assert_eq!(contribution(0, true, Status::Ok), (0, true));
        assert_eq!(contribution(10, false, Status::Ok), (10, false));
        assert_eq!(contribution(10, false, Status::Failed), (0, false));
        assert_eq!(contribution(-10, false, Status::Failed), (-10, false));
        assert_eq!(contribution(-10, false, Status::Ok), (0, false));
        assert_eq!(contribution(10, true, Status::Failed), (10, false));
        assert_eq!(contribution(1, false, Status::Value(-5)), (-5, false));
        assert_eq!(contribution(2, true, Status::Value(5)), (-10, false));
        assert_eq!(contribution(0, false, Status::Value(3)), (0, true));
        assert_eq!(contribution(0, false, Status::Value(0)), (0, false));
        assert_eq!(contribution(1, false, Status::Value(-254)), (0, true));
    }

    #[test]
    fn priority_stays_in_range() {
        assert_eq!(effective_priority(100, -20), 80);
        assert_eq!(effective_priority(100, -200), 1);
        assert_eq!(effective_priority(250, 10), 254);
        assert_eq!(effective_priority(255, -50), 255);
    }
}
