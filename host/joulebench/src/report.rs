//! Builds the report's input from the results store: every finished experiment's summary, and
//! the power trace of its last segment with the phases marked.

use anyhow::Result;
use joulebench_measure::{Provenance, Summary};
use joulebench_report::{ExperimentRow, Phase, PowerTrace, ReportInput};

use crate::store::Store;

/// The total power over time of an experiment's last segment: power rails as read; energy
/// counters as the mean power between consecutive samples.
pub(crate) fn power_trace(store: &Store, experiment: i64) -> Result<Option<PowerTrace>> {
    let Ok(provenance) = Provenance::from_json(&store.provenance(experiment)?) else {
        return Ok(None);
    };
    let rails = &provenance.meter_info.rails;
    let Some(total) = provenance.meter_info.total_rail() else { return Ok(None) };
    let is_counter = match rails[total].unit.as_str() {
        "J" => true,
        "W" => false,
        _ => return Ok(None),
    };
    let phases = store.phases(experiment)?;
    let Some(segment) = phases.iter().map(|p| p.segment).max() else { return Ok(None) };
    let samples = store.samples(experiment, segment)?;
    let points: Vec<(f64, f64)> = if is_counter {
        samples
            .windows(2)
            .filter_map(|w| {
                let (a, b) = (w[0].values.get(total).copied()??, w[1].values.get(total).copied()??);
                let dt = w[1].t_s - w[0].t_s;
                (dt > 0.0 && b >= a).then(|| (0.5 * (w[0].t_s + w[1].t_s), (b - a) / dt))
            })
            .collect()
    } else {
        samples.iter().filter_map(|s| Some((s.t_s, s.values.get(total).copied()??))).collect()
    };
    if points.is_empty() {
        return Ok(None);
    }
    let phases = phases
        .into_iter()
        .filter(|p| p.segment == segment)
        .map(|p| Phase { name: p.name, start_s: p.t0_s, end_s: p.t1_s })
        .collect();
    Ok(Some(PowerTrace { samples: points, phases }))
}

/// An experiment's conditions as the tables show them.
fn run_conditions(c: &joulebench_measure::Conditions) -> joulebench_report::RunConditions {
    use joulebench_conditions::Setting;
    use joulebench_conditions::settings::{governors, power_mode};
    let settings: Vec<Setting> =
        c.settings.iter().map(|(n, v)| Setting { name: n.clone(), value: v.clone() }).collect();
    let governor = governors(&settings);
    joulebench_report::RunConditions {
        power_mode: power_mode(&settings).map(String::from),
        governor: (!governor.is_empty()).then_some(governor),
        max_temp_c: c.max_temp_c,
        mean_temp_c: c.mean_temp_c,
        throttled_fraction: c.throttled_fraction,
        capped_fraction: c.capped_fraction,
        throttled: c.throttled,
        flags: c.flags(),
        mode: c
            .settings
            .iter()
            .find(|(n, _)| n == "requested")
            .map(|(_, v)| v.clone())
            .or_else(|| power_mode(&settings).map(String::from)),
        trace: None,
    }
}

/// The state meter's temperatures (°C), clocks (MHz) and throttled spans over the experiment's
/// last segment, on the clock of its power trace.
fn state_trace(store: &Store, experiment: i64) -> Result<Option<joulebench_report::StateTrace>> {
    use joulebench_abi::RailKind;
    let starts = store.state_starts(experiment)?;
    let Some((segment, start)) = starts.iter().rev().find(|(_, s)| s.meter.is_some()) else {
        return Ok(None);
    };
    let samples = store.state_samples(experiment, *segment)?;
    if samples.is_empty() {
        return Ok(None);
    }
    let mut out = joulebench_report::StateTrace::default();
    for (i, (name, kind)) in start.rails.iter().enumerate() {
        let scale = match RailKind(*kind) {
            RailKind::TEMPERATURE => 1.0,
            RailKind::FREQUENCY => 1e-6,
            _ => continue,
        };
        let points: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|s| Some((s.t_s, s.values.get(i).copied()?? * scale)))
            .collect();
        let series = joulebench_report::Series { name: name.clone(), points };
        if RailKind(*kind) == RailKind::TEMPERATURE {
            out.temperatures.push(series);
        } else {
            out.clocks.push(series);
        }
    }
    let flags: Vec<usize> = start
        .rails
        .iter()
        .enumerate()
        .filter(|(_, (_, k))| RailKind(*k) == RailKind::FLAGS)
        .map(|(i, _)| i)
        .collect();
    let mut open: Option<f64> = None;
    for s in &samples {
        let active = flags
            .iter()
            .filter_map(|&i| s.values.get(i).copied().flatten())
            .any(|v| (v as u32) & joulebench_measure::conditions::NOW_BITS != 0);
        match (active, open) {
            (true, None) => open = Some(s.t_s),
            (false, Some(a)) => {
                out.throttled.push((a, s.t_s));
                open = None;
            }
            _ => {}
        }
    }
    if let (Some(a), Some(last)) = (open, samples.last()) {
        out.throttled.push((a, last.t_s));
    }
    Ok(Some(out))
}

/// The report's input: one row per finished experiment (repeats as separate rows).
pub fn report_input(store: &Store) -> Result<ReportInput> {
    let mut experiments = Vec::new();
    for (id, name, summary) in store.summaries()? {
        let s: Summary = serde_json::from_str(&summary)?;
        experiments.push(ExperimentRow {
            id: if s.labels.repeat > 0 { format!("{name} #{}", s.labels.repeat) } else { name },
            device: s.labels.device,
            model: s.labels.model,
            parameters: s.labels.parameters,
            runtime: s.labels.runtime,
            dataset: s.labels.dataset,
            convention: s.convention,
            meter: s.meter,
            metrics: s.metrics,
            trace: power_trace(store, id)?,
            conditions: match &s.conditions {
                Some(c) => Some(joulebench_report::RunConditions {
                    trace: state_trace(store, id)?,
                    ..run_conditions(c)
                }),
                None => None,
            },
        });
    }
    Ok(ReportInput { experiments })
}
