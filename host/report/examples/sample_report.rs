//! Writes a sample report (Markdown and plots) from hand-made figures shaped like the seed
//! study's, to look at the layout: `cargo run -p joulebench-report --example sample_report DIR`.

use joulebench_metrics::{EnergyQuality, ExperimentFigures, RailEnergy, compute};
use joulebench_report::{
    ExperimentRow, Phase, PowerTrace, ReportInput, render_markdown, render_plots,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: sample_report DIR")?;
    let models =
        [("TinyLlama", 1.1e9), ("Llama 3.2", 1.24e9), ("Gemma 2", 2.0e9), ("Phi-3 mini", 3.8e9)];
    let devices = [
        ("Raspberry Pi 5", 6.9, 1.0, EnergyQuality::Measured),
        ("Jetson Orin Nano (GPU)", 11.0, 0.06, EnergyQuality::Measured),
        ("x86 laptop", 25.0, 0.2, EnergyQuality::Estimated),
    ];
    let sets = [
        ("mmlu", 1000u64, 0.3, 1.0),
        ("hellaswag", 400, 0.55, 3.0),
        ("winogrande", 500, 0.63, 0.45),
    ];
    let mut experiments = vec![];
    for (mi, (model, params)) in models.iter().enumerate() {
        for (device, watts, speed, quality) in devices {
            for (set, n, base_acc, work) in sets {
                let acc = (base_acc + 0.04 * mi as f64).min(0.8);
                let lat = speed * work * params / 1.0e9 * 3.0;
                let t = lat * n as f64;
                let e = watts * t;
                let f = ExperimentFigures {
                    tasks: n,
                    correct: (acc * n as f64).round() as u64,
                    correct_norm: None,
                    metric: Default::default(),
                    eval_seconds: t,
                    eval_energy_j: Some(e),
                    energy_quality: quality,
                    idle_power_w: Some(watts * 0.4),
                    tokens: n * if set == "mmlu" { 1 } else { 120 },
                    parameters: *params as u64,
                    nominal_parameters_b: None,
                    task_latencies_s: (0..n)
                        .map(|i| lat * (0.6 + 0.8 * (i % 10) as f64 / 9.0))
                        .collect(),
                    rails: vec![RailEnergy { name: "cpu".into(), energy_j: Some(e * 0.6) }],
                };
                let trace =
                    (mi == 1 && set == "hellaswag" && device.starts_with("Rasp")).then(|| {
                        let idle = 10.0;
                        let load = 4.0;
                        let warm = 3.0;
                        let end = idle + load + warm + 40.0;
                        let samples = (0..=(end * 10.0) as i32)
                            .map(|k| {
                                let s = k as f64 / 10.0;
                                let w = if s < idle {
                                    2.7
                                } else if s < idle + load {
                                    4.5
                                } else {
                                    watts + (s * 3.1).sin() * 0.6
                                };
                                (s, w)
                            })
                            .collect();
                        PowerTrace {
                            samples,
                            phases: vec![
                                Phase { name: "idle".into(), start_s: 0.0, end_s: idle },
                                Phase { name: "load".into(), start_s: idle, end_s: idle + load },
                                Phase {
                                    name: "warm-up".into(),
                                    start_s: idle + load,
                                    end_s: idle + load + warm,
                                },
                                Phase {
                                    name: "evaluation".into(),
                                    start_s: idle + load + warm,
                                    end_s: end,
                                },
                            ],
                        }
                    });
                experiments.push(ExperimentRow {
                    id: format!("{device}-{model}-{set}"),
                    device: device.into(),
                    model: (*model).into(),
                    parameters: *params as u64,
                    runtime: "llama.cpp".into(),
                    dataset: set.into(),
                    convention: "llama-cpp".into(),
                    meter: if quality == EnergyQuality::Estimated {
                        "estimate".into()
                    } else {
                        "board".into()
                    },
                    metrics: compute(&f)?,
                    trace,
                    conditions: None,
                });
            }
        }
    }
    let input = ReportInput { experiments };
    std::fs::create_dir_all(&dir)?;
    std::fs::write(format!("{dir}/report.md"), render_markdown(&input))?;
    for p in render_plots(&input, std::path::Path::new(&dir))? {
        println!("{}", p.display());
    }
    Ok(())
}
