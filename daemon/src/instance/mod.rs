//! The sans-IO protocol core of one VRRP virtual router (RFC 5798 §6, RFC 3768 for v2).
//!
//! Nothing in here touches a socket, a clock or the kernel: the caller feeds [`Event`]s
//! and timer expiries with an explicit `now`, then drains [`Action`]s with
//! [`Instance::poll_action`] and arms one timer at [`Instance::poll_timeout`]
//! (the quinn-proto model). A caller loop looks like:
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # use std::net::{IpAddr, Ipv4Addr};
//! # use vrrpd::instance::{Action, Event, Instance, Params};
//! let mut vr = Instance::new(Params::new(51, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11))));
//! let now = Instant::now();
//! vr.handle_event(now, Event::Startup);
//! while let Some(action) = vr.poll_action() {
//!     // send adverts, add/remove VIPs, send GARPs, run notify scripts ...
//!     # let _ = action;
//! }
//! if let Some(deadline) = vr.poll_timeout() {
//!     // sleep until `deadline` or until a packet arrives, then:
//!     vr.handle_timeout(deadline);
//! }
//! ```
//!
//! # Ordering of actions around a transition
//!
//! [`Action::StateChange`] marks the instant of the transition: the actions that leave
//! the old state (priority-0 advert, [`Action::RemoveVips`]) come before it, the actions
//! that enter the new state ([`Action::AddVips`], the first advert, gratuitous ARP/NA)
//! come after it.

mod timers;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub use timers::{
    gate_end, gate_timeout, lease_budget, lease_floor, lease_for, lease_overlap_bound,
    master_down_interval, skew_time, ADVERT_JITTER, GATE_MARGIN, KERNEL_EXPIRY_EARLY,
    KERNEL_EXPIRY_LATE, KERNEL_EXPIRY_LATE_ROUNDED, LEASE_MARGIN,
};

/// The address owner's priority (RFC 5798 §5.2.4): it owns the VIPs and always preempts.
pub const PRIORITY_OWNER: u8 = 255;

/// The priority a Master sends when it stops participating (RFC 5798 §5.2.4).
pub const PRIORITY_STOP: u8 = 0;

/// Shortest VRRPv3 advertisement interval (one centisecond).
pub const MIN_ADVERT_INTERVAL_V3: Duration = Duration::from_millis(10);

/// Longest VRRPv3 advertisement interval (4095 centiseconds, the 12-bit field).
pub const MAX_ADVERT_INTERVAL_V3: Duration = Duration::from_millis(40_950);

/// VRRP protocol version spoken by an instance: the crate's one [`Version`] type,
/// under the name the state machine has always used.
///
/// [`Version`]: crate::wire::vrrp::Version
pub use crate::wire::vrrp::Version as ProtoVersion;

/// The state of a virtual router (RFC 5798 §6.4 plus `Fault` and `Stopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Created, [`Event::Startup`] not yet received.
    Initialize,
    /// Monitoring the Master; takes over when `Master_Down_Timer` fires.
    Backup,
    /// Holding the VIPs and advertising.
    Master,
    /// A tracked interface is down: holding no VIP, sending nothing, ignoring adverts.
    Fault,
    /// Shut down; terminal, no timers, every later event is ignored.
    Stopped,
}

