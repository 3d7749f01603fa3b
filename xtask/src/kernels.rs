//! `cargo xtask bench --kernels [--tasks N]`: llama.cpp's x86 kernels measured on this machine in
//! one sitting, on the same HellaSwag tasks (llama.cpp's own seed-1 selection):
//!
//! - joulebench's llama.cpp runtime built for AVX2 only and for AVX-512 (with VNNI and BF16), at
//!   the runtime's default evaluation ubatch (63, the largest step that keeps every scored row on
//!   the same attention kernel) and at llama.cpp's (512), and the AVX2 build at 48 (the default
//!   before 63) and at 512, under the default run's `lm-eval` convention;
//! - the AVX-512 build under the `llama-cpp` convention, whose verdicts are llama.cpp's own;
//! - `llama-perplexity --hellaswag`, built from the very llama.cpp sources llama-cpp-sys-2
//!   compiles, with the same flags plus AVX-512.
//!
//! llama-cpp-sys-2 ships llama.cpp's library but not its tools, so the perplexity tool's three
//! source files come from the llama.cpp copy in `llama-cpp-python`'s source distribution (fetched
//! with pip into the cache). The runtime build that matches `.cargo/config.toml`'s kernel choice
//! is the release build itself; the other one is built in `target-kernels/`.
//!
//! Every runner runs twice, in mirrored order (A B C, then C B A), and the table gives the mean
//! with both runs: a virtual machine's speed can drift within a sitting (one sitting here ran the
//! same HellaSwag work about a third faster at its end than at its start), and a runner measured
//! only first or only last would carry that drift as if it were its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{DynError, cargo, data_dir, fetch_models, project_root, run, show};

/// The `llama-cpp-python` release whose vendored llama.cpp holds the perplexity tool's sources
/// that build against llama-cpp-sys-2's copy.
const LLAMA_CPP_PYTHON: &str = "0.3.36";

/// The GGML options that llama-cpp-sys-2 sets for this workspace's x86 build
/// (`target-cpu=x86-64-v3`), which the perplexity tool is configured with too.
const X86_64_V3: [&str; 6] =
    ["GGML_AVX", "GGML_AVX2", "GGML_BMI2", "GGML_F16C", "GGML_FMA", "GGML_SSE42"];
const AVX512: [&str; 3] = ["GGML_AVX512", "GGML_AVX512_VNNI", "GGML_AVX512_BF16"];

pub(crate) fn work_dir() -> PathBuf {
    project_root().join("target-kernels")
}

/// Whether this machine's builds of llama.cpp get AVX-512: `GGML_AVX512` from the environment
/// when it is set, else `.cargo/config.toml`'s choice (its `GGML_AVX512` line) where the CPU has
/// AVX-512 with VNNI and BF16; [`crate::cargo`] turns it off on a CPU that lacks them.
pub(crate) fn default_is_avx512() -> bool {
    if let Ok(v) = std::env::var("GGML_AVX512") {
        return v.eq_ignore_ascii_case("on");
    }
    config_is_avx512() && cpu_has_avx512()
}

fn config_is_avx512() -> bool {
    let config =
        std::fs::read_to_string(project_root().join(".cargo/config.toml")).unwrap_or_default();
    config.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("").replace(' ', "");
        l.eq_ignore_ascii_case("GGML_AVX512=\"ON\"")
    })
}

/// Whether the CPU has every instruction set llama.cpp's AVX-512 build (`GGML_AVX512`,
/// `GGML_AVX512_VNNI`, `GGML_AVX512_BF16`) compiles for.
pub(crate) fn cpu_has_avx512() -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    ["avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512_vnni", "avx512_bf16"]
        .iter()
        .all(|f| flags.split_whitespace().any(|x| x == *f))
}

