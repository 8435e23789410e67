//! Validation and resolution: from the file as written ([`super::raw`]) to the model.
//! Every check returns an [`At`]: a byte offset into the text and a one-line message.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use vrrpd::instance::{MAX_ADVERT_INTERVAL_V3, MIN_ADVERT_INTERVAL_V3};
use vrrpd::wire::vrrp::Version;

use super::raw::{RawExpect, RawScenario, RawStep, RawVrrp};
use super::time::{fmt_duration, parse_duration, TimeExpr, Timers};
use super::{
    ExpectNow, Expectations, FailoverCheck, FaultKind, InitialState, NodeVrrp, NotifyAction,
    Scenario, Step, StepKind, Track, TrackKind, VrrpState, WaitCond, DAEMONS,
};
use crate::check::CheckName;
use crate::lab::topology::{in_lab_range, Topology, CLIENT_V4, CLIENT_V6, MAX_NODES};

/// A problem at a byte offset.
#[derive(Debug)]
pub(crate) struct At {
    pub offset: usize,
    pub message: String,
}

type Res<T> = Result<T, At>;

fn at(span: Range<usize>, message: impl Into<String>) -> At {
    At {
        offset: span.start,
        message: message.into(),
    }
}

fn err<T>(span: Range<usize>, message: impl Into<String>) -> Res<T> {
    Err(at(span, message))
}

/// The VIP used when no layer sets `vips`.
const DEFAULT_VIP: &str = "192.0.2.20/32";

/// Parses, validates and resolves a whole file.
pub(crate) fn parse(text: &str, path: &Path) -> Res<Scenario> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| At {
        offset: e.span().map_or(0, |s| s.start),
        message: one_line(e.message()),
    })?;
    let name = match &raw.name {
        Some(n) => {
            if let Err(why) = super::check_name(n.get_ref()) {
                return err(n.span(), format!("name {:?} {why}", n.get_ref()));
            }
            n.get_ref().clone()
        }
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(why) = super::check_name(&stem) {
                return err(
                    0..0,
                    format!(
                        "the file name gives the scenario name {stem:?}, which {why}; set `name`"
                    ),
                );
            }
            stem
        }
    };
    let description = raw
        .description
        .as_ref()
        .map(|d| d.get_ref().clone())
        .unwrap_or_default();

    let topology = topology(&raw)?;
    let base = raw.vrrp.clone().unwrap_or_default();
    check_layer(&base, &topology)?;

    let overrides = raw.nodes.clone().unwrap_or_default();
    for (name, layer) in &overrides {
        if topology.node(name.get_ref()).is_none() {
            return err(
                name.span(),
                format!(
                    "[nodes.{}]: {}",
                    name.get_ref(),
                    unknown_node_msg(name.get_ref(), &topology)
                ),
            );
        }
        check_layer(layer, &topology)?;
    }
    let mut layers = Vec::new();
    let mut nodes = Vec::new();
    for spec in &topology.nodes {
        let layer = match overrides.iter().find(|(k, _)| k.get_ref() == &spec.name) {
            Some((_, over)) => base.overlay(over),
            None => base.clone(),
        };
        nodes.push(node_vrrp(&layer, &spec.name, &topology, true)?);
        layers.push(layer);
    }

    let steps = steps(text, &raw, &topology, &mut layers, &nodes)?;
    let timers = Timers::max_over(&nodes);
    let (expect, known_failures) = expectations(raw.expect.as_ref(), &timers, &steps)?;

    Ok(Scenario {
        name,
        description,
        path: path.to_path_buf(),
        topology,
        nodes,
        steps,
        expect,
        known_failures,
    })
}

fn one_line(s: &str) -> String {
    s.trim().split('\n').collect::<Vec<_>>().join("; ")
}

fn topology(raw: &RawScenario) -> Res<Topology> {
    let (count, ipv6) = match &raw.topology {
        Some(t) => (
            t.nodes.clone(),
            t.ipv6.as_ref().is_some_and(|v| *v.get_ref()),
        ),
        None => (None, false),
    };
    let n = match count {
        Some(c) => {
            let v = *c.get_ref();
            if !(1..=MAX_NODES as i64).contains(&v) {
                return err(
                    c.span(),
                    format!("topology.nodes must be 1 to {MAX_NODES}, got {v}"),
                );
            }
            v as usize
        }
        None => 2,
    };
    let t = Topology::with_nodes(n, ipv6);
    t.validate().map_err(|e| at(0..0, e.to_string()))?;
    Ok(t)
}

