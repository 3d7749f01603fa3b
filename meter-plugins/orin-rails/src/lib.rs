//! Power rails of the Jetson Orin family (Orin Nano, Orin NX, AGX Orin) and Xavier NX on
//! JetPack 5/6, read from the upstream `ina3221` hwmon driver.
//!
//! The driver exposes, per channel, `inN_label`, the bus voltage `inN_input` (mV) and the current
//! `currN_input` (mA); there is no power file, so power is V x I. The hwmon and I2C bus numbers
//! change between boots and boards, so both are globbed under
//! `<root>/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*`, and rails are known by the labels read
//! from the files, never by position. Channels labelled `NC` and disabled channels are skipped.
//!
//! The total is `VDD_IN` (the module input) where the board has it; AGX Orin has no such rail,
//! so there the meter adds a `sum` rail over all its rails (jtop's convention) and says so in
//! its boundary. A rail whose label names the GPU (`VDD_CPU_GPU_CV`, `VDD_GPU_SOC`) gets the GPU
//! role. A rail that cannot be read on some reading is reported missing for that reading.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

use std::path::{Path, PathBuf};

use joulebench_abi::{AbiError, ErrorCode, MeterInfo, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::{
    MeterPlugin, Sensor, entries_with_prefix, insert_sum_rail, is_no_data, parse_config, rail,
    read_each, read_error, read_number, read_text, reading, under_root,
};
use serde::Deserialize;

/// Where the driver's devices are, relative to the root.
pub const DRIVER_DIR: &str = "/sys/bus/i2c/drivers/ina3221";

const REMEDY: &str = "the ina3221 hwmon files are world-readable (0444) on stock JetPack; run \
    as root, or `sudo chmod a+r /sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/*` (lost at \
    reboot), or install a udev rule that sets that mode at boot";

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

struct Channel {
    volt: PathBuf,
    curr: PathBuf,
}

/// The Orin rails meter itself; the host holds it as [`OrinRails`].
pub struct OrinRailsSensor {
    info: MeterInfo,
    channels: Vec<Channel>,
    /// Whether rail 0 is a `sum` the meter computes (no total rail on the board).
    computed_sum: bool,
}

fn describe(label: &str) -> &'static str {
    match label {
        "VDD_IN" => "module input: everything on the module",
        "VDD_CPU_GPU_CV" => {
            "CPU, GPU and CV accelerators on one rail (Orin Nano/NX have no GPU-only rail)"
        }
        "VDD_SOC" => "SoC (memory controller, engines)",
        "VDD_GPU_SOC" => "GPU and SoC on one rail (AGX Orin)",
        "VDD_CPU_CV" => "CPU and CV accelerators (AGX Orin)",
        "VIN_SYS_5V0" => "5 V system rail (AGX Orin)",
        "VDDQ_VDD2_1V8AO" => "DRAM (VDDQ, VDD2) and the 1.8 V always-on rail",
        _ => "module rail",
    }
}

fn role(label: &str) -> RailRole {
    if label == "VDD_IN" {
        RailRole::TOTAL
    } else if label.to_ascii_uppercase().contains("GPU") {
        RailRole::GPU
    } else {
        RailRole::PART
    }
}

/// Reads a channel's file once to see whether it can be read: `Ok(false)` when the channel is
/// disabled (`ENODATA`) or absent.
fn probe(path: &Path) -> Result<bool, AbiError> {
    match std::fs::read_to_string(path) {
        Ok(_) => Ok(true),
        Err(e) if is_no_data(&e) || e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(read_error(path, &e, REMEDY)),
    }
}

/// The meter as the host holds it: [`OrinRailsSensor`] behind [`MeterPlugin`]'s panic guards.
pub type OrinRails = MeterPlugin<OrinRailsSensor>;

/// Builds the meter from its TOML configuration.
pub fn new(config: &str) -> Result<OrinRails, AbiError> {
    let config: Config = parse_config("orin-rails", config)?;
    OrinRailsSensor::open(&config.root).map(MeterPlugin::new)
}

