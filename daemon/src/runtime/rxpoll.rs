//! When a VRRP socket is read on a schedule instead of waking the loop for every
//! packet, and when a packet read late arrived (pure).
//!
//! A Backup only has to act on an advert before one of its timers would fire without
//! it: the advert restarts `Master_Down_Timer` from the instant it *arrived*, and a
//! priority-0 advert sets it to arrival + `Skew_Time`. So when every router on a
//! socket is Backup, the loop can leave the socket out of the reactor and read it every
//! [`poll_period`], dating each packet by the kernel's receive timestamp
//! ([`arrival`]); it also reads it before any router timer fires. Timers then fire at
//! the same instants as when each packet woke the loop, and a period of at most three
//! quarters of the smallest `Skew_Time` on the socket keeps even a priority-0
//! takeover on time, with a quarter of it to spare for a busy loop.
//! At 255 Backups × 100 ms the 2,550 wakeups a second (each a context switch, most of
//! a Backup's CPU) become 22.
//!
//! A socket with a Master on it always wakes the loop per packet (a better advert must
//! make it yield at once), and so does one whose Backups expect fewer than
//! [`MIN_BATCH`] packets per period, where polling would add wakeups, not save them.
//! The period is at most [`MAX_PERIOD`], three quarters of the smallest `Skew_Time`,
//! and the time [`MAX_BATCH`] packets take to arrive.

use std::time::{Duration, Instant};

/// The longest poll period. Each wakeup costs about 90 µs of CPU in the footprint
/// bench's VM (the context switch and its mitigations, not the reads): at 255 Backups
/// × 100 ms a 10 ms period cost 1.6 % of a core, 25 ms 1.0 %.
pub const MAX_PERIOD: Duration = Duration::from_millis(50);
/// Packets expected per period below which a socket keeps a wakeup per packet.
pub const MIN_BATCH: f64 = 4.0;
/// Packets expected per period at most: they wait in the socket's receive buffer
/// ([`RCVBUF`]), about 1.3 kB each.
pub const MAX_BATCH: f64 = 256.0;
/// How long a polled socket that received more than [`MAX_BATCH`] packets in one
/// period wakes the loop per packet instead (a flood, or more peers than configured).
pub const BUSY_HOLD: Duration = Duration::from_secs(5);
/// The receive buffer vrrpd asks for on its VRRP sockets: [`MAX_BATCH`] packets with
/// room to spare.
pub const RCVBUF: usize = 1 << 20;
/// The oldest a receive timestamp is believed: a larger age (a process frozen with
/// packets queued, or a step of the wall clock, which the timestamps are read on) is
/// cut to this, which dates the packet later than it came, never earlier, so a timer
/// can only fire later, never before an advert that arrived in time.
pub const MAX_AGE: Duration = Duration::from_millis(50);

/// A socket read on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polled {
    /// The period ([`poll_period`]).
    pub every: Duration,
    /// The next read.
    pub next: Instant,
}

/// What [`poll_period`] needs to know of one router on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// A Master: per-packet wakeups.
    Master,
    /// A Backup at this `Master_Adver_Interval` and `Skew_Time`.
    Backup {
        /// `Master_Adver_Interval`: one advert expected per interval.
        interval: Duration,
        /// Its `Skew_Time`: how soon after a priority-0 advert it takes over.
        skew: Duration,
    },
    /// Initialize, Fault or Stopped: ignores adverts.
    Idle,
}

/// How often to read a socket whose routers are `listeners`; `None`: wake per packet.
pub fn poll_period(listeners: impl IntoIterator<Item = Listener>) -> Option<Duration> {
    let mut period = MAX_PERIOD;
    let mut rate = 0.0_f64;
    for l in listeners {
        match l {
            Listener::Master => return None,
            Listener::Backup { interval, skew } => {
                period = period.min(skew - skew / 4);
                if !interval.is_zero() {
                    rate += 1.0 / interval.as_secs_f64();
                }
            }
            Listener::Idle => {}
        }
    }
    if rate > 0.0 {
        period = period.min(Duration::from_secs_f64(MAX_BATCH / rate));
    }
    (!period.is_zero() && rate * period.as_secs_f64() >= MIN_BATCH).then_some(period)
}

