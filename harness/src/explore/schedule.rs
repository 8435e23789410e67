//! A fault schedule: the lab's VRRP settings and an ordered list of actions (faults and
//! holds), with a model of every node's state that says which faults are possible next
//! and which steps heal what is left broken at the end.
//!
//! The model is what keeps every generated or shrunk schedule runnable: a fault is only
//! ever placed where the runner can apply it (no `thaw` of a running daemon, no `start`
//! next to a live one, no `stop` of a frozen one, whose SIGTERM would never be handled).

use std::time::Duration;

use vrrpd::instance::ProtoVersion;

use crate::scenario::FaultKind;

/// The VIP every schedule's virtual router holds and the checkers judge.
pub const BASE_VIP: &str = "192.0.2.20/32";

/// The VIP a reload may add next to [`BASE_VIP`] (and a later one remove again).
pub const EXTRA_VIP: &str = "192.0.2.21/32";

/// A configuration change carried by a `reload` fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The node's new priority.
    Priority(u8),
    /// Whether the node's VIPs include [`EXTRA_VIP`] from now on. Only ever part of an
    /// [`Action::VipChange`]: nodes whose address lists differ drop each other's adverts
    /// (RFC 3768/5798 §7.1), a misconfiguration rather than a fault.
    ExtraVip(bool),
}

/// One action of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Observe without acting, in milliseconds.
    Hold(u64),
    /// A fault on one node (0-based index: node 0 is `node1`).
    Fault {
        /// The node.
        node: usize,
        /// The fault.
        kind: FaultKind,
        /// For a reload: what changes.
        change: Option<Change>,
    },
    /// The operator changes the virtual router's VIPs on every node, one reload after
    /// the other: with [`EXTRA_VIP`] (`true`) or without it. Possible only while every
    /// daemon runs.
    VipChange(bool),
}

/// A whole schedule: settings plus actions. The setup before the actions (start every
/// node, wait until one holds the VIP) and the heal after them are not part of it; they
/// follow from it (see [`Schedule::heal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Advertisement interval in milliseconds (v2: 1000).
    pub advert_ms: u64,
    /// Each node's initial priority; the length is the number of nodes.
    pub priorities: Vec<u8>,
    /// The actions, in order.
    pub actions: Vec<Action>,
}

/// What a daemon can be put through, so that no fault is generated that the runner
/// cannot apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// The daemon forks children (keepalived): `sigkill-child` applies.
    pub forks: bool,
    /// The daemon reloads its configuration on SIGHUP.
    pub reload: bool,
    /// A MASTER puts back a VIP the operator deleted (vrrpd's lease refresh). Without it,
    /// the heal restarts a node whose VIP was deleted.
    pub restores_deleted_vip: bool,
}

/// Where a node's daemon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// Running.
    Running,
    /// SIGSTOPped.
    Frozen,
    /// Not running (killed or stopped).
    Dead,
    /// The server is down (processes killed, link down) until a reboot.
    Crashed,
}

/// One node's state as the schedule has left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// The daemon.
    pub proc: Proc,
    /// The node's lab link is up.
    pub link_up: bool,
    /// The node is cut off the segment.
    pub isolated: bool,
    /// The daemon's child was SIGKILLed and the daemon not restarted since.
    pub child_killed: bool,
    /// The operator deleted the VIP and the daemon was not restarted since.
    pub vip_deleted: bool,
    /// The priority in force.
    pub priority: u8,
    /// Whether [`EXTRA_VIP`] is configured.
    pub extra_vip: bool,
}

impl NodeState {
    /// A node started with `priority`, before any fault.
    pub fn new(priority: u8) -> NodeState {
        NodeState {
            proc: Proc::Running,
            link_up: true,
            isolated: false,
            child_killed: false,
            vip_deleted: false,
            priority,
            extra_vip: false,
        }
    }

    /// Whether `kind` can be applied now (for a daemon with `caps`).
    pub fn allows(&self, kind: FaultKind, caps: Caps) -> bool {
        use FaultKind as F;
        let p = self.proc;
        let live = matches!(p, Proc::Running | Proc::Frozen);
        match kind {
            F::Sigkill | F::SigkillParent => live,
            F::SigkillChild => caps.forks && p == Proc::Running && !self.child_killed,
            F::Stop => p == Proc::Running,
            F::Start => p == Proc::Dead,
            F::Restart => matches!(p, Proc::Running | Proc::Dead),
            F::Freeze => p == Proc::Running,
            F::Thaw => p == Proc::Frozen,
            F::LinkDown => p != Proc::Crashed && self.link_up,
            F::LinkUp => p != Proc::Crashed && !self.link_up,
            F::Isolate => p != Proc::Crashed && !self.isolated,
            F::Rejoin => p != Proc::Crashed && self.isolated,
            F::Crash => p != Proc::Crashed,
            F::Reboot => matches!(p, Proc::Crashed | Proc::Running),
            F::Reload => caps.reload && p == Proc::Running && !self.child_killed,
            F::AddrDel => true,
            // The explorer never adds an address behind a daemon's back: that would only
            // test the operator, not the daemon.
            F::AddrAdd => false,
            // Explored nodes track no health check.
            F::BreakCheck | F::RepairCheck => false,
        }
    }

