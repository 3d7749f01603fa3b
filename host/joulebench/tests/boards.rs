//! The study's boards under emulation: the aarch64 build (made by `cargo xtask test`, which runs
//! these ignored tests) runs under `qemu-aarch64` with each board's CPU model, lists its plugins
//! and runs a tiny real manifest (SmolLM2 through llama.cpp on 2 HellaSwag and 5 Winogrande
//! tasks on the Pi 5; 1 and 2 on the Orin, whose build is the Pi 5's, and on the Jetson Nano,
//! whose plain NEON kernels emulate slowest) with the board's meter on its recorded output. Each
//! board's per-candidate log-likelihoods (sums of per-token log-probabilities) must match an x86
//! run of the same tasks within [`RELATIVE_TOLERANCE`], with the same acc predictions (acc_norm
//! may flip on a near-tie, at most [`NORM_FLIPS`] a benchmark), and each must report the kernels
//! its CPU gets: dotprod and fp16 on the Pi 5 and Orin models, neither on the Jetson Nano's
//! Cortex-A57.
//! On x86, an AVX2-only CPU (qemu's Haswell) must get a refusal that names the missing AVX-512
//! features, not a SIGILL.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};
use joulebench::store::{Store, TaskRecord};

use crate::util::{data_dir, plugin_dir, smollm2};

/// The largest difference allowed between a candidate's log-likelihood (a sum over its tokens)
/// on an emulated board and on x86, as a share of its size (so that it scales with the
/// candidate's length, as per-token differences add up). The kernels differ: NEON dotprod or
/// plain NEON against AVX2, each with its own summation order and rounding of the activations to
/// 8 bits, and ARM's fp16 vector arithmetic (`FP16_VA`) in the attention's f16 dot products
/// where x86 converts to f32. Measured on 5 HellaSwag tasks: up to 1.70 nats (2.90 %) on a
/// candidate on the Pi 5 model, 4.41 % on the Jetson Nano's (docs/boards.md has every figure).
const RELATIVE_TOLERANCE: f64 = 0.05;

/// How many tasks per experiment may change their length-normalized prediction: a near-tie in
/// acc_norm flips on differences of that size (HellaSwag task 4187 did in an earlier build:
/// ending 3 on x86, 0 on the board).
const NORM_FLIPS: usize = 1;

/// Tasks per benchmark: (HellaSwag, Winogrande). Emulation runs about 3 tokens a second, and
/// time goes with tokens (a HellaSwag task's four endings are about 200, a Winogrande task's two
/// about 25), so HellaSwag is kept short.
type Limits = (u32, u32);

