//! aarch64 boards from an x86 machine: the cross toolchain, cross builds, and the emulated-board
//! test that `cargo xtask test` runs.
//!
//! A board's kernels: the Raspberry Pi 5 (Cortex-A76) and the Jetson Orin (Cortex-A78AE) run
//! llama.cpp's dotprod and fp16 kernels (`armv8.2-a+dotprod+fp16`); the Jetson Nano (Cortex-A57)
//! is plain `armv8-a`. llama-cpp-sys-2 pins every non-native aarch64 Linux build to `armv8-a`;
//! `runtime-plugins/llama-cpp/cmake/cpu-arch.cmake` lets `GGML_CPU_ARM_ARCH` from the environment
//! through. The Rust code of every set is built for the baseline (`+neon`, no `target-cpu`), so the
//! two sets share one target folder and differ only in ggml's CPU library: switching between them
//! recompiles that library and relinks the llama.cpp plugin, nothing else.
//!
//! Why one build per kernel set and not llama.cpp's run-time selection (`GGML_BACKEND_DL` with
//! `GGML_CPU_ALL_VARIANTS`, llama-cpp-sys-2's `dynamic-backends`): that builds ggml's eight ARM
//! variants, two of which need SME support from GCC 14 (Debian 12 has GCC 12), turns llama.cpp
//! into shared libraries that each plugin must carry and load from its own folder, and costs a
//! compile of the CPU library per variant in every CI run.
//!
//! Debian's `rustc-web` packages supply the aarch64 standard library where rustup cannot fetch
//! it; `qemu-aarch64-static` runs the result with the boards' CPU models.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::background::{Background, Output};
use crate::{DynError, cargo, is_root, on_path, project_root, run};

/// The aarch64 target.
pub const TARGET: &str = "aarch64-unknown-linux-gnu";

/// llama.cpp's CPU kernels for a kind of board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// `armv8.2-a+dotprod+fp16`: Raspberry Pi 5, Jetson Orin.
    DotprodFp16,
    /// `armv8-a`: Jetson Nano, and any other aarch64 CPU.
    Armv8,
}

impl Kernels {
    /// The `GGML_CPU_ARM_ARCH` value.
    pub fn arch(self) -> &'static str {
        match self {
            Kernels::DotprodFp16 => "armv8.2-a+dotprod+fp16",
            Kernels::Armv8 => "armv8-a",
        }
    }

    /// A short name for folders.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::DotprodFp16 => "dotprod-fp16",
            Kernels::Armv8 => "armv8-a",
        }
    }
}

/// A board: its name for `--board` and its kernels. (The host's `boards` test names the qemu CPU
/// model that stands in for each.)
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// `pi5`, `orin`, `nano`.
    pub name: &'static str,
    /// What it is.
    pub what: &'static str,
    /// The kernels it gets.
    pub kernels: Kernels,
}

/// The study's boards.
pub const BOARDS: [Board; 3] = [
    Board { name: "pi5", what: "Raspberry Pi 5 (Cortex-A76)", kernels: Kernels::DotprodFp16 },
    Board { name: "orin", what: "Jetson Orin Nano (Cortex-A78AE)", kernels: Kernels::DotprodFp16 },
    Board { name: "nano", what: "Jetson Nano (Cortex-A57)", kernels: Kernels::Armv8 },
];

/// The board called `name`.
pub fn board(name: &str) -> Result<Board, DynError> {
    BOARDS.iter().copied().find(|b| b.name == name).ok_or_else(|| {
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!("unknown board {name:?} (expected one of {})", names.join(", ")).into()
    })
}

/// The packages the emulated-board test runs: the host, llama.cpp, two datasets, the boards'
/// meters.
pub const TEST_PACKAGES: [&str; 7] = [
    "joulebench",
    "joulebench-runtime-llama-cpp",
    "joulebench-dataset-hellaswag",
    "joulebench-dataset-winogrande",
    "joulebench-meter-pi5-pmic",
    "joulebench-meter-orin-rails",
    "joulebench-meter-jetson-ina3221",
];

/// The emulated-board test's build settings, on top of the dev profile: dependencies at
/// opt-level 0, which compile several times faster than the profile's 3, except the two whose
/// speed the emulated runs feel: llama.cpp (its cmake build type follows this level: 0 would make
/// it a Debug build) and sha2, which hashes every plugin library as it is loaded. The workspace's
/// own hot crates keep their opt-level 3 from Cargo.toml. A board's own builds (`build-plugins
/// --target`) keep the profile as it is.
pub const TEST_BUILD_CONFIG: [&str; 3] = [
    "profile.dev.package.\"*\".opt-level=0",
    "profile.dev.package.llama-cpp-sys-2.opt-level=3",
    "profile.dev.package.sha2.opt-level=3",
];

/// Where cross builds go (ignored by git as `/target-*`).
pub fn target_dir() -> PathBuf {
    project_root().join("target-aarch64")
}

