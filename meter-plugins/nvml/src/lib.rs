//! NVIDIA GPU energy and power through NVML.
//!
//! `libnvidia-ml` is loaded at run time (through `nvml-wrapper`), so the plugin builds and loads
//! on machines without a GPU and refuses at construction there, saying that no NVIDIA driver was
//! found. On a GPU it offers:
//!
//! - `gpu_energy`: `nvmlDeviceGetTotalEnergyConsumption`, mJ since the driver was loaded (Volta
//!   and newer), reported in joules; the total, since counters beat integrated power.
//! - `gpu_power`: `nvmlDeviceGetPowerUsage`, mW, reported in watts; the total on GPUs without
//!   the energy counter. On Ampere and newer (except GA100) it is a 1 s average.
//!
//! Jetson boards' integrated GPUs are measured with the INA3221 meters instead (`jetson-ina3221`,
//! `orin-rails`); NVML there does not report power. The conversions and the error mapping are
//! plain functions so they can be tested without a GPU.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

use std::ffi::OsStr;

use abi_stable::std_types::ROption;
use joulebench_abi::{AbiError, ErrorCode, MeterInfo, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::{MeterPlugin, Sensor, parse_config, rail};
use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;
use serde::Deserialize;

/// The meter's configuration.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The GPU's NVML index (default 0).
    pub device: u32,
    /// Path or name of the NVML library (default `libnvidia-ml.so`, then `libnvidia-ml.so.1`).
    pub library: Option<String>,
}

/// mJ (NVML's energy counter) to J.
pub fn energy_j(millijoules: u64) -> f64 {
    millijoules as f64 / 1000.0
}

/// mW (NVML's power) to W.
pub fn power_w(milliwatts: u32) -> f64 {
    f64::from(milliwatts) / 1000.0
}

/// The error for a failed NVML initialisation.
pub fn init_error(err: &NvmlError, library: &str) -> AbiError {
    match err {
        NvmlError::LibloadingError(e) => AbiError::new(
            ErrorCode::NOT_FOUND,
            format!("{library} not found: no NVIDIA driver ({e})"),
        ),
        NvmlError::LibraryNotFound => {
            AbiError::new(ErrorCode::NOT_FOUND, format!("{library} not found: no NVIDIA driver"))
        }
        NvmlError::DriverNotLoaded => AbiError::new(
            ErrorCode::NOT_FOUND,
            format!("{library} loaded but the NVIDIA driver is not running (is a GPU installed?)"),
        ),
        NvmlError::NoPermission => AbiError::new(
            ErrorCode::PERMISSION_DENIED,
            "nvml has no permission to talk to the driver: the user needs read/write access to \
             /dev/nvidiactl and /dev/nvidia* (the video group on most distributions)",
        ),
        e => AbiError::backend(format!("nvml initialisation failed: {e}")),
    }
}

/// What one NVML query gives a rail: a value, or `None` for a gap. `NotSupported` at
/// construction means the rail does not exist on this GPU (see [`supported`]).
pub fn reading<T>(r: Result<T, NvmlError>, convert: impl Fn(T) -> f64) -> Option<f64> {
    r.ok().map(convert).filter(|v| v.is_finite())
}

/// Whether a query at construction shows the GPU offers it: an error other than
/// `NotSupported` is reported, `NotSupported` means no such rail.
pub fn supported<T>(r: &Result<T, NvmlError>, what: &str) -> Result<bool, AbiError> {
    match r {
        Ok(_) => Ok(true),
        Err(NvmlError::NotSupported) => Ok(false),
        Err(NvmlError::NoPermission) => Err(AbiError::new(
            ErrorCode::PERMISSION_DENIED,
            format!("nvml {what}: no permission (access to /dev/nvidia* is needed)"),
        )),
        Err(e) => Err(AbiError::backend(format!("nvml {what}: {e}"))),
    }
}

/// The NVML meter itself; the host holds it as [`NvmlMeter`].
pub struct NvmlSensor {
    info: MeterInfo,
    nvml: Nvml,
    index: u32,
    energy: bool,
    power: bool,
}

