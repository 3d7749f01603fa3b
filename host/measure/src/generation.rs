//! A generation request's figures: time to first token, inter-token latency, prefill and decode
//! rates, and the energy of each phase, from the token times a runtime reports and the meter's
//! trace.
//!
//! A request has two phases on the run's clock: the *prefill*, from the start of the prompt's
//! decoding to the first token, and the *decode*, from the first token to the last, one decode
//! step per token after the first. Each phase's energy is the trace's energy over exactly that
//! window, by the same rules as every other window ([`policy::whole_window`] for coverage,
//! [`policy::total_quality`] for measured or estimated), gross and less the idle power times the
//! window (active). The model load is a phase of its own, figured the same way
//! ([`phase_figure`]).

use joulebench_metrics::EnergyQuality;
use joulebench_metrics::stats::{mean, percentile, sample_std};
use joulebench_sampler::Trace;
use serde::{Deserialize, Serialize};

use crate::policy;

/// When a request's tokens came, on the run's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestTiming {
    /// The host's call.
    pub call_start_s: f64,
    /// The call's return.
    pub call_end_s: f64,
    /// The start of the prompt's decoding (after any depth tokens).
    pub prefill_start_s: f64,
    /// When each token was chosen; the first ends the prefill.
    pub token_times_s: Vec<f64>,
    /// Prompt tokens in the prefill.
    pub prompt_tokens: u64,
    /// Tokens generated (in the text; an end-of-generation token is timed but not counted).
    pub generated_tokens: u64,
}

/// The energy of one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseFigure {
    /// The window, s.
    pub seconds: f64,
    /// Tokens the phase processed (prompt tokens, decode steps; 0 for the load).
    pub tokens: u64,
    /// Energy over the window, J (`None`: unavailable).
    pub gross_j: Option<f64>,
    /// Gross less idle power times the window, J (`None` without an idle baseline).
    pub active_j: Option<f64>,
    /// Fraction of the window the samples cover.
    pub coverage: Option<f64>,
    /// Measured, estimated or unavailable.
    pub quality: EnergyQuality,
}

impl PhaseFigure {
    /// Gross joules per token.
    pub fn gross_per_token(&self) -> Option<f64> {
        per(self.gross_j, self.tokens)
    }

    /// Active joules per token.
    pub fn active_per_token(&self) -> Option<f64> {
        per(self.active_j, self.tokens)
    }
}

fn per(j: Option<f64>, tokens: u64) -> Option<f64> {
    j.filter(|_| tokens > 0).map(|j| j / tokens as f64)
}

/// The energy of the window `[t0, t1]` of `trace`, which processed `tokens`, with the idle power
/// `idle_w` subtracted for the active figure.
pub fn phase_figure(
    trace: &Trace,
    t0: f64,
    t1: f64,
    tokens: u64,
    idle_w: Option<f64>,
) -> PhaseFigure {
    let quality = policy::total_quality(trace.meter());
    let seconds = (t1 - t0).max(0.0);
    let window = trace.energy(t0, t1);
    let total = window.total.as_ref();
    let gross_j = if quality == EnergyQuality::Unavailable || seconds <= 0.0 {
        None
    } else {
        total.and_then(policy::whole_window)
    };
    PhaseFigure {
        seconds,
        tokens,
        gross_j,
        active_j: gross_j.zip(idle_w).map(|(g, w)| g - w * seconds),
        coverage: total.map(|e| e.coverage),
        quality: if gross_j.is_some() { quality } else { EnergyQuality::Unavailable },
    }
}

/// One request's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestFigures {
    /// Time to first token, s: from the start of the prompt's decoding to the first token.
    pub ttft_s: f64,
    /// The gaps between consecutive tokens, s.
    pub itl_s: Vec<f64>,
    /// Prompt tokens per second of prefill.
    pub prefill_tokens_per_s: Option<f64>,
    /// Decode steps per second of decode.
    pub decode_tokens_per_s: Option<f64>,
    /// The host's call, start to return, s.
    pub end_to_end_s: f64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// The prefill phase.
    pub prefill: PhaseFigure,
    /// The decode phase.
    pub decode: PhaseFigure,
}

