//! A comparison as text: Markdown for people, CSV for spreadsheets, JSON for programs, and the
//! `name`/`unit`/`value` list of CI benchmark actions (github-action-benchmark's
//! `customSmallerIsBetter`).

use std::fmt::Write as _;

use serde::Serialize;

use crate::{Better, CellComparison, Comparison, GateOutcome, Row, Test};

/// What an unavailable figure prints as.
const MISSING: &str = "–";
/// The mark on a figure from estimated energy.
const ESTIMATED: &str = "~";

/// A number with three significant figures, scientific outside 0.01..1e5 (as the report's).
pub fn fmt_num(v: f64) -> String {
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

fn signed(v: f64) -> String {
    let s = fmt_num(v);
    if v > 0.0 { format!("+{s}") } else { s }
}

fn p_text(p: f64) -> String {
    if p < 0.001 { "< 0.001".into() } else { format!("{p:.3}") }
}

/// A row's value on one side, marked when estimated.
pub fn value_text(row: &Row, v: Option<f64>, estimated: bool) -> String {
    match v {
        None => MISSING.into(),
        Some(v) if row.unit == "%" => format!("{v:.2}"),
        Some(v) => format!("{}{}", fmt_num(v), if estimated { ESTIMATED } else { "" }),
    }
}

/// The baseline's value as text.
pub fn baseline_text(row: &Row) -> String {
    value_text(row, row.baseline, row.baseline_estimated)
}

/// The candidate's value as text.
pub fn candidate_text(row: &Row) -> String {
    value_text(row, row.candidate, row.candidate_estimated)
}

/// A row's change: points for accuracy, else the difference and the relative change; marked
/// `~` when either side's figure is estimated.
pub fn change_text(row: &Row) -> String {
    let mark = if row.estimated { ESTIMATED } else { "" };
    match (row.difference, row.relative) {
        (Some(d), _) if row.unit == "%" => format!("{d:+.2} pt"),
        (Some(d), Some(r)) => format!("{} {} ({:+.1} %){mark}", signed(d), row.unit, 100.0 * r),
        (Some(d), None) => format!("{} {}{mark}", signed(d), row.unit),
        _ => MISSING.into(),
    }
}

/// The 95 % interval of a row's change.
pub fn ci_text(row: &Row) -> String {
    match row.ci95 {
        Some((lo, hi)) if row.unit == "%" => format!("[{lo:+.2}, {hi:+.2}] pt"),
        Some((lo, hi)) => format!("[{}, {}] {}", signed(lo), signed(hi), row.unit),
        None => MISSING.into(),
    }
}

/// The p-value with the test that gave it.
pub fn p_cell(row: &Row) -> String {
    match row.p_value {
        Some(p) => p_text(p),
        None => MISSING.into(),
    }
}

/// `better`, `worse`, `no` (not significant) or `untested`.
pub fn verdict(row: &Row) -> &'static str {
    match (row.test, row.significant) {
        (Test::None, _) => "untested",
        (_, false) => "no",
        (_, true) if row.is_worse() => "worse",
        (_, true) => "better",
    }
}

/// The shared axes that tell the cells apart (the dataset always).
pub fn cell_title(comparison: &Comparison, cell: &CellComparison) -> String {
    let varying: Vec<&str> = cell
        .key
        .iter()
        .filter(|(axis, value)| {
            axis == "dataset"
                || comparison
                    .cells
                    .iter()
                    .any(|c| c.key.iter().any(|(a, v)| a == axis && v != value))
        })
        .map(|(_, v)| v.as_str())
        .collect();
    varying.join(" · ")
}

fn md_row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", c.replace('|', "\\|"));
    }
    out.push('\n');
}