impl State {
    /// The name keepalived uses for this state in logs, state files and notify
    /// arguments (`INIT`, `BACKUP`, `MASTER`, `FAULT`, `STOP`), so that scripts written
    /// for keepalived work unchanged.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stopped => "STOP",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Configuration of one virtual router, as the protocol core needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Protocol version.
    pub version: ProtoVersion,
    /// Priority, 1..=255; 255 means this router owns the VIPs (always preempts, goes
    /// Master at start-up without waiting).
    pub priority: u8,
    /// `Advertisement_Interval`: v3 a multiple of 10 ms in 10 ms..=40.95 s; v2 whole
    /// seconds in 1..=255 s.
    pub advert_interval: Duration,
    /// `Preempt_Mode`: whether a higher-priority Backup takes over from a lower-priority
    /// Master. Ignored (always on) for the owner.
    pub preempt: bool,
    /// keepalived's `preempt_delay`: for this long after start-up (and after recovering
    /// from Fault) a Backup accepts a lower-priority Master's adverts as if preemption
    /// were off; afterwards it ignores them and takes over when its timer runs out.
    pub preempt_delay: Duration,
    /// keepalived's `state MASTER` hint: at [`Event::Startup`] go Master at once instead
    /// of waiting `Master_Down_Interval` (the owner always does). Not applied when
    /// recovering from Fault.
    pub initial_master: bool,
    /// Number of [`Action::SendGratuitous`] rounds on becoming Master (0 = none).
    pub garp_repeat: u32,
    /// Gap between those rounds; the first is sent at once. Zero sends all rounds at once.
    pub garp_delay: Duration,
    /// While Master, one more gratuitous round every this long (keepalived's
    /// `garp_master_refresh`); `None` = never.
    pub garp_refresh: Option<Duration>,
    /// Whether VIPs get a finite kernel lifetime ([`lease_for`]) refreshed by each advert,
    /// so that a killed daemon's VIPs expire on their own.
    pub lease: bool,
    /// This router's primary address on the VRRP interface (the source of its adverts),
    /// used to break ties between equal priorities (RFC 5798 §6.4.3: higher wins).
    pub own_addr: IpAddr,
}

impl Params {
    /// Defaults for `vrid` on a router whose primary address is `own_addr`: VRRPv3,
    /// priority 100, 1 s interval, preemption on without delay, no start-up hint,
    /// 5 gratuitous rounds back to back, no periodic refresh, leases on.
    pub fn new(vrid: u8, own_addr: IpAddr) -> Self {
        Params {
            vrid,
            version: ProtoVersion::V3,
            priority: 100,
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            initial_master: false,
            garp_repeat: 5,
            garp_delay: Duration::ZERO,
            garp_refresh: None,
            lease: true,
            own_addr,
        }
    }

    /// Checks every field against the ranges the RFCs allow.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.vrid == 0 {
            return Err(ParamsError::Vrid);
        }
        if self.priority == 0 {
            return Err(ParamsError::Priority);
        }
        let adv = self.advert_interval;
        let ok = match self.version {
            ProtoVersion::V3 => {
                (MIN_ADVERT_INTERVAL_V3..=MAX_ADVERT_INTERVAL_V3).contains(&adv)
                    && whole_centiseconds(adv)
            }
            ProtoVersion::V2 => adv.subsec_nanos() == 0 && (1..=255).contains(&adv.as_secs()),
        };
        if !ok {
            return Err(ParamsError::AdvertInterval {
                version: self.version,
                interval: adv,
            });
        }
        if self.garp_refresh == Some(Duration::ZERO) {
            return Err(ParamsError::GarpRefresh);
        }
        Ok(())
    }
}

/// Why [`Params::validate`] rejected a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// VRID 0 does not exist.
    #[error("virtual router id must be 1..=255")]
    Vrid,
    /// Priority 0 is reserved for the stop advert.
    #[error("priority must be 1..=255 (0 is reserved for the stop advert)")]
    Priority,
    /// The advertisement interval is outside what the version can carry.
    #[error(
        "advert interval {interval:?} not allowed for {version:?} \
         (v3: multiple of 10 ms in 10 ms..=40.95 s, v2: whole seconds in 1..=255 s)"
    )]
    AdvertInterval {
        /// The configured version.
        version: ProtoVersion,
        /// The rejected interval.
        interval: Duration,
    },
    /// A zero refresh period would send gratuitous ARP in a loop.
    #[error("garp refresh period must be positive")]
    GarpRefresh,
}

