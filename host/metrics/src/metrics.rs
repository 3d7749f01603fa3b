//! The metric set (`docs/metrics.md`), computed in one place from an experiment's raw figures.
//!
//! Every field name carries its unit. Figures that need energy are `Option`s: `None` means
//! unavailable (no meter, or a meter that could not cover the window), never zero, and the set
//! carries the quality of the energy it was computed from (measured or estimated).
//!
//! Definitions (N tasks, T seconds and E joules of the evaluation phase, P parameters):
//!
//! | field | formula |
//! |---|---|
//! | `accuracy_pct` | 100 · correct / N, correct by `accuracy_metric`: the benchmark's own metric (`acc_norm` for HellaSwag where the convention defines it, else `acc`) |
//! | `accuracy_stderr_pct` | 100 · √(p(1−p)/(N−1)), p = correct / N (lm-eval's and llama.cpp's σ) |
//! | `accuracy_wilson95_pct` | the 95 % Wilson score interval of correct / N, in % (inside 0..100 even at 0 or N correct) |
//! | `acc_pct`, `acc_norm_pct` | both accuracies, whichever is the headline (`acc_norm` where defined) |
//! | `latency_s_per_inference` | T / N |
//! | `latency_p50_s`, `latency_p95_s`, `latency_p99_s` | percentiles of the time to answer one task alone (the latency pass: each task in its own runtime call), linear interpolation (numpy's default) |
//! | `throughput_inferences_per_s` | N / T |
//! | `tokens_per_s` | tokens processed / T |
//! | `total_energy_j`, `total_energy_wh` | E, E / 3600 (the study's "Energy (Wh)" column) |
//! | `energy_per_inference_j`, `_wh` | E / N |
//! | `active_energy_j` | E − idle power · T (may come out negative when the idle baseline was high: it is kept as computed, a sign of a poor baseline) |
//! | `average_power_w` | E / T (the study printed this in Wh per second under the label W: divide by 3600 to compare) |
//! | `edp_js` | E · T, both over the whole evaluation, as in the study |
//! | `edp_per_inference_js` | (E / N) · (T / N) |
//! | `edp_per_billion_js` | E · T / B, where B is the nominal size in billions when the manifest gives `parameters_b`, else P / 10⁹ (`per_billion_basis` says which) |
//! | `wh_per_billion` | E (Wh) / (P / 10⁹) |
//! | `tokens_per_wh` | tokens / E (Wh) |
//! | `accuracy_pct_per_wh` | accuracy (%) / E (Wh) |
//! | `energy_per_correct_j` | E / correct, by `accuracy_metric` (`None` when nothing was correct) |
//!
//! Ratios whose denominator is zero are `None`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats;

/// Joules in a watt-hour.
pub const J_PER_WH: f64 = 3600.0;

/// Which accuracy is a benchmark's headline figure: the metric its dataset plugin names
/// (`DatasetInfo::metric`), as lm-evaluation-harness reports it (`acc_norm` for HellaSwag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccuracyMetric {
    /// The highest summed log-probability.
    #[default]
    Acc,
    /// The highest log-probability per character of the continuation.
    AccNorm,
}

impl AccuracyMetric {
    /// The metric a dataset names: `acc_norm`, else `acc`.
    pub fn from_name(name: &str) -> Self {
        if name == "acc_norm" { Self::AccNorm } else { Self::Acc }
    }

    /// The count (or flag) this metric takes from the `acc` and `acc_norm` ones, and the metric
    /// it really is: `acc_norm` falls back to `acc` where the convention does not define it.
    pub fn pick<T>(self, acc: T, acc_norm: Option<T>) -> (Self, T) {
        match (self, acc_norm) {
            (Self::AccNorm, Some(norm)) => (Self::AccNorm, norm),
            _ => (Self::Acc, acc),
        }
    }

    /// `acc` or `acc_norm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acc => "acc",
            Self::AccNorm => "acc_norm",
        }
    }
}

/// Which parameter count the per-billion figures divide by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterBasis {
    /// The parameters the runtime counted in the model file.
    #[default]
    Counted,
    /// The nominal size the manifest gives (`parameters_b`), as published comparisons use.
    Nominal,
}

impl ParameterBasis {
    /// `counted` or `nominal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counted => "counted",
            Self::Nominal => "nominal",
        }
    }
}

