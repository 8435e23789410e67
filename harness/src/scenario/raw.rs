//! The file as written: serde structures that mirror the TOML, every value wrapped in
//! [`Spanned`] so validation can point at it. Nothing here is checked beyond types.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub topology: Option<RawTopology>,
    pub vrrp: Option<RawVrrp>,
    pub nodes: Option<BTreeMap<Spanned<String>, RawVrrp>>,
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub expect: Option<RawExpect>,
}

/// `[topology]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopology {
    pub nodes: Option<Spanned<i64>>,
    pub ipv6: Option<Spanned<bool>>,
}

/// `[vrrp]`, `[nodes.X]` and `[steps.config]`: every key optional, layered.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVrrp {
    pub version: Option<Spanned<i64>>,
    pub vrid: Option<Spanned<i64>>,
    pub priority: Option<Spanned<i64>>,
    pub advert_interval: Option<Spanned<String>>,
    pub vips: Option<Spanned<Vec<Spanned<String>>>>,
    pub auth_pass: Option<Spanned<String>>,
    pub unicast: Option<Spanned<bool>>,
    pub preempt: Option<Spanned<bool>>,
    pub preempt_delay: Option<Spanned<String>>,
    pub initial_state: Option<Spanned<String>>,
    pub track_interface: Option<Spanned<bool>>,
    pub notify_backup: Option<Spanned<String>>,
    pub daemon: Option<Spanned<String>>,
}

impl RawVrrp {
    /// `self` with every key that `over` sets replaced by `over`'s value.
    pub fn overlay(&self, over: &RawVrrp) -> RawVrrp {
        fn pick<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
            b.clone().or_else(|| a.clone())
        }
        RawVrrp {
            version: pick(&self.version, &over.version),
            vrid: pick(&self.vrid, &over.vrid),
            priority: pick(&self.priority, &over.priority),
            advert_interval: pick(&self.advert_interval, &over.advert_interval),
            vips: pick(&self.vips, &over.vips),
            auth_pass: pick(&self.auth_pass, &over.auth_pass),
            unicast: pick(&self.unicast, &over.unicast),
            preempt: pick(&self.preempt, &over.preempt),
            preempt_delay: pick(&self.preempt_delay, &over.preempt_delay),
            initial_state: pick(&self.initial_state, &over.initial_state),
            track_interface: pick(&self.track_interface, &over.track_interface),
            notify_backup: pick(&self.notify_backup, &over.notify_backup),
            daemon: pick(&self.daemon, &over.daemon),
        }
    }
}

/// One `[[steps]]` table: exactly one of `start`, `wait`, `fault`, `hold`, `expect`,
/// plus the keys that kind takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub start: Option<Spanned<toml::Value>>,
    pub wait: Option<Spanned<String>>,
    pub fault: Option<Spanned<String>>,
    pub hold: Option<Spanned<String>>,
    pub expect: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub state: Option<Spanned<String>>,
    pub within: Option<Spanned<String>>,
    pub addr: Option<Spanned<String>>,
    pub config: Option<Spanned<RawVrrp>>,
    pub nodes: Option<Spanned<Vec<Spanned<String>>>>,
    pub count: Option<Spanned<i64>>,
}

/// `[expect]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub no_conflict_at_end: Option<Spanned<bool>>,
    pub single_holder_at_end: Option<Spanned<bool>>,
    pub conflict_max: Option<Spanned<String>>,
    pub outage_max: Option<Spanned<String>>,
    pub failover: Option<Spanned<String>>,
    pub priority_zero_on_stop: Option<Spanned<bool>>,
    pub garp_on_takeover: Option<Spanned<bool>>,
    pub ttl_255: Option<Spanned<bool>>,
    pub client_single_mac_at_end: Option<Spanned<bool>>,
    pub daemon: Option<BTreeMap<Spanned<String>, RawDaemonExpect>>,
}

/// `[expect.daemon.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemonExpect {
    pub known_failures: Option<Spanned<Vec<Spanned<String>>>>,
}