/// The comparison as Markdown: one table per cell; significant changes in bold, with
/// `worse`/`better` in the last column.
pub fn markdown(comparison: &Comparison, gate: &[GateOutcome]) -> String {
    let mut out = String::from("# joulebench compare\n\n");
    let _ =
        writeln!(out, "Baseline: {}. Candidate: {}.", comparison.baseline, comparison.candidate);
    for (axis, b, c) in &comparison.compared {
        let _ = writeln!(out, "Compared {axis}: {b} → {c}.");
    }
    let _ = writeln!(
        out,
        "\nChange = candidate − baseline, with its 95 % interval. Significant at α = {} \
         (**bold**, and `worse`/`better`): accuracy by McNemar's paired test on the same tasks, \
         repeated figures by Welch's t-test over runs, per-task latency quantiles by a bootstrap \
         ({} resamples, seed {:#x}). {ESTIMATED} = from estimated energy. {MISSING} = unavailable.",
        comparison.alpha, comparison.bootstrap.resamples, comparison.bootstrap.seed
    );
    for cell in &comparison.cells {
        let _ = writeln!(
            out,
            "\n## {}\n\nBaseline: {}. Candidate: {}.\n",
            cell_title(comparison, cell),
            cell.baseline.join(", "),
            cell.candidate.join(", ")
        );
        md_row(
            &mut out,
            &["Metric", "Baseline", "Candidate", "Change", "95 % CI", "p", "Test", "Significant"]
                .map(String::from),
        );
        md_row(&mut out, &vec!["---".to_string(); 8]);
        for row in &cell.rows {
            let bold = |s: String| if row.significant { format!("**{s}**") } else { s };
            md_row(
                &mut out,
                &[
                    row.metric.clone(),
                    baseline_text(row),
                    candidate_text(row),
                    bold(change_text(row)),
                    ci_text(row),
                    p_cell(row),
                    row.method.clone(),
                    verdict(row).to_string(),
                ],
            );
        }
        for n in &cell.notes {
            let _ = writeln!(out, "\nNote: {n}.");
        }
    }
    for u in &comparison.unmatched {
        let _ = writeln!(out, "\nNot compared: {u}.");
    }
    if !gate.is_empty() {
        out.push_str("\n## Gate\n\n");
        for g in gate {
            let change = g.change.map_or(MISSING.to_string(), |c| format!("{c:+.3}"));
            let status = if g.failed {
                "FAILED"
            } else if !g.tested {
                "pass (untested)"
            } else {
                "pass"
            };
            let _ = writeln!(
                out,
                "- {status}: `{}` on {} ({}): change {change}, {}",
                g.rule,
                g.cell,
                g.metric,
                if g.significant { "significant" } else { "not significant" }
            );
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// The comparison as CSV: one line per cell and metric, numbers in full precision, unavailable
/// values empty.
pub fn csv(comparison: &Comparison) -> String {
    let mut out = String::from(
        "cell,metric,unit,baseline,candidate,difference,relative,ci95_low,ci95_high,p_value,significant,verdict,test,method,n_baseline,n_candidate,baseline_estimated,candidate_estimated\n",
    );
    for cell in &comparison.cells {
        let title = cell_title(comparison, cell);
        for r in &cell.rows {
            let fields = [
                csv_field(&title),
                r.metric.clone(),
                csv_field(&r.unit),
                opt(r.baseline),
                opt(r.candidate),
                opt(r.difference),
                opt(r.relative),
                opt(r.ci95.map(|c| c.0)),
                opt(r.ci95.map(|c| c.1)),
                opt(r.p_value),
                r.significant.to_string(),
                verdict(r).into(),
                serde_json::to_string(&r.test).unwrap_or_default().trim_matches('"').to_string(),
                csv_field(&r.method),
                r.n.0.to_string(),
                r.n.1.to_string(),
                r.baseline_estimated.to_string(),
                r.candidate_estimated.to_string(),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

/// One entry of a CI benchmark action's list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchEntry {
    /// `cell / metric`.
    pub name: String,
    /// The unit.
    pub unit: String,
    /// The candidate's value.
    pub value: f64,
    /// `± half-width` of the 95 % interval of the change, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// The baseline, the change and its significance in words.
    pub extra: String,
}

/// The candidate's figures where smaller is better, as github-action-benchmark's
/// `customSmallerIsBetter` reads them; accuracy enters as its error rate (100 − accuracy).
pub fn bench(comparison: &Comparison) -> Vec<BenchEntry> {
    let mut out = vec![];
    for cell in &comparison.cells {
        let title = cell_title(comparison, cell);
        for r in &cell.rows {
            let Some(value) = r.candidate else { continue };
            let (name, value) = match (r.better, r.unit.as_str()) {
                (Better::Lower, _) => (r.metric.clone(), value),
                (Better::Higher, "%") => ("error_pct".to_string(), 100.0 - value),
                (Better::Higher, _) => continue,
            };
            out.push(BenchEntry {
                name: format!("{title} / {name}"),
                unit: r.unit.clone(),
                value,
                range: r.ci95.map(|(lo, hi)| format!("± {}", fmt_num((hi - lo) / 2.0))),
                extra: format!(
                    "baseline {}; change {}; p {}; {}",
                    baseline_text(r),
                    change_text(r),
                    p_cell(r),
                    verdict(r)
                ),
            });
        }
    }
    out
}

#[derive(Serialize)]
struct JsonOut<'a> {
    #[serde(flatten)]
    comparison: &'a Comparison,
    gate: &'a [GateOutcome],
    passed: bool,
    benchmark: Vec<BenchEntry>,
}

/// The comparison as JSON: every cell and row, the gate's outcomes, `passed`, and `benchmark`
/// (the [`bench`] list).
pub fn json(comparison: &Comparison, gate: &[GateOutcome]) -> String {
    let out = JsonOut {
        comparison,
        gate,
        passed: !gate.iter().any(|g| g.failed),
        benchmark: bench(comparison),
    };
    serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}
