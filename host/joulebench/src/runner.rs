//! Runs a manifest's experiments: idle baseline, model load, warm-up and evaluation, with the
//! meter sampled on its own thread the whole time and everything stored as it happens.
//!
//! An experiment runs in *segments*, one per process that works on it: a run killed part-way
//! leaves the tasks it finished in the store, and the next `joulebench run` of the same manifest
//! starts a new segment (load and warm-up again) that evaluates only what is missing (see
//! [`crate::segment`]). Time and energy of the evaluation are the sums over segments of each
//! segment's evaluation window; the measurement core (`joulebench-measure`) computes them.
//!
//! An experiment is found again by a key that hashes its manifest entry and its [`Identity`]:
//! the plugin builds, the model file and the dataset files. A resume whose identity changed is
//! refused with the changed part named, because it would mix two systems in one result;
//! `--fresh` sets the old tasks aside and starts again.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use joulebench_abi::{DatasetInfo, MeterBox, Selection};
use joulebench_measure::{HostInfo, Identity, Summary};
use sha2::{Digest, Sha256};

use crate::loader::{Loaded, Plugin, load, manifest_plugin_dir};
use crate::manifest::{Experiment, Manifest};
pub use crate::progress::ProgressMode;
use crate::segment::Segment;
use crate::store::Store;
use crate::{baseline, deadline, hostinfo, lock, signals};

/// The outcome of `joulebench run`.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Experiments (with repeat numbers) finished in this run or before it.
    pub finished: Vec<Summary>,
    /// Generation experiments (`workload = "generate"`) finished in this run or before it.
    pub generated: Vec<crate::generation::GenerationSummary>,
    /// Experiments that failed, with the error.
    pub failed: Vec<(String, String)>,
    /// What a reader should know of the run as a whole (the idle baselines and their drift).
    pub notes: Vec<String>,
    /// The stop signal that ended the run early, if one did.
    pub interrupted: Option<signals::Signal>,
}

/// Options for a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Stop each experiment after this many batches (for tests that interrupt runs).
    pub max_batches: Option<u64>,
    /// Set aside unfinished experiments whose plugins, model or data changed, and start them
    /// again, instead of refusing to resume them.
    pub fresh: bool,
    /// Run only this experiment id and repeat (a lab agent's unit).
    pub only: Option<(String, u32)>,
}

/// What every experiment of one `joulebench run` shares.
pub(crate) struct Run<'a> {
    pub manifest: &'a Manifest,
    pub host: &'a HostInfo,
    pub device: &'a str,
    pub run_id: i64,
    pub options: &'a RunOptions,
    /// The power settings the experiments sweep, restored when the run ends.
    pub settings: Option<&'a std::cell::RefCell<joulebench_conditions::sweep::SettingsGuard>>,
}

/// Loads every plugin of the manifest, failing on the first refusal.
pub fn load_plugins(manifest: &Manifest) -> Result<HashMap<String, Loaded>> {
    let dir = manifest_plugin_dir(manifest);
    let mut out = HashMap::new();
    for entry in &manifest.plugins {
        let loaded =
            load(entry, &manifest.base_dir(), &dir).map_err(|e| anyhow!("{}: {e}", entry.at))?;
        out.insert(entry.id.clone(), loaded);
    }
    Ok(out)
}

