//! `joulebench exec [--meter ID] [--idle-s N] -- CMD ARGS...`: the energy, time and power trace
//! of any command (a llama-server, `ollama run`, a training script).
//!
//! The meter is read alone for an idle baseline, then while the command runs with its standard
//! streams inherited; its exit code is passed through. The figure is the meter's whole boundary
//! (the machine, or the rail the meter sees) over the command's lifetime, less the idle power:
//! everything else the machine did meanwhile is in it, and nothing attributes it to the command's
//! process alone. The result is stored as an experiment (kind `exec`) with the command line in
//! its provenance, and the samples and the `command` phase beside it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use joulebench_measure::generation::{PhaseFigure, phase_figure};
use joulebench_measure::records::{PhaseEnergy, PhaseRecord, SampleRecord};
use joulebench_metrics::EnergyQuality;
use joulebench_sampler::{Clock, Sampler};
use serde::{Deserialize, Serialize};

use crate::loader::{load, manifest_plugin_dir};
use crate::manifest::Manifest;
use crate::runner::{sound, with_meter};
use crate::segment::stopped_answering;
use crate::store::Store;
use crate::{baseline, deadline, hostinfo, lock};

/// The phase of the command's lifetime.
pub const COMMAND_PHASE: &str = "command";

/// What `joulebench exec` measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecSummary {
    /// The command line.
    pub command: Vec<String>,
    /// The folder it ran in.
    pub cwd: String,
    /// Its exit code (`None`: ended by a signal).
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The meter's name.
    pub meter: String,
    /// What the meter's total covers: the figure is that whole boundary's energy.
    pub boundary: String,
    /// The idle power subtracted, W.
    pub idle_w: Option<f64>,
    /// The idle baseline's length, s.
    pub idle_s: f64,
    /// The command's lifetime and its energy.
    pub energy: PhaseFigure,
    /// Mean power over the lifetime, W.
    pub mean_power_w: Option<f64>,
    /// Meter samples in the lifetime.
    pub samples: u64,
}

impl ExecSummary {
    /// The code `joulebench exec` exits with: the command's, or 128 + the signal's number.
    pub fn exit_status(&self) -> u8 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => (c & 0xff) as u8,
            (None, Some(s)) => (128 + s).clamp(0, 255) as u8,
            (None, None) => 1,
        }
    }

    /// The report's lines.
    pub fn describe(&self) -> String {
        let q = |j: Option<f64>| match (j, self.energy.quality) {
            (None, _) => "unavailable".to_string(),
            (Some(j), EnergyQuality::Measured) => format!("{j:.2} J"),
            (Some(j), _) => format!("~{j:.2} J (estimated)"),
        };
        let mut out = format!(
            "command: {}\nexit: {}\ntime: {:.3} s\nenergy: {} gross, {} active (idle {} subtracted)\nmean power: {}\ncoverage: {}\n",
            shell_words(&self.command),
            match (self.exit_code, self.signal) {
                (Some(c), _) => c.to_string(),
                (None, Some(s)) => format!("signal {s}"),
                _ => "unknown".into(),
            },
            self.energy.seconds,
            q(self.energy.gross_j),
            q(self.energy.active_j),
            self.idle_w
                .map_or("unavailable".into(), |w| format!("{w:.2} W over {:.0} s", self.idle_s)),
            self.mean_power_w.map_or("unavailable".into(), |w| format!("{w:.2} W")),
            self.energy.coverage.map_or("none".into(), |c| format!(
                "{:.1}% ({} samples)",
                100.0 * c,
                self.samples
            )),
        );
        out.push_str(&format!(
            "scope: whole-meter energy ({}: {}), not energy attributed to this process\n",
            self.meter, self.boundary
        ));
        out
    }
}

/// The command line as a shell would read it back.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where `program` would be run from, or an error naming it.
fn find_program(program: &str) -> Result<PathBuf> {
    if program.is_empty() {
        bail!("exec: no command given (joulebench exec [OPTIONS] -- CMD ARGS...)");
    }
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        if executable(&p) {
            return Ok(p);
        }
        bail!("exec: cannot run {program:?}: no executable file at that path");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
        .ok_or_else(|| anyhow!("exec: command not found: {program:?} (searched PATH)"))
}

/// Options of `joulebench exec`.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The manifest whose meter plugin (and results store) to use.
    pub manifest: PathBuf,
    /// The meter's plugin id.
    pub meter: String,
    /// Seconds of idle baseline before the command (0: none, and no active energy).
    pub idle_s: f64,
    /// Meter sampling rate, Hz.
    pub sample_hz: f64,
    /// The command and its arguments.
    pub command: Vec<String>,
}

