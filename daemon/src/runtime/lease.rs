//! When to refresh a Master's VIP lease, and for how many whole seconds, so that the
//! kernel removes a killed daemon's VIPs just before the peer takes over.
//!
//! Kernel lifetimes are whole seconds counted from the refresh, so the lease ends at
//! `refresh + N s`. Right after each advert the runtime sets `N` to the largest whole
//! number of seconds that still ends within the router's budget after that advert
//! ([`crate::instance::lease_budget`]); the lease's end therefore follows the last
//! advert sent.
//!
//! How late the kernel removes an address depends on where its end falls within the
//! kernel's second (`round_jiffies_up` in `check_lifetime` / `addrconf_verify_rtnl`):
//! an end in the last quarter second before a whole second of jiffies is postponed to
//! that second, and the longer sleep also lands in a coarser timer-wheel level, up to
//! about half a second late in all; anywhere else the address goes within about 60 ms.
//! [`RoundingWindow`] finds those quarter seconds from `/proc/timer_list`. A refresh
//! whose end would fall in one gets the lease of the late case, and the router's
//! adverts move later by the rest of the window plus 20 ms, once: adverts keep their
//! cadence, so every later advert and its refresh end outside the window. (Deferring
//! the refresh instead would leave a kill between the advert and the deferred refresh
//! with a lease ending a second early.) When the window is unknown the budget assumes
//! the late case.

use std::time::{Duration, Instant};

/// `ADDRCONF_TIMER_FUZZ` (HZ/4 jiffies): the kernel rounds a wake-up to the next whole
/// second of jiffies when that is less than this far away.
const FUZZ: Duration = Duration::from_millis(250);

/// Kernel ticks of slack on each side of the window: jiffies are read a little after
/// the clock, and a lifetime starts at the jiffy the request was handled.
const EDGE_TICKS: u64 = 2;

const SEC_NS: u64 = 1_000_000_000;

/// The address lease of a gated Master whose lease cannot follow its adverts (below
/// about 0.35 s, 0.45 s when the kernel's rounding window is unknown: there even the
/// shortest whole-second lease outlives the peer's takeover). There the nftables gate is what silences a killed Master on time, and
/// the address lease only makes sure the address itself goes too: a longer one is
/// refreshed about every 4.4 s instead of every 0.4 s at 100 ms adverts (at 255
/// instances, 60 netlink requests a second instead of 510, each acknowledged and
/// echoed back to vrrpd's own address subscription), and it leaves a gated, silent
/// address for up to 5 s instead of 1 s.
pub const GATED_BACKSTOP: Duration = Duration::from_secs(5);

/// The address lease for a Master at `lease` (the instance's own, [`crate::instance::lease_for`])
/// whose refreshes do not follow its adverts: [`GATED_BACKSTOP`] when it is gated,
/// else `lease`.
pub fn backstop(lease: Duration, gated: bool) -> Duration {
    if gated {
        lease.max(GATED_BACKSTOP)
    } else {
        lease
    }
}

/// How far past the window's end adverts are moved. The wait is measured at the
/// refresh, a little after its advert; without this margin the next advert lands
/// that little before the window's end and its refresh inside it again, so the
/// adverts would creep out in tiny steps, each refresh with the shorter lease
/// (seen in the root test: 2 of every 6 rounds).
const SHIFT_MARGIN: Duration = Duration::from_millis(20);

/// The part of every second of `CLOCK_MONOTONIC` in which a lease must not end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundingWindow {
    /// Start of the window within the second, in ns.
    start_ns: u64,
    /// Its length, in ns (less than a second).
    len_ns: u64,
}

