//! Section `expiry`: how late after its valid lifetime ends the kernel removes an
//! address, for IPv4 and IPv6, with the lease vrrpd gives at 1 s adverts.
//!
//! Each sample: in a fresh namespace of its own (the kernel's lifetime worker is per
//! namespace since Linux 6.14, so samples do not disturb each other), add one address
//! to `lo` through [`vrrpd::vip::VipManager`] (the daemon's own code path, with its
//! preferred lifetime split) with a lifetime of N s, then wait for the kernel's
//! `RTM_DELADDR`. Late = removal − (instant before the request + N s). Sample k of
//! namespace j (the i-th overall) starts at phase `617 × i mod 1000` ms of the clock's
//! second, so the ends cover every part of the kernel's second, including the
//! quarter second the kernel rounds up (see `vrrpd::runtime::lease`). Each sample
//! records that phase, so the table shows lateness inside and outside the window.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use serde::Serialize;
use vrrpd::runtime::lease::{MonoClock, RoundingWindow};
use vrrpd::vip::{Vip, VipManager};

use super::{Stats, Target, Verdict};
use crate::lab::netns;

/// Samples per family.
pub const SAMPLES: usize = 200;
/// Namespaces measured at once per family.
const NAMESPACES: usize = 25;
/// The lease measured: what vrrpd gives at 1 s adverts (priority 100–253).
pub const LEASE_SECS: u32 = 3;

/// One removal.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExpirySample {
    /// Removal − lease end, ms.
    pub late_ms: f64,
    /// Whether the end fell in the kernel's rounding window (`None`: window unknown).
    pub in_window: Option<bool>,
}

/// The lateness of one family.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryRow {
    /// `IPv4` or `IPv6`.
    pub family: String,
    /// The lease, s.
    pub lease_s: u32,
    /// Every sample.
    pub samples: Vec<ExpirySample>,
    /// All samples, ms.
    pub all: Option<Stats>,
    /// Largest, ms.
    pub max_ms: Option<f64>,
    /// Samples whose end avoided the window, ms (what vrrpd relies on).
    pub outside: Option<Stats>,
    /// Largest of those, ms.
    pub outside_max_ms: Option<f64>,
    /// Largest lateness of an end inside the window, ms.
    pub inside_max_ms: Option<f64>,
}

/// The section.
#[derive(Debug, Clone, Serialize)]
pub struct ExpirySection {
    /// The rounding window vrrpd found, as text (`unknown` when it found none).
    pub window: String,
    /// IPv4 and IPv6.
    pub rows: Vec<ExpiryRow>,
}

impl ExpirySection {
    /// Target: outside the window, never later than the bound vrrpd's lease assumes.
    pub fn targets(&self) -> Vec<Target> {
        let bound = vrrpd::instance::KERNEL_EXPIRY_LATE.as_secs_f64() * 1e3;
        let rounded = vrrpd::instance::KERNEL_EXPIRY_LATE_ROUNDED.as_secs_f64() * 1e3;
        let mut out = Vec::new();
        for r in &self.rows {
            out.push(match r.outside_max_ms {
                Some(m) => Target {
                    what: format!(
                        "kernel expiry {}: outside the rounding window ≤ {bound:.0} ms late (vrrpd's KERNEL_EXPIRY_LATE)",
                        r.family
                    ),
                    measured: format!("worst {m:.1} ms"),
                    verdict: Verdict::from_bool(m <= bound),
                },
                None => Target {
                    what: format!("kernel expiry {}: measured outside the window", r.family),
                    measured: "no sample".into(),
                    verdict: Verdict::Unknown,
                },
            });
            if let Some(m) = r.max_ms {
                out.push(Target {
                    what: format!(
                        "kernel expiry {}: anywhere ≤ {rounded:.0} ms late (KERNEL_EXPIRY_LATE_ROUNDED)",
                        r.family
                    ),
                    measured: format!("worst {m:.1} ms"),
                    verdict: Verdict::from_bool(m <= rounded),
                });
            }
        }
        out
    }
}