/// The folder a cross build's binaries and plugins end up in.
pub fn out_dir(release: bool) -> PathBuf {
    target_dir().join(TARGET).join(if release { "release" } else { "debug" })
}

/// Where a kernel set's copy of the llama.cpp plugin is kept, beside the shared build.
pub fn kernels_dir(kernels: Kernels, release: bool) -> PathBuf {
    out_dir(release).join("kernels").join(kernels.name())
}

fn host_is_aarch64() -> bool {
    env::consts::ARCH == "aarch64"
}

/// The rustc whose standard library has the aarch64 target: the default one when rustup has
/// the target, else Debian's `/usr/bin/rustc` from `libstd-rust-web-dev:arm64`.
fn aarch64_rustc() -> Option<PathBuf> {
    let has_std = |rustc: &Path| {
        Command::new(rustc)
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .is_some_and(|root| root.join("lib/rustlib").join(TARGET).join("lib").is_dir())
    };
    let default = PathBuf::from(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()));
    if has_std(&default) {
        return Some(default);
    }
    let debian = PathBuf::from("/usr/bin/rustc");
    has_std(&debian).then_some(debian)
}

/// Installs what a cross build (and, with `emulate`, the emulated test) needs: the aarch64 GNU
/// toolchain, an aarch64 Rust standard library, qemu. With apt as root; otherwise it fails with
/// the commands that do it.
pub fn ensure_cross_toolchain(emulate: bool) -> Result<PathBuf, DynError> {
    let mut missing: Vec<&str> = Vec::new();
    if !on_path("aarch64-linux-gnu-gcc") {
        missing.push("gcc-aarch64-linux-gnu");
    }
    if !on_path("aarch64-linux-gnu-g++") {
        missing.push("g++-aarch64-linux-gnu");
    }
    if emulate && !Path::new("/usr/bin/qemu-aarch64-static").exists() {
        missing.push("qemu-user-static");
    }
    let needs_std = aarch64_rustc().is_none();
    if needs_std {
        missing.extend(["rustc-web", "cargo-web", "libstd-rust-web-dev:arm64"]);
    }
    if !missing.is_empty() {
        let add_arch = if needs_std { "dpkg --add-architecture arm64 && " } else { "" };
        let commands = format!(
            "{add_arch}apt-get update && apt-get install -y {} (or, with rustup: rustup target \
             add {TARGET})",
            missing.join(" ")
        );
        if !is_root() || !on_path("apt-get") {
            return Err(format!(
                "the aarch64 cross build needs {}, and this user cannot install them; as root, \
                 run: {commands}",
                missing.join(", ")
            )
            .into());
        }
        eprintln!("installing the aarch64 cross toolchain: {}", missing.join(" "));
        if needs_std {
            run(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
        }
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    aarch64_rustc().ok_or_else(|| {
        format!("no rustc with the {TARGET} standard library after installing it").into()
    })
}

/// `cargo build` for aarch64 with `kernels`, into [`target_dir`], with the cross toolchain's
/// environment when this machine is not aarch64.
pub fn cross_cargo(kernels: Kernels, release: bool) -> Result<Command, DynError> {
    let mut cmd = cargo();
    cmd.args(["build", "--target", TARGET]);
    if release {
        cmd.arg("--release");
    }
    cmd.env("CARGO_TARGET_DIR", target_dir())
        // The aarch64 baseline for the Rust code of every set (instead of config.toml's
        // `native`), so that the sets share their Rust build; llama.cpp's kernels come from the
        // arch below. Not `target-cpu=generic`: llama-cpp-sys-2 would pass it to gcc as -march.
        .env("RUSTFLAGS", "-C target-feature=+neon")
        .env("GGML_CPU_ARM_ARCH", kernels.arch());
    if !host_is_aarch64() {
        let rustc = ensure_cross_toolchain(false)?;
        let t = TARGET.replace('-', "_");
        cmd.env("RUSTC", rustc)
            .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", "aarch64-linux-gnu-gcc")
            .env(format!("CC_{t}"), "aarch64-linux-gnu-gcc")
            .env(format!("CXX_{t}"), "aarch64-linux-gnu-g++")
            .env(format!("AR_{t}"), "aarch64-linux-gnu-ar")
            // bindgen's libclang finds the aarch64 C headers here
            .env(
                format!("BINDGEN_EXTRA_CLANG_ARGS_{t}"),
                "-isystem /usr/aarch64-linux-gnu/include",
            );
    }
    Ok(cmd)
}

/// Extra settings of a cross build.
#[derive(Clone, Copy, Default)]
pub struct Extra<'a> {
    /// cargo `--config` values.
    pub config: &'a [&'a str],
    /// Where cargo's output goes.
    pub output: Output<'a>,
}