    /// Applies `kind` (assumed allowed).
    pub fn apply(&mut self, kind: FaultKind, change: Option<Change>) {
        use FaultKind as F;
        let fresh_daemon = |s: &mut NodeState| {
            s.child_killed = false;
            s.vip_deleted = false;
        };
        match kind {
            F::Sigkill | F::SigkillParent | F::Stop => {
                self.proc = Proc::Dead;
                fresh_daemon(self);
            }
            F::SigkillChild => self.child_killed = true,
            F::Start | F::Restart => {
                self.proc = Proc::Running;
                fresh_daemon(self);
            }
            F::Freeze => self.proc = Proc::Frozen,
            F::Thaw => self.proc = Proc::Running,
            F::LinkDown => self.link_up = false,
            F::LinkUp => self.link_up = true,
            F::Isolate => self.isolated = true,
            F::Rejoin => self.isolated = false,
            F::Crash => {
                self.proc = Proc::Crashed;
                self.link_up = false;
                fresh_daemon(self);
            }
            F::Reboot => {
                self.proc = Proc::Running;
                self.link_up = true;
                self.isolated = false;
                fresh_daemon(self);
            }
            F::Reload => match change {
                Some(Change::Priority(p)) => self.priority = p,
                Some(Change::ExtraVip(on)) => self.extra_vip = on,
                None => {}
            },
            F::AddrDel => self.vip_deleted = true,
            F::AddrAdd | F::BreakCheck | F::RepairCheck => {}
        }
    }

    /// The faults that bring this node back to a running daemon on a connected, working
    /// link, in order.
    pub fn heal(&self, caps: Caps) -> Vec<FaultKind> {
        use FaultKind as F;
        if self.proc == Proc::Crashed {
            return vec![F::Reboot];
        }
        let mut v = Vec::new();
        if self.proc == Proc::Frozen {
            v.push(F::Thaw);
        }
        if self.isolated {
            v.push(F::Rejoin);
        }
        if !self.link_up {
            v.push(F::LinkUp);
        }
        if self.proc == Proc::Dead {
            v.push(F::Start);
        } else if self.child_killed || (self.vip_deleted && !caps.restores_deleted_vip) {
            v.push(F::Restart);
        }
        v
    }

    /// Whether this node can hold the VIP (a running daemon whose link is up; an isolated
    /// node holds it on its own side of the partition).
    pub fn eligible(&self) -> bool {
        self.proc == Proc::Running && self.link_up && !self.child_killed
    }
}

impl Schedule {
    /// The number of nodes.
    pub fn nodes(&self) -> usize {
        self.priorities.len()
    }

    /// The protocol version.
    pub fn proto(&self) -> ProtoVersion {
        if self.version == 3 {
            ProtoVersion::V3
        } else {
            ProtoVersion::V2
        }
    }

