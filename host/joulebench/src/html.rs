//! The HTML report's input from the results store: each finished experiment's report row with
//! its provenance, flags, coverage and per-task latencies.

use anyhow::Result;
use joulebench_measure::{LibraryIdentity, Provenance};
use joulebench_report::HtmlExperiment;

use crate::compare::StoredExperiment;
use crate::report::report_input;
use crate::store::Store;

fn library(out: &mut Vec<(String, String, String)>, section: &str, lib: &Option<LibraryIdentity>) {
    let Some(l) = lib else { return };
    let mut push = |k: &str, v: String| out.push((section.into(), k.into(), v));
    push("plugin", format!("{} ({})", l.name, l.id));
    push("version", format!("{} (ABI {})", l.version, l.abi_version));
    push("library", l.library.clone());
    push("build sha256", l.build.clone());
}

/// An experiment's provenance as (section, field, value) rows, in reading order.
pub fn provenance_rows(p: &Provenance) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = vec![];
    let mut push = |s: &str, k: &str, v: String| out.push((s.into(), k.into(), v));
    let h = &p.host;
    push("machine", "device", h.device_name());
    push("machine", "cpu", format!("{} ({} logical CPUs)", h.cpu, h.cpus));
    push("machine", "memory", format!("{:.1} GiB", h.memory_bytes as f64 / (1u64 << 30) as f64));
    push("machine", "os", format!("{}, kernel {}, {}", h.os, h.kernel, h.arch));
    if !h.governors.is_empty() {
        push("machine", "cpufreq governors", h.governors.join(", "));
    }
    if !h.temperatures_c.is_empty() {
        let t: Vec<String> =
            h.temperatures_c.iter().map(|(n, c)| format!("{n} {c:.1} °C")).collect();
        push("machine", "temperatures at start", t.join(", "));
    }
    if let Some(l4t) = &h.l4t {
        push("machine", "L4T", l4t.clone());
    }
    push("machine", "joulebench", format!("{} (ABI {})", h.joulebench_version, h.abi_version));
    push("runtime", "engine", format!("{} {}", p.runtime_info.name, p.runtime_info.engine_version));
    push("runtime", "backend", p.runtime_info.backend.clone());
    library(&mut out, "runtime", &p.runtime);
    let mut push = |s: &str, k: &str, v: String| out.push((s.into(), k.into(), v));
    let m = &p.model;
    push("model", "name", format!("{} ({}, {})", m.name, m.architecture, m.quantization));
    push("model", "file", format!("{} ({} bytes)", m.path, m.file_size));
    push("model", "sha256", m.sha256.clone());
    push("model", "parameters", m.parameters.to_string());
    push("model", "context, threads", format!("{} tokens, {} threads", m.context_size, m.threads));
    push("model", "device", format!("{} on {}", m.backend, m.device));
    library(&mut out, "dataset", &p.dataset);
    library(&mut out, "meter", &p.meter);
    let mut push = |s: &str, k: &str, v: String| out.push((s.into(), k.into(), v));
    let mi = &p.meter_info;
    push("meter", "name", mi.name.clone());
    push(
        "meter",
        "sampling",
        format!("{} Hz asked, sensor updates every {} s", p.sample_hz, mi.update_interval_s),
    );
    for r in &mi.rails {
        push(
            "meter",
            &format!("rail {}", r.name),
            format!("{}, {}, {}: {}", r.unit, r.role, r.quality, r.description),
        );
    }
    push(
        "host",
        "overhead",
        format!(
            "{:.3} s ({:.2} % of the evaluation)",
            p.host_overhead_s,
            100.0 * p.host_overhead_fraction
        ),
    );
    out
}

/// Every finished experiment of the store (or those of `only`), ready for the HTML report.
pub fn html_experiments(
    store: &Store,
    only: Option<&[&StoredExperiment]>,
) -> Result<Vec<HtmlExperiment>> {
    let rows = report_input(store)?.experiments;
    let stored = crate::compare::stored_experiments(store)?;
    let mut out = vec![];
    for (row, e) in rows.into_iter().zip(&stored) {
        if let Some(only) = only
            && !only.iter().any(|o| o.id == e.id)
        {
            continue;
        }
        let provenance = match Provenance::from_json(&store.provenance(e.id)?) {
            Ok(p) => provenance_rows(&p),
            Err(err) => vec![("provenance".into(), "unreadable".into(), err.to_string())],
        };
        out.push(HtmlExperiment {
            row,
            provenance,
            flags: e.summary.flags.clone(),
            coverage: e.summary.coverage,
            boundary: e.summary.boundary.clone(),
            latencies_s: store.latencies(e.id)?.iter().map(|l| l.t_end_s - l.t_start_s).collect(),
        });
    }
    Ok(out)
}
