//! A shared library that is not a joulebench plugin: the loader must refuse it by name.

/// An exported function, so that the library is a real, loadable shared object.
#[unsafe(no_mangle)]
pub extern "C" fn joulebench_test_not_a_plugin() -> u32 {
    42
}
