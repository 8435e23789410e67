//! Stop and reload signals, held from the first line of `main` until the event loop
//! listens for them.
//!
//! A SIGHUP or SIGTERM can arrive before the daemon has installed its handlers (a
//! supervisor reloading right after a start). With the default disposition it would
//! kill the daemon; with an inherited SIG_IGN (started under `nohup`) it would be lost
//! (explore schedule 104). Blocked, it stays pending (the kernel never discards a
//! blocked signal, whatever its disposition) and is delivered once the handlers are in.

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use tokio::signal::unix::{signal, Signal as Stream, SignalKind};

/// The signals held until the handlers are installed.
pub const HELD: [Signal; 3] = [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT];

fn held() -> SigSet {
    let mut set = SigSet::empty();
    for s in HELD {
        set.add(s);
    }
    set
}

/// Blocks [`HELD`] in the calling thread (and every thread it starts later). Call it
/// first in `main`, before any other thread exists.
pub fn hold() -> nix::Result<()> {
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&held()), None)
}

/// The daemon's signal streams.
#[derive(Debug)]
pub struct Signals {
    /// SIGTERM: stop.
    pub term: Stream,
    /// SIGINT: stop.
    pub int: Stream,
    /// SIGHUP: reload.
    pub hup: Stream,
    /// SIGCHLD: reap notify scripts.
    pub chld: Stream,
}

impl Signals {
    /// Installs the handlers, then unblocks [`HELD`]: a signal held since [`hold`] is
    /// delivered to them now. Needs a tokio runtime.
    pub fn listen() -> anyhow::Result<Signals> {
        use anyhow::Context;
        let signals = Signals {
            term: signal(SignalKind::terminate()).context("SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("SIGHUP handler")?,
            chld: signal(SignalKind::child()).context("SIGCHLD handler")?,
        };
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&held()), None)
            .context("unblock SIGHUP/SIGTERM/SIGINT")?;
        Ok(signals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler};

    /// Explore schedule 104 (scenarios/explore/early-sighup.toml): a SIGHUP sent before
    /// the handlers exist, to a process that inherited SIG_IGN for it (`nohup`), is held
    /// and reaches the reload handler once it is installed.
    #[test]
    fn early_sighup_is_held_even_when_ignored_and_then_delivered() {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN installs no handler code; tokio replaces it below.
        unsafe { sigaction(Signal::SIGHUP, &ignore) }.expect("ignore SIGHUP");
        hold().expect("block");
        // raise(3) signals this thread only (tgkill), so no other test thread sees it.
        nix::sys::signal::raise(Signal::SIGHUP).expect("raise SIGHUP");
        let blocked = SigSet::thread_get_mask().expect("mask");
        assert!(blocked.contains(Signal::SIGHUP), "SIGHUP not blocked");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut s = Signals::listen().expect("listen");
            tokio::time::timeout(std::time::Duration::from_secs(10), s.hup.recv())
                .await
                .expect("the SIGHUP held since before the handler was lost")
                .expect("stream open");
        });
        let mask = SigSet::thread_get_mask().expect("mask");
        assert!(!mask.contains(Signal::SIGHUP), "SIGHUP still blocked");
    }
}
