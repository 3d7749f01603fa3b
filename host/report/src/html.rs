//! One self-contained HTML file: the study's tables, the plots as inline SVG with a hover value
//! on every mark (`<title>`), each experiment's provenance, and a small inline script that sorts
//! tables. Nothing is fetched: no font, stylesheet, script or image lives outside the file, so
//! it reads the same offline, attached to a mail or opened from a CI artifact.
//!
//! [`render_html`] writes a study's report; [`render_compare_html`] the side-by-side version of
//! a comparison. Estimated figures carry the terminal's `~` and a tinted cell; unavailable ones
//! print `–`.

use std::fmt::Write as _;

use joulebench_compare::{Comparison, GateOutcome, Row, render as cmp};
use joulebench_metrics::stats::percentile;

use crate::plot::pareto_front;
use crate::table::{datasets, fmt_num};
use crate::{ExperimentRow, ReportInput, render_markdown};

/// One experiment with what the HTML report shows beyond its metric set.
#[derive(Clone, Debug, PartialEq)]
pub struct HtmlExperiment {
    /// What ran, its metric set and power trace.
    pub row: ExperimentRow,
    /// Its provenance as (section, field, value): plugins, versions, model sha256, kernels,
    /// meter boundary, machine.
    pub provenance: Vec<(String, String, String)>,
    /// The warnings a reader must see with its numbers.
    pub flags: Vec<String>,
    /// Fraction of the evaluation covered by meter samples.
    pub coverage: Option<f64>,
    /// What the meter's total covers and misses.
    pub boundary: String,
    /// Per-task latencies of its latency pass, s.
    pub latencies_s: Vec<f64>,
}