impl OrinRailsSensor {
    /// Finds the sensors under `root`.
    pub fn open(root: &Path) -> Result<OrinRailsSensor, AbiError> {
        let driver = under_root(root, DRIVER_DIR);
        if !driver.is_dir() {
            return Err(AbiError::new(
                ErrorCode::NOT_FOUND,
                format!(
                    "no ina3221 hwmon sensor: {} does not exist (not a Jetson on JetPack 5/6? \
                     JetPack 4 boards use the jetson-ina3221 meter)",
                    driver.display()
                ),
            ));
        }
        let mut rails = Vec::new();
        let mut channels = Vec::new();
        let mut update_interval_s: f64 = 0.0;
        let devices = entries_with_prefix(&driver, "");
        for device in devices.iter().filter(|d| is_i2c_client(d)) {
            let dev_name = device.file_name().map(|n| n.to_string_lossy().into_owned());
            let dev_name = dev_name.unwrap_or_default();
            let Some(hwmon) =
                entries_with_prefix(&device.join("hwmon"), "hwmon").into_iter().next()
            else {
                continue;
            };
            if let (Ok(ms), Ok(n)) = (
                read_number(&hwmon.join("update_interval"), REMEDY),
                read_number(&hwmon.join("samples"), REMEDY),
            ) {
                update_interval_s = update_interval_s.max(ms * n.max(1.0) / 1000.0);
            }
            for n in 1..=3 {
                let label_path = hwmon.join(format!("in{n}_label"));
                let label = match std::fs::read_to_string(&label_path) {
                    Ok(s) => s.trim().to_string(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        format!("{dev_name}/in{n}")
                    }
                    Err(e) => return Err(read_error(&label_path, &e, REMEDY)),
                };
                if label == "NC" {
                    continue;
                }
                let enable = hwmon.join(format!("in{n}_enable"));
                if enable.exists() && read_text(&enable, REMEDY)? == "0" {
                    continue;
                }
                let volt = hwmon.join(format!("in{n}_input"));
                let curr = hwmon.join(format!("curr{n}_input"));
                if !probe(&volt)? || !probe(&curr)? {
                    continue;
                }
                let r = role(&label);
                let mut desc = describe(&label).to_string();
                if r == RailRole::GPU {
                    desc.push_str("; carries the GPU");
                }
                desc.push_str(&format!(
                    "; ina3221 {dev_name} channel {n}: in{n}_input (mV) x curr{n}_input (mA), {}",
                    hwmon.display()
                ));
                rails.push(rail(&label, RailKind::POWER, r, Quality::MEASURED, desc));
                channels.push(Channel { volt, curr });
            }
        }
        if channels.is_empty() {
            return Err(AbiError::new(
                ErrorCode::NOT_FOUND,
                format!("no readable ina3221 rail under {}", driver.display()),
            ));
        }
        let summed = insert_sum_rail(&mut rails);
        let computed_sum = summed.is_some();
        let boundary = if let Some(names) = summed {
            format!(
                "sum of the module's rails {} (this board has no VDD_IN total rail; jtop's \
                 convention): rails may overlap or miss parts of the module; excludes the \
                 carrier board, USB/PCIe peripherals, the fan and the supply's losses",
                names.join(", ")
            )
        } else {
            "Jetson module input VDD_IN (INA3221 on the module): CPU, GPU, CV, SoC and DRAM; \
             excludes the carrier board, USB/PCIe peripherals, the fan and the supply's losses"
                .to_string()
        };
        Ok(OrinRailsSensor {
            info: MeterInfo {
                name: "orin-rails".into(),
                boundary: boundary.into(),
                rails: rails.into(),
                update_interval_s,
            },
            channels,
            computed_sum,
        })
    }

    /// Reads every channel: watts per channel, `None` where a file could not be read. An error
    /// when no channel could be read at all.
    fn read_channels(&self) -> Result<Vec<Option<f64>>, AbiError> {
        read_each(
            &self.channels,
            |c| {
                read_number(&c.volt, REMEDY)
                    .and_then(|mv| read_number(&c.curr, REMEDY).map(|ma| mv * ma / 1_000_000.0))
            },
            "orin-rails: no rail could be read",
        )
    }
}

/// Whether a driver-directory entry is an I2C client (`<bus>-<addr>`, e.g. `1-0040`) rather than
/// `bind`, `unbind`, `uevent` or `module`.
fn is_i2c_client(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.split_once('-') {
        Some((bus, addr)) => {
            !bus.is_empty()
                && bus.chars().all(|c| c.is_ascii_digit())
                && !addr.is_empty()
                && addr.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

impl Sensor for OrinRailsSensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        Ok(reading(self.read_channels()?, self.computed_sum))
    }
}

// Not in fuzz builds, which link several meters into one binary: their exports share a name.
#[cfg(not(fuzzing))]
#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
