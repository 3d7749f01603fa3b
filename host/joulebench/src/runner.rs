//! Runs a manifest's experiments: idle baseline, model load, warm-up and evaluation, with the
//! meter sampled on its own thread the whole time and everything stored as it happens.
//!
//! An experiment runs in *segments*, one per process that works on it: a run killed part-way
//! leaves the tasks it finished in the store, and the next `joulebench run` of the same manifest
//! starts a new segment (load and warm-up again) that evaluates only what is missing. Tasks are
//! grouped into batches at fixed positions of the selection, so a resumed run hands the runtime
//! exactly the batches an uninterrupted one would, and its results are the same task for task.
//! Time and energy of the evaluation are the sums over segments of each segment's evaluation
//! window, which ends with its last stored batch; the batch in flight when a run dies is not
//! counted, and is evaluated again.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use joulebench_abi::{
    DatasetInfo, MeterBox, MeterInfo, ModelBox, ModelInfo, ModelSpec, Quality, RailRole, Selection,
    Task,
};
use joulebench_metrics::{
    AccuracyMetric, EnergyQuality, ExperimentFigures, RailEnergy as FigureRail, score_task,
};
use joulebench_sampler::{Clock, Sampler, Trace, WindowEnergy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hostinfo::{self, HostInfo};
use crate::loader::{Loaded, Plugin, default_plugin_dir, load};
use crate::manifest::{Experiment, Manifest};
use crate::store::{PhaseRecord, SampleRecord, Store, TaskRecord};

/// The evaluation windows shorter than this are flagged (methodology rule 2).
pub const MIN_WINDOW_S: f64 = 60.0;
/// Mean power drift between the first and last third of the evaluation that is flagged (rule 6).
pub const MAX_DRIFT: f64 = 0.05;

/// Coverage at or above which a window's energy is taken as measured over the whole window.
const FULL_COVERAGE: f64 = 0.999;
/// Coverage below which a window's energy is unavailable rather than extrapolated.
const MIN_COVERAGE: f64 = 0.5;

/// A window's energy over the whole window: the covered energy when the samples cover it, else
/// the covered mean power times the window (flagged by the caller), and unavailable when less
/// than half of it is covered.
fn whole_window(e: &joulebench_sampler::Energy) -> Option<f64> {
    if e.coverage >= FULL_COVERAGE {
        e.joules
    } else if e.coverage >= MIN_COVERAGE {
        e.mean_power_w().map(|w| w * e.window_s)
    } else {
        None
    }
}

/// What the runner stores as an experiment's summary, and what reports read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Which experiment, machine, model and dataset (flattened: stored as top-level keys).
    #[serde(flatten)]
    pub labels: SummaryLabels,
    /// The scoring convention.
    pub convention: String,
    /// The meter's name.
    pub meter: String,
    /// What the meter's total covers and misses.
    pub boundary: String,
    /// The metric set.
    pub metrics: joulebench_metrics::MetricSet,
    /// Fraction of the evaluation window covered by meter samples.
    pub coverage: Option<f64>,
    /// Warnings a reader must see with the numbers (short window, drift, gaps, estimated).
    pub flags: Vec<String>,
    /// Seconds of the evaluation not spent in runtime calls (scoring, storing, progress).
    pub host_overhead_s: f64,
    /// `host_overhead_s` as a fraction of the evaluation time.
    pub host_overhead_fraction: f64,
}

/// The outcome of `joulebench run`.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Experiments (with repeat numbers) finished in this run or before it.
    pub finished: Vec<Summary>,
    /// Experiments that failed, with the error.
    pub failed: Vec<(String, String)>,
}

/// Options for a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show progress bars (on a terminal).
    pub progress: bool,
    /// Stop each experiment after this many batches (for tests that interrupt runs).
    pub max_batches: Option<u64>,
}

fn plugin_dir(manifest: &Manifest) -> PathBuf {
    match &manifest.settings.plugin_dir {
        Some(d) => manifest.base_dir().join(d),
        None => default_plugin_dir(),
    }
}

