//! The plots, each written as SVG and PNG.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::table::{datasets, fmt_num};
use crate::{ExperimentRow, PowerTrace, ReportError, ReportInput};

mod conditions;
pub(crate) mod generation;

/// DejaVu Sans, cut down to the characters reports print (see `assets/README.md`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";

/// Tableau's ten colours: distinct, and readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn register_font() -> Result<(), ReportError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(ReportError::new("the embedded font cannot be read")) }
}

/// The experiments on the Pareto front of (energy, accuracy): those no other point beats on
/// both, lower or equal energy and higher or equal accuracy with one strictly better. Points
/// with a non-finite coordinate are ignored; of identical points only the first counts. Returns
/// indices into `points` by increasing energy (and so increasing accuracy).
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..points.len()).filter(|&i| points[i].0.is_finite() && points[i].1.is_finite()).collect();
    // By energy, then best accuracy first, then input order.
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[b].1.total_cmp(&points[a].1))
            .then(a.cmp(&b))
    });
    let mut front = vec![];
    let mut best = f64::NEG_INFINITY;
    for i in order {
        if points[i].1 > best {
            best = points[i].1;
            front.push(i);
        }
    }
    front
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A plot that can draw itself on any backend.
trait Plot {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

fn write_both<P: Plot>(plot: &P, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, ReportError> {
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    {
        let root = SVGBackend::new(&svg, plot.size()).into_drawing_area();
        plot.draw(&root)
            .and_then(|()| root.present().map_err(err))
            .map_err(|e| ReportError::new(format!("cannot draw {}: {e}", svg.display())))?;
    }
    {
        let root = BitMapBackend::new(&png, plot.size()).into_drawing_area();
        plot.draw(&root)
            .and_then(|()| root.present().map_err(err))
            .map_err(|e| ReportError::new(format!("cannot draw {}: {e}", png.display())))?;
    }
    Ok(vec![svg, png])
}

/// Writes the plots into `dir` (created if missing), each as SVG and PNG, and returns the paths
/// written:
///
/// - `accuracy_vs_energy`: accuracy (%) against energy per inference (J, log scale when the
///   values span more than a factor of 20), colour by model, marker by benchmark, hollow where
///   the energy is estimated, with each benchmark's Pareto front as a step line;
/// - `power_trace_<n>_<id>`: for each experiment with a trace, total power over time with its
///   phases shaded and named;
/// - `tokens_per_wh`: one bar per experiment, grouped by model;
/// - `conditions_trace_<n>_<id>`: for each experiment that sampled its state, power,
///   temperatures and clocks over the same time axis, throttled spans shaded;
/// - `power_modes`: where one configuration ran at several power settings, accuracy against
///   energy per inference and tokens/s against power, one point per mode, with the Pareto fronts.
///
/// Plots that have nothing to show (no experiment with energy, no trace) are not written.
pub fn render_plots(input: &ReportInput, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    register_font()?;
    std::fs::create_dir_all(dir)
        .map_err(|e| ReportError::new(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = vec![];
    let models = distinct_models(input);
    let scatter = Scatter::new(input, &models);
    if !scatter.points.is_empty() {
        written.extend(write_both(&scatter, dir, "accuracy_vs_energy")?);
    }
    for (i, e) in input.experiments.iter().enumerate() {
        if let Some(trace) = e.trace.as_ref().filter(|t| !t.samples.is_empty()) {
            let plot = Trace {
                title: format!("Power of {} on {}, {}", e.model, e.device, e.dataset),
                meter: format!("meter: {} ({} energy)", e.meter, e.metrics.energy_quality.as_str()),
                trace,
            };
            written.extend(write_both(
                &plot,
                dir,
                &format!("power_trace_{}_{}", i + 1, slug(&e.id)),
            )?);
        }
    }
    let bars = Bars::new(input, &models);
    if !bars.bars.is_empty() {
        written.extend(write_both(&bars, dir, "tokens_per_wh")?);
    }
    written.extend(conditions::render(input, dir)?);
    Ok(written)
}

fn slug(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "run".into() } else { s }
}

/// An axis tick: at most 3 significant digits, no trailing zeros, scientific from 10⁶ on.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let trim = |s: String| {
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    };
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim(m.to_string())),
            None => s,
        }
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        trim(format!("{v:.decimals$}"))
    }
}

fn distinct_models(input: &ReportInput) -> Vec<String> {
    let mut v: Vec<String> = vec![];
    for e in &input.experiments {
        if !v.contains(&e.model) {
            v.push(e.model.clone());
        }
    }
    v
}

