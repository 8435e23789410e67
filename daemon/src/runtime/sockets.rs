//! The daemon's sockets, each created in the calling thread's network namespace:
//!
//! * [`VrrpSocket`]: raw IP protocol 112, one per (interface, family), bound to the
//!   interface, joined to the VRRP group, TTL / hop limit 255 out, and reporting the
//!   TTL / hop limit (and the IPv6 destination) of every packet in.
//! * [`PacketSocket`]: `AF_PACKET` on one interface, to send gratuitous ARP /
//!   unsolicited NA / probes from the interface MAC and to receive ARP replies and Neighbor
//!   Advertisements (a kernel BPF filter passes nothing else) for conflict detection.
//!
//! Both are non-blocking and registered with the single-threaded runtime's reactor
//! ([`AsyncFd`]); a [`VrrpSocket`] can leave it and be read on a schedule instead
//! ([`RxMode::Polled`]).
//! The few `unsafe` blocks are one-line system calls on descriptors this module owns,
//! each in a small function that says why it is sound.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn,
    SockaddrIn6, SockaddrStorage,
};
use tokio::io::unix::AsyncFd;

use crate::wire::{ipv4, vrrp, Family};

use super::rxpoll::Polled;

/// `IPV6_MULTICAST_ALL` (Linux 4.20+), missing from libc.
const IPV6_MULTICAST_ALL: libc::c_int = 29;
/// `PACKET_IGNORE_OUTGOING` (Linux 4.20+), missing from libc.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// Traffic class / TOS of adverts: network control (CS6), as keepalived sends them.
pub const TOS_NETWORK_CONTROL: libc::c_int = 0xc0;

/// Opens a socket with `SOCK_NONBLOCK | SOCK_CLOEXEC` added to `ty`.
fn new_socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes plain integers; a non-negative return value is a fresh
    // descriptor that nothing else owns, so handing it to OwnedFd is sound.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: see above; `fd` is valid and owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(fd, level, name, value)` with `value` passed by pointer and size.
fn set_opt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` is a valid, initialised `T` for the whole call and `len` is its
    // size, so the kernel reads only memory we own; `fd` is a live descriptor.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    set_opt(fd, level, name, &v)
}

/// Registers `sock`'s descriptor with the runtime's reactor for readability.
fn register_vrrp(sock: &OwnedFd) -> io::Result<AsyncFd<FdNum>> {
    // SAFETY: the number is that of `sock`, which VrrpSocket owns next to the
    // registration and drops after it (field order), and never replaces: the
    // descriptor stays open and the same for the registration's whole life.
    unsafe {
        AsyncFd::register_with_interest(FdNum(sock.as_raw_fd()), tokio::io::Interest::READABLE)
    }
    .map_err(|e| io::Error::other(e.to_string()))
}

/// Registers `fd` with the runtime's reactor for readability.
fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd is a valid open descriptor that stays open, and keeps
    // returning the same number from as_raw_fd, until it is dropped, which happens only
    // when the AsyncFd that owns it is dropped.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| io::Error::other(e.to_string()))
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn bind_to_device(fd: BorrowedFd<'_>, ifname: &str) -> io::Result<()> {
    let name = ifname.as_bytes();
    let mut buf = [0u8; libc::IFNAMSIZ];
    if name.is_empty() || name.len() >= buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    buf[..name.len()].copy_from_slice(name);
    set_opt(fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &buf)
        .map_err(|e| with_context(e, "SO_BINDTODEVICE"))
}

/// A received VRRP packet's IP facts; the VRRP message is `buf[payload]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// TTL / hop limit, if known.
    pub ttl: Option<u8>,
    /// Where the VRRP message is in the receive buffer.
    pub payload: std::ops::Range<usize>,
    /// The kernel's receive timestamp (`SO_TIMESTAMPNS`, wall clock), if given.
    pub stamp: Option<Duration>,
}