/// What the core needs to know of a received, already validated advertisement
/// (TTL 255, version, VRID, checksum, authentication are the wire layer's job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    /// Source address of the IP packet (the sender's primary address).
    pub src: IpAddr,
    /// Advertised priority; 0 means the sender stops being Master.
    pub priority: u8,
    /// The advert's interval field (v3: Max Adver Int; v2: Adver Int in seconds).
    pub max_advert_interval: Duration,
    /// Whether the advert's address list equals ours. RFC 5798/3768 §7.1: when it does
    /// not, the advert is dropped unless it comes from the owner (priority 255).
    pub addrs_match: bool,
}

/// An input to the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Start the virtual router (RFC 5798 §6.4.1). Only valid in `Initialize`.
    Startup,
    /// An advertisement for our VRID arrived.
    Advert(Advert),
    /// Stop: a Master sends a priority-0 advert and drops its VIPs. Final.
    Shutdown,
    /// A tracked interface went down: go `Fault`.
    InterfaceDown,
    /// The tracked interfaces are all up again: leave `Fault` as at start-up.
    InterfaceUp,
    /// The VIP layer found one of our VIPs on the interface while we are not Master.
    VipFoundWhileBackup,
    /// A Master's lease refresh found one of its VIPs gone from the interface (an
    /// operator deleted it) and added it anew: neighbours may have learnt another MAC
    /// for it meanwhile, so it is announced again, as after a lease lapse.
    VipsReadded,
    /// The runtime found a Master's nftables gate ended before the refresh after this
    /// advert (the process was frozen or starved past it): a peer may have taken over
    /// and neighbours learnt its MAC. As after a lease lapse, the gate is opened again
    /// and the VIPs are announced; counted as a lease lapse.
    GateLapsed,
    /// Another MAC answered ARP/ND for one of our VIPs.
    ConflictSeen {
        /// The other holder's hardware address.
        mac: [u8; 6],
    },
    /// Health tracking changed the priority (keepalived's weighted `track_*`): used in
    /// adverts and elections from now on. 0 is read as 1; the owner's 255 is kept.
    SetPriority(u8),
    /// Another member of our sync group became Master: a Backup follows at once.
    SyncMaster,
    /// Another member of our sync group left Master for Backup: a Master follows.
    SyncBackup,
}

/// An effect the caller must carry out, in the order polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Multicast one advertisement with this priority (ours, or 0 when stopping as
    /// Master) and our configured interval and VIPs.
    SendAdvert {
        /// Priority field of the advert.
        priority: u8,
    },
    /// Add every VIP to the interface (on entering Master); with `Some(lease)` as valid
    /// and preferred lifetime, with `None` permanently.
    AddVips {
        /// Kernel lifetime, when leases are on.
        lease: Option<Duration>,
    },
    /// Set every VIP's lifetime to `lease` again (re-adding any that vanished); comes
    /// right after each [`Action::SendAdvert`] a Master sends with leases on.
    RefreshVips {
        /// Kernel lifetime.
        lease: Duration,
    },
    /// Remove every VIP from the interface: on leaving Master (to Backup, Fault or
    /// Stopped), and when a non-Master finds a VIP on its interface.
    RemoveVips,
    /// Send one gratuitous ARP (IPv4) / unsolicited Neighbor Advertisement (IPv6) per VIP.
    SendGratuitous,
    /// The state changed: log it, write the state file, run notify scripts.
    StateChange {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// Another host holds one of our VIPs: log it and run the `conflict` notify.
    Conflict {
        /// The other holder's hardware address.
        mac: [u8; 6],
    },
}