/// Loads every plugin of the manifest, failing on the first refusal.
pub fn load_plugins(manifest: &Manifest) -> Result<HashMap<String, Loaded>> {
    let dir = plugin_dir(manifest);
    let mut out = HashMap::new();
    for entry in &manifest.plugins {
        let loaded =
            load(entry, &manifest.base_dir(), &dir).map_err(|e| anyhow!("{}: {e}", entry.at))?;
        out.insert(entry.id.clone(), loaded);
    }
    Ok(out)
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything that decides an experiment's results, hashed into its key: a changed manifest
/// entry starts a new experiment instead of mixing results.
fn experiment_key(manifest: &Manifest, exp: &Experiment, repeat: u32) -> Result<(String, String)> {
    let plugin = |id: &str| manifest.plugin(id).map(|p| (p.library.clone(), p.config.clone()));
    let model = manifest.model(&exp.model).context("model vanished from the manifest")?;
    let spec = serde_json::json!({
        "runtime": plugin(&exp.runtime),
        "dataset": plugin(&exp.dataset),
        "meter": plugin(&exp.meter),
        "model": [model.path.clone(), model.options.clone()],
        "convention": exp.convention.as_str(),
        "selection": exp.selection.as_str(),
        "limit": exp.limit,
        "seed": exp.seed,
        "warmup_tasks": exp.warmup_tasks,
        "batch_tasks": exp.batch_tasks,
        "sample_hz": exp.sample_hz,
        "idle_s": exp.idle_s,
    });
    let text = serde_json::to_string(&spec)?;
    let hash = hex(&Sha256::digest(text.as_bytes()))[..12].to_string();
    Ok((format!("{}#{repeat}#{hash}", exp.id), text))
}

fn phase_energy_json(trace: &Trace, t0: f64, t1: f64) -> String {
    serde_json::to_string(&EnergyJson::from(&trace.energy(t0, t1))).unwrap_or_default()
}

/// A window's energy as stored with a phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnergyJson {
    /// Total energy, J (None = unavailable).
    pub total_j: Option<f64>,
    /// Coverage of the total.
    pub coverage: Option<f64>,
    /// Per rail: name, joules.
    pub rails: Vec<(String, Option<f64>)>,
}

impl From<&WindowEnergy> for EnergyJson {
    fn from(w: &WindowEnergy) -> Self {
        EnergyJson {
            total_j: w.total.as_ref().and_then(|e| e.joules),
            coverage: w.total.as_ref().map(|e| e.coverage),
            rails: w.rails.iter().map(|r| (r.name.clone(), r.energy.joules)).collect(),
        }
    }
}

struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(enabled: bool, len: u64, name: &str) -> Progress {
        let bar = if enabled { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        Progress { bar }
    }
}

/// Runs every experiment of the manifest, continuing unfinished ones found in the store.
/// Experiments that fail are recorded and the run goes on with the next one.
pub fn run(manifest: &Manifest, options: &RunOptions) -> Result<RunOutcome> {
    let mut plugins = load_plugins(manifest)?;
    let mut store = Store::open(&manifest.results_path())?;
    let host = hostinfo::collect(Path::new("/"));
    let device = manifest.settings.device.clone().unwrap_or_else(|| hostinfo::device_name(&host));
    let run_id = store.begin_run(
        &manifest.path.display().to_string(),
        &manifest.text,
        &serde_json::to_string(&host)?,
    )?;
    let mut outcome = RunOutcome::default();
    for exp in &manifest.experiments {
        for repeat in 0..exp.repeats {
            let name =
                if exp.repeats > 1 { format!("{} #{repeat}", exp.id) } else { exp.id.clone() };
            let ctx = Ctx { manifest, host: &host, device: &device, run_id, options };
            match run_experiment(&ctx, &mut plugins, &mut store, exp, repeat) {
                Ok(summary) => outcome.finished.push(summary),
                Err(e) => {
                    let msg = format!("{e:#}");
                    tracing::error!("experiment {name} failed: {msg}");
                    outcome.failed.push((name, msg));
                }
            }
        }
    }
    Ok(outcome)
}

struct Ctx<'a> {
    manifest: &'a Manifest,
    host: &'a HostInfo,
    device: &'a str,
    run_id: i64,
    options: &'a RunOptions,
}

