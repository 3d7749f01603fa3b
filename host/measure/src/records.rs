//! What the runner records for an experiment, as the store keeps it and the core reads it.

use serde::{Deserialize, Serialize};

/// The names of an experiment's phases, in the order they run in a segment.
pub mod phase {
    /// The model load.
    pub const LOAD: &str = "load";
    /// Tasks run and discarded before measuring.
    pub const WARM_UP: &str = "warm-up";
    /// The measured tasks.
    pub const EVALUATION: &str = "evaluation";
    /// Tasks run again one per call, for the time one answer takes.
    pub const LATENCY: &str = "latency";
}

/// One evaluated task, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Position in the experiment's selection.
    pub position: u64,
    /// The dataset's task id.
    pub task_id: String,
    /// The task's group.
    pub group: String,
    /// The gold candidate.
    pub gold: u32,
    /// The candidate picked by the primary metric.
    pub predicted: u32,
    /// Whether it is gold.
    pub correct: bool,
    /// The candidate picked by `acc_norm`, where defined.
    pub predicted_norm: Option<u32>,
    /// Whether that one is gold.
    pub correct_norm: Option<bool>,
    /// Prompt tokens this task's share of the batch evaluated.
    pub prompt_tokens: u64,
    /// The process segment it ran in.
    pub segment: u32,
    /// The batch (runtime call) it ran in.
    pub batch: u64,
    /// Start of its runtime call, seconds on the segment's clock.
    pub t_start_s: f64,
    /// End of its runtime call.
    pub t_end_s: f64,
    /// Its latency: the call's duration divided by the tasks in the call.
    pub latency_s: f64,
    /// The convention's score per candidate.
    pub scores: Vec<f64>,
}

/// One task of the latency pass: run alone in its own runtime call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyRecord {
    /// Position in the experiment's selection.
    pub position: u64,
    /// The process segment it ran in.
    pub segment: u32,
    /// Start of its call, seconds on the segment's clock.
    pub t_start_s: f64,
    /// End of its call.
    pub t_end_s: f64,
}

/// An idle baseline: the meter alone, nothing loaded, before a run's first experiment or after
/// its last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleBaseline {
    /// The meter's manifest id.
    pub meter: String,
    /// `before` or `after`.
    pub when: String,
    /// Its start, Unix seconds.
    pub unix_start_s: f64,
    /// How long it lasted, s.
    pub seconds: f64,
    /// Median total power, W (`None` without a total rail or samples).
    pub median_w: Option<f64>,
    /// First quartile, W.
    pub q1_w: Option<f64>,
    /// Third quartile, W.
    pub q3_w: Option<f64>,
    /// Power values it is made of.
    pub samples: u64,
}

/// One meter sample: time on the segment's clock and one value per rail (`None` = gap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// Seconds on the segment's clock.
    pub t_s: f64,
    /// Per rail, in the meter's rail order.
    pub values: Vec<Option<f64>>,
}

/// A phase as stored: its window and its energy figures ([`PhaseEnergy`] as JSON, `{}` until
/// the segment's samples are in).
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseRecord {
    /// Segment.
    pub segment: u32,
    /// One of the [`phase`] names.
    pub name: String,
    /// Start, seconds on the segment's clock.
    pub t0_s: f64,
    /// End.
    pub t1_s: f64,
    /// Energy figures, JSON.
    pub energy: String,
}

/// A phase's energy as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseEnergy {
    /// Total energy, J (None = unavailable).
    pub total_j: Option<f64>,
    /// Coverage of the total.
    pub coverage: Option<f64>,
    /// Per rail: name, joules.
    pub rails: Vec<(String, Option<f64>)>,
}

impl From<&joulebench_sampler::WindowEnergy> for PhaseEnergy {
    fn from(w: &joulebench_sampler::WindowEnergy) -> Self {
        PhaseEnergy {
            total_j: w.total.as_ref().and_then(|e| e.joules),
            coverage: w.total.as_ref().map(|e| e.coverage),
            rails: w.rails.iter().map(|r| (r.name.clone(), r.energy.joules)).collect(),
        }
    }
}
