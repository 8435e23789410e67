//! The summary table of many runs: fixed-width text that is also a markdown table.

use std::collections::BTreeMap;

use super::figure::fmt_ms;
use super::{RunRecord, Status};

/// The column headers, in order.
const HEADERS: [&str; 6] = [
    "scenario",
    "daemon",
    "verdict",
    "failover ms",
    "conflict ms",
    "outage ms",
];

/// A markdown cell: a `|` would end the cell, a line break the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// One row per run, sorted by scenario then daemon, padded to fixed widths so it reads
/// as plain text and renders as a markdown table:
///
/// ```text
/// | scenario | daemon | verdict | failover ms | conflict ms | outage ms |
/// ```
///
/// The verdict column is the run's [`Status`] (`pass`, `FAIL`, `unknown`,
/// `expected-fail`, `ERROR`); a figure that could not be measured shows as `?`, a missing
/// failover time as `-`. A blank line and a one-line totals footer follow.
pub fn summary_table(records: &[RunRecord]) -> String {
    let mut sorted: Vec<&RunRecord> = records.iter().collect();
    sorted.sort_by(|a, b| (&a.scenario, &a.daemon).cmp(&(&b.scenario, &b.daemon)));
    let rows: Vec<[String; 6]> = sorted
        .iter()
        .map(|r| {
            [
                cell(&r.scenario),
                cell(&r.daemon_label()),
                r.status().to_string(),
                r.failover_ms.map_or_else(|| "-".to_string(), fmt_ms),
                r.conflict.to_string(),
                r.outage.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // Numbers align right, words left; the separator row says so to markdown too.
    let right = [false, false, false, true, true, true];
    let line = |cells: &[String]| -> String {
        let mut s = String::from("|");
        for ((c, w), r) in cells.iter().zip(widths).zip(right) {
            let pad = " ".repeat(w.saturating_sub(c.chars().count()));
            if r {
                s.push_str(&format!(" {pad}{c} |"));
            } else {
                s.push_str(&format!(" {c}{pad} |"));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&HEADERS.map(String::from));
    out.push('|');
    for (w, r) in widths.iter().zip(right) {
        let dashes = "-".repeat(w.saturating_sub(1));
        if r {
            out.push_str(&format!(" {dashes}: |"));
        } else {
            out.push_str(&format!(" {dashes}- |"));
        }
    }
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push('\n');
    out.push_str(&totals(records));
    out.push('\n');
    let na: Vec<&&RunRecord> = sorted
        .iter()
        .filter(|r| r.not_applicable.is_some())
        .collect();
    if !na.is_empty() {
        out.push_str("\nNot applicable (not run, not a pass):\n\n");
        for r in na {
            out.push_str(&format!(
                "- {} × {}: {}\n",
                r.scenario,
                r.daemon_label(),
                r.not_applicable.as_deref().unwrap_or("")
            ));
        }
    }
    out
}

/// `5 runs: 2 pass, 1 expected-fail, 1 FAIL, 0 unknown, 1 ERROR` (and `, 2 n/a` when
/// some scenario did not apply to its daemon).
fn totals(records: &[RunRecord]) -> String {
    let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.status()).or_default() += 1;
    }
    let parts: Vec<String> = Status::ALL
        .iter()
        .filter(|s| **s != Status::NotApplicable || counts.contains_key(s))
        .map(|s| format!("{} {s}", counts.get(s).copied().unwrap_or(0)))
        .collect();
    let n = records.len();
    format!(
        "{n} run{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::*;
    use crate::report::Figure;

    #[test]
    fn sorted_aligned_markdown_with_totals() {
        let mut a = record("seed/sigkill", "vrrpd", passing());
        a.failover_ms = Some(3609.375);
        let mut b = record("seed/sigkill", "keepalived", expected_failure());
        b.conflict = Figure::Open {
            since_ms: 8650.0,
            at_least_ms: 3350.0,
        };
        let c = record("a|b", "vrrpd", failing());
        let mut d = record("clean-stop", "vrrpd", passing());
        d.error = Some("lab: cannot create namespace".into());
        let e = record("freeze", "vrrpd", unknown());
        let t = summary_table(&[a, b, c, d, e]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "| scenario     | daemon     | verdict       | failover ms | conflict ms | outage ms |"
        );
        assert_eq!(
            lines[1],
            "| ------------ | ---------- | ------------- | ----------: | ----------: | --------: |"
        );
        assert_eq!(
            lines[2],
            "| a\\|b         | vrrpd      | FAIL          |           - |           0 |         0 |"
        );
        assert!(lines[3].starts_with("| clean-stop   | vrrpd      | ERROR "));
        assert!(lines[4].starts_with("| freeze       | vrrpd      | unknown "));
        assert_eq!(
            lines[5],
            "| seed/sigkill | keepalived | expected-fail |           - | open ≥ 3350 |         0 |"
        );
        assert_eq!(
            lines[6],
            "| seed/sigkill | vrrpd      | pass          |    3609.375 |           0 |         0 |"
        );
        assert_eq!(lines[7], "");
        assert_eq!(
            lines[8],
            "5 runs: 1 pass, 1 expected-fail, 1 FAIL, 1 unknown, 1 ERROR"
        );
        assert_eq!(lines.len(), 9);
        // Every table row has the same width (in characters).
        let w = lines[0].chars().count();
        assert!(lines[..7].iter().all(|l| l.chars().count() == w), "{t}");
    }

    #[test]
    fn empty_and_single() {
        let t = summary_table(&[]);
        assert!(t.ends_with("\n0 runs: 0 pass, 0 expected-fail, 0 FAIL, 0 unknown, 0 ERROR\n"));
        let t = summary_table(&[record("s", "d", passing())]);
        assert!(t.contains("1 run: 1 pass"), "{t}");
    }
}
