//! joulebench's reports: what a person reads or looks at after a run.
//!
//! This crate renders; it computes no metric and reads no database. The host gathers one
//! [`ExperimentRow`] per experiment (the metric set from `joulebench-metrics` plus what the
//! experiment was) into a [`ReportInput`], and this crate turns it into:
//!
//! - [`render_markdown`]: the seed study's layout: accuracy, energy, latency and EDP per device x
//!   model with one column per benchmark (M/H/W), a throughput table, and the per-billion table;
//! - [`render_csv`] and [`render_json`]: one record per experiment, every metric with its unit in
//!   its name;
//! - [`render_plots`]: accuracy against energy per inference with the Pareto front, the power
//!   trace of each run with its phases shaded, and tokens/Wh per model, each as SVG and PNG;
//!   where runs recorded their conditions, their temperatures and clocks under the power trace,
//!   and the power modes of a sweep against each other.
//! - [`render_generation_markdown`]: generation experiments in llama-bench's columns, with time
//!   to first token, inter-token latency and J/token by phase;
//! - [`html`]: one self-contained HTML page (tables, inline SVG plots with hover values,
//!   provenance, sortable tables), for a study or for a comparison side by side.
//!
//! Unavailable figures print as "–", never as 0; estimated energy is marked "~" with a legend.
//! Plots draw text with a font embedded in the crate (DejaVu Sans, see `assets/`), so they
//! render on a machine without system fonts.
#![deny(missing_docs)]

use std::fmt;

use joulebench_metrics::MetricSet;
use serde::{Deserialize, Serialize};

mod generation;
pub mod html;
mod plot;
mod table;

pub use generation::{
    GenerationRow, GenerationTrace, render_generation_markdown, render_generation_plots,
};
pub use html::{HtmlExperiment, render_compare_html, render_html};
pub use plot::{pareto_front, render_plots};
pub use table::{render_csv, render_json, render_markdown};

/// Everything a report shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// One entry per experiment, in the order the reports list them.
    pub experiments: Vec<ExperimentRow>,
}

/// One experiment: what ran where, and its metric set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRow {
    /// The experiment's id in the manifest or results store.
    pub id: String,
    /// The machine (host or board name, with its accelerator where it matters:
    /// `Jetson Orin Nano (GPU)`).
    pub device: String,
    /// The model's name.
    pub model: String,
    /// The model's parameter count.
    pub parameters: u64,
    /// The runtime (`llama.cpp`, `burn`).
    pub runtime: String,
    /// The benchmark: `mmlu`, `hellaswag`, `winogrande`, or another dataset's name.
    pub dataset: String,
    /// The scoring convention (`lm-eval`, `llama-cpp`).
    pub convention: String,
    /// The meter's name (`rapl`, `estimate`, ...).
    pub meter: String,
    /// The metric set; its `energy_quality` says whether energy was measured or estimated.
    pub metrics: MetricSet,
    /// The power trace of the run, for the trace plot.
    pub trace: Option<PowerTrace>,
    /// The conditions it ran under, when a state meter was sampled or power settings read.
    #[serde(default)]
    pub conditions: Option<RunConditions>,
}

/// The conditions of one run, as the tables show them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunConditions {
    /// The Jetson power mode (`15W (id 0)`), where the board has one.
    pub power_mode: Option<String>,
    /// The CPU frequency governors (`schedutil`).
    pub governor: Option<String>,
    /// The hottest temperature, °C.
    pub max_temp_c: Option<f64>,
    /// The mean of the hottest temperature, °C.
    pub mean_temp_c: Option<f64>,
    /// Share of the evaluation spent throttled (throttle flags active).
    pub throttled_fraction: Option<f64>,
    /// Share of the evaluation spent with the frequency capped.
    pub capped_fraction: Option<f64>,
    /// Whether the run is flagged throttled; its figures are marked in every table.
    pub throttled: bool,
    /// The conditions' flags, in words (`throttled: ...`, `not cooled: ...`).
    pub flags: Vec<String>,
    /// The point of a power-settings sweep it ran at (`7W/performance`), for the power modes
    /// plot; else its power mode.
    #[serde(default)]
    pub mode: Option<String>,
    /// Temperatures, clocks and throttled spans over the run, on the power trace's clock.
    #[serde(default)]
    pub trace: Option<StateTrace>,
}

/// Named values over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The sensor or clock (`temp:cpu-thermal`, `clock:cpu:policy0`).
    pub name: String,
    /// (seconds on the power trace's clock, value): °C for temperatures, MHz for clocks.
    pub points: Vec<(f64, f64)>,
}

/// The board's state over a run, drawn under its power trace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateTrace {
    /// Temperatures, °C.
    pub temperatures: Vec<Series>,
    /// Clocks, MHz.
    pub clocks: Vec<Series>,
    /// Spans (start, end) with a throttle condition active.
    pub throttled: Vec<(f64, f64)>,
}

/// Total power over a run, with the run's phases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PowerTrace {
    /// Samples as (seconds since the run started, total watts), in time order.
    pub samples: Vec<(f64, f64)>,
    /// The phases (`idle`, `load`, `warm-up`, `evaluation`) as spans of the same clock.
    pub phases: Vec<Phase>,
}

/// A named span of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// The phase's name.
    pub name: String,
    /// Start, seconds since the run started.
    pub start_s: f64,
    /// End, seconds since the run started.
    pub end_s: f64,
}

/// Why a report could not be written.
#[derive(Debug)]
pub struct ReportError {
    message: String,
}

impl ReportError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReportError {}
