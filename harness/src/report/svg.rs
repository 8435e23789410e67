//! A self-contained SVG timeline of one run: who held a VIP when, conflicts, faults,
//! steps and what the client saw, on one time axis.
//!
//! Layout, top to bottom: title; a row of step ticks; fault labels; one lane per node
//! (a bar while it holds any VIP, yellow where its address events were lost); one client
//! lane per VIP (grey / green / red for 0 / 1 / 2+ MACs answering); the time axis in
//! seconds; the legend. Conflicts are shaded red across every lane, faults are dashed
//! vertical lines. Every shape carries a `class` naming what it shows and a `<title>`
//! tooltip with exact times, so the file is also easy to inspect by hand or by test.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::xml::escape;
use crate::check::{client_view, holders, t_str, Timeline};
use crate::history::{Event, EventKind, StepPhase};

/// Total width in pixels.
const WIDTH: f64 = 1000.0;
/// Left margin, for lane labels.
const LEFT: f64 = 150.0;
/// Right margin.
const RIGHT: f64 = 24.0;
/// Height of one lane.
const LANE_H: f64 = 24.0;
/// Vertical space between lanes.
const LANE_GAP: f64 = 8.0;
/// Where the step ticks start.
const STEPS_Y: f64 = 40.0;
/// Baseline of the first row of fault labels.
const FAULT_LABEL_Y: f64 = 66.0;
/// How many rows fault labels cycle through, so labels of close faults do not overlap.
const FAULT_LABEL_ROWS: usize = 3;
/// Height of one fault label row.
const FAULT_LABEL_STEP: f64 = 12.0;
/// Narrowest shape drawn for a window, so a 5 ms conflict in a 60 s run stays visible.
const MIN_W: f64 = 2.0;

const COLOR_HOLD: &str = "#3b7dd8";
const COLOR_CONFLICT: &str = "#d62728";
const COLOR_HOLE: &str = "#f2c200";
const COLOR_DORMANT: &str = "#9ab7e0";
/// Fill of a VIP held on a live link but gated: the hatch pattern defined in the header.
const FILL_GATED: &str = "url(#gated-hatch)";
const COLOR_CLIENT_0: &str = "#b0b0b0";
const COLOR_CLIENT_1: &str = "#2e9e44";
const COLOR_CLIENT_N: &str = "#d62728";
const COLOR_LANE: &str = "#f3f3f3";
const COLOR_FAULT: &str = "#333333";

/// A closed stretch of run time, `[from, to]` in ns, and whether it was still open when
/// the run ended (then `to` is the end).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    from: u64,
    to: u64,
    open: bool,
}

/// Sorts and merges overlapping or touching spans.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.from, s.to));
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(last) if s.from <= last.to => {
                if s.to > last.to {
                    last.to = s.to;
                    last.open = s.open;
                } else if s.to == last.to {
                    last.open |= s.open;
                }
            }
            _ => out.push(s),
        }
    }
    out
}

/// The horizontal scale: run time in ns to x in pixels.
struct Scale {
    end_ns: u64,
}

impl Scale {
    fn x(&self, t_ns: u64) -> f64 {
        let t = t_ns.min(self.end_ns) as f64;
        LEFT + t / self.end_ns as f64 * (WIDTH - LEFT - RIGHT)
    }

    /// x and width of `[from, to]`, at least [`MIN_W`] wide.
    fn span(&self, from: u64, to: u64) -> (f64, f64) {
        let x0 = self.x(from);
        let w = (self.x(to) - x0).max(MIN_W);
        (x0.min(WIDTH - RIGHT - MIN_W), w)
    }
}

/// A tick spacing in seconds that gives at most about 20 ticks over `end_s`.
fn tick_step(end_s: f64) -> f64 {
    const STEPS: [f64; 16] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
        3600.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| end_s / s <= 20.0)
        .unwrap_or_else(|| (end_s / 20.0).ceil())
}

/// `t=1.000s – t=2.500s (1500 ms)`, or `t=1.000s – end (open, ≥ 1500 ms)`.
fn span_text(s: Span) -> String {
    let len = super::figure::fmt_ms(super::figure::ns_to_ms(s.to.saturating_sub(s.from)));
    if s.open {
        format!("{} – end of run (still open, ≥ {len} ms)", t_str(s.from))
    } else {
        format!("{} – {} ({len} ms)", t_str(s.from), t_str(s.to))
    }
}

/// Every span in which one of the VIPs was on a live link of `node` while the node's
/// nftables gate for it was closed: present, traffic dropped, not held.
fn gated_spans(timelines: &[Timeline], node: &str, end_ns: u64) -> Vec<Span> {
    spans_where(timelines, end_ns, |i| i.gated.contains(node))
}

