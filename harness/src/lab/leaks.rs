//! What the lab could leave behind, read from the system: network namespaces in use,
//! processes, mounts, and the host's own links, addresses and routes. Tests use it to
//! prove that teardown — even after SIGKILL of the harness — leaves nothing.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use futures::TryStreamExt;

/// Inodes of every network namespace some process holds, as `lsns -t net` finds them:
/// through `/proc/<pid>/ns/net` and through open descriptors (`/proc/<pid>/fd/*`).
pub fn netns_in_use() -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/ns/net")) {
            out.insert(std::os::unix::fs::MetadataExt::ino(&meta));
        }
        // Threads can sit in other namespaces than their process.
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let p = t.path().join("ns/net");
                if let Ok(meta) = std::fs::metadata(p) {
                    out.insert(std::os::unix::fs::MetadataExt::ino(&meta));
                }
            }
        }
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    let t = target.to_string_lossy();
                    if let Some(ino) = t
                        .strip_prefix("net:[")
                        .and_then(|s| s.strip_suffix(']'))
                        .and_then(|s| s.parse().ok())
                    {
                        out.insert(ino);
                    }
                }
            }
        }
    }
    out
}

/// Whether a process with this PID exists (zombies count as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // The state follows the parenthesised command name.
            let state = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// This process's mount table (`/proc/self/mountinfo`), to compare before and after.
pub fn mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

/// The host namespace's links, addresses and routes, rendered for comparison. Reads
/// only; must run on a thread that is in the host namespace (any thread that never
/// called `setns`).
pub async fn host_network() -> Result<String> {
    let (conn, handle, _) = rtnetlink::new_connection().context("netlink socket")?;
    let task = tokio::spawn(conn);
    let links: Vec<_> = handle.link().get().execute().try_collect().await?;
    let addrs: Vec<_> = handle.address().get().execute().try_collect().await?;
    let mut routes = Vec::new();
    for v in [
        rtnetlink::RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
        rtnetlink::RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
    ] {
        let r: Vec<_> = handle.route().get(v).execute().try_collect().await?;
        routes.extend(r);
    }
    task.abort();
    let mut lines: Vec<String> = Vec::new();
    for l in links {
        // Counters and statistics change all the time; keep identity and configuration.
        let mut attrs: Vec<String> = l
            .attributes
            .iter()
            .filter(|a| {
                use netlink_packet_route::link::LinkAttribute as A;
                matches!(
                    a,
                    A::IfName(_) | A::Address(_) | A::Mtu(_) | A::Controller(_) | A::LinkInfo(_)
                )
            })
            .map(|a| format!("{a:?}"))
            .collect();
        attrs.sort();
        lines.push(format!(
            "link {} {:?} {}",
            l.header.index,
            l.header.flags,
            attrs.join(" ")
        ));
    }
    for a in addrs {
        if let Some(e) = crate::lab::addrs::AddrEntry::from_message(&a) {
            lines.push(format!(
                "addr {} {}/{} {:?}",
                e.ifindex, e.addr, e.prefix_len, e.label
            ));
        }
    }
    for r in routes {
        let mut attrs: Vec<String> = r
            .attributes
            .iter()
            .filter(|a| {
                use netlink_packet_route::route::RouteAttribute as A;
                !matches!(a, A::CacheInfo(_) | A::Expires(_))
            })
            .map(|a| format!("{a:?}"))
            .collect();
        attrs.sort();
        lines.push(format!("route {:?} {}", r.header, attrs.join(" ")));
    }
    lines.sort();
    Ok(lines.join("\n"))
}