/// What the kernel told about one datagram of a [`RecvBatch`].
#[derive(Debug, Clone, Copy, Default)]
struct Facts {
    len: usize,
    ttl: Option<u8>,
    src6: Option<Ipv6Addr>,
    dst6: Option<Ipv6Addr>,
    stamp: Option<Duration>,
    /// Its control data could not be read.
    bad: bool,
}

/// Buffers for [`VrrpSocket::recv_batch`], reused from read to read.
#[derive(Debug)]
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    got: Vec<Facts>,
    family: Family,
}

/// A batch without buffers (reads nothing): what [`std::mem::take`] leaves behind
/// while the real one is in use, at no cost.
impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: Vec::new(),
            got: Vec::new(),
            family: Family::Ipv4,
        }
    }
}

impl RecvBatch {
    /// Buffers for [`RecvBatch::CAPACITY`] packets.
    pub fn new() -> Self {
        RecvBatch {
            bufs: vec![vec![0; Self::BUF_LEN]; Self::CAPACITY],
            got: Vec::with_capacity(Self::CAPACITY),
            family: Family::Ipv4,
        }
    }

    /// How many packets one read takes at most.
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Packets per read.
    pub const CAPACITY: usize = 32;
    /// Bytes per packet: the largest VRRP message (255 IPv6 addresses, 4,088 bytes)
    /// behind the largest IPv4 header; a longer datagram is cut and then fails the
    /// length check.
    pub const BUF_LEN: usize = 4_160;

    /// Packet `i` of the last read: its IP facts (`None` when its IP header was
    /// unusable) and the buffer it is in (the VRRP message is `buf[payload]`).
    pub fn get(&self, i: usize) -> Option<(Option<Received>, &[u8])> {
        let f = self.got.get(i)?;
        let buf = self.bufs.get(i)?;
        if f.bad {
            return Some((None, &[]));
        }
        let data = buf.get(..f.len).unwrap_or(buf);
        let rx = match self.family {
            Family::Ipv4 => split_ipv4(data, f.ttl),
            Family::Ipv6 => match (f.src6, f.dst6) {
                (Some(s), Some(d)) => Some(Received {
                    src: IpAddr::V6(s),
                    dst: IpAddr::V6(d),
                    ttl: f.ttl,
                    payload: 0..data.len(),
                    stamp: None,
                }),
                _ => None,
            },
        };
        Some((
            rx.map(|r| Received {
                stamp: f.stamp,
                ..r
            }),
            data,
        ))
    }
}

/// Splits a datagram read from a raw IPv4 socket (IP header included) into its IP
/// facts and the VRRP message; `None` when the IP header is unusable.
pub fn split_ipv4(datagram: &[u8], cmsg_ttl: Option<u8>) -> Option<Received> {
    let p = ipv4::Packet::new_checked(datagram).ok()?;
    let start = p.header_len();
    let end = usize::from(p.total_len()).min(datagram.len());
    if start > end {
        return None;
    }
    Some(Received {
        src: IpAddr::V4(p.src_addr()),
        dst: IpAddr::V4(p.dst_addr()),
        ttl: cmsg_ttl.or(Some(p.ttl())),
        payload: start..end,
        stamp: None,
    })
}

/// A descriptor number owned elsewhere, for a reactor registration that can be dropped
/// and made again while the descriptor stays open.
#[derive(Debug)]
pub struct FdNum(std::os::fd::RawFd);