fn plugin_mut<'p>(plugins: &'p mut HashMap<String, Loaded>, id: &str) -> Result<&'p mut Loaded> {
    plugins.get_mut(id).with_context(|| format!("plugin {id:?} is not loaded"))
}

fn run_experiment(
    ctx: &Ctx<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    repeat: u32,
) -> Result<Summary> {
    let (key, spec_text) = experiment_key(ctx.manifest, exp, repeat)?;
    let dataset_info;
    let row = {
        let Plugin::Dataset(dataset) = &plugin_mut(plugins, &exp.dataset)?.plugin else {
            bail!("{:?} is not a dataset", exp.dataset)
        };
        dataset_info = dataset.info();
        match store.experiment(&key)? {
            Some(row) => row,
            None => {
                let picked = dataset
                    .select(&Selection { rule: exp.selection, limit: exp.limit, seed: exp.seed })
                    .into_result()
                    .map_err(|e| anyhow!("dataset {:?}: {e}", exp.dataset))?;
                store.create_experiment(&key, &exp.id, repeat, &spec_text, &picked, "{}")?
            }
        }
    };
    let selection = row.selection.clone();
    if row.status != "done" {
        let result =
            run_segment(ctx, plugins, store, exp, repeat, row.id, &selection, &dataset_info);
        if let Err(e) = result {
            let _ = store.fail(row.id, &format!("{e:#}"));
            return Err(e);
        }
    }
    let summary = store
        .summaries()?
        .into_iter()
        .find(|(id, _, _)| *id == row.id)
        .map(|(_, _, s)| serde_json::from_str::<Summary>(&s))
        .transpose()?
        .context("the experiment finished without a summary")?;
    Ok(summary)
}

/// Batches of positions at fixed boundaries of the selection.
fn batches(len: usize, size: usize) -> Vec<std::ops::Range<usize>> {
    (0..len).step_by(size.max(1)).map(|s| s..(s + size.max(1)).min(len)).collect()
}

