//! The gate's IO ([`crate::gate`] builds the messages): one `NETLINK_NETFILTER`
//! socket, one batch per call, answers read at once.
//!
//! The kernel processes a netlink batch synchronously inside `sendmsg`, so when the
//! send returns every answer is already queued: the error of a failed message (named
//! by its sequence number) and the ack of the batch's last message. Reading never
//! blocks (`MSG_DONTWAIT`); a refresh costs one `sendmsg` and one `recvmsg`.
//!
//! Which refreshes are due, and when a pending one is flushed, is [`Pending`]'s
//! business (pure).

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_netfilter::NetfilterMessage;
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::gate::{Batch, LiveElem};

/// Why a batch failed.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The socket could not send or receive.
    #[error("netlink: {0}")]
    Io(#[from] io::Error),
    /// The kernel refused a message (the batch was rolled back).
    #[error("{what} refused by the kernel: {errno}")]
    Refused {
        /// What the refused message does.
        what: &'static str,
        /// The kernel's error.
        errno: io::Error,
    },
    /// Nothing acknowledged the batch.
    #[error("no answer from the kernel to the batch")]
    NoAnswer,
}

/// The `NETLINK_NETFILTER` socket vrrpd writes its batches with.
pub struct GateSocket {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl GateSocket {
    /// Opens and binds the socket.
    pub fn open() -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_NETFILTER)?;
        sock.bind_auto()?;
        Ok(Self {
            sock,
            seq: 1,
            buf: vec![0; 16 * 1024],
        })
    }

    /// Sends `batch` and reads the kernel's answers: `Ok` when the last message was
    /// acknowledged without any error before it.
    pub fn send(&mut self, batch: Batch) -> Result<(), GateError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (bytes, what) = batch.finish(self.seq);
        self.seq = self.seq.wrapping_add(what.len() as u32);
        // The last message before the batch end carries the ack request.
        let ack_seq = what.get(what.len().saturating_sub(2)).map(|w| w.0);
        // Answers to an earlier batch that failed half-read must not be taken for
        // this one's: sequence numbers tell them apart.
        self.sock.send(&bytes, 0)?;
        let mut first_error = None;
        loop {
            let n = match self.sock.recv(&mut &mut self.buf[..], libc::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            };
            let mut at = 0;
            while at + 16 <= n {
                let len = u32::from_ne_bytes([
                    self.buf[at],
                    self.buf[at + 1],
                    self.buf[at + 2],
                    self.buf[at + 3],
                ]) as usize;
                if len < 16 || at + len > n {
                    break;
                }
                let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&self.buf[at..at + len]);
                at += (len + 3) & !3;
                let Ok(NetlinkMessage {
                    payload: NetlinkPayload::Error(err),
                    ..
                }) = msg
                else {
                    continue;
                };
                // The answered message's header: its sequence number at bytes 8..12.
                let seq = err
                    .header
                    .get(8..12)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_ne_bytes);
                let Some(seq) = seq else { continue };
                let Some(&(_, w)) = what.iter().find(|(s, _)| *s == seq) else {
                    continue;
                };
                if err.code.is_some() {
                    first_error.get_or_insert(GateError::Refused {
                        what: w,
                        errno: err.to_io(),
                    });
                } else if Some(seq) == ack_seq && first_error.is_none() {
                    return Ok(());
                }
            }
        }
        Err(first_error.unwrap_or(GateError::NoAnswer))
    }
}

/// Why the gate cannot be used on this kernel, if it cannot: element timeouts are
/// updated in place only from Linux 6.10 on (older kernels keep the first timeout of
/// an element that is added again, so a live master's gate would close after one
/// budget). `release` is `/proc/sys/kernel/osrelease`.
pub fn kernel_unsupported(release: &str) -> Option<String> {
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next()?;
    let minor = parts.next().unwrap_or(0);
    ((major, minor) < (6, 10)).then(|| {
        format!(
            "kernel {} is older than 6.10, which updates nftables element timeouts in place",
            release.trim()
        )
    })
}

