//! `cargo xtask bench --generation [--rounds N] [--repetitions N]`: joulebench's generation
//! figures beside llama.cpp's own `llama-bench`, in one sitting, on SmolLM2-135M Q4_1 with 2
//! threads: prompt processing of 512 tokens (`pp512`) and 128 generated tokens (`tg128`).
//!
//! `llama-bench` is built from the llama.cpp sources llama-cpp-sys-2 compiles, with the same
//! flags as the llama.cpp runtime it is compared with (the tool's sources come from
//! `llama-cpp-python`'s sdist, as for `llama-perplexity`: see [`crate::kernels`]). joulebench runs
//! the same shapes through a generation experiment with that runtime build and with the burn
//! runtime, and the figures print side by side with their ratio.

use std::path::Path;
use std::process::Command;

use crate::kernels::{LLAMA_BENCH, cpu_has_avx512, llama_tool, mean, runtime_plugin, work_dir};
use crate::{DynError, fetch_models, project_root, run, show};

fn manifest(llama: &Path, results: &Path, model: &Path, repetitions: u32) -> String {
    format!(
        r#"[settings]
results = "{results}"
plugin_dir = "{plugins}"
idle_s = 5

[[plugin]]
id = "llama.cpp"
kind = "runtime"
library = "{llama}"
config = {{ threads = 2, context_size = 1024 }}

[[plugin]]
id = "burn"
kind = "runtime"
library = "joulebench_runtime_burn"
config = {{ threads = 2, context_size = 1024 }}

[[plugin]]
id = "estimate"
kind = "meter"
library = "joulebench_meter_estimate"
config = {{}}

[[model]]
id = "smollm2-135m"
path = "{model}"

[[experiment]]
id = "generation"
workload = "generate"
runtime = ["llama.cpp", "burn"]
model = "smollm2-135m"
meter = "estimate"
warmup_tasks = 1
generate = {{ pp = 512, tg = 128, repetitions = {repetitions} }}
"#,
        results = results.display(),
        plugins = project_root().join("target/release").display(),
        llama = llama.display(),
        model = model.display(),
    )
}

/// `(n_prompt, n_gen, avg_ts, stddev_ts)` of each row of llama-bench's CSV output.
fn llama_bench_rows(csv: &str) -> Vec<(u32, u32, f64, f64)> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else { return Vec::new() };
    let cols: Vec<&str> = header.split(',').map(|c| c.trim_matches('"')).collect();
    let at = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(p), Some(g), Some(a), Some(s)) =
        (at("n_prompt"), at("n_gen"), at("avg_ts"), at("stddev_ts"))
    else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            // quoted fields hold no commas in the columns read here, but others may: split
            // outside quotes
            let mut fields = Vec::new();
            let (mut cur, mut quoted) = (String::new(), false);
            for ch in l.chars() {
                match ch {
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            fields.push(cur);
            Some((
                fields.get(p)?.parse().ok()?,
                fields.get(g)?.parse().ok()?,
                fields.get(a)?.parse().ok()?,
                fields.get(s)?.parse().ok()?,
            ))
        })
        .collect()
}

/// The mean of a `mean ± sd` cell of joulebench's generation table for `runtime` and `test`,
/// in the column `column` (0-based after the leading `|`).
fn table_rate(table: &str, runtime: &str, test: &str, column: usize) -> Option<f64> {
    table.lines().find_map(|l| {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        if cells.len() > column
            && cells.get(4).is_some_and(|r| r.starts_with(runtime))
            && cells.get(6) == Some(&test)
        {
            cells[column].split('±').next()?.trim().parse().ok()
        } else {
            None
        }
    })
}

/// One sitting's figures: pp512 and tg128 tokens/s, `None` where a tool printed none.
#[derive(Debug, Clone, Copy, Default)]
struct Rates {
    pp: Option<f64>,
    tg: Option<f64>,
}

impl Rates {
    fn get(&self, test: &str) -> Option<f64> {
        if test == "pp512" { self.pp } else { self.tg }
    }
}

/// Mean and sample standard deviation.
fn mean_sd(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let m = mean(v);
    let n = v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Some((m, var.sqrt()))
}

fn run_llama_bench(tool: &Path, model: &Path, repetitions: u32) -> Result<Rates, DynError> {
    let mut cmd = Command::new(tool);
    cmd.arg("-m").arg(model).args(["-p", "512", "-n", "128", "-t", "2", "-o", "csv"]);
    cmd.args(["-r", &repetitions.to_string()]);
    eprintln!("$ {}", show(&cmd));
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "llama-bench failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let rows = llama_bench_rows(&String::from_utf8_lossy(&out.stdout));
    let find = |p: u32, g: u32| rows.iter().find(|r| r.0 == p && r.1 == g).map(|r| r.2);
    Ok(Rates { pp: find(512, 0), tg: find(0, 128) })
}

