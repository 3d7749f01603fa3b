//! The host's integration tests: one binary, one module per topic.

mod boards;
mod browser;
mod compare;
mod conditions;
mod exec;
mod faults;
mod generation;
mod identity;
mod latency;
mod loading;
mod resume;
mod run;
mod sweep;
mod util;
mod warmup;
