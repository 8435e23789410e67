//! Processes inside a lab node: a PID namespace per node with a tiny init, so that every
//! process of the node dies with the lab, even when the harness itself is SIGKILLed.
//!
//! Layout of one node:
//!
//! ```text
//! harness ── spawner thread (setns net + pid_for_children) ──┐
//!                 │ clone(CLONE_NEWPID)                        │ fork/exec (std Command)
//!                 ▼                                            ▼
//!            init (PID 1 in the node, PDEATHSIG=SIGKILL)   daemon (PID 2, 3, ... in the node)
//! ```
//!
//! The spawner thread lives as long as the node. If it ends (lab dropped, harness killed),
//! the kernel sends init SIGKILL through PR_SET_PDEATHSIG, and the death of a PID
//! namespace's init kills every process left in it. Daemons are children of the harness
//! (so it can `wait` for them), but orphans a daemon leaves (keepalived's VRRP child when
//! its parent is SIGKILLed) are reaped by init, as on a real host.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::lab::netns::NetNs;

/// What to run inside a node.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The program (absolute path or looked up in PATH).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
    /// File that receives stdout and stderr (appended).
    pub log: PathBuf,
}

type Reply = mpsc::Sender<Result<Child>>;

/// A node's PID namespace: its init and the thread that spawns into it.
#[derive(Debug)]
pub struct PidNs {
    init: Pid,
    ns_ino: u64,
    tx: Option<mpsc::Sender<(ProcessSpec, Reply)>>,
    thread: Option<JoinHandle<()>>,
}

impl PidNs {
    /// Creates the PID namespace with its init, inside network namespace `net`.
    pub fn start(net: &NetNs) -> Result<PidNs> {
        let netfd: OwnedFd = net.fd().try_clone_to_owned().context("dup namespace fd")?;
        let label = net.label().to_string();
        let (tx, rx) = mpsc::channel::<(ProcessSpec, Reply)>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(Pid, u64)>>();
        let thread = std::thread::Builder::new()
            .name(format!("spawn-{label}"))
            .spawn(move || spawner(netfd, rx, ready_tx))
            .context("spawner thread")?;
        let (init, ns_ino) = ready_rx
            .recv()
            .map_err(|_| anyhow!("spawner thread of {label} died"))??;
        Ok(PidNs {
            init,
            ns_ino,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Starts a process inside the node (network and PID namespace), in its own process
    /// group so a terminal's Ctrl-C never reaches it.
    pub fn spawn(&self, spec: &ProcessSpec) -> Result<Child> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| anyhow!("node is shut down"))?;
        let (rtx, rrx) = mpsc::channel();
        tx.send((spec.clone(), rtx))
            .map_err(|_| anyhow!("spawner thread is gone"))?;
        rrx.recv().map_err(|_| anyhow!("spawner thread is gone"))?
    }

    /// Host PIDs of every process in the node except init, found through
    /// `/proc/<pid>/ns/pid` (a node's processes share that namespace).
    pub fn members(&self) -> Vec<Pid> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if pid == self.init.as_raw() {
                continue;
            }
            let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/ns/pid")) else {
                continue;
            };
            if std::os::unix::fs::MetadataExt::ino(&meta) == self.ns_ino {
                out.push(Pid::from_raw(pid));
            }
        }
        out.sort();
        out
    }

    /// Sends `sig` to every process of the node at once (like `pkill -SIG` on a host; init
    /// is spared, as a host's PID 1 would be). Returns how many processes were signalled.
    ///
    /// For SIGKILL every process is first stopped (SIGSTOP), so none can run a handler
    /// in the microseconds between two kills — a daemon's child that gets a parent-death
    /// signal would otherwise clean up, which a real `kill -9` of all of them does not
    /// allow.
    pub fn signal_all(&self, sig: Signal) -> usize {
        if sig == Signal::SIGKILL {
            for pid in self.members() {
                let _ = kill(pid, Signal::SIGSTOP);
            }
        }
        let members = self.members();
        for pid in &members {
            // A process may exit between listing and signalling: ESRCH is fine.
            let _ = kill(*pid, sig);
        }
        members.len()
    }

    /// Sends SIGKILL to init: the kernel then kills every process of the namespace. Init
    /// itself only finishes dying once every process of the namespace has been reaped, so
    /// the caller must reap its own children (daemons) before [`PidNs::shutdown`].
    pub fn kill(&self) {
        let _ = kill(self.init, Signal::SIGKILL);
    }

    /// Kills the whole namespace (init and everything in it) and reaps init. Reap the
    /// harness's own children of this namespace first (see [`PidNs::kill`]).
    pub fn shutdown(&mut self) {
        self.tx = None;
        self.kill();
        let _ = waitpid(self.init, None);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The spawner thread: enters the node's network namespace, creates the PID namespace
/// (init), sets it as the namespace for its future children, then serves spawn requests
/// until the node drops its sender.
fn spawner(
    netfd: OwnedFd,
    rx: mpsc::Receiver<(ProcessSpec, Reply)>,
    ready: mpsc::Sender<Result<(Pid, u64)>>,
) {
    let setup = || -> Result<(Pid, u64)> {
        setns(netfd.as_fd(), CloneFlags::CLONE_NEWNET).context("setns net")?;
        let init = clone_init().context("clone init into a new PID namespace")?;
        let pidns: OwnedFd = File::open(format!("/proc/{init}/ns/pid"))
            .context("open init's PID namespace")?
            .into();
        let ino = std::os::unix::fs::MetadataExt::ino(
            &std::fs::metadata(format!("/proc/{init}/ns/pid")).context("stat pid ns")?,
        );
        setns(pidns.as_fd(), CloneFlags::CLONE_NEWPID).context("setns pid_for_children")?;
        Ok((init, ino))
    };
    let ok = setup();
    let failed = ok.is_err();
    if ready.send(ok).is_err() || failed {
        return;
    }
    drop(netfd);
    for (spec, reply) in rx {
        let _ = reply.send(spawn_here(&spec));
    }
}

fn spawn_here(spec: &ProcessSpec) -> Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .with_context(|| format!("open log {}", spec.log.display()))?;
    let log2 = log.try_clone().context("dup log")?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .process_group(0);
    // SAFETY: `default_signals` only makes async-signal-safe system calls
    // (sigaction, sigprocmask) on local values, as a pre_exec hook must.
    unsafe {
        cmd.pre_exec(default_signals);
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("start {}", spec.program.display()))?;
    if child.id() == 0 {
        bail!("spawned process has no pid");
    }
    Ok(child)
}

