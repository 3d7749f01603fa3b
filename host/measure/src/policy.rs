//! The measurement rules' thresholds, and the rules that use them.
//!
//! `docs/metrics.md` explains each one; change them here and there together.

use joulebench_abi::{Convention, MeterInfo, Quality, RailRole};
use joulebench_metrics::EnergyQuality;
use joulebench_sampler::Energy;

/// Evaluation windows shorter than this are flagged: a meter's update interval and the edges of
/// the window weigh too much in a short one.
pub const MIN_WINDOW_S: f64 = 60.0;
/// Mean power drift between the first and last third of the evaluation, or between the idle
/// baselines before and after a run, that is flagged.
pub const MAX_DRIFT: f64 = 0.05;
/// Idle baselines shorter than this flag the active energy built on them.
pub const MIN_IDLE_S: f64 = 60.0;
/// Coverage at or above which a window's energy is taken as measured over the whole window.
pub const FULL_COVERAGE: f64 = 0.999;
/// Coverage below which a window's energy is unavailable rather than extrapolated.
pub const MIN_COVERAGE: f64 = 0.5;

/// A window's energy over the whole window: the covered energy when the samples cover it, else
/// the covered mean power times the window (flagged by the caller), and unavailable when less
/// than [`MIN_COVERAGE`] of it is covered.
pub fn whole_window(e: &Energy) -> Option<f64> {
    if e.coverage >= FULL_COVERAGE {
        e.joules
    } else if e.coverage >= MIN_COVERAGE {
        e.mean_power_w().map(|w| w * e.window_s)
    } else {
        None
    }
}

/// The relative drift between two mean powers, when it exceeds [`MAX_DRIFT`].
pub fn drift(first_third_w: f64, last_third_w: f64) -> Option<f64> {
    let d = (last_third_w - first_third_w).abs() / first_third_w.max(1e-12);
    (d > MAX_DRIFT).then_some(d)
}

/// The quality of the meter's total: measured only when the meter says so with a code this host
/// knows; an unknown code is [`EnergyQuality::Unknown`], never measured. `Unavailable` without a
/// total rail.
pub fn total_quality(meter: &MeterInfo) -> EnergyQuality {
    match meter.rails.iter().find(|r| r.role == RailRole::TOTAL).map(|r| r.quality) {
        None => EnergyQuality::Unavailable,
        Some(Quality::MEASURED) => EnergyQuality::Measured,
        Some(Quality::ESTIMATED) => EnergyQuality::Estimated,
        Some(_) => EnergyQuality::Unknown,
    }
}

/// What a reader must know about the data behind a result, from the dataset's own description
/// (its name, the `source` its plugin reports, its size) and the convention it was scored by:
///
/// - HellaSwag read from llama.cpp's text file has lost lm-evaluation-harness's capitalisation of
///   the second context sentence (`ctx_b`), so scoring it by the `lm-eval` convention can differ
///   from lm-evaluation-harness in a few tasks (the HellaSwag plugin marks that file's source as
///   `llama.cpp hellaswag text`).
/// - Winogrande under the `llama-cpp` convention: how many rows the selection was drawn from,
///   since llama.cpp's own tool reads a differently sized file.
pub fn data_caveats(dataset: &str, source: &str, rows: u64, convention: Convention) -> Vec<String> {
    let mut out = Vec::new();
    if dataset == "hellaswag"
        && convention == Convention::LM_EVAL
        && source.contains("llama.cpp hellaswag text")
    {
        out.push(
            "data: HellaSwag from llama.cpp's text file, whose second context sentence lost its \
             capitalisation: lm-eval-convention scores can differ from lm-evaluation-harness's in \
             a few tasks"
                .into(),
        );
    }
    if dataset == "winogrande" && convention == Convention::LLAMA_CPP {
        out.push(format!("data: the selection was drawn from {rows} Winogrande rows ({source})"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use joulebench_abi::{RailInfo, RailKind};

    fn meter(role: RailRole, quality: Quality) -> MeterInfo {
        MeterInfo {
            name: "m".into(),
            boundary: "b".into(),
            rails: vec![RailInfo {
                name: "r".into(),
                kind: RailKind::POWER,
                role,
                quality,
                description: "d".into(),
            }]
            .into(),
            update_interval_s: 0.0,
        }
    }

    #[test]
    fn unknown_codes_fail_closed() {
        assert_eq!(total_quality(&meter(RailRole::TOTAL, Quality(0))), EnergyQuality::Measured);
        assert_eq!(total_quality(&meter(RailRole::TOTAL, Quality(1))), EnergyQuality::Estimated);
        assert_eq!(total_quality(&meter(RailRole::TOTAL, Quality(7))), EnergyQuality::Unknown);
        // A rail whose role code is unknown is no total.
        assert_eq!(total_quality(&meter(RailRole(9), Quality(0))), EnergyQuality::Unavailable);
        assert_eq!(Quality(7).as_str(), "unknown");
        assert_eq!(RailRole(9).as_str(), "unknown");
        assert_eq!(RailKind(5).unit(), "?");
    }

    #[test]
    fn data_caveats_name_the_file_and_the_rows() {
        let txt = "/d/hellaswag_val_full.txt (llama.cpp hellaswag text)";
        assert_eq!(data_caveats("hellaswag", txt, 10042, Convention::LM_EVAL).len(), 1);
        assert!(data_caveats("hellaswag", txt, 10042, Convention::LLAMA_CPP).is_empty());
        let jsonl = "/d/hellaswag_val.jsonl (hellaswag jsonl)";
        assert!(data_caveats("hellaswag", jsonl, 10042, Convention::LM_EVAL).is_empty());
        let wg = "/d/dev.jsonl (winogrande jsonl)";
        assert_eq!(
            data_caveats("winogrande", wg, 1267, Convention::LLAMA_CPP),
            [
                "data: the selection was drawn from 1267 Winogrande rows (/d/dev.jsonl (winogrande jsonl))"
            ]
        );
        assert!(data_caveats("winogrande", wg, 1267, Convention::LM_EVAL).is_empty());
    }

    #[test]
    fn drift_is_flagged_past_five_percent() {
        assert_eq!(drift(100.0, 104.0), None);
        assert!((drift(100.0, 94.0).unwrap() - 0.06).abs() < 1e-12);
    }
}
