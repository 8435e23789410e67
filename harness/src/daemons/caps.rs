//! What a daemon can do, what a scenario needs, and how a daemon holds a VIP.
//!
//! A scenario that needs a feature its daemon lacks is *not applicable* to it: the run is
//! not made, and the reports count it apart with the reason (never as a pass).

use std::collections::BTreeSet;
use std::fmt;

use crate::scenario::{NodeVrrp, NotifyAction};
use vrrpd::instance::ProtoVersion;

/// A feature a scenario may need from a daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// VRRPv2 (RFC 3768).
    V2,
    /// VRRPv3 (RFC 5798).
    V3,
    /// IPv6 virtual addresses.
    Ipv6,
    /// Unicast peers instead of multicast.
    Unicast,
    /// VRRPv2 simple-password (PASS) authentication.
    Auth,
    /// A delay before preempting.
    PreemptDelay,
    /// A notify script run on entering BACKUP.
    Notify,
    /// The VIP on a macvlan with the virtual MAC 00:00:5e:00:01:VRID.
    VirtualMac,
}

impl Feature {
    /// Every feature with the name driver files use.
    pub const ALL: [(&'static str, Feature); 8] = [
        ("v2", Feature::V2),
        ("v3", Feature::V3),
        ("ipv6", Feature::Ipv6),
        ("unicast", Feature::Unicast),
        ("auth", Feature::Auth),
        ("preempt_delay", Feature::PreemptDelay),
        ("notify", Feature::Notify),
        ("vmac", Feature::VirtualMac),
    ];

    /// The name driver files use.
    pub fn name(self) -> &'static str {
        Feature::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// The feature with this name.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// How a report says it.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::V2 => "VRRPv2",
            Feature::V3 => "VRRPv3",
            Feature::Ipv6 => "IPv6 virtual addresses",
            Feature::Unicast => "unicast peers",
            Feature::Auth => "VRRPv2 PASS authentication",
            Feature::PreemptDelay => "a preempt delay",
            Feature::Notify => "notify scripts",
            Feature::VirtualMac => "a virtual MAC",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The features a daemon supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caps(pub BTreeSet<Feature>);

impl Caps {
    /// A set of features.
    pub fn of(features: &[Feature]) -> Caps {
        Caps(features.iter().copied().collect())
    }

    /// Whether the daemon supports `f`.
    pub fn has(&self, f: Feature) -> bool {
        self.0.contains(&f)
    }
}

/// How a daemon holds a VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VipModel {
    /// It adds the VIP to eth1 as MASTER and removes it as BACKUP (vrrpd, keepalived).
    OnInterface,
    /// The operator (here: the driver, before start) creates a macvlan on eth1 with the
    /// virtual MAC and the VIP on it; the daemon switches the macvlan with protodown
    /// (FRR). The VIP is on every node all the time: only a live link holds it.
    OperatorMacvlan,
}

impl VipModel {
    /// The name driver files use.
    pub fn name(self) -> &'static str {
        match self {
            VipModel::OnInterface => "address",
            VipModel::OperatorMacvlan => "macvlan",
        }
    }

    /// The model with this name.
    pub fn from_name(s: &str) -> Option<VipModel> {
        match s {
            "address" => Some(VipModel::OnInterface),
            "macvlan" => Some(VipModel::OperatorMacvlan),
            _ => None,
        }
    }
}

/// The features a node's settings need.
pub fn needs(node: &NodeVrrp) -> BTreeSet<Feature> {
    let mut n = BTreeSet::new();
    n.insert(match node.version {
        ProtoVersion::V2 => Feature::V2,
        ProtoVersion::V3 => Feature::V3,
    });
    if node.is_ipv6() {
        n.insert(Feature::Ipv6);
    }
    if !node.unicast_peers.is_empty() {
        n.insert(Feature::Unicast);
    }
    if node.auth_pass.is_some() {
        n.insert(Feature::Auth);
    }
    if !node.preempt_delay.is_zero() {
        n.insert(Feature::PreemptDelay);
    }
    if node.notify_backup != NotifyAction::None {
        n.insert(Feature::Notify);
    }
    n
}

/// Why a daemon cannot run these settings, or `None` when it can: every missing feature,
/// in one sentence.
pub fn not_applicable(daemon: &str, caps: &Caps, node: &NodeVrrp) -> Option<String> {
    let missing: Vec<&str> = needs(node)
        .into_iter()
        .filter(|f| !caps.has(*f))
        .map(Feature::describe)
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!(
            "{daemon} has no {} (needed by {})",
            missing.join(", no "),
            node.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn node(vrrp: &str) -> NodeVrrp {
        let text = format!("[vrrp]\n{vrrp}\n[[steps]]\nstart = \"all\"\n");
        crate::scenario::Scenario::parse(&text, Path::new("t.toml"))
            .unwrap()
            .nodes[0]
            .clone()
    }

    #[test]
    fn needs_follow_the_settings() {
        let n = node("version = 2\nauth_pass = \"1111\"\nunicast = true");
        let got: Vec<Feature> = needs(&n).into_iter().collect();
        assert_eq!(got, vec![Feature::V2, Feature::Unicast, Feature::Auth]);
        let n = node("version = 3\nvips = [\"2001:db8::20/128\"]\n[topology]\nipv6 = true");
        assert!(needs(&n).contains(&Feature::Ipv6));
    }

    #[test]
    fn missing_features_are_named() {
        let caps = Caps::of(&[Feature::V2, Feature::V3, Feature::Ipv6]);
        let n = node("version = 2\nauth_pass = \"1111\"\nunicast = true");
        let why = not_applicable("frr", &caps, &n).unwrap();
        assert_eq!(
            why,
            "frr has no unicast peers, no VRRPv2 PASS authentication (needed by node1)"
        );
        assert_eq!(not_applicable("frr", &caps, &node("version = 3")), None);
    }

    #[test]
    fn feature_names_round_trip() {
        for (n, f) in Feature::ALL {
            assert_eq!(Feature::from_name(n), Some(f));
            assert_eq!(f.name(), n);
        }
        assert_eq!(VipModel::from_name("macvlan"), Some(VipModel::OperatorMacvlan));
        assert_eq!(VipModel::from_name("bogus"), None);
    }
}
