//! SIGINT and SIGTERM during `vrrplab run`.
//!
//! The first signal asks every run in flight to stop: its current step is abandoned,
//! its daemons are stopped cleanly (SIGTERM, as a `stop` fault does), the evidence is
//! written and the run is judged *interrupted* (an unknown check, never a pass); runs
//! not started yet are skipped. The command then exits with 128 + the signal number
//! (130 for Ctrl-C). A second signal aborts at once with the same code; the lab still
//! vanishes, since its namespaces are held only by this process's file descriptors.
//!
//! The handlers are installed even when the signal was ignored on entry (a script
//! that starts `vrrplab run &` leaves SIGINT ignored), so a user's Ctrl-C or `kill -INT`
//! always stops the run.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The stop request shared by every run of one invocation.
#[derive(Debug, Clone)]
pub struct Interrupt {
    rx: watch::Receiver<bool>,
    signo: Arc<AtomicI32>,
}

impl Interrupt {
    /// Installs the SIGINT and SIGTERM handlers; call inside the tokio runtime.
    pub fn install() -> Result<Interrupt> {
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let (tx, rx) = watch::channel(false);
        let signo = Arc::new(AtomicI32::new(0));
        let seen = signo.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let (n, name) = tokio::select! {
                    _ = int.recv() => (libc::SIGINT, "SIGINT"),
                    _ = term.recv() => (libc::SIGTERM, "SIGTERM"),
                };
                count += 1;
                if count == 1 {
                    seen.store(n, Ordering::SeqCst);
                    eprintln!(
                        "vrrplab: {name}: stopping the runs in flight and writing their \
                         artifacts (send it again to abort at once)"
                    );
                    let _ = tx.send(true);
                } else {
                    eprintln!("vrrplab: {name} again: aborting");
                    std::process::exit(128 + seen.load(Ordering::SeqCst));
                }
            }
        });
        Ok(Interrupt { rx, signo })
    }

    /// A receiver for [`crate::run::RunOptions::stop`].
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// The signal that asked to stop, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signo.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }
}

/// Whether a stop was requested.
pub fn requested(stop: &Option<watch::Receiver<bool>>) -> bool {
    stop.as_ref().is_some_and(|rx| *rx.borrow())
}

/// Resolves when a stop is requested; never without a receiver.
pub async fn wait(stop: &Option<watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            let mut rx = rx.clone();
            if rx.wait_for(|v| *v).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