/// Each task's share of a batch's prompt tokens, in proportion to the tokens it needs (its
/// common prefix once plus every candidate's remainder); the shares add up to `total`.
fn token_shares(needs: &[u64], total: u64) -> Vec<u64> {
    let sum: u64 = needs.iter().sum();
    if sum == 0 {
        let mut out = vec![total / needs.len().max(1) as u64; needs.len()];
        if let Some(first) = out.first_mut() {
            *first += total - total / needs.len().max(1) as u64 * needs.len() as u64;
        }
        return out;
    }
    let mut out: Vec<u64> = needs.iter().map(|n| total * n / sum).collect();
    let rest = total - out.iter().sum::<u64>();
    if let Some(first) = out.first_mut() {
        *first += rest;
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn run_segment(
    ctx: &Ctx<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    repeat: u32,
    experiment_id: i64,
    selection: &[u64],
    dataset_info: &DatasetInfo,
) -> Result<()> {
    let done = store.done_positions(experiment_id)?;
    let batch_ranges = batches(selection.len(), exp.batch_tasks as usize);
    let todo: Vec<std::ops::Range<usize>> = batch_ranges
        .into_iter()
        .filter(|r| r.clone().any(|p| !done.contains(&(p as u64))))
        .collect();
    if todo.is_empty() {
        return finalize(ctx, plugins, store, exp, repeat, experiment_id, dataset_info, None);
    }

    // Everything the evaluation needs is prepared before the meter starts: the tasks, built by
    // the dataset plugin, and the model's path.
    let tasks: BTreeMap<usize, Task> = {
        let Plugin::Dataset(dataset) = &plugin_mut(plugins, &exp.dataset)?.plugin else {
            bail!("{:?} is not a dataset", exp.dataset)
        };
        let mut positions: Vec<usize> = todo.iter().flat_map(|r| r.clone()).collect();
        let warmup = (exp.warmup_tasks as usize).min(selection.len());
        positions.extend(0..warmup);
        positions.sort_unstable();
        positions.dedup();
        let indices: Vec<u64> = positions.iter().map(|&p| selection[p]).collect();
        let built = dataset
            .tasks(indices.as_slice().into(), exp.convention)
            .into_result()
            .map_err(|e| anyhow!("dataset {:?}: {e}", exp.dataset))?;
        if built.len() != positions.len() {
            bail!(
                "dataset {:?} returned {} tasks for {} indices",
                exp.dataset,
                built.len(),
                positions.len()
            );
        }
        positions.into_iter().zip(built).collect()
    };
    let model_entry = ctx.manifest.model(&exp.model).context("unknown model")?;
    let model_path = ctx.manifest.model_path(model_entry)?;
    let spec = ModelSpec {
        id: model_entry.id.as_str().into(),
        path: model_path.display().to_string().into(),
        options: model_entry.options.as_str().into(),
    };

    let meter_provenance = plugin_provenance(plugins, &exp.meter);
    let mut meter_plugin = plugins.remove(&exp.meter).context("unknown meter")?;
    let meter: MeterBox = match meter_plugin.plugin {
        Plugin::Meter(m) => m,
        other => {
            meter_plugin.plugin = other;
            plugins.insert(exp.meter.clone(), meter_plugin);
            bail!("{:?} is not a meter", exp.meter)
        }
    };
    let meter_info = meter.info();
    let clock = Clock::new();
    let segment = store.begin_segment(experiment_id, ctx.run_id, unix_now() - clock.now())?;
    let mut sampler = Sampler::start(meter, clock, exp.sample_hz);
    let mut stored_samples = 0usize;
    let result = evaluate_segment(
        ctx,
        plugins,
        store,
        exp,
        experiment_id,
        segment,
        &todo,
        &tasks,
        &spec,
        &mut sampler,
        &mut stored_samples,
        &meter_info,
        meter_provenance,
        AccuracyMetric::from_name(&dataset_info.metric),
    );
    let (meter, trace) = sampler.stop();
    meter_plugin.plugin = Plugin::Meter(meter);
    plugins.insert(exp.meter.clone(), meter_plugin);
    store.store_samples(experiment_id, segment, &samples_since(&trace, stored_samples))?;
    let model_info = result?;
    for phase in store.phases(experiment_id)?.into_iter().filter(|p| p.segment == segment) {
        let energy = phase_energy_json(&trace, phase.t0_s, phase.t1_s);
        store.store_phase(experiment_id, &PhaseRecord { energy, ..phase })?;
    }
    if ctx.options.max_batches.is_some()
        && store.done_positions(experiment_id)?.len() < selection.len()
    {
        bail!("stopped after {} batches as asked", ctx.options.max_batches.unwrap_or(0));
    }
    finalize(ctx, plugins, store, exp, repeat, experiment_id, dataset_info, Some(model_info))
}

fn samples_since(trace: &Trace, from: usize) -> Vec<SampleRecord> {
    let rails = trace.rails().len();
    (from..trace.len())
        .map(|i| SampleRecord {
            t_s: trace.times()[i],
            values: (0..rails).map(|r| trace.value(r, i)).collect(),
        })
        .collect()
}

fn wait(sampler: &mut Sampler, seconds: f64) {
    let until = std::time::Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
    while std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until - std::time::Instant::now()));
    }
    sampler.trace();
}

