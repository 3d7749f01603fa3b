//! Estimated power for machines with no power sensor (a plain x86 box, a container).
//!
//! This is CodeCarbon's fallback, not a measurement (power-meters.md §6), and every rail says so
//! ([`Quality::ESTIMATED`]), so every figure built on it is marked estimated:
//!
//! - CPU: whole-machine utilisation from the aggregate `cpu` line of `/proc/stat` (busy = user +
//!   nice + system + irq + softirq + steal; idle = idle + iowait, as psutil counts), turned into
//!   power with CodeCarbon's load model and a TDP: `cubic` (CodeCarbon 3.0.3 and later, the
//!   default) P = TDP x (0.1 + 0.9 x load³); `linear` (earlier releases) P = max(TDP x load,
//!   0.1 x TDP); `constant` P = 0.5 x TDP. The TDP defaults to CodeCarbon's 85 W for CPUs it
//!   cannot find in its table, times the number of physical packages (distinct `physical id`s in
//!   `/proc/cpuinfo`), as CodeCarbon multiplies the table TDP by the package count.
//! - RAM: CodeCarbon's v3 DIMM model, a constant: the DIMM count inferred from `MemTotal`, 5 W per
//!   DIMM on x86 and 1.5 W on ARM, DIMMs 5-8 at 90 %, 9-16 at 80 %, 17+ at 70 %, at least 10 W on
//!   x86 and 3 W on ARM.
//!
//! Utilisation is the `/proc/stat` delta since the previous update. The kernel counts in 10 ms
//! ticks, so the meter updates its estimate only once a delta spans at least 10 ticks per CPU
//! (about 100 ms) and repeats the last estimate in between; before the first such delta it uses
//! the utilisation since boot.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

use std::path::{Path, PathBuf};

use joulebench_abi::{AbiError, MeterInfo, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::{MeterPlugin, Sensor, parse_config, rail, read_error, under_root};
use serde::Deserialize;

/// CodeCarbon's TDP for a CPU missing from its table, W.
pub const DEFAULT_TDP_W: f64 = 85.0;

/// How CPU load becomes power.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// TDP x (0.1 + 0.9 x load³) (CodeCarbon 3.0.3 and later).
    Cubic,
    /// max(TDP x load, 0.1 x TDP) (CodeCarbon before 3.0.3).
    Linear,
    /// 0.5 x TDP whatever the load (CodeCarbon without psutil).
    Constant,
}

impl LoadModel {
    /// CPU power for `load` in 0..=1 and `tdp` W.
    pub fn power(self, tdp: f64, load: f64) -> f64 {
        let load = load.clamp(0.0, 1.0);
        match self {
            LoadModel::Cubic => tdp * (0.1 + 0.9 * load.powi(3)),
            LoadModel::Linear => (tdp * load).max(0.1 * tdp),
            LoadModel::Constant => 0.5 * tdp,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            LoadModel::Cubic => "TDP x (0.1 + 0.9 x load^3), CodeCarbon 3.0.3+",
            LoadModel::Linear => "max(TDP x load, 0.1 x TDP), CodeCarbon before 3.0.3",
            LoadModel::Constant => "0.5 x TDP, CodeCarbon's constant mode",
        }
    }
}

/// CPU architecture family for the RAM model.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// 5 W per DIMM, 10 W floor.
    X86,
    /// 1.5 W per DIMM, 3 W floor.
    Arm,
}

impl Arch {
    /// `x86` or `arm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::Arm => "arm",
        }
    }

    /// The architecture this plugin was built for.
    pub fn host() -> Self {
        if std::env::consts::ARCH.contains("arm") || std::env::consts::ARCH.contains("aarch") {
            Arch::Arm
        } else {
            Arch::X86
        }
    }
}

