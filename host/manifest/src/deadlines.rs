//! A plugin's `deadlines` table: how long the host waits for each of its calls. The host's
//! `deadline` module enforces them.

use std::collections::BTreeMap;
use std::time::Duration;

use joulebench_abi::PluginKind;

/// The calls of each kind of plugin that take a deadline, as the manifest names them.
pub fn calls(kind: PluginKind) -> &'static [&'static str] {
    match kind {
        PluginKind::Runtime => &["new", "info", "load_model", "model_info", "evaluate", "generate"],
        PluginKind::Meter => &["new", "info", "read"],
        PluginKind::Dataset => &["new", "info", "select", "tasks"],
    }
}

/// The default deadline of a call. Loading a model and evaluating a batch get an hour: a large
/// model on a slow board's SD card, or a batch of few-shot prompts on its CPU, takes minutes.
/// A meter read gets 10 s (sensors answer in milliseconds; a vendor tool in well under a
/// second). A dataset reads its files in `new`, `select` and `tasks`: 10 minutes.
pub fn default_limit(call: &str) -> Duration {
    Duration::from_secs(match call {
        "load_model" | "evaluate" | "generate" => 3600,
        "new" | "select" | "tasks" => 600,
        "read" => 10,
        _ => 60,
    })
}

/// A plugin's deadlines: the manifest's overrides of [`default_limit`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deadlines {
    overrides: BTreeMap<String, Duration>,
}

impl Deadlines {
    /// Reads a plugin's `deadlines` table: each key a call of `kind`, each value seconds > 0.
    pub fn parse(kind: PluginKind, table: &toml::Table) -> Result<Deadlines, String> {
        let known = calls(kind);
        let mut overrides = BTreeMap::new();
        for (call, value) in table {
            if !known.contains(&call.as_str()) {
                return Err(format!(
                    "unknown call {call:?} in deadlines (a {kind} plugin's calls: {})",
                    known.join(", ")
                ));
            }
            let seconds = match value {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) => *f,
                other => {
                    return Err(format!("deadlines.{call}: {other} is not a number of seconds"));
                }
            };
            if !(seconds > 0.0 && seconds <= 1e9) {
                return Err(format!(
                    "deadlines.{call} must be a number of seconds > 0, not {seconds}"
                ));
            }
            overrides.insert(call.clone(), Duration::from_secs_f64(seconds));
        }
        Ok(Deadlines { overrides })
    }

    /// The deadline of `call`.
    pub fn get(&self, call: &str) -> Duration {
        self.overrides.get(call).copied().unwrap_or_else(|| default_limit(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_overrides_defaults_per_call_and_refuses_unknown_calls() {
        let table: toml::Table = toml::from_str("load_model = 5\nevaluate = 0.5").unwrap();
        let d = Deadlines::parse(PluginKind::Runtime, &table).unwrap();
        assert_eq!(d.get("load_model"), Duration::from_secs(5));
        assert_eq!(d.get("evaluate"), Duration::from_millis(500));
        assert_eq!(d.get("info"), default_limit("info"));
        let bad: toml::Table = toml::from_str("read = 1").unwrap();
        let e = Deadlines::parse(PluginKind::Runtime, &bad).unwrap_err();
        assert!(e.contains("unknown call \"read\""), "{e}");
        let zero: toml::Table = toml::from_str("read = 0").unwrap();
        assert!(Deadlines::parse(PluginKind::Meter, &zero).is_err());
        let text: toml::Table = toml::from_str("read = \"5\"").unwrap();
        assert!(Deadlines::parse(PluginKind::Meter, &text).is_err());
    }
}
