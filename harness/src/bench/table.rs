//! The markdown rendering of a [`BenchReport`]: a header (machine, versions, command),
//! one table per section, then every target with `met` or `MISSED`.

use std::fmt::Write as _;

use super::expiry::ExpirySection;
use super::failover::{sample_str, CatalogueSection, FailoverSection};
use super::flood::FloodSection;
use super::footprint::FootprintSection;
use super::labbuild::LabSection;
use super::{BenchReport, Stats};

/// `median / min / p95` with `prec` decimals; a statistic that is only a lower bound is
/// written `open ≥ x`, never as a plain number.
pub fn stats_cell(s: &Stats, prec: usize) -> String {
    let one = |v: f64, open: bool| {
        if open {
            format!("open ≥ {v:.prec$}")
        } else {
            format!("{v:.prec$}")
        }
    };
    format!(
        "{} / {} / {}",
        one(s.median, s.median_open),
        one(s.min, s.min_open),
        one(s.p95, s.p95_open)
    )
}

fn opt_cell(s: Option<&Stats>, prec: usize) -> String {
    s.map_or_else(|| "—".to_string(), |s| stats_cell(s, prec))
}

/// The whole report as markdown.
pub fn render(r: &BenchReport) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# vrrplab bench\n");
    let _ = writeln!(
        s,
        "- machine: {} ({} cores), Linux {}",
        m.cpu, m.cores, m.kernel
    );
    let _ = writeln!(
        s,
        "- versions: vrrplab {}, vrrpd `{}`, keepalived `{}`",
        m.vrrplab, m.vrrpd, m.keepalived
    );
    let _ = writeln!(s, "- command: `{}`", m.command);
    let _ = writeln!(
        s,
        "- every figure is median / min / p95 over {} runs unless its table gives its own run count; every ratio compares figures of this same invocation; wall time {:.0} s",
        r.runs, r.wall_s
    );
    if !r.section_s.is_empty() {
        let times: Vec<String> = r
            .section_s
            .iter()
            .map(|t| format!("{} {:.0} s", t.section, t.secs))
            .collect();
        let _ = writeln!(s, "- section wall times: {}", times.join(", "));
    }
    if let Some(l) = &r.lab {
        lab(&mut s, l);
    }
    if let Some(f) = &r.failover {
        failover(&mut s, f);
    }
    if let Some(c) = &r.catalogue {
        catalogue(&mut s, c);
    }
    if let Some(f) = &r.footprint {
        footprint(&mut s, f);
    }
    if let Some(e) = &r.expiry {
        expiry(&mut s, e);
    }
    if let Some(g) = &r.gate {
        super::gate::render(&mut s, g);
    }
    if let Some(f) = &r.flood {
        flood(&mut s, f);
    }
    if let Some(x) = &r.scale {
        x.markdown(&mut s);
    }
    if !r.targets.is_empty() {
        let _ = writeln!(s, "\n## Targets\n");
        let _ = writeln!(s, "| target | measured | result |");
        let _ = writeln!(s, "|---|---|---|");
        for t in &r.targets {
            let _ = writeln!(s, "| {} | {} | {} |", t.what, t.measured, t.verdict);
        }
    }
    s
}

fn lab(s: &mut String, l: &LabSection) {
    let _ = writeln!(s, "\n## 1. Lab build + teardown, ms (median / min / p95)\n");
    let _ = writeln!(
        s,
        "| nodes | vrrplab build | vrrplab teardown | vrrplab total | bare namespaces alone | iproute2 build | iproute2 teardown | iproute2 total | `ip` commands | iproute2 / vrrplab |"
    );
    let _ = writeln!(s, "|---:|---|---|---|---|---|---|---|---:|---:|");
    for r in &l.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1}× |",
            r.nodes,
            stats_cell(&r.build_ms, 2),
            stats_cell(&r.teardown_ms, 2),
            stats_cell(&r.total_ms, 2),
            stats_cell(&r.namespaces_ms, 2),
            stats_cell(&r.ip_build_ms, 1),
            stats_cell(&r.ip_teardown_ms, 1),
            stats_cell(&r.ip_total_ms, 1),
            r.ip_commands,
            r.speedup
        );
    }
}

