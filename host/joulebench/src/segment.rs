//! One segment of an experiment: what one process does for it. It prepares the tasks still
//! missing, starts the meter, loads the model,
//! warms up, evaluates batch by batch (each batch stored with its samples in one transaction),
//! runs the latency pass (the first tasks of the selection again, each alone in its own call, so
//! that one answer's time is measured rather than a batch's share), and finally has the
//! measurement core summarize everything the store holds.
//!
//! Tasks are grouped into batches at fixed positions of the selection, so a resumed run hands
//! the runtime exactly the batches an uninterrupted one would, and its results are the same
//! task for task. A segment's evaluation window ends with its last stored batch; the batch in
//! flight when a run dies is not counted, and is evaluated again.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use joulebench_abi::{DatasetInfo, MeterBox, MeterInfo, ModelBox, ModelInfo, ModelSpec, Task};
use joulebench_measure::attribution::{batches, token_need, token_shares};
use joulebench_measure::policy::{data_caveats, total_quality};
use joulebench_measure::provenance::{MeterDescription, ModelDescription, RuntimeDescription};
use joulebench_measure::records::{PhaseEnergy, phase};
use joulebench_measure::summary::ExperimentRecords;
use joulebench_measure::warmup::{self, WarmupOutcome};
use joulebench_measure::{LibraryIdentity, Provenance, SummaryLabels, summarize};
use joulebench_metrics::{AccuracyMetric, EnergyQuality, score_task};
use joulebench_sampler::{Clock, Sampler, Trace};

use crate::loader::Loaded;
use crate::manifest::Experiment;
use crate::progress::{Progress, ProgressMode};
use crate::runner::{Run, plugin_mut, sound, with_meter};
use crate::store::{LatencyRecord, PhaseRecord, SampleRecord, Store, TaskRecord};
use crate::{deadline, signals};

/// One experiment as one process works on it.
pub(crate) struct Segment<'a> {
    pub run: &'a Run<'a>,
    pub exp: &'a Experiment,
    pub repeat: u32,
    pub experiment_id: i64,
    pub selection: &'a [u64],
    pub dataset: &'a DatasetInfo,
}

/// A segment under way: its number in the store, the sampler, and how much of its trace is
/// stored.
struct Live {
    segment: u32,
    sampler: Sampler,
    stored_samples: usize,
    meter_info: MeterInfo,
    meter: Option<LibraryIdentity>,
    state: Option<crate::conditions::StateLive>,
}

impl Live {
    fn phase(&self, name: &str, t0: f64, t1: f64) -> PhaseRecord {
        PhaseRecord {
            segment: self.segment,
            name: name.into(),
            t0_s: t0,
            t1_s: t1,
            energy: "{}".into(),
        }
    }