/// Where an energy figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergyQuality {
    /// Read from a sensor.
    Measured,
    /// Computed from a model of the machine (utilisation × TDP, say).
    Estimated,
    /// No energy figure.
    Unavailable,
    /// The meter gave a quality code this host does not know: the figure is shown, marked like
    /// an estimate, and never taken as measured.
    Unknown,
}

impl EnergyQuality {
    /// `measured`, `estimated` or `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Measured => "measured",
            Self::Estimated => "estimated",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
        }
    }

    /// Whether figures of this quality exist but were not measured, so reports mark them (`~`).
    pub fn is_marked(self) -> bool {
        matches!(self, Self::Estimated | Self::Unknown)
    }
}

/// The energy one rail of the meter saw over the evaluation phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailEnergy {
    /// The rail's name (`VDD_CPU_GPU_CV`, `package-0`, ...).
    pub name: String,
    /// Its energy in joules; `None` when the rail could not be integrated over the window.
    pub energy_j: Option<f64>,
}

/// The raw figures of one experiment's evaluation phase: what the runner measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFigures {
    /// Tasks evaluated (N).
    pub tasks: u64,
    /// Tasks answered correctly by `acc` (the convention's own choice under `llama-cpp`).
    pub correct: u64,
    /// Tasks answered correctly by `acc_norm`, where the convention defines it.
    pub correct_norm: Option<u64>,
    /// The benchmark's headline accuracy; `acc_norm` falls back to `acc` where the convention
    /// does not define it.
    #[serde(default)]
    pub metric: AccuracyMetric,
    /// Length of the evaluation phase in seconds (T).
    pub eval_seconds: f64,
    /// Gross energy of the evaluation phase in joules (E); `None` when unavailable.
    pub eval_energy_j: Option<f64>,
    /// Whether `eval_energy_j` was measured or estimated (must be `unavailable` exactly when it
    /// is `None`).
    pub energy_quality: EnergyQuality,
    /// Idle power in watts (the median over the idle window before the model loaded).
    pub idle_power_w: Option<f64>,
    /// Tokens processed during the evaluation (prompt tokens evaluated plus tokens generated).
    pub tokens: u64,
    /// The model's parameter count, as the runtime counted it.
    pub parameters: u64,
    /// The model's nominal size in billions (the "2B" of its name), when the manifest gives it:
    /// per-billion figures then divide by it instead of the counted parameters.
    #[serde(default)]
    pub nominal_parameters_b: Option<f64>,
    /// Seconds each task of the latency pass took, alone in its own call (empty without one).
    pub task_latencies_s: Vec<f64>,
    /// Energy of each rail the meter offers, besides the total.
    pub rails: Vec<RailEnergy>,
}

/// The metric set of one rail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RailMetrics {
    /// The rail's name.
    pub name: String,
    /// Energy over the evaluation, J.
    pub energy_j: Option<f64>,
    /// Energy over the evaluation, Wh.
    pub energy_wh: Option<f64>,
    /// Energy per inference, J.
    pub energy_per_inference_j: Option<f64>,
    /// Average power, W.
    pub average_power_w: Option<f64>,
}