/// Runs `options.command` under the meter and stores the result.
pub fn exec(options: &ExecOptions) -> Result<ExecSummary> {
    let program = find_program(options.command.first().map_or("", String::as_str))?;
    if !(options.sample_hz > 0.0 && options.sample_hz <= 10_000.0) {
        bail!("exec: --sample-hz must be in (0, 10000]");
    }
    if !(options.idle_s >= 0.0 && options.idle_s.is_finite()) {
        bail!("exec: --idle-s must be a number of seconds >= 0");
    }
    let manifest = Manifest::load(&options.manifest)?;
    let entry = manifest.plugin(&options.meter).with_context(|| {
        let meters: Vec<&str> = manifest
            .plugins
            .iter()
            .filter(|p| p.kind == joulebench_abi::PluginKind::Meter)
            .map(|p| p.id.as_str())
            .collect();
        format!(
            "{}: no meter plugin {:?} (meters: {})",
            options.manifest.display(),
            options.meter,
            meters.join(", ")
        )
    })?;
    if entry.kind != joulebench_abi::PluginKind::Meter {
        bail!("{}: {:?} is a {} plugin, not a meter", entry.at, entry.id, entry.kind);
    }
    let results = manifest.results_path();
    if results.to_str().is_some_and(crate::lab::is_postgres) {
        bail!(
            "{}: joulebench exec stores into a SQLite results file, not a lab's database: give \
             it a manifest whose [settings] results is a path (`joulebench import` copies the \
             file into the database afterwards)",
            manifest.path.display()
        );
    }
    let _lock = lock::acquire(&results)?;
    let loaded = load(entry, &manifest.base_dir(), &manifest_plugin_dir(&manifest))
        .map_err(|e| anyhow!("{}: {e}", entry.at))?;
    let meter_identity = loaded.identity();
    let deadlines = loaded.deadlines.clone();
    let mut plugins = HashMap::from([(entry.id.clone(), loaded)]);
    let mut store = Store::open(&results)?;
    let host = hostinfo::collect(Path::new("/"));
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let spec =
        serde_json::json!({ "command": options.command, "cwd": cwd, "meter": options.meter });
    let run_id = store.begin_run(
        &manifest.path.display().to_string(),
        &manifest.text,
        &serde_json::to_string(&host)?,
    )?;
    let idle = if options.idle_s > 0.0 {
        let b = baseline::take(
            &mut plugins,
            &options.meter,
            "before",
            options.idle_s,
            options.sample_hz,
        )?;
        store.store_baseline(run_id, &b)?;
        Some(b)
    } else {
        None
    };
    let name = format!("exec: {}", shell_words(&options.command));
    let key = format!("exec#{run_id}#{}", crate::store::now_utc());
    let row = store.create_experiment(&key, &name, 0, &spec.to_string(), &[], "{}")?;
    let id = &options.meter;
    let outcome = with_meter(&mut plugins, id, |_, meter| {
        let (meter, info) =
            match deadline::call(id, "info", deadlines.get("info"), meter, |m| m.info()) {
                Ok(got) => got,
                Err(e) => return (Err(format!("{e:#}")), Err(e)),
            };
        if let Err(e) = sound("meter", id, &info.name) {
            return (Ok(meter), Err(e));
        }
        let clock = Clock::new();
        let origin = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            - clock.now();
        let mut sampler = Sampler::start_described(meter, info.clone(), clock, options.sample_hz);
        // one sample before the command starts, so the window's start is covered
        std::thread::sleep(std::time::Duration::from_secs_f64(1.5 / options.sample_hz));
        let t0 = clock.now();
        let status = Command::new(&program).args(&options.command[1..]).status();
        let t1 = clock.now();
        std::thread::sleep(std::time::Duration::from_secs_f64(1.5 / options.sample_hz));
        let _ = sampler.trace();
        let (meter, trace) = sampler.stop_within(deadlines.get("read"));
        let meter = meter.ok_or_else(|| stopped_answering(id, &deadlines));
        let status = status.with_context(|| format!("exec: cannot run {}", program.display()));
        (meter, status.map(|s| (s, t0, t1, trace, info, origin)))
    })?;
    let (status, t0, t1, trace, info, origin) = match outcome {
        Ok(x) => x,
        Err(e) => {
            store.fail(row.id, &format!("{e:#}"))?;
            return Err(e);
        }
    };
    let segment = store.begin_segment(row.id, run_id, origin)?;
    let samples: Vec<SampleRecord> = (0..trace.len())
        .map(|i| SampleRecord {
            t_s: trace.times()[i],
            values: (0..trace.rails().len()).map(|r| trace.value(r, i)).collect(),
        })
        .collect();
    store.store_samples(row.id, segment, &samples)?;
    let energy_json = serde_json::to_string(&PhaseEnergy::from(&trace.energy(t0, t1)))?;
    store.store_phase(
        row.id,
        &PhaseRecord {
            segment,
            name: COMMAND_PHASE.into(),
            t0_s: t0,
            t1_s: t1,
            energy: energy_json,
        },
    )?;
    let idle_w = idle.as_ref().and_then(|b| b.median_w);
    let energy = phase_figure(&trace, t0, t1, 0, idle_w);
    use std::os::unix::process::ExitStatusExt;
    let summary = ExecSummary {
        command: options.command.clone(),
        cwd,
        exit_code: status.code(),
        signal: status.signal(),
        meter: info.name.to_string(),
        boundary: info.boundary.to_string(),
        idle_w,
        idle_s: idle.as_ref().map_or(0.0, |b| b.seconds),
        mean_power_w: energy.gross_j.filter(|_| energy.seconds > 0.0).map(|j| j / energy.seconds),
        samples: trace.times().iter().filter(|&&t| t >= t0 && t <= t1).count() as u64,
        energy,
    };
    let provenance = serde_json::json!({
        "command": options.command,
        "cwd": summary.cwd,
        "host": host,
        "meter": meter_identity,
        "meter_info": joulebench_measure::provenance::MeterDescription::from(&info),
        "sample_hz": options.sample_hz,
    });
    store.set_provenance(row.id, &provenance.to_string())?;
    store.finish_generation(row.id, "exec", &serde_json::to_string(&summary)?)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_or_named() {
        assert!(find_program("sh").is_ok());
        let e = find_program("joulebench-no-such-command").unwrap_err().to_string();
        assert!(e.contains("command not found: \"joulebench-no-such-command\""), "{e}");
        let e = find_program("/no/such/file").unwrap_err().to_string();
        assert!(e.contains("no executable file"), "{e}");
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let words = ["sh", "-c", "echo 'hi' there"].map(String::from);
        assert_eq!(shell_words(&words), "sh -c 'echo '\\''hi'\\'' there'");
    }
}
