//! `joulebench`: measure what a small language model costs on the machine it runs on.
//!
//! `joulebench run` runs a manifest's experiments and stores every result; `joulebench report`
//! prints the study's tables and draws the plots from the store; `joulebench plugins` lists the
//! manifest's plugins; `joulebench validate` checks a manifest without running anything;
//! `joulebench compare` compares two sets of experiments and gates regressions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use joulebench::describe::describe;
use joulebench::loader::{load, manifest_plugin_dir};
use joulebench::manifest::Manifest;
use joulebench::report::report_input;
use joulebench::runner::{ProgressMode, RunOptions};
use joulebench::store::Store;

#[derive(Parser)]
#[command(
    name = "joulebench",
    version,
    about = "Accuracy, latency and energy of small language models on the machine they run on"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every plugin of a manifest: kind, library, versions and what it offers.
    Plugins {
        /// The manifest.
        #[arg(long, default_value = "plugins.toml")]
        manifest: PathBuf,
    },
    /// Check a manifest completely (syntax, keys, ids, each plugin's config) without running it.
    Validate {
        /// The manifest.
        manifest: PathBuf,
    },
    /// Run a manifest's experiments (continuing unfinished ones) and store the results.
    Run {
        /// The manifest.
        manifest: PathBuf,
        /// No progress output (a bar on a terminal, else a line every 30 s).
        #[arg(long)]
        quiet: bool,
        /// Stop each experiment after this many batches (it stays resumable).
        #[arg(long, hide = true)]
        max_batches: Option<u64>,
        /// Set aside unfinished experiments whose plugins, model or data changed since they
        /// started, and start them again (their tasks stay in the store, unreported).
        #[arg(long)]
        fresh: bool,
        /// Print the power settings each experiment would change (and what the end of the run
        /// would restore), and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Store results here instead of the manifest's `[settings] results`: a SQLite file, or
        /// a lab's database (`postgres://...`, see docs/lab.md).
        #[arg(long)]
        store: Option<String>,
    },
    /// Print the results as the study's tables, and draw plots.
    Report {
        /// The manifest whose results to report.
        #[arg(long, default_value = "plugins.toml", conflicts_with = "results")]
        manifest: PathBuf,
        /// A results database to report instead.
        #[arg(long)]
        results: Option<PathBuf>,
        /// Output format.
        #[arg(long, default_value = "md", value_parser = ["md", "csv", "json"])]
        format: String,
        /// Write SVG and PNG plots into this folder.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Write the whole report as one self-contained HTML file.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Compare two sets of experiments (from one store or two), with significance tests and
    /// an optional regression gate (exit status 3 when a --fail-if rule trips).
    Compare(joulebench::compare::CompareArgs),
    /// Queue a manifest's experiments in a lab's PostgreSQL database (see docs/lab.md).
    Submit(joulebench::lab::SubmitArgs),
    /// Run a lab's queued experiments on this board until none is left for it.
    Agent(joulebench::lab::AgentArgs),
    /// A lab's units: queued, running, done and failed, and on which board.
    Status(joulebench::lab::StatusArgs),
    /// Copy every experiment of a lab's database into a SQLite results file.
    Export(joulebench::lab::CopyArgs),
    /// Copy every experiment of a SQLite results file into a lab's database.
    Import(joulebench::lab::CopyArgs),
    /// Measure the energy, time and power trace of any command (whole-meter energy, not the
    /// process's alone); exits with the command's exit code.
    Exec {
        /// The manifest whose meter plugin and results store to use.
        #[arg(long, default_value = "plugins.toml")]
        manifest: PathBuf,
        /// The meter's plugin id.
        #[arg(long, default_value = "estimate")]
        meter: String,
        /// Seconds of idle baseline before the command (0: none, no active energy).
        #[arg(long, default_value_t = 10.0)]
        idle_s: f64,
        /// Meter sampling rate, Hz.
        #[arg(long, default_value_t = 10.0)]
        sample_hz: f64,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn plugins(path: &Path) -> Result<()> {
    let manifest = Manifest::load(path)?;
    let dir = manifest_plugin_dir(&manifest);
    let mut failed = 0;
    for entry in &manifest.plugins {
        match load(entry, &manifest.base_dir(), &dir) {
            Ok(loaded) => print!("{}", describe(&loaded)),
            Err(e) => {
                failed += 1;
                println!("{} ({})\n  error: {e}", entry.id, entry.kind);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} plugins could not be loaded", manifest.plugins.len());
    }
    Ok(())
}

fn validate(path: &Path) -> Result<()> {
    let manifest = Manifest::load(path)?;
    let dir = manifest_plugin_dir(&manifest);
    let mut errors = Vec::new();
    for entry in &manifest.plugins {
        if let Err(e) = load(entry, &manifest.base_dir(), &dir) {
            errors.push(format!("{}: {e}", entry.at));
        }
    }
    for model in &manifest.models {
        if let Err(e) = manifest.model_path(model) {
            errors.push(e.to_string());
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    println!(
        "{}: ok ({} plugins, {} models, {} experiments)",
        path.display(),
        manifest.plugins.len(),
        manifest.models.len(),
        manifest.experiments.len()
    );
    Ok(())
}

/// Runs a manifest; `Ok(Some(code))` when a stop signal ended the run early.
fn run(
    path: &Path,
    quiet: bool,
    max_batches: Option<u64>,
    fresh: bool,
    dry: bool,
    store: Option<&str>,
) -> Result<Option<u8>> {
    let mut manifest = Manifest::load(path)?;
    if let Some(store) = store {
        manifest.settings.results = Some(store.to_string());
    }
    if let Some(url) = manifest.settings.results.clone().filter(|r| joulebench::lab::is_postgres(r))
        && !dry
    {
        return joulebench::lab::run_here(&manifest, &url);
    }
    if dry {
        for line in joulebench::conditions::dry_run(&manifest)? {
            println!("{line}");
        }
        return Ok(None);
    }
    joulebench::signals::install()?;
    let options = RunOptions {
        progress: match (quiet, std::io::IsTerminal::is_terminal(&std::io::stderr())) {
            (true, _) => ProgressMode::Off,
            (false, true) => ProgressMode::Bar,
            (false, false) => ProgressMode::Lines,
        },
        max_batches,
        fresh,
        only: None,
    };
    let outcome = joulebench::runner::run(&manifest, &options)?;
    if let Some(signal) = outcome.interrupted {
        eprintln!(
            "interrupted by {}: every finished batch is stored in {}; run again to continue",
            signal.name(),
            manifest.results_path().display()
        );
        return Ok(Some(signal.exit_code()));
    }
    let store = Store::open(&manifest.results_path())?;
    let input = report_input(&store)?;
    print!("{}", joulebench_report::render_markdown(&input));
    for s in &outcome.finished {
        for flag in &s.flags {
            println!("note: {}: {flag}", s.labels.experiment);
        }
    }
    print!("{}", joulebench::generation::render(&outcome.generated));
    for note in &outcome.notes {
        println!("note: {note}");
    }
    println!("results: {}", manifest.results_path().display());
    if !outcome.failed.is_empty() {
        for (name, e) in &outcome.failed {
            eprintln!("experiment {name} failed: {e}");
        }
        bail!(
            "{} of {} experiments failed (finished ones are stored; run again to continue)",
            outcome.failed.len(),
            outcome.failed.len() + outcome.finished.len() + outcome.generated.len()
        );
    }
    Ok(None)
}

fn report(
    manifest: &Path,
    results: Option<&Path>,
    format: &str,
    plot: Option<&Path>,
    html: Option<&Path>,
) -> Result<()> {
    let db = match results {
        Some(r) => r.to_path_buf(),
        None => Manifest::load(manifest)?.results_path(),
    };
    if !db.exists() && !db.to_str().is_some_and(joulebench::lab::is_postgres) {
        bail!("no results at {}: run `joulebench run` first", db.display());
    }
    let store = Store::open(&db)?;
    let input = report_input(&store)?;
    match format {
        "csv" => print!("{}", joulebench_report::render_csv(&input)),
        "json" => println!(
            "{}",
            joulebench_report::render_json(&input).map_err(|e| anyhow::anyhow!("{e}"))?
        ),
        _ => {
            print!("{}", joulebench_report::render_markdown(&input));
            let generated = joulebench::generation::stored_summaries(&store)?;
            print!("{}", joulebench::generation::render(&generated));
        }
    }
    if let Some(dir) = plot {
        let files =
            joulebench_report::render_plots(&input, dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        for f in files {
            eprintln!("plot: {}", f.display());
        }
        let generated = joulebench::generation::stored_summaries(&store)?;
        let rows = joulebench::generation::report_rows(&generated);
        let traces = joulebench::generation::stored_traces(&store)?;
        let files = joulebench_report::render_generation_plots(&rows, &traces, dir)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for f in files {
            eprintln!("plot: {}", f.display());
        }
    }
    if let Some(file) = html {
        let experiments = joulebench::html::html_experiments(&store, None)?;
        let title = format!("joulebench report: {}", db.display());
        std::fs::write(file, joulebench_report::render_html(&title, &experiments))
            .with_context(|| format!("cannot write the HTML report to {}", file.display()))?;
        eprintln!("html: {}", file.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Plugins { manifest } => plugins(manifest),
        Command::Validate { manifest } => validate(manifest),
        Command::Run { manifest, quiet, max_batches, fresh, dry_run, store } => {
            match run(manifest, *quiet, *max_batches, *fresh, *dry_run, store.as_deref()) {
                Ok(Some(code)) => return ExitCode::from(code),
                other => other.map(|_| ()),
            }
        }
        Command::Report { manifest, results, format, plot, html } => {
            report(manifest, results.as_deref(), format, plot.as_deref(), html.as_deref())
        }
        Command::Exec { manifest, meter, idle_s, sample_hz, command } => {
            let options = joulebench::exec::ExecOptions {
                manifest: manifest.clone(),
                meter: meter.clone(),
                idle_s: *idle_s,
                sample_hz: *sample_hz,
                command: command.clone(),
            };
            match joulebench::exec::exec(&options) {
                Ok(summary) => {
                    eprint!("{}", summary.describe());
                    return ExitCode::from(summary.exit_status());
                }
                Err(e) => Err(e),
            }
        }
        Command::Compare(args) => match joulebench::compare::run_compare(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(joulebench::compare::GATE_FAILED),
            Err(e) => Err(e),
        },
        Command::Submit(args) => joulebench::lab::cli_submit(args),
        Command::Agent(args) => match joulebench::lab::cli_agent(args) {
            Ok(Some(code)) => return ExitCode::from(code),
            other => other.map(|_| ()),
        },
        Command::Status(args) => joulebench::lab::status(&args.store).map(|s| print!("{s}")),
        Command::Export(args) => joulebench::lab::export(&args.store, &args.file)
            .map(|n| println!("{n} experiments copied into {}", args.file.display())),
        Command::Import(args) => joulebench::lab::import(&args.store, &args.file)
            .map(|n| println!("{n} experiments copied from {}", args.file.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
