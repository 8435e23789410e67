//! Network namespaces held by file descriptor, and running code inside one.
//!
//! A lab namespace is anonymous: a thread `unshare`s a new network namespace and opens
//! `/proc/thread-self/ns/net`. The namespace lives exactly as long as that descriptor
//! (and any socket created inside it), so it vanishes with the harness process, even
//! when the harness is SIGKILLed. `setns` only ever happens on short-lived, dedicated
//! threads: never on a tokio worker, which would carry the namespace into later tasks.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, unshare, CloneFlags};

/// A netlink connection created inside a namespace, ready to be spawned on tokio.
pub type NetlinkConnection =
    rtnetlink::proto::Connection<rtnetlink::packet_route::RouteNetlinkMessage>;

/// One anonymous network namespace, held open by its file descriptor.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    label: String,
}

impl NetNs {
    /// The namespace's file descriptor (`/proc/<pid>/fd/<n>` names it for `nsenter`).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A human label (the node name) used in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The command a person runs to enter this namespace while the harness lives (as
    /// the same user; through the harness's user namespace when it runs without root).
    pub fn nsenter_hint(&self) -> String {
        let pid = std::process::id();
        let user = if super::userns::in_user_namespace() {
            format!("--user=/proc/{pid}/ns/user --preserve-credentials ")
        } else {
            String::new()
        };
        format!(
            "nsenter {user}--net=/proc/{pid}/fd/{} bash",
            self.fd.as_raw_fd()
        )
    }

    /// Runs `f` on a fresh thread that has entered this namespace, and returns its result.
    /// Sockets created by `f` stay in the namespace wherever they are used later.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: FnOnce() -> Result<T> + Send,
    {
        let label = self.label.clone();
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET)
                    .with_context(|| format!("setns into namespace of {label}"))?;
                f()
            })
            .join()
            .map_err(|_| anyhow!("thread inside namespace of {label} panicked"))?
        })
    }

    /// Opens an rtnetlink connection whose socket lives in this namespace.
    /// Must be called from within a tokio runtime.
    pub fn netlink(&self) -> Result<(NetlinkConnection, rtnetlink::Handle)> {
        let rt = tokio::runtime::Handle::try_current().context("netlink needs a tokio runtime")?;
        self.run(move || {
            let _guard = rt.enter();
            let (conn, handle, _) = rtnetlink::new_connection().context("netlink socket")?;
            Ok((conn, handle))
        })
    }
}

/// What to create inside each new namespace while the creating thread is in it.
pub struct Fresh {
    /// The namespace.
    pub ns: NetNs,
    /// A netlink connection whose socket lives in `ns`.
    pub conn: NetlinkConnection,
    /// The handle that talks through `conn`.
    pub handle: rtnetlink::Handle,
}

/// Creates one namespace per label, on two short-lived dedicated threads that each take
/// every other label (namespace creation is mostly per-namespace kernel work, so two
/// threads nearly halve it): for each, `unshare` (which moves the thread into the new
/// namespace), turn IPv6 duplicate address detection off so lab addresses are usable at
/// once, open the namespace descriptor and a netlink socket. The threads end afterwards,
/// so no long-lived thread is left in a lab namespace. The result is in label order.
///
/// Must be called from within a tokio runtime (the netlink sockets register with it).
pub fn create_many(labels: &[String]) -> Result<Vec<Fresh>> {
    let (tx, rx) = std::sync::mpsc::channel();
    create_streaming(labels, move |i, fresh| tx.send((i, fresh)).is_ok())?;
    let mut out: Vec<Option<Fresh>> = labels.iter().map(|_| None).collect();
    // Ends when both threads are done and have dropped their senders.
    while let Ok((i, fresh)) = rx.recv() {
        out[i] = Some(fresh?);
    }
    out.into_iter()
        .zip(labels)
        .map(|(f, label)| f.ok_or_else(|| anyhow!("namespace for {label} not created")))
        .collect()
}

/// Like [`create_many`], but hands each namespace over as soon as it exists, as
/// `deliver(position in labels, namespace)`, so the caller can use the first ones while the
/// others are still being created. Labels at even positions are created in order on one
/// thread, those at odd positions on another; a thread stops at its first error (which it
/// delivers) or once `deliver` returns false. Each thread drops its copy of `deliver`
/// when done, which is how a channel inside it closes.
pub fn create_streaming<D>(labels: &[String], deliver: D) -> Result<()>
where
    D: Fn(usize, Result<Fresh>) -> bool + Clone + Send + 'static,
{
    let rt = tokio::runtime::Handle::try_current().context("lab needs a tokio runtime")?;
    for parity in 0..2 {
        let mine: Vec<(usize, String)> = labels
            .iter()
            .cloned()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let (deliver, rt) = (deliver.clone(), rt.clone());
        std::thread::Builder::new()
            .name("netns-create".into())
            .spawn(move || {
                let _guard = rt.enter();
                for (i, label) in mine {
                    let fresh = create_here(label);
                    let failed = fresh.is_err();
                    if !deliver(i, fresh) || failed {
                        break;
                    }
                }
            })
            .context("spawn a namespace-creating thread")?;
    }
    Ok(())
}

/// Creates one namespace and moves the calling thread into it: only for the dedicated
/// threads of [`create_streaming`], inside a tokio runtime context.
fn create_here(label: String) -> Result<Fresh> {
    unshare(CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("unshare a network namespace for {label}"))?;
    disable_dad().with_context(|| format!("sysctls in namespace of {label}"))?;
    let fd: OwnedFd = File::open("/proc/thread-self/ns/net")
        .context("open /proc/thread-self/ns/net")?
        .into();
    let (conn, handle, _) =
        rtnetlink::new_connection().context("netlink socket in new namespace")?;
    Ok(Fresh {
        ns: NetNs { fd, label },
        conn,
        handle,
    })
}

/// Net sysctls follow the namespace of the thread that opens them, so this runs on the
/// creating thread right after `unshare`.
fn disable_dad() -> io::Result<()> {
    for (path, value) in [
        ("/proc/sys/net/ipv6/conf/default/accept_dad", "0"),
        ("/proc/sys/net/ipv6/conf/all/accept_dad", "0"),
        ("/proc/sys/net/ipv6/conf/default/dad_transmits", "0"),
        ("/proc/sys/net/ipv6/conf/all/dad_transmits", "0"),
        // Lab nodes answer ARP only for addresses on the interface asked on.
        ("/proc/sys/net/ipv4/conf/default/arp_ignore", "1"),
    ] {
        match std::fs::write(path, value) {
            Ok(()) => {}
            // A kernel without IPv6 has no such file: IPv4 labs still work.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Identity of the network namespace behind a descriptor (device, inode), as `lsns` shows.
pub fn ns_inode(fd: BorrowedFd<'_>) -> Result<u64> {
    let st = nix::sys::stat::fstat(fd).context("fstat namespace fd")?;
    Ok(st.st_ino)
}
