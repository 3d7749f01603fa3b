//! The metric set on a small experiment worked out by hand.

use joulebench_metrics::{AccuracyMetric, EnergyQuality, ExperimentFigures, RailEnergy, compute};

fn figures() -> ExperimentFigures {
    ExperimentFigures {
        tasks: 4,
        correct: 3,
        correct_norm: Some(2),
        metric: AccuracyMetric::Acc,
        eval_seconds: 8.0,
        eval_energy_j: Some(720.0),
        energy_quality: EnergyQuality::Measured,
        idle_power_w: Some(50.0),
        tokens: 400,
        parameters: 2_000_000_000,
        nominal_parameters_b: None,
        task_latencies_s: vec![1.0, 2.0, 3.0, 2.0],
        rails: vec![
            RailEnergy { name: "cpu".into(), energy_j: Some(360.0) },
            RailEnergy { name: "gpu".into(), energy_j: None },
        ],
    }
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("value present");
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn every_formula_on_a_hand_worked_run() {
    let m = compute(&figures()).unwrap();
    // N = 4, 3 correct: 75 %, sigma = 100 sqrt(0.75 * 0.25 / 3) = 25.
    assert_eq!(m.accuracy_metric, AccuracyMetric::Acc);
    close(Some(m.accuracy_pct), 75.0);
    close(m.accuracy_stderr_pct, 25.0);
    close(m.acc_pct, 75.0);
    // acc_norm 2/4 = 50 %, sigma = 100 sqrt(0.25 / 3) = 28.8675...
    close(m.acc_norm_pct, 50.0);
    close(m.acc_norm_stderr_pct, 28.867_513_459_481_29);
    // T = 8 s: 2 s per inference, 0.5 inferences/s, 400 tokens -> 50 tokens/s.
    close(Some(m.latency_s_per_inference), 2.0);
    close(Some(m.throughput_inferences_per_s), 0.5);
    close(Some(m.tokens_per_s), 50.0);
    // Latencies sorted 1, 2, 2, 3: p50 = 2; p95 rank 2.85 -> 2 + 0.85 = 2.85.
    close(m.latency_p50_s, 2.0);
    close(m.latency_p95_s, 2.85);
    // E = 720 J = 0.2 Wh; 180 J = 0.05 Wh per inference; 90 W average.
    close(m.total_energy_j, 720.0);
    close(m.total_energy_wh, 0.2);
    close(m.energy_per_inference_j, 180.0);
    close(m.energy_per_inference_wh, 0.05);
    close(m.average_power_w, 90.0);
    // Active: 720 - 50 W * 8 s = 320 J, 80 J per inference.
    close(m.active_energy_j, 320.0);
    close(m.active_energy_wh, 320.0 / 3600.0);
    close(m.active_energy_per_inference_j, 80.0);
    // EDP 720 * 8 = 5760 J s; per inference 180 * 2 = 360; per billion (2 B) 2880.
    close(m.edp_js, 5760.0);
    close(m.edp_per_inference_js, 360.0);
    close(m.edp_per_billion_js, 2880.0);
    // 0.2 Wh / 2 B = 0.1 Wh/B; 400 tokens / 0.2 Wh = 2000; 75 % / 0.2 Wh = 375; 720 J / 3 = 240 J.
    close(m.wh_per_billion, 0.1);
    close(m.tokens_per_wh, 2000.0);
    close(m.accuracy_pct_per_wh, 375.0);
    close(m.energy_per_correct_j, 240.0);
    // Rails: cpu 360 J = 0.1 Wh, 90 J per inference, 45 W; gpu unavailable, not zero.
    assert_eq!(m.rails.len(), 2);
    close(m.rails[0].energy_wh, 0.1);
    close(m.rails[0].energy_per_inference_j, 90.0);
    close(m.rails[0].average_power_w, 45.0);
    assert_eq!(m.rails[1].energy_j, None);
    assert_eq!(m.rails[1].average_power_w, None);
    assert_eq!(m.energy_quality, EnergyQuality::Measured);

    let rows = m.rows();
    let find = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
    assert_eq!(find("edp_js").unit, "J*s");
    assert_eq!(find("edp_js").value, Some(5760.0));
    assert_eq!(find("rail_gpu_energy_j").value, None);
    assert_eq!(find("rail_cpu_average_power_w").value, Some(45.0));
    assert_eq!(rows.len(), 34 + 2 * 4);
}

#[test]
fn unavailable_energy_stays_unavailable() {
    let mut f = figures();
    f.eval_energy_j = None;
    f.energy_quality = EnergyQuality::Unavailable;
    f.correct = 0;
    f.task_latencies_s.clear();
    let m = compute(&f).unwrap();
    assert_eq!(m.accuracy_pct, 0.0);
    assert_eq!(m.accuracy_stderr_pct, Some(0.0));
    assert_eq!(m.latency_p50_s, None);
    for v in [
        m.total_energy_j,
        m.energy_per_inference_j,
        m.active_energy_j,
        m.average_power_w,
        m.edp_js,
        m.edp_per_billion_js,
        m.wh_per_billion,
        m.tokens_per_wh,
        m.accuracy_pct_per_wh,
        m.energy_per_correct_j,
    ] {
        assert_eq!(v, None);
    }
    // Throughput needs no meter.
    assert_eq!(m.tokens_per_s, 50.0);
}

#[test]
fn nothing_correct_has_no_energy_per_correct_answer() {
    let mut f = figures();
    f.correct = 0;
    let m = compute(&f).unwrap();
    assert_eq!(m.energy_per_correct_j, None);
    assert_eq!(m.accuracy_pct_per_wh, Some(0.0));
}

#[test]
fn figures_that_cannot_describe_a_run_are_refused() {
    let err = |f: ExperimentFigures| compute(&f).unwrap_err().to_string();
    let mut f = figures();
    f.tasks = 0;
    assert_eq!(err(f), "field tasks is 0: an experiment needs at least one task");
    let mut f = figures();
    f.correct = 5;
    assert_eq!(err(f), "field correct is 5 for 4 tasks");
    let mut f = figures();
    f.eval_seconds = 0.0;
    assert_eq!(err(f), "field eval_seconds is 0: it must be a positive number of seconds");
    let mut f = figures();
    f.eval_energy_j = Some(-1.0);
    assert_eq!(
        err(f),
        "field eval_energy_j is -1: it must be a finite number of joules, 0 or more"
    );
    let mut f = figures();
    f.energy_quality = EnergyQuality::Unavailable;
    assert_eq!(err(f), "field energy_quality is unavailable but eval_energy_j has a value");
    let mut f = figures();
    f.eval_energy_j = None;
    assert_eq!(err(f), "field energy_quality is measured but eval_energy_j is missing");
    let mut f = figures();
    f.rails[1].energy_j = Some(f64::NAN);
    assert_eq!(
        err(f),
        "field rails[1] (gpu) energy_j is NaN: it must be a finite number of joules, 0 or more"
    );
}

#[test]
fn figures_round_trip_through_json() {
    let f = figures();
    let json = serde_json::to_string(&f).unwrap();
    assert!(json.contains("\"energy_quality\":\"measured\""));
    let back: ExperimentFigures = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f);
    let m = compute(&f).unwrap();
    let mj = serde_json::to_value(&m).unwrap();
    assert_eq!(mj["edp_per_billion_js"], 2880.0);
    assert!(mj["rails"][1]["energy_j"].is_null());
}