fn unknown_node_msg(name: &str, topo: &Topology) -> String {
    format!(
        "unknown node {name:?} (this lab has node1 to node{})",
        topo.nodes.len()
    )
}

fn known_node(n: &Spanned<String>, topo: &Topology) -> Res<String> {
    if topo.node(n.get_ref()).is_none() {
        return err(n.span(), unknown_node_msg(n.get_ref(), topo));
    }
    Ok(n.get_ref().clone())
}

/// Parses `addr` or `addr/len`; the address must be in the lab ranges.
fn parse_prefix(s: &Spanned<String>, what: &str) -> Res<(IpAddr, u8)> {
    let text = s.get_ref().trim();
    let (a, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| {
        at(
            s.span(),
            format!("bad {what} {text:?}: expected an address like \"192.0.2.20/32\""),
        )
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(v) if v <= max => v,
            _ => {
                return err(
                    s.span(),
                    format!("bad prefix length in {what} {text:?}: expected 0 to {max}"),
                )
            }
        },
    };
    if !in_lab_range(addr) {
        return err(
            s.span(),
            format!(
                "{what} {addr} is outside the lab ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)"
            ),
        );
    }
    Ok((addr, len))
}

/// Who in the lab owns `addr`, if anyone.
fn owner_of(addr: IpAddr, topo: &Topology) -> Option<String> {
    if addr == IpAddr::V4(CLIENT_V4) || addr == IpAddr::V6(CLIENT_V6) {
        return Some("the client".into());
    }
    topo.nodes
        .iter()
        .find(|n| IpAddr::V4(n.v4) == addr || n.v6.map(IpAddr::V6) == Some(addr))
        .map(|n| n.name.clone())
}

fn parse_vip(s: &Spanned<String>, topo: &Topology) -> Res<(IpAddr, u8)> {
    let (addr, len) = parse_prefix(s, "VIP")?;
    if let Some(owner) = owner_of(addr, topo) {
        return err(
            s.span(),
            format!("VIP {addr} is {owner}'s own address; a VIP must be a separate address"),
        );
    }
    if let IpAddr::V4(a) = addr {
        let o = a.octets();
        if (o[0], o[1], o[2]) == (192, 0, 2) && !(20..=99).contains(&o[3]) {
            return err(
                s.span(),
                format!("VIP {addr} is outside 192.0.2.20-192.0.2.99, the part of 192.0.2.0/24 the lab keeps for VIPs"),
            );
        }
    }
    if addr.is_ipv6() && !topo.ipv6 {
        return err(
            s.span(),
            format!("IPv6 VIP {addr} needs `ipv6 = true` in [topology]"),
        );
    }
    Ok((addr, len))
}

fn one_of<T: Copy>(s: &Spanned<String>, key: &str, choices: &[(&str, T)]) -> Res<T> {
    match choices.iter().find(|(n, _)| *n == s.get_ref()) {
        Some((_, v)) => Ok(*v),
        None => {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
            err(
                s.span(),
                format!(
                    "unknown {key} {:?} (expected {})",
                    s.get_ref(),
                    names.join(", ")
                ),
            )
        }
    }
}

fn duration(s: &Spanned<String>) -> Res<Duration> {
    parse_duration(s.get_ref()).map_err(|m| at(s.span(), m))
}

const INITIAL_STATES: [(&str, InitialState); 2] = [
    ("master", InitialState::Master),
    ("backup", InitialState::Backup),
];

const TRACK_KINDS: [(&str, TrackKind); 4] = [
    ("script", TrackKind::Script),
    ("process", TrackKind::Process),
    ("file", TrackKind::File),
    ("interface", TrackKind::Interface),
];