/// Runs every experiment of the manifest, continuing unfinished ones found in the store.
/// Experiments that fail are recorded and the run goes on with the next one; a store that
/// cannot be written stops the run (see [`crate::lock`]), and so does a stop signal (see
/// [`crate::signals`]).
pub fn run(manifest: &Manifest, options: &RunOptions) -> Result<RunOutcome> {
    let results = manifest.results_path();
    if results.to_str().is_some_and(crate::lab::is_postgres) {
        // `joulebench run` hands such a manifest to the lab's agent (crate::lab::run_here),
        // which runs into a local file and uploads it.
        bail!(
            "{}: the runner stores into a SQLite file; a lab's database is written by \
             `joulebench agent` or `joulebench run`",
            manifest.path.display()
        );
    }
    let _lock = lock::acquire(&results)?;
    let restored = crate::conditions::restore_left_over(manifest)?;
    let mut plugins = load_plugins(manifest)?;
    let mut store = Store::open(&results)?;
    let host = hostinfo::collect(Path::new("/"));
    let device = manifest.settings.device.clone().unwrap_or_else(|| host.device_name());
    let run_id = store
        .begin_run(
            &manifest.path.display().to_string(),
            &manifest.text,
            &serde_json::to_string(&host)?,
        )
        .with_context(|| format!("cannot write the results store {}", results.display()))?;
    // A second stop signal exits at once: this hook puts back what a sweep changed on that path
    // (the settings guard does it on every other one, and drops first).
    let _restore = signals::on_restore("power settings", || {
        let (_, errors) = joulebench_conditions::sweep::restore_active();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    });
    let guard = crate::conditions::settings_guard(manifest)?.map(std::cell::RefCell::new);
    let run =
        Run { manifest, host: &host, device: &device, run_id, options, settings: guard.as_ref() };
    let mut outcome = RunOutcome::default();
    outcome.notes.extend(restored);
    let mut baselines = Vec::new();
    for (exp, repeat) in run_order(manifest) {
        if let Some(signal) = signals::requested() {
            outcome.interrupted = Some(signal);
            break;
        }
        if options.only.as_ref().is_some_and(|(id, r)| *id != exp.id || *r != repeat) {
            continue;
        }
        let name = if exp.repeats > 1 { format!("{} #{repeat}", exp.id) } else { exp.id.clone() };
        let result = match &exp.generate {
            Some(g) => crate::generation::run_experiment(
                &run,
                &mut plugins,
                &mut store,
                exp,
                g,
                repeat,
                &mut baselines,
            )
            .map(|s| outcome.generated.push(s)),
            None => run_experiment(&run, &mut plugins, &mut store, exp, repeat, &mut baselines)
                .map(|s| outcome.finished.push(s)),
        };
        match result {
            Ok(()) => {}
            Err(e) if lock::is_store_write_failure(&e) => {
                return Err(e.context(format!(
                    "experiment {name}: cannot write the results store {}; every batch stored \
                     before this one is kept; free space (or fix the store) and run again to \
                     continue",
                    results.display()
                )));
            }
            Err(e) => {
                let msg = format!("{e:#}");
                if let Some(signals::Interrupted(signal)) = e.downcast_ref() {
                    outcome.interrupted = Some(*signal);
                    break;
                }
                tracing::error!("experiment {name} failed: {msg}");
                outcome.failed.push((name, msg));
            }
        }
    }
    if outcome.interrupted.is_some() {
        signals::restore_all();
        return Ok(outcome);
    }
    for (meter, sample_hz) in baselines {
        let idle_s = manifest.settings.idle_s();
        let after = match baseline::take(&mut plugins, &meter, "after", idle_s, sample_hz) {
            Ok(after) => after,
            Err(e) => {
                outcome
                    .notes
                    .push(format!("no idle baseline of meter {meter:?} after the run: {e:#}"));
                continue;
            }
        };
        store.store_baseline(run_id, &after)?;
        if let Some(before) = store.baseline(run_id, &meter, "before")? {
            outcome.notes.push(baseline::describe(&before, &after));
        }
    }
    if let Some(guard) = guard {
        let changes = guard.borrow_mut().restore().map_err(|e| anyhow!("{e}"))?;
        if !changes.is_empty() {
            let list: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
            outcome.notes.push(format!("restored the board's settings: {}", list.join("; ")));
        }
    }
    Ok(outcome)
}

/// Every experiment and repeat, in the order they run: the manifest's order when nothing
/// repeats; otherwise all of them shuffled with the manifest's `order_seed`, so that repeats
/// interleave with the other experiments and drift or heat does not fall on one configuration.
/// The order is the same each time the manifest runs, so a resumed run takes the same path.
pub fn run_order(manifest: &Manifest) -> Vec<(&Experiment, u32)> {
    let mut units: Vec<(&Experiment, u32)> =
        manifest.experiments.iter().flat_map(|e| (0..e.repeats).map(move |r| (e, r))).collect();
    if manifest.experiments.iter().any(|e| e.repeats > 1) {
        fastrand::Rng::with_seed(manifest.settings.order_seed.unwrap_or(1)).shuffle(&mut units);
    }
    units
}

pub(crate) fn plugin_mut<'p>(
    plugins: &'p mut HashMap<String, Loaded>,
    id: &str,
) -> Result<&'p mut Loaded> {
    let loaded = plugins.get_mut(id).with_context(|| format!("plugin {id:?} is not loaded"))?;
    if let Plugin::Abandoned(why) = &loaded.plugin {
        bail!("plugin {id:?} is unusable: {why}");
    }
    Ok(loaded)
}

/// Refuses a component whose `info()` panicked: its plugin reports `<plugin panicked: ...>` in
/// place of a name, and nothing it says can be trusted.
pub(crate) fn sound(kind: &str, id: &str, name: &str) -> Result<()> {
    if joulebench_abi::is_panicked_name(name) {
        bail!("{kind} {id:?}: its info() panicked: {name}");
    }
    Ok(())
}

