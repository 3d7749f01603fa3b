//! Builds that go on beside the tests: `cargo xtask test` starts the emulated boards' aarch64
//! build and the fuzz targets' build before the workspace tests, at the lowest CPU priority
//! (`nice -n 19`) and with their output in log files. Neither needs anything of the x86 build,
//! and the tests do not keep both cores busy all the time: at nice 19 the builds take the CPU
//! time the tests leave and yield the rest. In a cold CI-like run the aarch64 build went on for
//! 950 s beside the tests and only its last 94 s were waited for (docs/boards.md). A build's
//! error comes back, with the end of its log, when it is waited for.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::{DynError, run, run_as, show};

/// Where a command's output goes: the terminal, or a build log at the lowest priority.
#[derive(Clone, Copy, Default)]
pub enum Output<'a> {
    #[default]
    Terminal,
    Quiet(&'a File),
}

impl Output<'_> {
    /// Runs `cmd`: as [`run`] on the terminal, or under `nice -n 19` appending to the log.
    pub fn run(self, cmd: &mut Command) -> Result<(), DynError> {
        let Output::Quiet(log) = self else { return run(cmd) };
        let mut niced = Command::new("nice");
        niced.args(["-n", "19"]).arg(cmd.get_program()).args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => niced.env(key, v),
                None => niced.env_remove(key),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            niced.current_dir(dir);
        }
        writeln!(&*log, "$ {}", show(&niced))?;
        niced.stdout(log.try_clone()?).stderr(log.try_clone()?);
        run_as(&mut niced, &show(cmd))
    }

    /// A line for the reader: on the terminal, or in the log.
    pub fn say(self, line: &str) -> Result<(), DynError> {
        match self {
            Output::Terminal => eprintln!("{line}"),
            Output::Quiet(log) => writeln!(&*log, "{line}")?,
        }
        Ok(())
    }
}

/// A build going on in a thread of its own.
pub struct Background {
    what: &'static str,
    log: PathBuf,
    thread: JoinHandle<Result<f64, String>>,
}

impl Background {
    /// Starts `work` with its output going to a new log file at `log`.
    pub fn start(
        what: &'static str,
        log: PathBuf,
        work: impl FnOnce(Output) -> Result<(), DynError> + Send + 'static,
    ) -> Result<Self, DynError> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        eprintln!("{what}: started in the background (log: {})", log.display());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            work(Output::Quiet(&file)).map(|()| t0.elapsed().as_secs_f64()).map_err(|e| {
                let _ = writeln!(&file, "error: {e}");
                e.to_string()
            })
        });
        Ok(Background { what, log, thread })
    }

    /// Waits for the build. Says how long it took in all and how long it was waited for; on
    /// failure the error holds the end of its log.
    pub fn finish(self) -> Result<(), DynError> {
        let t0 = Instant::now();
        let result = self.thread.join().unwrap_or_else(|_| Err("its thread panicked".into()));
        match result {
            Ok(s) => {
                eprintln!(
                    "{}: {s:.0} s in the background, of which {:.0} s were waited for",
                    self.what,
                    t0.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Err(e) => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(60)..].join("\n");
                Err(format!(
                    "{} failed: {e}\n(the end of {}:)\n{tail}",
                    self.what,
                    self.log.display()
                )
                .into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-background-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn a_quiet_command_runs_at_the_lowest_priority_into_its_log() {
        let path = scratch("quiet.log");
        let log = File::create(&path).unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo niceness $(nice); echo to-stderr >&2"]).env("XTASK_PROBE", "1");
        Output::Quiet(&log).run(&mut cmd).unwrap();
        Output::Quiet(&log).say("done").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("$ nice -n 19 sh -c"), "{text}");
        assert!(text.contains("niceness 19\n"), "{text}");
        assert!(text.contains("to-stderr\n"), "{text}");
        assert!(text.ends_with("done\n"), "{text}");
    }

    #[test]
    fn a_failed_background_build_brings_back_the_end_of_its_log() {
        let path = scratch("failing.log");
        let build = Background::start("the probe build", path.clone(), |output| {
            output.run(Command::new("sh").args(["-c", "echo the-clue; exit 3"]))
        })
        .unwrap();
        let err = build.finish().unwrap_err().to_string();
        assert!(err.starts_with("the probe build failed: `sh -c"), "{err}");
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("the-clue"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn a_finished_background_build_is_ok() {
        let build = Background::start("the probe build", scratch("ok.log"), |output| {
            output.run(&mut Command::new("true"))
        })
        .unwrap();
        build.finish().unwrap();
    }
}