impl RoundingWindow {
    /// The window from two readings of `/proc/timer_list` taken `gap` apart (each its
    /// `now at N nsecs` and first `jiffies: J`) and the highest possible CPU number.
    /// `None` when the text does not parse, the tick rate is not one Linux uses, or the
    /// per-CPU skew of `round_jiffies` (3 jiffies per CPU number) spreads the windows
    /// of all CPUs over the whole second.
    pub fn from_timer_lists(first: &str, second: &str, max_cpu: u64) -> Option<Self> {
        let (t1, j1) = parse_timer_list(first)?;
        let (t2, j2) = parse_timer_list(second)?;
        let dt = t2.checked_sub(t1)?;
        if dt < 50_000_000 {
            return None;
        }
        let rate = (j2.checked_sub(j1)? as f64) * 1e9 / dt as f64;
        let hz = [100u64, 250, 300, 1000].into_iter().min_by(|a, b| {
            (*a as f64 - rate)
                .abs()
                .total_cmp(&(*b as f64 - rate).abs())
        })?;
        if (hz as f64 - rate).abs() > hz as f64 * 0.08 {
            return None;
        }
        let tick = SEC_NS / hz;
        // Ticks fall on multiples of the tick period of CLOCK_MONOTONIC; jiffy j2
        // began at the last one before t2.
        let tick_start = t2 - t2 % tick;
        let to_boundary = (hz - j2 % hz) % hz;
        let boundary = (tick_start + to_boundary * tick) % SEC_NS;
        // CPU c rounds at (j + 3c) % HZ == 0, i.e. 3c ticks before CPU 0's boundary.
        let skew = 3 * max_cpu * tick;
        let len = FUZZ.as_nanos() as u64 + skew + 2 * EDGE_TICKS * tick;
        if len >= SEC_NS / 2 {
            return None;
        }
        let end = boundary + EDGE_TICKS * tick;
        let start = (end + SEC_NS - len % SEC_NS) % SEC_NS;
        Some(Self {
            start_ns: start,
            len_ns: len,
        })
    }

    /// Reads `/proc/timer_list` twice, 100 ms apart (this blocks), and
    /// `/sys/devices/system/cpu/possible`. `None` when any is unreadable.
    pub fn probe() -> Option<Self> {
        let first = std::fs::read_to_string("/proc/timer_list").ok()?;
        std::thread::sleep(Duration::from_millis(100));
        let second = std::fs::read_to_string("/proc/timer_list").ok()?;
        let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok()?;
        let max_cpu = possible.trim().rsplit(['-', ',']).next()?.parse().ok()?;
        Self::from_timer_lists(&first, &second, max_cpu)
    }

    /// How long from the monotonic instant `mono_ns` until it is out of the window;
    /// zero when it is not in it.
    pub fn wait_from(&self, mono_ns: u64) -> Duration {
        let phase = mono_ns % SEC_NS;
        let into = (phase + SEC_NS - self.start_ns) % SEC_NS;
        if into < self.len_ns {
            Duration::from_nanos(self.len_ns - into)
        } else {
            Duration::ZERO
        }
    }
}

/// `now at N nsecs` and the first `jiffies: J` of a `/proc/timer_list`.
fn parse_timer_list(text: &str) -> Option<(u64, u64)> {
    let now = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("now at ")?
            .strip_suffix(" nsecs")?
            .parse()
            .ok()
    })?;
    let jiffies = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("jiffies:")?.trim().parse().ok())?;
    Some((now, jiffies))
}

/// Maps [`Instant`]s to `CLOCK_MONOTONIC` nanoseconds (the clock `Instant` reads on
/// Linux; the anchor only removes the opaque representation).
#[derive(Debug, Clone, Copy)]
pub struct MonoClock {
    anchor: Instant,
    anchor_ns: u64,
}

impl MonoClock {
    /// Anchors now.
    pub fn new() -> Self {
        let anchor = Instant::now();
        let anchor_ns = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| {
                u64::try_from(t.tv_sec()).unwrap_or(0) * SEC_NS
                    + u64::try_from(t.tv_nsec()).unwrap_or(0)
            })
            .unwrap_or(0);
        Self { anchor, anchor_ns }
    }

    /// `at` in monotonic nanoseconds.
    pub fn ns(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.anchor).as_nanos();
        self.anchor_ns + u64::try_from(d).unwrap_or(u64::MAX / 2)
    }
}

impl Default for MonoClock {
    fn default() -> Self {
        Self::new()
    }
}

/// What to do about a lease right after an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Set the lifetime to this many seconds.
    Now(Duration),
    /// Set the lifetime to `lease` (enough for the kernel's rounded lateness) and move
    /// the router's adverts `by` later, so that the next ones, and the refreshes right
    /// after them, end out of the rounding window.
    Shift {
        /// The lifetime to set now.
        lease: Duration,
        /// How much later the adverts go from now on.
        by: Duration,
    },
}

