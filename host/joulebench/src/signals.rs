//! Ctrl-C (SIGINT) and SIGTERM during `joulebench run`, and the restore hooks that put back
//! what a run changed on the machine.
//!
//! The first signal asks the run to stop: the batch in flight finishes and is stored, its
//! experiment is marked `interrupted`, no further experiment starts, the restore hooks run, and
//! `joulebench run` exits with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). A
//! second signal stops at once: the restore hooks run and the process exits with the same
//! code, leaving the batch in flight unstored. Either way the store holds only whole batches, so
//! the next `joulebench run` resumes at task granularity (see [`crate::segment`]).
//!
//! Signals are received on a thread of their own ([`install`]); the run polls [`requested`]
//! between batches. Without [`install`] (a library user, the tests) nothing changes.
//!
//! **Restore hooks.** Code that changes a machine setting for a run (a power mode, a clock
//! governor) registers how to put it back with [`on_restore`] and keeps the returned
//! [`Restore`] guard while the setting is in force. The hook runs exactly once: when the guard
//! is dropped (the normal path, an error, a graceful interrupt), or from the signal thread
//! before an immediate exit, whichever comes first. Hooks must be quick; a second signal runs
//! them on its way out.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Result;

/// The first stop signal received, 0 while none.
static REQUESTED: AtomicI32 = AtomicI32::new(0);

type Hook = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Registered restore hooks by id, with their names.
static HOOKS: Mutex<Vec<(u64, String, Hook)>> = Mutex::new(Vec::new());
static NEXT_HOOK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A stop signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub i32);

impl Signal {
    /// `SIGINT`, `SIGTERM`, ...
    pub fn name(self) -> String {
        match self.0 {
            libc::SIGINT => "SIGINT".into(),
            libc::SIGTERM => "SIGTERM".into(),
            n => format!("signal {n}"),
        }
    }

    /// The shell's exit code for a process stopped by this signal: 128 + its number.
    pub fn exit_code(self) -> u8 {
        (128 + self.0).clamp(0, 255) as u8
    }
}

/// The stop signal received so far, if any.
pub fn requested() -> Option<Signal> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Signal(n)),
    }
}

/// Records `signal` as the stop request; false when one was recorded before.
fn request(signal: Signal) -> bool {
    REQUESTED.compare_exchange(0, signal.0, Ordering::SeqCst, Ordering::SeqCst).is_ok()
}

/// The error an experiment stops with when a stop signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub Signal);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.0.name())
    }
}

impl std::error::Error for Interrupted {}

/// Receives SIGINT and SIGTERM on a thread of their own for the rest of the process: the first
/// one is [`requested`], a second one runs the restore hooks and exits at once.
pub fn install() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("joulebench-signals".into()).spawn(move || {
        for number in signals.forever() {
            let signal = Signal(number);
            if request(signal) {
                eprintln!(
                    "\njoulebench: {}: finishing the batch in flight, then stopping \
                     (send it again to stop at once)",
                    signal.name()
                );
            } else {
                eprintln!("\njoulebench: {} again: stopping now", signal.name());
                restore_all();
                // _exit, not exit: no atexit handler of a plugin library may run (or hang)
                // while another thread is inside it. Like a kill, it leaves the store with
                // its committed batches only.
                // SAFETY: _exit has no preconditions.
                unsafe { libc::_exit(i32::from(signal.exit_code())) };
            }
        }
    })?;
    Ok(())
}

/// Keeps a restore hook registered; dropping it runs the hook (if no signal ran it first).
#[must_use = "the hook runs when the guard is dropped"]
pub struct Restore {
    id: u64,
}

/// Registers `hook`, named `name` in messages, to put back a setting the run changed.
pub fn on_restore(
    name: impl Into<String>,
    hook: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Restore {
    let id = NEXT_HOOK.fetch_add(1, Ordering::SeqCst);
    HOOKS.lock().unwrap_or_else(|p| p.into_inner()).push((id, name.into(), Box::new(hook)));
    Restore { id }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let hook = {
            let mut hooks = HOOKS.lock().unwrap_or_else(|p| p.into_inner());
            hooks.iter().position(|(id, ..)| *id == self.id).map(|i| hooks.remove(i))
        };
        if let Some((_, name, hook)) = hook {
            run_hook(&name, hook);
        }
    }
}

fn run_hook(name: &str, hook: Hook) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            eprintln!("joulebench: could not restore {name}: {e}");
            false
        }
        Err(_) => {
            eprintln!("joulebench: restoring {name} panicked");
            false
        }
    }
}

/// Runs every registered hook not run yet, newest first; returns how many ran cleanly.
pub fn restore_all() -> usize {
    let hooks = std::mem::take(&mut *HOOKS.lock().unwrap_or_else(|p| p.into_inner()));
    hooks.into_iter().rev().map(|(_, name, hook)| run_hook(&name, hook)).filter(|ok| *ok).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_restore_hook_runs_exactly_once_by_its_guard_or_by_restore_all() {
        let ran = Arc::new(AtomicUsize::new(0));
        let count = |ran: &Arc<AtomicUsize>| {
            let ran = Arc::clone(ran);
            move || {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        };
        let guard = on_restore("power mode", count(&ran));
        drop(guard);
        assert_eq!(ran.load(Ordering::SeqCst), 1, "dropping the guard restores");

        let guard = on_restore("governor", count(&ran));
        let failing = on_restore("fan", || Err("no fan".to_string()));
        // Other tests may register hooks at the same time: count only ours.
        restore_all();
        assert_eq!(ran.load(Ordering::SeqCst), 2, "restore_all ran the pending hook");
        drop(guard);
        drop(failing);
        assert_eq!(ran.load(Ordering::SeqCst), 2, "and the guard does not run it again");
    }

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(Signal(libc::SIGINT).exit_code(), 130);
        assert_eq!(Signal(libc::SIGTERM).exit_code(), 143);
        assert_eq!(Signal(libc::SIGINT).name(), "SIGINT");
    }
}
