//! Expected values are worked out by hand from the block definitions, or come from the facts
//! read from the files with the `gguf` Python package (0.19.0) and an independent Python parse.

use super::*;
use std::path::PathBuf;

fn f16(bits: u16) -> [u8; 2] {
    bits.to_le_bytes()
}

#[test]
fn half_floats_widen_exactly() {
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xbc00), -1.0);
    assert_eq!(f16_to_f32(0x3800), 0.5);
    assert_eq!(f16_to_f32(0x4000), 2.0);
    assert_eq!(f16_to_f32(0x7bff), 65504.0);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
    assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    assert!(f16_to_f32(0x7c00).is_infinite());
    assert!(f16_to_f32(0x7e00).is_nan());
}

#[test]
fn q4_0_block() {
    // d = 2, byte j = j | j << 4: weights j and j + 16 are both 2 * (j - 8).
    let mut b = f16(0x4000).to_vec();
    b.extend((0..16u8).map(|j| j | (j << 4)));
    let y = dequantize(GgmlType::Q4_0, &b, 32).unwrap();
    for j in 0..16 {
        assert_eq!(y[j], 2.0 * (j as f32 - 8.0));
        assert_eq!(y[j + 16], 2.0 * (j as f32 - 8.0));
    }
}

#[test]
fn q4_1_block() {
    // d = 0.5, m = -1, byte j = j | (15 - j) << 4.
    let mut b = f16(0x3800).to_vec();
    b.extend(f16(0xbc00));
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = dequantize(GgmlType::Q4_1, &b, 32).unwrap();
    for j in 0..16 {
        assert_eq!(y[j], 0.5 * j as f32 - 1.0);
        assert_eq!(y[j + 16], 0.5 * (15 - j) as f32 - 1.0);
    }
}

#[test]
fn q5_0_block() {
    // d = 1, qh = 0x55555555 (fifth bit set for even j and even j + 16), every byte 0x31.
    let mut b = f16(0x3c00).to_vec();
    b.extend(0x5555_5555u32.to_le_bytes());
    b.extend([0x31u8; 16]);
    let y = dequantize(GgmlType::Q5_0, &b, 32).unwrap();
    for j in 0..16 {
        let even = j % 2 == 0;
        assert_eq!(y[j], if even { 1.0 } else { -15.0 }, "weight {j}");
        assert_eq!(y[j + 16], if even { 3.0 } else { -13.0 }, "weight {}", j + 16);
    }
}

#[test]
fn q5_1_block() {
    // d = 0.5, m = 1, qh = 0xffff0000 (fifth bit only for the high-nibble half), bytes 0x42.
    let mut b = f16(0x3800).to_vec();
    b.extend(f16(0x3c00));
    b.extend(0xffff_0000u32.to_le_bytes());
    b.extend([0x42u8; 16]);
    let y = dequantize(GgmlType::Q5_1, &b, 32).unwrap();
    for j in 0..16 {
        assert_eq!(y[j], 0.5 * 2.0 + 1.0);
        assert_eq!(y[j + 16], 0.5 * 20.0 + 1.0);
    }
}

#[test]
fn q8_0_block() {
    let mut b = f16(0x3400).to_vec(); // d = 0.25
    b.extend((0..32i8).map(|j| (j - 16) as u8));
    let y = dequantize(GgmlType::Q8_0, &b, 32).unwrap();
    for (j, v) in y.iter().enumerate() {
        assert_eq!(*v, 0.25 * (j as f32 - 16.0));
    }
}