/// Every span in which `node` held at least one of the VIPs.
fn held_spans(timelines: &[Timeline], node: &str, end_ns: u64) -> Vec<Span> {
    spans_where(timelines, end_ns, |i| i.nodes.contains(node))
}

/// Every span in which one of the VIPs was on a link of `node` that was not live
/// (protodown, down, lower link down): present, not held.
fn dormant_spans(timelines: &[Timeline], node: &str, end_ns: u64) -> Vec<Span> {
    spans_where(timelines, end_ns, |i| i.dormant.contains(node))
}

fn spans_where(
    timelines: &[Timeline],
    end_ns: u64,
    pred: impl Fn(&crate::check::Interval) -> bool,
) -> Vec<Span> {
    let spans = timelines
        .iter()
        .flat_map(|tl| tl.intervals.iter())
        .filter(|i| pred(i) && i.from_ns < end_ns)
        .map(|i| Span {
            from: i.from_ns,
            to: i.to_ns.unwrap_or(end_ns).min(end_ns),
            open: i.to_ns.is_none_or(|t| t >= end_ns),
        })
        .collect();
    merge(spans)
}

/// Writes `<rect>` with a tooltip.
#[allow(clippy::too_many_arguments)]
fn rect(
    out: &mut String,
    class: &str,
    (x, w): (f64, f64),
    y: f64,
    h: f64,
    fill: &str,
    extra: &str,
    tip: &str,
) {
    let _ = writeln!(
        out,
        "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"{extra}><title>{}</title></rect>",
        escape(tip)
    );
}

/// Writes `<text>`.
fn text(out: &mut String, class: &str, x: f64, y: f64, attrs: &str, s: &str) {
    let _ = writeln!(
        out,
        "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\"{attrs}>{}</text>",
        escape(s)
    );
}

/// Renders the timeline of a run as a standalone SVG document, 1000 px wide.
///
/// * `events`: the run's history, sorted by time;
/// * `nodes`: the router nodes, one lane each in this order (a node that held a VIP but
///   is not listed gets a lane after them);
/// * `vips`: the VIPs; a node's bar shows when it held any of them, conflicts are those
///   of any VIP, and each VIP gets a client lane;
/// * `end_ns`: the end of the observation, the right edge of the axis;
/// * `title`: shown on top (escaped).
pub fn timeline_svg(
    events: &[Event],
    nodes: &[String],
    vips: &[IpAddr],
    end_ns: u64,
    title: &str,
) -> String {
    let scale = Scale {
        end_ns: end_ns.max(1),
    };
    let timelines: Vec<Timeline> = vips.iter().map(|v| holders(events, *v)).collect();
    let lanes = node_lanes(nodes, &timelines);
    let layout = Layout::new(lanes.len() + vips.len());

    let mut out = String::new();
    header(&mut out, &layout, title);
    // Grid and axis first, so everything else draws over them.
    axis(&mut out, &scale, &layout);
    let _ = writeln!(out, "<g class=\"lanes\">");
    for (i, node) in lanes.iter().enumerate() {
        node_lane(&mut out, node, layout.lane_y(i), &timelines, &scale);
    }
    for (j, vip) in vips.iter().enumerate() {
        let label = if vips.len() == 1 {
            "client".to_string()
        } else {
            format!("client {vip}")
        };
        let y = layout.lane_y(lanes.len() + j);
        client_lane_group(&mut out, events, *vip, &label, y, &scale);
    }
    let _ = writeln!(out, "</g>");
    conflicts(&mut out, &timelines, &scale, &layout);
    faults(&mut out, events, &scale, &layout);
    steps(&mut out, events, &scale);
    legend(&mut out, layout.legend_y);
    out.push_str("</svg>\n");
    out
}

/// The router nodes' lanes: `nodes` in order, then any other node that held a VIP.
fn node_lanes(nodes: &[String], timelines: &[Timeline]) -> Vec<String> {
    let mut lanes: Vec<String> = nodes.to_vec();
    let extra: BTreeSet<String> = timelines
        .iter()
        .flat_map(|tl| tl.intervals.iter().flat_map(|i| i.nodes.iter()))
        .filter(|n| !nodes.contains(n))
        .cloned()
        .collect();
    lanes.extend(extra);
    lanes
}

/// Where things go vertically, for a picture of `n_lanes` lanes.
struct Layout {
    /// Top of the first lane.
    lanes_top: f64,
    /// Bottom of the last lane.
    lanes_bottom: f64,
    /// The time axis.
    axis_y: f64,
    /// Top of the legend.
    legend_y: f64,
    /// Height of the picture.
    height: f64,
}

