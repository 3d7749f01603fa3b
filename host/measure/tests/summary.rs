//! The measurement core on hand-made records: a meter of known power, windows with and without
//! gaps, and the flags each rule raises.

use std::collections::BTreeMap;

use joulebench_abi::{MeterInfo, Quality, RailInfo, RailKind, RailRole};
use joulebench_measure::records::phase;
use joulebench_measure::summary::ExperimentRecords;
use joulebench_measure::{
    IdleBaseline, PhaseRecord, SampleRecord, SummaryLabels, TaskRecord, summarize,
};
use joulebench_metrics::{AccuracyMetric, EnergyQuality};

fn meter(quality: Quality) -> MeterInfo {
    MeterInfo {
        name: "test".into(),
        boundary: "test".into(),
        rails: vec![RailInfo {
            name: "in".into(),
            kind: RailKind::POWER,
            role: RailRole::TOTAL,
            quality,
            description: "d".into(),
        }]
        .into(),
        update_interval_s: 0.0,
    }
}

fn task(position: u64, t0: f64, t1: f64, correct: bool) -> TaskRecord {
    TaskRecord {
        position,
        task_id: position.to_string(),
        group: "g".into(),
        gold: 0,
        predicted: u32::from(!correct),
        correct,
        predicted_norm: None,
        correct_norm: None,
        prompt_tokens: 100,
        segment: 0,
        batch: position,
        t_start_s: t0,
        t_end_s: t1,
        latency_s: t1 - t0,
        scores: vec![],
    }
}

fn phase_at(name: &str, t0: f64, t1: f64) -> PhaseRecord {
    PhaseRecord { segment: 0, name: name.into(), t0_s: t0, t1_s: t1, energy: "{}".into() }
}

/// 10 Hz samples of `watts(t)` from 0 to `until` s, leaving out those inside `hole`.
fn samples(until: f64, hole: (f64, f64), watts: impl Fn(f64) -> f64) -> Vec<SampleRecord> {
    (0..=(until * 10.0) as usize)
        .map(|i| i as f64 / 10.0)
        .filter(|t| !(*t > hole.0 && *t < hole.1))
        .map(|t| SampleRecord { t_s: t, values: vec![Some(watts(t))] })
        .collect()
}

fn labels() -> SummaryLabels {
    SummaryLabels {
        experiment: "e".into(),
        repeat: 0,
        device: "d".into(),
        runtime: "r".into(),
        model: "m".into(),
        parameters: 1_000_000_000,
        nominal_parameters_b: None,
        quantization: "q".into(),
        dataset: "winogrande".into(),
        dataset_metric: AccuracyMetric::Acc,
    }
}

fn records<'a>(
    tasks: &'a [TaskRecord],
    phases: &'a [PhaseRecord],
    samples: &'a BTreeMap<u32, Vec<SampleRecord>>,
    meter: &'a MeterInfo,
) -> ExperimentRecords<'a> {
    ExperimentRecords {
        tasks,
        phases,
        latencies: &[],
        idle: None,
        caveats: &[],
        samples,
        meter,
        sample_hz: 10.0,
        convention: "lm-eval",
        host_overhead_s: 0.5,
    }
}

