//! AF_PACKET sockets, the capture's and the client probe's way onto the segment.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

/// EtherType for every protocol.
pub const ETH_P_ALL: u16 = 0x0003;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;

/// Opens an AF_PACKET raw socket for `ethertype` bound to `ifindex`, in the calling
/// thread's network namespace, with nanosecond receive timestamps and a receive timeout
/// so reader loops can notice a stop request.
pub fn open(ifindex: u32, ethertype: u16, timeout: Duration) -> Result<OwnedFd> {
    let fd = raw_packet_socket(ethertype).context("AF_PACKET socket")?;
    bind_packet(&fd, ifindex, ethertype).context("bind AF_PACKET socket")?;
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true).context("SO_TIMESTAMPNS")?;
    let tv = TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _);
    setsockopt(&fd, sockopt::ReceiveTimeout, &tv).context("SO_RCVTIMEO")?;
    setsockopt(&fd, sockopt::RcvBuf, &(4 << 20)).context("SO_RCVBUF")?;
    Ok(fd)
}

fn raw_packet_socket(ethertype: u16) -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the returned descriptor is checked and
    // immediately owned.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ethertype.to_be()),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind_packet(fd: &OwnedFd, ifindex: u32, ethertype: u16) -> std::io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; zeroed is a valid value for it.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ethertype.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: the pointer and length describe `sll`, alive for the call.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Frames the kernel dropped on this socket since the last call (PACKET_STATISTICS).
pub fn drops(fd: &OwnedFd) -> u64 {
    // SAFETY: tpacket_stats is plain old data.
    let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `st`, alive for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        0
    } else {
        u64::from(st.tp_drops)
    }
}

/// Sends one complete Ethernet frame out of the bound interface.
pub fn send(fd: &OwnedFd, frame: &[u8]) -> std::io::Result<()> {
    nix::unistd::write(fd, frame)
        .map(|_| ())
        .map_err(std::io::Error::from)
}