/// In the child before exec: every signal back to its default disposition and none
/// blocked, as a daemon started by a service manager gets them. Dispositions set to
/// SIG_IGN survive exec, so a harness run under `nohup` would otherwise start daemons
/// that ignore SIGHUP (explore schedule 104).
fn default_signals() -> std::io::Result<()> {
    // SAFETY: sigaction/sigprocmask with SIG_DFL and an empty set on locals; both are
    // async-signal-safe. SIGKILL/SIGSTOP (and numbers the kernel rejects) just fail.
    unsafe {
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Clones the node's init as PID 1 of a new PID namespace.
fn clone_init() -> nix::Result<Pid> {
    let mut stack = vec![0u8; 64 * 1024];
    // SAFETY: without CLONE_VM the child gets a copy of our address space and runs only
    // `init_main`, which makes raw system calls and touches no lock, allocator or Rust
    // runtime state, so a multi-threaded parent is not a hazard. The stack buffer is
    // copied into the child, so dropping it here after `clone` returns is sound.
    unsafe {
        nix::sched::clone(
            Box::new(init_main),
            &mut stack,
            CloneFlags::CLONE_NEWPID,
            Some(libc::SIGCHLD),
        )
    }
}

/// PID 1 of a node: dies with the spawner thread, closes every inherited descriptor (so
/// no pipe or namespace is kept alive by it), and reaps orphans until it is killed.
fn init_main() -> isize {
    // SAFETY: plain system calls on local, fully initialised values; see `clone_init`.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        loop {
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            libc::sigwaitinfo(&chld, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit of `sig` set in the hex mask `field` (`SigIgn:`, `SigBlk:`) of a status text.
    fn has(status: &str, field: &str, sig: i32) -> bool {
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        let mask = u64::from_str_radix(hex, 16).expect("hex mask");
        mask & (1 << (sig - 1)) != 0
    }

    fn child_status(reset: bool) -> String {
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/status");
        if reset {
            // SAFETY: as in `spawn_here`.
            unsafe {
                cmd.pre_exec(default_signals);
            }
        }
        let out = cmd.output().expect("run cat");
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Explore schedule 104 (scenarios/explore/early-sighup.toml): a harness run under
    /// `nohup` ignores SIGHUP; its daemons must not inherit that.
    #[test]
    fn daemons_start_with_default_signal_dispositions() {
        // SAFETY: SIG_IGN installs no handler code; restored below.
        let old = unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
        let inherited = child_status(false);
        let reset = child_status(true);
        // SAFETY: puts back what was there.
        unsafe { libc::signal(libc::SIGHUP, old) };
        assert!(
            has(&inherited, "SigIgn:", libc::SIGHUP),
            "control: SIG_IGN is inherited across exec"
        );
        assert!(!has(&reset, "SigIgn:", libc::SIGHUP), "{reset}");
        assert!(!has(&reset, "SigBlk:", libc::SIGHUP), "{reset}");
    }
}
