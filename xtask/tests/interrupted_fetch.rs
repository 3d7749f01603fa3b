//! `fetch-models` and `fetch-data` killed with SIGKILL in the middle of a copy: nothing under
//! a real name may look complete, and the next run removes the leftovers, completes and
//! verifies. The copy is stopped at a known point with the `JOULEBENCH_FETCH_STALL` hook (it
//! prints the temporary's path once part of the file is on the disk, then waits), so the kill
//! always lands mid-file.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env_remove("JOULEBENCH_FETCH_STALL");
    cmd
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("joulebench-interrupted-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `cmd` with the stall hook, SIGKILLs it once it says it stalled, and returns the
/// temporary file it was writing.
fn kill_mid_copy(mut cmd: Command) -> PathBuf {
    let mut child = cmd
        .env("JOULEBENCH_FETCH_STALL", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = Vec::new();
    let mut partial = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(p) = line.strip_prefix("stalled: ") {
            partial = Some(PathBuf::from(p));
            break;
        }
        said.push(line);
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");
    partial.unwrap_or_else(|| panic!("the copy never stalled:\n{}", said.join("\n")))
}

/// Every path under `dir`, relative to it.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn models_cache() -> PathBuf {
    let dir = match std::env::var_os("JOULEBENCH_MODELS").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(c) => PathBuf::from(c).join("joulebench/models"),
            None => {
                PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/joulebench/models")
            }
        },
    };
    assert!(
        dir.join(MODEL).is_file(),
        "{} is missing: run `cargo xtask fetch-models`",
        dir.join(MODEL).display()
    );
    dir
}

const MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

#[test]
fn a_model_copy_killed_midway_leaves_nothing_that_looks_complete() {
    let src = models_cache();
    let size = std::fs::metadata(src.join(MODEL)).unwrap().len();
    let cache = temp_dir("models");
    let fetch = || {
        let mut cmd = xtask();
        cmd.args(["fetch-models", "--only", "smollm2", "--from"]).arg(&src);
        cmd.env("JOULEBENCH_MODELS", &cache);
        cmd
    };

    let partial = kill_mid_copy(fetch());
    let written = std::fs::metadata(&partial).unwrap().len();
    assert!(written > 0 && written < size, "{written} of {size} bytes written");
    assert!(partial.starts_with(&cache), "{}", partial.display());
    let work = partial.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    assert!(work.starts_with(".fetch-smollm2-"), "{work}");
    // Only the hidden work folder: no file under the model's name, no hash record.
    assert_eq!(listing(&cache), [work.clone(), format!("{work}/{MODEL}.partial")]);

    let out = fetch().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("removed {}", cache.join(&work).display())), "{stderr}");
    assert_eq!(listing(&cache), [MODEL.to_string(), format!("{MODEL}.sha256")]);
    assert_eq!(std::fs::metadata(cache.join(MODEL)).unwrap().len(), size);
    let record = std::fs::read_to_string(cache.join(format!("{MODEL}.sha256"))).unwrap();
    assert!(record.starts_with(&format!("{MODEL_SHA256}  {MODEL}\n")), "{record}");
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn a_model_copy_that_does_not_verify_is_not_kept() {
    let src = temp_dir("bad-model-src");
    std::fs::write(src.join(MODEL), b"GGUF but not the model").unwrap();
    let cache = temp_dir("bad-model-cache");
    let out = xtask()
        .args(["fetch-models", "--only", "smollm2", "--from"])
        .arg(&src)
        .env("JOULEBENCH_MODELS", &cache)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sha256 of the fetched file is"), "{stderr}");
    assert!(listing(&cache).is_empty(), "{:?}", listing(&cache));
    std::fs::remove_dir_all(&src).unwrap();
    std::fs::remove_dir_all(&cache).unwrap();
}

fn shared_data() -> PathBuf {
    let root = match std::env::var_os("JOULEBENCH_DATA").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/datasets")),
    };
    assert!(root.join("hellaswag").is_dir(), "no data at {} (set JOULEBENCH_DATA)", root.display());
    root
}

#[test]
fn a_data_copy_killed_midway_leaves_nothing_that_looks_complete() {
    let src = shared_data();
    let dest = temp_dir("data");
    let fetch = || {
        let mut cmd = xtask();
        cmd.args(["fetch-data", "--from"]).arg(&src).arg("--to").arg(&dest);
        cmd
    };

    // The first file written is HellaSwag's (7.8 MB).
    let partial = kill_mid_copy(fetch());
    let full = std::fs::metadata(src.join("hellaswag/hellaswag_val_full.txt")).unwrap().len();
    let written = std::fs::metadata(&partial).unwrap().len();
    assert!(written > 0 && written < full, "{written} of {full} bytes written");
    let name = partial.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(".hellaswag_val_full.txt.partial-"), "{name}");
    assert_eq!(listing(&dest), ["hellaswag".to_string(), format!("hellaswag/{name}")]);

    let out = fetch().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("removed {}", partial.display())), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("174 files verified"), "{stdout}");
    let files = listing(&dest);
    assert!(files.iter().all(|f| !f.contains(".partial")), "{files:?}");
    assert_eq!(files.iter().filter(|f| f.ends_with(".csv")).count(), 171);
    assert_eq!(
        std::fs::read(dest.join("hellaswag/hellaswag_val_full.txt")).unwrap(),
        std::fs::read(src.join("hellaswag/hellaswag_val_full.txt")).unwrap()
    );
    // A third run finds every file in place and verified.
    let out = fetch().output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("all 174 files are there and verified"));
    std::fs::remove_dir_all(&dest).unwrap();
}
