//! Notify commands: run on state changes and conflicts, keepalived style, without a
//! shell and without blocking the event loop.
//!
//! * `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`: the configured
//!   argv, no extra arguments.
//! * the generic form ([`generic_args`]): `INSTANCE <name> <STATE> <priority>` appended.
//! * `notify_conflict`: `INSTANCE <name> CONFLICT <mac>` appended.
//!
//! A command runs only if its program is a regular file owned by root and not writable
//! by group or others ([`crate::config::notify_allowed`]); otherwise it is refused and
//! logged. Children are reaped on SIGCHLD ([`Notifier::reap`]).

use std::process::{Child, Command, Stdio};

use crate::config::Notify;
use crate::instance::State;

/// The specific command for entering `to`, if configured.
pub fn command_for(notify: &Notify, to: State) -> Option<&Vec<String>> {
    match to {
        State::Master => notify.master.as_ref(),
        State::Backup => notify.backup.as_ref(),
        State::Fault => notify.fault.as_ref(),
        State::Stopped => notify.stop.as_ref(),
        State::Initialize => None,
    }
}

/// keepalived's arguments for a generic `notify` script.
pub fn generic_args(name: &str, state: State, priority: u8) -> [String; 4] {
    [
        "INSTANCE".to_owned(),
        name.to_owned(),
        state.as_str().to_owned(),
        priority.to_string(),
    ]
}

/// keepalived's arguments for a sync group's generic `notify` script (the priority of
/// a group is always 0).
pub fn group_args(group: &str, state: State) -> [String; 4] {
    [
        "GROUP".to_owned(),
        group.to_owned(),
        state.as_str().to_owned(),
        "0".to_owned(),
    ]
}

/// The arguments appended to `notify_conflict`.
pub fn conflict_args(name: &str, mac: &str) -> [String; 4] {
    [
        "INSTANCE".to_owned(),
        name.to_owned(),
        "CONFLICT".to_owned(),
        mac.to_owned(),
    ]
}

/// Runs notify commands and reaps them.
#[derive(Debug, Default)]
pub struct Notifier {
    children: Vec<Child>,
    /// Commands refused by the ownership check.
    pub refused: u64,
}

impl Notifier {
    /// Starts `argv` followed by `extra`, unless its program fails the safety check.
    /// `what` and `instance` only label the log lines.
    pub fn run(&mut self, argv: &[String], extra: &[String], what: &str, instance: &str) {
        let Some(program) = argv.first() else {
            return;
        };
        let verdict = std::fs::metadata(program)
            .map_err(|e| e.to_string())
            .and_then(|m| crate::config::notify_allowed(&m));
        if let Err(why) = verdict {
            self.refused += 1;
            tracing::warn!(instance, what, program, "notify command refused: {why}");
            return;
        }
        let spawned = Command::new(program)
            .args(&argv[1..])
            .args(extra)
            .stdin(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                tracing::debug!(instance, what, program, pid = child.id(), "notify started");
                self.children.push(child);
            }
            Err(e) => tracing::warn!(instance, what, program, "notify failed to start: {e}"),
        }
    }

    /// Reaps every child that has exited.
    pub fn reap(&mut self) {
        self.children.retain_mut(|c| match c.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    tracing::info!(pid = c.id(), %status, "notify command failed");
                }
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
    }

    /// Children not reaped yet.
    pub fn running(&self) -> usize {
        self.children.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_argument_shapes() {
        assert_eq!(
            generic_args("VI_1", State::Master, 150),
            ["INSTANCE", "VI_1", "MASTER", "150"].map(String::from)
        );
        assert_eq!(
            conflict_args("VI_1", "02:00:00:00:00:0c"),
            ["INSTANCE", "VI_1", "CONFLICT", "02:00:00:00:00:0c"].map(String::from)
        );
    }

    #[test]
    fn state_picks_command() {
        let n = Notify {
            master: Some(vec!["/m".into()]),
            backup: None,
            fault: Some(vec!["/f".into()]),
            stop: Some(vec!["/s".into()]),
            conflict: None,
        };
        assert_eq!(command_for(&n, State::Master).unwrap()[0], "/m");
        assert!(command_for(&n, State::Backup).is_none());
        assert_eq!(command_for(&n, State::Fault).unwrap()[0], "/f");
        assert_eq!(command_for(&n, State::Stopped).unwrap()[0], "/s");
        assert!(command_for(&n, State::Initialize).is_none());
    }

    #[test]
    fn unsafe_program_is_refused_not_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.sh");
        let marker = dir.path().join("ran");
        std::fs::write(&script, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut n = Notifier::default();
        n.run(
            &[script.display().to_string()],
            &[],
            "notify_master",
            "VI_1",
        );
        assert_eq!(n.refused, 1);
        assert_eq!(n.running(), 0);
        assert!(!marker.exists());
    }
}
