//! Health tracking at run time: runs `vrrp_script`s (no shell, root-owned programs only,
//! with a timeout, never waiting on them), counts tracked processes in vrrpd's own PID
//! namespace, reads tracked files, and follows tracked interfaces. The event loop asks
//! [`Tracking::poll`] what changed and turns it into priority / fault events for the
//! sans-IO instances.
//!
//! * Scripts are started with `fork`/`exec` and polled with `waitpid(WNOHANG)` when the
//!   loop wakes (SIGCHLD or the check's deadline); a run past its timeout is killed and
//!   counts as a failure. `rise` / `fall` consecutive results change the status.
//! * Processes are counted by reading `/proc/PID/comm` (or `cmdline`) for every process
//!   whose `/proc/PID/ns/pid` is vrrpd's own, once a second (keepalived uses the proc
//!   connector; a poll is simpler and costs a directory walk a second).
//! * Files are read once a second; the value is the integer at the start of the file,
//!   0 when the file is missing or holds no number.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::{Check, CheckKind, ProcessCheck, ScriptCheck, Status};

/// How long after killing a late script the loop looks for its exit at the latest.
const KILL_GRACE: Duration = Duration::from_millis(100);

/// How often process and file checks are re-read.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// Consecutive-result counting for `rise` / `fall` (pure, tested without processes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiseFall {
    ok: bool,
    streak: u32,
    rise: u32,
    fall: u32,
}

impl RiseFall {
    /// Starts OK, or failed with `init_fail`.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        RiseFall {
            ok: !init_fail,
            streak: 0,
            rise: rise.max(1),
            fall: fall.max(1),
        }
    }

    /// Records one result; returns the new status when it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if success == self.ok {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let need = if success { self.rise } else { self.fall };
        if self.streak >= need {
            self.ok = success;
            self.streak = 0;
            Some(success)
        } else {
            None
        }
    }

    /// Whether the check counts as OK now.
    pub fn ok(&self) -> bool {
        self.ok
    }
}

/// A running script.
#[derive(Debug)]
struct Running {
    child: Child,
    deadline: Instant,
    killed: bool,
}

/// Run-time state of one check.
#[derive(Debug)]
struct CheckState {
    def: Check,
    status: Status,
    next: Instant,
    script: Option<(RiseFall, Option<Running>)>,
    /// Process check: a count-derived status waiting for its `delay`.
    pending: Option<(bool, Instant)>,
    /// A refusal was already logged (logged once, not every interval).
    refused_logged: bool,
}

/// Every check of the configuration.
#[derive(Debug, Default)]
pub struct Tracking {
    checks: Vec<CheckState>,
    pid_ns: Option<u64>,
}

impl Tracking {
    /// Builds the state for `checks` (indices match [`crate::config::Tracker::check`]).
    /// Interfaces start with `iface_up`'s answer; scripts run at once.
    pub fn new(checks: &[Check], now: Instant, iface_up: impl Fn(&str) -> bool) -> Tracking {
        let states = checks
            .iter()
            .map(|c| {
                let (status, script) = match &c.kind {
                    CheckKind::Script(s) => {
                        let rf = RiseFall::new(s.rise, s.fall, s.init_fail);
                        (ok_status(rf.ok()), Some((rf, None)))
                    }
                    CheckKind::Interface => (ok_status(iface_up(&c.name)), None),
                    CheckKind::File { .. } => (Status::Value(0), None),
                    CheckKind::Process(_) => (Status::Ok, None),
                };
                CheckState {
                    def: c.clone(),
                    status,
                    next: now,
                    script,
                    pending: None,
                    refused_logged: false,
                }
            })
            .collect();
        Tracking {
            checks: states,
            pid_ns: std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino()),
        }
    }

    /// The status of check `i`.
    pub fn status(&self, i: usize) -> Status {
        self.checks.get(i).map_or(Status::Ok, |c| c.status)
    }

    /// Whether any check exists (the loop skips polling otherwise).
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// An interface changed state; returns whether a check's status changed.
    pub fn set_interface(&mut self, name: &str, up: bool) -> bool {
        let mut changed = false;
        for c in &mut self.checks {
            if c.def.kind == CheckKind::Interface && c.def.name == name {
                let s = ok_status(up);
                changed |= c.status != s;
                c.status = s;
            }
        }
        changed
    }

    /// The earliest instant at which [`Tracking::poll`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.checks
            .iter()
            .filter(|c| c.def.kind != CheckKind::Interface)
            .map(|c| match &c.script {
                Some((_, Some(r))) if !r.killed => r.deadline,
                // Killed: SIGCHLD wakes the loop; look again shortly in any case, but
                // never spin on a `next` that passed while the run was still going.
                Some((_, Some(r))) => r.deadline + KILL_GRACE,
                _ => c.next,
            })
            .min()
    }

    /// Collects finished scripts, kills late ones, starts due ones, re-reads due
    /// process and file checks. Returns whether any status changed.
    pub fn poll(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let pid_ns = self.pid_ns;
        let mut procs: Option<Vec<ProcInfo>> = None;
        for c in &mut self.checks {
            match &c.def.kind {
                CheckKind::Script(_) => changed |= poll_script(c, now),
                CheckKind::Process(p) => {
                    let p = p.clone();
                    if c.next > now {
                        continue;
                    }
                    c.next = now + POLL_EVERY;
                    let list = procs.get_or_insert_with(|| list_processes(pid_ns));
                    let n = list.iter().filter(|pi| pi.matches(&p)).count();
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    let ok = n >= p.quorum && n <= p.quorum_max;
                    changed |= apply_delayed(c, ok, p.delay, now);
                }
                CheckKind::File { path } => {
                    if c.next > now {
                        continue;
                    }
                    let path = path.clone();
                    c.next = now + POLL_EVERY;
                    let v = read_value(Path::new(&path));
                    if c.status != Status::Value(v) {
                        tracing::info!(check = %c.def.name, file = %path, value = v, "tracked file changed");
                        c.status = Status::Value(v);
                        changed = true;
                    }
                }
                CheckKind::Interface => {}
            }
        }
        changed
    }

    /// Kills every running script (at shutdown).
    pub fn stop(&mut self) {
        for c in &mut self.checks {
            if let Some((_, Some(r))) = &mut c.script {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
        }
    }
}

