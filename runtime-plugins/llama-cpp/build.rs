//! Hands the target triple to the plugin, which reports it with the kernels it runs.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=JOULEBENCH_TARGET={target}");
}
