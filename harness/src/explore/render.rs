//! A schedule as a scenario file: built as the scenario's own raw model and written by
//! its serde serializer, then loaded back through [`Scenario::parse`], so what explore runs
//! is exactly what `vrrplab check` and `vrrplab run` read.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;

use super::invariants::Bounds;
use super::schedule::{Action, Caps, Change, Schedule, BASE_VIP, EXTRA_VIP};
use crate::scenario::raw::{RawExpect, RawScenario, RawStep, RawTopology, RawVrrp};
use crate::scenario::{FaultKind, Scenario, ScenarioError};

/// How long the lab is watched after the heal before the end state is judged: one
/// Master_Down_Interval plus slack.
pub const SETTLE: &str = "master_down + 1s";

/// The number of steps before the schedule's actions (start every node, wait until one
/// holds the VIP).
pub const SETUP_STEPS: usize = 2;

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

fn node_name(i: usize) -> String {
    format!("node{}", i + 1)
}

fn step() -> RawStep {
    RawStep {
        start: None,
        wait: None,
        fault: None,
        hold: None,
        expect: None,
        node: None,
        state: None,
        within: None,
        addr: None,
        config: None,
        nodes: None,
        count: None,
    }
}

fn hold_step(what: String) -> RawStep {
    RawStep {
        hold: Some(sp(what)),
        ..step()
    }
}

fn action_step(a: &Action) -> RawStep {
    match *a {
        // Expanded by `Schedule::steps` before rendering.
        Action::VipChange(_) => step(),
        Action::Hold(ms) => hold_step(format!("{ms}ms")),
        Action::Fault { node, kind, change } => {
            let config = change.map(|c| {
                sp(match c {
                    Change::Priority(p) => RawVrrp {
                        priority: Some(sp(i64::from(p))),
                        ..RawVrrp::default()
                    },
                    Change::ExtraVip(on) => {
                        let mut v = vec![sp(BASE_VIP.to_string())];
                        if on {
                            v.push(sp(EXTRA_VIP.to_string()));
                        }
                        RawVrrp {
                            vips: Some(sp(v)),
                            ..RawVrrp::default()
                        }
                    }
                })
            });
            RawStep {
                fault: Some(sp(kind.name().to_string())),
                node: Some(sp(node_name(node))),
                addr: (kind == FaultKind::AddrDel).then(|| sp(BASE_VIP.to_string())),
                config,
                ..step()
            }
        }
    }
}

/// The number of `[[steps]]` the file of `s` has.
pub fn step_count(s: &Schedule, caps: Caps) -> usize {
    SETUP_STEPS + s.steps().len() + s.heal(caps).len() + 1
}

/// The raw model of the scenario file for `s` judged by `b`.
fn raw(name: &str, description: &str, s: &Schedule, caps: Caps, b: &Bounds) -> RawScenario {
    let mut steps = vec![
        RawStep {
            start: Some(sp(toml::Value::String("all".into()))),
            ..step()
        },
        RawStep {
            wait: Some(sp("converged".to_string())),
            ..step()
        },
    ];
    steps.extend(s.steps().iter().map(action_step));
    steps.extend(s.heal(caps).iter().map(action_step));
    steps.push(hold_step(SETTLE.to_string()));
    let interval = if s.advert_interval().subsec_nanos() == 0 {
        format!("{}s", s.advert_ms / 1000)
    } else {
        format!("{}ms", s.advert_ms)
    };
    let nodes: BTreeMap<Spanned<String>, RawVrrp> = s
        .priorities
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                sp(node_name(i)),
                RawVrrp {
                    priority: Some(sp(i64::from(*p))),
                    ..RawVrrp::default()
                },
            )
        })
        .collect();
    let ms = |d: std::time::Duration| format!("{}ms", d.as_millis());
    RawScenario {
        name: Some(sp(name.to_string())),
        description: Some(sp(description.to_string())),
        topology: Some(RawTopology {
            nodes: Some(sp(s.nodes() as i64)),
            ipv6: None,
        }),
        vrrp: Some(RawVrrp {
            version: Some(sp(i64::from(s.version))),
            vrid: Some(sp(51)),
            advert_interval: Some(sp(interval)),
            vips: Some(sp(vec![sp(BASE_VIP.to_string())])),
            ..RawVrrp::default()
        }),
        nodes: Some(nodes),
        steps: Some(sp(steps.into_iter().map(sp).collect())),
        expect: Some(RawExpect {
            no_conflict_at_end: None,
            single_holder_at_end: None,
            conflict_max: Some(sp(ms(b.conflict_max))),
            outage_max: Some(sp(ms(b.outage_max))),
            failover: b.failover.then(|| sp("rfc".to_string())),
            priority_zero_on_stop: (!b.announce).then(|| sp(false)),
            garp_on_takeover: (!b.announce).then(|| sp(false)),
            ttl_255: None,
            client_single_mac_at_end: None,
            daemon: None,
        }),
    }
}

