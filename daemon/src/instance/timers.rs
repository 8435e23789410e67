//! Timer arithmetic of RFC 5798 §6.1 (VRRPv3) and RFC 3768 §6.1 (VRRPv2), and the VIP lease.
//!
//! All values are computed at nanosecond precision, not in the protocol's centisecond
//! units, so that `Skew_Time` for priority 100 at 1 s is exactly 609.375 ms.

use std::time::Duration;

use super::ProtoVersion;

/// How late the kernel removes an address after its valid lifetime ran out
/// (*verified* on the project's kernels: 0–300 ms).
pub const KERNEL_EXPIRY_SLACK: Duration = Duration::from_millis(300);

/// Allowance for the jitter between the advert a peer last saw and the lease refresh
/// that went with it (event loop latency, timer wheel granularity).
pub const ADVERT_JITTER: Duration = Duration::from_millis(200);

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

/// The kernel address lifetime (valid and preferred) a Master gives its VIPs when it
/// advertises every `advert_interval`, so that a SIGKILLed or frozen daemon's VIPs
/// vanish before a peer's `Master_Down_Interval` runs out.
///
/// Kernel lifetimes are whole seconds. The preferred lease `L` is the largest whole
/// number of seconds such that
///
/// * `L + KERNEL_EXPIRY_SLACK + ADVERT_JITTER ≤ 3 × advert_interval`: the VIP is gone
///   before any peer can take over (a peer waits at least `3 × interval + Skew_Time`
///   after the last advert, and each advert carries a refresh), and
/// * `L ≥ advert_interval + 1 s`: a refresh every interval cannot let the lease lapse
///   while the master is alive, with a full second to spare.
///
/// When no such `L` exists (intervals below 0.84 s, and also 1 s < interval < 1.17 s,
/// where the two bounds straddle a whole second) the lease is the smallest whole number
/// of seconds, at least 1, with `L ≥ advert_interval + ADVERT_JITTER`: never lapsing
/// wins over never overlapping, since a lapse is an outage every interval on a healthy
/// master, while an overlap needs a crash. The VIP may then outlive a crashed master by
/// up to [`lease_overlap_bound`] beyond the peer's takeover (zero from 0.5 s on).
///
/// At 1 s this gives 2 s: the VIP is gone at most 2.3 s after the last refresh, and a
/// peer takes over no sooner than 3 s + Skew_Time after the last advert: no overlap.
pub fn lease_for(advert_interval: Duration) -> Duration {
    let ceiling = advert_interval
        .saturating_mul(3)
        .saturating_sub(KERNEL_EXPIRY_SLACK + ADVERT_JITTER);
    let preferred = Duration::from_secs(ceiling.as_secs());
    if preferred >= Duration::from_secs(1)
        && preferred >= advert_interval.saturating_add(Duration::from_secs(1))
    {
        return preferred;
    }
    let floor = advert_interval.saturating_add(ADVERT_JITTER);
    let secs = floor.as_secs() + u64::from(floor.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// Worst-case time a SIGKILLed master's VIP may coexist with the peer's copy when the
/// master advertised every `advert_interval` with the lease [`lease_for`] gives:
/// `max(0, L + KERNEL_EXPIRY_SLACK − 3 × advert_interval)`. It ignores the peer's
/// `Skew_Time` (which only shortens the overlap), so it is a bound, not an estimate.
/// Zero for every interval where [`lease_for`] found a lease under its ceiling.
pub fn lease_overlap_bound(advert_interval: Duration) -> Duration {
    (lease_for(advert_interval) + KERNEL_EXPIRY_SLACK)
        .saturating_sub(advert_interval.saturating_mul(3))
}

/// `d × num / den` at nanosecond precision, saturating.
fn scale(d: Duration, num: u32, den: u32) -> Duration {
    let nanos = d.as_nanos().saturating_mul(u128::from(num)) / u128::from(den.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