/// The metric set of one experiment (see the module documentation for every formula).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSet {
    /// Tasks evaluated.
    pub tasks: u64,
    /// Tasks answered correctly by `accuracy_metric`.
    pub correct: u64,
    /// Where the energy figures come from.
    pub energy_quality: EnergyQuality,
    /// What `accuracy_pct`, `correct` and the figures built on them count: the benchmark's
    /// headline metric.
    #[serde(default)]
    pub accuracy_metric: AccuracyMetric,
    /// Accuracy by `accuracy_metric`, %.
    pub accuracy_pct: f64,
    /// Standard error of `accuracy_pct`, percentage points; `None` for fewer than 2 tasks.
    pub accuracy_stderr_pct: Option<f64>,
    /// The 95 % Wilson interval of `accuracy_pct`, % (low, high): unlike ± stderr, never empty
    /// at 0 % or 100 % (`None` in sets stored before it was recorded).
    #[serde(default)]
    pub accuracy_wilson95_pct: Option<(f64, f64)>,
    /// Accuracy by `acc`, %, whichever metric is the headline (`None` in sets stored before
    /// it was recorded).
    #[serde(default)]
    pub acc_pct: Option<f64>,
    /// Normalized accuracy (`acc_norm`), %, where defined.
    pub acc_norm_pct: Option<f64>,
    /// Standard error of `acc_norm_pct`, percentage points.
    pub acc_norm_stderr_pct: Option<f64>,
    /// Length of the evaluation phase, s.
    pub eval_time_s: f64,
    /// Mean latency, s per inference.
    pub latency_s_per_inference: f64,
    /// Median per-task latency, s.
    pub latency_p50_s: Option<f64>,
    /// 95th percentile of per-task latency, s.
    pub latency_p95_s: Option<f64>,
    /// 99th percentile of per-task latency, s (`None` in sets stored before it was recorded).
    #[serde(default)]
    pub latency_p99_s: Option<f64>,
    /// Inferences per second.
    pub throughput_inferences_per_s: f64,
    /// Tokens processed.
    pub tokens: u64,
    /// Tokens processed per second.
    pub tokens_per_s: f64,
    /// Parameters, billions, as the runtime counted them.
    pub parameters_b: f64,
    /// The nominal size in billions, when the manifest gives one.
    #[serde(default)]
    pub nominal_parameters_b: Option<f64>,
    /// Which count the per-billion figures divide by.
    #[serde(default)]
    pub per_billion_basis: ParameterBasis,
    /// Gross energy of the evaluation, J.
    pub total_energy_j: Option<f64>,
    /// Gross energy of the evaluation, Wh.
    pub total_energy_wh: Option<f64>,
    /// Gross energy per inference, J.
    pub energy_per_inference_j: Option<f64>,
    /// Gross energy per inference, Wh.
    pub energy_per_inference_wh: Option<f64>,
    /// Idle power, W.
    pub idle_power_w: Option<f64>,
    /// Active energy (gross − idle power × T), J.
    pub active_energy_j: Option<f64>,
    /// Active energy, Wh.
    pub active_energy_wh: Option<f64>,
    /// Active energy per inference, J.
    pub active_energy_per_inference_j: Option<f64>,
    /// Average power over the evaluation, W.
    pub average_power_w: Option<f64>,
    /// Energy-delay product E · T, J·s.
    pub edp_js: Option<f64>,
    /// Per-inference energy-delay product (E/N)(T/N), J·s.
    pub edp_per_inference_js: Option<f64>,
    /// EDP per billion parameters, J·s per B.
    pub edp_per_billion_js: Option<f64>,
    /// Energy per billion parameters, Wh per B.
    pub wh_per_billion: Option<f64>,
    /// Tokens per Wh.
    pub tokens_per_wh: Option<f64>,
    /// Accuracy points per Wh, % per Wh.
    pub accuracy_pct_per_wh: Option<f64>,
    /// Energy per correct answer, J.
    pub energy_per_correct_j: Option<f64>,
    /// The energy figures of every rail.
    pub rails: Vec<RailMetrics>,
}

/// One metric as a report lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricRow {
    /// The field's name, unit included (`energy_per_inference_j`, `rail_VDD_IN_energy_j`).
    pub name: String,
    /// The unit (`%`, `J`, `J*s`, `Wh/B`, ...; empty for counts).
    pub unit: &'static str,
    /// The value; `None` when unavailable.
    pub value: Option<f64>,
}

/// Why figures could not be turned into metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsError {
    message: String,
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MetricsError {}

fn bad(message: String) -> MetricsError {
    MetricsError { message }
}

/// `a / b`, or `None` when `b` is zero.
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b)
}

fn pct_stderr(correct: u64, n: u64) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let p = correct as f64 / n as f64;
    Some(100.0 * (p * (1.0 - p) / (n - 1) as f64).sqrt())
}

fn check_energy(what: &str, v: Option<f64>) -> Result<(), MetricsError> {
    match v {
        Some(e) if !e.is_finite() || e < 0.0 => {
            Err(bad(format!("{what} is {e}: it must be a finite number of joules, 0 or more")))
        }
        _ => Ok(()),
    }
}

