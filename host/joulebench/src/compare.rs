//! `joulebench compare`'s input: finished experiments read from one or two results stores,
//! chosen by a selector, as the [`joulebench_compare::Run`]s the comparison takes.
//!
//! A selector is one or more terms joined by `,`, all of which must hold:
//! - `run:N` (or `run:latest`): experiments measured (in part) by the store's run N;
//! - `AXIS=VALUE`: an axis of the experiment (`device`, `runtime`, `model`, `quantization`,
//!   `dataset`, `convention`, `meter`) equals VALUE, as the summary names it or as the manifest
//!   does (`model=smollm2-135m`);
//! - `NAME`: the experiment's manifest id (`smollm2`) or its full expanded name
//!   (`smollm2/llama.cpp/smollm2-135m/winogrande/estimate`);
//! - `all` or nothing: every finished experiment.
//!
//! With `--by AXIS`, a selector is a value of that axis; without selectors, the axis must take
//! exactly two values, the first one stored being the baseline.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use joulebench_compare::Run;
use joulebench_measure::Summary;

use crate::store::Store;

/// The axes a selector or `--by` can name.
pub const AXES: [&str; 7] =
    ["device", "runtime", "model", "quantization", "dataset", "convention", "meter"];

/// A finished experiment as the store holds it.
#[derive(Debug, Clone)]
pub struct StoredExperiment {
    /// Its row id.
    pub id: i64,
    /// Its expanded manifest name (`id/runtime/model/dataset/meter`).
    pub name: String,
    /// The runs that measured it.
    pub runs: Vec<i64>,
    /// Its summary.
    pub summary: Summary,
}

impl StoredExperiment {
    /// How reports name it: the expanded name, with `#repeat` after the first.
    pub fn label(&self) -> String {
        let r = self.summary.labels.repeat;
        if r > 0 { format!("{} #{r}", self.name) } else { self.name.clone() }
    }

    /// The summary's value of an axis.
    pub fn axis(&self, axis: &str) -> Option<String> {
        let l = &self.summary.labels;
        Some(match axis {
            "device" => l.device.clone(),
            "runtime" => l.runtime.clone(),
            "model" => l.model.clone(),
            "quantization" => l.quantization.clone(),
            "dataset" => l.dataset.clone(),
            "convention" => self.summary.convention.clone(),
            "meter" => self.summary.meter.clone(),
            _ => return None,
        })
    }

    /// The manifest's id for an axis, from the expanded name.
    fn manifest_id(&self, axis: &str) -> Option<&str> {
        let i = match axis {
            "runtime" => 1,
            "model" => 2,
            "dataset" => 3,
            "meter" => 4,
            _ => return None,
        };
        self.name.split('/').nth(i)
    }

    fn axis_is(&self, axis: &str, value: &str) -> bool {
        self.axis(axis).is_some_and(|v| v == value) || self.manifest_id(axis) == Some(value)
    }
}

/// Every finished experiment of a store, in creation order.
pub fn stored_experiments(store: &Store) -> Result<Vec<StoredExperiment>> {
    let mut out = vec![];
    for (id, name, summary) in store.summaries()? {
        let summary: Summary = serde_json::from_str(&summary)
            .with_context(|| format!("experiment {name}: stored summary is corrupt"))?;
        out.push(StoredExperiment { id, name, runs: store.experiment_runs(id)?, summary });
    }
    Ok(out)
}

fn check_axis(axis: &str) -> Result<()> {
    if !AXES.contains(&axis) {
        bail!("unknown axis {axis:?}: use one of {}", AXES.join(", "));
    }
    Ok(())
}

fn term_holds(e: &StoredExperiment, term: &str, latest_run: i64) -> Result<bool> {
    if let Some(run) = term.strip_prefix("run:") {
        let run = match run.trim() {
            "latest" => latest_run,
            n => n.parse().with_context(|| format!("selector {term:?}: run:N needs a number"))?,
        };
        return Ok(e.runs.contains(&run));
    }
    if let Some((axis, value)) = term.split_once('=') {
        check_axis(axis.trim())?;
        return Ok(e.axis_is(axis.trim(), value.trim()));
    }
    Ok(term == "all" || e.name == term || e.name.split('/').next() == Some(term))
}

