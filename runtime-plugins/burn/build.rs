//! The agreement tests and the benchmark link this plugin and the llama.cpp plugin into one
//! binary; both export abi_stable's root-module symbol, which only a loaded cdylib needs. Let the
//! linker keep the first definition in those test and bench binaries.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" {
        println!("cargo:rustc-link-arg-tests=-Wl,--allow-multiple-definition");
        println!("cargo:rustc-link-arg-benches=-Wl,--allow-multiple-definition");
    }
}
