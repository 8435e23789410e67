//! Routes and policy rules vrrpd installs (keepalived's `virtual_routes`,
//! `virtual_rules`, `static_routes`, `static_rules`), with the same care as VIPs:
//!
//! * **Ownership mark.** Every route carries `rtm_protocol` [`VRPD_RT_PROTO`] and every
//!   rule `FRA_PROTOCOL` [`VRPD_RT_PROTO`] (the value of the VIPs' `IFA_PROTO`), so
//!   start-up reconcile removes whatever an earlier run left, even after SIGKILL.
//! * **Lease, where the kernel has one.** IPv6 routes get `RTA_EXPIRES` (whole seconds,
//!   refreshed with the VIPs' lease), so they expire on their own. IPv4 routes have no
//!   expiry in Linux; an IPv4 route whose `src` is one of the instance's VIPs is removed
//!   by the kernel together with that VIP when the VIP's lease ends
//!   (`fib_sync_down_addr`), so it is leased through the VIP. Other IPv4 routes, and all
//!   rules, stay after a SIGKILL until the next start's reconcile.

use std::net::IpAddr;
use std::time::Duration;

use futures::TryStreamExt;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteNextHop, RouteProtocol, RouteScope as NlScope,
    RouteType as NlType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{IpVersion, RouteMessageBuilder};

use crate::config::{Route, RouteScope, RouteType, Rule, StaticAddress};
use crate::vip::VRPD_IFA_PROTO;

/// The ownership mark on routes and rules (same value as the VIPs' `IFA_PROTO`).
pub const VRPD_RT_PROTO: u8 = VRPD_IFA_PROTO;

/// Adds, removes and reconciles marked routes and rules.
#[derive(Debug, Clone)]
pub struct RouteManager {
    handle: rtnetlink::Handle,
}

/// The netlink message for `r` (`oif` and each next hop's interface index resolved by
/// the caller); `expires` only for IPv6.
pub fn route_message(
    r: &Route,
    oif: Option<u32>,
    hop_oifs: &[Option<u32>],
    expires: Option<Duration>,
) -> Result<RouteMessage, String> {
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.dest, r.prefix_len)
        .map_err(|e| e.to_string())?;
    if let Some(via) = r.via {
        b = b.gateway(via).map_err(|e| e.to_string())?;
    }
    if let Some(src) = r.src {
        b = b.pref_source(src).map_err(|e| e.to_string())?;
    }
    if let Some(i) = oif {
        b = b.output_interface(i);
    }
    if let Some(t) = r.table {
        b = b.table_id(t);
    }
    if let Some(m) = r.metric {
        b = b.priority(m);
    }
    b = b.protocol(RouteProtocol::from(VRPD_RT_PROTO));
    let scope = match (r.scope, r.kind) {
        (Some(RouteScope::Global), _) => NlScope::Universe,
        (Some(RouteScope::Site), _) => NlScope::Site,
        (Some(RouteScope::Link), _) => NlScope::Link,
        (Some(RouteScope::Host), _) => NlScope::Host,
        // `ip route` picks link scope for a device route without a gateway.
        (None, RouteType::Unicast) if r.via.is_none() && r.nexthops.is_empty() => NlScope::Link,
        (None, _) => NlScope::Universe,
    };
    b = b.scope(scope);
    b = b.kind(match r.kind {
        RouteType::Unicast => NlType::Unicast,
        RouteType::Blackhole => NlType::BlackHole,
        RouteType::Unreachable => NlType::Unreachable,
        RouteType::Prohibit => NlType::Prohibit,
    });
    if !r.nexthops.is_empty() {
        let hops = r
            .nexthops
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut h = RouteNextHop::default();
                h.hops = u8::try_from(n.weight.saturating_sub(1)).unwrap_or(u8::MAX);
                h.interface_index = hop_oifs.get(i).copied().flatten().unwrap_or(0);
                match n.via {
                    Some(IpAddr::V4(a)) => h
                        .attributes
                        .push(RouteAttribute::Gateway(RouteAddress::Inet(a))),
                    Some(IpAddr::V6(a)) => h
                        .attributes
                        .push(RouteAttribute::Gateway(RouteAddress::Inet6(a))),
                    None => {}
                }
                h
            })
            .collect();
        b = b.multipath(hops);
    }
    if let (Some(e), IpAddr::V6(_)) = (expires, r.dest) {
        b = b.expires(u32::try_from(e.as_secs()).unwrap_or(u32::MAX).max(1));
    }
    Ok(b.build())
}