struct BoardCase {
    name: &'static str,
    qemu_cpu: &'static str,
    kernels: &'static str,
    meter: String,
    expect_dotprod: bool,
    limits: Limits,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn aarch64_dir() -> Option<PathBuf> {
    std::env::var_os("JOULEBENCH_AARCH64_DIR").map(PathBuf::from)
}

fn meter(library: &str, config: &str) -> String {
    format!(
        "[[plugin]]\nid = \"meter\"\nkind = \"meter\"\nlibrary = \"{library}\"\nconfig = {{ {config} }}\n"
    )
}

fn cases() -> Vec<BoardCase> {
    let fixtures = repo().join("meter-plugins");
    let pi5 = fixtures.join("pi5-pmic/tests/fixtures/capture-a.txt");
    let orin = fixtures.join("orin-rails/tests/fixtures/orin-nano");
    let nano = fixtures.join("jetson-ina3221/tests/fixtures/nano");
    vec![
        BoardCase {
            name: "pi5",
            qemu_cpu: "cortex-a76",
            kernels: "dotprod-fp16",
            meter: meter(
                "joulebench_meter_pi5_pmic",
                &format!("command = [\"cat\", {:?}]", pi5.display().to_string()),
            ),
            expect_dotprod: true,
            limits: (2, 5),
        },
        // The Orin's build and kernels are the Pi 5's: fewer tasks, for its CPU model and meter.
        BoardCase {
            name: "orin",
            qemu_cpu: "neoverse-n1",
            kernels: "dotprod-fp16",
            meter: meter(
                "joulebench_meter_orin_rails",
                &format!("root = {:?}", orin.display().to_string()),
            ),
            expect_dotprod: true,
            limits: (1, 2),
        },
        BoardCase {
            name: "nano",
            qemu_cpu: "cortex-a57",
            kernels: "armv8-a",
            meter: meter(
                "joulebench_meter_jetson_ina3221",
                &format!("root = {:?}", nano.display().to_string()),
            ),
            expect_dotprod: false,
            // Its kernels are the slowest under emulation (about 1.5 times the Pi 5's per task).
            limits: (1, 2),
        },
    ]
}

/// The tiny manifest: llama.cpp from `llama` (a path, or the bare name in `plugins`), one
/// experiment per benchmark with `limits`' tasks.
fn manifest(results: &Path, plugins: &Path, llama: &str, meter: &str, limits: Limits) -> String {
    let (hellaswag, winogrande) = limits;
    format!(
        r#"
[settings]
results = "{results}"
plugin_dir = "{plugins}"
idle_s = 0

[[plugin]]
id = "llama"
kind = "runtime"
library = "{llama}"
config = {{ threads = 2, context_size = 2048 }}

[[plugin]]
id = "hellaswag"
kind = "dataset"
library = "joulebench_dataset_hellaswag"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "winogrande"
kind = "dataset"
library = "joulebench_dataset_winogrande"
config = {{ data_dir = "{data}" }}

{meter}

[[model]]
id = "smollm2"
path = "{model}"

[[experiment]]
id = "board-hellaswag"
runtime = "llama"
model = "smollm2"
dataset = "hellaswag"
meter = "meter"
limit = {hellaswag}
selection = "llama-cpp"
warmup_tasks = 0
latency_tasks = 0
sample_hz = 5

[[experiment]]
id = "board-winogrande"
runtime = "llama"
model = "smollm2"
dataset = "winogrande"
meter = "meter"
limit = {winogrande}
selection = "llama-cpp"
warmup_tasks = 0
latency_tasks = 0
sample_hz = 5
"#,
        results = results.display(),
        plugins = plugins.display(),
        data = data_dir().display(),
        model = smollm2().display(),
    )
}

/// Every finished experiment's name, tasks and provenance.
type Stored = Vec<(String, Vec<TaskRecord>, String)>;

fn results(path: &Path) -> Stored {
    let store = Store::open(path).unwrap();
    let out: Vec<_> = store
        .summaries()
        .unwrap()
        .into_iter()
        .map(|(id, name, _)| (name, store.tasks(id).unwrap(), store.provenance(id).unwrap()))
        .collect();
    assert_eq!(out.len(), 2, "{}: two experiments", path.display());
    out
}

/// `program` under qemu as `cpu`. The loader and the C library must come from the same glibc
/// build: Debian's arm64 multiarch packages (pulled in with the aarch64 Rust standard library)
/// put both in /lib; the cross toolchain's copy in /usr/aarch64-linux-gnu is used only without
/// them. (Mixing the cross loader with the multiarch libc hangs in pthread_create.)
fn qemu(cpu: &str, program: &Path) -> Command {
    let mut cmd = Command::new("qemu-aarch64-static");
    if !Path::new("/lib/ld-linux-aarch64.so.1").exists() {
        cmd.args(["-L", "/usr/aarch64-linux-gnu"]);
    }
    cmd.args(["-cpu", cpu]).arg(program);
    cmd
}

fn output(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
#[ignore = "needs the aarch64 cross build and qemu: `cargo xtask test` runs it after the workspace tests"]
fn emulated_boards_match_x86() {
    let Some(aarch64) = aarch64_dir() else {
        panic!("JOULEBENCH_AARCH64_DIR is unset: run `cargo xtask test`, which builds for aarch64")
    };
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();

    // The x86 reference for each board's task counts (a few seconds each).
    let mut references: Vec<(Limits, Stored)> = Vec::new();
    for limits in cases().iter().map(|c| c.limits) {
        if references.iter().any(|(l, _)| *l == limits) {
            continue;
        }
        let t0 = Instant::now();
        let x86_results = dir.path().join(format!("x86-{}-{}.sqlite", limits.0, limits.1));
        let text = manifest(
            &x86_results,
            &plugin_dir(),
            "joulebench_runtime_llama_cpp",
            &meter("joulebench_meter_estimate", ""),
            limits,
        );
        let m = Manifest::parse(&dir.path().join("x86.toml"), text).unwrap();
        let outcome = run(&m, &RunOptions::default()).unwrap();
        assert!(outcome.failed.is_empty(), "x86: {:?}", outcome.failed);
        references.push((limits, results(&x86_results)));
        eprintln!("x86 reference for {limits:?} tasks: {:.1} s", t0.elapsed().as_secs_f64());
    }

    let host = aarch64.join("joulebench");
    // Every board runs even when an earlier one fails, so that one run shows all three.
    let mut failures = Vec::new();
    for case in cases() {
        let t0 = Instant::now();
        let x86 = &references.iter().find(|(l, _)| *l == case.limits).unwrap().1;
        let llama =
            aarch64.join("kernels").join(case.kernels).join("libjoulebench_runtime_llama_cpp.so");
        let results_path = dir.path().join(format!("{}.sqlite", case.name));
        let manifest_path = dir.path().join(format!("{}.toml", case.name));
        let text = manifest(
            &results_path,
            &aarch64,
            &llama.display().to_string(),
            &case.meter,
            case.limits,
        );
        std::fs::write(&manifest_path, text).unwrap();

        let listing = output(
            qemu(case.qemu_cpu, &host).args(["plugins", "--manifest"]).arg(&manifest_path),
            &format!("{}: joulebench plugins", case.name),
        );
        let kernels = listing
            .lines()
            .find(|l| l.contains("CPU kernels:"))
            .unwrap_or_else(|| panic!("{}: no kernels in\n{listing}", case.name))
            .to_string();
        eprintln!(
            "{} ({}):{}",
            case.name,
            case.qemu_cpu,
            kernels.split(';').skip(1).collect::<Vec<_>>().join(";")
        );
        assert!(kernels.contains("aarch64-unknown-linux-gnu"), "{}: {kernels}", case.name);
        assert!(kernels.contains(" NEON"), "{}: {kernels}", case.name);
        for feature in [" DOTPROD", " FP16_VA"] {
            assert_eq!(
                kernels.contains(feature),
                case.expect_dotprod,
                "{}: {feature} in {kernels}",
                case.name
            );
        }

        output(
            qemu(case.qemu_cpu, &host).arg("run").arg(&manifest_path),
            &format!("{}: joulebench run", case.name),
        );
        let board = results(&results_path);
        let (mut worst, mut worst_relative) = (0.0f64, 0.0f64);
        for ((name, tasks, provenance), (x86_name, x86_tasks, _)) in board.iter().zip(x86) {
            let expected = if name.contains("hellaswag") { case.limits.0 } else { case.limits.1 };
            let mut flips = 0;
            assert_eq!(name, x86_name);
            assert!(
                provenance.contains("aarch64-unknown-linux-gnu"),
                "{}: {provenance}",
                case.name
            );
            assert_eq!(
                provenance.contains("DOTPROD"),
                case.expect_dotprod,
                "{}: {provenance}",
                case.name
            );
            assert_eq!(tasks.len(), expected as usize, "{}: {name}", case.name);
            assert_eq!(x86_tasks.len(), expected as usize, "x86 for {}: {name}", case.name);
            for (t, r) in tasks.iter().zip(x86_tasks) {
                assert_eq!(t.task_id, r.task_id, "{}: {name}", case.name);
                assert_eq!(t.scores.len(), r.scores.len());
                for (a, b) in t.scores.iter().zip(&r.scores) {
                    worst = worst.max((a - b).abs());
                    worst_relative = worst_relative.max((a - b).abs() / b.abs().max(1.0));
                }
                if t.predicted != r.predicted {
                    failures.push(format!(
                        "{}: {name} task {}: acc picks {} on the board, {} on x86 (scores {:?} \
                         and {:?})",
                        case.name, t.task_id, t.predicted, r.predicted, t.scores, r.scores
                    ));
                }
                if t.predicted_norm != r.predicted_norm {
                    eprintln!(
                        "{}: {name} task {}: acc_norm picks {:?} on the board, {:?} on x86 \
                         (scores {:?} and {:?})",
                        case.name,
                        t.task_id,
                        t.predicted_norm,
                        r.predicted_norm,
                        t.scores,
                        r.scores
                    );
                    flips += 1;
                }
            }
            if flips > NORM_FLIPS {
                failures.push(format!("{}: {name}: {flips} acc_norm flips", case.name));
            }
        }
        eprintln!(
            "{} ({}): largest log-likelihood difference from x86 {worst:.4} nats, {:.2} % of \
             the candidate's log-likelihood at most; {:.0} s",
            case.name,
            case.qemu_cpu,
            100.0 * worst_relative,
            t0.elapsed().as_secs_f64()
        );
        if worst_relative > RELATIVE_TOLERANCE {
            failures.push(format!(
                "{}: a candidate's log-likelihood differs from x86 by {:.2} % (> {:.2} %)",
                case.name,
                100.0 * worst_relative,
                100.0 * RELATIVE_TOLERANCE
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs qemu-x86_64: `cargo xtask test` runs it after the workspace tests"]
fn an_avx2_only_cpu_runs_or_gets_a_refusal_naming_what_it_lacks() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    // .cargo/config.toml's choice, which the llama.cpp plugin was built with too
    let avx512 = option_env!("GGML_AVX512").is_some_and(|v| v.eq_ignore_ascii_case("on"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x86.toml");
    let text = manifest(
        &dir.path().join("x86.sqlite"),
        &plugin_dir(),
        "joulebench_runtime_llama_cpp",
        &meter("joulebench_meter_estimate", ""),
        (1, 1),
    );
    std::fs::write(&path, text).unwrap();
    let out = Command::new("qemu-x86_64-static")
        .args(["-cpu", "Haswell"])
        .arg(env!("CARGO_BIN_EXE_joulebench"))
        .args(["plugins", "--manifest"])
        .arg(&path)
        .output()
        .expect("qemu-x86_64-static runs");
    let text = String::from_utf8_lossy(&out.stdout);
    if avx512 {
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("this CPU lacks avx512f"), "{text}");
        assert!(text.contains("GGML_AVX512=OFF"), "{text}");
    } else {
        // The AVX2 build runs on an AVX2-only CPU and says which kernels it uses.
        assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        let kernels = text.lines().find(|l| l.contains("CPU kernels:")).unwrap_or_default();
        assert!(kernels.contains(" AVX2"), "{text}");
        assert!(!kernels.contains("AVX512"), "{text}");
    }
}
