//! Generation experiments (`workload = "generate"`): llama-bench's shapes or a dataset's prompts
//! answered greedily, with the time of every token and the energy of the model load, of each
//! prefill and of each decode.
//!
//! One experiment is one process's work: the meter starts, the model loads (the load phase),
//! every shape (or prompt) runs once unmeasured when `warmup_tasks > 0` (the warm-up phase),
//! then `repetitions` measured requests each (the generation phase). The runtime reports when it
//! began the prompt and when it chose each token ([`joulebench_abi::TimedGeneration`]); the host
//! puts those times on the run's clock and the measurement core
//! ([`joulebench_measure::generation`]) turns them, with the meter's trace and the idle
//! baseline, into per-request figures and per-phase energy. A run killed part-way leaves the
//! experiment unfinished, and the next run measures it again from the start (requests of a
//! generation are short; a resume would mix two model loads in one load figure).

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use joulebench_abi::{ModelBox, ModelSpec, Task, TimedGeneration, TimedRequest};
use joulebench_measure::generation::{
    PhaseFigure, RequestTiming, ShapeSummary, phase_figure, request_figures, summarize_shape,
};
use joulebench_measure::policy::total_quality;
use joulebench_measure::provenance::{MeterDescription, ModelDescription, RuntimeDescription};
use joulebench_measure::records::{PhaseEnergy, PhaseRecord, SampleRecord, phase};
use joulebench_measure::{Provenance, summary::trace_of};
use joulebench_metrics::EnergyQuality;
use joulebench_sampler::{Clock, Sampler, Trace};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use joulebench_manifest::generation::{GenerateSpec, Prompts, Shape};

use crate::loader::Loaded;
use crate::manifest::Experiment;
use crate::progress::ProgressMode;
use crate::runner::{Run, plugin_mut, sound, with_meter};
use crate::segment::stopped_answering;
use crate::store::{GenerationRecord, Store};
use crate::{baseline, deadline, signals};

/// The phase of the measured requests.
pub const GENERATION_PHASE: &str = "generation";

/// What a generation experiment reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenerationSummary {
    /// The experiment's manifest id.
    pub experiment: String,
    /// Its repeat number.
    pub repeat: u32,
    /// The machine.
    pub device: String,
    /// The runtime plugin's id and engine.
    pub runtime: String,
    /// The backend and threads.
    pub backend: String,
    /// The model's name.
    pub model: String,
    /// Its quantization.
    pub quantization: String,
    /// Its parameter count.
    pub parameters: u64,
    /// The model file's size, bytes.
    pub model_file_bytes: u64,
    /// The meter's name.
    pub meter: String,
    /// What the meter's total covers and misses.
    pub boundary: String,
    /// Measured, estimated or unavailable.
    pub quality: EnergyQuality,
    /// The idle power subtracted for active energy, W.
    pub idle_w: Option<f64>,
    /// The model load.
    pub load: PhaseFigure,
    /// Growth of the process's resident memory over the load, bytes.
    pub model_memory_bytes: Option<u64>,
    /// The process's peak resident memory at the end, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Per shape (or one entry for a dataset's prompts).
    pub shapes: Vec<ShapeSummary>,
    /// For dataset prompts: answers starting with the gold continuation, and answers.
    pub correct: Option<(u64, u64)>,
    /// What a reader must know with the numbers.
    pub flags: Vec<String>,
}

/// One request to run: the shape's label, the prompt's position, and the request.
#[derive(Clone)]
struct Planned {
    label: String,
    position: u64,
    request: TimedRequest,
    /// The gold continuation, for dataset prompts.
    gold: Option<String>,
}