#[test]
fn q4_k_block() {
    // d = 1, dmin = 0.5. Packed scales: bytes 0..4 scales 0..3 (byte 0 also carries high bits 01
    // for scale 4), bytes 4..8 mins 0..3 (byte 4 carries high bits 10 for min 4), bytes 8..12
    // low/high nibbles of scales/mins 4..7. Scales 1,2,3,4,17,3,5,7; mins 5,6,7,8,34,4,6,8.
    let mut b = f16(0x3c00).to_vec();
    b.extend(f16(0x3800));
    b.extend([1 | (1 << 6), 2, 3, 4, 5 | (2 << 6), 6, 7, 8, 0x21, 0x43, 0x65, 0x87]);
    b.extend([0x93u8; 128]); // low nibble 3 (even sub-blocks), high nibble 9 (odd ones)
    let y = dequantize(GgmlType::Q4_K, &b, 256).unwrap();
    let expected = [0.5, 15.0, 5.5, 32.0, 34.0, 25.0, 12.0, 59.0];
    for (i, v) in y.iter().enumerate() {
        assert_eq!(*v, expected[i / 32], "weight {i}");
    }
}

#[test]
fn q6_k_block() {
    // ql bytes 0x21 (low 1, high 2), qh bytes 0xe4 (2-bit fields 0, 1, 2, 3), so the four
    // 32-weight groups of each half have q = 1-32, 17-32, 34-32, 50-32; scales per 16 weights
    // 1,-1,2,-2,...,8,-8; d = 0.5.
    let mut b = vec![0x21u8; 128];
    b.extend([0xe4u8; 64]);
    let scales: Vec<i8> = (1..=8).flat_map(|s| [s, -s]).collect();
    b.extend(scales.iter().map(|&s| s as u8));
    b.extend(f16(0x3800));
    let y = dequantize(GgmlType::Q6_K, &b, 256).unwrap();
    let q = [-31.0, -15.0, 2.0, 18.0];
    for (e, v) in y.iter().enumerate() {
        let want = 0.5 * f32::from(scales[e / 16]) * q[(e % 128) / 32];
        assert_eq!(*v, want, "weight {e}");
    }
}

#[test]
fn q8_k_block() {
    let mut b = 0.125f32.to_le_bytes().to_vec();
    b.extend((0..=255u8).map(|j| j.wrapping_sub(128)));
    b.extend([0u8; 32]);
    let y = dequantize(GgmlType::Q8_K, &b, 256).unwrap();
    for (j, v) in y.iter().enumerate() {
        assert_eq!(*v, 0.125 * ((j as u8).wrapping_sub(128) as i8) as f32);
    }
}

#[test]
fn wrong_sizes_and_unknown_types_are_errors() {
    assert!(dequantize(GgmlType::Q4_1, &[0u8; 19], 32).is_err());
    assert!(dequantize(GgmlType::Q4_1, &[0u8; 20], 31).is_err());
    let e = dequantize(GgmlType(99), &[0u8; 4], 1).unwrap_err();
    assert_eq!(e, "unsupported tensor type type 99");
}

/// A minimal file: one u32 key, one string-array key, one F32 tensor of 2 elements.
fn tiny_file() -> Vec<u8> {
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend((t.len() as u64).to_le_bytes());
        b.extend(t.as_bytes());
    };
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    s(&mut b, "a.n");
    b.extend(4u32.to_le_bytes());
    b.extend(7u32.to_le_bytes());
    s(&mut b, "a.list");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    s(&mut b, "x");
    s(&mut b, "yz");
    s(&mut b, "w");
    b.extend(1u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend(1.5f32.to_le_bytes());
    b.extend((-2.0f32).to_le_bytes());
    b
}

#[test]
fn parses_a_hand_made_file() {
    let bytes = tiny_file();
    let g = Gguf::from_bytes(bytes, "tiny.gguf").unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.get_u64("a.n").unwrap(), 7);
    let list: Vec<&str> = g.get_array("a.list").unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(list, ["x", "yz"]);
    assert_eq!(g.data_offset, 128);
    assert_eq!(g.tensor_f32("w").unwrap(), [1.5, -2.0]);
    assert_eq!(
        g.get_str("a.n").unwrap_err().to_string(),
        "tiny.gguf: metadata key a.n: not a string"
    );
}

