//! Timers for the event loop: which router is due next, and a sleep that wakes at
//! that exact instant.
//!
//! [`TimerHeap`] keeps one deadline per router in a binary heap with lazy
//! invalidation: re-arming a router bumps its generation and pushes a new entry; stale
//! entries are dropped when they reach the top. A wakeup costs O(log n) per due or
//! touched router instead of a scan of every router.
//!
//! [`PreciseSleep`] is a `timerfd` on `CLOCK_MONOTONIC` (the clock behind
//! [`Instant`]) armed with an absolute expiry, so a protocol deadline fires at its
//! instant rather than on tokio's millisecond timer wheel, which rounds up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::clock_gettime;
use tokio::io::unix::AsyncFd;

/// The most a Master's advert is sent early to share a wakeup with others
/// ([`advert_slack`]).
pub const ADVERT_SLACK_MAX: Duration = Duration::from_millis(2);

/// How early a Master at `advert_interval` may send an advert so that it leaves with
/// the wakeup of another that is due: 2 % of the interval, at most
/// [`ADVERT_SLACK_MAX`]. At 255 instances × 100 ms spread over the interval, that
/// makes about 40 wakeups per interval instead of 255 (each a context switch, the
/// largest single cost in the footprint bench), and the Backup receives the adverts
/// in bursts too. An early advert only restarts a Backup's `Master_Down_Timer`
/// sooner.
pub fn advert_slack(advert_interval: Duration) -> Duration {
    (advert_interval / 50).min(ADVERT_SLACK_MAX)
}

/// One deadline per slot (router index), earliest first.
#[derive(Debug, Default)]
pub struct TimerHeap {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Per slot: the deadline in the heap (if any) and its generation.
    armed: Vec<(Option<Instant>, u64)>,
}

impl TimerHeap {
    /// Forgets every deadline; slots `0..n` exist, none armed.
    pub fn reset(&mut self, n: usize) {
        self.heap.clear();
        self.armed.clear();
        self.armed.resize(n, (None, 0));
    }

    /// Sets slot `i`'s deadline (`None`: disarmed). A no-op if unchanged.
    pub fn set(&mut self, i: usize, at: Option<Instant>) {
        if i >= self.armed.len() {
            self.armed.resize(i + 1, (None, 0));
        }
        let slot = &mut self.armed[i];
        if slot.0 == at {
            return;
        }
        slot.1 = slot.1.wrapping_add(1);
        slot.0 = at;
        let gen = slot.1;
        if let Some(t) = at {
            self.heap.push(Reverse((t, i, gen)));
        }
        // Stale entries leave the heap when they reach the top; rebuild if they pile
        // up (deadlines that keep moving later, e.g. Master_Down under steady adverts).
        if self.heap.len() > 4 * self.armed.len() + 64 {
            self.compact();
        }
    }

    fn live(&self, e: &(Instant, usize, u64)) -> bool {
        self.armed
            .get(e.1)
            .is_some_and(|&(at, gen)| gen == e.2 && at == Some(e.0))
    }

    fn compact(&mut self) {
        let entries: Vec<_> = self
            .armed
            .iter()
            .enumerate()
            .filter_map(|(i, &(at, gen))| at.map(|t| Reverse((t, i, gen))))
            .collect();
        self.heap = BinaryHeap::from(entries);
    }

    /// The earliest deadline, if any.
    pub fn peek(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.live(top) {
                return Some(top.0);
            }
            self.heap.pop();
        }
        None
    }

    /// A slot whose deadline is at or before `now`, disarmed; `None` when none is due.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let at = self.peek()?;
        if at > now {
            return None;
        }
        let Reverse((_, i, _)) = self.heap.pop()?;
        if let Some(slot) = self.armed.get_mut(i) {
            slot.0 = None;
        }
        Some(i)
    }
}

/// A [`TimerFd`] as tokio needs it (`AsRawFd`).
#[derive(Debug)]
struct Tfd(TimerFd);

impl AsRawFd for Tfd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Registers the timer with the runtime's reactor for readability.
fn register(tfd: Tfd) -> io::Result<AsyncFd<Tfd>> {
    // SAFETY: a TimerFd owns its OwnedFd (private field, never replaced), so the
    // descriptor stays open and as_raw_fd returns the same number until the Tfd is
    // dropped, which happens only when the AsyncFd that owns it is dropped.
    unsafe { AsyncFd::register_with_interest(tfd, tokio::io::Interest::READABLE) }
        .map_err(|e| io::Error::other(e.to_string()))
}