/// The meter as the host holds it: [`NvmlSensor`] behind [`MeterPlugin`]'s panic guards.
pub type NvmlMeter = MeterPlugin<NvmlSensor>;

/// Builds the meter from its TOML configuration.
pub fn new(config: &str) -> Result<NvmlMeter, AbiError> {
    let config: Config = parse_config("nvml", config)?;
    NvmlSensor::open(&config).map(MeterPlugin::new)
}

fn init(library: Option<&str>) -> Result<Nvml, AbiError> {
    match library {
        Some(lib) => {
            Nvml::builder().lib_path(OsStr::new(lib)).init().map_err(|e| init_error(&e, lib))
        }
        None => match Nvml::init() {
            Ok(n) => Ok(n),
            Err(NvmlError::LibloadingError(_)) => Nvml::builder()
                .lib_path(OsStr::new("libnvidia-ml.so.1"))
                .init()
                .map_err(|e| init_error(&e, "libnvidia-ml.so")),
            Err(e) => Err(init_error(&e, "libnvidia-ml.so")),
        },
    }
}

impl NvmlSensor {
    /// Initialises NVML and looks at what the GPU offers.
    pub fn open(config: &Config) -> Result<NvmlSensor, AbiError> {
        let nvml = init(config.library.as_deref())?;
        let index = config.device;
        let device = nvml.device_by_index(index).map_err(|e| {
            let count = nvml.device_count().unwrap_or(0);
            AbiError::new(
                ErrorCode::NOT_FOUND,
                format!("nvml: no GPU with index {index} ({count} GPU(s) present): {e}"),
            )
        })?;
        let name = device.name().unwrap_or_else(|_| "unknown GPU".to_string());
        let energy = supported(&device.total_energy_consumption(), "total energy consumption")?;
        let power = supported(&device.power_usage(), "power usage")?;
        if !energy && !power {
            return Err(AbiError::unsupported(format!(
                "nvml: GPU {index} ({name}) reports neither energy nor power"
            )));
        }
        let mut rails = Vec::new();
        if energy {
            rails.push(rail(
                "gpu_energy",
                RailKind::ENERGY,
                RailRole::TOTAL,
                Quality::MEASURED,
                format!(
                    "{name} (GPU {index}): nvmlDeviceGetTotalEnergyConsumption, mJ since the \
                     driver was loaded, in J"
                ),
            ));
        }
        if power {
            rails.push(rail(
                "gpu_power",
                RailKind::POWER,
                if energy { RailRole::GPU } else { RailRole::TOTAL },
                Quality::MEASURED,
                format!(
                    "{name} (GPU {index}): nvmlDeviceGetPowerUsage, mW, in W; a 1 s average on \
                     Ampere and newer except GA100"
                ),
            ));
        }
        let boundary = format!(
            "NVIDIA GPU {index} ({name}) as NVML sees it: the GPU board and its memory; the \
             sensor may sample only part of the time (A100/H100 about 25 %); excludes the host \
             CPU, RAM, disks, fans and the supply's losses"
        );
        Ok(NvmlSensor {
            info: MeterInfo {
                name: "nvml".into(),
                boundary: boundary.into(),
                rails: rails.into(),
                update_interval_s: 0.1,
            },
            nvml,
            index,
            energy,
            power,
        })
    }
}

impl Sensor for NvmlSensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        let device = self
            .nvml
            .device_by_index(self.index)
            .map_err(|e| AbiError::backend(format!("nvml: GPU {} is gone: {e}", self.index)))?;
        let mut values: Vec<Option<f64>> = Vec::with_capacity(2);
        if self.energy {
            values.push(reading(device.total_energy_consumption(), energy_j));
        }
        if self.power {
            values.push(reading(device.power_usage(), power_w));
        }
        if values.iter().all(Option::is_none) {
            return Err(AbiError::backend(format!("nvml: GPU {} gave no value", self.index)));
        }
        Ok(Reading { values: values.into_iter().map(ROption::from).collect() })
    }
}

#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
