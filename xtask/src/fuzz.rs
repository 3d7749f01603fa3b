//! `cargo xtask fuzz [TARGET...] [--seconds N]`: runs the fuzz targets of `fuzz/` (cargo-fuzz,
//! libFuzzer) on the nightly toolchain, each for N seconds (default 600), with the limits every
//! target must live within: no input may take more than 10 s, no process more than 1 GiB
//! (`-rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=10`).
//!
//! Each target reads three corpus folders: its working corpus `fuzz/target/corpus/<target>`
//! (where libFuzzer writes what it finds; not committed), the committed seeds
//! `fuzz/corpus/<target>` (a few short hand-picked entries) and seeds cut at run time from the
//! real files, `fuzz/target/seeds/<target>`: the data sets under `$JOULEBENCH_DATA`, the models
//! in the cache (their first 64 KiB), the manifest, the meters' recorded sysfs trees and command
//! outputs. The repository holds no copy of the data or the models.
//!
//! A crash, a hang or an allocation beyond the limits fails the task and leaves the input in
//! `fuzz/artifacts/<target>/`; it becomes a regression test in the parser's own crate.
//! Targets run two at a time on a machine with two or more cores. `cargo xtask test` runs every
//! target for 30 s ([`smoke`]). Nightly and cargo-fuzz are
//! installed when missing (`rustup toolchain install nightly`, `cargo install cargo-fuzz`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::background::{Background, Output};
use crate::{DynError, project_root};

/// Every target, with the longest input it is given (`-max_len`).
pub const TARGETS: &[(&str, usize)] = &[
    ("manifest", 8192),
    ("mmlu_csv", 8192),
    ("hellaswag", 8192),
    ("winogrande", 8192),
    ("gguf", 65536),
    ("gguf_dequant", 4096),
    ("pmic_reply", 4096),
    ("sysfs_values", 4096),
    ("sysfs_trees", 4096),
];

/// The limits of every run: 10 s per input, 1 GiB in all and per allocation.
const LIMITS: [&str; 3] = ["-timeout=10", "-rss_limit_mb=1024", "-malloc_limit_mb=1024"];

const USAGE: &str = "usage: cargo xtask fuzz [TARGET...] [--seconds N]

Runs the fuzz targets (all by default) for N seconds each (default 600) on the nightly
toolchain, with -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024. Targets:";

/// What one run did.
pub struct Outcome {
    pub target: &'static str,
    pub seconds: f64,
    pub runs: Option<u64>,
    pub peak_rss_mb: Option<u64>,
    pub failure: Option<String>,
}

/// `cargo xtask fuzz`.
pub fn cmd(args: &[String]) -> Result<(), DynError> {
    let mut seconds = 600;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a number")?;
                seconds = v.parse().map_err(|_| format!("--seconds {v:?} is not a number"))?;
            }
            "-h" | "--help" => {
                let names: Vec<&str> = TARGETS.iter().map(|t| t.0).collect();
                println!("{USAGE} {}", names.join(", "));
                return Ok(());
            }
            other if other.starts_with('-') => {
                return Err(format!("fuzz: unknown argument {other:?}").into());
            }
            other => names.push(target(other)?),
        }
    }
    if names.is_empty() {
        names = TARGETS.to_vec();
    }
    let outcomes = fuzz(&names, seconds)?;
    report(&outcomes)
}

/// Starts the build of every target (installing cargo-fuzz first when missing) beside the
/// workspace tests (see [`crate::background`]).
pub fn start_smoke_build() -> Result<Background, DynError> {
    let log = project_root().join("fuzz/target/build.log");
    Background::start("the fuzz targets' build", log, build)
}

/// The 30-second run of every target that `cargo xtask test` makes, after the build that
/// [`start_smoke_build`] started.
pub fn smoke(started: Background) -> Result<(), DynError> {
    started.finish()?;
    let outcomes = run_targets(TARGETS, 30)?;
    report(&outcomes)
}

fn target(name: &str) -> Result<(&'static str, usize), DynError> {
    TARGETS.iter().copied().find(|t| t.0 == name).ok_or_else(|| {
        let known: Vec<&str> = TARGETS.iter().map(|t| t.0).collect();
        format!("fuzz: unknown target {name:?} (known: {})", known.join(", ")).into()
    })
}

