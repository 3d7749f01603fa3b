//! joulebench's measurement core: everything between "what was recorded" and "what it means".
//!
//! The runner records; this crate decides. It takes an experiment's task records, its phases
//! and the meter's samples, and returns the figures and the flags a reader must see with them.
//! It does no I/O and holds every threshold and formula of the measurement rules, so that the
//! runner only orchestrates, the store only stores and the report only renders, and a rule
//! changes in one place. The rules themselves are written out in `docs/metrics.md`.
//!
//! - [`records`]: what the runner stores per task, sample and phase, and the phase names.
//! - [`policy`]: the thresholds (coverage, minimum window, drift) and the whole-window rule.
//! - [`attribution`]: which tasks share a runtime call, and each task's share of its tokens.
//! - [`summary`]: an experiment's [`Summary`] from its records ([`summarize`]).
//! - [`provenance`]: the typed, versioned record of what produced a result.
//! - [`identity`]: what an experiment's results depend on, and what changed between two runs.
//! - [`generation`]: a generation request's TTFT, inter-token latency, rates and per-phase
//!   energy from the token times a runtime reports.
//! - [`conditions`]: temperatures, clocks and throttling over the evaluation, from state rails.
//! - [`warmup`]: the warm-up that lasts until power settles, and its flag.
#![deny(missing_docs)]

pub mod attribution;
pub mod conditions;
pub mod generation;
pub mod identity;
pub mod policy;
pub mod provenance;
pub mod records;
pub mod summary;
pub mod warmup;

pub use conditions::{Conditions, summarize_conditions};
pub use identity::{Identity, LibraryIdentity};
pub use provenance::{HostInfo, Provenance};
pub use records::{IdleBaseline, LatencyRecord, PhaseRecord, SampleRecord, TaskRecord};
pub use summary::{ExperimentRecords, Summary, SummaryLabels, summarize};
