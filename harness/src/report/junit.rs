//! JUnit XML, for CI systems that show test results (GitHub Actions reporters, GitLab,
//! Jenkins): one test case per scenario × daemon.

use std::fmt::Write as _;

use super::xml::{escape, escape_text};
use super::{RunRecord, Status};
use crate::check::{Classification, Outcome};

/// What a run's report has to say, sorted by how much it matters.
#[derive(Default)]
struct Findings {
    /// Failed checks, stale or unmatched known failures, failed steps.
    fails: Vec<String>,
    /// Checks and steps that could not be decided.
    unknowns: Vec<String>,
    /// Known failures that reproduced.
    expected: Vec<String>,
}

/// `name: message`, unless the message already starts with the check's name.
fn named(name: &str, msg: &str) -> String {
    if msg.starts_with(name) {
        msg.to_string()
    } else {
        format!("{name}: {msg}")
    }
}

fn findings(r: &RunRecord) -> Findings {
    let mut f = Findings::default();
    for j in &r.verdict.checks {
        let name = &j.result.name.to_string();
        let msg = match &j.result.outcome {
            Outcome::Pass => String::new(),
            Outcome::Fail(m) | Outcome::Unknown(m) => m.clone(),
        };
        match j.class {
            Classification::Pass => {}
            Classification::Fail => f.fails.push(named(name, &msg)),
            Classification::Unknown => f.unknowns.push(named(name, &msg)),
            Classification::ExpectedFail => f.expected.push(named(name, &msg)),
            Classification::UnexpectedPass => f.fails.push(format!(
                "{name}: known failure no longer reproduces (the check passed); remove it from known_failures or find out why the check went blind"
            )),
        }
    }
    for k in &r.verdict.unmatched_known_failures {
        f.fails
            .push(format!("{k}: known failure names no check that ran"));
    }
    for s in &r.steps {
        let line = format!("step {} ({}): {}", s.index, s.text, s.outcome_text());
        match s.outcome {
            Outcome::Pass => {}
            Outcome::Fail(_) => f.fails.push(line),
            Outcome::Unknown(_) => f.unknowns.push(line),
        }
    }
    f
}

/// One `<testsuite name="vrrplab">` with a `<testcase classname="scenario"
/// name="daemon" time="seconds">` per record, in the order given:
///
/// * a failed run has a `<failure type="fail">` whose message lists every failing check
///   (with its message), stale or unmatched known failure and failed step; the body
///   repeats them one per line, then anything unknown and where the artifacts are;
/// * an unknown run has a `<failure type="unknown">`: unknown is not a pass;
/// * an expected failure passes, with `<system-out>` saying which known failure was
///   reproduced;
/// * a broken run has an `<error>` with the run error.
///
/// Every text and attribute is XML-escaped.
pub fn junit_xml(records: &[RunRecord]) -> String {
    let statuses: Vec<Status> = records.iter().map(RunRecord::status).collect();
    let failures = statuses
        .iter()
        .filter(|s| matches!(s, Status::Fail | Status::Unknown))
        .count();
    let errors = statuses.iter().filter(|s| **s == Status::Error).count();
    let total_s: f64 = records.iter().map(|r| secs(r.duration_ms)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"vrrplab\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{total_s:.3}\">",
        records.len()
    );
    for (r, status) in records.iter().zip(statuses) {
        testcase(&mut out, r, status);
    }
    out.push_str("</testsuite>\n");
    out
}

/// Milliseconds as seconds, with anything that is not a finite non-negative number as 0.
fn secs(ms: f64) -> f64 {
    if ms.is_finite() && ms > 0.0 {
        ms / 1000.0
    } else {
        0.0
    }
}