fn report(outcomes: &[Outcome]) -> Result<(), DynError> {
    println!("{:<14} {:>8} {:>14} {:>9}  result", "target", "seconds", "executions", "peak MiB");
    for o in outcomes {
        let runs = o.runs.map_or("?".into(), |r| r.to_string());
        let rss = o.peak_rss_mb.map_or("?".into(), |r| r.to_string());
        let result = o.failure.as_deref().unwrap_or("ok");
        println!("{:<14} {:>8.0} {:>14} {:>9}  {result}", o.target, o.seconds, runs, rss);
    }
    let failed: Vec<&str> =
        outcomes.iter().filter(|o| o.failure.is_some()).map(|o| o.target).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz targets failed: {} (inputs in fuzz/artifacts/)", failed.join(", "))
            .into())
    }
}

/// How many targets fuzz at once: one per core, at most two (each libFuzzer process is single
/// threaded; more at once would only share the same cores).
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 2)
}

/// Builds every target, so that each run's time is spent fuzzing.
fn build(output: Output) -> Result<(), DynError> {
    ensure_tools(output)?;
    output.run(nightly_cargo().current_dir(project_root()).args(["fuzz", "build"]))
}

/// Builds, then runs `targets` for `seconds` each, [`jobs`] at a time.
fn fuzz(targets: &[(&'static str, usize)], seconds: u64) -> Result<Vec<Outcome>, DynError> {
    build(Output::Terminal)?;
    run_targets(targets, seconds)
}

/// Runs the built `targets` for `seconds` each, [`jobs`] at a time.
fn run_targets(targets: &[(&'static str, usize)], seconds: u64) -> Result<Vec<Outcome>, DynError> {
    let root = project_root();
    let fuzz_dir = root.join("fuzz");
    let logs = fuzz_dir.join("target/logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut outcomes = Vec::new();
    for group in targets.chunks(jobs()) {
        let mut running = Vec::new();
        for &(name, max_len) in group {
            let work = fuzz_dir.join("target/corpus").join(name);
            let seeds = fuzz_dir.join("target/seeds").join(name);
            std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
            let _ = std::fs::remove_dir_all(&seeds);
            std::fs::create_dir_all(&seeds).map_err(|e| format!("{}: {e}", seeds.display()))?;
            seed(name, &seeds)?;
            let log_path = logs.join(format!("{name}.log"));
            let log = std::fs::File::create(&log_path)
                .map_err(|e| format!("{}: {e}", log_path.display()))?;
            let mut cmd = nightly_cargo();
            cmd.current_dir(&root).args(["fuzz", "run", name]).arg(&work);
            cmd.arg(fuzz_dir.join("corpus").join(name)).arg(&seeds);
            cmd.arg("--").args(LIMITS).arg(format!("-max_len={max_len}"));
            cmd.arg(format!("-max_total_time={seconds}")).arg("-print_final_stats=1");
            cmd.stdout(Stdio::null()).stderr(log);
            eprintln!("fuzzing {name} for {seconds} s (log: {})", log_path.display());
            let child = cmd.spawn().map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
            running.push((name, log_path, Instant::now(), child));
        }
        for (name, log_path, start, mut child) in running {
            let status = child.wait().map_err(|e| format!("cargo fuzz run {name}: {e}"))?;
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let failure = (!status.success()).then(|| failure_of(&log, &status.to_string()));
            outcomes.push(Outcome {
                target: name,
                seconds: start.elapsed().as_secs_f64(),
                runs: stat(&log, "stat::number_of_executed_units:"),
                peak_rss_mb: stat(&log, "stat::peak_rss_mb:"),
                failure,
            });
        }
    }
    Ok(outcomes)
}

/// The value of libFuzzer's final-stats line `key N`.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
}

/// What libFuzzer said went wrong: its `==N== ERROR:` or `SUMMARY:` line and the input it kept.
fn failure_of(log: &str, status: &str) -> String {
    let what = log
        .lines()
        .find(|l| l.contains("ERROR: libFuzzer") || l.contains("ERROR: AddressSanitizer"))
        .or_else(|| log.lines().find(|l| l.starts_with("SUMMARY:")))
        .or_else(|| log.lines().find(|l| l.contains("panicked at")))
        .map_or_else(|| format!("failed ({status})"), |l| l.trim().to_string());
    match log.lines().find_map(|l| l.split("Test unit written to ").nth(1)) {
        Some(input) => format!("{what}; input {}", input.trim()),
        None => what,
    }
}

fn nightly_cargo() -> Command {
    // rustup's cargo proxy: `cargo +nightly`. The outer cargo's CARGO would pin the stable one.
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly").env_remove("CARGO").env_remove("RUSTUP_TOOLCHAIN");
    cmd
}

/// Installs the nightly toolchain and cargo-fuzz when they are missing, or says how.
fn ensure_tools(output: Output) -> Result<(), DynError> {
    let has_nightly = Command::new("rustup").args(["toolchain", "list"]).output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("nightly"))
    });
    if !has_nightly {
        if !crate::on_path("rustup") {
            return Err("fuzzing needs the nightly toolchain through rustup: install rustup \
                        (https://rustup.rs), then `rustup toolchain install nightly`"
                .into());
        }
        output.run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    let has_fuzz =
        nightly_cargo().args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_fuzz {
        output.run(
            Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]).env_remove("CARGO"),
        )?;
    }
    Ok(())
}