impl AsRawFd for FdNum {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

/// How the event loop learns that packets wait on a [`VrrpSocket`].
#[derive(Debug)]
pub enum RxMode {
    /// Registered with the reactor: every packet wakes the loop.
    Reactor(AsyncFd<FdNum>),
    /// Out of the reactor: the loop reads it on this schedule.
    Polled(Polled),
}

/// Raw VRRP socket for one (interface, family).
#[derive(Debug)]
pub struct VrrpSocket {
    /// How the loop learns of packets; declared before `fd` so that a reactor
    /// registration is dropped (deregistered) first.
    rx: RxMode,
    fd: OwnedFd,
    /// The receive buffer the kernel granted (`SO_RCVBUF` read back), bytes.
    pub rcvbuf: usize,
    /// Until when the socket must not be polled (it received more than its Backups
    /// send, [`super::rxpoll::BUSY_HOLD`]).
    pub busy_until: Option<Instant>,
    /// When the last read of the socket started: no packet read later is older.
    pub last_read: Option<Instant>,
    /// Address family.
    pub family: Family,
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub ifname: String,
}

impl VrrpSocket {
    /// Opens and configures the socket. Must be called inside a tokio runtime.
    pub fn open(ifname: &str, ifindex: u32, family: Family) -> io::Result<VrrpSocket> {
        let proto = libc::c_int::from(vrrp::PROTOCOL);
        let fd = match family {
            Family::Ipv4 => {
                let fd = new_socket(libc::AF_INET, libc::SOCK_RAW, proto)?;
                let b = fd.as_fd();
                set_int(b, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
                    .map_err(|e| with_context(e, "IP_RECVTTL"))?;
                set_int(b, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 0)
                    .map_err(|e| with_context(e, "IP_MULTICAST_ALL"))?;
                set_int(b, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, 255)
                    .map_err(|e| with_context(e, "IP_MULTICAST_TTL"))?;
                set_int(b, libc::IPPROTO_IP, libc::IP_TTL, 255)
                    .map_err(|e| with_context(e, "IP_TTL"))?;
                set_int(b, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 0)
                    .map_err(|e| with_context(e, "IP_MULTICAST_LOOP"))?;
                set_int(b, libc::IPPROTO_IP, libc::IP_TOS, TOS_NETWORK_CONTROL)
                    .map_err(|e| with_context(e, "IP_TOS"))?;
                bind_to_device(b, ifname)?;
                let ifx = i32::try_from(ifindex)
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                let mreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(vrrp::GROUP_V4.octets()),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifx,
                };
                set_opt(b, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)
                    .map_err(|e| with_context(e, "IP_MULTICAST_IF"))?;
                set_opt(b, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)
                    .map_err(|e| with_context(e, "join 224.0.0.18"))?;
                fd
            }
            Family::Ipv6 => {
                let fd = new_socket(libc::AF_INET6, libc::SOCK_RAW, proto)?;
                let b = fd.as_fd();
                set_int(b, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
                    .map_err(|e| with_context(e, "IPV6_RECVHOPLIMIT"))?;
                set_int(b, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
                    .map_err(|e| with_context(e, "IPV6_RECVPKTINFO"))?;
                // The kernel fills in the checksum on send and verifies it on receive
                // (a packet failing it is dropped before we see it).
                set_int(b, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, 6)
                    .map_err(|e| with_context(e, "IPV6_CHECKSUM"))?;
                set_int(b, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 255)
                    .map_err(|e| with_context(e, "IPV6_MULTICAST_HOPS"))?;
                set_int(b, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)
                    .map_err(|e| with_context(e, "IPV6_UNICAST_HOPS"))?;
                set_int(b, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, 0)
                    .map_err(|e| with_context(e, "IPV6_MULTICAST_LOOP"))?;
                set_int(
                    b,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_TCLASS,
                    TOS_NETWORK_CONTROL,
                )
                .map_err(|e| with_context(e, "IPV6_TCLASS"))?;
                // Older kernels lack it; then only the bound device limits what we see.
                let _ = set_int(b, libc::IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
                bind_to_device(b, ifname)?;
                let mreq = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: vrrp::GROUP_V6.octets(),
                    },
                    ipv6mr_interface: ifindex,
                };
                set_int(
                    b,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_MULTICAST_IF,
                    i32::try_from(ifindex)
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
                )
                .map_err(|e| with_context(e, "IPV6_MULTICAST_IF"))?;
                set_opt(b, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)
                    .map_err(|e| with_context(e, "join ff02::12"))?;
                fd
            }
        };
        // A polled socket holds a period's packets (super::rxpoll::MAX_BATCH). Beyond
        // rmem_max only with CAP_NET_ADMIN; otherwise the plain request, which the
        // kernel caps. What was granted is read back: it bounds the poll period.
        use nix::sys::socket::{getsockopt, setsockopt, sockopt};
        let want = super::rxpoll::RCVBUF;
        if setsockopt(&fd, sockopt::RcvBufForce, &want).is_err() {
            setsockopt(&fd, sockopt::RcvBuf, &want)
                .map_err(|e| with_context(e.into(), "SO_RCVBUF"))?;
        }
        let rcvbuf =
            getsockopt(&fd, sockopt::RcvBuf).map_err(|e| with_context(e.into(), "SO_RCVBUF"))?;
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .map_err(|e| with_context(e.into(), "SO_TIMESTAMPNS"))?;
        Ok(VrrpSocket {
            rx: RxMode::Reactor(register_vrrp(&fd)?),
            fd,
            rcvbuf,
            busy_until: None,
            last_read: None,
            family,
            ifindex,
            ifname: ifname.to_owned(),
        })
    }

    /// The readiness handle, for the event loop; `None` while the loop polls it.
    pub fn async_fd(&self) -> Option<&AsyncFd<FdNum>> {
        match &self.rx {
            RxMode::Reactor(fd) => Some(fd),
            RxMode::Polled(_) => None,
        }
    }

    /// When the loop reads the socket, if on a schedule rather than on readiness.
    pub fn polled(&self) -> Option<&Polled> {
        match &self.rx {
            RxMode::Polled(p) => Some(p),
            RxMode::Reactor(_) => None,
        }
    }

    /// Moves the next scheduled read (no-op unless polled).
    pub fn poll_next(&mut self, at: Instant) {
        if let RxMode::Polled(p) = &mut self.rx {
            p.next = at;
        }
    }

    /// Takes the socket out of the reactor and has the loop read it on `schedule`
    /// (packets no longer wake the loop), or (`None`) puts it back. Must be called
    /// inside a tokio runtime.
    pub fn set_polled(&mut self, schedule: Option<Polled>) -> io::Result<()> {
        match (schedule, &mut self.rx) {
            (Some(s), RxMode::Polled(p)) => *p = s,
            // Dropping the registration takes the descriptor out of the reactor.
            (Some(s), RxMode::Reactor(_)) => self.rx = RxMode::Polled(s),
            (None, RxMode::Polled(_)) => self.rx = RxMode::Reactor(register_vrrp(&self.fd)?),
            (None, RxMode::Reactor(_)) => {}
        }
        Ok(())
    }

    /// Sends one VRRP message from `src` (the kernel adds the IP header; for IPv6 it
    /// also computes the checksum) to `dst`, a group or a unicast peer.
    pub fn send(&self, msg: &[u8], src: IpAddr, dst: IpAddr) -> io::Result<()> {
        match self.send_many(src, &[(dst, msg)])? {
            0 => Err(io::Error::from(io::ErrorKind::WriteZero)),
            _ => Ok(()),
        }
    }

    /// Sends VRRP messages from `src`, each to its destination, with one `sendmmsg`;
    /// returns how many left (the first not sent failed: send it alone for its error).
    pub fn send_many(&self, src: IpAddr, msgs: &[(IpAddr, &[u8])]) -> io::Result<usize> {
        if msgs.is_empty() {
            return Ok(0);
        }
        let fd = self.fd.as_raw_fd();
        let iovs: Vec<[IoSlice<'_>; 1]> = msgs.iter().map(|(_, m)| [IoSlice::new(m)]).collect();
        let mismatch = || io::Error::from(io::ErrorKind::InvalidInput);
        match src {
            IpAddr::V4(s) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: i32::try_from(self.ifindex).map_err(|_| mismatch())?,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(s.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let addrs = msgs
                    .iter()
                    .map(|(d, _)| match d {
                        IpAddr::V4(d) => Ok(Some(SockaddrIn::from(SocketAddrV4::new(*d, 0)))),
                        IpAddr::V6(_) => Err(mismatch()),
                    })
                    .collect::<io::Result<Vec<_>>>()?;
                let mut hdrs = MultiHeaders::<SockaddrIn>::preallocate(
                    msgs.len(),
                    Some(nix::cmsg_space!(libc::in_pktinfo)),
                );
                let cmsgs = [ControlMessage::Ipv4PacketInfo(&info)];
                let sent = sendmmsg(fd, &mut hdrs, &iovs, addrs, cmsgs, MsgFlags::empty())?;
                Ok(sent.count())
            }
            IpAddr::V6(s) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: s.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let addrs = msgs
                    .iter()
                    .map(|(d, _)| match d {
                        IpAddr::V6(d) => {
                            let scope = if is_link_scope(d) { self.ifindex } else { 0 };
                            Ok(Some(SockaddrIn6::from(SocketAddrV6::new(*d, 0, 0, scope))))
                        }
                        IpAddr::V4(_) => Err(mismatch()),
                    })
                    .collect::<io::Result<Vec<_>>>()?;
                let mut hdrs = MultiHeaders::<SockaddrIn6>::preallocate(
                    msgs.len(),
                    Some(nix::cmsg_space!(libc::in6_pktinfo)),
                );
                let cmsgs = [ControlMessage::Ipv6PacketInfo(&info)];
                let sent = sendmmsg(fd, &mut hdrs, &iovs, addrs, cmsgs, MsgFlags::empty())?;
                Ok(sent.count())
            }
        }
    }

    /// Reads up to [`RecvBatch::capacity`] packets with one `recvmmsg` (`WouldBlock`
    /// when there is none); returns how many, each then in [`RecvBatch::get`].
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        batch.got.clear();
        if batch.bufs.is_empty() {
            return Ok(0);
        }
        let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(
            batch.bufs.len(),
            Some(nix::cmsg_space!(
                libc::in6_pktinfo,
                libc::c_int,
                libc::c_int,
                libc::timespec
            )),
        );
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = batch
                .bufs
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            let msgs = recvmmsg(
                self.fd.as_raw_fd(),
                &mut hdrs,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )?;
            for msg in msgs {
                let mut facts = Facts {
                    len: msg.bytes,
                    src6: msg
                        .address
                        .as_ref()
                        .and_then(|a| a.as_sockaddr_in6().map(|s| s.ip())),
                    ..Facts::default()
                };
                // A message whose control data cannot be read loses its IP facts
                // (counted as truncated), not the rest of the batch.
                let cmsgs = msg.cmsgs();
                facts.bad = cmsgs.is_err();
                for c in cmsgs.into_iter().flatten() {
                    match c {
                        ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                            facts.ttl = u8::try_from(t).ok();
                        }
                        ControlMessageOwned::Ipv6PacketInfo(pi) => {
                            facts.dst6 = Some(Ipv6Addr::from(pi.ipi6_addr.s6_addr));
                        }
                        ControlMessageOwned::ScmTimestampns(ts) => {
                            facts.stamp = Some(Duration::from(ts));
                        }
                        _ => {}
                    }
                }
                batch.got.push(facts);
            }
        }
        batch.family = self.family;
        Ok(batch.got.len())
    }
}