/// Tableau's ten colours, as the PNG plots use them.
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{font-size:1.1em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:" \2195";color:#aaa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.est{background:#fff4d6}.est-note{background:#fff4d6;padding:.1em .3em}
.worse td.chg{background:#fbdcdc;font-weight:bold}.better td.chg{background:#dcf3dc;font-weight:bold}
.failed{color:#b00;font-weight:bold}.flags li{color:#8a5300}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}.side{min-width:0;overflow-x:auto}
svg{background:#fff;border:1px solid #eee;margin:.5em 0;max-width:100%;height:auto}svg text{font-family:inherit;font-size:12px}
details{margin:.4em 0}summary{cursor:pointer}code{font-size:.95em}.wrap{overflow-x:auto}
"#;

/// Sorts a table by the clicked column: numbers (a cell's `data-v`, else its text read as a
/// number) before text; a second click reverses.
const SCRIPT: &str = r#"
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var dir = th.getAttribute("data-dir") === "asc" ? -1 : 1;
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
      function key(row) {
        var cell = row.cells[col];
        if (!cell) { return [2, ""]; }
        var v = cell.getAttribute("data-v");
        var n = parseFloat(v !== null ? v : cell.textContent.replace(/[^0-9eE.+-]/g, ""));
        return isNaN(n) ? [1, cell.textContent.trim()] : [0, n];
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x[0] !== y[0]) { return x[0] - y[0]; }
        return (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"#;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(title)
    )
}

/// A number cell: the value for sorting in `data-v`, the text as the terminal shows it.
fn num_td(v: Option<f64>, text: &str, estimated: bool) -> String {
    let class = if estimated { "num est" } else { "num" };
    match v {
        Some(v) if v.is_finite() => {
            format!("<td class=\"{class}\" data-v=\"{v}\">{}</td>", esc(text))
        }
        _ => "<td class=\"num\">–</td>".to_string(),
    }
}

fn opt_text(v: Option<f64>, estimated: bool) -> String {
    v.map_or("–".to_string(), |v| format!("{}{}", fmt_num(v), if estimated { "~" } else { "" }))
}

/// Turns the Markdown report (headings, paragraphs, pipe tables) into HTML, so that the HTML
/// tables hold exactly what the terminal prints.
fn markdown_to_html(md: &str) -> String {
    let mut out = String::new();
    let mut table: Vec<Vec<String>> = vec![];
    let flush = |out: &mut String, table: &mut Vec<Vec<String>>| {
        if table.is_empty() {
            return;
        }
        out.push_str("<div class=\"wrap\"><table class=\"sortable\"><thead><tr>");
        for h in &table[0] {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>\n");
        for row in table.iter().skip(2) {
            out.push_str("<tr>");
            for c in row {
                let est = c.ends_with('~') || c.contains("~†") || c.contains("~ ");
                let numeric =
                    c.trim_start_matches(['+', '-']).starts_with(|ch: char| ch.is_ascii_digit());
                let class = match (numeric, est) {
                    (true, true) => " class=\"num est\"",
                    (true, false) => " class=\"num\"",
                    (false, true) => " class=\"est\"",
                    _ => "",
                };
                let _ = write!(out, "<td{class}>{}</td>", esc(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        table.clear();
    };
    for line in md.lines() {
        if let Some(rest) = line.strip_prefix('|') {
            let cells: Vec<String> = rest
                .trim_end_matches('|')
                .split(" |")
                .map(|c| c.trim().replace("\\|", "|"))
                .collect();
            table.push(cells);
            continue;
        }
        flush(&mut out, &mut table);
        if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(out, "<h3>{}</h3>", esc(h));
        } else if line.starts_with("# ") {
            // The page has its own title.
        } else if !line.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", esc(line));
        }
    }
    flush(&mut out, &mut table);
    out
}

/// Axis ticks: about `n` round numbers covering lo..hi.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(mag * 10.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = vec![];
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// A plot frame: maps data to pixels and draws axes with ticks and labels.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: (f64, f64),
    y: (f64, f64),
    log_x: bool,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let (lo, hi, v) = if self.log_x {
            (self.x.0.log10(), self.x.1.log10(), x.log10())
        } else {
            (self.x.0, self.x.1, x)
        };
        self.left + (v - lo) / (hi - lo) * (self.w - self.left - self.right)
    }

    fn py(&self, y: f64) -> f64 {
        self.h
            - self.bottom
            - (y - self.y.0) / (self.y.1 - self.y.0) * (self.h - self.top - self.bottom)
    }

    fn open(&self, out: &mut String, label: &str) {
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">",
            self.w,
            self.h,
            self.w,
            self.h,
            esc(label)
        );
    }

    fn axes(&self, out: &mut String, x_label: &str, y_label: &str) {
        let (x0, x1, y0, y1) = (self.left, self.w - self.right, self.top, self.h - self.bottom);
        let xt: Vec<f64> = if self.log_x {
            let (a, b) = (self.x.0.log10().floor() as i32, self.x.1.log10().ceil() as i32);
            (a..=b)
                .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
                .filter(|v| *v >= self.x.0 && *v <= self.x.1)
                .collect()
        } else {
            ticks(self.x.0, self.x.1, 6)
        };
        for t in xt {
            let x = self.px(t);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                y1 + 16.0,
                fmt_num(t)
            );
        }
        for t in ticks(self.y.0, self.y.1, 5) {
            let y = self.py(t);
            let _ = write!(
                out,
                "<line x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                x0 - 6.0,
                y + 4.0,
                fmt_num(t)
            );
        }
        let _ = write!(
            out,
            "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\
             <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            x1 - x0,
            y1 - y0,
            (x0 + x1) / 2.0,
            self.h - 6.0,
            esc(x_label),
            (y0 + y1) / 2.0,
            esc(y_label)
        );
    }
}

fn padded(lo: f64, hi: f64, frac: f64, min_pad: f64) -> (f64, f64) {
    let pad = ((hi - lo) * frac).max(min_pad);
    (lo - pad, hi + pad)
}

/// A point of the accuracy–energy plot.
struct ScatterPoint {
    label: String,
    dataset: String,
    energy_j: f64,
    accuracy: f64,
    estimated: bool,
    group: usize,
}

/// Accuracy against energy per inference, one colour per group, the Pareto front of each
/// dataset as a dashed line; estimated points are hollow.
fn pareto_svg(points: &[ScatterPoint], groups: &[String]) -> String {
    let mut out = String::new();
    if points.is_empty() {
        return "<p>No experiment has an energy figure: nothing to plot.</p>".into();
    }
    let (xmin, xmax) = points
        .iter()
        .fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.energy_j), b.max(p.energy_j)));
    let log_x = xmax / xmin > 30.0;
    let x = if log_x {
        (xmin / 1.5, xmax * 1.5)
    } else {
        let (lo, hi) = padded(xmin, xmax, 0.1, xmax.abs() * 0.05 + 1e-9);
        (lo.max(0.0), hi)
    };
    let (ymin, ymax) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.accuracy), b.max(p.accuracy))
    });
    let (ylo, yhi) = padded(ymin, ymax, 0.15, 2.0);
    let frame = Frame {
        w: 900.0,
        h: 420.0,
        left: 60.0,
        right: 250.0,
        top: 20.0,
        bottom: 44.0,
        x,
        y: (ylo.max(0.0), yhi.min(100.0)),
        log_x,
    };
    frame.open(&mut out, "Accuracy against energy per inference");
    frame.axes(&mut out, "Energy per inference (J)", "Accuracy (%)");
    let sets: Vec<&str> = {
        let mut v: Vec<&str> = vec![];
        for p in points {
            if !v.contains(&p.dataset.as_str()) {
                v.push(&p.dataset);
            }
        }
        v
    };
    for set in &sets {
        let idx: Vec<usize> = (0..points.len()).filter(|&i| points[i].dataset == *set).collect();
        let xy: Vec<(f64, f64)> =
            idx.iter().map(|&i| (points[i].energy_j, points[i].accuracy)).collect();
        let front = pareto_front(&xy);
        if front.len() > 1 {
            let path: Vec<String> = front
                .iter()
                .map(|&k| format!("{:.1},{:.1}", frame.px(xy[k].0), frame.py(xy[k].1)))
                .collect();
            let _ = write!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"4 3\"><title>Pareto front, {}</title></polyline>",
                path.join(" "),
                esc(set)
            );
        }
    }
    for p in points {
        let c = PALETTE[p.group % PALETTE.len()];
        let fill = if p.estimated { "#fff" } else { c };
        let _ = write!(
            out,
            "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"6\" fill=\"{fill}\" stroke=\"{c}\" stroke-width=\"2\"><title>{}: {} {:.2} %, {} J per inference{}</title></circle>",
            frame.px(p.energy_j),
            frame.py(p.accuracy),
            esc(&p.label),
            esc(&p.dataset),
            p.accuracy,
            fmt_num(p.energy_j),
            if p.estimated { " (estimated energy ~)" } else { "" }
        );
    }
    for (i, g) in groups.iter().enumerate() {
        let y = 30.0 + 18.0 * i as f64;
        // Long names are cut in the legend and given whole on hover.
        let short: String = if g.chars().count() > 34 {
            g.chars().take(33).chain(['…']).collect()
        } else {
            g.clone()
        };
        let _ = write!(
            out,
            "<g><title>{}</title><circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"{c}\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            esc(g),
            frame.w - 240.0,
            frame.w - 230.0,
            y + 4.0,
            esc(&short),
            c = PALETTE[i % PALETTE.len()]
        );
    }
    if points.iter().any(|p| p.estimated) {
        let y = 30.0 + 18.0 * groups.len() as f64;
        let _ = write!(
            out,
            "<circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"#fff\" stroke=\"#555\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">estimated energy</text>",
            frame.w - 240.0,
            frame.w - 230.0,
            y + 4.0
        );
    }
    out.push_str("</svg>\n");
    out
}