/// Writes `target`'s seeds from the real files into `dir`: short cuts of the data sets, the
/// first 64 KiB of each cached model, the manifest and the meters' recorded files. Files that
/// are not there are skipped (the committed seeds still run).
fn seed(target: &str, dir: &Path) -> Result<(), DynError> {
    let root = project_root();
    let data = crate::fetch_data::default_dest().ok().filter(|d| d.join("mmlu").is_dir());
    let data = data.or_else(|| {
        let shared = root.join("../shared/datasets");
        shared.join("mmlu").is_dir().then_some(shared)
    });
    let mut n = 0;
    let mut put = |bytes: Vec<u8>| -> Result<(), DynError> {
        n += 1;
        let p = dir.join(format!("seed-{n:03}"));
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()).into())
    };
    let head = |path: &Path, lines: usize| -> Option<Vec<u8>> {
        let text = std::fs::read(path).ok()?;
        let end = text.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(lines - 1);
        Some(text[..end.map_or(text.len(), |(i, _)| i + 1)].to_vec())
    };
    let with = |prefix: u8, bytes: Vec<u8>| [vec![prefix], bytes].concat();
    match target {
        "manifest" => {
            for p in [root.join("plugins.toml")] {
                if let Ok(b) = std::fs::read(&p) {
                    put(b)?;
                }
            }
        }
        "mmlu_csv" => {
            let Some(data) = &data else { return Ok(()) };
            for (i, rel) in [
                "mmlu/dev/abstract_algebra_dev.csv",
                "mmlu/test/anatomy_test.csv",
                "mmlu/val/high_school_european_history_val.csv",
                "mmlu/test/professional_law_test.csv",
            ]
            .iter()
            .enumerate()
            {
                if let Some(b) = head(&data.join(rel), 8) {
                    put(with(i as u8, b))?;
                }
            }
        }
        "hellaswag" => {
            let Some(data) = &data else { return Ok(()) };
            if let Some(b) = head(&data.join("hellaswag/hellaswag_val_full.txt"), 24) {
                put(with(0, b))?;
            }
        }
        "winogrande" => {
            let Some(data) = &data else { return Ok(()) };
            let jsonl = head(&data.join("winogrande/dev.jsonl"), 6);
            let labels = head(&data.join("winogrande/dev-labels.lst"), 6);
            if let (Some(j), Some(l)) = (jsonl, labels) {
                put(with(1, j.clone()))?;
                put(with(3, [j, vec![0xff], l].concat()))?;
            }
        }
        "gguf" => {
            let models = crate::fetch_models::models_dir();
            for e in std::fs::read_dir(&models).into_iter().flatten().flatten() {
                if e.path().extension().is_some_and(|x| x == "gguf")
                    && let Ok(b) = std::fs::read(e.path())
                {
                    put(b[..b.len().min(65536)].to_vec())?;
                }
            }
        }
        "pmic_reply" => {
            let fixtures = root.join("meter-plugins/pi5-pmic/tests/fixtures");
            for e in std::fs::read_dir(&fixtures).into_iter().flatten().flatten() {
                if e.path().extension().is_some_and(|x| x == "txt" || x == "bin")
                    && let Ok(b) = std::fs::read(e.path())
                {
                    put(b)?;
                }
            }
        }
        "sysfs_values" => {
            for machine in ["pi5", "orin-nano", "x86-devbox"] {
                let base = root.join("meter-plugins/estimate/tests/fixtures").join(machine);
                for (which, rel) in
                    [(2, "proc/stat"), (3, "proc/meminfo"), (4, "sys/devices/system/cpu/online")]
                {
                    if let Ok(b) = std::fs::read(base.join(rel)) {
                        put(with(which, b))?;
                    }
                }
            }
        }
        // gguf_dequant and sysfs_trees: their committed seeds (real blocks, the recorded trees
        // the target loads itself) are all they need.
        _ => {}
    }
    Ok(())
}