fn is_link_scope(a: &Ipv6Addr) -> bool {
    let s = a.segments()[0];
    (s & 0xffc0) == 0xfe80 || (a.is_multicast() && (s & 0x000f) <= 2)
}

/// One classic-BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct sock_fprog`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const BPF_LDH_ABS: u16 = 0x28;
const BPF_LDB_ABS: u16 = 0x30;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;

/// Accept ARP replies (opcode 2 at offset 20), and IPv6 whose next header is ICMPv6
/// (58) with type 136 (NA): the only frames in which another host can claim a VIP
/// ([`crate::runtime`]'s conflict check). ARP requests, the bulk of a busy segment's
/// ARP (a client resolving VIPs, a Master's own probes seen by its peers), are dropped
/// in the kernel instead of waking vrrpd.
const ARP_REPLY_AND_NA: [SockFilter; 11] = [
    SockFilter {
        code: BPF_LDH_ABS,
        jt: 0,
        jf: 0,
        k: 12,
    },
    SockFilter {
        code: BPF_JEQ_K,
        jt: 0,
        jf: 2,
        k: 0x0806,
    },
    SockFilter {
        code: BPF_LDH_ABS,
        jt: 0,
        jf: 0,
        k: 20,
    },
    SockFilter {
        code: BPF_JEQ_K,
        jt: 5,
        jf: 6,
        k: 2,
    },
    SockFilter {
        code: BPF_JEQ_K,
        jt: 0,
        jf: 5,
        k: 0x86dd,
    },
    SockFilter {
        code: BPF_LDB_ABS,
        jt: 0,
        jf: 0,
        k: 20,
    },
    SockFilter {
        code: BPF_JEQ_K,
        jt: 0,
        jf: 3,
        k: 58,
    },
    SockFilter {
        code: BPF_LDB_ABS,
        jt: 0,
        jf: 0,
        k: 54,
    },
    SockFilter {
        code: BPF_JEQ_K,
        jt: 0,
        jf: 1,
        k: 136,
    },
    SockFilter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: 0x0004_0000,
    },
    SockFilter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: 0,
    },
];