#[test]
fn bad_input_gives_errors_naming_the_file() {
    let mut bad = tiny_file();
    bad[0] = b'X';
    let e = Gguf::from_bytes(bad, "m.gguf").unwrap_err().to_string();
    assert!(e.starts_with("m.gguf: not a gguf file: bad magic"), "{e}");

    let mut short = tiny_file();
    short.truncate(short.len() - 4);
    let e = Gguf::from_bytes(short, "m.gguf").unwrap_err().to_string();
    assert_eq!(e, "m.gguf: truncated file: tensor w ends at byte 136, past the end (132 bytes)");

    let e = Gguf::from_bytes(tiny_file()[..30].to_vec(), "m.gguf").unwrap_err().to_string();
    assert!(e.starts_with("m.gguf: truncated file: "), "{e}");

    // Header 24 bytes, key a.n 19, key a.list 42, tensor name 9 and dims 12: the type is at 113.
    let mut unknown = tiny_file();
    unknown[113..117].copy_from_slice(&99u32.to_le_bytes());
    let g = Gguf::from_bytes(unknown, "m.gguf").unwrap();
    let e = g.tensor_f32("w").unwrap_err().to_string();
    assert_eq!(e, "m.gguf: tensor w: unsupported tensor type type 99");
}

fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("JOULEBENCH_MODELS") {
        return d.into();
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("joulebench/models");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/joulebench/models")
}

fn model(name: &str) -> PathBuf {
    let p = models_dir().join(name);
    assert!(p.exists(), "{} is missing: run `cargo xtask fetch-models`", p.display());
    p
}

