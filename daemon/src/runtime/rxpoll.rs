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
//! and the time the receive buffer's worth of packets ([`max_batch`]) takes to arrive.

use std::time::{Duration, Instant};

/// The longest poll period. Each wakeup costs about 90 µs of CPU in the footprint
/// bench's VM (the context switch and its mitigations, not the reads): at 255 Backups
/// × 100 ms a 10 ms period cost 1.6 % of a core, 25 ms 1.0 %.
pub const MAX_PERIOD: Duration = Duration::from_millis(50);
/// Packets expected per period below which a socket keeps a wakeup per packet.
pub const MIN_BATCH: f64 = 4.0;
/// Packets expected per period at most: they wait in the socket's receive buffer
/// ([`RCVBUF`]).
pub const MAX_BATCH: f64 = 256.0;
/// Receive-buffer bytes counted per waiting packet (a small datagram's `truesize` is
/// 0.8–1.3 kB on veth, more on some NICs): a period never expects more packets than
/// the granted buffer holds at this size ([`max_batch`]).
pub const PACKET_BUDGET: usize = 2048;
/// How long a polled socket that received more than [`MAX_BATCH`] packets in one
/// period wakes the loop per packet instead (a flood, or more peers than configured).
pub const BUSY_HOLD: Duration = Duration::from_secs(5);
/// The receive buffer vrrpd asks for on its VRRP sockets: [`MAX_BATCH`] packets with
/// room to spare.
pub const RCVBUF: usize = 1 << 20;
/// The oldest a receive timestamp is believed (twice [`MAX_PERIOD`]): a larger age (a
/// process frozen with packets queued) is cut to this, which dates the packet later
/// than it came, so a timer can only fire later, never before an advert that arrived
/// in time. The age is also cut to the time since the socket's previous read began,
/// which no packet read now can be older than; only a forward step of the wall clock
/// (on which the timestamps are taken) between arrival and read can date a packet
/// early, by at most that time.
pub const MAX_AGE: Duration = Duration::from_millis(100);

/// The most packets a period may expect with `rcvbuf` bytes of receive buffer:
/// [`MAX_BATCH`], or fewer when the kernel granted less than asked.
pub fn max_batch(rcvbuf: usize) -> f64 {
    MAX_BATCH.min((rcvbuf / PACKET_BUDGET) as f64)
}

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

/// How often to read a socket whose routers are `listeners`, with room for `max_batch`
/// packets ([`max_batch`]); `None`: wake per packet.
pub fn poll_period(
    listeners: impl IntoIterator<Item = Listener>,
    max_batch: f64,
) -> Option<Duration> {
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
        period = period.min(Duration::from_secs_f64(max_batch.max(0.0) / rate));
    }
    (!period.is_zero() && rate * period.as_secs_f64() >= MIN_BATCH).then_some(period)
}

/// The instant a packet arrived: `now` less its age, the wall-clock reading `real_now`
/// (taken with `now`) less its receive timestamp `stamp`, cut to [`MAX_AGE`] and to
/// `now − last_read` (when the socket's previous read began). No stamp, or one from
/// the future: `now`.
pub fn arrival(
    now: Instant,
    real_now: Duration,
    stamp: Option<Duration>,
    last_read: Option<Instant>,
) -> Instant {
    let bound = last_read.map_or(MAX_AGE, |t| now.saturating_duration_since(t).min(MAX_AGE));
    let age = stamp
        .and_then(|s| real_now.checked_sub(s))
        .unwrap_or(Duration::ZERO)
        .min(bound);
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
        let at_100ms = |skew| Listener::Backup {
            interval: ms(100),
            skew,
        };
        let l = std::iter::repeat_n(at_100ms(skew), 255);
        assert_eq!(
            poll_period(l, MAX_BATCH),
            Some(MAX_PERIOD.min(skew - skew / 4))
        );
        // Priority 200: Skew_Time 21.9 ms.
        let l = std::iter::repeat_n(at_100ms(Duration::from_micros(21_875)), 255);
        assert_eq!(
            poll_period(l, MAX_BATCH),
            Some(Duration::from_nanos(16_406_250))
        );
    }

    #[test]
    fn a_period_holds_at_most_max_batch_packets() {
        // 4,000 Backups at 100 ms: 40,000 packets a second, 256 in 6.4 ms.
        let l = std::iter::repeat_n(backup(100, 61), 4000);
        assert_eq!(poll_period(l, MAX_BATCH), Some(Duration::from_micros(6400)));
    }

    #[test]
    fn a_master_on_the_socket_means_per_packet_wakeups() {
        let l = std::iter::repeat_n(backup(100, 61), 254).chain([Listener::Master]);
        assert_eq!(poll_period(l, MAX_BATCH), None);
    }

    #[test]
    fn few_packets_per_period_keep_per_packet_wakeups() {
        // One Backup at 1 s: 0.01 packets per 10 ms.
        assert_eq!(poll_period([backup(1000, 609)], MAX_BATCH), None);
        assert_eq!(
            poll_period([Listener::Idle, Listener::Idle], MAX_BATCH),
            None
        );
        assert_eq!(poll_period(std::iter::empty(), MAX_BATCH), None);
    }

    #[test]
    fn period_is_at_most_three_quarters_of_the_smallest_skew() {
        // Skew 4 ms (priority 246 at 100 ms): 3 ms; 1,000 Backups expected.
        let l = std::iter::repeat_n(backup(100, 61), 999).chain([backup(100, 4)]);
        assert_eq!(poll_period(l, MAX_BATCH), Some(ms(3)));
        // 20 ms adverts, Skew 12 ms: 9 ms.
        let l = std::iter::repeat_n(backup(20, 12), 100);
        assert_eq!(poll_period(l, MAX_BATCH), Some(ms(9)));
    }

    #[test]
    fn arrival_is_dated_by_the_stamp_within_max_age() {
        let now = Instant::now();
        let real = Duration::from_secs(1_700_000_000);
        assert_eq!(arrival(now, real, Some(real - ms(7)), None), now - ms(7));
        assert_eq!(arrival(now, real, None, None), now);
        // A stamp from the future (wall clock stepped back): now.
        assert_eq!(arrival(now, real, Some(real + ms(5)), None), now);
        // Older than MAX_AGE: dated MAX_AGE ago, later than it came.
        assert_eq!(
            arrival(now, real, Some(real - ms(5000)), None),
            now - MAX_AGE
        );
        // Never older than the previous read (a forward step of the wall clock).
        let last = Some(now - ms(20));
        assert_eq!(arrival(now, real, Some(real - ms(7)), last), now - ms(7));
        assert_eq!(arrival(now, real, Some(real - ms(60)), last), now - ms(20));
    }

    #[test]
    fn a_small_receive_buffer_shortens_the_period() {
        assert_eq!(max_batch(2 << 20), MAX_BATCH);
        // 208 kB (a default rmem_max): 104 packets.
        assert_eq!(max_batch(212_992), 104.0);
        // 255 Backups at 100 ms with 104 packets of room: 40.8 ms.
        let l = std::iter::repeat_n(backup(100, 61), 255);
        assert_eq!(
            poll_period(l, max_batch(212_992)),
            Some(Duration::from_secs_f64(104.0 / 2550.0))
        );
    }
}
