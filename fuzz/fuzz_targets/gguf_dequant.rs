//! ggml's block dequantizers: the first byte picks the type (the known ones and an unknown one),
//! the next four the element count, the rest the blocks. Any mismatch must be an error.
#![no_main]

use joulebench_gguf::{GgmlType, dequantize};
use libfuzzer_sys::fuzz_target;

const TYPES: [u32; 15] = [0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 15, 30, 16];

fuzz_target!(|data: &[u8]| {
    let Some((&ty, rest)) = data.split_first() else { return };
    let Some((n, blocks)) = rest.split_first_chunk::<4>() else { return };
    let ty = GgmlType(TYPES[usize::from(ty) % TYPES.len()]);
    // Half the inputs ask for exactly as many elements as the blocks hold.
    let n = match (ty.block_layout(), n[0] & 1) {
        (Some((block, size)), 0) => blocks.len() / size * block,
        _ => u32::from_le_bytes(*n) as usize,
    };
    if let Ok(values) = dequantize(ty, blocks, n) {
        assert_eq!(values.len(), n);
    }
});
