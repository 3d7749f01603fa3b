//! The lab: `joulebench submit`, `agent`, `status`, `export` and `import`, and reading a
//! PostgreSQL results database as a report reads a file (see `docs/lab.md`).
//!
//! An agent runs each unit it claims with the ordinary runner into a local SQLite file, the
//! single machine's store, and a background thread uploads what the runner stores (and renews
//! the claim's heartbeat) about once a second. So measurement never waits on the network: when
//! the database goes away, the runner goes on, the measured tasks wait in the local file, and
//! the uploader retries with backoff until the database answers again; PostgreSQL's keys make
//! a row sent twice count once. An experiment another agent started (whose heartbeat stopped)
//! is first downloaded into the local file, so the runner resumes it at task granularity with
//! the same rule as a resumed single-machine run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use joulebench_lab::copy::{Columns, Copier, Db, Existing, Pg, experiment_ids};
use joulebench_lab::queue::{self, Claim, UnitSpec};
use joulebench_lab::{Target, schema};
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;
use crate::runner::{self, RunOptions};
use crate::signals;
use crate::store::Store;

/// Whether `results` (a `--store` value or `[settings] results`) names PostgreSQL.
pub fn is_postgres(results: &str) -> bool {
    joulebench_lab::is_postgres(results)
}

fn connect(url: &str) -> Result<(Target, Pg)> {
    let (target, client) = joulebench_lab::open(url)?;
    Ok((target, Pg::new(client)))
}

/// Queues every (experiment, repeat) of a manifest in the database; returns the submission id.
pub fn submit(manifest: &Manifest, url: &str) -> Result<i64> {
    let (_, mut pg) = connect(url)?;
    submit_to(&mut pg, manifest)
}

/// `text` with the password of every `postgres://` URL in it replaced by `***`: a manifest's
/// text is stored with its results.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("postgres") {
        let (before, from) = rest.split_at(i);
        out += before;
        let end =
            from.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(from.len());
        let (url, after) = from.split_at(end);
        out +=
            &if is_postgres(url) { joulebench_lab::connect::redact(url) } else { url.to_string() };
        rest = after;
    }
    out + rest
}

fn submit_to(pg: &mut Pg, manifest: &Manifest) -> Result<i64> {
    let units: Vec<UnitSpec> = runner::run_order(manifest)
        .into_iter()
        .map(|(e, repeat)| UnitSpec { experiment: e.id.clone(), repeat, board: e.board.clone() })
        .collect();
    let sha = format!("{:x}", Sha256::digest(manifest.text.as_bytes()));
    queue::submit(
        &mut pg.client,
        &manifest.path.display().to_string(),
        &redact_urls(&manifest.text),
        &sha,
        &units,
    )
}

/// `joulebench status`: every unit, what state it is in and on which board.
pub fn status(url: &str) -> Result<String> {
    let (target, mut pg) = connect(url)?;
    let units = queue::status(&mut pg.client)?;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for u in &units {
        *counts.entry(u.state.as_str()).or_default() += 1;
    }
    let mut out = format!("{target}: {} units", units.len());
    for state in ["queued", "running", "expired", "done", "failed"] {
        out += &format!(", {} {state}", counts.get(state).copied().unwrap_or(0));
    }
    out += "\n\n| submission | experiment | repeat | needs board | state | agent (board) | attempts | note |\n|---|---|---|---|---|---|---|---|\n";
    for u in &units {
        let agent = u.agent.as_ref().map_or(String::new(), |(a, b)| format!("{a} ({b})"));
        let note = match (&u.error, u.silent_s) {
            (Some(e), _) => e.lines().next().unwrap_or("").to_string(),
            (None, Some(s)) => format!("last heartbeat {s:.0} s ago"),
            _ => String::new(),
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {agent} | {} | {note} |\n",
            u.submission,
            u.experiment,
            u.repeat,
            u.board.as_deref().unwrap_or("any"),
            u.state,
            u.attempts
        );
    }
    Ok(out)
}