#[test]
fn a_benchmark_whose_metric_is_acc_norm_is_counted_by_it() {
    // HellaSwag names acc_norm: 2 of 4 correct by it, 3 by acc.
    let m = compute(&ExperimentFigures { metric: AccuracyMetric::AccNorm, ..figures() }).unwrap();
    assert_eq!(m.accuracy_metric, AccuracyMetric::AccNorm);
    assert_eq!(m.correct, 2);
    close(Some(m.accuracy_pct), 50.0);
    close(m.accuracy_stderr_pct, 28.867_513_459_481_29);
    close(m.acc_pct, 75.0);
    close(m.acc_norm_pct, 50.0);
    // 50 % / 0.2 Wh = 250; 720 J / 2 correct = 360 J.
    close(m.accuracy_pct_per_wh, 250.0);
    close(m.energy_per_correct_j, 360.0);

    // A convention without acc_norm (llama.cpp's own score) falls back to acc, and says so.
    let f = ExperimentFigures { metric: AccuracyMetric::AccNorm, correct_norm: None, ..figures() };
    let m = compute(&f).unwrap();
    assert_eq!(m.accuracy_metric, AccuracyMetric::Acc);
    close(Some(m.accuracy_pct), 75.0);
    assert_eq!(m.acc_norm_pct, None);
}

#[test]
fn per_billion_figures_divide_by_the_nominal_size_when_given() {
    // 720 J = 0.2 Wh over 8 s; counted 2.0 B, nominal 0.5 B.
    let m = compute(&figures()).unwrap();
    assert_eq!(m.per_billion_basis.as_str(), "counted");
    close(m.wh_per_billion, 0.2 / 2.0);
    close(m.edp_per_billion_js, 720.0 * 8.0 / 2.0);
    let m = compute(&ExperimentFigures { nominal_parameters_b: Some(0.5), ..figures() }).unwrap();
    assert_eq!(m.per_billion_basis.as_str(), "nominal");
    assert_eq!((m.parameters_b, m.nominal_parameters_b), (2.0, Some(0.5)));
    close(m.wh_per_billion, 0.2 / 0.5);
    close(m.edp_per_billion_js, 720.0 * 8.0 / 0.5);
}
