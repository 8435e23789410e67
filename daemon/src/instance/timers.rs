//! Timer arithmetic of RFC 5798 §6.1 (VRRPv3) and RFC 3768 §6.1 (VRRPv2), and the VIP lease.
//!
//! All values are computed at nanosecond precision, not in the protocol's centisecond
//! units, so that `Skew_Time` for priority 100 at 1 s is exactly 609.375 ms.

use std::time::{Duration, Instant};

use super::ProtoVersion;

/// How late the kernel removes an address after its valid lifetime ended, at most,
/// when the end does not fall in the kernel's rounding window (see
/// `runtime::lease::RoundingWindow`) and the lease is split by a preferred lifetime
/// ([`crate::vip::preferred_secs`]). Measured on kernel 6.18, HZ=250
/// (`vrrplab bench --only expiry`): 24–93 ms over 400 IPv4 and IPv6 addresses with a
/// 3 s lease, most within 57 ms: two timer-wheel sleeps of 32 ms granularity plus the
/// worker's scheduling.
pub const KERNEL_EXPIRY_LATE: Duration = Duration::from_millis(120);

/// The same when the end may fall in the rounding window: the kernel's lifetime worker
/// rounds its next wake-up up to a whole second of jiffies when that is less than a
/// quarter second away (`ADDRCONF_TIMER_FUZZ`), and the longer sleep lands in the
/// 256 ms level of the timer wheel: 250 + 256 ms plus scheduling. Measured up to 474 ms.
pub const KERNEL_EXPIRY_LATE_ROUNDED: Duration = Duration::from_millis(560);

/// How early the kernel may remove an address: its worker treats an address as
/// expired up to `ADDRCONF_TIMER_FUZZ_MINUS` (HZ/50 jiffies, 20 ms) before its end.
pub const KERNEL_EXPIRY_EARLY: Duration = Duration::from_millis(20);

/// Safety margin between the latest kernel removal and the earliest takeover.
pub const LEASE_MARGIN: Duration = Duration::from_millis(50);

/// Allowance for the jitter between two refreshes of a live master (event loop
/// latency, a loaded machine): a lease must outlive one interval plus this.
pub const ADVERT_JITTER: Duration = Duration::from_millis(200);

/// How long before the earliest takeover by a peer the nftables gate of a killed
/// master ends ([`gate_end`]). Element timeouts are kept in jiffies (HZ=250 here:
/// 4 ms ticks, and the ms -> jiffies conversion rounds up, so an element may live up to
/// one tick longer than asked); an expired element stops matching at lookup time (the
/// packet path compares the expiry with the current jiffies), not when garbage
/// collection removes it later. The margin covers two ticks (HZ=250; 20 ms at HZ=100
/// would take one), the time between reading the clock for the timeout and the
/// kernel's commit of the batch, and the peer's timer firing a little early; the
/// peer's Master_Down timer starts when it *receives* the advert, which is after the
/// instant the gate's end is counted from.
pub const GATE_MARGIN: Duration = Duration::from_millis(20);

/// When the gate of a master that sent an advert at `advert_sent` must end:
/// `advert_sent + Master_Down_Interval(own priority) − GATE_MARGIN`. Like
/// [`lease_budget`], the bound uses the master's own priority (see there for the
/// `preempt = false` caveat).
///
/// At 100 ms and priority 150 this is 341.4 − 20 ms after the advert; a peer at
/// priority 100 takes over 360.9 ms after it, an equal one at 341.4 ms.
pub fn gate_end(
    advert_sent: Instant,
    version: ProtoVersion,
    priority: u8,
    advert_interval: Duration,
) -> Instant {
    advert_sent
        + master_down_interval(version, priority, advert_interval).saturating_sub(GATE_MARGIN)
}

