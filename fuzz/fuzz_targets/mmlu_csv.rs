//! An MMLU subject CSV: the first byte picks the number of shots (0 to 5), the rest is the
//! file. Every question must become tasks (prompts built) or an error naming the line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&shots, file)) = data.split_first() else { return };
    let path = Path::new("test/fuzz_subject_test.csv");
    let _ = joulebench_dataset_mmlu::parse_tasks(path, file, usize::from(shots % 6));
});