fn estimated(e: &ExperimentRow) -> bool {
    e.metrics.energy_quality.is_marked()
}

/// Accuracy against energy per inference.
struct Scatter {
    /// (energy per inference J, accuracy %, model index, dataset index, estimated)
    points: Vec<(f64, f64, usize, usize, bool)>,
    models: Vec<String>,
    datasets: Vec<String>,
    any_estimated: bool,
}

impl Scatter {
    fn new(input: &ReportInput, models: &[String]) -> Scatter {
        let sets = datasets(input);
        let points: Vec<_> = input
            .experiments
            .iter()
            .filter_map(|e| {
                let j = e.metrics.energy_per_inference_j.filter(|j| *j > 0.0)?;
                let m = models.iter().position(|m| *m == e.model)?;
                let d = sets.iter().position(|d| *d == e.dataset)?;
                Some((j, e.metrics.accuracy_pct, m, d, estimated(e)))
            })
            .collect();
        let any_estimated = points.iter().any(|p| p.4);
        Scatter { points, models: models.to_vec(), datasets: sets, any_estimated }
    }

    fn draw_on<DB, X>(&self, root: &DrawingArea<DB, Shift>, x: X, x_max: f64) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let (y_lo, y_hi) = {
            let lo = self.points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            let hi = self.points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let pad = ((hi - lo) * 0.15).max(2.0);
            ((lo - pad).max(0.0), (hi + pad).min(100.0))
        };
        let mut chart = ChartBuilder::on(root)
            .caption("Accuracy against energy per inference", (FAMILY, 26).into_font())
            .margin(20)
            .margin_right(LEGEND_WIDTH)
            .x_label_area_size(56)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y_lo..y_hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Energy per inference (J)")
            .y_desc("Accuracy (%)")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;

        // One front per benchmark (accuracies of different benchmarks do not compare), each a
        // staircase: the best accuracy reachable with at most this energy.
        let front_style = ShapeStyle::from(&RGBColor(60, 60, 60)).stroke_width(2);
        for d in 0..self.datasets.len() {
            let xy: Vec<(f64, f64)> =
                self.points.iter().filter(|p| p.3 == d).map(|p| (p.0, p.1)).collect();
            let front = pareto_front(&xy);
            let mut steps = vec![];
            for (k, &i) in front.iter().enumerate() {
                if k > 0 {
                    steps.push((xy[i].0, xy[front[k - 1]].1));
                }
                steps.push(xy[i]);
            }
            if let Some(&(_, last)) = steps.last() {
                steps.push((x_max, last));
            }
            chart.draw_series(LineSeries::new(steps, front_style)).map_err(err)?;
        }
        for &(j, acc, m, d, est) in &self.points {
            let style =
                if est { ShapeStyle::from(&color(m)).stroke_width(2) } else { color(m).filled() };
            draw_marker(chart.plotting_area(), (j, acc), d, style)?;
        }

        // The legend, in the room kept free on the right.
        let grey = RGBColor(90, 90, 90);
        let mut entries: Vec<(Mark, String)> =
            vec![(Mark::Line(front_style), "Pareto front (per benchmark)".into())];
        entries.push((Mark::Heading, "Model (colour)".into()));
        for (m, name) in self.models.iter().enumerate() {
            entries.push((Mark::Marker(0, color(m).filled()), name.clone()));
        }
        entries.push((Mark::Heading, "Benchmark (marker)".into()));
        for (d, name) in self.datasets.iter().enumerate() {
            entries.push((Mark::Marker(d, grey.filled()), name.clone()));
        }
        if self.any_estimated {
            entries.push((
                Mark::Marker(0, ShapeStyle::from(&grey).stroke_width(2)),
                "hollow: estimated energy".into(),
            ));
        }
        let x = root.dim_in_pixel().0 as i32 - LEGEND_WIDTH as i32 + 10;
        for (k, (mark, label)) in entries.iter().enumerate() {
            let y = 70 + 24 * k as i32;
            let colour = match mark {
                Mark::Heading => grey,
                _ => BLACK,
            };
            match mark {
                Mark::Line(style) => {
                    root.draw(&PathElement::new(vec![(x, y), (x + 16, y)], *style)).map_err(err)?
                }
                Mark::Marker(shape, style) => draw_marker(root, (x + 8, y), *shape, *style)?,
                Mark::Heading => {}
            }
            let text = TextStyle::from((FAMILY, 15).into_font())
                .color(&colour)
                .pos(Pos::new(HPos::Left, VPos::Center));
            let indent = if matches!(mark, Mark::Heading) { 0 } else { 24 };
            root.draw(&Text::new(label.clone(), (x + indent, y), text)).map_err(err)?;
        }
        Ok(())
    }
}

