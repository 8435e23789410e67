//! The file as written: serde structures that mirror the TOML, every value wrapped in
//! [`Spanned`] so validation can point at it. Nothing here is checked beyond types.
//! They serialize too (a span serializes as its value, unset keys are left out), so a
//! program that writes scenarios (`vrrplab explore`) writes them through this model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology: Option<RawTopology>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp: Option<RawVrrp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<BTreeMap<Spanned<String>, RawVrrp>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<RawExpect>,
}

/// `[topology]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopology {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Spanned<bool>>,
}

/// `[vrrp]`, `[nodes.X]` and `[steps.config]`: every key optional, layered.
#[derive(Debug, Deserialize, Serialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVrrp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrid: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advert_interval: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vips: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_pass: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempt: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempt_delay: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_interface: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<Spanned<String>>,
    pub track: Option<Spanned<String>>,
    pub track_weight: Option<Spanned<i64>>,
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
            track: pick(&self.track, &over.track),
            track_weight: pick(&self.track_weight, &over.track_weight),
        }
    }
}

/// One `[[steps]]` table: exactly one of `start`, `wait`, `fault`, `hold`, `expect`,
/// plus the keys that kind takes.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Spanned<toml::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Spanned<RawVrrp>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<Spanned<i64>>,
}

/// `[expect]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_conflict_at_end: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_holder_at_end: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict_max: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage_max: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_zero_on_stop: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_on_takeover: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_255: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_single_mac_at_end: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<BTreeMap<Spanned<String>, RawDaemonExpect>>,
}

/// `[expect.daemon.NAME]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemonExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_failures: Option<Spanned<Vec<Spanned<String>>>>,
}