/// Builds `packages` (every one but xtask when empty) for each of `sets`, keeping each set's
/// llama.cpp plugin in [`kernels_dir`]. The last set's plugin is also the one in [`out_dir`].
pub fn cross_build(
    sets: &[Kernels],
    packages: &[&str],
    release: bool,
    features: &[String],
    extra: Extra,
) -> Result<(), DynError> {
    crate::ensure_system_packages()?;
    for &kernels in sets {
        force_llama_rerun_on_change(kernels, release)?;
        let mut cmd = cross_cargo(kernels, release)?;
        if packages.is_empty() {
            cmd.args(["--workspace", "--exclude", "xtask"]);
        }
        for p in packages {
            cmd.args(["-p", p]);
        }
        if !features.is_empty() {
            cmd.arg("--features").arg(features.join(","));
        }
        for c in extra.config {
            cmd.args(["--config", c]);
        }
        extra.output.run(&mut cmd)?;
        let lib = "libjoulebench_runtime_llama_cpp.so";
        let from = out_dir(release).join(lib);
        if from.exists() {
            let dir = kernels_dir(kernels, release);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::copy(&from, dir.join(lib))
                .map_err(|e| format!("copying {} to {}: {e}", from.display(), dir.display()))?;
        }
        let what = format!(
            "aarch64 build with llama.cpp kernels {} in {} (llama.cpp plugin also in {})",
            kernels.arch(),
            out_dir(release).display(),
            kernels_dir(kernels, release).display()
        );
        extra.output.say(&what)?;
    }
    Ok(())
}

/// Makes llama.cpp's build follow a change of kernel set. cargo does not rerun
/// llama-cpp-sys-2's build script when only `GGML_CPU_ARM_ARCH` changes (seen with cargo 1.95),
/// and cmake-rs skips cmake's configure step in an already configured folder, so the last set is
/// recorded beside the build, and a change removes the script's fingerprints and cmake's cache.
/// cmake keeps its objects and recompiles only ggml's CPU library, whose flags changed.
fn force_llama_rerun_on_change(kernels: Kernels, release: bool) -> Result<(), DynError> {
    let out = out_dir(release);
    let marker = out.join("kernels").join("last");
    let last = std::fs::read_to_string(&marker).unwrap_or_default();
    if last.trim() != kernels.arch() {
        let remove = |path: PathBuf| -> Result<(), DynError> {
            let r = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            r.map_err(|e| format!("{}: {e}", path.display()).into())
        };
        for (dir, file) in [(".fingerprint", None), ("build", Some("out/build/CMakeCache.txt"))] {
            let Ok(entries) = std::fs::read_dir(out.join(dir)) else { continue };
            for e in entries.flatten() {
                if !e.file_name().to_string_lossy().starts_with("llama-cpp-sys-2-") {
                    continue;
                }
                match file {
                    None => remove(e.path())?,
                    Some(f) if e.path().join(f).exists() => remove(e.path().join(f))?,
                    Some(_) => {}
                }
            }
        }
    }
    let dir = out.join("kernels");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&marker, kernels.arch()).map_err(|e| format!("{}: {e}", marker.display()).into())
}

/// Starts the emulated-board test's aarch64 build (both kernel sets) beside the workspace
/// tests (see [`crate::background`]). The toolchain is installed first, in the foreground.
pub fn start_test_build() -> Result<Background, DynError> {
    ensure_cross_toolchain(true)?;
    Background::start(
        "the emulated boards' aarch64 build",
        target_dir().join("test-build.log"),
        build_for_test,
    )
}

/// The emulated-board test's build: its packages, both kernel sets, [`TEST_BUILD_CONFIG`].
fn build_for_test(output: Output) -> Result<(), DynError> {
    let extra = Extra { config: &TEST_BUILD_CONFIG, output };
    cross_build(&[Kernels::Armv8, Kernels::DotprodFp16], &TEST_PACKAGES, false, &[], extra)
}

/// The emulated-board test: builds the test's packages for both kernel sets (or waits for the
/// build [`start_test_build`] started), then runs the `boards` test of the host, which runs each
/// board's CPU model under qemu against an x86 run.
pub fn test(started: Option<Background>) -> Result<(), DynError> {
    let t0 = std::time::Instant::now();
    match started {
        Some(build) => build.finish()?,
        None => {
            ensure_cross_toolchain(true)?;
            build_for_test(Output::Terminal)?;
        }
    }
    let build_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let mut cmd = cargo();
    // `--workspace`, as in the workspace tests, so that features unify the same way and
    // nothing is compiled again.
    cmd.args(["test", "--workspace", "--test", "integration", "--", "boards::"])
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env("JOULEBENCH_AARCH64_DIR", out_dir(false))
        .env("JOULEBENCH_AARCH64_KERNELS_DIR", out_dir(false).join("kernels"));
    crate::ensure_data_env(&mut cmd)?;
    run(&mut cmd)?;
    eprintln!(
        "emulated boards: cross builds {build_s:.0} s (waited for), emulated runs and comparison \
         {:.0} s",
        t1.elapsed().as_secs_f64()
    );
    Ok(())
}