/// Room on the right of the scatter plot for its legend, px.
const LEGEND_WIDTH: u32 = 330;

/// A legend entry's sample.
enum Mark {
    Line(ShapeStyle),
    Marker(usize, ShapeStyle),
    Heading,
}

/// A triangle marker's corners around its centre, px (y grows downwards).
const TRIANGLE: [(i32, i32); 3] = [(0, -9), (-8, 5), (8, 5)];

fn closed(points: &[(i32, i32)]) -> Vec<(i32, i32)> {
    points.iter().chain(points.first()).copied().collect()
}

/// Draws a marker centred on `at`: circle, triangle, square or cross by `shape`.
fn draw_marker<DB, CT>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    shape: usize,
    style: ShapeStyle,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate,
    CT::From: Clone,
{
    let base = EmptyElement::at(at);
    match shape % 4 {
        0 => area.draw(&(base + Circle::new((0, 0), 7, style))),
        // plotters' TriangleMarker is always filled; hollow ones are drawn as a closed path.
        1 if style.filled => area.draw(&(base + Polygon::new(TRIANGLE.to_vec(), style))),
        1 => area.draw(&(base + PathElement::new(closed(&TRIANGLE), style))),
        2 => area.draw(&(base + Rectangle::new([(-6, -6), (6, 6)], style))),
        _ => area.draw(&(base + Cross::new((0, 0), 7, style.stroke_width(3)))),
    }
    .map_err(err)
}

impl Plot for Scatter {
    fn size(&self) -> (u32, u32) {
        (1120, 650)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let lo = self.points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let hi = self.points.iter().map(|p| p.0).fold(0.0, f64::max);
        if hi / lo > 20.0 {
            let (lo, hi) = (lo / 1.6, hi * 1.6);
            self.draw_on(root, (lo..hi).log_scale(), hi)
        } else {
            let pad = ((hi - lo) * 0.12).max(hi * 0.05);
            let (lo, hi) = ((lo - pad).max(0.0), hi + pad);
            self.draw_on(root, lo..hi, hi)
        }
    }
}

/// The power trace of one run.
struct Trace<'a> {
    title: String,
    /// The key's last entry: the meter and the quality of its energy.
    meter: String,
    trace: &'a PowerTrace,
}

fn phase_color(name: &str, i: usize) -> RGBColor {
    match name {
        "idle" => RGBColor(127, 127, 127),
        "load" => RGBColor(31, 119, 180),
        "warm-up" | "warmup" => RGBColor(255, 127, 14),
        "evaluation" | "eval" => RGBColor(44, 160, 44),
        "prefill" => RGBColor(214, 39, 40),
        "decode" => RGBColor(148, 103, 189),
        _ => color(i + 4),
    }
}

impl Plot for Trace<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let s = &self.trace.samples;
        let t_end = s
            .iter()
            .map(|p| p.0)
            .chain(self.trace.phases.iter().map(|p| p.end_s))
            .fold(0.0, f64::max);
        let t_start = s
            .iter()
            .map(|p| p.0)
            .chain(self.trace.phases.iter().map(|p| p.start_s))
            .fold(f64::INFINITY, f64::min)
            .min(0.0);
        let w_max = s.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.22;
        let t_end = if t_end > t_start { t_end } else { t_start + 1.0 };
        // Title and a one-line key of the phases and the meter above the chart: names of
        // narrow phases written inside their bands would overlap.
        let (head, body) = root.split_vertically(76);
        let centre = |size: u32| {
            TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
        };
        let title = self.title.clone();
        let width = head.dim_in_pixel().0 as i32;
        head.draw(&Text::new(title, (width / 2, 20), centre(21))).map_err(err)?;
        let mut key: Vec<(Option<RGBColor>, String)> = Vec::new();
        for (i, p) in self.trace.phases.iter().enumerate() {
            if !key.iter().any(|(_, name)| *name == p.name) {
                key.push((Some(phase_color(&p.name, i)), p.name.clone()));
            }
        }
        key.push((None, self.meter.clone()));
        let label = TextStyle::from((FAMILY, 15).into_font())
            .color(&RGBColor(40, 40, 40))
            .pos(Pos::new(HPos::Left, VPos::Center));
        let widths: Vec<i32> = key
            .iter()
            .map(|(c, name)| {
                let text = head.estimate_text_size(name, &label).map(|s| s.0 as i32).unwrap_or(0);
                text + if c.is_some() { 22 } else { 0 } + 24
            })
            .collect();
        let mut x = (width - widths.iter().sum::<i32>()) / 2;
        for ((c, name), w) in key.iter().zip(&widths) {
            let mut text_x = x;
            if let Some(c) = c {
                head.draw(&Rectangle::new([(x, 48), (x + 16, 62)], c.mix(0.35).filled()))
                    .map_err(err)?;
                head.draw(&Rectangle::new([(x, 48), (x + 16, 62)], c)).map_err(err)?;
                text_x += 22;
            }
            head.draw(&Text::new(name.clone(), (text_x, 55), label.clone())).map_err(err)?;
            x += w;
        }
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_top(6)
            .x_label_area_size(50)
            .y_label_area_size(64)
            .build_cartesian_2d(t_start..t_end, 0.0..w_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Time since start (s)")
            .y_desc("Total power (W)")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (i, p) in self.trace.phases.iter().enumerate() {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(p.start_s, 0.0), (p.end_s, w_max)],
                    phase_color(&p.name, i).mix(0.16).filled(),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                s.iter().copied(),
                // Width 1: plotters joins wider bitmap lines with unbounded mitres, which turn
                // every sharp up-and-down of a noisy trace into a spike across the image.
                ShapeStyle::from(&RGBColor(20, 20, 20)).stroke_width(1),
            ))
            .map_err(err)?;
        Ok(())
    }
}

