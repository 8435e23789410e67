//! One vrrpd per network namespace.
//!
//! vrrpd's ownership mark says "vrrpd added this address", not "this vrrpd did", so a
//! second daemon in the same namespace would remove the first one's live VIPs in its
//! start-up reconcile. Before touching any address the daemon binds an abstract Unix
//! socket with a fixed name ([`LOCK_NAME`]). The abstract socket namespace belongs to
//! the network namespace, so daemons in different namespaces never collide, and the
//! kernel releases the name when the process dies however it dies (SIGKILL included):
//! no stale lock file to clean up, and nothing to trust from a previous run.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

/// The abstract socket name (shown by `ss -xlp` as `@vrrpd.netns.lock`).
pub const LOCK_NAME: &[u8] = b"vrrpd.netns.lock";

/// Held for the daemon's lifetime; dropping it releases the namespace.
#[derive(Debug)]
pub struct NetnsLock {
    _socket: UnixListener,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another vrrpd is already running in this network namespace (abstract socket @{}); \
         one vrrpd per namespace owns the VIPs it marks",
        String::from_utf8_lossy(LOCK_NAME)
    )]
    Held,
    /// The socket could not be made.
    #[error("cannot take the per-namespace lock: {0}")]
    Io(std::io::Error),
}

/// Takes the lock of the calling thread's network namespace under `name`.
pub fn acquire_named(name: &[u8]) -> Result<NetnsLock, LockError> {
    let addr = SocketAddr::from_abstract_name(name).map_err(LockError::Io)?;
    match UnixListener::bind_addr(&addr) {
        Ok(socket) => Ok(NetnsLock { _socket: socket }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(LockError::Held),
        Err(e) => Err(LockError::Io(e)),
    }
}

/// Takes vrrpd's lock ([`LOCK_NAME`]) of the calling thread's network namespace.
pub fn acquire() -> Result<NetnsLock, LockError> {
    acquire_named(LOCK_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        // A name of its own, so parallel tests (and a vrrpd on this host) do not meet.
        let name = format!("vrrpd.test.{}", std::process::id());
        let first = acquire_named(name.as_bytes()).unwrap();
        assert!(matches!(
            acquire_named(name.as_bytes()),
            Err(LockError::Held)
        ));
        drop(first);
        assert!(acquire_named(name.as_bytes()).is_ok());
    }
}
