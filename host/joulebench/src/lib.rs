//! The joulebench host: reads a manifest, loads the plugins it names, runs its experiments and
//! reports the metric set.
//!
//! - [`manifest`]: the `plugins.toml` format, checked with file:line:column errors (its own
//!   crate, `joulebench-manifest`, re-exported here).
//! - [`loader`]: finds and loads plugin libraries through the stable ABI and constructs plugins,
//!   refusing bad ones with one-line errors.
//! - [`runner`]: runs a manifest's experiments; each one in segments ([`segment`], crate-private)
//!   with a progress bar (`progress`, crate-private).
//! - [`store`]: the SQLite results store; [`lab`]: many boards sharing a PostgreSQL database.
//! - [`report`]: the report's input from the store; [`html`]: the HTML report's.
//! - [`compare`]: `joulebench compare`: two sets of experiments from one or two stores.
//! - [`conditions`]: the state meter, cooldown and power settings around each segment.
//! - [`generation`]: generation experiments (`workload = "generate"`): llama-bench's shapes or a
//!   dataset's prompts, with token times and per-phase energy; [`exec`]: `joulebench exec`.
//! - [`describe`]: what `joulebench plugins` prints; [`hostinfo`]: the machine, for provenance.
//! - Faults (`docs/faults.md`): [`deadline`] bounds every call into a plugin; [`lock`] keeps one
//!   run per store and stops a run whose store cannot be written; [`signals`] turns Ctrl-C and
//!   SIGTERM into a clean stop and holds the restore hooks.
//!
//! The flow is one way: manifest → loader → runner → store → report. Every threshold and formula
//! lives in the measurement core (`joulebench-measure`), which the runner calls and whose types
//! the store and the report share; `docs/architecture.md` draws the whole picture.
//!
//! The binary (`src/main.rs`) is a thin clap layer over these modules.
#![deny(missing_docs)]

mod baseline;
pub mod compare;
pub mod conditions;
pub mod deadline;
pub mod describe;
pub mod exec;
pub mod generation;
pub mod hostinfo;
pub mod html;
pub mod lab;
pub mod loader;
pub mod lock;
pub use joulebench_manifest as manifest;
mod progress;
pub mod report;
pub mod runner;
mod segment;
pub mod signals;
pub mod store;
