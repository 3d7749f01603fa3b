//! Loading (good and bad files), model info, generation and the build, on the real SmolLM2 model.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;

use abi_stable::std_types::RVec;
use joulebench_abi::{ErrorCode, GenerateRequest, ModelSpec};
use joulebench_gguf::checksum::sha256_cache_path;
use joulebench_runtime_llama_cpp::{new, system_info};

use common::{load, model_lock, smollm2_path};

fn spec(path: &std::path::Path, options: &str) -> ModelSpec {
    ModelSpec {
        id: "m".into(),
        path: path.to_string_lossy().into_owned().into(),
        options: options.into(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("joulebench-llama-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn model_info_describes_the_file() {
    let _turn = model_lock();
    let model = load("threads = 2\ncontext_size = 1024");
    let info = model.model_info();
    // values read from the file's GGUF header with the `gguf` Python package, and `sha256sum`
    assert_eq!(info.architecture.as_str(), "llama");
    assert_eq!(info.quantization.as_str(), "Q4_1");
    assert_eq!(info.parameters, 134_515_008);
    assert_eq!(info.file_size, 98_362_432);
    assert_eq!(
        info.sha256.as_str(),
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert_eq!(info.name.as_str(), "Smollm2 135M 8k Lc100K Mix1 Ep2");
    assert_eq!(info.context_size, 1024);
    assert_eq!(info.backend.as_str(), "cpu");
    assert_eq!(info.threads, 2);
    assert!(!info.device.is_empty() && info.device.as_str() != "unknown", "{}", info.device);
    assert_eq!(info.path.as_str(), smollm2_path().to_string_lossy());
}

#[test]
fn the_build_uses_avx2_and_the_configured_avx512_without_native() {
    let info = system_info();
    if cfg!(target_arch = "x86_64") {
        assert!(info.contains("AVX2 = 1"), "{info}");
        // GGML_NATIVE would also turn on AMX where the build machine advertises it
        assert!(!info.contains("AMX_INT8 = 1"), "{info}");
        // .cargo/config.toml's AVX-512 choice reached llama.cpp (a build script that ran before
        // the variables were set does not rerun by itself: `cargo clean -p llama-cpp-sys-2`)
        let on = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("on"));
        for (var, feature) in [
            (option_env!("GGML_AVX512"), "AVX512 = 1"),
            (option_env!("GGML_AVX512_VNNI"), "AVX512_VNNI = 1"),
            (option_env!("GGML_AVX512_BF16"), "AVX512_BF16 = 1"),
        ] {
            assert_eq!(info.contains(feature), on(var), "{feature}: {info}");
        }
    }
}

#[test]
fn bad_model_files_get_errors_naming_them() {
    let _turn = model_lock();
    let dir = scratch("bad");
    let runtime = new("threads = 1").unwrap();

    let missing = dir.join("missing.gguf");
    let e = runtime.load(&spec(&missing, "")).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains("missing.gguf"), "{}", e.message);

    let text = dir.join("notes.gguf");
    std::fs::write(&text, "this is a text file, not a model\n").unwrap();
    let e = runtime.load(&spec(&text, "")).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert!(e.message.contains("notes.gguf") && e.message.contains("not a GGUF"), "{}", e.message);

    let e = runtime.load(&spec(&dir, "")).unwrap_err();
    assert!(e.message.contains(&*dir.to_string_lossy()), "{}", e.message);

    // cut inside the metadata, and inside the tensor data
    let mut whole = Vec::new();
    std::fs::File::open(smollm2_path()).unwrap().take(8 << 20).read_to_end(&mut whole).unwrap();
    for (name, len) in [("cut-metadata.gguf", 1 << 20), ("cut-tensors.gguf", 8 << 20)] {
        let cut = dir.join(name);
        std::fs::File::create(&cut).unwrap().write_all(&whole[..len]).unwrap();
        let e = runtime.load(&spec(&cut, "")).unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_DATA, "{}", e.message);
        assert!(e.message.contains(name), "{}", e.message);
        assert!(e.message.contains("could not load"), "{}", e.message);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn options_are_checked() {
    let runtime = new("threads = 1").unwrap();
    let e = runtime.load(&spec(&smollm2_path(), "temperature = 0.7")).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.contains("temperature"), "{}", e.message);
    assert!(new("threads = 1\nmodel = \"x\"").unwrap_err().message.contains("model"));
}

#[test]
fn the_sha256_is_cached_beside_the_model() {
    let _turn = model_lock();
    let dir = scratch("sha");
    let copy = dir.join("copy.gguf");
    std::fs::copy(smollm2_path(), &copy).unwrap();
    let runtime = new("threads = 1").unwrap();
    let model = runtime.load(&spec(&copy, "")).unwrap();
    let cached = std::fs::read_to_string(sha256_cache_path(&copy)).unwrap();
    assert!(cached.starts_with(&format!("{}  copy.gguf\n", model.model_info().sha256)), "{cached}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generation_is_greedy_with_limits_and_stops() {
    let _turn = model_lock();
    let runtime = new("threads = 2\ncontext_size = 512").unwrap();
    let mut rt = joulebench_abi::Runtime_TO::from_value(runtime, abi_stable::sabi_trait::TD_Opaque);
    let mut model = rt.load_model(&spec(&smollm2_path(), "")).unwrap();
    let prompt = "The capital of France is";
    let request = |max_tokens, stop: Vec<&str>| GenerateRequest {
        prompt: prompt.into(),
        max_tokens,
        stop: stop.into_iter().map(Into::into).collect::<RVec<_>>(),
    };
    let n_prompt = model.tokenize(prompt.into(), true).unwrap().len() as u64;
    let g = model.generate(&request(12, vec![])).unwrap();
    assert_eq!(g.finish.as_str(), "max_tokens");
    assert_eq!(g.counters.generated_tokens, 12);
    assert_eq!(g.counters.prompt_tokens, n_prompt);
    assert!(g.time_to_first_token_s > 0.0 && g.decode_tokens_per_s > 0.0);
    assert!(g.text.len() > 12, "{:?}", g.text);
    // greedy decoding is deterministic, so a stop string taken from the text cuts it there
    let again = model.generate(&request(12, vec![])).unwrap();
    assert_eq!(again.text, g.text);
    let words: Vec<&str> = g.text.split_whitespace().collect();
    let stop = words[1];
    let at = g.text.find(stop).unwrap();
    let s = model.generate(&request(12, vec!["@@never@@", stop])).unwrap();
    assert_eq!(s.finish.as_str(), "stop");
    assert_eq!(s.text.as_str(), &g.text[..at]);
    assert!(s.counters.generated_tokens < 12);
    // a request that cannot fit in the context is refused
    assert!(model.generate(&request(600, vec![])).is_err());
}

#[test]
fn trait_objects_work_end_to_end() {
    let _turn = model_lock();
    let runtime = new("threads = 2\ncontext_size = 512").unwrap();
    let mut rt = joulebench_abi::Runtime_TO::from_value(runtime, abi_stable::sabi_trait::TD_Opaque);
    assert_eq!(rt.info().name.as_str(), "llama.cpp");
    assert!(rt.info().backends.iter().any(|b| b.as_str() == "cpu"));
    let mut model = rt.load_model(&spec(&smollm2_path(), "context_size = 256")).unwrap();
    assert_eq!(model.info().context_size, 256);
    let tasks = common::hellaswag(10, 2);
    let eval = model.evaluate(tasks.as_slice().into()).unwrap();
    assert_eq!(eval.tasks.len(), 2);
    assert!(eval.tasks.iter().all(|t| t.candidates.len() == 4));
    // a task larger than the context (llama.cpp rounds it up to 256) is refused by name
    let mut long = tasks[0].clone();
    long.id = "long-one".into();
    long.candidates[0].context = "one two three four five six seven eight ".repeat(40).into();
    let e = model.evaluate(vec![tasks[1].clone(), long].as_slice().into()).unwrap_err();
    assert!(
        e.message.contains("long-one") && e.message.contains("context size 256"),
        "{}",
        e.message
    );
}
