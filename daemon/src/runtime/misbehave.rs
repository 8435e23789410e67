//! Negative controls: named ways to make vrrpd misbehave on purpose, so the harness can
//! prove that its checkers catch each failure.
//!
//! They exist only in builds with the cargo feature `negative-controls` (the test
//! builds of this workspace turn it on; release builds do not). Without the feature
//! `--misbehave` is refused with exit status 2.

use std::fmt;

/// One named misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Misbehave {
    /// VIPs are added permanently (no lease), so a killed daemon leaves them behind.
    NoLease,
    /// Marked addresses left by an earlier run are not removed at start-up.
    NoStartupReconcile,
    /// On a clean stop the priority-0 advert is sent but the VIPs stay.
    NoReleaseOnStop,
    /// On a clean stop the VIPs are removed but no priority-0 advert is sent.
    NoPriorityZero,
    /// keepalived 1.2.13 as in the seed article: permanent VIPs, no start-up
    /// reconcile, no BACKUP self-check, and on stop only the VIPs added during this run
    /// are removed.
    Keepalived12,
}

impl Misbehave {
    /// Every misbehaviour.
    pub const ALL: [Misbehave; 5] = [
        Misbehave::NoLease,
        Misbehave::NoStartupReconcile,
        Misbehave::NoReleaseOnStop,
        Misbehave::NoPriorityZero,
        Misbehave::Keepalived12,
    ];

    /// The name given to `--misbehave`.
    pub fn name(self) -> &'static str {
        match self {
            Misbehave::NoLease => "no-lease",
            Misbehave::NoStartupReconcile => "no-startup-reconcile",
            Misbehave::NoReleaseOnStop => "no-release-on-stop",
            Misbehave::NoPriorityZero => "no-priority-zero",
            Misbehave::Keepalived12 => "keepalived-1.2",
        }
    }

    /// Looks a name up.
    pub fn from_name(name: &str) -> Option<Misbehave> {
        Misbehave::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Misbehave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether this build accepts `--misbehave`.
pub const AVAILABLE: bool = cfg!(feature = "negative-controls");

/// Why `--misbehave NAME` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MisbehaveError {
    /// The build has no negative controls.
    #[error(
        "--misbehave {0}: this vrrpd was built without the `negative-controls` feature \
         (test builds only)"
    )]
    NotBuilt(String),
    /// No misbehaviour has this name.
    #[error("--misbehave {name}: unknown name; known: {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
}

/// Resolves the `--misbehave` argument for a build with (`available`) or without the
/// feature.
pub fn resolve(name: Option<&str>, available: bool) -> Result<Option<Misbehave>, MisbehaveError> {
    let Some(name) = name else {
        return Ok(None);
    };
    if !available {
        return Err(MisbehaveError::NotBuilt(name.to_owned()));
    }
    Misbehave::from_name(name)
        .map(Some)
        .ok_or_else(|| MisbehaveError::Unknown {
            name: name.to_owned(),
            known: Misbehave::ALL
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The daemon's safety layers, each on unless a misbehaviour turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// VIPs get a lease (when the instance's config allows it).
    pub lease: bool,
    /// Marked addresses are removed at start-up.
    pub startup_reconcile: bool,
    /// A stopping Master removes its VIPs.
    pub release_on_stop: bool,
    /// A stopping Master sends a priority-0 advert.
    pub priority_zero: bool,
    /// A non-Master checks its interface for its VIPs every advert interval.
    pub backup_self_check: bool,
    /// VIPs are removed only by an instance that added them during this run.
    pub remove_only_added: bool,
    /// VIPs are gated with nftables (when the instance's config allows it). Every
    /// misbehaviour turns it off: a negative control shows the harness catching an
    /// address-level bug, which the gate would otherwise mask once its timeout ran out.
    pub gate: bool,
}

impl Behaviour {
    /// The correct behaviour: every layer on.
    pub const CORRECT: Behaviour = Behaviour {
        lease: true,
        startup_reconcile: true,
        release_on_stop: true,
        priority_zero: true,
        backup_self_check: true,
        remove_only_added: false,
        gate: true,
    };

    /// The behaviour under `m` (or the correct one).
    pub fn with(m: Option<Misbehave>) -> Behaviour {
        let mut b = Behaviour::CORRECT;
        b.gate = m.is_none();
        match m {
            None => {}
            Some(Misbehave::NoLease) => b.lease = false,
            Some(Misbehave::NoStartupReconcile) => b.startup_reconcile = false,
            Some(Misbehave::NoReleaseOnStop) => b.release_on_stop = false,
            Some(Misbehave::NoPriorityZero) => b.priority_zero = false,
            Some(Misbehave::Keepalived12) => {
                b.lease = false;
                b.startup_reconcile = false;
                b.backup_self_check = false;
                b.remove_only_added = true;
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Misbehave::ALL {
            assert_eq!(Misbehave::from_name(m.name()), Some(m));
        }
        assert_eq!(Misbehave::from_name("keepalived-1.3"), None);
    }

    #[test]
    fn refused_without_the_feature() {
        assert_eq!(resolve(None, false), Ok(None));
        assert_eq!(
            resolve(Some("no-lease"), false),
            Err(MisbehaveError::NotBuilt("no-lease".into()))
        );
        let e = resolve(Some("no-lease"), false).unwrap_err().to_string();
        assert!(e.contains("negative-controls"), "{e}");
    }

    #[test]
    fn accepted_with_the_feature() {
        assert_eq!(
            resolve(Some("keepalived-1.2"), true),
            Ok(Some(Misbehave::Keepalived12))
        );
        let e = resolve(Some("bogus"), true).unwrap_err();
        assert!(e.to_string().contains("no-priority-zero"), "{e}");
    }

    #[test]
    fn each_misbehaviour_turns_off_its_layers_only() {
        assert_eq!(Behaviour::with(None), Behaviour::CORRECT);
        assert!(Behaviour::with(None).gate);
        let b = Behaviour::with(Some(Misbehave::NoPriorityZero));
        assert!(!b.priority_zero && b.release_on_stop && b.lease && !b.gate);
        let b = Behaviour::with(Some(Misbehave::NoReleaseOnStop));
        assert!(b.priority_zero && !b.release_on_stop);
        let k = Behaviour::with(Some(Misbehave::Keepalived12));
        assert!(!k.lease && !k.startup_reconcile && !k.backup_self_check);
        assert!(k.remove_only_added && k.priority_zero && k.release_on_stop);
    }
}
