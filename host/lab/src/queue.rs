//! The work queue: submitted manifests and their (experiment, repeat) units, claimed by agents
//! with `SELECT ... FOR UPDATE SKIP LOCKED`, kept alive by heartbeats, and claimed again by an
//! agent of the same board label once a holder's heartbeat is older than its lease.

use anyhow::{Context, Result, bail};
use postgres::Client;

/// One unit of a submission: an experiment's repeat, and the board label it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// The experiment's id in the manifest.
    pub experiment: String,
    /// The repeat number.
    pub repeat: u32,
    /// The board label that must run it (`board = "pi5"`), if any.
    pub board: Option<String>,
}

/// Stores a manifest and queues its units; returns the submission's id. The same manifest
/// text submitted twice is refused, naming the first submission.
pub fn submit(
    client: &mut Client,
    path: &str,
    text: &str,
    sha256: &str,
    units: &[UnitSpec],
) -> Result<i64> {
    let mut tx = client.transaction()?;
    if let Some(row) =
        tx.query_opt("SELECT id FROM lab_submissions WHERE sha256 = $1", &[&sha256])?
    {
        let id: i64 = row.get(0);
        bail!("this manifest was already submitted (submission {id}); its units are queued or run");
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO lab_submissions(sha256, manifest_path, manifest_text) VALUES($1, $2, $3) RETURNING id",
            &[&sha256, &path, &text],
        )?
        .get(0);
    let stmt = tx.prepare(
        "INSERT INTO lab_units(submission_id, experiment, repeat, board) VALUES($1, $2, $3, $4)",
    )?;
    for u in units {
        tx.execute(&stmt, &[&id, &u.experiment, &i64::from(u.repeat), &u.board])?;
    }
    tx.commit()?;
    Ok(id)
}

/// The submission of the manifest text with this SHA-256, if any.
pub fn find_submission(client: &mut Client, sha256: &str) -> Result<Option<i64>> {
    Ok(client
        .query_opt("SELECT id FROM lab_submissions WHERE sha256 = $1", &[&sha256])?
        .map(|r| r.get(0)))
}

/// A unit an agent holds.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The unit's id.
    pub unit: i64,
    /// Its submission.
    pub submission: i64,
    /// The experiment's id in the manifest.
    pub experiment: String,
    /// The repeat.
    pub repeat: u32,
    /// This claim's token: heartbeats and the final state only count while it is current.
    pub token: String,
    /// Whether another agent held it before and its lease ran out.
    pub resumed: bool,
}

/// Claims the first unit this agent may run: a queued one for its board label (or for any
/// board), or one whose holder of the same label stopped sending heartbeats for longer than
/// that holder's lease. `submission` restricts it to one submission.
pub fn claim(
    client: &mut Client,
    agent: &str,
    board: &str,
    lease_s: f64,
    submission: Option<i64>,
) -> Result<Option<Claim>> {
    let mut tx = client.transaction()?;
    let row = tx.query_opt(
        "SELECT id, submission_id, experiment, repeat, state FROM lab_units
         WHERE ($2::BIGINT IS NULL OR submission_id = $2)
           AND ((state = 'queued' AND (board IS NULL OR board = $1))
             OR (state = 'running' AND agent_board = $1
                 AND heartbeat < now() - lease_s * interval '1 second'))
         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        &[&board, &submission],
    )?;
    let Some(row) = row else { return Ok(None) };
    let unit: i64 = row.get(0);
    let state: String = row.get(4);
    let token = format!("{agent}/{unit}/{}/{}", std::process::id(), nanos());
    tx.execute(
        "UPDATE lab_units SET state = 'running', agent = $2, agent_board = $3, token = $4,
                lease_s = $5, heartbeat = now(), claimed = now(), attempts = attempts + 1, error = NULL
         WHERE id = $1",
        &[&unit, &agent, &board, &token, &lease_s],
    )?;
    tx.commit()?;
    let repeat: i64 = row.get(3);
    Ok(Some(Claim {
        unit,
        submission: row.get(1),
        experiment: row.get(2),
        repeat: u32::try_from(repeat).context("a unit's repeat is out of range")?,
        token,
        resumed: state == "running",
    }))
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos().into())
}

