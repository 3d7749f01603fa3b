//! joulebench's build tasks, run as `cargo xtask <task>`.
//!
//! - `build-plugins [--release] [--features F,...]`: builds the host and every plugin `cdylib`
//!   side by side in `target/<profile>/`, where the host looks for them. Cargo does not build a
//!   cdylib that nothing depends on, so `cargo test` alone would test against stale plugins.
//!   With `--target aarch64-unknown-linux-gnu [--board pi5|orin|nano]` it cross-builds them for a
//!   board into `target-aarch64/` (see [`boards`]).
//! - `test [ARGS...]`: installs what is missing (the build's packages, and Chromium for the HTML
//!   report's browser test), fetches the default model, builds the plugins,
//!   then runs every test of the workspace (ARGS go to `cargo test`), then the fuzz smoke and the
//!   emulated-board test (`--no-boards` skips it, `test-boards` runs only that). The last two's
//!   builds go on beside the workspace tests (see [`background`]).
//! - `bench [MANIFEST] [--no-run]`: the main job: a release build, the default model, then
//!   `joulebench run` on the manifest (default `plugins.toml`) and `joulebench report` with plots.
//!   `bench --kernels [--tasks N]` times llama.cpp's x86 kernel choices instead (see [`kernels`]);
//!   `bench --generation [--rounds N] [--repetitions N]` puts joulebench's pp512/tg128 beside
//!   `llama-bench`'s, the two taking turns (see [`generation`]).
//! - `fetch-models [--only NAME]`, `fetch-data [--from DIR]`: fill the model and data caches.
//! - `fuzz [TARGET...] [--seconds N]`: the parsers' fuzz targets on nightly (see [`fuzz`]);
//!   `test` runs each for 30 seconds.
//! - `install [--prefix DIR]`: the release build as a `joulebench` command (see `install.rs`).
//!
//! Std only, so that `cargo xtask` starts fast.

mod background;
mod boards;
mod fetch_data;
mod fetch_models;
mod fuzz;
mod generation;
mod install;
mod kernels;
mod partial;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

type DynError = Box<dyn std::error::Error>;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]);
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins_cmd(rest),
        Some("test") => test(rest),
        Some("test-boards") => boards::test(None),
        Some("bench") => bench(rest),
        Some("fetch-models") => fetch_models::run(rest),
        Some("fetch-data") => fetch_data::run(rest),
        Some("fuzz") => fuzz::cmd(rest),
        Some("deps") => deps(rest),
        Some("install") => install::run(rest),
        _ => {
            print_help();
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn print_help() {
    eprintln!(
        "cargo xtask <task>

tasks:
  build-plugins [--release] [--features F,...]   build the host and every plugin cdylib
        [--target aarch64-unknown-linux-gnu]      cross-build them for a board (target-aarch64/)
        [--board pi5|orin|nano]                   the board's llama.cpp kernels (default pi5)
  test [--no-boards] [ARGS...]                    build the plugins, then run every test, a
                                                  30 s fuzz smoke per target, then the emulated
                                                  boards (unless --no-boards)
  test-boards                                     only the emulated boards
  bench [MANIFEST] [--no-run]                     release build, default model, run MANIFEST
                                                  (default plugins.toml), report and plots
  bench --kernels [--tasks N] [--only R,...]      HellaSwag speed of llama.cpp's AVX2 and AVX-512
                                                  builds and ubatch 48/63/512, beside
                                                  llama-perplexity
                                                  (--only: some runners, e.g.
                                                  avx512-ub63,llama-perplexity)
  bench --generation [--rounds N]                 pp512 and tg128 tokens/s of joulebench's
        [--repetitions N]                         llama.cpp and burn runtimes beside llama-bench,
                                                  taking turns (default 5 rounds of 3)
  fetch-models [--only smollm2|gemma3]            download the models into the cache
  fetch-data [--from DIR]                         download (or import) the benchmark data
  fuzz [TARGET...] [--seconds N]                  run the fuzz targets (default: all, 600 s
                                                  each) on nightly with cargo-fuzz
  deps [--tests]                                  install the system packages the build needs
                                                  (--tests: and what the tests need: Chromium,
                                                  PostgreSQL, the aarch64 cross toolchain and
                                                  qemu, the models)
  install [--prefix DIR]                          release build into DIR/lib/joulebench, with
                                                  DIR/bin/joulebench (default DIR: ~/.local)"
    );
}

/// The workspace root.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").into()
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(project_root());
    // `cargo xtask` is `cargo run`, which gives this process the xtask package's variables.
    // Build scripts that watch them (ring's watches CARGO_PKG_NAME and CARGO_MANIFEST_DIR) would
    // run again, and everything above them be rebuilt, each time a cargo started from here
    // follows one started from a shell, and the other way round.
    for (key, _) in env::vars_os() {
        if key.to_str().is_some_and(inherited_from_cargo_run) {
            cmd.env_remove(key);
        }
    }
    kernels::fit_kernels_to_cpu(&mut cmd);
    cmd
}