/// `AF_PACKET` socket on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: AsyncFd<OwnedFd>,
    /// Interface index.
    pub ifindex: u32,
}

fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    let sll = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: i32::try_from(ifindex)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `sll` is a fully initialised sockaddr_ll living across the call and `len`
    // is its size; bind(2) only reads it.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            len,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl PacketSocket {
    /// Opens the socket on `ifindex` with the ARP-reply/NA filter. Must be called inside a
    /// tokio runtime.
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        let proto = libc::c_int::from((libc::ETH_P_ALL as u16).to_be());
        let fd = new_socket(libc::AF_PACKET, libc::SOCK_RAW, proto)?;
        let prog = SockFprog {
            len: ARP_REPLY_AND_NA.len() as u16,
            filter: ARP_REPLY_AND_NA.as_ptr(),
        };
        set_opt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
            .map_err(|e| with_context(e, "SO_ATTACH_FILTER"))?;
        // Best effort: we also drop frames from our own MAC in user space.
        let _ = set_int(fd.as_fd(), libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
        bind_packet(fd.as_fd(), ifindex).map_err(|e| with_context(e, "bind AF_PACKET"))?;
        Ok(PacketSocket {
            fd: register(fd)?,
            ifindex,
        })
    }

    /// The readiness handle, for the event loop.
    pub fn async_fd(&self) -> &AsyncFd<OwnedFd> {
        &self.fd
    }

    /// Sends one complete Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        nix::sys::socket::send(self.fd.get_ref().as_raw_fd(), frame, MsgFlags::empty())?;
        Ok(())
    }

    /// Reads one frame (`WouldBlock` when there is none); returns its length.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(nix::sys::socket::recv(
            self.fd.get_ref().as_raw_fd(),
            buf,
            MsgFlags::empty(),
        )?)
    }
}