fn ok_status(ok: bool) -> Status {
    if ok {
        Status::Ok
    } else {
        Status::Failed
    }
}

/// A process check's count must hold for `delay` before its status changes.
fn apply_delayed(c: &mut CheckState, ok: bool, delay: Duration, now: Instant) -> bool {
    let current = c.status == Status::Ok;
    if ok == current {
        c.pending = None;
        return false;
    }
    let since = match c.pending {
        Some((p, t)) if p == ok => t,
        _ => {
            c.pending = Some((ok, now));
            now
        }
    };
    if now >= since + delay {
        c.pending = None;
        c.status = ok_status(ok);
        tracing::info!(check = %c.def.name, ok, "tracked process state changed");
        true
    } else {
        c.next = c.next.min(since + delay);
        false
    }
}

fn poll_script(c: &mut CheckState, now: Instant) -> bool {
    let CheckState {
        def,
        status,
        next,
        script,
        refused_logged,
        ..
    } = c;
    let (CheckKind::Script(s), Some((rf, running))) = (&def.kind, script) else {
        return false;
    };
    let mut result = None;
    if let Some(r) = running {
        match r.child.try_wait() {
            Ok(Some(status)) => {
                let ok = status.success() && !r.killed;
                if !ok {
                    tracing::debug!(check = %def.name, %status, killed = r.killed, "script failed");
                }
                result = Some(ok);
                *running = None;
            }
            Ok(None) => {
                if now >= r.deadline && !r.killed {
                    tracing::warn!(check = %def.name, timeout_s = s.timeout.as_secs_f64(), "script timed out; killed");
                    let _ = r.child.kill();
                    r.killed = true;
                }
            }
            Err(e) => {
                tracing::warn!(check = %def.name, "script wait failed: {e}");
                result = Some(false);
                *running = None;
            }
        }
    }
    if running.is_none() && *next <= now {
        *next = now + s.interval;
        match spawn_script(s) {
            Ok(child) => {
                *running = Some(Running {
                    child,
                    deadline: now + s.timeout,
                    killed: false,
                });
                *refused_logged = false;
            }
            Err(why) => {
                if !*refused_logged {
                    tracing::warn!(check = %def.name, "script not run: {why}; counts as failed");
                    *refused_logged = true;
                }
                result = Some(false);
            }
        }
    }
    let Some(ok) = result else {
        return false;
    };
    match rf.record(ok) {
        Some(now_ok) => {
            tracing::info!(check = %def.name, ok = now_ok, "tracked script state changed");
            *status = ok_status(now_ok);
            true
        }
        None => false,
    }
}

/// Resolves a program like `execvp` does (keepalived resolves with PATH too).
pub fn resolve_program(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return Some(PathBuf::from(prog));
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

fn spawn_script(s: &ScriptCheck) -> Result<Child, String> {
    let prog = s.argv.first().ok_or("empty command")?;
    let path = resolve_program(prog).ok_or_else(|| format!("`{prog}` not found in PATH"))?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::config::notify_allowed(&meta).map_err(|e| format!("{} {e}", path.display()))?;
    let mut cmd = Command::new(&path);
    cmd.args(&s.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((user, group)) = &s.user {
        let u = nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .ok_or_else(|| format!("user `{user}` does not exist"))?;
        let gid = match group {
            Some(g) => {
                nix::unistd::Group::from_name(g)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("group `{g}` does not exist"))?
                    .gid
            }
            None => u.gid,
        };
        cmd.uid(u.uid.as_raw()).gid(gid.as_raw());
    }
    cmd.spawn().map_err(|e| format!("{}: {e}", path.display()))
}

/// What process tracking needs to know of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// `/proc/PID/comm`.
    pub comm: String,
    /// `/proc/PID/cmdline`, split at NULs.
    pub cmdline: Vec<String>,
}