/// Lends meter `id` to `f`, which a sampler thread must own it for, with the other plugins;
/// `f` hands the meter back, and it returns to the plugins whatever `f`'s result. A meter `f`
/// cannot hand back (a call missed its deadline, see [`crate::deadline`]) is marked abandoned
/// with the reason `f` gives.
pub(crate) fn with_meter<T>(
    plugins: &mut HashMap<String, Loaded>,
    id: &str,
    f: impl FnOnce(&mut HashMap<String, Loaded>, MeterBox) -> (Result<MeterBox, String>, T),
) -> Result<T> {
    plugin_mut(plugins, id)?;
    let mut loaded = plugins.remove(id).with_context(|| format!("plugin {id:?} is not loaded"))?;
    let meter = match loaded.plugin {
        Plugin::Meter(m) => m,
        other => {
            loaded.plugin = other;
            plugins.insert(id.to_string(), loaded);
            bail!("{id:?} is not a meter");
        }
    };
    let (meter, out) = f(plugins, meter);
    loaded.plugin = match meter {
        Ok(m) => Plugin::Meter(m),
        Err(why) => Plugin::Abandoned(why),
    };
    plugins.insert(id.to_string(), loaded);
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The experiment's manifest entry, resolved: everything the manifest decides about its results.
pub(crate) fn manifest_spec(manifest: &Manifest, exp: &Experiment) -> Result<serde_json::Value> {
    let plugin = |id: &str| manifest.plugin(id).map(|p| (p.library.clone(), p.config.clone()));
    let model = manifest.model(&exp.model).context("model vanished from the manifest")?;
    let mut spec = serde_json::json!({
        "runtime": plugin(&exp.runtime),
        "dataset": plugin(&exp.dataset),
        "meter": plugin(&exp.meter),
        "model": [model.path.clone(), model.options.clone()],
        "parameters_b": model.parameters_b,
        "convention": exp.convention.as_str(),
        "selection": exp.selection.as_str(),
        "limit": exp.limit,
        "seed": exp.seed,
        "warmup_tasks": exp.warmup_tasks,
        "latency_tasks": exp.latency_tasks,
        "batch_tasks": exp.batch_tasks,
        "sample_hz": exp.sample_hz,
    });
    // Power settings decide results; experiments without any keep the keys they always had.
    if !exp.conditions.settings.is_empty() {
        spec["settings"] = serde_json::to_value(&exp.conditions.settings)?;
    }
    if let Some(w) = &exp.warmup_stable {
        spec["warmup_stable"] = serde_json::to_value(w)?;
    }
    if let Some(g) = &exp.generate {
        spec["generate"] = serde_json::to_value(g)?;
    }
    Ok(spec)
}

/// What the experiment's results depend on outside the manifest, as it is now.
fn identity(
    manifest: &Manifest,
    plugins: &HashMap<String, Loaded>,
    exp: &Experiment,
    dataset: &DatasetInfo,
) -> Result<Identity> {
    let lib = |id: &str| {
        plugins
            .get(id)
            .map(Loaded::identity)
            .with_context(|| format!("plugin {id:?} is not loaded"))
    };
    let model = manifest.model(&exp.model).context("unknown model")?;
    let model_path = manifest.model_path(model)?;
    let model_sha256 = joulebench_gguf::sha256_cached(&model_path)
        .with_context(|| format!("cannot read the model file {}", model_path.display()))?;
    Ok(Identity {
        runtime: lib(&exp.runtime)?,
        dataset: lib(&exp.dataset)?,
        meter: lib(&exp.meter)?,
        model_sha256,
        dataset_sha256: dataset.checksum.to_string(),
    })
}

/// The stored spec of an experiment: its manifest entry and its identity.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSpec {
    manifest: serde_json::Value,
    identity: Option<Identity>,
}

/// Refuses to start `exp` afresh while an unfinished experiment of the same manifest entry
/// holds tasks measured on other plugins, model or data; with `fresh`, sets those aside.
fn refuse_changed(
    store: &Store,
    exp: &Experiment,
    repeat: u32,
    manifest: &serde_json::Value,
    identity: &Identity,
    fresh: bool,
) -> Result<()> {
    for row in store.unfinished(&exp.id, repeat)? {
        // Specs stored before identities were recorded are the manifest entry alone.
        let (stored_manifest, before) = match serde_json::from_str::<StoredSpec>(&row.spec) {
            Ok(s) => (s.manifest, s.identity),
            Err(_) => (serde_json::from_str(&row.spec).unwrap_or_default(), None),
        };
        if &stored_manifest != manifest || row.tasks == 0 {
            continue;
        }
        if fresh {
            store.set_aside(row.id)?;
            continue;
        }
        let changes = match &before {
            Some(b) => identity.changes_since(b).join("; "),
            None => "it was started by an earlier joulebench that did not record its plugin builds, model and data".into(),
        };
        bail!(
            "experiment {} holds {} tasks measured on another system: {changes}. Resuming would mix \
             two systems in one result. Run `joulebench run --fresh` to set those tasks aside and \
             start the experiment again (they stay in the store), or restore what changed.",
            exp.id,
            row.tasks
        );
    }
    Ok(())
}

