//! The manifest (`plugins.toml`): which plugins to load and which experiments to run.
//!
//! ```toml
//! [settings]                  # optional
//! results = "results/joulebench.sqlite"
//!
//! [[plugin]]
//! id = "llama"                # the name experiments use
//! kind = "runtime"            # runtime | meter | dataset
//! library = "joulebench_runtime_llama_cpp"   # a [lib] name, or a path to a .so
//! config = { threads = 2 }    # handed to the plugin as TOML; it checks it
//! deadlines = { evaluate = 3600 }   # optional: seconds per call (docs/faults.md#deadlines)
//!
//! [[model]]
//! id = "smollm2"
//! path = "SmolLM2-135M-Instruct.Q4_1.gguf"   # absolute, manifest-relative, or in the models cache
//!
//! [[experiment]]
//! id = "smollm2-cpu"
//! runtime = "llama"
//! model = "smollm2"
//! dataset = ["hellaswag", "winogrande"]      # a list runs one experiment per entry
//! meter = "estimate"
//! limit = 100
//! ```
//!
//! Every error names the file, line and column of the offending key or value.
//!
//! Its own crate, apart from the host that runs what it describes, so that reading a manifest
//! needs nothing but serde and toml: the fuzz targets and any other tool that checks manifests
//! build it without the host's store, plots and command line.

pub mod conditions;
pub mod deadlines;
pub mod generation;

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use joulebench_abi::{Convention, PluginKind, SelectionRule};
use serde::Deserialize;
use toml::Spanned;

/// A parsed and cross-checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text, kept for error positions and the results' provenance.
    pub text: String,
    /// `[settings]`.
    pub settings: Settings,
    /// `[[plugin]]` entries in file order.
    pub plugins: Vec<PluginEntry>,
    /// `[[model]]` entries in file order.
    pub models: Vec<ModelEntry>,
    /// `[[experiment]]` entries, expanded: one per runtime x model x dataset x meter.
    pub experiments: Vec<Experiment>,
    /// `[conditions]`: where the board's files and tools are.
    pub conditions: crate::conditions::ConditionsSettings,
}

/// `[settings]`: where results go and how the machine is named.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The results database; relative paths resolve against the manifest's folder.
    pub results: Option<String>,
    /// A name for this machine in reports (default: the host name).
    pub device: Option<String>,
    /// Where plugin libraries named without a path are found (default: beside the binary).
    pub plugin_dir: Option<String>,
    /// The seed of the order in which repeats run, interleaved with the other experiments
    /// (default 1).
    pub order_seed: Option<u64>,
    /// Seconds of each idle baseline: one per meter before the run's first experiment and one
    /// after its last (default [`DEFAULT_IDLE_S`]; 0 takes none, and active energy is absent).
    pub idle_s: Option<f64>,
}

/// The default length of an idle baseline, s.
pub const DEFAULT_IDLE_S: f64 = 60.0;

impl Settings {
    /// The length of the run's idle baselines, s.
    pub fn idle_s(&self) -> f64 {
        self.idle_s.unwrap_or(DEFAULT_IDLE_S)
    }
}

/// One `[[plugin]]` entry.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: PluginKind,
    /// The library as written.
    pub library: String,
    /// Its config, re-serialized as TOML for the plugin.
    pub config: String,
    /// Where the entry is, for messages (`file:line:column`).
    pub at: String,
    /// The deadlines of its calls (`deadlines = { evaluate = 600 }`, seconds).
    pub deadlines: crate::deadlines::Deadlines,
}

/// One `[[model]]` entry.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// Its id.
    pub id: String,
    /// The path as written.
    pub path: String,
    /// Options for the runtime, re-serialized as TOML (empty when none).
    pub options: String,
    /// The model's nominal size in billions of parameters (the "2B" of its name), which
    /// per-billion figures divide by when given; else they use the runtime's counted parameters.
    pub parameters_b: Option<f64>,
    /// Where the entry is.
    pub at: String,
}

