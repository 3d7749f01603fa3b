//! Steady and recorded conditions: what the host does about heat and power settings around each
//! experiment.
//!
//! The state meter samples temperatures, clocks and throttle flags during a run; this crate does
//! what happens outside the sampled window:
//!
//! - [`settings`]: reads the power settings an experiment runs under (the Jetson power mode from
//!   `nvpmodel -q`, whether `jetson_clocks` pinned the clocks, each cpufreq policy's governor and
//!   limits, the GPU's devfreq governor and limits), so that a result says what mode produced it;
//! - [`cooldown`]: waits between experiments until the hottest temperature falls below a
//!   threshold, or gives up after a while and says so;
//! - [`sweep`]: power settings as experiment axes: applied, read back, and restored at the end,
//!   on error, on a signal, and after a killed run.
//!
//! Every path is read under a configurable root and every command runs through a configurable
//! `PATH`, so tests point both at fixture trees and stand-in scripts.
#![deny(missing_docs)]

pub mod command;
pub mod cooldown;
pub mod settings;
pub mod sweep;

use std::path::{Path, PathBuf};

pub use cooldown::{CooldownSpec, cool_down};
pub use settings::{Setting, read_settings};

/// Where the host reads the board: the root of its files and the `PATH` of its commands.
#[derive(Debug, Clone)]
pub struct Board {
    /// Every absolute path is read under this folder (`/` on a real board).
    pub root: PathBuf,
    /// The `PATH` commands are looked up in and run with; `None` inherits the host's.
    pub path: Option<String>,
}

impl Default for Board {
    fn default() -> Self {
        Self { root: PathBuf::from("/"), path: None }
    }
}

impl Board {
    /// `abs` (such as `/sys/devices/system/cpu/cpufreq`) under the root.
    pub fn file(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