/// A one-shot sleep until an absolute [`Instant`], to the nanosecond the kernel gives.
#[derive(Debug)]
pub struct PreciseSleep {
    fd: AsyncFd<Tfd>,
    armed: Option<Instant>,
}

impl PreciseSleep {
    /// A disarmed timer; needs a tokio runtime with IO enabled.
    pub fn new() -> io::Result<PreciseSleep> {
        let tfd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(PreciseSleep {
            fd: register(Tfd(tfd))?,
            armed: None,
        })
    }

    /// Makes sure the timer fires no later than `at` (`None`: no deadline).
    ///
    /// Only touches the kernel when `at` is earlier than what is armed: a deadline
    /// that moved later (a Backup's Master_Down after each advert) leaves the earlier
    /// expiry in place, which costs one early wakeup that re-arms, instead of a
    /// `timerfd_settime` per received packet.
    pub fn arm(&mut self, at: Option<Instant>) -> io::Result<()> {
        let Some(t) = at else {
            return Ok(());
        };
        if self.armed.is_some_and(|cur| cur <= t) {
            return Ok(());
        }
        // Both clocks are CLOCK_MONOTONIC: map `t` through a pair of readings. A
        // deadline in the past maps to "now", which fires at once (never to zero,
        // which would disarm).
        let now = Instant::now();
        let base = clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
        let abs = base + TimeSpec::from(t.saturating_duration_since(now));
        self.fd.get_ref().0.set(
            Expiration::OneShot(abs),
            TimerSetTimeFlags::TFD_TIMER_ABSTIME,
        )?;
        self.armed = at;
        Ok(())
    }

    /// Resolves once the armed instant has passed (and leaves the timer disarmed);
    /// pending forever while disarmed. May resolve early (a stale expiry of a timer
    /// re-armed since); callers check what is due.
    ///
    /// The expiry count is not read: the next [`PreciseSleep::arm`] always calls
    /// `timerfd_settime` (nothing is armed any more), which resets it, and the next
    /// expiry wakes the edge-triggered reactor again. One syscall less per wakeup.
    pub async fn expired(&mut self) -> io::Result<()> {
        let mut guard = self.fd.readable().await?;
        guard.clear_ready();
        self.armed = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn heap_orders_and_lazily_invalidates() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut h = TimerHeap::default();
        h.reset(3);
        h.set(0, Some(t0 + ms(30)));
        h.set(1, Some(t0 + ms(10)));
        h.set(2, Some(t0 + ms(20)));
        // Moving 1 later leaves a stale entry behind that must not fire.
        h.set(1, Some(t0 + ms(40)));
        h.set(2, None);
        assert_eq!(h.peek(), Some(t0 + ms(30)));
        assert_eq!(h.pop_due(t0 + ms(29)), None);
        assert_eq!(h.pop_due(t0 + ms(35)), Some(0));
        assert_eq!(h.pop_due(t0 + ms(35)), None);
        // Re-arming a popped slot at the same instant arms it again.
        h.set(0, Some(t0 + ms(30)));
        assert_eq!(h.pop_due(t0 + ms(50)), Some(0));
        assert_eq!(h.pop_due(t0 + ms(50)), Some(1));
        assert_eq!(h.pop_due(t0 + ms(50)), None);
        assert_eq!(h.peek(), None);
    }

    #[test]
    fn heap_stays_bounded_under_moving_deadlines() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        h.reset(2);
        for k in 0..10_000u64 {
            h.set(0, Some(t0 + Duration::from_micros(k)));
        }
        assert!(h.heap.len() <= 4 * 2 + 64 + 1);
        assert_eq!(h.peek(), Some(t0 + Duration::from_micros(9_999)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn precise_sleep_fires_at_its_instant() {
        let mut s = PreciseSleep::new().unwrap();
        let at = Instant::now() + Duration::from_millis(20);
        s.arm(Some(at)).unwrap();
        s.expired().await.unwrap();
        let now = Instant::now();
        assert!(now >= at, "woke early by {:?}", at - now);
        // A deadline in the past fires at once.
        s.arm(Some(at)).unwrap();
        s.arm(Some(now - Duration::from_millis(5))).unwrap();
        tokio::time::timeout(Duration::from_secs(1), s.expired())
            .await
            .unwrap()
            .unwrap();
    }
}
