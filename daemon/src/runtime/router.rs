//! One configured virtual router at run time: the sans-IO [`Instance`] plus what the
//! IO layer needs to carry out its actions (socket, addresses, advert template, VIPs).

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::lease::LeasePlan;
use super::misbehave::Behaviour;
use super::reload::{key, Key};
use super::rx::{DropCounters, Expect};
use crate::config::{InitialState, InstanceConfig, Version};
use crate::instance::{
    lease_budget, lease_floor, Instance, Params, KERNEL_EXPIRY_LATE, KERNEL_EXPIRY_LATE_ROUNDED,
};
use crate::vip;
use crate::wire::{vrrp, Mac};

/// How much lease must be left after the next advert interval for a refresh to be
/// skipped. Skipping refreshes only ever shortens how long a VIP outlives its daemon,
/// so this trades netlink work against headroom before an unwanted expiry.
pub const REFRESH_HEADROOM: Duration = Duration::from_millis(500);

/// One VIP and where it lives.
#[derive(Debug, Clone)]
pub struct VipSlot {
    /// Interface index the VIP is added to.
    pub ifindex: u32,
    /// The VIP (with its IPv4 label resolved, so adding it needs no extra lookup).
    pub vip: vip::Vip,
    /// Index of the interface's packet socket, for GARP/NA and probes.
    pub pkt: usize,
    /// The interface's MAC, the source of GARP/NA frames.
    pub mac: Mac,
    /// The interface's link-local address (IPv6 NA source).
    pub ll6: Option<Ipv6Addr>,
}

/// A running virtual router.
#[derive(Debug)]
pub struct Router {
    /// Its configuration.
    pub cfg: InstanceConfig,
    /// Its reload key.
    pub key: Key,
    /// The protocol core.
    pub inst: Instance,
    /// Index of its VRRP socket.
    pub sock: usize,
    /// Source address of its adverts.
    pub src: IpAddr,
    /// Destinations of its adverts: the group, or the unicast peers.
    pub dsts: Vec<IpAddr>,
    /// Advert template; the priority is set per send.
    pub template: vrrp::Repr,
    /// The VIP addresses (for the address-list comparison).
    pub vip_addrs: Vec<IpAddr>,
    /// The VIPs with their interfaces.
    pub vips: Vec<VipSlot>,
    /// v2 password as sent on the wire.
    pub auth: Option<[u8; 8]>,
    /// Drops attributed to this router.
    pub drops: DropCounters,
    /// Next conflict probe (while Master).
    pub probe_at: Option<Instant>,
    /// Last time the VIP lifetimes were set.
    pub last_refresh: Option<Instant>,
    /// How long its lease may run after an advert (see [`super::lease`]).
    pub lease_plan: LeasePlan,
    /// When its last advert (priority above 0) was sent.
    pub last_advert: Option<Instant>,
    /// A lease refresh deferred out of the kernel's rounding window.
    pub refresh_at: Option<Instant>,
    /// When a conflict was last logged and notified (rate limit).
    pub last_conflict_report: Option<Instant>,
    /// Whether this run added its VIPs (keepalived-1.2 control).
    pub added_this_run: bool,
    /// Interfaces whose state decides Fault: its own plus track_interfaces.
    pub tracked: Vec<String>,
    /// What the instance was last told about the tracked links.
    pub links_up: bool,
    /// Shutting down (clean stop or removed by a reload).
    pub stopping: bool,
    /// When a failed advert send was last logged; `None` while sends succeed.
    pub send_error_logged: Option<Instant>,
    /// Its interface (or a VIP's) is missing or not ready: no socket, no VIPs, held in
    /// FAULT until the daemon can build it (issue 13 items 2 and 3).
    pub detached: bool,
    /// Index of its sync group in the configuration, if any.
    pub group: Option<usize>,
    /// Its state changes come from its sync group: do not propagate them back.
    pub sync_induced: bool,
    /// Output interface index of each `cfg.routes` entry with a `dev`.
    pub route_oifs: Vec<Option<u32>>,
}