impl Layout {
    fn new(n_lanes: usize) -> Layout {
        // Below the last row of fault labels, a row for the "open" marks of conflicts.
        let lanes_top = FAULT_LABEL_Y + FAULT_LABEL_STEP * (FAULT_LABEL_ROWS as f64 - 1.0) + 24.0;
        let lanes_bottom = lanes_top + n_lanes.max(1) as f64 * (LANE_H + LANE_GAP) - LANE_GAP;
        let axis_y = lanes_bottom + 8.0;
        let legend_y = axis_y + 58.0;
        Layout {
            lanes_top,
            lanes_bottom,
            axis_y,
            legend_y,
            height: legend_y + 44.0,
        }
    }

    /// Top of lane `i`.
    fn lane_y(&self, i: usize) -> f64 {
        self.lanes_top + i as f64 * (LANE_H + LANE_GAP)
    }
}

/// The `<svg>` element, its title, the white background and the heading.
fn header(out: &mut String, layout: &Layout, title: &str) {
    let height = layout.height;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(
        out,
        "<defs><pattern id=\"gated-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e8eef8\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"{COLOR_HOLD}\" stroke-width=\"2\"/></pattern></defs>"
    );
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH:.0}\" height=\"{height:.0}\" fill=\"#ffffff\"/>"
    );
    text(
        out,
        "title",
        12.0,
        22.0,
        " font-size=\"15\" font-weight=\"bold\"",
        title,
    );
}

/// The time axis with its ticks, and the vertical grid lines over the lanes.
fn axis(out: &mut String, scale: &Scale, layout: &Layout) {
    let (lanes_top, axis_y) = (layout.lanes_top, layout.axis_y);
    let end = scale.end_ns;
    let end_s = end as f64 / 1e9;
    let step_s = tick_step(end_s);
    let decimals = if step_s < 1.0 { 1 } else { 0 };
    let _ = writeln!(out, "<g class=\"axis\">");
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT:.1}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"#000000\"/>",
        WIDTH - RIGHT
    );
    let mut k = 0u64;
    loop {
        let s = k as f64 * step_s;
        if s > end_s + 1e-9 {
            break;
        }
        let x = scale.x((s * 1e9).round() as u64);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{lanes_top:.1}\" x2=\"{x:.1}\" y2=\"{axis_y:.1}\" stroke=\"#e0e0e0\"/>"
        );
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#000000\"/>",
            axis_y + 5.0
        );
        text(
            out,
            "tick",
            x,
            axis_y + 17.0,
            " text-anchor=\"middle\"",
            &format!("{s:.decimals$}"),
        );
        k += 1;
    }
    text(
        out,
        "axis-label",
        WIDTH - RIGHT,
        axis_y + 32.0,
        " text-anchor=\"end\"",
        "time since the run began (s)",
    );
    let _ = writeln!(out, "</g>");
}

/// A lane's background (with `tip` as its tooltip) and its label on the left.
fn lane_head(out: &mut String, y: f64, tip: &str, label: &str) {
    rect(
        out,
        "lane-bg",
        (LEFT, WIDTH - LEFT - RIGHT),
        y,
        LANE_H,
        COLOR_LANE,
        "",
        tip,
    );
    text(
        out,
        "lane-label",
        LEFT - 8.0,
        y + LANE_H / 2.0 + 4.0,
        " text-anchor=\"end\"",
        label,
    );
}

/// One node's lane: background, label, when it had a VIP on a link that was not live
/// (dormant), when it had one on a live link behind a closed gate (gated), when it held
/// a VIP, and where its address events were lost.
fn node_lane(out: &mut String, node: &str, y: f64, timelines: &[Timeline], scale: &Scale) {
    let end = scale.end_ns;
    let _ = writeln!(
        out,
        "<g class=\"lane node\" data-node=\"{}\">",
        escape(node)
    );
    lane_head(out, y, node, node);
    for s in dormant_spans(timelines, node, end) {
        rect(
            out,
            "dormant",
            scale.span(s.from, s.to),
            y + 8.0,
            LANE_H - 16.0,
            COLOR_DORMANT,
            " fill-opacity=\"0.5\"",
            &format!(
                "{node} has a VIP on a link that is not live (down, protodown or its lower link down): present, not held: {}",
                span_text(s)
            ),
        );
    }
    for s in gated_spans(timelines, node, end) {
        rect(
            out,
            "gated",
            scale.span(s.from, s.to),
            y + 8.0,
            LANE_H - 16.0,
            FILL_GATED,
            " stroke=\"#3b7dd8\" stroke-dasharray=\"3,2\"",
            &format!(
                "{node} has a VIP whose nftables gate is closed (expired or deleted): present, traffic dropped, not held: {}",
                span_text(s)
            ),
        );
    }
    for s in held_spans(timelines, node, end) {
        rect(
            out,
            "hold",
            scale.span(s.from, s.to),
            y + 4.0,
            LANE_H - 8.0,
            COLOR_HOLD,
            "",
            &format!("{node} holds a VIP: {}", span_text(s)),
        );
    }
    if let Some(tl) = timelines.first() {
        for h in tl.holes.iter().filter(|h| h.node == node) {
            rect(
                out,
                "hole",
                scale.span(h.from_ns, h.to_ns),
                y,
                LANE_H,
                COLOR_HOLE,
                " fill-opacity=\"0.6\"",
                &format!(
                    "address events of {node} lost between {} and {}: {}",
                    t_str(h.from_ns),
                    t_str(h.to_ns),
                    h.reason
                ),
            );
        }
    }
    let _ = writeln!(out, "</g>");
}

