//! Which CPU kernels this build of llama.cpp runs, and whether this CPU can run them.
//!
//! llama.cpp's CPU kernels are fixed when it is compiled: by the Rust target features (x86-64-v3
//! here, the board's own CPU with `target-cpu=native`), by the `GGML_AVX512*` variables that
//! `.cargo/config.toml` sets for x86, and by `GGML_CPU_ARM_ARCH` in a cross build for a board
//! (`armv8.2-a+dotprod+fp16` for the Pi 5 and the Orin). A CPU without one of them dies with SIGILL inside llama.cpp, so [`check_cpu`] refuses
//! first, naming the missing features, before any llama.cpp code runs. [`describe`] states what
//! the runtime uses (llama.cpp's own system info, and the target triple) for `joulebench plugins`
//! and each result's provenance.

use joulebench_abi::AbiError;

/// The target triple this plugin was built for.
pub const TARGET: &str = env!("JOULEBENCH_TARGET");

/// Whether a cmake boolean as written in the environment is true.
fn cmake_on(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        matches!(v.to_ascii_uppercase().as_str(), "ON" | "1" | "TRUE" | "YES" | "Y")
    })
}

/// The aarch64 architecture llama.cpp was built for when it was chosen through the environment
/// (`armv8.2-a+dotprod+fp16`), else empty.
pub fn arm_arch() -> &'static str {
    if cfg!(target_arch = "aarch64") { option_env!("GGML_CPU_ARM_ARCH").unwrap_or("") } else { "" }
}

/// The CPU features this build's kernels need, as Rust's feature detection names them.
pub fn required_features() -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut need = |on: bool, features: &[&'static str]| {
        if on {
            out.extend_from_slice(features);
        }
    };
    if cfg!(target_arch = "x86_64") {
        need(cfg!(target_feature = "avx2"), &["avx2"]);
        need(cfg!(target_feature = "fma"), &["fma"]);
        need(cfg!(target_feature = "f16c"), &["f16c"]);
        need(cfg!(target_feature = "bmi2"), &["bmi2"]);
        let avx512 = ["avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"];
        need(cmake_on(option_env!("GGML_AVX512")) || cfg!(target_feature = "avx512f"), &avx512);
        need(
            cmake_on(option_env!("GGML_AVX512_VNNI")) || cfg!(target_feature = "avx512vnni"),
            &["avx512vnni"],
        );
        need(
            cmake_on(option_env!("GGML_AVX512_BF16")) || cfg!(target_feature = "avx512bf16"),
            &["avx512bf16"],
        );
        need(
            cmake_on(option_env!("GGML_AVX512_VBMI")) || cfg!(target_feature = "avx512vbmi"),
            &["avx512vbmi"],
        );
    }
    if cfg!(target_arch = "aarch64") {
        // `-march` extensions given through GGML_CPU_ARM_ARCH (a cross build), or the Rust target
        // features (`target-cpu=native` on a board, where llama.cpp uses the same CPU's).
        let ext = |e: &str| arm_arch().split('+').skip(1).any(|x| x == e);
        need(cfg!(target_feature = "dotprod") || ext("dotprod"), &["dotprod"]);
        need(cfg!(target_feature = "fp16") || ext("fp16"), &["fp16"]);
        need(cfg!(target_feature = "i8mm") || ext("i8mm"), &["i8mm"]);
        need(cfg!(target_feature = "sve") || ext("sve"), &["sve"]);
    }
    out
}

/// Whether this CPU has `feature` (a name [`required_features`] returns).
fn cpu_has(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "fma" => std::arch::is_x86_feature_detected!("fma"),
            "f16c" => std::arch::is_x86_feature_detected!("f16c"),
            "bmi2" => std::arch::is_x86_feature_detected!("bmi2"),
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            "avx512cd" => std::arch::is_x86_feature_detected!("avx512cd"),
            "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::arch::is_x86_feature_detected!("avx512dq"),
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
            "avx512bf16" => std::arch::is_x86_feature_detected!("avx512bf16"),
            "avx512vbmi" => std::arch::is_x86_feature_detected!("avx512vbmi"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match feature {
            "dotprod" => std::arch::is_aarch64_feature_detected!("dotprod"),
            "fp16" => std::arch::is_aarch64_feature_detected!("fp16"),
            "i8mm" => std::arch::is_aarch64_feature_detected!("i8mm"),
            "sve" => std::arch::is_aarch64_feature_detected!("sve"),
            _ => false,
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = feature;
        false
    }
}

/// The features this build needs that this CPU lacks.
pub fn missing_features() -> Vec<&'static str> {
    required_features().into_iter().filter(|f| !cpu_has(f)).collect()
}

/// Refuses, naming what is missing, when this CPU cannot run this build's kernels.
pub fn check_cpu() -> Result<(), AbiError> {
    let missing = missing_features();
    if missing.is_empty() {
        return Ok(());
    }
    let fix = if cfg!(target_arch = "x86_64") {
        "rebuild with GGML_AVX512=OFF GGML_AVX512_VNNI=OFF GGML_AVX512_BF16=OFF in the environment"
    } else {
        "rebuild on this board (`cargo xtask build-plugins`), or cross-build for it with \
         `cargo xtask build-plugins --target aarch64-unknown-linux-gnu --board NAME`"
    };
    Err(AbiError::backend(format!(
        "this CPU lacks {} that this build of llama.cpp ({TARGET}) was compiled to use; {fix} \
         (docs/boards.md)",
        missing.join(", ")
    )))
}

/// The CPU features llama.cpp's system info reports as used (`AVX2`, `NEON`, `DOTPROD`, ...),
/// in its order.
pub fn cpu_kernels(system_info: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_cpu = false;
    for part in system_info.split('|') {
        let mut part = part.trim();
        if let Some((section, rest)) = part.split_once(" : ") {
            in_cpu = section.trim() == "CPU";
            part = rest.trim();
        }
        if !in_cpu {
            continue;
        }
        match part.split_once(" = ") {
            Some((name, value)) if value.trim() == "1" => out.push(name.trim().to_string()),
            _ => {}
        }
    }
    out
}

/// What the runtime runs on, for its `engine_version`: the target triple and the CPU kernels.
pub fn describe(system_info: &str) -> String {
    let kernels = cpu_kernels(system_info);
    let kernels = if kernels.is_empty() { "none reported".to_string() } else { kernels.join(" ") };
    format!("{TARGET}; CPU kernels: {kernels}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_are_the_cpu_section_features_that_are_on() {
        let info = "CPU : NEON = 1 | ARM_FMA = 1 | FP16_VA = 1 | DOTPROD = 0 | REPACK = 1 | \
                    CUDA : ARCHS = 870 | USE_GRAPHS = 1 |";
        assert_eq!(cpu_kernels(info), ["NEON", "ARM_FMA", "FP16_VA", "REPACK"]);
        assert!(describe(info).ends_with("CPU kernels: NEON ARM_FMA FP16_VA REPACK"));
        assert!(describe("").ends_with("none reported"));
    }

    #[test]
    fn cmake_booleans() {
        assert!(cmake_on(Some("ON")) && cmake_on(Some("on")) && cmake_on(Some("1")));
        assert!(!cmake_on(Some("OFF")) && !cmake_on(None) && !cmake_on(Some("")));
    }

    #[test]
    fn this_machine_runs_this_build() {
        assert_eq!(missing_features(), Vec::<&str>::new());
    }
}