/// Sends a complete IPv4 datagram (header included, as given: TTL, source, everything;
/// the kernel fills in the header checksum and total length) out of `ifname`. A
/// diagnostic for tests and the harness, which use it to inject hostile packets; the
/// daemon never calls it. Blocking; needs `CAP_NET_RAW`.
pub fn send_raw_ipv4(datagram: &[u8], ifname: &str) -> io::Result<()> {
    RawIpv4Sender::open(ifname)?.send(datagram)
}

/// A reusable [`send_raw_ipv4`]: one raw IPv4 socket bound to an interface, for
/// sending hostile traffic at a high rate (the harness's flood benchmark). Non-blocking
/// (a full queue is `WouldBlock`) and with multicast loop off, so what it sends is not
/// delivered back to its own namespace. The daemon never uses it.
#[derive(Debug)]
pub struct RawIpv4Sender {
    fd: OwnedFd,
}

impl RawIpv4Sender {
    /// Opens the socket in the calling thread's namespace, bound to `ifname`.
    pub fn open(ifname: &str) -> io::Result<RawIpv4Sender> {
        let fd = new_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
        bind_to_device(fd.as_fd(), ifname)?;
        set_int(fd.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 0)
            .map_err(|e| with_context(e, "IP_MULTICAST_LOOP"))?;
        Ok(RawIpv4Sender { fd })
    }