const NOTIFY_ACTIONS: [(&str, NotifyAction); 2] = [
    ("remove-vips", NotifyAction::RemoveVips),
    ("none", NotifyAction::None),
];

/// Checks every value of one layer that can be judged on its own.
fn check_layer(l: &RawVrrp, topo: &Topology) -> Res<()> {
    if let Some(v) = &l.version {
        if !matches!(*v.get_ref(), 2 | 3) {
            return err(
                v.span(),
                format!("version must be 2 or 3, got {}", v.get_ref()),
            );
        }
    }
    if let Some(v) = &l.vrid {
        if !(1..=255).contains(v.get_ref()) {
            return err(
                v.span(),
                format!("vrid must be 1 to 255, got {}", v.get_ref()),
            );
        }
    }
    if let Some(v) = &l.priority {
        if !(1..=255).contains(v.get_ref()) {
            return err(
                v.span(),
                format!(
                    "priority must be 1 to 255, got {} (0 is reserved for a master that stops)",
                    v.get_ref()
                ),
            );
        }
    }
    if let Some(v) = &l.advert_interval {
        let d = duration(v)?;
        if d.is_zero() {
            return err(v.span(), "advert_interval must be longer than 0");
        }
    }
    if let Some(v) = &l.preempt_delay {
        duration(v)?;
    }
    if let Some(list) = &l.vips {
        let mut seen = BTreeSet::new();
        let mut family = None;
        for s in list.get_ref() {
            let (addr, _) = parse_vip(s, topo)?;
            if !seen.insert(addr) {
                return err(s.span(), format!("VIP {addr} is listed twice"));
            }
            match family {
                None => family = Some(addr.is_ipv6()),
                Some(f) if f != addr.is_ipv6() => {
                    return err(
                        s.span(),
                        format!("VIP {addr} mixes IPv4 and IPv6 VIPs; a virtual router has one address family"),
                    )
                }
                Some(_) => {}
            }
        }
    }
    if let Some(p) = &l.auth_pass {
        let n = p.get_ref().len();
        if n == 0 {
            return err(
                p.span(),
                "auth_pass must not be empty (omit it for no authentication)",
            );
        }
        if n > 8 {
            return err(
                p.span(),
                format!("auth_pass is {n} bytes; VRRPv2 PASS authentication holds at most 8"),
            );
        }
    }
    if let Some(s) = &l.initial_state {
        one_of(s, "initial_state", &INITIAL_STATES)?;
    }
    if let Some(s) = &l.notify_backup {
        one_of(s, "notify_backup", &NOTIFY_ACTIONS)?;
    }
    if let Some(s) = &l.track {
        one_of(s, "track", &TRACK_KINDS)?;
    }
    if let Some(w) = &l.track_weight {
        if !(-253..=253).contains(w.get_ref()) {
            return err(
                w.span(),
                format!(
                    "track_weight must be -253 to 253 (0 = FAULT), got {}",
                    w.get_ref()
                ),
            );
        }
    }
    Ok(())
}