/// Whether `key` is one of the variables `cargo run` sets for the package it runs.
fn inherited_from_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_MANIFEST_")
        || matches!(key, "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE")
}

fn run(cmd: &mut Command) -> Result<(), DynError> {
    let shown = show(cmd);
    eprintln!("$ {shown}");
    run_as(cmd, &shown)
}

/// Runs `cmd` and fails, naming it as `shown`, when it cannot start or does not succeed.
fn run_as(cmd: &mut Command, shown: &str) -> Result<(), DynError> {
    let status = cmd.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !status.success() {
        return Err(format!("`{shown}` failed ({status})").into());
    }
    Ok(())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn has_libclang() -> bool {
    if env::var_os("LIBCLANG_PATH").is_some() {
        return true;
    }
    let roots = [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ];
    let mut dirs: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("llvm-") {
                dirs.push(e.path().join("lib"));
            }
        }
    }
    dirs.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libclang"))
        })
    })
}

pub(crate) fn on_path(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// llama.cpp builds through cmake, and its bindings through libclang: install them with apt when
/// running as root, else print the one command that does.
fn ensure_system_packages() -> Result<(), DynError> {
    let mut missing = Vec::new();
    if !on_path("cmake") {
        missing.push("cmake");
    }
    if !on_path("clang") {
        missing.push("clang");
    }
    if !has_libclang() {
        missing.push("libclang-dev");
    }
    apt_install(&missing)
}

/// `deps [--tests]`: what the build needs, and with `--tests` everything `test` needs too, so
/// that CI can install it beside its lint pass (see `.ci/run`).
fn deps(args: &[String]) -> Result<(), DynError> {
    let tests = match args {
        [] => false,
        [a] if a == "--tests" => true,
        _ => return Err(format!("deps: unknown arguments {args:?} (expected --tests)").into()),
    };
    if tests { ensure_test_deps(true) } else { ensure_system_packages() }
}

/// Everything the workspace tests need (the build's packages, Chromium, PostgreSQL, both
/// models) and, with `boards`, the emulated boards' cross toolchain and qemu.
fn ensure_test_deps(boards: bool) -> Result<(), DynError> {
    ensure_system_packages()?;
    ensure_test_packages()?;
    // The runtimes' tests use both models (the burn plugin checks Gemma 3 against llama.cpp).
    fetch_models::run(&[])?;
    if boards {
        boards::ensure_cross_toolchain(true)?;
    }
    Ok(())
}

/// The tests open the HTML report in Debian's headless Chromium: install it like the build's
/// packages when it is missing.
fn ensure_test_packages() -> Result<(), DynError> {
    let browsers = ["chromium", "chromium-browser", "google-chrome"];
    if std::env::var_os("CHROMIUM").is_none() && !browsers.iter().any(|b| on_path(b)) {
        apt_install(&["chromium"])?;
    }
    // The lab's tests start a private PostgreSQL cluster (initdb, pg_ctl).
    if !has_postgres_server() {
        apt_install(&["postgresql"])?;
    }
    Ok(())
}

/// Whether PostgreSQL's server programs are on PATH or where Debian puts them.
fn has_postgres_server() -> bool {
    on_path("initdb")
        || std::fs::read_dir("/usr/lib/postgresql")
            .is_ok_and(|rd| rd.flatten().any(|v| v.path().join("bin/initdb").exists()))
}

/// Installs Debian packages with apt when running as root, else names the one command that does.
fn apt_install(missing: &[&str]) -> Result<(), DynError> {
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        return Err(format!(
            "missing system packages ({}); install them with: sudo apt-get update && sudo {install}",
            missing.join(", ")
        )
        .into());
    }
    if !on_path("apt-get") {
        return Err(format!(
            "missing system packages ({}) and no apt-get to install them",
            missing.join(", ")
        )
        .into());
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Plugin packages that declare `feature` in their `[features]` table.
fn packages_with_feature(feature: &str) -> Vec<String> {
    let mut out = Vec::new();
    for group in ["runtime-plugins", "meter-plugins", "dataset-plugins"] {
        let Ok(entries) = std::fs::read_dir(project_root().join(group)) else { continue };
        for e in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(e.path().join("Cargo.toml")) else { continue };
            let mut in_features = false;
            let mut name = None;
            let mut has = false;
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    in_features = line == "[features]";
                } else if let Some(v) = line.strip_prefix("name = ") {
                    name.get_or_insert_with(|| v.trim_matches('"').to_string());
                } else if in_features && line.split('=').next().is_some_and(|k| k.trim() == feature)
                {
                    has = true;
                }
            }
            if let (true, Some(n)) = (has, name) {
                out.push(n);
            }
        }
    }
    out.sort();
    out
}

