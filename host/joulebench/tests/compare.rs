//! `joulebench compare` and `joulebench report --html` on hand-made stores whose differences
//! are known, with p-values and intervals worked out independently (see each number's comment).

use std::path::{Path, PathBuf};
use std::process::Command;

use joulebench::store::{LatencyRecord, PhaseRecord, SampleRecord, Store, TaskRecord};
use joulebench_measure::{Summary, SummaryLabels};
use joulebench_metrics::{EnergyQuality, ExperimentFigures, compute};

/// 40 tasks: table [[both right 20, baseline only 2], [candidate only 9, both wrong 9]].
const WINO_TASKS: usize = 40;
/// 200 tasks: both right 150, baseline only 25, candidate only 10, both wrong 15.
const HELLA_TASKS: usize = 200;

/// Task verdicts (baseline, candidate) of a 2×2 table, task by task.
fn table(both: usize, only_b: usize, only_c: usize, neither: usize) -> Vec<(bool, bool)> {
    let mut v = vec![(true, true); both];
    v.extend(vec![(true, false); only_b]);
    v.extend(vec![(false, true); only_c]);
    v.extend(vec![(false, false); neither]);
    v
}

fn provenance(quality: &str, model: &str) -> String {
    serde_json::json!({
        "version": 2,
        "host": {"hostname": "bench", "board": "Raspberry Pi 5 Model B Rev 1.0", "cpu": "Cortex-A76",
                 "cpus": 4, "memory_bytes": 8u64 << 30, "os": "Debian GNU/Linux 12 (bookworm)",
                 "kernel": "6.6.51+rpt-rpi-2712", "arch": "aarch64", "governors": ["ondemand"],
                 "temperatures_c": [["cpu-thermal", 51.2]], "l4t": null,
                 "joulebench_version": "0.1.0", "abi_version": "0.1.0"},
        "runtime": {"id": "llama.cpp", "name": "joulebench-runtime-llama-cpp", "version": "0.1.0",
                    "abi_version": "0.1.0", "library": "libjoulebench_runtime_llama_cpp.so",
                    "build": "f59cb78250dc2396b5c052f4ee388a2e3d2489c3d68ed5180dd928bb267cd2c6"},
        "runtime_info": {"name": "llama.cpp", "engine_version": "llama-cpp-2 0.1.160; CPU kernels: NEON ARM_FMA FP16_VA DOTPROD",
                         "backend": "CPU"},
        "model": {"name": model, "path": "/models/m.gguf", "architecture": "llama", "parameters": 134515008u64,
                  "quantization": "Q4_1", "file_size": 98u64 << 20,
                  "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                  "context_size": 2048, "backend": "CPU", "device": "CPU", "threads": 4},
        "dataset": null, "meter": null,
        "meter_info": {"name": "pi5-pmic", "boundary": "PMIC rails; misses the 5 V loads", "update_interval_s": 0.1,
                       "rails": [{"name": "total", "unit": "W", "role": "total", "quality": quality,
                                  "description": "sum of the PMIC rails"}]},
        "sample_hz": 10.0
    })
    .to_string()
}

struct Spec<'a> {
    name: &'a str,
    model: &'a str,
    dataset: &'a str,
    repeat: u32,
    /// Each task's verdict.
    verdicts: Vec<bool>,
    /// Energy per inference, J.
    energy_j: f64,
    /// Evaluation time per inference, s.
    latency_s: f64,
    /// The latency pass, s per task.
    latencies: Vec<f64>,
    quality: EnergyQuality,
}

