//! Reports from a small hand-made input; every expected cell is worked out by hand.

use joulebench_metrics::{AccuracyMetric, EnergyQuality, ExperimentFigures, RailEnergy, compute};
use joulebench_report::{
    ExperimentRow, Phase, PowerTrace, ReportInput, RunConditions, pareto_front, render_csv,
    render_json, render_markdown, render_plots,
};

#[allow(clippy::too_many_arguments)]
fn run(
    device: &str,
    dataset: &str,
    n: u64,
    correct: u64,
    seconds: f64,
    wh: f64,
    tokens: u64,
    quality: EnergyQuality,
) -> ExperimentRow {
    let figures = ExperimentFigures {
        tasks: n,
        correct,
        correct_norm: None,
        metric: Default::default(),
        eval_seconds: seconds,
        eval_energy_j: Some(wh * 3600.0),
        energy_quality: quality,
        idle_power_w: None,
        tokens,
        parameters: 1_100_000_000,
        nominal_parameters_b: None,
        task_latencies_s: vec![],
        rails: vec![],
    };
    ExperimentRow {
        id: format!("{device}/{dataset}"),
        device: device.into(),
        model: "Tiny".into(),
        parameters: 1_100_000_000,
        runtime: "llama.cpp".into(),
        dataset: dataset.into(),
        convention: "llama-cpp".into(),
        meter: if quality == EnergyQuality::Estimated { "estimate".into() } else { "pmic".into() },
        metrics: compute(&figures).unwrap(),
        trace: None,
        conditions: None,
    }
}

fn input() -> ReportInput {
    let mut a = run("Pi 5", "mmlu", 1000, 394, 4060.0, 9.07, 1000, EnergyQuality::Measured);
    let f = ExperimentFigures {
        tasks: 1000,
        correct: 394,
        correct_norm: None,
        metric: Default::default(),
        eval_seconds: 4060.0,
        eval_energy_j: Some(9.07 * 3600.0),
        energy_quality: EnergyQuality::Measured,
        idle_power_w: None,
        tokens: 1000,
        parameters: 1_100_000_000,
        nominal_parameters_b: None,
        task_latencies_s: vec![],
        rails: vec![RailEnergy { name: "cpu".into(), energy_j: Some(20000.0) }],
    };
    a.metrics = compute(&f).unwrap();
    let mut b = run("Pi 5", "winogrande", 500, 308, 1120.0, 2.46, 35000, EnergyQuality::Measured);
    b.trace = Some(PowerTrace {
        samples: (0..=200).map(|i| (i as f64 * 0.5, 3.0 + (i % 7) as f64)).collect(),
        phases: vec![
            Phase { name: "idle".into(), start_s: 0.0, end_s: 20.0 },
            Phase { name: "load".into(), start_s: 20.0, end_s: 30.0 },
            Phase { name: "warm-up".into(), start_s: 30.0, end_s: 35.0 },
            Phase { name: "evaluation".into(), start_s: 35.0, end_s: 100.0 },
        ],
    });
    let mut c = run("Laptop", "hellaswag", 400, 150, 400.0, 0.5, 48000, EnergyQuality::Estimated);
    // HellaSwag's headline is acc_norm: 170 correct by it, 150 by acc.
    c.metrics = compute(&ExperimentFigures {
        tasks: 400,
        correct: 150,
        correct_norm: Some(170),
        metric: AccuracyMetric::AccNorm,
        eval_seconds: 400.0,
        eval_energy_j: Some(0.5 * 3600.0),
        energy_quality: EnergyQuality::Estimated,
        idle_power_w: None,
        tokens: 48000,
        parameters: 1_100_000_000,
        nominal_parameters_b: None,
        task_latencies_s: vec![],
        rails: vec![],
    })
    .unwrap();
    ReportInput { experiments: vec![a, b, c] }
}

#[test]
fn pareto_front_on_a_hand_built_set() {
    // By energy: (0.5, 30) front; (1, 50) front; (1.5, 40) beaten by (1, 50); (2, 60) front;
    // its duplicate (index 5) not; (3, 55) beaten by (2, 60); (4, 70) front; NaN ignored.
    let points = [
        (1.0, 50.0),
        (2.0, 60.0),
        (1.5, 40.0),
        (3.0, 55.0),
        (0.5, 30.0),
        (2.0, 60.0),
        (4.0, 70.0),
        (f64::NAN, 99.0),
    ];
    assert_eq!(pareto_front(&points), vec![4, 0, 1, 6]);
    // Equal energy: only the more accurate point is on the front.
    assert_eq!(pareto_front(&[(1.0, 10.0), (1.0, 20.0)]), vec![1]);
    assert_eq!(pareto_front(&[]), Vec::<usize>::new());
}

