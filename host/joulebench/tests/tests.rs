//! The host's integration tests: one binary, one module per topic.

mod loading;
mod util;