/// Renews a claim's heartbeat; false when the claim is no longer this agent's (its lease ran
/// out and another agent took the unit).
pub fn heartbeat(client: &mut Client, claim: &Claim) -> Result<bool> {
    Ok(client.execute(
        "UPDATE lab_units SET heartbeat = now() WHERE id = $1 AND token = $2 AND state = 'running'",
        &[&claim.unit, &claim.token],
    )? == 1)
}

/// Ends a claim as `done` or `failed` (with the error); false when it was no longer this
/// agent's.
pub fn finish(client: &mut Client, claim: &Claim, error: Option<&str>) -> Result<bool> {
    let state = if error.is_some() { "failed" } else { "done" };
    Ok(client.execute(
        "UPDATE lab_units SET state = $3, error = $4, finished = now()
         WHERE id = $1 AND token = $2 AND state = 'running'",
        &[&claim.unit, &claim.token, &state, &error],
    )? == 1)
}

/// Whether work for `board` may still come: units queued for it, or running units of its label
/// that could be left to it when their holder stops.
pub fn work_left(client: &mut Client, board: &str, submission: Option<i64>) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM lab_units
             WHERE ($2::BIGINT IS NULL OR submission_id = $2)
               AND ((state = 'queued' AND (board IS NULL OR board = $1))
                 OR (state = 'running' AND agent_board = $1)))",
            &[&board, &submission],
        )?
        .get(0))
}

/// A submission's manifest: its path as submitted and its text.
pub fn manifest(client: &mut Client, submission: i64) -> Result<(String, String)> {
    let row = client
        .query_opt(
            "SELECT manifest_path, manifest_text FROM lab_submissions WHERE id = $1",
            &[&submission],
        )?
        .with_context(|| format!("submission {submission} is gone"))?;
    Ok((row.get(0), row.get(1)))
}

/// One line of `joulebench status`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitStatus {
    /// The submission.
    pub submission: i64,
    /// The experiment's id.
    pub experiment: String,
    /// The repeat.
    pub repeat: u32,
    /// The board label it needs, if any.
    pub board: Option<String>,
    /// `queued`, `running`, `expired` (running, but the holder's heartbeat stopped), `done` or
    /// `failed`.
    pub state: String,
    /// The agent that holds or held it, and its board label.
    pub agent: Option<(String, String)>,
    /// Seconds since its last heartbeat, while running.
    pub silent_s: Option<f64>,
    /// Claims so far.
    pub attempts: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// Every unit, in submission order.
pub fn status(client: &mut Client) -> Result<Vec<UnitStatus>> {
    let rows = client.query(
        "SELECT submission_id, experiment, repeat, board,
                CASE WHEN state = 'running' AND heartbeat < now() - lease_s * interval '1 second'
                     THEN 'expired' ELSE state END,
                agent, agent_board,
                CASE WHEN state = 'running' THEN EXTRACT(EPOCH FROM now() - heartbeat)::DOUBLE PRECISION END,
                attempts, error
         FROM lab_units ORDER BY id",
        &[],
    )?;
    rows.into_iter()
        .map(|r| {
            let agent: Option<String> = r.get(5);
            let agent_board: Option<String> = r.get(6);
            Ok(UnitStatus {
                submission: r.get(0),
                experiment: r.get(1),
                repeat: u32::try_from(r.get::<_, i64>(2)).context("repeat out of range")?,
                board: r.get(3),
                state: r.get(4),
                agent: agent.zip(agent_board),
                silent_s: r.get(7),
                attempts: r.get(8),
                error: r.get(9),
            })
        })
        .collect()
}