fn phase_fill(name: &str) -> &'static str {
    match name {
        "idle" => "#7f7f7f",
        "load" => "#1f77b4",
        "warm-up" => "#ff7f0e",
        "evaluation" => "#2ca02c",
        "latency" => "#9467bd",
        _ => "#17becf",
    }
}

/// A polyline's points (in pixels, by time) with at most four per pixel column: the first, the
/// lowest, the highest and the last, in time order, so that no spike is lost and a long trace
/// stays small.
fn decimate(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = vec![];
    let mut i = 0;
    while i < points.len() {
        let column = points[i].0.floor();
        let mut j = i;
        while j < points.len() && points[j].0.floor() == column {
            j += 1;
        }
        let group = &points[i..j];
        if group.len() <= 4 {
            out.extend_from_slice(group);
        } else {
            let lo =
                (0..group.len()).min_by(|&a, &b| group[a].1.total_cmp(&group[b].1)).unwrap_or(0);
            let hi =
                (0..group.len()).max_by(|&a, &b| group[a].1.total_cmp(&group[b].1)).unwrap_or(0);
            let mut keep = vec![0, lo, hi, group.len() - 1];
            keep.sort_unstable();
            keep.dedup();
            out.extend(keep.into_iter().map(|k| group[k]));
        }
        i = j;
    }
    out
}

