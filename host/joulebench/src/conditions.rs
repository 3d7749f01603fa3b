//! The runner's side of conditions: the manifest's `[conditions]` table and an experiment's
//! `state`, `state_hz`, `cooldown` and `clock_share`; before each segment the cooldown and the
//! power settings; during it the state meter sampled on the segment's clock beside the power
//! meter; after it the experiment's [`Conditions`] and their flags.
//!
//! ```toml
//! [conditions]                 # optional: where the board's files and tools are
//! root = "/"                   # every path is read under it (tests: a fixture tree)
//! path = "/usr/sbin:/usr/bin"  # the PATH nvpmodel and jetson_clocks are looked up in
//!
//! [[experiment]]
//! meter = "pi5"
//! state = "state"              # a meter plugin with state rails (joulebench_meter_state)
//! state_hz = 1                 # how often it is read (default 1)
//! cooldown = { below_c = 50, max_s = 300 }
//! clock_share = 0.9            # a clock under 90 % of its start counts as fallen
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RVec};
use anyhow::{Result, bail};
use joulebench_abi::{AbiError, Meter, Meter_TO, MeterBox, MeterInfo, RailInfo, RailKind};
use joulebench_conditions::sweep::{
    SettingsGuard, plan, read_note, restore_note, snapshot, target,
};
use joulebench_conditions::{Setting, cool_down, read_settings};
use joulebench_measure::conditions::{Window, summarize_conditions};
use joulebench_measure::records::phase;
use joulebench_measure::{Conditions, PhaseRecord};
use joulebench_sampler::{Clock, Sampler};

pub use joulebench_manifest::conditions::{
    ConditionsSettings, ExperimentConditions, Frequencies, sweep_axes,
};

use crate::loader::{Loaded, Plugin};
use crate::manifest::{Experiment, Manifest};
use crate::runner::{Run, plugin_mut, run_order, sound};
use crate::store::{SampleRecord, StateStart, Store};

/// Where a run notes the settings it changed: beside the results store.
pub fn note_path(manifest: &Manifest) -> PathBuf {
    let mut p = manifest.results_path().into_os_string();
    p.push(".settings-note.json");
    PathBuf::from(p)
}

/// Restores what a run killed with its settings changed left noted; returns what it says about
/// it.
pub fn restore_left_over(manifest: &Manifest) -> Result<Option<String>> {
    let note = note_path(manifest);
    if !note.exists() {
        return Ok(None);
    }
    let changes = restore_note(&note).map_err(|e| anyhow::anyhow!("{e}"))?;
    let list: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
    Ok(Some(format!(
        "a killed run had left the board's settings changed ({}): restored first: {}",
        note.display(),
        if list.is_empty() { "nothing differed".into() } else { list.join("; ") }
    )))
}

/// The settings guard of a run whose experiments sweep power settings (`None` when none does).
pub fn settings_guard(manifest: &Manifest) -> Result<Option<SettingsGuard>> {
    let knobs = manifest
        .experiments
        .iter()
        .fold(Default::default(), |k: joulebench_conditions::sweep::Knobs, e| {
            k.union(e.conditions.settings.knobs())
        });
    if !knobs.any() {
        return Ok(None);
    }
    let board = manifest.conditions.board(&manifest.base_dir());
    SettingsGuard::begin(board, knobs, note_path(manifest))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.path.display()))
}

