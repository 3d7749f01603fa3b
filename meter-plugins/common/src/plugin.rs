//! The ABI's [`Meter`] for any [`Sensor`]: meters differ in what they read, not in how they
//! answer the host.
//!
//! Every call the host makes runs inside a panic guard, because a panic that unwinds into the
//! host through the ABI's `extern "C"` functions aborts it (and `read` runs on the sampler's
//! thread, many times a second). `read` turns a panic into an error with
//! [`ErrorCode::PANICKED`](joulebench_abi::ErrorCode::PANICKED), which the host counts as a failed
//! reading. The infallible `info()` cannot say "error", so a panic there returns a [`MeterInfo`]
//! marked by its name, `<plugin panicked: MESSAGE>`, with no rails, an empty boundary and an
//! unknown update interval; the panic's message has also gone to stderr through the panic hook.
//! Dropping the meter is a call into the plugin too: a panic while dropping is caught.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};

use joulebench_abi::abi_stable::std_types::{RResult, RVec};
use joulebench_abi::{AbiError, Meter, MeterInfo, Reading, guard, guard_infallible, panicked_name};

/// A power sensor (or a power model): what a meter plugin writes itself. See [`Meter`] for what
/// each method promises.
pub trait Sensor: Send + 'static {
    /// What this meter measures.
    fn info(&self) -> MeterInfo;
    /// Reads every rail once; an error only when no rail could be read.
    fn read(&mut self) -> Result<Reading, AbiError>;
}

/// A [`Sensor`] as the host sees it: [`Meter`] behind panic guards. It dereferences to the
/// sensor, so that in-process callers (tests) reach the sensor's own methods.
pub struct MeterPlugin<S>(ManuallyDrop<S>);

impl<S> MeterPlugin<S> {
    /// Wraps `sensor`.
    pub fn new(sensor: S) -> Self {
        Self(ManuallyDrop::new(sensor))
    }
}

/// The [`MeterInfo`] a meter whose `info()` panicked reports.
fn panicked_info(error: AbiError) -> MeterInfo {
    MeterInfo {
        name: panicked_name(&error).into(),
        boundary: "".into(),
        rails: RVec::new(),
        update_interval_s: 0.0,
    }
}

impl<S: Sensor> Meter for MeterPlugin<S> {
    fn info(&self) -> MeterInfo {
        guard_infallible(|| self.0.info(), panicked_info)
    }

    fn read(&mut self) -> RResult<Reading, AbiError> {
        guard(|| self.0.read())
    }
}

impl<S> Deref for MeterPlugin<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S> DerefMut for MeterPlugin<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.0
    }
}

impl<S> Drop for MeterPlugin<S> {
    fn drop(&mut self) {
        // SAFETY: the sensor is dropped once, here, and never used again.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(&mut self.0) }));
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for MeterPlugin<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use joulebench_abi::abi_stable::sabi_trait::TD_Opaque;
    use joulebench_abi::abi_stable::std_types::ROption;
    use joulebench_abi::{ErrorCode, Meter_TO, MeterBox, Quality, RailKind, RailRole};

    use super::*;
    use crate::rail;

    /// A sensor that panics in every method when told to, and counts its drops.
    struct Toy {
        panics: bool,
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Toy {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
            if self.panics {
                panic!("dropping the meter");
            }
        }
    }

    impl Sensor for Toy {
        fn info(&self) -> MeterInfo {
            if self.panics {
                panic!("meter info");
            }
            MeterInfo {
                name: "toy".into(),
                boundary: "nothing".into(),
                rails: vec![rail("in", RailKind::POWER, RailRole::TOTAL, Quality::MEASURED, "")]
                    .into(),
                update_interval_s: 0.1,
            }
        }

        fn read(&mut self) -> Result<Reading, AbiError> {
            if self.panics {
                panic!("reading {}", "in");
            }
            Ok(Reading { values: vec![ROption::RSome(1.5)].into() })
        }
    }

    fn toy(panics: bool) -> (MeterBox, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        let sensor = Toy { panics, drops: drops.clone() };
        (Meter_TO::from_value(MeterPlugin::new(sensor), TD_Opaque), drops)
    }

    #[test]
    fn calls_pass_through_the_adapter() {
        let (mut m, drops) = toy(false);
        let info = m.info();
        assert_eq!((info.name.as_str(), info.rails.len()), ("toy", 1));
        assert_eq!(m.read().into_result().unwrap().values.as_slice(), [ROption::RSome(1.5)]);
        drop(m);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn panics_become_errors_and_a_marked_info() {
        let (mut m, drops) = toy(true);
        let info = m.info();
        assert_eq!(info.name.as_str(), "<plugin panicked: meter info>");
        assert!(info.rails.is_empty() && info.boundary.is_empty());
        assert_eq!(info.update_interval_s, 0.0);
        let e = m.read().into_result().unwrap_err();
        assert_eq!(e.code, ErrorCode::PANICKED);
        assert_eq!(e.message.as_str(), "plugin panicked: reading in");
        // a panicking destructor is caught too; the process is still here to count it
        drop(m);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_wrapper_reaches_the_sensor() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut m = MeterPlugin::new(Toy { panics: false, drops });
        m.panics = false;
        assert_eq!(Sensor::info(&*m).name.as_str(), "toy");
    }
}
