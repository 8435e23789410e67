//! Every frame on the segment exactly once, with the bridge port it came in by.
//!
//! One AF_PACKET socket in the segment namespace, bound to no interface, sees a frame
//! on every device it crosses: entering the bridge on the sender's port, on the bridge
//! device itself, leaving on every other port. `PACKET_IGNORE_OUTGOING` drops the
//! leaving copies and a classic BPF filter drops the bridge device's copy, both in the
//! kernel, so what is queued is each frame once, at its ingress port; `sll_ifindex`
//! then names the host that sent it. This is exact: a port carries one host's frames
//! only, whatever MAC they carry, so two nodes answering with the same virtual MAC are
//! still two ports.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sys::socket::{recvmsg, ControlMessageOwned, LinkAddr, MsgFlags};

use super::packet;

/// `PACKET_IGNORE_OUTGOING` (Linux >= 4.20), not in every libc release.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Which frames a socket keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every frame (the capture).
    All,
    /// ARP and ICMPv6 only (the client probe's answers).
    Neighbour,
}

// Classic BPF opcodes (linux/bpf_common.h).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_LD_H_ABS: u16 = 0x28;
const BPF_LD_B_ABS: u16 = 0x30;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
/// `SKF_AD_OFF + SKF_AD_IFINDEX`: loads the receiving device's ifindex.
const AD_IFINDEX: u32 = 0xffff_f000 + 8;
/// Accept the whole frame.
const ACCEPT: u32 = 0x0004_0000;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The filter program: drop copies seen on the bridge device `bridge`; with
/// [`Keep::Neighbour`], keep only ARP and IPv6 frames whose next header is ICMPv6.
pub fn program(bridge: u32, keep: Keep) -> Vec<libc::sock_filter> {
    match keep {
        Keep::All => vec![
            op(BPF_LD_W_ABS, 0, 0, AD_IFINDEX),
            op(BPF_JEQ_K, 1, 0, bridge),
            op(BPF_RET_K, 0, 0, ACCEPT),
            op(BPF_RET_K, 0, 0, 0),
        ],
        Keep::Neighbour => vec![
            op(BPF_LD_W_ABS, 0, 0, AD_IFINDEX),
            op(BPF_JEQ_K, 6, 0, bridge),    // -> drop
            op(BPF_LD_H_ABS, 0, 0, 12),     // EtherType
            op(BPF_JEQ_K, 3, 0, 0x0806),    // ARP -> accept
            op(BPF_JEQ_K, 0, 3, 0x86dd),    // not IPv6 -> drop
            op(BPF_LD_B_ABS, 0, 0, 14 + 6), // IPv6 next header
            op(BPF_JEQ_K, 0, 1, 58),        // not ICMPv6 -> drop
            op(BPF_RET_K, 0, 0, ACCEPT),
            op(BPF_RET_K, 0, 0, 0),
        ],
    }
}

/// Opens the socket in the calling thread's network namespace (the segment's), with
/// nanosecond timestamps and a receive timeout so reader loops can notice a stop.
pub fn open(bridge: u32, keep: Keep, timeout: Duration) -> Result<OwnedFd> {
    // Unbound (ifindex 0): every device of the namespace.
    let fd = packet::open(0, packet::ETH_P_ALL, timeout)?;
    nix::sys::socket::setsockopt(&fd, IgnoreOutgoing, &1).context("PACKET_IGNORE_OUTGOING")?;
    attach_filter(&fd, &program(bridge, keep)).context("SO_ATTACH_FILTER")?;
    Ok(fd)
}

#[derive(Clone, Copy, Debug)]
struct IgnoreOutgoing;

impl nix::sys::socket::SetSockOpt for IgnoreOutgoing {
    type Val = libc::c_int;

    fn set<F: std::os::fd::AsFd>(&self, fd: &F, val: &libc::c_int) -> nix::Result<()> {
        // SAFETY: the pointer and length describe `val`, alive for the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_fd().as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (val as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        nix::errno::Errno::result(rc).map(drop)
    }
}

fn attach_filter(fd: &OwnedFd, prog: &[libc::sock_filter]) -> std::io::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `prog`, both alive for the call; the kernel copies the
    // program and does not keep the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// One frame read from the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// Length on the wire.
    pub orig: usize,
    /// Kernel timestamp, wall-clock nanoseconds.
    pub wall_ns: u128,
    /// The port (ifindex in the segment namespace) it came in by.
    pub ifindex: u32,
}

/// Reads one frame; `None` when nothing came before the timeout (or with
/// `MSG_DONTWAIT`, when nothing is queued).
pub fn recv(
    fd: &OwnedFd,
    buf: &mut [u8],
    cmsg: &mut [u8],
    flags: MsgFlags,
) -> Result<Option<Received>> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = match recvmsg::<LinkAddr>(
        fd.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        flags | MsgFlags::MSG_TRUNC,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => return Ok(None),
        Err(e) => return Err(anyhow!("segment socket recv: {e}")),
    };
    let orig = msg.bytes;
    let ifindex = msg
        .address
        .map(|a| u32::try_from(a.ifindex()).unwrap_or(0))
        .unwrap_or(0);
    let mut ts = None;
    for c in msg.cmsgs().into_iter().flatten() {
        if let ControlMessageOwned::ScmTimestampns(t) = c {
            ts = Some(t.tv_sec() as u128 * 1_000_000_000 + t.tv_nsec() as u128);
        }
    }
    let wall_ns = ts.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    });
    Ok(Some(Received {
        len: orig.min(iov[0].len()),
        orig,
        wall_ns,
        ifindex,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_the_return_they_mean() {
        // Walk the program by hand for a few frames.
        fn run(prog: &[libc::sock_filter], ifindex: u32, frame: &[u8]) -> u32 {
            let mut a = 0u32;
            let mut pc = 0usize;
            loop {
                let i = prog[pc];
                match i.code {
                    BPF_LD_W_ABS if i.k == AD_IFINDEX => a = ifindex,
                    BPF_LD_H_ABS => {
                        let k = i.k as usize;
                        a = u32::from(u16::from_be_bytes([frame[k], frame[k + 1]]));
                    }
                    BPF_LD_B_ABS => a = u32::from(frame[i.k as usize]),
                    BPF_JEQ_K => {
                        pc += 1 + usize::from(if a == i.k { i.jt } else { i.jf });
                        continue;
                    }
                    BPF_RET_K => return i.k,
                    c => panic!("unexpected opcode {c:#x}"),
                }
                pc += 1;
            }
        }
        let mut arp = vec![0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut icmp6 = vec![0u8; 80];
        icmp6[12..14].copy_from_slice(&[0x86, 0xdd]);
        icmp6[20] = 58;
        let mut udp6 = icmp6.clone();
        udp6[20] = 17;
        let mut vrrp4 = vec![0u8; 60];
        vrrp4[12..14].copy_from_slice(&[0x08, 0x00]);
        let n = program(1000, Keep::Neighbour);
        assert_eq!(run(&n, 1001, &arp), ACCEPT);
        assert_eq!(run(&n, 1000, &arp), 0, "the bridge's own copy is dropped");
        assert_eq!(run(&n, 1002, &icmp6), ACCEPT);
        assert_eq!(run(&n, 1002, &udp6), 0);
        assert_eq!(run(&n, 1002, &vrrp4), 0);
        let a = program(1000, Keep::All);
        assert_eq!(run(&a, 1002, &vrrp4), ACCEPT);
        assert_eq!(run(&a, 1000, &vrrp4), 0);
    }
}