fn add(store: &mut Store, s: &Spec<'_>) {
    let run = store.begin_run("hand-made.toml", "", "{}").unwrap();
    let quality = if s.quality == EnergyQuality::Estimated { "estimated" } else { "measured" };
    let key = format!("{}/{}#{}", s.name, s.dataset, s.repeat);
    let name = format!("{}/llama.cpp/{}/{}/pi5", s.name, s.model, s.dataset);
    let n = s.verdicts.len();
    let e = store
        .create_experiment(
            &key,
            &name,
            s.repeat,
            "{}",
            &(0..n as u64).collect::<Vec<_>>(),
            &provenance(quality, s.model),
        )
        .unwrap();
    let segment = store.begin_segment(e.id, run, 0.0).unwrap();
    let eval_s = s.latency_s * n as f64;
    let (t0, t1) = (12.0, 12.0 + eval_s);
    let tasks: Vec<TaskRecord> = s
        .verdicts
        .iter()
        .enumerate()
        .map(|(i, &ok)| TaskRecord {
            position: i as u64,
            task_id: format!("{}-{i}", s.dataset),
            group: String::new(),
            gold: 0,
            predicted: if ok { 0 } else { 1 },
            correct: ok,
            predicted_norm: None,
            correct_norm: None,
            prompt_tokens: 50,
            segment,
            batch: i as u64,
            t_start_s: t0 + s.latency_s * i as f64,
            t_end_s: t0 + s.latency_s * (i + 1) as f64,
            latency_s: s.latency_s,
            scores: vec![-1.0, -2.0],
        })
        .collect();
    // A power trace: idle at 3 W, load and warm-up at 5 W, evaluation at the power that gives
    // the stated energy.
    let eval_w = s.energy_j / s.latency_s;
    let samples: Vec<SampleRecord> = (0..=((t1 + 1.0) * 4.0) as usize)
        .map(|k| {
            let t = k as f64 / 4.0;
            let w = if t < 5.0 {
                3.0
            } else if t < t0 {
                5.0
            } else {
                eval_w
            };
            SampleRecord { t_s: t, values: vec![Some(w)] }
        })
        .collect();
    store.store_batch(e.id, segment, &tasks, &samples).unwrap();
    for (name, a, b) in
        [("idle", 0.0, 5.0), ("load", 5.0, 9.0), ("warm-up", 9.0, t0), ("evaluation", t0, t1)]
    {
        let phase =
            PhaseRecord { segment, name: name.into(), t0_s: a, t1_s: b, energy: "{}".into() };
        store.store_phase(e.id, &phase).unwrap();
    }
    let lat: Vec<LatencyRecord> = s
        .latencies
        .iter()
        .enumerate()
        .map(|(i, l)| LatencyRecord {
            position: i as u64,
            segment,
            t_start_s: 100.0 + i as f64,
            t_end_s: 100.0 + i as f64 + l,
        })
        .collect();
    store.store_latencies(e.id, segment, &lat, &[]).unwrap();
    let figures = ExperimentFigures {
        tasks: n as u64,
        correct: s.verdicts.iter().filter(|v| **v).count() as u64,
        correct_norm: None,
        metric: Default::default(),
        eval_seconds: eval_s,
        eval_energy_j: Some(s.energy_j * n as f64),
        energy_quality: s.quality,
        idle_power_w: Some(3.0),
        tokens: 50 * n as u64,
        parameters: 134_515_008,
        nominal_parameters_b: None,
        task_latencies_s: s.latencies.clone(),
        rails: vec![],
    };
    let summary = Summary {
        labels: SummaryLabels {
            experiment: name.clone(),
            repeat: s.repeat,
            device: "Raspberry Pi 5".into(),
            runtime: "llama.cpp".into(),
            model: s.model.into(),
            parameters: 134_515_008,
            nominal_parameters_b: None,
            quantization: "Q4_1".into(),
            dataset: s.dataset.into(),
            dataset_metric: Default::default(),
        },
        convention: "lm-eval".into(),
        meter: "pi5-pmic".into(),
        boundary: "PMIC rails; misses the 5 V loads".into(),
        metrics: compute(&figures).unwrap(),
        coverage: Some(0.998),
        flags: if s.quality == EnergyQuality::Estimated {
            vec!["energy is estimated from a model, not measured".into()]
        } else {
            vec![]
        },
        host_overhead_s: 0.1,
        host_overhead_fraction: 0.01,
        conditions: None,
    };
    store.finish(e.id, "{}", &serde_json::to_string(&summary).unwrap()).unwrap();
}

/// Per-task latencies 0.100, 0.101, ..., 0.139 s, plus `shift`.
fn latencies(shift: f64) -> Vec<f64> {
    (0..40).map(|i| 0.100 + 0.001 * f64::from(i) + shift).collect()
}

