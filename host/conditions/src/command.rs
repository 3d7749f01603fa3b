//! Runs a board tool (`nvpmodel`, `jetson_clocks`) through the configured `PATH`, with a time
//! limit, and says what went wrong in one line.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a board tool may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a command gave no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The program is not on the `PATH`.
    NotFound(String),
    /// It ran and failed, or timed out; the message has the command line and what it said.
    Failed(String),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::NotFound(m) | CommandError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CommandError {}

/// Runs `args` (program first) with `PATH` set to `path` when given; returns its standard output.
pub fn run(args: &[&str], path: Option<&str>) -> Result<String, CommandError> {
    let what = args.join(" ");
    let Some((program, rest)) = args.split_first() else {
        return Err(CommandError::Failed("empty command".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(rest).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            CommandError::NotFound(format!("`{program}` is not on PATH"))
        }
        _ => CommandError::Failed(format!("cannot run `{what}`: {e}")),
    })?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    std::thread::scope(|s| {
        let stdout = s.spawn(move || {
            let mut buf = Vec::new();
            out.as_mut().map(|o| o.read_to_end(&mut buf));
            buf
        });
        let stderr = s.spawn(move || {
            let mut buf = Vec::new();
            err.as_mut().map(|e| e.read_to_end(&mut buf));
            buf
        });
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CommandError::Failed(format!(
                        "`{what}` did not answer within {} s; killed",
                        TIMEOUT.as_secs()
                    )));
                }
                Err(e) => return Err(CommandError::Failed(format!("`{what}`: {e}"))),
            }
        };
        let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
        if status.success() {
            Ok(stdout)
        } else {
            let said = format!("{} {}", stdout.trim(), stderr.trim());
            Err(CommandError::Failed(format!("`{what}` failed ({status}): {}", said.trim())))
        }
    })
}