/// Sets `cmd`'s environment so that llama.cpp is built without AVX-512 on an x86 CPU that lacks
/// it, unless the environment already says which to build. The configuration asks for AVX-512;
/// a plugin built with it refuses to start on such a CPU, naming the missing instructions.
pub(crate) fn fit_kernels_to_cpu(cmd: &mut Command) {
    let chosen = AVX512.iter().any(|k| std::env::var_os(k).is_some());
    if !chosen && cfg!(target_arch = "x86_64") && !cpu_has_avx512() {
        for key in AVX512 {
            cmd.env(key, "OFF");
        }
    }
}

/// The llama.cpp runtime plugin built with or without AVX-512: the release build when it is the
/// configured choice, else a build of the plugin alone in `target-kernels/`.
pub(crate) fn runtime_plugin(avx512: bool) -> Result<PathBuf, DynError> {
    const LIB: &str = "libjoulebench_runtime_llama_cpp.so";
    if avx512 == default_is_avx512() {
        return Ok(project_root().join("target/release").join(LIB));
    }
    let name = if avx512 { "avx512" } else { "avx2" };
    let target = work_dir().join(name);
    let switch = if avx512 { "ON" } else { "OFF" };
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "joulebench-runtime-llama-cpp"])
        .env("CARGO_TARGET_DIR", &target);
    for key in AVX512 {
        cmd.env(key, switch);
    }
    run(&mut cmd)?;
    Ok(target.join("release").join(LIB))
}

/// llama-cpp-sys-2's copy of llama.cpp, in cargo's registry (the version from Cargo.lock).
fn vendored_llama_cpp() -> Result<PathBuf, DynError> {
    let lock = std::fs::read_to_string(project_root().join("Cargo.lock"))?;
    let mut lines = lock.lines();
    let version = loop {
        match lines.next() {
            Some("name = \"llama-cpp-sys-2\"") => {
                let v = lines.next().unwrap_or("");
                break v.trim_start_matches("version = ").trim_matches('"').to_string();
            }
            Some(_) => {}
            None => return Err("Cargo.lock has no llama-cpp-sys-2".into()),
        }
    };
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = cargo_home.join("registry/src");
    for index in std::fs::read_dir(&registry)?.flatten() {
        let dir = index.path().join(format!("llama-cpp-sys-2-{version}/llama.cpp"));
        if dir.join("CMakeLists.txt").is_file() {
            return Ok(dir);
        }
    }
    Err(format!(
        "llama-cpp-sys-2 {version}'s sources are not in {} (`cargo fetch` puts them there)",
        registry.display()
    )
    .into())
}

/// A llama.cpp tool whose sources come from `llama-cpp-python`'s sdist.
pub(crate) struct Tool {
    /// Its folder under `tools/` in llama.cpp's tree.
    pub dir: &'static str,
    /// Its CMake target (and binary name).
    pub target: &'static str,
    /// The files the tool's folder needs.
    pub files: &'static [&'static str],
}

/// `llama-perplexity`.
pub(crate) const PERPLEXITY: Tool = Tool {
    dir: "perplexity",
    target: "llama-perplexity",
    files: &["CMakeLists.txt", "main.cpp", "perplexity.cpp"],
};

/// `llama-bench`.
pub(crate) const LLAMA_BENCH: Tool = Tool {
    dir: "llama-bench",
    target: "llama-bench",
    files: &["CMakeLists.txt", "llama-bench.cpp", "main.cpp"],
};

/// A tool's sources from `llama-cpp-python`'s sdist, fetched once into the cache.
fn tool_sources(tool: &Tool) -> Result<PathBuf, DynError> {
    let cache = fetch_models::models_dir().with_file_name("tools");
    let unpacked = cache.join(format!("llama_cpp_python-{LLAMA_CPP_PYTHON}"));
    let inner = format!("vendor/llama.cpp/tools/{}", tool.dir);
    let dir = unpacked.join(&inner);
    if tool.files.iter().all(|f| dir.join(f).is_file()) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache)?;
    let sdist = cache.join(format!("llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"));
    if !sdist.is_file() {
        run(Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--no-binary", ":all:"])
            .arg(format!("llama-cpp-python=={LLAMA_CPP_PYTHON}"))
            .arg("-d")
            .arg(&cache))?;
    }
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&sdist)
        .arg("-C")
        .arg(&cache)
        .arg(format!("llama_cpp_python-{LLAMA_CPP_PYTHON}/{inner}")))?;
    Ok(dir)
}