/// The client's lane for `vip`: background, label and how many MACs answered.
fn client_lane_group(
    out: &mut String,
    events: &[Event],
    vip: IpAddr,
    label: &str,
    y: f64,
    scale: &Scale,
) {
    let _ = writeln!(out, "<g class=\"lane client\" data-vip=\"{vip}\">");
    let tip = format!("nodes answering the client's probes for {vip}");
    lane_head(out, y, &tip, label);
    client_lane(out, events, vip, scale, y);
    let _ = writeln!(out, "</g>");
}

/// Conflicts (two or more holders of a VIP) across every lane, marked "open" when they
/// last to the end.
fn conflicts(out: &mut String, timelines: &[Timeline], scale: &Scale, layout: &Layout) {
    let (lanes_top, lanes_bottom) = (layout.lanes_top, layout.lanes_bottom);
    let end = scale.end_ns;
    let conflicts = merge(
        timelines
            .iter()
            .flat_map(Timeline::conflict_windows)
            .filter(|w| w.from_ns < end)
            .map(|w| Span {
                from: w.from_ns,
                to: w.to_ns.unwrap_or(end).min(end),
                open: w.to_ns.is_none_or(|t| t >= end),
            })
            .collect(),
    );
    let _ = writeln!(out, "<g class=\"conflicts\">");
    for s in conflicts {
        let (x, w) = scale.span(s.from, s.to);
        rect(
            out,
            "conflict",
            (x, w),
            lanes_top - 2.0,
            lanes_bottom - lanes_top + 4.0,
            COLOR_CONFLICT,
            " fill-opacity=\"0.25\" stroke=\"#d62728\" stroke-width=\"1\"",
            &format!("conflict (two or more holders): {}", span_text(s)),
        );
        if s.open {
            text(
                out,
                "conflict-open",
                x + w,
                lanes_top - 6.0,
                " text-anchor=\"end\" fill=\"#d62728\" font-weight=\"bold\"",
                "open",
            );
        }
    }
    let _ = writeln!(out, "</g>");
}

/// Each fault as a dashed line over the lanes, with its label in one of a few rows.
fn faults(out: &mut String, events: &[Event], scale: &Scale, layout: &Layout) {
    let lanes_bottom = layout.lanes_bottom;
    let end = scale.end_ns;
    let _ = writeln!(out, "<g class=\"faults\">");
    let mut fault_n = 0usize;
    for e in events.iter().filter(|e| e.t_ns <= end) {
        let EventKind::Fault {
            node,
            fault,
            detail,
        } = &e.kind
        else {
            continue;
        };
        let x = scale.x(e.t_ns);
        let label_y = FAULT_LABEL_Y + (fault_n % FAULT_LABEL_ROWS) as f64 * FAULT_LABEL_STEP;
        fault_n += 1;
        let label = format!("{fault} {node}");
        let tip = if detail.is_empty() {
            format!("{label} at {}", t_str(e.t_ns))
        } else {
            format!("{label} at {}: {detail}", t_str(e.t_ns))
        };
        let _ = writeln!(
            out,
            "<line class=\"fault\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{lanes_bottom:.1}\" stroke=\"{COLOR_FAULT}\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"><title>{}</title></line>",
            label_y + 3.0,
            escape(&tip)
        );
        // Labels near the right edge grow leftwards so they stay inside the picture.
        let anchor = if x > WIDTH - RIGHT - 120.0 {
            " text-anchor=\"end\""
        } else {
            ""
        };
        let dx = if anchor.is_empty() { 3.0 } else { -3.0 };
        text(out, "fault-label", x + dx, label_y, anchor, &label);
    }
    let _ = writeln!(out, "</g>");
}