/// The meter's configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The filesystem root under which `proc/` is looked up (tests point it at a fixture).
    pub root: PathBuf,
    /// TDP of one CPU package, W (default [`DEFAULT_TDP_W`]).
    pub tdp_w: f64,
    /// Physical CPU packages; default: the distinct `physical id`s in `/proc/cpuinfo` (1 when
    /// none are listed).
    pub sockets: Option<u32>,
    /// The load model (default `cubic`).
    pub model: LoadModel,
    /// A fixed RAM power in W instead of the DIMM model (CodeCarbon's `force_ram_power`).
    pub ram_w: Option<f64>,
    /// `x86` or `arm` for the RAM model (default: the build target's).
    pub arch: Option<Arch>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
            tdp_w: DEFAULT_TDP_W,
            sockets: None,
            model: LoadModel::Cubic,
            ram_w: None,
            arch: None,
        }
    }
}

/// CodeCarbon's v3 RAM power for `total_gib` GiB of memory.
pub fn ram_power_w(total_gib: f64, arch: Arch) -> f64 {
    let dimms: u32 = if total_gib <= 2.0 {
        1
    } else if total_gib <= 16.0 {
        2
    } else if total_gib <= 64.0 {
        4
    } else if total_gib <= 128.0 {
        8
    } else {
        // at least 8 DIMMs of the largest common size, at most 32
        let size =
            [128.0, 64.0, 32.0, 16.0].into_iter().find(|s| total_gib / s >= 8.0).unwrap_or(16.0);
        ((total_gib / size).ceil() as u32).clamp(8, 32)
    };
    let (per_dimm, floor) = match arch {
        Arch::X86 => (5.0, 10.0),
        Arch::Arm => (1.5, 3.0),
    };
    let power: f64 = (1..=dimms)
        .map(|k| {
            per_dimm
                * match k {
                    1..=4 => 1.0,
                    5..=8 => 0.9,
                    9..=16 => 0.8,
                    _ => 0.7,
                }
        })
        .sum();
    power.max(floor)
}

/// Busy and total ticks from the aggregate `cpu` line of `/proc/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTicks {
    /// user + nice + system + irq + softirq + steal.
    pub busy: u64,
    /// busy + idle + iowait.
    pub total: u64,
}

/// Parses `/proc/stat` text (from `path`, for errors).
pub fn parse_stat(path: &Path, text: &str) -> Result<CpuTicks, AbiError> {
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.split_whitespace().next() == Some("cpu"))
        .ok_or_else(|| AbiError::data(format!("{}: no aggregate `cpu` line", path.display())))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            AbiError::data(format!("{}:{}: non-numeric field in {line:?}", path.display(), n + 1))
        })?;
    if fields.len() < 8 {
        return Err(AbiError::data(format!(
            "{}:{}: expected at least 8 fields after `cpu`, found {}",
            path.display(),
            n + 1,
            fields.len()
        )));
    }
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
    Ok(CpuTicks { busy, total: busy + fields[3] + fields[4] })
}

/// `MemTotal` of `/proc/meminfo` text, in GiB.
pub fn parse_mem_total_gib(path: &Path, text: &str) -> Result<f64, AbiError> {
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("MemTotal:"))
        .ok_or_else(|| AbiError::data(format!("{}: no MemTotal line", path.display())))?;
    let kib: f64 =
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or_else(|| {
            AbiError::data(format!("{}:{}: cannot read {line:?}", path.display(), n + 1))
        })?;
    Ok(kib / (1024.0 * 1024.0))
}

fn read(path: &Path) -> Result<String, AbiError> {
    std::fs::read_to_string(path).map_err(|e| read_error(path, &e, ""))
}

/// The estimating meter itself; the host holds it as [`Estimate`].
pub struct EstimateSensor {
    info: MeterInfo,
    stat: PathBuf,
    model: LoadModel,
    tdp: f64,
    ram_w: f64,
    min_ticks: u64,
    prev: CpuTicks,
    load: f64,
}

/// The meter as the host holds it: [`EstimateSensor`] behind [`MeterPlugin`]'s panic guards.
pub type Estimate = MeterPlugin<EstimateSensor>;

/// Builds the meter from its TOML configuration.
pub fn new(config: &str) -> Result<Estimate, AbiError> {
    let config: Config = parse_config("estimate", config)?;
    EstimateSensor::open(config).map(MeterPlugin::new)
}

