//! The observers under load (part of section 5): with 255 instances advertising every
//! 100 ms on the segment, the capture and the client probe run as in a scenario run,
//! attributing every frame and every answer to its bridge port. Reported: frames per
//! second, frames the kernel dropped (capture and probe sockets), probe rounds, and the
//! probe's answer latency (from sending the request to the answer's kernel timestamp).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::{Stats, Target, Verdict};
use crate::history::{EventKind, History};
use crate::lab::Lab;
use crate::observe::{capture, probe};

/// How many VIPs the probe asks for each round.
pub const PROBED: usize = 16;

/// What the observers did under load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObserveRow {
    /// Seconds observed.
    pub secs: f64,
    /// Frames captured per second.
    pub frames_per_s: f64,
    /// Frames the capture socket's kernel queue dropped.
    pub capture_drops: u64,
    /// Probe rounds completed.
    pub probe_rounds: usize,
    /// Rounds the probe reported as gaps (send/receive errors, socket drops).
    pub probe_gaps: usize,
    /// Answer latency, ms, over every answer.
    pub latency_ms: Option<Stats>,
    /// Answers attributed to a node other than `expected` or to no known port.
    pub misattributed: usize,
    /// Probes of a VIP nobody answered.
    pub unanswered: usize,
}

/// Runs the capture and a probe of `probed` for `secs` on `lab`, where `expected` holds
/// every probed VIP.
pub async fn under_load(
    lab: &Lab,
    probed: &[IpAddr],
    expected: &str,
    secs: Duration,
) -> Result<ObserveRow> {
    let tmp = tempfile::tempdir()?;
    let history = History::new();
    let cap = capture::start(lab, &tmp.path().join("capture.pcap"), history.clone())?;
    let prb = probe::start(lab, probed, probe::DEFAULT_INTERVAL, history.clone())?;
    tokio::time::sleep(secs).await;
    prb.stop()?;
    let stats = cap.stop()?;
    let mut latencies = Vec::new();
    let mut row = ObserveRow {
        secs: secs.as_secs_f64(),
        frames_per_s: stats.frames as f64 / secs.as_secs_f64().max(1e-9),
        capture_drops: stats.dropped,
        probe_rounds: 0,
        probe_gaps: 0,
        latency_ms: None,
        misattributed: 0,
        unanswered: 0,
    };
    let mut rounds = std::collections::BTreeSet::new();
    for e in history.events() {
        match e.kind {
            EventKind::Probe { seq, answers, .. } => {
                rounds.insert(seq);
                if answers.is_empty() {
                    row.unanswered += 1;
                }
                for a in answers {
                    if a.node.as_deref() != Some(expected) {
                        row.misattributed += 1;
                    }
                    latencies.push(a.after_us as f64 / 1e3);
                }
            }
            EventKind::ProbeGap { .. } => row.probe_gaps += 1,
            _ => {}
        }
    }
    row.probe_rounds = rounds.len();
    row.latency_ms = Stats::of(&latencies);
    Ok(row)
}

impl ObserveRow {
    /// The promise: every frame and every answer kept and attributed.
    pub fn target(&self, daemon: &str) -> Target {
        let ok = self.capture_drops == 0
            && self.probe_gaps == 0
            && self.misattributed == 0
            && self.unanswered == 0
            && self.probe_rounds > 0;
        Target {
            what: format!(
                "observers under {daemon}'s 255 × 100 ms: no capture drop, every 50 ms probe of {PROBED} VIPs answered and attributed"
            ),
            measured: format!(
                "{:.0} frames/s, {} dropped; {} rounds, {} gaps, {} unanswered, {} misattributed; latency {}",
                self.frames_per_s,
                self.capture_drops,
                self.probe_rounds,
                self.probe_gaps,
                self.unanswered,
                self.misattributed,
                self.latency_ms
                    .map_or("—".to_string(), |s| format!("{:.2} / {:.2} / {:.2} ms", s.median, s.min, s.p95))
            ),
            verdict: Verdict::from_bool(ok),
        }
    }
}