/// Measures both families, `samples` each. Needs root.
pub async fn run(samples: usize) -> Result<ExpirySection> {
    let window = tokio::task::spawn_blocking(RoundingWindow::probe)
        .await
        .context("window probe")?;
    let clock = MonoClock::new();
    let mut rows = Vec::new();
    for v6 in [false, true] {
        let per = samples.div_ceil(NAMESPACES).max(1);
        let labels: Vec<String> = (0..NAMESPACES)
            .map(|j| format!("expiry-{}-{j}", if v6 { 6 } else { 4 }))
            .collect();
        let fresh = netns::create_many(&labels)?;
        let mut tasks = Vec::new();
        for (j, f) in fresh.into_iter().enumerate() {
            tasks.push(tokio::spawn(one_namespace(f, j, per, v6, window, clock)));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.map_err(|e| anyhow!("expiry task: {e}"))??);
        }
        all.truncate(samples);
        rows.push(row(if v6 { "IPv6" } else { "IPv4" }, all));
    }
    Ok(ExpirySection {
        window: window.map_or_else(|| "unknown".to_string(), |w| format!("{w:?}")),
        rows,
    })
}

fn row(family: &str, samples: Vec<ExpirySample>) -> ExpiryRow {
    let late: Vec<f64> = samples.iter().map(|s| s.late_ms).collect();
    let outside: Vec<f64> = samples
        .iter()
        .filter(|s| s.in_window == Some(false))
        .map(|s| s.late_ms)
        .collect();
    let max = |v: &[f64]| v.iter().copied().max_by(f64::total_cmp);
    let inside: Vec<f64> = samples
        .iter()
        .filter(|s| s.in_window == Some(true))
        .map(|s| s.late_ms)
        .collect();
    ExpiryRow {
        family: family.to_string(),
        lease_s: LEASE_SECS,
        all: Stats::of(&late),
        max_ms: max(&late),
        outside: Stats::of(&outside),
        outside_max_ms: max(&outside),
        inside_max_ms: max(&inside),
        samples,
    }
}

async fn one_namespace(
    fresh: netns::Fresh,
    j: usize,
    per: usize,
    v6: bool,
    window: Option<RoundingWindow>,
    clock: MonoClock,
) -> Result<Vec<ExpirySample>> {
    let rt = tokio::runtime::Handle::current();
    let (conn, handle, mut events) = fresh.ns.run(move || {
        let _g = rt.enter();
        rtnetlink::new_multicast_connection(&[
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .context("netlink multicast socket")
    })?;
    let conn_task = tokio::spawn(conn);
    let result = async {
        let vips = VipManager::new(handle).await;
        let lease = Duration::from_secs(u64::from(LEASE_SECS));
        let mut out = Vec::new();
        for k in 0..per {
            // Start at a chosen phase of the second.
            let want = (((j * per + k) * 617) % 1000) as u64 * 1_000_000;
            let now_ns = clock.ns(Instant::now());
            let wait = (want + 1_000_000_000 - now_ns % 1_000_000_000) % 1_000_000_000;
            tokio::time::sleep(Duration::from_nanos(wait)).await;
            let addr: IpAddr = if v6 {
                IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x99, k as u16 + 1))
            } else {
                IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, (k % 250) as u8 + 1))
            };
            let vip = Vip {
                addr,
                prefix_len: if v6 { 128 } else { 32 },
                label: Some("lo".into()),
            };
            let before = Instant::now();
            vips.add(1, &vip, 1, Some(lease))
                .await
                .with_context(|| format!("add {vip}"))?;
            let end = before + lease;
            let deadline = end + Duration::from_secs(3);
            let removed = tokio::time::timeout_at(deadline.into(), async {
                while let Some((msg, _)) = events.next().await {
                    if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(m)) =
                        msg.payload
                    {
                        let hit = m.attributes.iter().any(|a| {
                            matches!(a, AddressAttribute::Address(x) | AddressAttribute::Local(x) if *x == addr)
                        });
                        if hit {
                            return Some(Instant::now());
                        }
                    }
                }
                None
            })
            .await
            .ok()
            .flatten()
            .with_context(|| format!("{vip} was not removed within 3 s of its lease end"))?;
            let late_ms = if removed >= end {
                (removed - end).as_secs_f64() * 1e3
            } else {
                -((end - removed).as_secs_f64() * 1e3)
            };
            out.push(ExpirySample {
                late_ms,
                in_window: window.map(|w| !w.wait_from(clock.ns(end)).is_zero()),
            });
        }
        Ok(out)
    }
    .await;
    conn_task.abort();
    result
}