/// Resolves one node's layered settings; `initial` requires at least one VIP.
fn node_vrrp(l: &RawVrrp, node: &str, topo: &Topology, initial: bool) -> Res<NodeVrrp> {
    let version = match l.version.as_ref().map(|v| *v.get_ref()) {
        Some(3) => Version::V3,
        _ => Version::V2,
    };
    let vnum = version.number();
    let small = |v: &Option<Spanned<i64>>, d: u8| {
        v.as_ref()
            .and_then(|v| u8::try_from(*v.get_ref()).ok())
            .unwrap_or(d)
    };
    let advert_interval = match &l.advert_interval {
        Some(s) => {
            let d = duration(s)?;
            match version {
                Version::V2 => {
                    if d.subsec_nanos() != 0 || d.as_secs() > 255 || d.is_zero() {
                        return err(
                            s.span(),
                            format!(
                                "{node}: VRRPv2 advert_interval must be whole seconds from 1s to 255s, got {}",
                                s.get_ref()
                            ),
                        );
                    }
                }
                Version::V3 => {
                    if d < MIN_ADVERT_INTERVAL_V3
                        || d > MAX_ADVERT_INTERVAL_V3
                        || d.as_nanos() % 10_000_000 != 0
                    {
                        return err(
                            s.span(),
                            format!(
                                "{node}: VRRPv3 advert_interval must be a multiple of 10ms from 10ms to 40.95s, got {}",
                                s.get_ref()
                            ),
                        );
                    }
                }
            }
            d
        }
        None => Duration::from_secs(1),
    };
    let default_vips = [Spanned::new(0..0, DEFAULT_VIP.to_string())];
    let vip_list: &[Spanned<String>] = match &l.vips {
        Some(v) => v.get_ref(),
        None => &default_vips,
    };
    let mut vips = Vec::new();
    for s in vip_list {
        let vip = parse_vip(s, topo)?;
        if vip.0.is_ipv6() && version == Version::V2 {
            return err(
                s.span(),
                format!(
                    "{node}: IPv6 VIP {} needs version = 3 (VRRPv2 is IPv4 only)",
                    vip.0
                ),
            );
        }
        vips.push(vip);
    }
    if initial && vips.is_empty() {
        let span = l.vips.as_ref().map_or(0..0, |v| v.span());
        return err(
            span,
            format!("{node}: a virtual router needs at least one VIP at the start (an empty list is only allowed in [steps.config])"),
        );
    }
    let auth_pass = match &l.auth_pass {
        Some(p) if version == Version::V3 => {
            return err(
                p.span(),
                format!("{node}: auth_pass is VRRPv2 only, but this node uses version {vnum}"),
            )
        }
        Some(p) => Some(p.get_ref().clone()),
        None => None,
    };
    let spec = topo
        .node(node)
        .ok_or_else(|| at(0..0, unknown_node_msg(node, topo)))?;
    let v6 = vips.first().is_some_and(|(a, _)| a.is_ipv6());
    let addr_of = |n: &crate::lab::topology::NodeSpec| match (v6, n.v6) {
        (true, Some(a)) => IpAddr::V6(a),
        _ => IpAddr::V4(n.v4),
    };
    let unicast = l.unicast.as_ref().is_some_and(|u| *u.get_ref());
    let unicast_peers = if unicast {
        topo.nodes
            .iter()
            .filter(|n| n.name != node)
            .map(addr_of)
            .collect()
    } else {
        Vec::new()
    };
    Ok(NodeVrrp {
        name: node.to_string(),
        version,
        vrid: small(&l.vrid, 51),
        priority: small(&l.priority, 100),
        advert_interval,
        vips,
        auth_pass,
        unicast_peers,
        own_addr: addr_of(spec),
        preempt: l.preempt.as_ref().is_none_or(|p| *p.get_ref()),
        preempt_delay: match &l.preempt_delay {
            Some(s) => duration(s)?,
            None => Duration::ZERO,
        },
        initial_state: match &l.initial_state {
            Some(s) => one_of(s, "initial_state", &INITIAL_STATES)?,
            None => InitialState::Backup,
        },
        track_interface: l.track_interface.as_ref().is_some_and(|t| *t.get_ref()),
        notify_backup: match &l.notify_backup {
            Some(s) => one_of(s, "notify_backup", &NOTIFY_ACTIONS)?,
            None => NotifyAction::None,
        },
        track: match &l.track {
            Some(s) => Some(Track {
                kind: one_of(s, "track", &TRACK_KINDS)?,
                weight: l
                    .track_weight
                    .as_ref()
                    .map_or(0, |w| i32::try_from(*w.get_ref()).unwrap_or(0)),
            }),
            None => None,
        },
    })
}

/// Names of the keys a layer sets, for step descriptions.
fn layer_keys(l: &RawVrrp) -> Vec<&'static str> {
    let mut k = Vec::new();
    let mut add = |set: bool, name: &'static str| {
        if set {
            k.push(name);
        }
    };
    add(l.version.is_some(), "version");
    add(l.vrid.is_some(), "vrid");
    add(l.priority.is_some(), "priority");
    add(l.advert_interval.is_some(), "advert_interval");
    add(l.vips.is_some(), "vips");
    add(l.auth_pass.is_some(), "auth_pass");
    add(l.unicast.is_some(), "unicast");
    add(l.preempt.is_some(), "preempt");
    add(l.preempt_delay.is_some(), "preempt_delay");
    add(l.initial_state.is_some(), "initial_state");
    add(l.track_interface.is_some(), "track_interface");
    add(l.notify_backup.is_some(), "notify_backup");
    add(l.track.is_some(), "track");
    add(l.track_weight.is_some(), "track_weight");
    k
}

