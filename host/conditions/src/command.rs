//! Runs a board tool (`nvpmodel`, `jetson_clocks`) through the configured `PATH`, with a time
//! limit, and says what went wrong in one line.

use std::time::Duration;

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
    let reply = joulebench_command::run(args, path, TIMEOUT).map_err(|e| match e {
        joulebench_command::Failure::Spawn(io) if io.kind() == std::io::ErrorKind::NotFound => {
            CommandError::NotFound(format!("`{}` is not on PATH", args[0]))
        }
        other => CommandError::Failed(other.describe(&what)),
    })?;
    if reply.status.success() {
        Ok(reply.stdout)
    } else {
        Err(CommandError::Failed(format!("`{what}` failed ({}): {}", reply.status, reply.said())))
    }
}
