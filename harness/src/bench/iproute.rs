//! The iproute2 baseline of section 1: the lab [`crate::lab::Lab::build`] makes, built
//! the way a shell script would, one `ip` command at a time.
//!
//! This is the one place the harness shells out to `ip`. Namespaces are named
//! `vrrplab-bench-<pid>-<run>-<host>` and are always deleted, on success, on error
//! (the guard's drop), and at the next bench start if this process was killed
//! ([`remove_stale`]).

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::lab::topology::{default_v4, CLIENT_V4, PREFIX_V4};
use crate::lab::{BRIDGE, NODE_IF};

/// Prefix of every namespace the baseline creates.
pub const PREFIX: &str = "vrrplab-bench-";

/// One measured iproute2 lab.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// From the first `ip netns add` to the last address up.
    pub build: Duration,
    /// From the first `ip netns del` to the last.
    pub teardown: Duration,
    /// `ip` commands run, build and teardown.
    pub commands: usize,
}

/// Named namespaces created so far; deletes every one of them when dropped.
struct Guard {
    names: Vec<String>,
    commands: usize,
}

impl Guard {
    fn ip(&mut self, args: &[&str]) -> Result<()> {
        self.commands += 1;
        ip(args)
    }

    fn netns_add(&mut self, name: String) -> Result<()> {
        // Recorded before the attempt: a half-made namespace is deleted too.
        self.names.push(name.clone());
        self.ip(&["netns", "add", &name])
    }

    /// Deletes every namespace; the first error is returned after trying them all.
    fn delete_all(&mut self) -> Result<()> {
        let mut first = None;
        for name in std::mem::take(&mut self.names) {
            self.commands += 1;
            if let Err(e) = ip(&["netns", "del", &name]) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.delete_all();
    }
}

/// Runs `ip ARGS`; an error carries the command and its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("run ip {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ip {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Builds an `n`-node lab with `ip` commands (bridge in its own namespace, a veth pair
/// per host with the host's end created directly in the host's namespace, addresses,
/// links up), then deletes it with `ip netns del`.
pub fn build_and_teardown(n: usize, run: usize) -> Result<Measured> {
    let base = format!("{PREFIX}{}-{run}-", std::process::id());
    let mut g = Guard {
        names: Vec::new(),
        commands: 0,
    };
    let t0 = Instant::now();
    let seg = format!("{base}segment");
    g.netns_add(seg.clone())?;
    let mut hosts: Vec<(String, String, Ipv4Addr)> =
        vec![(format!("{base}client"), "pc".into(), CLIENT_V4)];
    for i in 1..=n {
        hosts.push((format!("{base}node{i}"), format!("p{i}"), default_v4(i)));
    }
    for (ns, _, _) in &hosts {
        g.netns_add(ns.clone())?;
    }
    g.ip(&[
        "-n",
        &seg,
        "link",
        "add",
        BRIDGE,
        "type",
        "bridge",
        "mcast_snooping",
        "0",
        "forward_delay",
        "0",
    ])?;
    g.ip(&["-n", &seg, "link", "set", BRIDGE, "promisc", "on", "up"])?;
    for (ns, port, addr) in &hosts {
        g.ip(&[
            "-n", &seg, "link", "add", port, "type", "veth", "peer", "name", NODE_IF, "netns", ns,
        ])?;
        g.ip(&["-n", &seg, "link", "set", port, "master", BRIDGE, "up"])?;
        g.ip(&["-n", ns, "link", "set", "lo", "up"])?;
        g.ip(&["-n", ns, "link", "set", NODE_IF, "up"])?;
        let cidr = format!("{addr}/{PREFIX_V4}");
        g.ip(&["-n", ns, "addr", "add", &cidr, "dev", NODE_IF])?;
    }
    let build = t0.elapsed();
    let t1 = Instant::now();
    g.delete_all()?;
    let teardown = t1.elapsed();
    Ok(Measured {
        build,
        teardown,
        commands: g.commands,
    })
}

/// Deletes baseline namespaces left by a bench process that no longer exists (one that
/// was killed before its guard ran). Best effort: what cannot be deleted stays listed
/// by `ip netns`.
pub fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = stale_owner(&name) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// The PID in a baseline namespace name, if it is one.
fn stale_owner(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_of_names() {
        assert_eq!(stale_owner("vrrplab-bench-123-4-node7"), Some(123));
        assert_eq!(stale_owner("vrrplab-bench-x-4-node7"), None);
        assert_eq!(stale_owner("other-123"), None);
    }
}