    /// The samples read since the last call, to store with the next batch.
    fn new_samples(&mut self) -> Vec<SampleRecord> {
        let trace = self.sampler.trace();
        let out = samples_since(trace, self.stored_samples);
        self.stored_samples = trace.len();
        out
    }
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

/// Why a meter whose read never returned is abandoned.
pub(crate) fn stopped_answering(id: &str, deadlines: &crate::deadline::Deadlines) -> String {
    let why = format!(
        "meter {id:?} stopped answering: a read() did not return within its deadline of {} s; \
         it was abandoned",
        deadlines.get("read").as_secs_f64()
    );
    tracing::error!("{why}");
    why
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

impl Segment<'_> {
    /// Runs what is missing of the experiment, then summarizes it and marks it done.
    pub fn run(&self, plugins: &mut HashMap<String, Loaded>, store: &mut Store) -> Result<()> {
        let exp = self.exp;
        let done = store.done_positions(self.experiment_id)?;
        let todo: Vec<Range<usize>> = batches(self.selection.len(), exp.batch_tasks as usize)
            .into_iter()
            .filter(|r| r.clone().any(|p| !done.contains(&(p as u64))))
            .collect();
        let latency = if store.latencies(self.experiment_id)?.is_empty() {
            0..(exp.latency_tasks as usize).min(self.selection.len())
        } else {
            0..0
        };
        if todo.is_empty() && latency.is_empty() {
            return self.finalize(plugins, store, None);
        }
        if self.run.options.progress == ProgressMode::Lines {
            let left: usize = todo.iter().map(|r| r.len()).sum();
            eprintln!("{}: starting ({left} of {} tasks to run)", exp.id, self.selection.len());
        }
        // Everything the evaluation needs is prepared before the meter starts.
        let tasks = self.build_tasks(plugins, &todo, latency.clone())?;
        let spec = self.model_spec()?;

        let meter_identity = plugins.get(&exp.meter).map(Loaded::identity);
        let meter_deadlines =
            plugins.get(&exp.meter).map(|l| l.deadlines.clone()).unwrap_or_default();
        let lines = self.run.options.progress == ProgressMode::Lines;
        let mut prepared = crate::conditions::prepare(self.run, exp, plugins, lines)?;
        let mut state_live = None;
        let outcome = with_meter(plugins, &exp.meter, |plugins, meter: MeterBox| {
            let limit = meter_deadlines.get("info");
            let (meter, meter_info) =
                match deadline::call(&exp.meter, "info", limit, meter, |m| m.info()) {
                    Ok(got) => got,
                    Err(e) => return (Err(format!("{e:#}")), (0, None, 0, Err(e))),
                };
            if let Err(e) = sound("meter", &exp.meter, &meter_info.name) {
                return (Ok(meter), (0, None, 0, Err(e)));
            }
            let clock = Clock::new();
            let origin = unix_now() - clock.now();
            let segment = match store.begin_segment(self.experiment_id, self.run.run_id, origin) {
                Ok(s) => s,
                Err(e) => return (Ok(meter), (0, None, 0, Err(e))),
            };
            if let Err(e) = store.store_state_start(self.experiment_id, segment, &prepared.start) {
                return (Ok(meter), (segment, None, 0, Err(e)));
            }
            let sampler = Sampler::start_described(meter, meter_info.clone(), clock, exp.sample_hz);
            let mut live = Live {
                segment,
                state: prepared.start_sampling(clock, exp.conditions.state_hz),
                sampler,
                stored_samples: 0,
                meter_info,
                meter: meter_identity,
            };
            let result = self.evaluate(plugins, store, &mut live, &todo, latency, &tasks, &spec);
            let Live { sampler, stored_samples, meter_info, state, .. } = live;
            state_live = state;
            let (meter, trace) = sampler.stop_within(meter_deadlines.get("read"));
            let meter = meter.ok_or_else(|| stopped_answering(&exp.meter, &meter_deadlines));
            let result = result.map(|m| (m, meter_info));
            (meter, (segment, Some(trace), stored_samples, result))
        });
        let segment_no = outcome.as_ref().map_or(0, |o| o.0);
        prepared.finish(state_live, plugins, store, self.experiment_id, segment_no)?;
        let (segment, trace, stored_samples, result) = outcome?;
        let Some(trace) = trace else { return result.map(|_| ()) };
        store.store_samples(self.experiment_id, segment, &samples_since(&trace, stored_samples))?;
        let (model_info, meter_info) = result?;
        for p in store.phases(self.experiment_id)?.into_iter().filter(|p| p.segment == segment) {
            let energy = PhaseEnergy::from(&trace.energy(p.t0_s, p.t1_s));
            let energy = serde_json::to_string(&energy)?;
            store.store_phase(self.experiment_id, &PhaseRecord { energy, ..p })?;
        }
        // A latency pass cut short by a signal stores nothing, and is owed too.
        let unfinished = store.done_positions(self.experiment_id)?.len() < self.selection.len()
            || (exp.latency_tasks > 0
                && !self.selection.is_empty()
                && store.latencies(self.experiment_id)?.is_empty());
        if let Some(signal) = signals::requested()
            && unfinished
        {
            return Err(signals::Interrupted(signal).into());
        }
        if let Some(max) = self.run.options.max_batches
            && unfinished
        {
            bail!("stopped after {max} batches as asked");
        }
        self.finalize(plugins, store, Some((model_info, meter_info)))
    }

    /// The tasks of the batches to run, of the warm-up and of the latency pass, built by the
    /// dataset plugin, by position in the selection.
    fn build_tasks(
        &self,
        plugins: &mut HashMap<String, Loaded>,
        todo: &[Range<usize>],
        latency: Range<usize>,
    ) -> Result<BTreeMap<usize, Task>> {
        let exp = self.exp;
        let mut positions: Vec<usize> = todo.iter().flat_map(|r| r.clone()).collect();
        positions.extend(0..(exp.warmup_tasks as usize).min(self.selection.len()));
        positions.extend(latency);
        positions.sort_unstable();
        positions.dedup();
        let indices: Vec<u64> = positions.iter().map(|&p| self.selection[p]).collect();
        let convention = exp.convention;
        let built = deadline::dataset(plugins, &exp.dataset, "tasks", move |d| {
            d.tasks(indices.as_slice().into(), convention).into_result()
        })?
        .map_err(|e| anyhow!("dataset {:?}: {e}", exp.dataset))?;
        if built.len() != positions.len() {
            bail!(
                "dataset {:?} returned {} tasks for {} indices",
                exp.dataset,
                built.len(),
                positions.len()
            );
        }
        Ok(positions.into_iter().zip(built).collect())
    }

    fn model_spec(&self) -> Result<ModelSpec> {
        let manifest = self.run.manifest;
        let entry = manifest.model(&self.exp.model).context("unknown model")?;
        Ok(ModelSpec {
            id: entry.id.as_str().into(),
            path: manifest.model_path(entry)?.display().to_string().into(),
            options: entry.options.as_str().into(),
        })
    }

    /// Load, warm-up, the evaluation of `todo` and, once
    /// the evaluation is complete, the latency pass over the positions `latency`.
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        plugins: &mut HashMap<String, Loaded>,
        store: &mut Store,
        live: &mut Live,
        todo: &[Range<usize>],
        latency: Range<usize>,
        tasks: &BTreeMap<usize, Task>,
        spec: &ModelSpec,
    ) -> Result<ModelInfo> {
        let (exp, id) = (self.exp, self.experiment_id);
        let clock = live.sampler.clock();

        let runtime_lib = plugin_mut(plugins, &exp.runtime)?;
        let runtime_identity = runtime_lib.identity();
        let deadlines = runtime_lib.deadlines.clone();
        let runtime_info = deadline::runtime(plugins, &exp.runtime, "info", |r| r.info())?;
        sound("runtime", &exp.runtime, &runtime_info.name)?;
        let t0 = clock.now();
        let owned_spec = spec.clone();
        let model: ModelBox = deadline::runtime(plugins, &exp.runtime, "load_model", move |r| {
            r.load_model(&owned_spec).into_result()
        })?
        .map_err(|e| anyhow!("runtime {:?} cannot load model {:?}: {e}", exp.runtime, spec.id))?;
        store.store_phase(id, &live.phase(phase::LOAD, t0, clock.now()))?;
        let (mut model, model_info) =
            deadline::model(model, &exp.runtime, &deadlines, "model_info", |m| m.info())?;
        sound("model of runtime", &exp.runtime, &model_info.name)?;

        let warmup: Vec<Task> =
            tasks.range(..exp.warmup_tasks as usize).map(|(_, t)| t.clone()).collect();
        let mut warmup_outcome = None;
        if !warmup.is_empty() {
            let t0 = clock.now();
            let mut calls = 0;
            // One pass over the warm-up tasks, or, with `warmup_stable`, passes until the
            // measurement core finds power settled (checked after every call).
            'passes: loop {
                for chunk in warmup.chunks(exp.batch_tasks as usize) {
                    let chunk = chunk.to_vec();
                    let evaluated;
                    (model, evaluated) =
                        deadline::model(model, &exp.runtime, &deadlines, "evaluate", move |m| {
                            m.evaluate(chunk.as_slice().into()).into_result()
                        })
                        .context("warm-up")?;
                    evaluated.map_err(|e| anyhow!("warm-up: runtime {:?}: {e}", exp.runtime))?;
                    calls += 1;
                    if let Some(spec) = &exp.warmup_stable {
                        let now = clock.now();
                        let last = warmup::settled(spec, live.sampler.trace(), t0, now);
                        if last.is_some_and(|c| c.settled)
                            || now - t0 >= spec.max_s
                            || signals::requested().is_some()
                        {
                            warmup_outcome =
                                Some(WarmupOutcome { spec: *spec, seconds: now - t0, calls, last });
                            break 'passes;
                        }
                    }
                }
                if exp.warmup_stable.is_none() {
                    break;
                }
            }
            store.store_phase(id, &live.phase(phase::WARM_UP, t0, clock.now()))?;
        }

