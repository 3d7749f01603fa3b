//! The ABI's [`Dataset`] for any loaded benchmark: the three plugins differ in how they read
//! their files and build tasks, not in how they answer the host.

use joulebench_abi::abi_stable::std_types::{RResult, RSlice, RVec};
use joulebench_abi::{
    AbiError, Convention, Dataset, DatasetInfo, ErrorCode, Selection, Task, guard,
    guard_infallible, panicked_name,
};

use crate::LlamaCppProcedure;

/// A benchmark loaded from its files: what a dataset plugin writes itself.
pub trait Benchmark: Send {
    /// llama.cpp's procedure for picking a subset of this benchmark.
    const PROCEDURE: LlamaCppProcedure;
    /// Name, split, size, metric, source and checksum.
    fn info(&self) -> DatasetInfo;
    /// How many tasks it holds.
    fn task_count(&self) -> usize;
    /// Task `index`, built for `convention`.
    fn task(&self, index: u64, convention: Convention) -> Result<Task, AbiError>;
}

/// Every task of `b`, each built under every scoring convention it supports, after its info:
/// all that a run can ask of a loaded benchmark. The plugins' `parse_tasks` (their fuzz
/// targets' entry point) end here, so that fuzzed files reach the prompt builders too.
pub fn all_tasks<B: Benchmark>(b: &B) -> Result<Vec<Task>, AbiError> {
    let _ = b.info();
    let mut out = Vec::with_capacity(b.task_count() * 2);
    let mut conventions = vec![Convention::LM_EVAL, Convention::LLAMA_CPP];
    for i in 0..b.task_count() as u64 {
        let mut k = 0;
        while k < conventions.len() {
            match b.task(i, conventions[k]) {
                Ok(task) => out.push(task),
                Err(e) if e.code == ErrorCode::UNSUPPORTED => {
                    conventions.remove(k);
                    continue;
                }
                Err(e) => return Err(e),
            }
            k += 1;
        }
    }
    Ok(out)
}

/// A [`Benchmark`] as the host sees it: selection and task lists behind the panic guard.
pub struct DatasetPlugin<B>(pub B);

impl<B: Benchmark> Dataset for DatasetPlugin<B> {
    fn info(&self) -> DatasetInfo {
        guard_infallible(
            || self.0.info(),
            |e| DatasetInfo {
                name: panicked_name(&e).into(),
                split: "".into(),
                len: 0,
                metric: "".into(),
                source: "".into(),
                checksum: "".into(),
            },
        )
    }

    fn select(&self, selection: &Selection) -> RResult<RVec<u64>, AbiError> {
        guard(|| {
            crate::select::select(selection, self.0.task_count(), B::PROCEDURE).map(RVec::from)
        })
    }

    fn tasks(
        &self,
        indices: RSlice<'_, u64>,
        convention: Convention,
    ) -> RResult<RVec<Task>, AbiError> {
        guard(|| {
            indices
                .iter()
                .map(|&i| self.0.task(i, convention))
                .collect::<Result<Vec<_>, _>>()
                .map(RVec::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joulebench_abi::Dataset_TO;
    use joulebench_abi::abi_stable::sabi_trait::TD_Opaque;

    struct Broken;

    impl Benchmark for Broken {
        const PROCEDURE: LlamaCppProcedure = LlamaCppProcedure::MultipleChoice;
        fn info(&self) -> DatasetInfo {
            panic!("no info today")
        }
        fn task_count(&self) -> usize {
            panic!("no count either")
        }
        fn task(&self, _: u64, _: Convention) -> Result<Task, AbiError> {
            unreachable!()
        }
    }

    #[test]
    fn panics_come_back_as_a_marked_info_and_errors() {
        let d = Dataset_TO::from_value(DatasetPlugin(Broken), TD_Opaque);
        assert_eq!(d.info().name.as_str(), "<plugin panicked: no info today>");
        assert!(joulebench_abi::is_panicked_name(d.info().name.as_str()));
        let selection = Selection { rule: joulebench_abi::SelectionRule::FIRST, limit: 1, seed: 1 };
        let e = d.select(&selection).into_result().unwrap_err();
        assert_eq!(e.message.as_str(), "plugin panicked: no count either");
    }
}
