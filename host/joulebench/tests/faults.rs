//! Faults injected into runs: hung and slow plugins, a meter that stops answering, stop
//! signals, a locked, read-only or full results store. The runs use the faulty test plugins
//! (a runtime and a meter that misbehave on demand; the runtime scores tasks from their text)
//! on the real benchmark data, so that each fault costs seconds, not a model's minutes; the
//! killed-and-resumed run on the real model is `resume.rs`. Each test runs alone (they time
//! deadlines and signals, and the latency test beside them times sleeps).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, RunOutcome, run};
use joulebench::store::{Store, TaskRecord};

use crate::util::{built, data_dir};

/// `[[plugin]]` tables of the faulty runtime `id` with `config` and optional `deadlines`.
fn runtime(id: &str, config: &str, deadlines: &str) -> String {
    let deadlines = if deadlines.is_empty() {
        String::new()
    } else {
        format!("deadlines = {{ {deadlines} }}\n")
    };
    format!(
        "[[plugin]]\nid = \"{id}\"\nkind = \"runtime\"\nlibrary = \"{}\"\nconfig = {{ {config} }}\n{deadlines}\n",
        built("joulebench_test_faulty").display()
    )
}

fn meter(config: &str, deadlines: &str) -> String {
    let deadlines = if deadlines.is_empty() {
        String::new()
    } else {
        format!("deadlines = {{ {deadlines} }}\n")
    };
    format!(
        "[[plugin]]\nid = \"meter\"\nkind = \"meter\"\nlibrary = \"{}\"\nconfig = {{ {config} }}\n{deadlines}\n",
        built("joulebench_test_faulty_meter").display()
    )
}

/// A manifest in `dir` storing into `results`, with the plugin tables `plugins`, the real
/// Winogrande and HellaSwag datasets, and one experiment entry `experiment` (its `runtime`,
/// `dataset`, `limit`, ... lines).
fn manifest(dir: &Path, results: &Path, plugins: &str, experiment: &str) -> PathBuf {
    let model = dir.join("model.bin");
    std::fs::write(&model, b"never read by the faulty runtime").unwrap();
    let text = format!(
        r#"
[settings]
results = "{results}"
idle_s = 0

{plugins}
[[plugin]]
id = "winogrande"
kind = "dataset"
library = "{winogrande}"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "hellaswag"
kind = "dataset"
library = "{hellaswag}"
config = {{ data_dir = "{data}" }}

[[model]]
id = "m"
path = "{model}"

[[experiment]]
id = "f"
model = "m"
meter = "meter"
warmup_tasks = 0
{experiment}
"#,
        results = results.display(),
        winogrande = built("joulebench_dataset_winogrande").display(),
        hellaswag = built("joulebench_dataset_hellaswag").display(),
        data = data_dir().display(),
        model = model.display(),
    );
    let path =
        dir.join(format!("{}.toml", results.file_stem().and_then(|s| s.to_str()).unwrap_or("m")));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `manifest` in this process, failing the test instead of hanging when the run does not
/// return within `limit`.
fn run_within(manifest: &Path, limit: Duration) -> RunOutcome {
    let m = Manifest::load(manifest).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run(&m, &RunOptions::default()).map_err(|e| format!("{e:#}")));
    });
    rx.recv_timeout(limit).expect("the run froze").expect("the run itself succeeds")
}