#[test]
fn a_covered_window_integrates_the_known_power_and_subtracts_idle() {
    // 12 W while 4 tasks run from 20 s to 100 s, against an idle baseline of 2 W over 60 s.
    let watts = |t: f64| if t < 15.0 { 2.0 } else { 12.0 };
    let tasks: Vec<TaskRecord> = (0..4)
        .map(|i| task(i, 20.0 + 20.0 * i as f64, 40.0 + 20.0 * i as f64, i % 2 == 0))
        .collect();
    let phases = [phase_at(phase::EVALUATION, 20.0, 100.0)];
    let samples = BTreeMap::from([(0, samples(110.0, (0.0, 0.0), watts))]);
    let m = meter(Quality::MEASURED);
    let (idle, short) = (baseline(2.0, 60.0), baseline(2.0, 20.0));
    let with_idle =
        |idle| ExperimentRecords { idle: Some(idle), ..records(&tasks, &phases, &samples, &m) };
    let s = summarize(with_idle(&idle), labels()).unwrap();
    let got = &s.metrics;
    assert_eq!((got.tasks, got.correct), (4, 2));
    assert!((got.eval_time_s - 80.0).abs() < 1e-9);
    assert!((got.total_energy_j.unwrap() - 960.0).abs() < 1e-6, "{:?}", got.total_energy_j);
    assert_eq!(got.idle_power_w, Some(2.0));
    assert!((got.active_energy_j.unwrap() - (960.0 - 2.0 * 80.0)).abs() < 1e-6);
    assert_eq!(got.energy_quality, EnergyQuality::Measured);
    assert_eq!(s.coverage, Some(1.0));
    assert!(s.flags.is_empty(), "{:?}", s.flags);
    assert!((s.host_overhead_fraction - 0.5 / 80.0).abs() < 1e-12);

    // The same baseline over 20 s: the same figures, flagged as a short idle.
    let s = summarize(with_idle(&short), labels()).unwrap();
    assert_eq!(s.metrics.idle_power_w, Some(2.0));
    assert_eq!(s.flags.len(), 1, "{:?}", s.flags);
    assert!(s.flags[0].starts_with("short idle: the idle baseline lasted 20.0 s"), "{:?}", s.flags);
}

fn baseline(watts: f64, seconds: f64) -> IdleBaseline {
    IdleBaseline {
        meter: "m".into(),
        when: "before".into(),
        unix_start_s: 0.0,
        seconds,
        median_w: Some(watts),
        q1_w: Some(watts),
        q3_w: Some(watts),
        samples: 600,
    }
}

#[test]
fn a_gap_is_extrapolated_and_flagged_and_a_short_drifting_window_is_flagged() {
    // 10 W, with no samples from 30 s to 40 s of an evaluation from 20 s to 70 s (20 % missing),
    // and power rising to 11 W in the last third.
    let watts = |t: f64| if t > 55.0 { 11.0 } else { 10.0 };
    let tasks = [task(0, 20.0, 70.0, true)];
    let phases = [phase_at(phase::EVALUATION, 20.0, 70.0)];
    let samples = BTreeMap::from([(0, samples(80.0, (30.0, 40.0), watts))]);
    let m = meter(Quality::ESTIMATED);
    let s = summarize(records(&tasks, &phases, &samples, &m), labels()).unwrap();
    let coverage = s.coverage.unwrap();
    assert!(coverage > 0.75 && coverage < 0.85, "{coverage}");
    let joules = s.metrics.total_energy_j.unwrap();
    // The covered mean power over the whole 50 s window.
    assert!(joules > 500.0 && joules < 550.0, "{joules}");
    assert_eq!(s.metrics.energy_quality, EnergyQuality::Estimated);
    let flags = s.flags.join(" | ");
    for want in ["extrapolated", "short window: 50.0 s", "power drift", "estimated"] {
        assert!(flags.contains(want), "{want:?} missing from {flags}");
    }
}

#[test]
fn too_little_coverage_is_unavailable_and_an_unknown_quality_is_never_measured() {
    let tasks = [task(0, 20.0, 80.0, true)];
    let phases = [phase_at(phase::EVALUATION, 20.0, 80.0)];
    // Samples only up to 40 s: a third of the window.
    let samples = BTreeMap::from([(0, samples(40.0, (0.0, 0.0), |_| 5.0))]);
    let m = meter(Quality::MEASURED);
    let s = summarize(records(&tasks, &phases, &samples, &m), labels()).unwrap();
    assert_eq!(s.metrics.total_energy_j, None);
    assert_eq!(s.metrics.energy_quality, EnergyQuality::Unavailable);
    assert!(s.flags.iter().any(|f| f.contains("energy unavailable")), "{:?}", s.flags);

    let samples = BTreeMap::from([(0, samples_full())]);
    let m = meter(Quality(42));
    let s = summarize(records(&tasks, &phases, &samples, &m), labels()).unwrap();
    assert_eq!(s.metrics.energy_quality, EnergyQuality::Unknown);
    assert!(s.flags.iter().any(|f| f.contains("does not know")), "{:?}", s.flags);
}

fn samples_full() -> Vec<SampleRecord> {
    samples(90.0, (0.0, 0.0), |_| 5.0)
}
