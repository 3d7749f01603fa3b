//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use joulebench::loader::default_plugin_dir;
use joulebench::manifest::{Manifest, PluginEntry};

/// The folder the plugins' cdylibs are built into (`cargo xtask build-plugins` puts them there).
pub fn plugin_dir() -> PathBuf {
    default_plugin_dir()
}

/// The path of a built plugin library, failing with the command that builds it when it is absent
/// or older than any source file it was built from (cargo's dep-info file beside it lists them),
/// so that no test runs against a stale plugin.
pub fn built(lib: &str) -> PathBuf {
    let p = plugin_dir().join(format!("lib{lib}.so"));
    let rebuild = "run `cargo xtask build-plugins` (or `cargo xtask test`, which builds them)";
    assert!(p.exists(), "{} is missing: {rebuild}", p.display());
    let built_at = std::fs::metadata(&p).and_then(|m| m.modified()).unwrap();
    let dep_info = p.with_extension("d");
    let deps = std::fs::read_to_string(&dep_info)
        .unwrap_or_else(|e| panic!("{}: {e}: {rebuild}", dep_info.display()));
    let sources = deps.split_once(": ").map_or("", |(_, s)| s.lines().next().unwrap_or(""));
    for source in sources.split_whitespace() {
        let changed = std::fs::metadata(source).and_then(|m| m.modified());
        if changed.is_ok_and(|t| t > built_at) {
            panic!("{} is older than {source}: {rebuild}", p.display());
        }
    }
    p
}

/// A plugin entry for `library` of `kind` with a config table's TOML text.
pub fn entry(id: &str, kind: &str, library: &str, config: &str) -> PluginEntry {
    let text = format!(
        "[[plugin]]\nid = \"{id}\"\nkind = \"{kind}\"\nlibrary = \"{library}\"\n[plugin.config]\n{config}\n"
    );
    let m = Manifest::parse(Path::new("t.toml"), text).expect("entry parses");
    m.plugins.into_iter().next().expect("one plugin")
}

/// Held by the tests that run the real model, so that they do not share the 2 cores with each
/// other (the sampler thread of one would starve behind the other's inference threads).
pub static REAL_MODEL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The benchmark data: `$JOULEBENCH_DATA`, else where `cargo xtask fetch-data` puts it, else
/// `../shared/datasets` beside the checkout.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("JOULEBENCH_DATA") {
        return PathBuf::from(d);
    }
    let fetched = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/joulebench/data"));
    if let Some(f) = fetched.filter(|f| f.join("hellaswag").is_dir()) {
        return f;
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    assert!(
        shared.join("hellaswag").is_dir(),
        "no benchmark data: set JOULEBENCH_DATA (or put the data at {})",
        shared.display()
    );
    shared.canonicalize().unwrap()
}

/// The default model in the models cache, failing with the command that fetches it.
pub fn smollm2() -> PathBuf {
    let p = joulebench::manifest::models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.exists(), "{} is missing: run `cargo xtask fetch-models`", p.display());
    p
}

/// A manifest running SmolLM2 through llama.cpp on `tasks` tasks of each benchmark, with
/// `meter` (a `[[plugin]]` table of kind meter with id "meter"), storing into `results`;
/// `settings` is added to `[settings]` and `extra` to the experiment.
pub fn smollm2_manifest(
    results: &Path,
    meter: &str,
    tasks: u32,
    settings: &str,
    extra: &str,
) -> String {
    for lib in [
        "joulebench_runtime_llama_cpp",
        "joulebench_dataset_mmlu",
        "joulebench_dataset_hellaswag",
        "joulebench_dataset_winogrande",
    ] {
        built(lib);
    }
    let data = data_dir();
    format!(
        r#"
[settings]
results = "{results}"
plugin_dir = "{plugins}"
{settings}

[[plugin]]
id = "llama"
kind = "runtime"
library = "joulebench_runtime_llama_cpp"
config = {{ threads = 1, context_size = 2048 }}

[[plugin]]
id = "mmlu"
kind = "dataset"
library = "joulebench_dataset_mmlu"
config = {{ data_dir = "{data}", shots = 0 }}

[[plugin]]
id = "hellaswag"
kind = "dataset"
library = "joulebench_dataset_hellaswag"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "winogrande"
kind = "dataset"
library = "joulebench_dataset_winogrande"
config = {{ data_dir = "{data}" }}

{meter}

[[model]]
id = "smollm2"
path = "{model}"

[[experiment]]
id = "e2e"
runtime = "llama"
model = "smollm2"
dataset = ["mmlu", "hellaswag", "winogrande"]
meter = "meter"
limit = {tasks}
selection = "llama-cpp"
{extra}
"#,
        results = results.display(),
        plugins = plugin_dir().display(),
        data = data.display(),
        model = smollm2().display(),
    )
}