#[allow(clippy::too_many_arguments)]
fn evaluate_segment(
    ctx: &Ctx<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    experiment_id: i64,
    segment: u32,
    todo: &[std::ops::Range<usize>],
    tasks: &BTreeMap<usize, Task>,
    spec: &ModelSpec,
    sampler: &mut Sampler,
    stored_samples: &mut usize,
    meter_info: &MeterInfo,
    meter_provenance: serde_json::Value,
    headline: AccuracyMetric,
) -> Result<ModelInfo> {
    let clock = sampler.clock();
    let phase = |name: &str, t0: f64, t1: f64| PhaseRecord {
        segment,
        name: name.into(),
        t0_s: t0,
        t1_s: t1,
        energy: "{}".into(),
    };
    let has_idle = store.phases(experiment_id)?.iter().any(|p| p.name == "idle");
    if !has_idle && exp.idle_s > 0.0 {
        let t0 = clock.now();
        wait(sampler, exp.idle_s);
        store.store_phase(experiment_id, &phase("idle", t0, clock.now()))?;
    }

    let Plugin::Runtime(runtime) = &mut plugin_mut(plugins, &exp.runtime)?.plugin else {
        bail!("{:?} is not a runtime", exp.runtime)
    };
    let runtime_info = runtime.info();
    let t0 = clock.now();
    let mut model: ModelBox = runtime
        .load_model(spec)
        .into_result()
        .map_err(|e| anyhow!("runtime {:?} cannot load model {:?}: {e}", exp.runtime, spec.id))?;
    store.store_phase(experiment_id, &phase("load", t0, clock.now()))?;
    let model_info = model.info();

    let warmup: Vec<Task> =
        tasks.range(..exp.warmup_tasks as usize).map(|(_, t)| t.clone()).collect();
    if !warmup.is_empty() {
        let t0 = clock.now();
        for chunk in warmup.chunks(exp.batch_tasks as usize) {
            model
                .evaluate(chunk.into())
                .into_result()
                .map_err(|e| anyhow!("warm-up: runtime {:?}: {e}", exp.runtime))?;
        }
        store.store_phase(experiment_id, &phase("warm-up", t0, clock.now()))?;
    }

    let provenance = serde_json::json!({
        "host": ctx.host,
        "runtime": plugin_provenance(plugins, &exp.runtime),
        "runtime_info": {
            "name": runtime_info.name.as_str(),
            "engine_version": runtime_info.engine_version.as_str(),
            "backend": runtime_info.backend.as_str(),
        },
        "model": model_info_json(&model_info),
        "dataset": plugin_provenance(plugins, &exp.dataset),
        "meter": meter_provenance,
        "meter_info": meter_info_json(meter_info),
        "sample_hz": exp.sample_hz,
    });
    store.set_provenance(experiment_id, &provenance.to_string())?;

    let total: usize = todo.iter().map(|r| r.len()).sum();
    let progress = Progress::new(ctx.options.progress, total as u64, &exp.id);
    let eval_t0 = clock.now();
    store.store_phase(experiment_id, &phase("evaluation", eval_t0, eval_t0))?;
    let (mut correct, mut seen, mut tokens) = (0u64, 0u64, 0u64);
    let mut runtime_s = 0.0;
    let mut last_end = eval_t0;
    for (b, range) in todo.iter().enumerate() {
        if ctx.options.max_batches.is_some_and(|m| b as u64 >= m) {
            break;
        }
        let batch: Vec<Task> = range.clone().map(|p| tasks[&p].clone()).collect();
        let ts = clock.now();
        let evaluation = model
            .evaluate(batch.as_slice().into())
            .into_result()
            .map_err(|e| anyhow!("runtime {:?} on tasks {range:?}: {e}", exp.runtime))?;
        let te = clock.now();
        runtime_s += te - ts;
        if evaluation.tasks.len() != batch.len() {
            bail!(
                "runtime {:?} scored {} of {} tasks",
                exp.runtime,
                evaluation.tasks.len(),
                batch.len()
            );
        }
        let needs: Vec<u64> = evaluation
            .tasks
            .iter()
            .map(|t| {
                let c = u64::from(t.common_prefix);
                c + t
                    .candidates
                    .iter()
                    .map(|k| (k.tokens.len() as u64).saturating_sub(c))
                    .sum::<u64>()
            })
            .collect();
        let shares = token_shares(
            &needs,
            evaluation.counters.prompt_tokens + evaluation.counters.generated_tokens,
        );
        let mut records = Vec::with_capacity(batch.len());
        for (((position, task), scored), share) in
            range.clone().zip(&batch).zip(evaluation.tasks.iter()).zip(shares)
        {
            let score = score_task(task, scored, exp.convention).map_err(|e| anyhow!("{e}"))?;
            correct += u64::from(headline.pick(score.correct, score.correct_norm).1);
            seen += 1;
            tokens += share;
            records.push(TaskRecord {
                position: position as u64,
                task_id: task.id.to_string(),
                group: task.group.to_string(),
                gold: task.gold,
                predicted: score.predicted,
                correct: score.correct,
                predicted_norm: score.predicted_norm,
                correct_norm: score.correct_norm,
                prompt_tokens: share,
                segment,
                batch: (range.start / exp.batch_tasks as usize) as u64,
                t_start_s: ts,
                t_end_s: te,
                latency_s: (te - ts) / batch.len() as f64,
                scores: score.scores,
            });
        }
        let trace = sampler.trace();
        let samples = samples_since(trace, *stored_samples);
        let watts = trace.mean_power(ts, te);
        *stored_samples = trace.len();
        store.store_batch(experiment_id, segment, &records, &samples)?;
        last_end = te;
        progress.bar.inc(batch.len() as u64);
        let elapsed = (te - eval_t0).max(1e-9);
        progress.bar.set_message(format!(
            "{} {:.1}% | {:.0} tok/s | {}",
            headline.as_str(),
            100.0 * correct as f64 / seen.max(1) as f64,
            tokens as f64 / elapsed,
            match watts {
                Some(w) if meter_is_estimated(meter_info) => format!("{w:.1} W (estimated)"),
                Some(w) => format!("{w:.1} W"),
                None => "power unavailable".into(),
            }
        ));
    }
    progress.bar.finish_and_clear();
    store.store_phase(experiment_id, &phase("evaluation", eval_t0, last_end))?;
    let eval_s = last_end - eval_t0;
    let overhead = (eval_s - runtime_s).max(0.0);
    let mut prov = provenance;
    prov["host_overhead_s"] = serde_json::json!(overhead);
    prov["host_overhead_fraction"] =
        serde_json::json!(if eval_s > 0.0 { overhead / eval_s } else { 0.0 });
    store.set_provenance(experiment_id, &prov.to_string())?;
    Ok(model_info)
}

