//! A runtime plugin for the host's loader tests that fails on demand.
//!
//! Its configuration says where it fails: `constructor = "error" | "panic"` makes the constructor
//! return an error or panic; `load_model = "error" | "panic"` does the same in
//! [`Runtime::load_model`]. With neither it constructs and loads nothing useful, which is enough
//! to show that a failing call leaves the host running.

use abi_stable::std_types::{RResult, RString};
use joulebench_abi::{AbiError, ModelBox, ModelSpec, Runtime, RuntimeInfo, guard};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    constructor: Option<String>,
    #[serde(default)]
    load_model: Option<String>,
}

/// The faulty runtime.
pub struct Faulty {
    load_model: Option<String>,
}

fn fail(how: &str, place: &str) -> Result<(), AbiError> {
    match how {
        "panic" => panic!("{place} was told to panic"),
        "error" => Err(AbiError::backend(format!("{place} was told to fail"))),
        other => Err(AbiError::config(format!("unknown failure mode {other:?}"))),
    }
}

fn new(config: &str) -> Result<Faulty, AbiError> {
    let config: Config = toml::from_str(config).map_err(|e| AbiError::config(e.to_string()))?;
    if let Some(how) = &config.constructor {
        fail(how, "constructor")?;
    }
    Ok(Faulty { load_model: config.load_model })
}

impl Runtime for Faulty {
    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            name: "faulty".into(),
            engine_version: RString::new(),
            backends: vec!["cpu".into()].into(),
            backend: "cpu".into(),
        }
    }

    fn load_model(&mut self, _spec: &ModelSpec) -> RResult<ModelBox, AbiError> {
        guard(|| {
            if let Some(how) = &self.load_model {
                fail(how, "load_model")?;
            }
            Err(AbiError::unsupported("the faulty plugin loads no models"))
        })
    }
}

joulebench_abi::export_runtime_plugin!(new);