/// Copies every experiment of the SQLite file `file` into the database; refuses, before writing
/// anything, when the database already holds one of them. Returns how many were copied.
pub fn import(url: &str, file: &Path) -> Result<usize> {
    if !file.exists() {
        bail!("no results at {}", file.display());
    }
    Store::open(file)?;
    let mut sqlite = rusqlite::Connection::open(file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let (target, mut pg) = connect(url)?;
    let cols = Columns::of(&sqlite)?;
    let ids = experiment_ids(&mut sqlite)?;
    refuse_present(&mut sqlite, &mut pg, &ids, &target.to_string())?;
    let mut copier = Copier::new();
    for (id, name, _) in &ids {
        copier
            .copy_experiment(&mut sqlite, &mut pg, &cols, *id, Existing::Refuse)
            .with_context(|| format!("cannot import experiment {name} into {target}"))?;
    }
    Ok(ids.len())
}

/// Copies every experiment of the database into the SQLite file `file` (created when absent);
/// refuses, before writing anything, when the file already holds one of them.
pub fn export(url: &str, file: &Path) -> Result<usize> {
    let (_, mut pg) = connect(url)?;
    export_from(&mut pg, file)
}

fn export_from(pg: &mut Pg, file: &Path) -> Result<usize> {
    Store::open(file)?;
    let mut sqlite = rusqlite::Connection::open(file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let cols = Columns::of(&sqlite)?;
    let ids = experiment_ids(pg)?;
    refuse_present(pg, &mut sqlite, &ids, &file.display().to_string())?;
    let mut copier = Copier::new();
    for (id, name, _) in &ids {
        copier
            .copy_experiment(pg, &mut sqlite, &cols, *id, Existing::Refuse)
            .with_context(|| format!("cannot export experiment {name} into {}", file.display()))?;
    }
    Ok(ids.len())
}

fn refuse_present(
    src: &mut dyn Db,
    dst: &mut dyn Db,
    ids: &[(i64, String, i64)],
    dst_name: &str,
) -> Result<()> {
    use joulebench_lab::copy::Value;
    let mut present = Vec::new();
    for (id, name, _) in ids {
        let key = src.rows("SELECT key FROM experiments WHERE id = $1", &[Value::Int(*id)])?;
        let key = key.into_iter().next().and_then(|r| r.into_iter().next());
        if let Some(key) = key
            && !dst.rows("SELECT id FROM experiments WHERE key = $1", &[key])?.is_empty()
        {
            present.push(name.clone());
        }
    }
    if !present.is_empty() {
        bail!(
            "{dst_name} already holds {} of these experiments ({}): importing them again would \
             store them twice; nothing was copied",
            present.len(),
            present.join(", ")
        );
    }
    Ok(())
}

/// A read-only copy of a PostgreSQL results database in a temporary SQLite file, for reports
/// and comparisons; the folder goes when the returned guard drops.
pub fn snapshot(url: &str) -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("joulebench-snapshot")
        .tempdir()
        .context("cannot create a temporary folder for the report's copy of the database")?;
    let file = dir.path().join("snapshot.sqlite");
    export(url, &file)?;
    Ok((dir, file))
}

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The database URL.
    pub url: String,
    /// This board's label: the agent takes units that need it, or any board.
    pub board: String,
    /// The agent's name in the queue (default `host/pid`).
    pub name: String,
    /// A local manifest to run units with (plugin and model paths of this board); default the
    /// submitted manifest.
    pub manifest: Option<PathBuf>,
    /// Seconds without a heartbeat after which another agent of the label may take a unit.
    pub lease_s: f64,
    /// Where local results files go while their unit runs.
    pub work_dir: PathBuf,
    /// Only units of this submission.
    pub submission: Option<i64>,
    /// How often the upload thread sends heartbeats and new results.
    pub sync: Duration,
}

/// What an agent did.
#[derive(Debug, Default)]
pub struct AgentOutcome {
    /// Units finished.
    pub done: Vec<String>,
    /// Units that failed, with the error.
    pub failed: Vec<(String, String)>,
    /// The stop signal that ended the agent, if one did.
    pub interrupted: Option<signals::Signal>,
}