fn meter_is_estimated(info: &MeterInfo) -> bool {
    info.rails.iter().any(|r| r.role == RailRole::TOTAL && r.quality == Quality::ESTIMATED)
}

fn plugin_provenance(plugins: &HashMap<String, Loaded>, id: &str) -> serde_json::Value {
    match plugins.get(id) {
        Some(l) => serde_json::json!({
            "id": l.id, "name": l.name, "version": l.version, "abi_version": l.abi_version,
            "library": l.path.display().to_string(),
        }),
        None => serde_json::Value::Null,
    }
}

fn model_info_json(m: &ModelInfo) -> serde_json::Value {
    serde_json::json!({
        "name": m.name.as_str(), "path": m.path.as_str(), "architecture": m.architecture.as_str(),
        "parameters": m.parameters, "quantization": m.quantization.as_str(), "file_size": m.file_size,
        "sha256": m.sha256.as_str(), "context_size": m.context_size, "backend": m.backend.as_str(),
        "device": m.device.as_str(), "threads": m.threads,
    })
}

fn meter_info_json(m: &MeterInfo) -> serde_json::Value {
    serde_json::json!({
        "name": m.name.as_str(), "boundary": m.boundary.as_str(),
        "update_interval_s": m.update_interval_s,
        "rails": m.rails.iter().map(|r| serde_json::json!({
            "name": r.name.as_str(), "unit": r.kind.unit(), "role": r.role.as_str(),
            "quality": r.quality.as_str(), "description": r.description.as_str(),
        })).collect::<Vec<_>>(),
    })
}