/// The instant a packet arrived: `now` less its age, the wall-clock reading `real_now`
/// (taken with `now`) less its receive timestamp `stamp`, cut to [`MAX_AGE`]. No stamp,
/// or one from the future: `now`.
pub fn arrival(now: Instant, real_now: Duration, stamp: Option<Duration>) -> Instant {
    let age = stamp
        .and_then(|s| real_now.checked_sub(s))
        .unwrap_or(Duration::ZERO)
        .min(MAX_AGE);
    now.checked_sub(age).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn backup(interval: u64, skew: u64) -> Listener {
        Listener::Backup {
            interval: ms(interval),
            skew: ms(skew),
        }
    }

    #[test]
    fn many_backups_at_100ms_are_polled_within_three_quarters_of_skew() {
        // Priority 100 at 100 ms: Skew_Time 60.9 ms.
        let skew = Duration::from_micros(60_937);
        let l = std::iter::repeat_n(backup(100, 0), 255).map(|b| match b {
            Listener::Backup { interval, .. } => Listener::Backup { interval, skew },
            other => other,
        });
        assert_eq!(poll_period(l), Some(MAX_PERIOD.min(skew - skew / 4)));
        // Priority 200: Skew_Time 21.9 ms.
        let l = std::iter::repeat_n(backup(100, 0), 255).map(|b| match b {
            Listener::Backup { interval, .. } => Listener::Backup {
                interval,
                skew: Duration::from_micros(21_875),
            },
            other => other,
        });
        assert_eq!(poll_period(l), Some(Duration::from_nanos(16_406_250)));
    }

    #[test]
    fn a_period_holds_at_most_max_batch_packets() {
        // 4,000 Backups at 100 ms: 40,000 packets a second, 256 in 6.4 ms.
        let l = std::iter::repeat_n(backup(100, 61), 4000);
        assert_eq!(poll_period(l), Some(Duration::from_micros(6400)));
    }

    #[test]
    fn a_master_on_the_socket_means_per_packet_wakeups() {
        let l = std::iter::repeat_n(backup(100, 61), 254).chain([Listener::Master]);
        assert_eq!(poll_period(l), None);
    }

    #[test]
    fn few_packets_per_period_keep_per_packet_wakeups() {
        // One Backup at 1 s: 0.01 packets per 10 ms.
        assert_eq!(poll_period([backup(1000, 609)]), None);
        assert_eq!(poll_period([Listener::Idle, Listener::Idle]), None);
        assert_eq!(poll_period(std::iter::empty()), None);
    }

    #[test]
    fn period_is_at_most_three_quarters_of_the_smallest_skew() {
        // Skew 4 ms (priority 246 at 100 ms): 3 ms; 1,000 Backups expected.
        let l = std::iter::repeat_n(backup(100, 61), 999).chain([backup(100, 4)]);
        assert_eq!(poll_period(l), Some(ms(3)));
        // 20 ms adverts, Skew 12 ms: 9 ms.
        let l = std::iter::repeat_n(backup(20, 12), 100);
        assert_eq!(poll_period(l), Some(ms(9)));
    }

    #[test]
    fn arrival_is_dated_by_the_stamp_within_max_age() {
        let now = Instant::now();
        let real = Duration::from_secs(1_700_000_000);
        assert_eq!(arrival(now, real, Some(real - ms(7))), now - ms(7));
        assert_eq!(arrival(now, real, None), now);
        // A stamp from the future (wall clock stepped back): now.
        assert_eq!(arrival(now, real, Some(real + ms(5))), now);
        // Older than MAX_AGE: dated MAX_AGE ago, later than it came.
        assert_eq!(arrival(now, real, Some(real - ms(5000))), now - MAX_AGE);
    }
}
