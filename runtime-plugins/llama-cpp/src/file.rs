//! Checks on a model file before llama.cpp sees it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use joulebench_abi::AbiError;

/// What the header check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgufHeader {
    /// The GGUF version.
    pub version: u32,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Number of metadata pairs.
    pub metadata_count: u64,
    /// The file's size in bytes.
    pub file_size: u64,
}

/// Checks that `path` is a readable GGUF file (magic, version, plausible counts), so that a wrong
/// file gets a clear error naming it instead of whatever llama.cpp makes of it.
pub fn check_gguf(path: &Path) -> Result<GgufHeader, AbiError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| AbiError::io(&shown, &e))?;
    if meta.is_dir() {
        return Err(AbiError::data(format!("{shown}: is a folder, not a GGUF model file")));
    }
    let mut file = File::open(path).map_err(|e| AbiError::io(&shown, &e))?;
    let mut head = [0u8; 24];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AbiError::io(&shown, &e)),
        }
    }
    if got < 4 || &head[..4] != b"GGUF" {
        let start: String = head[..got.min(4)]
            .iter()
            .map(|b| if b.is_ascii_graphic() { char::from(*b) } else { '.' })
            .collect();
        return Err(AbiError::data(format!(
            "{shown}: not a GGUF model file (it starts with `{start}` where a GGUF file has the magic `GGUF`)"
        )));
    }
    if got < head.len() {
        return Err(AbiError::data(format!(
            "{shown}: truncated GGUF file ({got} bytes, shorter than the 24-byte header)"
        )));
    }
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let u64_at = |i: usize| u64::from(u32_at(i)) | (u64::from(u32_at(i + 4)) << 32);
    let version = u32_at(4);
    if !(2..=3).contains(&version) {
        return Err(AbiError::data(format!(
            "{shown}: unsupported GGUF version {version} (llama.cpp reads versions 2 and 3)"
        )));
    }
    let (tensor_count, metadata_count) = (u64_at(8), u64_at(16));
    // Every tensor info and metadata pair takes at least 8 bytes of header.
    if tensor_count == 0 || (tensor_count + metadata_count).saturating_mul(8) > meta.len() {
        return Err(AbiError::data(format!(
            "{shown}: corrupt or truncated GGUF header ({tensor_count} tensors and {metadata_count} metadata pairs in a file of {} bytes)",
            meta.len()
        )));
    }
    Ok(GgufHeader { version, tensor_count, metadata_count, file_size: meta.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let f = dir.join("model.gguf");
        std::fs::write(&f, b"PK\x03\x04 not a gguf at all, a zip").unwrap();
        let e = check_gguf(&f).unwrap_err();
        assert!(
            e.message.contains("model.gguf") && e.message.contains("not a GGUF"),
            "{}",
            e.message
        );
        std::fs::write(&f, b"GGUF\x03\x00").unwrap();
        let e = check_gguf(&f).unwrap_err();
        assert!(e.message.contains("truncated"), "{}", e.message);
        let missing = dir.join("missing.gguf");
        let e = check_gguf(&missing).unwrap_err();
        assert_eq!(e.code, joulebench_abi::ErrorCode::NOT_FOUND);
        assert!(e.message.contains("missing.gguf"));
    }
}
