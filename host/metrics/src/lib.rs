//! joulebench's formulas, in one crate with no I/O, so that every runtime, meter and report
//! shares them.
//!
//! - [`scoring`]: the two scoring conventions (lm-evaluation-harness's `acc`/`acc_norm` and
//!   llama.cpp's `llama-perplexity` rules) applied to the per-token log-probabilities a runtime
//!   returns for a task.
//! - [`metrics`]: the metric set of `docs/metrics.md` (accuracy with its standard error, latency,
//!   throughput, gross and active energy, EDP, the per-billion figures, tokens/Wh, per-rail
//!   energy) from an experiment's raw figures. Unavailable energy stays `None`, never zero.
//! - [`stats`]: percentiles, median and confidence intervals for latencies and repeats.
#![deny(missing_docs)]

pub mod metrics;
pub mod scoring;
pub mod stats;

pub use metrics::{
    AccuracyMetric, EnergyQuality, ExperimentFigures, MetricRow, MetricSet, MetricsError,
    ParameterBasis, RailEnergy, RailMetrics, compute,
};
pub use scoring::{ScoreError, TaskScore, count_correct, count_verdicts, score_task};