fn testcase(out: &mut String, r: &RunRecord, status: Status) {
    let _ = write!(
        out,
        "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
        escape(&r.scenario),
        escape(&r.daemon),
        secs(r.duration_ms)
    );
    let f = findings(r);
    let artifacts = format!("artifacts: {}", r.out_dir.display());
    let mut body = String::new();
    match status {
        Status::Pass => {}
        Status::ExpectedFail => {}
        Status::Error => {
            let msg = r.error.as_deref().unwrap_or("the run broke");
            let mut text = format!("{msg}\n");
            for l in f.fails.iter().chain(&f.unknowns) {
                let _ = writeln!(text, "{l}");
            }
            let _ = writeln!(text, "{artifacts}");
            let _ = writeln!(
                body,
                "    <error type=\"error\" message=\"{}\">{}</error>",
                escape(msg),
                escape_text(&text)
            );
        }
        Status::Fail => {
            let msg = summary("failed", &f.fails, "the verdict is not ok");
            let mut text = String::new();
            for l in &f.fails {
                let _ = writeln!(text, "{l}");
            }
            for l in &f.unknowns {
                let _ = writeln!(text, "also unknown: {l}");
            }
            let _ = writeln!(text, "{artifacts}");
            let _ = writeln!(
                body,
                "    <failure type=\"fail\" message=\"{}\">{}</failure>",
                escape(&msg),
                escape_text(&text)
            );
        }
        Status::Unknown => {
            let msg = summary("could not be decided", &f.unknowns, "unknown");
            let mut text = String::from("unknown is not a pass: what was not observed:\n");
            for l in &f.unknowns {
                let _ = writeln!(text, "{l}");
            }
            let _ = writeln!(text, "{artifacts}");
            let _ = writeln!(
                body,
                "    <failure type=\"unknown\" message=\"{}\">{}</failure>",
                escape(&msg),
                escape_text(&text)
            );
        }
    }
    if !f.expected.is_empty() {
        let mut text = String::new();
        for l in &f.expected {
            let _ = writeln!(text, "expected failure reproduced: {l}");
        }
        let _ = writeln!(body, "    <system-out>{}</system-out>", escape_text(&text));
    }
    if body.is_empty() {
        out.push_str("/>\n");
    } else {
        out.push_str(">\n");
        out.push_str(&body);
        out.push_str("  </testcase>\n");
    }
}