/// Each step's beginning (numbered) and each failed step, as ticks above the lanes.
fn steps(out: &mut String, events: &[Event], scale: &Scale) {
    let end = scale.end_ns;
    let _ = writeln!(out, "<g class=\"steps\">");
    text(
        out,
        "lane-label",
        LEFT - 8.0,
        STEPS_Y + 9.0,
        " text-anchor=\"end\"",
        "steps",
    );
    for e in events.iter().filter(|e| e.t_ns <= end) {
        let EventKind::Step {
            index,
            text: what,
            phase,
        } = &e.kind
        else {
            continue;
        };
        let (class, color) = match phase {
            StepPhase::Begin => ("step", "#555555"),
            StepPhase::Failed => ("step step-failed", COLOR_CONFLICT),
            StepPhase::End => continue,
        };
        let x = scale.x(e.t_ns);
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"{STEPS_Y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"><title>{}</title></line>",
            STEPS_Y + 10.0,
            escape(&format!(
                "step {index} {} at {}: {what}",
                phase.as_str(),
                t_str(e.t_ns)
            ))
        );
        if *phase == StepPhase::Begin {
            text(
                out,
                "step-label",
                x,
                STEPS_Y - 2.0,
                " text-anchor=\"middle\" font-size=\"9\"",
                &index.to_string(),
            );
        }
    }
    let _ = writeln!(out, "</g>");
}

/// The client lane of `vip`: one segment per run of probes with the same number of
/// answering MACs, from the first of them to the next probe (or the end).
fn client_lane(out: &mut String, events: &[Event], vip: IpAddr, scale: &Scale, y: f64) {
    let end = scale.end_ns;
    let view = client_view(events, vip);
    let probes: Vec<_> = view.probes.iter().filter(|p| p.t_ns <= end).collect();
    let mut i = 0;
    while i < probes.len() {
        let n = probes[i].nodes().len().min(2);
        let mut j = i + 1;
        let who = |p: &crate::check::Probe| -> Vec<String> {
            p.answers
                .iter()
                .map(|a| format!("{} ({})", a.node.as_deref().unwrap_or("?"), a.mac))
                .collect()
        };
        let mut answers: BTreeSet<String> = who(probes[i]).into_iter().collect();
        while j < probes.len() && probes[j].nodes().len().min(2) == n {
            answers.extend(who(probes[j]));
            j += 1;
        }
        let from = probes[i].t_ns;
        let to = probes.get(j).map_or(end, |p| p.t_ns);
        let (class, fill, what) = match n {
            0 => ("client-0", COLOR_CLIENT_0, "nobody answered".to_string()),
            1 => ("client-1", COLOR_CLIENT_1, "one node answered".to_string()),
            _ => (
                "client-n",
                COLOR_CLIENT_N,
                "two or more nodes answered".to_string(),
            ),
        };
        let list: Vec<String> = answers.into_iter().collect();
        let tip = format!(
            "{what} for {vip} from {} to {} ({} probe(s)){}{}",
            t_str(from),
            t_str(to),
            j - i,
            if list.is_empty() { "" } else { ": " },
            list.join(", ")
        );
        rect(
            out,
            class,
            scale.span(from, to),
            y + 4.0,
            LANE_H - 8.0,
            fill,
            "",
            &tip,
        );
        i = j;
    }
    for (t, why) in view.gaps.iter().filter(|(t, _)| *t <= end) {
        rect(
            out,
            "hole",
            (scale.x(*t) - 1.0, MIN_W),
            y,
            LANE_H,
            COLOR_HOLE,
            "",
            &format!("the client could not probe {vip} at {}: {why}", t_str(*t)),
        );
    }
}

