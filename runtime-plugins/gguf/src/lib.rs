//! A reader for GGUF model files: header, metadata, tensor index and tensor data, with the
//! dequantization of ggml's block formats to `f32`.
//!
//! joulebench reads GGUF in more than one place (the burn runtime loads weights and builds its
//! tokenizer from it; other code only wants a model's metadata), so the format lives here once.
//! [`Gguf::read_header`] reads metadata and the tensor index without the tensor data;
//! [`Gguf::open`] also reads the data, and [`Gguf::tensor_f32`] dequantizes one tensor.
//! Every error names the file and the place in it. [`checksum`] hashes a model file once and
//! caches the sha256 beside it, for both runtimes' model info.
#![deny(missing_docs)]

pub mod checksum;
mod dequant;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

pub use checksum::{sha256_cached, sha256_file};
pub use dequant::{dequantize, f16_to_f32};

/// The magic number at the start of every GGUF file (`GGUF` in ASCII, little-endian).
pub const MAGIC: u32 = 0x4655_4747;
/// The alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The most elements a metadata array may hold (a vocabulary has a few hundred thousand).
pub const MAX_ARRAY_LEN: u64 = 1 << 24;
/// The most tensors a file may list (the largest models have a few thousand).
pub const MAX_TENSORS: u64 = 1 << 20;
/// The most metadata entries a file may hold (models have a few dozen).
pub const MAX_METADATA: u64 = 1 << 20;
/// The fewest bytes a metadata entry takes: key length (8), value type (4), a one-byte value.
const MIN_KV_BYTES: u64 = 13;
/// The fewest bytes a tensor index entry takes: name length (8), dimension count (4), type (4),
/// offset (8).
const MIN_TENSOR_BYTES: u64 = 24;
/// How many entries are reserved before any is read: counts come from the file, so memory
/// grows with the entries actually read, not with what the header claims.
const PREALLOCATE: u64 = 1024;

/// What went wrong reading a GGUF file, with the file's path.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong and where.
    pub message: String,
    /// Whether the failure was an I/O error (as opposed to malformed content).
    pub io_kind: Option<std::io::ErrorKind>,
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for GgufError {}

/// A ggml tensor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GgmlType(pub u32);

impl GgmlType {
    /// 32-bit float.
    pub const F32: Self = Self(0);
    /// 16-bit IEEE float.
    pub const F16: Self = Self(1);
    /// 4-bit, symmetric, blocks of 32.
    pub const Q4_0: Self = Self(2);
    /// 4-bit with a minimum, blocks of 32.
    pub const Q4_1: Self = Self(3);
    /// 5-bit, symmetric, blocks of 32.
    pub const Q5_0: Self = Self(6);
    /// 5-bit with a minimum, blocks of 32.
    pub const Q5_1: Self = Self(7);
    /// 8-bit, symmetric, blocks of 32.
    pub const Q8_0: Self = Self(8);
    /// 2-bit k-quant, super-blocks of 256.
    pub const Q2_K: Self = Self(10);
    /// 3-bit k-quant, super-blocks of 256.
    pub const Q3_K: Self = Self(11);
    /// 4-bit k-quant, super-blocks of 256.
    pub const Q4_K: Self = Self(12);
    /// 5-bit k-quant, super-blocks of 256.
    pub const Q5_K: Self = Self(13);
    /// 6-bit k-quant, super-blocks of 256.
    pub const Q6_K: Self = Self(14);
    /// 8-bit k-quant (f32 scale), super-blocks of 256.
    pub const Q8_K: Self = Self(15);
    /// bfloat16.
    pub const BF16: Self = Self(30);

    /// The type's name as ggml prints it, or `None` for a type this crate does not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::Q4_0 => "Q4_0",
            Self::Q4_1 => "Q4_1",
            Self::Q5_0 => "Q5_0",
            Self::Q5_1 => "Q5_1",
            Self::Q8_0 => "Q8_0",
            Self::Q2_K => "Q2_K",
            Self::Q3_K => "Q3_K",
            Self::Q4_K => "Q4_K",
            Self::Q5_K => "Q5_K",
            Self::Q6_K => "Q6_K",
            Self::Q8_K => "Q8_K",
            Self::BF16 => "BF16",
            _ => return None,
        })
    }

    /// (elements per block, bytes per block), or `None` for a type this crate does not know.
    pub fn block_layout(self) -> Option<(usize, usize)> {
        Some(match self {
            Self::F32 => (1, 4),
            Self::F16 | Self::BF16 => (1, 2),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q5_0 => (32, 22),
            Self::Q5_1 => (32, 24),
            Self::Q8_0 => (32, 34),
            Self::Q2_K => (256, 84),
            Self::Q3_K => (256, 110),
            Self::Q4_K => (256, 144),
            Self::Q5_K => (256, 176),
            Self::Q6_K => (256, 210),
            Self::Q8_K => (256, 292),
            _ => return None,
        })
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "type {}", self.0),
        }
    }
}

