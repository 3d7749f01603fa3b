//! The run's idle baselines: each meter alone, nothing loaded, for `[settings] idle_s` seconds,
//! before the first experiment that uses it and again after the run's last experiment. Every
//! experiment's active energy is measured against the one before; the one after shows how far
//! the machine's idle power drifted during the run.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use joulebench_measure::IdleBaseline;
use joulebench_measure::policy::{self, MIN_IDLE_S};
use joulebench_sampler::{Clock, Sampler};

use crate::loader::Loaded;
use crate::runner::with_meter;
use crate::segment::stopped_answering;
use crate::{deadline, signals};

/// Reads meter `id` alone for `seconds` at `sample_hz` and summarizes its total power.
pub(crate) fn take(
    plugins: &mut HashMap<String, Loaded>,
    id: &str,
    when: &str,
    seconds: f64,
    sample_hz: f64,
) -> Result<IdleBaseline> {
    let unix_start_s =
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let deadlines = plugins.get(id).map(|l| l.deadlines.clone()).unwrap_or_default();
    let (t0, t1, trace) = with_meter(plugins, id, |_, meter| {
        let (meter, info) =
            match deadline::call(id, "info", deadlines.get("info"), meter, |m| m.info()) {
                Ok(got) => got,
                Err(e) => return (Err(format!("{e:#}")), Err(e)),
            };
        let clock = Clock::new();
        let t0 = clock.now();
        let mut sampler = Sampler::start_described(meter, info, clock, sample_hz);
        let until = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
        // A stop signal cuts the baseline short: the run stops before measuring anything else.
        while Instant::now() < until && signals::requested().is_none() {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
            sampler.trace();
        }
        let t1 = sampler.clock().now();
        let (meter, trace) = sampler.stop_within(deadlines.get("read"));
        (meter.ok_or_else(|| stopped_answering(id, &deadlines)), Ok((t0, t1, trace)))
    })??;
    let b = trace.idle_baseline(t0, t1);
    Ok(IdleBaseline {
        meter: id.to_string(),
        when: when.to_string(),
        unix_start_s,
        seconds: t1 - t0,
        median_w: b.as_ref().map(|b| b.median_w),
        q1_w: b.as_ref().map(|b| b.q1_w),
        q3_w: b.as_ref().map(|b| b.q3_w),
        samples: b.map_or(0, |b| b.samples as u64),
    })
}

/// What a reader should know of a meter's two baselines.
pub(crate) fn describe(before: &IdleBaseline, after: &IdleBaseline) -> String {
    let w = |b: &IdleBaseline| b.median_w.map_or("unavailable".into(), |w| format!("{w:.2} W"));
    let mut s = format!(
        "idle baseline of meter {:?}: {} before the run, {} after ({:.0} s each)",
        before.meter,
        w(before),
        w(after),
        before.seconds
    );
    if let (Some(a), Some(b)) = (before.median_w, after.median_w) {
        match policy::drift(a, b) {
            Some(d) => s.push_str(&format!(
                "; drift {:.1}% over the run: active energy is uncertain",
                100.0 * d
            )),
            None => s.push_str(&format!("; drift {:.1}%", 100.0 * (b - a).abs() / a.max(1e-12))),
        }
    }
    if before.seconds < MIN_IDLE_S {
        s.push_str(&format!("; short idle (< {MIN_IDLE_S} s)"));
    }
    s
}