/// Computes the metric set. Fails, naming the field, on figures that cannot describe a run:
/// no tasks, more correct answers than tasks, a non-positive or non-finite time, a negative or
/// non-finite energy, or an energy quality that contradicts the energy's presence.
pub fn compute(f: &ExperimentFigures) -> Result<MetricSet, MetricsError> {
    let n = f.tasks;
    if n == 0 {
        return Err(bad("field tasks is 0: an experiment needs at least one task".into()));
    }
    if f.correct > n {
        return Err(bad(format!("field correct is {} for {n} tasks", f.correct)));
    }
    if let Some(c) = f.correct_norm.filter(|&c| c > n) {
        return Err(bad(format!("field correct_norm is {c} for {n} tasks")));
    }
    let t = f.eval_seconds;
    if !t.is_finite() || t <= 0.0 {
        return Err(bad(format!(
            "field eval_seconds is {t}: it must be a positive number of seconds"
        )));
    }
    check_energy("field eval_energy_j", f.eval_energy_j)?;
    match (f.eval_energy_j, f.energy_quality) {
        (Some(_), EnergyQuality::Unavailable) => {
            return Err(bad(
                "field energy_quality is unavailable but eval_energy_j has a value".into()
            ));
        }
        (None, q) if q != EnergyQuality::Unavailable => {
            return Err(bad(format!(
                "field energy_quality is {} but eval_energy_j is missing",
                q.as_str()
            )));
        }
        _ => {}
    }
    if let Some(p) = f.idle_power_w.filter(|p| !p.is_finite() || *p < 0.0) {
        return Err(bad(format!("field idle_power_w is {p}")));
    }
    if let Some(i) = f.task_latencies_s.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("field task_latencies_s[{i}] is not finite")));
    }
    for (i, r) in f.rails.iter().enumerate() {
        check_energy(&format!("field rails[{i}] ({}) energy_j", r.name), r.energy_j)?;
    }

    let nf = n as f64;
    let counted_b = f.parameters as f64 / 1e9;
    let (basis, billions) = match f.nominal_parameters_b {
        Some(b) => (ParameterBasis::Nominal, b),
        None => (ParameterBasis::Counted, counted_b),
    };
    let (metric, correct) = f.metric.pick(f.correct, f.correct_norm);
    let accuracy_pct = 100.0 * correct as f64 / nf;
    let e = f.eval_energy_j;
    let e_wh = e.map(|e| e / J_PER_WH);
    let active = match (e, f.idle_power_w) {
        (Some(e), Some(p)) => Some(e - p * t),
        _ => None,
    };
    let edp = e.map(|e| e * t);
    let rails = f
        .rails
        .iter()
        .map(|r| RailMetrics {
            name: r.name.clone(),
            energy_j: r.energy_j,
            energy_wh: r.energy_j.map(|e| e / J_PER_WH),
            energy_per_inference_j: r.energy_j.map(|e| e / nf),
            average_power_w: r.energy_j.map(|e| e / t),
        })
        .collect();
    Ok(MetricSet {
        tasks: n,
        correct,
        energy_quality: f.energy_quality,
        accuracy_metric: metric,
        accuracy_pct,
        accuracy_stderr_pct: pct_stderr(correct, n),
        accuracy_wilson95_pct: stats::wilson_95(correct, n)
            .map(|(lo, hi)| (100.0 * lo, 100.0 * hi)),
        acc_pct: Some(100.0 * f.correct as f64 / nf),
        acc_norm_pct: f.correct_norm.map(|c| 100.0 * c as f64 / nf),
        acc_norm_stderr_pct: f.correct_norm.and_then(|c| pct_stderr(c, n)),
        eval_time_s: t,
        latency_s_per_inference: t / nf,
        latency_p50_s: stats::percentile(&f.task_latencies_s, 50.0),
        latency_p95_s: stats::percentile(&f.task_latencies_s, 95.0),
        latency_p99_s: stats::percentile(&f.task_latencies_s, 99.0),
        throughput_inferences_per_s: nf / t,
        tokens: f.tokens,
        tokens_per_s: f.tokens as f64 / t,
        parameters_b: counted_b,
        nominal_parameters_b: f.nominal_parameters_b,
        per_billion_basis: basis,
        total_energy_j: e,
        total_energy_wh: e_wh,
        energy_per_inference_j: e.map(|e| e / nf),
        energy_per_inference_wh: e_wh.map(|e| e / nf),
        idle_power_w: f.idle_power_w,
        active_energy_j: active,
        active_energy_wh: active.map(|a| a / J_PER_WH),
        active_energy_per_inference_j: active.map(|a| a / nf),
        average_power_w: e.map(|e| e / t),
        edp_js: edp,
        edp_per_inference_js: e.map(|e| (e / nf) * (t / nf)),
        edp_per_billion_js: edp.and_then(|d| ratio(d, billions)),
        wh_per_billion: e_wh.and_then(|w| ratio(w, billions)),
        tokens_per_wh: e_wh.and_then(|w| ratio(f.tokens as f64, w)),
        accuracy_pct_per_wh: e_wh.and_then(|w| ratio(accuracy_pct, w)),
        energy_per_correct_j: e.and_then(|e| ratio(e, correct as f64)),
        rails,
    })
}

