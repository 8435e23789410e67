//! The lab: a segment namespace holding a bridge, one namespace per node and one for the
//! client, joined by veth pairs, all built through rtnetlink.
//!
//! ```text
//!   node1 [eth1 192.0.2.11] ──veth── p1 ┐
//!   node2 [eth1 192.0.2.12] ──veth── p2 ┼─ br0  (segment namespace; capture point)
//!  client [eth1 192.0.2.250] ─veth── pc ┘
//! ```
//!
//! Nothing is created in the host namespace. Dropping the [`Lab`] kills every process of
//! every node, closes every namespace descriptor and netlink socket, and so destroys the
//! whole lab; if the harness is SIGKILLed the kernel does the same.

pub mod addrs;
pub mod leaks;
pub mod netns;
pub mod ports;
pub mod privilege;
pub mod process;
pub mod topology;
pub mod userns;

use std::net::{IpAddr, Ipv6Addr};
use std::process::Child;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rtnetlink::{LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth};
use tokio::task::JoinHandle;

use addrs::AddrSnapshot;
use netns::NetNs;
use process::{PidNs, ProcessSpec};
use topology::{NodeSpec, Topology, CLIENT_V4, CLIENT_V6, PREFIX_V4, PREFIX_V6};

/// Name of the bridge in the segment namespace.
pub const BRIDGE: &str = "br0";

/// Name of every node's (and the client's) interface on the segment.
pub const NODE_IF: &str = "eth1";

/// ifindex of the bridge in the segment namespace. Every ifindex of the lab is chosen by
/// the harness and set in the create request, so no link is looked up by name afterwards.
/// They sit well above the few indexes a fresh namespace can already hold (`lo`, and the
/// fallback tunnels some kernels create in every namespace).
const BRIDGE_INDEX: u32 = 1000;

/// ifindex of port number `slot` on the bridge (slot 0: the client's `pc`, 1..=N: node
/// i's `pi`, N+1+k: the port of the k-th reboot).
fn port_index(slot: u16) -> u32 {
    BRIDGE_INDEX + 1 + u32::from(slot)
}

/// ifindex of `eth1` inside every node's and the client's namespace.
const ETH1_INDEX: u32 = 1000;

/// Labs built by this process so far: part of every lab MAC.
static LABS: AtomicU16 = AtomicU16::new(0);

/// The MAC of the `eth1` in port `slot` of lab number `lab`: locally administered
/// unicast, and distinct for every host of every lab this process runs at once.
fn lab_mac(lab: u16, slot: u16) -> [u8; 6] {
    let [l0, l1] = lab.to_be_bytes();
    let [s0, s1] = slot.to_be_bytes();
    [0x02, std::process::id() as u8, l0, l1, s0, s1]
}

/// One namespace of the lab with its netlink handle.
#[derive(Debug)]
pub struct Host {
    name: String,
    ns: NetNs,
    handle: rtnetlink::Handle,
    /// ifindex of `eth1` (0 for the segment namespace).
    eth1: u32,
    /// MAC of `eth1`.
    mac: [u8; 6],
    /// ifindex of this host's port on the bridge, in the segment namespace.
    port: u32,
    pidns: Mutex<Option<PidNs>>,
    children: Mutex<Vec<Child>>,
}

/// The lab as built.
#[derive(Debug)]
pub struct Lab {
    topology: Topology,
    segment: Host,
    bridge: u32,
    client: Host,
    nodes: Vec<Host>,
    tasks: Vec<JoinHandle<()>>,
    reboots: usize,
    /// The host behind each bridge port.
    ports: ports::Ports,
    /// This lab's number among the process's labs (see [`lab_mac`]).
    id: u16,
}

impl Host {
    /// The host's name (node1, client, segment).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its network namespace.
    pub fn ns(&self) -> &NetNs {
        &self.ns
    }

    /// A netlink handle that acts inside its namespace.
    pub fn netlink(&self) -> rtnetlink::Handle {
        self.handle.clone()
    }

    /// ifindex of its `eth1`.
    pub fn ifindex(&self) -> u32 {
        self.eth1
    }

