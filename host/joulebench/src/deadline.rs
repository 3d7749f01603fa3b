//! Deadlines for the host's calls into plugins.
//!
//! Every call the host makes into a runtime, meter or dataset plugin runs on a worker thread
//! while the calling thread waits for it, up to a deadline. A call that does not return in time
//! cannot be cancelled: abi_stable offers no way to interrupt foreign code, and a library is
//! never unloaded. So the call is *abandoned*: its thread is left running (or sleeping, or
//! stuck) and keeps the plugin instance it was given, which the host never touches again, not
//! even to drop it; whatever the call returns late is leaked too. The plugin's entry becomes
//! [`Plugin::Abandoned`] with the reason, so that every later use names what happened, and the
//! experiment fails with the call named while the run goes on with the next experiment.
//!
//! What an abandoned call keeps: the plugin instance and everything it owns (a runtime's loaded
//! model with its memory, a GPU context, open files, a sensor's bus), the worker thread, and
//! whatever it is doing, which may be burning CPU. Later experiments of the same run therefore
//! measure a machine that may be busier than it should be; `docs/faults.md` says so to users.
//!
//! Limits are per plugin and per call, in seconds, in the manifest:
//!
//! ```toml
//! [[plugin]]
//! id = "llama"
//! kind = "runtime"
//! library = "joulebench_runtime_llama_cpp"
//! deadlines = { load_model = 3600, evaluate = 3600 }
//! ```
//!
//! with the defaults of [`default_limit`] for the calls not named.

use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use anyhow::{Result, anyhow};
use joulebench_abi::{DatasetBox, MeterBox, ModelBox, RuntimeBox};

use crate::loader::{Loaded, Plugin};
use crate::runner::plugin_mut;

pub use joulebench_manifest::deadlines::{Deadlines, calls, default_limit};

/// A call that did not return in time, and was abandoned.
#[derive(Debug, Clone, PartialEq)]
pub struct Missed {
    /// The plugin's manifest id.
    pub plugin: String,
    /// The call, as the manifest's `deadlines` names it.
    pub call: String,
    /// The deadline it missed.
    pub limit: Duration,
}

impl std::fmt::Display for Missed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugin {:?}: {}() did not return within its deadline of {} s (set `deadlines = {{ {} = ... }}` \
             on the plugin in the manifest to allow more); the call was abandoned, and with it the \
             plugin's instance, which this run does not use again",
            self.plugin,
            self.call,
            seconds(self.limit),
            self.call
        )
    }
}

impl std::error::Error for Missed {}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0}") } else { format!("{s}") }
}

/// Runs `f(&mut plugin)` on a new thread and waits up to `limit` for it. On time, returns the
/// plugin and the result. Late, the plugin and the thread are abandoned: if `f` ever returns,
/// both the plugin and its result are leaked, never dropped.
pub fn call<P, T>(
    plugin_id: &str,
    call: &str,
    limit: Duration,
    mut plugin: P,
    f: impl FnOnce(&mut P) -> T + Send + 'static,
) -> Result<(P, T)>
where
    P: Send + 'static,
    T: Send + 'static,
{
    // ManuallyDrop: a value sent after the waiting side gave up stays in the channel, and the
    // channel's drop must not drop it.
    let (tx, rx) = mpsc::sync_channel::<ManuallyDrop<(P, T)>>(1);
    let worker = std::thread::Builder::new()
        .name(format!("plugin {call}"))
        // The size of the main thread's stack, which plugin calls ran on before deadlines.
        .stack_size(8 << 20)
        .spawn(move || {
            let out = f(&mut plugin);
            // A failed send hands the value back, still in its ManuallyDrop: leaked, undropped.
            let _ = tx.send(ManuallyDrop::new((plugin, out)));
        })
        .map_err(|e| anyhow!("plugin {plugin_id:?}: cannot start a thread for {call}(): {e}"))?;
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = worker.join();
            Ok(ManuallyDrop::into_inner(v))
        }
        Err(RecvTimeoutError::Timeout) => {
            tracing::error!(
                "plugin {plugin_id:?}: {call}() missed its deadline of {} s; abandoned",
                seconds(limit)
            );
            Err(Missed { plugin: plugin_id.into(), call: call.into(), limit }.into())
        }
        // `f` panicked on the host's side of the boundary: the worker unwound and dropped it.
        Err(RecvTimeoutError::Disconnected) => {
            Err(anyhow!("plugin {plugin_id:?}: the host's side of {call}() panicked"))
        }
    }
}