#[test]
fn smollm2_header_matches_the_reference() {
    let g = Gguf::read_header(model("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.metadata.len(), 33);
    assert_eq!(g.tensors.len(), 272);
    assert_eq!(g.data_offset, 1_785_664);
    assert_eq!(g.file_size, 98_362_432);
    assert_eq!(g.architecture().unwrap(), "llama");
    assert_eq!(g.get_u64("llama.block_count").unwrap(), 30);
    assert_eq!(g.get_u64("llama.embedding_length").unwrap(), 576);
    assert_eq!(g.get_u64("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(g.get_f64("llama.rope.freq_base").unwrap(), 100000.0);
    assert_eq!(g.get_str("tokenizer.ggml.pre").unwrap(), "smollm");
    assert_eq!(g.get_array("tokenizer.ggml.tokens").unwrap().len(), 49152);
    assert_eq!(g.get_array("tokenizer.ggml.merges").unwrap().len(), 48900);
    assert_eq!(g.get("tokenizer.ggml.add_bos_token"), Some(&Value::Bool(false)));
    assert_eq!(g.get_u64("general.file_type").unwrap(), 3);
    assert_eq!(g.parameter_count(), 134_515_008);
    let count = |t| g.tensors.iter().filter(|x| x.ggml_type == t).count();
    assert_eq!((count(GgmlType::Q4_1), count(GgmlType::F32), count(GgmlType::Q8_0)), (210, 61, 1));
    let embd = g.tensor("token_embd.weight").unwrap();
    assert_eq!((embd.dims.as_slice(), embd.ggml_type), (&[576, 49152][..], GgmlType::Q8_0));
    assert!(g.tensor("output.weight").is_none());
    let last = g.tensors.iter().map(|t| g.data_offset + t.offset + t.byte_size().unwrap()).max();
    assert_eq!(last, Some(98_362_432));
}

#[test]
fn smollm2_tensors_dequantize() {
    let g = Gguf::open(model("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    for t in &g.tensors {
        let v = g.tensor_f32(&t.name).unwrap();
        assert_eq!(v.len() as u64, t.elements());
        assert!(v.iter().all(|x| x.is_finite()), "{}", t.name);
    }
    // RMSNorm gains of a trained model are positive and of order 1.
    let norm = g.tensor_f32("output_norm.weight").unwrap();
    let mean = norm.iter().sum::<f32>() / norm.len() as f32;
    assert!(mean > 0.1 && mean < 10.0, "{mean}");
}

#[test]
fn gemma3_header_and_tensor_types() {
    let g = Gguf::open(model("gemma-3-270m-q4_k_m.gguf")).unwrap();
    assert_eq!(g.architecture().unwrap(), "gemma3");
    assert_eq!(g.tensors.len(), 236);
    assert_eq!(g.get_u64("gemma3.block_count").unwrap(), 18);
    assert_eq!(g.get_u64("gemma3.embedding_length").unwrap(), 640);
    assert_eq!(g.get_u64("gemma3.attention.head_count").unwrap(), 4);
    assert_eq!(g.get_u64("gemma3.attention.head_count_kv").unwrap(), 1);
    assert_eq!(g.get_u64("gemma3.attention.key_length").unwrap(), 256);
    assert_eq!(g.get_u64("gemma3.attention.sliding_window").unwrap(), 512);
    assert_eq!(g.get_str("tokenizer.ggml.model").unwrap(), "llama");
    assert_eq!(g.get_array("tokenizer.ggml.tokens").unwrap().len(), 262_144);
    assert_eq!(file_type_name(g.get_u64("general.file_type").unwrap() as u32), Some("Q4_K_M"));
    let mut types: Vec<GgmlType> = g.tensors.iter().map(|t| t.ggml_type).collect();
    types.sort();
    types.dedup();
    assert_eq!(
        types,
        [GgmlType::F32, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K]
    );
    for t in &g.tensors {
        let v = g.tensor_f32(&t.name).unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{}", t.name);
    }
}

/// The largest single allocation made by this thread while `f` runs: a counting global
/// allocator, per thread so that the tests running beside it do not count.
mod allocations {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note(size: usize) {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
    }

    pub struct Counting;

    // SAFETY: every call is forwarded to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: the caller's contract is the system allocator's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    pub fn largest_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
        LARGEST.with(|m| m.set(0));
        let r = f();
        (r, LARGEST.with(Cell::get))
    }
}

#[global_allocator]
static COUNTING: allocations::Counting = allocations::Counting;

const MIB: usize = 1 << 20;

/// A header claiming `tensors` tensors and `kvs` metadata entries, then `fill` zero bytes.
fn header(tensors: u64, kvs: u64, fill: usize) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(tensors.to_le_bytes());
    b.extend(kvs.to_le_bytes());
    b.resize(b.len() + fill, 0);
    b
}

#[test]
fn absurd_counts_are_refused_before_anything_large_is_allocated() {
    // Counts the rest of the file cannot hold: the old check let any count up to the file size
    // through and reserved that many entries (4.6 MB here) before reading one.
    let bytes = header(65_000, 0, 65_000);
    let (r, largest) = allocations::largest_during(|| Gguf::from_bytes(bytes, "m.gguf"));
    let e = r.unwrap_err().to_string();
    assert_eq!(
        e,
        "m.gguf: truncated file: 65000 tensors and 0 metadata entries need at least 1560000 \
         bytes, but 65000 follow the header (65024 bytes in all; or an implausible header)"
    );
    assert!(largest < MIB, "{largest} bytes allocated");

    let (r, largest) =
        allocations::largest_during(|| Gguf::from_bytes(header(u64::MAX, u64::MAX, 8), "m.gguf"));
    assert!(r.unwrap_err().to_string().contains("implausible header"));
    assert!(largest < MIB, "{largest} bytes allocated");

    // Arrays that claim more elements than bytes follow, or more than any vocabulary holds.
    let array = |elem: u32, count: u64, fill: usize| {
        let mut b = header(0, 1, 0);
        b.extend(1u64.to_le_bytes());
        b.push(b'k');
        b.extend(9u32.to_le_bytes());
        b.extend(elem.to_le_bytes());
        b.extend(count.to_le_bytes());
        b.resize(b.len() + fill, 0);
        b
    };
    for (b, says) in [
        (array(8, 1 << 40, 4096), "claims 1099511627776 elements, past the end"),
        (array(8, 4096, 4096), "claims 4096 elements, past the end"),
        (array(0, (1 << 24) + 1, (1 << 24) + 1), "claims 16777217 elements (at most 16777216)"),
    ] {
        let (r, largest) = allocations::largest_during(|| Gguf::from_bytes(b, "m.gguf"));
        let e = r.unwrap_err().to_string();
        assert!(e.contains(&format!("value of metadata key k at byte 37 {says}")), "{e}");
        assert!(largest < MIB, "{largest} bytes allocated");
    }
}

#[test]
fn a_huge_sparse_file_claiming_millions_of_tensors_is_refused_from_its_header() {
    // 8 GiB of holes could hold 300 million minimal entries: the count alone is absurd. The old
    // reader reserved 300 million entries (about 20 GB) before reading the first one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.gguf");
    std::fs::write(&path, header(300_000_000, 0, 0)).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_len(8 << 30).unwrap();
    let (r, largest) = allocations::largest_during(|| Gguf::read_header(&path));
    let e = r.unwrap_err().to_string();
    assert!(e.ends_with("implausible header: 300000000 tensors and 0 metadata entries (at most 1048576 and 1048576)"), "{e}");
    // The 1 MiB read buffer is the largest allocation.
    assert!(largest <= MIB, "{largest} bytes allocated");
}

/// A file with one tensor of `dims`, type F32, at `offset`, and `data` bytes of data.
fn one_tensor(dims: &[u64], offset: u64, data: usize) -> Vec<u8> {
    let mut b = header(1, 0, 0);
    b.extend(1u64.to_le_bytes());
    b.push(b't');
    b.extend((dims.len() as u32).to_le_bytes());
    for d in dims {
        b.extend(d.to_le_bytes());
    }
    b.extend(0u32.to_le_bytes());
    b.extend(offset.to_le_bytes());
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.resize(b.len() + data, 0);
    b
}

#[test]
fn absurd_tensor_sizes_and_offsets_are_errors() {
    let e = Gguf::from_bytes(one_tensor(&[1 << 32, 1 << 32, 2], 0, 64), "m.gguf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "m.gguf: tensor t: dimensions [4294967296, 4294967296, 2] hold more than 2^64 elements"
    );
    // 2^62 F32 elements: the product fits, the byte size does not.
    let e = Gguf::from_bytes(one_tensor(&[1 << 31, 1 << 31], 0, 64), "m.gguf").unwrap_err();
    assert!(e.to_string().contains("is not a whole number of F32 blocks"), "{e}");
    let e = Gguf::from_bytes(one_tensor(&[4], u64::MAX - 31, 64), "m.gguf").unwrap_err();
    assert!(e.to_string().starts_with("m.gguf: truncated file: tensor t ends at byte "), "{e}");
    let g = Gguf::from_bytes(one_tensor(&[4], 0, 16), "m.gguf").unwrap();
    assert_eq!(g.tensor_f32("t").unwrap(), [0.0; 4]);
    assert_eq!(g.parameter_count(), 4);

    let mut twice = header(2, 0, 0);
    for _ in 0..2 {
        twice.extend(1u64.to_le_bytes());
        twice.push(b't');
        twice.extend(1u32.to_le_bytes());
        twice.extend(1u64.to_le_bytes());
        twice.extend(0u32.to_le_bytes());
        twice.extend(0u64.to_le_bytes());
    }
    twice.resize(96, 0);
    let e = Gguf::from_bytes(twice, "m.gguf").unwrap_err().to_string();
    assert_eq!(e, "m.gguf: tensor \"t\" is listed twice (entry 1)");
}

#[test]
fn element_counts_beyond_the_buffer_are_errors() {
    let e = dequantize(GgmlType::F32, &[0u8; 8], usize::MAX).unwrap_err();
    assert!(e.starts_with("18446744073709551615 elements of F32 need "), "{e}");
    assert!(dequantize(GgmlType::Q4_0, &[0u8; 18], usize::MAX / 32 * 32).is_err());
}
