//! Board state read beside power: temperatures, CPU and GPU clocks and throttle flags.
//!
//! The same heat or power mode changes what a model costs, so joulebench samples the board's
//! state with the power rails, on the same clock. This meter has no power rails: every rail is a
//! state rail (`TEMPERATURE` in °C, `FREQUENCY` in Hz, `FLAGS`), which the host records and
//! summarizes but never integrates. What it reads, all under the configured `root` so that tests
//! point it at fixture trees:
//!
//! - thermal zones: `/sys/devices/virtual/thermal/thermal_zone*/{type,temp}` (or
//!   `/sys/class/thermal` where the first is absent), millidegrees;
//! - hwmon temperatures: `/sys/class/hwmon/hwmon*/{name,temp*_input,temp*_label}`;
//! - CPU clocks: `/sys/devices/system/cpu/cpufreq/policy*/scaling_cur_freq` (kHz), or per CPU
//!   where the kernel has no policy folders;
//! - GPU clocks: the devfreq `cur_freq` (Hz) of the Jetson GPU wherever the L4T release puts it
//!   (Nano `57000000.gpu`, Orin `17000000.ga10b` on L4T 35 or `17000000.gpu` on L4T 36), or any
//!   `/sys/class/devfreq` node named like a GPU;
//! - Raspberry Pi: `vcgencmd measure_temp`, `measure_clock arm` and `get_throttled`, run at most
//!   every `command_every_s` seconds (each call costs firmware time), through `path` when given.
//!
//! Zones named in `ignore` are left out; by default the Jetson Nano's `PMIC-Die`, which reads a
//! fixed 100 °C. A zone that reads below -40 °C (offline sensors report -256 °C on Orin) is a gap.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

pub mod command;
pub mod readers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use joulebench_abi::{AbiError, MeterInfo, Quality, RailInfo, RailKind, RailRole, Reading};
use joulebench_meter_common::{MeterPlugin, Sensor, parse_config, rail, reading};
use serde::Deserialize;

pub use readers::{Source, discover};

/// Which board's readers to use.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Board {
    /// Decide from `/proc/device-tree/model` and `/etc/nv_tegra_release`.
    #[default]
    Auto,
    /// A Raspberry Pi 5: the sysfs readers and vcgencmd.
    Pi5,
    /// A Jetson (Nano, Orin): the sysfs readers; a GPU devfreq node must be found.
    Jetson,
    /// Any Linux: thermal zones, hwmon and cpufreq.
    Linux,
}

/// The meter's configuration.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The board (default `auto`).
    pub board: Board,
    /// The root every path is read under (default `/`).
    pub root: PathBuf,
    /// The `PATH` commands (vcgencmd) are looked up in and run with (default: inherited).
    pub path: Option<String>,
    /// Seconds between runs of each command; readings in between repeat the last value
    /// (default 1).
    pub command_every_s: f64,
    /// Seconds a command may take before it is killed (default 2).
    pub timeout_s: f64,
    /// Thermal zone types and hwmon names to leave out (default `["PMIC-Die"]`).
    pub ignore: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            board: Board::Auto,
            root: PathBuf::from("/"),
            path: None,
            command_every_s: 1.0,
            timeout_s: 2.0,
            ignore: vec!["PMIC-Die".into()],
        }
    }
}

/// The board `root` looks like.
pub fn detect(root: &Path) -> Board {
    let model = std::fs::read(root.join("proc/device-tree/model"))
        .map(|b| String::from_utf8_lossy(&b).trim_end_matches('\0').to_string())
        .unwrap_or_default();
    if model.contains("Raspberry Pi") {
        Board::Pi5
    } else if model.contains("Jetson") || root.join("etc/nv_tegra_release").exists() {
        Board::Jetson
    } else {
        Board::Linux
    }
}

/// The state meter.
#[derive(Debug)]
pub struct StateSensor {
    info: MeterInfo,
    sources: Vec<Source>,
    runner: command::Runner,
}

/// The plugin as the host sees it.
pub type StateMeter = MeterPlugin<StateSensor>;

impl StateSensor {
    /// The board the meter settled on and its sources, in rail order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }
}

/// Builds the meter: finds every source and reads each once, so that a board without the
/// expected sensors is refused here with what is missing.
pub fn build(config: Config) -> Result<StateSensor, AbiError> {
    if !(config.command_every_s >= 0.0 && config.command_every_s.is_finite()) {
        return Err(AbiError::config("state config: command_every_s must be a number >= 0"));
    }
    if !(config.timeout_s > 0.0 && config.timeout_s.is_finite()) {
        return Err(AbiError::config("state config: timeout_s must be a positive number"));
    }
    let board = match config.board {
        Board::Auto => detect(&config.root),
        b => b,
    };
    let runner = command::Runner {
        path: config.path.clone(),
        timeout: Duration::from_secs_f64(config.timeout_s),
        every: Duration::from_secs_f64(config.command_every_s),
        cache: Default::default(),
    };
    let mut sources = discover(&config.root, &config.ignore);
    if board == Board::Pi5 {
        sources.extend(readers::vcgencmd_sources());
    }
    if board == Board::Jetson && !sources.iter().any(|s| matches!(s, Source::Devfreq { .. })) {
        return Err(AbiError::unsupported(format!(
            "state: no Jetson GPU devfreq node under {} (looked for 57000000.gpu, \
             17000000.ga10b and 17000000.gpu, and in sys/class/devfreq); set board = \"linux\" \
             on a machine without one",
            config.root.display()
        )));
    }
    if sources.is_empty() {
        return Err(AbiError::unsupported(format!(
            "state: no thermal zone, hwmon temperature or cpufreq clock under {}",
            config.root.display()
        )));
    }
    let mut sensor = StateSensor { info: info(board, &sources), sources, runner };
    // A Pi whose vcgencmd cannot answer is refused now rather than a gap in every reading.
    if board == Board::Pi5 {
        for s in &sensor.sources {
            if let Source::Vcgencmd { args, .. } = s {
                sensor.runner.run(args, Instant::now()).map_err(|e| {
                    e.context(
                        "state: the Raspberry Pi readers need vcgencmd (raspi-utils) and the \
                         video group; set board = \"linux\" to read sysfs only",
                    )
                })?;
            }
        }
    }
    Ok(sensor)
}

fn info(board: Board, sources: &[Source]) -> MeterInfo {
    let rails: Vec<RailInfo> = sources
        .iter()
        .map(|s| rail(&s.name(), s.kind(), RailRole::PART, Quality::MEASURED, s.description()))
        .collect();
    MeterInfo {
        name: "state".into(),
        boundary: format!(
            "board state ({board:?}): temperatures, clocks and throttle flags; no power rail"
        )
        .to_lowercase()
        .into(),
        rails: rails.into(),
        update_interval_s: 0.0,
    }
}

impl Sensor for StateSensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        let now = Instant::now();
        let runner = &mut self.runner;
        let values = joulebench_meter_common::read_each(
            self.sources.iter(),
            |s| s.read(runner, now),
            "state: no sensor could be read",
        )?;
        Ok(reading(values, false))
    }
}

/// The plugin's constructor.
pub fn new(config: &str) -> Result<StateMeter, AbiError> {
    let config: Config = parse_config("state", config)?;
    Ok(MeterPlugin::new(build(config)?))
}

/// The rail kinds this meter uses, for callers that check them.
pub const KINDS: [RailKind; 3] = [RailKind::TEMPERATURE, RailKind::FREQUENCY, RailKind::FLAGS];

#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