/// Two stores: the baseline (model A: 4 repeats on winogrande, 1 on hellaswag, measured) and
/// the candidate (model B: 3 repeats on winogrande, 1 on hellaswag, estimated). The same
/// experiments are also written into one combined store.
pub fn stores(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let wino = table(20, 2, 9, 9);
    let hella = table(150, 25, 10, 15);
    assert_eq!((wino.len(), hella.len()), (WINO_TASKS, HELLA_TASKS));
    // Energy per inference and time per inference of each repeat.
    let base_e = [10.2, 10.5, 9.9, 10.4];
    let base_t = [0.250, 0.265, 0.245, 0.255];
    let cand_e = [11.1, 11.6, 11.3];
    let cand_t = [0.252, 0.268, 0.247];
    let mut specs = vec![];
    for r in 0..4 {
        specs.push((
            true,
            Spec {
                name: "a",
                model: "Model A",
                dataset: "winogrande",
                repeat: r,
                verdicts: wino.iter().map(|v| v.0).collect(),
                energy_j: base_e[r as usize],
                latency_s: base_t[r as usize],
                latencies: latencies(0.0),
                quality: EnergyQuality::Measured,
            },
        ));
    }
    for r in 0..3 {
        specs.push((
            false,
            Spec {
                name: "b",
                model: "Model B",
                dataset: "winogrande",
                repeat: r,
                verdicts: wino.iter().map(|v| v.1).collect(),
                energy_j: cand_e[r as usize],
                latency_s: cand_t[r as usize],
                latencies: latencies(0.020),
                quality: EnergyQuality::Estimated,
            },
        ));
    }
    for (base, model, name) in [(true, "Model A", "a"), (false, "Model B", "b")] {
        specs.push((
            base,
            Spec {
                name,
                model,
                dataset: "hellaswag",
                repeat: 0,
                verdicts: hella.iter().map(|v| if base { v.0 } else { v.1 }).collect(),
                energy_j: 20.0,
                latency_s: 0.5,
                latencies: latencies(0.0).iter().rev().copied().collect(),
                quality: if base { EnergyQuality::Measured } else { EnergyQuality::Estimated },
            },
        ));
    }
    let paths = (dir.join("a.sqlite"), dir.join("b.sqlite"), dir.join("both.sqlite"));
    let mut a = Store::open(&paths.0).unwrap();
    let mut b = Store::open(&paths.1).unwrap();
    let mut both = Store::open(&paths.2).unwrap();
    for (base, s) in &specs {
        add(if *base { &mut a } else { &mut b }, s);
        add(&mut both, s);
    }
    paths
}

pub fn joulebench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_joulebench")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() < tol
}

