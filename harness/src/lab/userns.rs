//! The lab without sudo: when the user is not root and the kernel lets unprivileged
//! users create user namespaces, `vrrplab run` and `vrrplab lab` move themselves into a
//! new user namespace that maps the user to root. Inside it the process holds every
//! capability over the namespaces it then creates (network, mount, PID), which is all the
//! lab needs; the host is out of reach as before, and every file written belongs to the
//! user, because that is who "root" is outside.
//!
//! `unshare(CLONE_NEWUSER)` needs a single-threaded process, so this runs first thing in
//! `main`, before the tokio runtime starts. Test binaries (many threads) are re-executed
//! in a namespace by the cargo runner `ci/userns-runner` instead.

use std::io::Write as _;

use anyhow::{bail, Context, Result};
use nix::sched::{unshare, CloneFlags};

/// How the lab gets its privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Privilege {
    /// Real root (or sudo): nothing changes.
    Root,
    /// An unprivileged user, now root inside a user namespace of its own.
    UserNamespace,
    /// An unprivileged user on a system that blocks user namespaces; the text is the one
    /// line that says so and how to get out.
    Blocked(String),
}

/// Sysctls that block unprivileged user namespaces, with the value that blocks them.
const BLOCKERS: [(&str, &str, &str); 3] = [
    (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "kernel.apparmor_restrict_unprivileged_userns=0",
    ),
    (
        "/proc/sys/kernel/unprivileged_userns_clone",
        "0",
        "kernel.unprivileged_userns_clone=1",
    ),
    (
        "/proc/sys/user/max_user_namespaces",
        "0",
        "user.max_user_namespaces=15000",
    ),
];

/// The one line shown where user namespaces are blocked: what blocks them and both ways
/// out (allow them with the sysctl, or run as root with sudo).
pub fn blocked_line() -> String {
    let found = BLOCKERS
        .iter()
        .find(|(path, bad, _)| std::fs::read_to_string(path).is_ok_and(|v| v.trim() == *bad));
    let (what, fix) = match found {
        Some((path, bad, fix)) => (
            format!(
                "{}={bad}",
                path.trim_start_matches("/proc/sys/").replace('/', ".")
            ),
            *fix,
        ),
        None => (
            "a security policy".to_string(),
            "kernel.apparmor_restrict_unprivileged_userns=0",
        ),
    };
    format!(
        "unprivileged user namespaces are blocked here ({what}), so the lab cannot run without root: \
         allow them with `sudo sysctl -w {fix}`, or run as root with `sudo -E`"
    )
}

/// Whether this process lives in a user namespace other than the host's (its uid map is
/// not the identity map of the initial namespace).
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            let f: Vec<&str> = m.split_whitespace().collect();
            f != ["0", "0", "4294967295"]
        })
        .unwrap_or(false)
}

/// A command for `program`, a tool that switches to a user of its own when started as
/// root (tcpdump does, even just to read a file). In a user namespace that maps only the
/// caller the switch fails (setgroups is denied there), so the tool then runs as uid 1
/// of a nested user namespace: not root, so it does not switch, and the owner of the
/// files the caller wrote. Elsewhere the command is just `program`.
pub fn tool_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    if in_user_namespace() {
        let mut c = std::process::Command::new("unshare");
        c.args(["--user", "--map-user=1", "--map-group=1", "--"])
            .arg(program);
        c
    } else {
        std::process::Command::new(program)
    }
}

/// The number of threads of this process.
fn threads() -> Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .context("no Threads: line in /proc/self/status")
}

fn write_proc(path: &str, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("open {path}"))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("write {text:?} to {path}"))
}

/// Whether a network namespace can be made here (tried on a short-lived thread, so the
/// caller's own namespace does not change).
fn can_make_netns() -> bool {
    std::thread::spawn(|| unshare(CloneFlags::CLONE_NEWNET).is_ok())
        .join()
        .unwrap_or(false)
}

/// Root stays as it is. An unprivileged user enters a new user namespace mapping it to
/// root, if the system allows; where it does not, [`Privilege::Blocked`] carries the line
/// to show. Must be called while the process has a single thread (first thing in
/// `main`); fails otherwise.
pub fn enter_if_unprivileged() -> Result<Privilege> {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    if uid.is_root() {
        return Ok(Privilege::Root);
    }
    if threads()? != 1 {
        bail!("internal: a user namespace can only be entered while single-threaded");
    }
    if unshare(CloneFlags::CLONE_NEWUSER).is_err() {
        return Ok(Privilege::Blocked(blocked_line()));
    }
    // Order matters: setgroups must be denied before an unprivileged gid_map is written.
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    write_proc("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    // AppArmor's restriction lets the namespace be created but withholds its
    // capabilities: only trying tells.
    if !can_make_netns() {
        return Ok(Privilege::Blocked(blocked_line()));
    }
    Ok(Privilege::UserNamespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_line_gives_both_ways_out() {
        let l = blocked_line();
        assert!(l.contains("sudo sysctl -w "), "{l}");
        assert!(l.contains("sudo -E"), "{l}");
        assert!(!l.contains('\n'));
    }

    #[test]
    fn refuses_to_enter_from_a_threaded_process() {
        // The test harness runs tests on threads, so this process is multi-threaded:
        // as root nothing happens; as a user the call must refuse, not half-enter.
        let r = enter_if_unprivileged();
        if nix::unistd::geteuid().is_root() {
            assert_eq!(r.unwrap(), Privilege::Root);
        } else {
            assert!(r.is_err());
        }
    }
}