/// Computes the experiment's metrics from what the store holds (every segment's tasks, samples
/// and phases) and marks it done.
#[allow(clippy::too_many_arguments)]
fn finalize(
    ctx: &Ctx<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    repeat: u32,
    experiment_id: i64,
    dataset_info: &DatasetInfo,
    model_info: Option<ModelInfo>,
) -> Result<()> {
    let Plugin::Meter(meter) = &plugin_mut(plugins, &exp.meter)?.plugin else {
        bail!("{:?} is not a meter", exp.meter)
    };
    let meter_info = meter.info();
    let provenance: serde_json::Value = {
        let text: String = store.provenance(experiment_id)?;
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    };
    let (model_name, parameters, quantization) = match &model_info {
        Some(m) => (m.name.to_string(), m.parameters, m.quantization.to_string()),
        None => (
            provenance["model"]["name"].as_str().unwrap_or(&exp.model).to_string(),
            provenance["model"]["parameters"].as_u64().unwrap_or(0),
            provenance["model"]["quantization"].as_str().unwrap_or("").to_string(),
        ),
    };
    let summary = summarize(
        store,
        experiment_id,
        &meter_info,
        exp,
        SummaryLabels {
            experiment: exp.id.clone(),
            repeat,
            device: ctx.device.to_string(),
            runtime: exp.runtime.clone(),
            model: model_name,
            parameters,
            quantization,
            dataset: dataset_info.name.to_string(),
            dataset_metric: AccuracyMetric::from_name(&dataset_info.metric),
        },
        provenance["host_overhead_s"].as_f64().unwrap_or(0.0),
    )?;
    let metrics = serde_json::to_string(&summary.metrics)?;
    store.finish(experiment_id, &metrics, &serde_json::to_string(&summary)?)?;
    Ok(())
}

/// The labels of a summary that do not come from the store's numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryLabels {
    /// The experiment's manifest id.
    pub experiment: String,
    /// Its repeat number.
    pub repeat: u32,
    /// The machine.
    pub device: String,
    /// The runtime plugin's id and engine.
    pub runtime: String,
    /// The model's name.
    pub model: String,
    /// Its parameter count.
    pub parameters: u64,
    /// Its quantization.
    pub quantization: String,
    /// The dataset's name (`mmlu`, `hellaswag`, `winogrande`).
    pub dataset: String,
    /// The metric the dataset names as its headline (`acc`, or `acc_norm` for HellaSwag).
    #[serde(default)]
    pub dataset_metric: AccuracyMetric,
}