/// A llama.cpp tool built against llama-cpp-sys-2's llama.cpp sources, with the workspace's x86
/// flags and AVX-512 (VNNI, BF16), in one tree for every tool: `target-kernels/perplexity/`
/// (named for the first tool built there). Each tool's folder joins the tree's `tools/` when
/// first asked for; the library is compiled once for all of them.
pub(crate) fn llama_tool(tool: &Tool) -> Result<PathBuf, DynError> {
    let root = work_dir().join("perplexity");
    let bin = root.join("build/bin").join(tool.target);
    let src = root.join("src");
    let tools = src.join("tools");
    if !src.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&src);
        std::fs::create_dir_all(&root)?;
        run(Command::new("cp").arg("-a").arg(vendored_llama_cpp()?).arg(&src))?;
        std::fs::remove_dir_all(&tools)?;
        std::fs::create_dir_all(&tools)?;
        std::fs::write(tools.join("CMakeLists.txt"), "")?;
        std::fs::write(src.join(".complete"), "")?;
    }
    let list = tools.join("CMakeLists.txt");
    let line = format!("add_subdirectory({})\n", tool.dir);
    let listed = std::fs::read_to_string(&list)?;
    if !listed.contains(&line) || !tool.files.iter().all(|f| tools.join(tool.dir).join(f).is_file())
    {
        std::fs::create_dir_all(tools.join(tool.dir))?;
        let from = tool_sources(tool)?;
        for f in tool.files {
            std::fs::copy(from.join(f), tools.join(tool.dir).join(f))?;
        }
        if !listed.contains(&line) {
            std::fs::write(&list, format!("{listed}{line}"))?;
        }
    }
    let build = root.join("build");
    let mut configure = Command::new("cmake");
    configure.arg("-S").arg(&src).arg("-B").arg(&build).args([
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=OFF",
        "-DLLAMA_BUILD_APP=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_SERVER=OFF",
        "-DLLAMA_BUILD_TOOLS=ON",
        "-DLLAMA_BUILD_COMMON=ON",
        "-DLLAMA_CURL=OFF",
        "-DGGML_OPENMP=OFF",
        "-DGGML_NATIVE=OFF",
        "-DCMAKE_C_FLAGS=-march=x86-64-v3",
        "-DCMAKE_CXX_FLAGS=-march=x86-64-v3",
    ]);
    for key in X86_64_V3.iter().chain(&AVX512) {
        configure.arg(format!("-D{key}=ON"));
    }
    // Keep the workspace's `[env]` (cargo sets it for xtask too) out of this build.
    configure.env_remove("CMAKE_PROJECT_INCLUDE_BEFORE");
    run(&mut configure)?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get()).to_string();
    run(Command::new("cmake").arg("--build").arg(&build).args([
        "--target",
        tool.target,
        "-j",
        &jobs,
    ]))?;
    Ok(bin)
}

/// One joulebench configuration to time.
struct Setup {
    label: &'static str,
    avx512: bool,
    ubatch: u32,
    convention: &'static str,
}

/// What a run measured.
struct Measured {
    wall_s: f64,
    eval_s: Option<f64>,
    tokens_per_s: Option<f64>,
    acc_pct: Option<f64>,
    acc_norm_pct: Option<f64>,
    kernels: String,
}

