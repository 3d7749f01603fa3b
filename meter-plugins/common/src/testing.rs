//! Fixture tools for the meter plugins' tests: copy a recorded sysfs tree somewhere writable,
//! rewrite its files while a meter reads them, and make a file unreadable even for root.

use std::io;
use std::path::Path;

/// Copies the directory tree `src` into `dst` (created if needed).
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Replaces `path`'s contents in one step (write a sibling, rename over), so that a concurrent
/// reader sees the old or the new contents, never a torn mix.
pub fn write_atomic(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// Runs `f` on a fresh thread whose effective capabilities lack `CAP_DAC_OVERRIDE` and
/// `CAP_DAC_READ_SEARCH`, so that file modes apply to it even when the tests run as root (as
/// they do in CI). Capabilities are per thread on Linux; the rest of the process keeps them.
pub fn without_file_privileges<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(|| {
            drop_dac_capabilities();
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_DAC_READ_SEARCH: u32 = 2;

fn drop_dac_capabilities() {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget/capset with a v3 header read and write exactly two CapData structs.
    let got = unsafe {
        libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr())
    };
    assert_eq!(got, 0, "capget failed: {}", io::Error::last_os_error());
    data[0].effective &= !((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH));
    // SAFETY: as above.
    let set =
        unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    assert_eq!(set, 0, "capset failed: {}", io::Error::last_os_error());
}

/// Takes every permission bit off `path` (mode 000), as the kernel does for RAPL's `energy_uj`
/// and some JetPack releases do for the INA3221 files.
pub fn deny_read(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000))
}