/// Retries `f` with backoff (0.25 s doubling to 8 s) while the database cannot be reached,
/// reconnecting each time; gives up only on a stop signal or an error that is not about the
/// connection.
fn retrying<T>(
    target: &Target,
    pg: &mut Option<Pg>,
    what: &str,
    mut f: impl FnMut(&mut Pg) -> Result<T>,
) -> Result<T> {
    let mut wait = Duration::from_millis(250);
    loop {
        if pg.is_none() {
            match target.connect() {
                Ok(client) => *pg = Some(Pg::new(client)),
                Err(e) => {
                    if let Some(s) = signals::requested() {
                        return Err(signals::Interrupted(s).into());
                    }
                    tracing::warn!("{what}: {e:#}; retrying in {:.1} s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(8));
                    continue;
                }
            }
        }
        let conn = pg.as_mut().expect("connected above");
        match f(conn) {
            Ok(v) => return Ok(v),
            Err(e) if conn.client.is_closed() || is_connection_error(&e) => {
                tracing::warn!(
                    "{what}: lost the results database at {target}: {e:#}; retrying in {:.1} s",
                    wait.as_secs_f64()
                );
                *pg = None;
                if let Some(s) = signals::requested() {
                    return Err(signals::Interrupted(s).into());
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(8));
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_connection_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| match c.downcast_ref::<postgres::Error>() {
        Some(pe) => {
            pe.is_closed()
                || pe.as_db_error().is_none()
                || pe.code().is_some_and(|code| {
                    // Class 08 (connection exception) and 57P01..03 (the server shutting down).
                    code.code().starts_with("08") || code.code().starts_with("57P")
                })
        }
        None => false,
    })
}

/// Runs an agent: claims units for its board label until none is left for it (none queued,
/// and none running on its label that could fall to it), or a stop signal.
pub fn agent(options: &AgentOptions) -> Result<AgentOutcome> {
    let (target, pg) = connect(&options.url)?;
    let mut pg = Some(pg);
    std::fs::create_dir_all(&options.work_dir).with_context(|| {
        format!("cannot create the agent's folder {}", options.work_dir.display())
    })?;
    let local_manifest = options.manifest.as_deref().map(Manifest::load).transpose()?;
    let mut outcome = AgentOutcome::default();
    loop {
        if let Some(s) = signals::requested() {
            outcome.interrupted = Some(s);
            break;
        }
        let claimed = retrying(&target, &mut pg, "claiming work", |pg| {
            queue::claim(
                &mut pg.client,
                &options.name,
                &options.board,
                options.lease_s,
                options.submission,
            )
        })?;
        let Some(claim) = claimed else {
            let left = retrying(&target, &mut pg, "looking for work", |pg| {
                queue::work_left(&mut pg.client, &options.board, options.submission)
            })?;
            if !left {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        let label = format!("{} #{}", claim.experiment, claim.repeat);
        if claim.resumed {
            eprintln!("agent {}: resuming {label}, left by an agent that stopped", options.name);
        }
        match run_unit(options, &target, &mut pg, local_manifest.as_ref(), &claim) {
            Ok(UnitEnd::Done) => outcome.done.push(label),
            Ok(UnitEnd::Failed(e)) => outcome.failed.push((label, e)),
            Ok(UnitEnd::Lost) => {
                eprintln!("agent {}: {label} was taken over by another agent", options.name)
            }
            Err(e) => {
                if let Some(signals::Interrupted(s)) = e.downcast_ref() {
                    outcome.interrupted = Some(*s);
                    break;
                }
                return Err(e.context(format!("unit {label}")));
            }
        }
    }
    Ok(outcome)
}

enum UnitEnd {
    Done,
    Failed(String),
    Lost,
}

/// The manifest a unit runs with, storing into `local`.
fn unit_manifest(
    pg: &mut Pg,
    local_manifest: Option<&Manifest>,
    claim: &Claim,
    local: &Path,
) -> Result<Manifest> {
    let mut manifest = match local_manifest {
        Some(m) => m.clone(),
        None => {
            let (path, text) = queue::manifest(&mut pg.client, claim.submission)?;
            Manifest::parse(Path::new(&path), text)
                .with_context(|| format!("submission {}: the stored manifest", claim.submission))?
        }
    };
    if !manifest.experiments.iter().any(|e| e.id == claim.experiment) {
        bail!("the manifest {} has no experiment {:?}", manifest.path.display(), claim.experiment);
    }
    manifest.settings.results = Some(local.display().to_string());
    manifest.text = redact_urls(&manifest.text);
    Ok(manifest)
}

fn run_unit(
    options: &AgentOptions,
    target: &Target,
    pg: &mut Option<Pg>,
    local_manifest: Option<&Manifest>,
    claim: &Claim,
) -> Result<UnitEnd> {
    let local = options.work_dir.join(format!("unit-{}-{}.sqlite", claim.unit, std::process::id()));
    let stop = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicBool::new(false));
    let copier = Arc::new(Mutex::new(Copier::new()));

    // Download what the database holds of this experiment and repeat.
    let manifest = retrying(target, pg, "preparing a unit", |pg| {
        let manifest = unit_manifest(pg, local_manifest, claim, &local)?;
        // A fresh file each try: a download cut short leaves nothing behind.
        remove_local(&local);
        drop(Store::open(&local)?);
        let mut sqlite = rusqlite::Connection::open(&local)?;
        let cols = Columns::of(&sqlite)?;
        let remote = experiment_ids(pg)?;
        let mut down = Copier::new();
        let mut up = copier.lock().expect("not poisoned");
        *up = Copier::new();
        for (id, name, repeat) in remote {
            if name == claim.experiment && repeat == i64::from(claim.repeat) {
                let here = down.copy_experiment(pg, &mut sqlite, &cols, id, Existing::Update)?;
                up.mark_copied(&mut sqlite, here)?;
            }
        }
        up.learn_inverse(&down);
        Ok(manifest)
    });
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) if e.downcast_ref::<signals::Interrupted>().is_some() => return Err(e),
        Err(e) => {
            let msg = format!("{e:#}");
            let ended = retrying(target, pg, "recording a failure", |pg| {
                queue::finish(&mut pg.client, claim, Some(&msg))
            })?;
            return Ok(if ended { UnitEnd::Failed(msg) } else { UnitEnd::Lost });
        }
    };

    let uploader = {
        let (target, claim, local, stop, lost, copier) = (
            target.clone(),
            claim.clone(),
            local.clone(),
            stop.clone(),
            lost.clone(),
            copier.clone(),
        );
        let every = options.sync;
        std::thread::Builder::new()
            .name("joulebench-upload".into())
            .spawn(move || upload_loop(&target, &claim, &local, every, &stop, &lost, &copier))
            .context("cannot start the upload thread")?
    };
    let run_options = RunOptions {
        only: Some((claim.experiment.clone(), claim.repeat)),
        ..RunOptions::default()
    };
    let outcome = runner::run(&manifest, &run_options);
    stop.store(true, Ordering::SeqCst);
    let uploaded = uploader.join().map_err(|_| anyhow::anyhow!("the upload thread panicked"))?;
    if lost.load(Ordering::SeqCst) {
        return Ok(UnitEnd::Lost);
    }
    uploaded?;
    let error = match outcome {
        Ok(o) if o.interrupted.is_some() => {
            return Err(signals::Interrupted(o.interrupted.expect("checked")).into());
        }
        Ok(o) => o.failed.into_iter().next().map(|(_, e)| e),
        Err(e) => Some(format!("{e:#}")),
    };
    let ended = retrying(target, pg, "finishing a unit", |pg| {
        queue::finish(&mut pg.client, claim, error.as_deref())
    })?;
    if !ended {
        return Ok(UnitEnd::Lost);
    }
    remove_local(&local);
    Ok(match error {
        Some(e) => UnitEnd::Failed(e),
        None => UnitEnd::Done,
    })
}

/// The upload thread: about once a second, renews the claim's heartbeat and uploads what is new
/// in the local file; after `stop`, uploads the rest, retrying until the database takes it.
/// Sets `lost` when another agent took the unit.
fn upload_loop(
    target: &Target,
    claim: &Claim,
    local: &Path,
    every: Duration,
    stop: &AtomicBool,
    lost: &AtomicBool,
    copier: &Mutex<Copier>,
) -> Result<()> {
    let mut pg: Option<Pg> = None;
    let mut wait = Duration::from_millis(250);
    let mut next = Instant::now();
    loop {
        let last = stop.load(Ordering::SeqCst);
        if !last && Instant::now() < next {
            std::thread::sleep(every.min(Duration::from_millis(50)));
            continue;
        }
        let step = (|| -> Result<bool> {
            if pg.is_none() {
                pg = Some(Pg::new(target.connect()?));
            }
            let conn = pg.as_mut().expect("connected");
            if !queue::heartbeat(&mut conn.client, claim)? {
                return Ok(false);
            }
            upload(conn, local, &mut copier.lock().expect("not poisoned"))?;
            Ok(true)
        })();
        match step {
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                return Ok(());
            }
            Ok(true) if last => return Ok(()),
            Ok(true) => {
                wait = Duration::from_millis(250);
                next = Instant::now() + every;
            }
            Err(e) => {
                tracing::warn!(
                    "uploading {} #{} to {target}: {e:#}; the results wait in {}; retrying in {:.1} s",
                    claim.experiment,
                    claim.repeat,
                    local.display(),
                    wait.as_secs_f64()
                );
                pg = None;
                if last && signals::requested().is_some() {
                    return Err(e.context(format!(
                        "stopped before the results in {} reached {target}; `joulebench import` \
                         can copy them later",
                        local.display()
                    )));
                }
                next = Instant::now() + wait;
                if last {
                    std::thread::sleep(wait);
                }
                wait = (wait * 2).min(Duration::from_secs(8));
            }
        }
    }
}

fn remove_local(local: &Path) {
    for ext in ["sqlite", "sqlite-wal", "sqlite-shm", "sqlite.lock"] {
        let _ = std::fs::remove_file(local.with_extension(ext));
    }
}

/// Uploads everything new in the local file, read in one snapshot of it.
fn upload(pg: &mut Pg, local: &Path, copier: &mut Copier) -> Result<()> {
    if !local.exists() {
        return Ok(());
    }
    let mut sqlite = rusqlite::Connection::open(local)?;
    sqlite.busy_timeout(Duration::from_secs(10))?;
    let cols = Columns::of(&sqlite)?;
    sqlite.execute_batch("BEGIN")?;
    let result = (|| {
        for (id, _, _) in experiment_ids(&mut sqlite)? {
            copier.copy_experiment(&mut sqlite, pg, &cols, id, Existing::Update)?;
        }
        Ok(())
    })();
    let _ = sqlite.execute_batch("COMMIT");
    result
}

/// Checks the schema of an open connection (for tests of migrations).
pub fn migrate(client: &mut postgres::Client, shown: &str) -> Result<()> {
    schema::migrate(client, shown)
}

/// `joulebench submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The manifest whose experiments to queue.
    pub manifest: PathBuf,
    /// The lab's database (default: the manifest's `[settings] results`).
    #[arg(long)]
    pub store: Option<String>,
}

