//! The ABI's [`Dataset`] for any loaded benchmark: the three plugins differ in how they read
//! their files and build tasks, not in how they answer the host.

use joulebench_abi::abi_stable::std_types::{RResult, RSlice, RVec};
use joulebench_abi::{AbiError, Convention, Dataset, DatasetInfo, Selection, Task, guard};

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

/// A [`Benchmark`] as the host sees it: selection and task lists behind the panic guard.
pub struct DatasetPlugin<B>(pub B);

impl<B: Benchmark> Dataset for DatasetPlugin<B> {
    fn info(&self) -> DatasetInfo {
        self.0.info()
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