#[test]
fn markdown_in_the_study_layout() {
    let md = render_markdown(&input());
    // Accuracy: 39.40 ± 100 sqrt(.394 .606 / 999) = 1.546; 61.60 ± 2.177; 42.50 ± 2.475.
    // Energy as given; latency T/N: 4.06, 2.24, 1.00. EDP: 32652 J x 4060 s = 1.3257e8;
    // 8856 x 1120 = 9.919e6; 1800 x 400 = 7.2e5 (estimated: marked ~).
    let expected_table1 = "\
| Device | Model | Acc M (%) | Acc H (%) | Acc W (%) | Energy M (Wh) | Energy H (Wh) | Energy W (Wh) | Latency T/N M (s) | Latency T/N H (s) | Latency T/N W (s) | EDP M (J·s) | EDP H (J·s) | EDP W (J·s) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| Pi 5 | Tiny | 39.40 ± 1.55 | – | 61.60 ± 2.18 | 9.07 | – | 2.46 | 4.06 | – | 2.24 | 1.33e8 | – | 9.92e6 |
| Laptop | Tiny | – | 42.50 ± 2.47 | – | – | 0.500~ | – | – | 1.00 | – | – | 7.20e5~ | – |
";
    assert!(md.contains(expected_table1), "{md}");
    // Throughput: 1000 / 4060 s = 0.246/s, one token per question; 32652 J / 4060 s = 8.04 W,
    // 32.65 J per inference; no per-task latencies -> "–".
    assert!(
        md.contains("| Pi 5 | Tiny | mmlu | 1000 | 0.246 | 0.246 | – | – | – | 8.04 | 32.7 |"),
        "{md}"
    );
    // 400 / 400 s = 1/s; 48000 tokens / 400 s = 120/s; 1800 J / 400 s = 4.5 W; 4.5 J each.
    assert!(
        md.contains("| Laptop | Tiny | hellaswag | 400 | 1.00 | 120 | – | – | – | 4.50~ | 4.50~ |"),
        "{md}"
    );
    // Per billion, mean over the row's benchmarks: Wh/B (9.07 + 2.46) / 2 / 1.1 = 5.24;
    // EDP/B (1.3257e8 + 9.919e6) / 2 / 1.1 = 6.48e7; tokens/Wh (110.25 + 14227.6) / 2 = 7169;
    // accuracy/Wh (4.344 + 25.04) / 2 = 14.7.
    assert!(md.contains("| Pi 5 | Tiny | 1.10 | – | 5.24 | 6.48e7 | 7169 | 14.7 |"), "{md}");
    // 0.5 / 1.1 = 0.455; 7.2e5 / 1.1 = 6.55e5; 48000 / 0.5 = 96000; 42.5 / 0.5 = 85.
    assert!(
        md.contains("| Laptop | Tiny | 1.10 | – | 0.455~ | 6.55e5~ | 96000~ | 85.0~ |"),
        "{md}"
    );
    assert!(md.contains("~ = computed from estimated energy"));
    assert!(md.contains("M = mmlu, H = hellaswag, W = winogrande"));
    // HellaSwag's column holds acc_norm (170/400), not acc (150/400), and the legend says so.
    assert!(
        md.contains(
            "Accuracy is each benchmark's own metric: mmlu acc, hellaswag acc_norm, winogrande acc."
        ),
        "{md}"
    );
}

#[test]
fn repeated_runs_are_averaged_and_marked() {
    let mut input = input();
    let mut again = input.experiments[0].clone();
    // A second run of the same cell with 10.07 Wh: the table shows the mean, 9.57, marked,
    // with its 95 % t-interval: s = 0.7071, t(0.975, 1) = 12.706, 12.706 * 0.7071 / sqrt(2) = 6.35.
    again.metrics.total_energy_wh = Some(10.07);
    input.experiments.push(again);
    let md = render_markdown(&input);
    assert!(md.contains("| 9.57 ± 6.35† |"), "{md}");
}

