//! Intel and AMD RAPL energy counters, read through Linux powercap.
//!
//! Every zone under `<root>/sys/class/powercap/intel-rapl:*` (packages `intel-rapl:N`, their
//! subzones `intel-rapl:N:M`) becomes an energy rail named by its `name` file (`package-0`,
//! `core`, `uncore`, `dram`, `psys`); subzone indices differ between CPUs, so names are never
//! inferred from paths. `energy_uj` is a µJ counter that wraps to 0 after `max_energy_range_uj`;
//! the meter unwraps it (one wrap per read at most, so read at least twice per wrap period:
//! about 30 min at 150 W for Intel's usual range) and reports a never-decreasing counter in
//! joules, which the host differences.
//!
//! The total is the package when there is one; with several sockets it is a `packages` rail, the
//! sum of the package counters (sockets do not overlap, so the sum is a counter too). Subzones
//! and DRAM are parts; `psys` contains the packages and is reported beside them, never added.
//! The MMIO interface's zones (`intel-rapl-mmio:*`) duplicate the package and are left out.
//! Since the fix for CVE-2020-8694 `energy_uj` is readable by root only; the constructor's error
//! says how to grant access.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

use std::path::{Path, PathBuf};

use abi_stable::std_types::ROption;
use joulebench_abi::{AbiError, ErrorCode, MeterInfo, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::{
    MeterPlugin, Sensor, entries_with_prefix, parse_config, rail, read_each, read_text, read_u64,
    under_root,
};
use serde::Deserialize;

/// Where powercap zones are, relative to the root.
pub const POWERCAP_DIR: &str = "/sys/class/powercap";

/// What to do when `energy_uj` is not readable.
pub const REMEDY: &str = "RAPL energy counters are readable by root only since the fix for \
    CVE-2020-8694 (linux 5.10 and stable kernels): run as root, or grant read access until the \
    next reboot with `sudo chmod -R a+r /sys/class/powercap/intel-rapl*`, or make it permanent \
    with sysfsutils (a line `mode class/powercap/intel-rapl:0/energy_uj = 0444` per zone in \
    /etc/sysfs.conf)";

/// The meter's configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The filesystem root under which `sys/` is looked up (tests point it at a fixture).
    pub root: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self { root: PathBuf::from("/") }
    }
}

/// Unwraps a counter that wraps to 0 after `range`: each read adds `range` once when the raw
/// value went down since the previous read.
#[derive(Clone, Debug)]
pub struct Unwrapper {
    range: u64,
    last: Option<u64>,
    wraps: u64,
}

impl Unwrapper {
    /// A fresh unwrapper for a counter with range `range` (`max_energy_range_uj`).
    pub fn new(range: u64) -> Self {
        Self { range, last: None, wraps: 0 }
    }

    /// The unwrapped counter for raw value `raw`, in the raw unit.
    pub fn update(&mut self, raw: u64) -> f64 {
        if let Some(last) = self.last
            && raw < last
        {
            self.wraps += 1;
        }
        self.last = Some(raw);
        self.wraps as f64 * self.range as f64 + raw as f64
    }
}

struct Zone {
    energy: PathBuf,
    unwrap: Unwrapper,
}

/// The RAPL meter itself; the host holds it as [`Rapl`].
pub struct RaplSensor {
    info: MeterInfo,
    zones: Vec<Zone>,
    /// Indices into `zones` summed into a leading `packages` rail, when there are several.
    summed: Vec<usize>,
}

/// The meter as the host holds it: [`RaplSensor`] behind [`MeterPlugin`]'s panic guards.
pub type Rapl = MeterPlugin<RaplSensor>;

/// Builds the meter from its TOML configuration.
pub fn new(config: &str) -> Result<Rapl, AbiError> {
    let config: Config = parse_config("rapl", config)?;
    RaplSensor::open(&config.root).map(MeterPlugin::new)
}

fn describe(name: &str) -> &'static str {
    if name.starts_with("package") {
        "CPU package: cores, caches, uncore and integrated GPU of one socket"
    } else {
        match name {
            "core" => "CPU cores (inside the package)",
            "uncore" => "uncore / integrated GPU (inside the package)",
            "dram" => "DRAM attached to the package (outside the package's total)",
            "psys" => {
                "platform (psys): the SoC platform, contains the packages; never added to them"
            }
            _ => "RAPL zone",
        }
    }
}

