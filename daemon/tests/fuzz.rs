//! Property-based fuzzing of vrrpd's inputs (issue 13): the advert parser and receive
//! checks, the state machine fed hostile advert sequences among several simulated
//! routers, the keepalived.conf importer and the TOML loader.
//!
//! The gate runs a short budget (64 cases per target). `VRRPLAB_FUZZ_CASES=N` runs N
//! cases per target, e.g. `VRRPLAB_FUZZ_CASES=20000 cargo test -p vrrpd --test fuzz
//! --release`. Every crash or hang found gets a regression test at the bottom.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use vrrpd::config::{parse_keepalived, parse_toml, Config, MAX_VIPS};
use vrrpd::instance::{Action, Advert, Event, Instance, Params, State};
use vrrpd::runtime::rx::{self, DropReason, Expect, RxMeta};
use vrrpd::wire::vrrp;

/// Cases per target: `VRRPLAB_FUZZ_CASES`, else a budget the gate can afford.
fn cases() -> u32 {
    std::env::var("VRRPLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Regressions are written out as tests below, not as files beside the source.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A parse that takes this long on a few hundred bytes is a hang in the making.
const SLOW: Duration = Duration::from_secs(2);

/// Every diagnostic is `origin:line:col: message` on one line, inside the text.
fn check_diagnostics(shown: &str, origin: &str, text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1) + 1;
    for l in shown.lines() {
        let rest = l.strip_prefix(origin).and_then(|r| r.strip_prefix(':'));
        let Some(rest) = rest else {
            // An I/O error is impossible for in-memory text.
            return Err(TestCaseError::fail(format!("no origin: {l:?}")));
        };
        let mut parts = rest.splitn(3, ':');
        let line: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let col: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        prop_assert!(line >= 1 && line <= lines, "line {line} of {lines}: {l:?}");
        prop_assert!(col >= 1, "column {col}: {l:?}");
        prop_assert!(!l.chars().any(char::is_control), "control char in {l:?}");
    }
    Ok(())
}

/// What every loaded configuration must satisfy, whatever its format.
fn check_config(c: &Config) -> Result<(), TestCaseError> {
    for i in &c.instances {
        prop_assert!(i.vips.len() <= MAX_VIPS && !i.vips.is_empty());
        prop_assert!(i.vrid >= 1 && i.priority >= 1);
        prop_assert!(!i.name.chars().any(char::is_control));
        prop_assert!(i.interface.len() <= 15 && !i.interface.contains('\0'));
        for v in &i.vips {
            prop_assert!(v.label.as_ref().is_none_or(|l| l.len() <= 15));
        }
        prop_assert!(i.garp_refresh.is_none_or(|r| r >= Duration::from_secs(1)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Advert parser and receive checks

fn any_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
        Just(IpAddr::V4(vrrp::GROUP_V4)),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes, any addresses: no panic; what parses re-emits to bytes that parse
    /// to the same thing; a zero interval never becomes an Advert.
    #[test]
    fn advert_parser_and_receive_checks(
        bytes in proptest::collection::vec(any::<u8>(), 0..1200),
        src in any_addr(),
        dst in any_addr(),
        ttl in prop_oneof![Just(Some(255u8)), any::<Option<u8>>()],
        version in prop_oneof![Just(vrrp::Version::V3), Just(vrrp::Version::V2)],
    ) {
        let meta = RxMeta { src, dst, ttl };
        let Ok(repr) = rx::parse_advert(&bytes, &meta) else { return Ok(()) };
        if let Ok(again) = repr.to_bytes(src, dst) {
            let back = vrrp::Repr::parse(&vrrp::Packet::new_unchecked(&again[..]), src, dst);
            prop_assert_eq!(back.as_ref(), Ok(&repr));
        }
        let addrs = repr.addrs.clone();
        let expect = Expect { version, auth: repr.auth, addrs: &addrs };
        match rx::check_for_instance(&repr, &meta, &expect) {
            Ok(adv) => prop_assert!(!adv.max_advert_interval.is_zero()),
            Err(reason) => prop_assert!(
                reason != DropReason::BadInterval || repr.max_advert_int == 0
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// State machine: several routers on one simulated segment, plus a rogue

/// Something the chaos phase does.
#[derive(Debug, Clone)]
enum Chaos {
    /// A rogue advert to one router: priority, raw interval in centiseconds (0 and
    /// absurd values included), whether its address list matches.
    Rogue {
        to: usize,
        priority: u8,
        cs: u16,
        addrs_match: bool,
    },
    /// A router's link goes down or up.
    Link { who: usize, up: bool },
    /// Nothing for a while.
    Quiet,
}

fn chaos() -> impl Strategy<Value = (u64, Chaos)> {
    let ev = prop_oneof![
        4 => (0usize..4, any::<u8>(), prop_oneof![Just(0u16), 1u16..=4095], any::<bool>())
            .prop_map(|(to, priority, cs, addrs_match)| Chaos::Rogue { to, priority, cs, addrs_match }),
        1 => (0usize..4, any::<bool>()).prop_map(|(who, up)| Chaos::Link { who, up }),
        1 => Just(Chaos::Quiet),
    ];
    (0u64..3000, ev)
}

struct Segment {
    routers: Vec<Instance>,
    links: Vec<bool>,
    /// Adverts in flight: (delivery time, order) -> (to, advert).
    wire: BTreeMap<(Instant, u64), (usize, Advert)>,
    seq: u64,
    interval: Duration,
}

fn router_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11 + i as u8))
}

impl Segment {
    fn new(priorities: &[u8], interval: Duration, t0: Instant) -> Segment {
        let routers = priorities
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let mut params = Params::new(51, router_ip(i));
                params.priority = p;
                params.advert_interval = interval;
                let mut inst = Instance::new(params);
                inst.handle_event(t0, Event::Startup);
                inst
            })
            .collect();
        let mut s = Segment {
            links: vec![true; priorities.len()],
            routers,
            wire: BTreeMap::new(),
            seq: 0,
            interval,
        };
        s.collect(t0);
        s
    }

    /// Turns every router's queued actions into adverts on the wire (1 ms latency).
    fn collect(&mut self, now: Instant) {
        for i in 0..self.routers.len() {
            while let Some(a) = self.routers[i].poll_action() {
                if let Action::SendAdvert { priority } = a {
                    if !self.links[i] {
                        continue;
                    }
                    for j in 0..self.routers.len() {
                        if j != i && self.links[j] {
                            self.seq += 1;
                            let adv = Advert {
                                src: router_ip(i),
                                priority,
                                max_advert_interval: self.interval,
                                addrs_match: true,
                            };
                            self.wire
                                .insert((now + Duration::from_millis(1), self.seq), (j, adv));
                        }
                    }
                }
            }
        }
    }

    /// Runs timers and deliveries up to `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let timer = self
                .routers
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.poll_timeout().map(|t| (t, i)))
                .min();
            let wire = self.wire.keys().next().copied();
            let next = match (timer, wire) {
                (Some((t, _)), Some((w, _))) => t.min(w),
                (Some((t, _)), None) => t,
                (None, Some((w, _))) => w,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            if let Some((key, (to, adv))) = self.wire.first_key_value().map(|(k, v)| (*k, *v)) {
                if key.0 == next {
                    self.wire.remove(&key);
                    self.routers[to].handle_event(next, Event::Advert(adv));
                    self.collect(next);
                    continue;
                }
            }
            if let Some((t, i)) = timer {
                self.routers[i].handle_timeout(t);
                self.collect(t);
            }
        }
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].state() == State::Master)
            .collect()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Routers with distinct priorities, a rogue sending any advert (interval 0
    /// included) and links flapping: once the chaos stops and the adverts settle, there
    /// is exactly one Master, the one with the highest priority.
    #[test]
    fn one_master_after_hostile_adverts(
        priorities in proptest::sample::subsequence((1u8..=254).collect::<Vec<_>>(), 2..=4)
            .prop_shuffle(),
        interval_cs in prop_oneof![Just(100u64), 1u64..=300],
        script in proptest::collection::vec(chaos(), 0..80),
    ) {
        let interval = Duration::from_millis(interval_cs * 10);
        let t0 = Instant::now();
        let mut seg = Segment::new(&priorities, interval, t0);
        let mut now = t0;
        for (gap, ev) in script {
            now += Duration::from_millis(gap);
            seg.run_until(now);
            match ev {
                Chaos::Rogue { to, priority, cs, addrs_match } => {
                    let to = to % seg.routers.len();
                    if seg.links[to] {
                        let adv = Advert {
                            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 250)),
                            priority,
                            max_advert_interval: Duration::from_millis(u64::from(cs) * 10),
                            addrs_match,
                        };
                        seg.routers[to].handle_event(now, Event::Advert(adv));
                    }
                }
                Chaos::Link { who, up } => {
                    let who = who % seg.routers.len();
                    seg.links[who] = up;
                    let ev = if up { Event::InterfaceUp } else { Event::InterfaceDown };
                    seg.routers[who].handle_event(now, ev);
                }
                Chaos::Quiet => {}
            }
            seg.collect(now);
        }
        // Links back, rogue gone; the longest interval it can have taught is 40.95 s.
        for who in 0..seg.routers.len() {
            if !seg.links[who] {
                seg.links[who] = true;
                seg.routers[who].handle_event(now, Event::InterfaceUp);
            }
        }
        seg.collect(now);
        let settle = Duration::from_secs(4 * 41) + interval * 8;
        seg.run_until(now + settle);
        let masters = seg.masters();
        prop_assert_eq!(masters.len(), 1, "masters {:?} of priorities {:?}", masters, priorities);
        let best = (0..priorities.len()).max_by_key(|&i| priorities[i]);
        prop_assert_eq!(masters.first().copied(), best);
        // And it stays that way for a while.
        seg.run_until(now + settle + interval * 10);
        prop_assert_eq!(seg.masters(), masters);
    }
}

