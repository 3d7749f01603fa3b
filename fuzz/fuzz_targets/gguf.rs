//! A GGUF file in memory: header, metadata, tensor index, and every tensor dequantized. Absurd
//! counts and sizes must be refused before anything large is allocated.
#![no_main]

use joulebench_gguf::Gguf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::from_bytes(data.to_vec(), "fuzz.gguf") else { return };
    let _ = g.architecture();
    let _ = g.parameter_count();
    for (key, value) in &g.metadata {
        let _ = (value.as_u64(), value.as_i64(), value.as_f64(), value.as_str());
        let _ = (g.get_str(key), g.get_u64(key), g.get_f64(key), g.get_array(key));
    }
    for t in g.tensors.iter().take(64) {
        let _ = t.byte_size();
        if let Ok(values) = g.tensor_f32(&t.name) {
            assert_eq!(values.len() as u64, t.elements());
        }
    }
});