/// The total power over a run with its phases shaded; every phase and up to 300 samples carry
/// a hover value.
fn trace_svg(e: &HtmlExperiment) -> Option<String> {
    let trace = e.row.trace.as_ref()?;
    let s = &trace.samples;
    if s.len() < 2 {
        return None;
    }
    let t_end =
        s.iter().map(|p| p.0).chain(trace.phases.iter().map(|p| p.end_s)).fold(0f64, f64::max);
    let t_start = s
        .iter()
        .map(|p| p.0)
        .chain(trace.phases.iter().map(|p| p.start_s))
        .fold(f64::INFINITY, f64::min);
    let pmax = s.iter().map(|p| p.1).fold(0f64, f64::max);
    let frame = Frame {
        w: 900.0,
        h: 260.0,
        left: 60.0,
        right: 20.0,
        top: 14.0,
        bottom: 44.0,
        x: (t_start.min(0.0), t_end.max(t_start + 1e-3)),
        y: (0.0, (pmax * 1.1).max(1e-3)),
        log_x: false,
    };
    let mut out = String::new();
    let estimated = e.row.metrics.energy_quality.is_marked();
    frame.open(&mut out, &format!("Power trace of {}", e.row.id));
    for p in &trace.phases {
        let (x0, x1) = (frame.px(p.start_s), frame.px(p.end_s));
        let _ = write!(
            out,
            "<rect class=\"phase\" x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\" fill-opacity=\"0.15\"><title>{}: {:.1}–{:.1} s ({:.1} s)</title></rect>",
            frame.top,
            (x1 - x0).max(0.5),
            frame.h - frame.top - frame.bottom,
            phase_fill(&p.name),
            esc(&p.name),
            p.start_s,
            p.end_s,
            p.end_s - p.start_s,
        );
        // A name only where it fits; the hover names every phase.
        if x1 - x0 > 8.0 * p.name.len() as f64 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" fill=\"#555\">{}</text>",
                x0 + 3.0,
                frame.top + 12.0,
                esc(&p.name)
            );
        }
    }
    frame.axes(
        &mut out,
        "Time (s)",
        if estimated { "Total power (W, estimated ~)" } else { "Total power (W)" },
    );
    let pixels: Vec<(f64, f64)> = s.iter().map(|p| (frame.px(p.0), frame.py(p.1))).collect();
    let path: Vec<String> =
        decimate(&pixels).iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\"/>",
        path.join(" ")
    );
    let every = s.len().div_ceil(300).max(1);
    for p in s.iter().step_by(every) {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#d62728\" fill-opacity=\"0.01\"><title>{:.2} s: {} W{}</title></circle>",
            frame.px(p.0),
            frame.py(p.1),
            p.0,
            fmt_num(p.1),
            if estimated { " (estimated)" } else { "" }
        );
    }
    out.push_str("</svg>\n");
    Some(out)
}