/// The legend: one swatch per kind of mark, in two rows.
fn legend(out: &mut String, y: f64) {
    enum Mark {
        Box(&'static str, &'static str),
        Dash,
        Tick,
    }
    let items: [(Mark, &str); 10] = [
        (Mark::Box(COLOR_HOLD, ""), "holds a VIP"),
        (
            Mark::Box(COLOR_DORMANT, " fill-opacity=\"0.5\""),
            "VIP present, link not live",
        ),
        (
            Mark::Box(FILL_GATED, " stroke=\"#3b7dd8\" stroke-dasharray=\"3,2\""),
            "held, gated (not counted)",
        ),
        (
            Mark::Box(COLOR_CONFLICT, " fill-opacity=\"0.25\" stroke=\"#d62728\""),
            "conflict: 2+ holders",
        ),
        (
            Mark::Box(COLOR_HOLE, " fill-opacity=\"0.6\""),
            "not observed",
        ),
        (Mark::Dash, "fault"),
        (Mark::Tick, "step begins"),
        (Mark::Box(COLOR_CLIENT_0, ""), "client: no answer"),
        (Mark::Box(COLOR_CLIENT_1, ""), "client: 1 node answers"),
        (Mark::Box(COLOR_CLIENT_N, ""), "client: 2+ nodes answer"),
    ];
    let _ = writeln!(out, "<g class=\"legend\">");
    let per_row = 5;
    let col_w = (WIDTH - 2.0 * 12.0) / per_row as f64;
    for (i, (mark, label)) in items.iter().enumerate() {
        let x = 12.0 + (i % per_row) as f64 * col_w;
        let row_y = y + (i / per_row) as f64 * 18.0;
        match mark {
            Mark::Box(fill, extra) => {
                let _ = writeln!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"16\" height=\"10\" fill=\"{fill}\"{extra}/>",
                    row_y - 9.0
                );
            }
            Mark::Dash => {
                let _ = writeln!(
                    out,
                    "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{COLOR_FAULT}\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>",
                    x + 8.0,
                    row_y - 12.0,
                    x + 8.0,
                    row_y + 3.0
                );
            }
            Mark::Tick => {
                let _ = writeln!(
                    out,
                    "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555555\" stroke-width=\"2\"/>",
                    x + 8.0,
                    row_y - 10.0,
                    x + 8.0,
                    row_y
                );
            }
        }
        text(out, "legend-label", x + 22.0, row_y, "", label);
    }
    let _ = writeln!(out, "</g>");
}

#[cfg(test)]
mod tests {
    use super::super::xml::wellformed;
    use super::*;
    use crate::check::testutil::*;
    use crate::history::AddrChange;

    fn step(t_ns: u64, index: usize, text: &str, phase: StepPhase) -> Event {
        ev(
            t_ns,
            EventKind::Step {
                index,
                text: text.into(),
                phase,
            },
        )
    }

    /// The seed's story: node1 SIGKILLed keeps the VIP, node2 takes it too, both hold it
    /// to the end; an earlier short conflict at start-up closes.
    fn story() -> Vec<Event> {
        sorted(vec![
            step(ms(0), 1, "start node1 node2", StepPhase::Begin),
            addr(ms(100), "node1", AddrChange::Initial, ip(IP1)),
            addr(ms(1000), "node1", AddrChange::Added, vip4()),
            addr(ms(1200), "node2", AddrChange::Added, vip4()),
            addr(ms(1500), "node2", AddrChange::Removed, vip4()),
            step(ms(2000), 1, "start node1 node2", StepPhase::End),
            probe(ms(4000), 1, &[MAC1]),
            step(ms(5200), 2, "sigkill node1", StepPhase::Begin),
            fault(ms(5200), "node1", "sigkill"),
            step(ms(5200), 2, "sigkill node1", StepPhase::End),
            probe(ms(6000), 2, &[MAC1]),
            probe(ms(7000), 3, &[]),
            addr(ms(8650), "node2", AddrChange::Added, vip4()),
            probe(ms(9000), 4, &[MAC1, MAC2]),
            step(
                ms(9500),
                3,
                "wait until <node1> & \"node2\" agree",
                StepPhase::Begin,
            ),
            step(
                ms(11_500),
                3,
                "wait until <node1> & \"node2\" agree",
                StepPhase::Failed,
            ),
            note(ms(12_000)),
        ])
    }

    fn nodes() -> Vec<String> {
        vec!["node1".into(), "node2".into()]
    }

    fn count(s: &str, pat: &str) -> usize {
        s.matches(pat).count()
    }