/// Runs what is missing of one experiment; `baselines` holds the meters (with their rates)
/// whose idle baseline this run has taken, and gains this experiment's before it runs.
fn run_experiment(
    run: &Run<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    repeat: u32,
    baselines: &mut Vec<(String, f64)>,
) -> Result<Summary> {
    let dataset_info = deadline::dataset(plugins, &exp.dataset, "info", |d| d.info())?;
    sound("dataset", &exp.dataset, &dataset_info.name)?;
    let spec = StoredSpec {
        manifest: manifest_spec(run.manifest, exp)?,
        identity: Some(identity(run.manifest, plugins, exp, &dataset_info)?),
    };
    let spec_text = serde_json::to_string(&spec)?;
    let key = format!("{}#{repeat}#{}", exp.id, &hex(&Sha256::digest(spec_text.as_bytes()))[..12]);
    let row = match store.experiment(&key)? {
        Some(row) => row,
        None => {
            let identity = spec.identity.as_ref().context("identity is always recorded")?;
            refuse_changed(store, exp, repeat, &spec.manifest, identity, run.options.fresh)?;
            let selection = Selection { rule: exp.selection, limit: exp.limit, seed: exp.seed };
            let picked = deadline::dataset(plugins, &exp.dataset, "select", move |d| {
                d.select(&selection).into_result()
            })?
            .map_err(|e| anyhow!("dataset {:?}: {e}", exp.dataset))?;
            store.create_experiment(&key, &exp.id, repeat, &spec_text, &picked, "{}")?
        }
    };
    if row.status != "done" {
        let idle_s = run.manifest.settings.idle_s();
        if idle_s > 0.0 && !baselines.iter().any(|(m, _)| *m == exp.meter) {
            let before = baseline::take(plugins, &exp.meter, "before", idle_s, exp.sample_hz)?;
            store.store_baseline(run.run_id, &before)?;
            baselines.push((exp.meter.clone(), exp.sample_hz));
        }
        if let Some(signal) = signals::requested() {
            // Stopped during the idle baseline: nothing of this experiment ran.
            return Err(signals::Interrupted(signal).into());
        }
        let segment = Segment {
            run,
            exp,
            repeat,
            experiment_id: row.id,
            selection: &row.selection,
            dataset: &dataset_info,
        };
        if let Err(e) = segment.run(plugins, store) {
            let _ = match e.downcast_ref::<signals::Interrupted>() {
                Some(_) => store.interrupt(row.id, &format!("{e:#}")),
                None => store.fail(row.id, &format!("{e:#}")),
            };
            return Err(e);
        }
    }
    store.summary(row.id)?.context("the experiment finished without a summary")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(repeats: u32, seed: &str) -> Manifest {
        let text = format!(
            r#"
[settings]
{seed}

[[plugin]]
id = "rt"
kind = "runtime"
library = "rt"

[[plugin]]
id = "hs"
kind = "dataset"
library = "hs"

[[plugin]]
id = "wg"
kind = "dataset"
library = "wg"

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
dataset = ["hs", "wg"]
meter = "m"
repeats = {repeats}
"#
        );
        Manifest::parse(Path::new("m.toml"), text).unwrap()
    }

    fn order(m: &Manifest) -> Vec<String> {
        run_order(m).into_iter().map(|(e, r)| format!("{}#{r}", e.id)).collect()
    }

    #[test]
    fn repeats_interleave_in_a_seeded_order_and_single_runs_keep_the_manifest_order() {
        let single = manifest(1, "");
        assert_eq!(order(&single), ["e/rt/x/hs/m#0", "e/rt/x/wg/m#0"]);

        let repeated = manifest(3, "");
        let got = order(&repeated);
        let grouped: Vec<String> = ["hs", "wg"]
            .iter()
            .flat_map(|d| (0..3).map(move |r| format!("e/rt/x/{d}/m#{r}")))
            .collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, grouped, "every experiment and repeat, once");
        assert_ne!(got, grouped, "interleaved, not one configuration after the other");
        assert_eq!(order(&repeated), got, "the same order every time the manifest runs");
        assert_eq!(order(&manifest(3, "order_seed = 1")), got, "the default seed is 1");
        assert_ne!(order(&manifest(3, "order_seed = 7")), got, "another seed, another order");
    }
}