impl ProcInfo {
    /// Whether this process is one `p` counts.
    pub fn matches(&self, p: &ProcessCheck) -> bool {
        let name_ok = if p.full_command {
            self.cmdline.first().is_some_and(|c| *c == p.process)
        } else {
            // comm is cut at 15 bytes; compare with the basename of argv[0] too.
            let base = self
                .cmdline
                .first()
                .and_then(|c| c.rsplit('/').next())
                .unwrap_or("");
            self.comm == p.process || base == p.process
        };
        if !name_ok {
            return false;
        }
        match &p.params {
            None => true,
            Some(params) => self
                .cmdline
                .get(1..)
                .is_some_and(|rest| rest == params.as_slice()),
        }
    }
}

/// Every process in PID namespace `ns` (every process when `None`).
fn list_processes(ns: Option<u64>) -> Vec<ProcInfo> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(ns) = ns {
            match std::fs::metadata(format!("/proc/{pid}/ns/pid")) {
                Ok(m) if m.ino() == ns => {}
                _ => continue,
            }
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|c| *c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.push(ProcInfo { comm, cmdline });
    }
    out
}

/// The integer at the start of a tracked file (0 when missing or not a number).
pub fn read_value(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_need_consecutive_results() {
        let mut rf = RiseFall::new(2, 3, false);
        assert!(rf.ok());
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(true), None); // streak broken
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), Some(false));
        assert_eq!(rf.record(true), None);
        assert_eq!(rf.record(true), Some(true));
        let init_fail = RiseFall::new(1, 1, true);
        assert!(!init_fail.ok());
    }

    #[test]
    fn process_matching() {
        let p = |process: &str, params: Option<Vec<&str>>, full: bool| ProcessCheck {
            process: process.into(),
            params: params.map(|v| v.into_iter().map(String::from).collect()),
            full_command: full,
            quorum: 1,
            quorum_max: u32::MAX,
            delay: Duration::ZERO,
        };
        let info = ProcInfo {
            comm: "haproxy".into(),
            cmdline: vec!["/usr/sbin/haproxy".into(), "-f".into(), "/etc/h.cfg".into()],
        };
        assert!(info.matches(&p("haproxy", None, false)));
        assert!(!info.matches(&p("nginx", None, false)));
        assert!(info.matches(&p("/usr/sbin/haproxy", None, true)));
        assert!(!info.matches(&p("haproxy", None, true)));
        assert!(info.matches(&p("haproxy", Some(vec!["-f", "/etc/h.cfg"]), false)));
        assert!(!info.matches(&p("haproxy", Some(vec!["-f"]), false)));
    }

    #[test]
    fn file_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("v");
        assert_eq!(read_value(&f), 0);
        std::fs::write(&f, "-7\n").unwrap();
        assert_eq!(read_value(&f), -7);
        std::fs::write(&f, "x").unwrap();
        assert_eq!(read_value(&f), 0);
    }

    #[test]
    fn scripts_run_without_blocking_and_time_out() {
        // Needs root-owned programs: /bin/true, /bin/false and /bin/sleep are.
        if std::fs::metadata("/bin/true").map(|m| m.uid()).unwrap_or(1) != 0 {
            panic!("/bin/true must exist and be owned by root for this test");
        }
        let script = |argv: &[&str], timeout_ms: u64| Check {
            name: argv[0].into(),
            kind: CheckKind::Script(ScriptCheck {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                interval: Duration::from_millis(50),
                timeout: Duration::from_millis(timeout_ms),
                rise: 1,
                fall: 1,
                user: None,
                init_fail: false,
            }),
            weight: 0,
            reverse: false,
        };
        let checks = [
            script(&["/bin/true"], 1000),
            script(&["/bin/false"], 1000),
            script(&["/bin/sleep", "5"], 100),
            script(&["/nonexistent/x"], 1000),
        ];
        let t0 = Instant::now();
        let mut t = Tracking::new(&checks, t0, |_| true);
        let started = Instant::now();
        t.poll(Instant::now());
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "poll must not wait for scripts"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && !(t.status(1) == Status::Failed && t.status(2) == Status::Failed)
        {
            std::thread::sleep(Duration::from_millis(10));
            t.poll(Instant::now());
        }
        assert_eq!(t.status(0), Status::Ok);
        assert_eq!(t.status(1), Status::Failed);
        assert_eq!(t.status(2), Status::Failed, "sleep 5 with a 100 ms timeout");
        assert_eq!(t.status(3), Status::Failed);
        t.stop();
    }
}
