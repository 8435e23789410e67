//! The one stylesheet both pages embed (no external CSS, fonts or scripts: the report
//! opens from `file://` with no network).

/// Inline CSS of the index and run pages. Status colours are keyed by the CSS class
/// [`super::status_class`] gives each status.
pub const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #1d1d1f; background: #ffffff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.6em; vertical-align: top; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.matrix td.cell { min-width: 11em; }
table.matrix td.cell a.main { font-weight: bold; text-decoration: none; color: inherit; display: block; }
.figs { font-size: 0.85em; color: #222; margin-top: 0.2em; }
.reps a { display: inline-block; min-width: 1.4em; text-align: center; margin: 1px; font-size: 0.8em; border-radius: 3px; text-decoration: none; color: #fff; }
.st-pass { background: #cdeccf; }
.st-expected-fail { background: #cfe3f7; }
.st-fail { background: #f6c4c4; }
.st-unknown { background: #fbe7a6; }
.st-error { background: #e2c6ef; }
.st-not-applicable { background: #e4e4e4; color: #555; }
.reps a.st-pass { background: #2e9e44; }
.reps a.st-expected-fail { background: #3b7dd8; }
.reps a.st-fail { background: #d62728; }
.reps a.st-unknown { background: #b58900; }
.reps a.st-error { background: #7b3294; }
.reps a.st-not-applicable { background: #888; }
span.badge { padding: 0.1em 0.5em; border-radius: 3px; font-weight: bold; }
.totals span.badge { margin-right: 0.4em; }
.timeline { overflow-x: auto; border: 1px solid #ddd; padding: 0.3em; background: #fff; }
.timeline svg { max-width: 100%; height: auto; }
pre.log { background: #1e1e1e; color: #e6e6e6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; max-height: 28em; }
pre.msg { white-space: pre-wrap; margin: 0; font-size: 0.9em; }
.err { background: #f6c4c4; padding: 0.6em; border: 1px solid #d62728; }
ul.files { margin: 0.2em 0; }
"#;