/// A histogram of per-task latencies with the p50 and p95 marked; each bar's hover says its
/// range and count.
fn latency_svg(label: &str, latencies: &[f64]) -> Option<String> {
    if latencies.len() < 2 {
        return None;
    }
    let lo = latencies.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = latencies.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let bins = ((latencies.len() as f64).sqrt().ceil() as usize).clamp(5, 40);
    let width = ((hi - lo) / bins as f64).max(1e-9);
    let mut counts = vec![0usize; bins];
    for v in latencies {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = *counts.iter().max().unwrap_or(&1) as f64;
    let frame = Frame {
        w: 900.0,
        h: 240.0,
        left: 60.0,
        right: 20.0,
        top: 14.0,
        bottom: 44.0,
        x: (lo, lo + width * bins as f64),
        y: (0.0, top * 1.15),
        log_x: false,
    };
    let mut out = String::new();
    frame.open(&mut out, &format!("Per-task latency of {label}"));
    frame.axes(&mut out, "Latency of one task alone (s)", "Tasks");
    for (i, c) in counts.iter().enumerate() {
        let (a, b) = (lo + width * i as f64, lo + width * (i + 1) as f64);
        let (x0, x1, y) = (frame.px(a), frame.px(b), frame.py(*c as f64));
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\" fill-opacity=\"0.7\"><title>{}–{} s: {c} tasks</title></rect>",
            (x1 - x0 - 1.0).max(0.5),
            frame.py(0.0) - y,
            fmt_num(a),
            fmt_num(b)
        );
    }
    for (name, q) in [("p50", 50.0), ("p95", 95.0)] {
        if let Some(v) = percentile(latencies, q) {
            let x = frame.px(v);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#d62728\" stroke-dasharray=\"3 2\" stroke-width=\"2\"><title>{name} {} s</title></line><text x=\"{:.1}\" y=\"{}\" fill=\"#d62728\">{name}</text>",
                frame.top,
                frame.py(0.0),
                fmt_num(v),
                x + 3.0,
                frame.top + 24.0
            );
        }
    }
    out.push_str("</svg>\n");
    Some(out)
}

/// The sortable summary table: one row per experiment, with its headline figures.
fn experiments_table(experiments: &[HtmlExperiment]) -> String {
    let mut out = String::from(
        "<div class=\"wrap\"><table class=\"sortable experiments\"><thead><tr><th>Experiment</th><th>Device</th><th>Model</th><th>Runtime</th><th>Benchmark</th>\
         <th>Tasks</th><th>Accuracy (%)</th><th>Energy/inference (J)</th><th>Latency T/N (s)</th><th>p50 one-task (s)</th><th>p95 one-task (s)</th>\
         <th>Avg power (W)</th><th>Tokens/Wh</th><th>Energy</th><th>Coverage</th></tr></thead><tbody>\n",
    );
    for e in experiments {
        let m = &e.row.metrics;
        let est = m.energy_quality.is_marked();
        let acc = match m.accuracy_stderr_pct {
            Some(se) => format!("{:.2} ± {se:.2}", m.accuracy_pct),
            None => format!("{:.2}", m.accuracy_pct),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td>{}{}{}{}{}{}{}{}<td{}>{}</td>{}</tr>",
            esc(&e.row.id),
            esc(&e.row.device),
            esc(&e.row.model),
            esc(&e.row.runtime),
            esc(&e.row.dataset),
            m.accuracy_metric.as_str(),
            num_td(Some(m.tasks as f64), &m.tasks.to_string(), false),
            num_td(Some(m.accuracy_pct), &acc, false),
            num_td(m.energy_per_inference_j, &opt_text(m.energy_per_inference_j, est), est),
            num_td(Some(m.latency_s_per_inference), &fmt_num(m.latency_s_per_inference), false),
            num_td(m.latency_p50_s, &opt_text(m.latency_p50_s, false), false),
            num_td(m.latency_p95_s, &opt_text(m.latency_p95_s, false), false),
            num_td(m.average_power_w, &opt_text(m.average_power_w, est), est),
            num_td(m.tokens_per_wh, &opt_text(m.tokens_per_wh, est), est),
            if est { " class=\"est\"" } else { "" },
            m.energy_quality.as_str(),
            num_td(
                e.coverage.map(|c| 100.0 * c),
                &e.coverage.map_or("–".into(), |c| format!("{:.1} %", 100.0 * c)),
                false
            ),
        );
    }
    out.push_str("</tbody></table></div>\n");
    out
}

