//! What produced a result: machine, plugins, model, dataset and meter, as one typed, versioned
//! record that the runner writes and the report reads through the same type.
//!
//! Stored as JSON with each experiment. Version 1 records (written before this type existed)
//! have the same keys without `version` and still read.

use joulebench_abi::{MeterInfo, ModelInfo, RuntimeInfo};
use serde::{Deserialize, Serialize};

use crate::identity::LibraryIdentity;

/// The version this build writes.
pub const PROVENANCE_VERSION: u32 = 2;

fn version_1() -> u32 {
    1
}

/// A result's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The record's layout version.
    #[serde(default = "version_1")]
    pub version: u32,
    /// The machine.
    pub host: HostInfo,
    /// The runtime plugin's library.
    pub runtime: Option<LibraryIdentity>,
    /// What the runtime said of itself.
    pub runtime_info: RuntimeDescription,
    /// The model as the runtime loaded it.
    pub model: ModelDescription,
    /// The dataset plugin's library.
    pub dataset: Option<LibraryIdentity>,
    /// The meter plugin's library.
    pub meter: Option<LibraryIdentity>,
    /// What the meter measures.
    pub meter_info: MeterDescription,
    /// The sampling rate asked for, Hz.
    pub sample_hz: f64,
    /// Seconds of the evaluation not spent in runtime calls (scoring, storing, progress).
    #[serde(default)]
    pub host_overhead_s: f64,
    /// `host_overhead_s` as a fraction of the evaluation time.
    #[serde(default)]
    pub host_overhead_fraction: f64,
    /// What a warm-up until power settles did (`warmup_stable`), when the experiment had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<crate::warmup::WarmupOutcome>,
}

/// A snapshot of the machine (read by the host; see its `hostinfo` module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// The host name.
    pub hostname: String,
    /// The board model from the device tree (Raspberry Pi, Jetson), when there is one.
    pub board: Option<String>,
    /// The CPU's model name.
    pub cpu: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// The distribution's pretty name.
    pub os: String,
    /// The kernel release.
    pub kernel: String,
    /// The architecture joulebench was built for.
    pub arch: String,
    /// cpufreq governor of each policy, where exposed.
    pub governors: Vec<String>,
    /// Thermal zones: (type, degrees Celsius).
    pub temperatures_c: Vec<(String, f64)>,
    /// Jetson L4T release line, when present.
    pub l4t: Option<String>,
    /// joulebench's version.
    pub joulebench_version: String,
    /// The ABI version.
    pub abi_version: String,
}

impl HostInfo {
    /// A device name for reports: the board model where the device tree names one, else the CPU.
    pub fn device_name(&self) -> String {
        self.board.clone().unwrap_or_else(|| self.cpu.clone())
    }
}

/// What a runtime said of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeDescription {
    /// The runtime's name.
    pub name: String,
    /// Its engine's version.
    pub engine_version: String,
    /// The backend in use.
    pub backend: String,
}

impl From<&RuntimeInfo> for RuntimeDescription {
    fn from(r: &RuntimeInfo) -> Self {
        RuntimeDescription {
            name: r.name.to_string(),
            engine_version: r.engine_version.to_string(),
            backend: r.backend.to_string(),
        }
    }
}

/// A loaded model (the ABI's `ModelInfo`, as stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDescription {
    /// The model's name.
    pub name: String,
    /// The file.
    pub path: String,
    /// Its architecture.
    pub architecture: String,
    /// Its parameter count, as the runtime counted it.
    pub parameters: u64,
    /// Its quantization.
    pub quantization: String,
    /// The file's size in bytes.
    pub file_size: u64,
    /// The file's sha256.
    pub sha256: String,
    /// The context size it was loaded with.
    pub context_size: u32,
    /// The backend running it.
    pub backend: String,
    /// The device running it.
    pub device: String,
    /// CPU threads.
    pub threads: u32,
}

impl From<&ModelInfo> for ModelDescription {
    fn from(m: &ModelInfo) -> Self {
        ModelDescription {
            name: m.name.to_string(),
            path: m.path.to_string(),
            architecture: m.architecture.to_string(),
            parameters: m.parameters,
            quantization: m.quantization.to_string(),
            file_size: m.file_size,
            sha256: m.sha256.to_string(),
            context_size: m.context_size,
            backend: m.backend.to_string(),
            device: m.device.to_string(),
            threads: m.threads,
        }
    }
}

/// What a meter measures, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterDescription {
    /// The meter's name.
    pub name: String,
    /// Its boundary.
    pub boundary: String,
    /// How often its sensor updates, s (0 = unknown).
    pub update_interval_s: f64,
    /// Its rails, in sample order.
    pub rails: Vec<RailDescription>,
}

/// One rail, as stored: the ABI codes by name (`unknown` for codes this host does not know).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RailDescription {
    /// The rail's name.
    pub name: String,
    /// `W`, `J`, or `?` for an unknown kind.
    pub unit: String,
    /// `total`, `part`, `gpu` or `unknown`.
    pub role: String,
    /// `measured`, `estimated` or `unknown`.
    pub quality: String,
    /// What it feeds.
    pub description: String,
}

impl MeterDescription {
    /// The index of the total rail, if there is one.
    pub fn total_rail(&self) -> Option<usize> {
        self.rails.iter().position(|r| r.role == "total")
    }
}

impl From<&MeterInfo> for MeterDescription {
    fn from(m: &MeterInfo) -> Self {
        MeterDescription {
            name: m.name.to_string(),
            boundary: m.boundary.to_string(),
            update_interval_s: m.update_interval_s,
            rails: m
                .rails
                .iter()
                .map(|r| RailDescription {
                    name: r.name.to_string(),
                    unit: r.kind.unit().into(),
                    role: r.role.as_str().into(),
                    quality: r.quality.as_str().into(),
                    description: r.description.to_string(),
                })
                .collect(),
        }
    }
}

impl Provenance {
    /// Reads a stored provenance record, naming what is wrong with it.
    pub fn from_json(text: &str) -> Result<Provenance, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The record as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
