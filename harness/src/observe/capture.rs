//! Capture of every frame on the segment: an AF_PACKET socket on the (promiscuous) bridge,
//! written to a pcap file with nanosecond timestamps and Ethernet link type (it opens in
//! tcpdump and Wireshark), and decoded into the history.

use std::fs::File;
use std::io::{BufWriter, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

use super::decode;
use super::packet;
use crate::history::{EventKind, History};
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
        .run(move || packet::open(bridge, packet::ETH_P_ALL, Duration::from_millis(50)))?;
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ts_resolution: TsResolution::NanoSecond,
        snaplen: 65535,
        ..Default::default()
    };
    let writer = PcapWriter::with_header(BufWriter::new(file), header)
        .map_err(|e| anyhow!("pcap header: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || run(fd, writer, history, stop2))
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

fn run(
    fd: OwnedFd,
    mut writer: PcapWriter<BufWriter<File>>,
    history: History,
    stop: Arc<AtomicBool>,
) -> Result<CaptureStats> {
    let clock = history.clock();
    let mut buf = vec![0u8; 65536];
    let mut stats = CaptureStats::default();
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    loop {
        if stop.load(Ordering::Relaxed) {
            // Drain what is already queued, then stop.
            let more = recv_one(&fd, &mut buf, &mut cmsg, MsgFlags::MSG_DONTWAIT)?;
            match more {
                Some(r) => write_one(&mut writer, &history, &clock, &buf, r, &mut stats)?,
                None => break,
            }
            continue;
        }
        if let Some(r) = recv_one(&fd, &mut buf, &mut cmsg, MsgFlags::empty())? {
            write_one(&mut writer, &history, &clock, &buf, r, &mut stats)?;
        }
    }
    stats.dropped = packet::drops(&fd);
    if stats.dropped > 0 {
        history.record(EventKind::CaptureGap {
            dropped: stats.dropped,
        });
    }
    writer
        .into_writer()
        .into_inner()
        .map_err(|e| anyhow!("flush pcap: {e}"))?;
    Ok(stats)
}

/// (length, original length, kernel timestamp in wall-clock ns)
type Received = (usize, usize, u128);

fn recv_one(
    fd: &OwnedFd,
    buf: &mut [u8],
    cmsg: &mut [u8],
    flags: MsgFlags,
) -> Result<Option<Received>> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = match recvmsg::<()>(
        fd.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        flags | MsgFlags::MSG_TRUNC,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => return Ok(None),
        Err(e) => return Err(anyhow!("capture recv: {e}")),
    };
    let orig = msg.bytes;
    let mut ts = None;
    for c in msg.cmsgs().into_iter().flatten() {
        if let ControlMessageOwned::ScmTimestampns(t) = c {
            ts = Some(t.tv_sec() as u128 * 1_000_000_000 + t.tv_nsec() as u128);
        }
    }
    let wall = ts.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    });
    let len = orig.min(iov[0].len());
    Ok(Some((len, orig, wall)))
}

fn write_one(
    writer: &mut PcapWriter<BufWriter<File>>,
    history: &History,
    clock: &crate::history::Clock,
    buf: &[u8],
    (len, orig, wall): Received,
    stats: &mut CaptureStats,
) -> Result<()> {
    let data = &buf[..len];
    let pkt = PcapPacket::new(Duration::from_nanos(wall as u64), orig as u32, data);
    writer
        .write_packet(&pkt)
        .map_err(|e| anyhow!("write pcap: {e}"))?;
    history.record_at(
        clock.from_wall(wall),
        EventKind::Frame {
            index: stats.frames,
            frame: decode::summarize(data),
        },
    );
    stats.frames += 1;
    Ok(())
}
