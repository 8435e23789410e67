//! The explore page parses, every link resolves to a file in the folder, and a
//! violation's invariant and scenario file appear.

use std::path::Path;

use super::*;
use crate::explore::invariants::Target;
use crate::explore::shrink::ShrinkStats;
use crate::explore::summary::{Finding, Unjudged};
use crate::report::html::tests::assert_links_resolve;

fn touch(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b"x").unwrap();
}

/// An explore output folder: a shrunk violation (minimal file and its run), an
/// unshrunk one (schedule file and its run), an unknown, and the summaries.
fn fake_explore(out: &Path) -> Summary {
    let minimal = out.join("vrrpd-7-3.toml");
    touch(&minimal);
    for f in [RUN_PAGE_FILE, VERDICT_FILE, TIMELINE_FILE] {
        touch(&out.join("vrrpd-7-3/vrrpd").join(f));
    }
    let sched = out.join("schedules/vrrpd-7-5.toml");
    touch(&sched);
    touch(&out.join("runs/vrrpd-7-5/vrrpd/capture.pcap"));
    let unknown = out.join("schedules/vrrpd-7-9.toml");
    touch(&unknown);
    touch(&out.join("runs/vrrpd-7-9/vrrpd").join(VERDICT_FILE));
    touch(&out.join("summary.md"));
    touch(&out.join("summary.json"));
    let finding = |schedule, file: PathBuf, shrunk| Finding {
        schedule,
        invariant: Target::Check("conflict_max".into()),
        message: "node1+node2 both held 192.0.2.20 <&>".into(),
        steps: 11,
        shrunk,
        minimal_steps: if shrunk { 4 } else { 11 },
        file,
        reproduced: (2, 2),
        shrink: ShrinkStats::default(),
        shrink_secs: 1.0,
        minimal_run_failed: shrunk.then_some(true),
    };
    Summary {
        daemon: "vrrpd".into(),
        seed: 7,
        command: "vrrplab explore --seed 7".into(),
        schedules: 10,
        passed: 7,
        violations: vec![finding(3, minimal, true), finding(5, sched, false)],
        unknown: vec![Unjudged {
            schedule: 9,
            file: unknown,
            why: vec!["no capture".into()],
        }],
        schedules_to_first_violation: Some(3),
        lab_runs: 20,
        elapsed_secs: 60.0,
        schedules_per_minute: 10.0,
        exit_code: 1,
    }
}

#[test]
fn explore_page_parses_and_every_link_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let s = fake_explore(dir.path());
    let path = write_explore_page(dir.path(), &s).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    // 3 scenario files, 3 + 1 + 1 run files, 2 summaries.
    assert_eq!(assert_links_resolve(&html, dir.path()), 10, "{html}");
    assert!(
        html.contains("href=\"vrrpd-7-3/vrrpd/report.html\""),
        "{html}"
    );
    assert!(!html.contains("http"), "external reference in {html}");
}

#[test]
fn explore_page_shows_the_invariant_file_and_unknowns_apart() {
    let dir = tempfile::tempdir().unwrap();
    let s = fake_explore(dir.path());
    let html = explore_html(dir.path(), &s);
    assert!(html.contains("<h3>conflict_max</h3>"), "{html}");
    assert!(html.contains("href=\"vrrpd-7-3.toml\""), "{html}");
    assert!(
        html.contains("&lt;&amp;&gt;"),
        "message not escaped: {html}"
    );
    let unknowns = html
        .split("<h2>Unknowns</h2>")
        .nth(1)
        .expect("unknowns section");
    assert!(unknowns.contains("schedules/vrrpd-7-9.toml"), "{unknowns}");
    assert!(unknowns.contains("no capture"), "{unknowns}");
    assert!(!unknowns.contains("conflict_max"), "{unknowns}");
}