    /// Sends one complete IPv4 datagram (see [`send_raw_ipv4`]).
    pub fn send(&self, datagram: &[u8]) -> io::Result<()> {
        let p = ipv4::Packet::new_checked(datagram)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let to = SockaddrIn::from(SocketAddrV4::new(p.dst_addr(), 0));
        nix::sys::socket::sendto(self.fd.as_raw_fd(), datagram, &to, MsgFlags::empty())?;
        Ok(())
    }
}

/// A blocking listener for VRRP over IPv4 on one interface (joined to 224.0.0.18,
/// `IP_MULTICAST_ALL` off), for observers such as the harness's flood benchmark that
/// time the adverts of a daemon. The daemon never uses it.
#[derive(Debug)]
pub struct VrrpTap {
    fd: OwnedFd,
}

impl VrrpTap {
    /// Opens the tap in the calling thread's namespace on `ifname` (`ifindex`); a read
    /// waits at most `timeout`.
    pub fn open(ifname: &str, ifindex: u32, timeout: std::time::Duration) -> io::Result<VrrpTap> {
        let fd = new_socket(libc::AF_INET, libc::SOCK_RAW, i32::from(vrrp::PROTOCOL))?;
        let b = fd.as_fd();
        set_int(b, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 0)
            .map_err(|e| with_context(e, "IP_MULTICAST_ALL"))?;
        bind_to_device(b, ifname)?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from_ne_bytes(vrrp::GROUP_V4.octets()),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: i32::try_from(ifindex)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        };
        set_opt(b, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)
            .map_err(|e| with_context(e, "join 224.0.0.18"))?;
        let tv = libc::timeval {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_usec: libc::suseconds_t::from(timeout.subsec_micros().max(1)),
        };
        set_opt(b, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
            .map_err(|e| with_context(e, "SO_RCVTIMEO"))?;
        // Blocking reads with the timeout above.
        let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) & !nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        Ok(VrrpTap { fd })
    }

    /// Waits for the next packet: its IP source and the VRRP message's range in `buf`;
    /// `Ok(None)` when the timeout passed or the packet was unusable.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        match nix::sys::socket::recv(self.fd.as_raw_fd(), buf, MsgFlags::empty()) {
            Ok(n) => Ok(buf.get(..n).and_then(|d| split_ipv4(d, None))),
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_split_uses_header_and_cmsg() {
        let ip = ipv4::Repr {
            src: "192.0.2.12".parse().unwrap(),
            dst: "224.0.0.18".parse().unwrap(),
            protocol: 112,
            ttl: 254,
            payload_len: 4,
        };
        let mut buf = vec![0u8; ip.buffer_len() + 4];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        let r = split_ipv4(&buf, None).unwrap();
        assert_eq!(r.ttl, Some(254));
        assert_eq!(r.payload, 20..24);
        assert_eq!(r.src, "192.0.2.12".parse::<IpAddr>().unwrap());
        assert_eq!(split_ipv4(&buf, Some(255)).unwrap().ttl, Some(255));
        assert!(split_ipv4(&buf[..10], None).is_none());
    }

    #[test]
    fn link_scope() {
        assert!(is_link_scope(&"fe80::1".parse().unwrap()));
        assert!(is_link_scope(&"ff02::12".parse().unwrap()));
        assert!(!is_link_scope(&"2001:db8::1".parse().unwrap()));
    }
}