/// The manifest of one joulebench run: the scoring alone, as llama-perplexity does it, without
/// the phases a default run adds for its energy figures (the idle baseline, the four warm-up
/// tasks, the latency pass).
fn manifest(setup: &Setup, library: &Path, results: &Path, model: &Path, tasks: u32) -> String {
    format!(
        r#"[settings]
results = "{results}"
plugin_dir = "{plugins}"
idle_s = 0

[[plugin]]
id = "llama.cpp"
kind = "runtime"
library = "{library}"
config = {{ threads = 2, context_size = 2048, ubatch_size = {ubatch} }}

[[plugin]]
id = "hellaswag"
kind = "dataset"
library = "joulebench_dataset_hellaswag"
config = {{ path = "hellaswag/hellaswag_val_full.txt" }}

[[plugin]]
id = "estimate"
kind = "meter"
library = "joulebench_meter_estimate"
config = {{}}

[[model]]
id = "smollm2-135m"
path = "{model}"

[[experiment]]
id = "hellaswag-{label}"
runtime = "llama.cpp"
model = "smollm2-135m"
dataset = "hellaswag"
meter = "estimate"
convention = "{convention}"
selection = "llama-cpp"
limit = {tasks}
warmup_tasks = 0
latency_tasks = 0
sample_hz = 10
"#,
        results = results.display(),
        plugins = project_root().join("target/release").display(),
        library = library.display(),
        ubatch = setup.ubatch,
        model = model.display(),
        label = setup.label,
        convention = setup.convention,
    )
}

/// The value of `column` in a one-row CSV from `joulebench report --format csv`.
fn csv_value(csv: &str, column: &str) -> Option<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let row: Vec<&str> = lines.next()?.split(',').collect();
    let i = header.iter().position(|h| *h == column)?;
    row.get(i)?.parse().ok()
}

fn measure(setup: &Setup, library: &Path, dir: &Path, tasks: u32) -> Result<Measured, DynError> {
    let bin = project_root().join("target/release/joulebench");
    let model = fetch_models::ensure_default_model()?;
    let results = dir.join(format!("{}.sqlite", setup.label));
    let _ = std::fs::remove_file(&results);
    let path = dir.join(format!("{}.toml", setup.label));
    std::fs::write(&path, manifest(setup, library, &results, &model, tasks))?;

    let listing = Command::new(&bin).args(["plugins", "--manifest"]).arg(&path).output()?;
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let kernels = listing
        .lines()
        .find(|l| l.contains("CPU kernels:"))
        .map_or_else(|| "(not reported)".to_string(), |l| l.trim().to_string());

    let mut cmd = Command::new(&bin);
    cmd.args(["run", "--quiet"]).arg(&path).env("JOULEBENCH_DATA", data_dir()?);
    let t0 = Instant::now();
    run(&mut cmd)?;
    let wall_s = t0.elapsed().as_secs_f64();
    let out = Command::new(&bin)
        .args(["report", "--format", "csv", "--results"])
        .arg(&results)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "joulebench report on {}: {}",
            results.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let csv = String::from_utf8_lossy(&out.stdout);
    Ok(Measured {
        wall_s,
        eval_s: csv_value(&csv, "eval_time_s"),
        tokens_per_s: csv_value(&csv, "tokens_per_s"),
        acc_pct: csv_value(&csv, "acc_pct"),
        acc_norm_pct: csv_value(&csv, "acc_norm_pct"),
        kernels,
    })
}