        let mut provenance = Provenance {
            version: joulebench_measure::provenance::PROVENANCE_VERSION,
            host: self.run.host.clone(),
            runtime: Some(runtime_identity),
            runtime_info: RuntimeDescription::from(&runtime_info),
            model: ModelDescription::from(&model_info),
            dataset: plugins.get(&exp.dataset).map(Loaded::identity),
            meter: live.meter.clone(),
            meter_info: MeterDescription::from(&live.meter_info),
            sample_hz: exp.sample_hz,
            host_overhead_s: 0.0,
            host_overhead_fraction: 0.0,
            warmup: warmup_outcome,
        };
        store.set_provenance(id, &provenance.to_json())?;

        let headline = AccuracyMetric::from_name(&self.dataset.metric);
        let estimated = total_quality(&live.meter_info) != EnergyQuality::Measured;
        let total: usize = todo.iter().map(|r| r.len()).sum();
        let mut progress =
            Progress::new(self.run.options.progress, total as u64, &exp.id, headline, estimated);
        let eval_t0 = clock.now();
        if !todo.is_empty() {
            store.store_phase(id, &live.phase(phase::EVALUATION, eval_t0, eval_t0))?;
        }
        let mut runtime_s = 0.0;
        let mut last_end = eval_t0;
        let mut complete = true;
        for (b, range) in todo.iter().enumerate() {
            if self.run.options.max_batches.is_some_and(|m| b as u64 >= m)
                || signals::requested().is_some()
            {
                complete = false;
                break;
            }
            let batch: Vec<Task> = range.clone().map(|p| tasks[&p].clone()).collect();
            let sent = batch.clone();
            // Timed on the worker thread: the deadline's thread hand-off is not the runtime's.
            let (evaluated, ts, te);
            (model, (evaluated, ts, te)) =
                deadline::model(model, &exp.runtime, &deadlines, "evaluate", move |m| {
                    let ts = clock.now();
                    let evaluated = m.evaluate(sent.as_slice().into()).into_result();
                    (evaluated, ts, clock.now())
                })
                .with_context(|| format!("tasks {range:?}"))?;
            let evaluation = evaluated
                .map_err(|e| anyhow!("runtime {:?} on tasks {range:?}: {e}", exp.runtime))?;
            runtime_s += te - ts;
            if evaluation.tasks.len() != batch.len() {
                bail!(
                    "runtime {:?} scored {} of {} tasks",
                    exp.runtime,
                    evaluation.tasks.len(),
                    batch.len()
                );
            }
            let needs: Vec<u64> = evaluation.tasks.iter().map(token_need).collect();
            let c = &evaluation.counters;
            let shares = token_shares(&needs, c.prompt_tokens + c.generated_tokens);
            let mut records = Vec::with_capacity(batch.len());
            for (((position, task), scored), share) in
                range.clone().zip(&batch).zip(evaluation.tasks.iter()).zip(shares)
            {
                let score = score_task(task, scored, exp.convention).map_err(|e| anyhow!("{e}"))?;
                progress.task(score.correct, score.correct_norm, share);
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
                    segment: live.segment,
                    batch: (range.start / exp.batch_tasks as usize) as u64,
                    t_start_s: ts,
                    t_end_s: te,
                    latency_s: (te - ts) / batch.len() as f64,
                    scores: score.scores,
                });
            }
            let samples = live.new_samples();
            let watts = live.sampler.trace().mean_power(ts, te);
            store.store_batch(id, live.segment, &records, &samples)?;
            if let Some(state) = &mut live.state {
                state.store_new(store, id, live.segment)?;
            }
            last_end = te;
            progress.call_done(batch.len() as u64, te - eval_t0, watts);
        }
        progress.finish(last_end - eval_t0, live.sampler.trace().mean_power(eval_t0, last_end));
        if !todo.is_empty() {
            store.store_phase(id, &live.phase(phase::EVALUATION, eval_t0, last_end))?;
        }
        if complete && !latency.is_empty() {
            let t0 = clock.now();
            let mut records = Vec::with_capacity(latency.len());
            for position in latency {
                if signals::requested().is_some() {
                    // The pass is stored whole or not at all: the next run does it again.
                    records.clear();
                    break;
                }
                let one = vec![tasks[&position].clone()];
                let (evaluated, ts, te);
                (model, (evaluated, ts, te)) =
                    deadline::model(model, &exp.runtime, &deadlines, "evaluate", move |m| {
                        let ts = clock.now();
                        let evaluated = m.evaluate(one.as_slice().into()).into_result();
                        (evaluated, ts, clock.now())
                    })
                    .with_context(|| format!("latency pass, task {position}"))?;
                evaluated.map_err(|e| {
                    anyhow!("latency pass: runtime {:?} on task {position}: {e}", exp.runtime)
                })?;
                records.push(LatencyRecord {
                    position: position as u64,
                    segment: live.segment,
                    t_start_s: ts,
                    t_end_s: te,
                });
            }
            if !records.is_empty() {
                let samples = live.new_samples();
                store.store_latencies(id, live.segment, &records, &samples)?;
                store.store_phase(id, &live.phase(phase::LATENCY, t0, clock.now()))?;
            }
        }
        if !todo.is_empty() {
            let eval_s = last_end - eval_t0;
            provenance.host_overhead_s = (eval_s - runtime_s).max(0.0);
            provenance.host_overhead_fraction =
                if eval_s > 0.0 { provenance.host_overhead_s / eval_s } else { 0.0 };
            store.set_provenance(id, &provenance.to_json())?;
        }
        Ok(model_info)
    }

    /// Summarizes what the store holds of the experiment (every segment) and marks it done.
    fn finalize(
        &self,
        plugins: &mut HashMap<String, Loaded>,
        store: &mut Store,
        measured: Option<(ModelInfo, MeterInfo)>,
    ) -> Result<()> {
        let (exp, id) = (self.exp, self.experiment_id);
        // The meter's description from this segment: a meter that stopped answering during it
        // is not asked again.
        let (model_info, meter_info) = match measured {
            Some((model, meter)) => (Some(model), meter),
            None => (None, deadline::meter(plugins, &exp.meter, "info", |m| m.info())?),
        };
        let provenance = Provenance::from_json(&store.provenance(id)?).ok();
        let model = match (&model_info, &provenance) {
            (Some(m), _) => Some(ModelDescription::from(m)),
            (None, Some(p)) => Some(p.model.clone()),
            (None, None) => None,
        };
        let labels = SummaryLabels {
            experiment: exp.id.clone(),
            repeat: self.repeat,
            device: self.run.device.to_string(),
            runtime: exp.runtime.clone(),
            model: model.as_ref().map_or_else(|| exp.model.clone(), |m| m.name.clone()),
            parameters: model.as_ref().map_or(0, |m| m.parameters),
            nominal_parameters_b: self.run.manifest.model(&exp.model).and_then(|m| m.parameters_b),
            quantization: model.as_ref().map_or_else(String::new, |m| m.quantization.clone()),
            dataset: self.dataset.name.to_string(),
            dataset_metric: AccuracyMetric::from_name(&self.dataset.metric),
        };
        let tasks = store.tasks(id)?;
        let phases = store.phases(id)?;
        let latencies = store.latencies(id)?;
        let idle = store.baseline(self.run.run_id, &exp.meter, "before")?;
        let mut samples = BTreeMap::new();
        for t in &tasks {
            if let std::collections::btree_map::Entry::Vacant(e) = samples.entry(t.segment) {
                e.insert(store.samples(id, t.segment)?);
            }
        }
        let records = ExperimentRecords {
            tasks: &tasks,
            phases: &phases,
            latencies: &latencies,
            idle: idle.as_ref(),
            caveats: &data_caveats(
                &self.dataset.name,
                &self.dataset.source,
                self.dataset.len,
                exp.convention,
            ),
            samples: &samples,
            meter: &meter_info,
            sample_hz: exp.sample_hz,
            convention: exp.convention.as_str(),
            host_overhead_s: provenance.as_ref().map_or(0.0, |p| p.host_overhead_s),
        };
        let mut summary = summarize(records, labels).map_err(|e| anyhow!("{e}"))?;
        summary.flags.extend(provenance.as_ref().and_then(|p| p.warmup.as_ref()?.flag()));
        if let Some(c) =
            crate::conditions::conditions_of(store, id, &phases, exp.conditions.clock_share)?
        {
            summary.flags.extend(c.flags());
            summary.conditions = Some(c);
        }
        let metrics = serde_json::to_string(&summary.metrics)?;
        store.finish(id, &metrics, &serde_json::to_string(&summary)?)?;
        Ok(())
    }
}