/// `joulebench agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The lab's database, `postgres://user@host:port/db`.
    #[arg(long)]
    pub store: String,
    /// This board's label: the agent runs experiments that need it (`board = "LABEL"`) or any
    /// board.
    #[arg(long)]
    pub board: String,
    /// Run units with this manifest (this board's plugin, model and data paths) instead of the
    /// submitted one; its experiments must carry the same ids.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Seconds without a heartbeat after which another agent of this label takes over.
    #[arg(long, default_value_t = 60.0)]
    pub lease: f64,
    /// This agent's name in `joulebench status` (default: host name and process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Where results wait before they reach the database (default: a folder in the cache).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Milliseconds between heartbeats (each one uploads what is new).
    #[arg(long, default_value_t = 1000, hide = true)]
    pub sync_ms: u64,
}

/// `joulebench status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The lab's database.
    #[arg(long)]
    pub store: String,
}

/// `joulebench export` and `import`.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The lab's database.
    #[arg(long)]
    pub store: String,
    /// The SQLite results file.
    pub file: PathBuf,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

fn work_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("joulebench/agent")
}

/// `joulebench submit`.
pub fn cli_submit(args: &SubmitArgs) -> Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    let url =
        args.store.clone().or_else(|| manifest.settings.results.clone()).filter(|u| is_postgres(u));
    let Some(url) = url else {
        bail!(
            "{}: give the lab's database with --store postgres://... (or as [settings] results)",
            args.manifest.display()
        );
    };
    let id = submit(&manifest, &url)?;
    println!(
        "submission {id}: {} units of {} queued",
        runner::run_order(&manifest).len(),
        manifest.path.display()
    );
    Ok(())
}