impl MetricSet {
    /// Every metric as (name, unit, value), in a fixed order, the rails last
    /// (`rail_<name>_energy_j`, ...). Counts are given as numbers too.
    pub fn rows(&self) -> Vec<MetricRow> {
        let row = |name: &str, unit: &'static str, value: Option<f64>| MetricRow {
            name: name.to_string(),
            unit,
            value,
        };
        let mut rows = vec![
            row("tasks", "", Some(self.tasks as f64)),
            row("correct", "", Some(self.correct as f64)),
            row("accuracy_pct", "%", Some(self.accuracy_pct)),
            row("accuracy_stderr_pct", "%", self.accuracy_stderr_pct),
            row("accuracy_wilson95_low_pct", "%", self.accuracy_wilson95_pct.map(|w| w.0)),
            row("accuracy_wilson95_high_pct", "%", self.accuracy_wilson95_pct.map(|w| w.1)),
            row("acc_pct", "%", self.acc_pct),
            row("acc_norm_pct", "%", self.acc_norm_pct),
            row("acc_norm_stderr_pct", "%", self.acc_norm_stderr_pct),
            row("eval_time_s", "s", Some(self.eval_time_s)),
            row("latency_s_per_inference", "s", Some(self.latency_s_per_inference)),
            row("latency_p50_s", "s", self.latency_p50_s),
            row("latency_p95_s", "s", self.latency_p95_s),
            row("latency_p99_s", "s", self.latency_p99_s),
            row("throughput_inferences_per_s", "1/s", Some(self.throughput_inferences_per_s)),
            row("tokens", "", Some(self.tokens as f64)),
            row("tokens_per_s", "1/s", Some(self.tokens_per_s)),
            row("parameters_b", "B", Some(self.parameters_b)),
            row("total_energy_j", "J", self.total_energy_j),
            row("total_energy_wh", "Wh", self.total_energy_wh),
            row("energy_per_inference_j", "J", self.energy_per_inference_j),
            row("energy_per_inference_wh", "Wh", self.energy_per_inference_wh),
            row("idle_power_w", "W", self.idle_power_w),
            row("active_energy_j", "J", self.active_energy_j),
            row("active_energy_wh", "Wh", self.active_energy_wh),
            row("active_energy_per_inference_j", "J", self.active_energy_per_inference_j),
            row("average_power_w", "W", self.average_power_w),
            row("edp_js", "J*s", self.edp_js),
            row("edp_per_inference_js", "J*s", self.edp_per_inference_js),
            row("edp_per_billion_js", "J*s/B", self.edp_per_billion_js),
            row("wh_per_billion", "Wh/B", self.wh_per_billion),
            row("tokens_per_wh", "1/Wh", self.tokens_per_wh),
            row("accuracy_pct_per_wh", "%/Wh", self.accuracy_pct_per_wh),
            row("energy_per_correct_j", "J", self.energy_per_correct_j),
        ];
        for r in &self.rails {
            rows.push(row(&format!("rail_{}_energy_j", r.name), "J", r.energy_j));
            rows.push(row(&format!("rail_{}_energy_wh", r.name), "Wh", r.energy_wh));
            rows.push(row(
                &format!("rail_{}_energy_per_inference_j", r.name),
                "J",
                r.energy_per_inference_j,
            ));
            rows.push(row(&format!("rail_{}_average_power_w", r.name), "W", r.average_power_w));
        }
        rows
    }
}
