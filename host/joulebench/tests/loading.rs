//! Every refusal of the loader, on deliberately wrong libraries, and a plugin that panics.

use std::path::Path;

use joulebench::loader::{Plugin, load};
use joulebench_abi::{ABI_VERSION, ErrorCode, ModelSpec};

use crate::util::{built, entry, plugin_dir};

fn refusal(library: &str, kind: &str, config: &str) -> String {
    let e = load(&entry("p", kind, library, config), Path::new("/"), &plugin_dir())
        .err()
        .expect("the loader refuses");
    e.to_string()
}

#[test]
fn a_missing_file_is_named() {
    let msg = refusal("/nonexistent/libjoulebench_x.so", "runtime", "");
    assert_eq!(
        msg,
        "plugin \"p\" (/nonexistent/libjoulebench_x.so): file not found (run `cargo xtask build-plugins`?)"
    );
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libfake.so");
    std::fs::write(&fake, "not an ELF file\n").unwrap();
    let msg = refusal(fake.to_str().unwrap(), "meter", "");
    assert!(
        msg.starts_with(&format!(
            "plugin \"p\" ({}): not a joulebench plugin: cannot be opened as a shared library",
            fake.display()
        )),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");
}

#[test]
fn a_library_without_a_root_module_is_not_a_plugin() {
    let path = built("joulebench_test_not_a_plugin");
    let msg = refusal("joulebench_test_not_a_plugin", "dataset", "");
    assert_eq!(
        msg,
        format!(
            "plugin \"p\" ({}): not a joulebench plugin: it exports no abi_stable root module",
            path.display()
        )
    );
}

#[test]
fn a_plugin_of_another_kind_is_refused() {
    let path = built("joulebench_test_faulty");
    let msg = refusal("joulebench_test_faulty", "meter", "");
    assert_eq!(
        msg,
        format!(
            "plugin \"p\" ({}): is a runtime plugin, but the manifest declares it a meter plugin",
            path.display()
        )
    );
}

#[test]
fn an_abi_version_mismatch_prints_both_versions() {
    let path = built("joulebench_test_old_abi");
    let msg = refusal("joulebench_test_old_abi", "runtime", "");
    assert_eq!(
        msg,
        format!(
            "plugin \"p\" ({}): ABI version mismatch: the plugin was built against joulebench-abi 0.0.7, this host uses {ABI_VERSION} (rebuild the plugin)",
            path.display()
        )
    );
}

#[test]
fn a_layout_mismatch_is_one_line() {
    built("joulebench_test_bad_layout");
    let msg = refusal("joulebench_test_bad_layout", "runtime", "");
    assert!(
        msg.contains(
            "ABI layout mismatch: mismatched type expected RuntimeMod found EditedRuntimeMod"
        ),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "the layout report belongs in the debug log: {msg}");
}

#[test]
fn a_constructor_error_is_reported_with_its_code() {
    built("joulebench_test_faulty");
    let msg = refusal("joulebench_test_faulty", "runtime", "constructor = \"error\"");
    assert!(
        msg.ends_with(
            "constructor returned an error (backend error): constructor was told to fail"
        ),
        "{msg}"
    );
}

#[test]
fn a_bad_plugin_config_is_reported_by_the_plugin() {
    built("joulebench_test_faulty");
    let msg = refusal("joulebench_test_faulty", "runtime", "constructr = \"error\"");
    assert!(msg.contains("constructor returned an error (invalid config): "), "{msg}");
    assert!(msg.contains("unknown field `constructr`"), "{msg}");
}

#[test]
fn a_panicking_constructor_becomes_an_error_and_the_host_carries_on() {
    built("joulebench_test_faulty");
    let msg = refusal("joulebench_test_faulty", "runtime", "constructor = \"panic\"");
    assert!(
        msg.ends_with("constructor panicked: plugin panicked: constructor was told to panic"),
        "{msg}"
    );
    // The same library still constructs a healthy plugin afterwards.
    let ok =
        load(&entry("q", "runtime", "joulebench_test_faulty", ""), Path::new("/"), &plugin_dir());
    assert!(ok.is_ok());
}

#[test]
fn a_panicking_method_returns_an_error_and_the_host_carries_on() {
    built("joulebench_test_faulty");
    let loaded = load(
        &entry("p", "runtime", "joulebench_test_faulty", "load_model = \"panic\""),
        Path::new("/"),
        &plugin_dir(),
    )
    .unwrap();
    let Plugin::Runtime(mut runtime) = loaded.plugin else { panic!("a runtime") };
    let spec = ModelSpec { id: "m".into(), path: "/m.gguf".into(), options: "".into() };
    for _ in 0..2 {
        let err = runtime.load_model(&spec).into_result().err().expect("an error");
        assert_eq!(err.code, ErrorCode::PANICKED);
        assert_eq!(err.message.as_str(), "plugin panicked: load_model was told to panic");
    }
    assert_eq!(runtime.info().name.as_str(), "faulty");
}

#[test]
fn one_library_serves_several_plugins_of_its_kind() {
    built("joulebench_test_faulty");
    let a =
        load(&entry("a", "runtime", "joulebench_test_faulty", ""), Path::new("/"), &plugin_dir())
            .unwrap();
    let b = load(
        &entry("b", "runtime", "joulebench_test_faulty", "load_model = \"error\""),
        Path::new("/"),
        &plugin_dir(),
    )
    .unwrap();
    assert_eq!((a.id.as_str(), b.id.as_str()), ("a", "b"));
    assert_eq!(a.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(a.abi_version, ABI_VERSION);
    let (Plugin::Runtime(_), Plugin::Runtime(mut rb)) = (a.plugin, b.plugin) else {
        panic!("two runtimes")
    };
    let spec = ModelSpec { id: "m".into(), path: "/m.gguf".into(), options: "".into() };
    let err = rb.load_model(&spec).into_result().err().unwrap();
    assert_eq!(err.code, ErrorCode::BACKEND, "b kept its own config");
}