/// llama-perplexity's HellaSwag accuracy: the last `N<TAB>acc%<TAB>[...]` line of its output.
fn perplexity_accuracy(output: &str, tasks: u32) -> Option<f64> {
    output.lines().rev().find_map(|l| {
        let mut cols = l.split('\t');
        let n: u32 = cols.next()?.trim().parse().ok()?;
        let acc = cols.next()?.trim().trim_end_matches('%').parse().ok()?;
        (n == tasks).then_some(acc)
    })
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// `cargo xtask bench --kernels [--tasks N] [--no-run]` (after the release build).
pub fn bench(tasks: u32, no_run: bool, only: &[String]) -> Result<(), DynError> {
    let avx512 = cpu_has_avx512();
    if !avx512 {
        eprintln!("this CPU lacks AVX-512 (with VNNI and BF16): only the AVX2 build is measured");
    }
    let mut setups = vec![
        Setup { label: "avx2-ub63", avx512: false, ubatch: 63, convention: "lm-eval" },
        Setup { label: "avx2-ub48", avx512: false, ubatch: 48, convention: "lm-eval" },
        Setup { label: "avx2-ub512", avx512: false, ubatch: 512, convention: "lm-eval" },
    ];
    if avx512 {
        setups.extend([
            Setup { label: "avx512-ub63", avx512: true, ubatch: 63, convention: "lm-eval" },
            Setup { label: "avx512-ub512", avx512: true, ubatch: 512, convention: "lm-eval" },
            Setup { label: "avx512-ub63-llama", avx512: true, ubatch: 63, convention: "llama-cpp" },
        ]);
    }
    let wanted = |label: &str| only.is_empty() || only.iter().any(|o| o == label);
    if let Some(unknown) =
        only.iter().find(|o| *o != "llama-perplexity" && !setups.iter().any(|s| &s.label == o))
    {
        let known: Vec<&str> = setups.iter().map(|s| s.label).collect();
        return Err(format!(
            "bench --kernels --only: unknown runner {unknown:?} (known here: {}, llama-perplexity)",
            known.join(", ")
        )
        .into());
    }
    setups.retain(|s| wanted(s.label));
    // One build per kernel set, whatever the number of setups that use it.
    let avx2_lib =
        if setups.iter().any(|s| !s.avx512) { Some(runtime_plugin(false)?) } else { None };
    let avx512_lib =
        if setups.iter().any(|s| s.avx512) { Some(runtime_plugin(true)?) } else { None };
    let libraries: Vec<PathBuf> = setups
        .iter()
        .map(|s| if s.avx512 { avx512_lib.clone() } else { avx2_lib.clone() })
        .collect::<Option<_>>()
        .ok_or("an AVX-512 setup on a CPU without AVX-512")?;
    let perplexity =
        if avx512 && wanted("llama-perplexity") { Some(llama_tool(&PERPLEXITY)?) } else { None };
    if no_run {
        return Ok(());
    }

    let dir = work_dir().join("runs");
    std::fs::create_dir_all(&dir)?;
    // Runner i < setups.len() is a joulebench setup, the one after it llama-perplexity.
    let runners = setups.len() + usize::from(perplexity.is_some());
    let mut rows: Vec<Vec<Measured>> = setups.iter().map(|_| Vec::new()).collect();
    let mut reference: Vec<(f64, Option<f64>, String)> = Vec::new();
    for i in palindrome(runners) {
        if let (Some(setup), Some(library)) = (setups.get(i), libraries.get(i)) {
            eprintln!("measuring {} ({})", setup.label, library.display());
            rows[i].push(measure(setup, library, &dir, tasks)?);
        } else if let Some(bin) = &perplexity {
            reference.push(run_perplexity(bin, tasks)?);
        }
    }

    println!("\nHellaSwag, {tasks} tasks (llama.cpp's selection), SmolLM2-135M Q4_1, 2 threads.");
    println!(
        "Each runner ran twice, in the order {} and back, so that a machine that speeds up or \
         slows down during the sitting weighs on every runner alike; times are the mean of the \
         two runs (each run in brackets).\n",
        (0..runners)
            .map(|i| setups.get(i).map_or("llama-perplexity", |s| s.label))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| Runner | Convention | Wall (s) | Evaluation (s) | Tokens/s | acc (%) | acc_norm (%) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (s, runs) in setups.iter().zip(&rows) {
        let walls: Vec<f64> = runs.iter().map(|m| m.wall_s).collect();
        let evals: Option<Vec<f64>> = runs.iter().map(|m| m.eval_s).collect();
        let eval = evals.as_deref().map(mean);
        // The tokens are the same in both runs: tokens/s of the mean evaluation time.
        let tokens = runs[0].tokens_per_s.zip(runs[0].eval_s).map(|(r, e)| r * e);
        println!(
            "| joulebench {} | {} | {} | {} | {} | {} | {} |",
            s.label,
            s.convention,
            both(&walls),
            evals.as_deref().map_or_else(|| "-".into(), both),
            fmt(tokens.zip(eval).map(|(t, e)| t / e), 0),
            fmt(runs[0].acc_pct, 2),
            fmt(runs[0].acc_norm_pct, 2)
        );
    }
    if !reference.is_empty() {
        let walls: Vec<f64> = reference.iter().map(|r| r.0).collect();
        println!(
            "| llama-perplexity (AVX-512) | llama.cpp | {} | - | - | {} | - |",
            both(&walls),
            fmt(reference[0].1, 2)
        );
    }
    println!();
    for (s, runs) in setups.iter().zip(&rows) {
        println!("{}: {}", s.label, runs[0].kernels);
        if runs
            .windows(2)
            .any(|w| w[0].acc_pct != w[1].acc_pct || w[0].acc_norm_pct != w[1].acc_norm_pct)
        {
            println!(
                "{}: the two runs' accuracies differ: the runtime is not deterministic",
                s.label
            );
        }
    }
    if let Some((_, _, system)) = reference.first() {
        println!("llama-perplexity: {system}");
    }
    Ok(())
}

/// The order runners `0..n` run in: forwards, then backwards.
fn palindrome(n: usize) -> Vec<usize> {
    (0..n).chain((0..n).rev()).collect()
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// `mean (a, b)`.
fn both(v: &[f64]) -> String {
    let each: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
    format!("{:.1} ({})", mean(v), each.join(", "))
}

/// One `llama-perplexity --hellaswag` run: wall time, accuracy, its system-info line.
fn run_perplexity(bin: &Path, tasks: u32) -> Result<(f64, Option<f64>, String), DynError> {
    let model = fetch_models::ensure_default_model()?;
    let data = data_dir()?.join("hellaswag/hellaswag_val_full.txt");
    let mut cmd = Command::new(bin);
    cmd.arg("-m").arg(&model).arg("-f").arg(&data).args([
        "--hellaswag",
        "--hellaswag-tasks",
        &tasks.to_string(),
        "-t",
        "2",
    ]);
    eprintln!("$ {}", show(&cmd));
    let t0 = Instant::now();
    let out = cmd.output()?;
    let wall = t0.elapsed().as_secs_f64();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("llama-perplexity failed ({}):\n{text}", out.status).into());
    }
    let system = text
        .lines()
        .find(|l| l.contains("system_info"))
        .unwrap_or("(no system_info line)")
        .trim()
        .to_string();
    Ok((wall, perplexity_accuracy(&text, tasks), system))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_llama_perplexity_final_line() {
        let out = "hellaswag_score : calculating hellaswag score over selected tasks.\n\
                   task\tacc_norm\t95% confidence interval\n\
                   1\t100.00000000%\t[20.6549%, 100.0000%]\n\
                   400\t42.75000000%\t[37.9000%, 47.7430%]\n";
        assert_eq!(perplexity_accuracy(out, 400), Some(42.75));
        assert_eq!(perplexity_accuracy(out, 100), None);
    }

    #[test]
    fn every_runner_runs_twice_in_mirrored_order() {
        assert_eq!(palindrome(3), [0, 1, 2, 2, 1, 0]);
        assert_eq!(both(&[10.0, 20.0]), "15.0 (10.0, 20.0)");
    }

    #[test]
    fn reads_a_report_column() {
        let csv = "id,acc_pct,eval_time_s\nx,32.5,241.9\n";
        assert_eq!(csv_value(csv, "eval_time_s"), Some(241.9));
        assert_eq!(csv_value(csv, "nope"), None);
    }
}