/// The scenario file's text: `comment` lines (each prefixed `# `), then the TOML.
pub fn to_toml(
    name: &str,
    description: &str,
    s: &Schedule,
    caps: Caps,
    b: &Bounds,
    comment: &[String],
) -> anyhow::Result<String> {
    let body = toml::to_string(&raw(name, description, s, caps, b))?;
    let mut text = String::new();
    for line in comment {
        for l in line.lines() {
            text.push_str("# ");
            text.push_str(l);
            text.push('\n');
        }
    }
    if !comment.is_empty() {
        text.push('\n');
    }
    text.push_str(&body);
    Ok(text)
}

/// The text loaded back as a scenario (`path` names it in errors).
pub fn load(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::generate::{generate, Adverts, GenOptions};
    use crate::explore::invariants::{bounds, declared};
    use crate::scenario::StepKind;
    use proptest::prelude::*;

    fn text_of(daemon: &str, seed: u64, n: u64, adverts: Adverts) -> (Schedule, Caps, String) {
        let d = declared(daemon);
        let o = GenOptions {
            caps: d.caps,
            adverts,
            ..GenOptions::default()
        };
        let s = generate(seed, n, &o);
        let b = bounds(&s, &d);
        let text = to_toml("x", "y", &s, d.caps, &b, &["a comment".into()]).expect("toml");
        (s, d.caps, text)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Every generated schedule is a scenario file the loader (and so `vrrplab
        /// check`) accepts, with one step per action plus setup, heal and settle.
        #[test]
        fn every_generated_schedule_loads(
            seed in any::<u64>(),
            n in 1u64..10_000,
            daemon in prop::sample::select(vec!["vrrpd", "vrrpd:no-lease", "keepalived", "frr"]),
            adverts in prop::sample::select(vec![Adverts::Any, Adverts::OneSecond, Adverts::SubSecond]),
        ) {
            let (s, caps, text) = text_of(daemon, seed, n, adverts);
            let sc = load(&text, Path::new("gen.toml"))
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(sc.steps.len(), step_count(&s, caps));
            let faults = sc.steps.iter().filter(|st| matches!(st.kind, StepKind::Fault { .. })).count();
            prop_assert_eq!(faults, s.faults() + s.heal(caps).len());
            prop_assert_eq!(sc.nodes.len(), s.nodes());
            // Same seed, same file.
            prop_assert_eq!(text, text_of(daemon, seed, n, adverts).2);
        }
    }

    #[test]
    fn a_file_reads_as_written() {
        let s = Schedule {
            version: 3,
            advert_ms: 200,
            priorities: vec![150, 100],
            actions: vec![
                Action::Fault {
                    node: 0,
                    kind: FaultKind::Sigkill,
                    change: None,
                },
                Action::Hold(1500),
                Action::VipChange(true),
                Action::Fault {
                    node: 1,
                    kind: FaultKind::AddrDel,
                    change: None,
                },
            ],
        };
        let d = declared("vrrpd");
        let b = bounds(&s, &d);
        let text = to_toml("t", "d", &s, d.caps, &b, &["why".into()]).expect("toml");
        assert!(text.starts_with("# why\n\n"), "{text}");
        for want in [
            "advert_interval = \"200ms\"",
            "fault = \"sigkill\"",
            "hold = \"1500ms\"",
            "vips = [\"192.0.2.20/32\", \"192.0.2.21/32\"]",
            "addr = \"192.0.2.20/32\"",
            "fault = \"start\"",
            "hold = \"master_down + 1s\"",
            "conflict_max = ",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        let sc = load(&text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(sc.steps.len(), 2 + 5 + 1 + 1);
        assert_eq!(sc.expect.conflict_max, Some(b.conflict_max));
        assert_eq!(sc.expect.outage_max, Some(b.outage_max));
    }
}
