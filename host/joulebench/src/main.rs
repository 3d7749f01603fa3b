//! `joulebench`: measure what a small language model costs on the machine it runs on.
//!
//! `joulebench plugins` lists the manifest's plugins, `joulebench validate` checks a manifest
//! without running anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use joulebench::describe::describe;
use joulebench::loader::{default_plugin_dir, load};
use joulebench::manifest::Manifest;

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
}

fn plugin_dir(manifest: &Manifest) -> PathBuf {
    match &manifest.settings.plugin_dir {
        Some(d) => manifest.base_dir().join(d),
        None => default_plugin_dir(),
    }
}

fn plugins(path: &Path) -> Result<()> {
    let manifest = Manifest::load(path)?;
    let dir = plugin_dir(&manifest);
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
    let dir = plugin_dir(&manifest);
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
