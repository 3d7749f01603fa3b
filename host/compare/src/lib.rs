//! joulebench's comparisons: two sets of finished experiments (a *baseline* and a *candidate*)
//! side by side, every metric with its change, the 95 % interval of that change and whether it
//! is significant, and a regression gate over the result. No I/O: the host reads the stores and
//! hands over [`Run`]s; the renderers return strings.
//!
//! - [`pair`] matches the two sides into cells: experiments on the same dataset and scoring
//!   convention, and on the same value of every other axis that both sides share (so
//!   `--by model` over a store of two models and three datasets gives three cells).
//! - [`compare`] computes each cell's rows with the test that suits the figure
//!   ([`significance`]): McNemar's paired test for accuracy on the same tasks, Welch's t-test for
//!   time, energy and power figures repeated over runs, a seeded bootstrap for per-task latency
//!   quantiles.
//! - [`gate`] checks rules such as `energy_per_inference > +5%` against the comparison: a rule
//!   fails only when the change is beyond its threshold and significant.
//! - [`render`] writes the comparison as Markdown, CSV, JSON, or the `name`/`unit`/`value` list
//!   that CI benchmark actions read.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;

use joulebench_metrics::MetricSet;
use serde::{Deserialize, Serialize};

pub mod gate;
pub mod render;
pub mod significance;

pub use gate::{GateOutcome, Rule, gate};
pub use significance::{Bootstrap, TestResult};

/// The axes that are never the thing compared: accuracy on different tasks is not a change.
pub const PAIRING_AXES: [&str; 2] = ["dataset", "convention"];

/// One finished experiment (one repeat) as a comparison sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// How a reader names it: the experiment's id, with `#repeat` after the first.
    pub label: String,
    /// What it ran on, by axis: `device`, `runtime`, `model`, `quantization`, `dataset`,
    /// `convention`, `meter`.
    pub axes: BTreeMap<String, String>,
    /// Its metric set.
    pub metrics: MetricSet,
    /// Each task's verdict by the experiment's headline metric: (task id, correct).
    pub verdicts: Vec<(String, bool)>,
    /// The per-task latencies of its latency pass, s.
    pub latencies_s: Vec<f64>,
}

/// Why two sets of experiments cannot be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareError {
    message: String,
}

impl CompareError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        CompareError { message: message.into() }
    }
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompareError {}

/// Experiments of both sides that are compared with each other.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The axis values both sides share here (`dataset = winogrande`, ...).
    pub key: Vec<(String, String)>,
    /// The baseline's runs (repeats), first repeat first.
    pub baseline: Vec<Run>,
    /// The candidate's runs.
    pub candidate: Vec<Run>,
}

/// The two sides matched into cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Pairing {
    /// The axes on which the sides differ (what is being compared), with each side's value.
    pub compared: Vec<(String, String, String)>,
    /// The cells, in the baseline's order.
    pub cells: Vec<Cell>,
    /// Runs with no counterpart on the other side, as "side: label (why)".
    pub unmatched: Vec<String>,
}