/// One VIP's gate as the runtime tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Entry {
    /// The end the kernel was last given (committed), if open.
    end: Option<Instant>,
    /// The end waiting to be flushed, if a refresh is pending.
    pending: Option<Instant>,
}

/// The open gates and the refreshes waiting for a flush (pure: no IO).
///
/// Policy: a gate is opened at once (flush now). A refresh after an advert records the
/// new end (`advert + budget`); it is flushed
/// * at once when the interval is 1 s or more (one batch a second per instance is
///   cheap and keeps the end tracking the adverts);
/// * below that, when what is left of the committed gate drops under
///   [`REFRESH_BELOW`] intervals (after every advert), within [`COALESCE`] of the
///   advert that asked, in one batch with every other refresh due by then: at most
///   one batch per [`COALESCE`] whatever the number of instances.
///
/// The timeout is computed at flush time as `end − now`, so a deferred flush never
/// moves the end later; a kill before the flush leaves the earlier end committed: more
/// outage, never a conflict.
#[derive(Debug, Default)]
pub struct Pending {
    /// By VIP: looked up once per VIP per advert (2,550 a second at 255 × 100 ms).
    entries: BTreeMap<IpAddr, Entry>,
    /// When the pending refreshes must be written at the latest.
    flush_at: Option<Instant>,
}

/// Below 1 s, refresh once what is left of a gate is below this many intervals. A gate
/// runs 3-4 intervals after an advert, so at 3 every advert refreshes: a killed
/// master's gate then ends one budget after its *last* advert (at 100 ms the outage
/// before the peer's takeover stays about 40 ms; at 2, every second advert, it grew by
/// an interval for a saving within the bench's noise), and a refresh is written with
/// about two intervals left, which absorbs a starved loop.
pub const REFRESH_BELOW: u32 = 3;
/// How long below 1 s a due refresh may wait for others to share its batch.
pub const COALESCE: Duration = Duration::from_millis(10);

impl Pending {
    /// Records that `addr`'s gate should end at `end` (a refresh after an advert sent
    /// at `end − budget`, `interval` apart); returns whether it must be flushed at once.
    pub fn refresh(
        &mut self,
        addr: IpAddr,
        end: Instant,
        now: Instant,
        interval: Duration,
    ) -> bool {
        let e = self.entries.entry(addr).or_default();
        let Some(committed) = e.end else {
            // Not open (closed on purpose, or never opened): opening is not a refresh.
            return false;
        };
        if end <= committed {
            return false;
        }
        e.pending = Some(end);
        if interval >= Duration::from_secs(1) {
            return true;
        }
        let left = committed.saturating_duration_since(now);
        if left >= interval * REFRESH_BELOW {
            // Stays recorded: a flush triggered by another VIP takes it along.
            return false;
        }
        let at = now + COALESCE;
        self.flush_at = Some(self.flush_at.map_or(at, |f| f.min(at)));
        false
    }

    /// Opens `addr`'s gate until `end` (flush at once).
    pub fn open(&mut self, addr: IpAddr, end: Instant) {
        let e = self.entries.entry(addr).or_default();
        e.end = None;
        e.pending = Some(end);
    }

    /// Forgets `addr`'s gate (its element is being deleted).
    pub fn close(&mut self, addr: IpAddr) {
        self.entries.remove(&addr);
    }

    /// When the pending refreshes must be flushed.
    pub fn flush_at(&self) -> Option<Instant> {
        self.flush_at
    }

    /// The end last committed for `addr`, if its gate is open.
    pub fn end(&self, addr: IpAddr) -> Option<Instant> {
        self.entries.get(&addr).and_then(|e| e.end)
    }

    /// The elements to write at `now`: every pending end still in the future, as
    /// timeouts (`end − now`). Ends already past are dropped: such a gate has lapsed and
    /// is not reopened by a refresh. Call [`Pending::committed`] once written.
    pub fn take(&mut self, now: Instant) -> Vec<LiveElem> {
        self.flush_at = None;
        self.entries
            .iter()
            .filter_map(|(&addr, e)| {
                let end = e.pending?;
                let timeout = crate::instance::gate_timeout(end, now)?;
                Some(LiveElem { addr, timeout })
            })
            .collect()
    }

