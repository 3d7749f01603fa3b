//! The lab on a real PostgreSQL (a private cluster, see `pg.rs`): three agents share one
//! manifest of 30 experiments and one of them is killed; an agent outlives a database restart;
//! export and import round-trip; schemas from a newer joulebench and unreachable hosts are
//! refused clearly; the password never reaches results, provenance or logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use joulebench::store::{Store, TaskRecord};

use crate::pg::{Cluster, PASSWORD};
use crate::util::{built, smollm2_manifest};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const LIMIT: u32 = 3;

/// The Orin fixture tree read through the orin-rails meter.
fn fixture_meter() -> String {
    built("joulebench_meter_orin_rails");
    let root = repo_root().join("meter-plugins/orin-rails/tests/fixtures/orin-nano");
    format!(
        "[[plugin]]\nid = \"meter\"\nkind = \"meter\"\nlibrary = \"joulebench_meter_orin_rails\"\nconfig = {{ root = {:?} }}\n",
        root.display().to_string()
    )
}

const SMALL: &str = "warmup_tasks = 0\nlatency_tasks = 0\nbatch_tasks = 1\nselection = \"random\"";

/// A manifest of `entries` experiment entries over the three benchmarks (3 experiments each),
/// storing into `results`; entry `i` has seed `i` and the board label `boards(i)`.
fn manifest(
    dir: &Path,
    name: &str,
    results: &str,
    entries: usize,
    boards: impl Fn(usize) -> Option<&'static str>,
) -> PathBuf {
    // The helper's experiment is replaced by ours: cut it off at its table.
    let base = smollm2_manifest(Path::new("RESULTS"), &fixture_meter(), LIMIT, "idle_s = 0", "");
    let base = base
        .split("[[experiment]]")
        .next()
        .unwrap()
        .replace("\"RESULTS\"", &format!("{results:?}"));
    let base = base.replace("selection = \"llama-cpp\"", "");
    let mut text = base;
    for i in 0..entries {
        let board = boards(i).map_or(String::new(), |b| format!("board = \"{b}\"\n"));
        text += &format!(
            "\n[[experiment]]\nid = \"x{i}\"\nruntime = \"llama\"\nmodel = \"smollm2\"\n\
             dataset = [\"mmlu\", \"hellaswag\", \"winogrande\"]\nmeter = \"meter\"\nlimit = {LIMIT}\n\
             seed = {i}\n{SMALL}\n{board}"
        );
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn joulebench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joulebench"));
    cmd.env("PGPASSWORD", PASSWORD).env("RUST_LOG", "warn").env_remove("PGPASSFILE");
    cmd
}

fn ok(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn agent(url: &str, board: &str, name: &str, work: &Path, log: &Path) -> Child {
    let mut cmd = joulebench();
    cmd.args([
        "agent",
        "--store",
        url,
        "--board",
        board,
        "--name",
        name,
        "--lease",
        "3",
        "--sync-ms",
        "100",
    ])
    .arg("--work-dir")
    .arg(work)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(log).unwrap());
    cmd.spawn().unwrap()
}

fn wait(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every finished experiment's tasks, by experiment name.
fn results(path: &Path) -> BTreeMap<String, Vec<TaskRecord>> {
    let store = Store::open(path).unwrap();
    store
        .summaries()
        .unwrap()
        .into_iter()
        .map(|(id, name, _)| (name, store.tasks(id).unwrap()))
        .collect()
}

fn assert_same(got: &BTreeMap<String, Vec<TaskRecord>>, want: &BTreeMap<String, Vec<TaskRecord>>) {
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (name, tasks) in got {
        let expected = &want[name];
        assert_eq!(tasks.len(), expected.len(), "{name}");
        for (t, w) in tasks.iter().zip(expected) {
            assert_eq!(
                (t.position, &t.task_id, t.gold, t.predicted, t.correct, t.predicted_norm),
                (w.position, &w.task_id, w.gold, w.predicted, w.correct, w.predicted_norm),
                "{name}"
            );
            for (a, b) in t.scores.iter().zip(&w.scores) {
                assert!((a - b).abs() < 1e-4, "{name} task {}: {a} vs {b}", t.task_id);
            }
        }
    }
}

fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn three_agents_share_thirty_experiments_and_a_killed_one_loses_nothing() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.url("postgres");
    let boards = |i: usize| match i {
        0..=3 => Some("pi5"),
        4..=6 => Some("orin"),
        _ => None,
    };

    // The single machine's run, for reference.
    let single = dir.path().join("single.sqlite");
    let single_manifest = manifest(dir.path(), "single", single.to_str().unwrap(), 10, boards);
    let mut run = joulebench();
    run.args(["run", "--quiet"]).arg(&single_manifest);
    ok(run);
    let want = results(&single);
    assert_eq!(want.len(), 30);

    // The lab: one manifest, submitted with the password in its URL.
    let lab_manifest =
        manifest(dir.path(), "lab", &cluster.url_with_password("postgres"), 10, boards);
    let mut submit = joulebench();
    submit.arg("submit").arg(&lab_manifest);
    let out = ok(submit);
    assert!(String::from_utf8_lossy(&out.stdout).contains("30 units"), "{out:?}");

    let logs: Vec<PathBuf> =
        ["a", "b", "c"].iter().map(|n| dir.path().join(format!("{n}.log"))).collect();
    let mut a = agent(&url, "pi5", "agent-a", &dir.path().join("work-a"), &logs[0]);
    let mut b = agent(&url, "pi5", "agent-b", &dir.path().join("work-b"), &logs[1]);
    let mut c = agent(
        &cluster.url_with_password("postgres"),
        "orin",
        "agent-c",
        &dir.path().join("work-c"),
        &logs[2],
    );

    // Kill agent a while it holds an experiment with some of its tasks in the database.
    let mut client = cluster.client("postgres");
    let deadline = Instant::now() + Duration::from_secs(300);
    let (killed_in, stored_at_kill) = loop {
        assert!(Instant::now() < deadline, "never caught agent a in the middle of an experiment");
        assert!(a.try_wait().unwrap().is_none(), "agent a finished before it could be killed");
        let row = client
            .query_opt(
                "SELECT u.experiment, (SELECT COUNT(*) FROM tasks t JOIN experiments e ON e.id = t.experiment_id
                                       WHERE e.name = u.experiment)
                 FROM lab_units u WHERE u.agent = 'agent-a' AND u.state = 'running'",
                &[],
            )
            .unwrap();
        if let Some(row) = row {
            let stored: i64 = row.get(1);
            if stored > 0 && stored < i64::from(LIMIT) {
                a.kill().unwrap(); // SIGKILL
                a.wait().unwrap();
                let name: String = row.get(0);
                let stored = count(
                    &mut client,
                    &format!(
                        "SELECT COUNT(*) FROM tasks t JOIN experiments e ON e.id = t.experiment_id
                         WHERE e.name = '{name}'"
                    ),
                );
                break (name, stored);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for (child, name) in [(&mut b, "agent b"), (&mut c, "agent c")] {
        let status = wait(child, Duration::from_secs(600), name);
        let log = std::fs::read_to_string(&logs[if name == "agent b" { 1 } else { 2 }]).unwrap();
        assert!(status.success(), "{name} failed: {log}");
    }

    // Every unit done, each on a board of its label; the killed unit finished on the other pi5.
    let units = client
        .query("SELECT experiment, board, state, agent, agent_board FROM lab_units", &[])
        .unwrap();
    assert_eq!(units.len(), 30);
    for u in &units {
        let (exp, board, state, agent, agent_board): (
            String,
            Option<String>,
            String,
            String,
            String,
        ) = (u.get(0), u.get(1), u.get(2), u.get(3), u.get(4));
        assert_eq!(state, "done", "{exp}");
        if let Some(board) = board {
            assert_eq!(agent_board, board, "{exp} ran on {agent}");
        }
        if exp == killed_in {
            assert_eq!(agent, "agent-b", "the killed unit is resumed by the other pi5 agent");
        }
    }
    // Every task stored exactly once: 30 experiments done, 3 tasks each, no other rows.
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM experiments WHERE status = 'done'"), 30);
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM experiments"), 30);
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM tasks"), 30 * i64::from(LIMIT));
    // The killed experiment was resumed at task granularity: its tasks span two segments
    // (unless agent a uploaded its last task in the instant before the kill).
    let segments = count(
        &mut client,
        &format!(
            "SELECT COUNT(DISTINCT t.segment) FROM tasks t JOIN experiments e ON e.id = t.experiment_id
             WHERE e.name = '{killed_in}'"
        ),
    );
    if stored_at_kill < i64::from(LIMIT) {
        assert_eq!(segments, 2, "{killed_in}");
    }

    // `status` shows it all.
    let mut status = joulebench();
    status.args(["status", "--store", &url]);
    let shown = String::from_utf8(ok(status).stdout).unwrap();
    assert!(
        shown.contains("30 units, 0 queued, 0 running, 0 expired, 30 done, 0 failed"),
        "{shown}"
    );
    assert!(shown.contains("| x0/llama/smollm2/mmlu/meter | 0 | pi5 | done | agent-"), "{shown}");

    // The same results as the single machine, task for task.
    let exported = dir.path().join("exported.sqlite");
    let mut export = joulebench();
    export.args(["export", "--store", &url]).arg(&exported);
    ok(export);
    assert_same(&results(&exported), &want);

    // Reports read the database as they read a file.
    let report = |results: &str| {
        let mut cmd = joulebench();
        cmd.args(["report", "--format", "csv", "--results", results]);
        ok(cmd).stdout
    };
    assert_eq!(report(&url), report(exported.to_str().unwrap()));

    // The password is in no result, no provenance, no log.
    let mut texts: Vec<(String, String)> = logs
        .iter()
        .map(|l| (l.display().to_string(), std::fs::read_to_string(l).unwrap_or_default()))
        .collect();
    texts.push((
        "export".into(),
        String::from_utf8_lossy(&std::fs::read(&exported).unwrap()).into_owned(),
    ));
    for table in ["runs", "experiments", "lab_submissions", "lab_units"] {
        let rows =
            client.query(&format!("SELECT row_to_json(x)::TEXT FROM {table} x"), &[]).unwrap();
        texts.push((table.into(), rows.iter().map(|r| r.get::<_, String>(0)).collect()));
    }
    for (what, text) in texts {
        assert!(!text.contains(PASSWORD), "the password leaked into {what}");
    }

    // Import round-trips into another database, and a second import is refused.
    cluster.create_db("copy");
    let copy_url = cluster.url("copy");
    let mut import = joulebench();
    import.args(["import", "--store", &copy_url]).arg(&exported);
    ok(import);
    let again =
        joulebench().args(["import", "--store", &copy_url]).arg(&exported).output().unwrap();
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds 30 of these experiments"), "{err}");
    assert_eq!(
        count(&mut cluster.client("copy"), "SELECT COUNT(*) FROM tasks"),
        30 * i64::from(LIMIT)
    );
    let back = dir.path().join("back.sqlite");
    let mut export = joulebench();
    export.args(["export", "--store", &copy_url]).arg(&back);
    ok(export);
    assert_same(&results(&back), &want);
    // The single machine's file holds the same experiments (same keys): refused too.
    let dup = joulebench().args(["import", "--store", &url]).arg(&single).output().unwrap();
    assert!(!dup.status.success(), "importing the lab's own experiments again must be refused");
}

#[test]
fn an_agent_outlives_a_database_restart_with_nothing_lost_or_doubled() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.url("postgres");
    let m = manifest(dir.path(), "lab", &url, 2, |_| None);
    let mut submit = joulebench();
    submit.arg("submit").arg(&m);
    ok(submit);
    let log = dir.path().join("agent.log");
    let mut a = agent(&url, "any", "agent", &dir.path().join("work"), &log);

    // Once results arrive, stop the database for a few seconds while the agent measures on.
    let mut client = cluster.client("postgres");
    let deadline = Instant::now() + Duration::from_secs(300);
    while count(&mut client, "SELECT COUNT(*) FROM tasks") == 0 {
        assert!(Instant::now() < deadline, "no results reached the database");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(client);
    cluster.stop_server();
    std::thread::sleep(Duration::from_secs(4));
    cluster.start_server();
    let status = wait(&mut a, Duration::from_secs(600), "the agent");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("retrying"), "the agent never noticed the database was gone: {log}");
    assert!(log.contains("127.0.0.1"), "the message names the host: {log}");

    let mut client = cluster.client("postgres");
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM experiments WHERE status = 'done'"), 6);
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM tasks"), 6 * i64::from(LIMIT));
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM lab_units WHERE state = 'done'"), 6);
    // Each experiment's samples arrived once (no time appears twice in a segment).
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM (SELECT 1 FROM samples GROUP BY experiment_id, segment, t_s HAVING COUNT(*) > 1) d"
        ),
        0
    );
    let positions = count(
        &mut client,
        "SELECT COUNT(*) FROM (SELECT DISTINCT experiment_id, position FROM tasks) d",
    );
    assert_eq!(positions, 6 * i64::from(LIMIT));
}