fn values_of(runs: &[Run], axis: &str) -> Vec<String> {
    let mut v: Vec<String> = vec![];
    for r in runs {
        let s = r.axes.get(axis).cloned().unwrap_or_default();
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// Matches baseline and candidate runs into cells. The dataset and convention always match;
/// any other axis whose set of values is the same on both sides matches too, and the axes that
/// differ are what the comparison is about. A side of a cell must agree on every compared axis
/// (else it would average two systems), and both sides must be non-empty.
pub fn pair(baseline: Vec<Run>, candidate: Vec<Run>) -> Result<Pairing, CompareError> {
    if baseline.is_empty() {
        return Err(CompareError::new("the baseline selects no finished experiment"));
    }
    if candidate.is_empty() {
        return Err(CompareError::new("the candidate selects no finished experiment"));
    }
    let mut axes: Vec<String> = vec![];
    for r in baseline.iter().chain(&candidate) {
        for a in r.axes.keys() {
            if !axes.contains(a) {
                axes.push(a.clone());
            }
        }
    }
    let mut shared = vec![];
    let mut compared = vec![];
    for a in &axes {
        let (mut vb, mut vc) = (values_of(&baseline, a), values_of(&candidate, a));
        if PAIRING_AXES.contains(&a.as_str()) {
            shared.push(a.clone());
            continue;
        }
        let (b_text, c_text) = (vb.join(", "), vc.join(", "));
        vb.sort();
        vc.sort();
        if vb == vc {
            shared.push(a.clone());
        } else {
            compared.push((a.clone(), b_text, c_text));
        }
    }
    let key_of = |r: &Run| -> Vec<(String, String)> {
        shared.iter().map(|a| (a.clone(), r.axes.get(a).cloned().unwrap_or_default())).collect()
    };
    let mut cells: Vec<Cell> = vec![];
    for r in &baseline {
        let key = key_of(r);
        match cells.iter_mut().find(|c| c.key == key) {
            Some(c) => c.baseline.push(r.clone()),
            None => cells.push(Cell { key, baseline: vec![r.clone()], candidate: vec![] }),
        }
    }
    let mut unmatched = vec![];
    for r in &candidate {
        match cells.iter_mut().find(|c| c.key == key_of(r)) {
            Some(c) => c.candidate.push(r.clone()),
            None => unmatched.push(format!(
                "candidate: {} (no baseline on {})",
                r.label,
                show_key(&key_of(r))
            )),
        }
    }
    for c in cells.iter().filter(|c| c.candidate.is_empty()) {
        for r in &c.baseline {
            unmatched.push(format!("baseline: {} (no candidate on {})", r.label, show_key(&c.key)));
        }
    }
    cells.retain(|c| !c.candidate.is_empty());
    for c in &cells {
        for (side, runs) in [("baseline", &c.baseline), ("candidate", &c.candidate)] {
            for (axis, _, _) in &compared {
                let v = values_of(runs, axis);
                if v.len() > 1 {
                    return Err(CompareError::new(format!(
                        "the {side} holds several {axis}s ({}) on {}: select one per side",
                        v.join(", "),
                        show_key(&c.key)
                    )));
                }
            }
        }
    }
    if cells.is_empty() {
        return Err(CompareError::new(format!(
            "no experiment of the baseline matches one of the candidate on dataset and convention: {}",
            unmatched.join("; ")
        )));
    }
    Ok(Pairing { compared, cells, unmatched })
}

/// `dataset = winogrande, model = x` with the varying-free axes a reader needs.
pub fn show_key(key: &[(String, String)]) -> String {
    key.iter().map(|(a, v)| format!("{a} = {v}")).collect::<Vec<_>>().join(", ")
}

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// More is better (accuracy, throughput).
    Higher,
    /// Less is better (time, energy, power).
    Lower,
}

/// Which test a row used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// McNemar's paired test.
    Mcnemar,
    /// Welch's t-test over repeats.
    Welch,
    /// A bootstrap of per-task values.
    Bootstrap,
    /// None could be applied (one run a side, values missing): the row shows the values only.
    None,
}

/// One metric of one cell, compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The metric's name as in the metric set (`energy_per_inference_j`).
    pub metric: String,
    /// Its unit (`%` for accuracy, whose differences are in points).
    pub unit: String,
    /// Which way it improves.
    pub better: Better,
    /// The baseline's value (mean over runs; accuracy over the paired tasks).
    pub baseline: Option<f64>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// Candidate − baseline, in the metric's unit (points for accuracy).
    pub difference: Option<f64>,
    /// Candidate / baseline − 1, as a fraction.
    pub relative: Option<f64>,
    /// The 95 % interval of the difference.
    pub ci95: Option<(f64, f64)>,
    /// The two-sided p-value.
    pub p_value: Option<f64>,
    /// Whether the change is significant at the comparison's α.
    pub significant: bool,
    /// The test used.
    pub test: Test,
    /// The test in words, or why there is none.
    pub method: String,
    /// Values behind each side: runs, paired tasks or per-task latencies.
    pub n: (usize, usize),
    /// Whether either side's figure comes from estimated energy (and so the change does).
    pub estimated: bool,
    /// Whether the baseline's figure does.
    pub baseline_estimated: bool,
    /// Whether the candidate's figure does.
    pub candidate_estimated: bool,
}