fn provenance_html(e: &HtmlExperiment) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<details class=\"provenance\"><summary><b>{}</b>: {} on {}, {}</summary>\n<table><tbody>",
        esc(&e.row.id),
        esc(&e.row.model),
        esc(&e.row.device),
        esc(&e.row.dataset)
    );
    let mut section = "";
    let row = |out: &mut String, s: &str, k: &str, v: &str| {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td><td><code>{}</code></td></tr>",
            esc(s),
            esc(k),
            esc(v)
        );
    };
    let quality = e.row.metrics.energy_quality;
    row(&mut out, "meter", "energy", quality.as_str());
    row(&mut out, "meter", "boundary", &e.boundary);
    row(
        &mut out,
        "meter",
        "coverage",
        &e.coverage.map_or("–".into(), |c| format!("{:.1} % of the evaluation", 100.0 * c)),
    );
    for (s, k, v) in &e.provenance {
        let shown = if s == section { "" } else { s.as_str() };
        section = s;
        row(&mut out, shown, k, v);
    }
    out.push_str("</tbody></table>");
    if !e.flags.is_empty() {
        out.push_str("<p>Flags:</p><ul class=\"flags\">");
        for f in &e.flags {
            let _ = write!(out, "<li>{}</li>", esc(f));
        }
        out.push_str("</ul>");
    }
    out.push_str("</details>\n");
    out
}

const LEGEND: &str = "<p class=\"legend\"><span class=\"est-note\">~ and a tinted cell</span> = computed from estimated energy (a model of the machine, not a sensor); – = not run or unavailable. Hover over a plot's marks for their values; click a table's header to sort it.</p>\n";

fn scatter_points(
    experiments: &[HtmlExperiment],
    group: impl Fn(&HtmlExperiment) -> usize,
) -> Vec<ScatterPoint> {
    experiments
        .iter()
        .filter_map(|e| {
            let j = e.row.metrics.energy_per_inference_j.filter(|j| *j > 0.0)?;
            Some(ScatterPoint {
                label: e.row.id.clone(),
                dataset: e.row.dataset.clone(),
                energy_j: j,
                accuracy: e.row.metrics.accuracy_pct,
                estimated: e.row.metrics.energy_quality.is_marked(),
                group: group(e),
            })
        })
        .collect()
}

fn traces_and_latencies(out: &mut String, experiments: &[HtmlExperiment]) {
    out.push_str("<h2>Power and phases</h2>\n<p>Total power over each run's last segment, with its phases shaded (idle, load, warm-up, evaluation, latency pass). Temperature is recorded once per run, in the provenance; no temperature trace is stored.</p>\n");
    let mut any = false;
    for e in experiments {
        if let Some(svg) = trace_svg(e) {
            any = true;
            let _ = write!(out, "<h3>{}</h3>\n{svg}", esc(&e.row.id));
        }
    }
    if !any {
        out.push_str("<p>No power trace stored.</p>\n");
    }
    out.push_str("<h2>Per-task latency</h2>\n<p>Each task of the latency pass answered alone in its own call; dashed lines mark p50 and p95.</p>\n");
    let mut any = false;
    for e in experiments {
        if let Some(svg) = latency_svg(&e.row.id, &e.latencies_s) {
            any = true;
            let _ = write!(out, "<h3>{}</h3>\n{svg}", esc(&e.row.id));
        }
    }
    if !any {
        out.push_str("<p>No latency pass stored.</p>\n");
    }
}