#[test]
fn csv_has_one_line_per_experiment_and_units_in_names() {
    let csv = render_csv(&input());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(
        &header[..13],
        &[
            "id",
            "device",
            "model",
            "parameters",
            "runtime",
            "dataset",
            "convention",
            "meter",
            "energy_quality",
            "accuracy_metric",
            "tasks",
            "correct",
            "accuracy_pct"
        ]
    );
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row = |i: usize| lines[i].split(',').collect::<Vec<&str>>();
    assert_eq!(row(3)[col("energy_quality")], "estimated");
    assert_eq!(row(3)[col("accuracy_metric")], "acc_norm");
    assert_eq!(row(3)[col("accuracy_pct")], "42.5");
    assert_eq!(row(3)[col("acc_pct")], "37.5");
    assert_eq!(row(3)[col("total_energy_j")], "1800");
    assert_eq!(row(1)[col("edp_js")], (9.07 * 3600.0 * 4060.0).to_string());
    // Only the first experiment has a cpu rail; the others leave it empty, not 0.
    assert_eq!(row(1)[col("rail_cpu_energy_j")], "20000");
    assert_eq!(row(2)[col("rail_cpu_energy_j")], "");
    assert_eq!(row(1)[col("latency_p50_s")], "");
    assert!(header.iter().all(|h| !h.is_empty()));
    assert_eq!(row(2).len(), header.len());
}

#[test]
fn json_lists_experiments_with_their_metric_sets() {
    let json = render_json(&input()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let e = v["experiments"].as_array().unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e[2]["metrics"]["energy_quality"], "estimated");
    assert_eq!(e[2]["metrics"]["total_energy_j"], 1800.0);
    assert!(e[0]["metrics"]["latency_p95_s"].is_null());
    assert!(e[1].get("trace").is_none());
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn plots_are_written_as_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plots");
    let paths = render_plots(&input(), &out).unwrap();
    let names: Vec<String> =
        paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "accuracy_vs_energy.svg",
            "accuracy_vs_energy.png",
            "power_trace_2_pi-5-winogrande.svg",
            "power_trace_2_pi-5-winogrande.png",
            "tokens_per_wh.svg",
            "tokens_per_wh.png",
        ]
    );
    let sizes = [(1120, 650), (1000, 500), (1000, 150 + 34 * 3)];
    for (k, size) in sizes.iter().enumerate() {
        let png = std::fs::read(&paths[2 * k + 1]).unwrap();
        assert_eq!(png_size(&png), *size, "{}", paths[2 * k + 1].display());
        assert!(png.len() > 8000, "{} is nearly empty", paths[2 * k + 1].display());
    }
    let svg = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(svg.starts_with("<svg"));
    for text in [
        "Accuracy against energy per inference",
        "Energy per inference (J)",
        "Accuracy (%)",
        "Pareto front (per benchmark)",
        "hollow: estimated energy",
        "winogrande",
    ] {
        assert!(svg.contains(text), "the scatter plot lacks {text:?}");
    }
    let trace = std::fs::read_to_string(&paths[2]).unwrap();
    for text in ["warm-up", "evaluation", "Total power (W)", "Time since start (s)", "meter: "] {
        assert!(trace.contains(text), "the trace plot lacks {text:?}");
    }
    let bars = std::fs::read_to_string(&paths[4]).unwrap();
    // 48000 tokens / 0.5 Wh = 96000, marked as estimated in its label.
    assert!(bars.contains("Tiny · Laptop · hellaswag ~"));
    assert!(bars.contains("96000"));
}

#[test]
fn nothing_to_plot_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let paths = render_plots(&ReportInput::default(), dir.path()).unwrap();
    assert!(paths.is_empty());
    assert_eq!(
        render_markdown(&ReportInput::default()),
        "# joulebench report\n\nNo experiments.\n"
    );
}