fn failover(s: &mut String, f: &FailoverSection) {
    if !f.failover.is_empty() {
        let _ = writeln!(
            s,
            "\n## 2. Failover, ms (median / min / p95; {} at once, {:.0} s for sections 2–3)\n",
            f.jobs, f.wall_s
        );
        let _ = writeln!(
            s,
            "| fault, version, interval | daemon | runs | RFC value | measured | median − RFC | unmeasured runs |"
        );
        let _ = writeln!(s, "|---|---|---:|---|---|---:|---:|");
        for r in &f.failover {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} {:.3} | {} | {} | {} |",
                r.case.label(),
                r.daemon,
                r.runs,
                r.rfc_name,
                r.rfc_ms,
                opt_cell(r.failover_ms.as_ref(), 2),
                r.diff_ms
                    .map_or_else(|| "—".to_string(), |d| format!("{d:+.2}")),
                r.unmeasured.len()
            );
        }
    }
    if !f.conflict.is_empty() {
        let _ = writeln!(
            s,
            "\n## 3. Conflict after SIGKILL of the MASTER, ms (median / min / p95; worst run)\n"
        );
        let _ = writeln!(
            s,
            "| version, interval | daemon | runs | two holders | worst | client: two nodes answer | worst | outage (no holder) | worst | vrrpd lease bound | unmeasured |"
        );
        let _ = writeln!(s, "|---|---|---:|---|---|---|---|---|---|---:|---:|");
        let worst = |v: &[super::Sample]| {
            super::failover::worst(v).map_or_else(|| "—".to_string(), |w| sample_str(&w))
        };
        for r in &f.conflict {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.case.timer_label(),
                r.daemon,
                r.runs,
                opt_cell(r.holders_stats().as_ref(), 1),
                worst(&r.holders),
                opt_cell(r.client_stats().as_ref(), 1),
                worst(&r.client),
                opt_cell(r.outage_stats().as_ref(), 1),
                worst(&r.outage),
                r.bound_ms,
                r.unknown.len()
            );
        }
    }
}

fn catalogue(s: &mut String, c: &CatalogueSection) {
    let _ = writeln!(s, "\n## 4. Catalogue wall time\n");
    let _ = writeln!(
        s,
        "| catalogue | daemons | jobs | wall s (median / min / p95) | runs as expected |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---|");
    let ok: Vec<String> = c
        .as_expected
        .iter()
        .map(|(a, b)| format!("{a}/{b}"))
        .collect();
    let _ = writeln!(
        s,
        "| {} ({} scenarios) | {} | {} | {} | {} |",
        c.dir.display(),
        c.scenarios,
        c.daemons.join(", "),
        c.jobs,
        stats_cell(&c.wall_s, 1),
        ok.join(", ")
    );
}

fn expiry(s: &mut String, e: &ExpirySection) {
    let _ = writeln!(
        s,
        "\n## 6. Kernel address expiry: removal − lease end, ms (median / min / p95)\n"
    );
    let _ = writeln!(s, "Rounding window found by vrrpd: {}\n", e.window);
    let _ = writeln!(
        s,
        "| family | lease s | samples | all | worst | end outside the window | worst | end inside: worst |"
    );
    let _ = writeln!(s, "|---|---:|---:|---|---:|---|---:|---:|");
    let ms = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"));
    for r in &e.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.family,
            r.lease_s,
            r.samples.len(),
            opt_cell(r.all.as_ref(), 1),
            ms(r.max_ms),
            opt_cell(r.outside.as_ref(), 1),
            ms(r.outside_max_ms),
            ms(r.inside_max_ms)
        );
    }
}