#[test]
fn bad_databases_are_refused_clearly() {
    let cluster = Cluster::start();
    // Unreachable: the message names the host.
    let out = joulebench()
        .args(["status", "--store", "postgres://lab@127.0.0.1:1/results"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the results database at postgres://lab@127.0.0.1:1/results"),
        "{err}"
    );

    // A wrong password is refused without showing the one given.
    let wrong = format!("postgres://joulebench:not-{PASSWORD}@127.0.0.1:{}/postgres", cluster.port);
    let out = Command::new(env!("CARGO_BIN_EXE_joulebench"))
        .args(["status", "--store", &wrong])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !err.contains(PASSWORD), "{err}");

    // Credentials from .pgpass.
    let dir = tempfile::tempdir().unwrap();
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:{}:*:joulebench:{PASSWORD}\n", cluster.port))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_joulebench"))
        .args(["status", "--store", &cluster.url("postgres")])
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", &pgpass)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The shared schema: PostgreSQL's results tables have the SQLite store's columns.
    let file = dir.path().join("r.sqlite");
    drop(Store::open(&file).unwrap());
    let sqlite = rusqlite::Connection::open(&file).unwrap();
    let mut client = cluster.client("postgres");
    for table in [
        "runs",
        "experiments",
        "segments",
        "phases",
        "tasks",
        "samples",
        "latencies",
        "baselines",
        "metrics",
        "state_segments",
        "state_samples",
        "generation_requests",
        "generation_summaries",
    ] {
        let mut stmt = sqlite.prepare(&format!("PRAGMA table_info({table})")).unwrap();
        let want: Vec<String> =
            stmt.query_map([], |r| r.get(1)).unwrap().map(Result::unwrap).collect();
        let got: Vec<String> = client
            .query(
                "SELECT column_name::TEXT FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(got, want, "{table}");
    }

    // A schema from a newer joulebench is refused, with both versions named.
    client.execute("INSERT INTO joulebench_schema(version) VALUES(99)", &[]).unwrap();
    let out = joulebench().args(["status", "--store", &cluster.url("postgres")]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("schema version 99")
            && err.contains("versions up to 1"),
        "{err}"
    );
}