    #[test]
    fn story_has_lanes_conflicts_faults_steps_and_client() {
        let svg = timeline_svg(&story(), &nodes(), &[vip4()], ms(12_000), "seed/sigkill");
        let names = wellformed::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert_eq!(names[0], "svg");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\""));
        // Lanes: two nodes and the client.
        assert!(svg.contains("<g class=\"lane node\" data-node=\"node1\">"));
        assert!(svg.contains("<g class=\"lane node\" data-node=\"node2\">"));
        assert!(svg.contains("<g class=\"lane client\" data-vip=\"192.0.2.20\">"));
        assert!(svg.contains(">client</text>"));
        // node1 holds from 1 s to the end; node2 twice.
        assert_eq!(count(&svg, "<rect class=\"hold\""), 3);
        assert!(
            svg.contains("node1 holds a VIP: t=1.000s – end of run (still open, ≥ 11000 ms)"),
            "{svg}"
        );
        // One closed conflict at start-up and one open since the takeover.
        assert_eq!(count(&svg, "<rect class=\"conflict\""), 2);
        assert!(svg.contains("conflict (two or more holders): t=1.200s – t=1.500s (300 ms)"));
        assert!(svg.contains(
            "conflict (two or more holders): t=8.650s – end of run (still open, ≥ 3350 ms)"
        ));
        assert_eq!(count(&svg, ">open</text>"), 1);
        // The fault, as a dashed line and a label.
        assert_eq!(count(&svg, "<line class=\"fault\""), 1);
        assert!(svg.contains(">sigkill node1</text>"));
        // Steps: three begin ticks and one failure, with escaped text.
        assert_eq!(count(&svg, "<line class=\"step\""), 3);
        assert_eq!(count(&svg, "<line class=\"step step-failed\""), 1);
        assert!(svg.contains("wait until &lt;node1&gt; &amp; &quot;node2&quot; agree"));
        // Client: 1 MAC, nobody, 2 MACs (4 probes, 3 segments).
        assert_eq!(count(&svg, "<rect class=\"client-1\""), 1);
        assert_eq!(count(&svg, "<rect class=\"client-0\""), 1);
        assert_eq!(count(&svg, "<rect class=\"client-n\""), 1);
        assert!(svg.contains("two or more nodes answered for 192.0.2.20 from t=9.000s to t=12.000s (1 probe(s)): node1 (02:00:00:00:00:01), node2 (02:00:00:00:00:02)"));
        // Axis: a tick per second, 0 to 12.
        assert!(svg.contains(">0</text>"));
        assert!(svg.contains(">12</text>"));
        assert_eq!(count(&svg, "<text class=\"tick\""), 13);
        assert!(svg.contains("class=\"legend\""));
    }

    /// FRR's way: the VIP on a protodown macvlan is drawn as present, not held, and two
    /// nodes answering with the virtual MAC are named in the client lane.
    #[test]
    fn dormant_vip_has_its_own_style_and_the_client_lane_names_nodes() {
        let mv = "vrrp4-2-51";
        let up = (true, true, false);
        let protodown = (true, false, true);
        let ev = sorted(vec![
            link(ms(100), "node1", mv, protodown, Some("eth1")),
            link(ms(100), "node2", mv, protodown, Some("eth1")),
            addr_on(ms(100), "node1", mv, AddrChange::Initial, vip4()),
            addr_on(ms(100), "node2", mv, AddrChange::Initial, vip4()),
            link(ms(1000), "node1", mv, up, Some("eth1")),
            probe_from(ms(2000), 1, &[("node1", VMAC)]),
            fault(ms(3000), "node1", "sigkill"),
            link(ms(6600), "node2", mv, up, Some("eth1")),
            probe_from(ms(7000), 2, &[("node1", VMAC), ("node2", VMAC)]),
            note(ms(8000)),
        ]);
        let svg = timeline_svg(&ev, &nodes(), &[vip4()], ms(8000), "frr");
        wellformed::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert_eq!(count(&svg, "<rect class=\"dormant\""), 2, "{svg}");
        assert!(svg.contains("node2 has a VIP on a link that is not live (down, protodown or its lower link down): present, not held: t=0.100s – t=6.600s (6500 ms)"), "{svg}");
        assert!(
            svg.contains("node1 holds a VIP: t=1.000s – end of run"),
            "{svg}"
        );
        assert!(svg.contains(
            "two or more nodes answered for 192.0.2.20 from t=7.000s to t=8.000s (1 probe(s)): node1 (00:00:5e:00:01:33), node2 (00:00:5e:00:01:33)"
        ));
        assert!(svg.contains(">VIP present, link not live</text>"), "{svg}");
    }

    #[test]
    fn shapes_stay_inside_the_picture() {
        let svg = timeline_svg(&story(), &nodes(), &[vip4()], ms(12_000), "t");
        for part in svg.split(" x=\"").skip(1) {
            let x: f64 = part[..part.find('"').unwrap()].parse().unwrap();
            assert!((0.0..=WIDTH).contains(&x), "x={x}");
        }
        // The conflict that runs to the end stops at the right edge.
        let right = format!("{:.1}", WIDTH - RIGHT);
        let open = svg
            .lines()
            .find(|l| l.contains("class=\"conflict\"") && l.contains("still open"))
            .unwrap();
        let x: f64 = open
            .split(" x=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let w: f64 = open
            .split(" width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(format!("{:.1}", x + w), right);
    }

    #[test]
    fn title_and_names_are_escaped() {
        let ev = sorted(vec![
            addr(ms(100), "a<b", AddrChange::Added, vip4()),
            ev(
                ms(200),
                EventKind::Fault {
                    node: "n&'1'".into(),
                    fault: "<kill>".into(),
                    detail: "pid \"7\"".into(),
                },
            ),
        ]);
        let svg = timeline_svg(&ev, &["x\"y".into()], &[vip4()], ms(1000), "<t&'\">");
        wellformed::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert!(svg.contains("<title>&lt;t&amp;&apos;&quot;&gt;</title>"));
        assert!(svg.contains("data-node=\"x&quot;y\""));
        // A holder not among `nodes` gets its own lane.
        assert!(svg.contains("data-node=\"a&lt;b\""));
        assert!(svg.contains(">&lt;kill&gt; n&amp;&apos;1&apos;</text>"));
        assert!(svg.contains("pid &quot;7&quot;"));
    }

    #[test]
    fn several_vips_and_holes() {
        let v6 = ip("2001:db8::20");
        let ev = sorted(vec![
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            addr(ms(300), "node1", AddrChange::Added, v6),
            addr(ms(500), "node1", AddrChange::Removed, vip4()),
            addr(ms(700), "node2", AddrChange::Added, v6),
            gap(ms(900), "node2", ms(800)),
            ev(
                ms(950),
                EventKind::ProbeGap {
                    vip: v6,
                    reason: "send failed".into(),
                },
            ),
        ]);
        let svg = timeline_svg(&ev, &nodes(), &[vip4(), v6], ms(1000), "x");
        wellformed::check(&svg).unwrap();
        // node1 holds one VIP or the other from 0.1 s to the end: one bar.
        assert_eq!(count(&svg, "<rect class=\"hold\""), 2);
        assert!(svg.contains(">client 192.0.2.20</text>"));
        assert!(svg.contains(">client 2001:db8::20</text>"));
        assert_eq!(count(&svg, "<rect class=\"hole\""), 2);
        assert_eq!(count(&svg, "<rect class=\"conflict\""), 1);
        // Sub-second run: ticks every 0.1 s with one decimal.
        assert!(svg.contains(">0.5</text>"));
    }

    #[test]
    fn empty_history_still_draws() {
        let svg = timeline_svg(&[], &[], &[], 0, "nothing");
        wellformed::check(&svg).unwrap();
        assert!(svg.contains(">nothing</text>"));
    }

    #[test]
    fn merging_and_tick_steps() {
        let s = |from, to, open| Span { from, to, open };
        assert_eq!(
            merge(vec![
                s(5, 9, true),
                s(0, 3, false),
                s(3, 5, false),
                s(20, 30, false)
            ]),
            vec![s(0, 9, true), s(20, 30, false)]
        );
        assert_eq!(
            merge(vec![s(0, 10, false), s(2, 4, true)]),
            vec![s(0, 10, false)]
        );
        assert_eq!(tick_step(12.0), 1.0);
        assert_eq!(tick_step(1.0), 0.1);
        assert_eq!(tick_step(90.0), 5.0);
        assert_eq!(tick_step(100_000.0), 5000.0);
    }

    /// vrrpd after a SIGKILL: node1's address outlives its gate; the lane shows it as
    /// present and gated (hatched), not held, and there is no conflict.
    #[test]
    fn gated_vip_is_hatched_and_not_held() {
        use crate::history::GateChange;
        let ev = sorted(vec![
            gate(ms(50), "node1", GateChange::Managed),
            addr(ms(100), "node1", AddrChange::Added, vip4()),
            open_for(ms(100), "node1", 350),
            open_for(ms(1000), "node1", 350),
            fault(ms(1100), "node1", "sigkill"),
            addr(ms(1500), "node2", AddrChange::Added, vip4()),
            addr(ms(2000), "node1", AddrChange::Removed, vip4()),
            note(ms(3000)),
        ]);
        let svg = timeline_svg(&ev, &nodes(), &[vip4()], ms(3000), "vrrpd gate");
        wellformed::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert_eq!(count(&svg, "<rect class=\"conflict\""), 0, "{svg}");
        // Gated between its first lease and the refresh, and from expiry to removal.
        assert_eq!(count(&svg, "<rect class=\"gated\""), 2, "{svg}");
        assert!(svg.contains("id=\"gated-hatch\""));
        assert!(svg.contains(">held, gated (not counted)</text>"), "{svg}");
        let from = svg
            .find("<g class=\"lane node\" data-node=\"node1\">")
            .unwrap();
        let lane = &svg[from..from + svg[from..].find("</g>").unwrap() + 4];
        insta::assert_snapshot!("gated_lane_node1", lane);
    }
}