fn footprint(s: &mut String, f: &FootprintSection) {
    let _ = writeln!(
        s,
        "\n## 5. Footprint: 255 VRRPv3 instances at 100 ms, unicast ({} runs per daemon in turn, each a fresh lab sampled {} s in {} windows of {:.1} s)\n",
        f.runs,
        f.secs,
        f.windows,
        f.window_s()
    );
    let _ = writeln!(
        s,
        "| daemon | MASTER CPU % of a core (over runs) | spread between runs | between windows | BACKUP CPU % of a core | spread between runs | between windows | MASTER peak RSS MB | BACKUP peak RSS MB | processes (M/B) | converged s | problem |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|---:|---|"
    );
    for r in &f.rows {
        let mb = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"));
        let pct = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1} %"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {} |",
            r.daemon,
            opt_cell(r.master_cpu.as_ref(), 2),
            pct(r.master_run_spread),
            pct(r.master_spread),
            opt_cell(r.backup_cpu.as_ref(), 2),
            pct(r.backup_run_spread),
            pct(r.backup_spread),
            mb(r.master_rss_mb),
            mb(r.backup_rss_mb),
            r.processes.0,
            r.processes.1,
            r.converged_s
                .map_or_else(|| "—".to_string(), |v| format!("{v:.2}")),
            r.problem.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        s,
        "\nThe observers under the same load (capture of every frame at its bridge port, client probe of {} VIPs every 50 ms):\n",
        super::observers::PROBED
    );
    let _ = writeln!(
        s,
        "| daemon | frames/s | capture drops | probe rounds | probe gaps | unanswered | misattributed | answer latency ms |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|");
    for r in &f.rows {
        let Some(o) = &r.observe else {
            let _ = writeln!(s, "| {} | — | — | — | — | — | — | — |", r.daemon);
            continue;
        };
        let _ = writeln!(
            s,
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.daemon,
            o.frames_per_s,
            o.capture_drops,
            o.probe_rounds,
            o.probe_gaps,
            o.unanswered,
            o.misattributed,
            opt_cell(o.latency_ms.as_ref(), 2)
        );
    }
}

fn flood(s: &mut String, f: &FloodSection) {
    let _ = writeln!(
        s,
        "\n## 7. Hostile segment: a 50k packets/s VRRP flood, {} s per kind\n",
        f.secs
    );
    let _ = writeln!(
        s,
        "One node, one VRRPv3 instance (VRID 51, priority 150, 100 ms), MASTER; the client \
         floods 224.0.0.18 with TTL-255 VRRP packets. CPU is the node's processes, % of one \
         core; jitter is the largest |gap − 100 ms| between the node's adverts as seen from \
         the client namespace (its own scheduling delay included: see the no-flood row).\n"
    );
    let _ = writeln!(
        s,
        "| daemon | flood | sent pkt/s | CPU % | adverts | max jitter ms | stable |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---|");
    for r in &f.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.1} | {} | {} | {} |",
            r.daemon,
            r.kind.label(),
            r.sent_pps,
            r.cpu_percent,
            r.adverts,
            r.max_jitter_ms
                .map_or_else(|| "—".to_string(), |j| format!("{j:.1}")),
            if r.stable { "yes" } else { "NO" }
        );
    }
    for (d, why) in &f.problems {
        let _ = writeln!(s, "\n{d}: not measured: {why}");
    }
}

#[cfg(test)]
mod tests {
    use super::super::{failover, labbuild, BenchReport, Machine, Sample, Target, Verdict};
    use super::*;

    fn machine() -> Machine {
        Machine {
            cpu: "Test CPU".into(),
            cores: 2,
            kernel: "6.1.0".into(),
            vrrplab: "0.1.0".into(),
            vrrpd: "vrrpd 0.1.0".into(),
            keepalived: "Keepalived v2.2.7".into(),
            command: "vrrplab bench --runs 3".into(),
        }
    }

    #[test]
    fn stats_cells() {
        let st = Stats::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(stats_cell(&st, 1), "2.0 / 1.0 / 3.0");
        let st = Stats::of_samples(&[
            Sample::exact(1.0),
            Sample::exact(2.0),
            Sample::at_least(5000.0),
        ])
        .unwrap();
        assert_eq!(stats_cell(&st, 0), "2 / 1 / open ≥ 5000");
    }

