//! `cargo xtask bench --generation [--repetitions N]`: joulebench's generation figures beside
//! llama.cpp's own `llama-bench`, in one sitting, on SmolLM2-135M Q4_1 with 2 threads: prompt
//! processing of 512 tokens (`pp512`) and 128 generated tokens (`tg128`).
//!
//! `llama-bench` is built from the llama.cpp sources llama-cpp-sys-2 compiles, with the same
//! flags as the llama.cpp runtime it is compared with (the tool's sources come from
//! `llama-cpp-python`'s sdist, as for `llama-perplexity`: see [`crate::kernels`]). joulebench runs
//! the same shapes through a generation experiment with that runtime build and with the burn
//! runtime, and the figures print side by side with their ratio.

use std::path::Path;
use std::process::Command;

use crate::kernels::{LLAMA_BENCH, cpu_has_avx512, llama_tool, runtime_plugin, work_dir};
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

/// `cargo xtask bench --generation` (after the release build of the plugins).
pub fn bench(repetitions: u32, no_run: bool) -> Result<(), DynError> {
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
    let mut cmd = Command::new(&tool);
    cmd.arg("-m").arg(&model).args([
        "-p",
        "512",
        "-n",
        "128",
        "-t",
        "2",
        "-r",
        &repetitions.to_string(),
        "-o",
        "csv",
    ]);
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
    let reference = llama_bench_rows(&String::from_utf8_lossy(&out.stdout));

    let dir = work_dir().join("runs");
    std::fs::create_dir_all(&dir)?;
    let results = dir.join("generation.sqlite");
    let _ = std::fs::remove_file(&results);
    let path = dir.join("generation.toml");
    std::fs::write(&path, manifest(&llama, &results, &model, repetitions))?;
    let bin = project_root().join("target/release/joulebench");
    run(Command::new(&bin).args(["run", "--quiet"]).arg(&path))?;
    let report = Command::new(&bin).args(["report", "--results"]).arg(&results).output()?;
    let table = String::from_utf8_lossy(&report.stdout).into_owned();
    let generation = table.find("## Generation").map_or("", |i| &table[i..]);
    println!("{generation}");

    println!("SmolLM2-135M Q4_1, 2 threads, {repetitions} repetitions, tokens/s (mean ± sd):\n");
    println!("| test | llama-bench | joulebench llama.cpp | ratio | joulebench burn |");
    println!("| --- | --: | --: | --: | --: |");
    for (test, column) in [("pp512", 7), ("tg128", 8)] {
        let r = reference.iter().find(|(p, g, ..)| {
            if test == "pp512" { *p == 512 && *g == 0 } else { *p == 0 && *g == 128 }
        });
        let ours = table_rate(generation, "llama.cpp", test, column);
        let burn = table_rate(generation, "burn", test, column);
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        println!(
            "| {test} | {} | {} | {} | {} |",
            r.map_or("-".to_string(), |(.., a, s)| format!("{a:.2} ± {s:.2}")),
            f(ours),
            f(ours.zip(r).map(|(o, (.., a, _))| o / a)),
            f(burn),
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
    fn reads_joulebench_table_rates() {
        let t = "| SmolLM2 Q4_1 | 100 MiB | 134.52 M | llama.cpp (llama.cpp) | cpu x2 | pp512 | 2000.00 ± 5.00 | – | 250 | – | ~0.01 / ~0.005 | – / – |\n";
        assert_eq!(table_rate(t, "llama.cpp", "pp512", 7), Some(2000.0));
        assert_eq!(table_rate(t, "burn", "pp512", 7), None);
        assert_eq!(table_rate(t, "llama.cpp", "pp512", 8), None);
    }
}
