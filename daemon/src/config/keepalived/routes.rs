//! `virtual_routes` / `static_routes`, `virtual_rules` / `static_rules` and
//! `static_ipaddress` lines.

use super::lex::{Stmt, Tok};
use super::{parse_net, Importer};
use crate::config::{
    parse_unicast, parse_vip_addr, Route, RouteScope, RouteType, Rule, StaticAddress,
};
use std::net::IpAddr;

impl Importer {
    /// One line of `virtual_routes` / `static_routes`:
    /// `[src ADDR] [blackhole|unreachable|prohibit] DEST [via|gw ADDR] [dev IF]
    /// [table N] [metric N] [scope S]`.
    pub(super) fn route(&mut self, r: &Stmt) -> Option<Route> {
        if r.block.is_some() {
            self.error(&r.key, "a route does not take a block".into());
            return None;
        }
        let words: Vec<&Tok> = std::iter::once(&r.key).chain(r.args.iter()).collect();
        let mut route = Route {
            kind: RouteType::Unicast,
            dest: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            prefix_len: 0,
            via: None,
            dev: None,
            src: None,
            table: None,
            metric: None,
            scope: None,
            nexthops: Vec::new(),
        };
        let mut dest_seen = false;
        let mut i = 0;
        let mut ok = true;
        while i < words.len() {
            let w = words[i];
            let next = words.get(i + 1).copied();
            let need = |me: &mut Self, what: &str| -> Option<&Tok> {
                if next.is_none() {
                    me.error(w, format!("route: `{}` needs {what}", w.text));
                }
                next
            };
            match w.text.as_str() {
                "src" | "via" | "gw" => {
                    let v = need(self, "an address")?;
                    match parse_unicast(&v.text) {
                        Ok(a) if w.text == "src" => route.src = Some(a),
                        Ok(a) => match route.nexthops.last_mut() {
                            Some(nh) => nh.via = Some(a),
                            None => route.via = Some(a),
                        },
                        Err(e) => {
                            self.error(v, format!("route {}: {e}", w.text));
                            ok = false;
                        }
                    }
                    i += 2;
                }
                "dev" => {
                    let v = need(self, "an interface")?;
                    if let Err(e) = crate::config::check_ifname(&v.text) {
                        self.error(v, e);
                        ok = false;
                    }
                    match route.nexthops.last_mut() {
                        Some(nh) => nh.dev = Some(v.text.clone()),
                        None => route.dev = Some(v.text.clone()),
                    }
                    i += 2;
                }
                "weight" if !route.nexthops.is_empty() => {
                    let v = need(self, "a number")?;
                    match v.text.parse::<u16>() {
                        Ok(n) if (1..=256).contains(&n) => {
                            if let Some(nh) = route.nexthops.last_mut() {
                                nh.weight = n;
                            }
                        }
                        _ => {
                            self.error(
                                v,
                                format!("route nexthop weight: expected 1..=256, got `{}`", v.text),
                            );
                            ok = false;
                        }
                    }
                    i += 2;
                }
                "table" | "metric" | "preference" => {
                    let v = need(self, "a number")?;
                    match v.text.parse::<u32>() {
                        Ok(n) if w.text == "table" => route.table = Some(n),
                        Ok(n) => route.metric = Some(n),
                        Err(_) => {
                            self.error(
                                v,
                                format!("route {}: expected a number, got `{}`", w.text, v.text),
                            );
                            ok = false;
                        }
                    }
                    i += 2;
                }
                "scope" => {
                    let v = need(self, "a scope")?;
                    route.scope = match v.text.as_str() {
                        "global" | "universe" => Some(RouteScope::Global),
                        "site" => Some(RouteScope::Site),
                        "link" => Some(RouteScope::Link),
                        "host" => Some(RouteScope::Host),
                        other => {
                            self.error(v, format!("route scope: expected global, site, link or host, got `{other}`"));
                            ok = false;
                            None
                        }
                    };
                    i += 2;
                }
                "blackhole" | "unreachable" | "prohibit" if !dest_seen => {
                    route.kind = match w.text.as_str() {
                        "blackhole" => RouteType::Blackhole,
                        "unreachable" => RouteType::Unreachable,
                        _ => RouteType::Prohibit,
                    };
                    i += 1;
                }
                "nexthop" | "or" => {
                    // The single path written so far becomes the first next hop.
                    if route.nexthops.is_empty() && (route.via.is_some() || route.dev.is_some()) {
                        route.nexthops.push(crate::config::NextHop {
                            via: route.via.take(),
                            dev: route.dev.take(),
                            weight: 1,
                        });
                    }
                    route.nexthops.push(crate::config::NextHop {
                        via: None,
                        dev: None,
                        weight: 1,
                    });
                    if w.text == "or" {
                        // keepalived's older `via A or B`: B is the next gateway.
                        let v = need(self, "an address")?;
                        match parse_unicast(&v.text) {
                            Ok(a) => {
                                if let Some(nh) = route.nexthops.last_mut() {
                                    nh.via = Some(a);
                                }
                            }
                            Err(e) => {
                                self.error(v, format!("route or: {e}"));
                                ok = false;
                            }
                        }
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                text if !dest_seen => {
                    let parsed = if text == "default" {
                        Ok((IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0))
                    } else {
                        parse_net(text)
                    };
                    match parsed {
                        Ok((a, l)) => {
                            route.dest = a;
                            route.prefix_len = l;
                        }
                        Err(e) => {
                            self.error(w, format!("route: {e}"));
                            ok = false;
                        }
                    }
                    dest_seen = true;
                    i += 1;
                }
                other => {
                    self.error(w, format!("route option `{other}` is not supported by vrrpd (it implements src, via/gw, dev, table, metric, scope and blackhole/unreachable/prohibit)"));
                    return None;
                }
            }
        }
        if !dest_seen {
            self.error(&r.key, "route has no destination".into());
            return None;
        }
        if route
            .nexthops
            .iter()
            .any(|n| n.via.is_none() && n.dev.is_none())
        {
            self.error(
                &r.key,
                "route: every nexthop needs `via ADDR` or `dev IF`".into(),
            );
            return None;
        }
        if route.kind == RouteType::Unicast
            && route.via.is_none()
            && route.dev.is_none()
            && route.nexthops.is_empty()
        {
            self.error(&r.key, "route needs `via ADDR` or `dev IF`".into());
            return None;
        }
        let fam = |a: &IpAddr| matches!(a, IpAddr::V6(_));
        let hops: Vec<IpAddr> = route.nexthops.iter().filter_map(|n| n.via).collect();
        for a in [route.via, route.src].into_iter().flatten().chain(hops) {
            if fam(&a) != fam(&route.dest) {
                self.error(
                    &r.key,
                    format!(
                        "route to {}/{} mixes IPv4 and IPv6 ({a})",
                        route.dest, route.prefix_len
                    ),
                );
                return None;
            }
        }
        ok.then_some(route)
    }

    /// One line of `static_ipaddress`: `ADDR[/PREFIX] dev IF [scope S] [label L]`.
    pub(super) fn static_address(&mut self, a: &Stmt) -> Option<StaticAddress> {
        let (addr, prefix_len) = match parse_vip_addr(&a.key.text) {
            Ok(x) => x,
            Err(e) => {
                self.error(&a.key, format!("static_ipaddress: {e}"));
                return None;
            }
        };
        let (mut dev, mut label, mut scope) = (None, None, None);
        let mut args = a.args.iter();
        while let Some(opt) = args.next() {
            let Some(val) = args.next() else {
                self.error(
                    opt,
                    format!("static_ipaddress option `{}` needs a value", opt.text),
                );
                return None;
            };
            match opt.text.as_str() {
                "dev" => dev = Some(val.text.clone()),
                "label" => label = Some(val.text.clone()),
                "scope" => {
                    scope = match val.text.as_str() {
                        "global" | "universe" => Some(RouteScope::Global),
                        "site" => Some(RouteScope::Site),
                        "link" => Some(RouteScope::Link),
                        "host" => Some(RouteScope::Host),
                        other => {
                            self.error(val, format!("static_ipaddress scope: expected global, site, link or host, got `{other}`"));
                            return None;
                        }
                    }
                }
                other => {
                    self.error(opt, format!("static_ipaddress option `{other}` is not supported by vrrpd (it implements dev, scope and label)"));
                    return None;
                }
            }
        }
        let Some(dev) = dev else {
            self.error(
                &a.key,
                "static_ipaddress needs `dev IF` (vrrpd has no default interface)".into(),
            );
            return None;
        };
        if let Err(e) = crate::config::check_ifname(&dev) {
            self.error(&a.key, e);
            return None;
        }
        Some(StaticAddress {
            addr,
            prefix_len,
            dev,
            label,
            scope,
        })
    }

    /// One line of `virtual_rules` / `static_rules`:
    /// `[from NET] [to NET] table N [priority|preference|pref N]`.
    pub(super) fn rule(&mut self, r: &Stmt) -> Option<Rule> {
        let words: Vec<&Tok> = std::iter::once(&r.key).chain(r.args.iter()).collect();
        let mut rule = Rule {
            from: None,
            to: None,
            table: 0,
            priority: None,
        };
        let mut table = false;
        let mut ok = true;
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let Some(v) = words.get(i + 1) else {
                self.error(w, format!("rule: `{}` needs a value", w.text));
                return None;
            };
            match w.text.as_str() {
                "from" | "to" => match parse_net(&v.text) {
                    Ok(n) if w.text == "from" => rule.from = Some(n),
                    Ok(n) => rule.to = Some(n),
                    Err(e) => {
                        self.error(v, format!("rule {}: {e}", w.text));
                        ok = false;
                    }
                },
                "table" | "priority" | "preference" | "pref" => match v.text.parse::<u32>() {
                    Ok(n) if w.text == "table" => {
                        table = true;
                        rule.table = n;
                    }
                    Ok(n) => rule.priority = Some(n),
                    Err(_) => {
                        self.error(
                            v,
                            format!("rule {}: expected a number, got `{}`", w.text, v.text),
                        );
                        ok = false;
                    }
                },
                other => {
                    self.error(w, format!("rule option `{other}` is not supported by vrrpd (it implements from, to, table and priority)"));
                    return None;
                }
            }
            i += 2;
        }
        if !table && ok {
            self.error(&r.key, "rule needs `table N`".into());
            return None;
        }
        if let (Some((a, _)), Some((b, _))) = (rule.from, rule.to) {
            if matches!(a, IpAddr::V6(_)) != matches!(b, IpAddr::V6(_)) {
                self.error(&r.key, "rule mixes IPv4 and IPv6".into());
                return None;
            }
        }
        ok.then_some(rule)
    }
}
