//! The joulebench host: reads a manifest, loads the plugins it names, runs its experiments and
//! reports the metric set.
//!
//! - [`manifest`]: the `plugins.toml` format, checked with file:line:column errors.
//! - [`loader`]: finds and loads plugin libraries through the stable ABI and constructs plugins,
//!   refusing bad ones with one-line errors.
//! - [`describe`]: what `joulebench plugins` prints.
//!
//! The binary (`src/main.rs`) is a thin clap layer over these modules.
#![deny(missing_docs)]

pub mod describe;
pub mod hostinfo;
pub mod loader;
pub mod manifest;
pub mod report;
pub mod runner;
pub mod store;