/// A request's figures from its timing, the trace and the idle power.
pub fn request_figures(t: &RequestTiming, trace: &Trace, idle_w: Option<f64>) -> RequestFigures {
    let first = t.token_times_s.first().copied().unwrap_or(t.prefill_start_s);
    let last = t.token_times_s.last().copied().unwrap_or(first);
    let ttft_s = first - t.prefill_start_s;
    let steps = t.token_times_s.len().saturating_sub(1) as u64;
    let decode_s = last - first;
    RequestFigures {
        ttft_s,
        itl_s: t.token_times_s.windows(2).map(|w| w[1] - w[0]).collect(),
        prefill_tokens_per_s: (ttft_s > 0.0).then(|| t.prompt_tokens as f64 / ttft_s),
        decode_tokens_per_s: (steps > 0 && decode_s > 0.0).then(|| steps as f64 / decode_s),
        end_to_end_s: t.call_end_s - t.call_start_s,
        generated_tokens: t.generated_tokens,
        prefill: phase_figure(trace, t.prefill_start_s, first, t.prompt_tokens, idle_w),
        decode: phase_figure(trace, first, last, steps, idle_w),
    }
}

/// A phase's energy over many requests: the sums of joules and tokens, unavailable when any
/// request's is, and the lowest coverage.
pub fn sum_phases<'a>(phases: impl IntoIterator<Item = &'a PhaseFigure>) -> Option<PhaseFigure> {
    let mut out: Option<PhaseFigure> = None;
    for p in phases {
        out = Some(match out {
            None => p.clone(),
            Some(o) => PhaseFigure {
                seconds: o.seconds + p.seconds,
                tokens: o.tokens + p.tokens,
                gross_j: o.gross_j.zip(p.gross_j).map(|(a, b)| a + b),
                active_j: o.active_j.zip(p.active_j).map(|(a, b)| a + b),
                coverage: o.coverage.zip(p.coverage).map(|(a, b)| a.min(b)),
                quality: if o.quality == p.quality {
                    o.quality
                } else {
                    EnergyQuality::Unavailable
                },
            },
        });
    }
    out
}

/// Mean and sample standard deviation, as llama-bench prints its rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (0 for one value).
    pub std: f64,
}

/// [`MeanStd`] of `values`, `None` when empty.
pub fn mean_std(values: &[f64]) -> Option<MeanStd> {
    Some(MeanStd { mean: mean(values)?, std: sample_std(values).unwrap_or(0.0) })
}

/// The figures of one shape (or one prompt set) over its repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeSummary {
    /// The shape's label (`pp512`, `tg128`, `pp64+tg16 @ d128`, `mmlu`).
    pub label: String,
    /// Requests measured.
    pub requests: u64,
    /// Prompt tokens per request (mean).
    pub prompt_tokens: f64,
    /// Tokens generated per request (mean).
    pub generated_tokens: f64,
    /// Prefill tokens/s over the requests.
    pub prefill_tokens_per_s: Option<MeanStd>,
    /// Decode tokens/s over the requests.
    pub decode_tokens_per_s: Option<MeanStd>,
    /// Time to first token, s.
    pub ttft_s: Option<MeanStd>,
    /// End-to-end time per request, s.
    pub end_to_end_s: Option<MeanStd>,
    /// Inter-token latency percentiles over every gap of every request, s.
    pub itl_p50_s: Option<f64>,
    /// 95th percentile.
    pub itl_p95_s: Option<f64>,
    /// 99th percentile.
    pub itl_p99_s: Option<f64>,
    /// The prefills together.
    pub prefill: Option<PhaseFigure>,
    /// The decodes together.
    pub decode: Option<PhaseFigure>,
}

/// Summarizes one shape's requests.
pub fn summarize_shape(
    label: &str,
    requests: &[RequestFigures],
    prompt_tokens: &[u64],
) -> ShapeSummary {
    let pick = |f: &dyn Fn(&RequestFigures) -> Option<f64>| -> Vec<f64> {
        requests.iter().filter_map(f).collect()
    };
    let itl: Vec<f64> = requests.iter().flat_map(|r| r.itl_s.iter().copied()).collect();
    let n = requests.len().max(1) as f64;
    ShapeSummary {
        label: label.into(),
        requests: requests.len() as u64,
        prompt_tokens: prompt_tokens.iter().sum::<u64>() as f64 / n,
        generated_tokens: requests.iter().map(|r| r.generated_tokens).sum::<u64>() as f64 / n,
        prefill_tokens_per_s: mean_std(&pick(&|r| r.prefill_tokens_per_s)),
        decode_tokens_per_s: mean_std(&pick(&|r| r.decode_tokens_per_s)),
        ttft_s: mean_std(&pick(&|r| Some(r.ttft_s))),
        end_to_end_s: mean_std(&pick(&|r| Some(r.end_to_end_s))),
        itl_p50_s: percentile(&itl, 50.0),
        itl_p95_s: percentile(&itl, 95.0),
        itl_p99_s: percentile(&itl, 99.0),
        prefill: sum_phases(requests.iter().map(|r| &r.prefill)),
        decode: sum_phases(requests.iter().map(|r| &r.decode).filter(|d| d.tokens > 0)),
    }
}

