//! A meter for the host's fault tests: one measured total rail at a constant `watts` (default
//! 5), whose reads misbehave on demand.
//!
//! `read = MODE` from the `read_from`-th read on (1 = the first; the default), where a mode is
//! `"error"` (return an error), `"sleep:S"` (take S seconds, then answer) or `"hang"` (never
//! return: a sensor or vendor tool that stopped answering).

use std::time::Duration;

use abi_stable::std_types::{RResult, RSome, RVec};
use joulebench_abi::{
    AbiError, Meter, MeterInfo, Quality, RailInfo, RailKind, RailRole, Reading, guard,
};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    watts: Option<f64>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    read_from: Option<u64>,
}

/// The faulty meter.
pub struct FaultyMeter {
    config: Config,
    reads: u64,
}

fn new(config: &str) -> Result<FaultyMeter, AbiError> {
    let config: Config = toml::from_str(config).map_err(|e| AbiError::config(e.to_string()))?;
    Ok(FaultyMeter { config, reads: 0 })
}

impl Meter for FaultyMeter {
    fn info(&self) -> MeterInfo {
        MeterInfo {
            name: "faulty test meter".into(),
            boundary: "nothing: a constant for tests".into(),
            rails: vec![RailInfo {
                name: "total".into(),
                kind: RailKind::POWER,
                role: RailRole::TOTAL,
                quality: Quality::MEASURED,
                description: "constant power until told to fail".into(),
            }]
            .into(),
            update_interval_s: 0.0,
        }
    }

    fn read(&mut self) -> RResult<Reading, AbiError> {
        guard(|| {
            self.reads += 1;
            if let Some(how) = &self.config.read
                && self.reads >= self.config.read_from.unwrap_or(1)
            {
                if let Some(s) = how.strip_prefix("sleep:") {
                    let s: f64 = s.parse().map_err(|_| AbiError::config("bad sleep"))?;
                    std::thread::sleep(Duration::from_secs_f64(s));
                } else {
                    match how.as_str() {
                        "error" => {
                            return Err(AbiError::backend(format!(
                                "read {} was told to fail",
                                self.reads
                            )));
                        }
                        "hang" => loop {
                            std::thread::sleep(Duration::from_secs(3600));
                        },
                        other => {
                            return Err(AbiError::config(format!("unknown mode {other:?}")));
                        }
                    }
                }
            }
            Ok(Reading { values: RVec::from(vec![RSome(self.config.watts.unwrap_or(5.0))]) })
        })
    }
}

joulebench_abi::export_meter_plugin!(new);