/// The study's report as one HTML page.
pub fn render_html(title: &str, experiments: &[HtmlExperiment]) -> String {
    let mut body = format!("<h1>{}</h1>\n", esc(title));
    body.push_str(LEGEND);
    if experiments.is_empty() {
        body.push_str("<p>No finished experiments.</p>\n");
        return page(title, &body);
    }
    body.push_str("<h2>Experiments</h2>\n");
    body.push_str(&experiments_table(experiments));
    body.push_str("<h2>The study's tables</h2>\n");
    let input = ReportInput { experiments: experiments.iter().map(|e| e.row.clone()).collect() };
    body.push_str(&markdown_to_html(&render_markdown(&input)));
    body.push_str("<h2>Accuracy against energy per inference</h2>\n<p>One colour per model; dashed: each benchmark's Pareto front (no other run is both cheaper and more accurate).</p>\n");
    let models: Vec<String> = {
        let mut v: Vec<String> = vec![];
        for e in experiments {
            if !v.contains(&e.row.model) {
                v.push(e.row.model.clone());
            }
        }
        v
    };
    let points =
        scatter_points(experiments, |e| models.iter().position(|m| *m == e.row.model).unwrap_or(0));
    body.push_str(&pareto_svg(&points, &models));
    let _ = datasets(&input);
    traces_and_latencies(&mut body, experiments);
    body.push_str("<h2>Provenance</h2>\n<p>What produced each result: machine, plugins with their versions and builds, the model file's sha256, llama.cpp's CPU kernels, the meter's boundary and coverage, and the flags.</p>\n");
    for e in experiments {
        body.push_str(&provenance_html(e));
    }
    page(title, &body)
}

fn compare_row(r: &Row) -> String {
    let class = match cmp::verdict(r) {
        "worse" => " class=\"worse\"",
        "better" => " class=\"better\"",
        _ => "",
    };
    format!(
        "<tr{class}><td>{}</td>{}{}<td class=\"num chg\" data-v=\"{}\">{}</td><td class=\"num\">{}</td>{}<td>{}</td><td>{}</td></tr>\n",
        esc(&r.metric),
        num_td(r.baseline, &cmp::baseline_text(r), r.baseline_estimated),
        num_td(r.candidate, &cmp::candidate_text(r), r.candidate_estimated),
        r.relative.or(r.difference).unwrap_or(f64::NAN),
        esc(&cmp::change_text(r)),
        esc(&cmp::ci_text(r)),
        num_td(r.p_value, &cmp::p_cell(r), false),
        esc(&r.method),
        cmp::verdict(r)
    )
}