/// Builds the summary of an experiment from the store: tasks, each segment's evaluation window
/// and the samples inside it.
pub fn summarize(
    store: &Store,
    experiment_id: i64,
    meter_info: &MeterInfo,
    exp: &Experiment,
    labels: SummaryLabels,
    host_overhead_s: f64,
) -> Result<Summary> {
    let tasks = store.tasks(experiment_id)?;
    let phases = store.phases(experiment_id)?;
    let period = 1.0 / exp.sample_hz;
    let mut eval_s = 0.0;
    let mut energy: Option<f64> = Some(0.0);
    let mut covered = 0.0;
    let mut rails: Vec<Option<f64>> = vec![Some(0.0); meter_info.rails.len()];
    let mut idle_w = None;
    let mut thirds: Vec<Option<f64>> = Vec::new();
    let mut flags = Vec::new();
    let segments: Vec<u32> = {
        let mut s: Vec<u32> = tasks.iter().map(|t| t.segment).collect();
        s.dedup();
        s.sort_unstable();
        s.dedup();
        s
    };
    for &segment in &segments {
        let mut trace = Trace::new(meter_info.clone(), period);
        for s in store.samples(experiment_id, segment)? {
            trace.push(s.t_s, &s.values);
        }
        trace.refresh_stats();
        let seg_tasks: Vec<&TaskRecord> = tasks.iter().filter(|t| t.segment == segment).collect();
        let start = phases
            .iter()
            .find(|p| p.segment == segment && p.name == "evaluation")
            .map(|p| p.t0_s)
            .unwrap_or_else(|| seg_tasks.iter().map(|t| t.t_start_s).fold(f64::INFINITY, f64::min));
        let end = seg_tasks.iter().map(|t| t.t_end_s).fold(f64::NEG_INFINITY, f64::max);
        if end <= start {
            continue;
        }
        eval_s += end - start;
        let window = trace.energy(start, end);
        match window.total.as_ref().and_then(whole_window) {
            Some(j) => {
                energy = energy.map(|e| e + j);
                covered += window.total.as_ref().map_or(0.0, |e| e.coverage * e.window_s);
            }
            None => energy = None,
        }
        if let Some(e) = window.total.as_ref().filter(|e| e.coverage < FULL_COVERAGE) {
            flags.push(if e.coverage >= MIN_COVERAGE {
                format!(
                    "segment {segment}: samples cover {:.1}% of the evaluation; the rest is extrapolated at the covered mean power",
                    100.0 * e.coverage
                )
            } else {
                format!(
                    "segment {segment}: samples cover only {:.1}% of the evaluation: energy unavailable",
                    100.0 * e.coverage
                )
            });
        }
        for (acc, r) in rails.iter_mut().zip(&window.rails) {
            *acc = match (*acc, whole_window(&r.energy)) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
        if let Some(e) = &window.total {
            if e.gaps > 0 || e.read_errors > 0 {
                flags.push(format!(
                    "segment {segment}: {} gaps (longest {:.2} s), {} failed reads",
                    e.gaps, e.longest_gap_s, e.read_errors
                ));
            }
        }
        let third = (end - start) / 3.0;
        thirds = vec![trace.mean_power(start, start + third), trace.mean_power(end - third, end)];
        if let Some(idle) = phases.iter().find(|p| p.segment == segment && p.name == "idle") {
            idle_w = trace.idle_baseline(idle.t0_s, idle.t1_s).map(|b| b.median_w);
        }
    }
    if eval_s < MIN_WINDOW_S {
        flags.push(format!("short window: {eval_s:.1} s of evaluation (< {MIN_WINDOW_S} s)"));
    }
    if let [Some(a), Some(b)] = thirds[..] {
        let drift = (b - a).abs() / a.max(1e-12);
        if drift > MAX_DRIFT {
            flags.push(format!(
                "power drift {:.1}% between the first and last third",
                100.0 * drift
            ));
        }
    }
    let estimated = meter_is_estimated(meter_info);
    let has_total = meter_info.rails.iter().any(|r| r.role == RailRole::TOTAL);
    if !has_total {
        energy = None;
        flags.push("the meter has no total rail: energy unavailable".into());
    }
    if estimated {
        flags.push("energy is estimated from a model, not measured".into());
    }
    let quality = match (energy, estimated) {
        (None, _) => EnergyQuality::Unavailable,
        (Some(_), true) => EnergyQuality::Estimated,
        (Some(_), false) => EnergyQuality::Measured,
    };
    let figures = ExperimentFigures {
        tasks: tasks.len() as u64,
        correct: tasks.iter().filter(|t| t.correct).count() as u64,
        correct_norm: tasks
            .iter()
            .map(|t| t.correct_norm)
            .collect::<Option<Vec<bool>>>()
            .map(|v| v.into_iter().filter(|c| *c).count() as u64),
        metric: labels.dataset_metric,
        eval_seconds: eval_s,
        eval_energy_j: energy,
        energy_quality: quality,
        idle_power_w: idle_w,
        tokens: tasks.iter().map(|t| t.prompt_tokens).sum(),
        parameters: labels.parameters,
        task_latencies_s: tasks.iter().map(|t| t.latency_s).collect(),
        rails: meter_info
            .rails
            .iter()
            .zip(&rails)
            .map(|(r, e)| FigureRail { name: r.name.to_string(), energy_j: *e })
            .collect(),
    };
    let metrics = joulebench_metrics::compute(&figures).map_err(|e| anyhow!("{e}"))?;
    Ok(Summary {
        labels,
        convention: exp.convention.as_str().into(),
        meter: meter_info.name.to_string(),
        boundary: meter_info.boundary.to_string(),
        metrics,
        coverage: (eval_s > 0.0 && energy.is_some()).then(|| covered / eval_s),
        flags,
        host_overhead_s,
        host_overhead_fraction: if eval_s > 0.0 { host_overhead_s / eval_s } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_sit_at_fixed_positions() {
        assert_eq!(batches(5, 2), vec![0..2, 2..4, 4..5]);
        assert_eq!(batches(3, 8), vec![0..3]);
        assert_eq!(batches(0, 4), Vec::<std::ops::Range<usize>>::new());
    }

    #[test]
    fn token_shares_add_up_and_follow_need() {
        assert_eq!(token_shares(&[10, 30], 40), vec![10, 30]);
        assert_eq!(token_shares(&[1, 1, 1], 10), vec![4, 3, 3]);
        assert_eq!(token_shares(&[0, 0], 5), vec![3, 2]);
        assert_eq!(token_shares(&[100, 200], 30).iter().sum::<u64>(), 30);
    }
}