impl RouteManager {
    /// Uses `handle` (in vrrpd's network namespace).
    pub fn new(handle: rtnetlink::Handle) -> Self {
        RouteManager { handle }
    }

    /// Interface indexes of a multipath route's next hops (`None` where none is named).
    async fn hop_oifs(&self, r: &Route) -> Result<Vec<Option<u32>>, String> {
        let mut out = Vec::with_capacity(r.nexthops.len());
        for n in &r.nexthops {
            out.push(match &n.dev {
                Some(d) => {
                    let mut links = self.handle.link().get().match_name(d.clone()).execute();
                    match links.try_next().await {
                        Ok(Some(l)) => Some(l.header.index),
                        Ok(None) | Err(_) => {
                            return Err(format!("nexthop dev {d}: no such interface"))
                        }
                    }
                }
                None => None,
            });
        }
        Ok(out)
    }

    /// Adds or replaces a route (replace refreshes an IPv6 route's expiry).
    pub async fn add(
        &self,
        r: &Route,
        oif: Option<u32>,
        expires: Option<Duration>,
    ) -> Result<(), String> {
        let hops = self.hop_oifs(r).await?;
        let msg = route_message(r, oif, &hops, expires)?;
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| e.to_string())
    }

    /// Removes a route; one that is already gone is not an error.
    pub async fn remove(&self, r: &Route, oif: Option<u32>) -> Result<(), String> {
        let hops = self.hop_oifs(r).await.unwrap_or_default();
        let msg = route_message(r, oif, &hops, None)?;
        match self.handle.route().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The message for a rule.
    fn rule_message(r: &Rule) -> RuleMessage {
        let mut m = RuleMessage::default();
        let v6 = r.is_ipv6();
        m.header.family = if v6 {
            rtnetlink::packet_route::AddressFamily::Inet6
        } else {
            rtnetlink::packet_route::AddressFamily::Inet
        };
        m.header.action = RuleAction::ToTable;
        if r.table <= 255 {
            m.header.table = u8::try_from(r.table).unwrap_or(0);
        }
        m.attributes.push(RuleAttribute::Table(r.table));
        if let Some((a, l)) = r.from {
            m.header.src_len = l;
            m.attributes.push(RuleAttribute::Source(a));
        }
        if let Some((a, l)) = r.to {
            m.header.dst_len = l;
            m.attributes.push(RuleAttribute::Destination(a));
        }
        if let Some(p) = r.priority {
            m.attributes.push(RuleAttribute::Priority(p));
        }
        m.attributes
            .push(RuleAttribute::Protocol(RouteProtocol::from(VRPD_RT_PROTO)));
        m
    }

    /// Adds a rule (an identical one already present is kept).
    pub async fn add_rule(&self, r: &Rule) -> Result<(), String> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = Self::rule_message(r);
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Removes a rule; one that is already gone is not an error.
    pub async fn remove_rule(&self, r: &Rule) -> Result<(), String> {
        match self
            .handle
            .rule()
            .del(Self::rule_message(r))
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e))
                if e.raw_code() == -libc::ENOENT || e.raw_code() == -libc::ESRCH =>
            {
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Adds (`add`) or removes a static address, permanent, with the VIPs' ownership mark
    /// (so start-up reconcile removes it after a crash) and its scope.
    pub async fn static_address(
        &self,
        a: &StaticAddress,
        ifindex: u32,
        add: bool,
    ) -> Result<(), String> {
        use rtnetlink::packet_route::address::{AddressAttribute, AddressProtocol, AddressScope};
        if !add {
            let mut req = self
                .handle
                .address()
                .get()
                .set_link_index_filter(ifindex)
                .execute();
            while let Some(m) = req.try_next().await.map_err(|e| e.to_string())? {
                let ours = m.header.prefix_len == a.prefix_len
                    && m.attributes
                        .iter()
                        .any(|x| matches!(x, AddressAttribute::Address(ip) if *ip == a.addr));
                if ours {
                    return self
                        .handle
                        .address()
                        .del(m)
                        .execute()
                        .await
                        .map_err(|e| e.to_string());
                }
            }
            return Ok(());
        }
        let mut req = self
            .handle
            .address()
            .add(ifindex, a.addr, a.prefix_len)
            .replace();
        let msg = req.message_mut();
        msg.header.scope = match a.scope {
            None | Some(RouteScope::Global) => AddressScope::Universe,
            Some(RouteScope::Site) => AddressScope::Site,
            Some(RouteScope::Link) => AddressScope::Link,
            Some(RouteScope::Host) => AddressScope::Host,
        };
        msg.attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(
                VRPD_RT_PROTO,
            )));
        if let (Some(l), IpAddr::V4(_)) = (&a.label, a.addr) {
            msg.attributes.push(AddressAttribute::Label(l.clone()));
        }
        req.execute().await.map_err(|e| e.to_string())
    }

    /// Removes every route and rule carrying the mark; returns how many.
    pub async fn reconcile_marked(&self) -> Result<usize, String> {
        let mut n = 0;
        for v in [IpVersion::V4, IpVersion::V6] {
            let builder = match v {
                IpVersion::V4 => RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
                IpVersion::V6 => RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
            };
            let mut ours = Vec::new();
            let mut dump = self.handle.route().get(builder).execute();
            while let Some(m) = dump.try_next().await.map_err(|e| e.to_string())? {
                if u8::from(m.header.protocol) == VRPD_RT_PROTO {
                    ours.push(m);
                }
            }
            for m in ours {
                self.handle
                    .route()
                    .del(m)
                    .execute()
                    .await
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
            let mut rules = Vec::new();
            let mut dump = self.handle.rule().get(v).execute();
            while let Some(m) = dump.try_next().await.map_err(|e| e.to_string())? {
                if m.attributes.iter().any(
                    |a| matches!(a, RuleAttribute::Protocol(p) if u8::from(*p) == VRPD_RT_PROTO),
                ) {
                    rules.push(m);
                }
            }
            for m in rules {
                self.handle
                    .rule()
                    .del(m)
                    .execute()
                    .await
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Whether a route is leased through one of `vips`: IPv6 (RTA_EXPIRES) or an IPv4
/// route whose `src` is a VIP the kernel removes when its lease ends.
pub fn leased(r: &Route, vips: &[IpAddr]) -> bool {
    matches!(r.dest, IpAddr::V6(_)) || r.src.is_some_and(|s| vips.contains(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, via: Option<&str>) -> Route {
        let (d, l) = dest.split_once('/').unwrap();
        Route {
            kind: RouteType::Unicast,
            dest: d.parse().unwrap(),
            prefix_len: l.parse().unwrap(),
            via: via.map(|v| v.parse().unwrap()),
            dev: None,
            src: None,
            table: Some(100),
            metric: None,
            scope: None,
            nexthops: Vec::new(),
        }
    }

    #[test]
    fn messages_carry_the_mark_and_expiry_only_for_ipv6() {
        let m = route_message(
            &route("198.51.100.0/24", Some("192.0.2.1")),
            Some(3),
            &[],
            Some(Duration::from_secs(3)),
        )
        .unwrap();
        assert_eq!(u8::from(m.header.protocol), VRPD_RT_PROTO);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Expires(_))));
        assert!(m.attributes.contains(&RouteAttribute::Oif(3)));
        let m6 = route_message(
            &route("2001:db8:1::/48", None),
            Some(3),
            &[],
            Some(Duration::from_secs(3)),
        )
        .unwrap();
        assert!(m6.attributes.contains(&RouteAttribute::Expires(3)));
        assert_eq!(m6.header.scope, NlScope::Link);
        let mut mp = route("198.51.100.0/24", None);
        mp.nexthops = ["192.0.2.1", "192.0.2.2"]
            .iter()
            .map(|a| crate::config::NextHop {
                via: Some(a.parse().unwrap()),
                dev: None,
                weight: 2,
            })
            .collect();
        let m = route_message(&mp, None, &[None, Some(4)], None).unwrap();
        let hops = m
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::MultiPath(h) => Some(h.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(hops.len(), 2);
        assert_eq!((hops[1].hops, hops[1].interface_index), (1, 4));
        let r = RouteManager::rule_message(&Rule {
            from: Some(("192.0.2.0".parse().unwrap(), 24)),
            to: None,
            table: 1000,
            priority: Some(10),
        });
        assert!(r.attributes.contains(&RuleAttribute::Table(1000)));
        assert_eq!(r.header.src_len, 24);
    }

    #[test]
    fn leased_routes() {
        let vip: IpAddr = "192.0.2.20".parse().unwrap();
        let mut r = route("198.51.100.0/24", Some("192.0.2.1"));
        assert!(!leased(&r, &[vip]));
        r.src = Some(vip);
        assert!(leased(&r, &[vip]));
        assert!(leased(&route("2001:db8:1::/48", None), &[]));
    }
}
