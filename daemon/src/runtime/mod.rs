//! The daemon at run time: sockets, one single-threaded event loop, and the glue that
//! turns the state machine's [`Action`]s into packets, addresses and notify commands.
//!
//! # Never a stale VIP
//!
//! * Clean stop (SIGTERM/SIGINT): every Master sends priority 0, then removes its VIPs.
//! * Lease: VIPs carry a kernel lifetime set right after each advert to end just
//!   before a peer could take over ([`lease`]).
//! * Start-up reconcile: before any instance starts, every address carrying vrrpd's
//!   mark is removed from every configured interface.
//! * Self-check: every advert interval (at least [`CHECK_PERIOD_FLOOR`]) each non-Master looks for its VIPs on its
//!   interfaces (one netlink dump for all instances) and removes them.
//! * Conflict probes: every advert interval (at least [`CHECK_PERIOD_FLOOR`]) each Master sends an ARP probe / DAD-style
//!   NS per VIP; an answer from another MAC is logged and runs `notify_conflict`.
//!
//! # Cost
//!
//! One task, no per-instance allocation on the steady-state path except the address
//! list [`crate::wire::vrrp::Repr::parse`] builds and the probe frames; per-router
//! deadlines live in a heap ([`timer::TimerHeap`]), so a wakeup only touches the
//! routers that are due or received something; the loop sleeps on a `timerfd`
//! ([`timer::PreciseSleep`]) so deadlines fire at their instant, not rounded up to
//! tokio's millisecond. Masters' adverts due within [`timer::advert_slack`] share a
//! wakeup and leave with one `sendmmsg` ([`outbox`]); a socket that only Backups listen
//! on is read on a schedule with `recvmmsg`, each packet dated by the kernel
//! ([`rxpoll`]); the packet socket's kernel filter passes only ARP replies and NAs. At
//! sub-second intervals (where a lease cannot end before the takeover anyway) lease
//! refreshes are skipped while the current lifetime still covers the next interval
//! with headroom ([`router::REFRESH_HEADROOM`]), and a gated instance's lease is a 5 s
//! backstop ([`lease::GATED_BACKSTOP`]); counters reach the state file at most once a
//! second, state changes at once.

pub mod cli;
pub mod gate;
pub mod iface;
pub mod lease;
pub mod lock;
pub mod misbehave;
pub mod notify;
pub mod outbox;
pub mod present;
pub mod reload;
pub mod router;
pub mod routes;
pub mod rx;
pub mod rxpoll;
pub mod signals;
pub mod sockets;
pub mod state_file;
pub mod timer;
pub mod track;

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::AsyncSocket;

use crate::config::{self, Config, ConfigError, InstanceConfig, Warning};
use crate::instance::{Action, Event, State, PRIORITY_OWNER};
use crate::vip::{self, VipManager};
use crate::vmac::{VmacLink, VmacManager};
use crate::wire::{arp, ndisc, vrrp, Family, Mac};

use self::cli::{Cli, LogFormat};
use self::iface::IfInfo;
use self::misbehave::{Behaviour, Misbehave};
use self::notify::Notifier;
use self::router::{Router, VipSlot};
use self::rx::{DropCounters, DropReason, RxMeta};
use self::sockets::{PacketSocket, VrrpSocket};
use self::timer::{PreciseSleep, TimerHeap};

/// Exit status for configuration and usage errors.
pub const EXIT_CONFIG: u8 = 2;
/// Exit status for run-time failures (sockets, netlink, missing interface).
pub const EXIT_RUNTIME: u8 = 1;

/// How long start-up waits for an interface's addresses (a fresh IPv6 link-local
/// address is tentative for about a second).
const ADDRESS_PATIENCE: Duration = Duration::from_secs(5);
/// The shortest period of the conflict probes and the Backup self-check. Both are
/// diagnostics with nothing to time precisely; at one probe per VIP per 100 ms advert,
/// 255 instances sent 2,550 ARP probes a second (a fifth of vrrpd's CPU in the
/// footprint bench), so below 1 s they run once a second.
pub const CHECK_PERIOD_FLOOR: Duration = Duration::from_secs(1);

/// How often a router at `advert_interval` probes for conflicts or self-checks.
fn check_period(advert_interval: Duration) -> Duration {
    advert_interval.max(CHECK_PERIOD_FLOOR)
}

/// How often the VRRP sockets' read modes are decided again without a state change.
const RX_MODES_EVERY: Duration = Duration::from_secs(1);

/// Managed VIPs per start-up batch (below 64 kB of messages each).
const MANAGE_CHUNK: usize = 512;

/// A conflict seen at every probe is logged (and `notify_conflict` run) at most this
/// often per instance; the instance's `conflicts` counter counts every one.
const CONFLICT_REPORT_EVERY: Duration = Duration::from_secs(10);
/// How often counters are flushed to the state file at most.
const STATE_FLUSH: Duration = Duration::from_secs(1);
/// How often an instance waiting for its interface (missing, or without its address
/// yet) tries again, besides every link event.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Why a router could not be built.
#[derive(Debug)]
enum BuildError {
    /// An interface is missing or has no usable address yet: wait for it in FAULT.
    Waiting(String),
    /// Anything else.
    Fatal(anyhow::Error),
}

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// vrrpd's TOML.
    Toml(PathBuf),
    /// A keepalived.conf.
    Keepalived(PathBuf),
}

impl Source {
    /// Loads the configuration (and, for keepalived.conf, the import warnings).
    pub fn load(&self) -> Result<(Config, Vec<Warning>), ConfigError> {
        match self {
            Source::Toml(p) => config::load_toml(p).map(|c| (c, Vec::new())),
            Source::Keepalived(p) => config::load_keepalived(p),
        }
    }
}

