//! Property-based fuzzing of the scenario loader (issue 13): mutated catalogue files
//! and keyword soup never panic or hang, every error is one `path:line:col: message`
//! line inside the text, and every accepted scenario obeys the limits (a safe name,
//! no hold or deadline longer than a day).
//!
//! The gate runs 64 cases per target; `VRRPLAB_FUZZ_CASES=N` runs N (README).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use vrrplab::scenario::{check_name, Scenario, StepKind};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("VRRPLAB_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const SLOW: Duration = Duration::from_secs(2);
const DAY: Duration = Duration::from_secs(86_400);

fn catalogue() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = vrrplab::scenario::collect_files(&[root]).expect("the catalogue");
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read"))
        .collect();
    assert!(!texts.is_empty());
    texts
}

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
            "\"",
            "[",
            "]",
            "[[steps]]\n",
            "=",
            "0",
            "-1",
            "256",
            "99999999999999999999",
            "\"..\"",
            "\"../x\"",
            "name = \"..\"\n",
            "master_down",
            "skew_time",
            "advert_interval",
            " + ",
            "1e9",
            "0.0000000001s",
            "\"1s\"",
            "\"0ms\"",
            "hold = ",
            "wait = ",
            "within = ",
            "fault = ",
            "\"sigkill\"",
            "node = \"node9\"",
            "\u{0}",
            "é",
            "2001:db8::1",
            "/33",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,10}",
    ]
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let path = PathBuf::from("f.toml");
    let started = Instant::now();
    let r = Scenario::parse(text, &path);
    prop_assert!(started.elapsed() < SLOW, "slow on {text:?}");
    match r {
        Ok(sc) => {
            prop_assert!(check_name(&sc.name).is_ok(), "unsafe name {:?}", sc.name);
            for s in &sc.steps {
                match &s.kind {
                    StepKind::Hold(d) => prop_assert!(*d <= DAY, "hold {d:?}"),
                    StepKind::Wait { deadline, .. } => {
                        prop_assert!(*deadline <= DAY * 4, "deadline {deadline:?}")
                    }
                    _ => {}
                }
            }
        }
        Err(e) => {
            let shown = e.to_string();
            prop_assert_eq!(shown.lines().count(), 1, "{}", shown);
            let lines = text.lines().count().max(1) + 1;
            prop_assert!(e.line >= 1 && e.line <= lines, "{shown}");
            prop_assert!(e.column >= 1, "{shown}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_catalogue_files(
        pick in any::<proptest::sample::Index>(),
        muts in proptest::collection::vec((any::<usize>(), 0usize..16, fragments()), 1..6),
    ) {
        let texts = catalogue();
        let mut text = pick.get(&texts).clone();
        for (at, len, with) in &muts {
            text = mutate(&text, *at, *len, with);
        }
        check(&text)?;
    }

    #[test]
    fn arbitrary_text(text in "\\PC{0,300}") {
        check(&text)?;
    }
}