fn row<'a>(json: &'a serde_json::Value, dataset: &str, metric: &str) -> &'a serde_json::Value {
    json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["key"].as_array().unwrap().iter().any(|kv| kv[0] == "dataset" && kv[1] == dataset)
        })
        .unwrap_or_else(|| panic!("no cell for {dataset}"))["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == metric)
        .unwrap_or_else(|| panic!("no row {metric}"))
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn two_stores_compare_with_the_independently_worked_p_values_and_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = stores(dir.path());
    let (code, out, err) = joulebench(&[
        "compare",
        "--baseline-results",
        a.to_str().unwrap(),
        "--candidate-results",
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["compared"][0][0], "model");

    // Winogrande accuracy: 22/40 = 55 % against 29/40 = 72.5 %, 2 against 9 discordant.
    // statsmodels mcnemar([[20, 2], [9, 9]], exact=True).pvalue = 0.0654296875 (= scipy
    // binomtest(2, 11, 0.5)); Wald interval of the paired difference 0.175 ± 1.96·sqrt((11/40 −
    // 0.175²)/40) = [0.021804, 0.328196] (by hand, z from scipy.stats.norm.ppf(0.975)).
    let r = row(&json, "winogrande", "accuracy_pct");
    assert!(close(num(&r["baseline"]), 55.0, 1e-9) && close(num(&r["candidate"]), 72.5, 1e-9));
    assert!(close(num(&r["difference"]), 17.5, 1e-9));
    assert!(close(num(&r["p_value"]), 0.065_429_687_5, 1e-12), "{r}");
    assert!(
        close(num(&r["ci95"][0]), 2.180_433_268_96, 1e-7)
            && close(num(&r["ci95"][1]), 32.819_566_731_04, 1e-7)
    );
    assert_eq!(r["significant"], false);
    assert_eq!(r["test"], "mcnemar");

    // HellaSwag accuracy: 175/200 against 160/200, 25 against 10 discordant: statsmodels
    // mcnemar([[150, 25], [10, 15]], exact=False, correction=True).pvalue = 0.017960477526;
    // interval −0.075 ± 1.96·sqrt((35/200 − 0.075²)/200) = [−0.132037, −0.017963].
    let r = row(&json, "hellaswag", "accuracy_pct");
    assert!(close(num(&r["difference"]), -7.5, 1e-9));
    assert!(close(num(&r["p_value"]), 0.017_960_477_526_078_79, 1e-9), "{r}");
    assert!(
        close(num(&r["ci95"][0]), -13.203_714_087_13, 1e-7)
            && close(num(&r["ci95"][1]), -1.796_285_912_87, 1e-7)
    );
    assert_eq!(r["significant"], true);

    // Energy per inference over repeats: scipy.stats.ttest_ind([11.1, 11.6, 11.3],
    // [10.2, 10.5, 9.9, 10.4], equal_var=False): p = 0.0035049039604529, df = 4.588, and
    // .confidence_interval(0.95) = [0.5642771655796, 1.6023895010870].
    let r = row(&json, "winogrande", "energy_per_inference_j");
    assert!(
        close(num(&r["baseline"]), 10.25, 1e-9) && close(num(&r["candidate"]), 34.0 / 3.0, 1e-9)
    );
    assert!(close(num(&r["p_value"]), 0.003_504_903_960_452_9, 1e-8), "{r}");
    assert!(
        close(num(&r["ci95"][0]), 0.564_277_165_579_6, 1e-8)
            && close(num(&r["ci95"][1]), 1.602_389_501_087_0, 1e-8)
    );
    assert_eq!(r["significant"], true);
    assert_eq!(r["candidate_estimated"], true, "the candidate's energy is estimated");
    assert_eq!(r["baseline_estimated"], false, "the baseline's is measured");
    assert_eq!(r["n"], serde_json::json!([4, 3]));

    // Time per inference: ttest_ind([0.252, 0.268, 0.247], [0.250, 0.265, 0.245, 0.255],
    // equal_var=False): p = 0.8151116963683, interval [−0.0199374709783, 0.0237708043116].
    let r = row(&json, "winogrande", "latency_s_per_inference");
    assert!(close(num(&r["p_value"]), 0.815_111_696_368_279, 1e-8), "{r}");
    assert!(
        close(num(&r["ci95"][0]), -0.019_937_470_978_287_5, 1e-9)
            && close(num(&r["ci95"][1]), 0.023_770_804_311_620_8, 1e-9)
    );
    assert_eq!(r["significant"], false);

    // One run a side on hellaswag: values and change, no test.
    let r = row(&json, "hellaswag", "energy_per_inference_j");
    assert_eq!(r["test"], "none");
    assert!(r["p_value"].is_null());

    // Per-task p50: the candidate's latencies are the baseline's + 20 ms (pooled over repeats),
    // so the median moves by exactly 0.020 s; the seeded bootstrap's interval holds it and not 0.
    let r = row(&json, "winogrande", "latency_p50_s");
    assert!(close(num(&r["difference"]), 0.020, 1e-12));
    let (lo, hi) = (num(&r["ci95"][0]), num(&r["ci95"][1]));
    assert!(lo > 0.0 && lo < 0.020 && hi > 0.020, "{r}");
    assert_eq!(r["significant"], true);
    // Hellaswag's latencies are the same values on both sides: no change.
    let r = row(&json, "hellaswag", "latency_p50_s");
    assert_eq!(num(&r["difference"]), 0.0);
    assert_eq!(r["significant"], false);

    // The bootstrap repeats itself: the same seed, the same output.
    let (_, again, _) = joulebench(&[
        "compare",
        "--baseline-results",
        a.to_str().unwrap(),
        "--candidate-results",
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out, again);

    // The CI benchmark list: smaller-is-better values with name, unit, value.
    let bench = json["benchmark"].as_array().unwrap();
    let e = bench.iter().find(|e| e["name"] == "winogrande / energy_per_inference_j").unwrap();
    assert!(close(num(&e["value"]), 34.0 / 3.0, 1e-9) && e["unit"] == "J");
    let err = bench.iter().find(|e| e["name"] == "winogrande / error_pct").unwrap();
    assert!(close(num(&err["value"]), 27.5, 1e-9));
}

#[test]
fn the_gate_fails_only_on_significant_changes_beyond_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, both) = stores(dir.path());
    let both = both.to_str().unwrap();
    let gate = |rules: &[&str]| {
        let mut args = vec!["compare", "--results", both, "--by", "model", "--format", "md"];
        for r in rules {
            args.extend(["--fail-if", r]);
        }
        joulebench(&args)
    };
    // Energy +10.6 %, significant (p 0.0035): beyond +5 % fails, beyond +20 % does not.
    let (code, out, err) = gate(&["energy_per_inference > +5%"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("gate failed: energy_per_inference > +5% on") && err.contains("winogrande"),
        "{err}"
    );
    assert!(out.contains("- FAILED: `energy_per_inference > +5%`"), "{out}");
    let (code, _, err) = gate(&["energy_per_inference > +20%"]);
    assert_eq!(code, 0, "{err}");
    // Winogrande accuracy +17.5 pt is beyond +10 pt but not significant (p 0.065): passes.
    // HellaSwag's −7.5 pt is significant (p 0.018): `accuracy < -1pt` fails there alone.
    let (code, out, err) = gate(&["accuracy > +10pt"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = gate(&["accuracy < -1pt"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains(
            "- FAILED: `accuracy < -1pt` on hellaswag (accuracy_pct): change -7.500, significant"
        ),
        "{out}"
    );
    assert!(out.contains("- pass: `accuracy < -1pt` on winogrande"), "{out}");
    // Time per inference +0.6 % is beyond +0.1 % but not significant (p 0.82).
    let (code, _, err) = gate(&["latency_s_per_inference > +0.1%"]);
    assert_eq!(code, 0, "{err}");
    // Per-task p95 rose significantly by 20 ms.
    let (code, _, _) = gate(&["latency_p95 > 0.01"]);
    assert_eq!(code, 3);
    // HellaSwag's energy has one run a side: untested, so it cannot fail.
    let (code, out, _) = gate(&["total_energy > +1%"]);
    assert!(out.contains("pass (untested)"), "{out}");
    assert_eq!(code, 3, "winogrande's total energy rose significantly");
    // A misspelt rule is an error, not a pass.
    let (code, _, err) = gate(&["energy_per_infrence > +5%"]);
    assert_eq!(code, 1);
    assert!(err.contains("no metric \"energy_per_infrence\""), "{err}");
    let (code, _, err) = gate(&["energy_per_inference >> 5"]);
    assert_eq!(code, 1);
    assert!(err.contains("gate rule"), "{err}");
}

#[test]
fn selectors_choose_by_axis_id_and_run_and_say_what_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, both) = stores(dir.path());
    let both = both.to_str().unwrap();
    let md = |b: &str, c: &str| {
        joulebench(&["compare", "--results", both, "--baseline", b, "--candidate", c])
    };
    let (code, out, err) = md("model=Model A", "b");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Compared model: Model A → Model B."), "{out}");
    assert!(
        out.contains("| accuracy_pct | 55.00 | 72.50 | +17.50 pt | [+2.18, +32.82] pt | 0.065 |"),
        "{out}"
    );
    assert!(
        out.contains("| 10.2 | 11.3~ | **+1.08 J (+10.6 %)~** |"),
        "the significant change is bold: {out}"
    );
    // Runs 1-4 measured model A on winogrande (one run per experiment in the combined store).
    let (code, out, err) = md("run:1,dataset=winogrande", "b,dataset=winogrande");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Baseline: a/llama.cpp/Model A/winogrande/pi5."), "{out}");
    let (code, _, err) = md("model=Model C", "b");
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "chooses no finished experiment; the store holds: a/llama.cpp/Model A/winogrande/pi5,"
        ),
        "{err}"
    );
    let (code, _, err) = md("colour=red", "b");
    assert_eq!(code, 1);
    assert!(err.contains("unknown axis \"colour\""), "{err}");
    let (code, _, err) = joulebench(&["compare", "--results", both, "--by", "dataset"]);
    assert_eq!(code, 1);
    assert!(err.contains("--by dataset: results on different tasks are not comparable"), "{err}");
    let (code, out, _) =
        joulebench(&["compare", "--results", both, "--by", "model", "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("cell,metric,unit,baseline,candidate,difference"));
    assert!(out.lines().any(|l| l.starts_with("winogrande,accuracy_pct,%,55,72.5,17.5,")), "{out}");
}