/// The experiments a selector chooses (see the module documentation), by repeat, else in store order. An
/// empty choice is an error that lists what the store holds.
pub fn select<'a>(
    all: &'a [StoredExperiment],
    selector: &str,
    by: Option<&str>,
) -> Result<Vec<&'a StoredExperiment>> {
    let latest = all.iter().flat_map(|e| e.runs.iter().copied()).max().unwrap_or(0);
    let mut out = vec![];
    for e in all {
        let mut ok = true;
        match by {
            Some(axis) => ok = e.axis_is(axis, selector.trim()),
            None => {
                for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    ok &= term_holds(e, term, latest)?;
                }
            }
        }
        if ok {
            out.push(e);
        }
    }
    // Repeats in order, so that "each side's first run" is its repeat 0.
    out.sort_by_key(|e| e.summary.labels.repeat);
    if out.is_empty() {
        let names: Vec<String> = all.iter().map(StoredExperiment::label).collect();
        bail!(
            "selector {selector:?}{} chooses no finished experiment; the store holds: {}",
            by.map(|a| format!(" (--by {a})")).unwrap_or_default(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    Ok(out)
}

/// The two values of `axis` in store order, for `--by AXIS` without selectors.
pub fn two_values(all: &[StoredExperiment], axis: &str) -> Result<(String, String)> {
    check_axis(axis)?;
    let mut values: Vec<String> = vec![];
    for e in all {
        if let Some(v) = e.axis(axis).filter(|v| !values.contains(v)) {
            values.push(v);
        }
    }
    match &values[..] {
        [a, b] => Ok((a.clone(), b.clone())),
        _ => bail!(
            "--by {axis} without --baseline and --candidate needs exactly two values of {axis}; the results hold {}: {}",
            values.len(),
            values.join(", ")
        ),
    }
}

/// An experiment as a comparison takes it: its axes, metric set, each task's verdict by the
/// headline metric and its per-task latencies.
pub fn to_run(store: &Store, e: &StoredExperiment) -> Result<Run> {
    let metric = e.summary.metrics.accuracy_metric;
    let verdicts = store
        .tasks(e.id)?
        .into_iter()
        .map(|t| (t.task_id, metric.pick(t.correct, t.correct_norm).1))
        .collect();
    let latencies_s = store.latencies(e.id)?.iter().map(|l| l.t_end_s - l.t_start_s).collect();
    let axes: BTreeMap<String, String> =
        AXES.iter().filter_map(|a| Some((a.to_string(), e.axis(a)?))).collect();
    Ok(Run { label: e.label(), axes, metrics: e.summary.metrics.clone(), verdicts, latencies_s })
}

/// `joulebench compare`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// The manifest whose results store holds both sides.
    #[arg(long, default_value = "plugins.toml")]
    pub manifest: std::path::PathBuf,
    /// A results store holding both sides (instead of the manifest's).
    #[arg(long)]
    pub results: Option<std::path::PathBuf>,
    /// The baseline's results store, when the sides live in two stores.
    #[arg(long)]
    pub baseline_results: Option<std::path::PathBuf>,
    /// The candidate's results store.
    #[arg(long)]
    pub candidate_results: Option<std::path::PathBuf>,
    /// The baseline: `run:N`, `run:latest`, `AXIS=VALUE`, an experiment id, or `all`; terms
    /// joined by `,` must all hold. With --by, a value of that axis.
    #[arg(long)]
    pub baseline: Option<String>,
    /// The candidate, chosen the same way.
    #[arg(long)]
    pub candidate: Option<String>,
    /// Compare along one axis: device, runtime, model, quantization, dataset, convention, meter.
    #[arg(long)]
    pub by: Option<String>,
    /// Output format (`bench`: github-action-benchmark's customSmallerIsBetter list).
    #[arg(long, default_value = "md", value_parser = ["md", "csv", "json", "bench"])]
    pub format: String,
    /// A regression rule such as "energy_per_inference > +5%" or "accuracy < -1pt"; the command
    /// exits with status 3 when a change is beyond it and significant. Repeatable.
    #[arg(long = "fail-if", value_name = "RULE")]
    pub fail_if: Vec<String>,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// The latency bootstrap's seed (the same seed gives the same intervals).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The latency bootstrap's resamples.
    #[arg(long)]
    pub resamples: Option<u32>,
    /// Also write the side-by-side comparison as one self-contained HTML file.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
}

/// The exit status of `joulebench compare` when a `--fail-if` rule trips (1 is any error, 2 a
/// usage error).
pub const GATE_FAILED: u8 = 3;

fn open_store(path: &std::path::Path) -> Result<Store> {
    if !path.exists() && !path.to_str().is_some_and(crate::lab::is_postgres) {
        bail!("no results at {}: run `joulebench run` first", path.display());
    }
    Store::open(path)
}

/// Runs `joulebench compare`: prints the comparison in the chosen format, writes the HTML page
/// when asked, and returns whether every gate rule passed.
pub fn run_compare(args: &CompareArgs) -> Result<bool> {
    if let Some(axis) = &args.by {
        check_axis(axis)?;
        if joulebench_compare::PAIRING_AXES.contains(&axis.as_str()) {
            bail!(
                "--by {axis}: results on different tasks are not comparable; compare along another axis"
            );
        }
    }
    let rules: Vec<joulebench_compare::Rule> =
        args.fail_if.iter().map(|r| r.parse()).collect::<Result<_, _>>()?;
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("--alpha {} must lie between 0 and 1", args.alpha);
    }
    let shared = match &args.results {
        Some(r) => r.clone(),
        None if args.baseline_results.is_some() && args.candidate_results.is_some() => {
            std::path::PathBuf::new()
        }
        None => crate::manifest::Manifest::load(&args.manifest)?.results_path(),
    };
    let b_path = args.baseline_results.clone().unwrap_or_else(|| shared.clone());
    let c_path = args.candidate_results.clone().unwrap_or_else(|| shared.clone());
    let b_store = open_store(&b_path)?;
    let c_store = open_store(&c_path)?;
    let b_all =
        stored_experiments(&b_store).with_context(|| format!("reading {}", b_path.display()))?;
    let c_all =
        stored_experiments(&c_store).with_context(|| format!("reading {}", c_path.display()))?;
    let two_stores = b_path != c_path;
    let (b_sel, c_sel) = match (&args.baseline, &args.candidate, &args.by) {
        (Some(b), Some(c), _) => (b.clone(), c.clone()),
        (None, None, Some(axis)) => {
            let mut all = b_all.clone();
            if two_stores {
                all.extend(c_all.iter().cloned());
            }
            two_values(&all, axis)?
        }
        (None, None, None) if two_stores => ("all".to_string(), "all".to_string()),
        _ => bail!(
            "say what to compare: --baseline and --candidate (run:N, AXIS=VALUE, an experiment id), \
             --by AXIS, or two stores with --baseline-results and --candidate-results"
        ),
    };
    let by = args.by.as_deref();
    let b_chosen = select(&b_all, &b_sel, by).context("the baseline")?;
    let c_chosen = select(&c_all, &c_sel, by).context("the candidate")?;
    let b_runs = b_chosen.iter().map(|e| to_run(&b_store, e)).collect::<Result<Vec<_>>>()?;
    let c_runs = c_chosen.iter().map(|e| to_run(&c_store, e)).collect::<Result<Vec<_>>>()?;
    let describe = |sel: &str, path: &std::path::Path| {
        let sel = match by {
            Some(a) => format!("{a} = {sel}"),
            None => sel.to_string(),
        };
        if two_stores { format!("{sel} in {}", path.display()) } else { sel }
    };
    let mut options = joulebench_compare::Options {
        baseline: describe(&b_sel, &b_path),
        candidate: describe(&c_sel, &c_path),
        alpha: args.alpha,
        ..Default::default()
    };
    if let Some(seed) = args.seed {
        options.bootstrap.seed = seed;
    }
    if let Some(n) = args.resamples {
        if n < 100 {
            bail!("--resamples {n}: use at least 100");
        }
        options.bootstrap.resamples = n;
    }
    let pairing = joulebench_compare::pair(b_runs, c_runs)?;
    let comparison = joulebench_compare::compare(pairing, &options);
    let outcomes = joulebench_compare::gate(&comparison, &rules)?;
    use joulebench_compare::render;
    match args.format.as_str() {
        "csv" => print!("{}", render::csv(&comparison)),
        "json" => print!("{}", render::json(&comparison, &outcomes)),
        "bench" => println!("{}", serde_json::to_string_pretty(&render::bench(&comparison))?),
        _ => print!("{}", render::markdown(&comparison, &outcomes)),
    }
    if let Some(file) = &args.html {
        let b = crate::html::html_experiments(&b_store, Some(&b_chosen))?;
        let c = crate::html::html_experiments(&c_store, Some(&c_chosen))?;
        let page = joulebench_report::render_compare_html(&comparison, &outcomes, &b, &c);
        std::fs::write(file, page)
            .with_context(|| format!("cannot write the HTML comparison to {}", file.display()))?;
        eprintln!("html: {}", file.display());
    }
    let failed: Vec<&joulebench_compare::GateOutcome> =
        outcomes.iter().filter(|g| g.failed).collect();
    for g in &failed {
        eprintln!(
            "gate failed: {} on {} ({}): change {:+.3}, significant",
            g.rule,
            g.cell,
            g.metric,
            g.change.unwrap_or(f64::NAN)
        );
    }
    Ok(failed.is_empty())
}