/// `--features` values as cargo takes them: `pkg/feature` stays, a bare `feature` becomes
/// `pkg/feature` for every plugin that declares it.
fn expand_features(list: &str) -> Result<Vec<String>, DynError> {
    let mut out = Vec::new();
    for f in list.split([',', ' ']).filter(|f| !f.is_empty()) {
        if f.contains('/') {
            out.push(f.to_string());
            continue;
        }
        let pkgs = packages_with_feature(f);
        if pkgs.is_empty() {
            return Err(format!("no plugin declares the feature {f:?}").into());
        }
        out.extend(pkgs.into_iter().map(|p| format!("{p}/{f}")));
    }
    Ok(out)
}

fn build_plugins_cmd(args: &[String]) -> Result<(), DynError> {
    let mut release = false;
    let mut features = Vec::new();
    let mut target = None;
    let mut board = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--release" => release = true,
            "--features" => {
                features.extend(expand_features(it.next().ok_or("--features needs a value")?)?)
            }
            "--target" => target = Some(it.next().ok_or("--target needs a value")?.clone()),
            "--board" => board = Some(boards::board(it.next().ok_or("--board needs a value")?)?),
            other => match other.strip_prefix("--features=") {
                Some(v) => features.extend(expand_features(v)?),
                None => return Err(format!("build-plugins: unknown argument {other:?}").into()),
            },
        }
    }
    match target.as_deref() {
        None if board.is_none() => build_plugins(release, &features),
        None | Some(boards::TARGET) => {
            let board = board.unwrap_or(boards::BOARDS[0]);
            eprintln!(
                "building for the {}: llama.cpp kernels {}",
                board.what,
                board.kernels.arch()
            );
            boards::cross_build(&[board.kernels], &[], release, &features, Default::default())
        }
        Some(other) => Err(format!(
            "build-plugins: cannot cross-build for {other:?} (only {})",
            boards::TARGET
        )
        .into()),
    }
}

fn build_plugins(release: bool, features: &[String]) -> Result<(), DynError> {
    ensure_system_packages()?;
    let mut cmd = cargo();
    cmd.args(["build", "--workspace", "--exclude", "xtask"]);
    if release {
        cmd.arg("--release");
    }
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    run(&mut cmd)
}

/// Points `JOULEBENCH_DATA` at `../shared/datasets` beside the checkout when it is unset.
pub(crate) fn ensure_data_env(cmd: &mut Command) -> Result<(), DynError> {
    if env::var_os("JOULEBENCH_DATA").is_none() {
        cmd.env("JOULEBENCH_DATA", data_dir()?);
    }
    Ok(())
}

/// The benchmark data: `JOULEBENCH_DATA`, else `../shared/datasets` beside the checkout, else
/// where `cargo xtask fetch-data` puts it.
pub(crate) fn data_dir() -> Result<PathBuf, DynError> {
    if let Some(dir) = env::var_os("JOULEBENCH_DATA") {
        return Ok(PathBuf::from(dir));
    }
    let shared = project_root().join("../shared/datasets");
    if shared.join("hellaswag").is_dir() {
        return Ok(shared.canonicalize()?);
    }
    // The dataset plugins look there too.
    let fetched = fetch_data::default_dest()?;
    if fetched.join("hellaswag").is_dir() {
        return Ok(fetched);
    }
    Err(format!(
        "no benchmark data: set JOULEBENCH_DATA to a folder holding mmlu/, hellaswag/ and winogrande/ \
         (`cargo xtask fetch-data` makes one), or put it at {}",
        shared.display()
    )
    .into())
}

fn test(args: &[String]) -> Result<(), DynError> {
    let boards_too = !args.iter().any(|a| a == "--no-boards");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--no-boards").collect();
    ensure_test_deps(false)?;
    build_plugins(false, &[])?;
    // The fuzz smoke's and the emulated boards' builds go on beside the workspace tests.
    let fuzz_build = fuzz::start_smoke_build()?;
    let boards_build = if boards_too { Some(boards::start_test_build()?) } else { None };
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"]).args(args);
    ensure_data_env(&mut cmd)?;
    let workspace = run(&mut cmd);
    // The fuzz smoke and the boards run even when a workspace test failed, so that one CI run
    // shows all.
    let fuzz = fuzz::smoke(fuzz_build);
    let boards = if boards_too { boards::test(boards_build) } else { Ok(()) };
    workspace.and(fuzz).and(boards)
}

