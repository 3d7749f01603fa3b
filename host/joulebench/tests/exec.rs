//! `joulebench exec`: the energy of any command, its exit code passed through, and a clear error
//! for a command that does not exist. Measured on the estimate (which follows the machine's CPU
//! load) and on the Pi 5 PMIC meter reading a stand-in `vcgencmd` with a known power curve.

use std::path::Path;
use std::process::Command;

use joulebench::exec::{ExecOptions, exec};
use joulebench_metrics::EnergyQuality;

use crate::util::{built, plugin_dir};

fn manifest(dir: &Path) -> std::path::PathBuf {
    built("joulebench_meter_estimate");
    let path = dir.join("plugins.toml");
    let text = format!(
        "[settings]\nresults = \"{}\"\nplugin_dir = \"{}\"\n\n[[plugin]]\nid = \"estimate\"\nkind = \"meter\"\nlibrary = \"joulebench_meter_estimate\"\n",
        dir.join("results.sqlite").display(),
        plugin_dir().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn options(manifest: &Path, command: &[&str]) -> ExecOptions {
    ExecOptions {
        manifest: manifest.to_path_buf(),
        meter: "estimate".into(),
        idle_s: 2.0,
        sample_hz: 20.0,
        command: command.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn sleeping_costs_about_nothing_and_spinning_costs_clearly_more() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path());
    let sleep = exec(&options(&m, &["sleep", "3"])).unwrap();
    let spin = exec(&options(
        &m,
        &["sh", "-c", "end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done"],
    ))
    .unwrap();
    for s in [&sleep, &spin] {
        assert_eq!(s.exit_code, Some(0));
        assert_eq!(s.energy.quality, EnergyQuality::Estimated);
        assert!(s.energy.seconds >= 2.0, "{:?}", s.energy);
        assert!(s.energy.coverage.is_some_and(|c| c > 0.99));
        assert!(s.describe().contains("not energy attributed to this process"));
    }
    let active_w =
        |s: &joulebench::exec::ExecSummary| s.energy.active_j.unwrap() / s.energy.seconds;
    let idle_w = sleep.idle_w.unwrap();
    // the estimate moves with the machine's whole CPU load: a sleep adds (almost) nothing, a
    // spinning shell keeps a core busy. Both hold only on a machine with a core to spare: when
    // other work already fills every core, the spin adds no load the estimate could see (the
    // known-curve test below checks the same arithmetic on any machine).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    if load > cores - 1.0 {
        eprintln!(
            "SKIPPED the estimate's load checks: load average {load} on {cores} cores leaves no \
             core free (sleep {sleep:?}, spin {spin:?})"
        );
    } else {
        assert!(active_w(&sleep).abs() < 0.15 * idle_w + 0.5, "sleep: {:?}", sleep);
        assert!(active_w(&spin) > 1.0, "spin: {spin:?}");
        assert!(active_w(&spin) > 4.0 * active_w(&sleep).abs(), "{spin:?} against {sleep:?}");
    }
    let store = joulebench::store::Store::open(&dir.path().join("results.sqlite")).unwrap();
    assert_eq!(store.generation_summaries("exec").unwrap().len(), 2);
}

/// A stand-in for `vcgencmd pmic_read_adc` in `dir`: the recorded reply of a real Pi 5, with
/// every current tripled while the file `dir/busy` exists. The board's power is the recorded
/// power `P`, and `3 P` while busy.
fn pmic_with_busy_curve(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    built("joulebench_meter_pi5_pmic");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../meter-plugins/pi5-pmic/tests/fixtures/capture-a.txt");
    let busy = dir.join("busy");
    let script = dir.join("vcgencmd");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
f=1; [ -f "{busy}" ] && f=3
awk -v f="$f" '
  /current\(/ {{ split($0, a, "="); v = substr(a[2], 1, length(a[2]) - 1); printf "%s=%.8fA\n", a[1], v * f; next }}
  {{ print }}' "{capture}"
"#,
            busy = busy.display(),
            capture = capture.display(),
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    let path = dir.join("plugins.toml");
    let text = format!(
        "[settings]\nresults = \"{}\"\nplugin_dir = \"{}\"\n\n[[plugin]]\nid = \"pmic\"\nkind = \"meter\"\nlibrary = \"joulebench_meter_pi5_pmic\"\nconfig = {{ command = [\"{}\"] }}\n",
        dir.join("results.sqlite").display(),
        plugin_dir().display(),
        script.display()
    );
    std::fs::write(&path, text).unwrap();
    (path, busy)
}

#[test]
fn on_a_known_power_curve_sleep_costs_nothing_and_the_busy_span_costs_twice_idle_power() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (m, busy) = pmic_with_busy_curve(dir.path());
    let with_meter =
        |command: &[&str]| ExecOptions { meter: "pmic".into(), ..options(&m, command) };
    let sleep = exec(&with_meter(&["sleep", "3"])).unwrap();
    let p = sleep.idle_w.unwrap();
    assert_eq!(sleep.energy.quality, EnergyQuality::Measured);
    assert!(sleep.energy.coverage.is_some_and(|c| c > 0.99), "{sleep:?}");
    // a flat curve: nothing above idle, to rounding
    assert!(sleep.energy.active_j.unwrap().abs() < 1e-6 * p, "{sleep:?}");
    assert!((sleep.mean_power_w.unwrap() - p).abs() < 1e-9 * p);

    // a command that spins for 3 s with the board "busy" (3 P): 2 P above idle for as long as
    // the marker exists, which the command times itself
    let span = dir.path().join("span");
    let script = format!(
        "a=$(date +%s.%N); touch {busy}; end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done;          rm {busy}; b=$(date +%s.%N); echo \"$a $b\" > {span}",
        busy = busy.display(),
        span = span.display()
    );
    let spin = exec(&with_meter(&["sh", "-c", &script])).unwrap();
    assert_eq!(spin.exit_code, Some(0));
    let times: Vec<f64> = std::fs::read_to_string(&span)
        .unwrap()
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    let busy_s = times[1] - times[0];
    let want = 2.0 * p * busy_s;
    let got = spin.energy.active_j.unwrap();
    // each edge of the busy span lands somewhere between two samples (20 Hz, plus the stand-in's
    // own run time): at most about a tenth of a second of 2 P either side
    assert!(
        (got - want).abs() < 2.0 * p * 0.2,
        "active {got} J, want {want} J ({busy_s} s busy at 2 x {p} W)"
    );
}

#[test]
fn the_exit_code_passes_through_and_a_missing_command_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path());
    let bin = env!("CARGO_BIN_EXE_joulebench");
    let out = Command::new(bin)
        .args(["exec", "--manifest"])
        .arg(&m)
        .args(["--idle-s", "0", "--", "sh", "-c", "exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exit: 7") && err.contains("whole-meter energy"), "{err}");

    let out = Command::new(bin)
        .args(["exec", "--manifest"])
        .arg(&m)
        .args(["--idle-s", "0", "--", "joulebench-no-such-command", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command not found: \"joulebench-no-such-command\""), "{err}");
}