const WAITS: [&str; 5] = ["holder", "only-holder", "no-holder", "state", "converged"];
const EXPECTS: [&str; 2] = ["holders", "client-macs"];
const STATES: [(&str, VrrpState); 3] = [
    ("MASTER", VrrpState::Master),
    ("BACKUP", VrrpState::Backup),
    ("FAULT", VrrpState::Fault),
];

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The optional keys a step has, with their spans.
fn extra_keys(s: &RawStep) -> Vec<(&'static str, Range<usize>)> {
    let mut v = Vec::new();
    if let Some(x) = &s.node {
        v.push(("node", x.span()));
    }
    if let Some(x) = &s.state {
        v.push(("state", x.span()));
    }
    if let Some(x) = &s.within {
        v.push(("within", x.span()));
    }
    if let Some(x) = &s.addr {
        v.push(("addr", x.span()));
    }
    if let Some(x) = &s.config {
        v.push(("config", x.span()));
    }
    if let Some(x) = &s.nodes {
        v.push(("nodes", x.span()));
    }
    if let Some(x) = &s.count {
        v.push(("count", x.span()));
    }
    v
}

fn reject_extra(s: &RawStep, kind: &str, allowed: &[&str]) -> Res<()> {
    for (key, span) in extra_keys(s) {
        if !allowed.contains(&key) {
            let hint = if allowed.is_empty() {
                String::from("it takes no other key")
            } else {
                format!("it takes {}", list(allowed))
            };
            return err(
                span,
                format!("`{key}` does not apply to a {kind} step ({hint})"),
            );
        }
    }
    Ok(())
}

fn node_list(nodes: &[String]) -> String {
    if nodes.is_empty() {
        "no node".into()
    } else {
        nodes.join(", ")
    }
}

fn steps(
    text: &str,
    raw: &RawScenario,
    topo: &Topology,
    layers: &mut [RawVrrp],
    initial: &[NodeVrrp],
) -> Res<Vec<Step>> {
    let Some(all) = &raw.steps else {
        return err(0..0, "a scenario needs at least one [[steps]]");
    };
    if all.get_ref().is_empty() {
        return err(all.span(), "a scenario needs at least one step");
    }
    let mut current = initial.to_vec();
    let mut out = Vec::new();
    // Built once: finding each step's line by rescanning the text made 20k steps
    // take seconds (quadratic).
    let lines = vrrpd::config::LineIndex::new(text);
    for (i, step) in all.get_ref().iter().enumerate() {
        let index = i + 1;
        let s = step.get_ref();
        let mut kinds = Vec::new();
        if let Some(x) = &s.start {
            kinds.push(("start", x.span()));
        }
        if let Some(x) = &s.wait {
            kinds.push(("wait", x.span()));
        }
        if let Some(x) = &s.fault {
            kinds.push(("fault", x.span()));
        }
        if let Some(x) = &s.hold {
            kinds.push(("hold", x.span()));
        }
        if let Some(x) = &s.expect {
            kinds.push(("expect", x.span()));
        }
        let first_key = kinds
            .iter()
            .map(|k| k.1.start)
            .chain(extra_keys(s).iter().map(|k| k.1.start))
            .min()
            .unwrap_or(step.span().start);
        let offset = step.span().start.min(first_key);
        let (kind, description) = match kinds.as_slice() {
            [] => {
                return err(
                    step.span(),
                    format!("step {index} has none of `start`, `wait`, `fault`, `hold`, `expect`; a step needs exactly one"),
                )
            }
            [_] => step_kind(s, topo, layers, &mut current)?,
            [(a, _), (b, span), ..] => {
                return err(
                    span.clone(),
                    format!("step {index} has both `{a}` and `{b}`; a step does exactly one thing"),
                )
            }
        };
        out.push(Step {
            index,
            line: lines.pos(offset).line,
            kind,
            text: description,
        });
    }
    Ok(out)
}