fn status(db: &Path) -> Vec<(String, String, Option<String>, u64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c
        .prepare(
            "SELECT e.name, e.status, e.error, (SELECT COUNT(*) FROM tasks t WHERE t.experiment_id = e.id)
             FROM experiments e ORDER BY e.id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn stored(db: &Path) -> u64 {
    if !db.exists() {
        return 0;
    }
    Store::open(db).and_then(|s| s.task_count()).unwrap_or(0)
}

/// Every finished experiment's tasks, by name.
fn results(db: &Path) -> Vec<(String, Vec<TaskRecord>)> {
    let store = Store::open(db).unwrap();
    store
        .summaries()
        .unwrap()
        .into_iter()
        .map(|(id, name, _)| (name, store.tasks(id).unwrap()))
        .collect()
}

/// The same tasks with the same answers, batch by batch, whatever the timing.
fn assert_same_results(got: &[(String, Vec<TaskRecord>)], want: &[(String, Vec<TaskRecord>)]) {
    assert_eq!(got.len(), want.len());
    for ((name, tasks), (want_name, want_tasks)) in got.iter().zip(want) {
        assert_eq!(name, want_name);
        assert_eq!(tasks.len(), want_tasks.len(), "{name}");
        for (t, w) in tasks.iter().zip(want_tasks) {
            assert_eq!(
                (t.position, &t.task_id, t.gold, t.predicted, t.correct, t.predicted_norm, t.batch),
                (w.position, &w.task_id, w.gold, w.predicted, w.correct, w.predicted_norm, w.batch),
                "{name}"
            );
            assert_eq!(t.scores, w.scores, "{name} task {}", t.task_id);
        }
    }
}

fn joulebench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joulebench"));
    cmd.args(args);
    cmd
}

fn spawn_run(manifest: &Path) -> Child {
    spawn_run_with_batches_of(manifest, None)
}

/// A run whose evaluate calls take `ms` each, when given, whatever its manifest says.
fn spawn_run_with_batches_of(manifest: &Path, ms: Option<u64>) -> Child {
    let mut cmd = joulebench(&["run", "--quiet"]);
    if let Some(ms) = ms {
        cmd.env("JOULEBENCH_TEST_EVALUATE_MS", ms.to_string());
    }
    cmd.arg(manifest).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Waits until `db` holds at least `tasks` tasks, or `child` ended.
fn wait_for_tasks(child: &mut Child, db: &Path, tasks: u64) {
    let until = Instant::now() + Duration::from_secs(60);
    while stored(db) < tasks {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before storing {tasks} tasks");
        assert!(Instant::now() < until, "no {tasks} tasks stored in 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines `child` writes to stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if !line.trim().is_empty() && tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn finish(child: Child) -> (Output, Duration) {
    let t = Instant::now();
    let out = child.wait_with_output().unwrap();
    (out, t.elapsed())
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Writes to the real stderr: a skipped test says so even when cargo captures its output.
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

#[test]
fn hung_and_slow_plugin_calls_fail_their_experiment_by_name_and_the_run_goes_on() {
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hung.sqlite");
    let plugins = [
        runtime("hung-load", "load_model = \"hang\"", "load_model = 0.5"),
        runtime("hung-batch", "evaluate = \"hang\", evaluate_from = 3", "evaluate = 0.5"),
        runtime("slow", "evaluate = \"sleep:0.3\", load_model = \"sleep:0.3\"", "evaluate = 10"),
        meter("", ""),
    ]
    .concat();
    let path = manifest(
        dir.path(),
        &db,
        &plugins,
        "runtime = [\"hung-load\", \"hung-batch\", \"slow\"]\ndataset = \"winogrande\"\nlimit = 16\nbatch_tasks = 4\nlatency_tasks = 1",
    );
    let started = Instant::now();
    let outcome = run_within(&path, Duration::from_secs(60));
    // Two deadlines of 0.5 s missed, four slow batches and a slow load: no hang waited out.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());

    let failed: Vec<(&str, &str)> =
        outcome.failed.iter().map(|(n, e)| (n.as_str(), e.as_str())).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "f/hung-load/m/winogrande/meter");
    assert!(
        failed[0].1.contains(
            "plugin \"hung-load\": load_model() did not return within its deadline of 0.5 s"
        ),
        "{}",
        failed[0].1
    );
    assert_eq!(failed[1].0, "f/hung-batch/m/winogrande/meter");
    assert!(
        failed[1].1.starts_with("tasks 8..12: plugin \"hung-batch\": evaluate() did not return"),
        "{}",
        failed[1].1
    );
    assert_eq!(outcome.finished.len(), 1, "the slow runtime, within its deadlines, finishes");
    assert_eq!(outcome.finished[0].labels.runtime, "slow");

    // Every failure is in the store with the call named; the batches before the hung one stay.
    let rows = status(&db);
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[0].1.as_str(), rows[0].3), ("failed", 0));
    assert!(rows[0].2.as_deref().unwrap().contains("load_model() did not return"));
    assert_eq!((rows[1].1.as_str(), rows[1].3), ("failed", 8));
    assert!(rows[1].2.as_deref().unwrap().contains("evaluate() did not return"));
    assert_eq!((rows[2].1.as_str(), rows[2].3), ("done", 16));
}

#[test]
fn a_constructor_that_hangs_is_refused_by_name_after_its_deadline() {
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let text = runtime("stuck", "constructor = \"hang\"", "new = 0.3");
    let m = Manifest::parse(Path::new("stuck.toml"), text).unwrap();
    let started = Instant::now();
    let e = joulebench::loader::load(&m.plugins[0], Path::new("/"), &crate::util::plugin_dir())
        .err()
        .expect("refused");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        e.to_string().contains(
            "constructor: plugin \"stuck\": new() did not return within its deadline of 0.3 s"
        ),
        "{e}"
    );
}

#[test]
fn a_meter_that_stops_answering_leaves_gaps_and_the_run_goes_on() {
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meter.sqlite");
    // At 20 Hz the meter answers for a fifth of a second, then never again; the evaluation
    // takes three batches of 300 ms.
    let plugins = [
        runtime("rt", "evaluate_ms = 300", ""),
        meter("read = \"hang\", read_from = 5", "read = 0.5"),
    ]
    .concat();
    let path = manifest(
        dir.path(),
        &db,
        &plugins,
        "runtime = \"rt\"\ndataset = [\"winogrande\", \"hellaswag\"]\nlimit = 12\nbatch_tasks = 4\nlatency_tasks = 0\nsample_hz = 20",
    );
    let outcome = run_within(&path, Duration::from_secs(60));
    // The first experiment measured all its tasks; its energy covers only what the meter saw.
    assert_eq!(outcome.finished.len(), 1, "{:?}", outcome.failed);
    let s = &outcome.finished[0];
    assert_eq!(s.labels.dataset, "winogrande");
    // Samples stop a fifth of a second into a window of almost a second: too few to
    // extrapolate from, so the energy is unavailable, and the summary says why.
    assert_eq!(s.metrics.total_energy_j, None);
    assert!(
        s.flags
            .iter()
            .any(|f| f.contains("samples cover only") && f.contains("energy unavailable")),
        "{:?}",
        s.flags
    );
    // The stored samples end where the meter stopped answering.
    let store = Store::open(&db).unwrap();
    let samples = store.samples(1, 0).unwrap();
    let tasks = store.tasks(1).unwrap();
    let last_sample = samples.last().expect("the first reads were stored").t_s;
    let last_task = tasks.iter().map(|t| t.t_end_s).fold(0.0, f64::max);
    assert!(last_task - last_sample > 0.3, "samples until {last_sample}, tasks until {last_task}");
    let rows = status(&db);
    assert_eq!((rows[0].1.as_str(), rows[0].3), ("done", 12));
    // The meter was abandoned: the next experiment using it fails and says why.
    assert_eq!(outcome.failed.len(), 1);
    assert!(
        outcome.failed[0].1.contains("meter \"meter\" stopped answering"),
        "{}",
        outcome.failed[0].1
    );
}

#[test]
fn signals_stop_after_the_batch_in_flight_and_the_run_resumes_to_the_uninterrupted_result() {
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let plugins = [runtime("rt", "evaluate_ms = 150", ""), meter("", "")].concat();
    let experiment = "runtime = \"rt\"\ndataset = [\"winogrande\", \"hellaswag\"]\nlimit = 48\nbatch_tasks = 4\nlatency_tasks = 2";
    let straight_db = dir.path().join("straight.sqlite");
    let straight = manifest(dir.path(), &straight_db, &plugins, experiment);
    let outcome = run_within(&straight, Duration::from_secs(60));
    assert_eq!(outcome.finished.len(), 2, "{:?}", outcome.failed);
    let expected = results(&straight_db);

    let db = dir.path().join("signalled.sqlite");
    let path = manifest(dir.path(), &db, &plugins, experiment);

    // Ctrl-C: the batch in flight is stored, the experiment marked, nothing else started.
    // Batches of 1 s leave the first experiment 10 s to run after its 8th task: time enough,
    // on a loaded CI machine too, for the second run and the report below to start and end.
    let mut child = spawn_run_with_batches_of(&path, Some(1000));
    wait_for_tasks(&mut child, &db, 8);
    // Meanwhile a second run is refused, naming the first one's pid, and a report reads on.
    let second = joulebench(&["run", "--quiet"]).arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(err.contains(&format!("is in use by pid {}", child.id())), "{err}");
    assert!(err.contains(&db.display().to_string()), "{err}");
    let report =
        joulebench(&["report", "--format", "json", "--results"]).arg(&db).output().unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    signal(&child, libc::SIGINT);
    let (out, _) = finish(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    let rows = status(&db);
    assert_eq!(rows.len(), 1, "no experiment starts after the signal: {rows:?}");
    let (_, state, note, tasks) = &rows[0];
    assert_eq!((state.as_str(), note.as_deref()), ("interrupted", Some("interrupted by SIGINT")));
    // The signal lands mid-evaluation (or, on a slow machine, in the latency pass after it).
    assert!(*tasks >= 8 && *tasks <= 48 && tasks % 4 == 0, "whole batches only: {tasks}");

    // SIGTERM twice: the second one stops at once, leaving the batch in flight (made 6 s long
    // for this run, so that the first signal's message comes well before it ends) unstored.
    let before = stored(&db);
    let mut child = spawn_run_with_batches_of(&path, Some(6000));
    let lines = stderr_lines(&mut child);
    wait_for_tasks(&mut child, &db, before + 4);
    signal(&child, libc::SIGTERM);
    let said = lines.recv_timeout(Duration::from_secs(10)).expect("a message on the signal");
    assert!(said.contains("SIGTERM: finishing the batch in flight"), "{said}");
    let again = Instant::now();
    signal(&child, libc::SIGTERM);
    let code = child.wait().unwrap().code();
    let waited = again.elapsed();
    let rest: Vec<String> = lines.try_iter().collect();
    assert_eq!(code, Some(143), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("SIGTERM again: stopping now")), "{rest:?}");
    assert!(waited < Duration::from_millis(3000), "{waited:?}: not at once");
    assert_eq!(stored(&db), before + 4, "the batch in flight is not stored");

    // A plain run resumes at task granularity and ends where the uninterrupted run did.
    let (out, _) = finish(spawn_run(&path));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = results(&db);
    assert_same_results(&got, &expected);
    let segments: std::collections::BTreeSet<u32> = got[0].1.iter().map(|t| t.segment).collect();
    assert!(segments.len() >= 2, "{segments:?}");
}

#[test]
fn a_read_only_store_is_refused_before_any_plugin_loads() {
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("results");
    std::fs::create_dir(&folder).unwrap();
    let db = folder.join("ro.sqlite");
    drop(Store::open(&db).unwrap());
    // Plugins that do not exist: a run that got as far as loading them would say so.
    let path = dir.path().join("ro.toml");
    std::fs::write(
        &path,
        format!(
            "[settings]\nresults = \"{}\"\n[[plugin]]\nid = \"rt\"\nkind = \"runtime\"\nlibrary = \"/nonexistent/librt.so\"\n",
            db.display()
        ),
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(dir.path(), 0o755);
    mode(&path, 0o644);
    mode(&db, 0o444);
    mode(&folder, 0o555);
    let mut cmd = joulebench(&["run", "--quiet"]);
    cmd.arg(&path);
    // Root writes through file modes: run as nobody, for whom they hold.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    mode(&folder, 0o755);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("the results store {} cannot be written", db.display())),
        "{err}"
    );
    assert!(!err.contains("librt.so"), "refused before loading plugins: {err}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the store is unchanged");
}

/// Mounts a tmpfs of `size` at `at`, or says why it cannot.
fn mount_tmpfs(at: &Path, size: &str) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Unmounts on drop, so that a failed assertion leaves no mount behind.
struct Mounted(PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes into `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0xA5u8; 64 * 1024];
    loop {
        if let Err(e) = f.write_all(&block) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            break;
        }
    }
    // Partial blocks: fill the last bytes too.
    while f.write_all(&[0]).is_ok() {}
}

#[test]
fn a_disk_that_fills_mid_run_stops_it_by_path_keeps_what_was_stored_and_a_resume_completes_it() {
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    if let Err(why) = mount_tmpfs(&disk, "16m") {
        skip(&format!(
            "a_disk_that_fills_mid_run...: cannot mount a tmpfs at {} ({why}); run the tests as root \
             (or with CAP_SYS_ADMIN) to include the full-disk test",
            disk.display()
        ));
        return;
    }
    let _mounted = Mounted(disk.clone());
    let plugins = [runtime("rt", "evaluate_ms = 100", ""), meter("", "")].concat();
    let experiment = "runtime = \"rt\"\ndataset = [\"winogrande\", \"hellaswag\"]\nlimit = 24\nbatch_tasks = 4\nlatency_tasks = 2\nsample_hz = 50";
    let straight_db = dir.path().join("straight.sqlite");
    let straight = manifest(dir.path(), &straight_db, &plugins, experiment);
    assert_eq!(run_within(&straight, Duration::from_secs(60)).finished.len(), 2);
    let expected = results(&straight_db);

    let db = disk.join("full.sqlite");
    let path = manifest(dir.path(), &db, &plugins, experiment);
    // Batches of 500 ms leave the run 5 s after its 8th task for the disk to fill.
    let mut child = spawn_run_with_batches_of(&path, Some(500));
    wait_for_tasks(&mut child, &db, 8);
    let ballast = disk.join("ballast");
    fill(&ballast);
    let (out, _) = finish(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot write the results store {}", db.display())), "{err}");
    assert!(err.contains("database or disk is full"), "{err}");

    // With the disk still full, every task stored before the error reads back, and a report
    // can be made.
    let kept = stored(&db);
    assert!(kept >= 8 && kept % 4 == 0, "{kept}");
    let store = Store::open(&db).unwrap();
    let first: Vec<TaskRecord> = store.tasks(1).unwrap();
    assert_eq!(first.len() as u64, kept.min(24));
    for (t, w) in first.iter().zip(&expected[0].1) {
        assert_eq!(
            (t.position, &t.task_id, t.predicted, &t.scores),
            (w.position, &w.task_id, w.predicted, &w.scores)
        );
    }
    drop(store);
    let report = joulebench(&["report", "--format", "csv", "--results"]).arg(&db).output().unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));

    // Space again: the next run resumes and ends where the uninterrupted run did.
    std::fs::remove_file(&ballast).unwrap();
    let (out, _) = finish(spawn_run(&path));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same_results(&results(&db), &expected);
}