/// The state machine's parameters for `cfg`.
pub fn params(cfg: &InstanceConfig, own_addr: IpAddr, behaviour: &Behaviour) -> Params {
    let mut p = Params::new(cfg.vrid, own_addr);
    p.version = cfg.version;
    p.priority = cfg.priority;
    p.advert_interval = cfg.advert_interval;
    p.preempt = cfg.preempt;
    p.preempt_delay = cfg.preempt_delay;
    p.initial_master = cfg.initial_state == Some(InitialState::Master);
    p.garp_repeat = cfg.garp_repeat;
    // The configured garp_delay is keepalived's garp_master_delay: the pause before a
    // *second* burst, which the state machine does not send. The garp_repeat rounds go
    // out on becoming MASTER, `garp_interval` apart (keepalived's vrrp_garp_interval).
    p.garp_delay = cfg.garp_interval;
    p.garp_refresh = cfg.garp_refresh;
    p.lease = cfg.lease && behaviour.lease;
    p
}

/// The lease budgets of `cfg`'s instance.
pub fn lease_plan(cfg: &InstanceConfig) -> LeasePlan {
    let budget = |late| lease_budget(cfg.version, cfg.priority, cfg.advert_interval, late);
    LeasePlan {
        budget: budget(KERNEL_EXPIRY_LATE),
        budget_rounded: budget(KERNEL_EXPIRY_LATE_ROUNDED),
        floor: lease_floor(cfg.advert_interval),
    }
}

/// The advert template for `cfg`.
pub fn template(cfg: &InstanceConfig) -> vrrp::Repr {
    let (version, interval) = match cfg.version {
        Version::V2 => (vrrp::Version::V2, cfg.advert_interval.as_secs()),
        Version::V3 => (
            vrrp::Version::V3,
            u64::try_from(cfg.advert_interval.as_millis() / 10).unwrap_or(u64::MAX),
        ),
    };
    let auth = match cfg.version {
        Version::V2 => cfg
            .auth_pass
            .as_ref()
            .map(|p| vrrp::pass_auth(p.as_bytes())),
        Version::V3 => None,
    };
    vrrp::Repr {
        version,
        vrid: cfg.vrid,
        priority: cfg.priority,
        max_advert_int: u16::try_from(interval).unwrap_or(u16::MAX),
        addrs: cfg.vips.iter().map(|v| v.addr).collect(),
        auth,
    }
}

/// Whether a lease refresh can be skipped: the lifetime set at `last` still covers the
/// next interval with [`REFRESH_HEADROOM`] to spare.
pub fn refresh_due(
    last: Option<Instant>,
    now: Instant,
    interval: Duration,
    lease: Duration,
) -> bool {
    match last {
        None => true,
        Some(t) => now + interval + REFRESH_HEADROOM >= t + lease,
    }
}