/// Statistics of one instance since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Advertisements sent (all priorities).
    pub adverts_sent: u64,
    /// Advertisements handed in while Backup or Master.
    pub adverts_received: u64,
    /// Advertisements handed in while not listening (Initialize, Fault).
    pub adverts_ignored: u64,
    /// Advertisements the RFC says to discard (lower priority while Master or while a
    /// preempting Backup, lost tie-break).
    pub adverts_discarded: u64,
    /// Non-owner advertisements dropped because their address list differs from ours.
    pub addr_list_mismatch: u64,
    /// v2 advertisements dropped because their interval differs from ours (RFC 3768 §7.1),
    /// and v3 advertisements dropped because their Max Adver Int is below 10 ms (0).
    pub interval_mismatch: u64,
    /// Priority-0 advertisements sent (clean stops as Master).
    pub priority_zero_sent: u64,
    /// Priority-0 advertisements accepted.
    pub priority_zero_received: u64,
    /// Transitions into Master.
    pub became_master: u64,
    /// Transitions into Backup.
    pub became_backup: u64,
    /// Transitions into Fault.
    pub became_fault: u64,
    /// All state transitions.
    pub transitions: u64,
    /// Times `Master_Down_Timer` fired (including after a priority-0 advert).
    pub master_down_expired: u64,
    /// Times a VIP was found and removed while not Master.
    pub vips_removed_while_backup: u64,
    /// Gratuitous ARP/NA rounds requested.
    pub gratuitous_sent: u64,
    /// Lease refreshes requested.
    pub vip_refreshes: u64,
    /// Conflicts (another MAC holding our VIP) reported.
    pub conflicts: u64,
    /// Refreshes that came after the lease had already run out (the process was frozen
    /// or starved): the VIPs were re-added and announced again.
    pub lease_lapses: u64,
}

/// One VRRP virtual router's protocol state machine.
#[derive(Debug, Clone)]
pub struct Instance {
    params: Params,
    state: State,
    master: Option<IpAddr>,
    /// `Master_Adver_Interval` (v3: learnt from the Master's adverts).
    master_adver_interval: Duration,
    /// Whether the tracked interfaces are up.
    if_up: bool,
    /// The priority in use: the configured one changed by health tracking.
    priority: u8,
    /// Until this instant a Backup honours lower-priority Masters (`preempt_delay`).
    preempt_hold_until: Option<Instant>,
    master_down_at: Option<Instant>,
    adver_at: Option<Instant>,
    garp_at: Option<Instant>,
    garp_left: u32,
    garp_refresh_at: Option<Instant>,
    /// When the VIPs' lifetime was last set (AddVips or RefreshVips).
    leased_at: Option<Instant>,
    actions: VecDeque<Action>,
    counters: Counters,
}