/// How a Master's lease is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeasePlan {
    /// How long after the last advert the lease may end with the kernel's normal
    /// lateness ([`crate::instance::KERNEL_EXPIRY_LATE`]); used when the end avoids the
    /// rounding window.
    pub budget: Duration,
    /// The same with the kernel's rounded lateness; used when the window is unknown or
    /// the end falls in it.
    pub budget_rounded: Duration,
    /// The shortest lease that never lapses between two refreshes.
    pub floor: Duration,
    /// The advert interval.
    pub interval: Duration,
}

impl LeasePlan {
    /// Whether a lease can end within the budget after every advert. When it cannot
    /// (sub-second intervals), the lease is the floor and refreshes may be skipped.
    pub fn tracks_adverts(&self, window_known: bool) -> bool {
        let b = if window_known {
            self.budget
        } else {
            self.budget_rounded
        };
        whole_secs(b) >= self.floor
    }

    /// The refresh, at `now`, for a lease that must end within the budget after the
    /// advert sent at `last_advert`.
    pub fn refresh(
        &self,
        now: Instant,
        last_advert: Instant,
        window: Option<(&RoundingWindow, &MonoClock)>,
    ) -> Refresh {
        let left = |budget: Duration| {
            whole_secs((last_advert + budget).saturating_duration_since(now)).max(self.floor)
        };
        let safe = left(self.budget_rounded);
        let Some((w, clock)) = window else {
            return Refresh::Now(safe);
        };
        let wait = w.wait_from(clock.ns(now));
        if wait.is_zero() {
            Refresh::Now(left(self.budget))
        } else if wait + SHIFT_MARGIN < self.interval / 2 {
            Refresh::Shift {
                lease: safe,
                by: wait + SHIFT_MARGIN,
            }
        } else {
            Refresh::Now(safe)
        }
    }
}

