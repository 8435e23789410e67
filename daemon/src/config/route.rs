//! Routes and policy rules an instance installs while MASTER (keepalived's
//! `virtual_routes` / `virtual_rules`) or the daemon installs while running
//! (`static_routes` / `static_rules`).

use serde::Serialize;
use std::net::IpAddr;

/// What a route does with matching packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    /// Forward (the usual route).
    Unicast,
    /// Drop silently.
    Blackhole,
    /// Drop with "host unreachable".
    Unreachable,
    /// Drop with "administratively prohibited".
    Prohibit,
}

/// Route scope, as `ip route ... scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteScope {
    /// `global` (universe).
    Global,
    /// `site`.
    Site,
    /// `link`.
    Link,
    /// `host`.
    Host,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// What it does.
    pub kind: RouteType,
    /// Destination network.
    pub dest: IpAddr,
    /// Destination prefix length.
    pub prefix_len: u8,
    /// Gateway (`via` / `gw`).
    pub via: Option<IpAddr>,
    /// Output interface (`dev`).
    pub dev: Option<String>,
    /// Preferred source (`src`).
    pub src: Option<IpAddr>,
    /// Routing table (`table`), main when absent.
    pub table: Option<u32>,
    /// Metric (`metric` / `preference`).
    pub metric: Option<u32>,
    /// Scope (`scope`).
    pub scope: Option<RouteScope>,
    /// A multipath route's next hops (`nexthop via A ... nexthop via B`, or keepalived's
    /// older `via A or B`); empty for a single path (`via` / `dev` above).
    pub nexthops: Vec<NextHop>,
}

/// One next hop of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextHop {
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output interface.
    pub dev: Option<String>,
    /// Relative weight, 1..=256.
    pub weight: u16,
}

/// An address the daemon adds while it runs (keepalived's `static_ipaddress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaticAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Interface (`dev`, required).
    pub dev: String,
    /// IPv4 label (`label`).
    pub label: Option<String>,
    /// Scope (`scope`), global when absent.
    pub scope: Option<RouteScope>,
}

/// One policy routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Source selector `from NET`.
    pub from: Option<(IpAddr, u8)>,
    /// Destination selector `to NET`.
    pub to: Option<(IpAddr, u8)>,
    /// Table to look up.
    pub table: u32,
    /// Rule priority (`priority` / `preference` / `pref`).
    pub priority: Option<u32>,
}

impl Rule {
    /// Whether the rule is IPv6 (from its selectors; IPv4 when it has none).
    pub fn is_ipv6(&self) -> bool {
        self.from
            .or(self.to)
            .is_some_and(|(a, _)| matches!(a, IpAddr::V6(_)))
    }
}
