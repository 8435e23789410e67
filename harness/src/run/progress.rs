//! Progress of a batch on stderr: a live line on a terminal (runs done, running,
//! failed, time left), plain lines otherwise (CI logs), one per finished run either way.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live line redrawn in place, finished runs printed above it.
    Live,
    /// One plain line per finished run.
    Plain,
}

impl ProgressMode {
    /// Live when stderr is a terminal, plain otherwise.
    pub fn detect() -> ProgressMode {
        if std::io::stderr().is_terminal() {
            ProgressMode::Live
        } else {
            ProgressMode::Plain
        }
    }
}

/// The progress of one batch; shared by the tasks that run it.
#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: AtomicUsize,
    running: AtomicUsize,
    failed: AtomicUsize,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress of `total` runs, shown as `mode` says.
    pub fn new(total: usize, mode: ProgressMode) -> Progress {
        let bar = (mode == ProgressMode::Live).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} done · {msg} · {elapsed} elapsed, ~{eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        let p = Progress {
            total,
            done: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            bar,
        };
        p.redraw();
        p
    }

    /// A run started.
    pub fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
        self.redraw();
    }

    /// A run finished; `ok` says whether it went as expected, `what` describes it
    /// (`02-sigkill-master × vrrpd: pass (9.8 s)`).
    pub fn finished(&self, ok: bool, what: &str) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.running.fetch_sub(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let line = format!("[{n}/{}] {what}", self.total);
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
        self.redraw();
    }

    /// The counters as the live line shows them.
    pub fn message(&self) -> String {
        format!(
            "{} running, {} failed",
            self.running.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }

    fn redraw(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(self.message());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_running_done_and_failed() {
        let p = Progress::new(3, ProgressMode::Plain);
        p.started();
        p.started();
        assert_eq!(p.message(), "2 running, 0 failed");
        p.finished(false, "a × vrrpd: FAIL");
        p.finished(true, "b × vrrpd: pass");
        assert_eq!(p.message(), "0 running, 1 failed");
        assert_eq!(p.done.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn live_mode_draws_without_a_terminal() {
        // Hidden target: the bar logic runs (inc, println, message) without a tty.
        let mut p = Progress::new(2, ProgressMode::Live);
        if let Some(bar) = &p.bar {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        p.started();
        p.finished(true, "a × vrrpd: pass");
        assert_eq!(p.bar.as_ref().map(|b| b.position()), Some(1));
        p.bar.take();
    }
}