fn whole_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backstop_is_longer_only_when_gated() {
        let one = Duration::from_secs(1);
        assert_eq!(backstop(one, false), one);
        assert_eq!(backstop(one, true), GATED_BACKSTOP);
        let long = GATED_BACKSTOP * 2;
        assert_eq!(backstop(long, true), long);
    }

    fn list(now: u64, jiffies: u64) -> String {
        format!("Timer List Version: v0.10\nHRTIMER_MAX_CLOCK_BASES: 8\nnow at {now} nsecs\n\ncpu: 0\n  .last_jiffies   : 1\njiffies: {jiffies}\n")
    }

    /// The readings of the machine the numbers in BENCHMARKS.md come from: jiffies
    /// 4295172936 at 1122.7776 s, HZ=250, CPUs 0-1. Boundary at phase 32 ms; the
    /// window ends 8 ms after it and starts 250 + 12 + 8 ms before that.
    #[test]
    fn window_from_the_measured_machine() {
        let a = list(1_122_677_613_206, 4_295_172_911);
        let b = list(1_122_777_613_206, 4_295_172_936);
        let w = RoundingWindow::from_timer_lists(&a, &b, 1).unwrap();
        assert_eq!(w.len_ns, 250_000_000 + 12_000_000 + 16_000_000);
        assert_eq!((w.start_ns + w.len_ns) % SEC_NS, 40_000_000);
        // Removals measured late: ends at phases 0.81-0.999 and 0.000-0.03 s.
        assert!(w.wait_from(5_000_000_000 + 700_000_000).is_zero());
        assert!(!w.wait_from(5_000_000_000 + 810_000_000).is_zero());
        assert!(!w.wait_from(6_000_000_000 + 30_000_000).is_zero());
        assert!(w.wait_from(6_000_000_000 + 41_000_000).is_zero());
        assert_eq!(
            w.wait_from(5_000_000_000 + 990_000_000),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn bad_readings_give_no_window() {
        let a = list(1_000_000_000, 100);
        assert_eq!(RoundingWindow::from_timer_lists(&a, "garbage", 1), None);
        // Too close together to tell the tick rate.
        let b = list(1_010_000_000, 102);
        assert_eq!(RoundingWindow::from_timer_lists(&a, &b, 1), None);
        // 170 jiffies a second is no Linux HZ.
        let b = list(2_000_000_000, 270);
        assert_eq!(RoundingWindow::from_timer_lists(&a, &b, 1), None);
        // 64 CPUs at HZ=250 spread the windows over most of the second.
        let b = list(2_000_000_000, 350);
        assert!(RoundingWindow::from_timer_lists(&a, &b, 1).is_some());
        assert_eq!(RoundingWindow::from_timer_lists(&a, &b, 63), None);
    }

    fn plan() -> LeasePlan {
        LeasePlan {
            budget: Duration::from_millis(3244),
            budget_rounded: Duration::from_millis(2804),
            floor: Duration::from_secs(2),
            interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn without_window_the_rounded_budget_decides() {
        let t = Instant::now();
        assert_eq!(
            plan().refresh(t, t, None),
            Refresh::Now(Duration::from_secs(2))
        );
        assert!(plan().tracks_adverts(false));
        assert!(plan().tracks_adverts(true));
    }

    /// Window 762..1040 ms of every second (the measured machine).
    fn window() -> RoundingWindow {
        let a = list(1_122_677_613_206, 4_295_172_911);
        let b = list(1_122_777_613_206, 4_295_172_936);
        RoundingWindow::from_timer_lists(&a, &b, 1).unwrap()
    }

    #[test]
    fn outside_the_window_the_full_budget_is_used() {
        let t = Instant::now();
        let clock = MonoClock {
            anchor: t,
            anchor_ns: 7_500_000_000,
        };
        assert_eq!(
            plan().refresh(t, t, Some((&window(), &clock))),
            Refresh::Now(Duration::from_secs(3))
        );
        // A refresh late after its advert gets what is left of the budget.
        let late = t + Duration::from_millis(250);
        assert_eq!(
            plan().refresh(late, t, Some((&window(), &clock))),
            Refresh::Now(Duration::from_secs(2))
        );
    }

    #[test]
    fn inside_the_window_the_adverts_move_out_of_it() {
        let t = Instant::now();
        // 100 ms into the window: 178 ms to its end.
        let clock = MonoClock {
            anchor: t,
            anchor_ns: 7_862_000_000,
        };
        assert_eq!(
            plan().refresh(t, t, Some((&window(), &clock))),
            Refresh::Shift {
                lease: Duration::from_secs(2),
                by: Duration::from_millis(198)
            }
        );
        // The next advert, 1 s + 198 ms later, is out of it, and so is its refresh
        // even when it comes later after its advert than this one did.
        let next = t + Duration::from_millis(1198);
        assert_eq!(
            plan().refresh(next, next, Some((&window(), &clock))),
            Refresh::Now(Duration::from_secs(3))
        );
        // Regression: a shift of exactly the rest of the window, measured 15 ms after
        // the advert, put the next advert 15 ms before the window's end.
        let advert = t - Duration::from_millis(15);
        let Refresh::Shift { by, .. } = plan().refresh(t, advert, Some((&window(), &clock))) else {
            panic!("in the window");
        };
        let next_advert = advert + Duration::from_secs(1) + by;
        assert!(w_wait(&clock, next_advert).is_zero());
    }

    fn w_wait(clock: &MonoClock, at: Instant) -> Duration {
        window().wait_from(clock.ns(at))
    }

    #[test]
    fn a_lease_never_ends_past_the_budget() {
        let p = plan();
        let t = Instant::now();
        for late_ms in [0u64, 100, 244, 245, 804, 805, 900, 2000] {
            let now = t + Duration::from_millis(late_ms);
            let Refresh::Now(n) = p.refresh(now, t, None) else {
                panic!("no window, no shift");
            };
            assert!(now + n <= t + p.budget_rounded || n == p.floor, "{late_ms}");
        }
    }

    #[test]
    fn sub_second_does_not_track() {
        let p = LeasePlan {
            budget: Duration::from_millis(180),
            budget_rounded: Duration::ZERO,
            floor: Duration::from_secs(1),
            interval: Duration::from_millis(100),
        };
        assert!(!p.tracks_adverts(true));
    }
}