/// Runs the generation experiment into a fresh store; returns its generation table and the
/// llama.cpp and burn rates.
fn run_joulebench(
    llama: &Path,
    model: &Path,
    repetitions: u32,
    round: u32,
) -> Result<(String, Rates, Rates), DynError> {
    let dir = work_dir().join("runs");
    std::fs::create_dir_all(&dir)?;
    let results = dir.join(format!("generation-{round}.sqlite"));
    let _ = std::fs::remove_file(&results);
    let path = dir.join("generation.toml");
    std::fs::write(&path, manifest(llama, &results, model, repetitions))?;
    let bin = project_root().join("target/release/joulebench");
    run(Command::new(&bin).args(["run", "--quiet"]).arg(&path))?;
    let report = Command::new(&bin).args(["report", "--results"]).arg(&results).output()?;
    let table = String::from_utf8_lossy(&report.stdout).into_owned();
    let generation = table.find("## Generation").map_or("", |i| &table[i..]).to_string();
    let rates = |runtime: &str| Rates {
        pp: table_rate(&generation, runtime, "pp512", 7),
        tg: table_rate(&generation, runtime, "tg128", 8),
    };
    let (ours, burn) = (rates("llama.cpp"), rates("burn"));
    Ok((generation, ours, burn))
}

/// `cargo xtask bench --generation` (after the release build of the plugins).
///
/// The two tools take turns: `rounds` rounds of `repetitions` each, the order swapped every
/// round, so that a machine whose speed drifts (a shared host) favours neither. The ratio is
/// taken within each round and averaged.
pub fn bench(rounds: u32, repetitions: u32, no_run: bool) -> Result<(), DynError> {
    if !cpu_has_avx512() {
        return Err("bench --generation builds llama-bench with AVX-512 (VNNI, BF16), like the \
                    runtime build it is compared with; this CPU lacks it"
            .into());
    }
    let llama = runtime_plugin(true)?;
    let tool = llama_tool(&LLAMA_BENCH)?;
    if no_run {
        return Ok(());
    }
    let model = fetch_models::ensure_default_model()?;
    let rounds = rounds.max(1);
    let mut all: Vec<(Rates, Rates, Rates)> = Vec::new();
    let mut last_table = String::new();
    for round in 0..rounds {
        let (reference, (table, ours, burn)) = if round % 2 == 0 {
            let r = run_llama_bench(&tool, &model, repetitions)?;
            (r, run_joulebench(&llama, &model, repetitions, round)?)
        } else {
            let j = run_joulebench(&llama, &model, repetitions, round)?;
            (run_llama_bench(&tool, &model, repetitions)?, j)
        };
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        eprintln!(
            "round {}: pp512 llama-bench {} joulebench {}; tg128 llama-bench {} joulebench {}",
            round + 1,
            f(reference.pp),
            f(ours.pp),
            f(reference.tg),
            f(ours.tg)
        );
        all.push((reference, ours, burn));
        last_table = table;
    }
    println!("{last_table}");

    println!(
        "SmolLM2-135M Q4_1, 2 threads, {rounds} rounds of {repetitions} repetitions taking \
         turns, tokens/s (mean ± sd of the rounds' means); ratio: joulebench / llama-bench \
         within each round, mean (lowest–highest):\n"
    );
    println!("| test | llama-bench | joulebench llama.cpp | ratio | joulebench burn |");
    println!("| --- | --: | --: | --: | --: |");
    for test in ["pp512", "tg128"] {
        let col = |pick: fn(&(Rates, Rates, Rates)) -> &Rates| -> Vec<f64> {
            all.iter().filter_map(|r| pick(r).get(test)).collect()
        };
        let cell =
            |v: Vec<f64>| mean_sd(&v).map_or("-".to_string(), |(m, s)| format!("{m:.2} ± {s:.2}"));
        let ratios: Vec<f64> =
            all.iter().filter_map(|(r, o, _)| Some(o.get(test)? / r.get(test)?)).collect();
        let ratio = match mean_sd(&ratios) {
            Some((m, _)) => {
                let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                format!("{m:.2} ({lo:.2}–{hi:.2})")
            }
            None => "-".to_string(),
        };
        println!(
            "| {test} | {} | {} | {ratio} | {} |",
            cell(col(|r| &r.0)),
            cell(col(|r| &r.1)),
            cell(col(|r| &r.2)),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_llama_bench_csv() {
        let csv = "build_commit,model_type,n_prompt,n_gen,avg_ts,stddev_ts\n\
                   \"abc\",\"llama 135M Q4_1, x\",512,0,2310.5,12.25\n\
                   \"abc\",\"llama 135M Q4_1, x\",0,128,180.25,1.5\n";
        assert_eq!(llama_bench_rows(csv), vec![(512, 0, 2310.5, 12.25), (0, 128, 180.25, 1.5)]);
    }

    #[test]
    fn mean_and_sample_deviation() {
        assert_eq!(mean_sd(&[]), None);
        assert_eq!(mean_sd(&[3.0]), Some((3.0, 0.0)));
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(m, 2.5);
        assert!((s - 1.290_994_448_7).abs() < 1e-9, "{s}");
    }

    #[test]
    fn reads_joulebench_table_rates() {
        let t = "| SmolLM2 Q4_1 | 100 MiB | 134.52 M | llama.cpp (llama.cpp) | cpu x2 | pp512 | 2000.00 ± 5.00 | – | 250 | – | ~0.01 / ~0.005 | – / – |\n";
        assert_eq!(table_rate(t, "llama.cpp", "pp512", 7), Some(2000.0));
        assert_eq!(table_rate(t, "burn", "pp512", 7), None);
        assert_eq!(table_rate(t, "llama.cpp", "pp512", 8), None);
    }
}