/// The side-by-side page of a comparison: its tables with significant changes coloured, the
/// gate, both sides on one accuracy–energy plot, and each side's experiments and provenance in
/// two columns.
pub fn render_compare_html(
    comparison: &Comparison,
    gate: &[GateOutcome],
    baseline: &[HtmlExperiment],
    candidate: &[HtmlExperiment],
) -> String {
    let title = "joulebench compare";
    let mut body = format!("<h1>{title}</h1>\n");
    let _ = writeln!(
        body,
        "<p>Baseline: <b>{}</b>. Candidate: <b>{}</b>.</p>",
        esc(&comparison.baseline),
        esc(&comparison.candidate)
    );
    for (axis, b, c) in &comparison.compared {
        let _ = writeln!(body, "<p>Compared {}: {} → {}.</p>", esc(axis), esc(b), esc(c));
    }
    let _ = writeln!(
        body,
        "<p>Change = candidate − baseline with its 95 % interval. Significant at α = {}: accuracy by McNemar's paired test on the same tasks, repeated figures by Welch's t-test over runs, per-task latency quantiles by a bootstrap ({} resamples, seed {:#x}). <span class=\"worse\"><span class=\"chg\" style=\"background:#fbdcdc\">red</span></span>: significantly worse; <span style=\"background:#dcf3dc\">green</span>: significantly better.</p>",
        comparison.alpha, comparison.bootstrap.resamples, comparison.bootstrap.seed
    );
    body.push_str(LEGEND);
    if !gate.is_empty() {
        body.push_str("<h2>Gate</h2>\n<ul>");
        for g in gate {
            let status = if g.failed {
                "<span class=\"failed\">FAILED</span>"
            } else if g.tested {
                "pass"
            } else {
                "pass (untested)"
            };
            let _ = write!(
                body,
                "<li>{status}: <code>{}</code> on {} ({}): change {}, {}</li>",
                esc(&g.rule),
                esc(&g.cell),
                esc(&g.metric),
                g.change.map_or("–".into(), |c| format!("{c:+.3}")),
                if g.significant { "significant" } else { "not significant" }
            );
        }
        body.push_str("</ul>\n");
    }
    for cell in &comparison.cells {
        let _ = write!(
            body,
            "<h2>{}</h2>\n<p>Baseline: {}. Candidate: {}.</p>\n<div class=\"wrap\"><table class=\"sortable compare\"><thead><tr><th>Metric</th><th>Baseline</th><th>Candidate</th><th>Change</th><th>95 % CI</th><th>p</th><th>Test</th><th>Significant</th></tr></thead><tbody>\n",
            esc(&cmp::cell_title(comparison, cell)),
            esc(&cell.baseline.join(", ")),
            esc(&cell.candidate.join(", "))
        );
        for r in &cell.rows {
            body.push_str(&compare_row(r));
        }
        body.push_str("</tbody></table></div>\n");
        for n in &cell.notes {
            let _ = writeln!(body, "<p>Note: {}.</p>", esc(n));
        }
    }
    for u in &comparison.unmatched {
        let _ = writeln!(body, "<p>Not compared: {}.</p>", esc(u));
    }
    body.push_str("<h2>Accuracy against energy per inference</h2>\n");
    let both: Vec<HtmlExperiment> = baseline.iter().chain(candidate).cloned().collect();
    let nb = baseline.len();
    let ids: Vec<String> = both.iter().map(|e| e.row.id.clone()).collect();
    let points = scatter_points(&both, |e| {
        usize::from(ids.iter().position(|i| *i == e.row.id).unwrap_or(0) >= nb)
    });
    body.push_str(&pareto_svg(&points, &["baseline".to_string(), "candidate".to_string()]));
    body.push_str("<div class=\"sides\">");
    for (name, side) in [("Baseline", baseline), ("Candidate", candidate)] {
        let _ = writeln!(body, "<div class=\"side\"><h2>{name}</h2>");
        body.push_str(&experiments_table(side));
        traces_and_latencies(&mut body, side);
        body.push_str("<h2>Provenance</h2>\n");
        for e in side {
            body.push_str(&provenance_html(e));
        }
        body.push_str("</div>\n");
    }
    body.push_str("</div>\n");
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_become_html_tables_with_marks_kept() {
        let html =
            markdown_to_html("# t\n\n## Energy\n\n| a | b |\n| --- | --- |\n| x \\| y | 53.8~ |\n");
        assert!(html.contains("<h3>Energy</h3>"));
        assert!(html.contains("<th>a</th><th>b</th>"));
        assert!(html.contains("<td>x | y</td><td class=\"num est\">53.8~</td>"), "{html}");
    }

    #[test]
    fn decimation_keeps_spikes_and_ends() {
        // 100 points in one pixel column, a spike at the 50th: first, low, spike, last remain.
        let mut pts: Vec<(f64, f64)> = (0..100).map(|i| (10.0 + i as f64 / 200.0, 50.0)).collect();
        pts[50].1 = 5.0;
        pts[70].1 = 60.0;
        let d = decimate(&pts);
        assert_eq!(d, vec![pts[0], pts[50], pts[70], pts[99]]);
        let few = [(1.0, 2.0), (2.5, 3.0)];
        assert_eq!(decimate(&few), few.to_vec());
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(5.0, 5.0, 5), vec![5.0]);
        assert_eq!(esc("<a&\"'>"), "&lt;a&amp;&quot;&#39;&gt;");
    }
}