    /// The advertisement interval.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_millis(self.advert_ms)
    }

    /// The node that is MASTER once the setup converged: the highest priority (ties go to
    /// the higher address, which is the higher node number).
    pub fn initial_master(&self) -> usize {
        let mut best = 0;
        for (i, p) in self.priorities.iter().enumerate() {
            if *p >= self.priorities[best] {
                best = i;
            }
        }
        best
    }

    /// Every node's state after each action: `states()[i]` is the state before action
    /// `i`, and the last entry the state after all of them.
    pub fn states(&self) -> Vec<Vec<NodeState>> {
        let mut cur: Vec<NodeState> = self.priorities.iter().map(|p| NodeState::new(*p)).collect();
        let mut out = vec![cur.clone()];
        for a in &self.steps() {
            if let Action::Fault { node, kind, change } = a {
                if let Some(s) = cur.get_mut(*node) {
                    s.apply(*kind, *change);
                }
            }
            out.push(cur.clone());
        }
        out
    }

    /// The actions as the file's steps: a [`Action::VipChange`] becomes one reload per
    /// node.
    pub fn steps(&self) -> Vec<Action> {
        let mut v = Vec::new();
        for a in &self.actions {
            match *a {
                Action::VipChange(on) => v.extend((0..self.nodes()).map(|node| Action::Fault {
                    node,
                    kind: FaultKind::Reload,
                    change: Some(Change::ExtraVip(on)),
                })),
                other => v.push(other),
            }
        }
        v
    }

    /// The heal steps after the last action: per node, in node order.
    pub fn heal(&self, caps: Caps) -> Vec<Action> {
        let end = self.states().pop().unwrap_or_default();
        let mut v = Vec::new();
        for (node, s) in end.iter().enumerate() {
            for kind in s.heal(caps) {
                v.push(Action::Fault {
                    node,
                    kind,
                    change: None,
                });
            }
        }
        v
    }

    /// The lowest priority ever in force (it has the longest Master_Down_Interval).
    pub fn lowest_priority(&self) -> u8 {
        let mut low = self.priorities.iter().copied().min().unwrap_or(100);
        for a in &self.actions {
            if let Action::Fault {
                change: Some(Change::Priority(p)),
                ..
            } = a
            {
                low = low.min(*p);
            }
        }
        low
    }

    /// The longest Master_Down_Interval of any node at any point of the schedule.
    pub fn master_down(&self) -> Duration {
        vrrpd::instance::master_down_interval(
            self.proto(),
            self.lowest_priority(),
            self.advert_interval(),
        )
    }

    /// The same schedule with every action that is not possible where it stands dropped,
    /// and adjacent holds merged: what any edit of a valid schedule is repaired to.
    pub fn normalized(&self, caps: Caps) -> Schedule {
        let mut cur: Vec<NodeState> = self.priorities.iter().map(|p| NodeState::new(*p)).collect();
        let mut actions: Vec<Action> = Vec::new();
        for a in &self.actions {
            match *a {
                Action::Hold(0) => {}
                Action::Hold(ms) => match actions.last_mut() {
                    Some(Action::Hold(prev)) => *prev += ms,
                    _ => actions.push(Action::Hold(ms)),
                },
                Action::Fault { node, kind, change } => {
                    let Some(s) = cur.get_mut(node) else { continue };
                    let lone_vip_change = matches!(change, Some(Change::ExtraVip(_)));
                    if !s.allows(kind, caps)
                        || (kind == FaultKind::Reload && change.is_none())
                        || lone_vip_change
                    {
                        continue;
                    }
                    s.apply(kind, change);
                    actions.push(*a);
                }
                Action::VipChange(on) => {
                    if !vip_change_allowed(&cur, on, caps) {
                        continue;
                    }
                    for s in cur.iter_mut() {
                        s.apply(FaultKind::Reload, Some(Change::ExtraVip(on)));
                    }
                    actions.push(*a);
                }
            }
        }
        Schedule {
            actions,
            ..self.clone()
        }
    }

    /// The number of fault steps.
    pub fn faults(&self) -> usize {
        self.steps()
            .iter()
            .filter(|a| matches!(a, Action::Fault { .. }))
            .count()
    }

    /// The sum of all holds.
    pub fn hold_ms(&self) -> u64 {
        self.actions
            .iter()
            .map(|a| match a {
                Action::Hold(ms) => *ms,
                _ => 0,
            })
            .sum()
    }
}

/// Whether every node can reload to `on` now, and one would change.
pub fn vip_change_allowed(nodes: &[NodeState], on: bool, caps: Caps) -> bool {
    nodes.iter().all(|s| s.allows(FaultKind::Reload, caps))
        && nodes.iter().any(|s| s.extra_vip != on)
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState::new(100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FaultKind as F;

    const VRRPD: Caps = Caps {
        forks: false,
        reload: true,
        restores_deleted_vip: true,
    };

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
    fn impossible_faults_are_dropped_and_holds_merged() {
        let s = sched(vec![
            fault(0, F::Thaw),
            Action::Hold(100),
            Action::Hold(50),
            fault(0, F::Freeze),
            fault(0, F::Stop),
            fault(0, F::Start),
            fault(1, F::SigkillChild),
            fault(0, F::Thaw),
        ])
        .normalized(VRRPD);
        assert_eq!(
            s.actions,
            vec![Action::Hold(150), fault(0, F::Freeze), fault(0, F::Thaw)]
        );
    }

    #[test]
    fn heal_undoes_what_is_left() {
        let s = sched(vec![
            fault(0, F::Freeze),
            fault(0, F::Isolate),
            fault(1, F::Crash),
        ]);
        assert_eq!(
            s.heal(VRRPD),
            vec![fault(0, F::Thaw), fault(0, F::Rejoin), fault(1, F::Reboot)]
        );
        let s = sched(vec![fault(1, F::LinkDown), fault(1, F::Sigkill)]);
        assert_eq!(s.heal(VRRPD), vec![fault(1, F::LinkUp), fault(1, F::Start)]);
        let s = sched(vec![fault(0, F::AddrDel)]);
        assert!(s.heal(VRRPD).is_empty());
        let no_restore = Caps {
            restores_deleted_vip: false,
            ..VRRPD
        };
        assert_eq!(s.heal(no_restore), vec![fault(0, F::Restart)]);
    }

    #[test]
    fn timers_follow_the_lowest_priority_ever() {
        let mut s = sched(vec![Action::Fault {
            node: 0,
            kind: F::Reload,
            change: Some(Change::Priority(10)),
        }]);
        assert_eq!(s.lowest_priority(), 10);
        assert_eq!(s.initial_master(), 0);
        s.priorities = vec![100, 100];
        assert_eq!(s.initial_master(), 1);
    }
}