/// Runs `f` on plugin `id` of `plugins` under the deadline of `call`; on a missed deadline the
/// entry becomes [`Plugin::Abandoned`].
pub(crate) fn on_plugin<T: Send + 'static>(
    plugins: &mut HashMap<String, Loaded>,
    id: &str,
    name: &str,
    f: impl FnOnce(&mut Plugin) -> T + Send + 'static,
) -> Result<T> {
    let loaded = plugin_mut(plugins, id)?;
    let limit = loaded.deadlines.get(name);
    let plugin = std::mem::replace(&mut loaded.plugin, Plugin::Abandoned(String::new()));
    match call(id, name, limit, plugin, f) {
        Ok((plugin, out)) => {
            loaded.plugin = plugin;
            Ok(out)
        }
        Err(e) => {
            loaded.plugin = Plugin::Abandoned(format!("{e:#}"));
            Err(e)
        }
    }
}

macro_rules! typed {
    ($fn_name:ident, $variant:ident, $boxed:ty, $what:literal) => {
        /// Runs `f` on the plugin `id`, which must be a
        #[doc = $what]
        /// , under the deadline of `call`.
        pub(crate) fn $fn_name<T: Send + 'static>(
            plugins: &mut HashMap<String, Loaded>,
            id: &str,
            call: &str,
            f: impl FnOnce(&mut $boxed) -> T + Send + 'static,
        ) -> Result<T> {
            on_plugin(plugins, id, call, move |p| match p {
                Plugin::$variant(x) => Some(f(x)),
                _ => None,
            })?
            .ok_or_else(|| anyhow!("{id:?} is not a {}", $what))
        }
    };
}

typed!(dataset, Dataset, DatasetBox, "dataset");
typed!(runtime, Runtime, RuntimeBox, "runtime");
typed!(meter, Meter, MeterBox, "meter");

/// Runs `f` on a model of runtime `runtime` under the runtime's deadline of `call`, handing the
/// model back; a model whose call missed its deadline is abandoned.
pub(crate) fn model<T: Send + 'static>(
    model: ModelBox,
    runtime: &str,
    deadlines: &Deadlines,
    name: &str,
    f: impl FnOnce(&mut ModelBox) -> T + Send + 'static,
) -> Result<(ModelBox, T)> {
    call(runtime, name, deadlines.get(name), model, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    /// Counts its drops, to show that an abandoned value is never dropped.
    struct Tracked(Arc<AtomicBool>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_call_on_time_hands_back_the_plugin_and_a_late_one_is_abandoned_undropped() {
        let (p, out) = call("p", "info", Duration::from_secs(5), 41, |p| *p + 1).unwrap();
        assert_eq!((p, out), (41, 42));

        let dropped = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let err =
            call("slow", "evaluate", Duration::from_millis(50), Tracked(dropped.clone()), |_| {
                std::thread::sleep(Duration::from_millis(300));
            })
            .err()
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(250), "the caller did not wait it out");
        let missed = err.downcast_ref::<Missed>().expect("a Missed");
        assert_eq!((missed.plugin.as_str(), missed.call.as_str()), ("slow", "evaluate"));
        assert!(
            err.to_string().contains("evaluate() did not return within its deadline of 0.05 s")
        );
        // The late call returns after the caller gave up: its plugin is leaked, not dropped.
        std::thread::sleep(Duration::from_millis(500));
        assert!(!dropped.load(Ordering::SeqCst), "an abandoned plugin was touched");
    }
}
