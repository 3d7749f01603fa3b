//! Estimated power for machines with no power sensor (a plain x86 box, a VM, a container).
//!
//! This is CodeCarbon's fallback, not a measurement (`docs/meters.md#estimate`), and every rail
//! says so ([`Quality::ESTIMATED`]), so every figure built on it is marked estimated:
//!
//! - CPU: whole-machine utilisation from the aggregate `cpu` line of `/proc/stat` (busy = user +
//!   nice + system + irq + softirq + steal; idle = idle + iowait, as psutil counts), turned into
//!   power between a zero-load and a full-load figure with CodeCarbon's load model: `cubic`
//!   (CodeCarbon 3.0.3 and later, the default) P = idle + (full - idle) x load³; `linear`
//!   (earlier releases) P = max(full x load, idle); `constant` P = 0.5 x full. CodeCarbon's idle
//!   is 0.1 x TDP.
//! - The full-load figure belongs to the CPUs this system actually sees, because a package TDP
//!   applied to a 2-vCPU guest is a guess dressed as a figure. [`machine`] finds the CPU, the
//!   online logical CPUs and the package around them; the TDP comes from `tdp_w`, else from a
//!   small table of boards ([`KNOWN_CPUS`]), else CodeCarbon's 85 W, and is scaled by the package
//!   count and the visible share of the package(s). A VM whose hypervisor hides the host's
//!   package gets a per-vCPU figure instead ([`VM_FULL_W_PER_CPU`], [`VM_IDLE_W_PER_CPU`]), unless
//!   `package_cpus` says how large the host package is. The rail description and the boundary
//!   spell the assumptions out, so they travel with every result's provenance.
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

pub mod machine;
pub use machine::{KNOWN_CPUS, KnownCpu, Machine, probe};

/// CodeCarbon's TDP for a CPU missing from its table, W.
pub const DEFAULT_TDP_W: f64 = 85.0;

/// Cloud Carbon Footprint's average idle power per vCPU over AWS's micro-architectures
/// (SPECpower-based), W: the stand-in for a virtual machine whose host package is hidden.
pub const VM_IDLE_W_PER_CPU: f64 = 0.74;

/// Cloud Carbon Footprint's average full-load power per vCPU over AWS's micro-architectures, W.
pub const VM_FULL_W_PER_CPU: f64 = 3.5;

/// How CPU load becomes power.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// idle + (full - idle) x load³; CodeCarbon 3.0.3 and later, whose idle is 0.1 x TDP.
    Cubic,
    /// max(full x load, idle); CodeCarbon before 3.0.3, whose idle is 0.1 x TDP.
    Linear,
    /// 0.5 x full whatever the load (CodeCarbon without psutil).
    Constant,
}

impl LoadModel {
    /// CPU power for `load` in 0..=1 and `tdp` W with CodeCarbon's idle of 0.1 x `tdp`.
    pub fn power(self, tdp: f64, load: f64) -> f64 {
        match self {
            // CodeCarbon's own arithmetic, kept bit for bit
            LoadModel::Cubic => tdp * (0.1 + 0.9 * load.clamp(0.0, 1.0).powi(3)),
            _ => self.power_between(0.1 * tdp, tdp, load),
        }
    }