fn step_kind(
    s: &RawStep,
    topo: &Topology,
    layers: &mut [RawVrrp],
    current: &mut [NodeVrrp],
) -> Res<(StepKind, String)> {
    if let Some(start) = &s.start {
        reject_extra(s, "start", &[])?;
        let names = match start.get_ref() {
            toml::Value::String(a) if a == "all" => {
                topo.nodes.iter().map(|n| n.name.clone()).collect()
            }
            toml::Value::Array(items) => {
                let mut names: Vec<String> = Vec::new();
                for item in items {
                    let toml::Value::String(n) = item else {
                        return err(
                            start.span(),
                            "`start` must be \"all\" or a list of node names",
                        );
                    };
                    if topo.node(n).is_none() {
                        return err(start.span(), unknown_node_msg(n, topo));
                    }
                    if names.contains(n) {
                        return err(
                            start.span(),
                            format!("node {n:?} is started twice in one step"),
                        );
                    }
                    names.push(n.clone());
                }
                if names.is_empty() {
                    return err(start.span(), "`start` lists no node");
                }
                names
            }
            _ => {
                return err(
                    start.span(),
                    "`start` must be \"all\" or a list of node names",
                )
            }
        };
        let text = format!("start {}", node_list(&names));
        return Ok((StepKind::Start(names), text));
    }
    if let Some(w) = &s.wait {
        let timers = Timers::max_over(current);
        let needs_node = matches!(w.get_ref().as_str(), "holder" | "only-holder" | "state");
        let mut allowed = vec!["within"];
        if needs_node {
            allowed.push("node");
        }
        if w.get_ref() == "state" {
            allowed.push("state");
        }
        if !WAITS.contains(&w.get_ref().as_str()) {
            return err(
                w.span(),
                format!("unknown wait {:?} (expected {})", w.get_ref(), list(&WAITS)),
            );
        }
        reject_extra(s, &format!("wait = {:?}", w.get_ref()), &allowed)?;
        let node = match (&s.node, needs_node) {
            (Some(n), true) => Some(known_node(n, topo)?),
            (None, true) => return err(w.span(), format!("wait = {:?} needs `node`", w.get_ref())),
            _ => None,
        };
        let deadline = match &s.within {
            None => timers.auto_deadline(),
            Some(x) if x.get_ref() == "auto" => timers.auto_deadline(),
            Some(x) => {
                let e = TimeExpr::parse(x.get_ref()).map_err(|m| at(x.span(), m))?;
                let d = e.eval_capped(&timers).map_err(|m| at(x.span(), m))?;
                if d.is_zero() {
                    return err(x.span(), "`within` must be longer than 0");
                }
                d
            }
        };
        let node = node.unwrap_or_default();
        let (cond, what) = match w.get_ref().as_str() {
            "holder" => (
                WaitCond::Holder(node.clone()),
                format!("{node} holds the VIPs"),
            ),
            "only-holder" => (
                WaitCond::OnlyHolder(node.clone()),
                format!("{node} alone holds the VIPs"),
            ),
            "no-holder" => (WaitCond::NoHolder, "no node holds a VIP".to_string()),
            "state" => {
                let Some(st) = &s.state else {
                    return err(
                        w.span(),
                        "wait = \"state\" needs `state` (MASTER, BACKUP or FAULT)",
                    );
                };
                let state = one_of(st, "state", &STATES)?;
                (
                    WaitCond::State {
                        node: node.clone(),
                        state,
                    },
                    format!("{node} is {}", st.get_ref()),
                )
            }
            _ => (
                WaitCond::Converged,
                "exactly one node holds the VIPs".to_string(),
            ),
        };
        let text = format!("wait until {what} (within {})", fmt_duration(deadline));
        return Ok((StepKind::Wait { cond, deadline }, text));
    }
    if let Some(f) = &s.fault {
        let Some(fault) = FaultKind::from_name(f.get_ref()) else {
            let names: Vec<&str> = FaultKind::ALL.iter().map(|(n, _)| *n).collect();
            return err(
                f.span(),
                format!(
                    "unknown fault {:?} (expected {})",
                    f.get_ref(),
                    list(&names)
                ),
            );
        };
        let mut allowed = vec!["node"];
        if fault.takes_addr() {
            allowed.push("addr");
        }
        if fault.takes_config() {
            allowed.push("config");
        }
        reject_extra(s, &format!("fault = {:?}", f.get_ref()), &allowed)?;
        let Some(n) = &s.node else {
            return err(f.span(), format!("fault {:?} needs `node`", f.get_ref()));
        };
        let node = known_node(n, topo)?;
        let addr = match (&s.addr, fault.takes_addr()) {
            (Some(a), true) => Some(parse_prefix(a, "address")?),
            (None, true) => {
                return err(
                    f.span(),
                    format!(
                        "fault {:?} needs `addr` (like \"192.0.2.20/32\")",
                        f.get_ref()
                    ),
                )
            }
            _ => None,
        };
        let mut text = format!("{fault} {node}");
        if let Some((a, l)) = addr {
            text.push_str(&format!(" {a}/{l}"));
        }
        let config = match &s.config {
            Some(c) => {
                check_layer(c.get_ref(), topo)?;
                let i = topo
                    .nodes
                    .iter()
                    .position(|x| x.name == node)
                    .ok_or_else(|| at(n.span(), unknown_node_msg(&node, topo)))?;
                let layer = layers[i].overlay(c.get_ref());
                let resolved = node_vrrp(&layer, &node, topo, false)?;
                layers[i] = layer;
                current[i] = resolved;
                text.push_str(&format!(
                    " with new settings ({})",
                    layer_keys(c.get_ref()).join(", ")
                ));
                Some(current.to_vec())
            }
            None => None,
        };
        if matches!(fault, FaultKind::BreakCheck | FaultKind::RepairCheck) {
            let tracked = topo
                .nodes
                .iter()
                .position(|x| x.name == node)
                .and_then(|i| current.get(i))
                .is_some_and(|c| c.track.is_some());
            if !tracked {
                return err(
                    f.span(),
                    format!("fault {:?}: {node} tracks no check; set `track` in [vrrp] or [nodes.{node}]", f.get_ref()),
                );
            }
        }
        return Ok((
            StepKind::Fault {
                node,
                fault,
                addr,
                config,
            },
            text,
        ));
    }
    if let Some(h) = &s.hold {
        reject_extra(s, "hold", &[])?;
        let e = TimeExpr::parse(h.get_ref()).map_err(|m| at(h.span(), m))?;
        let d = e
            .eval_capped(&Timers::max_over(current))
            .map_err(|m| at(h.span(), m))?;
        if d.is_zero() {
            return err(h.span(), "`hold` must be longer than 0");
        }
        return Ok((StepKind::Hold(d), format!("hold {}", fmt_duration(d))));
    }
    if let Some(x) = &s.expect {
        match x.get_ref().as_str() {
            "holders" => {
                reject_extra(s, "expect = \"holders\"", &["nodes"])?;
                let Some(ns) = &s.nodes else {
                    return err(x.span(), "expect = \"holders\" needs `nodes` ([] for none)");
                };
                let mut set = BTreeSet::new();
                for n in ns.get_ref() {
                    let name = known_node(n, topo)?;
                    if !set.insert(name.clone()) {
                        return err(n.span(), format!("node {name:?} is listed twice"));
                    }
                }
                let names: Vec<String> = set.iter().cloned().collect();
                let text = format!("expect holders = {{{}}}", names.join(", "));
                return Ok((StepKind::Expect(ExpectNow::Holders(set)), text));
            }
            "client-macs" => {
                reject_extra(s, "expect = \"client-macs\"", &["count"])?;
                let Some(c) = &s.count else {
                    return err(x.span(), "expect = \"client-macs\" needs `count`");
                };
                let v = *c.get_ref();
                if !(0..=topo.nodes.len() as i64).contains(&v) {
                    return err(
                        c.span(),
                        format!(
                            "count must be 0 to {} (the number of nodes), got {v}",
                            topo.nodes.len()
                        ),
                    );
                }
                let text = format!("expect {v} MAC(s) answering the client for the VIP");
                return Ok((StepKind::Expect(ExpectNow::ClientMacs(v as usize)), text));
            }
            other => {
                return err(
                    x.span(),
                    format!("unknown expect {other:?} (expected {})", list(&EXPECTS)),
                )
            }
        }
    }
    err(0..0, "empty step")
}