impl Router {
    /// What adverts for this router must look like.
    pub fn expect(&self) -> Expect<'_> {
        Expect {
            version: self.template.version,
            auth: self.auth,
            addrs: &self.vip_addrs,
        }
    }

    /// Builds a router (not started).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: InstanceConfig,
        sock: usize,
        src: IpAddr,
        vips: Vec<VipSlot>,
        behaviour: &Behaviour,
    ) -> Router {
        let template = template(&cfg);
        let dsts = if cfg.unicast_peers.is_empty() {
            vec![vrrp::group(crate::wire::Family::of(&src))]
        } else {
            cfg.unicast_peers
                .iter()
                .copied()
                .filter(|p| *p != src)
                .collect()
        };
        let mut tracked = vec![cfg.interface.clone()];
        for t in &cfg.track_interfaces {
            if !tracked.contains(t) {
                tracked.push(t.clone());
            }
        }
        Router {
            key: key(&cfg),
            inst: Instance::new(params(&cfg, src, behaviour)),
            sock,
            src,
            dsts,
            auth: template.auth,
            vip_addrs: template.addrs.clone(),
            template,
            vips,
            drops: DropCounters::default(),
            probe_at: None,
            last_refresh: None,
            lease_plan: lease_plan(&cfg),
            last_advert: None,
            refresh_at: None,
            last_conflict_report: None,
            added_this_run: false,
            tracked,
            links_up: true,
            stopping: false,
            send_error_logged: None,
            detached: false,
            group: None,
            sync_induced: false,
            route_oifs: Vec::new(),
            cfg,
        }
    }

    /// A stand-in for a router whose interface is missing: no socket (`sock` points
    /// nowhere), no VIPs, and it never leaves FAULT ([`Router::detached`]).
    pub fn detached(cfg: InstanceConfig, behaviour: &Behaviour) -> Router {
        let src = match cfg.family {
            crate::config::Family::Ipv4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            crate::config::Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let mut r = Router::new(cfg, usize::MAX, src, Vec::new(), behaviour);
        r.detached = true;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;

    fn cfg(extra: &str) -> InstanceConfig {
        let text = format!(
            "[[instance]]\nname = \"a\"\ninterface = \"eth1\"\nvrid = 51\nvips = [\"192.0.2.20\"]\n{extra}"
        );
        parse_toml(&text, "t.toml").unwrap().instances.remove(0)
    }

    #[test]
    fn v3_template_in_centiseconds_v2_in_seconds_with_password() {
        let t = template(&cfg("advert_interval = \"100ms\"\n"));
        assert_eq!(
            (t.version, t.max_advert_int, t.auth),
            (vrrp::Version::V3, 10, None)
        );
        let t = template(&cfg(
            "version = 2\nadvert_interval = \"3s\"\nauth_pass = \"1111\"\n",
        ));
        assert_eq!(t.version, vrrp::Version::V2);
        assert_eq!(t.max_advert_int, 3);
        assert_eq!(t.auth, Some(*b"1111\0\0\0\0"));
    }

    #[test]
    fn lease_follows_config_and_behaviour() {
        let own: IpAddr = "192.0.2.11".parse().unwrap();
        let c = cfg("");
        assert!(params(&c, own, &Behaviour::CORRECT).lease);
        let off = Behaviour::with(Some(super::super::misbehave::Misbehave::NoLease));
        assert!(!params(&c, own, &off).lease);
        assert!(!params(&cfg("lease = false\n"), own, &Behaviour::CORRECT).lease);
    }

    #[test]
    fn unicast_peers_skip_our_own_address() {
        let c = cfg("unicast_peers = [\"192.0.2.11\", \"192.0.2.12\"]\n");
        let r = Router::new(
            c,
            0,
            "192.0.2.11".parse().unwrap(),
            vec![],
            &Behaviour::CORRECT,
        );
        assert_eq!(r.dsts, vec!["192.0.2.12".parse::<IpAddr>().unwrap()]);
        let m = Router::new(
            cfg(""),
            0,
            "192.0.2.11".parse().unwrap(),
            vec![],
            &Behaviour::CORRECT,
        );
        assert_eq!(m.dsts, vec!["224.0.0.18".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn refresh_skipped_only_with_headroom() {
        let t0 = Instant::now();
        let lease = Duration::from_secs(1);
        let iv = Duration::from_millis(100);
        assert!(refresh_due(None, t0, iv, lease));
        assert!(!refresh_due(
            Some(t0),
            t0 + Duration::from_millis(100),
            iv,
            lease
        ));
        assert!(refresh_due(
            Some(t0),
            t0 + Duration::from_millis(400),
            iv,
            lease
        ));
        // At 1 s with a 2 s lease every advert refreshes.
        let iv = Duration::from_secs(1);
        let lease = Duration::from_secs(2);
        assert!(refresh_due(Some(t0), t0 + iv, iv, lease));
    }
}