#[test]
fn a_throttled_run_is_marked_in_every_table_and_its_conditions_listed() {
    let mut input = input();
    let plain = render_markdown(&input);
    assert!(!plain.contains("‡") && !plain.contains("## Conditions"));
    input.experiments[0].conditions = Some(RunConditions {
        power_mode: None,
        governor: Some("ondemand".into()),
        max_temp_c: Some(82.4),
        mean_temp_c: Some(78.25),
        throttled_fraction: Some(0.4),
        capped_fraction: Some(0.4),
        throttled: true,
        flags: vec!["throttled: throttle flags rose during the run (throttled)".into()],
        mode: None,
        trace: None,
    });
    input.experiments[2].conditions =
        Some(RunConditions { power_mode: Some("15W (id 0)".into()), ..Default::default() });
    let md = render_markdown(&input);
    assert!(md.contains("‡ = the board throttled during the run"), "{md}");
    // The Pi 5 MMLU run is marked in tables 1, 2 and 3; the Laptop run nowhere.
    for table in ["## Accuracy", "## Throughput", "## Per billion"] {
        let start = md.find(table).unwrap();
        let body = &md[start..];
        let body = &body[..body[3..].find("\n## ").map_or(body.len(), |e| e + 3)];
        let pi = body.lines().find(|l| l.starts_with("| Pi 5 |")).unwrap();
        assert!(pi.contains("‡"), "{table}: {pi}");
        assert!(body.lines().filter(|l| l.starts_with("| Laptop |")).all(|l| !l.contains("‡")));
    }
    let conditions = &md[md.find("## Conditions").unwrap()..];
    assert!(
        conditions.contains(
            "| Pi 5/mmlu‡ | – | ondemand | 82.4 | 78.2 | 40 | 40 | throttled: throttle flags rose during the run (throttled) |"
        ),
        "{conditions}"
    );
    assert!(conditions.contains("| Laptop/hellaswag | 15W (id 0) | – | – | – | – | – | – |"));
    let csv = render_csv(&input);
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(
        ",power_mode,governor,max_temp_c,mean_temp_c,throttled_fraction,capped_fraction,throttled"
    ));
    assert!(csv.lines().nth(1).unwrap().ends_with(",,ondemand,82.4,78.25,0.4,0.4,true"), "{csv}");
    assert!(csv.lines().nth(2).unwrap().ends_with(",,,,,,,"), "no conditions: empty fields");
    let json = render_json(&input).unwrap();
    assert!(json.contains("\"throttled\": true"));
}

#[test]
fn a_power_mode_sweep_gets_its_plot_and_state_traces_sit_under_the_power_trace() {
    // The same model and benchmark on one board in two modes: 7W slower and cheaper per answer.
    let mut w7 = run("Orin Nano", "winogrande", 100, 55, 40.0, 0.05, 9000, EnergyQuality::Measured);
    let mut w15 =
        run("Orin Nano", "winogrande", 100, 55, 25.0, 0.06, 9000, EnergyQuality::Measured);
    let series = |name: &str, v: f64| joulebench_report::Series {
        name: name.into(),
        points: (0..20).map(|i| (i as f64 * 0.5, v + i as f64 * 0.1)).collect(),
    };
    w7.conditions = Some(RunConditions {
        mode: Some("7W".into()),
        trace: Some(joulebench_report::StateTrace {
            temperatures: vec![series("temp:cpu-thermal", 48.0), series("temp:gpu-thermal", 47.0)],
            clocks: vec![series("clock:cpu:policy0", 960.0)],
            throttled: vec![(4.0, 6.5)],
        }),
        ..Default::default()
    });
    w7.trace = Some(PowerTrace {
        samples: (0..20).map(|i| (i as f64 * 0.5, 4.5)).collect(),
        phases: vec![Phase { name: "evaluation".into(), start_s: 0.5, end_s: 9.5 }],
    });
    w7.id = "orin/7W".into();
    w15.conditions = Some(RunConditions { mode: Some("15W".into()), ..Default::default() });
    w15.id = "orin/15W".into();
    let input = ReportInput { experiments: vec![w7, w15] };
    let dir = tempfile::tempdir().unwrap();
    let paths = render_plots(&input, dir.path()).unwrap();
    let names: Vec<String> =
        paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for want in [
        "conditions_trace_1_orin-7w.svg",
        "conditions_trace_1_orin-7w.png",
        "power_modes.svg",
        "power_modes.png",
    ] {
        assert!(names.contains(&want.to_string()), "{want} in {names:?}");
    }
    let trace = std::fs::read_to_string(dir.path().join("conditions_trace_1_orin-7w.svg")).unwrap();
    for text in ["Power (W)", "Temperature (°C)", "Clock (MHz)", "temp:gpu-thermal", "shaded red"]
    {
        assert!(trace.contains(text), "{text}");
    }
    let modes = std::fs::read_to_string(dir.path().join("power_modes.svg")).unwrap();
    for text in
        ["Accuracy against energy per inference", "Throughput against power", "Pareto front"]
    {
        assert!(modes.contains(text), "{text}");
    }
    // Each point is labelled with its mode (SVG text sits on a line of its own).
    for mode in ["7W", "15W"] {
        assert_eq!(modes.lines().filter(|l| *l == mode).count(), 2, "{mode}: one per panel");
    }
    // A single mode per configuration has nothing to compare.
    let one = ReportInput { experiments: vec![input.experiments[0].clone()] };
    let paths = render_plots(&one, dir.path().join("one").as_path()).unwrap();
    assert!(paths.iter().all(|p| !p.ends_with("power_modes.svg")));
}