type KnownFailures = BTreeMap<String, BTreeSet<CheckName>>;

fn expectations(
    raw: Option<&RawExpect>,
    timers: &Timers,
    steps: &[Step],
) -> Res<(Expectations, KnownFailures)> {
    let mut e = Expectations::default();
    let mut known = BTreeMap::new();
    let Some(r) = raw else {
        return Ok((e, known));
    };
    let flag = |v: &Option<Spanned<bool>>, d: bool| v.as_ref().map_or(d, |b| *b.get_ref());
    e.no_conflict_at_end = flag(&r.no_conflict_at_end, e.no_conflict_at_end);
    e.single_holder_at_end = flag(&r.single_holder_at_end, e.single_holder_at_end);
    e.priority_zero_on_stop = flag(&r.priority_zero_on_stop, e.priority_zero_on_stop);
    e.garp_on_takeover = flag(&r.garp_on_takeover, e.garp_on_takeover);
    e.ttl_255 = flag(&r.ttl_255, e.ttl_255);
    e.client_single_mac_at_end = flag(&r.client_single_mac_at_end, e.client_single_mac_at_end);
    let window = |v: &Option<Spanned<String>>| -> Res<Option<Duration>> {
        match v {
            None => Ok(None),
            Some(s) if s.get_ref() == "off" => Ok(None),
            Some(s) => {
                let x = TimeExpr::parse(s.get_ref()).map_err(|m| at(s.span(), m))?;
                Ok(Some(x.eval_capped(timers).map_err(|m| at(s.span(), m))?))
            }
        }
    };
    e.conflict_max = window(&r.conflict_max)?;
    e.outage_max = window(&r.outage_max)?;
    if let Some(f) = &r.failover {
        e.failover = one_of(
            f,
            "failover",
            &[("rfc", FailoverCheck::Rfc), ("off", FailoverCheck::Off)],
        )?;
    }
    for (daemon, d) in r.daemon.iter().flatten() {
        if !DAEMONS.contains(&daemon.get_ref().as_str()) {
            return err(
                daemon.span(),
                format!(
                    "unknown daemon {:?} (known: {})",
                    daemon.get_ref(),
                    list(DAEMONS)
                ),
            );
        }
        let mut set = BTreeSet::new();
        for c in d.known_failures.iter().flat_map(|k| k.get_ref()) {
            set.insert(check_name(c, steps)?);
        }
        known.insert(daemon.get_ref().clone(), set);
    }
    Ok((e, known))
}

fn check_name(c: &Spanned<String>, steps: &[Step]) -> Res<CheckName> {
    let name = c.get_ref();
    let Some(check) = CheckName::parse(name) else {
        if let Some(n) = name.strip_prefix("step:") {
            return err(
                c.span(),
                format!(
                    "{name:?}: there is no step {n} (steps are 1 to {})",
                    steps.len()
                ),
            );
        }
        let known: Vec<String> = CheckName::END_OF_RUN
            .iter()
            .map(|c| c.to_string())
            .collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        return err(
            c.span(),
            format!(
                "unknown check {name:?} (known: {}, or step:N for a wait or expect step)",
                list(&known)
            ),
        );
    };
    let CheckName::Step(i) = check else {
        return Ok(check);
    };
    match steps.iter().find(|s| s.index == i) {
        Some(s) if matches!(s.kind, StepKind::Wait { .. } | StepKind::Expect(_)) => Ok(check),
        Some(s) => err(
            c.span(),
            format!(
                "{name:?}: step {} is not a wait or expect step, so it cannot fail",
                s.index
            ),
        ),
        None => err(
            c.span(),
            format!(
                "{name:?}: there is no step {i} (steps are 1 to {})",
                steps.len()
            ),
        ),
    }
}