/// A request as it ran, on the segment's clock.
struct Done {
    planned: Planned,
    repetition: u32,
    call_start_s: f64,
    call_end_s: f64,
    result: TimedGeneration,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The process's resident memory (`VmRSS`) or its peak (`VmHWM`), bytes.
pub fn proc_status_bytes(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// A long, plain English text: the synthetic prompts' tokens come from it, repeated as needed,
/// so that every runtime tokenizes the same text into ordinary tokens.
const FILLER: &str = "The history of measurement is the history of agreement. Long before \
    there were standards, merchants and builders compared lengths against their own bodies, and \
    every town kept its own weights in the market hall. ";

/// Tokens of [`FILLER`], repeated to at least `n`, BOS first where the model adds one.
fn filler_tokens(model: &ModelBox, n: usize) -> Result<Vec<i32>> {
    let mut text = String::from(FILLER);
    loop {
        let tokens = model
            .tokenize(text.as_str().into(), true)
            .into_result()
            .map_err(|e| anyhow!("tokenizing the synthetic prompt: {e}"))?;
        if tokens.len() >= n {
            return Ok(tokens.into_vec());
        }
        if tokens.is_empty() {
            bail!("the model tokenizes the synthetic prompt to nothing");
        }
        let times = n / tokens.len() + 1;
        text = FILLER.repeat(times * text.len() / FILLER.len());
    }
}

/// The requests of llama-bench's shapes: depth and prompt tokens from the filler text, `tg + 1`
/// tokens generated past end-of-generation (the first ends the prefill, then `tg` decode steps).
fn shape_requests(model: &ModelBox, shapes: &[Shape]) -> Result<Vec<Planned>> {
    let need = shapes.iter().map(|s| (s.d + s.pp.max(1)) as usize).max().unwrap_or(1);
    let tokens = filler_tokens(model, need)?;
    Ok(shapes
        .iter()
        .map(|s| {
            let (d, pp) = (s.d as usize, s.pp.max(1) as usize);
            Planned {
                label: s.label(),
                position: 0,
                request: TimedRequest {
                    prompt: "".into(),
                    prompt_tokens: tokens[d..d + pp].to_vec().into(),
                    depth_tokens: tokens[..d].to_vec().into(),
                    max_tokens: s.tg + 1,
                    ignore_eog: true,
                    stop: Vec::new().into(),
                },
                gold: None,
            }
        })
        .collect())
}

/// The requests of a dataset's tasks: each task's context (the candidates' shared one, or the
/// gold candidate's), answered up to `max_tokens` or a stop string.
fn dataset_requests(
    name: &str,
    tasks: &[(u64, Task)],
    max_tokens: u32,
    stop: &[String],
) -> Vec<Planned> {
    tasks
        .iter()
        .map(|(position, task)| {
            let gold = task.candidates.get(task.gold as usize).or(task.candidates.first());
            Planned {
                label: name.to_string(),
                position: *position,
                request: TimedRequest {
                    prompt: gold.map(|c| c.context.clone()).unwrap_or_default(),
                    max_tokens,
                    stop: stop.iter().map(|s| s.as_str().into()).collect(),
                    ..TimedRequest::default()
                },
                gold: gold.map(|c| c.continuation.to_string()),
            }
        })
        .collect()
}

/// Whether an answer starts with the gold continuation, compared without surrounding space.
fn answered(text: &str, gold: &str) -> bool {
    let gold = gold.trim();
    !gold.is_empty() && text.trim_start().starts_with(gold)
}

/// Runs one generation experiment (one repeat), or returns its stored summary when done.
pub(crate) fn run_experiment(
    run: &Run<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    spec: &GenerateSpec,
    repeat: u32,
    baselines: &mut Vec<(String, f64)>,
) -> Result<GenerationSummary> {
    let manifest = run.manifest;
    let model_entry = manifest.model(&exp.model).context("unknown model")?;
    let model_path = manifest.model_path(model_entry)?;
    let model_sha256 = joulebench_gguf::sha256_cached(&model_path)
        .with_context(|| format!("cannot read the model file {}", model_path.display()))?;
    let lib = |id: &str| plugins.get(id).map(Loaded::identity);
    let spec_json = serde_json::json!({
        "manifest": crate::runner::manifest_spec(manifest, exp)?,
        "model_sha256": model_sha256,
        "runtime": lib(&exp.runtime),
        "meter": lib(&exp.meter),
        "dataset": if spec.uses_dataset() { lib(&exp.dataset) } else { None },
    });
    let spec_text = serde_json::to_string(&spec_json)?;
    let key = format!("{}#{repeat}#{}", exp.id, &hex(&Sha256::digest(spec_text.as_bytes()))[..12]);
    let (row, selection) = match store.experiment(&key)? {
        Some(row) if row.status == "done" => {
            let text = store
                .generation_summary(row.id)?
                .context("a finished generation experiment without a summary")?;
            return serde_json::from_str(&text).context("stored generation summary is corrupt");
        }
        Some(row) => {
            let selection = row.selection.clone();
            (row, selection)
        }
        None => {
            let selection: Vec<u64> = if spec.uses_dataset() {
                let rule = joulebench_abi::Selection {
                    rule: exp.selection,
                    limit: exp.limit,
                    seed: exp.seed,
                };
                deadline::dataset(plugins, &exp.dataset, "select", move |d| {
                    d.select(&rule).into_result()
                })?
                .map_err(|e| anyhow!("dataset {:?}: {e}", exp.dataset))?
                .to_vec()
            } else {
                Vec::new()
            };
            let row =
                store.create_experiment(&key, &exp.id, repeat, &spec_text, &selection, "{}")?;
            (row, selection)
        }
    };
    let idle_s = manifest.settings.idle_s();
    if idle_s > 0.0 && !baselines.iter().any(|(m, _)| *m == exp.meter) {
        let before = baseline::take(plugins, &exp.meter, "before", idle_s, exp.sample_hz)?;
        store.store_baseline(run.run_id, &before)?;
        baselines.push((exp.meter.clone(), exp.sample_hz));
    }
    if let Some(signal) = signals::requested() {
        return Err(signals::Interrupted(signal).into());
    }
    match measure(run, plugins, store, exp, spec, repeat, row.id, &selection) {
        Ok(summary) => Ok(summary),
        Err(e) => {
            let _ = match e.downcast_ref::<signals::Interrupted>() {
                Some(_) => store.interrupt(row.id, &format!("{e:#}")),
                None => store.fail(row.id, &format!("{e:#}")),
            };
            Err(e)
        }
    }
}

/// What the runtime side of a segment hands back.
struct Measured {
    model_info: joulebench_abi::ModelInfo,
    runtime_info: joulebench_abi::RuntimeInfo,
    load: (f64, f64),
    rss_before: Option<u64>,
    rss_after_load: Option<u64>,
    done: Vec<Done>,
}

#[allow(clippy::too_many_arguments)]
fn measure(
    run: &Run<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    spec: &GenerateSpec,
    repeat: u32,
    id: i64,
    selection: &[u64],
) -> Result<GenerationSummary> {
    let dataset_name;
    let tasks: Vec<(u64, Task)> = if spec.uses_dataset() {
        let info = deadline::dataset(plugins, &exp.dataset, "info", |d| d.info())?;
        sound("dataset", &exp.dataset, &info.name)?;
        dataset_name = info.name.to_string();
        let indices = selection.to_vec();
        let convention = exp.convention;
        let built = deadline::dataset(plugins, &exp.dataset, "tasks", move |d| {
            d.tasks(indices.as_slice().into(), convention).into_result()
        })?
        .map_err(|e| anyhow!("dataset {:?}: {e}", exp.dataset))?;
        if built.len() != selection.len() {
            bail!(
                "dataset {:?} returned {} tasks for {} indices",
                exp.dataset,
                built.len(),
                selection.len()
            );
        }
        (0..).zip(built).collect()
    } else {
        dataset_name = String::new();
        Vec::new()
    };
    let model_spec = ModelSpec {
        id: exp.model.as_str().into(),
        path: run
            .manifest
            .model_path(run.manifest.model(&exp.model).context("unknown model")?)?
            .display()
            .to_string()
            .into(),
        options: run
            .manifest
            .model(&exp.model)
            .map(|m| m.options.clone())
            .unwrap_or_default()
            .into(),
    };
    let meter_identity = plugins.get(&exp.meter).map(Loaded::identity);
    let meter_deadlines = plugins.get(&exp.meter).map(|l| l.deadlines.clone()).unwrap_or_default();
    let outcome = with_meter(plugins, &exp.meter, |plugins, meter| {
        let (meter, meter_info) =
            match deadline::call(&exp.meter, "info", meter_deadlines.get("info"), meter, |m| {
                m.info()
            }) {
                Ok(got) => got,
                Err(e) => return (Err(format!("{e:#}")), Err(e)),
            };
        if let Err(e) = sound("meter", &exp.meter, &meter_info.name) {
            return (Ok(meter), Err(e));
        }
        let clock = Clock::new();
        let origin = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            - clock.now();
        let segment = match store.begin_segment(id, run.run_id, origin) {
            Ok(s) => s,
            Err(e) => return (Ok(meter), Err(e)),
        };
        let mut sampler = Sampler::start_described(meter, meter_info.clone(), clock, exp.sample_hz);
        let result = requests(
            run,
            plugins,
            store,
            exp,
            spec,
            id,
            segment,
            clock,
            &model_spec,
            &tasks,
            &dataset_name,
        );
        // a sample after the last token, so that the last request's window is covered
        std::thread::sleep(std::time::Duration::from_secs_f64(1.5 / exp.sample_hz));
        let _ = sampler.trace();
        let (meter, trace) = sampler.stop_within(meter_deadlines.get("read"));
        let meter = meter.ok_or_else(|| stopped_answering(&exp.meter, &meter_deadlines));
        (meter, result.map(|m| (m, trace, meter_info, segment)))
    })?;
    let (measured, trace, meter_info, segment) = outcome?;
    let samples: Vec<SampleRecord> = (0..trace.len())
        .map(|i| SampleRecord {
            t_s: trace.times()[i],
            values: (0..trace.rails().len()).map(|r| trace.value(r, i)).collect(),
        })
        .collect();
    store.store_samples(id, segment, &samples)?;
    for p in store.phases(id)?.into_iter().filter(|p| p.segment == segment) {
        let energy = serde_json::to_string(&PhaseEnergy::from(&trace.energy(p.t0_s, p.t1_s)))?;
        store.store_phase(id, &PhaseRecord { energy, ..p })?;
    }
    let provenance = Provenance {
        version: joulebench_measure::provenance::PROVENANCE_VERSION,
        host: run.host.clone(),
        runtime: plugins.get(&exp.runtime).map(Loaded::identity),
        runtime_info: RuntimeDescription::from(&measured.runtime_info),
        model: ModelDescription::from(&measured.model_info),
        dataset: if spec.uses_dataset() {
            plugins.get(&exp.dataset).map(Loaded::identity)
        } else {
            None
        },
        meter: meter_identity,
        meter_info: MeterDescription::from(&meter_info),
        sample_hz: exp.sample_hz,
        host_overhead_s: 0.0,
        host_overhead_fraction: 0.0,
        warmup: None,
    };
    store.set_provenance(id, &provenance.to_json())?;
    let idle_w = store.baseline(run.run_id, &exp.meter, "before")?.and_then(|b| b.median_w);
    let trace = trace_of(&meter_info, exp.sample_hz, &samples);
    let summary = summarize(run, exp, repeat, &measured, segment, &trace, idle_w, store, id)?;
    store.finish_generation(id, "generate", &serde_json::to_string(&summary)?)?;
    Ok(summary)
}

/// Loads the model, warms up and runs the measured requests, storing the phases.
#[allow(clippy::too_many_arguments)]
fn requests(
    run: &Run<'_>,
    plugins: &mut HashMap<String, Loaded>,
    store: &mut Store,
    exp: &Experiment,
    spec: &GenerateSpec,
    id: i64,
    segment: u32,
    clock: Clock,
    model_spec: &ModelSpec,
    tasks: &[(u64, Task)],
    dataset_name: &str,
) -> Result<Measured> {
    let record = |name: &str, t0: f64, t1: f64| PhaseRecord {
        segment,
        name: name.into(),
        t0_s: t0,
        t1_s: t1,
        energy: "{}".into(),
    };
    let deadlines = plugin_mut(plugins, &exp.runtime)?.deadlines.clone();
    let runtime_info = deadline::runtime(plugins, &exp.runtime, "info", |r| r.info())?;
    sound("runtime", &exp.runtime, &runtime_info.name)?;
    let rss_before = proc_status_bytes("VmRSS");
    let t0 = clock.now();
    let owned = model_spec.clone();
    let model: ModelBox = deadline::runtime(plugins, &exp.runtime, "load_model", move |r| {
        r.load_model(&owned).into_result()
    })?
    .map_err(|e| anyhow!("runtime {:?} cannot load model {:?}: {e}", exp.runtime, model_spec.id))?;
    let t1 = clock.now();
    let rss_after_load = proc_status_bytes("VmRSS");
    store.store_phase(id, &record(phase::LOAD, t0, t1))?;
    let (model, model_info) =
        deadline::model(model, &exp.runtime, &deadlines, "model_info", |m| m.info())?;
    sound("model of runtime", &exp.runtime, &model_info.name)?;

    let planned = match &spec.prompts {
        Prompts::Shapes(shapes) => {
            let ctx = u64::from(model_info.context_size);
            if let Some(s) = shapes.iter().find(|s| s.context_need() > ctx) {
                bail!(
                    "shape {} needs {} tokens of context, more than the model's {ctx} (raise the \
                     model's context_size option)",
                    s.label(),
                    s.context_need()
                );
            }
            shape_requests(&model, shapes)?
        }
        Prompts::Dataset { max_tokens, stop } => {
            dataset_requests(dataset_name, tasks, *max_tokens, stop)
        }
    };
    let lines = run.options.progress == ProgressMode::Lines;
    let mut model = model;
    let call = |model: ModelBox, p: &Planned| -> Result<(ModelBox, f64, f64, TimedGeneration)> {
        let request = p.request.clone();
        let (model, (result, ts, te)) =
            deadline::model(model, &exp.runtime, &deadlines, "generate", move |m| {
                let ts = clock.now();
                let result = m.generate_timed(&request).into_result();
                (result, ts, clock.now())
            })?;
        let result = result.map_err(|e| anyhow!("runtime {:?}: {}: {e}", exp.runtime, p.label))?;
        Ok((model, ts, te, result))
    };
    let warmups: Vec<&Planned> = match &spec.prompts {
        Prompts::Shapes(_) if exp.warmup_tasks > 0 => planned.iter().collect(),
        Prompts::Shapes(_) => Vec::new(),
        Prompts::Dataset { .. } => planned.iter().take(exp.warmup_tasks as usize).collect(),
    };
    if !warmups.is_empty() {
        let w0 = clock.now();
        for p in warmups {
            (model, ..) = call(model, p).context("warm-up")?;
        }
        store.store_phase(id, &record(phase::WARM_UP, w0, clock.now()))?;
    }
    let g0 = clock.now();
    let mut done = Vec::new();
    for p in &planned {
        if lines {
            eprintln!("{}: {} x {}", exp.id, p.label, spec.repetitions);
        }
        for repetition in 0..spec.repetitions {
            if let Some(signal) = signals::requested() {
                return Err(signals::Interrupted(signal).into());
            }
            let (m, ts, te, result) = call(model, p)?;
            model = m;
            done.push(Done {
                planned: p.clone(),
                repetition,
                call_start_s: ts,
                call_end_s: te,
                result,
            });
        }
    }
    store.store_phase(id, &record(GENERATION_PHASE, g0, clock.now()))?;
    drop(model);
    Ok(Measured { model_info, runtime_info, load: (t0, t1), rss_before, rss_after_load, done })
}

/// Every request's figures, stored, and the experiment's summary.
#[allow(clippy::too_many_arguments)]
fn summarize(
    run: &Run<'_>,
    exp: &Experiment,
    repeat: u32,
    m: &Measured,
    segment: u32,
    trace: &Trace,
    idle_w: Option<f64>,
    store: &mut Store,
    id: i64,
) -> Result<GenerationSummary> {
    let mut records = Vec::new();
    for d in &m.done {
        let r = &d.result;
        let timing = RequestTiming {
            call_start_s: d.call_start_s,
            call_end_s: d.call_end_s,
            prefill_start_s: d.call_start_s + r.prefill_start_s,
            token_times_s: r.token_times_s.iter().map(|t| d.call_start_s + t).collect(),
            prompt_tokens: u64::from(r.prompt_tokens),
            generated_tokens: r.generation.counters.generated_tokens,
        };
        let figures = request_figures(&timing, trace, idle_w);
        records.push(GenerationRecord {
            segment,
            label: d.planned.label.clone(),
            position: d.planned.position,
            repetition: d.repetition,
            finish: r.generation.finish.to_string(),
            text: r.generation.text.to_string(),
            correct: d.planned.gold.as_deref().map(|g| answered(&r.generation.text, g)),
            timing,
            figures,
        });
    }
    store.store_generation(id, &records)?;
    let mut labels: Vec<&str> = Vec::new();
    for r in &records {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let shapes: Vec<ShapeSummary> = labels
        .iter()
        .map(|label| {
            let of: Vec<&GenerationRecord> = records.iter().filter(|r| r.label == *label).collect();
            let figures: Vec<_> = of.iter().map(|r| r.figures.clone()).collect();
            let prompts: Vec<u64> = of.iter().map(|r| r.timing.prompt_tokens).collect();
            summarize_shape(label, &figures, &prompts)
        })
        .collect();
    let graded: Vec<bool> = records.iter().filter_map(|r| r.correct).collect();
    let quality = total_quality(trace.meter());
    let mut flags = Vec::new();
    match quality {
        EnergyQuality::Estimated => {
            flags.push("energy is estimated from a model, not measured".into())
        }
        EnergyQuality::Unavailable => {
            flags.push("the meter has no total rail: energy unavailable".into())
        }
        EnergyQuality::Unknown => {
            flags.push("the meter's total rail has an unknown quality code".into())
        }
        EnergyQuality::Measured => {}
    }
    if idle_w.is_none() {
        flags.push("no idle baseline: active energy unavailable".into());
    }
    let period = 1.0 / exp.sample_hz;
    if records.iter().any(|r| r.figures.ttft_s < period) {
        flags.push(format!(
            "some prefills are shorter than the meter's sample period ({period:.3} s): their energy \
             is interpolated between samples, not resolved"
        ));
    }
    let mi = &m.model_info;
    Ok(GenerationSummary {
        experiment: exp.id.clone(),
        repeat,
        device: run.device.to_string(),
        runtime: format!("{} ({})", exp.runtime, m.runtime_info.name),
        backend: format!("{} x{}", mi.backend, mi.threads),
        model: mi.name.to_string(),
        quantization: mi.quantization.to_string(),
        parameters: mi.parameters,
        model_file_bytes: mi.file_size,
        meter: trace.meter().name.to_string(),
        boundary: trace.meter().boundary.to_string(),
        quality,
        idle_w,
        load: phase_figure(trace, m.load.0, m.load.1, 0, idle_w),
        model_memory_bytes: m.rss_before.zip(m.rss_after_load).map(|(a, b)| b.saturating_sub(a)),
        peak_rss_bytes: proc_status_bytes("VmHWM"),
        shapes,
        correct: (!graded.is_empty())
            .then(|| (graded.iter().filter(|&&c| c).count() as u64, graded.len() as u64)),
        flags,
    })
}

/// The generation table's rows of `summaries`, one per shape.
pub fn report_rows(summaries: &[GenerationSummary]) -> Vec<joulebench_report::GenerationRow> {
    let mut rows = Vec::new();
    for s in summaries {
        for shape in &s.shapes {
            let ms =
                |m: &Option<joulebench_measure::generation::MeanStd>| m.map(|m| (m.mean, m.std));
            let per = |p: &Option<PhaseFigure>| {
                p.as_ref().map_or((None, None), |p| (p.gross_per_token(), p.active_per_token()))
            };
            let name = if s.experiment.is_empty() || s.repeat == 0 {
                s.experiment.clone()
            } else {
                format!("{} #{}", s.experiment, s.repeat)
            };
            rows.push(joulebench_report::GenerationRow {
                experiment: name,
                device: s.device.clone(),
                model: format!("{} {}", s.model, s.quantization),
                size_bytes: s.model_file_bytes,
                parameters: s.parameters,
                runtime: s.runtime.clone(),
                backend: s.backend.clone(),
                test: shape.label.clone(),
                requests: shape.requests,
                prefill_tps: ms(&shape.prefill_tokens_per_s),
                decode_tps: ms(&shape.decode_tokens_per_s),
                ttft_s: shape.ttft_s.map(|m| m.mean),
                itl_s: shape
                    .itl_p50_s
                    .zip(shape.itl_p95_s)
                    .zip(shape.itl_p99_s)
                    .map(|((a, b), c)| (a, b, c)),
                prefill_j_per_token: per(&shape.prefill),
                decode_j_per_token: per(&shape.decode),
                load: (s.load.seconds, s.load.gross_j, s.load.active_j),
                estimated: s.quality != EnergyQuality::Measured,
            });
        }
    }
    rows
}

/// The generation table of `summaries` and their flags, as `joulebench run` prints them.
pub fn render(summaries: &[GenerationSummary]) -> String {
    let mut out = joulebench_report::render_generation_markdown(&report_rows(summaries));
    for s in summaries {
        if let Some((c, n)) = s.correct {
            out.push_str(&format!(
                "{}: {c} of {n} answers start with the gold answer\n",
                s.experiment
            ));
        }
        for flag in &s.flags {
            out.push_str(&format!("note: {}: {flag}\n", s.experiment));
        }
    }
    out
}

/// Every finished generation experiment's power trace (its last segment), with its load and
/// warm-up phases and a prefill and a decode band per measured request.
pub fn stored_traces(store: &Store) -> Result<Vec<joulebench_report::GenerationTrace>> {
    let mut out = Vec::new();
    for (id, name, text) in store.generation_summaries("generate")? {
        let Some(mut trace) = crate::report::power_trace(store, id)? else { continue };
        let summary: GenerationSummary = serde_json::from_str(&text)
            .with_context(|| format!("experiment {id}: stored generation summary is corrupt"))?;
        trace.phases.retain(|p| p.name != GENERATION_PHASE);
        let requests = store.generation_requests(id)?;
        let last = requests.iter().map(|r| r.segment).max();
        for r in requests.iter().filter(|r| Some(r.segment) == last) {
            let t = &r.timing;
            let (Some(&first), Some(&end)) = (t.token_times_s.first(), t.token_times_s.last())
            else {
                continue;
            };
            let band = |name: &str, start_s, end_s| joulebench_report::Phase {
                name: name.into(),
                start_s,
                end_s,
            };
            trace.phases.push(band("prefill", t.prefill_start_s, first));
            if end > first {
                trace.phases.push(band("decode", first, end));
            }
        }
        out.push(joulebench_report::GenerationTrace {
            id: name,
            title: format!(
                "Power of {} ({}) on {}",
                summary.model, summary.runtime, summary.device
            ),
            meter: format!("meter: {} ({} energy)", summary.meter, summary.quality.as_str()),
            trace,
        });
    }
    Ok(out)
}

/// Every finished generation experiment's summary in `store`.
pub fn stored_summaries(store: &Store) -> Result<Vec<GenerationSummary>> {
    store
        .generation_summaries("generate")?
        .into_iter()
        .map(|(id, _, text)| {
            serde_json::from_str(&text)
                .with_context(|| format!("experiment {id}: stored generation summary is corrupt"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_graded_by_their_start() {
        assert!(answered(" B\n", " B"));
        assert!(answered("B. Paris", " B"));
        assert!(!answered(" C", " B"));
        assert!(!answered(" B", "  "));
    }

    #[test]
    fn proc_status_is_read() {
        assert!(proc_status_bytes("VmRSS").is_some_and(|b| b > 0));
        assert!(proc_status_bytes("VmHWM") >= proc_status_bytes("VmRSS"));
    }
}
