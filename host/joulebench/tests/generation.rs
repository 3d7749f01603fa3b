//! Generation experiments end to end: SmolLM2 through the manifest on both runtimes, with a small
//! llama-bench matrix and MMLU prompts, stored and reported.

use std::path::Path;

use joulebench::generation::{
    GenerationSummary, render, report_rows, stored_summaries, stored_traces,
};
use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};
use joulebench::store::Store;
use joulebench_metrics::EnergyQuality;

use crate::util::{built, data_dir, plugin_dir, smollm2};

fn manifest(results: &Path) -> String {
    for lib in [
        "joulebench_runtime_llama_cpp",
        "joulebench_runtime_burn",
        "joulebench_dataset_mmlu",
        "joulebench_meter_estimate",
    ] {
        built(lib);
    }
    format!(
        r#"
[settings]
results = "{results}"
plugin_dir = "{plugins}"
idle_s = 1

[[plugin]]
id = "llama"
kind = "runtime"
library = "joulebench_runtime_llama_cpp"
config = {{ threads = 1, context_size = 256 }}

[[plugin]]
id = "burn"
kind = "runtime"
library = "joulebench_runtime_burn"
config = {{ threads = 1, context_size = 256 }}

[[plugin]]
id = "mmlu"
kind = "dataset"
library = "joulebench_dataset_mmlu"
config = {{ data_dir = "{data}", shots = 0 }}

[[plugin]]
id = "estimate"
kind = "meter"
library = "joulebench_meter_estimate"

[[model]]
id = "smollm2"
path = "{model}"

[[experiment]]
id = "shapes"
workload = "generate"
runtime = ["llama", "burn"]
model = "smollm2"
meter = "estimate"
warmup_tasks = 1
sample_hz = 50
generate = {{ pp = [16, 32], tg = 4, pg = [[16, 4]], d = [0, 8], repetitions = 2 }}

[[experiment]]
id = "mmlu-answers"
workload = "generate"
runtime = "llama"
model = "smollm2"
dataset = "mmlu"
meter = "estimate"
limit = 3
warmup_tasks = 1
generate = {{ max_tokens = 4 }}
"#,
        results = results.display(),
        plugins = plugin_dir().display(),
        data = data_dir().display(),
        model = smollm2().display(),
    )
}

fn shape<'a>(
    s: &'a GenerationSummary,
    label: &str,
) -> &'a joulebench_measure::generation::ShapeSummary {
    s.shapes.iter().find(|x| x.label == label).unwrap_or_else(|| panic!("no shape {label}"))
}

#[test]
fn smollm2_generation_stores_and_reports_every_metric() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.sqlite");
    let m = Manifest::parse(&dir.path().join("plugins.toml"), manifest(&results)).unwrap();
    assert_eq!(m.experiments.len(), 3);
    let outcome = run(&m, &RunOptions::default()).unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert!(outcome.finished.is_empty(), "no scoring experiment");
    assert_eq!(outcome.generated.len(), 3);

    for s in outcome.generated.iter().filter(|s| s.experiment.starts_with("shapes")) {
        let labels: Vec<&str> = s.shapes.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "pp16",
                "pp32",
                "tg4",
                "pp16+tg4",
                "pp16 @ d8",
                "pp32 @ d8",
                "tg4 @ d8",
                "pp16+tg4 @ d8"
            ],
            "{}",
            s.runtime
        );
        assert_eq!(s.quality, EnergyQuality::Estimated);
        assert!(s.idle_w.is_some_and(|w| w > 0.0));
        assert!(s.load.seconds > 0.0 && s.load.gross_j.is_some_and(|j| j > 0.0), "{:?}", s.load);
        assert!(s.model_memory_bytes.is_some() && s.peak_rss_bytes.is_some_and(|b| b > 50 << 20));
        assert!(s.model_file_bytes > 50 << 20);
        for x in &s.shapes {
            assert_eq!(x.requests, 2, "{}", x.label);
            assert!(x.ttft_s.is_some_and(|t| t.mean > 0.0));
            assert!(x.end_to_end_s.is_some_and(|t| t.mean >= x.ttft_s.unwrap().mean));
            let prefill = x.prefill.as_ref().unwrap();
            assert!(prefill.gross_j.is_some_and(|j| j > 0.0), "{}: {prefill:?}", x.label);
            assert!(prefill.active_j.is_some());
            assert!(x.prefill_tokens_per_s.is_some_and(|r| r.mean > 0.0));
        }
        // prompt tokens are exactly the shape's; a tg shape's prompt is one token
        assert_eq!(shape(s, "pp32").prompt_tokens, 32.0);
        assert_eq!(shape(s, "tg4 @ d8").prompt_tokens, 1.0);
        // tg N: the first token and N decode steps, past any end-of-generation
        let tg = shape(s, "tg4");
        assert_eq!(tg.generated_tokens, 5.0);
        let decode = tg.decode.as_ref().unwrap();
        assert_eq!(decode.tokens, 8, "4 steps x 2 repetitions");
        assert!(decode.gross_per_token().is_some_and(|j| j > 0.0));
        assert!(tg.decode_tokens_per_s.is_some_and(|r| r.mean > 0.0));
        assert!(tg.itl_p50_s.unwrap() <= tg.itl_p95_s.unwrap());
        assert!(tg.itl_p95_s.unwrap() <= tg.itl_p99_s.unwrap());
        assert!(shape(s, "pp16").decode.is_none(), "a pp shape has no decode");
    }

    let mmlu = outcome.generated.iter().find(|s| s.experiment == "mmlu-answers").unwrap();
    assert_eq!(mmlu.shapes.len(), 1);
    assert_eq!(mmlu.shapes[0].requests, 3);
    assert!(mmlu.shapes[0].generated_tokens <= 4.0);
    assert_eq!(mmlu.correct.map(|c| c.1), Some(3));

    // the store holds every request with its token times, and reports them again
    let store = Store::open(&results).unwrap();
    let stored = stored_summaries(&store).unwrap();
    assert_eq!(stored, outcome.generated);
    let table = render(&stored);
    assert!(table.contains("| test | pp t/s | tg t/s | TTFT ms |"), "{table}");
    assert!(table.contains("| tg4 @ d8 |"), "{table}");
    assert!(table.contains("llama (llama.cpp)") && table.contains("burn (burn)"), "{table}");

    // the plots: decode energy against speed, and each trace with prefill and decode bands
    let traces = stored_traces(&store).unwrap();
    assert_eq!(traces.len(), 3);
    let bands = |name: &str| traces[0].trace.phases.iter().filter(|p| p.name == name).count();
    assert_eq!(bands("load"), 1);
    assert_eq!(bands("prefill"), 8 * 2, "one per measured request");
    assert_eq!(bands("decode"), 4 * 2, "tg and pg shapes decode");
    let plots = dir.path().join("plots");
    let files =
        joulebench_report::render_generation_plots(&report_rows(&stored), &traces, &plots).unwrap();
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&"decode_energy_vs_speed.svg".to_string()), "{names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("generation_trace_")).count(), 6);

    // a second run finds them done and measures nothing again
    let again = run(&m, &RunOptions::default()).unwrap();
    assert_eq!(again.generated, outcome.generated);
}
