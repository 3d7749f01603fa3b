//! Power rails of Jetson Nano and TX-class boards on JetPack 4 (L4T 32), read from NVIDIA's
//! downstream `ina3221x` IIO driver.
//!
//! Each INA3221 appears as `<root>/sys/bus/i2c/drivers/ina3221x/<bus>-<addr>/iio:deviceN/` with,
//! per channel N = 0..2, `rail_name_N` and `in_powerN_input` (mW, integer), besides the bus
//! voltage (mV) and current (mA). The meter reads the power file (the driver's own V x I /
//! 1000), or V x I where a board lacks it. Bus numbers, addresses and IIO device numbers differ
//! between boards (Nano `6-0040`, TX2 `0-0040`, AGX Xavier `1-0040` and `1-0041`), so all are
//! globbed and rails are known by their names.
//!
//! `POM_5V_IN` (Nano) or `VDD_IN` (TX2, Xavier NX) is the total; NVIDIA says the GPU and CPU rails
//! are parts of it and must not be added to it. Boards with no such rail (AGX Xavier) get a
//! computed `sum` rail, said so in the boundary. A rail whose name contains `GPU` gets the GPU
//! role. In the L4T 32 driver's default continuous mode each register is a 64-sample running
//! average (about 0.42 s), which the meter reports as its update interval.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

use std::path::{Path, PathBuf};

use joulebench_abi::{AbiError, ErrorCode, MeterInfo, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::{
    MeterPlugin, Sensor, entries_with_prefix, insert_sum_rail, parse_config, rail, read_each,
    read_error, read_number, read_text, reading, under_root,
};
use serde::Deserialize;

/// Where the driver's devices are, relative to the root.
pub const DRIVER_DIR: &str = "/sys/bus/i2c/drivers/ina3221x";

/// The L4T 32 driver's averaging time constant in continuous mode: 64 samples x 3 channels x
/// (1.1 ms bus + 1.1 ms shunt) conversions (`docs/meters.md#jetson-ina3221`).
pub const CONTINUOUS_AVERAGING_S: f64 = 64.0 * 3.0 * 2.2e-3;

const REMEDY: &str = "some JetPack 4 images make the INA3221 files root-only: run as root, or \
    `sudo chmod o+r /sys/bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_* \
    /sys/bus/i2c/drivers/ina3221x/*/iio:device*/in_*_input` (lost at reboot), or install a udev \
    rule that sets that mode at boot";

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

enum Source {
    /// `in_powerN_input`, mW.
    Power(PathBuf),
    /// `in_voltageN_input` (mV) x `in_currentN_input` (mA).
    VoltCurrent(PathBuf, PathBuf),
}

/// The JetPack 4 INA3221 meter itself; the host holds it as [`JetsonIna3221`].
pub struct JetsonIna3221Sensor {
    info: MeterInfo,
    channels: Vec<Source>,
    computed_sum: bool,
}

fn is_total(name: &str) -> bool {
    name == "POM_5V_IN" || name == "VDD_IN"
}

fn describe(name: &str) -> &'static str {
    match name {
        "POM_5V_IN" | "VDD_IN" => "module input: the total of the module's consumption",
        "POM_5V_GPU" => "GPU (a part of POM_5V_IN, not to be added to it)",
        "POM_5V_CPU" => "CPU (a part of POM_5V_IN, not to be added to it)",
        "GPU" => "GPU (AGX Xavier)",
        "CPU" => "CPU (AGX Xavier)",
        "SOC" => "SoC (AGX Xavier)",
        "CV" => "CV accelerators (AGX Xavier)",
        "VDDRQ" => "DRAM (AGX Xavier)",
        "SYS5V" => "5 V system rail (AGX Xavier)",
        _ => "module rail",
    }
}

/// The meter as the host holds it: [`JetsonIna3221Sensor`] behind [`MeterPlugin`]'s panic guards.
pub type JetsonIna3221 = MeterPlugin<JetsonIna3221Sensor>;

/// Builds the meter from its TOML configuration.
pub fn new(config: &str) -> Result<JetsonIna3221, AbiError> {
    let config: Config = parse_config("jetson-ina3221", config)?;
    JetsonIna3221Sensor::open(&config.root).map(MeterPlugin::new)
}

fn readable(path: &Path) -> Result<bool, AbiError> {
    match std::fs::read_to_string(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(read_error(path, &e, REMEDY)),
    }
}