impl EstimateSensor {
    /// Sets the model up from the files under the configured root.
    pub fn open(config: Config) -> Result<EstimateSensor, AbiError> {
        if !(config.tdp_w.is_finite() && config.tdp_w > 0.0) {
            return Err(AbiError::config(format!(
                "estimate config: `tdp_w` must be a positive number of watts, got {}",
                config.tdp_w
            )));
        }
        if let Some(w) = config.ram_w
            && !(w.is_finite() && w >= 0.0)
        {
            return Err(AbiError::config(format!(
                "estimate config: `ram_w` must be >= 0, got {w}"
            )));
        }
        let stat = under_root(&config.root, "/proc/stat");
        let prev = parse_stat(&stat, &read(&stat)?)?;
        let cpuinfo_path = under_root(&config.root, "/proc/cpuinfo");
        let cpuinfo = std::fs::read_to_string(&cpuinfo_path).unwrap_or_default();
        let logical = cpuinfo.lines().filter(|l| l.starts_with("processor")).count().max(1);
        let sockets = match config.sockets {
            Some(0) => {
                return Err(AbiError::config("estimate config: `sockets` must be at least 1"));
            }
            Some(n) => n,
            None => {
                let mut ids: Vec<&str> = cpuinfo
                    .lines()
                    .filter(|l| l.starts_with("physical id"))
                    .filter_map(|l| l.split(':').nth(1).map(str::trim))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids.len().max(1) as u32
            }
        };
        let arch = config.arch.unwrap_or_else(Arch::host);
        let (ram_w, ram_how) = match config.ram_w {
            Some(w) => (w, "configured `ram_w`".to_string()),
            None => {
                let meminfo = under_root(&config.root, "/proc/meminfo");
                let gib = parse_mem_total_gib(&meminfo, &read(&meminfo)?)?;
                let w = ram_power_w(gib, arch);
                (w, format!("CodeCarbon's DIMM model for {gib:.1} GiB on {}", arch.as_str()))
            }
        };
        let tdp = config.tdp_w * f64::from(sockets);
        let cpu_desc = format!(
            "CPU power estimated from /proc/stat utilisation: {} with TDP {} W x {sockets} \
             package(s) = {tdp} W{}",
            config.model.describe(),
            config.tdp_w,
            if config.tdp_w == DEFAULT_TDP_W {
                " (CodeCarbon's default for unknown CPUs)"
            } else {
                ""
            }
        );
        let est = |name, role, d: String| rail(name, RailKind::POWER, role, Quality::ESTIMATED, d);
        let rails = vec![
            est("total", RailRole::TOTAL, "cpu + ram, estimated".to_string()),
            est("cpu", RailRole::PART, cpu_desc),
            est("ram", RailRole::PART, format!("RAM power, a constant {ram_w} W: {ram_how}")),
        ];
        let boundary = format!(
            "an estimate, not a measurement: CPU from whole-machine utilisation and a {tdp} W \
             TDP (CodeCarbon's model), RAM a constant {ram_w} W; sees no GPU, disks, network, \
             fans or supply losses, and no real power at all; every figure from it is estimated"
        );
        Ok(EstimateSensor {
            info: MeterInfo {
                name: "estimate".into(),
                boundary: boundary.into(),
                rails: rails.into(),
                update_interval_s: 0.1,
            },
            stat,
            model: config.model,
            tdp,
            ram_w,
            min_ticks: 10 * logical as u64,
            load: if prev.total > 0 { prev.busy as f64 / prev.total as f64 } else { 0.0 },
            prev,
        })
    }

    /// The utilisation (0 to 1) the last update computed.
    pub fn load(&self) -> f64 {
        self.load
    }
}

impl Sensor for EstimateSensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        let cur = parse_stat(&self.stat, &read(&self.stat)?)?;
        if cur.total < self.prev.total || cur.busy < self.prev.busy {
            // counters never go back; a replaced file (a test) or a wrapped counter restarts.
            self.prev = cur;
        } else if cur.total - self.prev.total >= self.min_ticks {
            self.load = (cur.busy - self.prev.busy) as f64 / (cur.total - self.prev.total) as f64;
            self.prev = cur;
        }
        let cpu = self.model.power(self.tdp, self.load);
        Ok(Reading {
            values: vec![Some(cpu + self.ram_w).into(), Some(cpu).into(), Some(self.ram_w).into()]
                .into(),
        })
    }
}

#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