fn agent_report(outcome: &AgentOutcome) {
    for name in &outcome.done {
        println!("done: {name}");
    }
    for (name, e) in &outcome.failed {
        eprintln!("failed: {name}: {e}");
    }
}

/// `joulebench agent`; `Ok(Some(code))` when a stop signal ended it.
pub fn cli_agent(args: &AgentArgs) -> Result<Option<u8>> {
    if !is_postgres(&args.store) {
        bail!(
            "--store {}: an agent needs a lab's PostgreSQL database (postgres://...)",
            args.store
        );
    }
    if !(args.lease.is_finite() && args.lease > 0.0) {
        bail!("--lease {} must be a positive number of seconds", args.lease);
    }
    signals::install()?;
    let options = AgentOptions {
        url: args.store.clone(),
        board: args.board.clone(),
        name: args
            .name
            .clone()
            .unwrap_or_else(|| format!("{}/{}", host_name(), std::process::id())),
        manifest: args.manifest.clone(),
        lease_s: args.lease,
        work_dir: args.work_dir.clone().unwrap_or_else(work_dir),
        submission: None,
        sync: Duration::from_millis(args.sync_ms.max(10)),
    };
    let outcome = agent(&options)?;
    agent_report(&outcome);
    if let Some(s) = outcome.interrupted {
        eprintln!(
            "interrupted by {}: the unit in progress resumes on another agent of board {}",
            s.name(),
            args.board
        );
        return Ok(Some(s.exit_code()));
    }
    if !outcome.failed.is_empty() {
        bail!(
            "{} of {} units failed",
            outcome.failed.len(),
            outcome.failed.len() + outcome.done.len()
        );
    }
    Ok(None)
}

