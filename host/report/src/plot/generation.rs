//! The generation plots: decode energy per token against decode speed, and each generation
//! experiment's power trace with its load, prefill and decode bands.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawResult, FAMILY, Plot, Trace, color, err, register_font, slug, tick, write_both};
use crate::{GenerationRow, GenerationTrace, ReportError};

/// Decode J per token against decode tokens/s, one point per shape, colour per model and runtime.
struct DecodeScatter {
    /// (tokens/s, J/token, series index, estimated, test)
    points: Vec<(f64, f64, usize, bool, String)>,
    series: Vec<String>,
}

impl DecodeScatter {
    fn new(rows: &[GenerationRow]) -> DecodeScatter {
        let mut series: Vec<String> = Vec::new();
        let mut points = Vec::new();
        for r in rows {
            let (Some((tps, _)), Some(j)) = (r.decode_tps, r.decode_j_per_token.0) else {
                continue;
            };
            let name = format!("{} · {}", r.model, r.runtime);
            let i = series.iter().position(|s| *s == name).unwrap_or_else(|| {
                series.push(name);
                series.len() - 1
            });
            points.push((tps, j, i, r.estimated, r.test.clone()));
        }
        DecodeScatter { points, series }
    }
}

impl Plot for DecodeScatter {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let x_max = self.points.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-9) * 1.15;
        let y_max = self.points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-12) * 1.2;
        let estimated = self.points.iter().any(|p| p.3);
        let title = if estimated {
            "Decode energy per token against decode speed (hollow: estimated)"
        } else {
            "Decode energy per token against decode speed"
        };
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 22).into_font())
            .margin(20)
            .margin_right(300)
            .x_label_area_size(56)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Decode tokens/s")
            .y_desc("Decode J per token (gross)")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (x, y, i, est, test) in &self.points {
            let style = if *est {
                ShapeStyle::from(&color(*i)).stroke_width(2)
            } else {
                color(*i).filled()
            };
            chart.draw_series(std::iter::once(Circle::new((*x, *y), 6, style))).map_err(err)?;
            let label = TextStyle::from((FAMILY, 13).into_font())
                .color(&RGBColor(60, 60, 60))
                .pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new(test.clone(), (*x, *y), label)))
                .map_err(err)?;
        }
        let x = root.dim_in_pixel().0 as i32 - 290;
        for (i, name) in self.series.iter().enumerate() {
            let y = 70 + 24 * i as i32;
            root.draw(&Circle::new((x + 8, y), 6, color(i).filled())).map_err(err)?;
            let text =
                TextStyle::from((FAMILY, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(name.clone(), (x + 22, y), text)).map_err(err)?;
        }
        Ok(())
    }
}

/// Writes `decode_energy_vs_speed` (when a shape has decode energy) and one
/// `generation_trace_<n>_<id>` per trace, each as SVG and PNG, into `dir`.
pub fn render(
    rows: &[GenerationRow],
    traces: &[GenerationTrace],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    register_font()?;
    std::fs::create_dir_all(dir)
        .map_err(|e| ReportError::new(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    let scatter = DecodeScatter::new(rows);
    if !scatter.points.is_empty() {
        written.extend(write_both(&scatter, dir, "decode_energy_vs_speed")?);
    }
    for (i, t) in traces.iter().enumerate() {
        if t.trace.samples.is_empty() {
            continue;
        }
        let plot = Trace { title: t.title.clone(), meter: t.meter.clone(), trace: &t.trace };
        written.extend(write_both(
            &plot,
            dir,
            &format!("generation_trace_{}_{}", i + 1, slug(&t.id)),
        )?);
    }
    Ok(written)
}
