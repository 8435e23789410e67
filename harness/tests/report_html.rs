//! The HTML report of a real `vrrplab run`, rendered in headless Chromium; and sharded
//! runs merged with `vrrplab report merge` against one unsharded run. Need root.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use scraper::{Html, Selector};

/// The seed scenario the tests run: short, and the `no-priority-zero` control fails it.
const SCENARIO: &str = "scenarios/seed/01-clean-stop-master.toml";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vrrplab(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vrrplab"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("start vrrplab");
    eprintln!(
        "vrrplab {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{}",
        vrrplab::lab::privilege::NEEDS_ROOT
    );
}

/// Chromium: `$CHROMIUM`, else `chromium`, `chromium-browser` or `google-chrome` on PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium is missing: `apt-get install chromium` (.ci/run installs it), or set CHROMIUM"
    );
}

/// Screenshots `page` at `w`×`h` into `png`, with no network, profile or GPU.
fn screenshot(page: &Path, png: &Path, w: u32, h: u32) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={w},{h}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium");
    assert!(
        out.status.success() && png.is_file(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The decoded screenshot: (width, height, RGB pixels).
fn pixels(png_path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(step)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, px)
}

/// Asserts the screenshot has the expected size, is not blank (many colours, a fair
/// share of non-white pixels), and shows each of `colours` somewhere.
fn assert_rendered(png_path: &Path, w: u32, h: u32, colours: &[(&str, [u8; 3])]) {
    let (pw, ph, px) = pixels(png_path);
    assert_eq!((pw, ph), (w, h), "{}", png_path.display());
    let distinct: BTreeSet<[u8; 3]> = px.iter().copied().collect();
    assert!(
        distinct.len() >= 32,
        "{}: only {} colours",
        png_path.display(),
        distinct.len()
    );
    let inked = px.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        inked * 100 >= px.len(),
        "{}: {inked} of {} pixels not white",
        png_path.display(),
        px.len()
    );
    for (what, c) in colours {
        assert!(
            distinct.contains(c),
            "{}: no {what} pixel {c:?}",
            png_path.display()
        );
    }
}

#[test]
fn report_renders_in_headless_chromium() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = vrrplab(&[
        "run",
        SCENARIO,
        "--daemon",
        "vrrpd,vrrpd:no-priority-zero",
        "--out",
        out.to_str().unwrap(),
    ]);
    // The negative control fails its verdict: exit 1, and a report all the same.
    assert_eq!(o.status.code(), Some(1));
    let index = out.join("index.html");
    let failing = out.join("01-clean-stop-master/vrrpd_no-priority-zero/report.html");
    let passing = out.join("01-clean-stop-master/vrrpd/report.html");
    for p in [&index, &failing, &passing] {
        assert!(p.is_file(), "{} is missing", p.display());
    }
    let page = std::fs::read_to_string(&failing).unwrap();
    let doc = Html::parse_document(&page);
    let row = doc
        .select(&Selector::parse("table.checks tr.st-fail").unwrap())
        .map(|r| r.text().collect::<String>())
        .find(|t| t.contains("priority_zero_on_stop"))
        .unwrap_or_else(|| {
            panic!(
                "no failing priority_zero_on_stop row in {}",
                failing.display()
            )
        });
    assert!(
        row.len() > "priority_zero_on_stop".len() + 20,
        "no message: {row}"
    );

    // Screenshots, kept where CI uploads them (target/tmp).
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (index_png, run_png) = (shots.join("index.png"), shots.join("run-failing.png"));
    screenshot(&index, &index_png, 1200, 800);
    screenshot(&failing, &run_png, 1200, 2000);
    // The status colours of the matrix (pass, FAIL) and the timeline's VIP-held bars.
    assert_rendered(
        &index_png,
        1200,
        800,
        &[
            ("pass cell", [0xcd, 0xec, 0xcf]),
            ("FAIL cell", [0xf6, 0xc4, 0xc4]),
        ],
    );
    assert_rendered(
        &run_png,
        1200,
        2000,
        &[("timeline bar", [0x3b, 0x7d, 0xd8])],
    );
    eprintln!("screenshots: {} {}", index_png.display(), run_png.display());
}

/// Every run of a report folder: (run folder relative to the root, status, the
/// normalized verdict of its verdict.json).
fn runs_of(root: &Path) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "verdict.json") {
                let dir = p.parent().unwrap();
                let rec = vrrplab::run::merge::read_record(dir).unwrap();
                out.insert((
                    dir.strip_prefix(root).unwrap().display().to_string(),
                    rec.status().to_string(),
                    vrrplab::report::normalized_verdict(&rec).to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn shards_merged_equal_one_unsharded_run() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s).to_str().unwrap().to_string();
    let catalogue = [
        "scenarios/seed/01-clean-stop-master.toml",
        "scenarios/seed/02-sigkill-master.toml",
        "scenarios/seed/08-server-down.toml",
    ];
    let run = |extra: &[&str], out: &str| {
        let mut args = vec!["run"];
        args.extend(catalogue);
        args.extend(["--daemon", "vrrpd", "--out", out]);
        args.extend(extra);
        vrrplab(&args)
    };
    let whole = run(&[], &p("whole"));
    let s1 = run(&["--shard", "1/2"], &p("s1"));
    let s2 = run(&["--shard", "2/2"], &p("s2"));
    let merged = vrrplab(&["report", "merge", &p("s1"), &p("s2"), "--out", &p("merged")]);
    assert_eq!(merged.status.code(), whole.status.code());
    assert!(s1.status.code().is_some() && s2.status.code().is_some());
    let (a, b) = (
        runs_of(&tmp.path().join("whole")),
        runs_of(&tmp.path().join("merged")),
    );
    assert_eq!(a.len(), 3, "{a:?}");
    // Shards are disjoint and nothing is lost: 2 + 1 runs.
    assert_eq!(runs_of(&tmp.path().join("s1")).len(), 2);
    assert_eq!(runs_of(&tmp.path().join("s2")).len(), 1);
    let names = |s: &BTreeSet<(String, String, String)>| {
        s.iter()
            .map(|(d, st, _)| (d.clone(), st.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&b), "same runs, same statuses");
    // Verdicts match check by check (timing may legitimately differ between two runs of
    // the same scenario, but the seed scenarios' verdicts are stable).
    assert_eq!(a, b);
    for f in ["index.html", "summary.md", "junit.xml"] {
        assert!(tmp.path().join("merged").join(f).is_file(), "merged/{f}");
    }
    let junit = std::fs::read_to_string(tmp.path().join("merged/junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 3);

    // A missing shard fails the merge and says which.
    let partial = vrrplab(&["report", "merge", &p("s1"), "--out", &p("partial")]);
    assert_ne!(partial.status.code(), Some(0));
    let text = String::from_utf8_lossy(&partial.stderr).to_string()
        + &String::from_utf8_lossy(&partial.stdout);
    assert!(text.contains("shard 2/2 is missing"), "{text}");
    let index = std::fs::read_to_string(tmp.path().join("partial/index.html")).unwrap();
    assert!(index.contains("shard 2/2 is missing"));
}