    /// The batch of [`Pending::take`] was committed (`ok`) or refused: pending ends
    /// become the committed ones, or are dropped.
    pub fn committed(&mut self, ok: bool) {
        for e in self.entries.values_mut() {
            if let Some(p) = e.pending.take() {
                if ok {
                    e.end = Some(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> IpAddr {
        "192.0.2.100".parse().unwrap()
    }

    #[test]
    fn old_kernels_are_refused() {
        assert!(kernel_unsupported("6.18.0-1-amd64").is_none());
        assert!(kernel_unsupported("6.10.0").is_none());
        assert!(kernel_unsupported("7.0.1").is_none());
        let why = kernel_unsupported("6.9.12-arch1\n").unwrap();
        assert!(
            why.contains("6.9.12-arch1") && why.contains("6.10"),
            "{why}"
        );
        assert!(kernel_unsupported("5.15.0-91-generic").is_some());
        assert!(
            kernel_unsupported("").is_none(),
            "unknown: try, the batch will tell"
        );
    }

    #[test]
    fn sub_second_refreshes_every_advert_and_coalesces() {
        let t = Instant::now();
        let iv = Duration::from_millis(100);
        let budget = Duration::from_millis(321);
        let mut p = Pending::default();
        p.open(a(), t + budget);
        let els = p.take(t);
        assert_eq!(els[0].timeout, Duration::from_millis(321));
        p.committed(true);
        // A refresh with 3 intervals or more left is recorded, not due (a flush for
        // another VIP takes it along).
        let early = t + Duration::from_millis(20);
        assert!(!p.refresh(a(), early + budget, early, iv));
        assert_eq!(p.flush_at(), None);
        assert_eq!(p.take(early).len(), 1, "taken along");
        p.committed(true);
        // Next advert: 221 ms left, under 3 intervals: due within COALESCE.
        let t2 = t + iv;
        assert!(!p.refresh(a(), t2 + budget, t2, iv));
        assert_eq!(p.flush_at(), Some(t2 + COALESCE));
        // Flushed 10 ms late: the end is still the advert's, not 10 ms later.
        let els = p.take(t2 + COALESCE);
        assert_eq!(els[0].timeout, budget - COALESCE);
        p.committed(true);
        assert_eq!(p.end(a()), Some(t2 + budget));
    }

    #[test]
    fn one_second_and_more_flush_at_once() {
        let t = Instant::now();
        let iv = Duration::from_secs(1);
        let mut p = Pending::default();
        p.open(a(), t + Duration::from_millis(3394));
        p.take(t);
        p.committed(true);
        assert!(p.refresh(a(), t + iv + Duration::from_millis(3394), t + iv, iv));
    }

    #[test]
    fn a_lapsed_or_closed_gate_is_not_reopened_by_a_refresh() {
        let t = Instant::now();
        let iv = Duration::from_millis(100);
        let mut p = Pending::default();
        // Never opened.
        assert!(!p.refresh(a(), t + iv, t, iv));
        assert!(p.take(t).is_empty());
        // Opened, then frozen past its end: the pending end is in the past at flush.
        p.open(a(), t + Duration::from_millis(50));
        p.take(t);
        p.committed(true);
        p.close(a());
        assert_eq!(p.end(a()), None);
        assert!(!p.refresh(
            a(),
            t + Duration::from_secs(9),
            t + Duration::from_secs(8),
            iv
        ));
        assert!(p.take(t + Duration::from_secs(8)).is_empty());
    }

    #[test]
    fn a_refused_batch_keeps_the_old_end() {
        let t = Instant::now();
        let mut p = Pending::default();
        p.open(a(), t + Duration::from_secs(3));
        p.take(t);
        p.committed(false);
        assert_eq!(p.end(a()), None);
    }
}
