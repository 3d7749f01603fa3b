//! The energy arithmetic on synthetic traces whose integrals are known by hand.

use joulebench_abi::{MeterInfo, Quality, RailInfo, RailKind, RailRole};
use joulebench_sampler::{Trace, integrate_counter, integrate_power};

fn rail(name: &str, kind: RailKind, role: RailRole) -> RailInfo {
    RailInfo {
        name: name.into(),
        kind,
        role,
        quality: Quality::MEASURED,
        description: "test".into(),
    }
}

fn meter(rails: Vec<RailInfo>) -> MeterInfo {
    MeterInfo {
        name: "synthetic".into(),
        boundary: "none".into(),
        rails: rails.into(),
        update_interval_s: 0.0,
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn constant_power_clipped_inside_samples() {
    // 5 W sampled every 0.1 s from 0 to 10 s; window [1.05, 3.55] = 2.5 s -> 12.5 J.
    let t: Vec<f64> = (0..=100).map(|i| i as f64 * 0.1).collect();
    let p = vec![5.0; t.len()];
    let r = integrate_power(&t, &p, 1.05, 3.55, 0.2);
    assert!(close(r.joules, 12.5, 1e-9), "{}", r.joules);
    assert!(close(r.covered_s, 2.5, 1e-9));
    assert_eq!(r.gaps, 0);
    // samples at 1.1 .. 3.5 inclusive: 25
    assert_eq!(r.samples, 25);
}

#[test]
fn ramp_is_exact_with_uneven_spacing_and_clipped_edges() {
    // P(t) = 2 + 3t. Integral over [0.37, 4.21] = 2(4.21-0.37) + 1.5(4.21^2 - 0.37^2).
    let mut t = vec![0.0];
    let mut x = 0.0;
    for i in 0..60 {
        x += 0.05 + 0.04 * ((i % 3) as f64);
        t.push(x);
    }
    let p: Vec<f64> = t.iter().map(|t| 2.0 + 3.0 * t).collect();
    let expected = 2.0 * (4.21 - 0.37) + 1.5 * (4.21f64.powi(2) - 0.37f64.powi(2));
    let r = integrate_power(&t, &p, 0.37, 4.21, 1.0);
    assert!(close(r.joules, expected, 1e-9), "{} vs {expected}", r.joules);
}

#[test]
fn sine_converges_to_the_analytic_integral() {
    // P(t) = 10 + 4 sin(2 pi t), 1 kHz samples, window [0.1, 2.35]:
    // 10 * 2.25 + 4/(2 pi) (cos(0.2 pi) - cos(4.7 pi)).
    let t: Vec<f64> = (0..=3000).map(|i| i as f64 * 0.001).collect();
    let w = 2.0 * std::f64::consts::PI;
    let p: Vec<f64> = t.iter().map(|t| 10.0 + 4.0 * (w * t).sin()).collect();
    let expected = 10.0 * 2.25 + 4.0 / w * ((0.1 * w).cos() - (2.35 * w).cos());
    let r = integrate_power(&t, &p, 0.1, 2.35, 0.002);
    // Trapezoid error bound: (b-a) h^2 max|f''| / 12 = 2.25 * 1e-6 * 4 w^2 / 12 ~ 3e-5 J.
    assert!(close(r.joules, expected, 3e-5), "{} vs {expected}", r.joules);
}

#[test]
fn missing_values_are_gaps_not_bridged() {
    // 4 W every 1 s from 0 to 10, value at t = 5 missing: intervals [4,5] and [5,6] are gaps.
    let t: Vec<f64> = (0..=10).map(f64::from).collect();
    let mut p = vec![4.0; 11];
    p[5] = f64::NAN;
    let r = integrate_power(&t, &p, 0.0, 10.0, 1.5);
    assert!(close(r.joules, 32.0, 1e-12));
    assert!(close(r.covered_s, 8.0, 1e-12));
    assert_eq!(r.gaps, 1);
    assert!(close(r.longest_gap_s, 2.0, 1e-12));
    assert_eq!(r.samples, 10);
    assert_eq!(r.missing, 1);
}

#[test]
fn overlong_intervals_and_window_ends_beyond_the_trace_are_gaps() {
    // samples at 0,1,2 then 6,7 (a 4 s hole between two valid samples), window [-1, 8].
    let t = [0.0, 1.0, 2.0, 6.0, 7.0];
    let p = [1.0; 5];
    let r = integrate_power(&t, &p, -1.0, 8.0, 2.0);
    assert!(close(r.joules, 3.0, 1e-12));
    assert_eq!(r.gaps, 3); // [-1,0], [2,6], [7,8]
    assert!(close(r.longest_gap_s, 4.0, 1e-12));
}

#[test]
fn counter_difference_interpolated_at_edges() {
    // E(t) = 100 + 7t (7 W) sampled every 0.5 s; window [1.2, 3.9] -> 7 * 2.7 = 18.9 J.
    let t: Vec<f64> = (0..=10).map(|i| i as f64 * 0.5).collect();
    let e: Vec<f64> = t.iter().map(|t| 100.0 + 7.0 * t).collect();
    let r = integrate_counter(&t, &e, 1.2, 3.9);
    assert!(close(r.joules, 18.9, 1e-9), "{}", r.joules);
    assert!(close(r.covered_s, 2.7, 1e-12));
    assert_eq!(r.gaps, 0);
}

#[test]
fn counter_spans_a_missing_sample_exactly_and_skips_a_reset() {
    let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
    // missing at t=2 is bridged exactly by the counter; a drop between 3 and 4 is a reset.
    let e = [0.0, 10.0, f64::NAN, 30.0, 5.0, 15.0];
    let r = integrate_counter(&t, &e, 0.0, 5.0);
    assert!(close(r.joules, 40.0, 1e-12), "{}", r.joules);
    assert_eq!(r.counter_resets, 1);
    assert_eq!(r.gaps, 1);
    assert_eq!(r.missing, 1, "the missing counter sample is bridged but counted");
    assert_eq!(r.samples, 5);
    assert!(close(r.covered_s, 4.0, 1e-12));
}

#[test]
fn trace_energy_total_rail_and_unavailable_windows() {
    let mut trace = Trace::new(
        meter(vec![
            rail("total", RailKind::POWER, RailRole::TOTAL),
            rail("gpu", RailKind::POWER, RailRole::GPU),
        ]),
        0.1,
    );
    for i in 0..=20 {
        let t = i as f64 * 0.1;
        trace.push(t, &[Some(10.0), if i == 10 { None } else { Some(3.0) }]);
    }
    trace.push_error(2.1, "sensor gone");
    trace.refresh_stats();
    let w = trace.energy(0.0, 2.0);
    let total = w.total.clone().expect("a total rail");
    assert!(close(total.joules.unwrap(), 20.0, 1e-9));
    assert!(close(total.coverage, 1.0, 1e-12));
    let gpu = &w.rails[1].energy;
    assert!(close(gpu.joules.unwrap(), 3.0 * 1.8, 1e-9));
    assert_eq!(gpu.gaps, 1);
    assert!(close(gpu.coverage, 0.9, 1e-9));
    // a window after the last sample: unavailable, not zero, with its failed read counted.
    let late = trace.energy(2.05, 3.0);
    let late_total = late.total.unwrap();
    assert_eq!(late_total.joules, None);
    assert_eq!(late_total.read_errors, 1);
    assert_eq!(late_total.coverage, 0.0);
    assert_eq!(trace.mean_power(0.0, 2.0), Some(10.0));
}

#[test]
fn no_total_rail_means_no_total() {
    let mut trace = Trace::new(meter(vec![rail("cpu", RailKind::POWER, RailRole::PART)]), 0.1);
    trace.push(0.0, &[Some(1.0)]);
    trace.push(0.1, &[Some(1.0)]);
    assert_eq!(trace.energy(0.0, 0.1).total, None);
    assert_eq!(trace.mean_power(0.0, 0.1), None);
    assert_eq!(trace.idle_baseline(0.0, 0.1), None);
}

#[test]
fn idle_baseline_is_the_median_with_quartiles() {
    let mut trace = Trace::new(meter(vec![rail("total", RailKind::POWER, RailRole::TOTAL)]), 1.0);
    // values 1..=9 plus an outlier 100 outside the window.
    for (i, v) in [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 100.0].iter().enumerate() {
        trace.push(i as f64, &[Some(*v)]);
    }
    let b = trace.idle_baseline(0.0, 8.5).unwrap();
    assert_eq!(b.samples, 9);
    assert_eq!(b.median_w, 5.0);
    assert_eq!(b.q1_w, 3.0);
    assert_eq!(b.q3_w, 7.0);
}

#[test]
fn idle_baseline_from_a_counter() {
    let mut trace = Trace::new(meter(vec![rail("pkg", RailKind::ENERGY, RailRole::TOTAL)]), 1.0);
    // interval powers 2, 4, 3 W -> median 3.
    for (t, e) in [(0.0, 0.0), (1.0, 2.0), (2.0, 6.0), (3.0, 9.0)] {
        trace.push(t, &[Some(e)]);
    }
    assert_eq!(trace.idle_baseline(0.0, 3.0).unwrap().median_w, 3.0);
}