/// The element timeout to write at `now` for a gate ending at `end`: `end − now`,
/// whole milliseconds rounded down (the kernel takes ms), `None` when less than one
/// millisecond is left (the gate has ended: it must not be reopened as a refresh).
pub fn gate_timeout(end: Instant, now: Instant) -> Option<Duration> {
    let left = end.saturating_duration_since(now);
    let ms = left.as_millis();
    (ms >= 1).then(|| Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
}

/// `Skew_Time` for a router of `priority` whose current master advertises every
/// `master_adver_interval`.
///
/// * v3 (RFC 5798): `((256 − Priority) × Master_Adver_Interval) / 256`.
/// * v2 (RFC 3768): `(256 − Priority) / 256` seconds; the interval is not used.
pub fn skew_time(version: ProtoVersion, priority: u8, master_adver_interval: Duration) -> Duration {
    let weight = 256 - u32::from(priority);
    match version {
        ProtoVersion::V3 => scale(master_adver_interval, weight, 256),
        ProtoVersion::V2 => scale(Duration::from_secs(1), weight, 256),
    }
}

/// `Master_Down_Interval`: how long a Backup waits without hearing the master before it
/// takes over: `3 × Master_Adver_Interval + Skew_Time` (v2: the interval is the
/// locally configured `Advertisement_Interval`, which RFC 3768 requires to match the
/// master's).
pub fn master_down_interval(
    version: ProtoVersion,
    priority: u8,
    master_adver_interval: Duration,
) -> Duration {
    master_adver_interval.saturating_mul(3) + skew_time(version, priority, master_adver_interval)
}

/// How long after a master's last advert its lease may end so that the kernel has
/// removed the VIP before any peer takes over, when the kernel is at most `late` late:
/// `Master_Down_Interval − late − LEASE_MARGIN`.
///
/// The earliest takeover is by the best backup. With preemption (the default) every
/// backup has a priority no higher than the master's (a higher one would have taken
/// over), so the bound uses the master's own priority: the backup with the smallest
/// `Skew_Time` a live master can have. A peer configured with `preempt = false` and a
/// *higher* priority breaks this assumption; it takes over up to
/// `Skew_Time(ours) − Skew_Time(its)` sooner (at most one interval).
pub fn lease_budget(
    version: ProtoVersion,
    priority: u8,
    advert_interval: Duration,
    late: Duration,
) -> Duration {
    master_down_interval(version, priority, advert_interval).saturating_sub(late + LEASE_MARGIN)
}

/// The shortest lease that never lapses on a live master refreshing every
/// `advert_interval`: one interval, jitter and the kernel's early removal, rounded up
/// to whole seconds, at least 1 s.
pub fn lease_floor(advert_interval: Duration) -> Duration {
    let floor = advert_interval + ADVERT_JITTER + KERNEL_EXPIRY_EARLY;
    let secs = floor.as_secs() + u64::from(floor.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// The kernel address lifetime a Master gives its VIPs right after an advert: the
/// largest whole number of seconds within [`lease_budget`] (with the kernel at most
/// [`KERNEL_EXPIRY_LATE`] late), so that the VIP is gone just before the peer's takeover.
/// When even [`lease_floor`] does not fit (intervals below about 0.85 s) the lease is
/// [`lease_floor`]: never lapsing wins over never overlapping, since a lapse is an
/// outage every interval on a healthy master, while an overlap needs a crash; the VIP
/// may then outlive a crashed master by up to [`lease_overlap_bound`].
///
/// At 1 s and priority 150 this gives 3 s: the VIP is gone at most 3.12 s after the
/// last advert, and no peer takes over before 3.41 s.
pub fn lease_for(version: ProtoVersion, priority: u8, advert_interval: Duration) -> Duration {
    let budget = lease_budget(version, priority, advert_interval, KERNEL_EXPIRY_LATE);
    let fit = Duration::from_secs(budget.as_secs());
    let floor = lease_floor(advert_interval);
    if fit >= floor {
        fit
    } else {
        floor
    }
}

/// Worst-case time a SIGKILLed master's VIP may coexist with the copy of a peer of
/// equal priority, with the lease [`lease_for`] gives and the kernel up to
/// [`KERNEL_EXPIRY_LATE_ROUNDED`] late (a refresh between adverts can make the lease
/// end up to a whole lease after the last advert):
/// `max(0, L + KERNEL_EXPIRY_LATE_ROUNDED − Master_Down_Interval)`. Zero wherever
/// [`lease_for`] found a lease within its budget (the runtime then refreshes after every
/// advert, and only when the end stays out of the kernel's rounding window).
pub fn lease_overlap_bound(
    version: ProtoVersion,
    priority: u8,
    advert_interval: Duration,
) -> Duration {
    let lease = lease_for(version, priority, advert_interval);
    let budget = lease_budget(version, priority, advert_interval, KERNEL_EXPIRY_LATE);
    if lease <= budget {
        return Duration::ZERO;
    }
    (lease + KERNEL_EXPIRY_LATE_ROUNDED).saturating_sub(master_down_interval(
        version,
        priority,
        advert_interval,
    ))
}

/// `d × num / den` at nanosecond precision, saturating.
fn scale(d: Duration, num: u32, den: u32) -> Duration {
    let nanos = d.as_nanos().saturating_mul(u128::from(num)) / u128::from(den.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    #[test]
    fn gate_ends_before_the_earliest_takeover() {
        let t = Instant::now();
        let iv = Duration::from_millis(100);
        let end = gate_end(t, ProtoVersion::V3, 150, iv);
        // Master_Down_Interval(150) = 300 + 106/256 × 100 ms = 341.40625 ms.
        assert_eq!(
            end - t,
            Duration::from_micros(341_406) + Duration::from_nanos(250) - GATE_MARGIN
        );
        // A peer at 100 takes over at 360.9 ms, an equal one at 341.4 ms.
        let peer = master_down_interval(ProtoVersion::V3, 100, iv);
        assert_eq!(
            peer,
            Duration::from_micros(360_937) + Duration::from_nanos(500)
        );
        assert!(end < t + peer);
        assert!(end + GATE_MARGIN <= t + master_down_interval(ProtoVersion::V3, 150, iv));
        // At 1 s: 3.414 s − margin.
        let end = gate_end(t, ProtoVersion::V3, 150, Duration::from_secs(1));
        assert_eq!(
            end - t,
            Duration::from_micros(3_414_062) + Duration::from_nanos(500) - GATE_MARGIN
        );
    }

    #[test]
    fn timeout_is_what_is_left_never_zero() {
        let t = Instant::now();
        let end = t + Duration::from_micros(321_406);
        assert_eq!(gate_timeout(end, t), Some(Duration::from_millis(321)));
        // A flush deferred by 7 ms writes 7 ms less: the end does not move.
        assert_eq!(
            gate_timeout(end, t + Duration::from_millis(7)),
            Some(Duration::from_millis(314))
        );
        assert_eq!(gate_timeout(end, end - Duration::from_micros(999)), None);
        assert_eq!(gate_timeout(end, end), None);
        assert_eq!(gate_timeout(end, end + Duration::from_secs(1)), None);
    }
}