    /// CPU power for `load` in 0..=1, `idle` W at no load and `full` W at full load.
    pub fn power_between(self, idle: f64, full: f64, load: f64) -> f64 {
        let load = load.clamp(0.0, 1.0);
        match self {
            LoadModel::Cubic => idle + (full - idle) * load.powi(3),
            LoadModel::Linear => (full * load).max(idle),
            LoadModel::Constant => 0.5 * full,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LoadModel::Cubic => "cubic",
            LoadModel::Linear => "linear",
            LoadModel::Constant => "constant",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            LoadModel::Cubic => "idle + (full - idle) x load^3 (CodeCarbon 3.0.3+)",
            LoadModel::Linear => "max(full x load, idle) (CodeCarbon before 3.0.3)",
            LoadModel::Constant => "0.5 x full (CodeCarbon's constant mode)",
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
    /// The filesystem root under which `proc/` and `sys/` are looked up (tests point it at a
    /// fixture).
    pub root: PathBuf,
    /// Full-load power of one CPU package (or of the known board), W; default: the built-in
    /// table's figure, else [`DEFAULT_TDP_W`] (in a VM whose host package is hidden,
    /// [`VM_FULL_W_PER_CPU`] per vCPU). Scaled by the packages and the visible share.
    pub tdp_w: Option<f64>,
    /// Power of one package at zero load, W, scaled like `tdp_w`; default 0.1 x `tdp_w`
    /// (CodeCarbon's floor; [`VM_IDLE_W_PER_CPU`] per vCPU in a VM whose host package is
    /// hidden).
    pub idle_w: Option<f64>,
    /// Logical CPUs of one physical package: for a VM, the host package's, which the guest
    /// cannot see; default: what the sysfs topology or `/proc/cpuinfo` report.
    pub package_cpus: Option<u32>,
    /// Physical CPU packages; default: the distinct package ids of the online CPUs in sysfs,
    /// else the distinct `physical id`s in `/proc/cpuinfo` (1 when none are listed, and 1 for a
    /// board in the built-in table).
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
            tdp_w: None,
            idle_w: None,
            package_cpus: None,
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
    // Counters near 2^64 are not ticks a kernel has counted: refused, not wrapped.
    let sum = |idx: &[usize]| idx.iter().try_fold(0u64, |s, &i| s.checked_add(fields[i]));
    let (busy, total) =
        sum(&[0, 1, 2, 5, 6, 7]).zip(sum(&[0, 1, 2, 3, 4, 5, 6, 7])).ok_or_else(|| {
            AbiError::data(format!(
                "{}:{}: the tick counters of {line:?} add up beyond 64 bits",
                path.display(),
                n + 1
            ))
        })?;
    Ok(CpuTicks { busy, total })
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

/// A number of watts or percent for the descriptions: at most three decimals, no trailing zeros.
fn num(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// The CPU's power at zero and at full load for the CPUs this system sees, and the
/// assumptions behind them in words.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuPower {
    /// Power at load 0, W.
    pub idle_w: f64,
    /// Power at load 1, W.
    pub full_w: f64,
    /// The fraction of the package(s) this system sees (1 where nothing says otherwise).
    pub share: f64,
    /// The CPU, what is visible of it and where the figures come from, in words.
    pub assumptions: String,
    /// The same, in a few words for the boundary.
    pub summary: String,
}

/// Derives the CPU power model for `machine` from the built-in table, the defaults and the
/// overrides in `config`.
pub fn cpu_power(machine: &Machine, config: &Config) -> Result<CpuPower, AbiError> {
    for (key, v) in [("tdp_w", config.tdp_w), ("idle_w", config.idle_w)] {
        if let Some(w) = v
            && !(w.is_finite() && w >= 0.0 && (key == "idle_w" || w > 0.0))
        {
            return Err(AbiError::config(format!(
                "estimate config: `{key}` must be a {} number of watts, got {w}",
                if key == "tdp_w" { "positive" } else { "non-negative" }
            )));
        }
    }
    for (key, v) in [("sockets", config.sockets), ("package_cpus", config.package_cpus)] {
        if v == Some(0) {
            return Err(AbiError::config(format!("estimate config: `{key}` must be at least 1")));
        }
    }
    let known = machine.known();
    let online = machine.online;
    let packages = config.sockets.unwrap_or(if known.is_some() { 1 } else { machine.packages });
    let package_cpus = config
        .package_cpus
        .or(known.map(|k| k.cpus))
        .or(machine.package_cpus)
        .unwrap_or_else(|| online.div_ceil(packages));
    // A guest kernel sees only the package its hypervisor makes up out of its own vCPUs; when
    // that is all there is, the host's package is not visible.
    let total = u64::from(package_cpus) * u64::from(packages);
    let hidden_host = machine.virtual_machine
        && known.is_none()
        && config.package_cpus.is_none()
        && total <= u64::from(online);
    let share = (f64::from(online) / total as f64).min(1.0);

    let mut what = format!("CPU: {}", machine.cpu);
    if let Some(board) = &machine.board {
        what += &format!(" on {board}");
    }
    if machine.virtual_machine {
        what += ", in a virtual machine (x86 `hypervisor` flag)";
    }
    let plural =
        |n: u32, one: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {one}s") };
    let visible = if hidden_host {
        format!(
            "{} online, presented as {} of {}; the host's package and this machine's share \
             of it are hidden",
            plural(online, "logical CPU"),
            plural(packages, "package"),
            plural(package_cpus, "logical CPU"),
        )
    } else if let Some(k) = known {
        format!(
            "{online} of the {}'s {} online ({} %)",
            k.name,
            plural(k.cpus, "CPU"),
            num(100.0 * share)
        )
    } else {
        format!(
            "{online} of {total} logical CPUs of {} online ({} %{})",
            plural(packages, "package"),
            num(100.0 * share),
            if machine.virtual_machine { ", this VM's share" } else { "" }
        )
    };

    let idle_note = match config.idle_w {
        Some(w) => format!("zero-load power {} W per package (configured `idle_w`)", num(w)),
        None => "zero-load power 0.1 x TDP (CodeCarbon's floor)".to_string(),
    };
    let scale = f64::from(packages) * share;
    let (full_w, idle_w, source, summary) = match (config.tdp_w, known, hidden_host) {
        (None, None, true) => {
            let n = f64::from(online);
            let idle = config.idle_w.unwrap_or(VM_IDLE_W_PER_CPU * n);
            (
                VM_FULL_W_PER_CPU * n,
                idle,
                format!(
                    "each vCPU counts {} W at full load, Cloud Carbon Footprint's \
                     SPECpower-based average per vCPU on AWS; {}",
                    num(VM_FULL_W_PER_CPU),
                    match config.idle_w {
                        Some(w) => format!("zero-load power {} W (configured `idle_w`)", num(w)),
                        None =>
                            format!("{} W per vCPU at zero load, likewise", num(VM_IDLE_W_PER_CPU)),
                    }
                ),
                format!(
                    "{online} vCPUs at Cloud Carbon Footprint's {} to {} W each",
                    num(VM_IDLE_W_PER_CPU),
                    num(VM_FULL_W_PER_CPU)
                ),
            )
        }
        (tdp, known, _) => {
            let (tdp, source, summary) = match (tdp, known) {
                (Some(w), _) => (
                    w,
                    format!("package power {} W (configured `tdp_w`)", num(w)),
                    format!("the configured {} W", num(w)),
                ),
                (None, Some(k)) => (
                    k.tdp_w,
                    format!("board power {} W ({})", num(k.tdp_w), k.source),
                    format!("the {}'s nominal {} W", k.name, num(k.tdp_w)),
                ),
                (None, None) => (
                    DEFAULT_TDP_W,
                    format!(
                        "package TDP {} W (CodeCarbon's default for CPUs it does not know)",
                        num(DEFAULT_TDP_W)
                    ),
                    format!("CodeCarbon's default {} W TDP", num(DEFAULT_TDP_W)),
                ),
            };
            let idle = config.idle_w.unwrap_or(0.1 * tdp);
            let scaled = if scale == 1.0 {
                String::new()
            } else {
                format!(" x {} package(s) x {} % visible", packages, num(100.0 * share))
            };
            (tdp * scale, idle * scale, format!("{source}, {idle_note}{scaled}"), summary)
        }
    };
    if idle_w > full_w {
        return Err(AbiError::config(format!(
            "estimate config: `idle_w` gives {} W at zero load, more than the {} W at full load",
            num(idle_w),
            num(full_w)
        )));
    }
    let overrides = if hidden_host {
        "set `tdp_w`/`idle_w`, or `package_cpus` to the host package's logical CPUs"
    } else {
        "set `tdp_w`/`idle_w` to override"
    };
    let assumptions = format!(
        "{what}; {visible}; {source} -> {} W at load 0, {} W at load 1, P = {}; {overrides}",
        num(idle_w),
        num(full_w),
        config.model.describe(),
    );
    Ok(CpuPower { idle_w, full_w, share, assumptions, summary })
}

/// The estimating meter itself; the host holds it as [`Estimate`].
pub struct EstimateSensor {
    info: MeterInfo,
    stat: PathBuf,
    model: LoadModel,
    cpu: CpuPower,
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
        if let Some(w) = config.ram_w
            && !(w.is_finite() && w >= 0.0)
        {
            return Err(AbiError::config(format!(
                "estimate config: `ram_w` must be >= 0, got {w}"
            )));
        }
        let stat = under_root(&config.root, "/proc/stat");
        let prev = parse_stat(&stat, &read(&stat)?)?;
        let machine = machine::probe(&config.root)?;
        let cpu = cpu_power(&machine, &config)?;
        let arch = config.arch.unwrap_or_else(Arch::host);
        let (ram_w, ram_how) = match config.ram_w {
            Some(w) => (w, "configured `ram_w`".to_string()),
            None => {
                let meminfo = under_root(&config.root, "/proc/meminfo");
                let gib = parse_mem_total_gib(&meminfo, &read(&meminfo)?)?;
                let w = ram_power_w(gib, arch);
                let vm = if machine.virtual_machine {
                    " (a virtual machine owns no DIMMs; its memory is counted as if it did)"
                } else {
                    ""
                };
                (w, format!("CodeCarbon's DIMM model for {gib:.1} GiB on {}{vm}", arch.as_str()))
            }
        };
        let cpu_desc =
            format!("CPU power estimated from /proc/stat utilisation. {}", cpu.assumptions);
        let est = |name, role, d: String| rail(name, RailKind::POWER, role, Quality::ESTIMATED, d);
        let rails = vec![
            est("total", RailRole::TOTAL, "cpu + ram, estimated".to_string()),
            est("cpu", RailRole::PART, cpu_desc),
            est(
                "ram",
                RailRole::PART,
                format!("RAM power, a constant {} W: {ram_how}", num(ram_w)),
            ),
        ];
        let boundary = format!(
            "an estimate, not a measurement: CPU {} W at rest to {} W at full whole-machine \
             utilisation ({}; CodeCarbon's {} load model), RAM a constant {} W; sees no GPU, \
             disks, network, fans or supply losses, and no real power at all; every figure from \
             it is estimated",
            num(cpu.idle_w),
            num(cpu.full_w),
            cpu.summary,
            config.model.name(),
            num(ram_w)
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
            cpu,
            ram_w,
            min_ticks: 10 * u64::from(machine.online),
            load: if prev.total > 0 { prev.busy as f64 / prev.total as f64 } else { 0.0 },
            prev,
        })
    }

    /// The CPU power model: zero- and full-load power and the assumptions behind them.
    pub fn cpu_power(&self) -> &CpuPower {
        &self.cpu
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
        let cpu = self.model.power_between(self.cpu.idle_w, self.cpu.full_w, self.load);
        Ok(Reading {
            values: vec![Some(cpu + self.ram_w).into(), Some(cpu).into(), Some(self.ram_w).into()]
                .into(),
        })
    }
}

// Not in fuzz builds, which link several meters into one binary: their exports share a name.
#[cfg(not(fuzzing))]
#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