impl Row {
    /// Whether a significant change goes the bad way.
    pub fn is_worse(&self) -> bool {
        let d = self.difference.unwrap_or(0.0);
        match self.better {
            Better::Higher => d < 0.0,
            Better::Lower => d > 0.0,
        }
    }
}

/// One cell, compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellComparison {
    /// The axis values both sides share.
    pub key: Vec<(String, String)>,
    /// The baseline's runs.
    pub baseline: Vec<String>,
    /// The candidate's runs.
    pub candidate: Vec<String>,
    /// The metrics.
    pub rows: Vec<Row>,
    /// What a reader must know (tasks that are not shared, say).
    pub notes: Vec<String>,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// How the baseline was chosen.
    pub baseline: String,
    /// How the candidate was chosen.
    pub candidate: String,
    /// The significance level.
    pub alpha: f64,
    /// The bootstrap's settings.
    pub bootstrap: Bootstrap,
    /// The axes that differ: (axis, baseline's values, candidate's values).
    pub compared: Vec<(String, String, String)>,
    /// The cells.
    pub cells: Vec<CellComparison>,
    /// Runs left out for want of a counterpart.
    pub unmatched: Vec<String>,
}

/// Settings of [`compare`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// How the baseline was chosen (for the reader).
    pub baseline: String,
    /// How the candidate was chosen.
    pub candidate: String,
    /// Significance level, 0.05 by default.
    pub alpha: f64,
    /// The latency bootstrap's settings.
    pub bootstrap: Bootstrap,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            baseline: "baseline".into(),
            candidate: "candidate".into(),
            alpha: 0.05,
            bootstrap: Bootstrap::default(),
        }
    }
}

type Getter = fn(&MetricSet) -> Option<f64>;

/// The figures repeated runs are compared on with Welch's test: (name, unit, better, uses
/// energy, value).
const REPEATED: [(&str, &str, Better, bool, Getter); 10] = [
    ("latency_s_per_inference", "s", Better::Lower, false, |m| Some(m.latency_s_per_inference)),
    ("throughput_inferences_per_s", "1/s", Better::Higher, false, |m| {
        Some(m.throughput_inferences_per_s)
    }),
    ("tokens_per_s", "1/s", Better::Higher, false, |m| Some(m.tokens_per_s)),
    ("energy_per_inference_j", "J", Better::Lower, true, |m| m.energy_per_inference_j),
    ("active_energy_per_inference_j", "J", Better::Lower, true, |m| {
        m.active_energy_per_inference_j
    }),
    ("total_energy_wh", "Wh", Better::Lower, true, |m| m.total_energy_wh),
    ("average_power_w", "W", Better::Lower, true, |m| m.average_power_w),
    ("edp_per_inference_js", "J*s", Better::Lower, true, |m| m.edp_per_inference_js),
    ("tokens_per_wh", "1/Wh", Better::Higher, true, |m| m.tokens_per_wh),
    ("energy_per_correct_j", "J", Better::Lower, true, |m| m.energy_per_correct_j),
];

/// Per-task latency quantiles compared by bootstrap: (name, percentile).
const QUANTILES: [(&str, f64); 2] = [("latency_p50_s", 50.0), ("latency_p95_s", 95.0)];

fn relative(b: Option<f64>, c: Option<f64>) -> Option<f64> {
    match (b, c) {
        (Some(b), Some(c)) if b != 0.0 => Some(c / b - 1.0),
        _ => None,
    }
}

