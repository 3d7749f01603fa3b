//! A Winogrande file: the first byte's low bit picks llama.cpp's CSV or the original jsonl;
//! when its second bit is set, the bytes after the first 0xFF (never in UTF-8) are the labels
//! file. Every item must become tasks or an error naming the line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let name = if kind & 1 == 0 { "winogrande-debiased-eval.csv" } else { "dev.jsonl" };
    let (file, labels) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) if kind & 2 != 0 => (&rest[..at], Some(&rest[at + 1..])),
        _ => (rest, None),
    };
    let _ = joulebench_dataset_winogrande::parse_tasks(Path::new(name), file, labels);
});
