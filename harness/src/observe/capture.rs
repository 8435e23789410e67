//! Capture of every frame on the segment, each exactly once at the bridge port it came
//! in by ([`super::ingress`]), written to a pcapng file with one interface per port
//! (named for the host behind it, nanosecond timestamps, Ethernet: it opens in tcpdump
//! and Wireshark, which shows the sending host as the frame's interface), and decoded
//! into the history with that host.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sys::socket::MsgFlags;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use super::ingress::{self, Keep, Received};
use super::{decode, packet};
use crate::history::{EventKind, History};
use crate::lab::ports::Ports;
use crate::lab::Lab;

/// What a finished capture saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames written.
    pub frames: u64,
    /// Frames the kernel dropped (then frame-based checks are unknown).
    pub dropped: u64,
}

/// A running capture; [`Capture::stop`] ends it and flushes the file.
#[derive(Debug)]
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<CaptureStats>>>,
    path: PathBuf,
}

/// Starts capturing the lab's segment into `path`. Returns once the socket is open, so
/// every later frame is captured.
pub fn start(lab: &Lab, path: &Path, history: History) -> Result<Capture> {
    let bridge = lab.bridge_index();
    let fd = lab
        .segment()
        .ns()
        .run(move || ingress::open(bridge, Keep::All, Duration::from_millis(50)))?;
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let writer =
        PcapNgWriter::new(BufWriter::new(file)).map_err(|e| anyhow!("pcapng header: {e}"))?;
    let out = Out {
        writer,
        interfaces: HashMap::new(),
        ports: lab.ports(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || run(fd, out, history, stop2))
        .context("capture thread")?;
    Ok(Capture {
        stop,
        thread: Some(thread),
        path: path.to_path_buf(),
    })
}

impl Capture {
    /// Where the pcap goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the capture, flushes the file and returns what it saw.
    pub fn stop(mut self) -> Result<CaptureStats> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("capture thread panicked"))?,
            None => Ok(CaptureStats::default()),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The pcapng file and its interfaces: one per bridge port, added when the port's first
/// frame arrives (a rebooted node's new port comes later).
struct Out {
    writer: PcapNgWriter<BufWriter<File>>,
    /// ifindex in the segment namespace -> pcapng interface id.
    interfaces: HashMap<u32, u32>,
    ports: Ports,
}

impl Out {
    /// The pcapng interface of port `ifindex`, described on first use.
    fn interface(&mut self, ifindex: u32) -> Result<(u32, Option<String>)> {
        let host = self.ports.host(ifindex);
        if let Some(id) = self.interfaces.get(&ifindex) {
            return Ok((*id, host));
        }
        let id = u32::try_from(self.interfaces.len()).context("too many interfaces")?;
        let name = host.clone().unwrap_or_else(|| format!("if{ifindex}"));
        self.writer
            .write_pcapng_block(InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                    InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                        "frames {name} sent into the segment (bridge port ifindex {ifindex})"
                    ))),
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            })
            .map_err(|e| anyhow!("write pcapng interface: {e}"))?;
        self.interfaces.insert(ifindex, id);
        Ok((id, host))
    }
}

fn run(fd: OwnedFd, mut out: Out, history: History, stop: Arc<AtomicBool>) -> Result<CaptureStats> {
    let clock = history.clock();
    let mut buf = vec![0u8; 65536];
    let mut stats = CaptureStats::default();
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    loop {
        if stop.load(Ordering::Relaxed) {
            // Drain what is already queued, then stop.
            match ingress::recv(&fd, &mut buf, &mut cmsg, MsgFlags::MSG_DONTWAIT)? {
                Some(r) => write_one(&mut out, &history, &clock, &buf, r, &mut stats)?,
                None => break,
            }
            continue;
        }
        if let Some(r) = ingress::recv(&fd, &mut buf, &mut cmsg, MsgFlags::empty())? {
            write_one(&mut out, &history, &clock, &buf, r, &mut stats)?;
        }
    }
    stats.dropped = packet::drops(&fd);
    if stats.dropped > 0 {
        history.record(EventKind::CaptureGap {
            dropped: stats.dropped,
        });
    }
    out.writer
        .into_inner()
        .into_inner()
        .map_err(|e| anyhow!("flush pcapng: {e}"))?;
    Ok(stats)
}

fn write_one(
    out: &mut Out,
    history: &History,
    clock: &crate::history::Clock,
    buf: &[u8],
    r: Received,
    stats: &mut CaptureStats,
) -> Result<()> {
    let data = &buf[..r.len];
    let (interface_id, from) = out.interface(r.ifindex)?;
    out.writer
        .write_pcapng_block(EnhancedPacketBlock {
            interface_id,
            timestamp: Duration::from_nanos(u64::try_from(r.wall_ns).unwrap_or(u64::MAX)),
            original_len: u32::try_from(r.orig).unwrap_or(u32::MAX),
            data: Cow::Borrowed(data),
            options: vec![],
        })
        .map_err(|e| anyhow!("write pcapng: {e}"))?;
    history.record_at(
        clock.from_wall(r.wall_ns),
        EventKind::Frame {
            index: stats.frames,
            from,
            frame: decode::summarize(data),
        },
    );
    stats.frames += 1;
    Ok(())
}
