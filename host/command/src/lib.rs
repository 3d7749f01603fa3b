//! Runs a board tool (`vcgencmd`, `nvpmodel`, `jetson_clocks`) with a time limit, through a
//! configurable `PATH`, and collects what it printed. The state meter and the host's power
//! settings both ask these tools; a tool that hangs (a wedged firmware mailbox, a stuck
//! daemon) is killed at the limit instead of freezing the run.
#![deny(missing_docs)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a finished command printed.
#[derive(Debug)]
pub struct Reply {
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output (lossy UTF-8).
    pub stdout: String,
    /// Its standard error (lossy UTF-8).
    pub stderr: String,
}

impl Reply {
    /// Both outputs on one line, for error messages.
    pub fn said(&self) -> String {
        format!("{} {}", self.stdout.trim(), self.stderr.trim()).trim().to_string()
    }
}

/// Why a command gave no reply.
#[derive(Debug)]
pub enum Failure {
    /// An empty command line.
    Empty,
    /// It could not start (not on `PATH`, not executable, ...).
    Spawn(std::io::Error),
    /// It ran past the limit and was killed.
    TimedOut(Duration),
    /// Waiting for it failed.
    Wait(std::io::Error),
}

impl Failure {
    /// The failure in words, naming the command line `what`.
    pub fn describe(&self, what: &str) -> String {
        match self {
            Failure::Empty => "empty command".into(),
            Failure::Spawn(e) => format!("cannot run `{what}`: {e}"),
            Failure::TimedOut(t) => {
                format!("`{what}` did not answer within {} s; killed", t.as_secs_f64())
            }
            Failure::Wait(e) => format!("`{what}`: {e}"),
        }
    }
}

/// Runs `args` (program first), with `PATH` set to `path` when given, stdin closed, and kills it
/// after `timeout`.
pub fn run(args: &[&str], path: Option<&str>, timeout: Duration) -> Result<Reply, Failure> {
    let (program, rest) = args.split_first().ok_or(Failure::Empty)?;
    let mut cmd = Command::new(program);
    cmd.args(rest).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    std::thread::scope(|s| {
        // Both pipes drain while the command runs, so that a chatty one never blocks on a full pipe.
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
                    return Err(Failure::TimedOut(timeout));
                }
                Err(e) => return Err(Failure::Wait(e)),
            }
        };
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        Ok(Reply {
            status,
            stdout: text(stdout.join().unwrap_or_default()),
            stderr: text(stderr.join().unwrap_or_default()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_both_outputs_and_the_status() {
        let r = run(&["sh", "-c", "echo out; echo err >&2; exit 3"], None, Duration::from_secs(10))
            .unwrap();
        assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("out\n", "err\n"));
        assert_eq!(r.status.code(), Some(3));
        assert_eq!(r.said(), "out err");
    }

    #[test]
    fn a_hung_command_is_killed_at_the_limit() {
        let t0 = Instant::now();
        let e = run(&["sleep", "30"], None, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, Failure::TimedOut(_)), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(e.describe("sleep 30").contains("did not answer within 0.2 s"));
    }

    #[test]
    fn a_missing_program_and_an_empty_line_are_errors() {
        let e = run(&["no-such-program-here"], Some("/nonexistent"), Duration::from_secs(1));
        match e {
            Err(Failure::Spawn(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        assert!(matches!(run(&[], None, Duration::from_secs(1)), Err(Failure::Empty)));
    }
}
