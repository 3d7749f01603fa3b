//! The tables: Markdown in the study's layout, and CSV and JSON with one record per experiment.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use joulebench_metrics::{MetricSet, stats};
use serde::Serialize;

use crate::{ExperimentRow, ReportError, ReportInput};

/// The study's benchmarks, in its column order, with their one-letter column names.
const KNOWN: [(&str, &str); 3] = [("mmlu", "M"), ("hellaswag", "H"), ("winogrande", "W")];

/// What an absent or unavailable cell shows.
const MISSING: &str = "–";
/// The mark on a figure computed from estimated energy.
const ESTIMATED: &str = "~";
/// The mark on a cell that averages several runs.
const AVERAGED: &str = "†";
/// The mark on a figure from a run that throttled.
const THROTTLED: &str = "‡";

fn throttled(e: &ExperimentRow) -> bool {
    e.conditions.as_ref().is_some_and(|c| c.throttled)
}

/// The datasets present, known ones first in the study's order, then the others by name.
pub(crate) fn datasets(input: &ReportInput) -> Vec<String> {
    let present: BTreeSet<&str> = input.experiments.iter().map(|e| e.dataset.as_str()).collect();
    let mut out: Vec<String> =
        KNOWN.iter().filter(|(d, _)| present.contains(d)).map(|(d, _)| d.to_string()).collect();
    out.extend(
        present.iter().filter(|d| !KNOWN.iter().any(|(k, _)| k == *d)).map(|d| d.to_string()),
    );
    out
}

fn short_name(dataset: &str) -> &str {
    KNOWN.iter().find(|(d, _)| *d == dataset).map_or(dataset, |(_, s)| s)
}

/// A number as a person reads it: three significant figures, scientific outside 0.01..1e5.
pub(crate) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        MISSING.to_string()
    } else if a == 0.0 {
        "0".to_string()
    } else if !(0.01..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A table row's identity: the experiments it gathers share these.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    device: String,
    model: String,
    runtime: String,
    convention: String,
}

fn key(e: &ExperimentRow) -> RowKey {
    RowKey {
        device: e.device.clone(),
        model: e.model.clone(),
        runtime: e.runtime.clone(),
        convention: e.convention.clone(),
    }
}

/// Row keys in the order their first experiment appears.
fn row_keys(input: &ReportInput) -> Vec<RowKey> {
    let mut keys: Vec<RowKey> = vec![];
    for e in &input.experiments {
        let k = key(e);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// One table cell from the runs it gathers: the mean of the available values, marked when the
/// energy behind it was estimated; where it averages several runs (repeats), the mean ± the
/// half-width of its 95 % t-interval, marked as averaged.
fn cell<'a>(
    runs: impl Iterator<Item = &'a ExperimentRow>,
    value: impl Fn(&MetricSet) -> Option<f64>,
    energy: bool,
    with: impl Fn(f64, &[&MetricSet]) -> String,
) -> String {
    let runs: Vec<&ExperimentRow> = runs.collect();
    let hot = runs.iter().any(|e| throttled(e));
    let sets: Vec<&MetricSet> = runs.iter().map(|e| &e.metrics).collect();
    let values: Vec<f64> = sets.iter().filter_map(|m| value(m)).collect();
    if values.is_empty() {
        return MISSING.to_string();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let mut s = with(mean, &sets);
    if let Some(hi) = stats::summarize(&values).and_then(|v| v.ci95_high) {
        let _ = write!(s, " ± {}", fmt_num(hi - mean));
    }
    if energy && sets.iter().any(|m| m.energy_quality.is_marked()) {
        s.push_str(ESTIMATED);
    }
    if values.len() > 1 {
        s.push_str(AVERAGED);
    }
    if hot {
        s.push_str(THROTTLED);
    }
    s
}

/// The mean of a cell over several benchmarks (no interval: they are not repeats).
fn mean_cell<'a>(
    runs: impl Iterator<Item = &'a ExperimentRow>,
    value: impl Fn(&MetricSet) -> Option<f64>,
    energy: bool,
) -> String {
    let runs: Vec<&ExperimentRow> = runs.collect();
    let sets: Vec<&MetricSet> = runs.iter().map(|e| &e.metrics).collect();
    let values: Vec<f64> = sets.iter().filter_map(|m| value(m)).collect();
    if values.is_empty() {
        return MISSING.to_string();
    }
    let mut s = fmt_num(values.iter().sum::<f64>() / values.len() as f64);
    if energy && sets.iter().any(|m| m.energy_quality.is_marked()) {
        s.push_str(ESTIMATED);
    }
    if runs.iter().any(|e| throttled(e)) {
        s.push_str(THROTTLED);
    }
    s
}

fn plain(v: f64, _: &[&MetricSet]) -> String {
    fmt_num(v)
}

fn accuracy(v: f64, sets: &[&MetricSet]) -> String {
    match sets {
        [one] => match one.accuracy_stderr_pct {
            Some(se) => format!("{v:.2} ± {se:.2}"),
            None => format!("{v:.2}"),
        },
        _ => format!("{v:.2}"),
    }
}

fn distinct<'a>(
    rows: impl IntoIterator<Item = &'a ExperimentRow>,
    f: impl Fn(&'a ExperimentRow) -> &'a str,
) -> Vec<&'a str> {
    let mut v: Vec<&str> = vec![];
    for e in rows {
        let s = f(e);
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

fn md_row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", c.replace('|', "\\|"));
    }
    out.push('\n');
}