/// One expanded experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// `id` of the entry, with `/runtime/model/dataset/meter` appended when the entry expands
    /// to several experiments.
    pub id: String,
    /// Runtime plugin id.
    pub runtime: String,
    /// Model id.
    pub model: String,
    /// Dataset plugin id.
    pub dataset: String,
    /// Meter plugin id.
    pub meter: String,
    /// Scoring convention.
    pub convention: Convention,
    /// Task selection rule.
    pub selection: SelectionRule,
    /// Number of tasks (0 = all).
    pub limit: u64,
    /// Seed for the selection.
    pub seed: u64,
    /// How many times the evaluation runs.
    pub repeats: u32,
    /// Tasks run before the measured evaluation (not scored in the results).
    pub warmup_tasks: u32,
    /// Repeat the warm-up tasks until power settles (`warmup_stable`), instead of running
    /// them once.
    pub warmup_stable: Option<joulebench_measure::warmup::StableSpec>,
    /// Tasks of the latency pass: the first of the selection, each run alone in its own call
    /// after the evaluation, for the time one answer takes (0 = no latency pass).
    pub latency_tasks: u32,
    /// Meter sampling rate.
    pub sample_hz: f64,
    /// Tasks per runtime call.
    pub batch_tasks: u32,
    /// The state meter, cooldown and throttling rule (`state`, `state_hz`, `cooldown`,
    /// `clock_share`).
    pub conditions: crate::conditions::ExperimentConditions,
    /// The board label a lab agent must have to run it (`board = "pi5"`); any board when absent.
    pub board: Option<String>,
    /// Where the entry is.
    pub at: String,
    /// `workload = "generate"`: what to generate (`None`: the default workload, scoring).
    pub generate: Option<crate::generation::GenerateSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    plugin: Vec<Spanned<RawPlugin>>,
    #[serde(default)]
    model: Vec<Spanned<RawModel>>,
    #[serde(default)]
    experiment: Vec<Spanned<RawExperiment>>,
    #[serde(default)]
    conditions: crate::conditions::ConditionsSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    id: Spanned<String>,
    kind: Spanned<String>,
    library: Spanned<String>,
    #[serde(default)]
    config: Option<toml::Table>,
    #[serde(default)]
    deadlines: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: Spanned<String>,
    path: String,
    #[serde(default)]
    options: Option<toml::Table>,
    #[serde(default)]
    parameters_b: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

fn no_datasets() -> Spanned<OneOrMany> {
    Spanned::new(0..0, OneOrMany::Many(Vec::new()))
}
fn default_convention() -> Spanned<String> {
    Spanned::new(0..0, "lm-eval".into())
}
fn default_selection() -> Spanned<String> {
    Spanned::new(0..0, "first".into())
}
fn default_seed() -> u64 {
    1
}
fn default_repeats() -> u32 {
    1
}
fn default_warmup() -> u32 {
    4
}
fn default_latency_tasks() -> u32 {
    50
}
fn default_sample_hz() -> f64 {
    10.0
}
fn default_batch_tasks() -> u32 {
    8
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    id: Spanned<String>,
    runtime: Spanned<OneOrMany>,
    model: Spanned<OneOrMany>,
    /// Optional only for generation experiments with synthetic shapes.
    #[serde(default = "no_datasets")]
    dataset: Spanned<OneOrMany>,
    meter: Spanned<OneOrMany>,
    /// `score` (default) or `generate`.
    #[serde(default)]
    workload: Option<Spanned<String>>,
    /// A generation experiment's shapes or prompt settings ([`generation`]).
    #[serde(default)]
    generate: Option<Spanned<toml::Table>>,
    #[serde(default = "default_convention")]
    convention: Spanned<String>,
    #[serde(default = "default_selection")]
    selection: Spanned<String>,
    #[serde(default)]
    limit: u64,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_repeats")]
    repeats: u32,
    /// Moved to `[settings]`; named here only to say so.
    #[serde(default)]
    idle_s: Option<Spanned<f64>>,
    #[serde(default = "default_warmup")]
    warmup_tasks: u32,
    #[serde(default)]
    warmup_stable: Option<Spanned<joulebench_measure::warmup::StableSpec>>,
    #[serde(default = "default_latency_tasks")]
    latency_tasks: u32,
    #[serde(default = "default_sample_hz")]
    sample_hz: f64,
    #[serde(default = "default_batch_tasks")]
    batch_tasks: u32,
    /// The state meter sampled beside `meter` (a meter plugin id).
    #[serde(default)]
    state: Option<Spanned<String>>,
    #[serde(default)]
    state_hz: Option<Spanned<f64>>,
    #[serde(default)]
    cooldown: Option<Spanned<joulebench_conditions::CooldownSpec>>,
    #[serde(default)]
    clock_share: Option<Spanned<f64>>,
    /// Sweep axes: power settings applied before the experiment runs.
    #[serde(default)]
    power_mode: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    jetson_clocks: Option<Spanned<bool>>,
    #[serde(default)]
    governor: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    max_freq_khz: Option<Spanned<crate::conditions::Frequencies>>,
    /// The board label a lab agent needs to run it.
    #[serde(default)]
    board: Option<Spanned<String>>,
}

