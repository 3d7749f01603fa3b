//! The host's integration tests: one binary, one module per topic.

mod boards;
mod faults;
mod identity;
mod latency;
mod loading;
mod resume;
mod run;
mod util;