/// A manifest of `entries` Winogrande experiments of `tasks` tasks each on the scripted runtime
/// with no delays, so that a run's time is the host's and the store's alone.
fn instant_manifest(dir: &Path, name: &str, results: &str, entries: usize, tasks: u32) -> PathBuf {
    let model = dir.join("model.bin");
    std::fs::write(&model, b"not read by the scripted runtime").unwrap();
    let mut text = format!(
        "[settings]\nresults = {results:?}\nidle_s = 0\n\n\
         [[plugin]]\nid = \"scripted\"\nkind = \"runtime\"\nlibrary = {scripted:?}\n\
         config = {{ call_ms = 0, task_ms = 0 }}\n\n\
         [[plugin]]\nid = \"winogrande\"\nkind = \"dataset\"\nlibrary = {winogrande:?}\n\
         config = {{ data_dir = {data:?} }}\n\n{meter}\n\
         [[model]]\nid = \"m\"\npath = {model:?}\n",
        scripted = built("joulebench_test_scripted").display().to_string(),
        winogrande = built("joulebench_dataset_winogrande").display().to_string(),
        data = crate::util::data_dir().display().to_string(),
        meter = fixture_meter(),
        model = model.display().to_string(),
    );
    for i in 0..entries {
        text += &format!(
            "\n[[experiment]]\nid = \"c{i}\"\nruntime = \"scripted\"\nmodel = \"m\"\n\
             dataset = \"winogrande\"\nmeter = \"meter\"\nlimit = {tasks}\nseed = {i}\n{SMALL}\n"
        );
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The cost per task of the PostgreSQL path against SQLite (docs/lab.md): the same manifest of
/// instant tasks (one per batch, so every task is a store write) run into a SQLite file, and
/// submitted to PostgreSQL and run by one agent. Ignored by default: it measures, and prints.
/// `LAB_COST_ENTRIES` and `LAB_COST_TASKS` size it (default 10 experiments of 40 tasks).
#[test]
#[ignore = "a measurement: cargo test -p joulebench --test integration lab::cost -- --ignored --nocapture"]
fn cost() {
    let entries: usize =
        std::env::var("LAB_COST_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let tasks: u32 =
        std::env::var("LAB_COST_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let total = entries as f64 * f64::from(tasks);
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();

    let single = dir.path().join("single.sqlite");
    let m = instant_manifest(dir.path(), "single", single.to_str().unwrap(), entries, tasks);
    let t0 = Instant::now();
    let mut run = joulebench();
    run.args(["run", "--quiet"]).arg(&m);
    ok(run);
    let sqlite_s = t0.elapsed().as_secs_f64();

    let url = cluster.url("postgres");
    let m = instant_manifest(dir.path(), "lab", &url, entries, tasks);
    let t0 = Instant::now();
    let mut submit = joulebench();
    submit.arg("submit").arg(&m);
    ok(submit);
    let log = dir.path().join("agent.log");
    let mut a = agent(&url, "any", "agent", &dir.path().join("work"), &log);
    let status = wait(&mut a, Duration::from_secs(1800), "the agent");
    assert!(status.success(), "{}", std::fs::read_to_string(&log).unwrap());
    let pg_s = t0.elapsed().as_secs_f64();

    let mut client = cluster.client("postgres");
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM tasks") as f64, total);
    assert_same(&results(&single), &{
        let exported = dir.path().join("exported.sqlite");
        let mut export = joulebench();
        export.args(["export", "--store", &url]).arg(&exported);
        ok(export);
        results(&exported)
    });
    println!(
        "{entries} experiments x {tasks} tasks: SQLite {sqlite_s:.2} s ({:.2} ms/task), \
         PostgreSQL agent {pg_s:.2} s ({:.2} ms/task), {:.2} ms/task more",
        sqlite_s * 1000.0 / total,
        pg_s * 1000.0 / total,
        (pg_s - sqlite_s) * 1000.0 / total
    );
}