/// `joulebench run` on a manifest whose results are a lab's database: submits it (once) and
/// runs its units here as an agent labelled with the device name; `Ok(Some(code))` when a stop
/// signal ended it.
pub fn run_here(manifest: &Manifest, url: &str) -> Result<Option<u8>> {
    signals::install()?;
    let (_, mut pg) = connect(url)?;
    let sha = format!("{:x}", Sha256::digest(manifest.text.as_bytes()));
    let submission = match queue::find_submission(&mut pg.client, &sha)? {
        Some(id) => id,
        None => submit_to(&mut pg, manifest)?,
    };
    drop(pg);
    let board = manifest.settings.device.clone().unwrap_or_else(host_name);
    let options = AgentOptions {
        url: url.to_string(),
        name: format!("{}/{}", host_name(), std::process::id()),
        board,
        manifest: Some(manifest.path.clone()),
        lease_s: 60.0,
        work_dir: work_dir(),
        submission: Some(submission),
        sync: Duration::from_secs(1),
    };
    let outcome = agent(&options)?;
    agent_report(&outcome);
    if let Some(s) = outcome.interrupted {
        return Ok(Some(s.exit_code()));
    }
    if !outcome.failed.is_empty() {
        bail!(
            "{} of {} units failed",
            outcome.failed.len(),
            outcome.failed.len() + outcome.done.len()
        );
    }
    Ok(None)
}