fn accuracy_row(cell: &Cell, alpha: f64, notes: &mut Vec<String>) -> Row {
    let (b, c) = (&cell.baseline[0], &cell.candidate[0]);
    let theirs: BTreeMap<&str, bool> = c.verdicts.iter().map(|(t, v)| (t.as_str(), *v)).collect();
    let (mut n, mut only_b, mut only_c, mut right_b, mut right_c) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (task, vb) in &b.verdicts {
        let Some(&vc) = theirs.get(task.as_str()) else { continue };
        n += 1;
        right_b += u64::from(*vb);
        right_c += u64::from(vc);
        match (*vb, vc) {
            (true, false) => only_b += 1,
            (false, true) => only_c += 1,
            _ => {}
        }
    }
    if n < b.verdicts.len() as u64 || n < c.verdicts.len() as u64 {
        notes.push(format!(
            "accuracy is compared on the {n} tasks both sides answered ({} and {} in all)",
            b.verdicts.len(),
            c.verdicts.len()
        ));
    }
    if cell.baseline.len() > 1 || cell.candidate.len() > 1 {
        notes.push("accuracy pairs the tasks of each side's first run".into());
    }
    let mut row = Row {
        metric: "accuracy_pct".into(),
        unit: "%".into(),
        better: Better::Higher,
        baseline: (n > 0).then(|| 100.0 * right_b as f64 / n as f64),
        candidate: (n > 0).then(|| 100.0 * right_c as f64 / n as f64),
        difference: None,
        relative: None,
        ci95: None,
        p_value: None,
        significant: false,
        test: Test::None,
        method: "no tasks in common".into(),
        n: (n as usize, n as usize),
        estimated: false,
        baseline_estimated: false,
        candidate_estimated: false,
    };
    row.relative = relative(row.baseline, row.candidate);
    if let Some(t) = significance::mcnemar(only_b, only_c, n) {
        row.difference = Some(100.0 * t.difference);
        row.ci95 = t.ci95.map(|(lo, hi)| (100.0 * lo, 100.0 * hi));
        row.p_value = t.p_value;
        row.significant = t.p_value.is_some_and(|p| p < alpha);
        row.test = Test::Mcnemar;
        row.method = t.method;
    }
    row
}

fn repeated_row(cell: &Cell, spec: &(&str, &str, Better, bool, Getter), alpha: f64) -> Row {
    let (name, unit, better, energy, get) = *spec;
    let vb: Vec<f64> = cell.baseline.iter().filter_map(|r| get(&r.metrics)).collect();
    let vc: Vec<f64> = cell.candidate.iter().filter_map(|r| get(&r.metrics)).collect();
    let mean = joulebench_metrics::stats::mean;
    let (b, c) = (mean(&vb), mean(&vc));
    let marked = |runs: &[Run]| energy && runs.iter().any(|r| r.metrics.energy_quality.is_marked());
    let (baseline_estimated, candidate_estimated) =
        (marked(&cell.baseline), marked(&cell.candidate));
    let mut row = Row {
        metric: name.into(),
        unit: unit.into(),
        better,
        baseline: b,
        candidate: c,
        difference: b.zip(c).map(|(b, c)| c - b),
        relative: relative(b, c),
        ci95: None,
        p_value: None,
        significant: false,
        test: Test::None,
        method: if vb.is_empty() || vc.is_empty() {
            "unavailable on one side".into()
        } else {
            "needs 2 runs a side (repeats) for a test".into()
        },
        n: (vb.len(), vc.len()),
        estimated: baseline_estimated || candidate_estimated,
        baseline_estimated,
        candidate_estimated,
    };
    if let Some(t) = significance::welch(&vb, &vc) {
        row.ci95 = t.ci95;
        row.p_value = t.p_value;
        row.significant = t.p_value.is_some_and(|p| p < alpha);
        row.test = Test::Welch;
        row.method = t.method;
    }
    row
}