    /// ifindex of its port on the bridge, in the segment namespace (0 for the segment).
    pub fn port(&self) -> u32 {
        self.port
    }

    /// MAC address of its `eth1`.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Starts a process inside this host (its network namespace and its own PID
    /// namespace). Returns the process's PID as the host sees it.
    pub fn spawn(&self, spec: &ProcessSpec) -> Result<u32> {
        let mut guard = self.pidns.lock().map_err(|_| anyhow!("poisoned"))?;
        if guard.is_none() {
            *guard = Some(PidNs::start(&self.ns)?);
        }
        let pidns = guard.as_ref().ok_or_else(|| anyhow!("no pid namespace"))?;
        let child = pidns.spawn(spec)?;
        let pid = child.id();
        self.children
            .lock()
            .map_err(|_| anyhow!("poisoned"))?
            .push(child);
        Ok(pid)
    }

    /// Every process of this host except its init (host PIDs).
    pub fn processes(&self) -> Vec<Pid> {
        match self.pidns.lock() {
            Ok(g) => g.as_ref().map(|p| p.members()).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Sends `sig` to one process of this host.
    pub fn signal(&self, pid: u32, sig: Signal) -> Result<()> {
        let pid = Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
        if !self.processes().contains(&pid) {
            bail!("process {pid} is not in {}", self.name);
        }
        kill(pid, sig).with_context(|| format!("kill -{sig} {pid} on {}", self.name))
    }

    /// Sends `sig` to every process of this host at once (like `pkill -SIG` on a real
    /// machine). Returns how many were signalled.
    pub fn signal_all(&self, sig: Signal) -> usize {
        match self.pidns.lock() {
            Ok(g) => g.as_ref().map(|p| p.signal_all(sig)).unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Reaps exited children; returns the exit status of `pid` once it has exited.
    pub fn try_wait(&self, pid: u32) -> Result<Option<std::process::ExitStatus>> {
        let mut children = self.children.lock().map_err(|_| anyhow!("poisoned"))?;
        let Some(pos) = children.iter().position(|c| c.id() == pid) else {
            bail!("process {pid} was not started on {}", self.name);
        };
        let status = children[pos].try_wait().context("wait")?;
        if status.is_some() {
            // Already reaped by try_wait above; dropping the handle leaves no zombie.
            let _ = children.remove(pos).wait();
        }
        Ok(status)
    }

    /// Waits until `pid` exits or `deadline` passes; `None` if it is still running.
    pub async fn wait_exit(
        &self,
        pid: u32,
        deadline: Instant,
    ) -> Result<Option<std::process::ExitStatus>> {
        loop {
            if let Some(st) = self.try_wait(pid)? {
                return Ok(Some(st));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sets `eth1` administratively up or down inside the host.
    pub async fn set_link(&self, up: bool) -> Result<()> {
        let b = LinkUnspec::new_with_index(self.eth1);
        let msg = if up { b.up() } else { b.down() }.build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .with_context(|| format!("set {NODE_IF} {} on {}", updown(up), self.name))
    }

    /// Sets another of the host's interfaces (`lo`, ...) up or down.
    pub async fn set_link_by_name(&self, name: &str, up: bool) -> Result<()> {
        let (index, _) = link_by_name(&self.handle, name).await?;
        let b = LinkUnspec::new_with_index(index);
        let msg = if up { b.up() } else { b.down() }.build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .with_context(|| format!("set {name} {} on {}", updown(up), self.name))
    }

    /// Snapshot of every address in the host's namespace.
    pub async fn addresses(&self) -> Result<AddrSnapshot> {
        addrs::snapshot(&self.handle).await
    }

    /// Whether `eth1` currently holds `addr`.
    pub async fn holds(&self, addr: IpAddr) -> Result<bool> {
        Ok(self
            .addresses()
            .await?
            .entries
            .iter()
            .any(|e| e.ifindex == self.eth1 && e.addr == addr))
    }

    /// Adds an address to `eth1` by hand (an operator's `ip addr add`).
    pub async fn add_address(&self, addr: IpAddr, prefix: u8) -> Result<()> {
        let mut req = self.handle.address().add(self.eth1, addr, prefix);
        if addr.is_ipv6() {
            req.message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        req.execute()
            .await
            .with_context(|| format!("add {addr}/{prefix} on {}", self.name))
    }

    /// Removes an address from `eth1` by hand (an operator's `ip addr del`). Removing an
    /// absent address is not an error.
    pub async fn del_address(&self, addr: IpAddr) -> Result<bool> {
        let mut found = false;
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(self.eth1)
            .execute();
        let mut msgs = Vec::new();
        while let Some(m) = stream.try_next().await.context("address dump")? {
            let matches = m.attributes.iter().any(|a| match a {
                AddressAttribute::Address(a) | AddressAttribute::Local(a) => *a == addr,
                _ => false,
            });
            if matches {
                msgs.push(m);
            }
        }
        for m in msgs {
            found = true;
            self.handle
                .address()
                .del(m)
                .execute()
                .await
                .with_context(|| format!("del {addr} on {}", self.name))?;
        }
        Ok(found)
    }

    /// Sends one UDP datagram from this host to `dst` port 9 (discard), which makes the
    /// kernel resolve `dst` with ARP/ND first. Used to prove reachability.
    pub fn poke(&self, dst: IpAddr) -> Result<()> {
        self.ns.run(move || {
            let bind: std::net::SocketAddr = if dst.is_ipv4() {
                "0.0.0.0:0".parse()?
            } else {
                "[::]:0".parse()?
            };
            let sock = std::net::UdpSocket::bind(bind).context("udp socket")?;
            sock.send_to(b"vrrplab", (dst, 9)).context("udp send")?;
            Ok(())
        })
    }

    /// The MAC this host's neighbour table has for `ip` on eth1, if resolved.
    pub async fn neighbour_mac(&self, ip: IpAddr) -> Result<Option<[u8; 6]>> {
        use netlink_packet_route::neighbour::{
            NeighbourAddress, NeighbourAttribute, NeighbourState,
        };
        let mut s = self.handle.neighbours().get().execute();
        while let Some(m) = s.try_next().await.context("neighbour dump")? {
            if m.header.ifindex != self.eth1
                || matches!(
                    m.header.state,
                    NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
                )
            {
                continue;
            }
            let mut dst = None;
            let mut mac = None;
            for a in &m.attributes {
                match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                        dst = Some(IpAddr::V4(*a))
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                        dst = Some(IpAddr::V6(*a))
                    }
                    NeighbourAttribute::LinkLayerAddress(b) if b.len() == 6 => {
                        let mut x = [0u8; 6];
                        x.copy_from_slice(b);
                        mac = Some(x);
                    }
                    _ => {}
                }
            }
            if dst == Some(ip) {
                return Ok(mac);
            }
        }
        Ok(None)
    }

    fn kill_everything(&self) {
        let mut pidns = self.pidns.lock().ok().and_then(|mut g| g.take());
        if let Some(p) = &pidns {
            p.kill();
        }
        // Reap our children before init: a dying init waits for every process of its
        // namespace to be reaped, and these are ours to reap.
        if let Ok(mut children) = self.children.lock() {
            for c in children.iter_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
            children.clear();
        }
        if let Some(p) = pidns.as_mut() {
            p.shutdown();
        }
    }
}

fn updown(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

impl Lab {
    /// Builds the lab. Validates the topology first, so an impossible one creates nothing.
    /// Must run inside a tokio runtime.
    pub async fn build(topology: Topology) -> Result<Lab> {
        topology.validate()?;
        let mut labels = vec!["segment".to_string(), "client".to_string()];
        labels.extend(topology.nodes.iter().map(|n| n.name.clone()));
        let id = LABS.fetch_add(1, Ordering::Relaxed);
        // Namespaces arrive one by one from two creating threads; each host is attached
        // as soon as its namespace exists (and the bridge does), so the kernel builds veth
        // pairs on one core while it creates the remaining namespaces on the other.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        netns::create_streaming(&labels, move |i, f| tx.send((i, f)).is_ok())?;
        // From here on, an error drops what was created and `guard`: the namespaces
        // vanish, and the creating threads stop at their next namespace.
        let mut guard = AbortOnDrop(Vec::with_capacity(labels.len()));
        let mut waiting = Vec::new();
        let (seg_ns, seg) = loop {
            let (i, f) = rx
                .recv()
                .await
                .ok_or_else(|| anyhow!("no segment namespace"))?;
            let f = f?;
            guard.0.push(tokio::spawn(f.conn));
            if i == 0 {
                break (f.ns, f.handle);
            }
            waiting.push((i, f.ns, f.handle));
        };
        let bridge = make_bridge(&seg).await?;
        let client_spec = NodeSpec {
            name: "client".into(),
            v4: CLIENT_V4,
            v6: topology.ipv6.then_some(CLIENT_V6),
        };
        // Position i in `labels` is port slot i - 1 (see `port_index`): the client is
        // slot 0, node k (1-based) slot k.
        let setup = |i: usize, ns: NetNs, h: rtnetlink::Handle| -> Result<_> {
            let slot = u16::try_from(i - 1).context("too many nodes")?;
            let (name, spec) = if slot == 0 {
                ("pc".to_string(), client_spec.clone())
            } else {
                (format!("p{slot}"), topology.nodes[i - 2].clone())
            };
            let port = Port {
                name,
                index: port_index(slot),
                mac: lab_mac(id, slot),
            };
            let seg = &seg;
            Ok(async move { (i, attach(seg, bridge, port, spec, ns, h).await) })
        };
        let mut attaching = futures::stream::FuturesUnordered::new();
        for (i, ns, h) in waiting {
            attaching.push(setup(i, ns, h)?);
        }
        let mut hosts: Vec<Option<Host>> = labels.iter().map(|_| None).collect();
        let mut creating = true;
        while creating || !attaching.is_empty() {
            tokio::select! {
                next = rx.recv(), if creating => match next {
                    Some((i, f)) => {
                        let f = f?;
                        guard.0.push(tokio::spawn(f.conn));
                        attaching.push(setup(i, f.ns, f.handle)?);
                    }
                    None => creating = false,
                },
                Some((i, host)) = attaching.next(), if !attaching.is_empty() => {
                    hosts[i] = Some(host?);
                }
            }
        }
        drop(attaching);
        let mut hosts = hosts
            .into_iter()
            .skip(1)
            .zip(&labels[1..])
            .map(|(h, label)| h.ok_or_else(|| anyhow!("namespace for {label} not created")))
            .collect::<Result<Vec<_>>>()?
            .into_iter();
        let client = hosts.next().ok_or_else(|| anyhow!("no client namespace"))?;
        let nodes: Vec<Host> = hosts.collect();
        let segment = Host {
            name: "segment".into(),
            ns: seg_ns,
            handle: seg,
            eth1: 0,
            mac: [0; 6],
            port: 0,
            pidns: Mutex::new(None),
            children: Mutex::new(Vec::new()),
        };
        let ports = ports::Ports::default();
        for h in std::iter::once(&client).chain(&nodes) {
            ports.insert(h.port, &h.name);
        }
        Ok(Lab {
            topology,
            segment,
            bridge,
            client,
            nodes,
            tasks: guard.disarm(),
            reboots: 0,
            ports,
            id,
        })
    }

    /// The topology the lab was built from.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Result<&Host> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| anyhow!("no node named {name:?} in this lab"))
    }

    /// All nodes, in topology order.
    pub fn nodes(&self) -> &[Host] {
        &self.nodes
    }

    /// The client namespace.
    pub fn client(&self) -> &Host {
        &self.client
    }

    /// The segment namespace (holds the bridge; the capture point).
    pub fn segment(&self) -> &Host {
        &self.segment
    }

    /// The host behind each bridge port (kept up to date across reboots).
    pub fn ports(&self) -> ports::Ports {
        self.ports.clone()
    }

    /// ifindex of the bridge inside the segment namespace.
    pub fn bridge_index(&self) -> u32 {
        self.bridge
    }

    /// Cuts a node from the segment: its port leaves the bridge, while the node's own link
    /// stays up (a partition, not a link failure).
    pub async fn isolate(&self, name: &str) -> Result<()> {
        let n = self.node(name)?;
        let msg = LinkUnspec::new_with_index(n.port).nocontroller().build();
        self.segment
            .handle
            .link()
            .set(msg)
            .execute()
            .await
            .with_context(|| format!("isolate {name}"))
    }

    /// Puts an isolated node back on the segment.
    pub async fn rejoin(&self, name: &str) -> Result<()> {
        let n = self.node(name)?;
        let msg = LinkUnspec::new_with_index(n.port)
            .controller(self.bridge)
            .up()
            .build();
        self.segment
            .handle
            .link()
            .set(msg)
            .execute()
            .await
            .with_context(|| format!("rejoin {name}"))
    }

    /// Reboots a node: every process of it dies, its namespace (with any address a daemon
    /// left behind) is destroyed, and a fresh one with the same name and addresses joins
    /// the segment, as after a real reboot. Observers bound to the old namespace must be
    /// restarted by the caller.
    pub async fn reboot(&mut self, name: &str) -> Result<()> {
        let idx = self
            .nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| anyhow!("no node named {name:?} in this lab"))?;
        let spec = self.topology.nodes[idx].clone();
        self.reboots += 1;
        let slot = u16::try_from(self.nodes.len() + self.reboots).context("too many reboots")?;
        let port = Port {
            name: format!("p{}r{}", idx + 1, self.reboots),
            index: port_index(slot),
            mac: lab_mac(self.id, slot),
        };
        // Power off first: nothing of the old node runs while the new one boots.
        self.nodes[idx].kill_everything();
        self.nodes[idx].set_link(false).await?;
        let mut fresh = netns::create_many(std::slice::from_ref(&spec.name))?;
        let f = fresh.pop().ok_or_else(|| anyhow!("no namespace created"))?;
        self.tasks.push(tokio::spawn(f.conn));
        let host = attach(
            &self.segment.handle,
            self.bridge,
            port,
            spec,
            f.ns,
            f.handle,
        )
        .await?;
        self.ports.insert(host.port, &host.name);
        drop(std::mem::replace(&mut self.nodes[idx], host));
        Ok(())
    }

    /// Joins two nodes by one more segment of their own: a veth pair named `eth{k}` in
    /// both namespaces (ifindex 1000 + k − 1 on both sides, lab MACs), both ends up, no
    /// address but the kernel's IPv6 link-local ones. `k` is 2..=9 (`eth1` is the bridged
    /// segment). The pair lives only in the two node namespaces, so it vanishes with the
    /// lab on every path; a [`Lab::reboot`] of either node does not recreate it. Returns
    /// the ifindex (the same in both nodes).
    pub async fn link_nodes(&self, a: &str, b: &str, k: u8) -> Result<u32> {
        if !(2..=9).contains(&k) {
            bail!("extra node links are eth2..eth9, not eth{k}");
        }
        let (ha, hb) = (self.node(a)?, self.node(b)?);
        if a == b {
            bail!("cannot link {a} to itself");
        }
        let name = format!("eth{k}");
        let index = ETH1_INDEX + u32::from(k) - 1;
        // Slots above every bridge port (at most 64 nodes and their reboots).
        let slot = |side: u16| 0x8000 | (u16::from(k) << 1) | side;
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(name.clone())
            .index(index)
            .address(lab_mac(self.id, slot(1)).to_vec())
            .setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&hb.ns.fd()))
            .build();
        let msg = LinkVeth::new(&name, &name)
            .index(index)
            .address(lab_mac(self.id, slot(0)).to_vec())
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .up()
            .build();
        ha.handle
            .link()
            .add(msg)
            .execute()
            .await
            .with_context(|| format!("create veth {name} between {a} and {b}"))?;
        hb.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .with_context(|| format!("{name} up on {b}"))?;
        Ok(index)
    }

    /// `nsenter` commands that enter each namespace of the lab while this process lives.
    pub fn enter_hints(&self) -> Vec<(String, String)> {
        std::iter::once(&self.segment)
            .chain(std::iter::once(&self.client))
            .chain(self.nodes.iter())
            .map(|h| (h.name.clone(), h.ns.nsenter_hint()))
            .collect()
    }

    /// Kills every process of every host. Also done on drop.
    pub fn kill_all_processes(&self) {
        for h in self.nodes.iter().chain([&self.client, &self.segment]) {
            h.kill_everything();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill_all_processes();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Aborts connection tasks if the build fails half-way.
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl AbortOnDrop {
    fn disarm(mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn make_bridge(seg: &rtnetlink::Handle) -> Result<u32> {
    // Promiscuous: the bridge device then sees every frame crossing the segment, which is
    // what the capture reads. The kernel applies the flag as part of the create.
    let msg = LinkBridge::new(BRIDGE)
        .index(BRIDGE_INDEX)
        .mcast_snooping(false)
        .forward_delay(0)
        .promiscuous(true)
        .up()
        .build();
    seg.link()
        .add(msg)
        .execute()
        .await
        .context("create bridge")?;
    Ok(BRIDGE_INDEX)
}

/// A host's port on the bridge: its name and ifindex in the segment namespace, and the
/// MAC of the host's `eth1` at its other end.
struct Port {
    name: String,
    index: u32,
    mac: [u8; 6],
}

/// Creates the veth pair for one host: `port` on the bridge, `eth1` in the host's
/// namespace, then brings the host's side up with its addresses. Both ends get the
/// ifindex (and `eth1` the MAC) chosen in `port`, so nothing is looked up afterwards.
async fn attach(
    seg: &rtnetlink::Handle,
    bridge: u32,
    port: Port,
    spec: NodeSpec,
    ns: NetNs,
    h: rtnetlink::Handle,
) -> Result<Host> {
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(NODE_IF.to_string())
        .index(ETH1_INDEX)
        .address(port.mac.to_vec())
        .setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&ns.fd()))
        .build();
    let msg = LinkVeth::new(&port.name, NODE_IF)
        .index(port.index)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .controller(bridge)
        .up()
        .build();
    let veth = seg.link().add(msg).execute();
    // `lo` exists already: it comes up while the veth pair is being created.
    let lo = h
        .link()
        .set(LinkUnspec::new_with_index(1).up().build())
        .execute();
    let (veth, lo) = futures::join!(veth, lo);
    veth.with_context(|| format!("create veth {}/{NODE_IF} for {}", port.name, spec.name))?;
    lo.with_context(|| format!("lo up on {}", spec.name))?;
    let eth1 = ETH1_INDEX;
    let up = h
        .link()
        .set(LinkUnspec::new_with_index(eth1).up().build())
        .execute();
    let v4 = h
        .address()
        .add(eth1, IpAddr::V4(spec.v4), PREFIX_V4)
        .execute();
    let v6 = async {
        match spec.v6 {
            Some(v6) => add_v6(&h, eth1, v6)
                .await
                .with_context(|| format!("address {v6} on {}", spec.name)),
            None => Ok(()),
        }
    };
    let (b, c, d) = futures::join!(up, v4, v6);
    b.with_context(|| format!("{NODE_IF} up on {}", spec.name))?;
    c.with_context(|| format!("address {} on {}", spec.v4, spec.name))?;
    d?;
    Ok(Host {
        name: spec.name,
        ns,
        handle: h,
        eth1,
        mac: port.mac,
        port: port.index,
        pidns: Mutex::new(None),
        children: Mutex::new(Vec::new()),
    })
}

async fn add_v6(h: &rtnetlink::Handle, ifindex: u32, addr: Ipv6Addr) -> Result<()> {
    let mut req = h.address().add(ifindex, IpAddr::V6(addr), PREFIX_V6);
    req.message_mut()
        .attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    req.execute().await?;
    Ok(())
}

/// ifindex and MAC of a link, looked up by name.
pub async fn link_by_name(h: &rtnetlink::Handle, name: &str) -> Result<(u32, [u8; 6])> {
    let mut s = h.link().get().match_name(name.to_string()).execute();
    let msg = s
        .next()
        .await
        .ok_or_else(|| anyhow!("no link {name}"))?
        .with_context(|| format!("get link {name}"))?;
    let mut mac = [0u8; 6];
    for a in &msg.attributes {
        if let LinkAttribute::Address(bytes) = a {
            if bytes.len() == 6 {
                mac.copy_from_slice(bytes);
            }
        }
    }
    Ok((msg.header.index, mac))
}
