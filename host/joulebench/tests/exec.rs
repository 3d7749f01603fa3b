//! `joulebench exec`: the energy of any command, its exit code passed through, and a clear error
//! for a command that does not exist.

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
    // spinning shell keeps a core busy
    assert!(active_w(&sleep).abs() < 0.15 * idle_w + 0.5, "sleep: {:?}", sleep);
    assert!(active_w(&spin) > 1.0, "spin: {spin:?}");
    assert!(active_w(&spin) > 4.0 * active_w(&sleep).abs(), "{spin:?} against {sleep:?}");
    let store = joulebench::store::Store::open(&dir.path().join("results.sqlite")).unwrap();
    assert_eq!(store.generation_summaries("exec").unwrap().len(), 2);
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