/// The most experiments a manifest may expand to: lists multiply (runtimes x models x datasets
/// x meters), and a hostile or mistaken manifest must not expand to millions.
pub const MAX_EXPERIMENTS: usize = 10_000;

/// `file:line:column` of a byte offset in `text`.
pub fn position(file: &Path, text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{}:{line}:{column}", file.display())
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        Manifest::parse(path, text)
    }

    /// Parses and checks manifest text; `path` is used for messages and relative paths.
    pub fn parse(path: &Path, text: String) -> Result<Manifest> {
        let raw: RawManifest = toml::from_str(&text).map_err(|e| {
            let at = position(path, &text, e.span().map_or(0, |s| s.start));
            anyhow::anyhow!("{at}: {}", e.message().trim_end())
        })?;
        let at = |span: Range<usize>| position(path, &text, span.start);

        let mut plugins: Vec<PluginEntry> = Vec::new();
        for entry in &raw.plugin {
            let p = entry.get_ref();
            let kind = PluginKind::ALL
                .into_iter()
                .find(|k| k.as_str() == p.kind.get_ref())
                .with_context(|| {
                    format!(
                        "{}: unknown plugin kind {:?} for plugin {:?} (expected runtime, meter or dataset)",
                        at(p.kind.span()),
                        p.kind.get_ref(),
                        p.id.get_ref()
                    )
                })?;
            if let Some(first) = plugins.iter().find(|q| &q.id == p.id.get_ref()) {
                bail!(
                    "{}: duplicate plugin id {:?} (first defined at {})",
                    at(p.id.span()),
                    p.id.get_ref(),
                    first.at
                );
            }
            if p.library.get_ref().trim().is_empty() {
                bail!("{}: plugin {:?} has an empty library", at(p.library.span()), p.id.get_ref());
            }
            let config = toml::to_string(&p.config.clone().unwrap_or_default())
                .context("cannot re-serialize a plugin config")?;
            let deadlines = match &p.deadlines {
                Some(d) => crate::deadlines::Deadlines::parse(kind, d.get_ref()).map_err(|e| {
                    anyhow::anyhow!("{}: plugin {:?}: {e}", at(d.span()), p.id.get_ref())
                })?,
                None => Default::default(),
            };
            plugins.push(PluginEntry {
                id: p.id.get_ref().clone(),
                kind,
                library: p.library.get_ref().clone(),
                config,
                at: at(entry.span()),
                deadlines,
            });
        }

        if let Some(idle) = raw.settings.idle_s
            && !(idle >= 0.0 && idle.is_finite())
        {
            bail!(
                "{}: [settings] idle_s must be a number of seconds >= 0, not {idle}",
                path.display()
            );
        }

        let mut models: Vec<ModelEntry> = Vec::new();
        for entry in &raw.model {
            let m = entry.get_ref();
            if let Some(first) = models.iter().find(|q| &q.id == m.id.get_ref()) {
                bail!(
                    "{}: duplicate model id {:?} (first defined at {})",
                    at(m.id.span()),
                    m.id.get_ref(),
                    first.at
                );
            }
            let options = match &m.options {
                Some(t) => toml::to_string(t).context("cannot re-serialize model options")?,
                None => String::new(),
            };
            if let Some(p) = &m.parameters_b
                && !(p.get_ref().is_finite() && *p.get_ref() > 0.0)
            {
                bail!(
                    "{}: model {:?}: parameters_b must be a positive number of billions, not {}",
                    at(p.span()),
                    m.id.get_ref(),
                    p.get_ref()
                );
            }
            models.push(ModelEntry {
                id: m.id.get_ref().clone(),
                path: m.path.clone(),
                options,
                parameters_b: m.parameters_b.as_ref().map(|p| *p.get_ref()),
                at: at(entry.span()),
            });
        }

        let mut experiments = Vec::new();
        for entry in &raw.experiment {
            let e = entry.get_ref();
            let check = |field: &Spanned<OneOrMany>, what: &str, kind: Option<PluginKind>| {
                let items = field.get_ref().items();
                if items.is_empty() {
                    bail!("{}: experiment {:?} lists no {what}", at(field.span()), e.id.get_ref());
                }
                for item in &items {
                    let known: Vec<&str> = match kind {
                        Some(k) => {
                            if let Some(p) = plugins.iter().find(|p| &p.id == item) {
                                if p.kind != k {
                                    bail!(
                                        "{}: experiment {:?} uses {item:?} as its {what}, but that plugin is a {} plugin",
                                        at(field.span()),
                                        e.id.get_ref(),
                                        p.kind
                                    );
                                }
                                continue;
                            }
                            plugins.iter().filter(|p| p.kind == k).map(|p| p.id.as_str()).collect()
                        }
                        None => {
                            if models.iter().any(|m| &m.id == item) {
                                continue;
                            }
                            models.iter().map(|m| m.id.as_str()).collect()
                        }
                    };
                    bail!(
                        "{}: experiment {:?} names unknown {what} id {item:?} (known: {})",
                        at(field.span()),
                        e.id.get_ref(),
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    );
                }
                Ok(items)
            };
            let runtimes = check(&e.runtime, "runtime", Some(PluginKind::Runtime))?;
            let model_ids = check(&e.model, "model", None)?;
            let generate = crate::generation::manifest_entry(
                e.id.get_ref(),
                e.workload.as_ref(),
                e.generate.as_ref(),
                !e.dataset.get_ref().items().is_empty(),
                &at,
            )?;
            let datasets = match &generate {
                Some(g) if !g.uses_dataset() => vec![String::new()],
                _ if e.dataset.span().is_empty() => {
                    bail!("{}: experiment {:?} names no dataset", at(entry.span()), e.id.get_ref())
                }
                _ => check(&e.dataset, "dataset", Some(PluginKind::Dataset))?,
            };
            let meters = check(&e.meter, "meter", Some(PluginKind::Meter))?;
            let convention = Convention::parse(e.convention.get_ref()).with_context(|| {
                format!(
                    "{}: unknown convention {:?} (expected lm-eval or llama-cpp)",
                    at(e.convention.span()),
                    e.convention.get_ref()
                )
            })?;
            let selection = SelectionRule::parse(e.selection.get_ref()).with_context(|| {
                format!(
                    "{}: unknown selection {:?} (expected first, random or llama-cpp)",
                    at(e.selection.span()),
                    e.selection.get_ref()
                )
            })?;
            let here = at(entry.span());
            if !(e.sample_hz > 0.0 && e.sample_hz <= 10_000.0) {
                bail!("{here}: experiment {:?}: sample_hz must be in (0, 10000]", e.id.get_ref());
            }
            if let Some(idle) = &e.idle_s {
                bail!(
                    "{}: experiment {:?}: idle_s belongs in [settings] now: one idle baseline per \
                     meter is taken before the run's first experiment and after its last",
                    at(idle.span()),
                    e.id.get_ref()
                );
            }
            if e.repeats == 0 || e.batch_tasks == 0 {
                bail!(
                    "{here}: experiment {:?}: repeats and batch_tasks must be >= 1",
                    e.id.get_ref()
                );
            }
            if let Some(w) = &e.warmup_stable {
                w.get_ref().check().map_err(|m| {
                    anyhow::anyhow!("{}: experiment {:?}: {m}", at(w.span()), e.id.get_ref())
                })?;
                if e.warmup_tasks == 0 {
                    bail!(
                        "{}: experiment {:?}: warmup_stable repeats the warm-up tasks until power \
                         settles: set warmup_tasks to at least 1",
                        at(w.span()),
                        e.id.get_ref()
                    );
                }
                if generate.is_some() {
                    bail!(
                        "{}: experiment {:?}: warmup_stable applies to scoring experiments; a \
                         generation experiment warms up with warmup_tasks (each shape run once, \
                         unmeasured, per warm-up task)",
                        at(w.span()),
                        e.id.get_ref()
                    );
                }
            }
            let conditions = crate::conditions::ExperimentConditions::check(
                e.id.get_ref(),
                &e.state,
                &e.state_hz,
                &e.cooldown,
                &e.clock_share,
                &plugins,
                &at,
            )?;
            let sweep = crate::conditions::sweep_axes(
                e.id.get_ref(),
                e.power_mode.as_ref().map(|m| (m.span(), m.get_ref().items())),
                e.jetson_clocks.as_ref().map(|j| *j.get_ref()),
                e.governor.as_ref().map(|g| (g.span(), g.get_ref().items())),
                e.max_freq_khz.as_ref().map(|f| (f.span(), f.get_ref().items())),
                &at,
            )?;
            if let Some(b) = &e.board
                && b.get_ref().trim().is_empty()
            {
                bail!(
                    "{}: experiment {:?}: board must name a board label",
                    at(b.span()),
                    e.id.get_ref()
                );
            }
            let many = runtimes.len() * model_ids.len() * datasets.len() * meters.len() > 1;
            for runtime in &runtimes {
                for model in &model_ids {
                    for dataset in &datasets {
                        for (meter, settings) in
                            meters.iter().flat_map(|m| sweep.iter().map(move |s| (m, s)))
                        {
                            let mut id = if many {
                                format!("{}/{runtime}/{model}/{dataset}/{meter}", e.id.get_ref())
                            } else {
                                e.id.get_ref().clone()
                            };
                            if experiments.len() >= MAX_EXPERIMENTS {
                                bail!(
                                    "{here}: the manifest expands to more than {MAX_EXPERIMENTS} \
                                     experiments"
                                );
                            }
                            if sweep.len() > 1 {
                                id = format!("{id}/{}", settings.label());
                            }
                            if let Some(first) =
                                experiments.iter().find(|x: &&Experiment| x.id == id)
                            {
                                bail!(
                                    "{here}: duplicate experiment id {id:?} (first defined at {})",
                                    first.at
                                );
                            }
                            experiments.push(Experiment {
                                id,
                                runtime: runtime.clone(),
                                model: model.clone(),
                                dataset: dataset.clone(),
                                meter: meter.clone(),
                                convention,
                                selection,
                                limit: e.limit,
                                seed: e.seed,
                                repeats: e.repeats,
                                warmup_tasks: e.warmup_tasks,
                                warmup_stable: e.warmup_stable.as_ref().map(|w| *w.get_ref()),
                                latency_tasks: e.latency_tasks,
                                sample_hz: e.sample_hz,
                                batch_tasks: e.batch_tasks,
                                conditions: crate::conditions::ExperimentConditions {
                                    settings: settings.clone(),
                                    ..conditions.clone()
                                },
                                board: e.board.as_ref().map(|b| b.get_ref().clone()),
                                at: here.clone(),
                                generate: generate.clone(),
                            });
                        }
                    }
                }
            }
        }

        Ok(Manifest {
            path: path.to_path_buf(),
            text,
            settings: raw.settings,
            plugins,
            models,
            experiments,
            conditions: raw.conditions,
        })
    }

    /// The folder relative paths in the manifest resolve against.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The plugin entry with this id.
    pub fn plugin(&self, id: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|p| p.id == id)
    }

    /// The model entry with this id.
    pub fn model(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The results database: a path, or a lab's `postgres://` URL as is.
    pub fn results_path(&self) -> PathBuf {
        let p = self.settings.results.as_deref().unwrap_or("results/joulebench.sqlite");
        if is_postgres_url(p) {
            // A lab's database: the host's store opens it as a URL.
            return PathBuf::from(p);
        }
        self.base_dir().join(p)
    }

    /// The model file of `model`: an absolute path as is; a relative one against the
    /// manifest's folder, then the models cache (see [`models_dir`]).
    pub fn model_path(&self, model: &ModelEntry) -> Result<PathBuf> {
        let p = Path::new(&model.path);
        if p.is_absolute() {
            return Ok(p.to_path_buf());
        }
        let local = self.base_dir().join(p);
        if local.exists() {
            return Ok(local);
        }
        let cached = models_dir().join(p);
        if cached.exists() {
            return Ok(cached);
        }
        bail!(
            "{}: model {:?}: file {:?} is neither at {} nor in the models cache {} (run `cargo xtask fetch-models`)",
            model.at,
            model.id,
            model.path,
            local.display(),
            models_dir().display()
        )
    }
}