fn md_header(out: &mut String, cells: &[String]) {
    md_row(out, cells);
    md_row(out, &vec!["---".to_string(); cells.len()]);
}

type Getter = fn(&MetricSet) -> Option<f64>;

/// The report as Markdown, in the seed study's layout.
///
/// Table 1 has one row per device x model (and runtime and convention, shown as columns when
/// they vary) and, for each of accuracy (with its standard error), total energy, latency and
/// EDP, one column per benchmark (M = MMLU, H = HellaSwag, W = Winogrande, then any other
/// dataset by name). Table 2 lists throughput per device x model x benchmark; table 3 the
/// per-billion figures averaged over a row's benchmarks, as the study did.
pub fn render_markdown(input: &ReportInput) -> String {
    let mut out = String::from("# joulebench report\n\n");
    if input.experiments.is_empty() {
        out.push_str("No experiments.\n");
        return out;
    }
    let sets = datasets(input);
    let runtimes = distinct(&input.experiments, |e| &e.runtime);
    let conventions = distinct(&input.experiments, |e| &e.convention);
    let meters: Vec<String> = {
        let mut v: Vec<String> = vec![];
        for e in &input.experiments {
            let s = format!("{} ({})", e.meter, e.metrics.energy_quality.as_str());
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    };
    let _ = writeln!(
        out,
        "{} experiments. Runtime: {}. Scoring: {}. Meter: {}.\n",
        input.experiments.len(),
        runtimes.join(", "),
        conventions.join(", "),
        meters.join(", ")
    );
    let legend: Vec<String> = sets.iter().map(|d| format!("{} = {d}", short_name(d))).collect();
    // Each benchmark's accuracy is its own headline metric (acc_norm for HellaSwag under
    // lm-eval); say which, per benchmark, as the stored metric sets recorded it.
    let metrics: Vec<String> = sets
        .iter()
        .map(|d| {
            let rows = input.experiments.iter().filter(|e| &e.dataset == d);
            format!("{d} {}", distinct(rows, |e| e.metrics.accuracy_metric.as_str()).join("/"))
        })
        .collect();
    let _ = writeln!(
        out,
        "Columns per benchmark: {}. Accuracy is each benchmark's own metric: {}. \
         {MISSING} = not run or unavailable. \
         {ESTIMATED} = computed from estimated energy (a model of the machine, not a sensor). \
         {AVERAGED} = mean of several runs ± the half-width of its 95 % t-interval. Energy is the gross energy of the evaluation phase; \
         EDP = energy (J) × evaluation time (s). Latency T/N = evaluation time / tasks, with \
         tasks batched (the study's latency per inference); a one-task latency is the time to \
         answer one task alone in its own call (the latency pass); processed tokens are every \
         prompt and generated token the runtime evaluated. Inferences/s is the study's Ops/s \
         for MMLU. Tokens/Wh = processed tokens / energy (Wh) for every benchmark, where the \
         study counted one token per MMLU question.\n",
        legend.join(", "),
        metrics.join(", ")
    );
    if input.experiments.iter().any(throttled) {
        let _ = writeln!(
            out,
            "{THROTTLED} = the board throttled during the run (its clocks fell or its throttle \
             flags rose): its figures are not those of the board at full speed; see Conditions.\n"
        );
    }

    let show_runtime = runtimes.len() > 1;
    let show_convention = conventions.len() > 1;
    let keys = row_keys(input);
    let lead = |k: &RowKey| {
        let mut c = vec![k.device.clone(), k.model.clone()];
        if show_runtime {
            c.push(k.runtime.clone());
        }
        if show_convention {
            c.push(k.convention.clone());
        }
        c
    };
    let mut lead_header = vec!["Device".to_string(), "Model".to_string()];
    if show_runtime {
        lead_header.push("Runtime".into());
    }
    if show_convention {
        lead_header.push("Scoring".into());
    }

    // Table 1.
    out.push_str("## Accuracy, energy, latency and EDP\n\n");
    let groups: [(&str, &str, Getter, bool); 4] = [
        ("Acc", "%", |m| Some(m.accuracy_pct), false),
        ("Energy", "Wh", |m| m.total_energy_wh, true),
        ("Latency T/N", "s", |m| Some(m.latency_s_per_inference), false),
        ("EDP", "J·s", |m| m.edp_js, true),
    ];
    let mut header = lead_header.clone();
    for (name, unit, _, _) in &groups {
        for d in &sets {
            header.push(format!("{name} {} ({unit})", short_name(d)));
        }
    }
    md_header(&mut out, &header);
    for k in &keys {
        let mut row = lead(k);
        for (i, (_, _, get, energy)) in groups.iter().enumerate() {
            for d in &sets {
                let runs = input.experiments.iter().filter(|e| key(e) == *k && e.dataset == *d);
                let fmt: fn(f64, &[&MetricSet]) -> String = if i == 0 { accuracy } else { plain };
                row.push(cell(runs, get, *energy, fmt));
            }
        }
        md_row(&mut out, &row);
    }

    // Table 2.
    out.push_str("\n## Throughput\n\n");
    let mut header = lead_header.clone();
    header.extend(
        [
            "Benchmark",
            "Tasks",
            "Inferences/s",
            "Processed tokens/s",
            "p50 one-task latency (s)",
            "p95 one-task latency (s)",
            "p99 one-task latency (s)",
            "Avg power (W)",
            "Energy/inference (J)",
        ]
        .map(String::from),
    );
    md_header(&mut out, &header);
    let columns: [(Getter, bool); 8] = [
        (|m| Some(m.tasks as f64), false),
        (|m| Some(m.throughput_inferences_per_s), false),
        (|m| Some(m.tokens_per_s), false),
        (|m| m.latency_p50_s, false),
        (|m| m.latency_p95_s, false),
        (|m| m.latency_p99_s, false),
        (|m| m.average_power_w, true),
        (|m| m.energy_per_inference_j, true),
    ];
    for k in &keys {
        for d in &sets {
            let runs: Vec<&ExperimentRow> =
                input.experiments.iter().filter(|e| key(e) == *k && e.dataset == *d).collect();
            if runs.is_empty() {
                continue;
            }
            let mut row = lead(k);
            row.push(d.clone());
            for (get, energy) in &columns {
                row.push(cell(runs.iter().copied(), get, *energy, plain));
            }
            md_row(&mut out, &row);
        }
    }

    // Table 3.
    out.push_str("\n## Per billion parameters (mean over the row's benchmarks)\n\n");
    out.push_str(
        "B divides by the nominal size where the manifest gives `parameters_b` (as the study \
         does), else by the parameters the runtime counted in the model file.\n\n",
    );
    let mut header = lead_header;
    header.extend(
        [
            "Counted params (B)",
            "Nominal params (B)",
            "Wh/B",
            "EDP/B (J·s/B)",
            "Tokens/Wh",
            "Accuracy/Wh (%/Wh)",
        ]
        .map(String::from),
    );
    md_header(&mut out, &header);
    let columns: [(Getter, bool); 6] = [
        (|m| Some(m.parameters_b), false),
        (|m| m.nominal_parameters_b, false),
        (|m| m.wh_per_billion, true),
        (|m| m.edp_per_billion_js, true),
        (|m| m.tokens_per_wh, true),
        (|m| m.accuracy_pct_per_wh, true),
    ];
    for k in &keys {
        let mut row = lead(k);
        for (get, energy) in &columns {
            // The mean over benchmarks is the point of this table: no "several runs" mark.
            let runs = input.experiments.iter().filter(|e| key(e) == *k);
            row.push(mean_cell(runs, get, *energy));
        }
        md_row(&mut out, &row);
    }
    conditions_table(&mut out, input);
    out
}

fn pct(v: Option<f64>) -> String {
    v.map_or(MISSING.to_string(), |v| format!("{:.0}", 100.0 * v))
}

fn celsius(v: Option<f64>) -> String {
    v.map_or(MISSING.to_string(), |v| format!("{v:.1}"))
}

/// Table 4, when any run recorded its conditions: power settings, temperatures, throttling.
fn conditions_table(out: &mut String, input: &ReportInput) {
    if input.experiments.iter().all(|e| e.conditions.is_none()) {
        return;
    }
    out.push_str("\n## Conditions\n\n");
    out.push_str(
        "The hottest temperature any sensor read during the evaluation, its time-weighted \
         mean, and the share of the evaluation spent throttled (throttle flags active) or with \
         the frequency capped.\n\n",
    );
    md_header(
        out,
        &[
            "Experiment",
            "Power mode",
            "Governor",
            "Max °C",
            "Mean °C",
            "Throttled %",
            "Capped %",
            "Flags",
        ]
        .map(String::from),
    );
    for e in &input.experiments {
        let Some(c) = &e.conditions else { continue };
        let or_missing = |v: &Option<String>| v.clone().unwrap_or_else(|| MISSING.to_string());
        let mut id = e.id.clone();
        if c.throttled {
            id.push_str(THROTTLED);
        }
        md_row(
            out,
            &[
                id,
                or_missing(&c.power_mode),
                or_missing(&c.governor),
                celsius(c.max_temp_c),
                celsius(c.mean_temp_c),
                pct(c.throttled_fraction),
                pct(c.capped_fraction),
                if c.flags.is_empty() { MISSING.to_string() } else { c.flags.join("; ") },
            ],
        );
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report as CSV: a header, then one line per experiment with what it was and every metric
/// of its set (names carry the units; rails that some experiments lack are left empty).
/// Unavailable values are empty fields; numbers are written in full precision.
pub fn render_csv(input: &ReportInput) -> String {
    let mut names: Vec<String> = vec![];
    let rows: Vec<Vec<(String, Option<f64>)>> = input
        .experiments
        .iter()
        .map(|e| e.metrics.rows().into_iter().map(|r| (r.name, r.value)).collect())
        .collect();
    for r in &rows {
        for (n, _) in r {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let fixed = [
        "id",
        "device",
        "model",
        "parameters",
        "runtime",
        "dataset",
        "convention",
        "meter",
        "energy_quality",
        "accuracy_metric",
    ];
    let with_conditions = input.experiments.iter().any(|e| e.conditions.is_some());
    let conditions = [
        "power_mode",
        "governor",
        "max_temp_c",
        "mean_temp_c",
        "throttled_fraction",
        "capped_fraction",
        "throttled",
    ];
    let mut out = String::new();
    let header: Vec<String> = fixed
        .iter()
        .map(|s| s.to_string())
        .chain(names.iter().cloned())
        .chain(conditions.iter().filter(|_| with_conditions).map(|s| s.to_string()))
        .collect();
    out.push_str(&header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","));
    out.push('\n');
    for (e, r) in input.experiments.iter().zip(&rows) {
        let mut fields: Vec<String> = [
            e.id.as_str(),
            &e.device,
            &e.model,
            &e.parameters.to_string(),
            &e.runtime,
            &e.dataset,
            &e.convention,
            &e.meter,
            e.metrics.energy_quality.as_str(),
            e.metrics.accuracy_metric.as_str(),
        ]
        .iter()
        .map(|s| csv_field(s))
        .collect();
        for n in &names {
            let v = r.iter().find(|(name, _)| name == n).and_then(|(_, v)| *v);
            fields.push(v.map_or(String::new(), |v| v.to_string()));
        }
        if with_conditions {
            let c = e.conditions.clone().unwrap_or_default();
            let num = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
            fields.extend([
                csv_field(c.power_mode.as_deref().unwrap_or("")),
                csv_field(c.governor.as_deref().unwrap_or("")),
                num(c.max_temp_c),
                num(c.mean_temp_c),
                num(c.throttled_fraction),
                num(c.capped_fraction),
                if e.conditions.is_some() { c.throttled.to_string() } else { String::new() },
            ]);
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct JsonExperiment<'a> {
    id: &'a str,
    device: &'a str,
    model: &'a str,
    parameters: u64,
    runtime: &'a str,
    dataset: &'a str,
    convention: &'a str,
    meter: &'a str,
    metrics: &'a MetricSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<&'a crate::RunConditions>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    experiments: Vec<JsonExperiment<'a>>,
}

/// The report as pretty-printed JSON: `{"experiments": [...]}`, each with what it was and its
/// full metric set (unavailable values are `null`). Power traces are left out: they belong to the
/// results store, not to a summary.
pub fn render_json(input: &ReportInput) -> Result<String, ReportError> {
    let report = JsonReport {
        experiments: input
            .experiments
            .iter()
            .map(|e| JsonExperiment {
                id: &e.id,
                device: &e.device,
                model: &e.model,
                parameters: e.parameters,
                runtime: &e.runtime,
                dataset: &e.dataset,
                convention: &e.convention,
                meter: &e.meter,
                metrics: &e.metrics,
                conditions: e.conditions.as_ref(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| ReportError::new(format!("cannot write the report as json: {e}")))
}