/// `2 failed: a: ...; b: ...`, or `fallback` when there is nothing to list.
fn summary(what: &str, lines: &[String], fallback: &str) -> String {
    if lines.is_empty() {
        fallback.to_string()
    } else {
        format!("{} {what}: {}", lines.len(), lines.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml::wellformed;
    use super::*;
    use crate::check::{judge, CheckName, CheckResult};
    use crate::report::testdata::*;
    use crate::report::StepOutcome;

    /// The text of the testcase named `daemon` of `scenario`, up to the next one.
    fn case<'a>(xml: &'a str, scenario: &str, daemon: &str) -> &'a str {
        let head = format!("<testcase classname=\"{scenario}\" name=\"{daemon}\"");
        let start = xml.find(&head).unwrap_or_else(|| panic!("{head} in {xml}"));
        let rest = &xml[start..];
        let end = rest[1..]
            .find("<testcase ")
            .or_else(|| rest.find("</testsuite>"))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    fn all_kinds() -> Vec<RunRecord> {
        let mut err = record("broken", "vrrpd", judge(vec![], &Default::default()));
        err.error = Some("lab: veth <eth1> & \"bridge\" failed".into());
        vec![
            record("ok", "vrrpd", passing()),
            record("seed/sigkill", "keepalived", expected_failure()),
            record("split", "vrrpd", failing()),
            record("freeze", "vrrpd", unknown()),
            err,
        ]
    }

    #[test]
    fn structure_and_counts() {
        let xml = junit_xml(&all_kinds());
        let names = wellformed::check(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(names[0], "testsuite");
        assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 5);
        assert!(xml.contains(
            "<testsuite name=\"vrrplab\" tests=\"5\" failures=\"2\" errors=\"1\" skipped=\"0\" time=\"61.728\">"
        ), "{xml}");
        assert!(
            xml.contains("<testcase classname=\"ok\" name=\"vrrpd\" time=\"12.346\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn failure_lists_failing_checks_with_messages() {
        let xml = junit_xml(&all_kinds());
        let c = case(&xml, "split", "vrrpd");
        assert!(c.contains("<failure type=\"fail\" message=\"1 failed: conflict_max: node1+node2 both held 192.0.2.20 from t=8.650s to t=10.338s (1688 ms &gt; 0 ms)\">"), "{c}");
        assert!(
            c.contains("also unknown: garp_on_takeover: the capture lost 3 frame(s)"),
            "{c}"
        );
        assert!(c.contains("artifacts: /tmp/vrrplab/split/vrrpd"), "{c}");
        assert!(!c.contains("ttl_255"), "{c}");
    }

    #[test]
    fn unknown_is_a_failure_of_its_own_type() {
        let xml = junit_xml(&all_kinds());
        let c = case(&xml, "freeze", "vrrpd");
        assert!(c.contains("<failure type=\"unknown\" message=\"1 could not be decided: client_single_mac_at_end: the client never probed 192.0.2.20\">"), "{c}");
    }

    #[test]
    fn expected_failure_passes_with_a_note() {
        let xml = junit_xml(&all_kinds());
        let c = case(&xml, "seed/sigkill", "keepalived");
        assert!(!c.contains("<failure"), "{c}");
        assert!(c.contains("<system-out>expected failure reproduced: no_conflict_at_end: node1+node2 both held 192.0.2.20, open since t=8.650s\n</system-out>"), "{c}");
    }

    #[test]
    fn run_error_is_an_error_and_escaped() {
        let xml = junit_xml(&all_kinds());
        let c = case(&xml, "broken", "vrrpd");
        assert!(c.contains("<error type=\"error\" message=\"lab: veth &lt;eth1&gt; &amp; &quot;bridge&quot; failed\">"), "{c}");
        assert!(!c.contains("<failure"), "{c}");
    }

    #[test]
    fn stale_known_failures_and_failed_steps_fail() {
        let v = judge(
            vec![CheckResult::new(CheckName::Ttl255, Outcome::Pass, "")],
            &[CheckName::Ttl255, CheckName::Step(7)].into(),
        );
        let mut r = record("s", "d", v);
        r.steps.push(StepOutcome::failed(
            3,
            "wait until node2 holds the VIPs",
            "timed out",
        ));
        let xml = junit_xml(&[r]);
        wellformed::check(&xml).unwrap();
        assert!(
            xml.contains("message=\"3 failed: ttl_255: known failure no longer reproduces"),
            "{xml}"
        );
        assert!(
            xml.contains("step:7: known failure names no check that ran"),
            "{xml}"
        );
        assert!(
            xml.contains("step 3 (wait until node2 holds the VIPs): failed: timed out"),
            "{xml}"
        );
    }

    #[test]
    fn hostile_names_are_escaped() {
        let hostile = "a<b>&\"c\"'d'\n\u{1}";
        let mut r = record(hostile, hostile, failing());
        r.verdict.checks[0].result.outcome = Outcome::Fail(format!("conflict_max: {hostile} ]]>"));
        let xml = junit_xml(&[r]);
        wellformed::check(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert!(
            xml.contains("classname=\"a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#10;\u{FFFD}\""),
            "{xml}"
        );
        assert!(!xml.contains("]]>"));
        assert!(
            xml.contains("&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\n\u{FFFD} ]]&gt;"),
            "{xml}"
        );
    }

    #[test]
    fn empty_suite() {
        let xml = junit_xml(&[]);
        wellformed::check(&xml).unwrap();
        assert!(xml.contains("tests=\"0\" failures=\"0\" errors=\"0\""));
    }
}
