//! Commands (vcgencmd) run with a time limit, through a configurable `PATH`, with their replies
//! cached for a while: each call costs the firmware time, and the sampler may ask far more often
//! than a temperature changes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use joulebench_abi::{AbiError, ErrorCode};

/// Runs commands and remembers their last replies.
#[derive(Debug, Default)]
pub struct Runner {
    /// The `PATH` to look commands up in and run them with; `None` inherits the host's.
    pub path: Option<String>,
    /// How long a command may take.
    pub timeout: Duration,
    /// How long a reply is reused before the command runs again.
    pub every: Duration,
    /// The last reply of each command line, with when it was taken.
    pub cache: HashMap<Vec<String>, (Instant, String)>,
}

impl Runner {
    /// The reply of `args` (program first): the cached one when younger than `every`, else a
    /// fresh one.
    pub fn run(&mut self, args: &[String], now: Instant) -> Result<String, AbiError> {
        if let Some((at, reply)) = self.cache.get(args)
            && now.saturating_duration_since(*at) < self.every
        {
            return Ok(reply.clone());
        }
        let reply = run_once(args, self.path.as_deref(), self.timeout)?;
        self.cache.insert(args.to_vec(), (now, reply.clone()));
        Ok(reply)
    }
}

/// Runs `args` once and returns its standard output; a failure names the command line.
pub fn run_once(
    args: &[String],
    path: Option<&str>,
    timeout: Duration,
) -> Result<String, AbiError> {
    let what = args.join(" ");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let reply = joulebench_command::run(&argv, path, timeout).map_err(|e| {
        let code = match &e {
            joulebench_command::Failure::Empty => ErrorCode::INVALID_CONFIG,
            joulebench_command::Failure::Spawn(io) => match io.kind() {
                std::io::ErrorKind::NotFound => ErrorCode::NOT_FOUND,
                std::io::ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
                _ => ErrorCode::IO,
            },
            _ => ErrorCode::BACKEND,
        };
        AbiError::new(code, e.describe(&what))
    })?;
    if !reply.status.success() {
        let said = reply.said();
        let code = if said.to_ascii_lowercase().contains("permission denied")
            || said.contains("/dev/vcio")
        {
            ErrorCode::PERMISSION_DENIED
        } else {
            ErrorCode::BACKEND
        };
        return Err(AbiError::new(code, format!("`{what}` failed ({}): {said}", reply.status)));
    }
    Ok(reply.stdout)
}