impl JetsonIna3221Sensor {
    /// Finds the sensors under `root`.
    pub fn open(root: &Path) -> Result<JetsonIna3221Sensor, AbiError> {
        let driver = under_root(root, DRIVER_DIR);
        if !driver.is_dir() {
            return Err(AbiError::new(
                ErrorCode::NOT_FOUND,
                format!(
                    "no ina3221x sensor: {} does not exist (not a Jetson on JetPack 4? Orin and \
                     JetPack 5/6 boards use the orin-rails meter; Jetson Nano 2GB has no INA3221)",
                    driver.display()
                ),
            ));
        }
        let mut rails = Vec::new();
        let mut channels = Vec::new();
        let mut continuous = false;
        for device in entries_with_prefix(&driver, "") {
            let dev = device.file_name().map(|n| n.to_string_lossy().into_owned());
            let dev = dev.unwrap_or_default();
            let Some(iio) = entries_with_prefix(&device, "iio:device").into_iter().next() else {
                continue;
            };
            if let Ok(mode) = read_text(&iio.join("running_mode"), REMEDY) {
                continuous |= mode == "1";
            }
            for n in 0..3 {
                let name_path = iio.join(format!("rail_name_{n}"));
                if !readable(&name_path)? {
                    continue;
                }
                let name = read_text(&name_path, REMEDY)?;
                let power = iio.join(format!("in_power{n}_input"));
                let volt = iio.join(format!("in_voltage{n}_input"));
                let curr = iio.join(format!("in_current{n}_input"));
                let (source, how) = if readable(&power)? {
                    (Source::Power(power), format!("in_power{n}_input (mW)"))
                } else if readable(&volt)? && readable(&curr)? {
                    (
                        Source::VoltCurrent(volt, curr),
                        format!("in_voltage{n}_input (mV) x in_current{n}_input (mA)"),
                    )
                } else {
                    continue;
                };
                let role = if is_total(&name) {
                    RailRole::TOTAL
                } else if name.to_ascii_uppercase().contains("GPU") {
                    RailRole::GPU
                } else {
                    RailRole::PART
                };
                let mut desc = describe(&name).to_string();
                if role == RailRole::GPU {
                    desc.push_str("; carries the GPU");
                }
                desc.push_str(&format!("; ina3221x {dev} channel {n}: {how}, {}", iio.display()));
                let limit = iio.join(format!("crit_current_limit_{n}"));
                if let Ok(ma) = read_number(&limit, "") {
                    desc.push_str(&format!("; critical current limit {ma} mA"));
                }
                rails.push(rail(&name, RailKind::POWER, role, Quality::MEASURED, desc));
                channels.push(source);
            }
        }
        if channels.is_empty() {
            return Err(AbiError::new(
                ErrorCode::NOT_FOUND,
                format!("no readable ina3221x rail under {}", driver.display()),
            ));
        }
        let summed = insert_sum_rail(&mut rails);
        let computed_sum = summed.is_some();
        let boundary = if let Some(names) = summed {
            format!(
                "sum of the board's INA3221 rails {} (no POM_5V_IN/VDD_IN total rail): rails may \
                 overlap or miss parts of the module; excludes the carrier board's peripherals, \
                 the fan and the supply's losses",
                names.join(", ")
            )
        } else {
            let total = rails.iter().find(|r| r.role == RailRole::TOTAL).map(|r| r.name.as_str());
            let total = total.unwrap_or_default();
            format!(
                "Jetson module input {total} (INA3221 on the module; NVIDIA: the total power \
                 consumption); the other rails are parts of it, never added; excludes the carrier \
                 board's peripherals (USB devices, fan) and the supply's losses"
            )
        };
        Ok(JetsonIna3221Sensor {
            info: MeterInfo {
                name: "jetson-ina3221".into(),
                boundary: boundary.into(),
                rails: rails.into(),
                update_interval_s: if continuous { CONTINUOUS_AVERAGING_S } else { 0.0 },
            },
            channels,
            computed_sum,
        })
    }
}

impl Sensor for JetsonIna3221Sensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        let watts = read_each(
            &self.channels,
            |c| match c {
                Source::Power(p) => read_number(p, REMEDY).map(|mw| mw / 1000.0),
                Source::VoltCurrent(v, i) => read_number(v, REMEDY)
                    .and_then(|mv| read_number(i, REMEDY).map(|ma| mv * ma / 1e6)),
            },
            "jetson-ina3221: no rail could be read",
        )?;
        Ok(reading(watts, self.computed_sum))
    }
}

// Not in fuzz builds, which link several meters into one binary: their exports share a name.
#[cfg(not(fuzzing))]
#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
