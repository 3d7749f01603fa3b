//! An experiment's summary: its metric set and the flags a reader must see with it, computed
//! from what the store holds (every segment's tasks, samples and phases).

use std::collections::BTreeMap;

use joulebench_abi::MeterInfo;
use joulebench_metrics::{
    AccuracyMetric, EnergyQuality, ExperimentFigures, MetricSet, MetricsError,
    RailEnergy as FigureRail, count_verdicts,
};
use joulebench_sampler::Trace;
use serde::{Deserialize, Serialize};

use crate::policy::{self, FULL_COVERAGE, MIN_COVERAGE, MIN_IDLE_S, MIN_WINDOW_S};
use crate::records::{IdleBaseline, LatencyRecord, PhaseRecord, SampleRecord, TaskRecord, phase};

/// What the runner stores as an experiment's summary, and what reports read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Which experiment, machine, model and dataset (flattened: stored as top-level keys).
    #[serde(flatten)]
    pub labels: SummaryLabels,
    /// The scoring convention.
    pub convention: String,
    /// The meter's name.
    pub meter: String,
    /// What the meter's total covers and misses.
    pub boundary: String,
    /// The metric set.
    pub metrics: MetricSet,
    /// Fraction of the evaluation window covered by meter samples.
    pub coverage: Option<f64>,
    /// Warnings a reader must see with the numbers (short window, drift, gaps, estimated).
    pub flags: Vec<String>,
    /// Seconds of the evaluation not spent in runtime calls (scoring, storing, progress).
    pub host_overhead_s: f64,
    /// `host_overhead_s` as a fraction of the evaluation time.
    pub host_overhead_fraction: f64,
    /// The conditions of the evaluation (temperatures, clocks, throttling, power settings) when
    /// the experiment sampled a state meter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<crate::Conditions>,
}

/// The labels of a summary that do not come from the store's numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryLabels {
    /// The experiment's manifest id.
    pub experiment: String,
    /// Its repeat number.
    pub repeat: u32,
    /// The machine.
    pub device: String,
    /// The runtime plugin's id and engine.
    pub runtime: String,
    /// The model's name.
    pub model: String,
    /// Its parameter count, as the runtime counted it.
    pub parameters: u64,
    /// Its nominal size in billions, when the manifest gives one (per-billion figures use it).
    #[serde(default)]
    pub nominal_parameters_b: Option<f64>,
    /// Its quantization.
    pub quantization: String,
    /// The dataset's name (`mmlu`, `hellaswag`, `winogrande`).
    pub dataset: String,
    /// The metric the dataset names as its headline (`acc`, or `acc_norm` for HellaSwag).
    #[serde(default)]
    pub dataset_metric: AccuracyMetric,
}

/// Everything recorded for one experiment, as the store holds it.
#[derive(Debug, Clone, Copy)]
pub struct ExperimentRecords<'a> {
    /// Every stored task, all segments.
    pub tasks: &'a [TaskRecord],
    /// Every stored phase, all segments.
    pub phases: &'a [PhaseRecord],
    /// The latency pass: tasks run alone, one per call.
    pub latencies: &'a [LatencyRecord],
    /// The idle baseline active energy is measured against (the run's, taken before its first
    /// experiment); `None` when none was taken.
    pub idle: Option<&'a IdleBaseline>,
    /// What a reader must know about the data ([`policy::data_caveats`]).
    pub caveats: &'a [String],
    /// Each segment's meter samples.
    pub samples: &'a BTreeMap<u32, Vec<SampleRecord>>,
    /// The meter the samples come from.
    pub meter: &'a MeterInfo,
    /// The sampling rate asked for, Hz.
    pub sample_hz: f64,
    /// The scoring convention's name.
    pub convention: &'a str,
    /// Seconds of the evaluation the host spent outside runtime calls.
    pub host_overhead_s: f64,
}

/// A segment's samples as a trace of `meter`.
pub fn trace_of(meter: &MeterInfo, sample_hz: f64, samples: &[SampleRecord]) -> Trace {
    let mut trace = Trace::new(meter.clone(), 1.0 / sample_hz);
    for s in samples {
        trace.push(s.t_s, &s.values);
    }
    trace.refresh_stats();
    trace
}

