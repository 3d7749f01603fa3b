//! The host's integration tests: one binary, one module per topic.

mod boards;
mod browser;
mod compare;
mod conditions;
mod exec;
mod faults;
mod generation;
mod identity;
mod lab;
mod latency;
mod loading;
mod pg;
mod resume;
mod run;
mod sweep;
mod util;
mod warmup;