/// The `vrrpd` command: parses `args`, runs, and returns the exit status.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // First, before any thread exists: an early SIGHUP/SIGTERM is held, not fatal or lost.
    if let Err(e) = signals::hold() {
        eprintln!("vrrpd: cannot block SIGHUP/SIGTERM/SIGINT: {e}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    use clap::Parser;
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_CONFIG } else { 0 });
        }
    };
    let misbehave = match misbehave::resolve(cli.misbehave.as_deref(), misbehave::AVAILABLE) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("vrrpd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let source = match (&cli.config, &cli.keepalived_conf) {
        (Some(p), _) => Source::Toml(p.clone()),
        (None, Some(p)) => Source::Keepalived(p.clone()),
        (None, None) => {
            eprintln!("vrrpd: one of --config or --keepalived-conf is required");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let loaded = source.load();
    if cli.check && cli.format == LogFormat::Json {
        let diags = config::json_diagnostics(loaded.as_ref().map(|(_, w)| w.as_slice()));
        match serde_json::to_string_pretty(&diags) {
            Ok(j) => {
                use std::io::Write;
                // A closed pipe (`| head`) is not worth a panic.
                let _ = writeln!(std::io::stdout().lock(), "{j}");
            }
            Err(e) => eprintln!("vrrpd: {e}"),
        }
        return ExitCode::from(if loaded.is_ok() { 0 } else { EXIT_CONFIG });
    }
    let (config, warnings) = match loaded {
        Ok(x) => x,
        Err(e) => {
            for w in e.warnings() {
                eprintln!("{w}");
            }
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let host = host_warnings(&source, &config);
    if cli.check {
        for w in &warnings {
            eprintln!("{w}");
        }
        for w in &host {
            eprintln!("{w}");
        }
        println!(
            "configuration OK: {} instance(s), {} warning(s)",
            config.instances.len(),
            warnings.len() + host.len()
        );
        return ExitCode::SUCCESS;
    }
    init_logging(cli.log_format);
    for w in &warnings {
        tracing::warn!(line = w.line, column = w.column, "{w}");
    }
    for w in &host {
        tracing::warn!("{w}");
    }
    if let Some(m) = misbehave {
        tracing::warn!(misbehave = %m, "NEGATIVE CONTROL: misbehaving on purpose");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let opts = Options {
        source,
        state_file: cli.state_file,
        pid_file: cli.pid_file,
        misbehave,
    };
    match rt.block_on(run(opts, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// What `--check` and start-up warn about on this machine, beyond the file itself:
/// interfaces that do not exist (yet) in this namespace — the daemon waits for them in
/// FAULT — and notify programs it would refuse to run. The same list both times, so
/// `--check` predicts what the daemon will do.
pub fn host_warnings(source: &Source, config: &Config) -> Vec<String> {
    let origin = match source {
        Source::Toml(p) | Source::Keepalived(p) => p.display().to_string(),
    };
    let mut out = Vec::new();
    for name in interfaces_of(&config.instances) {
        if nix::net::if_::if_nametoindex(name.as_str()).is_err() {
            out.push(format!(
                "{}: warning: interface `{}` does not exist in this network namespace; its \
                 instances stay in FAULT until it appears",
                config::escape_controls(&origin),
                config::escape_controls(&name)
            ));
        }
    }
    for p in config::notify_problems(config) {
        out.push(format!(
            "{}: warning: {}",
            config::escape_controls(&origin),
            config::escape_controls(&p)
        ));
    }
    let leased6 = leased_ipv6_vips(config);
    if leased6 > LEASED_IPV6_VIPS_MAX {
        out.push(format!(
            "{}: warning: {leased6} IPv6 VIPs with a lease: every change of an IPv6 address \
             lifetime costs the kernel a walk over all of the namespace's addresses, and \
             above about {LEASED_IPV6_VIPS_MAX} a master cannot refresh them in time \
             (BENCHMARKS.md, scale); set `lease = false` on these instances (the gate \
             still silences a killed master)",
            config::escape_controls(&origin),
        ));
    }
    out
}

/// IPv6 VIPs above which leased instances cannot keep their lifetimes refreshed (the
/// kernel's lifetime changes are O(addresses); BENCHMARKS.md, scale section).
pub const LEASED_IPV6_VIPS_MAX: usize = 1_500;

/// How many IPv6 VIPs carry a lease in `config`.
fn leased_ipv6_vips(config: &Config) -> usize {
    config
        .instances
        .iter()
        .filter(|i| i.lease)
        .flat_map(|i| &i.vips)
        .filter(|v| v.addr.is_ipv6())
        .count()
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VRRPD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Run-time options besides the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to re-read the configuration on SIGHUP.
    pub source: Source,
    /// `--state-file`.
    pub state_file: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--misbehave`.
    pub misbehave: Option<Misbehave>,
}

/// Runs the daemon until SIGTERM/SIGINT.
pub async fn run(opts: Options, config: Config) -> anyhow::Result<()> {
    use anyhow::Context;
    // Before any address is touched: a second vrrpd here would reconcile away the
    // first one's live VIPs.
    let _lock = lock::acquire()?;
    // Signals held since `main` reach these handlers from here on, even during start-up.
    let signals = signals::Signals::listen()?;
    let (mut conn, handle, messages) = rtnetlink::new_connection().context("netlink socket")?;
    conn.socket_mut()
        .socket_mut()
        .add_membership(libc::RTNLGRP_LINK)
        .context("subscribe to link events")?;
    // Address deletions, so a refresh knows a VIP was deleted without a dump ([`present`]).
    for group in [libc::RTNLGRP_IPV4_IFADDR, libc::RTNLGRP_IPV6_IFADDR] {
        conn.socket_mut()
            .socket_mut()
            .add_membership(group)
            .context("subscribe to address events")?;
    }
    tokio::spawn(conn);
    let vips = VipManager::new(handle.clone()).await;
    if let Some(p) = &opts.pid_file {
        state_file::write_atomic(p, format!("{}\n", std::process::id()).as_bytes())
            .with_context(|| format!("write pid file {}", p.display()))?;
    }
    let result = async {
        let mut d = Daemon::new(opts.clone(), handle, vips);
        d.start(config).await?;
        d.event_loop(messages, signals).await
    }
    .await;
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// What to do with an instance's virtual routes and rules.
#[derive(Debug, Clone, Copy)]
enum RouteOp {
    /// Install (on becoming Master), IPv6 routes with this expiry.
    Add(Option<Duration>),
    /// Renew IPv6 route expiries.
    Refresh(Duration),
    /// Remove (on leaving Master).
    Remove,
}

type LinkMessages = futures::channel::mpsc::UnboundedReceiver<(
    NetlinkMessage<RouteNetlinkMessage>,
    rtnetlink::sys::SocketAddr,
)>;

/// Which socket is readable.
#[derive(Debug, Clone, Copy)]
enum Readable {
    Vrrp(usize),
    Packet(usize),
}

struct Daemon {
    opts: Options,
    behaviour: Behaviour,
    handle: rtnetlink::Handle,
    vips: VipManager,
    /// VIPs the kernel reported deleted since we added them ([`present`]).
    deleted: present::Deleted,
    /// Virtual-MAC links (instances with `vmac`), and the ones this run uses.
    vmacs: VmacManager,
    vmac_links: Vec<VmacLink>,
    config: Config,
    ifaces: HashMap<String, IfInfo>,
    link_up: HashMap<String, bool>,
    link_names: HashMap<u32, String>,
    vrrp: Vec<VrrpSocket>,
    pkt: Vec<PacketSocket>,
    routers: Vec<Router>,
    /// Per VRRP socket: VRID -> router index + 1 (0: none).
    by_vrid: Vec<[u16; 256]>,
    /// Our own addresses, whose packets we ignore.
    own: Vec<IpAddr>,
    drops: DropCounters,
    send_errors: u64,
    vip_errors: u64,
    notifier: Notifier,
    /// Health checks (`vrrp_script`, tracked processes, files, weighted interfaces).
    tracking: track::Tracking,
    /// Routes and rules (virtual and static).
    route_mgr: routes::RouteManager,
    /// Per sync group: the state all its members last shared (for group notify).
    group_state: Vec<Option<State>>,
    state_dirty: bool,
    counters_dirty: bool,
    state_flush_at: Instant,
    selfcheck_at: Option<Instant>,
    /// Next attempt to build the routers waiting for an interface.
    retry_at: Option<Instant>,
    /// Per router: the earliest of its protocol deadline and its probe.
    timers: TimerHeap,
    /// Routers given an event since their actions last ran.
    touched: Vec<usize>,
    /// Scratch for [`Daemon::on_time`]: routers popped within the advert slack but
    /// not due.
    not_yet: Vec<usize>,
    /// A state changed: decide again which VRRP sockets are polled.
    rx_modes_dirty: bool,
    /// When to decide that again anyway (a learnt `Master_Adver_Interval` moves it).
    rx_modes_at: Instant,
    buf: Vec<u8>,
    rx_batch: sockets::RecvBatch,
    /// Adverts of this pass of the loop, sent together ([`outbox`]).
    outbox: outbox::Outbox,
    /// Inside [`Daemon::on_time`]'s pass over the routers: adverts wait for its end.
    batching: bool,
    /// Where in each second a lease must not end (`None`: unknown, so leases assume
    /// the kernel's rounded lateness).
    window: Option<lease::RoundingWindow>,
    clock: lease::MonoClock,
    /// The nftables gate (`None`: no instance uses it, or nftables is unusable here).
    gate: Option<GateIo>,
}

/// The gate's socket and the state of every open gate.
struct GateIo {
    sock: gate::GateSocket,
    pending: gate::Pending,
    /// The last batch failed (logged once until one succeeds again).
    failing: bool,
}

impl Daemon {
    fn new(opts: Options, handle: rtnetlink::Handle, vips: VipManager) -> Daemon {
        Daemon {
            behaviour: Behaviour::with(opts.misbehave),
            opts,
            vmacs: VmacManager::new(handle.clone()),
            vmac_links: Vec::new(),
            route_mgr: routes::RouteManager::new(handle.clone()),
            handle,
            vips,
            deleted: present::Deleted::default(),
            tracking: track::Tracking::default(),
            group_state: Vec::new(),
            config: Config::default(),
            ifaces: HashMap::new(),
            link_up: HashMap::new(),
            link_names: HashMap::new(),
            vrrp: Vec::new(),
            pkt: Vec::new(),
            routers: Vec::new(),
            by_vrid: Vec::new(),
            own: Vec::new(),
            drops: DropCounters::default(),
            send_errors: 0,
            vip_errors: 0,
            notifier: Notifier::default(),
            state_dirty: true,
            counters_dirty: false,
            state_flush_at: Instant::now(),
            selfcheck_at: None,
            retry_at: None,
            timers: TimerHeap::default(),
            touched: Vec::new(),
            not_yet: Vec::new(),
            rx_modes_dirty: true,
            rx_modes_at: Instant::now(),
            buf: vec![0; 65_536],
            rx_batch: sockets::RecvBatch::new(),
            outbox: outbox::Outbox::default(),
            batching: false,
            window: None,
            clock: lease::MonoClock::new(),
            gate: None,
        }
    }

    /// Reconcile, build the routers, start them.
    async fn start(&mut self, config: Config) -> anyhow::Result<()> {
        if config.instances.iter().any(|i| i.lease) {
            self.window = lease::RoundingWindow::probe();
            tracing::debug!(window = ?self.window, "kernel lifetime rounding window");
        }
        if self.behaviour.startup_reconcile {
            // Every interface of the namespace, not only those the new configuration
            // names: a VIP whose whole instance was deleted between a crash and this
            // start is still ours (the mark says so). One vrrpd per network namespace
            // owns the mark, as one keepalived owns its VIPs.
            for name in interfaces_of(&config.instances) {
                if let Err(e) = self.vips.ifindex(&name).await {
                    tracing::warn!(interface = %config::escape_controls(&name),
                        "{e}; its instances wait in FAULT until it appears");
                }
            }
            let removed = self
                .vips
                .reconcile_marked(None)
                .await
                .map_err(|e| anyhow::anyhow!("start-up reconcile: {e}"))?;
            for e in &removed {
                tracing::info!(
                    addr = %e.addr, prefix = e.prefix_len, ifindex = e.ifindex,
                    "start-up reconcile: removed an address left by an earlier run"
                );
            }
            let links = self
                .vmacs
                .reconcile()
                .await
                .map_err(|e| anyhow::anyhow!("start-up reconcile: {e}"))?;
            for name in &links {
                tracing::info!(link = %name,
                    "start-up reconcile: removed a virtual-MAC link left by an earlier run");
            }
            match self.route_mgr.reconcile_marked().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    count = n,
                    "start-up reconcile: removed routes and rules left by an earlier run"
                ),
                Err(e) => anyhow::bail!("start-up reconcile of routes: {e}"),
            }
        } else {
            tracing::warn!("start-up reconcile skipped (negative control)");
        }
        let mut routers = Vec::with_capacity(config.instances.len());
        for cfg in &config.instances {
            routers.push(self.build_or_wait(cfg.clone(), ADDRESS_PATIENCE).await?);
        }
        self.config = config;
        self.routers = routers;
        self.reindex();
        // Before any VIP is added: tables left by a killed run are replaced.
        self.gate_start();
        self.start_tracking().await;
        self.static_routes(true).await;
        let now = Instant::now();
        self.apply_health(now);
        for ri in 0..self.routers.len() {
            self.start_router(ri, now);
        }
        self.selfcheck_at = Some(now);
        self.run_all_actions(now).await;
        tracing::info!(
            instances = self.routers.len(),
            sockets = self.vrrp.len(),
            "vrrpd started"
        );
        Ok(())
    }

    async fn iface(
        &mut self,
        name: &str,
        family: Option<Family>,
        patience: Duration,
    ) -> Result<IfInfo, BuildError> {
        let need_v4 = family == Some(Family::Ipv4);
        let need_ll6 = family == Some(Family::Ipv6);
        if let Some(i) = self.ifaces.get(name) {
            if (!need_v4 || i.v4.is_some()) && (!need_ll6 || i.ll6.is_some()) {
                return Ok(i.clone());
            }
        }
        let info = iface::lookup_ready(&self.handle, &self.vips, name, need_v4, need_ll6, patience)
            .await
            .map_err(|e| match e {
                iface::IfError::Missing(_) => BuildError::Waiting(format!(
                    "interface {} does not exist",
                    config::escape_controls(name)
                )),
                iface::IfError::Netlink(_) => {
                    BuildError::Fatal(anyhow::anyhow!("interface {name}: {e}"))
                }
            })?;
        self.link_names.insert(info.index, name.to_owned());
        self.link_up.insert(name.to_owned(), info.up);
        for a in [info.v4.map(IpAddr::V4), info.ll6.map(IpAddr::V6)]
            .into_iter()
            .flatten()
        {
            if !self.own.contains(&a) {
                self.own.push(a);
            }
        }
        self.ifaces.insert(name.to_owned(), info.clone());
        Ok(info)
    }

    fn packet_socket(&mut self, ifindex: u32) -> anyhow::Result<usize> {
        if let Some(i) = self.pkt.iter().position(|p| p.ifindex == ifindex) {
            return Ok(i);
        }
        let s = PacketSocket::open(ifindex)
            .map_err(|e| anyhow::anyhow!("AF_PACKET socket on ifindex {ifindex}: {e}"))?;
        self.pkt.push(s);
        Ok(self.pkt.len() - 1)
    }

    /// Builds a router, or a detached stand-in in FAULT when an interface is missing or
    /// not ready (issue 13 item 3: at boot VRRP often starts before its interface).
    async fn build_or_wait(
        &mut self,
        cfg: InstanceConfig,
        patience: Duration,
    ) -> anyhow::Result<Router> {
        match self.build_router(cfg.clone(), patience).await {
            Ok(r) => Ok(r),
            Err(BuildError::Fatal(e)) => Err(e),
            Err(BuildError::Waiting(why)) => {
                tracing::warn!(instance = %config::escape_controls(&cfg.name),
                    "{why}; FAULT until it is there");
                self.retry_at = Some(Instant::now() + RETRY_EVERY);
                Ok(Router::detached(cfg, &self.behaviour))
            }
        }
    }

    async fn build_router(
        &mut self,
        cfg: InstanceConfig,
        patience: Duration,
    ) -> Result<Router, BuildError> {
        let fatal = BuildError::Fatal;
        let info = self
            .iface(&cfg.interface, Some(cfg.family), patience)
            .await?;
        let family = cfg.family;
        let src = match (cfg.unicast_src, family) {
            (Some(s), _) => s,
            (None, Family::Ipv4) => info
                .v4
                .map(IpAddr::V4)
                .ok_or_else(|| BuildError::Waiting(format!("{} has no IPv4 address", info.name)))?,
            (None, Family::Ipv6) => info.ll6.map(IpAddr::V6).ok_or_else(|| {
                BuildError::Waiting(format!(
                    "{} has no usable IPv6 link-local address",
                    info.name
                ))
            })?,
        };
        if !self.own.contains(&src) {
            self.own.push(src);
        }
        let sock = match self
            .vrrp
            .iter()
            .position(|s| s.ifindex == info.index && s.family == family)
        {
            Some(i) => i,
            None => {
                let s = VrrpSocket::open(&info.name, info.index, family).map_err(|e| {
                    // Gone again between the lookup and the socket: wait for it.
                    if nix::net::if_::if_nametoindex(info.name.as_str()) != Ok(info.index) {
                        BuildError::Waiting(format!("interface {} vanished", info.name))
                    } else {
                        fatal(anyhow::anyhow!(
                            "VRRP socket on {} ({family}): {e}",
                            info.name
                        ))
                    }
                })?;
                self.vrrp.push(s);
                self.vrrp.len() - 1
            }
        };
        let vmac = match cfg.vmac {
            true => Some(
                self.vmac_link(&info, family, cfg.vrid)
                    .await
                    .map_err(BuildError::Fatal)?,
            ),
            false => None,
        };
        // The advertised VIPs, then keepalived's virtual_ipaddress_excluded: added and
        // removed with the VIPs, never advertised, and never on the virtual-MAC link.
        let listed = cfg.vips.iter().map(|v| (v, true));
        let excluded = cfg.excluded_vips.iter().map(|v| (v, false));
        let mut slots = Vec::with_capacity(cfg.vips.len() + cfg.excluded_vips.len());
        for (v, advertised) in listed.chain(excluded) {
            let default_dev = if advertised { vmac.clone() } else { None };
            let dev = v.dev.clone().or(default_dev);
            let dev = dev.unwrap_or_else(|| cfg.interface.clone());
            let di = self.iface(&dev, None, patience).await?;
            let label = match v.addr {
                IpAddr::V4(_) => Some(
                    v.label
                        .clone()
                        .unwrap_or_else(|| vip::default_label(&dev, cfg.vrid)),
                ),
                IpAddr::V6(_) => None,
            };
            slots.push(VipSlot {
                ifindex: di.index,
                vip: vip::Vip {
                    addr: v.addr,
                    prefix_len: v.prefix_len,
                    label,
                },
                pkt: self.packet_socket(di.index).map_err(fatal)?,
                mac: di.mac,
                // A virtual-MAC link has no link-local address of its own.
                ll6: if advertised {
                    di.ll6.or(info.ll6)
                } else {
                    di.ll6
                },
            });
        }
        for t in &cfg.track_interfaces {
            if !self.link_up.contains_key(t) {
                match self.iface(t, None, patience).await {
                    Ok(_) => {}
                    Err(e) => {
                        let e = match e {
                            BuildError::Waiting(w) => w,
                            BuildError::Fatal(f) => format!("{f:#}"),
                        };
                        tracing::warn!(instance = %cfg.name, "track_interface {t}: {e}; treated as down");
                        self.link_up.insert(t.clone(), false);
                    }
                }
            }
        }
        let mut route_oifs = Vec::with_capacity(cfg.routes.len());
        for r in &cfg.routes {
            route_oifs.push(match &r.dev {
                Some(d) => Some(self.iface(d, None, patience).await?.index),
                None => None,
            });
        }
        let mut router = Router::new(cfg, sock, src, slots, &self.behaviour);
        router.route_oifs = route_oifs;
        Ok(router)
    }

    /// Builds the health checks of the configuration and looks up tracked interfaces.
    async fn start_tracking(&mut self) {
        self.tracking.stop();
        let names: Vec<String> = self
            .config
            .checks
            .iter()
            .filter(|c| c.kind == config::CheckKind::Interface)
            .map(|c| c.name.clone())
            .collect();
        for name in names {
            if !self.link_up.contains_key(&name) {
                if let Err(e) = self.iface(&name, None, Duration::ZERO).await {
                    let e = match e {
                        BuildError::Waiting(w) => w,
                        BuildError::Fatal(f) => format!("{f:#}"),
                    };
                    tracing::warn!("track_interface {name}: {e}; treated as down");
                    self.link_up.insert(name, false);
                }
            }
        }
        let link_up = &self.link_up;
        self.tracking = track::Tracking::new(&self.config.checks, Instant::now(), |n| {
            link_up.get(n).copied().unwrap_or(false)
        });
        let now = Instant::now();
        self.tracking.poll(now);
    }

    /// Installs (`add`) or removes the static addresses, routes and rules.
    async fn static_routes(&mut self, add: bool) {
        let routes = self.config.static_routes.clone();
        let rules = self.config.static_rules.clone();
        let addrs = self.config.static_addresses.clone();
        // Addresses first on the way up (routes may use them), last on the way down.
        if add {
            self.static_addresses(&addrs, true).await;
        }
        for r in &routes {
            let oif = match &r.dev {
                Some(d) => self.vips.ifindex(d).await.ok(),
                None => None,
            };
            let res = if add {
                self.route_mgr.add(r, oif, None).await
            } else {
                self.route_mgr.remove(r, oif).await
            };
            if let Err(e) = res {
                self.vip_errors += 1;
                tracing::error!(dest = %r.dest, prefix = r.prefix_len, add, "static route: {e}");
            }
        }
        for r in &rules {
            let res = if add {
                self.route_mgr.add_rule(r).await
            } else {
                self.route_mgr.remove_rule(r).await
            };
            if let Err(e) = res {
                self.vip_errors += 1;
                tracing::error!(table = r.table, add, "static rule: {e}");
            }
        }
        if !add {
            self.static_addresses(&addrs, false).await;
        }
    }

    async fn static_addresses(&mut self, addrs: &[config::StaticAddress], add: bool) {
        for a in addrs {
            let res = match self.vips.ifindex(&a.dev).await {
                Ok(i) => self.route_mgr.static_address(a, i, add).await,
                Err(e) => Err(e.to_string()),
            };
            match res {
                Ok(()) => {
                    tracing::info!(addr = %a.addr, prefix = a.prefix_len, dev = %a.dev, add, "static address")
                }
                Err(e) => {
                    self.vip_errors += 1;
                    tracing::error!(addr = %a.addr, dev = %a.dev, add, "static address: {e}");
                }
            }
        }
    }

    /// Installs (`lease` given) / refreshes or removes router `ri`'s virtual routes and
    /// rules (`remove`).
    async fn virtual_routes(&mut self, ri: usize, op: RouteOp) {
        let r = &self.routers[ri];
        if r.cfg.routes.is_empty() && r.cfg.rules.is_empty() {
            return;
        }
        let (lease, remove) = match op {
            RouteOp::Add(l) => (l, false),
            RouteOp::Refresh(l) => {
                if !r.cfg.routes.iter().any(|x| x.dest.is_ipv6()) {
                    return;
                }
                (Some(l), false)
            }
            RouteOp::Remove => (None, true),
        };
        let refresh_only = matches!(op, RouteOp::Refresh(_));
        let name = r.cfg.name.clone();
        let routes: Vec<_> = r
            .cfg
            .routes
            .iter()
            .cloned()
            .zip(r.route_oifs.iter().copied())
            .collect();
        let rules = r.cfg.rules.clone();
        let mut errors = 0;
        for (route, oif) in &routes {
            if refresh_only && !route.dest.is_ipv6() {
                continue;
            }
            let res = if remove {
                self.route_mgr.remove(route, *oif).await
            } else {
                self.route_mgr.add(route, *oif, lease).await
            };
            if let Err(e) = res {
                errors += 1;
                tracing::error!(instance = %name, dest = %route.dest, prefix = route.prefix_len, remove, "virtual route: {e}");
            }
        }
        for rule in rules.iter().filter(|_| !refresh_only) {
            let res = if remove {
                self.route_mgr.remove_rule(rule).await
            } else {
                self.route_mgr.add_rule(rule).await
            };
            if let Err(e) = res {
                errors += 1;
                tracing::error!(instance = %name, table = rule.table, remove, "virtual rule: {e}");
            }
        }
        self.vip_errors += errors;
    }

    /// Feeds every router the priority and fault its health checks, tracked interfaces
    /// and sync group give it. Members of a sync group use every tracker as weight 0
    /// (failure = FAULT), as keepalived does, and are FAULT together.
    fn apply_health(&mut self, now: Instant) {
        // Priorities may move, and Skew_Time with them (it bounds the poll period).
        self.rx_modes_dirty = true;
        let own: Vec<(bool, u8)> = self
            .routers
            .iter()
            .map(|r| {
                let mut delta = 0i64;
                let mut fault = false;
                for t in &r.cfg.trackers {
                    let w = if r.group.is_some() { 0 } else { t.weight };
                    let (d, f) = config::contribution(w, t.reverse, self.tracking.status(t.check));
                    delta += d;
                    fault |= f;
                }
                (
                    !r.detached && self.tracked_up(r) && !fault,
                    config::effective_priority(r.cfg.priority, delta),
                )
            })
            .collect();
        for ri in 0..self.routers.len() {
            let mut ok = own[ri].0;
            if let Some(g) = self.routers[ri].group {
                ok = self
                    .routers
                    .iter()
                    .zip(&own)
                    .filter(|(r, _)| r.group == Some(g))
                    .all(|(_, o)| o.0);
            }
            let prio = own[ri].1;
            let r = &mut self.routers[ri];
            let mut changed = false;
            if r.inst.effective_priority() != prio {
                tracing::info!(instance = %r.cfg.name, from = r.inst.effective_priority(), to = prio, "priority changed by tracking");
                r.inst.handle_event(now, Event::SetPriority(prio));
                changed = true;
            }
            if ok != r.links_up {
                r.links_up = ok;
                r.inst.handle_event(
                    now,
                    if ok {
                        Event::InterfaceUp
                    } else {
                        Event::InterfaceDown
                    },
                );
                changed = true;
            }
            if changed {
                self.state_dirty = true;
                self.touched.push(ri);
            }
        }
    }

    /// The virtual-MAC link of `vrid` on `lower`, created when this run has none yet;
    /// returns its name.
    async fn vmac_link(
        &mut self,
        lower: &IfInfo,
        family: Family,
        vrid: u8,
    ) -> anyhow::Result<String> {
        let name = crate::vmac::link_name(family, vrid);
        if !self.vmac_links.iter().any(|l| l.name == name) {
            let link = self
                .vmacs
                .ensure(lower.index, &lower.name, family, vrid)
                .await
                .map_err(|e| anyhow::anyhow!("virtual MAC on {}: {e}", lower.name))?;
            tracing::info!(link = %link.name, lower = %lower.name, "virtual-MAC link ready");
            self.ifaces.remove(&link.name);
            self.vmac_links.push(link);
        }
        Ok(name)
    }

    /// Removes the virtual-MAC links no router uses any more (all of them at stop).
    async fn prune_vmac_links(&mut self) {
        let used: Vec<String> = self
            .routers
            .iter()
            .filter(|r| r.cfg.vmac && !r.stopping)
            .map(|r| crate::vmac::link_name(r.cfg.family, r.cfg.vrid))
            .collect();
        let (keep, gone): (Vec<VmacLink>, Vec<VmacLink>) = std::mem::take(&mut self.vmac_links)
            .into_iter()
            .partition(|l| used.contains(&l.name));
        self.vmac_links = keep;
        for l in gone {
            self.ifaces.remove(&l.name);
            match self.vmacs.release(&l).await {
                Ok(()) => tracing::info!(link = %l.name, "virtual-MAC link removed"),
                Err(e) => {
                    tracing::error!(link = %l.name, "removing the virtual-MAC link failed: {e}")
                }
            }
        }
    }

    /// Rebuilds the VRID lookup tables after the router list changed.
    fn reindex(&mut self) {
        self.by_vrid = vec![[0u16; 256]; self.vrrp.len()];
        for (ri, r) in self.routers.iter().enumerate() {
            if let (Some(table), Ok(v)) = (self.by_vrid.get_mut(r.sock), u16::try_from(ri + 1)) {
                table[usize::from(r.cfg.vrid)] = v;
            }
        }
        let groups = &self.config.sync_groups;
        for r in &mut self.routers {
            r.group = groups
                .iter()
                .position(|g| g.members.len() > 1 && g.members.contains(&r.cfg.name));
        }
        self.group_state = vec![None; groups.len()];
        // Indices changed: every caller follows with run_all_actions, which re-arms all.
        self.timers.reset(self.routers.len());
        self.touched.clear();
    }

    /// Puts router `ri`'s next deadline (protocol timer or probe) in the heap.
    fn rearm(&mut self, ri: usize) {
        if let Some(r) = self.routers.get(ri) {
            let at = match (r.inst.poll_timeout(), r.probe_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            self.timers.set(ri, at);
        }
    }

    fn tracked_up(&self, r: &Router) -> bool {
        r.tracked
            .iter()
            .all(|t| self.link_up.get(t).copied().unwrap_or(false))
    }

    /// Starts router `ri`; [`Daemon::apply_health`] has told it about its health.
    fn start_router(&mut self, ri: usize, now: Instant) {
        if self.routers[ri].detached && self.routers[ri].links_up {
            // A detached stand-in waits in FAULT until it is rebuilt.
            self.routers[ri].links_up = false;
            self.routers[ri]
                .inst
                .handle_event(now, Event::InterfaceDown);
        }
        let r = &mut self.routers[ri];
        r.inst.handle_event(now, Event::Startup);
        self.state_dirty = true;
    }

    async fn event_loop(
        &mut self,
        mut links: LinkMessages,
        signals: signals::Signals,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let signals::Signals {
            mut term,
            mut int,
            mut hup,
            mut chld,
        } = signals;
        let mut sleep = PreciseSleep::new().context("timerfd")?;
        loop {
            let deadline = self.next_deadline();
            if let Err(e) = sleep.arm(deadline) {
                // Cannot happen with a valid fd and time; fall back to polling soon.
                tracing::warn!("timerfd_settime failed: {e}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::select! {
                biased;
                _ = term.recv() => {
                    tracing::info!("SIGTERM: stopping");
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: stopping");
                    break;
                }
                _ = hup.recv() => self.reload().await,
                _ = chld.recv() => self.notifier.reap(),
                msg = links.next() => match msg {
                    Some((m, _)) => self.on_netlink(m).await,
                    None => anyhow::bail!("netlink event stream ended"),
                },
                which = readable(&self.vrrp, &self.pkt) => match which {
                    Readable::Vrrp(i) => {
                        self.drain_vrrp(i);
                    }
                    Readable::Packet(i) => self.drain_packet(i),
                },
                r = sleep.expired() => {
                    if let Err(e) = r {
                        anyhow::bail!("timerfd read failed: {e}");
                    }
                }
            }
            self.on_time().await;
        }
        self.shutdown().await;
        Ok(())
    }

    /// The loop's next wakeup: the earliest router deadline, self-check, or state flush.
    fn next_deadline(&mut self) -> Option<Instant> {
        if !self.touched.is_empty() {
            // Routers with events whose actions have not run: now.
            return Some(Instant::now());
        }
        let flush = (self.counters_dirty || self.state_dirty).then_some(self.state_flush_at);
        [
            self.timers.peek(),
            self.selfcheck_at,
            flush,
            self.retry_at,
            self.tracking.next_deadline(),
            self.gate.as_ref().and_then(|g| g.pending.flush_at()),
            self.vrrp
                .iter()
                .filter_map(|s| s.polled())
                .map(|p| p.next)
                .min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires what is due and runs the actions of every router that was due or got an
    /// event since the last pass (the others have nothing queued).
    async fn on_time(&mut self) {
        let now = Instant::now();
        if !self.tracking.is_empty() && self.tracking.poll(now) {
            self.apply_health(now);
        }
        self.read_polled(now);
        // Routers due within the slack: a Master whose advert falls due that soon sends
        // it with this wakeup; the others go back to the heap untouched.
        // Only when a timer is due: a wakeup for anything else (a packet, a flood of
        // them) sends nothing early, so adverts keep their instants.
        let mut not_yet = std::mem::take(&mut self.not_yet);
        let any_due = self.timers.peek().is_some_and(|t| t <= now);
        let horizon = if any_due {
            timer::ADVERT_SLACK_MAX
        } else {
            Duration::ZERO
        };
        while let Some(ri) = self.timers.pop_due(now + horizon) {
            let Some(r) = self.routers.get_mut(ri) else {
                continue;
            };
            let slack = if any_due {
                timer::advert_slack(r.cfg.advert_interval)
            } else {
                Duration::ZERO
            };
            let timer_due = r.inst.poll_timeout().is_some_and(|t| t <= now);
            let advert_due = r.inst.next_advert().is_some_and(|t| t <= now + slack);
            let probe_due = r.probe_at.is_some_and(|t| t <= now);
            if !(timer_due || advert_due || probe_due) {
                not_yet.push(ri);
                continue;
            }
            if timer_due || advert_due {
                r.inst.handle_timeout_coalesced(now, slack);
            }
            // A probe has no precision to keep: send it with this wakeup if due
            // within half an interval, so probes ride on the advert timer instead of
            // waking the loop again a few microseconds later.
            let slack = r.cfg.advert_interval / 2;
            if r.probe_at.is_some_and(|t| t <= now + slack) {
                if r.inst.state() == State::Master {
                    r.probe_at = Some(now + check_period(r.cfg.advert_interval));
                    self.send_probes(ri);
                } else {
                    r.probe_at = None;
                }
            }
            self.touched.push(ri);
        }
        for &ri in &not_yet {
            self.rearm(ri);
        }
        not_yet.clear();
        self.not_yet = not_yet;
        let mut touched = std::mem::take(&mut self.touched);
        self.batching = true;
        for &ri in &touched {
            self.run_actions(ri, now).await;
        }
        self.batching = false;
        self.flush_adverts();
        touched.clear();
        if self.touched.is_empty() {
            self.touched = touched;
        }
        if self.selfcheck_at.is_some_and(|t| t <= now) {
            self.self_check(now).await;
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.rebuild_detached(now).await;
        }
        if self
            .gate
            .as_ref()
            .and_then(|g| g.pending.flush_at())
            .is_some_and(|t| t <= now)
        {
            self.gate_flush();
        }
        if self.rx_modes_dirty || now >= self.rx_modes_at {
            self.update_rx_modes(now);
        }
        self.flush_state(now);
    }

    /// Reads the polled VRRP sockets whose turn it is, and all of them when a router
    /// timer is due: an advert that came before a deadline is seen before it fires.
    fn read_polled(&mut self, now: Instant) {
        let timer_due = self
            .timers
            .peek()
            .is_some_and(|t| t <= now + timer::ADVERT_SLACK_MAX);
        for si in 0..self.vrrp.len() {
            let Some(p) = self.vrrp[si].polled().copied() else {
                continue;
            };
            if timer_due || p.next <= now {
                let read = self.drain_vrrp(si);
                self.vrrp[si].poll_next(now + p.every);
                if read as f64 > rxpoll::max_batch(self.vrrp[si].rcvbuf) {
                    // More than the Backups send (a flood, or a misconfigured peer):
                    // a full buffer would drop adverts, so wake per packet for a while.
                    self.vrrp[si].busy_until = Some(now + rxpoll::BUSY_HOLD);
                    self.rx_modes_dirty = true;
                    tracing::debug!(interface = %self.vrrp[si].ifname, read,
                        "VRRP socket busier than its Backups: per-packet wakeups");
                }
            }
        }
    }

    /// Decides per VRRP socket whether packets wake the loop or it is read on a
    /// schedule ([`rxpoll::poll_period`]), from the states of the routers on it.
    fn update_rx_modes(&mut self, now: Instant) {
        self.rx_modes_dirty = false;
        self.rx_modes_at = now + RX_MODES_EVERY;
        for si in 0..self.vrrp.len() {
            let listeners =
                self.routers
                    .iter()
                    .filter(|r| r.sock == si)
                    .map(|r| match r.inst.state() {
                        State::Master => rxpoll::Listener::Master,
                        State::Backup => rxpoll::Listener::Backup {
                            interval: r.inst.master_adver_interval(),
                            skew: r.inst.skew_time(),
                        },
                        _ => rxpoll::Listener::Idle,
                    });
            let busy = self.vrrp[si].busy_until.is_some_and(|t| now < t);
            let room = rxpoll::max_batch(self.vrrp[si].rcvbuf);
            let period = rxpoll::poll_period(listeners, room).filter(|_| !busy);
            let sock = &mut self.vrrp[si];
            if sock.polled().map(|p| p.every) == period {
                continue;
            }
            let schedule = period.map(|every| rxpoll::Polled {
                every,
                next: now + every,
            });
            match sock.set_polled(schedule) {
                Ok(()) => match period {
                    Some(p) => tracing::info!(interface = %sock.ifname, family = ?sock.family,
                        period_ms = format!("{:.1}", p.as_secs_f64() * 1e3),
                        "VRRP socket read every period: only Backups listen on it"),
                    None => tracing::info!(interface = %sock.ifname, family = ?sock.family,
                        "VRRP socket wakes the loop per packet again"),
                },
                Err(e) => tracing::warn!(interface = %sock.ifname,
                    "cannot register the VRRP socket with the event loop again: {e}"),
            }
            // Back in the reactor, packets that came while it was polled make it
            // readable at once (the registration reports them): the select branch
            // reads them and the pass after it runs their routers' actions.
        }
    }

    async fn run_all_actions(&mut self, now: Instant) {
        for ri in 0..self.routers.len() {
            self.run_actions(ri, now).await;
        }
    }

    async fn run_actions(&mut self, ri: usize, now: Instant) {
        let mut sync = Vec::new();
        while let Some(action) = self.routers[ri].inst.poll_action() {
            self.counters_dirty = true;
            // Whatever follows an advert on the wire, or waits, goes after it.
            let quiet_refresh = matches!(action, Action::RefreshVips { lease }
                if self.refresh_is_quiet(ri, lease, now));
            if !matches!(action, Action::SendAdvert { .. }) && !quiet_refresh {
                self.flush_adverts();
            }
            match action {
                Action::SendAdvert { priority } => {
                    if priority == 0 && !self.behaviour.priority_zero {
                        tracing::warn!(instance = %self.routers[ri].cfg.name,
                            "priority-0 advert suppressed (negative control)");
                        continue;
                    }
                    self.send_advert(ri, priority);
                    if priority != 0 {
                        self.gate_refresh(ri);
                    }
                }
                Action::AddVips { lease } => {
                    // Open before the addresses exist: no instant with a gated VIP.
                    self.gate_open(ri);
                    let lease = lease.map(|nominal| self.first_lease(ri, nominal));
                    self.vip_op(ri, lease, "add").await;
                    self.virtual_routes(ri, RouteOp::Add(lease)).await;
                    let r = &mut self.routers[ri];
                    r.added_this_run = true;
                    r.last_refresh = Some(now);
                }
                Action::RefreshVips { lease } => {
                    let r = &self.routers[ri];
                    if r.lease_plan.tracks_adverts(self.window.is_some()) {
                        self.refresh_lease(ri).await;
                        continue;
                    }
                    if let Some(lease) = self.untracked_refresh(ri, lease, now) {
                        self.vip_op(ri, Some(lease), "refresh").await;
                        self.virtual_routes(ri, RouteOp::Refresh(lease)).await;
                        self.routers[ri].last_refresh = Some(now);
                    }
                }
                Action::RemoveVips => {
                    let r = &self.routers[ri];
                    if r.stopping && !self.behaviour.release_on_stop {
                        tracing::warn!(instance = %r.cfg.name,
                            "VIPs left in place on stop (negative control)");
                        continue;
                    }
                    if self.behaviour.remove_only_added && !r.added_this_run {
                        tracing::info!(instance = %r.cfg.name,
                            "VIPs not added by this run are not removed (keepalived-1.2 control)");
                        continue;
                    }
                    // Closed before the addresses go: from here the node is quiet for
                    // them even if the removal fails or this process dies.
                    let stopping = self.routers[ri].stopping;
                    self.gate_close(ri, stopping);
                    self.virtual_routes(ri, RouteOp::Remove).await;
                    self.remove_vips(ri).await;
                    self.routers[ri].last_refresh = None;
                }
                Action::SendGratuitous => self.send_gratuitous(ri),
                Action::StateChange { from, to } => {
                    self.state_dirty = true;
                    self.rx_modes_dirty = true;
                    let r = &mut self.routers[ri];
                    // `master` names the router we now follow: when a Master yields,
                    // the sender of the advert that made it yield.
                    tracing::info!(instance = %r.cfg.name, vrid = r.cfg.vrid,
                        interface = %r.cfg.interface, %from, %to,
                        priority = r.inst.effective_priority(),
                        master = r.inst.master().map(tracing::field::display),
                        "state change");
                    r.probe_at =
                        (to == State::Master).then(|| now + check_period(r.cfg.advert_interval));
                    if to != State::Master && to != State::Stopped && self.selfcheck_at.is_none() {
                        self.selfcheck_at = Some(now + check_period(r.cfg.advert_interval));
                    }
                    if let Some(argv) = notify::command_for(&r.cfg.notify, to) {
                        let what = format!("notify_{}", to.as_str().to_lowercase());
                        self.notifier.run(argv, &[], &what, &r.cfg.name);
                    }
                    if r.group.is_some() && !r.sync_induced {
                        sync.push((from, to));
                    }
                }
                Action::Conflict { mac } => {
                    let r = &mut self.routers[ri];
                    if r.last_conflict_report
                        .is_some_and(|t| now < t + CONFLICT_REPORT_EVERY)
                    {
                        continue;
                    }
                    r.last_conflict_report = Some(now);
                    let mac = Mac(mac).to_string();
                    tracing::warn!(instance = %r.cfg.name, vrid = r.cfg.vrid, other_mac = %mac,
                        "conflict: another host answers for our virtual IP");
                    if let Some(argv) = &r.cfg.notify.conflict {
                        let args = notify::conflict_args(&r.cfg.name, &mac);
                        self.notifier
                            .run(argv, &args, "notify_conflict", &r.cfg.name);
                    }
                }
            }
        }
        self.rearm(ri);
        if !self.batching {
            self.flush_adverts();
        }
        for (from, to) in sync {
            self.sync_group(ri, from, to, now).await;
        }
        if let Some(g) = self.routers.get(ri).and_then(|r| r.group) {
            self.group_notify(g);
        }
    }

    /// Whether a lease refresh at `now` would do nothing (skipped until due).
    fn refresh_is_quiet(&self, ri: usize, lease: Duration, now: Instant) -> bool {
        !self.routers[ri]
            .lease_plan
            .tracks_adverts(self.window.is_some())
            && self.untracked_refresh(ri, lease, now).is_none()
    }

    /// For a router whose lease does not follow its adverts: the lease to set now
    /// ([`lease::backstop`] of the instance's `lease`), or `None` while the one set
    /// last still covers the next interval with headroom.
    fn untracked_refresh(&self, ri: usize, lease: Duration, now: Instant) -> Option<Duration> {
        let r = &self.routers[ri];
        let lease = lease::backstop(lease, self.gate_holds(ri));
        router::refresh_due(r.last_refresh, now, r.cfg.advert_interval, lease).then_some(lease)
    }

    /// Whether router `ri`'s gate is in force: gated, and the last batch went through
    /// (a failing gate silences nothing, so the address lease must not rely on it).
    fn gate_holds(&self, ri: usize) -> bool {
        self.gated(ri) && self.gate.as_ref().is_some_and(|g| !g.failing)
    }

    /// keepalived's sync group: when member `ri` goes Backup -> Master the other Backups
    /// follow, when it goes Master -> Backup the other Masters follow (FAULT is shared
    /// through [`Daemon::apply_health`]).
    async fn sync_group(&mut self, ri: usize, from: State, to: State, now: Instant) {
        let Some(g) = self.routers[ri].group else {
            return;
        };
        let ev = match (from, to) {
            (State::Backup, State::Master) => Event::SyncMaster,
            (State::Master, State::Backup) => Event::SyncBackup,
            _ => return,
        };
        let members: Vec<usize> = (0..self.routers.len())
            .filter(|&j| j != ri && self.routers[j].group == Some(g))
            .collect();
        for j in members {
            self.routers[j].sync_induced = true;
            self.routers[j].inst.handle_event(now, ev);
            Box::pin(self.run_actions(j, now)).await;
            self.routers[j].sync_induced = false;
        }
    }

    /// Runs the group's notify command when all its members share a new state.
    fn group_notify(&mut self, g: usize) {
        let mut states = self
            .routers
            .iter()
            .filter(|r| r.group == Some(g))
            .map(|r| r.inst.state());
        let Some(first) = states.next() else {
            return;
        };
        if !states.all(|s| s == first) || self.group_state.get(g) == Some(&Some(first)) {
            return;
        }
        if let Some(slot) = self.group_state.get_mut(g) {
            *slot = Some(first);
        }
        let Some(group) = self.config.sync_groups.get(g) else {
            return;
        };
        tracing::info!(group = %group.name, state = %first, "sync group state change");
        if let Some(argv) = notify::command_for(&group.notify, first) {
            let what = format!("group notify_{}", first.as_str().to_lowercase());
            self.notifier.run(argv, &[], &what, &group.name);
        }
        if let Some(argv) = &group.notify_generic {
            let args = notify::group_args(&group.name, first);
            self.notifier.run(argv, &args, "group notify", &group.name);
        }
    }

    /// The lease for VIPs added on becoming Master (the first advert follows at once,
    /// so it is planned as if that advert were sent now).
    fn first_lease(&mut self, ri: usize, nominal: Duration) -> Duration {
        if !self.routers[ri]
            .lease_plan
            .tracks_adverts(self.window.is_some())
        {
            return lease::backstop(nominal, self.gate_holds(ri));
        }
        let now = Instant::now();
        self.plan_lease(ri, now, now)
    }

    /// Sets the lease right after an advert so that it ends within the router's budget
    /// after that advert ([`lease::LeasePlan::refresh`]).
    async fn refresh_lease(&mut self, ri: usize) {
        let now = Instant::now();
        let last = self.routers[ri].last_advert.unwrap_or(now);
        let lease = self.plan_lease(ri, now, last);
        self.vip_op(ri, Some(lease), "refresh").await;
        self.virtual_routes(ri, RouteOp::Refresh(lease)).await;
        self.routers[ri].last_refresh = Some(now);
    }

    /// The lease to set at `now` after the advert of `last_advert`; moves the router's
    /// adverts out of the kernel's rounding window when they are in it.
    fn plan_lease(&mut self, ri: usize, now: Instant, last_advert: Instant) -> Duration {
        let r = &mut self.routers[ri];
        let window = self.window.as_ref().map(|w| (w, &self.clock));
        match r.lease_plan.refresh(now, last_advert, window) {
            lease::Refresh::Now(n) => n,
            lease::Refresh::Shift { lease, by } => {
                tracing::debug!(instance = %r.cfg.name, shift_ms = by.as_millis() as u64,
                    "adverts moved out of the kernel's lifetime rounding window");
                r.inst.delay_adverts(by);
                lease
            }
        }
    }

    /// Start-up: when an instance uses the gate, replaces the tables of an earlier
    /// run with fresh ones managing this configuration's VIPs; otherwise only deletes
    /// leftovers (a managed VIP of an earlier run would stay gated). On a kernel or
    /// namespace without usable nftables: one warning, and the lease alone.
    fn gate_start(&mut self) {
        let wanted = self.behaviour.gate && self.routers.iter().any(|r| r.cfg.gate);
        let mut sock = match gate::GateSocket::open() {
            Ok(s) => s,
            Err(e) => {
                if wanted {
                    tracing::warn!("nftables gate unavailable (NETLINK_NETFILTER socket: {e}); VIPs keep the address lease only");
                }
                return;
            }
        };
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let refused = gate::kernel_unsupported(&release);
        if !wanted || refused.is_some() {
            if self.behaviour.startup_reconcile {
                let mut b = crate::gate::Batch::new();
                b.teardown();
                if let Err(e) = sock.send(b) {
                    tracing::debug!("no gate tables of an earlier run removed: {e}");
                }
            }
            if let (true, Some(why)) = (wanted, refused) {
                tracing::warn!("nftables gate refused: {why}; VIPs keep the address lease only");
            }
            return;
        }
        let managed: Vec<IpAddr> = self
            .routers
            .iter()
            .filter(|r| r.cfg.gate)
            .flat_map(|r| r.vips.iter().map(|s| s.vip.addr))
            .collect();
        // One sendmsg must fit the socket's send buffer (about 200 kB): thousands of
        // managed VIPs (the scale bench has 8,000) go in batches of their own after the
        // tables. Until its VIPs are managed an instance adds none (gate_open also
        // manages them), so the split leaves nothing ungated.
        let mut chunks = managed.chunks(MANAGE_CHUNK);
        let mut b = crate::gate::Batch::new();
        b.reconcile(chunks.next().unwrap_or(&[]));
        let sent = sock.send(b).and_then(|()| {
            chunks.try_for_each(|c| {
                let mut b = crate::gate::Batch::new();
                b.manage(c, true);
                sock.send(b)
            })
        });
        match sent {
            Ok(()) => {
                tracing::info!(managed = managed.len(), "nftables gate ready (tables inet/arp vrrpd)");
                self.gate = Some(GateIo {
                    sock,
                    pending: gate::Pending::default(),
                    failing: false,
                });
            }
            Err(e) => tracing::warn!(
                "nftables gate unavailable (creating the vrrpd tables failed: {e}); VIPs keep the address lease only"
            ),
        }
    }

    /// Whether router `ri` is gated.
    fn gated(&self, ri: usize) -> bool {
        self.gate.is_some() && self.routers[ri].cfg.gate
    }

    /// The end of router `ri`'s gate for an advert sent at `advert`.
    fn gate_end(&self, ri: usize, advert: Instant) -> Instant {
        let c = &self.routers[ri].cfg;
        crate::instance::gate_end(advert, c.version, c.priority, c.advert_interval)
    }

    /// Opens router `ri`'s gates on becoming Master (its first advert follows at once,
    /// so the end is counted from now), and makes sure its VIPs are managed.
    fn gate_open(&mut self, ri: usize) {
        if !self.gated(ri) {
            return;
        }
        let now = Instant::now();
        let end = self.gate_end(ri, now);
        let addrs: Vec<IpAddr> = self.routers[ri].vips.iter().map(|s| s.vip.addr).collect();
        let Some(g) = self.gate.as_mut() else { return };
        for a in &addrs {
            g.pending.open(*a, end);
        }
        let mut b = crate::gate::Batch::new();
        b.manage(&addrs, true);
        self.gate_write(b);
    }

    /// After an advert of Master `ri`: records the later end of its gates and flushes
    /// when the policy says so ([`gate::Pending`]). A gate found already ended (frozen
    /// or starved past it) is reopened and the VIPs announced, as after a lease lapse.
    fn gate_refresh(&mut self, ri: usize) {
        if !self.gated(ri) || self.routers[ri].inst.state() != State::Master {
            return;
        }
        let now = Instant::now();
        let r = &self.routers[ri];
        let advert = r.last_advert.unwrap_or(now);
        let end = self.gate_end(ri, advert);
        let interval = r.cfg.advert_interval;
        let Some(g) = self.gate.as_mut() else { return };
        let mut now_due = false;
        let mut lapsed = false;
        for a in r.vips.iter().map(|s| s.vip.addr) {
            match g.pending.end(a) {
                Some(e) if e > now => now_due |= g.pending.refresh(a, end, now, interval),
                Some(_) => {
                    lapsed = true;
                    g.pending.open(a, end);
                    now_due = true;
                }
                // Not open: its opening batch failed; try again.
                None => {
                    g.pending.open(a, end);
                    now_due = true;
                }
            }
        }
        if lapsed {
            let r = &mut self.routers[ri];
            tracing::warn!(instance = %r.cfg.name,
                "nftables gate had ended before this advert (process frozen or starved); reopened, announcing the VIPs");
            r.inst.handle_event(now, Event::GateLapsed);
        }
        if now_due {
            self.gate_flush();
        }
    }

    /// Writes every pending refresh in one batch.
    fn gate_flush(&mut self) {
        self.gate_write(crate::gate::Batch::new());
    }

    /// Writes `b` with every pending gate end (as timeouts from now) in one batch.
    fn gate_write(&mut self, mut b: crate::gate::Batch) {
        let Some(g) = self.gate.as_mut() else { return };
        let elems = g.pending.take(Instant::now());
        b.open(&elems);
        if b.is_empty() {
            return;
        }
        let result = g.sock.send(b);
        g.pending.committed(result.is_ok());
        Self::gate_result(g, result);
    }

    fn gate_result(g: &mut GateIo, result: Result<(), gate::GateError>) {
        match result {
            Ok(()) => {
                if std::mem::take(&mut g.failing) {
                    tracing::info!("nftables gate batches succeed again");
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut g.failing, true) {
                    tracing::error!("nftables gate batch failed: {e}");
                }
            }
        }
    }

    /// Closes router `ri`'s gates on purpose (leaving Master, stopping); `forget`
    /// also stops managing its VIPs (the instance is going away).
    fn gate_close(&mut self, ri: usize, forget: bool) {
        if !self.gated(ri) {
            return;
        }
        let addrs: Vec<IpAddr> = self.routers[ri].vips.iter().map(|s| s.vip.addr).collect();
        let Some(g) = self.gate.as_mut() else { return };
        for a in &addrs {
            g.pending.close(*a);
        }
        let mut b = crate::gate::Batch::new();
        b.close(&addrs);
        if forget {
            b.manage(&addrs, false);
        }
        let result = g.sock.send(b);
        Self::gate_result(g, result);
    }

    /// VIPs dropped from an instance by a reload: closed and no longer managed.
    fn gate_forget(&mut self, addrs: &[IpAddr]) {
        let Some(g) = self.gate.as_mut() else { return };
        for a in addrs {
            g.pending.close(*a);
        }
        let mut b = crate::gate::Batch::new();
        b.close(addrs);
        b.manage(addrs, false);
        let result = g.sock.send(b);
        Self::gate_result(g, result);
    }

    /// Clean exit: both tables deleted.
    fn gate_teardown(&mut self) {
        let Some(mut g) = self.gate.take() else {
            return;
        };
        let mut b = crate::gate::Batch::new();
        b.teardown();
        match g.sock.send(b) {
            Ok(()) => tracing::debug!("nftables gate tables deleted"),
            Err(e) => tracing::error!("deleting the nftables gate tables failed: {e}"),
        }
    }

    async fn vip_op(&mut self, ri: usize, lease: Option<Duration>, what: &str) {
        let readded = what == "refresh" && self.vips_missing(ri);
        self.vip_op_inner(ri, lease, what).await;
        if readded {
            let r = &mut self.routers[ri];
            tracing::info!(instance = %r.cfg.name, "VIP was gone from the interface; re-added, announcing it");
            r.inst.handle_event(Instant::now(), Event::VipsReadded);
        }
    }

    /// Whether one of the router's VIPs is absent from its interface (an operator
    /// deleted it): the refresh about to run adds it anew, and it must be announced
    /// (explore schedule 91). One address dump; a failed dump reads as "none missing".
    fn vips_missing(&self, ri: usize) -> bool {
        self.deleted.any_gone(
            self.routers[ri]
                .vips
                .iter()
                .map(|s| (s.ifindex, s.vip.addr)),
        )
    }

    async fn vip_op_inner(&mut self, ri: usize, lease: Option<Duration>, what: &str) {
        let r = &self.routers[ri];
        let mut errors = 0;
        for slot in &r.vips {
            if let Err(e) = self
                .vips
                .add(slot.ifindex, &slot.vip, r.cfg.vrid, lease)
                .await
            {
                errors += 1;
                tracing::error!(instance = %r.cfg.name, vip = %slot.vip, "{what} VIP failed: {e}");
                continue;
            }
            self.deleted.on_present(slot.ifindex, slot.vip.addr);
            if what == "add" {
                tracing::info!(instance = %r.cfg.name, vip = %slot.vip,
                    lease_s = lease.map(|l| l.as_secs_f64()), "VIP added");
            }
        }
        self.vip_errors += errors;
    }

    async fn remove_vips(&mut self, ri: usize) {
        let r = &self.routers[ri];
        let mut errors = 0;
        for slot in &r.vips {
            match self.vips.remove(slot.ifindex, &slot.vip).await {
                Ok(()) => tracing::info!(instance = %r.cfg.name, vip = %slot.vip, "VIP removed"),
                // Its interface was deleted, and the address with it.
                Err(vip::VipError::NoSuchInterface(i)) => tracing::info!(instance = %r.cfg.name,
                    vip = %slot.vip, ifindex = i, "VIP gone with its deleted interface"),
                Err(e) => {
                    errors += 1;
                    tracing::error!(instance = %r.cfg.name, vip = %slot.vip, "remove VIP failed: {e}");
                }
            }
        }
        self.vip_errors += errors;
    }

    /// Queues router `ri`'s advert to each of its destinations ([`outbox`]); it
    /// leaves at the next [`Daemon::flush_adverts`], within the same pass of the loop.
    fn send_advert(&mut self, ri: usize, priority: u8) {
        let r = &mut self.routers[ri];
        if priority != 0 {
            // Before the send: a peer starts its Master_Down timer no sooner.
            r.last_advert = Some(Instant::now());
        }
        r.template.priority = priority;
        let n = r.template.buffer_len();
        for k in 0..r.dsts.len() {
            let dst = &r.dsts[k];
            let buf = self.outbox.reserve(n);
            match r
                .template
                .emit(&mut vrrp::Packet::new_unchecked(&mut buf[..]), r.src, *dst)
            {
                Ok(()) => self.outbox.push(ri, r.sock, r.src, *dst, n),
                Err(e) => {
                    let dst = *dst;
                    self.outbox.unreserve(n);
                    let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
                    Self::advert_sent(&mut self.send_errors, r, dst, Err(e));
                }
            }
        }
    }

    /// Sends every queued advert: one `sendmmsg` per socket and source; a message the
    /// kernel refused is sent again alone, for its error.
    fn flush_adverts(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let (runs, bytes) = self.outbox.runs();
        for run in &runs {
            let Some(first) = run.first() else { continue };
            let Some(sock) = self.vrrp.get(first.sock) else {
                continue;
            };
            let msgs: Vec<(IpAddr, &[u8])> = run
                .iter()
                .map(|q| (q.dst, bytes.get(q.msg.clone()).unwrap_or(&[])))
                .collect();
            let sent = sock.send_many(first.src, &msgs).unwrap_or(0);
            for (k, q) in run.iter().enumerate() {
                let result = if k < sent {
                    Ok(())
                } else {
                    sock.send(msgs[k].1, q.src, q.dst)
                };
                if let Some(r) = self.routers.get_mut(q.router) {
                    Self::advert_sent(&mut self.send_errors, r, q.dst, result);
                }
            }
        }
        self.outbox.clear();
    }

    /// Counts and reports the outcome of one advert of `r` to `dst`.
    fn advert_sent(
        send_errors: &mut u64,
        r: &mut Router,
        dst: IpAddr,
        result: std::io::Result<()>,
    ) {
        match result {
            // A Master that cannot advertise is the two-masters failure vrrpd
            // exists to prevent: say so at once, then every few seconds.
            Err(e) => {
                *send_errors += 1;
                let now = Instant::now();
                if r.send_error_logged
                    .is_none_or(|t| now >= t + CONFLICT_REPORT_EVERY)
                {
                    r.send_error_logged = Some(now);
                    tracing::error!(instance = %r.cfg.name, %dst, errors = *send_errors,
                        "advert not sent: {e}");
                }
            }
            Ok(()) if r.send_error_logged.is_some() => {
                r.send_error_logged = None;
                tracing::info!(instance = %r.cfg.name, %dst, "adverts are sent again");
            }
            Ok(()) => {}
        }
    }

    fn send_frames(&mut self, ri: usize, probe: bool) {
        let r = &self.routers[ri];
        for slot in &r.vips {
            let frame = match (slot.vip.addr, probe) {
                (IpAddr::V4(a), false) => arp::gratuitous(slot.mac, a),
                (IpAddr::V4(a), true) => arp::probe(slot.mac, a),
                (IpAddr::V6(a), false) => match slot.ll6 {
                    Some(ll) => ndisc::unsolicited_na(slot.mac, ll, a, false),
                    None => continue,
                },
                (IpAddr::V6(a), true) => ndisc::solicitation(slot.mac, None, a),
            };
            if let Some(Err(e)) = self.pkt.get(slot.pkt).map(|s| s.send(&frame)) {
                self.send_errors += 1;
                tracing::debug!(instance = %r.cfg.name, vip = %slot.vip, "frame not sent: {e}");
            }
        }
    }

    fn send_gratuitous(&mut self, ri: usize) {
        self.send_frames(ri, false);
    }

    fn send_probes(&mut self, ri: usize) {
        self.send_frames(ri, true);
    }

    /// Reads every packet waiting on VRRP socket `si`; returns how many.
    fn drain_vrrp(&mut self, si: usize) -> usize {
        let mut read = 0;
        let mut batch = std::mem::take(&mut self.rx_batch);
        let now = Instant::now();
        let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
            .ok()
            .map(Duration::from);
        let last_read = self.vrrp.get_mut(si).and_then(|s| s.last_read.replace(now));
        while let Some(sock) = self.vrrp.get(si) {
            match sock.recv_batch(&mut batch) {
                Ok(n) => {
                    read += n;
                    for i in 0..n {
                        match batch.get(i) {
                            Some((Some(rx), data)) => {
                                let payload = data.get(rx.payload.clone()).unwrap_or(&[]);
                                // Dated by the kernel: a polled socket is read up to a
                                // period late.
                                let at = real
                                    .map_or(now, |r| rxpoll::arrival(now, r, rx.stamp, last_read));
                                self.on_vrrp(si, &rx, payload, at);
                            }
                            Some((None, _)) => self.drops.bump(DropReason::Truncated),
                            None => {}
                        }
                    }
                    // A short read emptied the queue; a packet after it is a new
                    // readiness event (or the next scheduled read).
                    if n == 0 || n < batch.capacity() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("VRRP receive failed: {e}");
                    break;
                }
            }
        }
        self.rx_batch = batch;
        self.counters_dirty = true;
        read
    }

    fn on_vrrp(&mut self, si: usize, rx: &sockets::Received, payload: &[u8], now: Instant) {
        if self.own.contains(&rx.src) {
            self.drops.bump(DropReason::OwnPacket);
            return;
        }
        let meta = RxMeta {
            src: rx.src,
            dst: rx.dst,
            ttl: rx.ttl,
        };
        let repr = match rx::parse_advert(payload, &meta) {
            Ok(r) => r,
            Err(reason) => {
                self.drops.bump(reason);
                tracing::debug!(src = %rx.src, %reason, "advert dropped");
                return;
            }
        };
        let slot = self
            .by_vrid
            .get(si)
            .map_or(0, |t| t[usize::from(repr.vrid)]);
        let Some((i, r)) = slot.checked_sub(1).and_then(|i| {
            let i = usize::from(i);
            self.routers.get_mut(i).map(|r| (i, r))
        }) else {
            self.drops.bump(DropReason::UnknownVrid);
            tracing::debug!(src = %rx.src, vrid = repr.vrid, "advert for unknown VRID dropped");
            return;
        };
        match rx::check_for_instance(&repr, &meta, &r.expect()) {
            Ok(mut adv) => {
                if r.cfg.skip_check_adv_addr {
                    // keepalived's skip_check_adv_addr: accept any address list.
                    adv.addrs_match = true;
                }
                if !adv.addrs_match && adv.priority != PRIORITY_OWNER {
                    r.drops.bump(DropReason::AddressMismatch);
                    self.drops.bump(DropReason::AddressMismatch);
                }
                let interval = r.inst.master_adver_interval();
                r.inst.handle_event(now, Event::Advert(adv));
                // A learnt interval moves Skew_Time, which bounds the poll period.
                let relearnt = r.inst.master_adver_interval() != interval;
                self.rx_modes_dirty |= relearnt;
                self.touched.push(i);
            }
            Err(reason) => {
                r.drops.bump(reason);
                self.drops.bump(reason);
                tracing::debug!(instance = %r.cfg.name, src = %rx.src, %reason, "advert dropped");
            }
        }
    }

    fn drain_packet(&mut self, pi: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        let now = Instant::now();
        while let Some(sock) = self.pkt.get(pi) {
            let ifindex = sock.ifindex;
            match sock.recv(&mut buf) {
                Ok(n) => {
                    let frame = buf.get(..n).unwrap_or(&[]);
                    self.on_frame(ifindex, frame, now);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("AF_PACKET receive failed: {e}");
                    break;
                }
            }
        }
        self.buf = buf;
    }

    /// An ARP or NA frame: a conflict if another MAC claims one of a Master's VIPs.
    fn on_frame(&mut self, ifindex: u32, frame: &[u8], now: Instant) {
        let claim = if let Ok((_, a)) = arp::parse_frame(frame) {
            (a.op == arp::Operation::Reply).then_some((IpAddr::V4(a.sender_ip), a.sender_mac))
        } else if let Ok(nd) = ndisc::parse_frame(frame) {
            match nd.repr {
                ndisc::Repr::NeighborAdvert {
                    target, target_lla, ..
                } if nd.hop_limit == ndisc::HOP_LIMIT => {
                    Some((IpAddr::V6(target), target_lla.unwrap_or(nd.src_mac)))
                }
                _ => None,
            }
        } else {
            None
        };
        let Some((addr, mac)) = claim else { return };
        for (ri, r) in self.routers.iter_mut().enumerate() {
            if r.inst.state() != State::Master {
                continue;
            }
            if r.vips
                .iter()
                .any(|s| s.ifindex == ifindex && s.vip.addr == addr && s.mac != mac)
            {
                r.inst.handle_event(now, Event::ConflictSeen { mac: mac.0 });
                self.touched.push(ri);
            }
        }
    }

    async fn self_check(&mut self, now: Instant) {
        let interval = self
            .routers
            .iter()
            .filter(|r| matches!(r.inst.state(), State::Backup | State::Fault))
            .map(|r| r.cfg.advert_interval)
            .min();
        let Some(interval) = interval else {
            self.selfcheck_at = None;
            return;
        };
        self.selfcheck_at = Some(now + check_period(interval));
        if !self.behaviour.backup_self_check {
            return;
        }
        let entries = match self.vips.list(None).await {
            Ok(e) => e,
            Err(e) => {
                self.vip_errors += 1;
                tracing::warn!("self-check: listing addresses failed: {e}");
                return;
            }
        };
        let mut found = Vec::new();
        for (ri, r) in self.routers.iter().enumerate() {
            if !matches!(r.inst.state(), State::Backup | State::Fault) {
                continue;
            }
            if let Some(slot) = r.vips.iter().find(|s| {
                entries
                    .iter()
                    .any(|e| e.ifindex == s.ifindex && e.addr == s.vip.addr)
            }) {
                tracing::warn!(instance = %r.cfg.name, state = %r.inst.state(), vip = %slot.vip,
                    "self-check: our VIP is on the interface while not Master; removing");
                found.push(ri);
            }
        }
        for ri in found {
            self.routers[ri]
                .inst
                .handle_event(now, Event::VipFoundWhileBackup);
            self.run_actions(ri, now).await;
        }
    }

    async fn on_netlink(&mut self, msg: NetlinkMessage<RouteNetlinkMessage>) {
        match msg.payload {
            NetlinkPayload::InnerMessage(m) => {
                self.on_address_event(&m);
                self.on_link_identity(&m).await;
                if let Some((index, name, up)) = iface::link_event(&m) {
                    let name = name.or_else(|| self.link_names.get(&index).cloned());
                    if let Some(name) = name {
                        self.set_link(&name, up);
                    }
                }
            }
            NetlinkPayload::Overrun(_) => {
                tracing::warn!("netlink link events lost; re-reading link states");
                self.check_interfaces().await;
                let names: Vec<String> = self.link_up.keys().cloned().collect();
                for n in names {
                    let up = iface::lookup(&self.handle, &self.vips, &n)
                        .await
                        .map(|i| i.up)
                        .unwrap_or(false);
                    self.set_link(&n, up);
                }
            }
            _ => {}
        }
        self.run_all_actions(Instant::now()).await;
    }

    fn set_link(&mut self, name: &str, up: bool) {
        match self.link_up.get_mut(name) {
            Some(v) if *v != up => *v = up,
            _ => return,
        }
        tracing::info!(interface = name, up, "link state changed");
        self.tracking.set_interface(name, up);
        self.apply_health(Instant::now());
    }

    async fn stop_router(&mut self, ri: usize, now: Instant) {
        self.routers[ri].stopping = true;
        self.routers[ri].inst.handle_event(now, Event::Shutdown);
        self.run_actions(ri, now).await;
    }

    async fn shutdown(&mut self) {
        let now = Instant::now();
        for ri in 0..self.routers.len() {
            self.stop_router(ri, now).await;
        }
        if self.behaviour.release_on_stop {
            self.prune_vmac_links().await;
        }
        self.tracking.stop();
        self.static_routes(false).await;
        if self.behaviour.release_on_stop {
            self.gate_teardown();
        }
        self.state_dirty = true;
        self.write_state(true);
        tracing::info!("vrrpd stopped");
    }

    async fn reload(&mut self) {
        self.rx_modes_dirty = true;
        tracing::info!("SIGHUP: reloading the configuration");
        let new = match self.opts.source.load() {
            Ok((c, warnings)) => {
                for w in &warnings {
                    tracing::warn!("{w}");
                }
                c
            }
            Err(e) => {
                tracing::error!("reload failed, keeping the running configuration:\n{e}");
                return;
            }
        };
        let plan = reload::plan(&self.config.instances, &new.instances);
        // An interface deleted and re-created keeps its name but not its index: that
        // is a change even when the file is not.
        let moved = self.check_interfaces().await;
        if self.config == new && !moved {
            tracing::info!("reload: nothing changed");
            return;
        }
        // Build what is new first, so a failure leaves everything as it was.
        let mut fresh: HashMap<usize, Router> = HashMap::new();
        let to_build = plan
            .start
            .iter()
            .copied()
            .chain(plan.replace.iter().map(|&(_, n)| n))
            .chain(plan.vips.iter().map(|&(_, n)| n));
        for ni in to_build {
            match self
                .build_or_wait(new.instances[ni].clone(), ADDRESS_PATIENCE)
                .await
            {
                Ok(r) => {
                    fresh.insert(ni, r);
                }
                Err(e) => {
                    tracing::error!("reload failed, keeping the running configuration: {e:#}");
                    return;
                }
            }
        }
        let now = Instant::now();
        let stops: Vec<usize> = plan
            .stop
            .iter()
            .copied()
            .chain(plan.replace.iter().map(|&(o, _)| o))
            .collect();
        for &oi in &stops {
            tracing::info!(instance = %self.routers[oi].cfg.name, "reload: stopping");
            self.stop_router(oi, now).await;
        }
        let mut old: Vec<Option<Router>> = std::mem::take(&mut self.routers)
            .into_iter()
            .map(Some)
            .collect();
        let mut routers = Vec::with_capacity(new.instances.len());
        let mut started = Vec::new();
        let kept: HashMap<usize, usize> = plan.keep.iter().map(|&(o, n)| (n, o)).collect();
        let revised: HashMap<usize, usize> = plan.vips.iter().map(|&(o, n)| (n, o)).collect();
        let mut updated = Vec::new();
        for ni in 0..new.instances.len() {
            if let Some(&oi) = kept.get(&ni) {
                if let Some(r) = old.get_mut(oi).and_then(Option::take) {
                    routers.push(r);
                    continue;
                }
            }
            if let Some(&oi) = revised.get(&ni) {
                let r = old.get_mut(oi).and_then(Option::take);
                if let (Some(mut r), Some(f)) = (r, fresh.remove(&ni)) {
                    let dropped = reload::take_vip_list(&mut r, f);
                    updated.push((routers.len(), dropped));
                    routers.push(r);
                    continue;
                }
            }
            if let Some(r) = fresh.remove(&ni) {
                started.push(routers.len());
                routers.push(r);
            }
        }
        self.routers = routers;
        self.static_routes(false).await;
        self.config = new;
        self.reindex();
        self.prune_vmac_links().await;
        self.static_routes(true).await;
        self.start_tracking().await;
        self.apply_health(now);
        for ri in started {
            tracing::info!(instance = %self.routers[ri].cfg.name, "reload: starting");
            self.start_router(ri, now);
        }
        for (ri, dropped) in updated {
            self.apply_vip_list(ri, &dropped).await;
        }
        if self.selfcheck_at.is_none() {
            self.selfcheck_at = Some(now);
        }
        self.run_all_actions(now).await;
        tracing::info!(
            kept = plan.keep.len(),
            stopped = plan.stop.len(),
            started = plan.start.len(),
            replaced = plan.replace.len(),
            vips_updated = plan.vips.len(),
            "reload done"
        );
    }

    /// A reload changed router `ri`'s VIP list in place: as Master, remove the
    /// `dropped` VIPs, add the whole list (the kept ones are refreshed) and announce it;
    /// in any other state there is nothing on the interface to change.
    async fn apply_vip_list(&mut self, ri: usize, dropped: &[VipSlot]) {
        tracing::info!(instance = %self.routers[ri].cfg.name, state = %self.routers[ri].inst.state(),
            "reload: VIP list changed, updated in place");
        let gone: Vec<IpAddr> = dropped.iter().map(|s| s.vip.addr).collect();
        self.gate_forget(&gone);
        if self.routers[ri].inst.state() != State::Master {
            return;
        }
        for slot in dropped {
            match self.vips.remove(slot.ifindex, &slot.vip).await {
                Ok(()) => tracing::info!(vip = %slot.vip, "VIP removed (reload)"),
                Err(e) => {
                    self.vip_errors += 1;
                    tracing::error!(vip = %slot.vip, "remove VIP failed: {e}");
                }
            }
        }
        self.gate_open(ri);
        let lease = self.routers[ri]
            .inst
            .lease()
            .map(|l| self.first_lease(ri, l));
        self.vip_op(ri, lease, "add").await;
        let now = Instant::now();
        self.routers[ri].last_refresh = Some(now);
        self.routers[ri].inst.handle_event(now, Event::VipsReadded);
        self.run_actions(ri, now).await;
    }

    /// Address events: remember deletions of our VIPs until they are added again.
    fn on_address_event(&mut self, m: &RouteNetlinkMessage) {
        match m {
            RouteNetlinkMessage::DelAddress(a) => {
                let Some(e) = vip::AddrEntry::from_message(a) else {
                    return;
                };
                let ours = self.routers.iter().any(|r| {
                    r.vips
                        .iter()
                        .any(|s| s.ifindex == e.ifindex && s.vip.addr == e.addr)
                });
                if ours {
                    self.deleted.on_deleted(e.ifindex, e.addr);
                }
            }
            RouteNetlinkMessage::NewAddress(a) => {
                if let Some(e) = vip::AddrEntry::from_message(a) {
                    self.deleted.on_present(e.ifindex, e.addr);
                }
            }
            _ => {}
        }
    }

    /// Link identity changes: a deleted link we use, or a link of a name we use that
    /// now has another index (deleted and re-created; the delete may have been missed).
    async fn on_link_identity(&mut self, m: &RouteNetlinkMessage) {
        match m {
            RouteNetlinkMessage::DelLink(l) if self.link_names.contains_key(&l.header.index) => {
                self.interface_gone(l.header.index).await;
            }
            RouteNetlinkMessage::NewLink(l) => {
                let (index, name, _) = iface::link_state(l);
                let Some(name) = name else { return };
                if let Some(old) = self.ifaces.get(&name).map(|i| i.index) {
                    if old != index {
                        self.interface_gone(old).await;
                    }
                }
                if self.routers.iter().any(|r| r.detached) {
                    let now = Instant::now();
                    self.retry_at = Some(self.retry_at.map_or(now, |t| t.min(now)));
                }
            }
            _ => {}
        }
    }

    /// Interface `index` is gone (issue 13 item 2): its addresses went with it, the
    /// sockets bound to it are dead. Every router using it goes to FAULT (notify_fault,
    /// its other VIPs removed) and is replaced by a detached stand-in that is rebuilt —
    /// new index, new sockets — when the interface is back.
    async fn interface_gone(&mut self, index: u32) {
        let Some(name) = self.link_names.remove(&index) else {
            return;
        };
        let shown = config::escape_controls(&name).into_owned();
        tracing::warn!(interface = %shown, ifindex = index,
            "interface deleted; its instances are in FAULT until it is back");
        let current = self.ifaces.get(&name).is_some_and(|i| i.index == index);
        if current {
            self.ifaces.remove(&name);
            self.set_link(&name, false);
        }
        let now = Instant::now();
        let affected: Vec<usize> = (0..self.routers.len())
            .filter(|&ri| {
                let r = &self.routers[ri];
                !r.detached
                    && (self.vrrp.get(r.sock).is_some_and(|s| s.ifindex == index)
                        || r.vips.iter().any(|v| v.ifindex == index))
            })
            .collect();
        for &ri in &affected {
            let r = &mut self.routers[ri];
            r.vips.retain(|v| v.ifindex != index);
            if r.links_up {
                r.links_up = false;
                r.inst.handle_event(now, Event::InterfaceDown);
            }
            self.run_actions(ri, now).await;
            let mut stand_in = Router::detached(self.routers[ri].cfg.clone(), &self.behaviour);
            stand_in.links_up = false;
            stand_in.inst.handle_event(now, Event::InterfaceDown);
            stand_in.inst.handle_event(now, Event::Startup);
            while stand_in.inst.poll_action().is_some() {}
            self.routers[ri] = stand_in;
        }
        self.compact_sockets();
        self.reindex();
        self.state_dirty = true;
        self.retry_at = Some(now + RETRY_EVERY);
        self.run_all_actions(now).await;
    }

    /// Drops the sockets of interfaces no longer known and renumbers the routers'
    /// socket indices; recomputes our own addresses.
    fn compact_sockets(&mut self) {
        let live = |ifindex: u32| self.link_names.contains_key(&ifindex);
        let mut vmap = vec![usize::MAX; self.vrrp.len()];
        let mut kept = Vec::new();
        for (i, sock) in std::mem::take(&mut self.vrrp).into_iter().enumerate() {
            if live(sock.ifindex) {
                vmap[i] = kept.len();
                kept.push(sock);
            }
        }
        self.vrrp = kept;
        self.rx_modes_dirty = true;
        let mut pmap = vec![usize::MAX; self.pkt.len()];
        let mut kept = Vec::new();
        for (i, sock) in std::mem::take(&mut self.pkt).into_iter().enumerate() {
            if live(sock.ifindex) {
                pmap[i] = kept.len();
                kept.push(sock);
            }
        }
        self.pkt = kept;
        let mut own = Vec::new();
        for r in &mut self.routers {
            r.sock = vmap.get(r.sock).copied().unwrap_or(usize::MAX);
            for v in &mut r.vips {
                v.pkt = pmap.get(v.pkt).copied().unwrap_or(usize::MAX);
            }
            if !r.detached && !own.contains(&r.src) {
                own.push(r.src);
            }
        }
        for i in self.ifaces.values() {
            for a in [i.v4.map(IpAddr::V4), i.ll6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
            {
                if !own.contains(&a) {
                    own.push(a);
                }
            }
        }
        self.own = own;
    }

    /// Tries to build every detached router (its interface may be back); the ones that
    /// build start from INIT like a fresh start.
    async fn rebuild_detached(&mut self, now: Instant) {
        self.retry_at = None;
        let mut rebuilt = Vec::new();
        for ri in 0..self.routers.len() {
            if !self.routers[ri].detached {
                continue;
            }
            let cfg = self.routers[ri].cfg.clone();
            match self.build_router(cfg, Duration::ZERO).await {
                Ok(r) => {
                    tracing::info!(instance = %config::escape_controls(&r.cfg.name),
                        interface = %config::escape_controls(&r.cfg.interface),
                        "interface is there: instance starts");
                    self.routers[ri] = r;
                    rebuilt.push(ri);
                }
                Err(BuildError::Waiting(_)) => self.retry_at = Some(now + RETRY_EVERY),
                Err(BuildError::Fatal(e)) => {
                    tracing::error!(instance = %config::escape_controls(&self.routers[ri].cfg.name),
                        "cannot start the instance: {e:#}");
                    self.retry_at = Some(now + RETRY_EVERY);
                }
            }
        }
        if rebuilt.is_empty() {
            return;
        }
        self.reindex();
        self.apply_health(now);
        for ri in rebuilt {
            self.start_router(ri, now);
        }
        self.run_all_actions(now).await;
    }

    /// Checks every interface resolved so far against the kernel: one that vanished or
    /// changed index is handled as deleted; then waiting routers try again. Returns
    /// whether an interface had changed.
    async fn check_interfaces(&mut self) -> bool {
        let known: Vec<(u32, String)> = self
            .link_names
            .iter()
            .map(|(i, n)| (*i, n.clone()))
            .collect();
        let mut moved = false;
        for (index, name) in known {
            let now_index = nix::net::if_::if_nametoindex(name.as_str()).ok();
            if now_index != Some(index) {
                tracing::warn!(interface = %config::escape_controls(&name), old_ifindex = index,
                    new_ifindex = ?now_index, "interface changed since it was resolved");
                self.interface_gone(index).await;
                moved = true;
            }
        }
        if self.routers.iter().any(|r| r.detached) {
            self.rebuild_detached(Instant::now()).await;
        }
        moved
    }

    fn flush_state(&mut self, now: Instant) {
        if self.state_dirty || (self.counters_dirty && now >= self.state_flush_at) {
            self.write_state(false);
        }
    }

    fn snapshot(&self, stopping: bool) -> state_file::StateFile {
        state_file::StateFile {
            pid: std::process::id(),
            stopping,
            instances: self
                .routers
                .iter()
                .map(|r| state_file::InstanceState {
                    name: r.cfg.name.clone(),
                    interface: r.cfg.interface.clone(),
                    vrid: r.cfg.vrid,
                    family: match r.cfg.family {
                        Family::Ipv4 => "ipv4",
                        Family::Ipv6 => "ipv6",
                    },
                    version: r.cfg.version.number(),
                    state: r.inst.state().as_str(),
                    priority: r.inst.effective_priority(),
                    master: r.inst.master().map(|m| m.to_string()),
                    vips: r.vips.iter().map(|s| s.vip.to_string()).collect(),
                    counters: r.inst.counters().clone(),
                    drops: r.drops,
                })
                .collect(),
            drops: self.drops,
            send_errors: self.send_errors,
            vip_errors: self.vip_errors,
            notify_refused: self.notifier.refused,
        }
    }

    fn write_state(&mut self, stopping: bool) {
        self.state_dirty = false;
        self.counters_dirty = false;
        self.state_flush_at = Instant::now() + STATE_FLUSH;
        let Some(path) = self.opts.state_file.clone() else {
            return;
        };
        let written = state_file::render(&self.snapshot(stopping))
            .map_err(std::io::Error::other)
            .and_then(|bytes| state_file::write_atomic(&path, &bytes));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), "state file not written: {e}");
        }
    }
}

/// Every interface a configuration puts VIPs on or sends adverts on.
fn interfaces_of(instances: &[InstanceConfig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in instances {
        let names =
            std::iter::once(&i.interface).chain(i.vips.iter().filter_map(|v| v.dev.as_ref()));
        for n in names {
            if seen.insert(n.as_str()) {
                out.push(n.clone());
            }
        }
    }
    out
}

/// Resolves when one of the sockets is readable; clears its readiness first, so the
/// caller must read it until `WouldBlock`.
async fn readable(vrrp: &[VrrpSocket], pkt: &[PacketSocket]) -> Readable {
    poll_fn(|cx| {
        for (i, s) in vrrp.iter().enumerate() {
            let Some(fd) = s.async_fd() else { continue };
            if let Poll::Ready(Ok(mut g)) = fd.poll_read_ready(cx) {
                g.clear_ready();
                return Poll::Ready(Readable::Vrrp(i));
            }
        }
        for (i, s) in pkt.iter().enumerate() {
            if let Poll::Ready(Ok(mut g)) = s.async_fd().poll_read_ready(cx) {
                g.clear_ready();
                return Poll::Ready(Readable::Packet(i));
            }
        }
        Poll::Pending
    })
    .await
}

/// Path helper for tests and tools: the state file's temporary sibling.
pub fn state_tmp_path(path: &Path) -> PathBuf {
    state_file::tmp_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_include_vip_devices_once() {
        let c = config::parse_toml(
            r#"
[[instance]]
name = "a"
interface = "eth1"
vrid = 1
vips = [{ addr = "192.0.2.20", dev = "eth2" }, "192.0.2.21"]

[[instance]]
name = "b"
interface = "eth1"
vrid = 2
vips = ["192.0.2.22"]
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(interfaces_of(&c.instances), vec!["eth1", "eth2"]);
    }

    /// `n` instances of 250 IPv6 VIPs each.
    fn many_ipv6(n: u16, lease: bool) -> Config {
        let text: String = (1..=n)
            .map(|i| {
                let vips: Vec<String> = (1..=250)
                    .map(|k| format!("\"2001:db8:{i:x}::{k:x}/128\""))
                    .collect();
                format!(
                    "[[instance]]\nname = \"i{i}\"\ninterface = \"eth1\"\nvrid = {i}\n\
                     lease = {lease}\nvips = [{}]\n\n",
                    vips.join(", ")
                )
            })
            .collect();
        config::parse_toml(&text, "t.toml").unwrap()
    }

    #[test]
    fn many_leased_ipv6_vips_get_a_warning_suggesting_lease_false() {
        let warned = |c: &Config| {
            host_warnings(&Source::Toml("t.toml".into()), c)
                .iter()
                .any(|w| w.contains("IPv6 VIPs with a lease") && w.contains("lease = false"))
        };
        // 7 × 250 = 1,750 leased: warned; 6 × 250 = 1,500: not; unleased: not.
        assert_eq!(leased_ipv6_vips(&many_ipv6(7, true)), 1750);
        assert!(warned(&many_ipv6(7, true)));
        assert!(!warned(&many_ipv6(6, true)));
        assert!(!warned(&many_ipv6(7, false)));
    }
}
