//! The plots of conditions: a run's temperatures and clocks under its power trace, and the
//! power modes of a sweep against each other.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FAMILY, Plot, color, err, pareto_front, slug, tick, write_both};
use crate::{ExperimentRow, ReportError, ReportInput, Series, StateTrace};

type DrawResult = Result<(), String>;

/// Writes the conditions plots that have something to show.
pub(super) fn render(input: &ReportInput, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for (i, e) in input.experiments.iter().enumerate() {
        if let Some(state) = e.conditions.as_ref().and_then(|c| c.trace.as_ref())
            && (!state.temperatures.is_empty() || !state.clocks.is_empty())
        {
            let plot = StatePlot { e, state };
            written.extend(write_both(
                &plot,
                dir,
                &format!("conditions_trace_{}_{}", i + 1, slug(&e.id)),
            )?);
        }
    }
    let modes = Modes::new(input);
    if !modes.groups.is_empty() {
        written.extend(write_both(&modes, dir, "power_modes")?);
    }
    Ok(written)
}

/// Power, temperatures and clocks of one run on one time axis.
struct StatePlot<'a> {
    e: &'a ExperimentRow,
    state: &'a StateTrace,
}

const THROTTLED_SHADE: RGBColor = RGBColor(214, 39, 40);

fn range(series: &[Series], extra: impl Iterator<Item = f64>) -> (f64, f64) {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(extra);
    xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)))
}

impl StatePlot<'_> {
    #[allow(clippy::too_many_arguments)]
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x: (f64, f64),
        series: &[(String, Vec<(f64, f64)>)],
        y_desc: &str,
        y_from_zero: bool,
        last: bool,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let ys = series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
        let (lo, hi) =
            ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let pad = ((hi - lo) * 0.12).max(hi.abs() * 0.02).max(0.5);
        let lo = if y_from_zero { 0.0 } else { lo - pad };
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(230)
            .x_label_area_size(if last { 46 } else { 8 })
            .y_label_area_size(64)
            .build_cartesian_2d(x.0..x.1, lo..hi + pad)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        mesh.y_desc(y_desc)
            .y_label_formatter(&|v| tick(*v))
            .x_label_formatter(&|v| tick(*v))
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .light_line_style(RGBColor(235, 235, 235));
        if last {
            mesh.x_desc("Time since start (s)");
        } else {
            mesh.x_labels(0);
        }
        mesh.draw().map_err(err)?;
        for &(a, b) in &self.state.throttled {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a, lo), (b, hi + pad)],
                    THROTTLED_SHADE.mix(0.15).filled(),
                )))
                .map_err(err)?;
        }
        for (k, (name, points)) in series.iter().enumerate() {
            let c = if series.len() == 1 && name == "total power" {
                RGBColor(20, 20, 20)
            } else {
                color(k)
            };
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    ShapeStyle::from(&c).stroke_width(1),
                ))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .margin(4)
            .legend_area_size(22)
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

impl Plot for StatePlot<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 860)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let e = self.e;
        let power: Vec<(f64, f64)> =
            e.trace.as_ref().map(|t| t.samples.clone()).unwrap_or_default();
        let (lo, hi) = range(
            &[self.state.temperatures.clone(), self.state.clocks.clone()].concat(),
            power.iter().map(|p| p.0),
        );
        let x = if hi > lo { (lo.min(0.0), hi) } else { (0.0, 1.0) };
        let (head, body) = root.split_vertically(60);
        let width = head.dim_in_pixel().0 as i32;
        let title =
            format!("Power, temperature and clocks of {} on {}, {}", e.model, e.device, e.dataset);
        let centre = |size: u32| {
            TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
        };
        head.draw(&Text::new(title, (width / 2, 18), centre(20))).map_err(err)?;
        if !self.state.throttled.is_empty() {
            let note = "shaded red: throttle flags active";
            head.draw(&Text::new(note, (width / 2, 44), centre(14).color(&THROTTLED_SHADE)))
                .map_err(err)?;
        }
        let panels = if power.is_empty() { 2 } else { 3 };
        let areas = body.split_evenly((panels, 1));
        let mut k = 0;
        if !power.is_empty() {
            self.panel(
                &areas[k],
                x,
                &[("total power".to_string(), power)],
                "Power (W)",
                true,
                false,
            )?;
            k += 1;
        }
        let temps: Vec<(String, Vec<(f64, f64)>)> =
            self.state.temperatures.iter().map(|s| (s.name.clone(), s.points.clone())).collect();
        self.panel(&areas[k], x, &temps, "Temperature (°C)", false, false)?;
        let clocks: Vec<(String, Vec<(f64, f64)>)> =
            self.state.clocks.iter().map(|s| (s.name.clone(), s.points.clone())).collect();
        self.panel(&areas[k + 1], x, &clocks, "Clock (MHz)", true, true)?;
        Ok(())
    }
}

