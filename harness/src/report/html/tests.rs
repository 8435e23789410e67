//! The pages parse, every link resolves to a file in the folder, and a failing run's
//! page shows the failing check's message.

use std::path::Path;

use scraper::{Html, Selector};

use super::*;
use crate::report::testdata::{expected_failure, failing, passing, record};
use crate::report::{Figure, RunRecord};

/// A run folder as the runner leaves it: artifacts, a timeline, two node folders.
fn fake_run_dir(dir: &Path) {
    std::fs::create_dir_all(dir.join("node1")).unwrap();
    std::fs::create_dir_all(dir.join("node2")).unwrap();
    for f in ["capture.pcap", "history.jsonl", "verdict.json"] {
        std::fs::write(dir.join(f), b"x").unwrap();
    }
    std::fs::write(
        dir.join("timeline.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect class=\"hold\" width=\"5\" height=\"5\"/></svg>",
    )
    .unwrap();
    let log: String = (1..=100).map(|i| format!("log line {i} <b>&\n")).collect();
    std::fs::write(dir.join("node1/daemon.log"), log).unwrap();
    std::fs::write(dir.join("node1/vrrpd.toml"), "x").unwrap();
    std::fs::write(dir.join("node2/addresses.txt"), "x").unwrap();
}

/// Every `href` and `src` in `html` (a page inside `page_dir`), which must be relative
/// and resolve to an existing file; returns how many there were.
pub(crate) fn assert_links_resolve(html: &str, page_dir: &Path) -> usize {
    let doc = Html::parse_document(html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let sel = Selector::parse("[href], [src]").unwrap();
    let mut n = 0;
    for el in doc.select(&sel) {
        let link = el
            .value()
            .attr("href")
            .or_else(|| el.value().attr("src"))
            .unwrap();
        assert!(
            !link.contains("://") && !link.starts_with('/') && !link.starts_with("//"),
            "external or absolute link {link}"
        );
        let target = page_dir.join(link.replace("%20", " "));
        assert!(
            target.is_file(),
            "link {link} → {} is missing",
            target.display()
        );
        n += 1;
    }
    n
}

fn at(root: &Path, scenario: &str, daemon: &str, v: crate::check::Verdict) -> RunRecord {
    let mut r = record(scenario, daemon, v);
    r.out_dir = root.join(scenario).join(daemon);
    fake_run_dir(&r.out_dir);
    r
}

#[test]
fn run_page_parses_links_resolve_and_shows_the_failing_message() {
    let root = tempfile::tempdir().unwrap();
    let mut r = at(root.path(), "02-sigkill", "vrrpd", failing());
    r.conflict = Figure::Ms(1688.0);
    r.daemon_version = Some("0.1.0".into());
    r.daemons = ["node1", "node2"]
        .into_iter()
        .map(|n| crate::report::NodeDaemon {
            node: n.into(),
            daemon: "vrrpd".into(),
            version: Some("0.1.0".into()),
            program: "/usr/sbin/vrrpd".into(),
        })
        .collect();
    let times = [StepTime {
        index: 1,
        begin_ms: Some(10.0),
        end_ms: Some(2510.0),
    }];
    let page = RunPage {
        record: &r,
        step_times: &times,
        index_href: run_page::index_href_from(root.path(), &r.out_dir),
    };
    let path = write_run_page(&page).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    // capture, history, verdict, timeline, 3 node files, the index link... except the
    // index does not exist yet: write it first.
    write_index(root.path(), std::slice::from_ref(&r), "test", &[]).unwrap();
    let links = assert_links_resolve(&html, path.parent().unwrap());
    assert_eq!(links, 1 + 3 + 4, "index + node files + artifacts");
    let doc = Html::parse_document(&html);
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("node1+node2 both held 192.0.2.20 from t=8.650s to t=10.338s"));
    assert!(text.contains("garp_on_takeover: the capture lost 3 frame(s)"));
    assert!(text.contains("vrrpd 0.1.0"));
    assert!(text.contains("2.510 s"), "step end time");
    // The failing check's row is marked as a failure.
    let failed = Selector::parse("table.checks tr.st-fail").unwrap();
    assert_eq!(doc.select(&failed).count(), 1);
    // The SVG is inline, not linked, and the log is escaped, tail only.
    assert_eq!(
        doc.select(&Selector::parse("div.timeline svg rect.hold").unwrap())
            .count(),
        1
    );
    assert!(!text.contains("log line 60 "));
    assert!(text.contains("log line 61 <b>&"));
    assert!(html.contains("log line 100 &lt;b&gt;&amp;"));
}

#[test]
fn index_matrix_links_every_run_and_shows_pass_rates() {
    let root = tempfile::tempdir().unwrap();
    let mut records = vec![
        at(root.path(), "01-clean", "vrrpd", passing()),
        at(root.path(), "01-clean", "keepalived", passing()),
        at(root.path(), "02-sigkill", "keepalived", expected_failure()),
    ];
    // A repeated cell: three runs, one failed.
    for (k, v) in [(1, passing()), (2, failing()), (3, passing())] {
        let mut r = record("02-sigkill", "vrrpd", v);
        r.out_dir = root.path().join(format!("rep{k}/02-sigkill/vrrpd"));
        fake_run_dir(&r.out_dir);
        records.push(r);
    }
    for r in &records {
        std::fs::write(
            r.out_dir.join(RUN_PAGE_FILE),
            "<!DOCTYPE html><title>x</title>",
        )
        .unwrap();
    }
    std::fs::write(root.path().join("summary.md"), "x").unwrap();
    let path = write_index(root.path(), &records, "vrrplab run", &[]).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    // 4 cell links + 3 repeat links + summary.md.
    assert_eq!(assert_links_resolve(&html, root.path()), 4 + 3 + 1);
    let doc = Html::parse_document(&html);
    let cells: Vec<_> = doc
        .select(&Selector::parse("table.matrix td.cell").unwrap())
        .collect();
    assert_eq!(cells.len(), 4);
    let sigkill_vrrpd: String = cells[3].text().collect();
    assert!(sigkill_vrrpd.contains("FAIL"), "{sigkill_vrrpd}");
    assert!(sigkill_vrrpd.contains("passed 2/3"), "{sigkill_vrrpd}");
    assert!(cells[3].value().classes().any(|c| c == "st-fail"));
    // The cell's main link opens the failing repeat.
    let main = cells[3]
        .select(&Selector::parse("a.main").unwrap())
        .next()
        .unwrap();
    assert_eq!(
        main.value().attr("href"),
        Some("rep2/02-sigkill/vrrpd/report.html")
    );
    let keepalived_sigkill: String = cells[2].text().collect();
    assert!(keepalived_sigkill.contains("expected-fail"));
}

#[test]
fn no_external_resources_in_either_page() {
    let root = tempfile::tempdir().unwrap();
    let r = at(root.path(), "s", "vrrpd", passing());
    let page = RunPage {
        record: &r,
        step_times: &[],
        index_href: None,
    };
    for html in [
        run_page_html(&page),
        index_html(
            root.path(),
            std::slice::from_ref(&r),
            "t",
            &["shard 2/2 is missing".into()],
        ),
    ] {
        let doc = Html::parse_document(&html);
        for sel in ["script", "link", "img", "iframe", "object"] {
            let s = Selector::parse(sel).unwrap();
            assert_eq!(doc.select(&s).count(), 0, "a <{sel}> element");
        }
        assert!(
            !html.contains("http://")
                || html.matches("http://").count()
                    == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        assert!(!html.contains("https://"));
        assert!(!html.contains("@import") && !html.contains("url("));
    }
}

#[test]
fn relative_hrefs_encode_and_refuse_outside_paths() {
    let root = Path::new("/o");
    assert_eq!(
        relative_href(root, Path::new("/o/a b/c#d/report.html")).as_deref(),
        Some("a%20b/c%23d/report.html")
    );
    assert_eq!(relative_href(root, Path::new("/elsewhere/x")), None);
    assert_eq!(
        run_page::index_href_from(root, Path::new("/o/rep1/s/vrrpd")).as_deref(),
        Some("../../../index.html")
    );
    assert_eq!(status_class("expected-fail"), "st-expected-fail");
    assert_eq!(status_class("FAIL"), "st-fail");
    assert_eq!(status_class("not applicable"), "st-not-applicable");
}