fn quantile_row(cell: &Cell, name: &str, q: f64, options: &Options) -> Row {
    let pool = |runs: &[Run]| -> Vec<f64> {
        runs.iter().flat_map(|r| r.latencies_s.iter().copied()).collect()
    };
    let (vb, vc) = (pool(&cell.baseline), pool(&cell.candidate));
    let p = joulebench_metrics::stats::percentile;
    let (b, c) = (p(&vb, q), p(&vc, q));
    let mut row = Row {
        metric: name.into(),
        unit: "s".into(),
        better: Better::Lower,
        baseline: b,
        candidate: c,
        difference: b.zip(c).map(|(b, c)| c - b),
        relative: relative(b, c),
        ci95: None,
        p_value: None,
        significant: false,
        test: Test::None,
        method: "needs 2 per-task latencies a side (a latency pass)".into(),
        n: (vb.len(), vc.len()),
        estimated: false,
        baseline_estimated: false,
        candidate_estimated: false,
    };
    if let Some(t) = significance::bootstrap(&vb, &vc, q, options.bootstrap) {
        row.ci95 = t.ci95;
        row.p_value = t.p_value;
        // The percentile interval decides: it is what the reader sees.
        row.significant = t.ci95.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0);
        row.test = Test::Bootstrap;
        row.method = t.method;
    }
    row
}

/// Compares every cell of a pairing.
pub fn compare(pairing: Pairing, options: &Options) -> Comparison {
    let cells = pairing
        .cells
        .iter()
        .map(|cell| {
            let mut notes = vec![];
            let mut rows = vec![accuracy_row(cell, options.alpha, &mut notes)];
            rows.extend(REPEATED.iter().map(|spec| repeated_row(cell, spec, options.alpha)));
            rows.extend(QUANTILES.iter().map(|(name, q)| quantile_row(cell, name, *q, options)));
            CellComparison {
                key: cell.key.clone(),
                baseline: cell.baseline.iter().map(|r| r.label.clone()).collect(),
                candidate: cell.candidate.iter().map(|r| r.label.clone()).collect(),
                rows,
                notes,
            }
        })
        .collect();
    Comparison {
        baseline: options.baseline.clone(),
        candidate: options.candidate.clone(),
        alpha: options.alpha,
        bootstrap: options.bootstrap,
        compared: pairing.compared,
        cells,
        unmatched: pairing.unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joulebench_metrics::{EnergyQuality, ExperimentFigures, compute};

    fn run(label: &str, model: &str, dataset: &str) -> Run {
        let figures = ExperimentFigures {
            tasks: 2,
            correct: 1,
            correct_norm: None,
            metric: Default::default(),
            eval_seconds: 1.0,
            eval_energy_j: Some(2.0),
            energy_quality: EnergyQuality::Measured,
            idle_power_w: None,
            tokens: 10,
            parameters: 1,
            nominal_parameters_b: None,
            task_latencies_s: vec![],
            rails: vec![],
        };
        Run {
            label: label.into(),
            axes: [("model", model), ("dataset", dataset)]
                .map(|(a, v)| (a.to_string(), v.to_string()))
                .into_iter()
                .collect(),
            metrics: compute(&figures).unwrap(),
            verdicts: vec![("t0".into(), true), ("t1".into(), false)],
            latencies_s: vec![],
        }
    }

    #[test]
    fn pairing_matches_datasets_and_refuses_mixed_sides() {
        let p = pair(
            vec![run("a-w", "A", "w"), run("a-h", "A", "h")],
            vec![run("b-w", "B", "w"), run("b-x", "B", "x")],
        )
        .unwrap();
        assert_eq!(p.compared, vec![("model".into(), "A".into(), "B".into())]);
        assert_eq!(p.cells.len(), 1);
        assert_eq!(p.cells[0].key, vec![("dataset".to_string(), "w".to_string())]);
        assert_eq!(
            p.unmatched,
            vec![
                "candidate: b-x (no baseline on dataset = x)",
                "baseline: a-h (no candidate on dataset = h)"
            ]
        );
        // Two models against one: the baseline would average two systems.
        let e = pair(vec![run("a", "A", "w"), run("c", "C", "w")], vec![run("b", "B", "w")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("the baseline holds several models (A, C) on dataset = w"), "{e}");
        let e = pair(vec![run("a", "A", "w")], vec![run("b", "B", "h")]).unwrap_err().to_string();
        assert!(e.contains("no experiment of the baseline matches"), "{e}");
        assert!(pair(vec![], vec![run("b", "B", "h")]).is_err());
    }
}