/// What `joulebench run --dry-run` prints: the settings each experiment would change, in the
/// order they run, and what the end of the run would restore. Nothing is changed.
pub fn dry_run(manifest: &Manifest) -> Result<Vec<String>> {
    let board = manifest.conditions.board(&manifest.base_dir());
    let mut out = Vec::new();
    let note = note_path(manifest);
    if let Some(n) = read_note(&note).map_err(|e| anyhow::anyhow!("{e}"))? {
        out.push(format!(
            "first: restore the settings a killed run left noted in {} (power mode id {:?},              jetson_clocks {:?}, {} cpufreq policies)",
            note.display(),
            n.snapshot.power_mode,
            n.snapshot.jetson_clocks,
            n.snapshot.policies.len()
        ));
    }
    let knobs = manifest
        .experiments
        .iter()
        .fold(Default::default(), |k: joulebench_conditions::sweep::Knobs, e| {
            k.union(e.conditions.settings.knobs())
        });
    if !knobs.any() {
        out.push("no experiment changes the board's settings".into());
        return Ok(out);
    }
    let original = snapshot(&board, knobs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut now = original.clone();
    for (exp, repeat) in run_order(manifest) {
        let t = target(&board, &original, &exp.conditions.settings)
            .map_err(|e| anyhow::anyhow!("experiment {}: {e}", exp.id))?;
        let changes: Vec<String> = plan(&board, &now, &t).iter().map(|c| c.to_string()).collect();
        let name = if exp.repeats > 1 { format!("{} #{repeat}", exp.id) } else { exp.id.clone() };
        out.push(if changes.is_empty() {
            format!("{name}: no change")
        } else {
            format!("{name}: {}", changes.join("; "))
        });
        now = t;
    }
    let back: Vec<String> = plan(&board, &now, &original).iter().map(|c| c.to_string()).collect();
    out.push(if back.is_empty() {
        "at the end: nothing to restore".into()
    } else {
        format!("at the end, restore: {}", back.join("; "))
    });
    Ok(out)
}

/// What stays in the plugin table while its meter is sampled elsewhere: it reads nothing.
struct Lent;

impl Meter for Lent {
    fn info(&self) -> MeterInfo {
        MeterInfo {
            name: "<lent to a sampler>".into(),
            boundary: "".into(),
            rails: RVec::new(),
            update_interval_s: 0.0,
        }
    }

    fn read(&mut self) -> RResult<joulebench_abi::Reading, AbiError> {
        RResult::RErr(AbiError::backend("this meter is being sampled elsewhere"))
    }
}

/// Takes meter `id` out of the plugin table (a placeholder stays) until [`give_back`].
pub(crate) fn lend(plugins: &mut HashMap<String, Loaded>, id: &str) -> Result<MeterBox> {
    let loaded = plugin_mut(plugins, id)?;
    if !matches!(loaded.plugin, Plugin::Meter(_)) {
        bail!("{id:?} is not a meter");
    }
    let placeholder = Plugin::Meter(Meter_TO::from_value(Lent, TD_Opaque));
    match std::mem::replace(&mut loaded.plugin, placeholder) {
        Plugin::Meter(m) => Ok(m),
        _ => unreachable!("checked above"),
    }
}

/// Puts a lent meter back.
pub(crate) fn give_back(plugins: &mut HashMap<String, Loaded>, id: &str, meter: MeterBox) {
    if let Some(loaded) = plugins.get_mut(id) {
        loaded.plugin = Plugin::Meter(meter);
    }
}

/// The hottest temperature of one reading of `meter`, if it read any.
fn hottest(meter: &mut MeterBox, rails: &[RailInfo]) -> Option<f64> {
    let reading = meter.read().into_result().ok()?;
    rails
        .iter()
        .zip(reading.values.iter())
        .filter(|(r, _)| r.kind == RailKind::TEMPERATURE)
        .filter_map(|(_, v)| v.into_option())
        .reduce(f64::max)
}

/// A segment's state before it starts: the lent state meter and what was recorded.
pub(crate) struct Prepared {
    /// The state meter's id.
    pub id: Option<String>,
    /// The state meter while it is lent (given back by [`Prepared::finish`]).
    pub meter: Option<MeterBox>,
    /// What the segment records at its start.
    pub start: StateStart,
}

/// Reads the power settings, lends the state meter and waits for the board to cool, as `exp`
/// asks. Nothing is measured yet.
pub(crate) fn prepare(
    run: &Run<'_>,
    exp: &Experiment,
    plugins: &mut HashMap<String, Loaded>,
    lines: bool,
) -> Result<Prepared> {
    let manifest = run.manifest;
    let board = manifest.conditions.board(&manifest.base_dir());
    if let Some(guard) = run.settings {
        let changes = guard
            .borrow_mut()
            .apply(&exp.conditions.settings)
            .map_err(|e| anyhow::anyhow!("experiment {}: {e}", exp.id))?;
        if lines {
            for c in changes {
                eprintln!("{}: {c}", exp.id);
            }
        }
    }
    let mut start = StateStart { settings: read_settings(&board), ..StateStart::default() };
    if !exp.conditions.settings.is_empty() {
        start.settings.insert(
            0,
            Setting { name: "requested".into(), value: exp.conditions.settings.label() },
        );
    }
    let Some(id) = exp.conditions.state.clone() else {
        return Ok(Prepared { id: None, meter: None, start });
    };
    if id == exp.meter {
        bail!("experiment {}: its state meter {id:?} is also its power meter", exp.id);
    }
    let mut meter = lend(plugins, &id)?;
    let info = meter.info();
    if let Err(e) = sound("state meter", &id, &info.name) {
        give_back(plugins, &id, meter);
        return Err(e);
    }
    if let Some(spec) = &exp.conditions.cooldown {
        if lines {
            eprintln!(
                "{}: cooling down below {} °C (at most {} s)",
                exp.id, spec.below_c, spec.max_s
            );
        }
        let c = cool_down(spec, || hottest(&mut meter, &info.rails), std::thread::sleep);
        if lines {
            eprintln!(
                "{}: cooldown {} after {:.0} s at {}",
                exp.id,
                if c.gave_up { "gave up" } else { "done" },
                c.waited_s,
                c.temp_c.map_or("an unknown temperature".into(), |t| format!("{t:.1} °C"))
            );
        }
        start.cooldown = Some(c);
    }
    start.meter = Some(id.clone());
    start.rails = info.rails.iter().map(|r| (r.name.to_string(), r.kind.0)).collect();
    Ok(Prepared { id: Some(id), meter: Some(meter), start })
}

impl Prepared {
    /// Starts sampling the state meter on `clock`, if there is one.
    pub fn start_sampling(&mut self, clock: Clock, hz: f64) -> Option<StateLive> {
        self.meter.take().map(|m| StateLive { sampler: Sampler::start(m, clock, hz), stored: 0 })
    }

    /// Stops sampling, stores the rest of the samples and gives the meter back.
    pub fn finish(
        mut self,
        live: Option<StateLive>,
        plugins: &mut HashMap<String, Loaded>,
        store: &mut Store,
        experiment: i64,
        segment: u32,
    ) -> Result<()> {
        let mut rest = Vec::new();
        if let Some(live) = live {
            let (meter, trace) = live.sampler.stop();
            rest = samples_since(&trace, live.stored);
            self.meter = Some(meter);
        }
        if let (Some(id), Some(m)) = (&self.id, self.meter.take()) {
            give_back(plugins, id, m);
        }
        if !rest.is_empty() {
            store.store_state_samples(experiment, segment, &rest)?;
        }
        Ok(())
    }
}

/// The state meter being sampled during a segment.
pub(crate) struct StateLive {
    sampler: Sampler,
    stored: usize,
}

fn samples_since(trace: &joulebench_sampler::Trace, from: usize) -> Vec<SampleRecord> {
    let rails = trace.rails().len();
    (from..trace.len())
        .map(|i| SampleRecord {
            t_s: trace.times()[i],
            values: (0..rails).map(|r| trace.value(r, i)).collect(),
        })
        .collect()
}

impl StateLive {
    /// Stores the samples read since the last call.
    pub fn store_new(&mut self, store: &mut Store, experiment: i64, segment: u32) -> Result<()> {
        let trace = self.sampler.trace();
        let new = samples_since(trace, self.stored);
        self.stored = trace.len();
        store.store_state_samples(experiment, segment, &new)
    }
}

/// The conditions of `experiment` from what the store holds (`None` when no segment recorded
/// any: an experiment stored by an older joulebench).
pub(crate) fn conditions_of(
    store: &Store,
    experiment: i64,
    phases: &[PhaseRecord],
    clock_share: f64,
) -> Result<Option<Conditions>> {
    let starts = store.state_starts(experiment)?;
    let Some((_, first)) = starts.first() else { return Ok(None) };
    let rails: Vec<RailInfo> = starts
        .iter()
        .find(|(_, s)| s.meter.is_some())
        .map(|(_, s)| {
            s.rails
                .iter()
                .map(|(name, kind)| RailInfo {
                    name: name.as_str().into(),
                    kind: RailKind(*kind),
                    role: joulebench_abi::RailRole::PART,
                    quality: joulebench_abi::Quality::MEASURED,
                    description: "".into(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut data = Vec::new();
    for (segment, start) in &starts {
        if start.meter.is_none() || start.rails.len() != rails.len() {
            continue;
        }
        let Some(eval) =
            phases.iter().find(|p| p.segment == *segment && p.name == phase::EVALUATION)
        else {
            continue;
        };
        data.push((eval.t0_s, eval.t1_s, store.state_samples(experiment, *segment)?));
    }
    let windows: Vec<Window<'_>> =
        data.iter().map(|(t0, t1, s)| Window { t0_s: *t0, t1_s: *t1, samples: s }).collect();
    let mut c = summarize_conditions(&rails, &windows, clock_share);
    c.settings = first.settings.iter().map(|s| (s.name.clone(), s.value.clone())).collect();
    c.cooldown = starts
        .iter()
        .filter_map(|(_, s)| s.cooldown.clone())
        .reduce(|a, b| if a.gave_up { a } else { b });
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use joulebench_conditions::CooldownSpec;
    use std::path::Path;

    fn parse(experiment: &str, top: &str) -> Result<Manifest> {
        let text = format!(
            r#"{top}
[[plugin]]
id = "rt"
kind = "runtime"
library = "rt"

[[plugin]]
id = "ds"
kind = "dataset"
library = "ds"

[[plugin]]
id = "m"
kind = "meter"
library = "m"

[[plugin]]
id = "state"
kind = "meter"
library = "joulebench_meter_state"

[[model]]
id = "x"
path = "/x.gguf"

[[experiment]]
id = "e"
runtime = "rt"
model = "x"
dataset = "ds"
meter = "m"
{experiment}
"#
        );
        Manifest::parse(Path::new("/boards/m.toml"), text)
    }

    fn error(experiment: &str) -> String {
        format!("{:#}", parse(experiment, "").unwrap_err())
    }

    #[test]
    fn condition_keys_parse_with_defaults() {
        let m = parse("", "").unwrap();
        assert_eq!(m.experiments[0].conditions, ExperimentConditions::default());
        let m = parse(
            "state = \"state\"\nstate_hz = 2\ncooldown = { below_c = 50, max_s = 300 }\nclock_share = 0.8",
            "[conditions]\nroot = \"fixture\"\npath = \"/opt/bin\"",
        )
        .unwrap();
        let c = &m.experiments[0].conditions;
        assert_eq!(c.state.as_deref(), Some("state"));
        assert_eq!(c.state_hz, 2.0);
        assert_eq!(c.cooldown, Some(CooldownSpec { below_c: 50.0, max_s: 300.0, poll_s: 5.0 }));
        assert_eq!(c.clock_share, 0.8);
        let board = m.conditions.board(&m.base_dir());
        assert_eq!(board.root, Path::new("/boards/fixture"));
        assert_eq!(board.path.as_deref(), Some("/opt/bin"));
    }

    #[test]
    fn bad_condition_keys_are_refused_at_their_place() {
        let e = error("state = \"nope\"");
        assert!(e.contains("m.toml:32:9") && e.contains("unknown meter id \"nope\""), "{e}");
        let e = error("state = \"ds\"");
        assert!(e.contains("is a dataset plugin, not a meter"), "{e}");
        let e = error("cooldown = { below_c = 50 }");
        assert!(e.contains("m.toml:32:12") && e.contains("add state = "), "{e}");
        let e = error("state = \"state\"\ncooldown = { below_c = 50, max_s = -1 }");
        assert!(e.contains("max_s must be"), "{e}");
        let e = error("state = \"state\"\ncooldown = { below = 50 }");
        assert!(e.contains("unknown field `below`"), "{e}");
        let e = error("clock_share = 1.5");
        assert!(e.contains("clock_share must be in (0, 1]"), "{e}");
        let e = error("state_hz = 0");
        assert!(e.contains("state_hz must be in (0, 100]"), "{e}");
        let e = format!("{:#}", parse("", "[conditions]\nrot = \"/\"").unwrap_err());
        assert!(e.contains("unknown field `rot`"), "{e}");
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;
    use std::path::Path;

    fn manifest(axes: &str) -> Result<Manifest> {
        let text = format!(
            r#"
[[plugin]]
id = "rt"
kind = "runtime"
library = "rt"

[[plugin]]
id = "ds"
kind = "dataset"
library = "ds"

[[plugin]]
id = "m"
kind = "meter"
library = "m"

[[model]]
id = "x"
path = "/x.gguf"

[[experiment]]
id = "e"
runtime = "rt"
model = "x"
dataset = "ds"
meter = "m"
{axes}
"#
        );
        Manifest::parse(Path::new("m.toml"), text)
    }

    #[test]
    fn axes_expand_into_one_experiment_per_point() {
        let m = manifest(
            "power_mode = [\"7W\", \"15W\"]\ngovernor = [\"schedutil\", \"performance\"]\n\
             max_freq_khz = 1500000\njetson_clocks = true",
        )
        .unwrap();
        let ids: Vec<&str> = m.experiments.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "e/7W/clocks/schedutil/1500000kHz",
                "e/7W/clocks/performance/1500000kHz",
                "e/15W/clocks/schedutil/1500000kHz",
                "e/15W/clocks/performance/1500000kHz"
            ]
        );
        let s = &m.experiments[1].conditions.settings;
        assert_eq!(s.power_mode.as_deref(), Some("7W"));
        assert_eq!(s.governor.as_deref(), Some("performance"));
        assert_eq!((s.max_freq_khz, s.jetson_clocks), (Some(1_500_000), Some(true)));
        // One point: the id stays as written.
        let m = manifest("power_mode = \"MAXN\"").unwrap();
        assert_eq!(m.experiments[0].id, "e");
        assert_eq!(m.experiments[0].conditions.settings.power_mode.as_deref(), Some("MAXN"));
        assert!(manifest("").unwrap().experiments[0].conditions.settings.is_empty());
    }

    #[test]
    fn bad_axes_are_refused_at_their_place() {
        let e = format!("{:#}", manifest("power_mode = []").unwrap_err());
        assert!(e.contains("m.toml:27:14") && e.contains("power_mode lists no value"), "{e}");
        let e = format!("{:#}", manifest("governor = [\"powersave\", \"powersave\"]").unwrap_err());
        assert!(e.contains("governor lists \"powersave\" twice"), "{e}");
        let e = format!("{:#}", manifest("max_freq_khz = \"fast\"").unwrap_err());
        assert!(e.contains("m.toml:27"), "{e}");
    }
}