/// Tokens per Wh, one horizontal bar per experiment.
struct Bars {
    /// (label, tokens/Wh, model index, estimated)
    bars: Vec<(String, f64, usize, bool)>,
}

impl Bars {
    fn new(input: &ReportInput, models: &[String]) -> Bars {
        let mut bars: Vec<(String, f64, usize, bool)> = input
            .experiments
            .iter()
            .filter_map(|e| {
                let v = e.metrics.tokens_per_wh?;
                let m = models.iter().position(|m| *m == e.model)?;
                let mark = if estimated(e) { " ~" } else { "" };
                Some((
                    format!("{} · {} · {}{mark}", e.model, e.device, e.dataset),
                    v,
                    m,
                    estimated(e),
                ))
            })
            .collect();
        // Grouped by model in first-seen order; the top bar is the first.
        bars.sort_by_key(|b| b.2);
        bars.reverse();
        Bars { bars }
    }
}

impl Plot for Bars {
    fn size(&self) -> (u32, u32) {
        (1000, 150 + 34 * self.bars.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let n = self.bars.len() as i32;
        let v_max = self.bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
        let label_width =
            self.bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(10) as u32 * 8 + 16;
        let any_estimated = self.bars.iter().any(|b| b.3);
        let title =
            if any_estimated { "Tokens per Wh (~ estimated energy)" } else { "Tokens per Wh" };
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 26))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(label_width.min(600))
            .build_cartesian_2d(0.0..v_max * 1.18, (0..(n - 1).max(1)).into_segmented())
            .map_err(err)?;
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        let y_fmt = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(self.bars.len() + 1)
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&|v| tick(*v))
            .x_desc("Tokens per Wh, evaluation phase")
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (i, (_, v, m, est)) in self.bars.iter().enumerate() {
            let i = i as i32;
            let fill = if *est { color(*m).mix(0.45).filled() } else { color(*m).filled() };
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))],
                fill,
            );
            bar.set_margin(5, 5, 0, 0);
            chart.draw_series(std::iter::once(bar)).map_err(err)?;
            let style =
                TextStyle::from((FAMILY, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((*v, SegmentValue::CenterOf(i)))
                        + Text::new(fmt_num(*v), (6, 0), style),
                ))
                .map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders one marker of each shape in `style` and returns the SVG text.
    fn markers_svg(style: ShapeStyle) -> String {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (200, 50)).into_drawing_area();
            for shape in 0..4 {
                draw_marker(&root, (20 + 40 * shape as i32, 25), shape, style).unwrap();
            }
            root.present().unwrap();
        }
        svg
    }

    #[test]
    fn hollow_markers_have_no_fill() {
        let hollow = markers_svg(ShapeStyle::from(&BLACK).stroke_width(2));
        assert!(!hollow.contains("<polygon"), "a hollow marker was filled:\n{hollow}");
        assert!(hollow.contains("<polyline"), "the hollow triangle is missing:\n{hollow}");
        let filled = markers_svg(BLACK.filled());
        assert!(filled.contains("<polygon"), "the filled triangle is missing:\n{filled}");
    }
}