#[cfg(test)]
mod tests {
    use joulebench_abi::{MeterInfo, Quality, RailInfo, RailKind, RailRole};

    use super::*;

    fn meter(quality: Quality) -> MeterInfo {
        MeterInfo {
            name: "scripted".into(),
            boundary: "a known curve".into(),
            rails: vec![RailInfo {
                name: "total".into(),
                kind: RailKind::POWER,
                role: RailRole::TOTAL,
                quality,
                description: "".into(),
            }]
            .into(),
            update_interval_s: 0.0,
        }
    }

    /// 2 W until t = 1 s, then 10 W (prefill) until 2 s, then 6 W, sampled every 10 ms.
    fn trace(quality: Quality) -> Trace {
        let mut t = Trace::new(meter(quality), 0.01);
        for i in 0..=400 {
            let s = i as f64 * 0.01;
            let w = if s < 1.0 {
                2.0
            } else if s < 2.0 {
                10.0
            } else {
                6.0
            };
            t.push(s, &[Some(w)]);
        }
        t.refresh_stats();
        t
    }

    #[test]
    fn scripted_token_times_give_exact_latencies_and_phase_energy() {
        let timing = RequestTiming {
            call_start_s: 0.99,
            call_end_s: 3.01,
            prefill_start_s: 1.0,
            // the first token ends a 1 s prefill; then gaps of 0.5, 0.25, 0.25 s
            token_times_s: vec![2.0, 2.5, 2.75, 3.0],
            prompt_tokens: 100,
            generated_tokens: 4,
        };
        let tr = trace(Quality::MEASURED);
        let r = request_figures(&timing, &tr, Some(2.0));
        assert!((r.ttft_s - 1.0).abs() < 1e-12);
        assert_eq!(r.itl_s, vec![0.5, 0.25, 0.25]);
        assert!((r.prefill_tokens_per_s.unwrap() - 100.0).abs() < 1e-9);
        assert!((r.decode_tokens_per_s.unwrap() - 3.0).abs() < 1e-9);
        assert!((r.end_to_end_s - 2.02).abs() < 1e-12);
        // prefill: 10 W from 1.00 s; the last interval (1.99 s to 2.00 s) is a trapezoid from
        // 10 W down to 6 W
        let pre = &r.prefill;
        assert_eq!(pre.quality, EnergyQuality::Measured);
        assert_eq!(pre.coverage, Some(1.0));
        assert!((pre.gross_j.unwrap() - (10.0 - 0.01 * 4.0 / 2.0)).abs() < 1e-9, "{pre:?}");
        // decode: 1 s at 6 W, 3 steps; active is less 2 W x 1 s
        let dec = &r.decode;
        assert_eq!(dec.tokens, 3);
        assert!((dec.gross_j.unwrap() - 6.0).abs() < 1e-9, "{dec:?}");
        assert!((dec.active_j.unwrap() - 4.0).abs() < 1e-9);
        assert!((dec.gross_per_token().unwrap() - 2.0).abs() < 1e-9);
        assert!((dec.active_per_token().unwrap() - 4.0 / 3.0).abs() < 1e-9);
        let shape = summarize_shape("pp100+tg3", &[r.clone(), r], &[100, 100]);
        assert_eq!(shape.itl_p50_s, Some(0.25));
        assert_eq!(shape.itl_p99_s, Some(0.5));
        assert_eq!(shape.decode.as_ref().unwrap().tokens, 6);
        assert!((shape.decode.unwrap().gross_j.unwrap() - 12.0).abs() < 1e-9);
        assert_eq!(shape.decode_tokens_per_s.unwrap().std, 0.0);
    }

    #[test]
    fn estimated_meters_say_so_and_windows_without_samples_are_unavailable() {
        let tr = trace(Quality::ESTIMATED);
        let p = phase_figure(&tr, 2.0, 3.0, 10, None);
        assert_eq!(p.quality, EnergyQuality::Estimated);
        assert_eq!(p.active_j, None, "no idle baseline, no active energy");
        let outside = phase_figure(&tr, 10.0, 11.0, 10, Some(1.0));
        assert_eq!(outside.gross_j, None);
        assert_eq!(outside.quality, EnergyQuality::Unavailable);
    }
}
