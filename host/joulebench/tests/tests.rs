//! The host's integration tests: one binary, one module per topic.

mod boards;
mod browser;
mod compare;
mod conditions;
mod faults;
mod identity;
mod lab;
mod latency;
mod loading;
mod pg;
mod resume;
mod run;
mod sweep;
mod util;