fn bench(args: &[String]) -> Result<(), DynError> {
    let mut manifest = "plugins.toml".to_string();
    let mut no_run = false;
    let mut kernels = false;
    let mut generation = false;
    let mut repetitions = 3;
    let mut rounds = 5;
    let mut tasks = 400;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-run" => no_run = true,
            "--kernels" => kernels = true,
            "--generation" => generation = true,
            "--repetitions" => {
                let v = it.next().ok_or("--repetitions needs a number")?;
                repetitions =
                    v.parse().map_err(|_| format!("--repetitions: not a number: {v:?}"))?;
            }
            "--rounds" => {
                let v = it.next().ok_or("--rounds needs a number")?;
                rounds = v.parse().map_err(|_| format!("--rounds: not a number: {v:?}"))?;
            }
            "--tasks" => {
                let v = it.next().ok_or("--tasks needs a number")?;
                tasks = v.parse().map_err(|_| format!("--tasks: not a number: {v:?}"))?;
            }
            "--only" => {
                let v = it.next().ok_or("--only needs runner names, separated by commas")?;
                only.extend(v.split(',').map(str::to_string));
            }
            other if other.starts_with('-') => {
                return Err(format!("bench: unknown argument {other:?}").into());
            }
            other => manifest = other.to_string(),
        }
    }
    ensure_system_packages()?;
    fetch_models::ensure_default_model()?;
    build_plugins(true, &[])?;
    if kernels {
        return kernels::bench(tasks, no_run, &only);
    }
    if generation {
        return generation::bench(rounds, repetitions, no_run);
    }
    if no_run {
        return Ok(());
    }
    let bin = project_root().join("target/release/joulebench");
    let mut cmd = Command::new(&bin);
    cmd.current_dir(project_root()).arg("run").arg(&manifest);
    ensure_data_env(&mut cmd)?;
    run(&mut cmd)?;
    let plots = project_root().join("results/plots");
    run(Command::new(&bin)
        .current_dir(project_root())
        .args(["report", "--manifest", &manifest, "--plot"])
        .arg(&plots))?;
    eprintln!("plots: {}", plots.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_run_s_package_variables_are_not_passed_on() {
        for key in
            ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME"]
        {
            assert!(inherited_from_cargo_run(key), "{key}");
        }
        for key in ["CARGO", "CARGO_HOME", "CARGO_TARGET_DIR", "RUSTFLAGS"] {
            assert!(!inherited_from_cargo_run(key), "{key}");
        }
    }

    #[test]
    fn cuda_expands_to_the_plugins_that_declare_it() {
        for f in expand_features("cuda").unwrap_or_default() {
            let (pkg, feat) = f.split_once('/').unwrap();
            assert_eq!(feat, "cuda");
            assert!(pkg.starts_with("joulebench-"), "{pkg}");
        }
        assert_eq!(expand_features("a/b").unwrap(), ["a/b"]);
        assert!(expand_features("no-such-feature").is_err());
    }

    /// The repository's rules: every plugin crate is a cdylib and an rlib, every crate opens
    /// with `//!` docs, and no profile sets `panic = "abort"` (plugins catch panics).
    #[test]
    fn tidy() {
        let root = project_root();
        let cargo_toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let sets_abort = cargo_toml.lines().any(|l| {
            l.split('#')
                .next()
                .is_some_and(|code| code.replace(' ', "").contains("panic=\"abort\""))
        });
        assert!(!sets_abort, "panic = \"abort\" breaks the plugins' guard");
        for group in ["runtime-plugins", "meter-plugins", "dataset-plugins", "host"] {
            for e in std::fs::read_dir(root.join(group)).unwrap().flatten() {
                let manifest = e.path().join("Cargo.toml");
                let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
                let is_plugin = text.contains("crate-type");
                if is_plugin && group != "host" {
                    assert!(
                        text.contains("\"cdylib\"") && text.contains("\"rlib\""),
                        "{}: a plugin is a cdylib and an rlib",
                        manifest.display()
                    );
                }
                for entry in ["src/lib.rs", "src/main.rs"] {
                    let Ok(src) = std::fs::read_to_string(e.path().join(entry)) else { continue };
                    assert!(
                        src.trim_start().starts_with("//!"),
                        "{}/{entry} opens without //! docs",
                        e.path().display()
                    );
                }
            }
        }
    }
}