    #[test]
    fn renders_header_sections_and_targets() {
        let st = |v: &[f64]| Stats::of(v).unwrap();
        let lab = labbuild::LabSection {
            rows: vec![labbuild::LabRow {
                nodes: 2,
                build_ms: st(&[2.0]),
                teardown_ms: st(&[1.0]),
                total_ms: st(&[3.0]),
                namespaces_ms: st(&[1.5]),
                ip_build_ms: st(&[40.0]),
                ip_teardown_ms: st(&[20.0]),
                ip_total_ms: st(&[60.0]),
                ip_commands: 20,
                speedup: 20.0,
            }],
        };
        let case = failover::Case {
            fault: "sigkill",
            version: 2,
            interval_ms: 1000,
            ipv6: false,
        };
        let fo = failover::FailoverSection {
            runs: 1,
            conflict_runs: 1,
            jobs: 4,
            wall_s: 12.0,
            failover: vec![failover::FailoverRow {
                daemon: "vrrpd".into(),
                case,
                runs: 1,
                rfc_name: "Master_Down_Interval".into(),
                rfc_ms: 3609.375,
                failover_ms: Some(st(&[3611.0])),
                diff_ms: Some(1.625),
                unmeasured: vec![],
            }],
            conflict: vec![failover::ConflictRow {
                daemon: "keepalived".into(),
                case,
                runs: 1,
                holders: vec![Sample::at_least(2000.0)],
                client: vec![Sample::exact(0.0)],
                outage: vec![Sample::exact(0.0)],
                unknown: vec![],
                bound_ms: 0.0,
            }],
        };
        let r = BenchReport {
            machine: machine(),
            runs: 1,
            lab: Some(lab),
            failover: Some(fo),
            catalogue: None,
            footprint: None,
            expiry: None,
            flood: None,
            scale: None,
            gate: None,
            section_s: vec![
                super::super::SectionTime {
                    section: "lab".into(),
                    secs: 3.2,
                },
                super::super::SectionTime {
                    section: "failover+conflict".into(),
                    secs: 12.0,
                },
            ],
            targets: vec![Target {
                what: "lab 2 nodes: ≥ 10× faster than iproute2".into(),
                measured: "20.0×".into(),
                verdict: Verdict::Missed,
            }],
            wall_s: 1.0,
        };
        let md = render(&r);
        assert!(md.starts_with("# vrrplab bench\n"));
        assert!(md.contains("- machine: Test CPU (2 cores), Linux 6.1.0"));
        assert!(md.contains("Keepalived v2.2.7"));
        assert!(md.contains("- command: `vrrplab bench --runs 3`"));
        assert!(md.contains(
            "| 2 | 2.00 / 2.00 / 2.00 | 1.00 / 1.00 / 1.00 | 3.00 / 3.00 / 3.00 | 1.50 / 1.50 / 1.50 | 40.0 / 40.0 / 40.0 | 20.0 / 20.0 / 20.0 | 60.0 / 60.0 / 60.0 | 20 | 20.0× |"
        ));
        assert!(md.contains(
            "| sigkill, v2, 1000 ms | vrrpd | 1 | Master_Down_Interval 3609.375 | 3611.00 / 3611.00 / 3611.00 | +1.62 | 0 |"
        ));
        assert!(md.contains("| v2, 1000 ms | keepalived | 1 | open ≥ 2000.0 / open ≥ 2000.0 / open ≥ 2000.0 | open ≥ 2000.0 ms | 0.0 / 0.0 / 0.0 | 0.0 ms | 0.0 / 0.0 / 0.0 | 0.0 ms | 0 | 0 |"));
        assert!(md.contains("- section wall times: lab 3 s, failover+conflict 12 s"));
        assert!(md.contains("| lab 2 nodes: ≥ 10× faster than iproute2 | 20.0× | MISSED |"));
        assert!(!md.contains("## 4."));
        // Every row of a table has as many cells as its header.
        let mut width = None;
        for line in md.lines() {
            if !line.starts_with('|') {
                width = None;
                continue;
            }
            let n = line.matches('|').count();
            assert_eq!(*width.get_or_insert(n), n, "ragged row: {line}");
        }
    }
}