impl RaplSensor {
    /// Finds the RAPL zones under `root`.
    pub fn open(root: &Path) -> Result<RaplSensor, AbiError> {
        let dir = under_root(root, POWERCAP_DIR);
        let paths = entries_with_prefix(&dir, "intel-rapl:");
        if paths.is_empty() {
            return Err(AbiError::new(
                ErrorCode::NOT_FOUND,
                format!(
                    "no RAPL zone: no {}/intel-rapl:* (not an Intel/AMD machine with powercap, \
                     or a container that masks /sys/devices/virtual/powercap)",
                    dir.display()
                ),
            ));
        }
        struct Found {
            id: String,
            name: String,
            path: PathBuf,
            range: u64,
        }
        let mut found = Vec::new();
        for path in paths {
            let id = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let name = read_text(&path.join("name"), REMEDY)?;
            read_u64(&path.join("energy_uj"), REMEDY)?;
            let range = read_u64(&path.join("max_energy_range_uj"), REMEDY)?;
            found.push(Found { id, name, path, range });
        }
        let name_of = |id: &str| found.iter().find(|f| f.id == id).map(|f| f.name.clone());
        let rail_names: Vec<String> = found
            .iter()
            .map(|f| {
                let unique = found.iter().filter(|g| g.name == f.name).count() == 1;
                let parent = f.id.rsplit_once(':').map(|(p, _)| p).filter(|p| p.contains(':'));
                match parent.and_then(name_of) {
                    Some(p) if !unique => format!("{p}/{}", f.name),
                    _ => f.name.clone(),
                }
            })
            .collect();
        let is_package =
            |f: &Found| f.id.matches(':').count() == 1 && f.name.starts_with("package");
        let packages: Vec<usize> = (0..found.len()).filter(|&i| is_package(&found[i])).collect();
        let total = match packages.len() {
            0 => found.iter().position(|f| f.name == "psys"),
            1 => Some(packages[0]),
            _ => None,
        };
        let mut rails = Vec::new();
        let summed = if packages.len() > 1 { packages.clone() } else { Vec::new() };
        if !summed.is_empty() {
            let names: Vec<&str> = summed.iter().map(|&i| rail_names[i].as_str()).collect();
            rails.push(rail(
                "packages",
                RailKind::ENERGY,
                RailRole::TOTAL,
                Quality::MEASURED,
                format!("sum of the package counters {}", names.join(" + ")),
            ));
        }
        for (i, f) in found.iter().enumerate() {
            let role = if Some(i) == total { RailRole::TOTAL } else { RailRole::PART };
            let desc = format!(
                "{}; {}/energy_uj (µJ, wraps at {} µJ, unwrapped)",
                describe(&f.name),
                f.path.display(),
                f.range
            );
            rails.push(rail(&rail_names[i], RailKind::ENERGY, role, Quality::MEASURED, desc));
        }
        let has_dram = found.iter().any(|f| f.name == "dram");
        let covered = match (summed.len(), total) {
            (n, _) if n > 1 => format!("the sum of {n} CPU packages"),
            (_, Some(i)) if found[i].name == "psys" => "the psys platform domain".to_string(),
            (_, Some(i)) => format!("RAPL {}", found[i].name),
            _ => "no total".to_string(),
        };
        let boundary = format!(
            "{covered} (cores, caches, uncore, integrated GPU){}; excludes the rest of the \
             platform (chipset, storage, fans, discrete GPUs) and the supply's losses; RAPL is \
             the CPU's own energy model and counter, not an external meter",
            if has_dram { "; DRAM is a separate rail, not in the total" } else { "" }
        );
        let zones = found
            .iter()
            .map(|f| Zone { energy: f.path.join("energy_uj"), unwrap: Unwrapper::new(f.range) })
            .collect();
        Ok(RaplSensor {
            info: MeterInfo {
                name: "rapl".into(),
                boundary: boundary.into(),
                rails: rails.into(),
                update_interval_s: 0.001,
            },
            zones,
            summed,
        })
    }
}

impl Sensor for RaplSensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        let joules = read_each(
            self.zones.iter_mut(),
            |z| read_u64(&z.energy, REMEDY).map(|raw| z.unwrap.update(raw) / 1e6),
            "rapl: no zone could be read",
        )?;
        let mut values: Vec<ROption<f64>> = Vec::with_capacity(joules.len() + 1);
        if !self.summed.is_empty() {
            let sum: Option<f64> = self.summed.iter().map(|&i| joules[i]).sum();
            values.push(sum.into());
        }
        values.extend(joules.into_iter().map(ROption::from));
        Ok(Reading { values: values.into() })
    }
}

// Not in fuzz builds, which link several meters into one binary: their exports share a name.
#[cfg(not(fuzzing))]
#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}

#[cfg(test)]
mod tests {
    use super::Unwrapper;

    #[test]
    fn the_reference_wrap_sequence_gives_its_delta() {
        // 262143000000 -> 1000000 with range 262143328850: (262143328850 - 262143000000) +
        // 1000000 = 1328850 µJ.
        let mut u = Unwrapper::new(262_143_328_850);
        let a = u.update(262_143_000_000);
        let b = u.update(1_000_000);
        assert_eq!(b - a, 1_328_850.0);
        assert_eq!(u.update(1_000_500) - b, 500.0);
    }
}