/// The name of a `general.file_type` value (llama.cpp's `llama_ftype`), such as `Q4_K_M`.
pub fn file_type_name(file_type: u32) -> Option<&'static str> {
    Some(match file_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7.
    Bool(bool),
    /// Type 8.
    String(String),
    /// Type 9: elements of one type.
    Array(Vec<Value>),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

impl Value {
    /// The value as an unsigned integer, when it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a signed integer, when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// The value as a float, when it is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The value as an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One entry of the tensor index.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// The tensor's name (`blk.0.attn_q.weight`).
    pub name: String,
    /// The dimensions in ggml order: `dims[0]` is the innermost (contiguous) one.
    pub dims: Vec<u64>,
    /// The element type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// The number of elements (`u64::MAX` when the product overflows, which a parsed file
    /// never holds: [`Gguf`] refuses it).
    pub fn elements(&self) -> u64 {
        self.checked_elements().unwrap_or(u64::MAX)
    }

    fn checked_elements(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
    }

    /// The size of the data in bytes, or `None` for an unknown type, a row that is not a whole
    /// number of blocks, or a size beyond 64 bits.
    pub fn byte_size(&self) -> Option<u64> {
        let (block, bytes) = self.ggml_type.block_layout()?;
        let n = self.checked_elements()?;
        if self.dims.first().copied().unwrap_or(1) % block as u64 != 0 {
            return None;
        }
        (n / block as u64).checked_mul(bytes as u64)
    }
}

/// A parsed GGUF file.
#[derive(Debug, Clone)]
pub struct Gguf {
    /// The file.
    pub path: PathBuf,
    /// The format version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    index: BTreeMap<String, usize>,
    /// The tensor index in file order.
    pub tensors: Vec<TensorInfo>,
    tensor_index: BTreeMap<String, usize>,
    /// The alignment of the data section and of every tensor.
    pub alignment: u64,
    /// Where the data section starts, in bytes from the start of the file.
    pub data_offset: u64,
    /// The file's size in bytes.
    pub file_size: u64,
    data: Option<Vec<u8>>,
}

struct Cursor<R> {
    inner: R,
    pos: u64,
    path: PathBuf,
    file_size: u64,
}

impl<R: Read> Cursor<R> {
    fn err(&self, message: String) -> GgufError {
        GgufError { path: self.path.clone(), message, io_kind: None }
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut buf = [0u8; N];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgufError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.err(format!(
                "truncated file: {what} at byte {} runs past the end ({} bytes)",
                self.pos, self.file_size
            ))),
            Err(e) => Err(GgufError {
                path: self.path.clone(),
                message: format!("reading {what} at byte {}: {e}", self.pos),
                io_kind: Some(e.kind()),
            }),
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let at = self.pos;
        let len = self.u64(what)?;
        if len > self.file_size.saturating_sub(self.pos) {
            return Err(self.err(format!(
                "truncated file: {what} at byte {at} claims {len} bytes, past the end ({} bytes)",
                self.file_size
            )));
        }
        let mut buf = vec![0u8; len as usize];
        self.fill(&mut buf, what)?;
        String::from_utf8(buf)
            .map_err(|_| self.err(format!("{what} at byte {at} is not valid utf-8")))
    }

    fn value(&mut self, ty: u32, what: &str, depth: u32) -> Result<Value, GgufError> {
        Ok(match ty {
            0 => Value::U8(u8::from_le_bytes(self.bytes(what)?)),
            1 => Value::I8(i8::from_le_bytes(self.bytes(what)?)),
            2 => Value::U16(u16::from_le_bytes(self.bytes(what)?)),
            3 => Value::I16(i16::from_le_bytes(self.bytes(what)?)),
            4 => Value::U32(self.u32(what)?),
            5 => Value::I32(i32::from_le_bytes(self.bytes(what)?)),
            6 => Value::F32(f32::from_le_bytes(self.bytes(what)?)),
            7 => {
                let [b] = self.bytes(what)?;
                Value::Bool(b != 0)
            }
            8 => Value::String(self.string(what)?),
            9 => {
                if depth > 0 {
                    return Err(self.err(format!("{what}: nested arrays are not supported")));
                }
                let at = self.pos;
                let elem = self.u32(what)?;
                let count = self.u64(what)?;
                // Every element takes at least one byte (a string eight): a larger count cannot
                // be real.
                let least = if elem == 8 { 8 } else { 1 };
                if count > self.file_size.saturating_sub(self.pos) / least {
                    return Err(self.err(format!(
                        "truncated file: {what} at byte {at} claims {count} elements, past the end"
                    )));
                }
                if count > MAX_ARRAY_LEN {
                    return Err(self.err(format!(
                        "{what} at byte {at} claims {count} elements (at most {MAX_ARRAY_LEN})"
                    )));
                }
                let mut items = Vec::with_capacity(count.min(PREALLOCATE) as usize);
                for _ in 0..count {
                    items.push(self.value(elem, what, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64(what)?),
            11 => Value::I64(i64::from_le_bytes(self.bytes(what)?)),
            12 => Value::F64(f64::from_le_bytes(self.bytes(what)?)),
            other => {
                return Err(self.err(format!(
                    "{what}: unknown metadata value type {other} at byte {}",
                    self.pos - 4
                )));
            }
        })
    }
}

impl Gguf {
    /// Reads the header, metadata and tensor index of `path`, not the tensor data.
    pub fn read_header(path: impl AsRef<Path>) -> Result<Gguf, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |e: std::io::Error| GgufError {
            path: path.clone(),
            message: e.to_string(),
            io_kind: Some(e.kind()),
        };
        let file = std::fs::File::open(&path).map_err(io_err)?;
        let file_size = file.metadata().map_err(io_err)?.len();
        Self::parse(BufReader::with_capacity(1 << 20, file), path, file_size)
    }

    /// Reads the whole file: header, metadata, tensor index and tensor data.
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf, GgufError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|e| GgufError {
            path: path.clone(),
            message: e.to_string(),
            io_kind: Some(e.kind()),
        })?;
        Self::from_bytes(bytes, path)
    }

    /// Parses a GGUF file held in memory; `path` is only used in messages.
    pub fn from_bytes(bytes: Vec<u8>, path: impl Into<PathBuf>) -> Result<Gguf, GgufError> {
        let mut g = Self::parse(&bytes[..], path.into(), bytes.len() as u64)?;
        g.data = Some(bytes);
        Ok(g)
    }

    fn parse<R: Read>(reader: R, path: PathBuf, file_size: u64) -> Result<Gguf, GgufError> {
        let mut c = Cursor { inner: reader, pos: 0, path, file_size };
        let magic = c.u32("magic")?;
        if magic != MAGIC {
            return Err(c.err(format!(
                "not a gguf file: bad magic {:02x?} at byte 0 (expected \"GGUF\")",
                magic.to_le_bytes()
            )));
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(c.err(format!("unsupported gguf version {version} at byte 4")));
        }
        let tensor_count = c.u64("tensor count")?;
        let kv_count = c.u64("metadata count")?;
        // Refused before anything is reserved for them: entries the rest of the file cannot hold.
        let room = file_size.saturating_sub(c.pos);
        let needed = u128::from(tensor_count) * u128::from(MIN_TENSOR_BYTES)
            + u128::from(kv_count) * u128::from(MIN_KV_BYTES);
        if tensor_count > MAX_TENSORS || kv_count > MAX_METADATA {
            return Err(c.err(format!(
                "implausible header: {tensor_count} tensors and {kv_count} metadata entries (at \
                 most {MAX_TENSORS} and {MAX_METADATA})"
            )));
        }
        if needed > u128::from(room) {
            return Err(c.err(format!(
                "truncated file: {tensor_count} tensors and {kv_count} \
                 metadata entries need at least {needed} bytes, but {room} follow the header \
                 ({file_size} bytes in all; or an implausible header)"
            )));
        }
        let mut metadata = Vec::with_capacity(kv_count.min(PREALLOCATE) as usize);
        let mut index = BTreeMap::new();
        for i in 0..kv_count {
            let key = c.string(&format!("key of metadata entry {i}"))?;
            let ty = c.u32(&format!("value type of metadata key {key}"))?;
            let value = c.value(ty, &format!("value of metadata key {key}"), 0)?;
            index.insert(key.clone(), metadata.len());
            metadata.push((key, value));
        }
        let alignment = match index.get("general.alignment").map(|&i| &metadata[i].1) {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(c.err(format!(
                        "metadata key general.alignment: {v:?} is not a power of two"
                    )));
                }
            },
        };
        let mut tensors = Vec::with_capacity(tensor_count.min(PREALLOCATE) as usize);
        let mut tensor_index = BTreeMap::new();
        for i in 0..tensor_count {
            let name = c.string(&format!("name of tensor {i}"))?;
            let n_dims = c.u32(&format!("dimension count of tensor {name}"))?;
            if n_dims > 8 {
                return Err(c.err(format!("tensor {name}: {n_dims} dimensions (at most 8)")));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&format!("dimensions of tensor {name}"))?);
            }
            let ggml_type = GgmlType(c.u32(&format!("type of tensor {name}"))?);
            let offset = c.u64(&format!("offset of tensor {name}"))?;
            if tensor_index.insert(name.clone(), tensors.len()).is_some() {
                return Err(c.err(format!("tensor {name:?} is listed twice (entry {i})")));
            }
            tensors.push(TensorInfo { name, dims, ggml_type, offset });
        }
        let data_offset = c.pos.div_ceil(alignment) * alignment;
        let g = Gguf {
            path: c.path,
            version,
            metadata,
            index,
            tensors,
            tensor_index,
            alignment,
            data_offset,
            file_size,
            data: None,
        };
        for t in &g.tensors {
            if t.offset % alignment != 0 {
                return Err(g.err(format!(
                    "tensor {}: offset {} is not a multiple of the alignment {alignment}",
                    t.name, t.offset
                )));
            }
            if t.checked_elements().is_none() {
                return Err(g.err(format!(
                    "tensor {}: dimensions {:?} hold more than 2^64 elements",
                    t.name, t.dims
                )));
            }
            // Unknown types are reported when the tensor is read, so that metadata stays readable.
            if let Some(size) = t.byte_size() {
                let end = u128::from(data_offset) + u128::from(t.offset) + u128::from(size);
                if end > u128::from(file_size) {
                    return Err(g.err(format!(
                        "truncated file: tensor {} ends at byte {end}, past the end ({file_size} \
                         bytes)",
                        t.name
                    )));
                }
            } else if t.ggml_type.block_layout().is_some() {
                return Err(g.err(format!(
                    "tensor {}: first dimension {} is not a whole number of {} blocks",
                    t.name,
                    t.dims.first().copied().unwrap_or(0),
                    t.ggml_type
                )));
            }
        }
        Ok(g)
    }

    fn err(&self, message: String) -> GgufError {
        GgufError { path: self.path.clone(), message, io_kind: None }
    }

    /// The metadata value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// The string value of `key`, with an error naming the key when it is missing or no string.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        match self.get(key) {
            None => Err(self.err(format!("metadata key {key} is missing"))),
            Some(v) => {
                v.as_str().ok_or_else(|| self.err(format!("metadata key {key}: not a string")))
            }
        }
    }

    /// The unsigned integer value of `key`, with an error naming the key.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        match self.get(key) {
            None => Err(self.err(format!("metadata key {key} is missing"))),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| self.err(format!("metadata key {key}: not an unsigned integer"))),
        }
    }

    /// The float value of `key`, with an error naming the key.
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        match self.get(key) {
            None => Err(self.err(format!("metadata key {key} is missing"))),
            Some(v) => {
                v.as_f64().ok_or_else(|| self.err(format!("metadata key {key}: not a number")))
            }
        }
    }

    /// The array value of `key`, with an error naming the key.
    pub fn get_array(&self, key: &str) -> Result<&[Value], GgufError> {
        match self.get(key) {
            None => Err(self.err(format!("metadata key {key} is missing"))),
            Some(v) => {
                v.as_array().ok_or_else(|| self.err(format!("metadata key {key}: not an array")))
            }
        }
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Result<&str, GgufError> {
        self.get_str("general.architecture")
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The total number of tensor elements (the parameter count).
    pub fn parameter_count(&self) -> u64 {
        self.tensors.iter().map(TensorInfo::elements).fold(0, u64::saturating_add)
    }

    /// The raw bytes of tensor `name` (requires [`Gguf::open`]).
    pub fn tensor_bytes(&self, name: &str) -> Result<(&TensorInfo, &[u8]), GgufError> {
        let t = self.tensor(name).ok_or_else(|| self.err(format!("tensor {name} is missing")))?;
        let data = self
            .data
            .as_ref()
            .ok_or_else(|| self.err(format!("tensor {name}: the tensor data was not read")))?;
        let size = t.byte_size().ok_or_else(|| {
            self.err(format!("tensor {name}: unsupported tensor type {}", t.ggml_type))
        })?;
        let range = self.data_offset.checked_add(t.offset).and_then(|start| {
            let end = start.checked_add(size)?;
            Some(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
        });
        let bytes = range
            .and_then(|r| data.get(r))
            .ok_or_else(|| self.err(format!("truncated file: tensor {name} runs past the end")))?;
        Ok((t, bytes))
    }

    /// Tensor `name` dequantized to `f32`, in ggml order (`dims[0]` contiguous).
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let (t, bytes) = self.tensor_bytes(name)?;
        let n = usize::try_from(t.elements())
            .map_err(|_| self.err(format!("tensor {name}: too many elements for this machine")))?;
        dequantize(t.ggml_type, bytes, n).map_err(|m| self.err(format!("tensor {name}: {m}")))
    }
}

#[cfg(test)]
mod tests;