// ---------------------------------------------------------------------------------------
// Configuration loaders

/// A valid keepalived.conf instance, to be mutated.
const KEEPALIVED: &str = "vrrp_instance VI_1 {\n    state MASTER\n    interface eth1\n    \
    virtual_router_id 51\n    priority 150\n    advert_int 1\n    virtual_ipaddress {\n        \
    192.0.2.20/24 dev eth1 label eth1:vip\n    }\n}\n";

/// A valid TOML instance, to be mutated.
const TOML: &str = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth1\"\nvrid = 51\n\
    priority = 150\nadvert_interval = \"1s\"\nvips = [\"192.0.2.20/32\", { addr = \"192.0.2.21\", \
    label = \"eth1:vip\" }]\ngarp_refresh = \"60s\"\n";

/// One mutation of a text: replace a byte range by a chosen fragment.
fn mutate(text: &str, at: usize, len: usize, with: &str) -> String {
    let mut start = at % (text.len() + 1);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}{}", &text[..start], with, &text[end..])
}

fn fragments() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "",
            "\n",
            "{",
            "}",
            "\"",
            "#",
            "!",
            "0",
            "256",
            "-1",
            "0.001",
            "99999999999999999999",
            "\u{0}",
            "\u{1b}[31m",
            "\nforged",
            "é",
            "/33",
            "::",
            "2001:db8::1",
            "224.0.0.18",
            "a-very-long-interface-name",
            "label",
            "dev",
            "vrrp_instance",
            "[[instance]]",
            "= ",
            "[",
            "]",
            "\"0.001ms\"",
            "garp_refresh",
            "unicast_peer",
            "authentication",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,12}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// keepalived.conf lexer and importer on mutated valid files: no panic, no hang,
    /// errors point inside the text on one line each, accepted files obey the limits.
    #[test]
    fn keepalived_importer_on_mutations(
        muts in proptest::collection::vec((any::<usize>(), 0usize..12, fragments()), 1..6),
    ) {
        let mut text = KEEPALIVED.to_owned();
        for (at, len, with) in &muts {
            text = mutate(&text, *at, *len, with);
        }
        let started = Instant::now();
        let result = parse_keepalived(&text, "p.conf");
        prop_assert!(started.elapsed() < SLOW, "slow on {text:?}");
        match result {
            Ok((c, warnings)) => {
                check_config(&c)?;
                for w in &warnings {
                    prop_assert!(!w.to_string().chars().any(char::is_control));
                }
            }
            Err(e) => check_diagnostics(&e.to_string(), "p.conf", &text)?,
        }
    }

    /// vrrpd's TOML loader on mutated valid files: the same promises.
    #[test]
    fn toml_loader_on_mutations(
        muts in proptest::collection::vec((any::<usize>(), 0usize..12, fragments()), 1..6),
    ) {
        let mut text = TOML.to_owned();
        for (at, len, with) in &muts {
            text = mutate(&text, *at, *len, with);
        }
        let started = Instant::now();
        let result = parse_toml(&text, "p.toml");
        prop_assert!(started.elapsed() < SLOW, "slow on {text:?}");
        match result {
            Ok(c) => check_config(&c)?,
            Err(e) => check_diagnostics(&e.to_string(), "p.toml", &text)?,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Regressions found by the targets above

/// Loading is linear: 20,000 instances load in well under the time the quadratic
/// position lookup took for 4,000 (25 s in a debug build).
#[test]
fn many_instances_load_in_linear_time() {
    let mut text = String::new();
    for i in 0..20_000u32 {
        text.push_str(&format!(
            "[[instance]]\nname = \"i{i}\"\ninterface = \"e{}\"\nvrid = {}\nvips = [\"198.51.100.{}\"]\n\n",
            i / 255,
            i % 255 + 1,
            i % 250 + 1
        ));
    }
    let started = Instant::now();
    let c = parse_toml(&text, "big.toml").expect("valid");
    assert_eq!(c.instances.len(), 20_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
