//! A HellaSwag file: the first byte's low bit picks llama.cpp's text file or the original jsonl,
//! the rest is the file. Every item must become tasks or an error naming the line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, file)) = data.split_first() else { return };
    let name = if kind & 1 == 0 { "hellaswag_val_full.txt" } else { "hellaswag_val.jsonl" };
    let _ = joulebench_dataset_hellaswag::parse_tasks(Path::new(name), file);
});