/// The models cache: `$JOULEBENCH_MODELS`, else `$XDG_CACHE_HOME/joulebench/models`, else
/// `~/.cache/joulebench/models`.
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("JOULEBENCH_MODELS") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("joulebench").join("models")
}

/// Whether a `results` setting names a lab's PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[plugin]]
id = "rt"
kind = "runtime"
library = "joulebench_runtime_llama_cpp"
config = { threads = 2 }

[[plugin]]
id = "hs"
kind = "dataset"
library = "joulebench_dataset_hellaswag"

[[plugin]]
id = "wg"
kind = "dataset"
library = "joulebench_dataset_winogrande"

[[plugin]]
id = "est"
kind = "meter"
library = "joulebench_meter_estimate"

[[model]]
id = "smol"
path = "/models/smol.gguf"

[[experiment]]
id = "e"
runtime = "rt"
model = "smol"
dataset = ["hs", "wg"]
meter = "est"
limit = 10
convention = "llama-cpp"
"#;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(Path::new("m.toml"), text.to_string())
    }

    #[test]
    fn a_good_manifest_expands_its_experiments() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.plugins.len(), 4);
        assert_eq!(m.plugins[0].config.trim(), "threads = 2");
        assert_eq!(m.plugins[0].at, "m.toml:2:1");
        let ids: Vec<_> = m.experiments.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["e/rt/smol/hs/est", "e/rt/smol/wg/est"]);
        assert_eq!(m.experiments[0].convention, Convention::LLAMA_CPP);
        assert_eq!(m.experiments[1].limit, 10);
        assert_eq!(m.experiments[1].selection, SelectionRule::FIRST);
    }

    #[test]
    fn a_typo_in_a_key_is_named_with_its_position() {
        let text = GOOD.replace("library = \"joulebench_dataset_hellaswag\"", "libary = \"x\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:11:1: unknown field `libary`"), "{e}");
    }

    #[test]
    fn an_unknown_plugin_id_is_named_with_its_position() {
        let text = GOOD.replace("meter = \"est\"", "meter = \"estimat\"");
        let e = parse(&text).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.toml:32:9: experiment \"e\" names unknown meter id \"estimat\" (known: est)"
        );
    }

    #[test]
    fn a_plugin_of_the_wrong_kind_is_refused() {
        let text = GOOD.replace("meter = \"est\"", "meter = \"hs\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("uses \"hs\" as its meter, but that plugin is a dataset plugin"), "{e}");
    }

    #[test]
    fn a_wrong_type_is_named_with_its_position() {
        let text = GOOD.replace("limit = 10", "limit = \"ten\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:33:9: invalid type: string \"ten\", expected u64"), "{e}");
    }

    #[test]
    fn unknown_kinds_conventions_and_duplicates_are_refused() {
        let e = parse(&GOOD.replace("kind = \"meter\"", "kind = \"sensor\"")).unwrap_err();
        assert!(e.to_string().starts_with("m.toml:20:8: unknown plugin kind \"sensor\""), "{e}");
        let e = parse(&GOOD.replace("llama-cpp", "llamacpp")).unwrap_err();
        assert!(e.to_string().contains("unknown convention \"llamacpp\""), "{e}");
        let e = parse(&GOOD.replace("id = \"wg\"", "id = \"hs\"")).unwrap_err();
        assert!(
            e.to_string().contains("duplicate plugin id \"hs\" (first defined at m.toml:8:1)"),
            "{e}"
        );
    }

    #[test]
    fn a_nominal_size_is_kept_and_a_bad_one_is_named_with_its_position() {
        let with = GOOD.replace(
            "path = \"/models/smol.gguf\"",
            "path = \"/models/smol.gguf\"\nparameters_b = 0.135",
        );
        assert_eq!(parse(&with).unwrap().models[0].parameters_b, Some(0.135));
        assert_eq!(parse(GOOD).unwrap().models[0].parameters_b, None);
        let e = parse(&with.replace("0.135", "-2.0")).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:26:16: model \"smol\": parameters_b must be"), "{e}");
    }

    #[test]
    fn a_generation_experiment_refuses_the_power_settling_warm_up() {
        let text = GOOD.replace(
            "dataset = [\"hs\", \"wg\"]",
            "workload = \"generate\"\ngenerate = { pp = 16, tg = 4 }\nwarmup_tasks = 1\n\
             warmup_stable = { within = 0.05, window_s = 2, max_s = 30 }",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("m.toml:34:17: experiment \"e\": warmup_stable applies to scoring"),
            "{e}"
        );
        let without =
            text.replace("warmup_stable = { within = 0.05, window_s = 2, max_s = 30 }", "");
        assert!(parse(&without).unwrap().experiments[0].generate.is_some());
    }

    #[test]
    fn positions_count_lines_and_columns_from_one() {
        assert_eq!(position(Path::new("f"), "ab\ncd", 4), "f:2:2");
        assert_eq!(position(Path::new("f"), "ab", 0), "f:1:1");
    }

    #[test]
    fn a_manifest_that_expands_to_too_many_experiments_is_refused() {
        // 11 plugins of each kind and 11 models: 11^4 experiments from one entry.
        let mut text = String::new();
        let mut lists = Vec::new();
        for kind in ["runtime", "dataset", "meter"] {
            let ids: Vec<String> = (0..11).map(|i| format!("\"{kind}{i}\"")).collect();
            for id in &ids {
                text += &format!("[[plugin]]\nid = {id}\nkind = \"{kind}\"\nlibrary = \"x\"\n");
            }
            lists.push(ids.join(", "));
        }
        let models: Vec<String> = (0..11).map(|i| format!("\"m{i}\"")).collect();
        for id in &models {
            text += &format!("[[model]]\nid = {id}\npath = \"m.gguf\"\n");
        }
        text += &format!(
            "[[experiment]]\nid = \"e\"\nruntime = [{}]\nmodel = [{}]\ndataset = [{}]\nmeter = [{}]\n",
            lists[0],
            models.join(", "),
            lists[1],
            lists[2]
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.ends_with("the manifest expands to more than 10000 experiments"), "{e}");
        // 10 of each is 10000: allowed.
        let ten = text.replace(", \"runtime10\"", "").replace(", \"m10\"", "");
        let ten = ten.replace(", \"dataset10\"", "").replace(", \"meter10\"", "");
        assert_eq!(parse(&ten).unwrap().experiments.len(), 10_000);
    }
}