/// Builds an experiment's summary: the evaluation windows of all its segments, their energy by
/// the rules of [`policy`], the idle baseline, and the metric set.
pub fn summarize(
    records: ExperimentRecords<'_>,
    labels: SummaryLabels,
) -> Result<Summary, MetricsError> {
    let ExperimentRecords { tasks, phases, samples, meter, sample_hz, .. } = records;
    let mut eval_s = 0.0;
    let mut energy: Option<f64> = Some(0.0);
    let mut covered = 0.0;
    let mut rails: Vec<Option<f64>> = vec![Some(0.0); meter.rails.len()];
    let mut thirds: Vec<Option<f64>> = Vec::new();
    let mut flags = Vec::new();
    let mut segments: Vec<u32> = tasks.iter().map(|t| t.segment).collect();
    segments.sort_unstable();
    segments.dedup();
    for &segment in &segments {
        let trace = trace_of(meter, sample_hz, samples.get(&segment).map_or(&[], Vec::as_slice));
        let seg_tasks: Vec<&TaskRecord> = tasks.iter().filter(|t| t.segment == segment).collect();
        let find = |name: &str| phases.iter().find(|p| p.segment == segment && p.name == name);
        let start = find(phase::EVALUATION)
            .map(|p| p.t0_s)
            .unwrap_or_else(|| seg_tasks.iter().map(|t| t.t_start_s).fold(f64::INFINITY, f64::min));
        let end = seg_tasks.iter().map(|t| t.t_end_s).fold(f64::NEG_INFINITY, f64::max);
        if end <= start {
            continue;
        }
        eval_s += end - start;
        let window = trace.energy(start, end);
        match window.total.as_ref().and_then(policy::whole_window) {
            Some(j) => {
                energy = energy.map(|e| e + j);
                covered += window.total.as_ref().map_or(0.0, |e| e.coverage * e.window_s);
            }
            None => energy = None,
        }
        if let Some(e) = window.total.as_ref().filter(|e| e.coverage < FULL_COVERAGE) {
            flags.push(if e.coverage >= MIN_COVERAGE {
                format!(
                    "segment {segment}: samples cover {:.1}% of the evaluation; the rest is extrapolated at the covered mean power",
                    100.0 * e.coverage
                )
            } else {
                format!(
                    "segment {segment}: samples cover only {:.1}% of the evaluation: energy unavailable",
                    100.0 * e.coverage
                )
            });
        }
        for (acc, r) in rails.iter_mut().zip(&window.rails) {
            *acc = acc.zip(policy::whole_window(&r.energy)).map(|(a, b)| a + b);
        }
        if let Some(e) = &window.total
            && (e.gaps > 0 || e.read_errors > 0)
        {
            flags.push(format!(
                "segment {segment}: {} gaps (longest {:.2} s), {} failed reads",
                e.gaps, e.longest_gap_s, e.read_errors
            ));
        }
        let third = (end - start) / 3.0;
        thirds = vec![trace.mean_power(start, start + third), trace.mean_power(end - third, end)];
    }
    let idle_w = records.idle.and_then(|b| b.median_w);
    if let Some(b) = records.idle.filter(|b| b.median_w.is_some() && b.seconds < MIN_IDLE_S) {
        flags.push(format!(
            "short idle: the idle baseline lasted {:.1} s (< {MIN_IDLE_S} s), so active energy is uncertain",
            b.seconds
        ));
    }
    if eval_s < MIN_WINDOW_S {
        flags.push(format!("short window: {eval_s:.1} s of evaluation (< {MIN_WINDOW_S} s)"));
    }
    if let [Some(a), Some(b)] = thirds[..]
        && let Some(d) = policy::drift(a, b)
    {
        flags.push(format!("power drift {:.1}% between the first and last third", 100.0 * d));
    }
    flags.extend(records.caveats.iter().cloned());
    let quality = policy::total_quality(meter);
    match quality {
        EnergyQuality::Unavailable => {
            energy = None;
            flags.push("the meter has no total rail: energy unavailable".into());
        }
        EnergyQuality::Estimated => {
            flags.push("energy is estimated from a model, not measured".into())
        }
        EnergyQuality::Unknown => flags.push(
            "the meter's total rail has a quality code this joulebench does not know: its energy is not taken as measured".into(),
        ),
        EnergyQuality::Measured => {}
    }
    let (correct, correct_norm) = count_verdicts(tasks.iter().map(|t| (t.correct, t.correct_norm)));
    let figures = ExperimentFigures {
        tasks: tasks.len() as u64,
        correct,
        correct_norm,
        metric: labels.dataset_metric,
        eval_seconds: eval_s,
        eval_energy_j: energy,
        energy_quality: if energy.is_some() { quality } else { EnergyQuality::Unavailable },
        idle_power_w: idle_w,
        tokens: tasks.iter().map(|t| t.prompt_tokens).sum(),
        parameters: labels.parameters,
        nominal_parameters_b: labels.nominal_parameters_b,
        task_latencies_s: records.latencies.iter().map(|l| l.t_end_s - l.t_start_s).collect(),
        rails: meter
            .rails
            .iter()
            .zip(&rails)
            .map(|(r, e)| FigureRail { name: r.name.to_string(), energy_j: *e })
            .collect(),
    };
    let metrics = joulebench_metrics::compute(&figures)?;
    Ok(Summary {
        labels,
        convention: records.convention.into(),
        meter: meter.name.to_string(),
        boundary: meter.boundary.to_string(),
        metrics,
        coverage: (eval_s > 0.0 && energy.is_some()).then(|| covered / eval_s),
        flags,
        host_overhead_s: records.host_overhead_s,
        host_overhead_fraction: if eval_s > 0.0 { records.host_overhead_s / eval_s } else { 0.0 },
        conditions: None,
    })
}
