//! Commands (vcgencmd) run with a time limit, through a configurable `PATH`, with their replies
//! cached for a while: each call costs the firmware time, and the sampler may ask far more often
//! than a temperature changes.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
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
    let (program, rest) = args.split_first().ok_or_else(|| AbiError::config("empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(rest).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut child = cmd.spawn().map_err(|e| {
        let code = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorCode::NOT_FOUND,
            std::io::ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
            _ => ErrorCode::IO,
        };
        AbiError::new(code, format!("cannot run `{what}`: {e}"))
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
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(AbiError::backend(format!(
                        "`{what}` did not answer within {} s; killed",
                        timeout.as_secs_f64()
                    )));
                }
                Err(e) => return Err(AbiError::backend(format!("`{what}`: {e}"))),
            }
        };
        let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
        if !status.success() {
            let said = format!("{} {}", stdout.trim(), stderr.trim());
            let code = if said.to_ascii_lowercase().contains("permission denied")
                || said.contains("/dev/vcio")
            {
                ErrorCode::PERMISSION_DENIED
            } else {
                ErrorCode::BACKEND
            };
            return Err(AbiError::new(
                code,
                format!("`{what}` failed ({status}): {}", said.trim()),
            ));
        }
        Ok(stdout)
    })
}