/// One mode's figures: (mode, J per inference, accuracy %, average W, tokens/s).
type ModePoint = (String, Option<f64>, f64, Option<f64>, f64);

/// A configuration (device, model, runtime, benchmark) measured at several power settings.
struct Group {
    name: String,
    points: Vec<ModePoint>,
}

/// Power modes against each other: one point per mode, one colour per configuration.
struct Modes {
    groups: Vec<Group>,
}

impl Modes {
    fn new(input: &ReportInput) -> Modes {
        let mut groups: Vec<Group> = Vec::new();
        for e in &input.experiments {
            let Some(mode) = e.conditions.as_ref().and_then(|c| c.mode.clone()) else { continue };
            let name = format!("{} · {} · {} · {}", e.device, e.model, e.runtime, e.dataset);
            let point = (
                mode,
                e.metrics.energy_per_inference_j,
                e.metrics.accuracy_pct,
                e.metrics.average_power_w,
                e.metrics.tokens_per_s,
            );
            match groups.iter_mut().find(|g| g.name == name) {
                Some(g) => g.points.push(point),
                None => groups.push(Group { name, points: vec![point] }),
            }
        }
        groups.retain(|g| {
            let mut modes: Vec<&str> = g.points.iter().map(|p| p.0.as_str()).collect();
            modes.sort_unstable();
            modes.dedup();
            modes.len() > 1
        });
        Modes { groups }
    }

    /// One panel: `get` picks (x, y) of a point; the front takes low x and high y.
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        x_desc: &str,
        y_desc: &str,
        get: impl Fn(&ModePoint) -> Option<(f64, f64)>,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let all: Vec<(f64, f64)> =
            self.groups.iter().flat_map(|g| g.points.iter().filter_map(&get)).collect();
        if all.is_empty() {
            return Ok(());
        }
        let fold = |f: fn(&(f64, f64)) -> f64| {
            all.iter()
                .map(f)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
        };
        let (xl, xh) = fold(|p| p.0);
        let (yl, yh) = fold(|p| p.1);
        let xp = ((xh - xl) * 0.15).max(xh.abs() * 0.05).max(1e-9);
        let yp = ((yh - yl) * 0.15).max(yh.abs() * 0.05).max(1e-9);
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FAMILY, 20).into_font())
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(64)
            .build_cartesian_2d((xl - xp).max(0.0)..xh + xp, (yl - yp).max(0.0)..yh + yp)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (gi, g) in self.groups.iter().enumerate() {
            let c = color(gi);
            let pts: Vec<(String, (f64, f64))> =
                g.points.iter().filter_map(|p| get(p).map(|xy| (p.0.clone(), xy))).collect();
            let xy: Vec<(f64, f64)> = pts.iter().map(|p| p.1).collect();
            let front = pareto_front(&xy);
            let mut steps = Vec::new();
            for (k, &i) in front.iter().enumerate() {
                if k > 0 {
                    steps.push((xy[i].0, xy[front[k - 1]].1));
                }
                steps.push(xy[i]);
            }
            chart
                .draw_series(LineSeries::new(steps, ShapeStyle::from(&c).stroke_width(2)))
                .map_err(err)?
                .label(format!("{} (Pareto front)", g.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            for (i, (mode, p)) in pts.iter().enumerate() {
                let on_front = front.contains(&i);
                let style =
                    if on_front { c.filled() } else { ShapeStyle::from(&c).stroke_width(2) };
                chart.draw_series(std::iter::once(Circle::new(*p, 6, style))).map_err(err)?;
                let label = TextStyle::from((FAMILY, 14).into_font())
                    .color(&RGBColor(40, 40, 40))
                    .pos(Pos::new(HPos::Left, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at(*p) + Text::new(mode.clone(), (8, -6), label),
                    ))
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .margin(4)
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

impl Plot for Modes {
    fn size(&self) -> (u32, u32) {
        (1400, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(700);
        self.panel(
            &left,
            "Accuracy against energy per inference",
            "Energy per inference (J)",
            "Accuracy (%)",
            |p| p.1.map(|j| (j, p.2)),
        )?;
        self.panel(
            &right,
            "Throughput against power",
            "Average power (W)",
            "Processed tokens/s",
            |p| p.3.map(|w| (w, p.4)),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_need_two_modes() {
        let input = ReportInput::default();
        assert!(Modes::new(&input).groups.is_empty());
    }
}