impl Instance {
    /// Creates an instance in `Initialize`; nothing happens until [`Event::Startup`].
    ///
    /// `params` should have passed [`Params::validate`]; `new` itself is total: a
    /// priority of 0 is raised to 1, an interval below 10 ms to 10 ms, and a zero
    /// `garp_refresh` turned off, so that timers always advance.
    pub fn new(mut params: Params) -> Self {
        params.priority = params.priority.max(1);
        params.advert_interval = params.advert_interval.max(MIN_ADVERT_INTERVAL_V3);
        params.garp_refresh = params.garp_refresh.filter(|d| !d.is_zero());
        let master_adver_interval = params.advert_interval;
        Instance {
            priority: params.priority,
            params,
            state: State::Initialize,
            master: None,
            master_adver_interval,
            if_up: true,
            preempt_hold_until: None,
            master_down_at: None,
            adver_at: None,
            garp_at: None,
            garp_left: 0,
            garp_refresh_at: None,
            leased_at: None,
            actions: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// Feeds one event that happened at `now`.
    pub fn handle_event(&mut self, now: Instant, ev: Event) {
        if self.state == State::Stopped {
            return;
        }
        match ev {
            Event::Startup => {
                if self.state == State::Initialize {
                    self.start(now);
                }
            }
            Event::Advert(adv) => self.on_advert(now, adv),
            Event::Shutdown => self.shutdown(),
            Event::InterfaceDown => {
                self.if_up = false;
                match self.state {
                    State::Master => {
                        self.leave_master();
                        self.transition(State::Fault);
                    }
                    State::Backup => {
                        self.master_down_at = None;
                        self.transition(State::Fault);
                    }
                    State::Initialize | State::Fault | State::Stopped => {}
                }
            }
            Event::InterfaceUp => {
                self.if_up = true;
                if self.state == State::Fault {
                    self.enter_running(now, false);
                }
            }
            Event::VipFoundWhileBackup => {
                if self.state != State::Master {
                    self.counters.vips_removed_while_backup += 1;
                    self.actions.push_back(Action::RemoveVips);
                }
            }
            // A lapse found by the same advert already queued its announcement.
            Event::VipsReadded if !self.actions.contains(&Action::SendGratuitous) => {
                self.send_gratuitous();
            }
            Event::VipsReadded => {}
            // The same advert may have found the address lease lapsed too: one lapse.
            Event::GateLapsed
                if self.state == State::Master
                    && !self.actions.contains(&Action::SendGratuitous) =>
            {
                self.counters.lease_lapses += 1;
                self.send_gratuitous();
            }
            Event::GateLapsed => {}
            Event::ConflictSeen { mac } => {
                self.counters.conflicts += 1;
                self.actions.push_back(Action::Conflict { mac });
            }
            Event::SetPriority(p) => {
                if self.params.priority != PRIORITY_OWNER {
                    self.priority = p.clamp(1, PRIORITY_OWNER - 1);
                }
            }
            Event::SyncMaster => {
                if self.state == State::Backup {
                    self.enter_master(now);
                }
            }
            Event::SyncBackup => {
                if self.state == State::Master {
                    self.leave_master();
                    self.transition(State::Backup);
                    self.master_adver_interval = self.params.advert_interval;
                    self.master_down_at = Some(now + self.master_down_interval());
                }
            }
        }
    }

    /// Fires every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout_coalesced(now, Duration::ZERO);
    }

    /// The Master's next advert, if one is scheduled.
    pub fn next_advert(&self) -> Option<Instant> {
        self.adver_at
    }

    /// As [`Instance::handle_timeout`], and also sends, at `now`, a Master's advert due
    /// within `advert_slack`, so that adverts of many instances falling due together
    /// leave with one wakeup. An advert sent early restarts the cadence from
    /// `now`, so instances sent together stay together. Sending early never hurts a
    /// Backup (its `Master_Down_Timer` restarts sooner); only the advert timer has
    /// slack, never `Master_Down_Timer`.
    pub fn handle_timeout_coalesced(&mut self, now: Instant, advert_slack: Duration) {
        if due(self.master_down_at, now) {
            self.master_down_at = None;
            if self.state == State::Backup {
                self.counters.master_down_expired += 1;
                self.enter_master(now);
            }
        }
        if let Some(at) = self.adver_at.filter(|&at| at <= now + advert_slack) {
            // Keep the cadence when the caller is a little late, but never burst; an
            // early advert restarts it from now.
            let next = at + self.params.advert_interval;
            self.adver_at = Some(if at < now && next > now {
                next
            } else {
                now + self.params.advert_interval
            });
            self.send_master_advert(now);
        }
        if due(self.garp_at, now) {
            self.send_gratuitous();
            self.garp_left = self.garp_left.saturating_sub(1);
            self.garp_at = (self.garp_left > 0).then(|| now + self.params.garp_delay);
        }
        if due(self.garp_refresh_at, now) {
            self.send_gratuitous();
            self.garp_refresh_at = self.params.garp_refresh.map(|d| now + d);
        }
    }

    /// The earliest instant at which [`Instance::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.master_down_at,
            self.adver_at,
            self.garp_at,
            self.garp_refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The last known Master: ourselves while Master, else the source of the last
    /// advert we accepted from a Master.
    pub fn master(&self) -> Option<IpAddr> {
        self.master
    }

    /// Statistics.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The (normalised) parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The priority used in adverts and comparisons: the configured one as changed by
    /// [`Event::SetPriority`].
    pub fn effective_priority(&self) -> u8 {
        self.priority
    }

    /// The current `Master_Adver_Interval` (v3: learnt from the Master's adverts).
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// `Skew_Time` for our priority and the current `Master_Adver_Interval`.
    pub fn skew_time(&self) -> Duration {
        skew_time(
            self.params.version,
            self.effective_priority(),
            self.master_adver_interval,
        )
    }

    /// `Master_Down_Interval` for our priority and the current `Master_Adver_Interval`.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.params.version,
            self.effective_priority(),
            self.master_adver_interval,
        )
    }

    /// The lease given to VIPs, when leases are on.
    pub fn lease(&self) -> Option<Duration> {
        self.params.lease.then(|| {
            lease_for(
                self.params.version,
                self.params.priority,
                self.params.advert_interval,
            )
        })
    }

    /// Moves a Master's next advert, and the cadence after it, `by` later. The IO layer
    /// uses it once to move adverts (and the lease refreshes right after them) out of
    /// the part of the second in which the kernel removes an expired address late. A
    /// single gap of one interval plus `by` (less than half an interval) is far inside
    /// any Backup's `Master_Down_Interval`. Does nothing unless Master.
    pub fn delay_adverts(&mut self, by: Duration) {
        if self.state == State::Master {
            if let Some(at) = &mut self.adver_at {
                *at += by;
            }
        }
    }

    fn is_owner(&self) -> bool {
        self.effective_priority() == PRIORITY_OWNER
    }

    /// Start-up (§6.4.1), also used to leave Fault.
    fn start(&mut self, now: Instant) {
        if self.if_up {
            self.enter_running(now, self.params.initial_master);
        } else {
            self.transition(State::Fault);
        }
    }

    fn enter_running(&mut self, now: Instant, hint_master: bool) {
        self.preempt_hold_until =
            (!self.params.preempt_delay.is_zero()).then(|| now + self.params.preempt_delay);
        if self.is_owner() || hint_master {
            self.enter_master(now);
        } else {
            self.master_adver_interval = self.params.advert_interval;
            self.transition(State::Backup);
            self.master_down_at = Some(now + self.master_down_interval());
        }
    }

    fn on_advert(&mut self, now: Instant, adv: Advert) {
        match self.state {
            State::Backup | State::Master => {}
            State::Initialize | State::Fault | State::Stopped => {
                self.counters.adverts_ignored += 1;
                return;
            }
        }
        self.counters.adverts_received += 1;
        if !adv.addrs_match && adv.priority != PRIORITY_OWNER {
            self.counters.addr_list_mismatch += 1;
            return;
        }
        if self.params.version == ProtoVersion::V2
            && adv.max_advert_interval != self.params.advert_interval
        {
            self.counters.interval_mismatch += 1;
            return;
        }
        if self.params.version == ProtoVersion::V3
            && adv.max_advert_interval < MIN_ADVERT_INTERVAL_V3
        {
            // Max Adver Int 0 is no valid interval: following it would make
            // Master_Down_Interval a few milliseconds and flap the Master.
            self.counters.interval_mismatch += 1;
            return;
        }
        if adv.priority == PRIORITY_STOP {
            self.counters.priority_zero_received += 1;
        }
        let ours = self.effective_priority();
        if self.state == State::Backup {
            if adv.priority == PRIORITY_STOP {
                self.master_down_at = Some(now + self.skew_time());
            } else if !self.preempts(now) || adv.priority >= ours {
                self.follow(now, adv);
            } else {
                self.counters.adverts_discarded += 1;
            }
        } else if adv.priority == PRIORITY_STOP {
            self.send_master_advert(now);
            self.adver_at = Some(now + self.params.advert_interval);
        } else if adv.priority > ours || (adv.priority == ours && adv.src > self.params.own_addr) {
            self.leave_master();
            self.transition(State::Backup);
            self.follow(now, adv);
        } else {
            self.counters.adverts_discarded += 1;
        }
    }

    /// Whether a Backup would let a lower-priority Master's timer run out right now.
    fn preempts(&self, now: Instant) -> bool {
        if self.is_owner() {
            return true;
        }
        self.params.preempt && self.preempt_hold_until.is_none_or(|until| now >= until)
    }

    /// Accept `adv`'s sender as Master: learn its interval (v3), restart the down timer.
    fn follow(&mut self, now: Instant, adv: Advert) {
        if self.params.version == ProtoVersion::V3 {
            self.master_adver_interval = adv.max_advert_interval.max(MIN_ADVERT_INTERVAL_V3);
        }
        self.master = Some(adv.src);
        self.master_down_at = Some(now + self.master_down_interval());
    }

    fn enter_master(&mut self, now: Instant) {
        self.transition(State::Master);
        self.master = Some(self.params.own_addr);
        self.master_down_at = None;
        self.master_adver_interval = self.params.advert_interval;
        self.actions.push_back(Action::AddVips {
            lease: self.lease(),
        });
        self.leased_at = Some(now);
        self.push_advert(self.effective_priority());
        self.adver_at = Some(now + self.params.advert_interval);
        self.garp_left = self.params.garp_repeat;
        while self.garp_left > 0 {
            self.send_gratuitous();
            self.garp_left -= 1;
            if !self.params.garp_delay.is_zero() {
                break;
            }
        }
        self.garp_at = (self.garp_left > 0).then(|| now + self.params.garp_delay);
        self.garp_refresh_at = self.params.garp_refresh.map(|d| now + d);
    }

    /// Exit actions of Master: drop the VIPs and the Master-only timers.
    fn leave_master(&mut self) {
        self.actions.push_back(Action::RemoveVips);
        self.adver_at = None;
        self.garp_at = None;
        self.garp_left = 0;
        self.garp_refresh_at = None;
    }

    fn shutdown(&mut self) {
        if self.state == State::Master {
            self.push_advert(PRIORITY_STOP);
            self.leave_master();
        }
        self.master_down_at = None;
        self.transition(State::Stopped);
    }

    /// A periodic (or priority-0-triggered) Master advert plus its lease refresh. When the
    /// lease has already run out (this process was frozen or starved past it), the kernel
    /// has dropped the VIPs and neighbours have since learnt another MAC for them: the
    /// refresh re-adds them and a gratuitous round announces them again.
    fn send_master_advert(&mut self, now: Instant) {
        if self.state != State::Master {
            return;
        }
        self.push_advert(self.effective_priority());
        if let Some(lease) = self.lease() {
            self.counters.vip_refreshes += 1;
            self.actions.push_back(Action::RefreshVips { lease });
            let lapsed = self.leased_at.is_some_and(|t| now >= t + lease);
            self.leased_at = Some(now);
            if lapsed {
                self.counters.lease_lapses += 1;
                self.send_gratuitous();
            }
        }
    }

    fn push_advert(&mut self, priority: u8) {
        self.counters.adverts_sent += 1;
        if priority == PRIORITY_STOP {
            self.counters.priority_zero_sent += 1;
        }
        self.actions.push_back(Action::SendAdvert { priority });
    }

    fn send_gratuitous(&mut self) {
        if self.state != State::Master {
            return;
        }
        self.counters.gratuitous_sent += 1;
        self.actions.push_back(Action::SendGratuitous);
    }

    fn transition(&mut self, to: State) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.counters.transitions += 1;
        match to {
            State::Master => self.counters.became_master += 1,
            State::Backup => self.counters.became_backup += 1,
            State::Fault => self.counters.became_fault += 1,
            State::Initialize | State::Stopped => {}
        }
        self.actions.push_back(Action::StateChange { from, to });
    }
}

/// Whether `d` is a whole number of centiseconds (the v3 wire unit). Written without
/// `%` so clippy's `is_multiple_of` suggestion (Rust 1.87) does not break MSRV 1.85.
fn whole_centiseconds(d: Duration) -> bool {
    let cs = d.as_millis() / 10;
    u64::try_from(cs * 10).is_ok_and(|millis| Duration::from_millis(millis) == d)
}

fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|at| at <= now)
}
