//! The generation table: llama-bench's columns (model, size, params, backend, test, t/s) with
//! time to first token, inter-token latency and the energy per token of each phase beside them.
//!
//! The host fills one [`GenerationRow`] per shape of each generation experiment; this module only
//! formats. Rates print as llama-bench prints them, mean ± sample standard deviation over the
//! repetitions. Energy per token prints gross / active (idle power subtracted); estimated figures
//! carry the report's "~" mark, and a figure that is unavailable prints "–".

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::PowerTrace;
use crate::table::fmt_num;

/// A generation experiment's power trace with its phases: `load`, `warm-up`, and one `prefill`
/// and one `decode` band per measured request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationTrace {
    /// The experiment's id.
    pub id: String,
    /// The plot's title.
    pub title: String,
    /// The meter and the quality of its energy, for the key.
    pub meter: String,
    /// Samples and bands.
    pub trace: PowerTrace,
}

/// Writes the generation plots into `dir`, each as SVG and PNG, and returns the paths written:
///
/// - `decode_energy_vs_speed`: decode J per token against decode tokens/s, one point per shape,
///   colour per model and runtime, hollow where the energy is estimated;
/// - `generation_trace_<n>_<id>`: each trace's total power over time, with its load, warm-up,
///   prefill and decode bands shaded.
pub fn render_generation_plots(
    rows: &[GenerationRow],
    traces: &[GenerationTrace],
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, crate::ReportError> {
    crate::plot::generation::render(rows, traces, dir)
}

/// One shape of one generation experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationRow {
    /// The experiment's id.
    pub experiment: String,
    /// The machine.
    pub device: String,
    /// The model's name and quantization.
    pub model: String,
    /// The model file's size, bytes.
    pub size_bytes: u64,
    /// Its parameter count.
    pub parameters: u64,
    /// The runtime.
    pub runtime: String,
    /// The backend and threads.
    pub backend: String,
    /// The test (`pp512`, `tg128`, `pp512+tg128 @ d256`, or a dataset's name).
    pub test: String,
    /// Requests measured.
    pub requests: u64,
    /// Prefill tokens/s: mean and standard deviation.
    pub prefill_tps: Option<(f64, f64)>,
    /// Decode tokens/s: mean and standard deviation.
    pub decode_tps: Option<(f64, f64)>,
    /// Time to first token, mean, s.
    pub ttft_s: Option<f64>,
    /// Inter-token latency p50, p95, p99, s.
    pub itl_s: Option<(f64, f64, f64)>,
    /// Prefill J per prompt token: gross and active.
    pub prefill_j_per_token: (Option<f64>, Option<f64>),
    /// Decode J per generated token: gross and active.
    pub decode_j_per_token: (Option<f64>, Option<f64>),
    /// Model load: seconds and J (gross, active).
    pub load: (f64, Option<f64>, Option<f64>),
    /// Whether the energy is estimated rather than measured.
    pub estimated: bool,
}

fn size(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 { format!("{:.2} GiB", mib / 1024.0) } else { format!("{mib:.2} MiB") }
}

fn params(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.2} B", n as f64 / 1e9)
    } else {
        format!("{:.2} M", n as f64 / 1e6)
    }
}

fn rate(r: Option<(f64, f64)>) -> String {
    r.map_or("–".into(), |(m, s)| format!("{m:.2} ± {s:.2}"))
}

fn ms(s: Option<f64>) -> String {
    s.map_or("–".into(), |s| fmt_num(1e3 * s))
}

/// J/token with the estimate mark: `gross / active`.
fn joules(pair: (Option<f64>, Option<f64>), estimated: bool) -> String {
    let mark = if estimated { "~" } else { "" };
    let one = |j: Option<f64>| j.map_or("–".into(), |j| format!("{mark}{}", fmt_num(j)));
    format!("{} / {}", one(pair.0), one(pair.1))
}

/// The generation table as Markdown, with a legend; empty when there are no rows.
pub fn render_generation_markdown(rows: &[GenerationRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Generation\n\n");
    out.push_str(
        "| model | size | params | runtime | backend | test | pp t/s | tg t/s | TTFT ms | ITL p50 / p95 / p99 ms | prefill J/tok | decode J/tok |\n",
    );
    out.push_str("|---|--:|--:|---|---|---|--:|--:|--:|--:|--:|--:|\n");
    for r in rows {
        let itl = r.itl_s.map_or("–".into(), |(a, b, c)| {
            format!("{} / {} / {}", fmt_num(1e3 * a), fmt_num(1e3 * b), fmt_num(1e3 * c))
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.model,
            size(r.size_bytes),
            params(r.parameters),
            r.runtime,
            r.backend,
            r.test,
            rate(r.prefill_tps),
            rate(r.decode_tps),
            ms(r.ttft_s),
            itl,
            joules(r.prefill_j_per_token, r.estimated),
            joules(r.decode_j_per_token, r.estimated),
        );
    }
    out.push('\n');
    let mut loads: Vec<(&str, &GenerationRow)> = Vec::new();
    for r in rows {
        if !loads.iter().any(|(e, _)| *e == r.experiment) {
            loads.push((&r.experiment, r));
        }
    }
    for (e, r) in loads {
        let mark = if r.estimated { "~" } else { "" };
        let j = |j: Option<f64>| j.map_or("–".into(), |j| format!("{mark}{} J", fmt_num(j)));
        let _ = writeln!(
            out,
            "- {e}: model load {} s, {} gross / {} active",
            fmt_num(r.load.0),
            j(r.load.1),
            j(r.load.2)
        );
    }
    out.push_str(
        "\npp t/s: prompt tokens per second of prefill; tg t/s: decode steps per second after the \
         first token (mean ± sd over the repetitions). TTFT from the start of the prompt's \
         decoding. J/tok: gross / active (idle power subtracted); ~ estimated energy, – \
         unavailable.\n\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_print_llama_bench_columns_with_energy() {
        let row = GenerationRow {
            experiment: "gen".into(),
            device: "box".into(),
            model: "SmolLM2 Q4_1".into(),
            size_bytes: 100 * 1024 * 1024,
            parameters: 134_515_008,
            runtime: "llama (llama.cpp)".into(),
            backend: "cpu x2".into(),
            test: "tg16".into(),
            requests: 3,
            prefill_tps: None,
            decode_tps: Some((101.234, 2.5)),
            ttft_s: Some(0.0123),
            itl_s: Some((0.0098, 0.011, 0.02)),
            prefill_j_per_token: (None, None),
            decode_j_per_token: (Some(0.25), Some(0.125)),
            load: (0.5, Some(3.0), Some(1.0)),
            estimated: true,
        };
        let md = render_generation_markdown(&[row]);
        assert!(md.contains("| SmolLM2 Q4_1 | 100.00 MiB | 134.52 M | llama (llama.cpp) | cpu x2 | tg16 | – | 101.23 ± 2.50 | 12.3 | 9.80 / 11.0 / 20.0 | – / – | ~0.250 / ~0.125 |"), "{md}");
        assert!(md.contains("- gen: model load 0.500 s, ~3.00 J gross / ~1.00 J active"), "{md}");
        assert_eq!(render_generation_markdown(&[]), "");
    }
}
